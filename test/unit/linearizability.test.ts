// The linearizability checker of issue 6: Porcupine's six KV histories with known verdicts (partitioned and not,
// in-process and in the piscina pool), small hand-made histories with Jepsen's ok / fail / info, the time limit,
// the printed failing piece, and the search against a brute-force checker on random small histories.
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HistoryRecorder,
  checkHistory,
  checkHistorySync,
  createCheckerPool,
  kvModel,
  normalizeOperations,
  parseJepsenHistory,
  registerModel,
  searchLinearization,
  type CheckResult,
  type CheckerPool,
  type Model,
  type Operation,
  type OperationStatus,
  type ParsedHistory,
  type Value,
} from '../../src/chaos/checker/index.js';
import { asChecked } from '../../src/chaos/checker/shrink.js';
import { SEARCH_CHECK_EVERY_ITERATIONS } from '../../src/chaos/checker/wgl.js';

const DATA_DIR = new URL('../fixtures/porcupine-kv/', import.meta.url);
const HISTORY_NAMES = ['c01-ok', 'c01-bad', 'c10-ok', 'c10-bad', 'c50-ok', 'c50-bad'] as const;
type HistoryName = (typeof HISTORY_NAMES)[number];

/** Generous for the searches that must finish: they take well under a second partitioned, ~2 s c10 unpartitioned. */
const EXACT_TIME_LIMIT_MS = 30_000;
/** The unpartitioned c50 searches may give up: keep them short. */
const C50_WHOLE_TIME_LIMIT_MS = 1_000;
/** Shrinking is on top of the search; a short budget still gives a small piece. */
const SHRINK_TIME_LIMIT_MS = 500;

const histories = new Map<HistoryName, ParsedHistory>(
  HISTORY_NAMES.map((name) => [name, parseJepsenHistory(readFileSync(new URL(`${name}.txt`, DATA_DIR), 'utf8'))]),
);

function history(name: HistoryName): ParsedHistory {
  const parsed = histories.get(name);
  if (parsed === undefined) throw new Error(`no history ${name}`);
  return parsed;
}

function expected(name: HistoryName): 'ok' | 'illegal' {
  return name.endsWith('-ok') ? 'ok' : 'illegal';
}

/** Exact, except the unpartitioned c50 searches, which may also say `unknown`. */
function mayBeUnknown(name: HistoryName, partitioned: boolean): boolean {
  return name.startsWith('c50') && !partitioned;
}

function checkOptions(name: HistoryName, partitioned: boolean) {
  return {
    partitioned,
    timeLimitMs: mayBeUnknown(name, partitioned) ? C50_WHOLE_TIME_LIMIT_MS : EXACT_TIME_LIMIT_MS,
    shrinkTimeLimitMs: SHRINK_TIME_LIMIT_MS,
    timeUnit: history(name).timeUnit,
  };
}

function expectVerdict(result: CheckResult, name: HistoryName, partitioned: boolean): void {
  const allowed = mayBeUnknown(name, partitioned) ? [expected(name), 'unknown'] : [expected(name)];
  expect(allowed, result.explanation).toContain(result.verdict);
}

