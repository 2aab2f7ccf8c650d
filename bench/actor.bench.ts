// Macro-benchmark of the actor system (issue 4): how close the worker-thread cluster comes to the physical
// limit of its data plane, measured in the same run.
//
//   npx tsx bench/actor.bench.ts [--quick] [--only port,failover] [--repeats 2] [--proposers 64] [--kills 20]
//                                [--failover-client direct|supervisor]
//
//   1. port:     the raw limit: msgpack frames between two worker threads over a MessagePort, echoed
//                AppendRequest -> AppendResponse (1 message per postMessage, copied; 64, and 256 = PeerLink's
//                frame cap, per postMessage as one exact-size transferred frame), and raw ping-pong latency.
//                Plus one small append + fdatasync on the disk the on-disk cluster uses.
//   2. port:     the actor layer: the same echo through the real transport (PeerLink, FrameEncoder/Decoder)
//                inside a RaftNode-shaped shell (mailbox, setImmediate turn, flush); ratios actor/raw. And the
//                client call path alone: comlink propose() (the control plane) against a bare request/response.
//   (3. committed proposals/s through a worker cluster beside the minimal replication loop, measured in the
//       same run: bench/suites/replication.ts; on disk through the router: the service suite of bench/main.ts.)
//   4. failover: kill the leader of a 3-node on-disk cluster, time to the next acknowledged write; restart
//                the node, wait for convergence, again.
//
// Every figure is from this run on this machine; results go to bench/results/actor.json.
import * as fs from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { portEndpoint } from '../src/transport/comlink-endpoint.js';
import type { Supervisor } from '../src/actor/supervisor.js';
import type { ProposeOutcome } from '../src/protocol/node.js';
import type { NodeId } from '../src/raft/types.js';
import { FRAME_MESSAGES_MAX } from '../src/transport/codec.js';
import {
  commandsFor,
  ENTRY_PAYLOAD_BYTES,
  type DriverCommand,
  type FixtureReport,
  type FixtureStartup,
  type LatencyReport,
  type PairRole,
  type ThroughputReport,
} from './fixtures/port-bench-protocol.js';
import type { ControlApi, ControlMode, ControlStartup, RawProposeRequest, RawProposeResponse } from './fixtures/control.worker.js';
import {
  describeMachine,
  formatLoadAverage,
  formatRate,
  formatRatio,
  machineFields,
  nextMessage,
  positiveInteger,
  printTable,
  waitForLeader,
  writeResults,
} from './bench-util.js';
import { startSupervisor, waitConverged } from './lib/cluster.js';
import { diskDir, Resources } from './lib/resources.js';
import { distribution, type Distribution } from './lib/stats.js';
import { delay, withTimeout } from '../src/util/async.js';

const RESULTS_PATH = fileURLToPath(new URL('./results/actor.json', import.meta.url));
const TS_ENTRY = new URL('../workers/ts-entry.mjs', import.meta.url);
const FIXTURES = {
  raw: new URL('./fixtures/raw-port.worker.ts', import.meta.url).href,
  peerLink: new URL('./fixtures/peer-link.worker.ts', import.meta.url).href,
  control: new URL('./fixtures/control.worker.ts', import.meta.url).href,
} as const;
const FIXTURE_START_TIMEOUT_MS = 30_000;
const PORT_RUN_TIMEOUT_MS = 120_000;
const CONVERGE_TIMEOUT_MS = 30_000;
const FAILOVER_WRITE_TIMEOUT_MS = 30_000;
const FAILOVER_PROPOSE_TIMEOUT_MS = 2_000;
const POLL_MS = 2;
const FSYNC_SAMPLES_MAX = 2_000;

interface BenchOptions {
  readonly quick: boolean;
  readonly parts: ReadonlySet<'port' | 'failover'>;
  readonly portWarmupSeconds: number;
  readonly portSeconds: number;
  /** Each port measurement runs this many times, interleaved; the best run counts (other load on the machine only slows a run down). */
  readonly repeats: number;
  /** AppendRequests in flight between the two fixture workers. */
  readonly windowMessages: number;
  readonly framedMessagesPerPost: number;
  /** PeerLink's own frame cap: the raw run PeerLink's frames compare with like for like. */
  readonly largeFrameMessagesPerPost: number;
  readonly fsyncSeconds: number;
  /** Callers in flight on the client call path (part 2). */
  readonly proposers: number;
  readonly failoverNodes: number;
  readonly kills: number;
  readonly failoverClient: FailoverClient;
}

