// Macro-benchmark of the pure Raft core: committed proposals per second through N in-memory RaftCore
// instances wired directly (no workers, no disk: persistence is immediate), for several batch sizes.
//
//   npx tsx bench/raft-core.bench.ts [--nodes 5] [--seconds 5] [--batch 1,16,64,256]
//                                    [--warmup-seconds 1] [--tick-ms 10] [--compact-entries 10000]
//                                    [--sim-seeds 300]
//
// Each round the leader gets `batch` proposals of 16 bytes in one propose() call; the cluster then runs
// until quiet (every message delivered, every Ready handled). Only entries the leader hands out in
// committedEntries during the measured window count as committed proposals.
//
// It then times the deterministic simulator over fixed seeds 1..N (schedules per minute): that rate is
// what bounds how much ground a CI run or a night of `npm run sim` covers. `--sim-seeds 0` skips it.
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { memorySnapshotSource, RaftCore, SeededRandom } from '../src/raft/index.js';
import type { Message, NodeId } from '../src/raft/index.js';
import { runSchedule } from '../test/sim/simulator.js';
import {
  describeMachine,
  formatRate,
  machineFields,
  positiveInteger,
  positiveIntegers,
  positiveNumber,
  printTable,
  writeResults,
} from './bench-util.js';

const PAYLOAD_BYTES = 16;
const SETTLE_ITERATIONS_MAX = 1_000_000;
const RESULTS_PATH = fileURLToPath(new URL('./results/raft-core.json', import.meta.url));

interface BenchOptions {
  readonly nodes: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly batches: readonly number[];
  readonly tickMs: number;
  readonly compactEntries: number;
  readonly seed: number;
  /** Simulator schedules to time, seeds 1..simSeeds; 0 skips the simulator. */
  readonly simSeeds: number;
}

interface Counters {
  /** Command entries the leader handed out as committed. */
  leaderCommitted: number;
  /** Entries of any kind handed out as committed, summed over all nodes. */
  appliedAllNodes: number;
  /** Messages delivered to a core. */
  messages: number;
  rounds: number;
  ticks: number;
  compactions: number;
}

interface BatchResult {
  readonly batch: number;
  readonly seconds: number;
  readonly rounds: number;
  readonly committedProposals: number;
  readonly proposalsPerSecond: number;
  readonly appliedEntriesPerSecond: number;
  readonly messagesPerSecond: number;
  readonly meanRoundMicros: number;
  readonly compactions: number;
}

interface SimulatorResult {
  readonly firstSeed: number;
  readonly schedules: number;
  readonly failed: number;
  readonly seconds: number;
  readonly schedulesPerMinute: number;
  readonly events: number;
  readonly eventsPerSecond: number;
}

function readOptions(): BenchOptions {
  const { values } = parseArgs({
    options: {
      nodes: { type: 'string', default: '5' },
      seconds: { type: 'string', default: '5' },
      'warmup-seconds': { type: 'string', default: '1' },
      batch: { type: 'string', default: '1,16,64,256' },
      'tick-ms': { type: 'string', default: '10' },
      'compact-entries': { type: 'string', default: '10000' },
      seed: { type: 'string', default: '1' },
      'sim-seeds': { type: 'string', default: '300' },
    },
  });
  return {
    nodes: positiveInteger('nodes', values.nodes),
    seconds: positiveNumber('seconds', values.seconds),
    warmupSeconds: Number(values['warmup-seconds']),
    batches: positiveIntegers('batch', values.batch),
    tickMs: positiveNumber('tick-ms', values['tick-ms']),
    compactEntries: positiveInteger('compact-entries', values['compact-entries']),
    seed: positiveInteger('seed', values.seed),
    simSeeds: values['sim-seeds'] === '0' ? 0 : positiveInteger('sim-seeds', values['sim-seeds']),
  };
}

/** N cores, a FIFO of messages in flight, immediate persistence, periodic compaction. */
class DirectCluster {
  readonly cores: RaftCore[];
  private readonly byId = new Map<NodeId, RaftCore>();
  private readonly appliedIndex: number[];
  private readonly appliedTerm: number[];
  private readonly compactedIndex: number[];
  private queue: Message[] = [];
  private queueHead = 0;
  readonly counters: Counters = { leaderCommitted: 0, appliedAllNodes: 0, messages: 0, rounds: 0, ticks: 0, compactions: 0 };

