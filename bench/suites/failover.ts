// Failover time, raftkv beside etcd in the same run: with a client writing continuously, kill -9 the leader and
// time how long until the next write is acknowledged.
//
//   npx tsx bench/suites/failover.ts [--kills 20] [--nodes 3] [--no-etcd]
//
// Three series of `kills` samples each, one cluster of `nodes` members per series, all on the real disk with
// fsync before every acknowledgement:
//   raftkv                      a Supervisor cluster in this process with its router's HTTP API (as in
//                               bench/service.bench.ts); kill = supervisor.kill(leader), which terminates the
//                               worker thread: the actor's kill -9. Election timeout 150-300 ms.
//   etcd default 100/1000 ms    etcd processes on loopback (bench/peers/etcd.ts), etcd's own timing: a follower
//                               campaigns after 1000-2000 ms without a heartbeat. kill = SIGKILL.
//   etcd tuned 50/300 ms        the same with --heartbeat-interval 50 --election-timeout 300 (300-600 ms).
//
// The probe is the same for both systems: small writes over HTTP to one key, one at a time while they are
// answered promptly (a client writing continuously). raftkv: PUT /v1/kv/failover on the router, which hides the
// leader; etcd: POST /v3/kv/put on its JSON gateway, round robin over every member, the killed one included (a
// client learns a member is down only from its refused connection, never from the harness).
//
// What each side learns of the kill, and from where: etcd's probe only from errors and timeouts (a refused
// connection to the dead member, a write forwarded by a follower to the dead leader that goes unanswered). raftkv's
// router learns more than a client could: the supervisor in its process detaches the killed worker at once (its
// client port closes, like a refused connection: fair) and, after an attempt fails, the router asks the supervisor
// who leads now (Supervisor.leaderId, pushed by the new leader's role event the moment it wins): a client would
// have to find the new leader by trying members and following their hints. Removing that needs a change in
// src/router (see docs/BENCHMARKS.md, Failover). An attempt is
// abandoned after ATTEMPT_TIMEOUT_MS; a failed one is retried after RETRY_PAUSE_MS; and while an attempt goes
// unanswered for HEDGE_MS another one starts beside it (at most MAX_IN_FLIGHT): an etcd follower forwards a
// write to the leader it knows, and one forwarded to the dead leader is lost without an answer, so a lone
// attempt would have to sit out its whole timeout and the figure would carry up to ATTEMPT_TIMEOUT_MS of the
// probe's own granularity.
//
// The rule: t_kill is the moment the kill is called. Every attempt still in flight once the kill has taken
// effect (raftkv: the worker has terminated, which takes a few ms; etcd: kill(2) has returned) is abandoned and
// does not count, even if an answer comes later, since it may have been answered by the old leader. Failover =
// from t_kill to the acknowledgement of the first attempt started after the kill took effect. After each sample
// the killed member is started again on its data and the cluster is left to settle (leader known, every member
// caught up, QUIET_ACKS more writes acknowledged) before the next kill.
//
// The probe shares this process's event loop with the raftkv router (as a client of an in-process cluster must);
// the nodes themselves are worker threads. Median and p99 are nearest-rank (bench/lib/stats.ts): with fewer than
// 100 samples the p99 is the maximum. Results go to bench/results/failover.json.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SUPERVISOR_DEFAULTS } from '../../src/actor/supervisor.js';
import { withTimeout } from '../../src/util/async.js';
import {
  describeMachine,
  formatLoadAverage,
  formatMillis,
  isMainModule,
  machineFields,
  positiveInteger,
  printTable,
  waitForLeader,
  writeResults,
} from '../bench-util.js';
import {
  ETCD_DEFAULT_TIMING,
  ETCD_INSTALL_HINT,
  ETCD_TUNED_TIMING,
  EtcdCluster,
  findEtcd,
  httpRequest,
  killAllEtcd,
  type EtcdTiming,
  type HttpReply,
} from '../peers/etcd.js';
import { startRaftkv, waitConverged } from '../lib/cluster.js';
import { HOST, isTmpfs } from '../lib/resources.js';
import { distribution } from '../lib/stats.js';

export interface FailoverOptions {
  /** Leader kills per series. */
  readonly kills: number;
  /** Cluster size, the same for every series. */
  readonly nodes: number;
  /** Every series' data folder goes below it (each removed when its series ends); the caller owns it. */
  readonly dataRoot: string;
  readonly log: (line: string) => void;
  /** Also measure etcd (with its default and with tuned timing); skipped, with ETCD_INSTALL_HINT logged, without the binary. */
  readonly etcd: boolean;
  /** The etcd binary (default: findEtcd()). */
  readonly etcdBinary?: string;
}

