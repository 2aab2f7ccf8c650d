// `npm run bench`: raftkv's throughput and latency through its front doors, beside the peers a user would
// otherwise pick, measured in the same run on the same machine, with ratios.
//
//   npm run bench -- [--quick | --full | --tcp] [--compare etcd,redis]
//                    [--suites service,replication,failover,recovery,membership]
//                    [--workload write,read,mix] [--nodes 1,3,5] [--value 16,256,4096] [--storage disk,memory]
//                    [--clients 1,16,64,256] [--api http,resp,resp-p16] [--hosting threads,processes]
//                    [--rounds 1] [--seconds 3] [--warmup 1] [--kills 20] [--out FILE] [--baseline FILE]
//
// --tcp: the write cell (5 nodes, HTTP, disk, 64 clients) on worker threads, on one process per node (TCP on
// loopback) and on etcd, interleaved for 3 rounds, then the membership suite on both hostings.
//
// See docs/BENCHMARKS.md for what each figure means and the results on this project's machine.
import { Progress } from '../src/util/progress.js';
import * as fs from 'node:fs';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { LATENCY_RECORDER, type LatencySummary } from './load/harness.js';
import type { BareHttpMessage } from './fixtures/bare-http.js';
import { runLoad, type LoadResult, type LoadSpec, type ServerSample } from './lib/load-run.js';
import { startCluster, waitQuiet } from './lib/cluster.js';
import { diskDir, forkScript, Resources, type Cluster, type Hosting, type Storage } from './lib/resources.js';
import { EtcdCluster, ETCD_INSTALL_HINT, findEtcd } from './peers/etcd.js';
import {
  findRedisTools,
  redisBenchmark,
  REDIS_BENCHMARK_PROBE_REQUESTS,
  REDIS_INSTALL_HINT,
  requestsFor,
  startRedisServer,
  stopRedisServer,
  type RedisBenchmarkRun,
  type RedisServer,
  type RedisTools,
} from './peers/redis.js';
import { runFailover, type FailoverSeries } from './suites/failover.js';
import { MEMBERSHIP_STALL_LIMIT, runMembership, type MembershipRun } from './suites/membership.js';
import { runRecovery, type RecoveryResult } from './suites/recovery.js';
import { runReplication, type ReplicationRow } from './suites/replication.js';
import {
  describeMachine,
  formatFigure,
  formatLoadAverage,
  formatMillis,
  formatRate,
  formatRatio,
  isMainModule,
  machineFields,
  printTable,
  writeResults,
} from './bench-util.js';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
const BARE_HTTP_SCRIPT = fileURLToPath(new URL('./fixtures/bare-http.ts', import.meta.url));
const BARE_HTTP_START_TIMEOUT_MS = 30_000;
const ETCD_CATCH_UP_TIMEOUT_MS = 30_000;
/** Distinct keys the load writes and reads, in turn; runs that read write each once first. */
const KEY_SPACE = 10_000;
const PIPELINE_DEPTH = 16;
/** redis-benchmark's clients, as the issue's Redis figures use. */
const REDIS_BENCHMARK_CLIENTS = 50;
const REDIS_BENCHMARK_VALUE_BYTES = 256;

// ---------------------------------------------------------------------------
// The plan: which cells run.

type Workload = 'write' | 'read' | 'mix';
type Api = 'http' | 'resp' | 'resp-p16';
type Peer = 'etcd' | 'redis';
type Suite = 'service' | 'replication' | 'failover' | 'recovery' | 'membership';

const WORKLOADS: readonly Workload[] = ['write', 'read', 'mix'];
const APIS: readonly Api[] = ['http', 'resp', 'resp-p16'];
const STORAGES: readonly Storage[] = ['disk', 'memory'];
const SUITES: readonly Suite[] = ['service', 'replication', 'failover', 'recovery', 'membership'];
const HOSTINGS: readonly Hosting[] = ['threads', 'processes'];
/** --tcp: interleaved rounds of threads, processes and etcd. */
const TCP_ROUNDS = 3;
/** Share of reads: a 90/10 mix is 90% linearizable reads, 10% writes. */
const READ_RATIO: Readonly<Record<Workload, number>> = { write: 0, read: 1, mix: 0.9 };

interface Cell {
  readonly workload: Workload;
  readonly api: Api;
  readonly nodes: number;
  readonly storage: Storage;
  readonly valueBytes: number;
  readonly clients: number;
  /**
   * Where the nodes run: worker threads (MessagePorts) or a process each (TCP on loopback). Rows of runs before
   * this axis existed have none: they are threads.
   */
  readonly hosting: Hosting;
}

interface Axes {
  readonly workload: readonly Workload[];
  readonly api: readonly Api[];
  readonly nodes: readonly number[];
  readonly storage: readonly Storage[];
  readonly value: readonly number[];
  readonly clients: readonly number[];
  readonly hosting: readonly Hosting[];
}

const FULL_AXES: Axes = {
  workload: WORKLOADS,
  api: APIS,
  nodes: [1, 3, 5],
  storage: STORAGES,
  value: [16, 256, 4096],
  clients: [1, 16, 64, 256],
  hosting: ['threads'],
};
/** What an axis not named on the command line is held at when others are. */
const SINGLE_AXES: Axes = {
  workload: ['write'],
  api: ['http'],
  nodes: [3],
  storage: ['disk'],
  value: [256],
  clients: [64],
  hosting: ['threads'],
};

function cell(
  workload: Workload,
  api: Api,
  nodes: number,
  clients = 64,
  storage: Storage = 'disk',
  valueBytes = 256,
  hosting: Hosting = 'threads',
): Cell {
  return { workload, api, nodes, storage, valueBytes, clients, hosting };
}

/** --tcp: issue 16's cell, the 5-node HTTP write cell on disk, on threads and on processes (etcd beside it). */
function tcpPlan(): Cell[] {
  return HOSTINGS.map((hosting) => cell('write', 'http', 5, 64, 'disk', 256, hosting));
}

/** The default: every axis of the issue touched once around 3 nodes on disk, 256 B, 64 clients; a few minutes. */
function defaultPlan(): Cell[] {
  return [
    ...WORKLOADS.map((w) => cell(w, 'http', 3)),
    cell('write', 'http', 3, 1),
    cell('write', 'http', 3, 16),
    cell('write', 'http', 3, 256),
    cell('write', 'http', 1),
    cell('write', 'http', 5),
    cell('write', 'http', 3, 64, 'disk', 16),
    cell('write', 'http', 3, 64, 'disk', 4096),
    cell('write', 'http', 3, 64, 'memory'),
    cell('write', 'http', 5, 64, 'memory'),
    ...WORKLOADS.map((w) => cell(w, 'resp', 3)),
    cell('write', 'resp-p16', 3),
    cell('read', 'resp-p16', 3),
  ];
}

