// Macro-benchmark of the KV service (issue 5): writes per second and latency through the HTTP API and the Redis
// protocol, with the physical limits measured in the same run beside them.
//
//   npx tsx bench/service.bench.ts [--quick] [--seconds 4] [--warmup-seconds 1] [--nodes 3,5] [--storage disk,memory]
//                                  [--clients 1,64] [--pipeline 1,16] [--keys 100000]
//
//   1. raftkv: a Supervisor cluster (3 and 5 nodes; on the real disk with fdatasync, and in memory: /dev/shm, no
//      fsync) with its router, HTTP and Redis-protocol servers in this process. The load comes from a separate
//      process (bench/fixtures/http-load.ts, resp-load.ts) so it never shares the router's event loop: 1 and 64
//      connections; HTTP PUT /v1/kv/key-<n> with a 256-byte body, keep-alive; RESP SET key-<n> <256 bytes>,
//      unpipelined and 16 deep. Fixed duration after a warm-up; latencies in an HDR histogram.
//   2. redis-benchmark's own figures (SET, 50 clients, 256-byte values, without and with -P 16) against raftkv,
//      each followed at once by the same run against a local redis-server (appendonly yes, appendfsync always, on
//      the same disk; this disk's fsync speed drifts, so the pair is measured back to back): the single-node
//      ceiling of a Redis-protocol server that fsyncs every write. Skipped, with a message, without the binaries.
//   3. A bare Node.js HTTP server (bench/fixtures/bare-http.ts, its own process) that answers 200 to every PUT,
//      driven by the same load client with 64 connections: the physical limit of HTTP on this machine.
//
// Between runs the cluster is left to converge (every node has applied the leader's commit index). Beside each
// figure: the CPU raftkv, the load client and the rest of the machine used in the same window, and the elections
// the run sat through. The store grows to --keys keys (100,000 by default: 26 MB of values), and every snapshot
// serialises all of it. Every figure is from this run on this machine; results go to bench/results/service.json.
//
//   --quick: 3 nodes on disk, 64 clients, HTTP and RESP unpipelined, redis-benchmark SET unpipelined; 3 s runs.
import { spawn, fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Supervisor } from '../src/actor/supervisor.js';
import type { NodeId } from '../src/raft/types.js';
import { startService, type Service } from '../src/router/service.js';
import type { BareHttpMessage } from './fixtures/bare-http.js';
import { LATENCY_RECORDER, type LatencySummary, type LoadMessage, type LoadReport, type LoadRunConfig } from './fixtures/http-load.js';
import { printTable, waitForLeader } from './bench-util.js';
import { delay } from '../src/util/async.js';

const RESULTS_PATH = fileURLToPath(new URL('./results/service.json', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSX_LOADER = import.meta.resolve('tsx');
const FIXTURES = {
  http: fileURLToPath(new URL('./fixtures/http-load.ts', import.meta.url)),
  resp: fileURLToPath(new URL('./fixtures/resp-load.ts', import.meta.url)),
  bareHttp: fileURLToPath(new URL('./fixtures/bare-http.ts', import.meta.url)),
} as const;
const HOST = '127.0.0.1';
/** statfs f_type of tmpfs: a "disk" with this type would make the on-disk figures meaningless. */
const TMPFS_MAGIC = 0x01021994;
const VALUE_BYTES = 256;
const PIPELINE_DEPTH = 16;
const REDIS_BENCHMARK_CLIENTS = 50;
/** redis-benchmark counts requests, not seconds: a short probe run estimates the rate, then -n is sized from it. */
const REDIS_BENCHMARK_PROBE_REQUESTS = { unpipelined: 5_000, pipelined: 20_000 } as const;
const REDIS_BENCHMARK_REQUESTS_MIN = 2_000;
const REDIS_BENCHMARK_REQUESTS_MAX = 5_000_000;
const REDIS_BENCHMARK_TIMEOUT_MS = 120_000;
const CLUSTER_START_TIMEOUT_MS = 30_000;
const LEADER_TIMEOUT_MS = 30_000;
/** After a run the cluster converges before the next; beyond this the next run starts anyway (and says so). */
const QUIET_TIMEOUT_MS = 20_000;
const QUIET_POLL_MS = 20;
const LOAD_START_TIMEOUT_MS = 30_000;
const LOAD_DRAIN_TIMEOUT_MS = 10_000;
const CHILD_EXIT_TIMEOUT_MS = 5_000;
const REDIS_SERVER_START_TIMEOUT_MS = 10_000;

type Storage = 'disk' | 'memory';
type Api = 'http' | 'resp';

interface BenchOptions {
  readonly quick: boolean;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly nodes: readonly number[];
  readonly storages: readonly Storage[];
  readonly clients: readonly number[];
  /** Depths of the Redis-protocol runs; HTTP/1.1 is always 1. */
  readonly pipelines: readonly number[];
  /** The bare-HTTP baseline's connections: the HTTP runs with this many clients are compared with it. */
  readonly bareHttpClients: number;
  /** Distinct keys the load clients write, in turn: the store (and so every snapshot) grows to this many. */
  readonly keys: number;
}

function readOptions(): BenchOptions {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      seconds: { type: 'string' },
      'warmup-seconds': { type: 'string' },
      nodes: { type: 'string' },
      storage: { type: 'string' },
      clients: { type: 'string' },
      pipeline: { type: 'string' },
      keys: { type: 'string', default: '100000' },
    },
  });
  const quick = values.quick === true;
  const list = (raw: string | undefined, fallback: string): number[] => (raw ?? fallback).split(',').map((part) => Number(part.trim()));
  const seconds = Number(values.seconds ?? (quick ? 3 : 4));
  if (!(seconds > 0)) throw new RangeError(`--seconds must be positive, got ${values.seconds}`);
  const warmupSeconds = Number(values['warmup-seconds'] ?? 1);
  if (!(warmupSeconds >= 0)) throw new RangeError(`--warmup-seconds must not be negative, got ${values['warmup-seconds']}`);
  const nodes = list(values.nodes, quick ? '3' : '3,5');
  if (!nodes.every((n) => Number.isInteger(n) && n >= 1 && n <= 9)) throw new RangeError(`--nodes takes integers from 1 to 9, got ${values.nodes}`);
  const storages = (values.storage ?? (quick ? 'disk' : 'disk,memory')).split(',').map((part) => part.trim());
  if (!storages.every((s): s is Storage => s === 'disk' || s === 'memory')) throw new RangeError(`--storage takes disk, memory; got ${values.storage}`);
  const clients = list(values.clients, quick ? '64' : '1,64');
  if (!clients.every((c) => Number.isInteger(c) && c >= 1 && c <= 1024)) throw new RangeError(`--clients takes integers from 1 to 1024, got ${values.clients}`);
  const pipelines = list(values.pipeline, quick ? '1' : `1,${PIPELINE_DEPTH}`);
  if (!pipelines.every((p) => Number.isInteger(p) && p >= 1 && p <= 1024)) throw new RangeError(`--pipeline takes integers from 1 to 1024, got ${values.pipeline}`);
  const keys = Number(values.keys);
  if (!Number.isInteger(keys) || keys < 1) throw new RangeError(`--keys must be a positive integer, got ${values.keys}`);
  return { quick, seconds, warmupSeconds, nodes, storages, clients, pipelines, bareHttpClients: 64, keys };
}

