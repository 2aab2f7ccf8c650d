import { runSchedule, type ScheduleOptions, type ScheduleResult } from './simulator.js';

export interface SeedRun {
  readonly results: readonly ScheduleResult[];
  readonly failures: readonly string[];
}

/** Runs a range of fixed seeds (so CI is deterministic) and describes every failure with its replay command. */
export function runSeeds(firstSeed: number, count: number, overrides: Partial<Omit<ScheduleOptions, 'seed'>> = {}): SeedRun {
  const results: ScheduleResult[] = [];
  const failures: string[] = [];
  for (let seed = firstSeed; seed < firstSeed + count; seed++) {
    const result = runSchedule(seed, overrides);
    results.push(result);
    if (!result.ok) {
      failures.push(`seed ${seed} ${JSON.stringify(overrides)}: ${result.failure?.kind} ${result.failure?.message.slice(0, 400)}`);
    }
  }
  return { results, failures };
}
