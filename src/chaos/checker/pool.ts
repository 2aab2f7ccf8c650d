/**
 * A piscina pool of linearizability workers, each checking one partition per task. Create it once, pass it to
 * `checkHistory` as often as needed, and `destroy()` it after use (its threads keep the process alive).
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { CheckerTask, PartitionResult, SearchTask, ShrinkTask } from './partition-task.js';
import type { FailingPiece } from './shrink.js';

export interface CheckerPoolOptions {
  /** Worker threads; default one per core. */
  readonly threads: number;
  /** Per-worker old-generation heap limit: a runaway search fails the task, not the process. */
  readonly heapMbMax: number;
}

export const CHECKER_POOL_DEFAULTS: CheckerPoolOptions = {
  threads: availableParallelism(),
  heapMbMax: 4096,
};

/** The most worker threads a pool may have. */
export const CHECKER_POOL_THREADS_MAX = 64;

export interface CheckerPool {
  readonly threads: number;
  search(task: SearchTask): Promise<PartitionResult>;
  shrink(task: ShrinkTask): Promise<FailingPiece>;
  /** Ends the workers; tasks still queued or running are rejected. */
  destroy(): Promise<void>;
}

export function createCheckerPool(options: Partial<CheckerPoolOptions> = {}): CheckerPool {
  const { threads, heapMbMax } = { ...CHECKER_POOL_DEFAULTS, ...options };
  if (!Number.isInteger(threads) || threads < 1 || threads > CHECKER_POOL_THREADS_MAX) {
    throw new RangeError(`threads must be an integer from 1 to ${CHECKER_POOL_THREADS_MAX}, got ${threads}`);
  }
  const entry = resolveWorkerEntry();
  const piscina = new Piscina<CheckerTask, PartitionResult | FailingPiece>({
    filename: fileURLToPath(entry.url),
    workerData: entry.data,
    minThreads: threads,
    maxThreads: threads,
    // A search is CPU-bound: one task at a time a worker.
    concurrentTasksPerWorker: 1,
    resourceLimits: { maxOldGenerationSizeMb: heapMbMax },
  });
  return {
    threads,
    // The worker answers a search task with a PartitionResult and a shrink task with a FailingPiece.
    search: async (task) => (await piscina.run(task)) as PartitionResult,
    shrink: async (task) => (await piscina.run(task)) as FailingPiece,
    destroy: () => piscina.destroy(),
  };
}

function resolveWorkerEntry(): { url: URL; data: Record<string, string> } {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    // Running from source (tests, tsx): a small JS entry registers tsx, then loads the TypeScript worker.
    return {
      url: new URL('../../../workers/ts-entry-piscina.mjs', here),
      data: { __entry: new URL('../../../workers/linearizability.worker.ts', here).href },
    };
  }
  return { url: new URL('../../../workers/linearizability.worker.js', here), data: {} };
}