export interface FailoverSample {
  /** From calling kill to the acknowledgement of the first write started after the kill took effect. */
  readonly failoverMs: number;
  /** From calling kill to the kill having taken effect (raftkv: worker terminated; etcd: kill(2) returned). */
  readonly killMs: number;
  /** Probe attempts started after the kill took effect, the acknowledged one included. */
  readonly attempts: number;
  /** Of them, how many went unanswered for ATTEMPT_TIMEOUT_MS. */
  readonly timeouts: number;
  readonly oldLeader: string;
  readonly newLeader: string;
}

export interface FailoverSeries {
  /** 'raftkv' | 'etcd default 100/1000 ms' | 'etcd tuned 50/300 ms' */
  readonly system: string;
  readonly nodes: number;
  /** How long a follower waits without hearing from a leader before it campaigns, as a range. */
  readonly electionTimeout: string;
  readonly kills: number;
  readonly samplesMs: number[];
  readonly medianMs: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly samples: readonly FailoverSample[];
}

/** An attempt unanswered this long is abandoned (its socket destroyed). */
const ATTEMPT_TIMEOUT_MS = 200;
/** While the newest attempt is unanswered this long, another starts beside it. */
const HEDGE_MS = 20;
const MAX_IN_FLIGHT = Math.ceil(ATTEMPT_TIMEOUT_MS / HEDGE_MS);
/** After a refused or failed attempt, the next starts this much later. */
const RETRY_PAUSE_MS = 2;
/** Acknowledged writes the probe must see after the cluster settled before the next kill. */
const QUIET_ACKS = 5;
const FAILOVER_TIMEOUT_MS = 30_000;
const SETTLE_TIMEOUT_MS = 30_000;
const PROBE_KEY = 'failover';
const RESULTS_PATH = fileURLToPath(new URL('../results/failover.json', import.meta.url));

// ---------------------------------------------------------------------------
// The probe.

interface ProbeTarget {
  /** The request of the probe's `seq`-th attempt. */
  request(seq: number): { readonly method: 'PUT' | 'POST'; readonly url: string; readonly body: string };
  acknowledged(reply: HttpReply): boolean;
}

interface Attempt {
  readonly startedAt: number;
  readonly abort: AbortController;
}

interface FirstAck {
  readonly at: number;
  readonly attempts: number;
  readonly timeouts: number;
}

