import * as path from 'node:path';
import type { RaftBootState } from '../raft/config.js';
import type { Entry, HardState, Membership, Snapshot, SnapshotMeta, SnapshotSource } from '../raft/types.js';
import { StorageError } from './errors.js';
import type { FileSystem } from './file-system.js';
import { SnapshotStore } from './snapshot-store.js';
import type { PersistBatch, RaftStorage, SnapshotSink } from './types.js';
import { WriteAheadLog, type WalOptions } from './wal.js';

export interface DiskStorageOptions extends Partial<WalOptions> {
  readonly initialMembership: Membership;
}

const EMPTY_HARD_STATE: HardState = { term: 0, votedFor: null, commitIndex: 0 };

/**
 * The on-disk storage of one node: `wal/` (segmented log) and `snap/` (snapshots) under its data folder.
 * Recovery loads the newest valid snapshot, then the log after it; anything it cannot trust stops the node
 * with a StorageError naming the file and offset.
 */
export class DiskStorage implements RaftStorage {
  readonly kind = 'disk';
  readonly boot: RaftBootState;
  private inFlight: Promise<void> | null = null;
  private queued: Promise<void> | null = null;

  private constructor(
    private readonly fs: FileSystem,
    private readonly dir: string,
    private readonly wal: WriteAheadLog,
    private readonly snapshots: SnapshotStore,
    boot: RaftBootState,
  ) {
    this.boot = boot;
  }

  static open(fs: FileSystem, dir: string, options: DiskStorageOptions): DiskStorage {
    fs.mkdirp(dir);
    const snapshots = new SnapshotStore(fs, path.join(dir, 'snap'));
    const snapshot = snapshots.loadNewest();
    const { wal, recovery } = WriteAheadLog.open(fs, path.join(dir, 'wal'), options);
    if (recovery.reset !== null && (snapshot === null || snapshot.meta.index < recovery.reset.index)) {
      throw new StorageError('STORAGE_SNAPSHOT_CORRUPT', `the log was reset to a snapshot at ${recovery.reset.index} that is not on disk`, {
        file: path.join(dir, 'snap'),
      });
    }
    const { entries, consistent } = entriesAfterSnapshot(recovery.entries, snapshot?.meta ?? null, path.join(dir, 'wal'));
    if (!consistent && snapshot !== null) {
      // The snapshot is ahead of the log, or the log after it came from another history (a crash between
      // saving a leader's snapshot and logging its reset): log the reset now, so the next entries connect.
      wal.append({ hardState: null, reset: { index: snapshot.meta.index, term: snapshot.meta.term }, entries: [] });
      wal.sync();
    }
    const boot: RaftBootState = {
      hardState: termAtLeastSnapshot(recovery.hardState ?? EMPTY_HARD_STATE, snapshot?.meta.term ?? 0),
      snapshot,
      entries,
      initialMembership: options.initialMembership,
    };
    return new DiskStorage(fs, dir, wal, snapshots, boot);
  }

  write(batch: PersistBatch): void {
    if (batch.snapshot !== null) {
      // The snapshot is durable before the log record that points at it.
      this.snapshots.save(batch.snapshot.meta, batch.snapshot.data);
    }
    if (batch.snapshot === null && batch.hardState === null && batch.entries.length === 0) return;
    this.wal.append({
      hardState: batch.hardState,
      reset: batch.snapshot === null ? null : { index: batch.snapshot.meta.index, term: batch.snapshot.meta.term },
      entries: batch.entries,
    });
  }

  /** Group commit: at most one fdatasync runs; callers arriving meanwhile share the next one. */
  sync(): Promise<void> {
    if (this.inFlight === null) return this.startSync();
    this.queued ??= this.inFlight.then(() => {
      this.queued = null;
      return this.startSync();
    });
    return this.queued;
  }

  private startSync(): Promise<void> {
    const running: Promise<void> = this.wal.syncAsync().finally(() => {
      if (this.inFlight === running) this.inFlight = null;
    });
    this.inFlight = running;
    return running;
  }

  syncNow(): void {
    this.wal.sync();
  }

  saveSnapshot(snapshot: Snapshot): SnapshotSource {
    const sink = this.beginSnapshot(snapshot.meta);
    sink.write(snapshot.data);
    return sink.finish();
  }

  /**
   * The node's own snapshot, written a slice at a time: each slice is synced as it is written, so the last
   * step syncs only the header, not hundreds of megabytes at once.
   */
  beginSnapshot(meta: SnapshotMeta): SnapshotSink {
    const writer = this.snapshots.writer(meta);
    return {
      write: (slice) => {
        writer.write(slice);
        writer.sync();
      },
      finish: () => {
        const source = writer.finish();
        this.snapshots.prune();
        // The newest hard state must be durable in a surviving segment before older segments go.
        this.wal.sync();
        this.wal.compactTo(meta.index);
        return source;
      },
      abort: () => writer.abort(),
    };
  }

  freeBytes(): number | null {
    return this.fs.freeBytes(this.dir);
  }

  get walSegmentCount(): number {
    return this.wal.segmentCount;
  }

  close(): void {
    this.wal.close();
  }
}

/**
 * A leader's snapshot is made durable before the log record that carries the node's new term; a crash in
 * between leaves a snapshot from a term the hard state has not reached. Adopting that term is safe: had the
 * node voted in it, that vote's record would have been synced before the vote was sent, and found here.
 */
function termAtLeastSnapshot(hardState: HardState, snapshotTerm: number): HardState {
  if (snapshotTerm <= hardState.term) return hardState;
  return { term: snapshotTerm, votedFor: null, commitIndex: hardState.commitIndex };
}

/**
 * The log a node can trust after its snapshot: entries after the snapshot, contiguous. A log that
 * disagrees with the snapshot at its index came from another history (a crash between installing a
 * leader's snapshot and logging it), so nothing after the snapshot is kept.
 */
function entriesAfterSnapshot(
  entries: readonly Entry[],
  meta: { index: number; term: number } | null,
  walDir: string,
): { entries: Entry[]; consistent: boolean } {
  const snapshotIndex = meta?.index ?? 0;
  const last = entries[entries.length - 1];
  if (meta !== null && (last === undefined || last.index < snapshotIndex)) return { entries: [], consistent: false };
  const atSnapshot = entries.find((entry) => entry.index === snapshotIndex);
  if (meta !== null && atSnapshot !== undefined && atSnapshot.term !== meta.term) return { entries: [], consistent: false };
  const after = entries.filter((entry) => entry.index > snapshotIndex);
  const first = after[0];
  if (first !== undefined && first.index !== snapshotIndex + 1) {
    throw new StorageError('STORAGE_LOG_GAP', `the log starts at ${first.index} but the snapshot ends at ${snapshotIndex}`, {
      file: walDir,
    });
  }
  return { entries: after, consistent: true };
}