type FailoverClient = 'direct' | 'supervisor';

function readOptions(): BenchOptions {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string', default: 'port,failover' },
      kills: { type: 'string' },
      repeats: { type: 'string' },
      proposers: { type: 'string', default: '64' },
      'failover-client': { type: 'string', default: 'direct' },
    },
  });
  const quick = values.quick === true;
  const parts = new Set((values.only ?? '').split(',').map((part) => part.trim()));
  for (const part of parts) {
    if (part === 'cluster') throw new RangeError('the cluster part moved to bench/suites/replication.ts');
    if (part !== 'port' && part !== 'failover') throw new RangeError(`--only takes port, failover; got ${part}`);
  }
  const kills = values.kills === undefined ? (quick ? 5 : 20) : positiveInteger('kills', values.kills);
  const repeats = values.repeats === undefined ? (quick ? 1 : 2) : positiveInteger('repeats', values.repeats);
  const proposers = positiveInteger('proposers', values.proposers);
  const failoverClient = values['failover-client'];
  if (failoverClient !== 'direct' && failoverClient !== 'supervisor')
    throw new RangeError(`--failover-client takes direct or supervisor, got ${failoverClient}`);
  return {
    quick,
    parts: parts as Set<'port' | 'failover'>,
    portWarmupSeconds: quick ? 0.5 : 1,
    portSeconds: quick ? 1.5 : 3,
    repeats,
    windowMessages: 1024,
    framedMessagesPerPost: 64,
    largeFrameMessagesPerPost: FRAME_MESSAGES_MAX,
    fsyncSeconds: quick ? 0.5 : 1.5,
    proposers,
    failoverNodes: 3,
    kills,
    failoverClient,
  };
}

// ---------------------------------------------------------------------------
// Parts 1 and 2: a pair of fixture workers joined by one MessageChannel.

type FixtureKind = 'raw' | 'peerLink';

class WorkerPair {
  private constructor(
    private readonly resources: Resources,
    private readonly driver: Worker,
    private readonly echo: Worker,
  ) {}

  static async start(resources: Resources, kind: FixtureKind, transfer: boolean): Promise<WorkerPair> {
    const channel = new MessageChannel();
    const spawn = (role: PairRole, port: typeof channel.port1): Worker => {
      const startup: FixtureStartup = { __entry: FIXTURES[kind], role, port, transfer };
      return resources.worker(new Worker(TS_ENTRY, { workerData: startup, transferList: [port] }));
    };
    const driver = spawn('driver', channel.port1);
    const echo = spawn('echo', channel.port2);
    await Promise.all([driver, echo].map((worker) => withTimeout(nextReport(worker), FIXTURE_START_TIMEOUT_MS, `${kind} fixture start`)));
    return new WorkerPair(resources, driver, echo);
  }

  async run<R extends ThroughputReport | LatencyReport>(command: DriverCommand): Promise<R> {
    const answer = nextReport(this.driver);
    this.driver.postMessage(command);
    const report = await withTimeout(answer, PORT_RUN_TIMEOUT_MS, `${command.type} run`);
    if (report.type !== command.type) throw new Error(`asked for ${command.type}, got ${report.type}`);
    return report as R;
  }

  async close(): Promise<void> {
    await Promise.all([this.resources.endWorker(this.driver), this.resources.endWorker(this.echo)]);
  }
}

/** The next report of a fixture worker; its crash or early exit rejects. */
function nextReport(worker: Worker): Promise<FixtureReport> {
  return nextMessage<FixtureReport>(worker, 'fixture worker');
}

interface ThroughputResult {
  readonly name: string;
  readonly roundTripsPerSecond: number;
  /** Raft messages crossing the port per second, both directions (request and answer). */
  readonly messagesPerSecond: number;
  readonly messagesPerFrame: number;
  readonly seconds: number;
}

interface LatencyResult {
  readonly name: string;
  readonly micros: Distribution;
}

