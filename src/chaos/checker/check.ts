/**
 * Checking a whole history: split it into partitions (or not), search each in-process or in a pool, and sum up.
 * The verdict is `illegal` if any partition is, else `unknown` if any search gave up, else `ok`.
 */
import assert from 'node:assert/strict';
import { normalizeOperations, type Operation, type TimeUnit } from './history.js';
import { describePartition, formatFailure, plural } from './format.js';
import { MODELS, type Model, type ModelName, type Partition } from './models.js';
import { searchPartition, type PartitionResult, type TaskLimits } from './partition-task.js';
import type { CheckerPool } from './pool.js';
import { shrinkFailure, type FailingPiece } from './shrink.js';
import { SEARCH_LIMITS_DEFAULT, type Verdict } from './wgl.js';

export interface CheckOptions {
  /** Search each key on its own (sound by locality, and much faster) or the whole history at once. */
  readonly partitioned: boolean;
  /** Past this the check answers `unknown` for the partitions not done. Shrinking a failure comes on top. */
  readonly timeLimitMs: number;
  /** Search partitions in parallel in this pool (built-in models only); in-process otherwise. */
  readonly pool?: CheckerPool | undefined;
  /** Cache bound of each search (default SEARCH_LIMITS_DEFAULT.cacheEntriesMax). */
  readonly cacheEntriesMax?: number | undefined;
  /** Shrink the most promising failing partitions (one in-process, one a pool thread) to small pieces (default true). */
  readonly shrink?: boolean | undefined;
  /** Time allowed for shrinking, after the searches (default CHECK_DEFAULTS.shrinkTimeLimitMs). */
  readonly shrinkTimeLimitMs?: number | undefined;
  /**
   * Stop searching the other partitions once one is illegal (default true, as Porcupine does); those not done
   * come out `unknown` (`cancelled`). False gives every partition its own verdict.
   */
  readonly stopOnIllegal?: boolean | undefined;
  /** The unit of the operations' times, for the explanation (default `ms`). */
  readonly timeUnit?: TimeUnit | undefined;
}

export const CHECK_DEFAULTS = {
  shrink: true,
  shrinkTimeLimitMs: 2_000,
  stopOnIllegal: true,
  timeUnit: 'ms',
} as const;

export interface CheckFailure extends FailingPiece {
  /** The partition the piece comes from. */
  readonly partition: string;
}

export interface CheckResult {
  readonly verdict: Verdict;
  /** One per partition (one in all, key `*`, when not partitioned), in the order of the model's partitions. */
  readonly partitions: readonly PartitionResult[];
  /** Operations searched: the history less its `fail` operations and `info` reads. */
  readonly operations: number;
  readonly elapsedMs: number;
  /** Of `elapsedMs`, the time spent shrinking failures (the verdict was known before). */
  readonly shrinkMs: number;
  /** The smallest failing piece over the illegal partitions; null unless the verdict is `illegal`. */
  readonly failure: CheckFailure | null;
  /** What to print: the verdict and, when not linearizable, the smallest failing piece. */
  readonly explanation: string;
}

/** Checks `operations` against `model`, in `options.pool` when given. */
export async function checkHistory<State>(
  operations: readonly Operation[],
  model: Model<State>,
  options: CheckOptions,
): Promise<CheckResult> {
  const pool = options.pool;
  if (pool === undefined) return checkHistorySync(operations, model, options);
  const plan = planCheck(operations, model, options);
  const modelName = pooledModelName(model);
  const cancelBuffer = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
  const cancel = new Int32Array(cancelBuffer);
  // Largest first, so the long searches start early and the short ones fill in around them.
  const order = plan.partitions.map((_, i) => i).sort((a, b) => size(plan.partitions[b]) - size(plan.partitions[a]));
  const results: (PartitionResult | null)[] = plan.partitions.map(() => null);
  await Promise.all(
    order.map(async (i) => {
      const partition = plan.partitions[i];
      assert.ok(partition !== undefined);
      const task = {
        kind: 'search',
        model: modelName,
        key: partition.key,
        operations: partition.operations,
        limits: plan.limits,
        cancel: cancelBuffer,
      } as const;
      // A search that outgrows its worker's heap is a search that gave up; anything else is a bug.
      const result = await pool.search(task).catch((error: unknown): PartitionResult => {
        if (isOutOfMemory(error))
          return { key: partition.key, verdict: 'unknown', reason: 'memory-limit', stats: emptyStats(partition), failure: null };
        throw error;
      });
      if (result.verdict === 'illegal' && plan.stopOnIllegal) Atomics.store(cancel, 0, 1);
      results[i] = result;
    }),
  );
  const searched = complete(results);
  const shrinkStartedMs = performance.now();
  if (plan.shrink) {
    const limits = { deadlineEpochMs: Date.now() + plan.shrinkTimeLimitMs, cacheEntriesMax: plan.limits.cacheEntriesMax };
    await Promise.all(
      shrinkTargets(searched, pool.threads).map(async (i) => {
        const { partition, failure } = illegalAt(searched, plan, i);
        const task = {
          kind: 'shrink',
          model: modelName,
          key: partition.key,
          operations: partition.operations,
          limits,
          stuck: failure.stuck,
        } as const;
        // A shrink that outgrows its worker's heap leaves the unshrunk partition as the piece.
        const piece = await pool.shrink(task).catch((error: unknown) => {
          if (isOutOfMemory(error)) return failure;
          throw error;
        });
        searched[i] = { ...(searched[i] as PartitionResult), failure: piece };
      }),
    );
  }
  return summarize(plan, searched, model, performance.now() - shrinkStartedMs);
}

