import type { CommandEntry } from '../raft/types.js';
import type { StateMachine } from '../node/state-machine.js';
import {
  decodeBatch, kvPackr, type KvCommand, type KvItem, type KvQuery, type KvQueryResult, type KvResult, type SessionCommand,
} from './commands.js';

export interface KvLimits {
  /** A session idle this long (by the leader's clock stamped in the log) is forgotten. */
  readonly sessionExpiryMs: number;
  /** Most sessions kept; beyond, the least recently active is forgotten. */
  readonly sessionsMax: number;
  /** Most results cached per session (commands sent but not yet acknowledged by the client). */
  readonly sessionResultsMax: number;
}

export const KV_LIMITS_DEFAULTS: KvLimits = { sessionExpiryMs: 10 * 60_000, sessionsMax: 100_000, sessionResultsMax: 100_000 };

interface Session {
  /** Every command up to here has been answered and the client said so: its result can go. */
  ack: number;
  readonly results: Map<number, KvResult>;
  lastActiveMs: number;
}

interface Stored {
  readonly value: Uint8Array;
  readonly index: number;
}

const latin1 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
const fromLatin1 = (key: string): Uint8Array => Buffer.from(key, 'latin1');

/**
 * The replicated key-value store (pure: same entries, same state). Every key carries the index that last
 * modified it (etcd's mod revision) for compare-and-set. Client sessions (Ongaro's thesis, 6.3) make a
 * retried command apply once: its cached result is returned instead.
 */
export class KvStateMachine implements StateMachine {
  private readonly data = new Map<string, Stored>();
  private readonly sessions = new Map<string, Session>();
  private sortedKeys: string[] | null = null;
  private commandsApplied = 0;
  private checksum = 0;
  private readonly limits: KvLimits;

  constructor(limits: Partial<KvLimits> = {}) {
    this.limits = { ...KV_LIMITS_DEFAULTS, ...limits };
  }

  apply(entry: CommandEntry): KvResult[] {
    const batch = decodeBatch(entry.data);
    const results: KvResult[] = [];
    for (const command of batch.commands) results.push(this.applySession(command, entry.index, batch.timeMs));
    this.expireSessions(batch.timeMs);
    return results;
  }

  private applySession(command: SessionCommand, index: number, timeMs: number): KvResult {
    let session = this.sessions.get(command.session);
    if (session === undefined) {
      if (command.ack > 0) {
        // The session existed (it acknowledged answers) but expired: a retry might have applied before.
        return { ok: false, code: 'SESSION_EXPIRED', index, message: 'client session expired; the outcome of the retried command is unknown' };
      }
      session = { ack: 0, results: new Map(), lastActiveMs: timeMs };
      this.sessions.set(command.session, session);
    }
    session.lastActiveMs = timeMs;
    if (command.ack > session.ack) {
      for (const seq of session.results.keys()) if (seq <= command.ack) session.results.delete(seq);
      session.ack = command.ack;
    }
    const cached = session.results.get(command.seq);
    if (cached !== undefined) return cached; // a retry: applied once, answered again
    if (command.seq <= session.ack) {
      return { ok: false, code: 'SESSION_EXPIRED', index, message: 'command already acknowledged by this session' };
    }
    const result = this.execute(command.command, index);
    if (session.results.size < this.limits.sessionResultsMax) session.results.set(command.seq, result);
    return result;
  }

  private execute(command: KvCommand, index: number): KvResult {
    this.commandsApplied++;
    this.checksum = (Math.imul(this.checksum ^ index, 0x01000193) + this.commandsApplied) >>> 0;
    switch (command.op) {
      case 'put':
        return this.put(command, index);
      case 'delete': {
        let deleted = 0;
        for (const key of command.keys) if (this.remove(latin1(key))) deleted++;
        return { ok: true, index, deleted };
      }
      case 'incr':
        return this.incr(command.key, command.by, index);
      case 'mput':
        for (const [key, value] of command.pairs) this.set(latin1(key), value, index);
        return { ok: true, index };
    }
  }

  private put(command: Extract<KvCommand, { op: 'put' }>, index: number): KvResult {
    const key = latin1(command.key);
    const current = this.data.get(key);
    if (command.ifIndex !== undefined && (current?.index ?? 0) !== command.ifIndex) {
      return { ok: false, code: 'CAS_FAILED', index: current?.index ?? 0, message: `key was last modified at index ${current?.index ?? 0}, not ${command.ifIndex}` };
    }
    if ((command.ifAbsent === true && current !== undefined) || (command.ifExists === true && current === undefined)) {
      return { ok: false, code: 'CONDITION_NOT_MET', index: current?.index ?? 0, message: command.ifAbsent === true ? 'key exists' : 'key does not exist' };
    }
    this.set(key, command.value, index);
    if (command.returnPrevious !== true) return { ok: true, index };
    return { ok: true, index, previous: current === undefined ? null : { key: command.key, value: current.value, index: current.index } };
  }

