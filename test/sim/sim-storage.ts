import type { RaftBootState } from '../../src/raft/config.js';
import type { Entry, HardState, Membership, Snapshot } from '../../src/raft/types.js';
import { memorySnapshotSource } from '../../src/raft/snapshot-source.js';
import type { SeededRandom } from '../../src/raft/random.js';

/** One record of the simulated write-ahead log, in the order the Ready contract writes them. */
type WalRecord =
  | { readonly kind: 'snapshot'; readonly snapshot: Snapshot }
  | { readonly kind: 'hard-state'; readonly hardState: HardState }
  | { readonly kind: 'entry'; readonly entry: Entry };

interface DurableState {
  hardState: HardState;
  snapshot: Snapshot | null;
  entries: Entry[];
}

/**
 * Simulated stable storage. Writes land in an unsynced buffer; `sync` makes a batch durable. A crash keeps
 * a random prefix of what was written but not yet synced (a torn tail) and loses the rest, like a real disk.
 */
export class SimStorage {
  private durable: DurableState = { hardState: { term: 0, votedFor: null, commitIndex: 0 }, snapshot: null, entries: [] };
  private unsynced: WalRecord[][] = [];

  constructor(private readonly initialMembership: Membership) {}

  get pendingBatches(): number {
    return this.unsynced.length;
  }

  /** Buffers one Ready's persistent parts; returns nothing until `syncOldest` is called. */
  write(batch: { snapshot: Snapshot | null; hardState: HardState | null; entries: readonly Entry[] }): void {
    const records: WalRecord[] = [];
    if (batch.snapshot !== null) records.push({ kind: 'snapshot', snapshot: batch.snapshot });
    if (batch.hardState !== null) records.push({ kind: 'hard-state', hardState: batch.hardState });
    for (const entry of batch.entries) records.push({ kind: 'entry', entry });
    this.unsynced.push(records);
  }

  /** fsync of the oldest written batch. */
  syncOldest(): void {
    const records = this.unsynced.shift();
    if (records === undefined) throw new Error('sync with nothing written');
    for (const record of records) this.applyRecord(record);
  }

  /** Power loss: a random prefix of the unsynced records survives (possibly none), the rest is gone. */
  crash(random: SeededRandom, tornWrites: boolean): void {
    const records = this.unsynced.flat();
    this.unsynced = [];
    const survive = tornWrites ? random.int(0, records.length + 1) : 0;
    for (let i = 0; i < survive; i++) this.applyRecord(records[i] as WalRecord);
  }

  /** A locally taken snapshot, written atomically (temp file, fsync, rename). Entries it covers are dropped. */
  saveSnapshot(snapshot: Snapshot): void {
    if (this.unsynced.length > 0) throw new Error('local snapshot while writes are unsynced');
    const index = snapshot.meta.index;
    this.durable.entries = this.durable.entries.filter((entry) => entry.index > index);
    this.durable.snapshot = snapshot;
  }

  boot(): RaftBootState {
    const snapshot = this.durable.snapshot;
    return {
      hardState: this.durable.hardState,
      snapshot: snapshot === null ? null : memorySnapshotSource(snapshot),
      entries: [...this.durable.entries],
      initialMembership: this.initialMembership,
    };
  }

  get snapshot(): Snapshot | null {
    return this.durable.snapshot;
  }

  private applyRecord(record: WalRecord): void {
    const state = this.durable;
    switch (record.kind) {
      case 'snapshot':
        state.snapshot = record.snapshot;
        state.entries = [];
        return;
      case 'hard-state':
        state.hardState = record.hardState;
        return;
      case 'entry': {
        const base = state.snapshot?.meta.index ?? 0;
        const position = record.entry.index - base - 1;
        if (position < 0 || position > state.entries.length) throw new Error(`sim WAL gap at index ${record.entry.index}`);
        state.entries.length = position;
        state.entries.push(record.entry);
        return;
      }
    }
  }
}
