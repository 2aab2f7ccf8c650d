// An etcd cluster on loopback for the benchmarks that put raftkv beside etcd (bench/suites/failover.ts).
//
// Every member is an `etcd` process of its own on 127.0.0.1 with two free ports (client, peer) and a data folder
// under the caller's dataDir; etcd keeps its durability defaults (it fsyncs its WAL before acknowledging). The
// benchmarks talk to it through etcd's JSON gateway (grpc-gateway), which etcd 3.4 serves on the client port:
//
//   POST /v3/kv/put             {"key": base64, "value": base64}  -> 200 {"header": {...}}
//   POST /v3/kv/range           {"key": base64}                   -> 200 {"header": {...}, "kvs": [...]}  (linearizable by default)
//   POST /v3/maintenance/status {}                                -> 200 {"header": {"member_id": "..."}, "leader": "...", ...}
//   GET  /health                                                  -> 200 {"health": "true"} once the member has a leader
//
// (member ids are uint64 written as decimal strings; an error is a non-200 answer {"error", "message", "code"}.)
// Readiness is polled, never slept for. Every process started here is SIGKILLed when this process exits.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { delimiter, join } from 'node:path';
import { delay } from '../../src/util/async.js';
import { HOST, freePorts, killPid } from '../lib/resources.js';

/** etcd's --heartbeat-interval and --election-timeout (a follower campaigns after 1 to 2 election timeouts of silence). */
export interface EtcdTiming {
  readonly heartbeatMs: number;
  readonly electionMs: number;
}

/** etcd's own defaults. */
export const ETCD_DEFAULT_TIMING: EtcdTiming = { heartbeatMs: 100, electionMs: 1000 };
/** Tuned for a low-latency network (loopback), near raftkv's 150-300 ms; etcd wants election >= 5 x heartbeat. */
export const ETCD_TUNED_TIMING: EtcdTiming = { heartbeatMs: 50, electionMs: 300 };

export const ETCD_INSTALL_HINT =
  'etcd not found (looked on PATH, in /usr/bin and /usr/local/bin): install it with `apt-get install etcd-server` (Debian/Ubuntu; ' +
  'etcdctl is in etcd-client) or take a release binary from https://github.com/etcd-io/etcd/releases';

/** How long a member may take to answer /health after it is spawned (a slow shared disk makes the first fsyncs slow). */
const READY_TIMEOUT_MS = 30_000;
const READY_POLL_MS = 50;
const STATUS_TIMEOUT_MS = 1_000;
const STDERR_LINES_KEPT = 40;
const EXIT_TIMEOUT_MS = 5_000;

/** The path of the etcd binary, or null: PATH first, then the usual install folders. */
export function findEtcd(): string | null {
  const folders = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/local/bin'];
  for (const folder of folders) {
    if (folder === '') continue;
    const candidate = join(folder, 'etcd');
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

// ---------------------------------------------------------------------------
// HTTP on loopback, shared with the benchmarks that probe these clusters.

export interface HttpReply {
  readonly status: number;
  readonly body: string;
}

export interface HttpCall {
  readonly method: 'GET' | 'POST' | 'PUT';
  readonly url: string;
  readonly body?: string;
  /** The whole exchange, connect to last byte; past it the request is destroyed and the call rejects. */
  readonly timeoutMs: number;
  readonly agent?: http.Agent;
  /** Aborting rejects the call and destroys the request. */
  readonly signal?: AbortSignal;
}

/** One HTTP request; rejects on a network error, a timeout or an abort, resolves with any status. */
export function httpRequest(call: HttpCall): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const body = call.body ?? '';
    const request = http.request(call.url, {
      method: call.method,
      agent: call.agent ?? false,
      headers: body === '' ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      ...(call.signal === undefined ? {} : { signal: call.signal }),
    });
    const timer = setTimeout(
      () => request.destroy(new Error(`${call.method} ${call.url}: no answer within ${call.timeoutMs} ms`)),
      call.timeoutMs,
    );
    request.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    request.once('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      response.once('end', () => {
        clearTimeout(timer);
        resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    request.end(body);
  });
}