// ---------------------------------------------------------------------------
// Small helpers.


function formatRate(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '-';
}

function formatRatio(value: number): string {
  if (!Number.isFinite(value)) return '-';
  return value >= 0.1 ? value.toFixed(2) : value.toPrecision(2);
}

function formatMillis(value: number): string {
  if (!Number.isFinite(value)) return '-';
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

function formatLoad(): string {
  return loadavg().map((load) => load.toFixed(2)).join(' ');
}


function errorText(errors: Readonly<Record<string, number>>): string {
  const entries = Object.entries(errors);
  return entries.length === 0 ? '0' : entries.map(([code, count]) => `${count} ${code}`).join(', ');
}

function errorCount(errors: Readonly<Record<string, number>>): number {
  return Object.values(errors).reduce((sum, count) => sum + count, 0);
}

/** The executable's path on PATH, or null. */
function findExecutable(name: string): string | null {
  for (const folder of (process.env.PATH ?? '').split(delimiter)) {
    if (folder === '') continue;
    const candidate = join(folder, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------
// Everything the run starts, so a failure anywhere still stops every cluster and process and removes every folder.

interface Cluster {
  readonly supervisor: Supervisor;
  readonly service: Service;
  readonly dataDir: string;
}

class Resources {
  private readonly clusters = new Set<Cluster>();
  private readonly supervisors = new Set<Supervisor>();
  private readonly children = new Set<ChildProcess>();
  private readonly dirs = new Set<string>();
  private releasing: Promise<void> | null = null;

  dir(parent: string, prefix: string): string {
    const dir = fs.mkdtempSync(join(parent, prefix));
    this.dirs.add(dir);
    return dir;
  }

  removeDir(dir: string): void {
    this.dirs.delete(dir);
    fs.rmSync(dir, { recursive: true, force: true });
  }

  supervisor(supervisor: Supervisor): Supervisor {
    this.supervisors.add(supervisor);
    return supervisor;
  }

  async endSupervisor(supervisor: Supervisor): Promise<void> {
    this.supervisors.delete(supervisor);
    await supervisor.stop().catch(() => undefined);
  }

  cluster(cluster: Cluster): Cluster {
    this.clusters.add(cluster);
    return cluster;
  }

  async endCluster(cluster: Cluster): Promise<void> {
    this.clusters.delete(cluster);
    this.supervisors.delete(cluster.supervisor);
    try {
      await cluster.service.close();
    } finally {
      await cluster.supervisor.stop();
      this.removeDir(cluster.dataDir);
    }
  }

  child(child: ChildProcess): ChildProcess {
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** SIGTERM by PID, SIGKILL if it has not exited within CHILD_EXIT_TIMEOUT_MS. */
  async endChild(child: ChildProcess): Promise<void> {
    this.children.delete(child);
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    const pid = child.pid;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    killPid(pid, 'SIGTERM');
    const timer = setTimeout(() => killPid(pid, 'SIGKILL'), CHILD_EXIT_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }

  /** Idempotent: a signal during the run's own clean-up waits for the same release. */
  releaseAll(): Promise<void> {
    this.releasing ??= this.release().finally(() => {
      this.releasing = null;
    });
    return this.releasing;
  }

  private async release(): Promise<void> {
    await Promise.all([...this.children].map((child) => this.endChild(child).catch(() => undefined)));
    await Promise.all([...this.clusters].map((cluster) => this.endCluster(cluster).catch(() => undefined)));
    await Promise.all([...this.supervisors].map((supervisor) => supervisor.stop().catch(() => undefined)));
    for (const dir of this.dirs) fs.rmSync(dir, { recursive: true, force: true });
    this.children.clear();
    this.clusters.clear();
    this.supervisors.clear();
    this.dirs.clear();
  }
}

function killPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

function diskDir(resources: Resources, prefix: string): { dir: string; fsType: string } {
  const dir = resources.dir(tmpdir(), prefix);
  const type = fs.statfsSync(dir).type;
  if (type === TMPFS_MAGIC) {
    resources.removeDir(dir);
    throw new Error(`${tmpdir()} is on tmpfs: set TMPDIR to a folder on a real disk for the on-disk figures`);
  }
  return { dir, fsType: `0x${type.toString(16)}` };
}

function memoryDir(resources: Resources, prefix: string): string {
  return resources.dir(fs.existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), prefix);
}

/** A fixture script in its own Node.js process, TypeScript through tsx, with an IPC channel. */
function forkFixture(resources: Resources, script: string): ChildProcess {
  return resources.child(fork(script, [], { cwd: REPO_ROOT, execArgv: ['--import', TSX_LOADER], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
}

// ---------------------------------------------------------------------------
// Load runs: a load-client process against a server; the server process is observed over the same window.

/** Busy and total CPU time of the whole machine so far, in clock ticks (Linux /proc/stat), or null elsewhere. */
function machineTicks(): { busy: number; total: number } | null {
  try {
    const line = fs.readFileSync('/proc/stat', 'latin1').split('\n', 1)[0] ?? '';
    const ticks = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
    const total = ticks.slice(0, 8).reduce((sum, t) => sum + t, 0);
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
    return Number.isFinite(total) && total > 0 ? { busy: total - idle, total } : null;
  } catch {
    return null;
  }
}

/** What the raftkv process (router, HTTP and RESP servers, every node's worker thread) did in the window. */
interface ServerSample {
  /** CPU of this whole process in cores: the main thread and every node worker. */
  readonly cpuCores: number;
  /** Busy share of the main thread's event loop, where the router and both servers run. */
  readonly routerLoopBusy: number;
  /** Client commands per router proposal: how much the router's batching amortises. */
  readonly commandsPerProposal: number;
  /** Leaders elected during the window (each a new term): every one is an election the load sat through. */
  readonly elections: number;
}

interface WindowSample {
  readonly server: ServerSample | null;
  /** Cores busy on the whole machine (every process: raftkv, the load client, and anything else running). */
  readonly machineCores: number;
}

/** Samples this process and the machine over a window; `cluster` null when the server is another process. */
class WindowProbe {
  private cpu = process.cpuUsage();
  private loop = performance.eventLoopUtilization();
  private stats = { proposals: 0, commands: 0 };
  private ticks = machineTicks();
  private elections = 0;
  private started = 0;
  private readonly onLeader = (leader: NodeId | null): void => {
    if (leader !== null) this.elections++;
  };

  constructor(private readonly cluster: Cluster | null) {}

  start(): void {
    this.cpu = process.cpuUsage();
    this.loop = performance.eventLoopUtilization();
    this.ticks = machineTicks();
    this.elections = 0;
    this.started = performance.now();
    if (this.cluster === null) return;
    const { router } = this.cluster.service;
    this.stats = { proposals: router.stats.proposals, commands: router.stats.commands };
    this.cluster.supervisor.on('leader', this.onLeader);
  }

  end(): WindowSample {
    const seconds = (performance.now() - this.started) / 1000;
    const cpu = process.cpuUsage(this.cpu);
    const loop = performance.eventLoopUtilization(this.loop);
    const ticksBefore = this.ticks;
    const ticksAfter = machineTicks();
    const machineCores = ticksBefore === null || ticksAfter === null || ticksAfter.total === ticksBefore.total
      ? Number.NaN
      : ((ticksAfter.busy - ticksBefore.busy) / (ticksAfter.total - ticksBefore.total)) * cpus().length;
    if (this.cluster === null) return { server: null, machineCores };
    const { router } = this.cluster.service;
    this.cluster.supervisor.off('leader', this.onLeader);
    const proposals = router.stats.proposals - this.stats.proposals;
    return {
      server: {
        cpuCores: (cpu.user + cpu.system) / 1e6 / seconds,
        routerLoopBusy: loop.utilization,
        commandsPerProposal: proposals === 0 ? Number.NaN : (router.stats.commands - this.stats.commands) / proposals,
        elections: this.elections,
      },
      machineCores,
    };
  }
}

interface LoadResult {
  readonly report: LoadReport;
  readonly writesPerSecond: number;
  readonly window: WindowSample;
}

async function runLoad(
  resources: Resources,
  options: BenchOptions,
  run: { api: Api; port: number; connections: number; pipeline: number; cluster: Cluster | null },
): Promise<LoadResult> {
  const child = forkFixture(resources, run.api === 'http' ? FIXTURES.http : FIXTURES.resp);
  const probe = new WindowProbe(run.cluster);
  let window = null as WindowSample | null; // set by a message handler
  try {
    const report = await new Promise<LoadReport>((resolve, reject) => {
      const limitMs = LOAD_START_TIMEOUT_MS + (options.warmupSeconds + options.seconds) * 1000 + LOAD_DRAIN_TIMEOUT_MS;
      const timer = setTimeout(() => reject(new Error(`${run.api} load client: no report within ${limitMs} ms`)), limitMs);
      child.on('message', (message: LoadMessage) => {
        if (message.type === 'window-start') probe.start();
        else if (message.type === 'window-end') window = probe.end();
        else {
          clearTimeout(timer);
          if (message.type === 'report') resolve(message.report);
          else reject(new Error(`${run.api} load client failed: ${message.message}`));
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${run.api} load client exited (${signal ?? code}) before its report`));
      });
      const config: LoadRunConfig = {
        type: 'run', host: HOST, port: run.port, connections: run.connections, pipeline: run.pipeline, warmupSeconds: options.warmupSeconds,
        seconds: options.seconds, valueBytes: VALUE_BYTES, keySpace: options.keys, drainTimeoutMs: LOAD_DRAIN_TIMEOUT_MS,
      };
      child.send(config);
    });
    if (window === null) throw new Error(`${run.api} load client reported without ending its window`);
    return { report, writesPerSecond: report.writes / report.seconds, window };
  } finally {
    await resources.endChild(child);
  }
}

// ---------------------------------------------------------------------------
// raftkv clusters.

async function startCluster(resources: Resources, nodes: number, storage: Storage): Promise<Cluster> {
  // In memory as `raftkv cluster --memory` does it: files in /dev/shm and no fsync. On disk: the real disk.
  const dataDir = storage === 'disk' ? diskDir(resources, 'raftkv-bench-service-').dir : memoryDir(resources, 'raftkv-bench-service-');
  const supervisor = resources.supervisor(new Supervisor({
    nodes, dataDir, durable: storage === 'disk', stateMachine: 'kv', startTimeoutMs: CLUSTER_START_TIMEOUT_MS,
  }));
  let service: Service | null = null;
  try {
    await supervisor.start();
    service = await startService(supervisor, { host: HOST, httpPort: 0, respPort: 0, adminToken: null });
    await waitForLeader(supervisor, LEADER_TIMEOUT_MS);
  } catch (error) {
    await service?.close().catch(() => undefined);
    await resources.endSupervisor(supervisor);
    resources.removeDir(dataDir);
    throw error;
  }
  return resources.cluster({ supervisor, service, dataDir });
}


/**
 * Waits until every node has the leader's term and commit index and has applied it, so a run does not start
 * with the previous run's replication backlog. Returns how long that took; past the timeout, NaN (and the run
 * goes on).
 */
async function waitQuiet(supervisor: Supervisor): Promise<number> {
  const start = performance.now();
  for (;;) {
    const statuses = await supervisor.status();
    const leader = statuses.find((s) => s.raft?.role === 'leader')?.raft ?? null;
    if (leader !== null) {
      const quiet = statuses.every((s) =>
        s.status === 'running' && s.raft !== null && s.raft.term === leader.term && s.raft.commitIndex === leader.commitIndex &&
        s.raft.appliedIndex === leader.commitIndex && s.raft.lastIndex === leader.lastIndex);
      if (quiet) return performance.now() - start;
    }
    if (performance.now() - start > QUIET_TIMEOUT_MS) {
      console.log(`  (the cluster did not converge within ${QUIET_TIMEOUT_MS} ms; the next run starts anyway)`);
      return Number.NaN;
    }
    await delay(QUIET_POLL_MS);
  }
}

interface RunRow {
  readonly api: Api;
  readonly nodes: number;
  readonly storage: Storage;
  readonly clients: number;
  readonly pipeline: number;
  readonly writesPerSecond: number;
  readonly latency: LatencySummary;
  readonly errors: Readonly<Record<string, number>>;
  readonly abandoned: number;
  readonly server: ServerSample;
  readonly clientCpuCores: number;
  /** Cores busy with neither raftkv nor the load client: other work on the machine. */
  readonly otherCores: number;
  /** How long the cluster took to converge before this run. */
  readonly quietMillis: number;
  /** RESP: socket reads the client needed per reply (1/pipeline if every batch was answered in one write). */
  readonly socketReadsPerAnswer: number | null;
  readonly histogramBase64: string;
}

function cellsFor(options: BenchOptions): { api: Api; clients: number; pipeline: number }[] {
  const cells: { api: Api; clients: number; pipeline: number }[] = [];
  for (const clients of options.clients) cells.push({ api: 'http', clients, pipeline: 1 });
  for (const pipeline of options.pipelines) for (const clients of options.clients) cells.push({ api: 'resp', clients, pipeline });
  return cells;
}

function otherCores(window: WindowSample, clientCpuCores: number): number {
  return Math.max(0, window.machineCores - (window.server?.cpuCores ?? 0) - clientCpuCores);
}

function printRow(row: RunRow): void {
  console.log(
    `  ${row.api.padEnd(4)} ${row.nodes} nodes ${row.storage.padEnd(6)} ${String(row.clients).padStart(2)} clients ` +
      `pipeline ${String(row.pipeline).padStart(2)}: ${formatRate(row.writesPerSecond).padStart(7)} writes/s, ` +
      `p50 ${formatMillis(row.latency.p50Millis)} ms, p99 ${formatMillis(row.latency.p99Millis)} ms, p999 ${formatMillis(row.latency.p999Millis)} ms` +
      `${errorCount(row.errors) > 0 ? `; errors: ${errorText(row.errors)}` : ''}${row.abandoned > 0 ? `; ${row.abandoned} unanswered at the end` : ''}` +
      `${row.server.elections > 0 ? `; ${row.server.elections} new leader${row.server.elections === 1 ? '' : 's'} elected during the run` : ''}`,
  );
}

// ---------------------------------------------------------------------------
// redis-benchmark and redis-server.

interface RedisBenchmarkRun {
  readonly requests: number;
  readonly requestsPerSecond: number;
  readonly avgMillis: number;
  readonly p50Millis: number;
  readonly p95Millis: number;
  readonly p99Millis: number;
  readonly maxMillis: number;
  readonly seconds: number;
  readonly command: string;
}

/** redis-benchmark against raftkv, and right after it the same against redis-server (the disk drifts). */
interface RedisBenchmarkPair {
  readonly nodes: number;
  readonly storage: Storage;
  readonly pipeline: number;
  readonly clients: number;
  readonly raftkv: RedisBenchmarkRun;
  readonly raftkvWindow: WindowSample;
  readonly redisServer: RedisBenchmarkRun | null;
  readonly raftkvOverRedisServer: number;
}

interface RedisTools {
  readonly benchmark: string | null;
  readonly server: string | null;
}

function redisBenchmarkArgs(port: number, requests: number, pipeline: number): string[] {
  // --csv rather than -q: the same run, and its summary adds p95, p99 and max to -q's rate and p50.
  const args = ['-h', HOST, '-p', String(port), '-t', 'set', '-n', String(requests), '-c', String(REDIS_BENCHMARK_CLIENTS), '-d', String(VALUE_BYTES), '--csv'];
  if (pipeline > 1) args.push('-P', String(pipeline));
  return args;
}

/** -n for a run of about `options.seconds` at `rate` requests/s. */
function requestsFor(options: BenchOptions, rate: number): number {
  return Math.round(Math.min(REDIS_BENCHMARK_REQUESTS_MAX, Math.max(REDIS_BENCHMARK_REQUESTS_MIN, rate * options.seconds)));
}

/** One redis-benchmark run; parses its CSV summary line. */
async function redisBenchmark(resources: Resources, binary: string, port: number, requests: number, pipeline: number): Promise<RedisBenchmarkRun> {
  const args = redisBenchmarkArgs(port, requests, pipeline);
  const started = performance.now();
  const child = resources.child(spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  try {
    const code = await new Promise<number | string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-benchmark ${args.join(' ')}: not done within ${REDIS_BENCHMARK_TIMEOUT_MS} ms`)), REDIS_BENCHMARK_TIMEOUT_MS);
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once('exit', (exitCode, signal) => {
        clearTimeout(timer);
        resolve(signal ?? exitCode ?? -1);
      });
    });
    const seconds = (performance.now() - started) / 1000;
    const line = stdout.split('\n').find((l) => l.startsWith('"SET"'));
    if (code !== 0 || line === undefined) throw new Error(`redis-benchmark ${args.join(' ')} exited with ${code}: ${(stderr || stdout).trim().slice(-400)}`);
    // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
    const fields = line.split(',').map((field) => Number(field.replace(/"/g, '')));
    const [, rps, avg, , p50, p95, p99, max] = fields as [number, number, number, number, number, number, number, number];
    if (!(rps > 0)) throw new Error(`redis-benchmark printed no rate: ${line}`);
    return {
      requests, requestsPerSecond: rps, avgMillis: avg, p50Millis: p50, p95Millis: p95, p99Millis: p99, maxMillis: max, seconds,
      command: `redis-benchmark ${args.join(' ')}`,
    };
  } finally {
    await resources.endChild(child);
  }
}

function describeRedisBenchmark(target: string, run: RedisBenchmarkRun, pipeline: number): string {
  return `  redis-benchmark SET -c ${REDIS_BENCHMARK_CLIENTS}${pipeline > 1 ? ` -P ${pipeline}` : ''} -n ${run.requests} against ${target}: ` +
    `${formatRate(run.requestsPerSecond)} requests/s, p50 ${formatMillis(run.p50Millis)} ms, p99 ${formatMillis(run.p99Millis)} ms`;
}

interface RedisServer {
  readonly child: ChildProcess;
  readonly port: number;
  readonly dir: string;
  readonly fsType: string;
  /** The latest measured rate per pipeline depth: sizes the next run's -n. */
  readonly rates: Map<number, number>;
}

/** redis-server on a free loopback port, AOF with fsync on every write, on the same disk as raftkv's on-disk runs. */
async function startRedisServer(resources: Resources, binary: string): Promise<RedisServer> {
  const { dir, fsType } = diskDir(resources, 'raftkv-bench-redis-');
  const port = await freePort();
  const child = resources.child(spawn(binary, [
    '--port', String(port), '--bind', HOST, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--dir', dir,
    // No background AOF rewrite in the middle of a run.
    '--auto-aof-rewrite-percentage', '0', '--daemonize', 'no',
  ], { stdio: ['ignore', 'ignore', 'pipe'] }));
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const deadline = Date.now() + REDIS_SERVER_START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`redis-server exited at start: ${stderr.trim().slice(-400)}`);
    if (await answersPing(port)) return { child, port, dir, fsType, rates: new Map() };
    if (Date.now() > deadline) {
      await resources.endChild(child);
      throw new Error(`redis-server did not answer PING on port ${port} within ${REDIS_SERVER_START_TIMEOUT_MS} ms`);
    }
    await delay(50);
  }
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port });
    let answer = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG'));
    });
  });
}

async function stopRedisServer(resources: Resources, server: RedisServer): Promise<void> {
  await resources.endChild(server.child);
  resources.removeDir(server.dir);
}

function probeRequests(pipeline: number): number {
  return pipeline > 1 ? REDIS_BENCHMARK_PROBE_REQUESTS.pipelined : REDIS_BENCHMARK_PROBE_REQUESTS.unpipelined;
}

/** A short run per pipeline depth, so the paired runs' -n can be sized. */
async function probeRedisServer(resources: Resources, options: BenchOptions, binary: string, server: RedisServer): Promise<void> {
  for (const pipeline of options.pipelines) {
    const probe = await redisBenchmark(resources, binary, server.port, probeRequests(pipeline), pipeline);
    server.rates.set(pipeline, probe.requestsPerSecond);
    console.log(`  redis-server (appendonly yes, appendfsync always, ${tmpdir()}): probe ${describeRedisBenchmark('it', probe, pipeline).trim().replace(/^redis-benchmark /, '')}`);
  }
}

async function runRedisBenchmarkPair(
  resources: Resources,
  options: BenchOptions,
  tools: RedisTools,
  run: { cluster: Cluster; nodes: number; storage: Storage; pipeline: number; estimate: number | null; redisServer: RedisServer | null },
): Promise<RedisBenchmarkPair> {
  const binary = tools.benchmark as string;
  const port = run.cluster.service.resp.port;
  const estimate = run.estimate ?? (await redisBenchmark(resources, binary, port, probeRequests(run.pipeline), run.pipeline)).requestsPerSecond;
  await waitQuiet(run.cluster.supervisor);
  const probe = new WindowProbe(run.cluster);
  probe.start();
  const raftkv = await redisBenchmark(resources, binary, port, requestsFor(options, estimate), run.pipeline);
  const raftkvWindow = probe.end();
  const elections = raftkvWindow.server?.elections ?? 0;
  console.log(`${describeRedisBenchmark(`raftkv ${run.nodes} nodes ${run.storage}`, raftkv, run.pipeline)}${elections > 0 ? `; ${elections} new leaders elected during the run` : ''}`);
  let redisServer: RedisBenchmarkRun | null = null;
  if (run.redisServer !== null) {
    const rate = run.redisServer.rates.get(run.pipeline) ?? raftkv.requestsPerSecond;
    redisServer = await redisBenchmark(resources, binary, run.redisServer.port, requestsFor(options, rate), run.pipeline);
    run.redisServer.rates.set(run.pipeline, redisServer.requestsPerSecond);
    console.log(`${describeRedisBenchmark('redis-server right after', redisServer, run.pipeline)}: raftkv/redis-server ${formatRatio(raftkv.requestsPerSecond / redisServer.requestsPerSecond)}`);
  }
  return {
    nodes: run.nodes, storage: run.storage, pipeline: run.pipeline, clients: REDIS_BENCHMARK_CLIENTS, raftkv, raftkvWindow, redisServer,
    raftkvOverRedisServer: redisServer === null ? Number.NaN : raftkv.requestsPerSecond / redisServer.requestsPerSecond,
  };
}

// ---------------------------------------------------------------------------
// The bare HTTP server.

async function startBareHttp(resources: Resources): Promise<{ child: ChildProcess; port: number }> {
  const child = forkFixture(resources, FIXTURES.bareHttp);
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bare HTTP server: not listening within ${LOAD_START_TIMEOUT_MS} ms`)), LOAD_START_TIMEOUT_MS);
    child.once('message', (message: BareHttpMessage) => {
      clearTimeout(timer);
      resolve(message.port);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`bare HTTP server exited with ${code} at start`));
    });
  });
  return { child, port };
}

interface BareHttpResult {
  readonly clients: number;
  readonly writesPerSecond: number;
  readonly latency: LatencySummary;
  readonly errors: Readonly<Record<string, number>>;
  readonly clientCpuCores: number;
  /** Cores busy besides the load client: the bare server, and other work on the machine. */
  readonly otherCores: number;
}

async function runBareHttp(resources: Resources, options: BenchOptions): Promise<BareHttpResult> {
  const bare = await startBareHttp(resources);
  try {
    const result = await runLoad(resources, options, { api: 'http', port: bare.port, connections: options.bareHttpClients, pipeline: 1, cluster: null });
    const out: BareHttpResult = {
      clients: options.bareHttpClients, writesPerSecond: result.writesPerSecond, latency: result.report.latency, errors: result.report.errors,
      clientCpuCores: result.report.clientCpuCores, otherCores: otherCores(result.window, result.report.clientCpuCores),
    };
    console.log(
      `  bare Node.js HTTP server, ${out.clients} clients: ${formatRate(out.writesPerSecond)} PUTs/s, p50 ${formatMillis(out.latency.p50Millis)} ms, ` +
        `p99 ${formatMillis(out.latency.p99Millis)} ms (load client ${out.clientCpuCores.toFixed(2)} cores, server and the rest ${out.otherCores.toFixed(2)})`,
    );
    return out;
  } finally {
    await resources.endChild(bare.child);
  }
}

// ---------------------------------------------------------------------------

interface ClusterRuns {
  readonly rows: RunRow[];
  readonly redisBenchmark: RedisBenchmarkPair[];
}

async function runClusterMatrix(
  resources: Resources,
  options: BenchOptions,
  tools: RedisTools,
  redisServer: RedisServer | null,
  nodes: number,
  storage: Storage,
): Promise<ClusterRuns> {
  const startedAt = performance.now();
  const cluster = await startCluster(resources, nodes, storage);
  const rows: RunRow[] = [];
  const pairs: RedisBenchmarkPair[] = [];
  try {
    console.log(`  ${nodes} nodes ${storage}: cluster up in ${((performance.now() - startedAt) / 1000).toFixed(1)} s (HTTP :${cluster.service.http.port}, RESP :${cluster.service.resp.port})`);
    for (const cell of cellsFor(options)) {
      const quietMillis = await waitQuiet(cluster.supervisor);
      const port = cell.api === 'http' ? cluster.service.http.port : cluster.service.resp.port;
      const result = await runLoad(resources, options, { api: cell.api, port, connections: cell.clients, pipeline: cell.pipeline, cluster });
      const server = result.window.server;
      if (server === null) throw new Error('a raftkv run must sample the raftkv process');
      const row: RunRow = {
        api: cell.api, nodes, storage, clients: cell.clients, pipeline: cell.pipeline, writesPerSecond: result.writesPerSecond,
        latency: result.report.latency, errors: result.report.errors, abandoned: result.report.abandoned, server,
        clientCpuCores: result.report.clientCpuCores, otherCores: otherCores(result.window, result.report.clientCpuCores), quietMillis,
        socketReadsPerAnswer: result.report.socketReadsPerAnswer, histogramBase64: result.report.histogramBase64,
      };
      rows.push(row);
      printRow(row);
    }
    if (tools.benchmark !== null) {
      for (const pipeline of options.pipelines) {
        // The RESP run with the most clients at this depth says how many requests fill the run's seconds.
        const like = rows.filter((r) => r.api === 'resp' && r.pipeline === pipeline).sort((a, b) => b.clients - a.clients)[0];
        pairs.push(await runRedisBenchmarkPair(resources, options, tools, { cluster, nodes, storage, pipeline, estimate: like?.writesPerSecond ?? null, redisServer }));
      }
    }
  } finally {
    await resources.endCluster(cluster);
  }
  return { rows, redisBenchmark: pairs };
}

function printSummary(options: BenchOptions, rows: readonly RunRow[], pairs: readonly RedisBenchmarkPair[], bare: BareHttpResult, tools: RedisTools): void {
  printTable(
    `1. Writes through raftkv's front doors: ${VALUE_BYTES}-byte values, ${options.seconds} s after ${options.warmupSeconds} s of warm-up; ` +
      `latency = request sent to answer read, closed loop, ${LATENCY_RECORDER}; load from a separate process`,
    ['api', 'nodes', 'storage', 'clients', 'pipeline', 'writes/s', 'p50 ms', 'p99 ms', 'p999 ms', 'errors', 'elections', 'raftkv CPU', 'CPU µs/write', 'router loop', 'cmds/proposal', 'client CPU', 'other CPU'],
    rows.map((r) => [
      r.api === 'http' ? 'HTTP' : 'RESP', String(r.nodes), r.storage, String(r.clients), String(r.pipeline),
      formatRate(r.writesPerSecond), formatMillis(r.latency.p50Millis), formatMillis(r.latency.p99Millis), formatMillis(r.latency.p999Millis),
      formatRate(errorCount(r.errors) + r.abandoned), String(r.server.elections), r.server.cpuCores.toFixed(2), formatRate((r.server.cpuCores * 1e6) / r.writesPerSecond),
      `${(r.server.routerLoopBusy * 100).toFixed(0)}%`,
      r.server.commandsPerProposal.toFixed(1), r.clientCpuCores.toFixed(2), Number.isFinite(r.otherCores) ? r.otherCores.toFixed(2) : '-',
    ]),
  );
  console.log(
    `   storage disk: ${tmpdir()}, fdatasync before every acknowledgement; memory: /dev/shm, no fsync. elections: leaders elected during\n` +
      `   the run (election timeout 150-300 ms: a leader whose thread stalls that long loses its leadership). CPU in cores of ${cpus().length}:\n` +
      '   raftkv = this process (router + every node worker thread); router loop = busy share of the main thread (router, HTTP and RESP\n' +
      '   servers); CPU µs/write = raftkv CPU per acknowledged write; cmds/proposal = client commands the router sent to the leader in one\n' +
      '   proposal; client = the load-client process; other = the rest of the machine (anything else running slows every figure).',
  );
  const pipelined = rows.filter((r) => r.api === 'resp' && r.pipeline > 1 && r.socketReadsPerAnswer !== null);
  if (pipelined.length > 0) {
    console.log(
      `   RESP ${pipelined[0]?.pipeline}-deep pipelines: the client needed ${pipelined.map((r) => (r.socketReadsPerAnswer as number).toFixed(2)).join(', ')} socket reads per reply ` +
        `(${(1 / (pipelined[0]?.pipeline ?? 1)).toFixed(2)} if every batch's replies came in one write, 1 if every reply came alone)`,
    );
  }
  for (const r of rows.filter((row) => errorCount(row.errors) + row.abandoned > 0)) {
    console.log(`   errors in ${r.api} ${r.nodes} nodes ${r.storage} ${r.clients} clients pipeline ${r.pipeline}: ${errorText(r.errors)}${r.abandoned > 0 ? `, ${r.abandoned} unanswered` : ''}`);
  }

  if (pairs.length > 0) {
    const ceiling = tools.server === null
      ? 'no redis-server to compare with (not installed)'
      : 'each raftkv run is followed by the same against one redis-server (appendonly yes, appendfsync always, same disk): the single-node ceiling';
    printTable(
      `2. redis-benchmark's own figures: SET, ${REDIS_BENCHMARK_CLIENTS} clients, ${VALUE_BYTES}-byte values, -n sized for about ${options.seconds} s; ${ceiling}`,
      ['raftkv nodes', 'storage', '-P', 'raftkv req/s', 'p50 ms', 'p99 ms', 'redis-server req/s', 'p50 ms', 'p99 ms', 'raftkv/redis-server'],
      pairs.map((p) => [
        String(p.nodes), p.storage, String(p.pipeline), formatRate(p.raftkv.requestsPerSecond), formatMillis(p.raftkv.p50Millis), formatMillis(p.raftkv.p99Millis),
        p.redisServer === null ? '-' : formatRate(p.redisServer.requestsPerSecond), p.redisServer === null ? '-' : formatMillis(p.redisServer.p50Millis),
        p.redisServer === null ? '-' : formatMillis(p.redisServer.p99Millis), formatRatio(p.raftkvOverRedisServer),
      ]),
    );
  }

  const httpRows = rows.filter((r) => r.api === 'http' && r.clients === bare.clients);
  printTable(
    `3. The physical limit of HTTP here: a bare Node.js server answering 200 to every PUT (own process), the same load client, ${bare.clients} connections`,
    ['server', 'nodes', 'storage', 'writes/s', 'p50 ms', 'p99 ms', 'p999 ms', 'x bare HTTP'],
    [
      ['bare http.createServer', '-', '-', formatRate(bare.writesPerSecond), formatMillis(bare.latency.p50Millis), formatMillis(bare.latency.p99Millis), formatMillis(bare.latency.p999Millis), '1.00'],
      ...httpRows.map((r) => [
        'raftkv HTTP API', String(r.nodes), r.storage, formatRate(r.writesPerSecond), formatMillis(r.latency.p50Millis), formatMillis(r.latency.p99Millis),
        formatMillis(r.latency.p999Millis), formatRatio(r.writesPerSecond / bare.writesPerSecond),
      ]),
    ],
  );
  const missing = missingToolsMessage(tools);
  if (missing !== '') console.log(`\n${missing}`);
}

function missingToolsMessage(tools: RedisTools): string {
  if (tools.benchmark === null) return 'redis-benchmark not found on PATH: every redis-benchmark run is skipped (apt-get install -y redis-tools)';
  if (tools.server === null) return 'redis-server not found on PATH: the redis-server comparison is skipped (apt-get install -y redis-server)';
  return '';
}

async function main(): Promise<void> {
  const options = readOptions();
  const started = performance.now();
  const tools: RedisTools = { benchmark: findExecutable('redis-benchmark'), server: findExecutable('redis-server') };
  console.log(
    `service bench${options.quick ? ' (--quick)' : ''}: node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}); ` +
      `nodes ${options.nodes.join(',')}, storage ${options.storages.join(',')}, clients ${options.clients.join(',')}, RESP pipeline ${options.pipelines.join(',')}; ` +
      `load average ${formatLoad()} (other work on the machine slows every figure)`,
  );
  console.log(`latencies: ${LATENCY_RECORDER}; on-disk data in ${tmpdir()}, in-memory data in /dev/shm`);
  const missing = missingToolsMessage(tools);
  if (missing !== '') console.log(missing);
  const loadAverageStart = loadavg();
  const resources = new Resources();
  // Ctrl-C or kill: stop every cluster and child process and remove the temp folders before going.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void resources.releaseAll().finally(() => process.exit(130));
    });
  }
  const rows: RunRow[] = [];
  const pairs: RedisBenchmarkPair[] = [];
  let bare: BareHttpResult | null = null;
  let redisServerDisk: { dir: string; fsType: string } | null = null;
  try {
    console.log('\nlimits');
    bare = await runBareHttp(resources, options);
    const redisServer = tools.benchmark !== null && tools.server !== null ? await startRedisServer(resources, tools.server) : null;
    try {
      if (redisServer !== null) {
        redisServerDisk = { dir: redisServer.dir, fsType: redisServer.fsType };
        await probeRedisServer(resources, options, tools.benchmark as string, redisServer);
      }
      for (const nodes of options.nodes) {
        for (const storage of options.storages) {
          console.log('');
          const runs = await runClusterMatrix(resources, options, tools, redisServer, nodes, storage);
          rows.push(...runs.rows);
          pairs.push(...runs.redisBenchmark);
        }
      }
    } finally {
      if (redisServer !== null) await stopRedisServer(resources, redisServer);
    }
  } finally {
    await resources.releaseAll();
  }
  if (bare === null) throw new Error('unreachable: the bare HTTP baseline runs first');
  printSummary(options, rows, pairs, bare, tools);
  const seconds = (performance.now() - started) / 1000;
  console.log(`\ntotal ${seconds.toFixed(1)} s; load average ${formatLoad()}`);
  fs.mkdirSync(dirname(RESULTS_PATH), { recursive: true });
  const report = {
    benchmark: 'service',
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? null,
    valueBytes: VALUE_BYTES,
    latencyRecorder: LATENCY_RECORDER,
    options,
    redisTools: tools,
    diskDir: tmpdir(),
    redisServerDisk,
    totalSeconds: seconds,
    loadAverageStart,
    loadAverageEnd: loadavg(),
    runs: rows,
    redisBenchmark: pairs,
    bareHttp: bare,
  };
  fs.writeFileSync(RESULTS_PATH, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`wrote ${RESULTS_PATH}`);
}

await main();
