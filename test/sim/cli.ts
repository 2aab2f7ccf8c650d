// npm run sim -- --seeds N     run N schedules from fresh random seeds
// npm run sim -- --seed S      replay one schedule, printing its options
// Exit codes name the kind of failure (as TigerBeetle's VOPR does): 0 passed, 1 correctness, 2 liveness, 3 crash, 64 usage.
import { parseArgs } from 'node:util';
import { randomInt } from 'node:crypto';
import { runSchedule, type FailureKind, type ScheduleResult } from './simulator.js';

const EXIT_CODES: Record<FailureKind, number> = { correctness: 1, liveness: 2, crash: 3 };

function main(): number {
  const { values } = parseArgs({
    options: {
      seeds: { type: 'string' },
      seed: { type: 'string' },
      verbose: { type: 'boolean', default: false },
    },
  });
  if (values.seed !== undefined) {
    const seed = Number(values.seed);
    if (!Number.isSafeInteger(seed) || seed < 0) return usage(`--seed must be a non-negative integer, got ${values.seed}`);
    const result = runSchedule(seed);
    console.log(`seed ${seed}`);
    console.log(`options ${JSON.stringify(result.options)}`);
    console.log(`stats ${JSON.stringify(result.stats)}`);
    return report([result]);
  }
  const count = values.seeds === undefined ? 100 : Number(values.seeds);
  if (!Number.isSafeInteger(count) || count < 1) return usage(`--seeds must be a positive integer, got ${values.seeds}`);
  const started = process.hrtime.bigint();
  const results: ScheduleResult[] = [];
  for (let i = 0; i < count; i++) {
    // Fresh seeds every run: each run explores new ground; a failure prints the seed that replays it.
    const result = runSchedule(randomInt(0, 2 ** 47));
    results.push(result);
    if (values.verbose || !result.ok) printResult(result);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(`${results.length} schedules in ${seconds.toFixed(1)} s (${Math.round((results.length / seconds) * 60)} schedules/min)`);
  return report(results);
}

function printResult(result: ScheduleResult): void {
  const o = result.options;
  const line =
    `seed ${result.seed}: ${o.nodeCount} nodes, ${result.stats.events} events, ${result.stats.crashes} crashes, ${result.stats.partitions} partitions, ` +
    `${result.stats.writesOk} writes ok, ${result.stats.readsOk} reads ok, commit ${result.stats.maxCommitIndex}`;
  if (result.ok) console.log(`ok   ${line}`);
  else {
    const failure = result.failure;
    console.log(`FAIL ${line}`);
    console.log(`     ${failure?.kind} (${failure?.property}) at ${failure?.atUnits} units: ${failure?.message}`);
    console.log(`     replay: npm run sim -- --seed ${result.seed}`);
  }
}

function report(results: readonly ScheduleResult[]): number {
  const failed = results.filter((result) => !result.ok);
  const first = failed[0];
  if (results.length === 1 && first !== undefined) printResult(first);
  console.log(`${results.length - failed.length} passed, ${failed.length} failed`);
  return first?.failure ? EXIT_CODES[first.failure.kind] : 0;
}

function usage(message: string): number {
  console.error(message);
  console.error('usage: npm run sim -- --seeds N | --seed S [--verbose]');
  return 64;
}

process.exitCode = main();
