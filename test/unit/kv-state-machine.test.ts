// The KV state machine on its own: every command and query, compare-and-set by index, snapshot round trips,
// and client sessions (thesis 6.3): a retried command applies once and answers with its cached result.
import { describe, expect, it } from 'vitest';
import {
  encodeBatch,
  type KvCommand,
  type KvItem,
  type KvQuery,
  type KvQueryResult,
  type KvResult,
  type SessionCommand,
} from '../../src/kv/commands.js';
import { KvStateMachine, type KvLimits } from '../../src/kv/kv-state-machine.js';
import type { CommandEntry } from '../../src/raft/types.js';

const bytes = (text: string): Uint8Array => Buffer.from(text, 'latin1');
const text = (data: Uint8Array | undefined): string | undefined => (data === undefined ? undefined : Buffer.from(data).toString('latin1'));
const MINUTE_MS = 60_000;

/** Drives one state machine the way a node does: one log entry per batch, indexes counting up. */
class Driver {
  readonly sm: KvStateMachine;
  index = 0;
  timeMs = 1_000_000;
  private readonly seqs = new Map<string, number>();

  constructor(limits: Partial<KvLimits> = {}) {
    this.sm = new KvStateMachine(limits);
  }

  /** Applies one entry holding `commands`, all in `session` (seq counting up, ack = everything before). */
  batch(commands: KvCommand[], session = 'client-a'): KvResult[] {
    const first = (this.seqs.get(session) ?? 0) + 1;
    this.seqs.set(session, first + commands.length - 1);
    return this.raw(commands.map((command, i) => ({ session, seq: first + i, ack: first - 1, command })));
  }

  one(command: KvCommand, session = 'client-a'): KvResult {
    return this.batch([command], session)[0] as KvResult;
  }

  /** Applies an entry of hand-made session commands. */
  raw(commands: SessionCommand[], timeMs = this.timeMs): KvResult[] {
    this.index++;
    const entry: CommandEntry = { type: 'command', term: 1, index: this.index, data: encodeBatch({ timeMs, commands }) };
    return this.sm.apply(entry);
  }

  query<Op extends KvQuery['op']>(query: Extract<KvQuery, { op: Op }>): Extract<KvQueryResult, { op: Op }> {
    return this.sm.query(query) as Extract<KvQueryResult, { op: Op }>;
  }

  get(key: string): KvItem | null {
    return this.query({ op: 'get', keys: [bytes(key)] }).items[0] ?? null;
  }
}

function put(key: string, value: string, extra: Partial<Extract<KvCommand, { op: 'put' }>> = {}): KvCommand {
  return { op: 'put', key: bytes(key), value: bytes(value), ...extra };
}

