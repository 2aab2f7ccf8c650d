// npm run mutations [-- --seeds N --seconds S --only NAME]   the mutation suite (docs/SIMULATOR.md, "Mutation suite")
// npm run mutations -- --only NAME --seed S --family F         replay one simulator run with the mutation applied
// npm run mutations -- --only NAME --chaos-seed S              replay the mutation's chaos scenario run
// For each mutation in mutations.ts: copy the repository's sources into a temporary folder (node_modules
// symlinked), apply the patch (it must match exactly once), and run fresh simulator seeds of the mutation's
// families there until one fails or the budget is spent. A mutation with a chaos scenario is also built into
// a real cluster, which runs the scenario with fresh seeds until its linearizable check fails (at most
// CHAOS_ATTEMPTS_MAX runs). An unmutated copy runs every family first, as a control that must pass.
// Exit code 0 only if the control passes and every mutation is caught, by the simulator and by its scenario.
import { isMainModule } from '../../bench/bench-util.js';
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { MUTATIONS, NOT_COVERED, type Mutation } from './mutations.js';
import type { SeedRunnerReport } from './seed-runner.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const COPIED = ['src', 'test', 'package.json', 'tsconfig.json'] as const;
/** What a chaos scenario needs on top: the compiled CLI, the workers and the scenarios. */
const COPIED_FOR_CHAOS = ['bin', 'workers', 'scenarios', 'tsconfig.build.json'] as const;
/** The control only shows that the copy, the runner and each family work; the families' CI tests cover the rest. */
const CONTROL_SEEDS_PER_FAMILY = 20;
/** A runner that hangs is cut off well past its own budget. */
const RUNNER_GRACE_SECONDS = 60;
/** A scenario run that fails to catch the mutation is tried again with a fresh seed, this many runs in all. */
const CHAOS_ATTEMPTS_MAX = 3;
/** One chaos run (a 20 s scenario plus start-up and the check) is cut off after this. */
const CHAOS_RUN_SECONDS_MAX = 180;

interface Row {
  readonly mutation: string;
  readonly caught: string;
  readonly property: string;
  readonly seeds: string;
  readonly seconds: string;
  readonly replay: string;
}

/** Applies a mutation's patch to the copy; throws unless `find` occurs exactly once. */
export function applyMutation(root: string, mutation: Mutation): void {
  const file = path.join(root, mutation.file);
  const text = readFileSync(file, 'utf8');
  const occurrences = text.split(mutation.find).length - 1;
  if (occurrences !== 1) throw new Error(`mutation ${mutation.name}: the patch matches ${mutation.file} ${occurrences} times, not once`);
  writeFileSync(
    file,
    text.replace(mutation.find, () => mutation.replace),
  );
}

function makeCopy(mutation: Mutation | null, forChaos: boolean): string {
  const root = mkdtempSync(path.join(tmpdir(), `raftkv-mutation-${mutation?.name ?? 'control'}-`));
  const entries = forChaos ? [...COPIED, ...COPIED_FOR_CHAOS] : COPIED;
  for (const entry of entries) cpSync(path.join(REPO_ROOT, entry), path.join(root, entry), { recursive: true });
  symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(root, 'node_modules'), 'dir');
  if (mutation !== null) applyMutation(root, mutation);
  return root;
}

function runSeeds(root: string, runnerArgs: readonly string[], secondsMax: number): SeedRunnerReport | string {
  const child = spawnSync('npx', ['tsx', 'test/mutations/seed-runner.ts', ...runnerArgs], {
    cwd: root,
    encoding: 'utf8',
    timeout: (secondsMax + RUNNER_GRACE_SECONDS) * 1000,
    maxBuffer: 64 * 1024 * 1024,
  });
  const line = child.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as SeedRunnerReport;
  } catch {
    return `runner failed (status ${child.status}, signal ${child.signal}): ${child.stderr.trim().slice(-400)}`;
  }
}