/** A client writing continuously; see the rules at the top of this file. */
class WriteProbe {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT + 1 });
  private readonly inFlight = new Set<Attempt>();
  private seq = 0;
  private newestStart = Number.NEGATIVE_INFINITY;
  private stopped = false;
  private nextTimer: NodeJS.Timeout | null = null;
  private nextAt = Number.POSITIVE_INFINITY;
  /** Attempts started before this do not count for the pending first-ack wait. */
  private gate = Number.POSITIVE_INFINITY;
  private sinceGate = { attempts: 0, timeouts: 0 };
  private firstAckWaiter: ((ack: FirstAck) => void) | null = null;
  private acks = 0;
  private readonly ackWaiters = new Set<{ readonly until: number; readonly resolve: () => void }>();

  constructor(private readonly target: ProbeTarget) {
    this.start();
  }

  /**
   * Abandons every attempt in flight (they started before the kill took effect) and resolves with the first
   * acknowledgement of an attempt started from now on.
   */
  firstAckFromNow(timeoutMs: number): Promise<FirstAck> {
    if (this.firstAckWaiter !== null) throw new Error('one failover at a time');
    this.gate = performance.now();
    this.sinceGate = { attempts: 0, timeouts: 0 };
    for (const attempt of this.inFlight) attempt.abort.abort();
    this.inFlight.clear();
    const acked = new Promise<FirstAck>((resolveAck) => (this.firstAckWaiter = resolveAck));
    this.start();
    return withTimeout(acked, timeoutMs, 'the first write after the kill').finally(() => {
      this.firstAckWaiter = null;
      this.gate = Number.POSITIVE_INFINITY;
    });
  }

  /** Resolves once `count` more writes are acknowledged. */
  waitAcks(count: number, timeoutMs: number): Promise<void> {
    let waiter: { readonly until: number; readonly resolve: () => void } | null = null;
    const done = new Promise<void>((resolveWait) => {
      waiter = { until: this.acks + count, resolve: resolveWait };
      this.ackWaiters.add(waiter);
    });
    return withTimeout(done, timeoutMs, `${count} acknowledged writes`).finally(() => {
      if (waiter !== null) this.ackWaiters.delete(waiter);
    });
  }

  stop(): void {
    this.stopped = true;
    if (this.nextTimer !== null) clearTimeout(this.nextTimer);
    for (const attempt of this.inFlight) attempt.abort.abort();
    this.inFlight.clear();
    this.agent.destroy();
  }

  /** The next attempt no sooner than `ms` from now (an earlier one already scheduled stands). */
  private schedule(ms: number): void {
    if (this.stopped) return;
    const at = performance.now() + ms;
    if (this.nextTimer !== null && this.nextAt <= at) return;
    if (this.nextTimer !== null) clearTimeout(this.nextTimer);
    this.nextAt = at;
    this.nextTimer = setTimeout(() => {
      this.nextTimer = null;
      this.nextAt = Number.POSITIVE_INFINITY;
      this.maybeStart();
    }, ms);
  }

  /** Starts an attempt if none is in flight, or if the newest has gone HEDGE_MS without an answer. */
  private maybeStart(): void {
    if (this.stopped || this.inFlight.size >= MAX_IN_FLIGHT) return; // the next settle schedules again
    const age = performance.now() - this.newestStart;
    if (this.inFlight.size > 0 && age < HEDGE_MS) {
      this.schedule(HEDGE_MS - age);
      return;
    }
    this.start();
  }

  private start(): void {
    if (this.stopped) return;
    const attempt: Attempt = { startedAt: performance.now(), abort: new AbortController() };
    this.inFlight.add(attempt);
    this.newestStart = attempt.startedAt;
    const counts = attempt.startedAt >= this.gate;
    if (counts) this.sinceGate.attempts++;
    const { method, url, body } = this.target.request(this.seq++);
    httpRequest({ method, url, body, timeoutMs: ATTEMPT_TIMEOUT_MS, agent: this.agent, signal: attempt.abort.signal }).then(
      (reply) => this.settle(attempt, this.target.acknowledged(reply) ? 'ok' : 'refused', counts),
      () => this.settle(attempt, performance.now() - attempt.startedAt >= ATTEMPT_TIMEOUT_MS ? 'timeout' : 'failed', counts),
    );
    this.schedule(HEDGE_MS);
  }

  private settle(attempt: Attempt, outcome: 'ok' | 'refused' | 'timeout' | 'failed', counts: boolean): void {
    if (!this.inFlight.delete(attempt) || this.stopped) return; // abandoned: its answer does not count
    const at = performance.now();
    if (counts && outcome === 'timeout') this.sinceGate.timeouts++;
    if (outcome !== 'ok') {
      this.schedule(RETRY_PAUSE_MS);
      return;
    }
    this.acks++;
    for (const waiter of this.ackWaiters) if (this.acks >= waiter.until) waiter.resolve();
    if (counts && this.firstAckWaiter !== null) this.firstAckWaiter({ at, ...this.sinceGate });
    this.schedule(0);
  }
}

// ---------------------------------------------------------------------------
// The systems under test, behind one shape so both series run the same loop.

interface SystemUnderTest {
  readonly name: string;
  readonly electionTimeout: string;
  readonly target: ProbeTarget;
  /** Leader known, every member running and caught up. */
  settle(): Promise<void>;
  leader(): Promise<string>;
  /** Resolves once the kill has taken effect. */
  kill(leader: string): Promise<void>;
  restart(member: string): Promise<void>;
  close(): Promise<void>;
}

async function runSeries(system: SystemUnderTest, options: FailoverOptions): Promise<FailoverSeries> {
  const probe = new WriteProbe(system.target);
  const samples: FailoverSample[] = [];
  try {
    for (let kill = 1; kill <= options.kills; kill++) {
      await system.settle();
      await probe.waitAcks(QUIET_ACKS, SETTLE_TIMEOUT_MS);
      const oldLeader = await system.leader();
      const killAt = performance.now();
      await system.kill(oldLeader);
      const killMs = performance.now() - killAt;
      const ack = await probe.firstAckFromNow(FAILOVER_TIMEOUT_MS);
      const newLeader = await system.leader();
      const sample: FailoverSample = {
        failoverMs: ack.at - killAt,
        killMs,
        attempts: ack.attempts,
        timeouts: ack.timeouts,
        oldLeader,
        newLeader,
      };
      samples.push(sample);
      options.log(
        `  ${system.name} kill ${String(kill).padStart(2)}: ${oldLeader} -> ${newLeader}: write after ${sample.failoverMs.toFixed(0)} ms ` +
          `(kill took ${killMs.toFixed(1)} ms; ${sample.attempts} attempt${sample.attempts === 1 ? '' : 's'}, ${sample.timeouts} timed out)`,
      );
      await system.restart(oldLeader);
    }
  } finally {
    probe.stop();
  }
  const samplesMs = samples.map((s) => s.failoverMs);
  const failoverMs = distribution(samplesMs);
  return {
    system: system.name,
    nodes: options.nodes,
    electionTimeout: system.electionTimeout,
    kills: samples.length,
    samplesMs,
    medianMs: failoverMs.p50,
    p99Ms: failoverMs.p99,
    maxMs: failoverMs.max,
    samples,
  };
}

