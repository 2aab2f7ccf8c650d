/**
 * Printing operations and verdicts: `p3 put("k","v") [12.1 ms .. 14.0 ms] -> ok`.
 */
import type { Operation, TimeUnit } from './history.js';
import type { Model } from './models.js';
import type { PartitionResult } from './partition-task.js';
import type { FailingPiece } from './shrink.js';

/** The most operations an explanation lists in one block; the rest are counted. */
export const EXPLANATION_OPERATIONS_MAX = 40;
/** How many operations of the linearized prefix an explanation shows (its end). */
export const EXPLANATION_PREFIX_TAIL = 6;

export function formatTime(time: number, unit: TimeUnit): string {
  if (time === Number.POSITIVE_INFINITY) return '∞';
  return unit === 'ms' ? `${time.toFixed(1)} ms` : `#${time}`;
}

export function formatOperation<State>(op: Operation, model: Model<State>, unit: TimeUnit): string {
  return `p${op.process} ${model.formatCall(op)} [${formatTime(op.invokeTime, unit)} .. ${formatTime(op.completeTime, unit)}] -> ${model.formatResult(op)}`;
}

export function describePartition(key: string): string {
  return key === '*' ? 'the history' : `key ${JSON.stringify(key)}`;
}

/** The failing piece of one partition, as lines. */
export function formatFailure<State>(partition: PartitionResult, failure: FailingPiece, model: Model<State>, unit: TimeUnit): string[] {
  const byId = new Map(failure.operations.map((op) => [op.id, op]));
  const running = new Set(failure.runningAtCut);
  const show = (id: number): string => {
    const op = byId.get(id);
    return op === undefined ? `operation ${id}` : formatOperation(op, model, unit) + (running.has(id) ? '   (running at the cut)' : '');
  };
  const lines: string[] = [];
  const where = describePartition(partition.key);
  lines.push(`not linearizable: ${where} (${plural(partition.stats.operations, 'operation')}) has no linearization.`);
  const how: string[] = [];
  if (failure.narrowedToKey !== null) how.push(`only ${describePartition(failure.narrowedToKey)}`);
  if (failure.cutTime !== null) how.push(`cut after the return at ${formatTime(failure.cutTime, unit)}`);
  if (failure.readsDropped > 0) how.push(`${plural(failure.readsDropped, 'read')} that did not matter dropped`);
  lines.push(
    `smallest failing piece found: ${failure.operations.length} of ${failure.shrunkFrom} operations` +
      (how.length > 0 ? ` (${how.join('; ')})` : '') +
      ', itself not linearizable:',
  );
  lines.push(
    ...listed(
      failure.operations.map((op) => op.id),
      show,
      'earlier',
    ),
  );
  const { stuck } = failure;
  if (stuck.linearized.length === 0) {
    lines.push(`no operation can be linearized first, from the initial state ${stuck.state}.`);
  } else {
    lines.push(`longest linearized prefix: ${plural(stuck.linearized.length, 'operation')}, ending with:`);
    const tail = stuck.linearized.slice(-EXPLANATION_PREFIX_TAIL);
    if (tail.length < stuck.linearized.length) lines.push(`  ... ${stuck.linearized.length - tail.length} before`);
    lines.push(...tail.map((id) => `  ${show(id)}`));
    lines.push(`state after it: ${stuck.state}`);
  }
  const blocking = byId.get(stuck.blocking);
  lines.push(
    `then none of these can go next, and ${blocking === undefined ? `operation ${stuck.blocking}` : `p${blocking.process} ${model.formatCall(blocking)}`} ` +
      `had to take effect by ${blocking === undefined ? '?' : formatTime(blocking.completeTime, unit)}:`,
  );
  lines.push(...listed(stuck.candidates, show, 'more'));
  return lines;
}

function listed(ids: readonly number[], show: (id: number) => string, omitted: 'earlier' | 'more'): string[] {
  if (ids.length <= EXPLANATION_OPERATIONS_MAX) return ids.map((id) => `  ${show(id)}`);
  if (omitted === 'earlier') {
    const kept = ids.slice(-EXPLANATION_OPERATIONS_MAX);
    return [`  ... ${ids.length - kept.length} earlier operations`, ...kept.map((id) => `  ${show(id)}`)];
  }
  const kept = ids.slice(0, EXPLANATION_OPERATIONS_MAX);
  return [...kept.map((id) => `  ${show(id)}`), `  ... ${ids.length - kept.length} more`];
}

/** `1 operation`, `2 operations`. */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