function rowOf(name: string, report: SeedRunnerReport | string, mutated: boolean, replayPrefix: string): Row {
  if (typeof report === 'string') return { mutation: name, caught: 'ERROR', property: report, seeds: '-', seconds: '-', replay: '-' };
  const failure = report.failure;
  const replay = failure === null ? '-' : `${replayPrefix}${failure.replay.replace(/^npm run sim -- /, '')}`;
  return {
    mutation: name,
    caught: mutated ? (failure === null ? 'NO' : 'yes') : failure === null ? 'passed' : 'FAILED',
    property: failure === null ? '-' : `${failure.kind}: ${failure.property}`,
    seeds: String(report.seedsRun),
    seconds: report.seconds.toFixed(1),
    replay,
  };
}

/** Builds the copy (tsc, as `npm run build`) so that `node bin/raftkv.js` runs the mutated code. */
function build(root: string): string | null {
  const child = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, encoding: 'utf8', timeout: 300_000 });
  return child.status === 0 ? null : `build failed (status ${child.status}): ${(child.stdout + child.stderr).trim().slice(-400)}`;
}

interface ChaosRun {
  readonly seed: number;
  /** The linearizable check failed: the scenario caught the mutation. */
  readonly caught: boolean;
  readonly detail: string;
}

function runScenario(root: string, scenario: string, seed: number): ChaosRun {
  const child = spawnSync(
    'node',
    ['bin/raftkv.js', 'chaos', scenario, '--seed', String(seed), '--report', path.join(root, 'report.html')],
    {
      cwd: root,
      encoding: 'utf8',
      timeout: CHAOS_RUN_SECONDS_MAX * 1000,
      killSignal: 'SIGKILL',
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const verdict = /^check linearizable: (\w+)/m.exec(child.stdout)?.[1] ?? null;
  // Only a check that ran and failed counts; an error before the check (status 1 too) does not.
  const caught = child.status === 1 && verdict === 'FAIL';
  const detail =
    verdict === null ? `no linearizable verdict (status ${child.status}): ${(child.stdout + child.stderr).trim().slice(-300)}` : verdict;
  return { seed, caught, detail };
}

/** Runs the scenario with fresh seeds (or the one given) until it catches the mutation or the attempts run out. */
function huntWithScenario(mutation: Mutation, root: string, scenario: string, seed: number | null): Row {
  const name = `${mutation.name} (chaos)`;
  const started = process.hrtime.bigint();
  const seconds = (): string => (Number(process.hrtime.bigint() - started) / 1e9).toFixed(1);
  const error = build(root);
  if (error !== null) return { mutation: name, caught: 'ERROR', property: error, seeds: '-', seconds: seconds(), replay: '-' };
  const attempts = seed === null ? CHAOS_ATTEMPTS_MAX : 1;
  let last: ChaosRun | null = null;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    last = runScenario(root, scenario, seed ?? randomInt(1, 2 ** 31));
    console.log(`  ${scenario} --seed ${last.seed}: linearizable ${last.detail}`);
    if (last.caught) {
      return {
        mutation: name,
        caught: 'yes',
        property: `linearizable (${path.basename(scenario)})`,
        seeds: `${attempt} run${attempt === 1 ? '' : 's'}`,
        seconds: seconds(),
        replay: `npm run mutations -- --only ${mutation.name} --chaos-seed ${last.seed}`,
      };
    }
  }
  return { mutation: name, caught: 'NO', property: last?.detail ?? '-', seeds: `${attempts} runs`, seconds: seconds(), replay: '-' };
}

function printTable(rows: readonly Row[]): void {
  const header: Row = {
    mutation: 'mutation',
    caught: 'caught',
    property: 'by property',
    seeds: 'seeds',
    seconds: 'seconds',
    replay: 'replay',
  };
  const columns = Object.keys(header) as (keyof Row)[];
  const widths = columns.map((column) => Math.max(...[header, ...rows].map((row) => row[column].length)));
  const format = (row: Row): string => `| ${columns.map((column, i) => row[column].padEnd(widths[i] ?? 0)).join(' | ')} |`;
  console.log(format(header));
  console.log(`|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`);
  for (const row of rows) console.log(format(row));
}

/** The suite's options from a command line (parseArgs throws on an unknown or malformed one). */
export function readMutationOptions(argv: readonly string[]): {
  seeds: string;
  seconds: string;
  only?: string;
  seed?: string;
  family: string;
  'chaos-seed'?: string;
} {
  return parseArgs({
    args: [...argv],
    options: {
      seeds: { type: 'string', default: '4000' },
      seconds: { type: 'string', default: '300' },
      only: { type: 'string' },
      seed: { type: 'string' },
      family: { type: 'string', default: 'mixed' },
      'chaos-seed': { type: 'string' },
    },
  }).values;
}

const USAGE = `usage: npm run mutations -- [--seeds 4000] [--seconds 300] [--only NAME [--seed S --family F | --chaos-seed S]]
  every mutation of test/mutations/mutations.ts (or --only one) hunted by fresh simulator seeds; --seed replays one`;

function main(): number {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  const values = readMutationOptions(process.argv.slice(2));
  const seedsMax = Number(values.seeds);
  const secondsMax = Number(values.seconds);
  const chosen = values.only === undefined ? MUTATIONS : MUTATIONS.filter((mutation) => mutation.name === values.only);
  if (chosen.length === 0) {
    console.error(`--only: no mutation named ${values.only}; known: ${MUTATIONS.map((mutation) => mutation.name).join(', ')}`);
    return 64;
  }
  const chaosSeed = values['chaos-seed'] === undefined ? null : Number(values['chaos-seed']);
  const replaying = values.seed !== undefined || chaosSeed !== null;
  if (!replaying)
    console.log(`budget per mutation: ${seedsMax} simulator seeds or ${secondsMax} s, fresh random seeds, its families in turn`);
  const rows: Row[] = [];
  const roots: string[] = [];
  let failed = false;
  const record = (row: Row, wanted: string): void => {
    if (row.caught !== wanted) failed = true;
    rows.push(row);
    console.log(`${row.mutation}: ${row.caught} after ${row.seeds} (${row.seconds} s)`);
  };
  try {
    if (!replaying) {
      const families = [...new Set(MUTATIONS.flatMap((mutation) => mutation.families))];
      const root = makeCopy(null, false);
      roots.push(root);
      const args = [String(CONTROL_SEEDS_PER_FAMILY * families.length), String(secondsMax), families.join(',')];
      record(rowOf('(control: unmutated)', runSeeds(root, args, secondsMax), false, 'npm run sim -- '), 'passed');
    }
    for (const mutation of chosen) {
      const scenario = chaosSeed !== null || values.seed === undefined ? (mutation.scenario ?? null) : null;
      let root: string;
      try {
        root = makeCopy(mutation, scenario !== null);
      } catch (error) {
        record({ mutation: mutation.name, caught: 'ERROR', property: String(error), seeds: '-', seconds: '-', replay: '-' }, 'yes');
        continue;
      }
      roots.push(root);
      if (chaosSeed === null) {
        const runnerArgs =
          values.seed !== undefined
            ? ['--seed', values.seed, '--family', values.family]
            : [String(seedsMax), String(secondsMax), mutation.families.join(',')];
        const report = runSeeds(root, runnerArgs, secondsMax);
        record(rowOf(mutation.name, report, true, `npm run mutations -- --only ${mutation.name} `), 'yes');
        if (typeof report !== 'string' && report.failure !== null) console.log(`  ${report.failure.message}`);
      }
      if (scenario !== null) record(huntWithScenario(mutation, root, scenario, chaosSeed), 'yes');
    }
  } finally {
    for (const root of roots) rmSync(root, { recursive: true, force: true });
  }
  console.log('');
  printTable(rows);
  for (const gap of NOT_COVERED) console.log(`not covered: ${gap.name}: ${gap.reason}`);
  return failed ? 1 : 0;
}

// Run as a script (npm run mutations); imported, it only lends its option parser (test/unit/documented-commands.test.ts).
if (isMainModule(import.meta.url)) process.exitCode = main();
