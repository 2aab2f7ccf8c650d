// Runs simulator seeds in the tree it is started from, until one fails or the budget is spent, and prints
// one JSON line (a SeedRunnerReport). run.ts starts it with `npx tsx` inside each patched copy.
// Usage: npx tsx test/mutations/seed-runner.ts SEEDS_MAX SECONDS_MAX FAMILY[,FAMILY...]   (fresh seeds, families in turn)
//        npx tsx test/mutations/seed-runner.ts --seed S --family F    (replay one run)
import { randomInt } from 'node:crypto';
import { FAMILY_NAMES, FRESH_SEED_MIN, replayCommand, type FamilyName, type RunRequest } from '../sim/replay.js';
import { runRequest } from '../sim/run-seeds.js';

export interface SeedRunnerReport {
  readonly seedsRun: number;
  readonly seconds: number;
  /** The first failing run, or null if every seed passed. */
  readonly failure: { readonly kind: string; readonly property: string; readonly message: string; readonly replay: string } | null;
}

/** Fresh seeds lie past every family's range (as in test/sim/cli.ts). */
const FRESH_SEED_MAX = 2 ** 47;

function run(requests: (i: number) => RunRequest, seedsMax: number, secondsMax: number): SeedRunnerReport {
  const started = process.hrtime.bigint();
  const elapsed = (): number => Number(process.hrtime.bigint() - started) / 1e9;
  let seedsRun = 0;
  while (seedsRun < seedsMax && elapsed() < secondsMax) {
    const request = requests(seedsRun);
    seedsRun++;
    let failure: SeedRunnerReport['failure'] = null;
    try {
      const result = runRequest(request);
      if (result.failure !== null) failure = { ...result.failure, replay: replayCommand(request) };
    } catch (error) {
      // The simulator turns invariant failures into results; anything escaping it is a crash all the same.
      failure = { kind: 'crash', property: 'exception', message: String(error), replay: replayCommand(request) };
    }
    if (failure !== null) return { seedsRun, seconds: elapsed(), failure: { ...failure, message: failure.message.slice(0, 300) } };
  }
  return { seedsRun, seconds: elapsed(), failure: null };
}

function main(args: readonly string[]): SeedRunnerReport {
  if (args[0] === '--seed') {
    const seed = Number(args[1]);
    const family = (args[3] ?? 'mixed') as FamilyName;
    if (!FAMILY_NAMES.includes(family)) throw new Error(`unknown family ${family}`);
    return run(() => ({ seed, family, overrides: {} }), 1, Infinity);
  }
  const seedsMax = Number(args[0] ?? 2000);
  const secondsMax = Number(args[1] ?? 120);
  const families = (args[2] ?? FAMILY_NAMES.join(',')).split(',') as FamilyName[];
  for (const family of families) if (!FAMILY_NAMES.includes(family)) throw new Error(`unknown family ${family}`);
  // A fresh random start each time, then consecutive seeds; the families take turns.
  const firstSeed = randomInt(FRESH_SEED_MIN, FRESH_SEED_MAX - seedsMax);
  return run((i) => ({ seed: firstSeed + i, family: families[i % families.length] as FamilyName, overrides: {} }), seedsMax, secondsMax);
}

console.log(JSON.stringify(main(process.argv.slice(2))));
