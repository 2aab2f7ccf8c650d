// A node's own snapshot is written a slice per turn while the node keeps applying; it is used (the log
// compacted, the file named) only once every slice is durable, and a crash half-way leaves no trace.
import { describe, expect, it } from 'vitest';
import { encodeBatch, type KvQueryResult } from '../../src/kv/commands.js';
import { KvStateMachine } from '../../src/kv/kv-state-machine.js';
import { RaftNode, type NodeRuntime } from '../../src/node/raft-node.js';
import type { NodeEvent } from '../../src/protocol/node.js';
import { SeededRandom } from '../../src/raft/index.js';
import type { Snapshot } from '../../src/raft/types.js';
import { DiskStorage } from '../../src/storage/disk-storage.js';
import { FaultyFileSystem } from '../../src/storage/faulty-file-system.js';

const VALUE = new Uint8Array(100).fill(7);

/** One single-voter node on a simulated disk, its turns run by hand. */
class Harness {
  readonly tasks: (() => void)[] = [];
  readonly events: NodeEvent[] = [];
  readonly storage: DiskStorage;
  readonly sm = new KvStateMachine();
  readonly node: RaftNode;
  private seq = 0;

  constructor(
    readonly disk: FaultyFileSystem,
    sliceBytes: number,
    snapshotEveryEntries = 1_000_000,
  ) {
    this.storage = DiskStorage.open(disk, '/data', { initialMembership: { voters: ['n1'], learners: [] } });
    const runtime: NodeRuntime = {
      schedule: (task) => void this.tasks.push(task),
      sync: (storage, done) =>
        void this.tasks.push(() => {
          storage.syncNow();
          done(null);
        }),
    };
    this.node = new RaftNode(
      {
        core: { id: 'n1', random: new SeededRandom(1), electionTicks: 3, heartbeatTicks: 1 },
        limits: { snapshotEveryEntries, snapshotSliceBytes: sliceBytes },
      },
      this.storage,
      this.sm,
      { send: () => {}, flush: () => {}, emit: (event) => void this.events.push(event) },
      runtime,
    );
  }

  /** Runs queued turns, at most `max` of them. */
  run(max = Number.POSITIVE_INFINITY): void {
    for (let n = 0; n < max && this.tasks.length > 0; n++) (this.tasks.shift() as () => void)();
  }

  elect(): void {
    for (let i = 0; i < 10 && this.node.status().role !== 'leader'; i++) {
      this.node.tick();
      this.run();
    }
    expect(this.node.status().role).toBe('leader');
  }

  write(keys: number, prefix: string): void {
    const commands = Array.from({ length: keys }, (_, i) =>
      encodeBatch({
        timeMs: 1,
        commands: [
          { session: 's', seq: ++this.seq, ack: this.seq - 1, command: { op: 'put', key: Buffer.from(`${prefix}${i}`), value: VALUE } },
        ],
      }),
    );
    let done = false;
    this.node.submit(commands, (outcome) => {
      expect(outcome.ok).toBe(true);
      done = true;
    });
    // Only the turns it takes: a snapshot started meanwhile is left half-written.
    while (!done && this.tasks.length > 0) this.run(1);
    expect(done).toBe(true);
  }

  digest(): KvQueryResult {
    return this.sm.query({ op: 'digest' });
  }

  snapshotFiles(): string[] {
    return this.disk.list('/data/snap');
  }
}

