import { Progress, formatDuration, type ProgressStream } from '../util/progress.js';
import { randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SUPERVISOR_DEFAULTS, Supervisor } from '../actor/supervisor.js';
import { TRUE_CLOCK } from '../protocol/clock.js';
import { RAFT_DEFAULTS } from '../raft/config.js';
import { SeededRandom } from '../raft/random.js';
import { startService, type Service } from '../router/service.js';
import type { Operation } from './checker/history.js';
import { createCheckerPool } from './checker/pool.js';
import { runChecks, type CheckVerdict } from './checks.js';
import { Nemesis, type FaultRecord } from './nemesis.js';
import type { Scenario } from './scenario.js';
import { leaseClockProblem } from './scenario-schema.js';
import { WorkloadDriver } from './workloads.js';

export interface PhaseStats {
  readonly label: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly ok: number;
  readonly fail: number;
  readonly info: number;
  /** Operations answered (ok, or a CAS refused because the value differed) / all invoked in the phase. */
  readonly availability: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number };
}

export interface ChaosResult {
  readonly scenario: Scenario;
  readonly history: readonly Operation[];
  readonly faults: readonly FaultRecord[];
  readonly phases: readonly PhaseStats[];
  readonly checks: readonly CheckVerdict[];
  readonly ok: boolean;
  readonly durationMs: number;
  /** Drove the nemesis's choices, every client's keys and operations, and (on a cluster it started) the link faults. */
  readonly seed: number;
}

export interface ChaosRunOptions {
  /** Run against this cluster and service instead of starting a fresh one (`raftkv cluster --scenario`). */
  readonly cluster?: { readonly supervisor: Supervisor; readonly service: Service };
  /** Put before every key the workload uses: runs on one cluster (a soak's windows) then never share keys. */
  readonly keyPrefix?: string;
  readonly log?: (line: string) => void;
  /** How long the final reads may take after healing. */
  readonly finalReadTimeoutMs?: number;
  readonly checkTimeLimitMs?: number;
  /** Replays a run's random choices (`raftkv chaos FILE --seed S`); a fresh one is drawn and printed otherwise. */
  readonly seed?: number;
  /**
   * Where to show the run's progress (elapsed, operations completed and per second, the share of the run, the
   * faults in force): a line redrawn on a terminal, a line every few seconds otherwise. None by default.
   */
  readonly progress?: ProgressStream;
  /**
   * Where a fresh cluster runs its nodes: worker threads of this process (default), or child processes over
   * TCP on loopback (`raftkv chaos FILE --processes`). Not for a given `cluster`, which runs as it was started.
   */
  readonly hosting?: 'threads' | 'processes';
}

/** The progress line's detail is refreshed this often (the line itself is drawn by Progress when due). */
const PROGRESS_DETAIL_INTERVAL_MS = 250;

/** Shows the run as it goes; stop() ends it (the verdict follows in the log). */
function watchProgress(
  scenario: Scenario,
  stream: ProgressStream,
  driver: WorkloadDriver,
  nemesis: Nemesis,
  startedAt: number,
): { stop(): void } {
  const progress = new Progress({ label: `chaos ${scenario.name}`, total: null, unit: 'ops', stream }).start().interceptOutput();
  const refresh = (): void => {
    const share = Math.min(100, Math.floor(((performance.now() - startedAt) / scenario.durationMs) * 100));
    const faults = nemesis.records.filter((r) => r.endMs === null && !r.skipped).map((r) => r.label);
    progress.update(
      driver.recorder.completed,
      `${share}% of ${formatDuration(scenario.durationMs)} · ${faults.length === 0 ? 'no fault' : faults.join(', ')}`,
    );
  };
  refresh();
  const timer = setInterval(refresh, PROGRESS_DETAIL_INTERVAL_MS);
  return {
    stop() {
      clearInterval(timer);
      progress.stop();
    },
  };
}