interface PortResults {
  readonly rawCopied1: ThroughputResult;
  readonly rawFramed64: ThroughputResult;
  readonly rawFramedLarge: ThroughputResult;
  readonly actor: ThroughputResult;
  readonly rawLatencyCopied: LatencyResult;
  readonly rawLatencyTransferred: LatencyResult;
  readonly actorLatency: LatencyResult;
  /** The best raw figures: the physical limits the other parts are compared with. */
  readonly rawMessagesPerSecondMax: number;
  readonly rawRoundTripMicrosP50: number;
  readonly rawRoundTripMicrosP99: number;
  readonly actorOverRawThroughput: number;
  readonly actorOverRawThroughputSameFraming: number;
  readonly actorOverRawLatencyP50: number;
  readonly actorOverRawLatencyP99: number;
  readonly controlComlink: ControlResult;
  readonly controlRaw: ControlResult;
  /** Every run of every measurement; the figures above are the best of each. */
  readonly runs: Readonly<Record<string, readonly (ThroughputResult | LatencyResult | ControlResult)[]>>;
}

interface ControlResult {
  readonly name: string;
  readonly callsPerSecond: number;
  /** Busy time of the main thread's event loop per call (it only runs the callers). */
  readonly clientMicrosPerCall: number;
  /** Busy time of the worker's event loop per call. */
  readonly workerMicrosPerCall: number;
}

async function measureThroughput(
  resources: Resources,
  options: BenchOptions,
  name: string,
  kind: FixtureKind,
  transfer: boolean,
  messagesPerPost: number,
): Promise<ThroughputResult> {
  const pair = await WorkerPair.start(resources, kind, transfer);
  try {
    const report = await pair.run<ThroughputReport>({
      type: 'throughput',
      warmupSeconds: options.portWarmupSeconds,
      seconds: options.portSeconds,
      windowMessages: options.windowMessages,
      messagesPerPost,
    });
    const roundTripsPerSecond = report.roundTrips / report.seconds;
    return {
      name,
      roundTripsPerSecond,
      messagesPerSecond: 2 * roundTripsPerSecond,
      messagesPerFrame: report.messagesSent / report.framesSent,
      seconds: report.seconds,
    };
  } finally {
    await pair.close();
  }
}

async function measureLatency(
  resources: Resources,
  options: BenchOptions,
  name: string,
  kind: FixtureKind,
  transfer: boolean,
): Promise<LatencyResult> {
  const pair = await WorkerPair.start(resources, kind, transfer);
  try {
    const report = await pair.run<LatencyReport>({
      type: 'latency',
      warmupSeconds: options.portWarmupSeconds,
      seconds: options.portSeconds,
    });
    return { name, micros: distribution(report.samplesMicros) };
  } finally {
    await pair.close();
  }
}

/** A client of the control fixture: propose(commands) through comlink, or through the bare numbered protocol. */
function controlClient(mode: ControlMode, port: MessagePort): (commands: Uint8Array[]) => Promise<unknown> {
  if (mode === 'comlink') {
    const remote = Comlink.wrap<ControlApi>(portEndpoint(port));
    return (commands) => remote.propose(commands);
  }
  const waiting = new Map<number, (outcome: unknown) => void>();
  let nextId = 1;
  port.on('message', (response: RawProposeResponse) => {
    const resolve = waiting.get(response.id);
    waiting.delete(response.id);
    resolve?.(response.outcome);
  });
  return (commands) =>
    new Promise((resolve) => {
      const request: RawProposeRequest = { id: nextId++, commands };
      waiting.set(request.id, resolve);
      port.postMessage(request);
    });
}

/** The client call path without Raft: `proposers` callers in the main thread, one worker answering. */
async function measureControl(resources: Resources, options: BenchOptions, mode: ControlMode): Promise<ControlResult> {
  const channel = new MessageChannel();
  const startup: ControlStartup = { __entry: FIXTURES.control, mode, port: channel.port1 };
  const worker = resources.worker(new Worker(TS_ENTRY, { workerData: startup, transferList: [channel.port1] }));
  try {
    await withTimeout(nextReport(worker), FIXTURE_START_TIMEOUT_MS, 'control fixture start');
    const propose = controlClient(mode, channel.port2);
    const window = { start: Number.POSITIVE_INFINITY, end: Number.POSITIVE_INFINITY, stopping: false };
    let calls = 0;
    const caller = async (id: number): Promise<void> => {
      for (let call = 0; !window.stopping; call++) {
        await propose(commandsFor(1, id, call));
        const now = performance.now();
        if (now >= window.start && now <= window.end) calls++;
      }
    };
    const running = Array.from({ length: options.proposers }, (_, id) => caller(id));
    await delay(options.portWarmupSeconds * 1000);
    window.start = performance.now();
    const clientBefore = performance.eventLoopUtilization();
    const workerBefore = worker.performance.eventLoopUtilization();
    await delay(options.portSeconds * 1000);
    window.end = performance.now();
    const client = performance.eventLoopUtilization(clientBefore);
    const served = worker.performance.eventLoopUtilization(workerBefore);
    window.stopping = true;
    await withTimeout(Promise.all(running), PORT_RUN_TIMEOUT_MS, 'control callers to finish');
    const seconds = (window.end - window.start) / 1000;
    return {
      name: mode === 'comlink' ? 'comlink propose() (as Supervisor/node-worker)' : 'bare numbered request/response',
      callsPerSecond: calls / seconds,
      clientMicrosPerCall: (client.active * 1000) / calls,
      workerMicrosPerCall: (served.active * 1000) / calls,
    };
  } finally {
    channel.port2.close();
    await resources.endWorker(worker);
  }
}

