// npm run sim -- --seeds N [--family F] [--override JSON]   run N schedules from fresh random seeds
// npm run sim -- --seed S [--family F] [--override JSON]    replay one schedule, printing its options
// npm run sim -- --seed S ... --trace FILE                  and write it as an explorer trace (test/sim/trace.ts)
// The family defaults to the one whose seed range holds S (replay.ts); every failure prints the exact command.
// With --seeds, progress (done/total, seeds/s, time left) on a terminal, or a line every 5 s in a log.
// Exit codes name the kind of failure (as TigerBeetle's VOPR does): 0 passed, 1 correctness, 2 liveness, 3 crash, 64 usage.
import { randomInt } from 'node:crypto';
import { simulatedNodeIds, type FailureKind, type ScheduleResult } from './simulator.js';
import { FAMILY_NAMES, FRESH_SEED_MIN, parseCliArgs, replayCommand, requestOf, type CliRequest, type RunRequest } from './replay.js';
import { runRequest } from './run-seeds.js';
import { writeFileSync } from 'node:fs';
import { TraceRecorder } from './trace.js';
import { optionsOf } from './replay.js';
import { Progress } from '../../src/util/progress.js';

const USAGE = `usage: npm run sim -- --seeds N | --seed S [--trace FILE] [--family ${FAMILY_NAMES.join('|')}] [--override JSON] [--verbose]`;

const EXIT_CODES: Record<FailureKind, number> = { correctness: 1, liveness: 2, crash: 3 };

/** Fresh seeds lie past every family's range, so a printed seed alone would replay as mixed. */
const FRESH_SEED_MAX = 2 ** 47;

interface Run {
  readonly request: RunRequest;
  readonly result: ScheduleResult;
}

function main(): number {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  let cli: CliRequest;
  try {
    cli = parseCliArgs(process.argv.slice(2));
  } catch (error) {
    return usage(error instanceof Error ? error.message : String(error));
  }
  if (cli.seed !== null) {
    const request = requestOf(cli, cli.seed);
    const trace = cli.trace === null ? null : traceRecorderFor(request);
    const result = runRequest(request, trace);
    if (trace !== null && cli.trace !== null) {
      writeFileSync(cli.trace, JSON.stringify(trace.trace()));
      console.log(`trace ${cli.trace}: ${trace.trace().events.length} events (open it in the explorer's replay mode)`);
    }
    console.log(`seed ${request.seed} family ${request.family}`);
    console.log(`options ${JSON.stringify(result.options)}`);
    console.log(`stats ${JSON.stringify(result.stats)}`);
    return report([{ request, result }]);
  }
  const started = process.hrtime.bigint();
  const runs: Run[] = [];
  const progress = new Progress({ label: 'sim', total: cli.seeds, unit: 'seeds' });
  let failures = 0;
  for (let i = 0; i < cli.seeds; i++) {
    // Fresh seeds every run: each run explores new ground; a failure prints the command that replays it.
    const request = requestOf({ ...cli, family: cli.family ?? 'mixed' }, randomInt(FRESH_SEED_MIN, FRESH_SEED_MAX));
    const run = { request, result: runRequest(request) };
    runs.push(run);
    if (!run.result.ok) failures++;
    if (cli.verbose || !run.result.ok) printRun(run, (line) => progress.log(line));
    progress.update(i + 1, `${failures} failed`);
  }
  progress.stop();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(`${runs.length} schedules in ${seconds.toFixed(1)} s (${Math.round((runs.length / seconds) * 60)} schedules/min)`);
  return report(runs);
}

function traceRecorderFor(request: RunRequest): TraceRecorder {
  const options = optionsOf(request);
  return new TraceRecorder(simulatedNodeIds(options), {
    tickMs: options.tickUnits,
    electionTicks: options.electionTicks,
    heartbeatTicks: options.heartbeatTicks,
  });
}

function printRun({ request, result }: Run, print: (line: string) => void = console.log): void {
  const o = result.options;
  const line =
    `seed ${result.seed} (${request.family}): ${o.nodeCount} nodes, ${result.stats.events} events, ${result.stats.crashes} crashes, ` +
    `${result.stats.partitions} partitions, ${result.stats.writesOk} writes ok, ${result.stats.readsOk} reads ok, commit ${result.stats.maxCommitIndex}`;
  if (result.ok) print(`ok   ${line}`);
  else {
    const failure = result.failure;
    print(`FAIL ${line}`);
    print(`     ${failure?.kind} (${failure?.property}) at ${failure?.atUnits} units: ${failure?.message}`);
    print(`     replay: ${replayCommand(request)}`);
  }
}

function report(runs: readonly Run[]): number {
  const failed = runs.filter((run) => !run.result.ok);
  const first = failed[0];
  if (runs.length === 1 && first !== undefined) printRun(first);
  console.log(`${runs.length - failed.length} passed, ${failed.length} failed`);
  return first?.result.failure ? EXIT_CODES[first.result.failure.kind] : 0;
}

function usage(message: string): number {
  console.error(message);
  console.error(USAGE);
  return 64;
}

process.exitCode = main();
