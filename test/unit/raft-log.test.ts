import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { entrySizeBytes, InvariantError, RaftLog } from '../../src/raft/index.js';
import type { Entry, Membership, SnapshotMeta } from '../../src/raft/index.js';

const VOTERS: Membership = { voters: ['n1', 'n2', 'n3'], learners: [] };
const EMPTY_SNAPSHOT: SnapshotMeta = { index: 0, term: 0, membership: VOTERS };

function command(index: number, term: number, sizeBytes = 0): Entry {
  return { type: 'command', index, term, data: new Uint8Array(sizeBytes) };
}

function config(index: number, term: number, voters: readonly string[]): Entry {
  return { type: 'config', index, term, membership: { voters, learners: [] } };
}

/** A log holding entries 1..terms.length with the given terms, after an empty snapshot. */
function logWithTerms(terms: readonly number[]): RaftLog {
  return new RaftLog(
    EMPTY_SNAPSHOT,
    terms.map((term, i) => command(i + 1, term)),
  );
}

function indexes(entries: readonly Entry[]): number[] {
  return entries.map((entry) => entry.index);
}

describe('entrySizeBytes', () => {
  it('charges a fixed header plus the payload', () => {
    expect(entrySizeBytes(command(1, 1, 0))).toBe(24);
    expect(entrySizeBytes(command(1, 1, 100))).toBe(124);
    expect(entrySizeBytes({ type: 'noop', index: 1, term: 1 })).toBe(24);
    expect(entrySizeBytes(config(1, 1, ['a', 'b', 'c']))).toBe(24 + 48);
  });
});

describe('RaftLog append', () => {
  it('starts empty after its snapshot', () => {
    const log = new RaftLog({ index: 5, term: 2, membership: VOTERS }, []);
    expect([log.firstIndex, log.lastIndex, log.lastTerm, log.snapshotIndex, log.snapshotTerm]).toEqual([6, 5, 2, 5, 2]);
  });

  it('appends contiguous entries and tracks the last index and term', () => {
    const log = new RaftLog(EMPTY_SNAPSHOT, []);
    log.append(command(1, 1));
    log.append(command(2, 1));
    log.append(command(3, 3));
    expect([log.firstIndex, log.lastIndex, log.lastTerm]).toEqual([1, 3, 3]);
    expect(log.entryAt(2)).toEqual(command(2, 1));
  });

  it('throws InvariantError on an append out of order', () => {
    const log = logWithTerms([1, 1]);
    expect(() => log.append(command(4, 1))).toThrow(InvariantError); // a gap
    expect(() => log.append(command(2, 1))).toThrow(InvariantError); // a repeat
    expect(() => log.append(command(2, 1))).toThrow(/log append out of order/);
    expect(log.lastIndex).toBe(2);
  });

  it('throws InvariantError on an append with a lower term', () => {
    const log = logWithTerms([1, 3]);
    expect(() => log.append(command(3, 2))).toThrow(InvariantError);
    expect(log.lastIndex).toBe(2);
  });

  it('the constructor checks the entries it is given', () => {
    expect(() => new RaftLog(EMPTY_SNAPSHOT, [command(2, 1)])).toThrow(InvariantError);
    const log = new RaftLog({ index: 10, term: 3, membership: VOTERS }, [command(11, 3), command(12, 4)]);
    expect([log.firstIndex, log.lastIndex, log.lastTerm]).toEqual([11, 12, 4]);
  });
});

describe('RaftLog truncateFrom', () => {
  it('drops the suffix from the given index', () => {
    const log = logWithTerms([1, 1, 2, 2, 3]);
    log.truncateFrom(3);
    expect([log.lastIndex, log.lastTerm]).toEqual([2, 1]);
    expect(log.termAt(3)).toBeUndefined();
    // After truncation a lower term than the old last term may follow again.
    log.append(command(3, 2));
    expect(log.termAt(3)).toBe(2);
  });

  it('is a no-op beyond the end', () => {
    const log = logWithTerms([1, 1]);
    log.truncateFrom(3);
    log.truncateFrom(10);
    expect(log.lastIndex).toBe(2);
  });

  it('never truncates into the snapshot', () => {
    const log = new RaftLog({ index: 4, term: 2, membership: VOTERS }, [command(5, 2), command(6, 2)]);
    expect(() => log.truncateFrom(4)).toThrow(InvariantError);
    log.truncateFrom(5);
    expect([log.lastIndex, log.lastTerm]).toEqual([4, 2]);
  });
});

