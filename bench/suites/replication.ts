// Replication throughput against its physical limit (issue 7): committed proposals through an N-node worker
// cluster in memory, no router, next to the minimal replication loop measured in the same run.
//
//   npx tsx bench/suites/replication.ts [--nodes 3,5] [--batch 1,64] [--seconds 5] [--warmup 1] [--repeats 1]
//                                       [--loop-encoding once|per-follower]
//
// For each N and B, one after the other:
//   loop:   bench/fixtures/replication-loop.worker.ts: a leader worker and N-1 follower workers joined by
//           MessagePorts; the leader msgpack-encodes B entries per frame, once for all followers (or, with
//           --loop-encoding per-follower, once per follower), one postMessage per follower; the followers decode
//           and acknowledge the last index, a majority commits; at most PROPOSERS batches uncommitted (and in
//           flight to one follower). No Raft, no disk, no clients: the physical limit.
//   raftkv: a real Supervisor cluster of N node workers in memory (`durable: false`, data in /dev/shm, as
//           `raftkv cluster --memory`), no router: PROPOSERS proposers in the main thread, each with one
//           proposal of B commands in flight through the leader's client port (supervisor.client(leader)),
//           counting committed commands.
// Same N, same B, same payload (ENTRY_PAYLOAD_BYTES per command), same bound on what is in flight. With
// --repeats the pair runs that many times and the best of each counts (other load only slows a run down).
// Results go to bench/results/replication.json.
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { Supervisor } from '../../src/actor/supervisor.js';
import type { NodeId } from '../../src/raft/types.js';
import { delay, withTimeout } from '../../src/util/async.js';
import {
  describeMachine,
  formatLoadAverage,
  formatRate,
  isMainModule,
  machineFields,
  nextMessage,
  positiveInteger,
  positiveIntegers,
  positiveNumber,
  printTable,
  waitForLeader,
  writeResults,
} from '../bench-util.js';
import { commandsFor, ENTRY_PAYLOAD_BYTES } from '../fixtures/port-bench-protocol.js';
import type { LoopEncoding, LoopReport, LoopRunCommand, LoopStartup } from '../fixtures/replication-loop.worker.js';
import { startSupervisor } from '../lib/cluster.js';
import { CpuSampler, type CpuSample } from '../lib/cpu-sampler.js';
import { memoryDir, Resources } from '../lib/resources.js';

export interface ReplicationOptions {
  /** Cluster sizes, e.g. [3, 5]. */
  readonly nodes: readonly number[];
  /** Entries per frame in the loop and commands per proposal in raftkv, e.g. [1, 64]. */
  readonly batches: readonly number[];
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly log: (line: string) => void;
  /** Loop-then-raftkv pairs per row; the best of each counts (default 1). */
  readonly repeats?: number;
  /** Proposals in flight in raftkv, and uncommitted batches in the loop (default PROPOSERS). */
  readonly proposers?: number;
  /** How the loop encodes a batch: once for all followers (default, the minimum) or once per follower. */
  readonly loopEncoding?: LoopEncoding;
}

export interface ReplicationRow {
  readonly nodes: number;
  readonly batch: number;
  /** Committed entries per second of the minimal replication loop. */
  readonly loopPerSecond: number;
  /** Committed commands (one log entry each) per second through the raftkv cluster. */
  readonly raftkvPerSecond: number;
  /** raftkv / loop: the issue's target is at least 0.5. */
  readonly ratio: number;
  /** CPU of this whole process (every worker and the main thread) over each window, in cores. */
  readonly loopCpuCores: number;
  readonly raftkvCpuCores: number;
  /** CPU microseconds per committed entry, the whole process. */
  readonly loopCpuMicrosPerEntry: number;
  readonly raftkvCpuMicrosPerEntry: number;
  /**
   * CPU microseconds per committed entry of the busiest thread, the leader (Linux; NaN elsewhere). With other
   * work on the machine a thread gets a share of a core, so loop/raftkv of this is the ratio to expect then.
   */
  readonly loopLeaderMicrosPerEntry: number;
  readonly raftkvLeaderMicrosPerEntry: number;
  /** raftkv: refusals by code, and leader changes during the run (either makes the figure suspect). */
  readonly refusals: Readonly<Record<string, number>>;
  readonly leaderChanges: number;
  /** Every repeat's figures, in order. */
  readonly runs: readonly { readonly loop: number; readonly raftkv: number }[];
}