/** The JSON of a reply body, or null if it is not JSON (the shape is the caller's claim). */
export function parseJson<T>(text: string): T | null {
  try {
    return JSON.parse(text) as T;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------
// Every etcd process alive, so none outlives this process (an 'exit' handler can only run synchronous code).

const livePids = new Set<number>();
let exitHandlerInstalled = false;

function trackPid(pid: number): void {
  livePids.add(pid);
  if (exitHandlerInstalled) return;
  exitHandlerInstalled = true;
  process.once('exit', killAllEtcd);
}

/** SIGKILLs every etcd process this module started that is still alive (for signal handlers; clusters' stop() is the usual way). */
export function killAllEtcd(): void {
  for (const alive of livePids) killPid(alive, 'SIGKILL');
}

// ---------------------------------------------------------------------------

export interface EtcdMember {
  readonly name: string;
  /** http://127.0.0.1:PORT: the client API and the JSON gateway. */
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  /** The current process's PID; null before the first start. */
  readonly pid: number | null;
  /** Spawned and not killed or exited. */
  readonly running: boolean;
  /** etcd's member id (decimal uint64, as the gateway writes it), once a status answer named it. */
  readonly id: string | null;
}

class Member implements EtcdMember {
  pid: number | null = null;
  running = false;
  id: string | null = null;
  child: ChildProcess | null = null;
  exited: Promise<void> = Promise.resolve();
  /** The last lines etcd wrote to stderr, for the message of a failed start. */
  readonly stderrTail: string[] = [];

  constructor(
    readonly name: string,
    readonly clientUrl: string,
    readonly peerUrl: string,
    readonly dataDir: string,
  ) {}
}

export interface EtcdClusterOptions {
  readonly members: number;
  /** The members' data folders go below it (one per member); the caller owns and removes it. */
  readonly dataDir: string;
  readonly timing?: EtcdTiming;
  /** The etcd binary (default: findEtcd()). */
  readonly binary?: string;
  /** Every stderr line of every member, prefixed with its name, and the cluster's own events. */
  readonly log?: (line: string) => void;
}

interface StatusAnswer {
  readonly header?: { readonly member_id?: string };
  readonly leader?: string;
  /** uint64s as decimal strings, like every int64 the gateway writes. */
  readonly raftIndex?: string;
  readonly raftAppliedIndex?: string;
}

export class EtcdCluster {
  readonly members: readonly EtcdMember[];
  readonly timing: EtcdTiming;
  private readonly all: readonly Member[];
  private readonly binary: string;
  private readonly token = `raftkv-bench-${randomBytes(6).toString('hex')}`;
  private readonly log: (line: string) => void;
  private stopped = false;

  private constructor(options: EtcdClusterOptions, ports: readonly number[], binary: string) {
    this.timing = options.timing ?? ETCD_DEFAULT_TIMING;
    this.binary = binary;
    this.log = options.log ?? (() => {});
    this.all = Array.from({ length: options.members }, (_, i) => {
      const name = `etcd${i + 1}`;
      return new Member(name, `http://${HOST}:${ports[2 * i]}`, `http://${HOST}:${ports[2 * i + 1]}`, join(options.dataDir, name));
    });
    this.members = this.all;
  }

  /** Spawns every member and resolves once each answers /health (so a leader exists), or stops them all and throws. */
  static async start(options: EtcdClusterOptions): Promise<EtcdCluster> {
    if (!Number.isInteger(options.members) || options.members < 1)
      throw new RangeError(`members must be a positive integer, got ${options.members}`);
    const binary = options.binary ?? findEtcd();
    if (binary === null) throw new Error(ETCD_INSTALL_HINT);
    const timing = options.timing ?? ETCD_DEFAULT_TIMING;
    if (timing.electionMs < 5 * timing.heartbeatMs)
      throw new RangeError(`etcd wants electionMs >= 5 x heartbeatMs, got ${timing.heartbeatMs}/${timing.electionMs}`);
    fs.mkdirSync(options.dataDir, { recursive: true });
    const cluster = new EtcdCluster(options, await freePorts(2 * options.members), binary);
    try {
      for (const member of cluster.all) cluster.spawn(member, 'new');
      const deadline = Date.now() + READY_TIMEOUT_MS;
      await Promise.all(cluster.all.map((member) => cluster.waitHealthy(member, deadline)));
      await cluster.leader(READY_TIMEOUT_MS);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  clientUrls(): string[] {
    return this.all.filter((m) => m.running).map((m) => m.clientUrl);
  }

  /**
   * The member a majority of the cluster reports as leader (maintenance/status on every running member), waiting
   * for one up to `timeoutMs`.
   */
  async leader(timeoutMs: number): Promise<EtcdMember> {
    const deadline = Date.now() + timeoutMs;
    const quorum = Math.floor(this.all.length / 2) + 1;
    for (;;) {
      const answers = await Promise.all(this.all.filter((m) => m.running).map((m) => this.status(m)));
      const votes = new Map<string, number>();
      for (const answer of answers) {
        if (answer?.leader === undefined || answer.leader === '0') continue;
        votes.set(answer.leader, (votes.get(answer.leader) ?? 0) + 1);
      }
      for (const [id, count] of votes) {
        const member = this.all.find((m) => m.id === id);
        if (count >= quorum && member?.running === true) return member;
      }
      if (Date.now() > deadline)
        throw new Error(`etcd: no leader a majority agrees on within ${timeoutMs} ms (${JSON.stringify([...votes])})`);
      await delay(READY_POLL_MS);
    }
  }

  /**
   * Waits until every running member has applied what the leader's log held at the call (maintenance/status:
   * raftAppliedIndex against the leader's raftIndex), so a lagging member does not slow what is measured next.
   */
  async waitCaughtUp(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let target = Number.NaN;
    for (;;) {
      if (Number.isNaN(target)) target = Number((await this.status(this.own(await this.leader(timeoutMs))))?.raftIndex ?? Number.NaN);
      const running = this.all.filter((m) => m.running);
      const applied = await Promise.all(running.map(async (m) => Number((await this.status(m))?.raftAppliedIndex ?? Number.NaN)));
      if (applied.every((index) => index >= target)) return;
      if (Date.now() > deadline)
        throw new Error(`etcd: members applied ${applied.join(', ')}, not the leader's ${target}, within ${timeoutMs} ms`);
      await delay(READY_POLL_MS);
    }
  }

  /** SIGKILL, as kill -9: the member stops at once, without a word to its peers. */
  kill(member: EtcdMember): void {
    const m = this.own(member);
    if (!m.running || m.pid === null) return;
    m.running = false;
    killPid(m.pid, 'SIGKILL');
  }

  /** Starts a killed member again on its data folder and resolves once it answers /health. */
  async restart(member: EtcdMember): Promise<void> {
    const m = this.own(member);
    if (m.running) throw new Error(`${m.name} is running`);
    await m.exited;
    this.spawn(m, 'existing');
    await this.waitHealthy(m, Date.now() + READY_TIMEOUT_MS);
  }

  /** SIGKILLs every member and waits for them to exit; the data folders stay (the caller owns them). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const m of this.all) {
      if (m.pid !== null && m.child !== null && m.child.exitCode === null && m.child.signalCode === null) killPid(m.pid, 'SIGKILL');
      m.running = false;
    }
    await Promise.all(this.all.map((m) => Promise.race([m.exited, delay(EXIT_TIMEOUT_MS)])));
  }

  // -------------------------------------------------------------------------

  private own(member: EtcdMember): Member {
    const m = this.all.find((candidate) => candidate === member || candidate.name === member.name);
    if (m === undefined) throw new Error(`${member.name} is not a member of this cluster`);
    return m;
  }

  private spawn(m: Member, state: 'new' | 'existing'): void {
    if (this.stopped) throw new Error('the etcd cluster is stopped');
    const args = [
      '--name',
      m.name,
      '--data-dir',
      m.dataDir,
      '--listen-client-urls',
      m.clientUrl,
      '--advertise-client-urls',
      m.clientUrl,
      '--listen-peer-urls',
      m.peerUrl,
      '--initial-advertise-peer-urls',
      m.peerUrl,
      '--initial-cluster',
      this.all.map((other) => `${other.name}=${other.peerUrl}`).join(','),
      '--initial-cluster-token',
      this.token,
      '--initial-cluster-state',
      state,
      '--heartbeat-interval',
      String(this.timing.heartbeatMs),
      '--election-timeout',
      String(this.timing.electionMs),
      '--logger',
      'zap',
      '--log-outputs',
      'stderr',
      '--log-level',
      'error',
    ];
    const child = spawn(this.binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    if (child.pid === undefined) throw new Error(`could not start ${this.binary}`);
    const pid = child.pid;
    trackPid(pid);
    m.child = child;
    m.pid = pid;
    m.running = true;
    m.stderrTail.length = 0;
    let partial = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (line === '') continue;
        m.stderrTail.push(line);
        if (m.stderrTail.length > STDERR_LINES_KEPT) m.stderrTail.shift();
        this.log(`${m.name}: ${line}`);
      }
    });
    m.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        livePids.delete(pid);
        if (m.child === child) {
          if (m.running && !this.stopped) this.log(`${m.name}: exited by itself (code ${code}, signal ${signal})`);
          m.running = false;
        }
        resolve();
      });
    });
    child.once('error', (error) => this.log(`${m.name}: ${error.message}`));
  }

  /** Polls /health until it says true; throws if the member exits or the deadline passes, with its last stderr lines. */
  private async waitHealthy(m: Member, deadline: number): Promise<void> {
    for (;;) {
      if (!m.running) throw new Error(`${m.name} exited while starting:\n${m.stderrTail.join('\n')}`);
      const reply = await httpRequest({ method: 'GET', url: `${m.clientUrl}/health`, timeoutMs: STATUS_TIMEOUT_MS }).catch(() => null);
      if (reply?.status === 200 && parseJson<{ health?: string }>(reply.body)?.health === 'true') {
        await this.status(m); // learn its member id
        return;
      }
      if (Date.now() > deadline)
        throw new Error(`${m.name} not healthy after ${READY_TIMEOUT_MS} ms; last stderr lines:\n${m.stderrTail.join('\n')}`);
      await delay(READY_POLL_MS);
    }
  }

  /** maintenance/status of one member (and so its member id), or null if it does not answer. */
  private async status(m: Member): Promise<StatusAnswer | null> {
    const reply = await httpRequest({
      method: 'POST',
      url: `${m.clientUrl}/v3/maintenance/status`,
      body: '{}',
      timeoutMs: STATUS_TIMEOUT_MS,
    }).catch(() => null);
    if (reply?.status !== 200) return null;
    const answer = parseJson<StatusAnswer>(reply.body);
    const id = answer?.header?.member_id;
    if (id !== undefined) m.id = id;
    return answer;
  }
}