describe('KvStateMachine: commands', () => {
  it('puts, gets and deletes; each key remembers the index that last modified it', () => {
    const d = new Driver();
    expect(d.one(put('a', '1'))).toEqual({ ok: true, index: 1 });
    expect(d.one(put('b', '2'))).toEqual({ ok: true, index: 2 });
    expect(d.one(put('a', '3'))).toEqual({ ok: true, index: 3 });
    const a = d.get('a');
    expect(text(a?.value)).toBe('3');
    expect(a?.index).toBe(3);
    expect(d.get('b')?.index).toBe(2);
    expect(d.get('missing')).toBeNull();
    expect(d.one({ op: 'delete', keys: [bytes('a'), bytes('missing')] })).toEqual({ ok: true, index: 4, deleted: 1 });
    expect(d.get('a')).toBeNull();
    expect(d.query({ op: 'exists', keys: [bytes('a'), bytes('b'), bytes('b')] }).count).toBe(2);
    expect(d.query({ op: 'size' }).keys).toBe(1);
    expect(d.sm.keyCount).toBe(1);
  });

  it('keeps keys and values as bytes, binary included', () => {
    const d = new Driver();
    const key = new Uint8Array([0, 255, 13, 10, 128]);
    const value = new Uint8Array([0xff, 0xfe, 0, 1, 2]);
    d.one({ op: 'put', key, value });
    const item = d.query({ op: 'get', keys: [key] }).items[0];
    expect(Buffer.from(item?.value ?? []).equals(Buffer.from(value))).toBe(true);
    const scanned = d.query({ op: 'scan', prefix: new Uint8Array([0]), after: null, limit: 10 });
    expect(scanned.items.map((i) => Buffer.from(i.key).equals(Buffer.from(key)))).toEqual([true]);
  });

  it('does not keep a view into the entry it applied (the value is copied)', () => {
    const d = new Driver();
    const value = bytes('original');
    d.one({ op: 'put', key: bytes('k'), value });
    value.fill(0x41);
    expect(text(d.get('k')?.value)).toBe('original');
  });

  describe('compare-and-set by index (ifIndex)', () => {
    it('ifIndex 0 creates a key only if it does not exist', () => {
      const d = new Driver();
      expect(d.one(put('k', 'v1', { ifIndex: 0 }))).toEqual({ ok: true, index: 1 });
      const refused = d.one(put('k', 'v2', { ifIndex: 0 }));
      expect(refused).toMatchObject({ ok: false, code: 'CAS_FAILED', index: 1 });
      expect(text(d.get('k')?.value)).toBe('v1');
    });

    it('succeeds at the key’s last-modified index and fails at any other', () => {
      const d = new Driver();
      d.one(put('k', 'v1'));
      d.one(put('other', 'x'));
      expect(d.one(put('k', 'v2', { ifIndex: 2 }))).toMatchObject({ ok: false, code: 'CAS_FAILED', index: 1 });
      expect(d.one(put('k', 'v2', { ifIndex: 1 }))).toEqual({ ok: true, index: 4 });
      expect(d.one(put('k', 'v3', { ifIndex: 1 }))).toMatchObject({ ok: false, code: 'CAS_FAILED', index: 4 });
      expect(text(d.get('k')?.value)).toBe('v2');
      // A deleted key counts as absent again: ifIndex 0 holds.
      d.one({ op: 'delete', keys: [bytes('k')] });
      expect(d.one(put('k', 'v4', { ifIndex: 4 }))).toMatchObject({ ok: false, code: 'CAS_FAILED', index: 0 });
      expect(d.one(put('k', 'v4', { ifIndex: 0 })).ok).toBe(true);
    });
  });

  it('SET NX / XX / GET: conditions and the previous value', () => {
    const d = new Driver();
    expect(d.one(put('k', 'v1', { ifExists: true }))).toMatchObject({ ok: false, code: 'CONDITION_NOT_MET', index: 0 });
    expect(d.get('k')).toBeNull();
    expect(d.one(put('k', 'v1', { ifAbsent: true, returnPrevious: true }))).toEqual({ ok: true, index: 2, previous: null });
    expect(d.one(put('k', 'v2', { ifAbsent: true }))).toMatchObject({ ok: false, code: 'CONDITION_NOT_MET', index: 2 });
    const replaced = d.one(put('k', 'v2', { ifExists: true, returnPrevious: true }));
    expect(replaced.ok).toBe(true);
    if (!replaced.ok) return;
    expect(text(replaced.previous?.value ?? undefined)).toBe('v1');
    expect(replaced.previous?.index).toBe(2);
    expect(text(d.get('k')?.value)).toBe('v2');
  });

  it('increments integers, starting from 0, and refuses non-integers and overflow without changing the value', () => {
    const d = new Driver();
    expect(d.one({ op: 'incr', key: bytes('n'), by: 1 })).toEqual({ ok: true, index: 1, value: 1 });
    expect(d.one({ op: 'incr', key: bytes('n'), by: 41 })).toEqual({ ok: true, index: 2, value: 42 });
    expect(d.one({ op: 'incr', key: bytes('n'), by: -50 })).toEqual({ ok: true, index: 3, value: -8 });
    expect(text(d.get('n')?.value)).toBe('-8');
    d.one(put('s', 'hello'));
    expect(d.one({ op: 'incr', key: bytes('s'), by: 1 })).toMatchObject({ ok: false, code: 'NOT_AN_INTEGER', index: 4 });
    d.one(put('f', '1.5'));
    expect(d.one({ op: 'incr', key: bytes('f'), by: 1 })).toMatchObject({ ok: false, code: 'NOT_AN_INTEGER' });
    d.one(put('big', String(Number.MAX_SAFE_INTEGER)));
    expect(d.one({ op: 'incr', key: bytes('big'), by: 1 })).toMatchObject({ ok: false, code: 'NOT_AN_INTEGER' });
    expect(text(d.get('big')?.value)).toBe(String(Number.MAX_SAFE_INTEGER));
    expect(text(d.get('s')?.value)).toBe('hello');
  });

  it('mput writes every pair at the same index', () => {
    const d = new Driver();
    expect(
      d.one({
        op: 'mput',
        pairs: [
          [bytes('x'), bytes('1')],
          [bytes('y'), bytes('2')],
          [bytes('x'), bytes('3')],
        ],
      }),
    ).toEqual({ ok: true, index: 1 });
    expect(text(d.get('x')?.value)).toBe('3'); // the later pair wins
    expect(d.get('y')?.index).toBe(1);
    expect(d.query({ op: 'size' }).keys).toBe(2);
  });

  it('answers every command of a batch, in order, at the batch’s index', () => {
    const d = new Driver();
    const results = d.batch([
      put('a', '1'),
      { op: 'incr', key: bytes('a'), by: 1 },
      put('a', 'x', { ifIndex: 0 }),
      { op: 'delete', keys: [bytes('a')] },
    ]);
    expect(results).toEqual([
      { ok: true, index: 1 },
      { ok: true, index: 1, value: 2 },
      expect.objectContaining({ ok: false, code: 'CAS_FAILED', index: 1 }),
      { ok: true, index: 1, deleted: 1 },
    ]);
  });

  it('scans keys in byte order under a prefix, with a limit, `after` and `more`', () => {
    const d = new Driver();
    for (const key of ['b/2', 'a/1', 'b/1', 'b/10', 'c', 'b', 'ba']) d.one(put(key, `v:${key}`));
    const scan = (prefix: string, limit: number, after: string | null = null) => {
      const result = d.query({ op: 'scan', prefix: bytes(prefix), after: after === null ? null : bytes(after), limit });
      return { keys: result.items.map((i) => text(i.key)), more: result.more };
    };
    expect(scan('b/', 10)).toEqual({ keys: ['b/1', 'b/10', 'b/2'], more: false });
    expect(scan('b/', 2)).toEqual({ keys: ['b/1', 'b/10'], more: true });
    expect(scan('b/', 2, 'b/10')).toEqual({ keys: ['b/2'], more: false });
    expect(scan('', 100).keys).toEqual(['a/1', 'b', 'b/1', 'b/10', 'b/2', 'ba', 'c']);
    expect(scan('zz', 10)).toEqual({ keys: [], more: false });
    // The sorted key cache follows inserts and deletes.
    d.one({ op: 'delete', keys: [bytes('b/10')] });
    d.one(put('b/0', 'new'));
    expect(scan('b/', 10).keys).toEqual(['b/0', 'b/1', 'b/2']);
    const item = d.query({ op: 'scan', prefix: bytes('b/0'), after: null, limit: 1 }).items[0];
    expect(text(item?.value)).toBe('new');
  });

  it('answers a batch of queries in order', () => {
    const d = new Driver();
    d.one(put('a', '1'));
    const result = d.query({
      op: 'batch',
      queries: [{ op: 'size' }, { op: 'exists', keys: [bytes('a')] }, { op: 'get', keys: [bytes('zz')] }],
    });
    expect(result.results).toEqual([
      { op: 'size', keys: 1 },
      { op: 'exists', count: 1 },
      { op: 'get', items: [null] },
    ]);
  });
});