/** Refusals that are answers from a working store, not unavailability. */
const ANSWERED_REFUSALS: ReadonlySet<string> = new Set(['CAS_FAILED', 'CONDITION_NOT_MET', 'NOT_AN_INTEGER']);

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** Splits the run at every fault, so availability and latency can be read phase by phase. */
export function phaseStats(history: readonly Operation[], faults: readonly FaultRecord[], endMs: number): PhaseStats[] {
  const cuts = [{ at: 0, label: 'start' }, ...faults.filter((f) => !f.skipped).map((f) => ({ at: f.atMs, label: f.label }))];
  return cuts.map((cut, i) => {
    const end = cuts[i + 1]?.at ?? endMs;
    const ops = history.filter((op) => op.invokeTime >= cut.at && op.invokeTime < end);
    const ok = ops.filter((op) => op.status === 'ok');
    // The store was available if it answered, also when the answer was "no": a CAS that found another value.
    const answered = ops.filter(
      (op) => op.status === 'ok' || (op.status === 'fail' && typeof op.output === 'string' && ANSWERED_REFUSALS.has(op.output)),
    );
    const latencies = ok.map((op) => op.completeTime - op.invokeTime).sort((a, b) => a - b);
    return {
      label: cut.label,
      startMs: cut.at,
      endMs: end,
      ok: ok.length,
      fail: ops.filter((op) => op.status === 'fail').length,
      info: ops.filter((op) => op.status === 'info').length,
      availability: ops.length === 0 ? 1 : answered.length / ops.length,
      latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies[latencies.length - 1] ?? 0 },
    };
  });
}

/**
 * Runs a scenario against a fresh cluster (or the given one): the workload and the nemesis for its duration,
 * then heal everything, read the final state, and check the history.
 */