describe('parseJepsenHistory', () => {
  it('pairs each completion with its process, keeps fail and info, and skips the nemesis', () => {
    const text = [
      '{:process 0, :type :invoke, :f :write, :key "x", :value "a"}',
      '{:process :nemesis, :type :info, :f :start, :value nil}',
      '{:process 1, :type :invoke, :f :cas, :key "x", :value ["a" "b"]}',
      '{:process 0, :type :ok, :f :write, :key "x", :value "a"}',
      '{:process 1, :type :fail, :f :cas, :key "x", :value ["a" "b"]}',
      '{:process 2, :type :invoke, :f :write, :key "x", :value "c"}',
      '{:process 2, :type :info, :f :write, :key "x", :value "c"}',
      '{:process 3, :type :invoke, :f :read, :key "x", :value nil}',
    ].join('\n');
    const parsed = parseJepsenHistory(text);
    expect(parsed.timeUnit).toBe('event');
    expect(parsed.operations.map((op) => [op.process, op.f, op.status, op.invokeTime, op.completeTime])).toEqual([
      [0, 'write', 'ok', 0, 2],
      [1, 'cas', 'fail', 1, 3],
      [2, 'write', 'info', 4, Number.POSITIVE_INFINITY],
      // Never completed: it may have happened.
      [3, 'read', 'info', 6, Number.POSITIVE_INFINITY],
    ]);
    expect(parsed.operations[1]?.input).toEqual(['a', 'b']);
  });

  it('uses :time (ns) when every event has it', () => {
    const parsed = parseJepsenHistory(
      '{:type :invoke, :f :read, :key "k", :value nil, :process 4, :time 1500000}\n{:type :ok, :f :read, :key "k", :value "v", :process 4, :time 3250000}',
    );
    expect(parsed.timeUnit).toBe('ms');
    expect(parsed.operations).toEqual([
      { id: 0, process: 4, f: 'read', key: 'k', input: null, output: 'v', status: 'ok', invokeTime: 1.5, completeTime: 3.25 },
    ]);
  });

  it('reads the six Porcupine histories: every call returns ok', () => {
    const counts = HISTORY_NAMES.map((name) => history(name).operations.length);
    expect(counts).toEqual([58, 38, 337, 405, 1712, 2024]);
    for (const name of HISTORY_NAMES) expect(history(name).operations.every((op) => op.status === 'ok')).toBe(true);
  });

  it('rejects a completion with no outstanding call', () => {
    expect(() => parseJepsenHistory('{:process 0, :type :ok, :f :get, :key "k", :value ""}')).toThrow(/line 1/);
  });
});

/** The in-process results, which the pool's must match. */
const inProcessResults = new Map<string, CheckResult>();