/** Checks `operations` against `model` in this thread. */
export function checkHistorySync<State>(
  operations: readonly Operation[],
  model: Model<State>,
  options: Omit<CheckOptions, 'pool'>,
): CheckResult {
  const plan = planCheck(operations, model, options);
  // Smallest first: with stopOnIllegal, a failure in a small partition is found before the big searches.
  const order = plan.partitions.map((_, i) => i).sort((a, b) => size(plan.partitions[a]) - size(plan.partitions[b]));
  const results: (PartitionResult | null)[] = plan.partitions.map(() => null);
  let stopped = false;
  for (const i of order) {
    const partition = plan.partitions[i];
    assert.ok(partition !== undefined);
    results[i] = stopped
      ? { key: partition.key, verdict: 'unknown', reason: 'cancelled', stats: emptyStats(partition), failure: null }
      : searchPartition(partition.key, partition.operations, model, plan.limits);
    if (results[i]?.verdict === 'illegal' && plan.stopOnIllegal) stopped = true;
  }
  const searched = complete(results);
  const shrinkStartedMs = performance.now();
  if (plan.shrink) {
    const limits = { deadlineEpochMs: Date.now() + plan.shrinkTimeLimitMs, cacheEntriesMax: plan.limits.cacheEntriesMax };
    for (const i of shrinkTargets(searched, 1)) {
      const { partition, failure } = illegalAt(searched, plan, i);
      searched[i] = { ...(searched[i] as PartitionResult), failure: shrinkFailure(partition.operations, failure.stuck, model, limits) };
    }
  }
  return summarize(plan, searched, model, performance.now() - shrinkStartedMs);
}

interface CheckPlan {
  readonly startedMs: number;
  readonly operations: number;
  readonly partitions: readonly Partition[];
  readonly limits: TaskLimits;
  readonly shrink: boolean;
  readonly shrinkTimeLimitMs: number;
  readonly stopOnIllegal: boolean;
  readonly timeUnit: TimeUnit;
}

function planCheck<State>(operations: readonly Operation[], model: Model<State>, options: Omit<CheckOptions, 'pool'>): CheckPlan {
  assert.ok(
    Number.isFinite(options.timeLimitMs) && options.timeLimitMs >= 0,
    `timeLimitMs must be a finite number >= 0, got ${options.timeLimitMs}`,
  );
  const startedMs = performance.now();
  // An `info` read constrains nothing (its result is unknown, and it changes no state): leave it out of the search.
  const normalized = normalizeOperations(operations).filter((op) => !(op.status === 'info' && model.isReadOnly(op)));
  const partitions = options.partitioned ? model.partition(normalized) : [{ key: '*', operations: normalized }];
  assert.equal(
    partitions.reduce((sum, p) => sum + p.operations.length, 0),
    normalized.length,
    'the partitions must cover the history',
  );
  const cacheEntriesMax = options.cacheEntriesMax ?? SEARCH_LIMITS_DEFAULT.cacheEntriesMax;
  assert.ok(Number.isInteger(cacheEntriesMax) && cacheEntriesMax > 0, `cacheEntriesMax must be a positive integer, got ${cacheEntriesMax}`);
  return {
    startedMs,
    operations: normalized.length,
    partitions,
    limits: { deadlineEpochMs: Date.now() + options.timeLimitMs, cacheEntriesMax },
    shrink: options.shrink ?? CHECK_DEFAULTS.shrink,
    shrinkTimeLimitMs: options.shrinkTimeLimitMs ?? CHECK_DEFAULTS.shrinkTimeLimitMs,
    stopOnIllegal: options.stopOnIllegal ?? CHECK_DEFAULTS.stopOnIllegal,
    timeUnit: options.timeUnit ?? CHECK_DEFAULTS.timeUnit,
  };
}