export async function runScenario(scenario: Scenario, options: ChaosRunOptions = {}): Promise<ChaosResult> {
  const log = options.log ?? (() => {});
  const seed = options.seed ?? randomInt(0, 2 ** 47);
  const random = new SeededRandom(seed);
  log(`seed ${seed} (replay the same random choices: --seed ${seed})`);
  const asksLoseUnsynced = scenario.faults.some((f) => f.action.kind === 'kill' && f.action.loseUnsynced);
  if (asksLoseUnsynced && options.cluster !== undefined && !options.cluster.supervisor.options.bufferUnsynced) {
    // Its kills would lose nothing (the page cache keeps what the nodes wrote), and the log would say otherwise.
    throw new Error(`${scenario.name}: kills that lose unsynced writes need a cluster whose nodes hold them (bufferUnsynced)`);
  }
  let owned: { supervisor: Supervisor; service: Service; dataDir: string } | null = null;
  let cluster = options.cluster;
  if (cluster !== undefined && options.hosting !== undefined) {
    throw new Error(`${scenario.name}: hosting applies to a fresh cluster; the given one runs as it was started`);
  }
  if (cluster !== undefined && cluster.supervisor.ids.length !== scenario.nodes) {
    throw new Error(`scenario ${scenario.name} is written for ${scenario.nodes} nodes; this cluster has ${cluster.supervisor.ids.length}`);
  }
  if (cluster !== undefined) checkReadMode(scenario, cluster.supervisor);
  if (cluster === undefined) {
    const memory = scenario.storage === 'memory';
    const shm = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
    const dataDir = fs.mkdtempSync(path.join(memory ? shm : os.tmpdir(), 'raftkv-chaos-'));
    const supervisor = new Supervisor({
      nodes: scenario.nodes,
      dataDir,
      durable: !memory,
      // Every kill loses what its node had not synced, with or without `lose-unsynced` in the scenario.
      bufferUnsynced: true,
      seed,
      hosting: options.hosting ?? 'threads',
      log: (line) => log(`  ${line}`),
      ...(scenario.readMode === 'lease' ? { core: { ...SUPERVISOR_DEFAULTS.core, readMode: 'lease' as const } } : {}),
    });
    await supervisor.start();
    const service = await startService(supervisor, { host: '127.0.0.1', httpPort: 0, respPort: 0, adminToken: null });
    owned = { supervisor, service, dataDir };
    cluster = owned;
  }
  const { supervisor, service } = cluster;
  const pool = scenario.checks.includes('linearizable') && scenario.workload.type === 'register' ? createCheckerPool() : undefined;
  let progress: { stop(): void } | null = null;
  const admissionBefore = service.router.limits.pendingRequestsMax;
  try {
    if (scenario.admission !== undefined) service.router.setPendingRequestsMax(scenario.admission.pendingRequestsMax);
    // The start clocks, before the workload begins (and put back to true clocks at the end on a given cluster).
    for (const [id, clock] of Object.entries(scenario.clocks)) await supervisor.setClock(id, clock);
    await supervisor.waitForLeader(30_000);
    const startedAt = performance.now();
    const driver = new WorkloadDriver(
      scenario.workload,
      { http: service.http.port, resp: service.resp.port },
      startedAt,
      random.fork(),
      supervisor.ids,
      options.keyPrefix,
    );
    const nemesis = new Nemesis(supervisor, startedAt, log, random.fork());
    nemesis.schedule(scenario.faults);
    const running = driver.run();
    progress = options.progress === undefined ? null : watchProgress(scenario, options.progress, driver, nemesis, startedAt);
    await new Promise((resolve) => setTimeout(resolve, scenario.durationMs));
    driver.stop();
    await running;
    progress?.stop();
    progress = null;
    const endMs = performance.now() - startedAt;
    await nemesis.healAll();
    await supervisor.waitForLeader(30_000);
    const finals = await driver.finalReads(performance.now() + (options.finalReadTimeoutMs ?? 30_000));
    driver.close();
    const history = driver.recorder.operations();
    const checks = await runChecks(scenario.checks, scenario.workload.type, history, finals, {
      ...(pool === undefined ? {} : { pool }),
      timeLimitMs: options.checkTimeLimitMs ?? 30_000,
    });
    return {
      scenario,
      history,
      faults: nemesis.records,
      phases: phaseStats(history, nemesis.records, endMs),
      checks,
      // Passed only if something was checked and every check that ran passed.
      ok: checks.some((c) => c.verdict !== 'n/a') && checks.every((c) => c.verdict === 'pass' || c.verdict === 'n/a'),
      durationMs: endMs,
      seed,
    };
  } finally {
    progress?.stop();
    service.router.setPendingRequestsMax(admissionBefore);
    await pool?.destroy();
    if (owned === null && cluster !== undefined) {
      const { supervisor } = cluster;
      await Promise.all(
        Object.keys(scenario.clocks)
          .filter((id) => supervisor.ids.includes(id))
          .map((id) => supervisor.setClock(id, TRUE_CLOCK).catch(() => undefined)),
      );
    }
    if (owned !== null) {
      await owned.service.close();
      await owned.supervisor.stop();
      fs.rmSync(owned.dataDir, { recursive: true, force: true });
    }
  }
}

/**
 * A scenario with lease reads runs only on a cluster that has them, and only with clocks within the bound of
 * that cluster's election timeout (the schema checked the default one).
 */
function checkReadMode(scenario: Scenario, supervisor: Supervisor): void {
  const core = supervisor.options.core;
  if ((core.readMode ?? RAFT_DEFAULTS.readMode) !== scenario.readMode)
    throw new Error(
      `scenario ${scenario.name} is written for readMode ${scenario.readMode}; this cluster's is ${core.readMode ?? RAFT_DEFAULTS.readMode}`,
    );
  if (scenario.readMode !== 'lease') return;
  const problem = leaseClockProblem(scenario, core.electionTicks ?? RAFT_DEFAULTS.electionTicks);
  if (problem !== null) throw new Error(`scenario ${scenario.name}: ${problem}`);
}