/** With --compare: the cells each peer runs too. */
function comparePlan(peers: readonly Peer[]): Cell[] {
  const cells: Cell[] = [];
  if (peers.includes('etcd')) {
    for (const nodes of [3, 5]) cells.push(...WORKLOADS.map((w) => cell(w, 'http', nodes)));
    cells.push(cell('write', 'http', 3, 1));
  }
  if (peers.includes('redis')) {
    for (const api of ['resp', 'resp-p16'] as const) cells.push(...WORKLOADS.map((w) => cell(w, api, 3, REDIS_BENCHMARK_CLIENTS)));
  }
  return cells;
}

function product(axes: Axes): Cell[] {
  const cells: Cell[] = [];
  for (const hosting of axes.hosting)
    for (const nodes of axes.nodes)
      for (const storage of axes.storage)
        for (const valueBytes of axes.value) {
          for (const api of axes.api)
            for (const workload of axes.workload)
              for (const clients of axes.clients) cells.push({ workload, api, nodes, storage, valueBytes, clients, hosting });
        }
  return cells;
}

interface Options {
  readonly cells: readonly Cell[];
  readonly peers: readonly Peer[];
  readonly suites: readonly Suite[];
  /** The service cells run this many times over, each round every cluster in turn (interleaved). */
  readonly rounds: number;
  /** The hostings the membership suite runs on. */
  readonly hostings: readonly Hosting[];
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly kills: number;
  readonly out: string | null;
  readonly baseline: string | null;
  readonly quick: boolean;
}

const USAGE = `usage: npm run bench -- [--quick | --full | --tcp] [--compare etcd,redis] [--suites ${SUITES.join(',')}]
  [--workload write,read,mix] [--nodes 1,3,5] [--value 16,256,4096] [--storage disk,memory] [--clients 1,16,64,256]
  [--api http,resp,resp-p16] [--hosting threads,processes] [--rounds 1] [--seconds 3] [--warmup 1] [--kills 20]
  [--out FILE] [--baseline FILE]
  --tcp: the 5-node HTTP write cell on threads, processes (TCP) and etcd, ${TCP_ROUNDS} interleaved rounds, and the
  membership suite on both (the same as --hosting threads,processes --nodes 5 --compare etcd
  --suites service,membership --rounds ${TCP_ROUNDS})`;

/** A command line the bench refuses: main prints it with the usage and exits 2. */
export class BenchUsageError extends Error {}

function fail(message: string): never {
  throw new BenchUsageError(message);
}

function listOf<T extends string>(name: string, raw: string, allowed: readonly T[]): T[] {
  const items = raw.split(',').map((part) => part.trim());
  for (const item of items) if (!(allowed as readonly string[]).includes(item)) fail(`--${name} takes ${allowed.join(', ')}; got ${item}`);
  return items as T[];
}

function numbersOf(name: string, raw: string, min: number, max: number): number[] {
  const items = raw.split(',').map((part) => Number(part.trim()));
  for (const item of items)
    if (!Number.isInteger(item) || item < min || item > max) fail(`--${name} takes integers from ${min} to ${max}; got ${raw}`);
  return items;
}

/** The options of a command line (`--help`: the usage instead); throws BenchUsageError for a bad one. */
export function readOptions(argv: readonly string[]): Options | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        quick: { type: 'boolean', default: false },
        full: { type: 'boolean', default: false },
        tcp: { type: 'boolean', default: false },
        hosting: { type: 'string' },
        rounds: { type: 'string' },
        compare: { type: 'string' },
        suites: { type: 'string' },
        workload: { type: 'string' },
        nodes: { type: 'string' },
        value: { type: 'string' },
        storage: { type: 'string' },
        clients: { type: 'string' },
        api: { type: 'string' },
        seconds: { type: 'string' },
        warmup: { type: 'string' },
        kills: { type: 'string' },
        out: { type: 'string' },
        baseline: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    fail((error as Error).message);
  }
  const v = parsed.values;
  if (v.help === true) return 'help';
  const quick = v.quick === true;
  const tcp = v.tcp === true;
  if (tcp && (v.quick === true || v.full === true)) fail('--tcp is a preset of its own: not with --quick or --full');
  const peers = v.compare === undefined ? (tcp ? ['etcd' as const] : []) : listOf<Peer>('compare', v.compare, ['etcd', 'redis']);
  const rounds = v.rounds === undefined ? (tcp ? TCP_ROUNDS : 1) : (numbersOf('rounds', v.rounds, 1, 100)[0] as number);
  const hostings = v.hosting === undefined ? null : listOf('hosting', v.hosting, HOSTINGS);
  const seconds = Number(v.seconds ?? (quick ? 2 : 3));
  if (!(seconds > 0)) fail(`--seconds must be positive, got ${v.seconds}`);
  const warmupSeconds = Number(v.warmup ?? 1);
  if (!(warmupSeconds >= 0)) fail(`--warmup must not be negative, got ${v.warmup}`);
  const kills = v.kills === undefined ? (quick ? 5 : 20) : (numbersOf('kills', v.kills, 1, 1000)[0] as number);
  const named: Partial<Axes> = {
    ...(v.workload === undefined ? {} : { workload: listOf('workload', v.workload, WORKLOADS) }),
    ...(v.api === undefined ? {} : { api: listOf('api', v.api, APIS) }),
    ...(v.nodes === undefined ? {} : { nodes: numbersOf('nodes', v.nodes, 1, 9) }),
    ...(v.storage === undefined ? {} : { storage: listOf('storage', v.storage, STORAGES) }),
    ...(v.value === undefined ? {} : { value: numbersOf('value', v.value, 1, 1024 * 1024) }),
    ...(v.clients === undefined ? {} : { clients: numbersOf('clients', v.clients, 1, 1024) }),
    ...(hostings === null ? {} : { hosting: hostings }),
  };
  let cells: Cell[];
  if (v.full === true) cells = product({ ...FULL_AXES, ...named });
  else if (tcp) cells = Object.keys(named).length > 0 ? product({ ...SINGLE_AXES, nodes: [5], hosting: HOSTINGS, ...named }) : tcpPlan();
  else if (Object.keys(named).length > 0) cells = product({ ...SINGLE_AXES, ...named });
  else if (peers.length > 0) cells = comparePlan(peers);
  else if (quick) cells = [cell('write', 'http', 3), cell('read', 'http', 3), cell('write', 'resp', 3), cell('write', 'resp-p16', 3)];
  else cells = defaultPlan();
  const defaultSuites: Suite[] = tcp ? ['service', 'membership'] : ['service', 'replication', 'failover'];
  const suites = v.suites === undefined ? defaultSuites : listOf<Suite>('suites', v.suites, SUITES);
  return {
    cells,
    peers,
    suites,
    rounds,
    hostings: hostings ?? HOSTINGS,
    seconds,
    warmupSeconds,
    kills,
    out: v.out ?? null,
    baseline: v.baseline ?? null,
    quick,
  };
}

