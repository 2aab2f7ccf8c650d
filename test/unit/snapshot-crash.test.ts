// Power cuts inside the snapshot paths (issue 18, item 2), by the method of storage-model.test.ts's "every
// single disk operation" test: one run counts the disk operations (writes, syncs, creations, renames, removals,
// directory syncs) of a fixed, seeded scenario; then, for each operation k, the scenario runs again and the
// power goes right before operation k (the disk keeps nothing unsynced, or a seeded random prefix of it with the
// last write torn). The node restarts on what the disk kept (the power going again inside that recovery, after 0,
// 1, 2... of its operations, until one completes), and must boot: from a state the leader had at the same index,
// with every entry it had acknowledged, and never from a half-written snapshot.
//   1. Taking a snapshot: a single-voter node writes, takes snapshots a slice per turn (and once with
//      snapshotNow), prunes old ones and compacts its WAL, all while it goes on writing.
//   2. Installing one: a follower cut off while the leader compacted gets the leader's snapshot in chunks,
//      saves it and logs its reset, then the entries after it; a cut anywhere leaves the old state or the new.
import { describe, expect, it } from 'vitest';
import { encodeBatch } from '../../src/kv/commands.js';
import { KvStateMachine } from '../../src/kv/kv-state-machine.js';
import { RaftNode, type NodeRuntime } from '../../src/node/raft-node.js';
import { SeededRandom } from '../../src/raft/index.js';
import type { Entry, Message, NodeId } from '../../src/raft/types.js';
import { DiskStorage } from '../../src/storage/disk-storage.js';
import { FaultyFileSystem } from '../../src/storage/faulty-file-system.js';
import { PowerCut, PowerSwitchFileSystem } from '../support/power-switch-file-system.js';

const DIR = '/data';
/** Small segments, slices and chunks, so a few hundred entries make many of each. */
const SEGMENT_BYTES = 1024;
const SNAPSHOT_SLICE_BYTES = 256;
const SNAPSHOT_CHUNK_BYTES = 512;
const SNAPSHOT_EVERY_ENTRIES = 25;
const KEYS_DISTINCT = 17;
const ROUNDS_MAX = 60;
const TASKS_MAX = 100_000;
const RECOVERY_CUTS_MAX = 20;

interface Task {
  /** The node whose turn it is, and which life of it (a task of a crashed life never runs). */
  readonly owner: NodeId;
  readonly life: number;
  readonly run: () => void;
}

/** One node: its disk (kept across crashes) and what runs on it in its current life. */
interface Member {
  readonly id: NodeId;
  readonly disk: FaultyFileSystem;
  power: PowerSwitchFileSystem;
  storage: DiskStorage;
  sm: KvStateMachine;
  node: RaftNode;
  life: number;
  dead: boolean;
}

/** What the reference node applied at each index: the entry, and the store's digest right after it. */
interface Reference {
  readonly entries: Map<number, Entry>;
  readonly digests: Map<number, string>;
}

function describeEntry(entry: Entry): string {
  if (entry.type === 'command') return `${entry.index}/${entry.term}/c:${Buffer.from(entry.data).toString('hex')}`;
  if (entry.type === 'config') return `${entry.index}/${entry.term}/v:${entry.membership.voters.join(',')}`;
  return `${entry.index}/${entry.term}/noop`;
}

function digest(sm: KvStateMachine): string {
  return JSON.stringify(sm.query({ op: 'digest' }));
}

/**
 * Nodes on crash-faulty disks, their turns, syncs and messages on one FIFO queue run by hand: the same
 * scenario runs the same way every time, so operation k of one run is operation k of the next.
 */
class Cluster {
  readonly members = new Map<NodeId, Member>();
  readonly isolated = new Set<NodeId>();
  private readonly tasks: Task[] = [];
  private taskHead = 0;
  private seq = 0;
  /** Per node, the highest index it told a leader it holds durably (a success, or a snapshot done). */
  readonly acknowledged = new Map<NodeId, number>();

