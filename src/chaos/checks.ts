import { checkHistory } from './checker/check.js';
import type { Operation } from './checker/history.js';
import { registerModel } from './checker/models.js';
import type { CheckerPool } from './checker/pool.js';
import type { CheckName, WorkloadType } from './scenario.js';

export interface CheckVerdict {
  readonly name: CheckName;
  /** `n/a`: the check does not fit the workload and ran nothing. */
  readonly verdict: 'pass' | 'fail' | 'unknown' | 'n/a';
  readonly detail: string;
  /** no-lost-writes: how many acknowledged elements the final read did not find. */
  readonly lostAcknowledged?: number;
}

/** Linearizability of the register history (reads, writes, CAS, and the final reads). */
async function linearizable(history: readonly Operation[], pool: CheckerPool | undefined, timeLimitMs: number): Promise<CheckVerdict> {
  const result = await checkHistory(history, registerModel, { partitioned: true, timeLimitMs, pool });
  const verdict = result.verdict === 'ok' ? 'pass' : result.verdict === 'illegal' ? 'fail' : 'unknown';
  return {
    name: 'linearizable',
    verdict,
    detail: `${result.operations} operations, ${result.partitions.length} keys, ${Math.round(result.elapsedMs)} ms\n${result.explanation}`,
  };
}

/** Counter: every key's final count lies between its acknowledged increments and those plus the unknown ones. */
function exactlyOnce(history: readonly Operation[], finals: ReadonlyMap<string, string | number | null>): CheckVerdict {
  const acked = new Map<string, number>();
  const unknown = new Map<string, number>();
  for (const op of history) {
    if (op.f !== 'incr') continue;
    if (op.status === 'ok') acked.set(op.key, (acked.get(op.key) ?? 0) + 1);
    if (op.status === 'info') unknown.set(op.key, (unknown.get(op.key) ?? 0) + 1);
  }
  const problems: string[] = [];
  let total = 0;
  for (const key of new Set([...acked.keys(), ...unknown.keys()])) {
    const final = finals.get(key);
    const low = acked.get(key) ?? 0;
    const high = low + (unknown.get(key) ?? 0);
    total += low;
    if (typeof final !== 'number') problems.push(`${key}: final value unreadable`);
    else if (final < low) problems.push(`${key}: ${final} < ${low} acknowledged increments (lost)`);
    else if (final > high) problems.push(`${key}: ${final} > ${high} acknowledged or unknown increments (applied twice)`);
  }
  return problems.length === 0
    ? { name: 'exactly-once', verdict: 'pass', detail: `${total} acknowledged increments, all counted once` }
    : { name: 'exactly-once', verdict: 'fail', detail: problems.join('; ') };
}

/** Set (and register, for acknowledged writes): every acknowledged element is in the final read; nothing appears that was never added. */
function noLostWrites(
  workload: WorkloadType,
  history: readonly Operation[],
  finals: ReadonlyMap<string, string | number | null>,
): CheckVerdict {
  if (workload !== 'set') {
    return { name: 'no-lost-writes', verdict: 'n/a', detail: `applies to the set workload, not ${workload}: nothing was checked` };
  }
  if (finals.has('__unreadable__')) return { name: 'no-lost-writes', verdict: 'unknown', detail: 'the final read never succeeded' };
  const attempted = new Set<string>();
  const lost: string[] = [];
  let acknowledged = 0;
  for (const op of history) {
    if (op.f !== 'add') continue;
    const element = String(op.input);
    if (op.status !== 'fail') attempted.add(element);
    if (op.status === 'ok') {
      acknowledged++;
      if (!finals.has(element)) lost.push(element);
    }
  }
  const phantom = [...finals.keys()].filter((element) => !attempted.has(element));
  if (lost.length === 0 && phantom.length === 0) {
    return {
      name: 'no-lost-writes',
      verdict: 'pass',
      detail: `${acknowledged} acknowledged elements all present (${finals.size} in the set)`,
      lostAcknowledged: 0,
    };
  }
  return {
    name: 'no-lost-writes',
    verdict: 'fail',
    lostAcknowledged: lost.length,
    detail: `${lost.length} acknowledged elements lost (${lost.slice(0, 10).join(', ')}); ${phantom.length} never added yet present (${phantom.slice(0, 10).join(', ')})`,
  };
}

export async function runChecks(
  checks: readonly CheckName[],
  workload: WorkloadType,
  history: readonly Operation[],
  finals: ReadonlyMap<string, string | number | null>,
  options: { pool?: CheckerPool; timeLimitMs: number },
): Promise<CheckVerdict[]> {
  const verdicts: CheckVerdict[] = [];
  for (const name of checks) {
    if (name === 'linearizable') {
      verdicts.push(
        workload === 'register'
          ? await linearizable(history, options.pool, options.timeLimitMs)
          : { name, verdict: 'n/a', detail: `applies to the register workload, not ${workload}: nothing was checked` },
      );
    } else if (name === 'exactly-once') {
      verdicts.push(
        workload === 'counter'
          ? exactlyOnce(history, finals)
          : { name, verdict: 'n/a', detail: `applies to the counter workload, not ${workload}: nothing was checked` },
      );
    } else verdicts.push(noLostWrites(workload, history, finals));
  }
  return verdicts;
}
