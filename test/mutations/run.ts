// npm run mutations [-- --seeds N --seconds S --only NAME]   the mutation suite (docs/SIMULATOR.md, "Mutation suite")
// npm run mutations -- --only NAME --seed S --family F         replay one failing run with the mutation applied
// For each mutation in mutations.ts: copy src/, test/, package.json and tsconfig.json into a temporary folder
// (node_modules symlinked), apply the patch (it must match exactly once), and run fresh simulator seeds there
// until one fails or the budget is spent. An unmutated copy runs first as a control and must pass.
// Exit code 0 only if the control passes and every mutation is caught.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { MUTATIONS, NOT_COVERED, type Mutation } from './mutations.js';
import type { SeedRunnerReport } from './seed-runner.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const COPIED = ['src', 'test', 'package.json', 'tsconfig.json'] as const;
/** The control only shows that the copy and the runner work; the families' CI seeds cover the rest. */
const CONTROL_SEEDS = 40;
/** A runner that hangs is cut off well past its own budget. */
const RUNNER_GRACE_SECONDS = 60;

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

function makeCopy(mutation: Mutation | null): string {
  const root = mkdtempSync(path.join(tmpdir(), `raftkv-mutation-${mutation?.name ?? 'control'}-`));
  for (const entry of COPIED) cpSync(path.join(REPO_ROOT, entry), path.join(root, entry), { recursive: true });
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

function main(): number {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      seeds: { type: 'string', default: '10000' },
      seconds: { type: 'string', default: '120' },
      only: { type: 'string' },
      seed: { type: 'string' },
      family: { type: 'string', default: 'mixed' },
    },
  });
  const seedsMax = Number(values.seeds);
  const secondsMax = Number(values.seconds);
  const chosen = values.only === undefined ? MUTATIONS : MUTATIONS.filter((mutation) => mutation.name === values.only);
  if (chosen.length === 0) {
    console.error(`--only: no mutation named ${values.only}; known: ${MUTATIONS.map((mutation) => mutation.name).join(', ')}`);
    return 64;
  }
  const replaying = values.seed !== undefined;
  const runnerArgs = replaying ? ['--seed', values.seed ?? '', '--family', values.family] : [String(seedsMax), String(secondsMax)];
  if (!replaying) console.log(`budget per mutation: ${seedsMax} seeds or ${secondsMax} s, fresh random seeds, families in turn`);
  const rows: Row[] = [];
  const roots: string[] = [];
  let failed = false;
  try {
    if (!replaying) {
      const root = makeCopy(null);
      roots.push(root);
      const row = rowOf(
        '(control: unmutated)',
        runSeeds(root, [String(CONTROL_SEEDS), String(secondsMax)], secondsMax),
        false,
        'npm run sim -- ',
      );
      if (row.caught !== 'passed') failed = true;
      rows.push(row);
      console.log(`control: ${row.caught} after ${row.seeds} seeds`);
    }
    for (const mutation of chosen) {
      let root: string;
      try {
        root = makeCopy(mutation);
      } catch (error) {
        rows.push({ mutation: mutation.name, caught: 'ERROR', property: String(error), seeds: '-', seconds: '-', replay: '-' });
        failed = true;
        continue;
      }
      roots.push(root);
      const report = runSeeds(root, runnerArgs, secondsMax);
      const row = rowOf(mutation.name, report, true, `npm run mutations -- --only ${mutation.name} `);
      if (row.caught !== 'yes') failed = true;
      rows.push(row);
      console.log(`${mutation.name}: ${row.caught} after ${row.seeds} seeds`);
      if (typeof report !== 'string' && report.failure !== null) console.log(`  ${report.failure.message}`);
    }
  } finally {
    for (const root of roots) rmSync(root, { recursive: true, force: true });
  }
  console.log('');
  printTable(rows);
  for (const gap of NOT_COVERED) console.log(`not covered: ${gap.name}: ${gap.reason}`);
  return failed ? 1 : 0;
}

process.exitCode = main();