/** Runs every port measurement `repeats` times, interleaved, so load from elsewhere hits raw and actor alike. */
async function runPortParts(resources: Resources, options: BenchOptions): Promise<PortResults> {
  const perPost = options.framedMessagesPerPost;
  const runs = {
    rawCopied1: [] as ThroughputResult[],
    rawFramed64: [] as ThroughputResult[],
    rawFramedLarge: [] as ThroughputResult[],
    actor: [] as ThroughputResult[],
    rawLatencyCopied: [] as LatencyResult[],
    rawLatencyTransferred: [] as LatencyResult[],
    actorLatency: [] as LatencyResult[],
    controlComlink: [] as ControlResult[],
    controlRaw: [] as ControlResult[],
  };
  for (let repeat = 0; repeat < options.repeats; repeat++) {
    runs.rawCopied1.push(await measureThroughput(resources, options, 'raw, 1 msg/postMessage, copied', 'raw', false, 1));
    runs.rawFramed64.push(
      await measureThroughput(resources, options, `raw, ${perPost} msgs/postMessage, transferred frame`, 'raw', true, perPost),
    );
    const large = options.largeFrameMessagesPerPost;
    runs.rawFramedLarge.push(
      await measureThroughput(resources, options, `raw, ${large} msgs/postMessage, transferred frame`, 'raw', true, large),
    );
    runs.actor.push(await measureThroughput(resources, options, 'actor: PeerLink + mailbox turn', 'peerLink', true, 1));
    runs.rawLatencyCopied.push(await measureLatency(resources, options, 'raw ping-pong, copied', 'raw', false));
    runs.rawLatencyTransferred.push(await measureLatency(resources, options, 'raw ping-pong, transferred frame', 'raw', true));
    runs.actorLatency.push(await measureLatency(resources, options, 'actor ping-pong: PeerLink + mailbox turn', 'peerLink', true));
    runs.controlComlink.push(await measureControl(resources, options, 'comlink'));
    runs.controlRaw.push(await measureControl(resources, options, 'raw'));
  }
  const fastest = (list: ThroughputResult[]): ThroughputResult =>
    list.reduce((best, r) => (r.messagesPerSecond > best.messagesPerSecond ? r : best));
  const quickest = (list: LatencyResult[]): LatencyResult => list.reduce((best, r) => (r.micros.p50 < best.micros.p50 ? r : best));
  const rawCopied1 = fastest(runs.rawCopied1);
  const rawFramed64 = fastest(runs.rawFramed64);
  const rawFramedLarge = fastest(runs.rawFramedLarge);
  const actor = fastest(runs.actor);
  const rawLatencyCopied = quickest(runs.rawLatencyCopied);
  const rawLatencyTransferred = quickest(runs.rawLatencyTransferred);
  const actorLatency = quickest(runs.actorLatency);
  const busiest = (list: ControlResult[]): ControlResult => list.reduce((best, r) => (r.callsPerSecond > best.callsPerSecond ? r : best));
  const controlComlink = busiest(runs.controlComlink);
  const controlRaw = busiest(runs.controlRaw);
  const rawMessagesPerSecondMax = Math.max(rawCopied1.messagesPerSecond, rawFramed64.messagesPerSecond, rawFramedLarge.messagesPerSecond);
  const rawRoundTripMicrosP50 = Math.min(rawLatencyCopied.micros.p50, rawLatencyTransferred.micros.p50);
  const rawRoundTripMicrosP99 = Math.min(rawLatencyCopied.micros.p99, rawLatencyTransferred.micros.p99);
  const results: PortResults = {
    rawCopied1,
    rawFramed64,
    rawFramedLarge,
    actor,
    rawLatencyCopied,
    rawLatencyTransferred,
    actorLatency,
    rawMessagesPerSecondMax,
    rawRoundTripMicrosP50,
    rawRoundTripMicrosP99,
    actorOverRawThroughput: actor.messagesPerSecond / rawMessagesPerSecondMax,
    // PeerLink frames what one turn queues, up to FRAME_MESSAGES_MAX: its raw counterpart is the large-frame run.
    actorOverRawThroughputSameFraming: actor.messagesPerSecond / rawFramedLarge.messagesPerSecond,
    actorOverRawLatencyP50: actorLatency.micros.p50 / rawRoundTripMicrosP50,
    actorOverRawLatencyP99: actorLatency.micros.p99 / rawRoundTripMicrosP99,
    controlComlink,
    controlRaw,
    runs,
  };
  printPortResults(results, options);
  return results;
}

