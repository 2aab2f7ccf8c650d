import type { CommandEntry } from '../raft/types.js';

/** What a node replicates. Pure and deterministic: the same entries give the same state on every node. */
export interface StateMachine {
  /** Applies one committed command and returns its result (sent back to the proposer). */
  apply(entry: CommandEntry): unknown;
  /** Answers a read from the current (applied) state. */
  query(request: unknown): unknown;
  snapshot(): Uint8Array;
  /**
   * Optional: the same bytes as snapshot(), of the state at the time of the call, handed out later in
   * slices, so that writing a big state machine's snapshot does not stop the node for a whole turn.
   */
  snapshotSlices?(): SnapshotSlices;
  restore(data: Uint8Array): void;
}

/** A point-in-time snapshot, encoded a slice at a time. */
export interface SnapshotSlices {
  /** The next bytes, about `maxBytes` at most (more only if one record is bigger), or null after the last. */
  next(maxBytes: number): Uint8Array | null;
}

/** A snapshot already encoded, handed out in slices. */
export function wholeSnapshotSlices(data: Uint8Array): SnapshotSlices {
  let offset = 0;
  return {
    next(maxBytes: number): Uint8Array | null {
      if (offset >= data.byteLength) return null;
      const slice = data.subarray(offset, offset + Math.max(1, maxBytes));
      offset += slice.byteLength;
      return slice;
    },
  };
}

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
