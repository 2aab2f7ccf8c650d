// Recovery and footprint figures of the on-disk cluster (issue 7, item 3).
//
//   npx tsx bench/suites/recovery.ts [--scale 0.1] [--only catchup,install,restart,memory] [--nodes 3]
//
// 1. catch-up:  a follower killed, 100,000 entries (one 256 B SET each) committed without it, the follower
//               restarted: time until its applied index reaches the leader's commit index, and whether it came
//               back through the log or through an InstallSnapshot (nodes snapshot every 100,000 entries by
//               default). Once with the default limits, once with the log kept (the log path).
// 2. install:   a cluster whose store holds 1,000,000 keys (256 B values, written as MSET entries of 1,000
//               keys), every node's log compacted by its own snapshot, a follower wiped and restarted: time
//               until it has received and installed the snapshot and applied everything.
// 3. restart:   a follower with 1,000,000 entries in its log (no compaction) killed and restarted: time until it
//               reports READY, and until it has applied everything again.
// 4. memory:    bytes per key of 1,000,000 keys of 256 B: the KV store alone and a whole node (RaftNode, storage,
//               store) in this thread (V8 heap + array buffers after full GCs), and the RSS growth of a fresh
//               process running a one-node cluster (a high-water mark).
// --scale multiplies every count (0.1 for a quick run). Data goes to a temporary folder on disk, removed at
// the end; results to bench/results/recovery.json. The whole run at scale 1 takes about 70 s on 2 cores.
import { fork } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Supervisor } from '../../src/actor/supervisor.js';
import { encodeBatch, type KvCommand, type SessionCommand } from '../../src/kv/commands.js';
import { KvStateMachine } from '../../src/kv/kv-state-machine.js';
import { NODE_LIMITS_DEFAULTS, RaftNode } from '../../src/node/raft-node.js';
import type { NodeStatus, RaftNodeLimits } from '../../src/protocol/node.js';
import { SeededRandom } from '../../src/raft/random.js';
import { DiskStorage } from '../../src/storage/disk-storage.js';
import { NodeFileSystem } from '../../src/storage/file-system.js';
import type { NodeId } from '../../src/raft/types.js';
import { delay, withTimeout } from '../../src/util/async.js';
import {
  describeMachine,
  formatFigure,
  formatLoadAverage,
  isMainModule,
  machineFields,
  positiveInteger,
  positiveNumber,
  printTable,
  waitForLeader,
  writeResults,
} from '../bench-util.js';
import { startSupervisor } from '../lib/cluster.js';
import { isTmpfs } from '../lib/resources.js';

export interface RecoveryOptions {
  /** Nodes of the replicated clusters (3). */
  readonly nodes: number;
  /** Parent folder of every cluster's data; each case makes its own folder in it and removes it after. */
  readonly dataRoot: string;
  readonly log: (line: string) => void;
  /** 1 = the issue's sizes; smaller for quick runs, e.g. 0.1. */
  readonly scale: number;
  /** Which cases to run (default all). */
  readonly only?: readonly RecoveryCase[];
}

export type RecoveryCase = 'catchup' | 'install' | 'restart' | 'memory';
export const RECOVERY_CASES: readonly RecoveryCase[] = ['catchup', 'install', 'restart', 'memory'];

export interface RecoveryResult {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly detail: string;
}

const VALUE_BYTES = 256;
const CATCHUP_ENTRIES = 100_000;
const INSTALL_KEYS = 1_000_000;
const RESTART_ENTRIES = 1_000_000;
const MEMORY_KEYS = 1_000_000;
/** Keys per MSET entry when filling a store with many keys. */
const KEYS_PER_MSET = 1_000;
/** Entries per propose() call, and calls in flight, when loading the cluster. */
const ENTRIES_PER_CALL = 512;
const CALLS_IN_FLIGHT = 8;
const MSETS_PER_CALL = 4;
const MSET_CALLS_IN_FLIGHT = 4;
const LEADER_TIMEOUT_MS = 30_000;
/** Restarting a node with a big log or snapshot can take longer than the supervisor's default 30 s. */
const START_TIMEOUT_MS = 300_000;
const CATCHUP_TIMEOUT_MS = 600_000;
const PROPOSE_TIMEOUT_MS = 60_000;
const POLL_MS = 10;
const MIB = 1024 * 1024;