describe('KvStateMachine: snapshots', () => {
  it('restores into a fresh machine with the same data, indexes, digest and sessions', () => {
    const d = new Driver();
    d.one(put('a', '1'));
    d.one({
      op: 'mput',
      pairs: [
        [bytes('b'), bytes('2')],
        [new Uint8Array([0, 200]), new Uint8Array([255, 0])],
      ],
    });
    d.one({ op: 'incr', key: bytes('n'), by: 7 });
    d.one({ op: 'delete', keys: [bytes('a')] });
    const pending = d.raw([{ session: 's', seq: 5, ack: 0, command: { op: 'incr', key: bytes('n'), by: 1 } }]);
    expect(pending).toEqual([{ ok: true, index: 5, value: 8 }]);

    const copy = new KvStateMachine();
    copy.restore(d.sm.snapshot());
    for (const query of [{ op: 'digest' }, { op: 'size' }, { op: 'scan', prefix: new Uint8Array(), after: null, limit: 100 }] as const) {
      expect(copy.query(query)).toEqual(d.sm.query(query));
    }
    // The restored session still knows seq 5: a retry is answered from the cache, not applied again.
    const entry: CommandEntry = {
      type: 'command',
      term: 2,
      index: 6,
      data: encodeBatch({
        timeMs: d.timeMs,
        commands: [{ session: 's', seq: 5, ack: 0, command: { op: 'incr', key: bytes('n'), by: 1 } }],
      }),
    };
    expect(copy.apply(entry)).toEqual([{ ok: true, index: 5, value: 8 }]);
    expect(text((copy.query({ op: 'get', keys: [bytes('n')] }) as Extract<KvQueryResult, { op: 'get' }>).items[0]?.value)).toBe('8');
    // And the snapshot of the copy is the same bytes' worth of state.
    const again = new KvStateMachine();
    again.restore(copy.snapshot());
    expect(again.query({ op: 'digest' })).toEqual(copy.query({ op: 'digest' }));
  });

  it('restore replaces everything that was there', () => {
    const empty = new KvStateMachine().snapshot();
    const d = new Driver();
    d.one(put('a', '1'));
    d.sm.restore(empty);
    expect(d.get('a')).toBeNull();
    expect(d.query({ op: 'size' }).keys).toBe(0);
    expect(d.query({ op: 'scan', prefix: new Uint8Array(), after: null, limit: 10 }).items).toEqual([]);
  });

  it('hands out the snapshot of the moment in slices, whatever is applied meanwhile', () => {
    const d = new Driver();
    const long = 'k'.repeat(100); // past the short-key path
    d.one({
      op: 'mput',
      pairs: [
        ...Array.from({ length: 50 }, (_, i) => [bytes(`key-${i}`), bytes(`value-${i}`)] as const),
        [bytes(long), new Uint8Array(300)],
        [new Uint8Array([0, 255]), new Uint8Array()],
      ],
    });
    const whole = d.sm.snapshot();
    const slices = d.sm.snapshotSlices();
    // The store changes after the capture: the slices do not.
    d.one(put('key-1', 'changed'));
    d.one({ op: 'delete', keys: [bytes('key-2')] });
    const parts: Uint8Array[] = [];
    for (let part = slices.next(64); part !== null; part = slices.next(64)) parts.push(part);
    expect(parts.length).toBeGreaterThan(10);
    // After the first (the head and a record), only the slice of the one record bigger than 64 bytes is bigger.
    expect(
      parts
        .slice(1)
        .filter((part) => part.byteLength > 64)
        .map((part) => part.byteLength),
    ).toEqual([16 + 100 + 300]);
    expect(Buffer.concat(parts)).toEqual(Buffer.from(whole));
    const copy = new KvStateMachine();
    copy.restore(Buffer.concat(parts));
    expect(copy.keyCount).toBe(52);
    expect(text((copy.query({ op: 'get', keys: [bytes('key-1')] }) as Extract<KvQueryResult, { op: 'get' }>).items[0]?.value)).toBe(
      'value-1',
    );
    expect((copy.query({ op: 'get', keys: [bytes(long)] }) as Extract<KvQueryResult, { op: 'get' }>).items[0]?.value).toEqual(
      Buffer.alloc(300),
    );
  });

  it('still restores the msgpack snapshots of format 1', async () => {
    const { kvPackr } = await import('../../src/kv/commands.js');
    const old = kvPackr.pack({
      v: 1,
      data: [[bytes('a'), bytes('1'), 7]],
      sessions: [['s', 2, 5, [[3, { ok: true, index: 7 }]]]],
      commands: 3,
      checksum: 99,
    });
    const copy = new KvStateMachine();
    copy.restore(old);
    expect(copy.query({ op: 'digest' })).toEqual({ op: 'digest', keys: 1, checksum: 99, commands: 3 });
    expect((copy.query({ op: 'get', keys: [bytes('a')] }) as Extract<KvQueryResult, { op: 'get' }>).items[0]?.index).toBe(7);
  });

  it('refuses a truncated snapshot', () => {
    const d = new Driver();
    d.one(put('a', 'some value'));
    const whole = d.sm.snapshot();
    expect(() => new KvStateMachine().restore(whole.subarray(0, whole.byteLength - 3))).toThrow(/corrupt KV snapshot/);
  });

  it('refuses a snapshot of an unknown version', async () => {
    const { kvPackr } = await import('../../src/kv/commands.js');
    expect(() => new KvStateMachine().restore(kvPackr.pack({ v: 99, data: [], sessions: [], commands: 0, checksum: 0 }))).toThrow(
      /unknown KV snapshot version/,
    );
  });
});