  constructor(
    readonly voters: readonly NodeId[],
    private readonly reference: { node: NodeId; record: Reference } | null,
  ) {
    for (const id of voters) this.start(id, new FaultyFileSystem());
  }

  member(id: NodeId): Member {
    const member = this.members.get(id);
    if (member === undefined) throw new Error(`no node ${id}`);
    return member;
  }

  /**
   * Boots a node from its disk (the first time, an empty one). Throws what DiskStorage.open throws, and
   * PowerCut if its recovery takes more than `recoveryOperationsMax` disk operations.
   */
  start(id: NodeId, disk: FaultyFileSystem, recoveryOperationsMax = Number.POSITIVE_INFINITY): Member {
    const life = (this.members.get(id)?.life ?? 0) + 1;
    const power = new PowerSwitchFileSystem(disk, DIR);
    power.operationsLeft = recoveryOperationsMax;
    const storage = DiskStorage.open(power, DIR, {
      initialMembership: { voters: [...this.voters], learners: [] },
      segmentBytes: SEGMENT_BYTES,
    });
    power.operationsLeft = Number.POSITIVE_INFINITY;
    const sm = new KvStateMachine();
    const runtime: NodeRuntime = {
      schedule: (task) => void this.tasks.push({ owner: id, life, run: task }),
      sync: (s, done) =>
        void this.tasks.push({
          owner: id,
          life,
          run: () => {
            s.syncNow();
            done(null);
          },
        }),
      now: () => 0,
    };
    const record = this.reference?.node === id ? this.reference.record : null;
    const node = new RaftNode(
      {
        core: {
          id,
          random: new SeededRandom(life * 31 + id.length),
          electionTicks: 3,
          heartbeatTicks: 1,
          snapshotChunkBytes: SNAPSHOT_CHUNK_BYTES,
        },
        limits: { snapshotEveryEntries: SNAPSHOT_EVERY_ENTRIES, snapshotSliceBytes: SNAPSHOT_SLICE_BYTES },
      },
      storage,
      sm,
      { send: (message) => this.send(id, message), flush: () => {}, emit: () => {} },
      runtime,
      record === null
        ? {}
        : {
            onApplied: (entry) => {
              record.entries.set(entry.index, entry);
              record.digests.set(entry.index, digest(sm));
            },
          },
    );
    const member: Member = { id, disk, power, storage, sm, node, life, dead: false };
    this.members.set(id, member);
    return member;
  }

  /**
   * Restarts a node after a crash, cutting the power again inside its recovery: after 0 of its disk operations
   * (the torn bytes it zeroes, the reset it logs), then after 1, and so on on the same disk, until a recovery
   * completes. Returns the node and how many recoveries were cut.
   */
  restart(id: NodeId, crash: { torn: boolean; seed: number }): { member: Member; recoveriesCut: number } {
    const disk = this.member(id).disk;
    for (let budget = 0; budget < RECOVERY_CUTS_MAX; budget++) {
      try {
        return { member: this.start(id, disk, budget), recoveriesCut: budget };
      } catch (error) {
        if (!(error instanceof PowerCut)) throw error;
        disk.crash(new SeededRandom(crash.seed * 7 + budget), { torn: crash.torn });
      }
    }
    throw new Error(`no recovery in ${RECOVERY_CUTS_MAX} tries`);
  }

  /** Power loss under a node: its disk keeps what it keeps, the node is gone until `start`. */
  crash(id: NodeId, crash: { torn: boolean; seed: number }): void {
    const member = this.member(id);
    member.dead = true;
    member.power.operationsLeft = Number.POSITIVE_INFINITY;
    member.disk.crash(new SeededRandom(crash.seed), { torn: crash.torn });
  }

  private send(from: NodeId, message: Message): void {
    if (this.isolated.has(from) || this.isolated.has(message.to)) return;
    const acked =
      message.type === 'AppendResponse' && message.success
        ? message.matchIndex
        : message.type === 'SnapshotResponse' && message.success && message.done
          ? message.snapshotIndex
          : 0;
    if (acked > (this.acknowledged.get(from) ?? 0)) this.acknowledged.set(from, acked);
    this.tasks.push({
      owner: message.to,
      life: -1, // the network delivers to whichever life the node is in
      run: () => {
        if (!this.isolated.has(message.to)) this.member(message.to).node.receive([message]);
      },
    });
  }