describe('RaftLog termAt around the snapshot', () => {
  const log = new RaftLog({ index: 10, term: 4, membership: VOTERS }, [command(11, 4), command(12, 5)]);

  it('answers the snapshot index with the snapshot term', () => {
    expect(log.termAt(10)).toBe(4);
    expect(log.matchTerm(10, 4)).toBe(true);
  });

  it('knows nothing below the snapshot or beyond the end', () => {
    expect(log.termAt(9)).toBeUndefined();
    expect(log.termAt(0)).toBeUndefined();
    expect(log.termAt(13)).toBeUndefined();
    expect(log.matchTerm(9, 4)).toBe(false);
  });

  it('holds no entry at the snapshot index itself', () => {
    expect(log.entryAt(10)).toBeUndefined();
    expect(log.entryAt(11)).toEqual(command(11, 4));
    expect(log.termAt(12)).toBe(5);
  });

  it('answers index 0 with term 0 on a fresh log', () => {
    const fresh = new RaftLog(EMPTY_SNAPSHOT, []);
    expect(fresh.termAt(0)).toBe(0);
    expect(fresh.termAt(1)).toBeUndefined();
  });
});

describe('RaftLog slice', () => {
  const log = new RaftLog(
    EMPTY_SNAPSHOT,
    Array.from({ length: 10 }, (_, i) => command(i + 1, 1, 100)),
  );

  it('returns [from, to] clipped to the log', () => {
    expect(indexes(log.slice(3, 5))).toEqual([3, 4, 5]);
    expect(indexes(log.slice(8, 50))).toEqual([8, 9, 10]);
    expect(log.slice(11, 20)).toEqual([]);
  });

  it('stops at maxEntries', () => {
    expect(indexes(log.slice(1, 10, 4))).toEqual([1, 2, 3, 4]);
    expect(indexes(log.slice(9, 10, 4))).toEqual([9, 10]);
  });

  it('stops before maxBytes is exceeded', () => {
    // Each entry costs 124 bytes.
    expect(indexes(log.slice(1, 10, 100, 124 * 3))).toEqual([1, 2, 3]);
    expect(indexes(log.slice(1, 10, 100, 124 * 3 + 123))).toEqual([1, 2, 3]);
    expect(indexes(log.slice(1, 10, 2, 124 * 3))).toEqual([1, 2]);
  });

  it('always returns at least one entry, however large', () => {
    expect(indexes(log.slice(4, 10, 100, 1))).toEqual([4]);
  });

  it('refuses to slice below the snapshot', () => {
    const compacted = new RaftLog({ index: 5, term: 1, membership: VOTERS }, [command(6, 1)]);
    expect(() => compacted.slice(5, 6)).toThrow(InvariantError);
    expect(indexes(compacted.slice(6, 6))).toEqual([6]);
  });
});

