// Membership under load (issue 16): a 5-node cluster on disk, threads or a process per node, takes a steady
// stream of HTTP PUTs from the writer process (bench/load/acked-writer.ts) while the bench adds a learner n6,
// waits until it has caught up, promotes it and removes an old voter (a follower), then, as a harder extra,
// removes the leader. For each change: how long it took and the longest gap between two consecutive
// acknowledged writes that overlaps it (the stall), against one election timeout (electionTicks x tickMs from
// the limits table). After the run every key the writer touched is read back linearizably: it must hold its
// last acknowledged write or a later attempt, else an acknowledged write was lost.
import * as http from 'node:http';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import type { Supervisor } from '../../src/actor/supervisor.js';
import { resolveLimits } from '../../src/config/limits.js';
import type { NodeId } from '../../src/raft/types.js';
import { delay } from '../../src/util/async.js';
import { startRaftkv, waitConverged } from '../lib/cluster.js';
import { diskDir, forkScript, HOST, type Cluster, type Hosting, type Resources } from '../lib/resources.js';
import { seqOf, type AckedWriterConfig, type AckedWriterMessage, type AckedWriterReport } from '../load/acked-writer.js';

const WRITER_SCRIPT = fileURLToPath(new URL('../load/acked-writer.ts', import.meta.url));
export const MEMBERSHIP_STALL_LIMIT = '< one election timeout';
const NODES = 5;
const NEW_MEMBER: NodeId = 'n6';
const WRITER_CONNECTIONS = 16;
const KEY_SPACE = 1_000;
const VALUE_BYTES = 256;
/** Writes before the first change and after the last, so each change is surrounded by steady load. */
const STEADY_MS = 2_000;
const QUICK_STEADY_MS = 1_000;
const CHANGE_TIMEOUT_MS = 20_000;
/** The extra change: the remaining members elect a leader in well under a second when all goes well. */
const LEADER_REMOVAL_TIMEOUT_MS = 5_000;
const CATCH_UP_TIMEOUT_MS = 30_000;
const CATCH_UP_POLL_MS = 10;
const WRITER_START_TIMEOUT_MS = 30_000;
const WRITER_REPORT_TIMEOUT_MS = 30_000;
const CONVERGE_TIMEOUT_MS = 10_000;
const READ_BACK_CONNECTIONS = 16;
const READ_TIMEOUT_MS = 10_000;
/** Lost writes named in the report (the count is always whole). */
const LOST_NAMED_MAX = 20;

export interface MembershipPhase {
  readonly name: string;
  /** Wall time (performance.timeOrigin + now, ms), the writer's clock too. */
  readonly startMs: number;
  readonly endMs: number;
  readonly tookMs: number;
  /** Longest gap between consecutive acknowledged writes that overlaps the phase. */
  readonly stallMs: number;
  readonly writesPerSecond: number;
  /** Leaders elected (a new leader seen by the supervisor) between the phase's start and its end. */
  readonly elections: number;
  /** Counted against the target (the leader's removal is measured, but not part of issue 16's sequence). */
  readonly counts: boolean;
  /** The change failed (refused, or not answered in time): why; null when it succeeded. */
  readonly error: string | null;
}

export interface MembershipRun {
  readonly hosting: Hosting;
  readonly round: number;
  readonly electionTimeoutMs: number;
  readonly phases: MembershipPhase[];
  readonly removedFollower: NodeId;
  readonly removedLeader: NodeId | null;
  readonly acknowledged: number;
  readonly failed: number;
  readonly failures: Record<string, number>;
  readonly abandoned: number;
  readonly keysChecked: number;
  /** `key-N: acknowledged seq S, read T` for each lost write (at most LOST_NAMED_MAX named; the length counts all). */
  readonly lost: string[];
  readonly lostCount: number;
  /** Keys whose read-back failed (no answer, an error): neither lost nor verified. */
  readonly unverified: number;
  /** The cluster did not converge after the run (each node's state), or null. */
  readonly convergeError: string | null;
}

export interface MembershipOptions {
  readonly hostings: readonly Hosting[];
  readonly rounds: number;
  readonly quick: boolean;
  readonly log: (line: string) => void;
}