/** Proposals in flight (raftkv) and uncommitted batches (loop); Raft's own window per follower is 64 too. */
export const PROPOSERS = 64;
const TS_ENTRY = new URL('../../workers/ts-entry.mjs', import.meta.url);
const LOOP_ENTRY = new URL('../fixtures/replication-loop.worker.ts', import.meta.url).href;
const START_TIMEOUT_MS = 30_000;
const LEADER_TIMEOUT_MS = 30_000;
/** After the window, how long the loop may take to report and the proposers to finish. */
const DRAIN_TIMEOUT_MS = 30_000;

// ---------------------------------------------------------------------------
// CPU over each window (bench/lib/cpu-sampler.ts): the busiest thread is the leader, in the loop as in raftkv,
// and its CPU time per committed entry is what the two are compared by when other work on the machine takes
// cores away (a thread gets its fair share of a core, not the core).

interface Measured {
  readonly perSecond: number;
  /** CPU of this whole process (every worker and the main thread) over the window, in cores. */
  readonly cpuCores: number;
  /** CPU microseconds per committed entry: the whole process, and its busiest thread (the leader). */
  readonly cpuMicrosPerEntry: number;
  readonly leaderMicrosPerEntry: number;
}

function measured(entries: number, seconds: number, cpu: CpuSample): Measured {
  return {
    perSecond: entries / seconds,
    cpuCores: cpu.processCpuSeconds / seconds,
    cpuMicrosPerEntry: (cpu.processCpuSeconds * 1e6) / entries,
    leaderMicrosPerEntry: (cpu.busiestThreadCpuSeconds * 1e6) / entries,
  };
}

// ---------------------------------------------------------------------------
// The minimal replication loop.

function nextReport(worker: Worker): Promise<LoopReport> {
  return nextMessage<LoopReport>(worker, 'loop worker');
}

async function runLoop(resources: Resources, nodes: number, batch: number, options: Required<ReplicationOptions>): Promise<Measured> {
  const workers: Worker[] = [];
  const spawn = (role: LoopStartup['role'], ports: MessagePort[]): Worker => {
    const startup: LoopStartup = { __entry: LOOP_ENTRY, role, ports };
    const worker = resources.worker(new Worker(TS_ENTRY, { workerData: startup, transferList: ports }));
    workers.push(worker);
    return worker;
  };
  try {
    const leaderPorts: MessagePort[] = [];
    for (let f = 1; f < nodes; f++) {
      const channel = new MessageChannel();
      leaderPorts.push(channel.port1);
      spawn('follower', [channel.port2]);
    }
    const leader = spawn('leader', leaderPorts);
    await withTimeout(Promise.all(workers.map(nextReport)), START_TIMEOUT_MS, 'loop workers to start');
    const command: LoopRunCommand = {
      type: 'run',
      nodes,
      batch,
      payloadBytes: ENTRY_PAYLOAD_BYTES,
      windowBatches: options.proposers,
      warmupSeconds: options.warmupSeconds,
      seconds: options.seconds,
      encoding: options.loopEncoding,
    };
    const result = nextReport(leader);
    leader.postMessage(command);
    await delay(options.warmupSeconds * 1000);
    // The leader times its own window; CPU is taken over about the same one, from here to its report.
    const cpu = new CpuSampler();
    const report = await withTimeout(result, (options.warmupSeconds + options.seconds) * 1000 + DRAIN_TIMEOUT_MS, 'the loop to report');
    const spent = cpu.end();
    if (report.type !== 'result') throw new Error(`loop leader sent ${report.type}, expected a result`);
    const perSecond = report.committedEntries / report.seconds;
    return { ...measured(perSecond * spent.seconds, spent.seconds, spent), perSecond };
  } finally {
    await Promise.all(workers.map((worker) => resources.endWorker(worker)));
  }
}

// ---------------------------------------------------------------------------
// raftkv: a Supervisor cluster in memory, proposals through the leader's client port.

interface RaftkvRun extends Measured {
  readonly refusals: Record<string, number>;
  readonly leaderChanges: number;
}