  get idle(): boolean {
    return this.taskHead >= this.tasks.length;
  }

  /** Runs one task; a PowerCut kills its node (the rest of its turn never happens). */
  step(): void {
    const task = this.tasks[this.taskHead++] as Task;
    const member = this.member(task.owner);
    if (member.dead || (task.life !== -1 && task.life !== member.life)) return;
    try {
      task.run();
    } catch (error) {
      if (!(error instanceof PowerCut)) throw error;
      member.dead = true;
    }
    if (member.power.cut) member.dead = true;
  }

  run(until: () => boolean = () => false): void {
    for (let n = 0; n < TASKS_MAX && !this.idle && !until(); n++) this.step();
    expect(this.idle || until(), 'the cluster settles').toBe(true);
  }

  /** One tick of one node, then everything it causes. */
  round(id: NodeId): void {
    const member = this.member(id);
    if (!member.dead) member.node.tick();
    this.run();
  }

  elect(id: NodeId): void {
    for (let i = 0; i < 20 && this.member(id).node.status().role !== 'leader'; i++) this.round(id);
    expect(this.member(id).node.status().role).toBe('leader');
  }

  /** Proposes `keys` puts on the leader and runs until they are applied there (or the leader dies). */
  write(leader: NodeId, keys: number, round: number): void {
    const commands = Array.from({ length: keys }, (_, i) => {
      this.seq++;
      const key = Buffer.from(`k${(round * keys + i) % KEYS_DISTINCT}`);
      const value = Buffer.from(`round ${round} key ${i} `.repeat(3));
      return encodeBatch({ timeMs: 1, commands: [{ session: 's', seq: this.seq, ack: this.seq - 1, command: { op: 'put', key, value } }] });
    });
    let done = false;
    this.member(leader).node.submit(commands, (outcome) => {
      expect(outcome.ok).toBe(true);
      done = true;
    });
    // Only the turns it takes: a snapshot job started meanwhile goes on between the next writes.
    this.run(() => done || this.member(leader).dead);
  }
}

/** The recovered node's log and store against the reference, entry by entry. */
function expectMatchesReference(member: Member, reference: Reference, where: string): { snapshotIndex: number; lastIndex: number } {
  const boot = member.storage.boot;
  expect(
    member.disk.list(`${DIR}/snap`).filter((name) => name.endsWith('.tmp')),
    `${where}: no temporary snapshot file after open`,
  ).toEqual([]);
  const snapshotIndex = boot.snapshot?.meta.index ?? 0;
  if (boot.snapshot !== null) {
    expect(boot.snapshot.meta.term, `${where}: snapshot term`).toBe(reference.entries.get(snapshotIndex)?.term);
    expect(digest(member.sm), `${where}: the store restored from the snapshot at ${snapshotIndex}`).toBe(
      reference.digests.get(snapshotIndex),
    );
  }
  boot.entries.forEach((entry, i) => {
    expect(entry.index, `${where}: the log after the snapshot is contiguous`).toBe(snapshotIndex + 1 + i);
    const expected = reference.entries.get(entry.index);
    expect(expected === undefined ? 'none' : describeEntry(expected), `${where}: entry ${entry.index}`).toBe(describeEntry(entry));
  });
  const lastIndex = boot.entries[boot.entries.length - 1]?.index ?? snapshotIndex;
  expect(boot.hardState.commitIndex, `${where}: commit index within the log`).toBeLessThanOrEqual(lastIndex);
  return { snapshotIndex, lastIndex };
}

function isSnapshotOperation(name: string): boolean {
  return name.includes('snap') || name.startsWith('remove wal/') || name === 'syncdir wal';
}

