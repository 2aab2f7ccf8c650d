// The soak (issue 18, item 7): one long-lived cluster, and for as long as asked, a window after window, each
// of one fault class in turn (kills, pauses, partitions, loss, disk, clock, membership), each with its own
// keys and its own check: the register workload's histories for linearizability, the set workload's final read
// for acknowledged writes lost. The summary is a table per fault class.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomInt } from 'node:crypto';
import { Supervisor } from '../actor/supervisor.js';
import { SeededRandom } from '../raft/random.js';
import { startService } from '../router/service.js';
import { runScenario, type ChaosResult } from './runner.js';
import { parseScenario } from './scenario.js';

export const SOAK_CLASSES = ['kills', 'pauses', 'partitions', 'loss', 'disk', 'clock', 'membership'] as const;
export type SoakClass = (typeof SOAK_CLASSES)[number];

/** The shortest window that leaves its faults room to act and undo (a kill's restart, an election). */
export const SOAK_WINDOW_MS_MIN = 4_000;
/** Nodes of the soak's cluster: five, so that a minority of two can be down at once. */
export const SOAK_NODES = 5;

export interface SoakOptions {
  readonly durationMs: number;
  readonly windowMs: number;
  readonly seed?: number;
  readonly log?: (line: string) => void;
}

export interface SoakRow {
  readonly faultClass: SoakClass;
  /** Windows run of this class. */
  runs: number;
  /** Operations completed (ok). */
  operations: number;
  /** Faults injected (not skipped for want of a target). */
  faults: number;
  /** Windows whose check failed or could not decide. */
  violations: number;
  /** Acknowledged writes the set windows' final reads did not find. */
  lostAcknowledged: number;
}

export interface SoakWindow {
  readonly index: number;
  readonly faultClass: SoakClass;
  readonly workload: 'register' | 'set';
  readonly seed: number;
  readonly ok: boolean;
  readonly operations: number;
  readonly checks: string;
}

export interface SoakResult {
  readonly seed: number;
  readonly durationMs: number;
  readonly rows: readonly SoakRow[];
  readonly windows: readonly SoakWindow[];
  readonly ok: boolean;
}

/** One window's scenario, as a file would say it: its faults spread over the window at seeded times. */
export function soakScenarioText(faultClass: SoakClass, index: number, windowMs: number, random: SeededRandom): string {
  const at = (share: number): string => `${Math.round(windowMs * (share + random.next() * 0.05))}ms`;
  const span = (share: number): string => `${Math.round(windowMs * share)}ms`;
  const faults: Record<SoakClass, string[]> = {
    kills: [
      `{ at: ${at(0.1)}, kill: leader, for: ${span(0.2)} }`,
      `{ at: ${at(0.45)}, kill: minority, lose-unsynced: true, for: ${span(0.2)} }`,
      `{ at: ${at(0.75)}, crash: random }`,
    ],
    pauses: [`{ at: ${at(0.1)}, pause: leader, for: ${span(0.2)} }`, `{ at: ${at(0.5)}, pause: follower, for: ${span(0.25)} }`],
    partitions: [
      `{ at: ${at(0.05)}, partition: isolate-leader, for: ${span(0.2)} }`,
      `{ at: ${at(0.35)}, partition: majority-minority, for: ${span(0.2)} }`,
      `{ at: ${at(0.65)}, partition: ${random.pick(['bridge', 'ring'])}, for: ${span(0.2)} }`,
    ],
    loss: [`{ at: ${at(0.05)}, links: { drop: 0.4, delayMs: [0, 20], duplicate: 0.05 }, for: ${span(0.8)} }`],
    disk: [
      `{ at: ${at(0.05)}, disk: leader, stallMs: 3600000, for: ${span(0.25)} }`,
      `{ at: ${at(0.4)}, disk: follower, fsyncErrors: 1 }`,
      `{ at: ${at(0.55)}, disk: leader, spaceBytes: 0, for: ${span(0.2)} }`,
      `{ at: ${at(0.8)}, snapshot: all }`,
      `{ at: ${at(0.8)}, kill: random, for: ${span(0.1)} }`,
    ],
    clock: [
      `{ at: ${at(0.05)}, clock: leader, rate: ${random.pick([0.5, 0.8, 1.25, 2])}, skewMs: ${random.int(-5000, 5001)}, for: ${span(0.4)} }`,
      `{ at: ${at(0.5)}, clock: follower, rate: ${random.pick([0.5, 2])}, for: ${span(0.3)} }`,
      `{ at: ${at(0.55)}, kill: leader, for: ${span(0.2)} }`,
    ],
    membership: [
      `{ at: ${at(0.05)}, add-learner: n${SOAK_NODES + 1} }`,
      `{ at: ${at(0.25)}, promote: n${SOAK_NODES + 1} }`,
      `{ at: ${at(0.45)}, kill: follower, for: ${span(0.15)} }`,
      `{ at: ${at(0.65)}, remove-member: n${SOAK_NODES + 1} }`,
    ],
  };
  // Windows alternate between the two workloads; each class meets both in a long enough soak.
  const workload =
    index % 2 === 0
      ? '{ type: register, keys: 8, clients: 8, rate: 300/s, mix: { read: 0.5, write: 0.3, cas: 0.2 } }'
      : '{ type: set, clients: 8, rate: 300/s }';
  return [
    `name: soak-${index}-${faultClass}`,
    `description: window ${index} of a soak, ${faultClass}`,
    `nodes: ${SOAK_NODES}`,
    `duration: ${windowMs}ms`,
    `workload: ${workload}`,
    'faults:',
    ...faults[faultClass].map((fault) => `  - ${fault}`),
    `checks: [${index % 2 === 0 ? 'linearizable' : 'no-lost-writes'}]`,
    '',
  ].join('\n');
}