describe('the six Porcupine KV histories, in-process', () => {
  for (const name of HISTORY_NAMES) {
    for (const partitioned of [true, false]) {
      it(`${name} ${partitioned ? 'partitioned by key' : 'unpartitioned'}: ${expected(name)}${mayBeUnknown(name, partitioned) ? ' or unknown' : ''}`, () => {
        const parsed = history(name);
        const result = checkHistorySync(parsed.operations, kvModel, checkOptions(name, partitioned));
        inProcessResults.set(`${name} ${partitioned}`, result);
        expectVerdict(result, name, partitioned);
        expect(result.partitions.length).toBe(partitioned ? new Set(parsed.operations.map((op) => op.key)).size : 1);
        if (result.verdict === 'illegal') {
          expect(result.failure).not.toBeNull();
          // The piece is small and, searched again on its own, still not linearizable.
          const failure = result.failure;
          if (failure === null) return;
          expect(failure.operations.length).toBeLessThan(60);
          const again = searchLinearization(asChecked(failure), kvModel, {
            deadlineEpochMs: Date.now() + 10_000,
            cacheEntriesMax: 1_000_000,
          });
          expect(again.verdict).toBe('illegal');
        }
      });
    }
  }

  it('gives every partition its own verdict when not stopping at the first illegal one', () => {
    const result = checkHistorySync(history('c10-bad').operations, kvModel, { ...checkOptions('c10-bad', true), stopOnIllegal: false });
    expect(result.verdict).toBe('illegal');
    expect(result.partitions.map((p) => p.verdict).sort()).toEqual([...Array(8).fill('illegal'), 'ok', 'ok']);
  });

  it('finds the c01-bad failure and prints a piece of a few operations', () => {
    const result = checkHistorySync(history('c01-bad').operations, kvModel, checkOptions('c01-bad', true));
    expect(result.verdict).toBe('illegal');
    expect(result.failure?.operations.length).toBeLessThanOrEqual(5);
    expect(result.explanation).toMatch(/^not linearizable: key "\d+"/);
    expect(result.explanation).toMatch(/p0 (get|append|put)\("\d+"/);
  });
});

describe('the piscina pool', () => {
  let pool: CheckerPool;
  beforeAll(() => {
    pool = createCheckerPool({ threads: 2 });
  });
  afterAll(async () => {
    await pool.destroy();
  });

  for (const name of HISTORY_NAMES) {
    for (const partitioned of [true, false]) {
      it(`${name} ${partitioned ? 'partitioned' : 'unpartitioned'}: the same verdicts as in-process`, async () => {
        const parsed = history(name);
        const pooled = await checkHistory(parsed.operations, kvModel, { ...checkOptions(name, partitioned), pool });
        expectVerdict(pooled, name, partitioned);
        if (mayBeUnknown(name, partitioned)) return;
        const inProcess =
          inProcessResults.get(`${name} ${partitioned}`) ?? checkHistorySync(parsed.operations, kvModel, checkOptions(name, partitioned));
        expect(pooled.verdict).toBe(inProcess.verdict);
        // Both stop at the first illegal partition, not necessarily the same one: where both have a verdict, it agrees.
        expect(pooled.partitions.map((p) => p.key)).toEqual(inProcess.partitions.map((p) => p.key));
        for (const [i, p] of pooled.partitions.entries()) {
          const other = inProcess.partitions[i]?.verdict ?? 'unknown';
          if (p.verdict !== 'unknown' && other !== 'unknown') expect(p.verdict, `key ${p.key}`).toBe(other);
        }
      });
    }
  }

  it('c10-bad: every partition gets the same verdict as in-process when not stopping at the first illegal one', async () => {
    const options = { ...checkOptions('c10-bad', true), stopOnIllegal: false };
    const pooled = await checkHistory(history('c10-bad').operations, kvModel, { ...options, pool });
    const inProcess = checkHistorySync(history('c10-bad').operations, kvModel, options);
    expect(pooled.partitions.map((p) => [p.key, p.verdict])).toEqual(inProcess.partitions.map((p) => [p.key, p.verdict]));
  });

  it('runs the register model and prints the same failing piece', async () => {
    const ops = staleRead();
    const pooled = await checkHistory(ops, registerModel, { partitioned: true, timeLimitMs: 5_000, pool });
    const inProcess = checkHistorySync(ops, registerModel, { partitioned: true, timeLimitMs: 5_000 });
    expect(pooled.verdict).toBe('illegal');
    expect(pooled.failure?.operations).toEqual(inProcess.failure?.operations);
  });

  it('refuses a model it does not know by name', async () => {
    const custom: Model<number> = { ...(registerModel as unknown as Model<number>), name: 'counter' };
    await expect(checkHistory([], custom, { partitioned: true, timeLimitMs: 100, pool })).rejects.toThrow(/not in MODELS/);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Hand-made register histories. Times in ms; `op` fills in the rest.

let nextId = 0;
function op(
  process: number,
  f: 'read' | 'write' | 'cas',
  value: Value,
  invokeTime: number,
  completeTime: number,
  status: OperationStatus = 'ok',
  key = 'x',
): Operation {
  const isRead = f === 'read';
  return { id: nextId++, process, f, key, input: isRead ? null : value, output: isRead ? value : null, status, invokeTime, completeTime };
}

function verdict(ops: readonly Operation[], model: Model<unknown> = registerModel as Model<unknown>): string {
  return checkHistorySync(ops, model, { partitioned: true, timeLimitMs: 5_000 }).verdict;
}

/** `b` is written after `a` completed, then a read that starts after both sees `a`. */
function staleRead(): Operation[] {
  return [op(1, 'write', 'a', 0, 1), op(2, 'write', 'b', 2, 3), op(3, 'read', 'a', 4, 5)];
}

describe('hand-made register histories', () => {
  it('a stale read is not linearizable', () => {
    expect(verdict(staleRead())).toBe('illegal');
  });

  it('a read of an absent key returns nil', () => {
    expect(verdict([op(1, 'read', null, 0, 1), op(2, 'write', 'a', 2, 3), op(1, 'read', 'a', 4, 5)])).toBe('ok');
    expect(verdict([op(1, 'read', 'a', 0, 1), op(2, 'write', 'a', 2, 3)])).toBe('illegal');
  });

  it('concurrent writes may be read in either order', () => {
    for (const last of ['a', 'b']) {
      expect(verdict([op(1, 'write', 'a', 0, 10), op(2, 'write', 'b', 1, 9), op(3, 'read', last, 11, 12)])).toBe('ok');
    }
    // But two reads after both cannot disagree.
    expect(verdict([op(1, 'write', 'a', 0, 10), op(2, 'write', 'b', 1, 9), op(3, 'read', 'a', 11, 12), op(4, 'read', 'b', 13, 14)])).toBe(
      'illegal',
    );
  });

  it('an info write whose effect is seen later is linearizable, even long after it timed out', () => {
    expect(
      verdict([op(1, 'write', 'a', 0, 1), op(2, 'write', 'b', 2, 3, 'info'), op(3, 'read', 'a', 4, 5), op(3, 'read', 'b', 100, 101)]),
    ).toBe('ok');
  });

  it('an info write never seen is linearizable: it may not have happened', () => {
    expect(
      verdict([op(1, 'write', 'a', 0, 1), op(2, 'write', 'b', 2, 3, 'info'), op(3, 'read', 'a', 4, 5), op(3, 'read', 'a', 100, 101)]),
    ).toBe('ok');
    // Once seen, it cannot be unseen.
    expect(verdict([op(2, 'write', 'b', 2, 3, 'info'), op(3, 'read', 'b', 4, 5), op(3, 'read', null, 6, 7)])).toBe('illegal');
  });

  it('a fail write whose value is read is not linearizable: fail means it did not happen', () => {
    expect(verdict([op(1, 'write', 'a', 0, 1, 'fail'), op(2, 'read', 'a', 2, 3)])).toBe('illegal');
    expect(verdict([op(1, 'write', 'a', 0, 1, 'fail'), op(2, 'read', null, 2, 3)])).toBe('ok');
  });

  it('an info read constrains nothing', () => {
    expect(verdict([op(1, 'write', 'a', 0, 1), op(2, 'read', 'zzz', 2, 3, 'info')])).toBe('ok');
  });

  it('CAS: succeeds only on the expected value; a failed CAS did not happen; an info CAS may have', () => {
    const write = (): Operation => op(1, 'write', 'a', 0, 1);
    expect(verdict([write(), op(2, 'cas', ['a', 'b'], 2, 3), op(3, 'read', 'b', 4, 5)])).toBe('ok');
    // Two successful CASes from the same expected value: only one can have found it.
    expect(verdict([write(), op(2, 'cas', ['a', 'b'], 2, 10), op(3, 'cas', ['a', 'c'], 2, 10)])).toBe('illegal');
    // A chain, concurrent, in the only order that works.
    expect(verdict([write(), op(2, 'cas', ['b', 'c'], 2, 10), op(3, 'cas', ['a', 'b'], 2, 10), op(4, 'read', 'c', 11, 12)])).toBe('ok');
    expect(verdict([write(), op(2, 'cas', ['a', 'b'], 2, 3, 'fail'), op(3, 'read', 'a', 4, 5)])).toBe('ok');
    expect(verdict([write(), op(2, 'cas', ['a', 'b'], 2, 3, 'fail'), op(3, 'read', 'b', 4, 5)])).toBe('illegal');
    expect(verdict([write(), op(2, 'cas', ['a', 'b'], 2, 3, 'info'), op(3, 'read', 'b', 4, 5)])).toBe('ok');
    // An info CAS whose expected value never held is simply left out.
    expect(verdict([write(), op(2, 'cas', ['zzz', 'b'], 2, 3, 'info'), op(3, 'read', 'a', 4, 5)])).toBe('ok');
    // Nil as the expected value: create if absent.
    expect(verdict([op(2, 'cas', [null, 'b'], 0, 1), op(3, 'read', 'b', 2, 3)])).toBe('ok');
  });

  it('keys are independent: partitioned and not agree', () => {
    const ops = [
      op(1, 'write', 'a', 0, 1, 'ok', 'x'),
      op(2, 'write', 'a', 0, 1, 'ok', 'y'),
      op(3, 'read', 'a', 2, 3, 'ok', 'y'),
      op(3, 'read', null, 4, 5, 'ok', 'z'),
    ];
    expect(checkHistorySync(ops, registerModel, { partitioned: false, timeLimitMs: 1_000 }).verdict).toBe('ok');
    const bad = [...ops, op(4, 'read', null, 6, 7, 'ok', 'x')];
    expect(checkHistorySync(bad, registerModel, { partitioned: false, timeLimitMs: 1_000 }).verdict).toBe('illegal');
    expect(checkHistorySync(bad, registerModel, { partitioned: true, timeLimitMs: 1_000 }).verdict).toBe('illegal');
  });

  it('the HistoryRecorder records ok, fail and info, and outstanding calls come out info', () => {
    let now = 0;
    const recorder = new HistoryRecorder({ clock: () => now++ });
    const write = recorder.invoke({ process: 1, f: 'write', key: 'x', input: 'a' });
    const lost = recorder.invoke({ process: 2, f: 'write', key: 'x', input: 'b' });
    recorder.complete(write, { status: 'ok' });
    recorder.complete(lost, { status: 'fail' });
    const read = recorder.invoke({ process: 1, f: 'read', key: 'x', input: null });
    recorder.complete(read, { status: 'ok', output: 'a' });
    recorder.invoke({ process: 2, f: 'write', key: 'x', input: 'c' });
    const ops = recorder.operations();
    expect(ops.map((o) => [o.f, o.status, o.invokeTime, o.completeTime])).toEqual([
      ['write', 'ok', 0, 2],
      ['write', 'fail', 1, 3],
      ['read', 'ok', 4, 5],
      ['write', 'info', 6, Number.POSITIVE_INFINITY],
    ]);
    expect(verdict(ops)).toBe('ok');
  });
});

describe('the failing piece', () => {
  it('names the operations involved, as `p3 write("x","b") [2.0 ms .. 3.0 ms] -> ok`', () => {
    const result = checkHistorySync(staleRead(), registerModel, { partitioned: true, timeLimitMs: 1_000 });
    expect(result.verdict).toBe('illegal');
    const text = result.explanation;
    expect(text).toContain('not linearizable: key "x"');
    expect(text).toContain('p1 write("x","a") [0.0 ms .. 1.0 ms] -> ok');
    expect(text).toContain('p2 write("x","b") [2.0 ms .. 3.0 ms] -> ok');
    expect(text).toContain('p3 read("x") [4.0 ms .. 5.0 ms] -> "a"');
    expect(text).toContain('state after it: {"x": "b"}');
  });

  it('drops the reads that do not matter and cuts off what comes after', () => {
    const noise = Array.from({ length: 10 }, (_, i) => op(5, 'read', 'a', 2 + i * 0.01, 2.005 + i * 0.01));
    const later = [op(1, 'write', 'c', 20, 21), op(3, 'read', 'c', 22, 23)];
    const ops = [op(1, 'write', 'a', 0, 1), ...noise, op(2, 'write', 'b', 3, 4), op(3, 'read', 'a', 5, 6), ...later];
    const result = checkHistorySync(ops, registerModel, { partitioned: true, timeLimitMs: 1_000 });
    expect(result.verdict).toBe('illegal');
    expect(result.failure?.operations.map((o) => `${o.f} ${String(o.input ?? o.output)}`)).toEqual(['write a', 'write b', 'read a']);
  });

  it('says ok and unknown plainly', () => {
    expect(checkHistorySync([op(1, 'write', 'a', 0, 1)], registerModel, { partitioned: true, timeLimitMs: 1_000 }).explanation).toMatch(
      /^linearizable \(1 operation in 1 partition, \d+ ms\)\.$/,
    );
    const unknown = checkHistorySync(history('c10-ok').operations, kvModel, {
      partitioned: false,
      timeLimitMs: 1_000,
      cacheEntriesMax: 100,
    });
    expect(unknown.verdict).toBe('unknown');
    expect(unknown.partitions[0]?.reason).toBe('cache-limit');
    expect(unknown.explanation).toMatch(/^unknown: 1 of 1 searches gave up \(the history: cache-limit\)/);
  });
});

// How long giving up takes in milliseconds depends on the machine; it is measured by bench/checker.bench.ts. Here
// the bound is in search steps: the search looks at its deadline every SEARCH_CHECK_EVERY_ITERATIONS steps.
describe('the time limit', () => {
  it('a search whose deadline has passed gives up at its first look at the clock, not later', () => {
    const operations = normalizeOperations(history('c50-bad').operations);
    const result = searchLinearization(operations, kvModel, { deadlineEpochMs: Date.now() - 1, cacheEntriesMax: 1_000_000 });
    expect(result.verdict).toBe('unknown');
    if (result.verdict !== 'unknown') return;
    expect(result.reason).toBe('time-limit');
    expect(result.stats.iterations).toBe(SEARCH_CHECK_EVERY_ITERATIONS);
  });

  it('a search past its time limit answers unknown, stopped by a deadline check rather than by finishing', () => {
    const result = checkHistorySync(history('c50-bad').operations, kvModel, { partitioned: false, timeLimitMs: 50 });
    expect(result.verdict).toBe('unknown');
    const partition = result.partitions[0];
    expect(partition?.reason).toBe('time-limit');
    const iterations = partition?.stats.iterations ?? 0;
    expect(iterations).toBeGreaterThan(0);
    expect(iterations % SEARCH_CHECK_EVERY_ITERATIONS).toBe(0);
  });

  it('a time limit of zero still answers', () => {
    const result = checkHistorySync(history('c50-ok').operations, kvModel, { partitioned: true, timeLimitMs: 0 });
    expect(['ok', 'unknown']).toContain(result.verdict);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The search against brute force: every order of the operations that respects real time, with each info
// operation in or out.

function bruteForceLinearizable(ops: readonly Operation[], model: Model<unknown>): boolean {
  const live = ops.filter((o) => o.status !== 'fail');
  const used = new Array<boolean>(live.length).fill(false);
  const definite = live.filter((o) => o.status === 'ok').length;
  const search = (state: unknown, placedDefinite: number): boolean => {
    if (placedDefinite === definite) return true;
    for (const [i, candidate] of live.entries()) {
      if (used[i]) continue;
      // Every op still unplaced that completed before this one was invoked must come first.
      const blocked = live.some((other, j) => !used[j] && j !== i && other.status === 'ok' && other.completeTime < candidate.invokeTime);
      if (blocked) continue;
      const step = model.step(state, candidate.status === 'ok' ? candidate : { ...candidate, completeTime: Number.POSITIVE_INFINITY });
      if (!step.ok) continue;
      used[i] = true;
      const found = search(step.newState, placedDefinite + (candidate.status === 'ok' ? 1 : 0));
      used[i] = false;
      if (found) return true;
    }
    return false;
  };
  return search(model.init(), 0);
}

const arbitraryHistory = fc
  .array(
    fc.record({
      f: fc.constantFrom('read', 'write', 'cas'),
      a: fc.constantFrom('a', 'b', 'c', null),
      b: fc.constantFrom('a', 'b', 'c'),
      start: fc.integer({ min: 0, max: 20 }),
      length: fc.integer({ min: 0, max: 8 }),
      status: fc.constantFrom<OperationStatus>('ok', 'ok', 'ok', 'info', 'fail'),
    }),
    { minLength: 1, maxLength: 7 },
  )
  .map((specs) =>
    specs.map((s, id): Operation => {
      const input: Value = s.f === 'read' ? null : s.f === 'write' ? s.b : [s.a, s.b];
      return {
        id,
        process: id,
        f: s.f,
        key: 'x',
        input,
        output: s.f === 'read' ? s.a : null,
        status: s.status,
        invokeTime: s.start,
        completeTime: s.status === 'info' ? Number.POSITIVE_INFINITY : s.start + s.length,
      };
    }),
  );

describe('the search against brute force', () => {
  it('agrees on random small register histories', () => {
    fc.assert(
      fc.property(arbitraryHistory, (ops) => {
        const model = registerModel as Model<unknown>;
        const expectedOk = bruteForceLinearizable(ops, model);
        const result = checkHistorySync(ops, model, { partitioned: true, timeLimitMs: 5_000 });
        expect(result.verdict).toBe(expectedOk ? 'ok' : 'illegal');
        if (result.failure !== null) {
          const again = searchLinearization(asChecked(result.failure), model, {
            deadlineEpochMs: Date.now() + 5_000,
            cacheEntriesMax: 100_000,
          });
          expect(again.verdict).toBe('illegal');
        }
      }),
      { numRuns: 400, seed: 6 },
    );
  });
});

// The unpartitioned search works one key at a time (the key whose return is due first), keeps each key's place
// apart and backjumps over other keys' choices on a dead end: on histories over several keys, unpartitioned, it
// must still agree with brute force, for the register model and for the KV model (appends: order matters).
const arbitraryMultiKeyHistory = fc
  .array(
    fc.record({
      f: fc.constantFrom('get', 'put', 'append'),
      key: fc.constantFrom('x', 'y', 'z'),
      value: fc.constantFrom('a', 'b', 'ab', ''),
      start: fc.integer({ min: 0, max: 20 }),
      length: fc.integer({ min: 0, max: 8 }),
      status: fc.constantFrom<OperationStatus>('ok', 'ok', 'ok', 'info', 'fail'),
    }),
    { minLength: 1, maxLength: 8 },
  )
  .map((specs) =>
    specs.map((s, id): Operation => ({
      id,
      process: id,
      f: s.f,
      key: s.key,
      input: s.f === 'get' ? null : s.value,
      output: s.f === 'get' ? s.value : null,
      status: s.status,
      invokeTime: s.start,
      completeTime: s.status === 'info' ? Number.POSITIVE_INFINITY : s.start + s.length,
    })),
  );

const arbitraryMultiKeyRegisterHistory = arbitraryHistory.chain((ops) =>
  fc
    .array(fc.constantFrom('x', 'y'), { minLength: ops.length, maxLength: ops.length })
    .map((keys) => ops.map((o, i): Operation => ({ ...o, key: keys[i] ?? 'x' }))),
);

describe('the unpartitioned search over several keys against brute force', () => {
  for (const [name, model, histories] of [
    ['KV', kvModel as Model<unknown>, arbitraryMultiKeyHistory],
    ['register', registerModel as Model<unknown>, arbitraryMultiKeyRegisterHistory],
  ] as const) {
    it(`agrees on random small ${name} histories over several keys, and with the partitioned search`, () => {
      let illegal = 0;
      fc.assert(
        fc.property(histories, (ops) => {
          const expectedOk = bruteForceLinearizable(ops, model);
          const whole = checkHistorySync(ops, model, { partitioned: false, timeLimitMs: 5_000 });
          const partitioned = checkHistorySync(ops, model, { partitioned: true, timeLimitMs: 5_000 });
          expect(whole.verdict).toBe(expectedOk ? 'ok' : 'illegal');
          expect(partitioned.verdict).toBe(whole.verdict);
          // Setting a partition aside at its first dead end: rounds without it, then a last round with everything.
          const eager = searchLinearization(normalizeOperations(ops), model, {
            deadlineEpochMs: Date.now() + 5_000,
            cacheEntriesMax: 100_000,
            setAsideDeadEnds: 0,
          });
          expect(eager.verdict).toBe(whole.verdict);
          if (!expectedOk) illegal++;
        }),
        { numRuns: 600, seed: 13 },
      );
      // The property covered both verdicts.
      expect(illegal).toBeGreaterThan(0);
    });
  }
});