  constructor(
    size: number,
    seed: number,
    private readonly compactEntries: number,
  ) {
    const voters = Array.from({ length: size }, (_, i) => `n${i + 1}`);
    const random = new SeededRandom(seed);
    this.cores = voters.map(
      (id) =>
        new RaftCore(
          { id, random: random.fork() },
          {
            hardState: { term: 0, votedFor: null, commitIndex: 0 },
            snapshot: null,
            entries: [],
            initialMembership: { voters, learners: [] },
          },
        ),
    );
    for (const core of this.cores) this.byId.set(core.id, core);
    this.appliedIndex = voters.map(() => 0);
    this.appliedTerm = voters.map(() => 0);
    this.compactedIndex = voters.map(() => 0);
  }

  /** Ticks the first node until it campaigns, then runs the election to its end. */
  electFirst(): RaftCore {
    const first = this.cores[0] as RaftCore;
    for (let i = 0; i < 10 * first.options.electionTicks && first.status().role === 'follower'; i++) first.tick();
    this.settle(null);
    if (!first.isLeader) throw new Error(`n1 did not become leader: ${JSON.stringify(first.status())}`);
    return first;
  }

  tickAll(leader: RaftCore): void {
    for (const core of this.cores) core.tick();
    this.counters.ticks++;
    this.settle(leader);
  }

  /** Handles every Ready and delivers every message until nothing moves. */
  settle(leader: RaftCore | null): void {
    for (let iteration = 0; iteration < SETTLE_ITERATIONS_MAX; iteration++) {
      let moved = false;
      for (let i = 0; i < this.cores.length; i++) {
        const core = this.cores[i] as RaftCore;
        if (core.hasReady()) {
          this.handleReady(i, core, core === leader);
          moved = true;
        }
      }
      while (this.queueHead < this.queue.length) {
        const message = this.queue[this.queueHead++] as Message;
        (this.byId.get(message.to) as RaftCore).step(message);
        this.counters.messages++;
        moved = true;
      }
      this.queue.length = 0;
      this.queueHead = 0;
      if (!moved) return;
    }
    throw new Error('cluster did not settle');
  }

  private handleReady(i: number, core: RaftCore, isLeader: boolean): void {
    const ready = core.ready();
    for (const message of ready.messages) this.queue.push(message);
    const last = ready.entries[ready.entries.length - 1];
    if (last !== undefined) core.persisted({ index: last.index, term: last.term });
    else if (ready.snapshot !== null) core.persisted({ index: ready.snapshot.meta.index, term: ready.snapshot.meta.term });
    for (const message of ready.messagesAfterPersist) this.queue.push(message);
    const committed = ready.committedEntries;
    if (committed.length === 0) return;
    this.counters.appliedAllNodes += committed.length;
    if (isLeader) {
      for (const entry of committed) if (entry.type === 'command') this.counters.leaderCommitted++;
    }
    const newest = committed[committed.length - 1] as (typeof committed)[number];
    this.appliedIndex[i] = newest.index;
    this.appliedTerm[i] = newest.term;
    if (newest.index - (this.compactedIndex[i] as number) >= this.compactEntries) this.compact(i, core);
  }

  /** Keeps memory flat: drops the applied log behind an (empty) snapshot, as a real node would. */
  private compact(i: number, core: RaftCore): void {
    const meta = { index: this.appliedIndex[i] as number, term: this.appliedTerm[i] as number, membership: core.status().membership };
    core.compact(memorySnapshotSource({ meta, data: new Uint8Array(0) }));
    this.compactedIndex[i] = meta.index;
    this.counters.compactions++;
  }
}

/** Fresh 16-byte proposals, as a client would send them: the round and position, little-endian. */
function makePayloads(batch: number, round: number): Uint8Array[] {
  const payloads: Uint8Array[] = new Array<Uint8Array>(batch);
  for (let i = 0; i < batch; i++) {
    const data = new Uint8Array(PAYLOAD_BYTES);
    data[0] = round & 0xff;
    data[1] = (round >>> 8) & 0xff;
    data[2] = (round >>> 16) & 0xff;
    data[3] = round >>> 24;
    data[4] = i & 0xff;
    data[5] = (i >>> 8) & 0xff;
    payloads[i] = data;
  }
  return payloads;
}