// ---------------------------------------------------------------------------
// Results.

type System = 'raftkv' | 'etcd' | 'redis-server' | 'bare-http';

interface Row extends Cell {
  readonly system: System;
  /** Which of --rounds this row is from, from 0 (rows of runs before rounds existed have none: 0). */
  readonly round: number;
  readonly opsPerSecond: number;
  readonly readsPerSecond: number;
  readonly writesPerSecond: number;
  readonly latency: LatencySummary;
  readonly errors: Readonly<Record<string, number>>;
  readonly abandoned: number;
  /** raftkv's own process (router and node workers); null for another server. */
  readonly server: ServerSample | null;
  readonly clientCpuCores: number;
  readonly otherCores: number;
  readonly histogramBase64: string;
}

interface RedisBenchmarkPair {
  readonly pipeline: number;
  readonly raftkv: RedisBenchmarkRun;
  readonly redisServer: RedisBenchmarkRun;
  readonly ratio: number;
}

interface Results {
  rows: Row[];
  redisBenchmark: RedisBenchmarkPair[];
  replication: ReplicationRow[];
  failover: FailoverSeries[];
  recovery: RecoveryResult[];
  membership: MembershipRun[];
}

function rowOf(system: System, c: Cell, result: LoadResult, round = 0): Row {
  const r = result.report;
  return {
    ...c,
    system,
    round,
    opsPerSecond: result.opsPerSecond,
    readsPerSecond: r.reads / r.seconds,
    writesPerSecond: r.writes / r.seconds,
    latency: r.latency,
    errors: r.errors,
    abandoned: r.abandoned,
    server: result.window.server,
    clientCpuCores: r.clientCpuCores,
    otherCores: result.otherCores,
    histogramBase64: r.histogramBase64,
  };
}

function errorCount(row: Row): number {
  return Object.values(row.errors).reduce((sum, n) => sum + n, 0) + row.abandoned;
}

/** A cell's id in the JSON and for --baseline: a thread cell's has no hosting, as before the axis existed. */
function describe(c: Cell): string {
  return `${c.workload} ${c.api} ${c.nodes}n ${c.storage} ${c.valueBytes}B ${c.clients}c${hostingOf(c) === 'processes' ? ' tcp' : ''}`;
}

function hostingOf(c: Cell): Hosting {
  return (c.hosting as Hosting | undefined) ?? 'threads';
}

function printRow(row: Row): void {
  const errors = errorCount(row);
  const elections = row.server?.elections ?? 0;
  console.log(
    `  ${row.system.padEnd(12)} ${(row.system === 'raftkv' || row.system === 'etcd' ? describe(row) : describe(row).replace(/ \d+n /, ' 1 server ')).padEnd(34)} ${formatRate(row.opsPerSecond).padStart(8)} ops/s  ` +
      `p50 ${formatMillis(row.latency.p50Millis)}  p99 ${formatMillis(row.latency.p99Millis)}  p999 ${formatMillis(row.latency.p999Millis)} ms` +
      `${
        errors > 0
          ? `  errors: ${Object.entries(row.errors)
              .map(([code, n]) => `${n} ${code}`)
              .join(', ')}${row.abandoned > 0 ? `, ${row.abandoned} unanswered` : ''}`
          : ''
      }` +
      `${elections > 0 ? `  (${elections} leader election${elections === 1 ? '' : 's'} during the run)` : ''}`,
  );
}

// ---------------------------------------------------------------------------
// Running the service cells.

function specFor(c: Cell, options: Options, protocol: LoadSpec['protocol'], port: number): LoadSpec {
  return {
    protocol,
    port,
    connections: c.clients,
    pipeline: c.api === 'resp-p16' ? PIPELINE_DEPTH : 1,
    readRatio: READ_RATIO[c.workload],
    valueBytes: c.valueBytes,
    keySpace: KEY_SPACE,
    warmupSeconds: options.warmupSeconds,
    seconds: options.seconds,
  };
}

/** The peers a cell is compared with in this run. */
function peersOf(c: Cell, options: Options): Peer[] {
  const peers: Peer[] = [];
  // Each peer runs once per cell and round, beside the thread cluster; the process cluster's row is compared to it.
  if (hostingOf(c) === 'processes' && options.cells.some((other) => hostingOf(other) === 'threads' && sameCell(other, c))) return peers;
  if (options.peers.includes('etcd') && c.api === 'http' && c.storage === 'disk') peers.push('etcd');
  if (options.peers.includes('redis') && c.api !== 'http' && c.storage === 'disk') peers.push('redis');
  return peers;
}

interface Peers {
  readonly etcdBinary: string | null;
  readonly redis: RedisTools;
  redisServer: RedisServer | null;
}

/** The run's steps as the progress line counts them: each service cell, each other suite. */
class Steps {
  private done = 0;
  constructor(readonly progress: Progress) {}
  begin(what: string): void {
    this.progress.update(this.done, what);
  }
  end(): void {
    this.progress.update(++this.done);
  }
}