// ---------------------------------------------------------------------------
// Loading a cluster.

interface LoadPlan {
  /** Log entries to commit. */
  readonly entries: number;
  /** 1: one SET per entry; more: one MSET of this many keys per entry. */
  readonly keysPerEntry: number;
  readonly keyPrefix: string;
  readonly entriesPerCall: number;
  readonly callsInFlight: number;
}

interface LoadResult {
  readonly seconds: number;
  readonly entries: number;
  readonly keys: number;
  /** The highest index acknowledged. */
  readonly lastIndex: number;
  readonly refusals: Readonly<Record<string, number>>;
}

const VALUE = new Uint8Array(VALUE_BYTES).fill(0x61);

function keyBytes(prefix: string, n: number): Uint8Array {
  return Buffer.from(`${prefix}${n.toString().padStart(8, '0')}`, 'latin1');
}

function commandFor(plan: LoadPlan, entry: number): KvCommand {
  if (plan.keysPerEntry === 1) return { op: 'put', key: keyBytes(plan.keyPrefix, entry), value: VALUE };
  const pairs: [Uint8Array, Uint8Array][] = [];
  for (let k = 0; k < plan.keysPerEntry; k++) pairs.push([keyBytes(plan.keyPrefix, entry * plan.keysPerEntry + k), VALUE]);
  return { op: 'mput', pairs };
}

/** The log entries of `plan` from `first` to `end` (exclusive), each a one-command batch of a client session. */
function* entryBatches(
  plan: LoadPlan,
  session: string,
  sequence: { seq: number; acked: number },
  first: number,
  end: number,
): Generator<Uint8Array> {
  for (let entry = first; entry < end; entry++) {
    const command: SessionCommand = { session, seq: ++sequence.seq, ack: sequence.acked, command: commandFor(plan, entry) };
    yield encodeBatch({ timeMs: Date.now(), commands: [command] });
  }
}

/**
 * Commits `plan.entries` entries through the leader: `callsInFlight` lanes, each a client session proposing
 * `entriesPerCall` entries per call and acknowledging its answers with the next call. A refused call is
 * retried as it was (the session makes a retry apply once).
 */
async function load(supervisor: Supervisor, plan: LoadPlan): Promise<LoadResult> {
  const start = performance.now();
  const refusals: Record<string, number> = {};
  let next = 0;
  let lastIndex = 0;
  const lane = async (id: number): Promise<void> => {
    const sequence = { seq: 0, acked: 0 };
    while (next < plan.entries) {
      const first = next;
      const end = Math.min(plan.entries, first + plan.entriesPerCall);
      next = end;
      const commands = [...entryBatches(plan, `${plan.keyPrefix}lane${id}`, sequence, first, end)];
      for (;;) {
        const outcome = await supervisor.propose(commands, { timeoutMs: PROPOSE_TIMEOUT_MS });
        if (outcome.ok) {
          lastIndex = Math.max(lastIndex, outcome.index + commands.length - 1);
          break;
        }
        refusals[outcome.code] = (refusals[outcome.code] ?? 0) + 1;
        if (outcome.code === 'PROPOSAL_TOO_LARGE') throw new Error(`load refused: ${outcome.message}`);
        await delay(outcome.code === 'QUEUE_FULL' ? 5 : 50);
      }
      sequence.acked = sequence.seq;
    }
  };
  await Promise.all(Array.from({ length: plan.callsInFlight }, (_, id) => lane(id)));
  return {
    seconds: (performance.now() - start) / 1000,
    entries: plan.entries,
    keys: plan.entries * plan.keysPerEntry,
    lastIndex,
    refusals,
  };
}

function describeLoad(result: LoadResult): string {
  const refused = Object.entries(result.refusals)
    .map(([code, count]) => `${code} ${count}`)
    .join(', ');
  return (
    `loaded ${result.entries.toLocaleString('en-US')} entries (${result.keys.toLocaleString('en-US')} keys) in ${result.seconds.toFixed(1)} s, ` +
    `${Math.round(result.entries / result.seconds).toLocaleString('en-US')} entries/s${refused === '' ? '' : `; refused: ${refused}`}`
  );
}

// ---------------------------------------------------------------------------
// Watching nodes.

