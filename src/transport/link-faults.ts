import type { LinkFaults } from '../protocol/node.js';
import type { Random } from '../raft/random.js';

export type { LinkFaults };

export const NO_FAULTS: LinkFaults = Object.freeze({ cut: false, drop: 0, delayMs: [0, 0] as const, duplicate: 0 });

export function validateFaults(faults: Partial<LinkFaults>): LinkFaults {
  const merged: LinkFaults = { ...NO_FAULTS, ...faults };
  const probability = (value: number, name: string): void => {
    if (!(value >= 0 && value <= 1)) throw new RangeError(`${name} must be between 0 and 1`);
  };
  probability(merged.drop, 'drop');
  probability(merged.duplicate, 'duplicate');
  const [min, max] = merged.delayMs;
  if (!(min >= 0 && max >= min && max <= 60_000)) throw new RangeError('delayMs must be [min, max] with 0 <= min <= max <= 60000');
  return merged;
}

export function isFaultFree(faults: LinkFaults): boolean {
  return !faults.cut && faults.drop === 0 && faults.duplicate === 0 && faults.delayMs[1] === 0;
}

/**
 * The sending side's fault filter of one link (MessagePort or TCP), per message: a cut link or a drop loses
 * it (counted), a duplicate passes it twice, a delay passes it later (then `late` flushes it). Seeded, so a
 * run's seed names its faults.
 */
export class LinkFaultFilter<M> {
  private faults: LinkFaults = NO_FAULTS;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly random: Random,
    /** Takes a message that passed now. */
    private readonly pass: (message: M) => void,
    /** Takes a message that passed after its delay, outside any turn: it must send it too. */
    private readonly late: (message: M) => void,
    private readonly dropped: () => void,
  ) {}

  set(faults: LinkFaults): void {
    this.faults = faults;
  }

  offer(message: M): void {
    const faults = this.faults;
    if (isFaultFree(faults)) {
      this.pass(message);
      return;
    }
    if (faults.cut || this.random.next() < faults.drop) {
      this.dropped();
      return;
    }
    const copies = this.random.next() < faults.duplicate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const [min, max] = faults.delayMs;
      if (max === 0) {
        this.pass(message);
        continue;
      }
      const timer = setTimeout(
        () => {
          this.timers.delete(timer);
          this.late(message);
        },
        min + this.random.next() * (max - min),
      );
      this.timers.add(timer);
    }
  }

  /** Drops the messages still delayed. */
  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
