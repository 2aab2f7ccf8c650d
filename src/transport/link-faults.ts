import type { LinkFaults } from '../protocol/node.js';

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
