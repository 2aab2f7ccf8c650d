import type { RaftBootState } from '../raft/config.js';
import { memorySnapshotSource } from '../raft/snapshot-source.js';
import type { Entry, HardState, Membership, Snapshot, SnapshotMeta, SnapshotSource } from '../raft/types.js';
import type { PersistBatch, RaftStorage, SnapshotSink } from './types.js';

/** Storage that lives in memory (`--memory`, tests): durable as long as the object lives, and no longer. */
export class MemoryStorage implements RaftStorage {
  readonly kind = 'memory';
  private hardState: HardState = { term: 0, votedFor: null, commitIndex: 0 };
  private snapshot: Snapshot | null = null;
  private entries: Entry[] = [];

  constructor(private readonly initialMembership: Membership) {}

  get boot(): RaftBootState {
    return {
      hardState: this.hardState,
      snapshot: this.snapshot === null ? null : memorySnapshotSource(this.snapshot),
      entries: [...this.entries],
      initialMembership: this.initialMembership,
    };
  }

  write(batch: PersistBatch): void {
    if (batch.snapshot !== null) {
      this.snapshot = batch.snapshot;
      this.entries = [];
    }
    if (batch.hardState !== null) this.hardState = batch.hardState;
    const first = batch.entries[0];
    if (first === undefined) return;
    const base = this.snapshot?.meta.index ?? 0;
    this.entries.length = Math.max(0, Math.min(this.entries.length, first.index - base - 1));
    for (const entry of batch.entries) this.entries.push(entry);
  }

  sync(): Promise<void> {
    return Promise.resolve();
  }

  syncNow(): void {}

  saveSnapshot(snapshot: Snapshot): SnapshotSource {
    this.snapshot = snapshot;
    this.entries = this.entries.filter((entry) => entry.index > snapshot.meta.index);
    return memorySnapshotSource(snapshot);
  }

  beginSnapshot(meta: SnapshotMeta): SnapshotSink {
    const slices: Uint8Array[] = [];
    return {
      write: (slice) => void slices.push(slice.slice()),
      finish: () => this.saveSnapshot({ meta, data: Buffer.concat(slices) }),
      abort: () => void (slices.length = 0),
    };
  }

  freeBytes(): number | null {
    return null;
  }

  close(): void {}
}