async function runServiceSuite(resources: Resources, options: Options, peers: Peers, results: Results, steps: Steps): Promise<void> {
  // One raftkv cluster (and one etcd cluster, when compared) per node count and storage; each cell runs against
  // raftkv and then at once against its peers, so the disk's drifting fsync speed hits both alike.
  // With --rounds, every cluster in turn per round (a fresh start each time), and the order of the clusters
  // turned round every other round, so a drift of the machine hits each alike.
  const groups = new Map<string, Cell[]>();
  for (const c of options.cells) {
    const key = `${c.nodes} ${c.storage} ${hostingOf(c)}`;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  for (let round = 0; round < options.rounds; round++) {
    const order = round % 2 === 0 ? [...groups.values()] : [...groups.values()].reverse();
    for (const cells of order) await runServiceGroup(resources, options, peers, results, steps, cells, round);
  }
}

async function runServiceGroup(
  resources: Resources,
  options: Options,
  peers: Peers,
  results: Results,
  steps: Steps,
  cells: readonly Cell[],
  round: number,
): Promise<void> {
  {
    const { nodes, storage } = cells[0] as Cell;
    const hosting = hostingOf(cells[0] as Cell);
    const started = performance.now();
    const cluster = await startCluster(resources, nodes, storage, {}, true, hosting);
    let etcd: EtcdCluster | null = null;
    let unregisterEtcd = (): void => {};
    try {
      console.log(
        `\n${options.rounds > 1 ? `round ${round + 1} of ${options.rounds}: ` : ''}raftkv ${nodes} node${nodes === 1 ? '' : 's'} ${storage}${hosting === 'processes' ? ', a process per node (TCP on loopback)' : ''}: up in ${((performance.now() - started) / 1000).toFixed(1)} s (HTTP :${cluster.service.http.port}, RESP :${cluster.service.resp.port})`,
      );
      if (peers.etcdBinary !== null && cells.some((c) => peersOf(c, options).includes('etcd'))) {
        const { dir } = diskDir(resources, 'raftkv-bench-etcd-');
        etcd = await EtcdCluster.start({ members: nodes, dataDir: dir, binary: peers.etcdBinary });
        const running = etcd;
        unregisterEtcd = resources.onRelease(() => running.stop());
        console.log(
          `etcd ${nodes} member${nodes === 1 ? '' : 's'} (heartbeat ${etcd.timing.heartbeatMs} ms, election ${etcd.timing.electionMs} ms) on ${dir}`,
        );
      }
      for (const c of cells) {
        steps.begin(describe(c));
        await waitQuiet(cluster.supervisor);
        const port = c.api === 'http' ? cluster.service.http.port : cluster.service.resp.port;
        const row = rowOf(
          'raftkv',
          c,
          await runLoad(resources, specFor(c, options, c.api === 'http' ? 'raftkv-http' : 'resp', port), cluster),
          round,
        );
        results.rows.push(row);
        printRow(row);
        for (const peer of peersOf(c, options)) {
          if (peer === 'etcd' && etcd !== null) {
            await etcd.waitCaughtUp(ETCD_CATCH_UP_TIMEOUT_MS);
            // The leader's own gateway: etcd's best case, no forwarding hop (raftkv's router always forwards).
            const etcdPort = Number(new URL((await etcd.leader(ETCD_CATCH_UP_TIMEOUT_MS)).clientUrl).port);
            const peerRow = rowOf('etcd', c, await runLoad(resources, specFor(c, options, 'etcd-http', etcdPort), null), round);
            results.rows.push(peerRow);
            printRow(peerRow);
          }
          if (peer === 'redis' && peers.redisServer !== null) {
            const peerRow = rowOf(
              'redis-server',
              c,
              await runLoad(resources, specFor(c, options, 'resp', peers.redisServer.port), null),
              round,
            );
            results.rows.push(peerRow);
            printRow(peerRow);
          }
        }
        steps.end();
      }
      if (
        options.peers.includes('redis') &&
        storage === 'disk' &&
        nodes === 3 &&
        hosting === 'threads' &&
        round === 0 &&
        peers.redis.benchmark !== null &&
        peers.redisServer !== null
      ) {
        await runRedisBenchmarkPairs(resources, options, peers.redis.benchmark, cluster, peers.redisServer, results);
      }
    } finally {
      unregisterEtcd();
      await etcd?.stop();
      await resources.endCluster(cluster);
    }
  }
}

/** redis-benchmark SET, unpipelined and 16 deep, against raftkv and at once against redis-server. */
async function runRedisBenchmarkPairs(
  resources: Resources,
  options: Options,
  binary: string,
  cluster: Cluster,
  server: RedisServer,
  results: Results,
): Promise<void> {
  for (const pipeline of [1, PIPELINE_DEPTH]) {
    const base = { clients: REDIS_BENCHMARK_CLIENTS, valueBytes: REDIS_BENCHMARK_VALUE_BYTES, pipeline };
    const probeRequests = pipeline > 1 ? REDIS_BENCHMARK_PROBE_REQUESTS.pipelined : REDIS_BENCHMARK_PROBE_REQUESTS.unpipelined;
    const raftkvProbe = await redisBenchmark(resources, binary, { ...base, port: cluster.service.resp.port, requests: probeRequests });
    await waitQuiet(cluster.supervisor);
    const raftkv = await redisBenchmark(resources, binary, {
      ...base,
      port: cluster.service.resp.port,
      requests: requestsFor(options.seconds, raftkvProbe.requestsPerSecond),
    });
    const redisProbe = await redisBenchmark(resources, binary, { ...base, port: server.port, requests: probeRequests });
    const redisServer = await redisBenchmark(resources, binary, {
      ...base,
      port: server.port,
      requests: requestsFor(options.seconds, redisProbe.requestsPerSecond),
    });
    const pair = { pipeline, raftkv, redisServer, ratio: raftkv.requestsPerSecond / redisServer.requestsPerSecond };
    results.redisBenchmark.push(pair);
    console.log(
      `  redis-benchmark SET -c ${REDIS_BENCHMARK_CLIENTS}${pipeline > 1 ? ` -P ${pipeline}` : ''}: raftkv ${formatRate(raftkv.requestsPerSecond)}/s ` +
        `(p50 ${formatMillis(raftkv.p50Millis)} ms), redis-server ${formatRate(redisServer.requestsPerSecond)}/s (p50 ${formatMillis(redisServer.p50Millis)} ms): ratio ${formatRatio(pair.ratio)}`,
    );
  }
}

/** The physical limit of HTTP here: a bare Node.js server answering every PUT, the same load client. */
async function runBareHttp(resources: Resources, options: Options, results: Results): Promise<void> {
  const child = forkScript(resources, BARE_HTTP_SCRIPT);
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`bare HTTP server: not listening within ${BARE_HTTP_START_TIMEOUT_MS} ms`)),
        BARE_HTTP_START_TIMEOUT_MS,
      );
      child.once('message', (message: BareHttpMessage) => {
        clearTimeout(timer);
        resolve(message.port);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`bare HTTP server exited with ${code} at start`));
      });
    });
    const c = cell('write', 'http', 1);
    const row = rowOf('bare-http', { ...c, nodes: 0 }, await runLoad(resources, specFor(c, options, 'raftkv-http', port), null));
    results.rows.push(row);
    printRow(row);
  } finally {
    await resources.endChild(child);
  }
}

// ---------------------------------------------------------------------------
// Printing.

function sameCell(a: Cell, b: Cell): boolean {
  return (
    a.workload === b.workload &&
    a.api === b.api &&
    a.nodes === b.nodes &&
    a.storage === b.storage &&
    a.valueBytes === b.valueBytes &&
    a.clients === b.clients
  );
}

/** The row of a cell (the first round's; for a peer, the cell on any hosting), or undefined. */
function find(rows: readonly Row[], system: System, c: Cell, round = 0): Row | undefined {
  return rows.find(
    (r) => r.system === system && (r.round ?? 0) === round && sameCell(r, c) && (system !== 'raftkv' || hostingOf(r) === hostingOf(c)),
  );
}