function countByKind(names: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of names) {
    const kind = `${name.split(' ')[0] ?? ''} ${name.includes('snap') ? 'snap' : 'wal'}`;
    counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}

// ---------------------------------------------------------------------------------------------------------
// 1. Taking a snapshot

const TAKE_ROUNDS = 14;
const TAKE_KEYS_PER_ROUND = 6;

/**
 * A single-voter node writes 14 rounds of 6 puts (17 keys, overwritten): a snapshot starts every 25 entries
 * and is written a slice per turn between the rounds; the third prunes the first; each compacts the WAL.
 * At the end, snapshotNow takes one more within the call. The power switch is armed after the election.
 */
function takeScenario(cut: number, reference: Reference | null): { cluster: Cluster; durable: number; phaseStart: number } {
  const cluster = new Cluster(['n1'], reference === null ? null : { node: 'n1', record: reference });
  cluster.elect('n1');
  const member = cluster.member('n1');
  const phaseStart = member.power.done.length;
  member.power.operationsLeft = cut;
  let durable = 0;
  for (let round = 0; round < TAKE_ROUNDS && !member.dead; round++) {
    cluster.write('n1', TAKE_KEYS_PER_ROUND, round);
    // A single voter commits only what it has synced: its commit index is what it acknowledged.
    if (!member.dead) durable = Math.max(durable, member.node.status().commitIndex);
  }
  if (!member.dead) cluster.run();
  if (!member.dead) {
    try {
      member.node.snapshotNow();
    } catch (error) {
      if (!(error instanceof PowerCut)) throw error;
      member.dead = true;
    }
  }
  return { cluster, durable, phaseStart };
}

describe('a power cut at every disk operation of taking a snapshot', () => {
  it('restarts from the leader state at the recovered index, with every acknowledged entry, never a partial snapshot', () => {
    const reference: Reference = { entries: new Map(), digests: new Map() };
    const full = takeScenario(Number.POSITIVE_INFINITY, reference);
    const fullMember = full.cluster.member('n1');
    const operations = fullMember.power.done.slice(full.phaseStart);
    const snapshotOperations = operations.filter(isSnapshotOperation);
    // The run took several snapshots (each slice written and synced, renamed, its directory synced), pruned and compacted.
    expect(fullMember.node.status().snapshotIndex).toBe(fullMember.node.status().appliedIndex);
    const counts = countByKind(operations);
    expect(counts['rename snap'] ?? 0).toBeGreaterThanOrEqual(4);
    expect(counts['remove snap'] ?? 0).toBeGreaterThan(counts['rename snap'] ?? 0); // each writer's stale .tmp, and prunes
    expect(operations.filter((name) => name.startsWith('remove wal/')).length).toBeGreaterThanOrEqual(3);
    const lastApplied = fullMember.node.status().appliedIndex;
    const electedTerm = fullMember.node.status().term;

    const outcomes = { recoveredSnapshot: 0, lostUnsynced: 0, recoveriesCut: 0 };
    for (let cut = 0; cut < operations.length; cut++) {
      for (const torn of [false, true]) {
        const where = `cut before operation ${cut} (${operations[cut]}), ${torn ? 'torn' : 'clean'}`;
        const { cluster, durable } = takeScenario(cut, null);
        const member = cluster.member('n1');
        expect(member.dead, `${where}: the power went`).toBe(true);
        cluster.crash('n1', { torn, seed: cut });
        const { member: again, recoveriesCut } = cluster.restart('n1', { torn, seed: cut });
        outcomes.recoveriesCut += recoveriesCut;
        const { snapshotIndex, lastIndex } = expectMatchesReference(again, reference, where);
        expect(lastIndex, `${where}: every acknowledged entry is recovered`).toBeGreaterThanOrEqual(durable);
        // The vote of the election before the cut was synced before it counted: term and vote survive.
        expect(again.storage.boot.hardState, `${where}: the hard state`).toMatchObject({ term: electedTerm, votedFor: 'n1' });
        if (snapshotIndex > 0) outcomes.recoveredSnapshot++;
        if (lastIndex > durable) outcomes.lostUnsynced++;
        // Catching up: elected again, it applies its whole log and reaches the reference state at that index.
        cluster.elect('n1');
        cluster.run();
        expect(again.node.status().appliedIndex, where).toBeGreaterThan(lastIndex); // its new term's no-op too
        expect(digest(again.sm), `${where}: the store at ${lastIndex}`).toBe(reference.digests.get(lastIndex));
        // And it goes on: more writes, a snapshot, a clean restart give the same store.
        cluster.write('n1', 3, 100);
        again.node.snapshotNow();
        const before = digest(again.sm);
        again.node.stop();
        const third = cluster.start('n1', member.disk);
        cluster.elect('n1');
        cluster.run();
        expect(digest(third.sm), `${where}: after a further snapshot and a clean restart`).toBe(before);
      }
    }
    expect(lastApplied).toBeGreaterThan(TAKE_ROUNDS * TAKE_KEYS_PER_ROUND);
    expect(outcomes.recoveredSnapshot).toBeGreaterThan(0);
    expect(outcomes.recoveriesCut, 'some recoveries had torn bytes to zero, and were cut').toBeGreaterThan(0);
    report('take', operations.length, snapshotOperations.length, counts, outcomes);
  });
});

