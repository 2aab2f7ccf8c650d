import { Simulator, type ScheduleResult } from './simulator.js';
import type { TraceRecorder } from './trace.js';
import { FAMILIES, optionsOf, replayCommand, type FamilyName, type RunRequest } from './replay.js';

export interface SeedRun {
  readonly results: readonly ScheduleResult[];
  /** One line per failing run: what failed, then the command that replays it. */
  readonly failures: readonly string[];
}

/** Runs one run request; the result's options are exactly what its replay command derives. */
export function runRequest(request: RunRequest, trace: TraceRecorder | null = null): ScheduleResult {
  return new Simulator(optionsOf(request), {}, trace).run();
}

/** Runs a family's first `count` seeds (fixed, so CI is deterministic) and describes every failure with its replay command. */
export function runFamily(family: FamilyName, count: number): SeedRun {
  const results: ScheduleResult[] = [];
  const failures: string[] = [];
  const { firstSeed } = FAMILIES[family];
  for (let seed = firstSeed; seed < firstSeed + count; seed++) {
    const request: RunRequest = { seed, family, overrides: {} };
    const result = runRequest(request);
    results.push(result);
    if (!result.ok) {
      failures.push(`seed ${seed}: ${result.failure?.kind} ${result.failure?.message.slice(0, 400)}; replay: ${replayCommand(request)}`);
    }
  }
  return { results, failures };
}
