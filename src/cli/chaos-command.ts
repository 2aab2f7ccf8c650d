import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { htmlReport, summarize } from '../chaos/report.js';
import { runScenario, type ChaosResult } from '../chaos/runner.js';
import { parseDuration, parseScenario, ScenarioError, shortened, type Scenario } from '../chaos/scenario.js';
import { runSoak, SOAK_WINDOW_MS_MIN, soakTable } from '../chaos/soak.js';
import { UsageError } from './usage-error.js';

export const CHAOS_USAGE = `usage: raftkv chaos FILE.yaml [options]
       raftkv chaos --check FILE.yaml [FILE.yaml...]
       raftkv chaos --soak D [--window W] [--seed S]
  --check         validate the files and run nothing: "ok FILE (...)" for each valid one, each mistake with
                  its file, line and key otherwise; exit 0 when all are valid, 65 when any is not
  --duration D    squeeze the scenario's timeline into D (e.g. 15s)
  --report FILE   where to write the HTML report (default chaos-report-<name>.html)
  --seed S        replay a run's random choices: the nemesis's targets, every client's keys and operations,
                  the link-fault draws (the run prints its seed; thread timing still varies)
  --processes     run each node as a child process of its own, the nodes talking TCP on loopback (as
                  raftkv cluster --processes does), instead of worker threads of this process
  --soak D        no scenario file: one 5-node cluster for D (e.g. 1h), windows of one fault class after
                  another (kills, pauses, partitions, loss, disk, clock, membership), each window checked
                  (linearizable, or no acknowledged write lost); prints a table per fault class; exit 0 when
                  no window found a violation and no acknowledged write was lost
  --window W      the length of one soak window (default 60s, at least 4s)`;

/** sysexits' EX_DATAERR: `--check` found a scenario file that is not valid. */
export const EXIT_INVALID_SCENARIO = 65;

/** A scenario file parsed and validated; its mistakes (a ScenarioError) name `file` and their lines. */
function readScenario(file: string): Scenario {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as Error).message}`, CHAOS_USAGE);
  }
  return parseScenario(text, path.basename(file, path.extname(file)), file);
}

export function loadScenario(file: string): Scenario {
  try {
    return readScenario(file);
  } catch (error) {
    if (error instanceof ScenarioError) throw new UsageError(error.message, CHAOS_USAGE);
    throw error;
  }
}

const plural = (count: number, word: string): string => `${count} ${word}${count === 1 ? '' : 's'}`;

/** `--check`: every file validated, none run; 0 when all are valid, EXIT_INVALID_SCENARIO otherwise. */
export function checkScenarios(files: readonly string[], out: (line: string) => void, err: (line: string) => void): number {
  let code = 0;
  for (const file of files) {
    try {
      const s = readScenario(file);
      const duration = s.durationMs % 1000 === 0 ? `${s.durationMs / 1000}s` : `${s.durationMs}ms`;
      out(`ok ${file} (${s.name}, ${plural(s.nodes, 'node')}, ${duration}, ${plural(s.faults.length, 'fault')})`);
    } catch (error) {
      // An unreadable file is as much a bad input as an invalid one: the other files are still checked.
      if (!(error instanceof ScenarioError || error instanceof UsageError)) throw error;
      err(error.message);
      code = EXIT_INVALID_SCENARIO;
    }
  }
  return code;
}

/** Prints the summary, writes the HTML report; exit code 0 when every check passed, 1 otherwise. */
export function reportResult(result: ChaosResult, reportFile: string, out: (line: string) => void): number {
  out(summarize(result));
  fs.writeFileSync(reportFile, htmlReport(result));
  out(`report: ${path.resolve(reportFile)}`);
  return result.ok ? 0 : 1;
}

export async function runChaosCommand(
  argv: readonly string[],
  out: (line: string) => void = console.log,
  err: (line: string) => void = console.error,
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        check: { type: 'boolean' },
        duration: { type: 'string' },
        report: { type: 'string' },
        seed: { type: 'string' },
        processes: { type: 'boolean' },
        soak: { type: 'string' },
        window: { type: 'string' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message, CHAOS_USAGE);
  }
  if (parsed.values.check === true) {
    const { duration, report, seed, processes, soak, window } = parsed.values;
    if ([duration, report, seed, processes, soak, window].some((value) => value !== undefined))
      throw new UsageError('--check runs nothing: it takes no --duration, --report, --seed, --processes, --soak or --window', CHAOS_USAGE);
    if (parsed.positionals.length === 0) throw new UsageError('--check needs at least one scenario file', CHAOS_USAGE);
    return checkScenarios(parsed.positionals, out, err);
  }
  if (parsed.values.soak !== undefined) return soakCommand(parsed.values, parsed.positionals, out);
  if (parsed.values.window !== undefined) throw new UsageError('--window goes with --soak', CHAOS_USAGE);
  const file = parsed.positionals[0];
  if (file === undefined || parsed.positionals.length > 1) throw new UsageError('give exactly one scenario file', CHAOS_USAGE);
  let scenario = loadScenario(file);
  if (parsed.values.duration !== undefined) {
    try {
      scenario = shortened(scenario, parseDuration(parsed.values.duration, '--duration'));
    } catch (error) {
      throw new UsageError((error as Error).message, CHAOS_USAGE);
    }
  }
  const seedText = parseSeed(parsed.values.seed);
  const processes = parsed.values.processes === true;
  const hosting = processes ? ' of processes' : '';
  out(`chaos: ${scenario.name} on a fresh ${scenario.nodes}-node cluster${hosting} for ${(scenario.durationMs / 1000).toFixed(1)} s`);
  const result = await runScenario(scenario, {
    log: out,
    progress: process.stdout,
    hosting: processes ? 'processes' : 'threads',
    ...(seedText === undefined ? {} : { seed: seedText }),
  });
  return reportResult(result, parsed.values.report ?? `chaos-report-${scenario.name}.html`, out);
}

function parseSeed(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{1,15}$/.test(text)) throw new UsageError(`--seed must be a non-negative integer, got ${text}`, CHAOS_USAGE);
  return Number(text);
}

/** `--soak D`: the soak (src/chaos/soak.ts); its table per fault class; 0 when nothing was violated or lost. */
async function soakCommand(
  values: { soak?: string; window?: string; seed?: string; duration?: string; report?: string; processes?: boolean },
  positionals: readonly string[],
  out: (line: string) => void,
): Promise<number> {
  if (positionals.length > 0) throw new UsageError('--soak runs no scenario file: it builds its own windows', CHAOS_USAGE);
  if (values.duration !== undefined || values.report !== undefined || values.processes !== undefined)
    throw new UsageError('--soak takes only --window and --seed', CHAOS_USAGE);
  let durationMs: number;
  let windowMs: number;
  try {
    durationMs = parseDuration(values.soak ?? '', '--soak');
    windowMs = parseDuration(values.window ?? '60s', '--window');
  } catch (error) {
    throw new UsageError((error as Error).message, CHAOS_USAGE);
  }
  if (windowMs < SOAK_WINDOW_MS_MIN) throw new UsageError(`--window must be at least ${SOAK_WINDOW_MS_MIN / 1000}s`, CHAOS_USAGE);
  const seed = parseSeed(values.seed);
  const result = await runSoak({ durationMs, windowMs, log: out, ...(seed === undefined ? {} : { seed }) });
  out(soakTable(result));
  out(
    `soak ${result.ok ? 'passed' : 'FAILED'}: ${result.windows.length} windows in ${(result.durationMs / 60_000).toFixed(1)} min, seed ${result.seed}`,
  );
  return result.ok ? 0 : 1;
}