function printServiceTable(options: Options, results: Results): void {
  const raftkv = results.rows.filter((r) => r.system === 'raftkv');
  if (raftkv.length === 0) return;
  printTable(
    `raftkv through its front doors: ${options.seconds} s after ${options.warmupSeconds} s of warm-up, closed loop, load from a separate process; latency ${LATENCY_RECORDER}`,
    [
      'workload',
      'api',
      'nodes',
      'hosting',
      ...(options.rounds > 1 ? ['round'] : []),
      'storage',
      'value',
      'clients',
      'ops/s',
      'p50 ms',
      'p99 ms',
      'p999 ms',
      'errors',
      'elections',
      'raftkv CPU',
      'µs CPU/op',
      'router loop',
      'cmds/proposal',
      'client CPU',
      'other CPU',
    ],
    raftkv.map((r) => {
      const s = r.server as ServerSample;
      return [
        r.workload,
        r.api,
        String(r.nodes),
        hostingOf(r) === 'processes' ? 'processes (TCP)' : 'threads',
        ...(options.rounds > 1 ? [String(r.round + 1)] : []),
        r.storage,
        `${r.valueBytes} B`,
        String(r.clients),
        formatRate(r.opsPerSecond),
        formatMillis(r.latency.p50Millis),
        formatMillis(r.latency.p99Millis),
        formatMillis(r.latency.p999Millis),
        String(errorCount(r)),
        String(s.elections),
        s.cpuCores.toFixed(2),
        formatRate((s.cpuCores * 1e6) / r.opsPerSecond),
        `${(s.routerLoopBusy * 100).toFixed(0)}%`,
        s.commandsPerProposal.toFixed(1),
        r.clientCpuCores.toFixed(2),
        r.otherCores.toFixed(2),
      ];
    }),
  );
  console.log(
    `   workloads: write = SET/PUT; read = linearizable GET (ReadIndex); mix = 90% reads, 10% writes, over ${KEY_SPACE.toLocaleString('en-US')} keys.\n` +
      `   disk: ${tmpdir()}, fdatasync before every acknowledgement; memory: /dev/shm, no fsync. CPU in cores of ${cpus().length}: raftkv = router and\n` +
      '   node workers (one process), and with processes (TCP) the node processes too; router loop = busy share of the main thread;\n' +
      '   client = the load-client process; other = the rest.',
  );
}