async function raftkvUnderTest(options: FailoverOptions, dataDir: string): Promise<SystemUnderTest> {
  // The router finds the new leader by probing the nodes, as etcd's client does, not from the supervisor.
  const { supervisor, service: running } = await startRaftkv({ nodes: options.nodes, dataDir, durable: true, leaderDiscovery: 'probe' });
  const electionMs = (SUPERVISOR_DEFAULTS.core.electionTicks ?? 0) * SUPERVISOR_DEFAULTS.tickMs;
  return {
    name: 'raftkv',
    electionTimeout: `${electionMs}-${2 * electionMs} ms`,
    target: {
      request: (seq) => ({ method: 'PUT', url: `http://${HOST}:${running.http.port}/v1/kv/${PROBE_KEY}`, body: String(seq) }),
      acknowledged: (reply) => reply.status === 200,
    },
    // The probe keeps writing meanwhile: settled once every node has applied what the leader had committed at the first look.
    settle: async () => {
      await waitConverged(supervisor, { timeoutMs: SETTLE_TIMEOUT_MS, whileWriting: true });
    },
    leader: () => waitForLeader(supervisor, SETTLE_TIMEOUT_MS),
    kill: (leader) => supervisor.kill(leader),
    restart: (member) => supervisor.restart(member),
    async close() {
      try {
        await running.close();
      } finally {
        await supervisor.stop();
      }
    },
  };
}

async function startEtcd(
  options: FailoverOptions,
  dataDir: string,
  binary: string,
  timing: EtcdTiming,
  label: string,
): Promise<SystemUnderTest> {
  const cluster = await EtcdCluster.start({ members: options.nodes, dataDir, timing, binary, log: options.log });
  const member = (name: string) => {
    const found = cluster.members.find((m) => m.name === name);
    if (found === undefined) throw new Error(`no etcd member ${name}`);
    return found;
  };
  const base64 = (text: string): string => Buffer.from(text).toString('base64');
  let turn = 0;
  return {
    name: `etcd ${label} ${timing.heartbeatMs}/${timing.electionMs} ms`,
    electionTimeout: `${timing.electionMs}-${2 * timing.electionMs} ms`,
    target: {
      // Every member, the killed one included: the probe learns a member is down only when its connection is
      // refused, as a client would, not from the harness that killed it.
      request: (seq) => {
        const url = cluster.members[turn++ % cluster.members.length]?.clientUrl ?? '';
        return { method: 'POST', url: `${url}/v3/kv/put`, body: JSON.stringify({ key: base64(PROBE_KEY), value: base64(String(seq)) }) };
      },
      acknowledged: (reply) => reply.status === 200 && reply.body.includes('"header"'),
    },
    settle: () => cluster.waitCaughtUp(SETTLE_TIMEOUT_MS),
    leader: async () => (await cluster.leader(SETTLE_TIMEOUT_MS)).name,
    kill: async (leader) => cluster.kill(member(leader)),
    restart: (name) => cluster.restart(member(name)),
    close: () => cluster.stop(),
  };
}