async function runRaftkv(resources: Resources, nodes: number, batch: number, options: Required<ReplicationOptions>): Promise<RaftkvRun> {
  const dataDir = memoryDir(resources, 'raftkv-replication-');
  try {
    const supervisor = resources.supervisor(await startSupervisor({ nodes, dataDir, durable: false, stateMachine: 'counter' }));
    try {
      return await measureProposals(supervisor, batch, options);
    } finally {
      await resources.endSupervisor(supervisor);
    }
  } finally {
    resources.removeDir(dataDir);
  }
}

/** `options.proposers` proposers, each with one proposal of `batch` commands in flight, over one measured window. */
async function measureProposals(supervisor: Supervisor, batch: number, options: Required<ReplicationOptions>): Promise<RaftkvRun> {
  let leaderChanges = 0;
  const onLeader = (id: NodeId | null): void => {
    if (id !== null) leaderChanges++;
  };
  supervisor.on('leader', onLeader);
  const refusals: Record<string, number> = {};
  const window = { start: Number.POSITIVE_INFINITY, end: Number.POSITIVE_INFINITY, stopping: false };
  let committed = 0;
  const proposer = async (id: number): Promise<void> => {
    for (let call = 0; !window.stopping; call++) {
      const client = supervisor.client(await waitForLeader(supervisor, LEADER_TIMEOUT_MS));
      if (client === null) {
        await delay(1);
        continue;
      }
      const outcome = await client.propose(commandsFor(batch, id, call));
      const now = performance.now();
      if (!outcome.ok) refusals[outcome.code] = (refusals[outcome.code] ?? 0) + 1;
      else if (now >= window.start && now <= window.end) committed += batch;
    }
  };
  try {
    const running = Array.from({ length: options.proposers }, (_, id) => proposer(id));
    await delay(options.warmupSeconds * 1000);
    window.start = performance.now();
    const cpu = new CpuSampler();
    await delay(options.seconds * 1000);
    window.end = performance.now();
    const spent = cpu.end();
    window.stopping = true;
    await withTimeout(Promise.all(running), DRAIN_TIMEOUT_MS, 'proposers to finish');
    return { ...measured(committed, (window.end - window.start) / 1000, spent), refusals, leaderChanges };
  } finally {
    supervisor.off('leader', onLeader);
  }
}

// ---------------------------------------------------------------------------

export async function runReplication(resources: Resources, input: ReplicationOptions): Promise<ReplicationRow[]> {
  const options: Required<ReplicationOptions> = { repeats: 1, proposers: PROPOSERS, loopEncoding: 'once', ...input };
  if (!(options.seconds > 0) || !(options.warmupSeconds >= 0))
    throw new RangeError('seconds must be positive and warmupSeconds not negative');
  if (!Number.isInteger(options.repeats) || options.repeats < 1)
    throw new RangeError(`repeats must be a positive integer, got ${options.repeats}`);
  const rows: ReplicationRow[] = [];
  for (const nodes of options.nodes) {
    if (!Number.isInteger(nodes) || nodes < 2) throw new RangeError(`nodes must be integers of at least 2, got ${nodes}`);
    for (const batch of options.batches) {
      if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`batches must be positive integers, got ${batch}`);
      const runs: { loop: number; raftkv: number }[] = [];
      let bestLoop: Measured | null = null;
      let bestRaftkv: RaftkvRun | null = null;
      const refusals: Record<string, number> = {};
      let leaderChanges = 0;
      for (let repeat = 0; repeat < options.repeats; repeat++) {
        const loop = await runLoop(resources, nodes, batch, options);
        const raftkv = await runRaftkv(resources, nodes, batch, options);
        runs.push({ loop: loop.perSecond, raftkv: raftkv.perSecond });
        if (bestLoop === null || loop.perSecond > bestLoop.perSecond) bestLoop = loop;
        if (bestRaftkv === null || raftkv.perSecond > bestRaftkv.perSecond) bestRaftkv = raftkv;
        for (const [code, count] of Object.entries(raftkv.refusals)) refusals[code] = (refusals[code] ?? 0) + count;
        leaderChanges += raftkv.leaderChanges;
        options.log(
          `  ${nodes} nodes, batch ${batch}${options.repeats > 1 ? `, run ${repeat + 1}` : ''}: loop ${formatRate(loop.perSecond)} entries/s, ` +
            `raftkv ${formatRate(raftkv.perSecond)} proposals/s (${(raftkv.perSecond / loop.perSecond).toFixed(2)}); ` +
            `leader CPU µs/entry: loop ${loop.leaderMicrosPerEntry.toFixed(2)}, raftkv ${raftkv.leaderMicrosPerEntry.toFixed(2)}`,
        );
      }
      const loop = bestLoop as Measured;
      const raftkv = bestRaftkv as RaftkvRun;
      rows.push({
        nodes,
        batch,
        loopPerSecond: loop.perSecond,
        raftkvPerSecond: raftkv.perSecond,
        ratio: raftkv.perSecond / loop.perSecond,
        loopCpuCores: loop.cpuCores,
        raftkvCpuCores: raftkv.cpuCores,
        loopCpuMicrosPerEntry: loop.cpuMicrosPerEntry,
        raftkvCpuMicrosPerEntry: raftkv.cpuMicrosPerEntry,
        loopLeaderMicrosPerEntry: loop.leaderMicrosPerEntry,
        raftkvLeaderMicrosPerEntry: raftkv.leaderMicrosPerEntry,
        refusals,
        leaderChanges,
        runs,
      });
    }
  }
  return rows;
}