describe('RaftLog compact and restore', () => {
  it('drops entries up to the snapshot and keeps the rest', () => {
    const log = logWithTerms([1, 1, 2, 2, 3]);
    log.compact({ index: 3, term: 2, membership: VOTERS });
    expect([log.snapshotIndex, log.snapshotTerm, log.firstIndex, log.lastIndex, log.lastTerm]).toEqual([3, 2, 4, 5, 3]);
    expect(log.termAt(3)).toBe(2);
    expect(log.termAt(2)).toBeUndefined();
    expect(indexes(log.slice(4, 5))).toEqual([4, 5]);
  });

  it('may compact the whole log', () => {
    const log = logWithTerms([1, 2]);
    log.compact({ index: 2, term: 2, membership: VOTERS });
    expect([log.firstIndex, log.lastIndex, log.lastTerm]).toEqual([3, 2, 2]);
    log.append(command(3, 2));
    expect(log.lastIndex).toBe(3);
  });

  it('accepts the current snapshot again but never goes backwards or beyond the log', () => {
    const log = logWithTerms([1, 1, 2, 2]);
    log.compact({ index: 2, term: 1, membership: VOTERS });
    log.compact({ index: 2, term: 1, membership: VOTERS });
    expect(log.snapshotIndex).toBe(2);
    expect(() => log.compact({ index: 1, term: 1, membership: VOTERS })).toThrow(InvariantError);
    expect(() => log.compact({ index: 5, term: 2, membership: VOTERS })).toThrow(InvariantError);
  });

  it('refuses a snapshot whose term does not match the log', () => {
    const log = logWithTerms([1, 1, 2]);
    expect(() => log.compact({ index: 3, term: 1, membership: VOTERS })).toThrow(/compaction term mismatch/);
    expect(log.snapshotIndex).toBe(0);
  });

  it('restore replaces the whole log', () => {
    const log = logWithTerms([1, 1, 2]);
    log.restore({ index: 20, term: 5, membership: { voters: ['x'], learners: [] } });
    expect([log.firstIndex, log.lastIndex, log.lastTerm, log.termAt(20)]).toEqual([21, 20, 5, 5]);
    expect(log.termAt(3)).toBeUndefined();
    expect(log.latestMembership()).toEqual({ membership: { voters: ['x'], learners: [] }, index: 20 });
  });
});

describe('RaftLog latestMembership', () => {
  it('finds the newest configuration at or below the bound', () => {
    const log = new RaftLog(EMPTY_SNAPSHOT, [
      command(1, 1),
      config(2, 1, ['n1', 'n2']),
      command(3, 1),
      config(4, 2, ['n1', 'n2', 'n4']),
      command(5, 2),
    ]);
    expect(log.latestMembership()).toEqual({ membership: { voters: ['n1', 'n2', 'n4'], learners: [] }, index: 4 });
    expect(log.latestMembership(3)).toEqual({ membership: { voters: ['n1', 'n2'], learners: [] }, index: 2 });
    expect(log.latestMembership(1)).toEqual({ membership: VOTERS, index: 0 });
    expect(log.latestMembership(99).index).toBe(4);
  });

  it("falls back to the snapshot's configuration once the entry is compacted", () => {
    const log = new RaftLog(EMPTY_SNAPSHOT, [config(1, 1, ['n1']), command(2, 1), command(3, 1)]);
    log.compact({ index: 2, term: 1, membership: { voters: ['n1'], learners: [] } });
    expect(log.latestMembership()).toEqual({ membership: { voters: ['n1'], learners: [] }, index: 2 });
  });

  it('forgets a configuration that was truncated away', () => {
    const log = new RaftLog(EMPTY_SNAPSHOT, [command(1, 1), config(2, 1, ['n1'])]);
    log.truncateFrom(2);
    expect(log.latestMembership()).toEqual({ membership: VOTERS, index: 0 });
  });
});

describe('RaftLog conflict search', () => {
  // Index:  1  2  3  4  5  6  7  8
  // Term:   1  1  2  2  2  4  4  5
  const log = logWithTerms([1, 1, 2, 2, 2, 4, 4, 5]);

  it('firstIndexOfTermAt finds the start of the run holding the index', () => {
    expect(log.firstIndexOfTermAt(1)).toBe(1);
    expect(log.firstIndexOfTermAt(2)).toBe(1);
    expect(log.firstIndexOfTermAt(5)).toBe(3);
    expect(log.firstIndexOfTermAt(7)).toBe(6);
    expect(log.firstIndexOfTermAt(8)).toBe(8);
  });

  it('firstIndexOfTermAt stops at the snapshot and throws outside the log', () => {
    const compacted = logWithTerms([2, 2, 2, 2]);
    compacted.compact({ index: 2, term: 2, membership: VOTERS });
    expect(compacted.firstIndexOfTermAt(4)).toBe(3);
    expect(() => compacted.firstIndexOfTermAt(1)).toThrow(InvariantError);
    expect(() => compacted.firstIndexOfTermAt(5)).toThrow(InvariantError);
  });

  it('lastIndexWithTermAtMost walks back to the newest entry with a small enough term', () => {
    expect(log.lastIndexWithTermAtMost(8, 5)).toBe(8);
    expect(log.lastIndexWithTermAtMost(8, 4)).toBe(7);
    expect(log.lastIndexWithTermAtMost(8, 3)).toBe(5);
    expect(log.lastIndexWithTermAtMost(4, 3)).toBe(4);
    expect(log.lastIndexWithTermAtMost(8, 1)).toBe(2);
    expect(log.lastIndexWithTermAtMost(8, 0)).toBe(0);
    expect(log.lastIndexWithTermAtMost(100, 9)).toBe(8);
  });

  it('lastIndexWithTermAtMost bottoms out at the snapshot', () => {
    const compacted = logWithTerms([1, 1, 3, 3]);
    compacted.compact({ index: 2, term: 1, membership: VOTERS });
    expect(compacted.lastIndexWithTermAtMost(4, 2)).toBe(2);
  });
});