function complete(results: readonly (PartitionResult | null)[]): PartitionResult[] {
  return results.map((result) => {
    assert.ok(result !== null, 'every partition has a result');
    return result;
  });
}

/**
 * The illegal partitions worth shrinking, most promising first: the search got stuck earliest (shortest prefix,
 * fewest open operations), so the piece is likely small.
 */
function shrinkTargets(results: readonly PartitionResult[], count: number): number[] {
  const promise = (i: number): number => {
    const stuck = results[i]?.failure?.stuck;
    return stuck === undefined ? Number.POSITIVE_INFINITY : stuck.linearized.length + stuck.candidates.length;
  };
  return results
    .map((result, i) => (result.verdict === 'illegal' ? i : -1))
    .filter((i) => i >= 0)
    .sort((a, b) => promise(a) - promise(b))
    .slice(0, count);
}

function illegalAt(results: readonly PartitionResult[], plan: CheckPlan, i: number): { partition: Partition; failure: FailingPiece } {
  const partition = plan.partitions[i];
  const failure = results[i]?.failure;
  assert.ok(partition !== undefined && failure !== undefined && failure !== null, `partition ${i} is illegal and has its stuck point`);
  return { partition, failure };
}

function summarize<State>(plan: CheckPlan, partitions: PartitionResult[], model: Model<State>, shrinkMs: number): CheckResult {
  const verdict: Verdict = partitions.some((p) => p.verdict === 'illegal')
    ? 'illegal'
    : partitions.some((p) => p.verdict === 'unknown')
      ? 'unknown'
      : 'ok';
  let smallest: { partition: PartitionResult; failure: FailingPiece } | null = null;
  for (const partition of partitions) {
    const failure = partition.failure;
    if (failure === null) continue;
    if (smallest === null || failure.operations.length < smallest.failure.operations.length) smallest = { partition, failure };
  }
  const elapsedMs = performance.now() - plan.startedMs;
  return {
    verdict,
    partitions,
    operations: plan.operations,
    elapsedMs,
    shrinkMs,
    failure: smallest === null ? null : { ...smallest.failure, partition: smallest.partition.key },
    explanation: explain(verdict, partitions, smallest, model, plan, elapsedMs),
  };
}

function explain<State>(
  verdict: Verdict,
  partitions: readonly PartitionResult[],
  smallest: { partition: PartitionResult; failure: FailingPiece } | null,
  model: Model<State>,
  plan: CheckPlan,
  elapsedMs: number,
): string {
  const scope = `${plural(plan.operations, 'operation')} in ${plural(partitions.length, 'partition')}, ${elapsedMs.toFixed(0)} ms`;
  if (verdict === 'ok') return `linearizable (${scope}).`;
  if (verdict === 'unknown') {
    const unknown = partitions.filter((p) => p.verdict === 'unknown');
    const which = unknown.map((p) => `${describePartition(p.key)}: ${p.reason ?? 'unknown'}`).join(', ');
    return `unknown: ${unknown.length} of ${partitions.length} searches gave up (${which}); none found the history not linearizable (${scope}).`;
  }
  assert.ok(smallest !== null, 'an illegal verdict comes with a failing piece');
  const illegal = partitions.filter((p) => p.verdict === 'illegal').length;
  const lines = formatFailure(smallest.partition, smallest.failure, model, plan.timeUnit);
  if (illegal > 1) lines.push(`(${illegal} partitions are not linearizable; this is the smallest piece.)`);
  lines.push(`(${scope})`);
  return lines.join('\n');
}

function pooledModelName<State>(model: Model<State>): ModelName {
  const name = model.name as ModelName;
  assert.ok(
    Object.hasOwn(MODELS, name) && (MODELS[name] as unknown) === model,
    `model "${model.name}" is not in MODELS: check it in-process`,
  );
  return name;
}

function isOutOfMemory(error: unknown): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY';
}

function emptyStats(partition: Partition): PartitionResult['stats'] {
  return { operations: partition.operations.length, iterations: 0, cacheEntries: 0, elapsedMs: 0 };
}

function size(partition: Partition | undefined): number {
  return partition?.operations.length ?? 0;
}
