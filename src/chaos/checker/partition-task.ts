/**
 * The two tasks of a check, on one partition: the search, and (for a partition found not linearizable)
 * shrinking it to a small failing piece. The same functions run in-process and in a pool worker; tasks and
 * results are plain data that cross a MessagePort.
 */
import assert from 'node:assert/strict';
import type { Operation } from './history.js';
import { modelByName, type Model, type ModelName } from './models.js';
import { shrinkFailure, type FailingPiece } from './shrink.js';
import { searchLinearization, type SearchStats, type StuckPoint, type UnknownReason, type Verdict } from './wgl.js';

/** Why a partition's verdict is unknown: a search limit, another partition's failure, or a worker out of heap. */
export type PartitionUnknownReason = UnknownReason | 'memory-limit';

export interface TaskLimits {
  /** A `Date.now()` time past which the task gives up. */
  readonly deadlineEpochMs: number;
  /** Cache bound of each search. */
  readonly cacheEntriesMax: number;
}

export interface PartitionResult {
  /** The partition's key, `*` for an unpartitioned history. */
  readonly key: string;
  readonly verdict: Verdict;
  /** Set when the verdict is `unknown`. */
  readonly reason: PartitionUnknownReason | null;
  readonly stats: SearchStats;
  /** Set when the verdict is `illegal`: the partition itself, or a smaller piece of it once shrunk. */
  readonly failure: FailingPiece | null;
}

interface TaskBase {
  readonly model: ModelName;
  readonly key: string;
  /** Normalized (`normalizeOperations`). */
  readonly operations: readonly Operation[];
  readonly limits: TaskLimits;
}

/** Search one partition. */
export interface SearchTask extends TaskBase {
  readonly kind: 'search';
  /** Int32 element 0 set to non-zero (by the caller) stops the search early. */
  readonly cancel: SharedArrayBuffer | null;
}

/** Shrink a partition a search found not linearizable; `stuck` is where that search got stuck. */
export interface ShrinkTask extends TaskBase {
  readonly kind: 'shrink';
  readonly stuck: StuckPoint;
}

export type CheckerTask = SearchTask | ShrinkTask;

export function searchPartition<State>(
  key: string,
  operations: readonly Operation[],
  model: Model<State>,
  limits: TaskLimits,
  cancel?: Int32Array,
): PartitionResult {
  if (cancel !== undefined && Atomics.load(cancel, 0) !== 0) {
    return {
      key,
      verdict: 'unknown',
      reason: 'cancelled',
      stats: { operations: operations.length, iterations: 0, cacheEntries: 0, elapsedMs: 0 },
      failure: null,
    };
  }
  const result = searchLinearization(operations, model, { ...limits, cancel });
  switch (result.verdict) {
    case 'ok':
      return { key, verdict: 'ok', reason: null, stats: result.stats, failure: null };
    case 'unknown':
      return { key, verdict: 'unknown', reason: result.reason, stats: result.stats, failure: null };
    case 'illegal': {
      const sorted = [...operations].sort((a, b) => a.invokeTime - b.invokeTime || a.id - b.id);
      const failure: FailingPiece = {
        operations: sorted,
        runningAtCut: [],
        cutTime: null,
        narrowedToKey: null,
        readsDropped: 0,
        stuck: result.stuck,
        shrunkFrom: operations.length,
        shrinkChecks: 0,
      };
      return { key, verdict: 'illegal', reason: null, stats: result.stats, failure };
    }
  }
}

/** The pool worker's entry (see workers/linearizability.worker.ts). */
export function runCheckerTask(task: CheckerTask): PartitionResult | FailingPiece {
  assert.ok(Array.isArray(task.operations), 'a checker task carries its operations');
  const model = modelByName(task.model);
  if (task.kind === 'shrink') return shrinkFailure(task.operations, task.stuck, model, task.limits);
  const cancel = task.cancel === null ? undefined : new Int32Array(task.cancel);
  return searchPartition(task.key, task.operations, model, task.limits, cancel);
}