/** Runs rounds for `seconds`; returns the counters accumulated over that window only. */
function runWindow(
  cluster: DirectCluster,
  leader: RaftCore,
  batch: number,
  seconds: number,
  tickMs: number,
): { counters: Counters; elapsedSeconds: number } {
  const before = { ...cluster.counters };
  const start = performance.now();
  const end = start + seconds * 1000;
  let nextTick = start + tickMs;
  let now = start;
  let round = 0;
  while (now < end) {
    const result = leader.propose(makePayloads(batch, round++));
    if (!result.ok) throw new Error(`proposal refused: ${result.reason}`);
    cluster.settle(leader);
    cluster.counters.rounds++;
    now = performance.now();
    if (now >= nextTick) {
      cluster.tickAll(leader);
      nextTick += tickMs * Math.max(1, Math.ceil((now - nextTick) / tickMs));
    }
    if (!leader.isLeader) throw new Error('leadership changed during the benchmark');
  }
  const elapsedSeconds = (performance.now() - start) / 1000;
  const after = cluster.counters;
  return {
    elapsedSeconds,
    counters: {
      leaderCommitted: after.leaderCommitted - before.leaderCommitted,
      appliedAllNodes: after.appliedAllNodes - before.appliedAllNodes,
      messages: after.messages - before.messages,
      rounds: after.rounds - before.rounds,
      ticks: after.ticks - before.ticks,
      compactions: after.compactions - before.compactions,
    },
  };
}

function runBatch(options: BenchOptions, batch: number): BatchResult {
  const cluster = new DirectCluster(options.nodes, options.seed, options.compactEntries);
  const leader = cluster.electFirst();
  if (options.warmupSeconds > 0) runWindow(cluster, leader, batch, options.warmupSeconds, options.tickMs);
  const { counters, elapsedSeconds } = runWindow(cluster, leader, batch, options.seconds, options.tickMs);
  // Honesty check: every proposal of the window committed on the leader (rounds run until quiet).
  if (counters.leaderCommitted !== counters.rounds * batch) {
    throw new Error(`committed ${counters.leaderCommitted} of ${counters.rounds * batch} proposals`);
  }
  return {
    batch,
    seconds: elapsedSeconds,
    rounds: counters.rounds,
    committedProposals: counters.leaderCommitted,
    proposalsPerSecond: counters.leaderCommitted / elapsedSeconds,
    appliedEntriesPerSecond: counters.appliedAllNodes / elapsedSeconds,
    messagesPerSecond: counters.messages / elapsedSeconds,
    meanRoundMicros: (elapsedSeconds * 1e6) / counters.rounds,
    compactions: counters.compactions,
  };
}

/** Runs the simulator over seeds 1..count, the same schedules every time, so runs compare like for like. */
function runSimulator(count: number): SimulatorResult {
  const firstSeed = 1;
  let failed = 0;
  let events = 0;
  const start = performance.now();
  for (let seed = firstSeed; seed < firstSeed + count; seed++) {
    const result = runSchedule(seed);
    events += result.stats.events;
    if (!result.ok) failed++;
  }
  const seconds = (performance.now() - start) / 1000;
  return {
    firstSeed,
    schedules: count,
    failed,
    seconds,
    schedulesPerMinute: (count / seconds) * 60,
    events,
    eventsPerSecond: events / seconds,
  };
}

function printResults(results: readonly BatchResult[]): void {
  printTable(
    'committed proposals through in-memory cores, one propose() of `batch` proposals per round',
    ['batch', 'proposals/s (leader)', 'applied entries/s (all)', 'messages/s', 'round µs'],
    results.map((r) => [
      String(r.batch),
      formatRate(r.proposalsPerSecond),
      formatRate(r.appliedEntriesPerSecond),
      formatRate(r.messagesPerSecond),
      r.meanRoundMicros.toFixed(1),
    ]),
  );
}

function main(): void {
  const options = readOptions();
  console.log(
    `raft-core bench: ${options.nodes} nodes, ${options.seconds}s per batch size (after ${options.warmupSeconds}s warm-up), ` +
      `${PAYLOAD_BYTES}-byte proposals, tick every ${options.tickMs} ms, compaction every ${options.compactEntries} entries, ${describeMachine()}`,
  );
  const results: BatchResult[] = [];
  for (const batch of options.batches) results.push(runBatch(options, batch));
  printResults(results);
  const simulator = options.simSeeds > 0 ? runSimulator(options.simSeeds) : null;
  if (simulator !== null) {
    console.log(
      `simulator: ${simulator.schedules} schedules (seeds ${simulator.firstSeed}..${simulator.firstSeed + simulator.schedules - 1}) in ` +
        `${simulator.seconds.toFixed(2)} s: ${formatRate(simulator.schedulesPerMinute)} schedules/min, ` +
        `${formatRate(simulator.eventsPerSecond)} events/s, ${simulator.failed} failed`,
    );
    // A failing seed is a bug, not a data point: replay it with `npm run sim -- --seed S`.
    if (simulator.failed > 0) process.exitCode = 1;
  }
  writeResults(RESULTS_PATH, { benchmark: 'raft-core', ...machineFields(), payloadBytes: PAYLOAD_BYTES, options, results, simulator });
}

main();