// ---------------------------------------------------------------------------
// Property tests: RaftLog against a plain array model with naive queries.

type Operation =
  | {
      readonly kind: 'append';
      readonly termStep: number;
      readonly entryType: 'command' | 'noop' | 'config';
      readonly sizeBytes: number;
      readonly voters: number;
    }
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'compact'; readonly at: number }
  | { readonly kind: 'restore'; readonly gap: number; readonly termStep: number };

const operationArbitrary: fc.Arbitrary<Operation> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      termStep: fc.constantFrom(0, 0, 0, 1, 2),
      entryType: fc.constantFrom('command' as const, 'command' as const, 'noop' as const, 'config' as const),
      sizeBytes: fc.integer({ min: 0, max: 200 }),
      voters: fc.integer({ min: 1, max: 5 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('compact' as const), at: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('restore' as const),
      gap: fc.integer({ min: 0, max: 5 }),
      termStep: fc.integer({ min: 0, max: 2 }),
    }),
  },
);

/** The model: the snapshot meta and the entries after it, in an array; every query is a linear scan. */
class LogModel {
  snapshot: SnapshotMeta = EMPTY_SNAPSHOT;
  entries: Entry[] = [];

  get lastIndex(): number {
    return this.snapshot.index + this.entries.length;
  }

  get lastTerm(): number {
    return this.entries.at(-1)?.term ?? this.snapshot.term;
  }

  termAt(index: number): number | undefined {
    if (index === this.snapshot.index) return this.snapshot.term;
    return this.entries.find((entry) => entry.index === index)?.term;
  }

  membershipAt(atMost: number): { membership: Membership; index: number } {
    const configs = this.entries.filter((entry) => entry.index <= atMost && entry.type === 'config');
    const newest = configs.at(-1);
    if (newest === undefined || newest.type !== 'config') return { membership: this.snapshot.membership, index: this.snapshot.index };
    return { membership: newest.membership, index: newest.index };
  }

  /** The longest prefix within both limits, but never empty when the range holds an entry. */
  slice(from: number, to: number, maxEntries: number, maxBytes: number): Entry[] {
    const range = this.entries.filter((entry) => entry.index >= from && entry.index <= to).slice(0, maxEntries);
    let fit = 0;
    let total = 0;
    for (const entry of range) {
      total += entrySizeBytes(entry);
      if (total > maxBytes) break;
      fit++;
    }
    return range.slice(0, Math.max(fit, Math.min(1, range.length)));
  }
}

function applyOperation(log: RaftLog, model: LogModel, op: Operation): void {
  switch (op.kind) {
    case 'append': {
      const index = model.lastIndex + 1;
      const term = Math.max(1, model.lastTerm + op.termStep);
      const voters = ['n1', 'n2', 'n3', 'n4', 'n5'].slice(0, op.voters);
      const entry: Entry =
        op.entryType === 'command'
          ? { type: 'command', index, term, data: new Uint8Array(op.sizeBytes) }
          : op.entryType === 'noop'
            ? { type: 'noop', index, term }
            : { type: 'config', index, term, membership: { voters, learners: [] } };
      log.append(entry);
      model.entries.push(entry);
      return;
    }
    case 'truncate': {
      // Any index after the snapshot, up to one past the end.
      const index = model.snapshot.index + 1 + (op.at % (model.entries.length + 1));
      log.truncateFrom(index);
      model.entries = model.entries.filter((entry) => entry.index < index);
      return;
    }
    case 'compact': {
      const index = model.snapshot.index + (op.at % (model.entries.length + 1));
      const meta: SnapshotMeta = { index, term: model.termAt(index) as number, membership: model.membershipAt(index).membership };
      log.compact(meta);
      model.entries = model.entries.filter((entry) => entry.index > index);
      model.snapshot = meta;
      return;
    }
    case 'restore': {
      const meta: SnapshotMeta = {
        index: model.lastIndex + op.gap,
        term: model.lastTerm + op.termStep,
        membership: { voters: ['n9'], learners: [] },
      };
      log.restore(meta);
      model.entries = [];
      model.snapshot = meta;
      return;
    }
  }
}