export function printReplication(
  rows: readonly ReplicationRow[],
  options: Pick<ReplicationOptions, 'seconds' | 'repeats' | 'loopEncoding'>,
): void {
  printTable(
    `Committed entries/s, in memory, ${PROPOSERS} in flight, loop encoding ${options.loopEncoding ?? 'once'}, ${options.seconds} s windows${(options.repeats ?? 1) > 1 ? `, best of ${options.repeats}` : ''}; ` +
      `target: raftkv at least 0.5 of the loop`,
    [
      'nodes',
      'batch',
      'loop entries/s',
      'raftkv proposals/s',
      'raftkv/loop',
      'CPU µs/entry loop',
      'raftkv',
      'leader µs/entry loop',
      'raftkv',
      'notes',
    ],
    rows.map((r) => {
      const refused = Object.entries(r.refusals)
        .map(([code, count]) => `${code} ${count}`)
        .join(', ');
      const notes = [refused === '' ? '' : `refused: ${refused}`, r.leaderChanges > 0 ? `${r.leaderChanges} leader changes` : '']
        .filter((n) => n !== '')
        .join('; ');
      return [
        String(r.nodes),
        String(r.batch),
        formatRate(r.loopPerSecond),
        formatRate(r.raftkvPerSecond),
        r.ratio.toFixed(2),
        r.loopCpuMicrosPerEntry.toFixed(2),
        r.raftkvCpuMicrosPerEntry.toFixed(2),
        r.loopLeaderMicrosPerEntry.toFixed(2),
        r.raftkvLeaderMicrosPerEntry.toFixed(2),
        notes,
      ];
    }),
  );
}

// ---------------------------------------------------------------------------
// Run alone.

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      nodes: { type: 'string', default: '5' },
      batch: { type: 'string', default: '1,64' },
      seconds: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
      repeats: { type: 'string', default: '1' },
      'loop-encoding': { type: 'string', default: 'once' },
    },
  });
  const loopEncoding = values['loop-encoding'];
  if (loopEncoding !== 'once' && loopEncoding !== 'per-follower')
    throw new RangeError(`--loop-encoding takes once or per-follower, got ${loopEncoding}`);
  const options = {
    nodes: positiveIntegers('nodes', values.nodes),
    batches: positiveIntegers('batch', values.batch),
    seconds: positiveNumber('seconds', values.seconds),
    warmupSeconds: Number(values.warmup),
    repeats: positiveInteger('repeats', values.repeats),
    loopEncoding: loopEncoding as LoopEncoding,
    log: (line: string) => console.log(line),
  };
  console.log(
    `replication bench: ${describeMachine()}; load average ${formatLoadAverage()} (other work on the machine slows every figure)`,
  );
  const resources = new Resources();
  process.once('SIGINT', () => {
    void resources.releaseAll().finally(() => process.exit(130));
  });
  let rows: ReplicationRow[];
  try {
    rows = await runReplication(resources, options);
  } finally {
    await resources.releaseAll();
  }
  printReplication(rows, options);
  writeResults(fileURLToPath(new URL('../results/replication.json', import.meta.url)), {
    benchmark: 'replication',
    ...machineFields(),
    payloadBytes: ENTRY_PAYLOAD_BYTES,
    proposers: PROPOSERS,
    options: { ...options, log: undefined },
    loadAverageEnd: loadavg(),
    rows,
  });
}

if (isMainModule(import.meta.url)) await main();
