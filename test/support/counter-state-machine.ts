import type { StateMachine } from '../../src/raft/state-machine.js';
import type { CommandEntry } from '../../src/raft/types.js';

/**
 * The state machine of a bare cluster, before the KV store: it counts applied commands and keeps a
 * checksum of them, so tests can compare nodes and detect lost or doubled commands.
 */
export class CounterStateMachine implements StateMachine {
  private count = 0;
  private checksum = 0;

  apply(entry: CommandEntry): { index: number; count: number } {
    this.count++;
    let h = this.checksum ^ entry.index;
    for (const byte of entry.data) h = Math.imul(h ^ byte, 0x01000193);
    this.checksum = h >>> 0;
    return { index: entry.index, count: this.count };
  }

  query(): { count: number; checksum: number } {
    return { count: this.count, checksum: this.checksum };
  }

  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify({ count: this.count, checksum: this.checksum }));
  }

  restore(data: Uint8Array): void {
    const parsed = JSON.parse(new TextDecoder().decode(data)) as { count: number; checksum: number };
    this.count = parsed.count;
    this.checksum = parsed.checksum;
  }
}