describe('RaftNode: its own snapshot, a slice per turn', () => {
  it('keeps applying while the slices are written, then compacts to the index it started at', () => {
    const h = new Harness(new FaultyFileSystem(), 1024, 150);
    h.elect();
    // Applying entry 150 starts the snapshot; the turn goes on applying the rest of the batch.
    h.write(200, 'a');
    const applied = 150;
    expect(h.node.status().appliedIndex).toBeGreaterThan(applied);
    expect(h.node.status().snapshotIndex).toBe(0);
    expect(h.snapshotFiles().filter((name) => name.endsWith('.snap'))).toEqual([]);
    h.write(50, 'b'); // applied meanwhile, not in this snapshot
    expect(h.node.status().snapshotIndex).toBe(0);
    h.run();
    expect(h.node.status().snapshotIndex).toBe(applied);
    expect(h.events.filter((event) => event.type === 'snapshot')).toEqual([{ type: 'snapshot', id: 'n1', index: applied, how: 'taken' }]);
    expect(h.snapshotFiles().filter((name) => name.endsWith('.snap'))).toHaveLength(1);
    // A restart from the disk: the snapshot plus the log after it give the same store.
    const digest = h.digest();
    h.node.stop();
    const again = new Harness(h.disk, 1024);
    expect(again.digest()).not.toEqual({ op: 'digest', keys: 0, checksum: 0, commands: 0 });
    again.elect();
    expect(again.digest()).toEqual(digest);
  });

  it('waits while the node is paused', () => {
    const h = new Harness(new FaultyFileSystem(), 1024, 150);
    h.elect();
    h.write(200, 'a');
    h.node.pause();
    h.run();
    expect(h.node.status().snapshotIndex).toBe(0);
    h.node.resume();
    h.run();
    expect(h.node.status().snapshotIndex).toBe(150);
  });

  it('snapshotNow finishes the snapshot within the call', () => {
    const h = new Harness(new FaultyFileSystem(), 512);
    h.elect();
    h.write(100, 'a');
    const index = h.node.snapshotNow();
    expect(index).toBe(h.node.status().appliedIndex);
    expect(h.snapshotFiles().filter((name) => name.endsWith('.snap'))).toHaveLength(1);
  });

  it('exports the state as of the call, a slice per turn, writing and compacting nothing', async () => {
    const h = new Harness(new FaultyFileSystem(), 512);
    h.elect();
    h.write(100, 'a');
    const expected = h.sm.snapshot();
    const applied = h.node.status().appliedIndex;
    let exported: Snapshot | null = null;
    void h.node.exportSnapshot().then((snapshot) => (exported = snapshot));
    h.run(1);
    expect(exported).toBeNull(); // 100 keys of 100 B do not fit in one 512-byte slice
    h.write(10, 'b'); // changes after the call are not in it
    h.run();
    await Promise.resolve();
    const done = exported as unknown as Snapshot;
    expect(done.meta.index).toBe(applied);
    expect(Buffer.from(done.data).equals(Buffer.from(expected))).toBe(true);
    expect(h.node.status().snapshotIndex).toBe(0);
    expect(h.snapshotFiles()).toEqual([]);
  });

  it('a crash half-way leaves only a temporary file, deleted at the next start', () => {
    const disk = new FaultyFileSystem();
    const h = new Harness(disk, 1024, 150);
    h.elect();
    h.write(200, 'a');
    h.run(3);
    const digest = h.digest();
    expect(h.snapshotFiles().some((name) => name.endsWith('.tmp'))).toBe(true);
    // The process dies here: no stop(), the remaining turns never run.
    const again = new Harness(disk, 1024);
    expect(again.snapshotFiles()).toEqual([]);
    expect(again.node.status().snapshotIndex).toBe(0);
    again.elect();
    expect(again.digest()).toEqual(digest);
  });
});

describe('RaftNode: applying a long log', () => {
  it('applies a bounded amount per turn after a restart, so the node answers in between', () => {
    const disk = new FaultyFileSystem();
    const first = new Harness(disk, 1024 * 1024);
    first.elect();
    for (let round = 0; round < 40; round++) first.write(25, `k${round}-`); // 1,000 entries of about 120 B
    const lastIndex = first.node.status().commitIndex;
    first.node.stop();

    // Restarted with a small per-turn budget: the committed log is applied over many turns, not in one.
    const storage = DiskStorage.open(disk, '/data', { initialMembership: { voters: ['n1'], learners: [] } });
    const tasks: (() => void)[] = [];
    const runtime: NodeRuntime = {
      schedule: (task) => void tasks.push(task),
      sync: (s, done) =>
        void tasks.push(() => {
          s.syncNow();
          done(null);
        }),
    };
    const node = new RaftNode(
      {
        core: { id: 'n1', random: new SeededRandom(2), electionTicks: 3, heartbeatTicks: 1, applyBatchBytesMax: 1024 },
        limits: { applyBytesPerTurnMax: 4096 },
      },
      storage,
      new KvStateMachine(),
      { send: () => {}, flush: () => {}, emit: () => {} },
      runtime,
    );
    const appliedPerTurn: number[] = [];
    for (let i = 0; i < 10 && node.status().role !== 'leader'; i++) {
      node.tick();
      while (tasks.length > 0) {
        const before = node.status().appliedIndex;
        (tasks.shift() as () => void)();
        appliedPerTurn.push(node.status().appliedIndex - before);
      }
    }
    expect(node.status().appliedIndex).toBeGreaterThanOrEqual(lastIndex);
    // Readies of about 1 KiB, 4 KiB a turn, about 120 B an entry: never more than about 45 entries a turn, and many turns.
    expect(Math.max(...appliedPerTurn)).toBeLessThanOrEqual(50);
    expect(appliedPerTurn.filter((n) => n > 0).length).toBeGreaterThan(20);
    node.stop();
  });
});
