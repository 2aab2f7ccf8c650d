import type { RaftBootState } from '../raft/config.js';
import type { Entry, HardState, Snapshot, SnapshotMeta, SnapshotSource } from '../raft/types.js';

/** The persistent parts of one Ready, in the order the Ready contract writes them. */
export interface PersistBatch {
  readonly snapshot: Snapshot | null;
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
}

/**
 * Stable storage for one Raft node: the log, the hard state and snapshots.
 * `write` hands a batch to the OS at once; `sync` is group commit: one fdatasync makes every batch written
 * before the call durable, while the caller keeps working.
 */
export interface RaftStorage {
  readonly kind: 'disk' | 'memory';
  /** What the node boots from: recovered at open. */
  readonly boot: RaftBootState;
  write(batch: PersistBatch): void;
  sync(): Promise<void>;
  /** Blocking sync, for shutdown and for the simulator. */
  syncNow(): void;
  /** Saves a snapshot the node took of its own state machine, then drops the log it covers. */
  saveSnapshot(snapshot: Snapshot): SnapshotSource;
  /** The same as saveSnapshot, with the data written in slices (over several turns) before `finish`. */
  beginSnapshot(meta: SnapshotMeta): SnapshotSink;
  /** Bytes free on the volume that holds this storage, or null where space is not a concern (memory). */
  freeBytes(): number | null;
  close(): void;
}

/** A snapshot of the node's own state machine being written. Nothing is used until `finish`. */
export interface SnapshotSink {
  /** Appends the next slice of the data; it is durable when this returns. */
  write(slice: Uint8Array): void;
  /** Makes the snapshot the newest one and drops the log it covers (as saveSnapshot). */
  finish(): SnapshotSource;
  /** Gives up: nothing of it is kept. */
  abort(): void;
}