// ---------------------------------------------------------------------------------------------------------
// 2. Installing a snapshot

interface InstallRun {
  readonly cluster: Cluster;
  /** n3's snapshot index and last index before the transfer began (its old state). */
  readonly old: { snapshotIndex: number; lastIndex: number; term: number };
  readonly leaderSnapshotIndex: number;
  readonly phaseStart: number;
}

/**
 * n1 leads n1, n2, n3. n3 takes 30 puts (and a snapshot of its own at 25), then is cut off while 60 more are
 * written and n1 compacts its log (snapshots every 25 entries, and snapshotNow at the end). n3 comes back: n1
 * sends it its snapshot in chunks of 512 B, then 30 puts more, enough for n3 to take a snapshot of its own
 * after the installed one (pruning, compacting the segment with the reset). n3's power switch is armed when it
 * comes back.
 */
function installScenario(cut: number, reference: Reference): InstallRun {
  const cluster = new Cluster(['n1', 'n2', 'n3'], { node: 'n1', record: reference });
  cluster.elect('n1');
  for (let round = 0; round < 5; round++) cluster.write('n1', 6, round);
  cluster.round('n1');
  const n3 = cluster.member('n3');
  expect(n3.node.status().appliedIndex).toBe(cluster.member('n1').node.status().appliedIndex);
  expect(n3.node.status().snapshotIndex, 'n3 took a snapshot of its own').toBeGreaterThan(0);
  cluster.isolated.add('n3');
  for (let round = 5; round < 15; round++) cluster.write('n1', 6, round);
  cluster.round('n1');
  const leaderSnapshotIndex = cluster.member('n1').node.snapshotNow();
  const old = { snapshotIndex: n3.node.core.log.snapshotIndex, lastIndex: n3.node.core.log.lastIndex, term: n3.node.status().term };
  expect(leaderSnapshotIndex).toBeGreaterThan(old.lastIndex + 1);

  const phaseStart = n3.power.done.length;
  n3.power.operationsLeft = cut;
  cluster.isolated.delete('n3');
  cluster.round('n1');
  for (let round = 15; round < 20 && !n3.dead; round++) cluster.write('n1', 6, round);
  for (let i = 0; i < ROUNDS_MAX && !n3.dead && !caughtUp(cluster); i++) cluster.round('n1');
  return { cluster, old, leaderSnapshotIndex, phaseStart };
}

function caughtUp(cluster: Cluster): boolean {
  const leader = cluster.member('n1').node.status();
  const n3 = cluster.member('n3');
  return !n3.dead && n3.node.status().appliedIndex === leader.appliedIndex && n3.node.status().commitIndex === leader.commitIndex;
}