/** One series on a fresh cluster in its own folder below dataRoot, which is removed afterwards. */
async function measure(
  options: FailoverOptions,
  prefix: string,
  start: (dataDir: string) => Promise<SystemUnderTest>,
): Promise<FailoverSeries> {
  const dataDir = fs.mkdtempSync(join(options.dataRoot, prefix));
  try {
    const system = await start(dataDir);
    try {
      options.log(`${system.name}: ${options.nodes} members up, ${options.kills} leader kills`);
      return await runSeries(system, options);
    } finally {
      await system.close();
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** raftkv, then (with options.etcd and the binary) etcd with its default timing and with tuned timing. */
export async function runFailover(options: FailoverOptions): Promise<FailoverSeries[]> {
  if (!Number.isInteger(options.kills) || options.kills < 1) throw new RangeError(`kills must be a positive integer, got ${options.kills}`);
  if (!Number.isInteger(options.nodes) || options.nodes < 3)
    throw new RangeError(`a failover needs at least 3 nodes, got ${options.nodes}`);
  const series: FailoverSeries[] = [await measure(options, 'raftkv-', (dir) => raftkvUnderTest(options, dir))];
  if (!options.etcd) return series;
  const binary = options.etcdBinary ?? findEtcd();
  if (binary === null) {
    options.log(ETCD_INSTALL_HINT);
    return series;
  }
  for (const [label, timing] of [
    ['default', ETCD_DEFAULT_TIMING],
    ['tuned', ETCD_TUNED_TIMING],
  ] as const) {
    series.push(await measure(options, `etcd-${label}-`, (dir) => startEtcd(options, dir, binary, timing, label)));
  }
  return series;
}

// ---------------------------------------------------------------------------
// On its own: npx tsx bench/suites/failover.ts [--kills 20] [--nodes 3] [--no-etcd]

function etcdVersion(binary: string | null): string | null {
  if (binary === null) return null;
  try {
    return execFileSync(binary, ['--version'], { encoding: 'utf8', timeout: 5_000 }).split('\n', 1)[0] ?? null;
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      kills: { type: 'string', default: '20' },
      nodes: { type: 'string', default: '3' },
      'no-etcd': { type: 'boolean', default: false },
    },
  });
  const kills = positiveInteger('kills', values.kills);
  const nodes = positiveInteger('nodes', values.nodes);
  const etcdBinary = values['no-etcd'] === true ? null : findEtcd();
  const dataRoot = fs.mkdtempSync(join(tmpdir(), 'raftkv-bench-failover-'));
  const cleanUp = (): void => {
    killAllEtcd();
    fs.rmSync(dataRoot, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      cleanUp();
      process.exit(130);
    });
  }
  console.log(
    `failover bench: ${describeMachine()}; ${nodes} nodes, ${kills} kills per series; load average ${formatLoadAverage()}; data in ${dataRoot}`,
  );
  if (isTmpfs(dataRoot))
    console.log(`warning: ${tmpdir()} is tmpfs, so no write here reaches a disk: set TMPDIR to a folder on a real disk`);
  if (values['no-etcd'] !== true && etcdBinary === null) console.log(ETCD_INSTALL_HINT);
  const started = performance.now();
  let series: FailoverSeries[];
  try {
    series = await runFailover({
      kills,
      nodes,
      dataRoot,
      log: (line) => console.log(line),
      etcd: etcdBinary !== null,
      ...(etcdBinary === null ? {} : { etcdBinary }),
    });
  } finally {
    cleanUp();
  }
  printTable(
    `Failover: kill -9 the leader of a ${nodes}-member on-disk cluster with a client writing; time from the kill to the next acknowledged write ` +
      `(HTTP probe, ${ATTEMPT_TIMEOUT_MS} ms attempts, a parallel attempt after ${HEDGE_MS} ms unanswered)${kills < 100 ? '; p99 of fewer than 100 samples is the max' : ''}`,
    ['system', 'election timeout', 'kills', 'median ms', 'p99 ms', 'max ms'],
    series.map((s) => [
      s.system,
      s.electionTimeout,
      String(s.kills),
      formatMillis(s.medianMs),
      formatMillis(s.p99Ms),
      formatMillis(s.maxMs),
    ]),
  );
  const seconds = (performance.now() - started) / 1000;
  console.log(`\ntotal ${seconds.toFixed(1)} s; load average ${formatLoadAverage()}`);
  writeResults(RESULTS_PATH, {
    benchmark: 'failover',
    ...machineFields(),
    options: { kills, nodes, etcd: etcdBinary !== null },
    probe: {
      attemptTimeoutMs: ATTEMPT_TIMEOUT_MS,
      hedgeMs: HEDGE_MS,
      maxInFlight: MAX_IN_FLIGHT,
      retryPauseMs: RETRY_PAUSE_MS,
      quietAcks: QUIET_ACKS,
      // What each side's client learns of a kill from other than errors and timeouts (see docs/BENCHMARKS.md).
      etcdTargets: 'every member, the killed one included',
      raftkvLeaderSource: 'the router asks its supervisor after a failed attempt',
    },
    etcd: { binary: etcdBinary, version: etcdVersion(etcdBinary) },
    diskDir: tmpdir(),
    totalSeconds: seconds,
    series,
  });
}

if (isMainModule(import.meta.url)) await main();