describe('KvStateMachine: client sessions', () => {
  const incr = (seq: number, ack = 0, session = 's1'): SessionCommand => ({
    session,
    seq,
    ack,
    command: { op: 'incr', key: bytes('n'), by: 1 },
  });

  it('applies a retried command (same session and seq) once and answers with the cached result', () => {
    const d = new Driver();
    expect(d.raw([incr(1)])).toEqual([{ ok: true, index: 1, value: 1 }]);
    // The retry lands in a later entry (say, re-proposed to a new leader): cached answer, counter unchanged.
    expect(d.raw([incr(1)])).toEqual([{ ok: true, index: 1, value: 1 }]);
    expect(d.raw([incr(2), incr(1), incr(2)])).toEqual([
      { ok: true, index: 3, value: 2 },
      { ok: true, index: 1, value: 1 },
      { ok: true, index: 3, value: 2 },
    ]);
    expect(text(d.get('n')?.value)).toBe('2');
    // Another session with the same seq is a different command.
    expect(d.raw([incr(1, 0, 's2')])).toEqual([{ ok: true, index: 4, value: 3 }]);
  });

  it('caches failures too: a retried CAS that failed fails the same way', () => {
    const d = new Driver();
    d.one(put('k', 'v'));
    const cas = (seq: number): SessionCommand => ({ session: 's', seq, ack: 0, command: put('k', 'w', { ifIndex: 0 }) });
    const first = d.raw([cas(1)]);
    expect(first[0]).toMatchObject({ ok: false, code: 'CAS_FAILED' });
    d.one(put('k', 'again')); // the key changes meanwhile; the retry still answers the first outcome
    expect(d.raw([cas(1)])).toEqual(first);
  });

  it('drops cached results the client acknowledged; a late duplicate of one is refused, not applied', () => {
    const d = new Driver();
    d.raw([incr(1), incr(2)]);
    d.raw([incr(3, 2)]); // ack 2: results 1 and 2 may go
    const late = d.raw([incr(2, 2)]);
    expect(late[0]).toMatchObject({ ok: false, code: 'SESSION_EXPIRED' });
    expect(text(d.get('n')?.value)).toBe('3');
    // Unacknowledged seq 3 is still cached.
    expect(d.raw([incr(3, 2)])).toEqual([{ ok: true, index: 2, value: 3 }]);
  });

  it('forgets a session idle past the expiry, by log time; its next command is SESSION_EXPIRED and not applied', () => {
    const d = new Driver({ sessionExpiryMs: 10 * MINUTE_MS });
    const t0 = d.timeMs;
    d.raw([incr(1, 0, 'old')], t0);
    d.raw([incr(2, 1, 'old')], t0 + MINUTE_MS);
    // Another client's entry nine minutes later does not expire it yet...
    d.raw([{ session: 'other', seq: 1, ack: 0, command: put('x', '1') }], t0 + 10 * MINUTE_MS);
    expect(d.raw([incr(2, 1, 'old')], t0 + 10 * MINUTE_MS)).toEqual([{ ok: true, index: 2, value: 2 }]); // still cached
    // ...but one past ten minutes of its inactivity does, on every node alike (the time is in the log).
    d.raw([{ session: 'other', seq: 2, ack: 1, command: put('x', '2') }], t0 + 21 * MINUTE_MS);
    const retried = d.raw([incr(3, 2, 'old')], t0 + 21 * MINUTE_MS);
    expect(retried[0]).toMatchObject({ ok: false, code: 'SESSION_EXPIRED' });
    expect(text(d.get('n')?.value)).toBe('2');
    // A new session (ack 0) starts afresh.
    expect(d.raw([incr(1, 0, 'new')], t0 + 21 * MINUTE_MS)).toEqual([{ ok: true, index: 7, value: 3 }]);
  });

  it('a follower that replays the same entries forgets the same sessions (expiry is by log time, not the local clock)', () => {
    const entries: CommandEntry[] = [];
    const leader = new Driver({ sessionExpiryMs: 1_000 });
    const record = (commands: SessionCommand[], timeMs: number) => {
      leader.raw(commands, timeMs);
      entries.push({ type: 'command', term: 1, index: leader.index, data: encodeBatch({ timeMs, commands }) });
    };
    record([incr(1, 0, 'a')], 0);
    record([incr(1, 0, 'b')], 5_000);
    record([incr(2, 1, 'a')], 5_000);
    const follower = new KvStateMachine({ sessionExpiryMs: 1_000 });
    const replayed = entries.map((e) => follower.apply(e));
    expect(replayed[2]?.[0]).toMatchObject({ ok: false, code: 'SESSION_EXPIRED' });
    expect(follower.query({ op: 'digest' })).toEqual(leader.sm.query({ op: 'digest' }));
  });

  it('keeps at most sessionsMax sessions, forgetting the least recently active', () => {
    const d = new Driver({ sessionsMax: 2 });
    d.raw([incr(1, 0, 'a')], 1);
    d.raw([incr(1, 0, 'b')], 2);
    d.raw([incr(1, 0, 'c')], 3); // 'a' is forgotten
    expect(d.raw([incr(2, 1, 'a')], 4)[0]).toMatchObject({ ok: false, code: 'SESSION_EXPIRED' });
    expect(d.raw([incr(1, 0, 'c')], 5)).toEqual([{ ok: true, index: 3, value: 3 }]);
  });

  it('refuses a command with SESSION_LIMIT, applying nothing, once sessionResultsMax results wait for an ack', () => {
    const d = new Driver({ sessionResultsMax: 2 });
    expect(d.raw([incr(1, 0, 'a'), incr(2, 0, 'a')]).map((r) => r.ok)).toEqual([true, true]);
    // Two results unacknowledged: a third command would be applied without a cached result, so it is refused.
    expect(d.raw([incr(3, 0, 'a')])[0]).toMatchObject({ ok: false, code: 'SESSION_LIMIT' });
    expect(d.get('n')?.value).toEqual(bytes('2'));
    // Acknowledging frees the cache: the same command now applies, once.
    expect(d.raw([incr(3, 2, 'a')])[0]).toMatchObject({ ok: true, value: 3 });
    expect(d.raw([incr(3, 2, 'a')])[0]).toMatchObject({ ok: true, value: 3 });
    expect(d.get('n')?.value).toEqual(bytes('3'));
  });
});