describe('a power cut at every disk operation of installing a snapshot', () => {
  it('restarts from the old state or the new one, never a mix, and catches up to the leader', () => {
    const full = installScenario(Number.POSITIVE_INFINITY, { entries: new Map(), digests: new Map() });
    const n3 = full.cluster.member('n3');
    expect(caughtUp(full.cluster)).toBe(true);
    expect(n3.node.status().snapshotIndex).toBeGreaterThan(full.leaderSnapshotIndex); // installed, then its own
    const operations = n3.power.done.slice(full.phaseStart);
    const counts = countByKind(operations);
    expect(counts['rename snap']).toBe(2); // the leader's snapshot, then n3's own
    expect(counts['write snap'] ?? 0).toBeGreaterThanOrEqual(2);

    const outcomes = { old: 0, new: 0, newer: 0, recoveriesCut: 0 };
    for (let cut = 0; cut < operations.length; cut++) {
      for (const torn of [false, true]) {
        const where = `cut before operation ${cut} (${operations[cut]}), ${torn ? 'torn' : 'clean'}`;
        const reference: Reference = { entries: new Map(), digests: new Map() };
        const run = installScenario(cut, reference);
        const { cluster } = run;
        const member = cluster.member('n3');
        expect(member.dead, `${where}: the power went`).toBe(true);
        const acknowledged = cluster.acknowledged.get('n3') ?? 0;
        cluster.crash('n3', { torn, seed: 1000 + cut });
        cluster.run(); // n1 and n2 finish what they were doing: what n3 holds is in the reference
        const { member: again, recoveriesCut } = cluster.restart('n3', { torn, seed: 1000 + cut });
        outcomes.recoveriesCut += recoveriesCut;
        const { snapshotIndex, lastIndex } = expectMatchesReference(again, reference, where);
        if (snapshotIndex === run.old.snapshotIndex) {
          // The old state: the log it had, whole (all of it was synced and acknowledged before it was cut off).
          expect(lastIndex, `${where}: the old log, whole`).toBeGreaterThanOrEqual(run.old.lastIndex);
          outcomes.old++;
        } else {
          // The new state: the leader's snapshot, or one n3 took after installing it (its store checked above).
          expect(snapshotIndex, `${where}: the old snapshot or the leader's (or a later one)`).toBeGreaterThanOrEqual(
            run.leaderSnapshotIndex,
          );
          if (snapshotIndex === run.leaderSnapshotIndex) outcomes.new++;
          else outcomes.newer++;
        }
        expect(lastIndex, `${where}: every index it acknowledged is recovered`).toBeGreaterThanOrEqual(acknowledged);
        expect(again.storage.boot.hardState.term, `${where}: the term never goes back`).toBeGreaterThanOrEqual(run.old.term);
        // Catching up from the leader: the same store at the same index.
        for (let i = 0; i < ROUNDS_MAX && !caughtUp(cluster); i++) cluster.round('n1');
        expect(caughtUp(cluster), `${where}: catches up`).toBe(true);
        const leader = cluster.member('n1');
        expect(again.node.status().snapshotIndex, where).toBeGreaterThanOrEqual(run.leaderSnapshotIndex);
        expect(digest(again.sm), `${where}: the leader's store`).toBe(digest(leader.sm));
      }
    }
    expect(outcomes.old).toBeGreaterThan(0);
    expect(outcomes.new).toBeGreaterThan(0);
    expect(outcomes.newer).toBeGreaterThan(0);
    expect(outcomes.recoveriesCut, 'some recoveries had a reset to log or torn bytes to zero, and were cut').toBeGreaterThan(0);
    report('install', operations.length, operations.filter(isSnapshotOperation).length, counts, outcomes, operations);
  });
});

function report(
  what: string,
  operations: number,
  snapshotOperations: number,
  counts: Record<string, number>,
  outcomes: object,
  names?: readonly string[],
): void {
  if (process.env.SNAPSHOT_CRASH_VERBOSE === undefined) return;
  console.log(`${what}: ${operations} crash points (${snapshotOperations} on snapshot files or compaction)`, counts, outcomes);
  if (names !== undefined) console.log(names.join('\n'));
}
