import type { CommandEntry } from './types.js';

/**
 * What a node replicates. Pure and deterministic: the same entries give the same state on every node. It lives
 * beside the core's types because the node, the KV store and the simulator all implement or drive it.
 */
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