async function statusOf(supervisor: Supervisor, id: NodeId, timeoutMs = 1_000): Promise<NodeStatus | null> {
  const control = supervisor.control(id);
  if (control === null || supervisor.stateOf(id) !== 'running') return null;
  return withTimeout(control.status(), timeoutMs).catch(() => null);
}

async function leaderStatus(supervisor: Supervisor): Promise<NodeStatus> {
  for (;;) {
    const leader = await waitForLeader(supervisor, LEADER_TIMEOUT_MS);
    const status = await statusOf(supervisor, leader, 5_000);
    if (status?.role === 'leader') return status;
    await delay(POLL_MS);
  }
}

/** The leader's status once its snapshot index has reached `index(status)`. */
async function waitSnapshotted(supervisor: Supervisor, index: (status: NodeStatus) => number): Promise<NodeStatus> {
  const deadline = performance.now() + CATCHUP_TIMEOUT_MS;
  for (;;) {
    const leader = await leaderStatus(supervisor);
    if (leader.snapshotIndex >= index(leader)) return leader;
    if (performance.now() > deadline)
      throw new Error(`the leader ${leader.id} did not snapshot at ${index(leader)} (snapshot index ${leader.snapshotIndex})`);
    await delay(POLL_MS);
  }
}

/** Waits until `id` has applied `index`; resolves with when it did (performance.now()). */
async function waitApplied(supervisor: Supervisor, id: NodeId, index: number): Promise<{ at: number; status: NodeStatus }> {
  const deadline = performance.now() + CATCHUP_TIMEOUT_MS;
  for (;;) {
    const status = await statusOf(supervisor, id);
    if (status !== null && status.appliedIndex >= index) return { at: performance.now(), status };
    if (performance.now() > deadline)
      throw new Error(`${id} did not apply ${index} within ${CATCHUP_TIMEOUT_MS} ms (at ${status?.appliedIndex ?? '?'})`);
    await delay(POLL_MS);
  }
}

/** Restarts `id` and waits until it has applied `index`: milliseconds from the restart call to READY and to applied. */
async function restartUntilApplied(supervisor: Supervisor, id: NodeId, index: number): Promise<{ readyMs: number; appliedMs: number }> {
  const start = performance.now();
  await supervisor.restart(id);
  const readyMs = performance.now() - start;
  const done = await waitApplied(supervisor, id, index);
  return { readyMs, appliedMs: done.at - start };
}

/** Waits until every running node has applied `index` (so a kill afterwards loses nothing it needs). */
async function waitAllApplied(supervisor: Supervisor, index: number): Promise<void> {
  await Promise.all(supervisor.ids.filter((id) => supervisor.stateOf(id) === 'running').map((id) => waitApplied(supervisor, id, index)));
}

function countLeaderChanges(supervisor: Supervisor): { readonly count: () => number; readonly stop: () => void } {
  let changes = 0;
  const onLeader = (id: NodeId | null): void => {
    if (id !== null) changes++;
  };
  supervisor.on('leader', onLeader);
  return { count: () => changes, stop: () => supervisor.off('leader', onLeader) };
}

function snapshotFiles(nodeDir: string): { index: number; bytes: number }[] {
  const dir = path.join(nodeDir, 'snap');
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((name) => name.endsWith('.snap'))
    .map((name) => ({
      index: Number.parseInt(name.slice(0, 16), 16),
      bytes: statSync(path.join(dir, name)).size,
    }));
}

function folderBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    total += entry.isDirectory() ? folderBytes(full) : statSync(full).size;
  }
  return total;
}