function printCompareTable(peer: System, label: string, results: Results): void {
  const pairs = results.rows
    .filter((r) => r.system === peer)
    .flatMap((p) => {
      const own = find(results.rows, 'raftkv', p, p.round ?? 0);
      return own === undefined ? [] : [{ own, p }];
    });
  if (pairs.length === 0) return;
  printTable(
    `raftkv beside ${label}, the same load client and cell, measured back to back`,
    [
      'workload',
      'api',
      'nodes',
      'clients',
      'raftkv ops/s',
      `${peer} ops/s`,
      'ratio',
      'raftkv p50',
      `${peer} p50`,
      'raftkv p99',
      `${peer} p99`,
      'p99 ratio',
    ],
    pairs.map(({ own, p }) => [
      own.workload,
      own.api,
      String(own.nodes),
      String(own.clients),
      formatRate(own.opsPerSecond),
      formatRate(p.opsPerSecond),
      formatRatio(own.opsPerSecond / p.opsPerSecond),
      formatMillis(own.latency.p50Millis),
      formatMillis(p.latency.p50Millis),
      formatMillis(own.latency.p99Millis),
      formatMillis(p.latency.p99Millis),
      formatRatio(own.latency.p99Millis / p.latency.p99Millis),
    ]),
  );
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** The median and the range of some figures, `1.23 (1.10 .. 1.40)`; one figure alone. */
function spread(values: readonly number[], format: (value: number) => string): string {
  if (values.length === 0) return '-';
  if (values.length === 1) return format(values[0] as number);
  return `${format(median(values))} (${format(Math.min(...values))} .. ${format(Math.max(...values))})`;
}

interface TcpTriple {
  readonly threads: Row;
  readonly processes: Row;
  readonly etcd: Row | undefined;
}

/** Each round's cell on threads beside the same cell on processes (and etcd's, when it ran). */
function tcpTriples(results: Results): TcpTriple[] {
  return results.rows
    .filter((r) => r.system === 'raftkv' && hostingOf(r) === 'threads')
    .flatMap((threads) => {
      const processes = find(results.rows, 'raftkv', { ...threads, hosting: 'processes' }, threads.round);
      return processes === undefined ? [] : [{ threads, processes, etcd: find(results.rows, 'etcd', threads, threads.round) }];
    });
}

function cpuPerOp(row: Row | undefined): string {
  const s = row?.server;
  return s == null || row === undefined ? '-' : formatRate((s.cpuCores * 1e6) / row.opsPerSecond);
}

/** The cost of TCP: the same cell with a process per node (TCP on loopback) beside worker threads (MessagePorts). */
function printTcpTable(results: Results): void {
  const triples = tcpTriples(results);
  if (triples.length === 0) return;
  printTable(
    'the cost of TCP: one process per node (TCP on loopback) beside worker threads (MessagePorts), and etcd, the same load client',
    [
      'cell',
      'round',
      'threads ops/s',
      'processes ops/s',
      'etcd ops/s',
      'proc/threads',
      'proc/etcd',
      'p50 ms thr / proc / etcd',
      'p99 ms thr / proc / etcd',
      'µs CPU/op thr / proc',
    ],
    triples.map(({ threads, processes, etcd }) => [
      describe(threads),
      String(threads.round + 1),
      formatRate(threads.opsPerSecond),
      formatRate(processes.opsPerSecond),
      etcd === undefined ? '-' : formatRate(etcd.opsPerSecond),
      formatRatio(processes.opsPerSecond / threads.opsPerSecond),
      etcd === undefined ? '-' : formatRatio(processes.opsPerSecond / etcd.opsPerSecond),
      `${formatMillis(threads.latency.p50Millis)} / ${formatMillis(processes.latency.p50Millis)} / ${etcd === undefined ? '-' : formatMillis(etcd.latency.p50Millis)}`,
      `${formatMillis(threads.latency.p99Millis)} / ${formatMillis(processes.latency.p99Millis)} / ${etcd === undefined ? '-' : formatMillis(etcd.latency.p99Millis)}`,
      `${cpuPerOp(threads)} / ${cpuPerOp(processes)}`,
    ]),
  );
  const cells = new Map<string, TcpTriple[]>();
  for (const t of triples) cells.set(describe(t.threads), [...(cells.get(describe(t.threads)) ?? []), t]);
  for (const [name, list] of cells) {
    const withEtcd = list.flatMap((t) => (t.etcd === undefined ? [] : [{ ...t, etcd: t.etcd }]));
    console.log(
      `   ${name}, median (range) over ${list.length} round${list.length === 1 ? '' : 's'}: processes/threads ` +
        `${spread(
          list.map((t) => t.processes.opsPerSecond / t.threads.opsPerSecond),
          formatRatio,
        )}; processes/etcd ${spread(
          withEtcd.map((t) => t.processes.opsPerSecond / t.etcd.opsPerSecond),
          formatRatio,
        )}; p50 processes - threads ${spread(
          list.map((t) => t.processes.latency.p50Millis - t.threads.latency.p50Millis),
          formatMillis,
        )} ms; p99 processes - threads ${spread(
          list.map((t) => t.processes.latency.p99Millis - t.threads.latency.p99Millis),
          formatMillis,
        )} ms`,
    );
  }
}

function printMembership(runs: readonly MembershipRun[]): void {
  if (runs.length === 0) return;
  printTable(
    `membership under load: add learner, catch up, promote, remove a voter; the stall is the longest gap between acknowledged writes during a change, against one election timeout`,
    ['hosting', 'round', 'change', 'took ms', 'stall ms', 'election timeout ms', 'stall < timeout', 'writes/s during', 'elections'],
    runs.flatMap((run) =>
      run.phases.map((phase) => [
        run.hosting,
        String(run.round + 1),
        phase.name,
        phase.tookMs.toFixed(0),
        phase.stallMs.toFixed(0),
        String(run.electionTimeoutMs),
        phase.error !== null
          ? 'FAILED'
          : phase.counts
            ? phase.stallMs < run.electionTimeoutMs
              ? 'PASS'
              : 'FAIL'
            : `(${phase.stallMs < run.electionTimeoutMs ? 'below' : 'above'}; not counted)`,
        formatRate(phase.writesPerSecond),
        String(phase.elections),
      ]),
    ),
  );
  printTable(
    'membership under load: every acknowledged write, checked by a linearizable read of its key after the run',
    ['hosting', 'round', 'acknowledged writes', 'failed or unanswered', 'keys checked', 'not read back', 'lost writes', 'verdict'],
    runs.map((run) => [
      run.hosting,
      String(run.round + 1),
      formatRate(run.acknowledged),
      formatRate(run.failed + run.abandoned),
      formatRate(run.keysChecked),
      String(run.unverified),
      String(run.lostCount),
      run.lostCount === 0 ? 'PASS' : `FAIL (${run.lost.slice(0, 3).join('; ')})`,
    ]),
  );
}

interface Target {
  readonly target: string;
  readonly wanted: string;
  readonly measured: string;
  readonly met: boolean | null;
}

/** The issue's targets, each from figures of this run (or "not measured" when its suite or peer did not run). */
function targets(results: Results): Target[] {
  const out: Target[] = [];
  const versus = (nodes: number, wanted: number): void => {
    const c = cell('write', 'http', nodes);
    const own = find(results.rows, 'raftkv', c);
    const etcd = find(results.rows, 'etcd', c);
    const name = `HTTP writes, disk, ${nodes} nodes, 64 clients, 256 B: raftkv/etcd, lower p99`;
    if (own === undefined || etcd === undefined) {
      out.push({ target: name, wanted: `>= ${wanted}`, measured: 'not measured (--compare etcd)', met: null });
      return;
    }
    const ratio = own.opsPerSecond / etcd.opsPerSecond;
    out.push({
      target: name,
      wanted: `>= ${wanted}, p99 below`,
      measured: `${formatRatio(ratio)} (p99 ${formatMillis(own.latency.p99Millis)} vs ${formatMillis(etcd.latency.p99Millis)} ms)`,
      met: ratio >= wanted && own.latency.p99Millis < etcd.latency.p99Millis,
    });
  };
  versus(5, 3);
  versus(3, 2.5);
  const bare = results.rows.find((r) => r.system === 'bare-http');
  const http3 = find(results.rows, 'raftkv', cell('write', 'http', 3));
  out.push(
    bare === undefined || http3 === undefined
      ? { target: 'HTTP writes, disk, 3 nodes, 64 clients: raftkv/bare Node.js HTTP', wanted: '> 0.5', measured: 'not measured', met: null }
      : {
          target: 'HTTP writes, disk, 3 nodes, 64 clients: raftkv/bare Node.js HTTP',
          wanted: '> 0.5',
          measured: formatRatio(http3.opsPerSecond / bare.opsPerSecond),
          met: http3.opsPerSecond / bare.opsPerSecond > 0.5,
        },
  );
  const one = find(results.rows, 'raftkv', cell('write', 'http', 3, 1));
  const oneEtcd = find(results.rows, 'etcd', cell('write', 'http', 3, 1));
  out.push(
    one === undefined || oneEtcd === undefined
      ? { target: 'one client, disk, 3 nodes: put p50 vs etcd', wanted: '<= etcd', measured: 'not measured (--compare etcd)', met: null }
      : {
          target: 'one client, disk, 3 nodes: put p50 vs etcd',
          wanted: '<= etcd',
          measured: `${formatMillis(one.latency.p50Millis)} vs ${formatMillis(oneEtcd.latency.p50Millis)} ms`,
          met: one.latency.p50Millis <= oneEtcd.latency.p50Millis,
        },
  );
  for (const pipeline of [1, PIPELINE_DEPTH]) {
    const pair = results.redisBenchmark.find((p) => p.pipeline === pipeline);
    const name = `redis-benchmark SET -c 50${pipeline > 1 ? ` -P ${pipeline}` : ''}, 3 nodes disk: raftkv/redis-server (appendfsync always)`;
    out.push(
      pair === undefined
        ? { target: name, wanted: '>= 0.5', measured: 'not measured (--compare redis)', met: null }
        : { target: name, wanted: '>= 0.5', measured: formatRatio(pair.ratio), met: pair.ratio >= 0.5 },
    );
  }
  const loop = results.replication.find((r) => r.nodes === 5 && r.batch === 64);
  out.push(
    loop === undefined
      ? {
          target: '5-node worker cluster in memory: proposals/s vs minimal replication loop (64/batch)',
          wanted: '>= 0.5',
          measured: 'not measured (--suites replication)',
          met: null,
        }
      : {
          target: '5-node worker cluster in memory: proposals/s vs minimal replication loop (64/batch)',
          wanted: '>= 0.5',
          measured: formatRatio(loop.ratio),
          met: loop.ratio >= 0.5,
        },
  );
  const own = results.failover.find((s) => s.system === 'raftkv');
  const etcdDefault = results.failover.find((s) => s.system.startsWith('etcd default'));
  const etcdTuned = results.failover.find((s) => s.system.startsWith('etcd tuned'));
  out.push(
    own === undefined || etcdDefault === undefined
      ? {
          target: 'failover median vs etcd default timing (100/1000 ms)',
          wanted: '<= 0.25',
          measured: 'not measured (--suites failover --compare etcd)',
          met: null,
        }
      : {
          target: 'failover median vs etcd default timing (100/1000 ms)',
          wanted: '<= 0.25',
          measured: `${formatRatio(own.medianMs / etcdDefault.medianMs)} (${own.medianMs.toFixed(0)} vs ${etcdDefault.medianMs.toFixed(0)} ms)`,
          met: own.medianMs <= etcdDefault.medianMs / 4,
        },
  );
  out.push(
    own === undefined || etcdTuned === undefined
      ? {
          target: 'failover median vs etcd tuned (50/300 ms)',
          wanted: '<= 1',
          measured: 'not measured (--suites failover --compare etcd)',
          met: null,
        }
      : {
          target: 'failover median vs etcd tuned (50/300 ms)',
          wanted: '<= 1',
          measured: `${formatRatio(own.medianMs / etcdTuned.medianMs)} (${own.medianMs.toFixed(0)} vs ${etcdTuned.medianMs.toFixed(0)} ms)`,
          met: own.medianMs <= etcdTuned.medianMs,
        },
  );
  out.push(...tcpTargets(results));
  return out;
}

/** Issue 16's targets: the 5-node TCP cluster beside etcd, and membership changes under load. */
function tcpTargets(results: Results): Target[] {
  const out: Target[] = [];
  const c = cell('write', 'http', 5, 64, 'disk', 256, 'processes');
  const pairs = results.rows
    .filter((r) => r.system === 'raftkv' && describe(r) === describe(c))
    .flatMap((own) => {
      const etcd = find(results.rows, 'etcd', own, own.round);
      return etcd === undefined ? [] : [own.opsPerSecond / etcd.opsPerSecond];
    });
  const name = 'HTTP writes, disk, 5 nodes, 64 clients, 256 B, a process per node (TCP): raftkv/etcd (median of rounds)';
  out.push(
    pairs.length === 0
      ? { target: name, wanted: '>= 2', measured: 'not measured (--tcp)', met: null }
      : { target: name, wanted: '>= 2', measured: spread(pairs, formatRatio), met: median(pairs) >= 2 },
  );
  const runs = results.membership;
  const stalls = runs.flatMap((run) =>
    run.phases.filter((p) => p.counts).map((p) => (p.error === null ? p.stallMs - run.electionTimeoutMs : Number.POSITIVE_INFINITY)),
  );
  const lost = runs.reduce((sum, run) => sum + run.lostCount, 0);
  const unverified = runs.reduce((sum, run) => sum + run.unverified, 0);
  const changes = 'membership changes under load (add learner, promote, remove a follower), threads and processes';
  out.push(
    runs.length === 0
      ? { target: `${changes}: acknowledged writes lost`, wanted: '0', measured: 'not measured (--suites membership)', met: null }
      : {
          target: `${changes}: acknowledged writes lost`,
          wanted: '0',
          measured: `${lost} in ${runs.length} runs${unverified > 0 ? `, ${unverified} keys not read back` : ''}`,
          met: lost === 0 && unverified === 0,
        },
  );
  const longest = runs.flatMap((run) => run.phases.filter((p) => p.counts).map((p) => p.stallMs));
  out.push(
    runs.length === 0
      ? { target: `${changes}: longest write stall`, wanted: MEMBERSHIP_STALL_LIMIT, measured: 'not measured', met: null }
      : {
          target: `${changes}: longest write stall`,
          wanted: MEMBERSHIP_STALL_LIMIT,
          measured: `${Math.max(...longest).toFixed(0)} ms (timeout ${runs[0]?.electionTimeoutMs ?? '-'} ms)`,
          met: stalls.every((over) => over < 0),
        },
  );
  return out;
}

function printResults(options: Options, results: Results): void {
  printServiceTable(options, results);
  const bare = results.rows.find((r) => r.system === 'bare-http');
  if (bare !== undefined) {
    console.log(
      `\nbare Node.js HTTP server (the limit of HTTP here), 64 clients: ${formatRate(bare.opsPerSecond)} PUTs/s, p50 ${formatMillis(bare.latency.p50Millis)} ms, p99 ${formatMillis(bare.latency.p99Millis)} ms`,
    );
  }
  printCompareTable('etcd', 'etcd (v3 JSON gateway, fsync on)', results);
  printTcpTable(results);
  printCompareTable('redis-server', 'redis-server (appendfsync always)', results);
  if (results.redisBenchmark.length > 0) {
    printTable(
      `redis-benchmark SET, ${REDIS_BENCHMARK_CLIENTS} clients, ${REDIS_BENCHMARK_VALUE_BYTES} B: raftkv (3 nodes, disk) and redis-server (appendfsync always) back to back`,
      ['-P', 'raftkv req/s', 'p50 ms', 'p99 ms', 'redis-server req/s', 'p50 ms', 'p99 ms', 'ratio'],
      results.redisBenchmark.map((p) => [
        String(p.pipeline),
        formatRate(p.raftkv.requestsPerSecond),
        formatMillis(p.raftkv.p50Millis),
        formatMillis(p.raftkv.p99Millis),
        formatRate(p.redisServer.requestsPerSecond),
        formatMillis(p.redisServer.p50Millis),
        formatMillis(p.redisServer.p99Millis),
        formatRatio(p.ratio),
      ]),
    );
  }
  if (results.replication.length > 0) {
    printTable(
      'committed proposals/s: a raftkv worker cluster in memory (no router) beside the minimal replication loop over MessagePorts',
      ['nodes', 'batch', 'minimal loop entries/s', 'raftkv proposals/s', 'ratio'],
      results.replication.map((r) => [
        String(r.nodes),
        String(r.batch),
        formatRate(r.loopPerSecond),
        formatRate(r.raftkvPerSecond),
        formatRatio(r.ratio),
      ]),
    );
  }
  if (results.failover.length > 0) {
    printTable(
      'failover: kill -9 the leader, time until the next write is acknowledged (same HTTP probe for each)',
      ['system', 'kills', 'median ms', 'p99 ms', 'max ms'],
      results.failover.map((s) => [s.system, String(s.kills), s.medianMs.toFixed(0), s.p99Ms.toFixed(0), s.maxMs.toFixed(0)]),
    );
  }
  if (results.recovery.length > 0) {
    printTable(
      'recovery and footprint (3 nodes on disk)',
      ['measure', 'value', 'unit'],
      results.recovery.map((r) => [r.name, formatFigure(r.value), r.unit]),
    );
    for (const r of results.recovery) console.log(`   ${r.name}: ${r.detail}`);
  }
  printMembership(results.membership);
  const list = targets(results);
  if (list.every((t) => t.met === null)) return;
  printTable(
    'the targets of issues 7 and 16, from this run',
    ['target', 'wanted', 'measured', 'met'],
    list.map((t) => [t.target, t.wanted, t.measured, t.met === null ? '-' : t.met ? 'yes' : 'NO']),
  );
}

function printBaseline(path: string, results: Results): void {
  let baseline: { rows?: Row[] };
  try {
    baseline = JSON.parse(fs.readFileSync(path, 'utf8')) as { rows?: Row[] };
  } catch (error) {
    console.log(`\n--baseline ${path}: cannot read it (${(error as Error).message})`);
    return;
  }
  const matched = results.rows.flatMap((r) => {
    const before = (baseline.rows ?? []).find((b) => b.system === r.system && describe(b) === describe(r));
    return before === undefined ? [] : [{ r, before }];
  });
  printTable(
    `against ${path}`,
    ['system', 'cell', 'before ops/s', 'now ops/s', 'now/before', 'before p99', 'now p99'],
    matched.map(({ r, before }) => [
      r.system,
      describe(r),
      formatRate(before.opsPerSecond),
      formatRate(r.opsPerSecond),
      formatRatio(r.opsPerSecond / before.opsPerSecond),
      formatMillis(before.latency.p99Millis),
      formatMillis(r.latency.p99Millis),
    ]),
  );
}

function commitOf(): string | null {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------

async function main(): Promise<void> {
  let read: Options | 'help';
  try {
    read = readOptions(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof BenchUsageError)) throw error;
    console.error(`${error.message}\n${USAGE}`);
    process.exit(2);
  }
  if (read === 'help') {
    console.log(USAGE);
    return;
  }
  const options = read;
  const started = performance.now();
  const peers: Peers = { etcdBinary: findEtcd(), redis: findRedisTools(), redisServer: null };
  console.log(
    `raftkv bench: ${describeMachine()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; ` +
      `load average ${formatLoadAverage()} (other work on the machine slows every figure)`,
  );
  console.log(
    `suites: ${options.suites.join(', ')}; ${options.cells.length} service cells${options.rounds > 1 ? ` x ${options.rounds} rounds` : ''}; compare: ${options.peers.join(', ') || 'none'}; disk figures in ${tmpdir()}`,
  );
  if (options.peers.includes('etcd') && peers.etcdBinary === null) console.log(ETCD_INSTALL_HINT);
  if (options.peers.includes('redis') && peers.redis.server === null) console.log(REDIS_INSTALL_HINT.server);
  if (options.peers.includes('redis') && peers.redis.benchmark === null) console.log(REDIS_INSTALL_HINT.benchmark);

  const resources = new Resources();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void resources.releaseAll().finally(() => process.exit(130));
    });
  }
  const results: Results = { rows: [], redisBenchmark: [], replication: [], failover: [], recovery: [], membership: [] };
  // Progress: a line redrawn on a terminal, a line every few seconds in a log (src/util/progress.ts).
  const otherSuites = (['replication', 'failover', 'recovery', 'membership'] as const).filter((suite) => options.suites.includes(suite));
  const serviceCells = options.suites.includes('service') ? options.cells.length * options.rounds : 0;
  const progress = new Progress({ label: 'bench', total: serviceCells + otherSuites.length, unit: 'steps' }).start().interceptOutput();
  const steps = new Steps(progress);
  try {
    if (options.suites.includes('service') && options.cells.length > 0) {
      console.log('\nthe limit of HTTP on this machine');
      await runBareHttp(resources, options, results);
      if (options.peers.includes('redis') && peers.redis.server !== null)
        peers.redisServer = await startRedisServer(resources, peers.redis.server);
      try {
        await runServiceSuite(resources, options, peers, results, steps);
      } finally {
        if (peers.redisServer !== null) await stopRedisServer(resources, peers.redisServer);
        peers.redisServer = null;
      }
    }
    const dataRoot = (): string => diskDir(resources, 'raftkv-bench-suite-').dir;
    const log = (line: string): void => console.log(`  ${line}`);
    if (options.suites.includes('replication')) {
      steps.begin('replication');
      console.log('\nreplication: a worker cluster in memory beside the minimal replication loop');
      results.replication = await runReplication(resources, {
        nodes: [5],
        batches: [1, 64],
        seconds: options.seconds,
        warmupSeconds: options.warmupSeconds,
        log,
      });
      steps.end();
    }
    if (options.suites.includes('failover')) {
      steps.begin('failover');
      const withEtcd = options.peers.includes('etcd') && peers.etcdBinary !== null;
      console.log(
        `\nfailover: ${options.kills} leader kills, 3 nodes on disk${withEtcd ? ', then etcd with its default and tuned timing' : ''}`,
      );
      results.failover = await runFailover({ kills: options.kills, nodes: 3, dataRoot: dataRoot(), log, etcd: withEtcd });
      steps.end();
    }
    if (options.suites.includes('recovery')) {
      steps.begin('recovery');
      console.log('\nrecovery and footprint');
      results.recovery = await runRecovery({ nodes: 3, dataRoot: dataRoot(), log, scale: options.quick ? 0.1 : 1 });
      steps.end();
    }
    if (options.suites.includes('membership')) {
      steps.begin('membership');
      console.log(
        `\nmembership under load: 5 nodes on disk, ${options.hostings.join(' and ')}, ${options.rounds} round${options.rounds === 1 ? '' : 's'}`,
      );
      results.membership = await runMembership(resources, {
        hostings: options.hostings,
        rounds: options.rounds,
        quick: options.quick,
        log,
      });
      steps.end();
    }
  } finally {
    progress.stop();
    await resources.releaseAll();
  }
  printResults(options, results);
  if (options.baseline !== null) printBaseline(options.baseline, results);

  const seconds = (performance.now() - started) / 1000;
  const out = options.out ?? join(RESULTS_DIR, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  console.log(`\ntotal ${seconds.toFixed(0)} s; compare later runs with --baseline ${out}`);
  writeResults(out, {
    benchmark: 'raftkv',
    ...machineFields(),
    commit: commitOf(),
    memoryBytes: totalmem(),
    diskDir: tmpdir(),
    latencyRecorder: LATENCY_RECORDER,
    options: { ...options, cells: options.cells.length },
    totalSeconds: seconds,
    ...results,
  });
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  fs.copyFileSync(out, join(RESULTS_DIR, 'latest.json'));
}

// Run as a script (npm run bench); imported, it only lends its option parser (test/unit/documented-commands.test.ts).
if (isMainModule(import.meta.url)) await main();