function printPortResults(results: PortResults, options: BenchOptions): void {
  const throughputRows = [results.rawCopied1, results.rawFramed64, results.rawFramedLarge, results.actor].map((r) => [
    r.name,
    formatRate(r.messagesPerSecond),
    formatRate(r.roundTripsPerSecond),
    r.messagesPerFrame.toFixed(1),
    formatRatio(r.messagesPerSecond / results.rawMessagesPerSecondMax),
  ]);
  printTable(
    `1-2. Data plane throughput: AppendRequest (one ${ENTRY_PAYLOAD_BYTES}-byte entry) echoed as AppendResponse, ${options.windowMessages} in flight, ` +
      `${options.portSeconds} s, best of ${options.repeats}`,
    ['path', 'Raft msgs/s (both ways)', 'round trips/s', 'msgs/frame', 'x raw max'],
    throughputRows,
  );
  const latencyRows = [results.rawLatencyCopied, results.rawLatencyTransferred, results.actorLatency].map((r) => [
    r.name,
    r.micros.p50.toFixed(1),
    r.micros.p99.toFixed(1),
    r.micros.mean.toFixed(1),
    formatRate(r.micros.count),
    formatRatio(r.micros.p50 / results.rawRoundTripMicrosP50),
  ]);
  printTable(
    `1-2. Worker-to-worker round trip (one message each way, one in flight), ${options.portSeconds} s, best p50 of ${options.repeats}`,
    ['path', 'p50 µs', 'p99 µs', 'mean µs', 'samples', 'x raw p50'],
    latencyRows,
  );
  console.log(
    `actor/raw: throughput ${formatRatio(results.actorOverRawThroughput)} of the raw max ` +
      `(${formatRatio(results.actorOverRawThroughputSameFraming)} of raw with the same ${options.largeFrameMessagesPerPost}-message frames); ` +
      `latency p50 ${formatRatio(results.actorOverRawLatencyP50)}x, p99 ${formatRatio(results.actorOverRawLatencyP99)}x the raw round trip`,
  );
  printTable(
    `2. Client call path: ${options.proposers} callers in the main thread, propose([one ${ENTRY_PAYLOAD_BYTES}-byte command]) answered at once by one worker, best of ${options.repeats}`,
    ['path', 'calls/s', 'main thread µs/call', 'worker µs/call'],
    [results.controlComlink, results.controlRaw].map((r) => [
      r.name,
      formatRate(r.callsPerSecond),
      r.clientMicrosPerCall.toFixed(1),
      r.workerMicrosPerCall.toFixed(1),
    ]),
  );
}

// ---------------------------------------------------------------------------
// The disk's own limit: one small append + fdatasync, as the WAL's group commit does.

interface FsyncResult {
  readonly dir: string;
  readonly fsType: string;
  readonly micros: Distribution;
  readonly syncsPerSecond: number;
}

