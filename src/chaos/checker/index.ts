/**
 * The linearizability checker (issue 6): Wing-Gong / Lowe search with per-key partitioning and a cache of
 * visited states, partitions in parallel in a piscina pool, `unknown` past a time limit, and the smallest
 * failing piece printed when a history is not linearizable.
 *
 *   const recorder = new HistoryRecorder();                       // or parseJepsenHistory(text).operations
 *   const call = recorder.invoke({ process: 3, f: 'write', key: 'k', input: 'v1' });
 *   recorder.complete(call, { status: 'ok' });                     // 'fail': did not happen; 'info': may have
 *   const pool = createCheckerPool();                             // optional; destroy() it after use
 *   const result = await checkHistory(recorder.operations(), registerModel, { partitioned: true, timeLimitMs: 30_000, pool });
 *   if (result.verdict !== 'ok') console.log(result.explanation);  // 'illegal' | 'unknown'
 *   await pool.destroy();
 */
export { HistoryRecorder, HistoryParseError, normalizeOperations, parseJepsenHistory } from './history.js';
export type {
  Completion,
  InvokeArguments,
  Operation,
  OperationStatus,
  ParsedHistory,
  PendingOperation,
  TimeUnit,
  Value,
} from './history.js';
export { MODELS, kvModel, modelByName, registerModel } from './models.js';
export type { KeyedState, Model, ModelName, Partition, StepResult } from './models.js';
export { CHECK_DEFAULTS, checkHistory, checkHistorySync } from './check.js';
export type { CheckFailure, CheckOptions, CheckResult } from './check.js';
export { CHECKER_POOL_DEFAULTS, createCheckerPool } from './pool.js';
export type { CheckerPool, CheckerPoolOptions } from './pool.js';
export type { PartitionResult, PartitionUnknownReason } from './partition-task.js';
export type { FailingPiece } from './shrink.js';
export { SEARCH_LIMITS_DEFAULT, searchLinearization } from './wgl.js';
export type { SearchLimits, SearchResult, StuckPoint, UnknownReason, Verdict } from './wgl.js';
export { formatOperation } from './format.js';
