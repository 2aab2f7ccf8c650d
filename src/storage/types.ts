import type { RaftBootState } from '../raft/config.js';
import type { Entry, HardState, Snapshot, SnapshotSource } from '../raft/types.js';

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
  close(): void;
}