  private incr(keyBytes: Uint8Array, by: number, index: number): KvResult {
    const key = latin1(keyBytes);
    const current = this.data.get(key);
    const text = current === undefined ? '0' : Buffer.from(current.value).toString('latin1');
    const value = /^-?\d{1,19}$/.test(text) ? Number(text) : Number.NaN;
    const next = value + by;
    if (!Number.isSafeInteger(value) || !Number.isSafeInteger(next)) {
      return { ok: false, code: 'NOT_AN_INTEGER', index: current?.index ?? 0, message: 'value is not an integer or out of range' };
    }
    this.set(key, Buffer.from(String(next), 'latin1'), index);
    return { ok: true, index, value: next };
  }

  private set(key: string, value: Uint8Array, index: number): void {
    if (!this.data.has(key)) this.sortedKeys = null;
    // Copy: the value may be a view into a received frame that would otherwise stay alive with it.
    this.data.set(key, { value: Uint8Array.prototype.slice.call(value), index });
  }

  private remove(key: string): boolean {
    const existed = this.data.delete(key);
    if (existed) this.sortedKeys = null;
    return existed;
  }

  /** Forgets sessions idle past the expiry (by log time, so every node forgets the same ones) or beyond the cap. */
  private expireSessions(nowMs: number): void {
    const cutoff = nowMs - this.limits.sessionExpiryMs;
    for (const [id, session] of this.sessions) {
      if (session.lastActiveMs < cutoff) this.sessions.delete(id);
    }
    if (this.sessions.size > this.limits.sessionsMax) {
      const byAge = [...this.sessions.entries()].sort((a, b) => a[1].lastActiveMs - b[1].lastActiveMs);
      for (const [id] of byAge.slice(0, this.sessions.size - this.limits.sessionsMax)) this.sessions.delete(id);
    }
  }

  query(request: unknown): KvQueryResult {
    const query = request as KvQuery;
    switch (query.op) {
      case 'get':
        return { op: 'get', items: query.keys.map((key) => this.item(key)) };
      case 'exists':
        return { op: 'exists', count: query.keys.filter((key) => this.data.has(latin1(key))).length };
      case 'scan':
        return this.scan(query.prefix, query.after, query.limit);
      case 'size':
        return { op: 'size', keys: this.data.size };
      case 'digest':
        return { op: 'digest', keys: this.data.size, checksum: this.checksum, commands: this.commandsApplied };
      case 'batch':
        return { op: 'batch', results: query.queries.map((q) => this.query(q)) };
    }
  }

  private item(keyBytes: Uint8Array): KvItem | null {
    const stored = this.data.get(latin1(keyBytes));
    return stored === undefined ? null : { key: keyBytes, value: stored.value, index: stored.index };
  }

  private scan(prefixBytes: Uint8Array, after: Uint8Array | null, limit: number): KvQueryResult {
    this.sortedKeys ??= [...this.data.keys()].sort();
    const keys = this.sortedKeys;
    const prefix = latin1(prefixBytes);
    const start = after === null ? prefix : latin1(after);
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((keys[mid] as string) < start || (after !== null && keys[mid] === start)) lo = mid + 1;
      else hi = mid;
    }
    const items: KvItem[] = [];
    let i = lo;
    for (; i < keys.length && items.length < limit; i++) {
      const key = keys[i] as string;
      if (!key.startsWith(prefix)) break;
      const stored = this.data.get(key) as Stored;
      items.push({ key: fromLatin1(key), value: stored.value, index: stored.index });
    }
    const more = i < keys.length && (keys[i] as string).startsWith(prefix);
    return { op: 'scan', items, more };
  }

  snapshot(): Uint8Array {
    const data: [Uint8Array, Uint8Array, number][] = [];
    for (const [key, stored] of this.data) data.push([fromLatin1(key), stored.value, stored.index]);
    const sessions: [string, number, number, [number, KvResult][]][] = [];
    for (const [id, s] of this.sessions) sessions.push([id, s.ack, s.lastActiveMs, [...s.results.entries()]]);
    return kvPackr.pack({ v: 1, data, sessions, commands: this.commandsApplied, checksum: this.checksum });
  }

  restore(snapshot: Uint8Array): void {
    const decoded = kvPackr.unpack(snapshot) as {
      v: number; data: [Uint8Array, Uint8Array, number][]; sessions: [string, number, number, [number, KvResult][]][]; commands: number; checksum: number;
    };
    if (decoded.v !== 1) throw new TypeError(`unknown KV snapshot version ${String(decoded.v)}`);
    this.data.clear();
    this.sessions.clear();
    this.sortedKeys = null;
    for (const [key, value, index] of decoded.data) this.data.set(latin1(key), { value, index });
    for (const [id, ack, lastActiveMs, results] of decoded.sessions) this.sessions.set(id, { ack, lastActiveMs, results: new Map(results) });
    this.commandsApplied = decoded.commands;
    this.checksum = decoded.checksum;
  }

  get keyCount(): number {
    return this.data.size;
  }
}