function mib(bytes: number): string {
  return `${(bytes / MIB).toFixed(1)} MiB`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

function scaled(count: number, scale: number): number {
  return Math.max(1, Math.round(count * scale));
}

/** A cluster in its own folder under the data root: started, with a leader, and always stopped and removed. */
async function withCluster<T>(
  options: RecoveryOptions,
  name: string,
  limits: Partial<RaftNodeLimits>,
  nodes: number,
  body: (supervisor: Supervisor, dataDir: string) => Promise<T>,
): Promise<T> {
  const dataDir = mkdtempSync(path.join(options.dataRoot, `${name}-`));
  try {
    const supervisor = await startSupervisor({
      nodes,
      dataDir,
      durable: true,
      stateMachine: 'kv',
      limits,
      startTimeoutMs: START_TIMEOUT_MS,
      log: (line) => options.log(`  [${name}] ${line}`),
    });
    try {
      return await body(supervisor, dataDir);
    } finally {
      await supervisor.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** A follower of the current leader. */
async function pickFollower(supervisor: Supervisor): Promise<NodeId> {
  const leader = await waitForLeader(supervisor, LEADER_TIMEOUT_MS);
  const follower = supervisor.ids.find((id) => id !== leader);
  if (follower === undefined) throw new Error('a one-node cluster has no follower');
  return follower;
}

// ---------------------------------------------------------------------------
// 1. Catch-up of a follower 100,000 entries behind.

async function catchUp(options: RecoveryOptions, keepLog: boolean): Promise<RecoveryResult[]> {
  const entries = scaled(CATCHUP_ENTRIES, options.scale);
  // Default limits: a snapshot every 100,000 applied entries. keepLog: never within this run.
  const limits: Partial<RaftNodeLimits> = keepLog ? { snapshotEveryEntries: 10 * entries + 1_000 } : {};
  const label = keepLog ? 'log kept' : 'default limits';
  return withCluster(options, keepLog ? 'catchup-log' : 'catchup', limits, options.nodes, async (supervisor, dataDir) => {
    const warm = await load(supervisor, {
      entries: 1_000,
      keysPerEntry: 1,
      keyPrefix: 'warm:',
      entriesPerCall: ENTRIES_PER_CALL,
      callsInFlight: 2,
    });
    await waitAllApplied(supervisor, warm.lastIndex);
    const follower = await pickFollower(supervisor);
    const before = await statusOf(supervisor, follower, 5_000);
    if (before === null) throw new Error(`no status from ${follower}`);
    await supervisor.kill(follower);
    const loaded = await load(supervisor, {
      entries,
      keysPerEntry: 1,
      keyPrefix: 'c:',
      entriesPerCall: ENTRIES_PER_CALL,
      callsInFlight: CALLS_IN_FLIGHT,
    });
    options.log(`  catch-up (${label}): ${describeLoad(loaded)}`);
    // Nodes snapshot every `every` entries, a slice per turn: let the one under way finish, so that the
    // path (log or snapshot) is known before the restart.
    const every = limits.snapshotEveryEntries ?? NODE_LIMITS_DEFAULTS.snapshotEveryEntries;
    const leader = await waitSnapshotted(supervisor, (status) => Math.floor(status.appliedIndex / every) * every);
    const target = leader.commitIndex;
    const behind = target - before.appliedIndex;
    const leaders = countLeaderChanges(supervisor);
    const { readyMs, appliedMs: totalMs } = await restartUntilApplied(supervisor, follower, target);
    leaders.stop();
    const viaSnapshot = leader.snapshotIndex > before.lastIndex;
    const snapshotBytes = snapshotFiles(path.join(dataDir, leader.id)).find((file) => file.index === leader.snapshotIndex)?.bytes ?? 0;
    const route = viaSnapshot
      ? `InstallSnapshot (the leader's log starts after its snapshot at ${leader.snapshotIndex}, ${mib(snapshotBytes)}; the follower stopped at ${before.lastIndex}), ` +
        `then ${target - leader.snapshotIndex} entries from the log`
      : `the log alone (the leader's snapshot at ${leader.snapshotIndex} is older than the follower's last entry ${before.lastIndex})`;
    const detail =
      `${behind.toLocaleString('en-US')} entries of one ${VALUE_BYTES} B SET behind (${label}), path: ${route}; ` +
      `READY after ${seconds(readyMs)}; ${leaders.count()} leader change(s) meanwhile`;
    options.log(`  catch-up (${label}): ${seconds(totalMs)}; ${detail}`);
    return [
      { name: `catch-up ${behind} entries behind (${label})`, value: totalMs / 1000, unit: 's', detail },
      {
        name: `catch-up rate (${label})`,
        value: behind / (totalMs / 1000),
        unit: 'entries/s',
        detail: `entries behind / time from supervisor.restart() to applied = the leader's commit, path: ${viaSnapshot ? 'snapshot' : 'log'}`,
      },
    ];
  });
}

// ---------------------------------------------------------------------------
// 2. InstallSnapshot of a store of 1,000,000 keys.

async function installSnapshot(options: RecoveryOptions): Promise<RecoveryResult[]> {
  const keys = scaled(INSTALL_KEYS, options.scale);
  const msets = Math.ceil(keys / KEYS_PER_MSET);
  // Every node snapshots by itself (a slice per turn) once the last MSETs are applied: the leader's log is
  // then compacted past everything the follower would need.
  return withCluster(options, 'install', { snapshotEveryEntries: msets }, options.nodes, async (supervisor, dataDir) => {
    const follower = await pickFollower(supervisor);
    await supervisor.kill(follower);
    const leaders = countLeaderChanges(supervisor);
    const loaded = await load(supervisor, {
      entries: msets,
      keysPerEntry: KEYS_PER_MSET,
      keyPrefix: 'k:',
      entriesPerCall: MSETS_PER_CALL,
      callsInFlight: MSET_CALLS_IN_FLIGHT,
    });
    options.log(`  install: ${describeLoad(loaded)}`);
    const loadedAt = performance.now();
    const leader = await waitSnapshotted(supervisor, () => msets);
    const snapshottedMs = performance.now() - loadedAt;
    const leaderChangesWhileLoading = leaders.count();
    const target = leader.commitIndex;
    const snapshot = snapshotFiles(path.join(dataDir, leader.id)).sort((a, b) => b.index - a.index)[0];
    if (snapshot === undefined) throw new Error(`no snapshot file of ${leader.id}`);
    // The follower comes back with nothing: only the snapshot can catch it up.
    rmSync(path.join(dataDir, follower), { recursive: true, force: true });
    const { readyMs, appliedMs: totalMs } = await restartUntilApplied(supervisor, follower, target);
    leaders.stop();
    const detail =
      `${keys.toLocaleString('en-US')} keys of ${VALUE_BYTES} B (MSET of ${KEYS_PER_MSET} per entry), snapshot file ${mib(snapshot.bytes)} at index ${snapshot.index}, ` +
      `then ${target - snapshot.index} entr${target - snapshot.index === 1 ? 'y' : 'ies'} from the log; follower wiped, READY after ${seconds(readyMs)}, ${(snapshot.bytes / MIB / (totalMs / 1000)).toFixed(1)} MiB/s; ` +
      `the leader's snapshot was done ${seconds(snapshottedMs)} after the last write; leader changes: ${leaderChangesWhileLoading} while loading and snapshotting, ` +
      `${leaders.count() - leaderChangesWhileLoading} during the install`;
    options.log(`  install: ${seconds(totalMs)}; ${detail}`);
    return [
      { name: `snapshot install, ${keys} keys`, value: totalMs / 1000, unit: 's', detail },
      {
        name: `snapshot install rate`,
        value: keys / (totalMs / 1000),
        unit: 'keys/s',
        detail: `from supervisor.restart() of a wiped follower to applied = leader's commit`,
      },
    ];
  });
}

// ---------------------------------------------------------------------------
// 3. Restart of a node with 1,000,000 log entries.

async function restartWithLog(options: RecoveryOptions): Promise<RecoveryResult[]> {
  const entries = scaled(RESTART_ENTRIES, options.scale);
  return withCluster(options, 'restart', { snapshotEveryEntries: 2 * entries + 1_000 }, options.nodes, async (supervisor, dataDir) => {
    // The same restart with an empty log first: the fixed cost of a worker (tsx, module loading).
    const probe = await pickFollower(supervisor);
    const emptyStart = performance.now();
    await supervisor.kill(probe);
    await supervisor.restart(probe);
    const emptyMs = performance.now() - emptyStart;
    const loaded = await load(supervisor, {
      entries,
      keysPerEntry: 1,
      keyPrefix: 'r:',
      entriesPerCall: ENTRIES_PER_CALL,
      callsInFlight: CALLS_IN_FLIGHT,
    });
    options.log(`  restart: ${describeLoad(loaded)}`);
    await waitAllApplied(supervisor, loaded.lastIndex);
    // A follower of the leader of now (the leader may have changed while loading): no election in the figure.
    const follower = await pickFollower(supervisor);
    const before = await statusOf(supervisor, follower, 5_000);
    if (before === null) throw new Error(`no status from ${follower}`);
    const walBytes = folderBytes(path.join(dataDir, follower, 'wal'));
    await supervisor.kill(follower);
    const { readyMs, appliedMs } = await restartUntilApplied(supervisor, follower, before.appliedIndex);
    const detail =
      `${before.lastIndex - before.snapshotIndex} entries in the log (WAL ${mib(walBytes)}), snapshot at ${before.snapshotIndex}; ` +
      `READY after ${seconds(readyMs)}, applied everything after ${seconds(appliedMs)}; an empty node restarts in ${seconds(emptyMs)}`;
    options.log(`  restart: ${detail}`);
    return [
      { name: `restart with ${entries} log entries: READY`, value: readyMs / 1000, unit: 's', detail },
      {
        name: `restart with ${entries} log entries: applied`,
        value: appliedMs / 1000,
        unit: 's',
        detail: `from supervisor.restart() until its applied index is back where it was (${before.appliedIndex})`,
      },
    ];
  });
}

// ---------------------------------------------------------------------------
// 4. Memory per 1,000,000 keys.

/** A full GC of this thread's heap (V8's gc() exposed at run time, without --expose-gc on the command line). */
function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** Heap used + array buffers of this thread after full GCs (array buffers are released a little after the GC that finds them dead). */
async function heapBytes(gc: () => void): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await delay(100);
  }
  const usage = process.memoryUsage();
  // Values are ArrayBuffers outside the V8 heap: count both.
  return usage.heapUsed + usage.arrayBuffers;
}

/** The KV store alone: heap and array buffers of this thread, before and after applying `keys` keys. */
async function storeMemory(keys: number): Promise<{ afterWrites: number; afterRestore: number; snapshotBytes: number }> {
  const gc = exposeGc();
  const plan: LoadPlan = {
    entries: Math.ceil(keys / KEYS_PER_MSET),
    keysPerEntry: KEYS_PER_MSET,
    keyPrefix: 'm:',
    entriesPerCall: 1,
    callsInFlight: 1,
  };
  const sequence = { seq: 0, acked: 0 };
  const baseline = await heapBytes(gc);
  let store: KvStateMachine | null = new KvStateMachine();
  let index = 0;
  for (const data of entryBatches(plan, 'memory', sequence, 0, plan.entries)) {
    store.apply({ type: 'command', term: 1, index: ++index, data });
    sequence.acked = sequence.seq;
  }
  const afterWrites = (await heapBytes(gc)) - baseline;
  let snapshot: Uint8Array | null = store.snapshot();
  const snapshotBytes = snapshot.byteLength;
  store = null;
  const restored = new KvStateMachine();
  restored.restore(snapshot);
  snapshot = null;
  const afterRestore = (await heapBytes(gc)) - baseline;
  if (restored.keyCount !== plan.entries * KEYS_PER_MSET) throw new Error(`restored ${restored.keyCount} keys`);
  return { afterWrites, afterRestore, snapshotBytes };
}

/**
 * A whole node (RaftNode, its DiskStorage and KV store, the worker's runtime) in this thread, a single voter
 * on disk: heap and array buffers after a full GC, empty, with `keys` keys and their log, after a snapshot.
 */
async function nodeMemory(dataRoot: string, keys: number): Promise<{ withLog: number; compacted: number }> {
  const gc = exposeGc();
  const dir = mkdtempSync(path.join(dataRoot, 'memory-node-'));
  const storage = DiskStorage.open(new NodeFileSystem({ durable: true, bufferUnsynced: false }), dir, {
    initialMembership: { voters: ['n1'], learners: [] },
  });
  const host = { send: () => {}, flush: () => {}, emit: () => {} };
  const node = new RaftNode(
    { core: { id: 'n1', random: new SeededRandom(1) }, limits: { snapshotEveryEntries: Number.MAX_SAFE_INTEGER } },
    storage,
    new KvStateMachine(),
    host,
  );
  const ticker = setInterval(() => node.tick(), 10);
  try {
    while (node.status().role !== 'leader') await delay(POLL_MS);
    const baseline = await heapBytes(gc);
    const plan: LoadPlan = {
      entries: Math.ceil(keys / KEYS_PER_MSET),
      keysPerEntry: KEYS_PER_MSET,
      keyPrefix: 'm:',
      entriesPerCall: MSETS_PER_CALL,
      callsInFlight: 1,
    };
    const sequence = { seq: 0, acked: 0 };
    for (let first = 0; first < plan.entries; first += plan.entriesPerCall) {
      const outcome = await node.propose([
        ...entryBatches(plan, 'memory', sequence, first, Math.min(plan.entries, first + plan.entriesPerCall)),
      ]);
      if (!outcome.ok) throw new Error(`the memory node refused: ${outcome.message}`);
      sequence.acked = sequence.seq;
    }
    const withLog = (await heapBytes(gc)) - baseline;
    node.snapshotNow();
    const compacted = (await heapBytes(gc)) - baseline;
    return { withLog, compacted };
  } finally {
    clearInterval(ticker);
    node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function memory(options: RecoveryOptions): Promise<RecoveryResult[]> {
  const keys = scaled(MEMORY_KEYS, options.scale);
  const storeKeys = Math.ceil(keys / KEYS_PER_MSET) * KEYS_PER_MSET;
  const perMillion = (bytes: number): number => ((bytes / storeKeys) * 1_000_000) / MIB;
  const perKey = (bytes: number): string => `${Math.round(bytes / storeKeys)} B/key`;
  const keysText = `${storeKeys.toLocaleString('en-US')} keys of ${VALUE_BYTES} B (10 B keys)`;
  const store = await storeMemory(keys);
  const node = await nodeMemory(options.dataRoot, keys);
  // The real thing: a one-node cluster in a fresh process, so that memory this process freed earlier and
  // hands back to the OS meanwhile does not count against it.
  const rss = await clusterRssInChild(options.dataRoot, keys);
  const rssDetail =
    `RSS of a fresh process running a one-node on-disk cluster (main thread and the node's worker), minus its RSS with the cluster empty: ` +
    `${mib(rss.withLog - rss.empty)} with ${keysText} and their log, ${mib(rss.compacted - rss.empty)} after a snapshot compacted the log. ` +
    `A high-water mark, not a footprint: garbage of the load (frames, decoded commands) the worker never collects on demand, and freed memory ` +
    `the allocator keeps, count too (${rss.load})`;
  options.log(
    `  memory: store ${perKey(store.afterWrites)}, restored ${perKey(store.afterRestore)}, node ${perKey(node.withLog)} with its log, ` +
      `${perKey(node.compacted)} after a snapshot; ${rssDetail}`,
  );
  return [
    {
      name: 'KV store memory per 1M keys (after writes)',
      value: perMillion(store.afterWrites),
      unit: 'MiB',
      detail: `${perKey(store.afterWrites)}: a KvStateMachine fed ${keysText} as MSETs in this thread; V8 heap used + array buffers after a full GC, minus the same before`,
    },
    {
      name: 'KV store memory per 1M keys (after restore)',
      value: perMillion(store.afterRestore),
      unit: 'MiB',
      detail: `${perKey(store.afterRestore)}: the same store rebuilt from its snapshot (${mib(store.snapshotBytes)}), as on a follower after InstallSnapshot or a restart`,
    },
    {
      name: 'node memory per 1M keys (log in memory)',
      value: perMillion(node.withLog),
      unit: 'MiB',
      detail: `${perKey(node.withLog)}: a whole node (RaftNode, DiskStorage, KV store; one voter, on disk) run in this thread, fed ${keysText}; heap used + array buffers after a full GC, minus the same with the node empty`,
    },
    {
      name: 'node memory per 1M keys (after snapshot)',
      value: perMillion(node.compacted),
      unit: 'MiB',
      detail: `${perKey(node.compacted)}: the same node after a snapshot compacted its log (the snapshot itself is on disk, read from there when sent)`,
    },
    {
      name: 'cluster process RSS growth per 1M keys (after snapshot)',
      value: perMillion(rss.compacted - rss.empty),
      unit: 'MiB',
      detail: rssDetail,
    },
  ];
}

interface ClusterRss {
  /** Process RSS in bytes: the cluster up and empty, with the keys (and their log), after a snapshot compacted the log. */
  readonly empty: number;
  readonly withLog: number;
  readonly compacted: number;
  readonly load: string;
}

/** Run in the child process: a one-node cluster, RSS before and after `keys` keys. */
async function clusterRss(dataRoot: string, keys: number): Promise<ClusterRss> {
  const gc = exposeGc();
  const quiet: RecoveryOptions = { nodes: 1, dataRoot, scale: 1, log: () => {} };
  const msets = Math.ceil(keys / KEYS_PER_MSET);
  return withCluster(quiet, 'memory', { snapshotEveryEntries: 10 * msets + 1_000 }, 1, async (supervisor) => {
    await delay(500);
    gc();
    const empty = process.memoryUsage().rss;
    const loaded = await load(supervisor, {
      entries: msets,
      keysPerEntry: KEYS_PER_MSET,
      keyPrefix: 'm:',
      entriesPerCall: MSETS_PER_CALL,
      callsInFlight: MSET_CALLS_IN_FLIGHT,
    });
    await waitAllApplied(supervisor, loaded.lastIndex);
    gc();
    const withLog = process.memoryUsage().rss;
    await supervisor.control(supervisor.ids[0] as NodeId)?.snapshotNow();
    await delay(2_000);
    gc();
    return { empty, withLog, compacted: process.memoryUsage().rss, load: describeLoad(loaded) };
  });
}

const CLUSTER_RSS_CHILD = '--cluster-rss-child';

function clusterRssInChild(dataRoot: string, keys: number): Promise<ClusterRss> {
  return new Promise((resolve, reject) => {
    // The same file, with the same loader (tsx) flags as this process.
    const child = fork(fileURLToPath(import.meta.url), [CLUSTER_RSS_CHILD, String(keys), dataRoot], { stdio: 'inherit' });
    child.once('message', (rss: ClusterRss) => resolve(rss));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the RSS child process exited with code ${code} before answering`)));
  });
}

// ---------------------------------------------------------------------------

export async function runRecovery(options: RecoveryOptions): Promise<RecoveryResult[]> {
  if (!(options.scale > 0)) throw new RangeError(`scale must be positive, got ${options.scale}`);
  const only = new Set(options.only ?? RECOVERY_CASES);
  const results: RecoveryResult[] = [];
  if (only.has('catchup')) {
    results.push(...(await catchUp(options, false)));
    results.push(...(await catchUp(options, true)));
  }
  if (only.has('install')) results.push(...(await installSnapshot(options)));
  if (only.has('restart')) results.push(...(await restartWithLog(options)));
  if (only.has('memory')) results.push(...(await memory(options)));
  return results;
}

// ---------------------------------------------------------------------------
// Run alone.

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { scale: { type: 'string', default: '1' }, only: { type: 'string' }, nodes: { type: 'string', default: '3' } },
  });
  const scale = positiveNumber('scale', values.scale);
  const nodes = positiveInteger('nodes', values.nodes);
  const only = values.only?.split(',').map((part) => part.trim());
  for (const part of only ?? []) {
    if (!(RECOVERY_CASES as readonly string[]).includes(part))
      throw new RangeError(`--only takes ${RECOVERY_CASES.join(', ')}; got ${part}`);
  }
  const dataRoot = mkdtempSync(path.join(tmpdir(), 'raftkv-recovery-'));
  if (isTmpfs(dataRoot)) {
    rmSync(dataRoot, { recursive: true, force: true });
    throw new Error(`${tmpdir()} is tmpfs: set TMPDIR to a folder on a real disk`);
  }
  process.once('SIGINT', () => {
    rmSync(dataRoot, { recursive: true, force: true });
    process.exit(130);
  });
  console.log(`recovery bench: scale ${scale}, ${nodes} nodes, ${describeMachine()}; load average ${formatLoadAverage()}`);
  const started = performance.now();
  let results: RecoveryResult[];
  try {
    results = await runRecovery({
      nodes,
      dataRoot,
      scale,
      log: (line) => console.log(line),
      ...(only === undefined ? {} : { only: only as RecoveryCase[] }),
    });
  } finally {
    rmSync(dataRoot, { recursive: true, force: true });
  }
  const totalSeconds = (performance.now() - started) / 1000;
  printTable(
    `Recovery and footprint, scale ${scale} (${totalSeconds.toFixed(0)} s)`,
    ['figure', 'value', 'unit'],
    results.map((r) => [r.name, formatFigure(r.value), r.unit]),
  );
  for (const r of results) console.log(`  ${r.name}: ${r.detail}`);
  writeResults(fileURLToPath(new URL('../results/recovery.json', import.meta.url)), {
    benchmark: 'recovery',
    ...machineFields(),
    scale,
    nodes,
    totalSeconds,
    loadAverageEnd: loadavg(),
    results,
  });
}

if (isMainModule(import.meta.url)) {
  if (process.argv[2] === CLUSTER_RSS_CHILD) {
    const rss = await clusterRss(process.argv[4] as string, Number(process.argv[3]));
    process.send?.(rss, () => process.disconnect());
  } else await main();
}
