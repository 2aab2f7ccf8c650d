/**
 * Shrinks a non-linearizable history to a small piece that is still not linearizable, and whose failure implies
 * the whole history's. Only cuts that keep that implication are made:
 * - one partition of it (locality: a history is linearizable iff each key's sub-history is);
 * - a prefix: the operations invoked up to some return, those still running there kept as `info` (linearizable
 *   histories have linearizable prefixes);
 * - without a read (a read only adds a constraint; an `info` read adds none, and is dropped unseen).
 * Writes are never dropped: a piece missing a write a read saw would fail for a reason the history does not have.
 */
import type { Operation } from './history.js';
import type { Model } from './models.js';
import { searchLinearization, type StuckPoint } from './wgl.js';

/** The most searches one shrink may run. */
export const SHRINK_CHECKS_MAX = 256;

export interface ShrinkLimits {
  readonly deadlineEpochMs: number;
  readonly cacheEntriesMax: number;
  readonly cancel?: Int32Array | undefined;
}

/** A sub-history that is itself not linearizable. */
export interface FailingPiece {
  /** Its operations as recorded, in invocation order. */
  readonly operations: readonly Operation[];
  /** Ids of the piece's operations that completed after the cut: the piece treats them as still running (`info`). */
  readonly runningAtCut: readonly number[];
  /** The time of the cut (the last return kept), or null when the piece was not cut. */
  readonly cutTime: number | null;
  /** The key the piece was narrowed to, when the shrunk history had several (an unpartitioned check). */
  readonly narrowedToKey: string | null;
  /** Reads left out because the piece fails without them. */
  readonly readsDropped: number;
  /** Where the search on the piece got stuck; ids name operations of `operations`. */
  readonly stuck: StuckPoint;
  /** How many operations the shrunk history had. */
  readonly shrunkFrom: number;
  /** How many searches shrinking ran. */
  readonly shrinkChecks: number;
}

interface Candidate {
  readonly operations: readonly Operation[];
  readonly cutTime: number | null;
}

/**
 * `operations` is normalized and known not to be linearizable, with `stuck` its search's stuck point. Stops
 * shrinking at the deadline or after SHRINK_CHECKS_MAX searches; what it returns is always verified.
 */
export function shrinkFailure<State>(
  operations: readonly Operation[],
  stuck: StuckPoint,
  model: Model<State>,
  limits: ShrinkLimits,
): FailingPiece {
  let checks = 0;
  let best: Candidate = { operations, cutTime: null };
  let bestStuck = stuck;
  const tryIllegal = (candidate: Candidate): boolean => {
    if (checks >= SHRINK_CHECKS_MAX || Date.now() > limits.deadlineEpochMs) return false;
    checks++;
    const result = searchLinearization(asChecked(candidate), model, limits);
    if (result.verdict !== 'illegal') return false;
    best = candidate;
    bestStuck = result.stuck;
    return true;
  };

  // 1. One partition.
  let narrowedToKey: string | null = null;
  const partitions = model.partition(operations);
  if (partitions.length > 1) {
    const bySize = [...partitions].sort((a, b) => a.operations.length - b.operations.length);
    for (const partition of bySize) {
      if (tryIllegal({ operations: partition.operations, cutTime: null })) {
        narrowedToKey = partition.key;
        break;
      }
    }
  }

  // 2. The shortest failing prefix, by bisection over the return times (prefixes of a linearizable history
  // are linearizable, so failing is monotone in the cut).
  const whole = best.operations;
  const returnTimes = [...new Set(whole.filter((op) => op.status === 'ok').map((op) => op.completeTime))].sort((a, b) => a - b);
  let low = 0;
  let high = returnTimes.length - 1;
  // First guess: the cut at the return the search got stuck on.
  const blocking = whole.find((op) => op.id === bestStuck.blocking);
  const guess = blocking === undefined ? -1 : returnTimes.indexOf(blocking.completeTime);
  if (guess >= 0 && guess < high && tryIllegal(cut(whole, blocking?.completeTime ?? 0, model))) high = guess;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (tryIllegal(cut(whole, returnTimes[middle] ?? 0, model))) high = middle;
    else low = middle + 1;
  }

  // 3. Without the reads that do not matter, in chunks that halve (delta debugging): those off the stuck point
  // first, from the earliest.
  const nearStuck = new Set([...bestStuck.candidates, bestStuck.blocking]);
  const reads = best.operations.filter((op) => model.isReadOnly(op));
  const readsBefore = reads.length;
  const tryOrder = [...reads.filter((op) => !nearStuck.has(op.id)), ...reads.filter((op) => nearStuck.has(op.id))];
  for (let chunk = tryOrder.length; chunk >= 1; chunk = chunk === 1 ? 0 : Math.ceil(chunk / 2)) {
    for (let start = 0; start < tryOrder.length; start += chunk) {
      if (checks >= SHRINK_CHECKS_MAX || Date.now() > limits.deadlineEpochMs) break;
      const drop = new Set(tryOrder.slice(start, start + chunk).filter((op) => best.operations.includes(op)));
      if (drop.size === 0) continue;
      tryIllegal({ operations: best.operations.filter((op) => !drop.has(op)), cutTime: best.cutTime });
    }
  }

  const pieceOps = [...best.operations].sort((a, b) => a.invokeTime - b.invokeTime || a.id - b.id);
  return {
    operations: pieceOps,
    runningAtCut: pieceOps.filter((op) => isRunningAt(op, best.cutTime) && op.status === 'ok').map((op) => op.id),
    cutTime: best.cutTime,
    narrowedToKey,
    readsDropped: readsBefore - pieceOps.filter((op) => model.isReadOnly(op)).length,
    stuck: bestStuck,
    shrunkFrom: operations.length,
    shrinkChecks: checks,
  };
}

/** The operations invoked by `time`; the ones not yet returned then stay as running, but for running reads. */
function cut<State>(operations: readonly Operation[], time: number, model: Model<State>): Candidate {
  const kept = operations.filter((op) => op.invokeTime <= time && !(model.isReadOnly(op) && isRunningAt(op, time)));
  return { operations: kept, cutTime: time };
}

function isRunningAt(op: Operation, cutTime: number | null): boolean {
  return op.status === 'info' || (cutTime !== null && op.completeTime > cutTime);
}

/** The piece as the search sees it: operations returning after the cut are `info`. */
export function asChecked(piece: { readonly operations: readonly Operation[]; readonly cutTime: number | null }): Operation[] {
  const { cutTime } = piece;
  if (cutTime === null) return [...piece.operations];
  return piece.operations.map((op) =>
    op.completeTime > cutTime && op.status === 'ok' ? { ...op, status: 'info', output: null, completeTime: Number.POSITIVE_INFINITY } : op,
  );
}