/**
 * Runs the soak on a fresh cluster of worker threads on disk: windows of `windowMs` until `durationMs` has
 * passed (at least one window), each class in turn. Every window ends healed, with its final reads and check.
 */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  if (options.windowMs < SOAK_WINDOW_MS_MIN) throw new RangeError(`a soak window is at least ${SOAK_WINDOW_MS_MIN} ms`);
  const log = options.log ?? (() => {});
  const seed = options.seed ?? randomInt(0, 2 ** 47);
  const random = new SeededRandom(seed);
  log(`soak: seed ${seed}, ${SOAK_NODES} nodes, windows of ${options.windowMs / 1000} s for ${Math.round(options.durationMs / 1000)} s`);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftkv-soak-'));
  const supervisor = new Supervisor({ nodes: SOAK_NODES, dataDir, durable: true, bufferUnsynced: true, seed, log: () => {} });
  const rows = new Map<SoakClass, SoakRow>(
    SOAK_CLASSES.map((faultClass) => [faultClass, { faultClass, runs: 0, operations: 0, faults: 0, violations: 0, lostAcknowledged: 0 }]),
  );
  const windows: SoakWindow[] = [];
  const started = performance.now();
  try {
    await supervisor.start();
    const service = await startService(supervisor, { host: '127.0.0.1', httpPort: 0, respPort: 0, adminToken: null });
    try {
      for (let index = 0; index === 0 || performance.now() - started + options.windowMs <= options.durationMs; index++) {
        const faultClass = SOAK_CLASSES[index % SOAK_CLASSES.length] as SoakClass;
        const scenario = parseScenario(soakScenarioText(faultClass, index, options.windowMs, random.fork()), `soak-${index}`);
        const windowSeed = random.int(0, 2 ** 31);
        const result = await runScenario(scenario, { cluster: { supervisor, service }, keyPrefix: `soak${index}/`, seed: windowSeed });
        const window = summarizeWindow(index, faultClass, windowSeed, result);
        windows.push(window);
        const row = rows.get(faultClass) as SoakRow;
        row.runs++;
        row.operations += window.operations;
        row.faults += result.faults.filter((fault) => !fault.skipped).length;
        if (!window.ok) row.violations++;
        row.lostAcknowledged += result.checks.reduce((sum, check) => sum + (check.lostAcknowledged ?? 0), 0);
        log(
          `[${((performance.now() - started) / 1000).toFixed(0)}s] window ${index} ${faultClass} (${window.workload}, seed ${windowSeed}): ` +
            `${window.ok ? 'ok' : 'VIOLATION'}, ${window.operations} operations; ${window.checks}`,
        );
      }
    } finally {
      await service.close();
    }
  } finally {
    await supervisor.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  const table = [...rows.values()];
  return {
    seed,
    durationMs: performance.now() - started,
    rows: table,
    windows,
    ok: windows.every((w) => w.ok) && table.every((row) => row.lostAcknowledged === 0),
  };
}

function summarizeWindow(index: number, faultClass: SoakClass, seed: number, result: ChaosResult): SoakWindow {
  return {
    index,
    faultClass,
    workload: result.scenario.workload.type === 'set' ? 'set' : 'register',
    seed,
    ok: result.ok,
    operations: result.history.filter((op) => op.status === 'ok').length,
    checks: result.checks.map((check) => `${check.name}: ${check.verdict}`).join(', '),
  };
}

/** The summary table, as docs/CHAOS.md shows it. */
export function soakTable(result: SoakResult): string {
  const lines = [
    '| fault class | runs | operations | faults injected | violations | acknowledged writes lost |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  const total = { runs: 0, operations: 0, faults: 0, violations: 0, lost: 0 };
  for (const row of result.rows) {
    lines.push(`| ${row.faultClass} | ${row.runs} | ${row.operations} | ${row.faults} | ${row.violations} | ${row.lostAcknowledged} |`);
    total.runs += row.runs;
    total.operations += row.operations;
    total.faults += row.faults;
    total.violations += row.violations;
    total.lost += row.lostAcknowledged;
  }
  lines.push(`| all | ${total.runs} | ${total.operations} | ${total.faults} | ${total.violations} | ${total.lost} |`);
  return lines.join('\n');
}