function now(): number {
  return performance.timeOrigin + performance.now();
}

/** electionTicks x tickMs as the limits table has them: the shortest election timeout a follower draws. */
export function electionTimeoutMs(): number {
  const { values } = resolveLimits();
  return (values.get('electionTicks') as number) * (values.get('tickMs') as number);
}

/**
 * The longest gap between consecutive acknowledgements that overlaps [startMs, endMs], whole (a change's
 * stall may begin just before its call and end after its answer); `clip`: only its part inside the window (the
 * steady phases, so a stall of the change that follows is not counted to them). `acks` sorted.
 */
export function longestGap(acks: readonly number[], window: { startMs: number; endMs: number; lastMs: number; clip: boolean }): number {
  const { startMs, endMs, clip } = window;
  const part = (from: number, to: number): number => (clip ? Math.min(to, endMs) - Math.max(from, startMs) : to - from);
  let index = 0;
  while (index < acks.length && (acks[index] as number) <= startMs) index++;
  let previous = index > 0 ? (acks[index - 1] as number) : startMs;
  let gap = 0;
  for (; index < acks.length; index++) {
    const ack = acks[index] as number;
    gap = Math.max(gap, part(previous, ack));
    previous = ack;
    if (ack >= endMs) return gap;
  }
  return Math.max(gap, part(previous, window.lastMs));
}

function countIn(acks: readonly number[], startMs: number, endMs: number): number {
  let n = 0;
  for (const ack of acks) if (ack > startMs && ack <= endMs) n++;
  return n;
}

async function change(
  supervisor: Supervisor,
  what: Parameters<Supervisor['changeMembership']>[0],
  timeoutMs = CHANGE_TIMEOUT_MS,
): Promise<void> {
  const outcome = await supervisor.changeMembership(what, { timeoutMs });
  if (!outcome.ok) throw new Error(`${what.kind} ${what.id}: ${outcome.code} ${outcome.message}`);
}

/** Waits until n6's log matches the leader's up to where the leader's log ended when the wait began. */
async function waitCaughtUp(supervisor: Supervisor, id: NodeId): Promise<void> {
  const started = performance.now();
  let target = Number.NaN;
  for (;;) {
    const view = await supervisor.members();
    if (Number.isNaN(target) && view.leader !== null) target = view.lastIndex;
    const match = view.members.find((m) => m.id === id)?.matchIndex ?? null;
    if (!Number.isNaN(target) && match !== null && match >= target) return;
    if (performance.now() - started > CATCH_UP_TIMEOUT_MS) {
      throw new Error(`${id} did not catch up within ${CATCH_UP_TIMEOUT_MS} ms: match ${match}, target ${target}`);
    }
    await delay(CATCH_UP_POLL_MS);
  }
}