function measureFsync(resources: Resources, options: BenchOptions): FsyncResult {
  const { dir, fsType } = diskDir(resources, 'raftkv-bench-fsync-');
  const record = new Uint8Array(64).fill(7);
  const samples: number[] = [];
  const fd = fs.openSync(join(dir, 'probe'), 'w');
  try {
    let position = 0;
    const end = performance.now() + options.fsyncSeconds * 1000;
    while (performance.now() < end && samples.length < FSYNC_SAMPLES_MAX) {
      const start = performance.now();
      fs.writeSync(fd, record, 0, record.length, position);
      fs.fdatasyncSync(fd);
      samples.push((performance.now() - start) * 1000);
      position += record.length;
    }
  } finally {
    fs.closeSync(fd);
    resources.removeDir(dir);
  }
  const micros = distribution(samples);
  const result = { dir, fsType, micros, syncsPerSecond: 1e6 / micros.mean };
  printTable(
    `1. Disk limit: 64-byte append + fdatasync, one at a time (${tmpdir()}, statfs type ${fsType})`,
    ['path', 'p50 µs', 'p99 µs', 'max µs', 'syncs/s'],
    [['fdatasync', micros.p50.toFixed(0), micros.p99.toFixed(0), micros.max.toFixed(0), formatRate(result.syncsPerSecond)]],
  );
  return result;
}

// ---------------------------------------------------------------------------
// Part 4: failover.

interface FailoverSample {
  /** From calling supervisor.kill(leader) to the acknowledgement of the first write after it. */
  readonly writeMillis: number;
  /** From calling kill to the supervisor hearing of the new leader. */
  readonly electedMillis: number;
  /** How long supervisor.kill() itself took (worker.terminate). */
  readonly killMillis: number;
  readonly attempts: number;
  readonly oldLeader: NodeId;
  readonly newLeader: NodeId;
}

interface FailoverResult {
  readonly nodes: number;
  readonly kills: number;
  readonly client: FailoverClient;
  readonly writeMillis: Distribution;
  readonly electedMillis: Distribution;
  readonly killMillis: Distribution;
  readonly restartMillis: Distribution;
  readonly convergeMillis: Distribution;
  readonly samples: readonly FailoverSample[];
}

/**
 * Kills the leader, then proposes until a write is acknowledged. `direct`: through whoever the supervisor
 * reports as leader, polling every POLL_MS; `supervisor`: through supervisor.propose(), which waits on leader events.
 */
async function killAndWrite(supervisor: Supervisor, kill: number, client: FailoverClient): Promise<FailoverSample> {
  const oldLeader = await waitForLeader(supervisor, CONVERGE_TIMEOUT_MS);
  let electedAt = Number.NaN;
  const onLeader = (id: NodeId | null): void => {
    if (id !== null && id !== oldLeader && Number.isNaN(electedAt)) electedAt = performance.now();
  };
  supervisor.on('leader', onLeader);
  const command = [new TextEncoder().encode(`failover-${kill}`)];
  let attempts = 0;
  const proposeDirect = async (): Promise<ProposeOutcome | null> => {
    const leader = supervisor.leaderId;
    const control = leader === null || leader === oldLeader ? null : supervisor.control(leader);
    if (control === null) {
      await delay(POLL_MS);
      return null;
    }
    attempts++;
    return withTimeout<ProposeOutcome>(control.propose(command), FAILOVER_PROPOSE_TIMEOUT_MS, 'failover proposal').catch(() => null);
  };
  try {
    const start = performance.now();
    await supervisor.kill(oldLeader);
    const killedAt = performance.now();
    for (;;) {
      if (performance.now() - start > FAILOVER_WRITE_TIMEOUT_MS)
        throw new Error(`no write acknowledged ${FAILOVER_WRITE_TIMEOUT_MS} ms after killing ${oldLeader}`);
      if (client === 'supervisor') attempts++;
      const outcome =
        client === 'direct' ? await proposeDirect() : await supervisor.propose(command, { timeoutMs: FAILOVER_PROPOSE_TIMEOUT_MS });
      if (outcome?.ok === true) {
        const end = performance.now();
        return {
          writeMillis: end - start,
          electedMillis: electedAt - start,
          killMillis: killedAt - start,
          attempts,
          oldLeader,
          newLeader: supervisor.leaderId ?? '?',
        };
      }
      if (outcome !== null) await delay(POLL_MS);
    }
  } finally {
    supervisor.off('leader', onLeader);
  }
}