function expectSameAsModel(log: RaftLog, model: LogModel, probe: { readonly bytes: number; readonly count: number }): void {
  const snapshotIndex = model.snapshot.index;
  const lastIndex = model.lastIndex;
  expect([log.snapshotIndex, log.snapshotTerm, log.firstIndex, log.lastIndex, log.lastTerm]).toEqual([
    snapshotIndex,
    model.snapshot.term,
    snapshotIndex + 1,
    lastIndex,
    model.lastTerm,
  ]);
  for (let index = Math.max(0, snapshotIndex - 2); index <= lastIndex + 2; index++) {
    expect(log.termAt(index), `termAt(${index})`).toBe(model.termAt(index));
    expect(log.entryAt(index), `entryAt(${index})`).toBe(model.entries.find((entry) => entry.index === index));
    expect(log.latestMembership(index), `latestMembership(${index})`).toEqual(model.membershipAt(index));
  }
  for (let index = snapshotIndex + 1; index <= lastIndex; index++) {
    const term = model.termAt(index);
    let first = index;
    while (first - 1 > snapshotIndex && model.termAt(first - 1) === term) first--;
    expect(log.firstIndexOfTermAt(index), `firstIndexOfTermAt(${index})`).toBe(first);
  }
  for (let term = 0; term <= model.lastTerm + 1; term++) {
    for (const atMost of [lastIndex, lastIndex + 3, Math.max(snapshotIndex, lastIndex - 3)]) {
      let expected = snapshotIndex;
      for (const entry of model.entries) if (entry.index <= atMost && entry.term <= term) expected = entry.index;
      expect(log.lastIndexWithTermAtMost(atMost, term), `lastIndexWithTermAtMost(${atMost}, ${term})`).toBe(expected);
    }
  }
  for (let from = snapshotIndex + 1; from <= lastIndex + 1; from += 3) {
    const to = from + 4;
    expect(indexes(log.slice(from, to, probe.count, probe.bytes)), `slice(${from}, ${to})`).toEqual(
      indexes(model.slice(from, to, probe.count, probe.bytes)),
    );
  }
}

describe('RaftLog against an array model', () => {
  it('agrees on every query after any sequence of append, truncate, compact and restore', () => {
    fc.assert(
      fc.property(
        fc.array(operationArbitrary, { maxLength: 60 }),
        fc.record({ bytes: fc.integer({ min: 1, max: 600 }), count: fc.integer({ min: 1, max: 6 }) }),
        (operations, probe) => {
          const log = new RaftLog(EMPTY_SNAPSHOT, []);
          const model = new LogModel();
          for (const op of operations) {
            applyOperation(log, model, op);
            expectSameAsModel(log, model, probe);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a slice never breaks its limits and is a contiguous run of the log', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 2000 }),
        (sizes, fromSeed, span, maxEntries, maxBytes) => {
          const log = new RaftLog(
            EMPTY_SNAPSHOT,
            sizes.map((size, i) => command(i + 1, 1, size)),
          );
          const from = 1 + (fromSeed % sizes.length);
          const out = log.slice(from, from + span - 1, maxEntries, maxBytes);
          expect(out.length).toBeGreaterThanOrEqual(1);
          expect(out.length).toBeLessThanOrEqual(Math.min(maxEntries, span));
          out.forEach((entry, i) => expect(entry.index).toBe(from + i));
          const total = out.reduce((sum, entry) => sum + entrySizeBytes(entry), 0);
          if (out.length > 1) expect(total).toBeLessThanOrEqual(maxBytes);
        },
      ),
      { numRuns: 500 },
    );
  });
});