function startWriter(resources: Resources, port: number): Promise<{ child: ChildProcess; report: Promise<AckedWriterReport> }> {
  const child = forkScript(resources, WRITER_SCRIPT);
  let settleReport: { resolve: (r: AckedWriterReport) => void; reject: (e: Error) => void } | null = null;
  const report = new Promise<AckedWriterReport>((resolve, reject) => {
    settleReport = { resolve, reject };
  });
  report.catch(() => undefined); // awaited later; a failure before then is not unhandled
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`writer: not started within ${WRITER_START_TIMEOUT_MS} ms`)), WRITER_START_TIMEOUT_MS);
    child.on('message', (message: AckedWriterMessage) => {
      if (message.type === 'started') {
        clearTimeout(timer);
        resolve({ child, report });
      } else if (message.type === 'report') settleReport?.resolve(message.report);
      else settleReport?.reject(new Error(`writer failed: ${message.message}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      const error = new Error(`writer exited (${code}) before its report`);
      settleReport?.reject(error);
      reject(error);
    });
    const config: AckedWriterConfig = {
      type: 'run',
      host: HOST,
      port,
      connections: WRITER_CONNECTIONS,
      keySpace: KEY_SPACE,
      valueBytes: VALUE_BYTES,
    };
    child.send(config);
  });
}

/** A linearizable GET through the router: the value, null for KEY_NOT_FOUND; throws on anything else. */
function getValue(port: number, key: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: HOST, port, path: `/v1/kv/key-${key}`, timeout: READ_TIMEOUT_MS }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (response.statusCode === 404) resolve(null);
        else if (response.statusCode === 200) resolve((JSON.parse(body) as { value: string }).value);
        else reject(new Error(`GET key-${key}: ${response.statusCode} ${body}`));
      });
    });
    request.on('timeout', () => request.destroy(new Error(`GET key-${key}: timeout`)));
    request.on('error', reject);
  });
}

/** Reads every key the writer touched; names each whose value is older than its last acknowledged write. */
async function readBack(
  port: number,
  report: AckedWriterReport,
): Promise<{ checked: number; lost: string[]; lostCount: number; unverified: number; firstError: string | null }> {
  const keys = report.lastAttemptedSeq.flatMap((seq, key) => (seq > 0 ? [key] : []));
  const lost: string[] = [];
  let lostCount = 0;
  let unverified = 0;
  let firstError: string | null = null;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < keys.length) {
      const key = keys[next++] as number;
      const acked = report.lastAckedSeq[key] as number;
      const attempted = report.lastAttemptedSeq[key] as number;
      let value: string | null;
      try {
        value = await getValue(port, key);
      } catch (error) {
        unverified++;
        firstError ??= (error as Error).message;
        continue;
      }
      const seq = value === null ? 0 : seqOf(value);
      // A later attempt may have committed though its answer was lost; a value no attempt wrote is wrong too.
      if (!(seq >= acked && seq <= attempted)) {
        lostCount++;
        if (lost.length < LOST_NAMED_MAX)
          lost.push(`key-${key}: acknowledged ${acked}, attempted ${attempted}, read ${value === null ? 'nothing' : seq}`);
      }
    }
  };
  await Promise.all(Array.from({ length: READ_BACK_CONNECTIONS }, () => worker()));
  return { checked: keys.length - unverified, lost, lostCount, unverified, firstError };
}

async function runOne(resources: Resources, hosting: Hosting, round: number, options: MembershipOptions): Promise<MembershipRun> {
  const steadyMs = options.quick ? QUICK_STEADY_MS : STEADY_MS;
  const timeoutMs = electionTimeoutMs();
  const { dir: dataDir } = diskDir(resources, 'raftkv-bench-members-');
  const { supervisor, service } = await startRaftkv({ nodes: NODES, dataDir, durable: true, hosting });
  const cluster: Cluster = resources.cluster({ nodes: NODES, storage: 'disk', supervisor, service, dataDir });
  try {
    const leaderTimesMs: number[] = [];
    const onLeader = (id: NodeId | null): void => {
      if (id !== null) leaderTimesMs.push(now());
    };
    supervisor.on('leader', onLeader);
    const writer = await startWriter(resources, service.http.port);
    const marks: { name: string; startMs: number; endMs: number; counts: boolean; steady: boolean; error: string | null }[] = [];
    const phase = async (name: string, counts: boolean, body: () => Promise<void>, steady = false): Promise<void> => {
      const startMs = now();
      let error: string | null = null;
      try {
        await body();
      } catch (caught) {
        error = (caught as Error).message;
        const states = (await supervisor.status()).map((s) => `${s.id} ${s.status} ${s.raft?.role ?? '-'} term ${s.raft?.term ?? '-'}`);
        options.log(`${hosting} round ${round + 1}: ${name} failed: ${error}; nodes: ${states.join(', ')}`);
      }
      marks.push({ name, startMs, endMs: now(), counts, steady, error });
    };
    let removedFollower: NodeId = '';
    let removedLeader: NodeId | null = null;
    try {
      await phase('steady load, no change (the noise)', false, () => delay(steadyMs), true);
      await phase(`add learner ${NEW_MEMBER}`, true, () => change(supervisor, { kind: 'add-learner', id: NEW_MEMBER }));
      await phase(`${NEW_MEMBER} catches up`, true, () => waitCaughtUp(supervisor, NEW_MEMBER));
      await phase(`promote ${NEW_MEMBER}`, true, () => change(supervisor, { kind: 'promote', id: NEW_MEMBER }));
      const leader = (await supervisor.members()).leader;
      removedFollower = supervisor.ids.find((id) => id !== leader && id !== NEW_MEMBER) as NodeId;
      await phase(`remove ${removedFollower} (a follower)`, true, () => change(supervisor, { kind: 'remove', id: removedFollower }));
      await phase('steady load, no change (the noise)', false, () => delay(steadyMs), true);
      removedLeader = (await supervisor.members()).leader;
      if (removedLeader !== null) {
        const id = removedLeader;
        await phase(`remove ${id} (the leader; extra)`, false, async () => {
          await change(supervisor, { kind: 'remove', id }, LEADER_REMOVAL_TIMEOUT_MS);
          // The stall ends with the next acknowledged write: give the writer time to make one.
          await delay(steadyMs);
        });
      }
    } finally {
      writer.child.send({ type: 'stop' });
    }
    const report = await Promise.race([
      writer.report,
      delay(WRITER_REPORT_TIMEOUT_MS).then(() => {
        throw new Error(`writer: no report within ${WRITER_REPORT_TIMEOUT_MS} ms`);
      }),
    ]);
    await resources.endChild(writer.child);
    supervisor.off('leader', onLeader);
    const lastMs = now();
    const acks = report.ackTimesMs;
    const phases: MembershipPhase[] = marks.map(({ steady, ...m }) => ({
      ...m,
      tookMs: m.endMs - m.startMs,
      stallMs: longestGap(acks, { startMs: m.startMs, endMs: m.endMs, lastMs, clip: steady }),
      writesPerSecond: countIn(acks, m.startMs, m.endMs) / Math.max((m.endMs - m.startMs) / 1000, 1e-3),
      elections: countIn(leaderTimesMs, m.startMs, m.endMs),
    }));
    for (const p of phases) {
      options.log(
        `${hosting} round ${round + 1}: ${p.name}: ${p.tookMs.toFixed(0)} ms, stall ${p.stallMs.toFixed(0)} ms ` +
          `(election timeout ${timeoutMs} ms${p.counts ? (p.stallMs < timeoutMs ? ', PASS' : ', FAIL') : ''}), ${p.writesPerSecond.toFixed(0)} writes/s, ${p.elections} elections` +
          `${p.error === null ? '' : `; FAILED: ${p.error}`}`,
      );
    }
    let convergeError: string | null = null;
    try {
      await waitConverged(supervisor, { timeoutMs: CONVERGE_TIMEOUT_MS });
    } catch (error) {
      convergeError = (error as Error).message;
      options.log(`${hosting} round ${round + 1}: ${convergeError}`);
    }
    const check = await readBack(service.http.port, report);
    if (check.firstError !== null)
      options.log(`${hosting} round ${round + 1}: ${check.unverified} keys not read back: ${check.firstError}`);
    const failed = Object.values(report.failures).reduce((sum, n) => sum + n, 0);
    const run: MembershipRun = {
      hosting,
      round,
      electionTimeoutMs: timeoutMs,
      phases,
      removedFollower,
      removedLeader,
      acknowledged: acks.length,
      failed,
      failures: report.failures,
      abandoned: report.abandoned,
      keysChecked: check.checked,
      lost: check.lost,
      lostCount: check.lostCount,
      unverified: check.unverified,
      convergeError,
    };
    options.log(
      `${hosting} round ${round + 1}: ${acks.length} writes acknowledged, ${failed} failed ${JSON.stringify(report.failures)}, ` +
        `${report.abandoned} unanswered; ${check.checked} keys read back, ${check.lostCount} acknowledged writes lost`,
    );
    return run;
  } finally {
    await resources.endCluster(cluster);
  }
}

/** Each round runs every hosting in turn, the order turned round every other round. */
export async function runMembership(resources: Resources, options: MembershipOptions): Promise<MembershipRun[]> {
  const runs: MembershipRun[] = [];
  for (let round = 0; round < options.rounds; round++) {
    const order = round % 2 === 0 ? [...options.hostings] : [...options.hostings].reverse();
    for (const hosting of order) runs.push(await runOne(resources, hosting, round, options));
  }
  return runs;
}