/** `options.kills` times: kill the leader, time the next acknowledged write, restart the node, wait for convergence. */
async function killRestartConverge(
  supervisor: Supervisor,
  options: BenchOptions,
  out: { samples: FailoverSample[]; restartMillis: number[]; convergeMillis: number[] },
): Promise<void> {
  for (let kill = 0; kill < options.kills; kill++) {
    const sample = await killAndWrite(supervisor, kill, options.failoverClient);
    out.samples.push(sample);
    const restartStart = performance.now();
    await supervisor.restart(sample.oldLeader);
    out.restartMillis.push(performance.now() - restartStart);
    out.convergeMillis.push(await waitConverged(supervisor, { timeoutMs: CONVERGE_TIMEOUT_MS }));
    console.log(
      `  kill ${String(kill + 1).padStart(2)}: ${sample.oldLeader} -> ${sample.newLeader}: write after ${sample.writeMillis.toFixed(0)} ms ` +
        `(elected after ${sample.electedMillis.toFixed(0)} ms, kill took ${sample.killMillis.toFixed(0)} ms, ${sample.attempts} attempt${sample.attempts === 1 ? '' : 's'})`,
    );
  }
}

async function runFailover(resources: Resources, options: BenchOptions): Promise<FailoverResult> {
  const { dir: dataDir } = diskDir(resources, 'raftkv-bench-failover-');
  const samples: FailoverSample[] = [];
  const restartMillis: number[] = [];
  const convergeMillis: number[] = [];
  try {
    const supervisor = resources.supervisor(
      await startSupervisor({ nodes: options.failoverNodes, dataDir, durable: true, stateMachine: 'counter' }),
    );
    try {
      await waitConverged(supervisor, { timeoutMs: CONVERGE_TIMEOUT_MS });
      await killRestartConverge(supervisor, options, { samples, restartMillis, convergeMillis });
    } finally {
      await resources.endSupervisor(supervisor);
    }
  } finally {
    resources.removeDir(dataDir);
  }
  const result: FailoverResult = {
    nodes: options.failoverNodes,
    kills: samples.length,
    client: options.failoverClient,
    writeMillis: distribution(samples.map((s) => s.writeMillis)),
    electedMillis: distribution(samples.map((s) => s.electedMillis)),
    killMillis: distribution(samples.map((s) => s.killMillis)),
    restartMillis: distribution(restartMillis),
    convergeMillis: distribution(convergeMillis),
    samples,
  };
  const row = (name: string, d: Distribution): string[] => [name, d.p50.toFixed(0), d.p99.toFixed(0), d.max.toFixed(0), d.mean.toFixed(0)];
  printTable(
    `4. Failover: ${result.kills} leader kills in a ${options.failoverNodes}-node on-disk cluster (election timeout 150-300 ms), ` +
      `writes ${options.failoverClient === 'direct' ? 'straight to the reported leader' : 'through supervisor.propose()'}` +
      `${result.kills < 100 ? '; p99 of fewer than 100 samples is the max' : ''}`,
    ['from supervisor.kill(leader) to', 'median ms', 'p99 ms', 'max ms', 'mean ms'],
    [
      row('next acknowledged write', result.writeMillis),
      row('new leader known', result.electedMillis),
      row('kill returned', result.killMillis),
    ],
  );
  console.log(
    `  restart of the killed node: median ${result.restartMillis.p50.toFixed(0)} ms; convergence after it: median ${result.convergeMillis.p50.toFixed(0)} ms`,
  );
  return result;
}

// ---------------------------------------------------------------------------

async function main(): Promise<void> {
  const options = readOptions();
  const started = performance.now();
  console.log(
    `actor bench${options.quick ? ' (--quick)' : ''}: ${describeMachine()}, ` +
      `parts ${[...options.parts].join(', ')}; load average ${formatLoadAverage()} (other work on the machine slows every figure)`,
  );
  const loadAverageStart = loadavg();
  const resources = new Resources();
  // Ctrl-C: workers die with the process, but the temp folders would stay behind.
  process.once('SIGINT', () => {
    void resources.releaseAll().finally(() => process.exit(130));
  });
  let port: PortResults | null = null;
  let fsync: FsyncResult | null = null;
  let failover: FailoverResult | null = null;
  try {
    if (options.parts.has('port')) {
      port = await runPortParts(resources, options);
      fsync = measureFsync(resources, options);
    }
    if (options.parts.has('failover')) failover = await runFailover(resources, options);
  } finally {
    await resources.releaseAll();
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(`\ntotal ${seconds.toFixed(1)} s; load average ${formatLoadAverage()}`);
  writeResults(RESULTS_PATH, {
    benchmark: 'actor',
    ...machineFields(),
    payloadBytes: ENTRY_PAYLOAD_BYTES,
    options: { ...options, parts: [...options.parts] },
    totalSeconds: seconds,
    loadAverageStart,
    loadAverageEnd: loadavg(),
    port,
    fsync,
    failover,
  });
}

await main();
