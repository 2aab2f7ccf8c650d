import type { CommandEntry } from '../raft/types.js';
import type { SnapshotSlices, StateMachine } from '../raft/state-machine.js';
import {
  decodeBatch,
  kvPackr,
  type KvCommand,
  type KvItem,
  type KvQuery,
  type KvQueryResult,
  type KvResult,
  type SessionCommand,
} from './commands.js';

export interface KvLimits {
  /** A session idle this long (by the leader's clock stamped in the log) is forgotten. */
  readonly sessionExpiryMs: number;
  /** Most sessions kept; beyond, the least recently active is forgotten. */
  readonly sessionsMax: number;
  /** Most results cached per session (commands sent but not yet acknowledged); beyond, commands are refused with SESSION_LIMIT. */
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

/** A client session in a snapshot: id, ack, last activity, cached results by sequence number. */
type SnapshotSession = [string, number, number, [number, KvResult][]];
/** Format 2's msgpack head: sessions, commands applied, checksum, number of key records that follow. */
type SnapshotHead = [SnapshotSession[], number, number, number];

/** Format 2 starts with these 8 bytes (format 1 is a msgpack map, whose first byte is never 'R'). */
const SNAPSHOT_MAGIC = Buffer.from('RKVKV002', 'latin1');
/** Magic, then the head's length (u32 LE). */
const SNAPSHOT_PREFIX_BYTES = SNAPSHOT_MAGIC.byteLength + 4;
/** Per key: key length (u32 LE), value length (u32 LE), last-modified index (f64 LE). */
const SNAPSHOT_RECORD_BYTES = 16;
/** Keys up to this long are copied byte by byte when writing a snapshot; longer ones by Buffer.write. */
const SHORT_KEY_CHARS = 32;

function hasSnapshotMagic(bytes: Uint8Array): boolean {
  if (bytes.byteLength < SNAPSHOT_MAGIC.byteLength) return false;
  for (let i = 0; i < SNAPSHOT_MAGIC.byteLength; i++) if (bytes[i] !== SNAPSHOT_MAGIC[i]) return false;
  return true;
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
        return {
          ok: false,
          code: 'SESSION_EXPIRED',
          index,
          message: 'client session expired; the outcome of the retried command is unknown',
        };
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
    if (session.results.size >= this.limits.sessionResultsMax) {
      // Applying it without caching its result would lose exactly-once for its retries: refuse it instead,
      // the same way on every node. The client must wait for answers (which acknowledges them) first.
      return {
        ok: false,
        code: 'SESSION_LIMIT',
        index,
        message: `the session holds ${session.results.size} unacknowledged results (sessionResultsMax); nothing was applied`,
      };
    }
    const result = this.execute(command.command, index);
    session.results.set(command.seq, result);
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
      return {
        ok: false,
        code: 'CAS_FAILED',
        index: current?.index ?? 0,
        message: `key was last modified at index ${current?.index ?? 0}, not ${command.ifIndex}`,
      };
    }
    if ((command.ifAbsent === true && current !== undefined) || (command.ifExists === true && current === undefined)) {
      return {
        ok: false,
        code: 'CONDITION_NOT_MET',
        index: current?.index ?? 0,
        message: command.ifAbsent === true ? 'key exists' : 'key does not exist',
      };
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

  /** Format 2: see KvSnapshotSlices. */
  snapshot(): Uint8Array {
    return this.snapshotSlices().next(Number.POSITIVE_INFINITY) as Uint8Array;
  }

  /**
   * The store as it is now, encoded later a slice at a time. Capturing it is one pass over the keys (the
   * stored values are never changed in place, only replaced), so the store may change meanwhile.
   */
  snapshotSlices(): SnapshotSlices {
    const sessions: SnapshotSession[] = [];
    for (const [id, s] of this.sessions) sessions.push([id, s.ack, s.lastActiveMs, [...s.results.entries()]]);
    const head = kvPackr.pack([sessions, this.commandsApplied, this.checksum, this.data.size] satisfies SnapshotHead);
    const keys = new Array<string>(this.data.size);
    const stored = new Array<Stored>(this.data.size);
    let i = 0;
    for (const [key, value] of this.data) {
      keys[i] = key;
      stored[i++] = value;
    }
    return new KvSnapshotSlices(head, keys, stored);
  }

  restore(snapshot: Uint8Array): void {
    if (!hasSnapshotMagic(snapshot)) {
      this.restoreFormat1(snapshot);
      return;
    }
    const bytes = Buffer.from(snapshot.buffer, snapshot.byteOffset, snapshot.byteLength);
    const view = new DataView(snapshot.buffer, snapshot.byteOffset, snapshot.byteLength);
    const bad = (what: string): never => {
      throw new TypeError(`corrupt KV snapshot: ${what}`);
    };
    if (bytes.byteLength < SNAPSHOT_PREFIX_BYTES) bad('shorter than its prefix');
    const headBytes = view.getUint32(SNAPSHOT_MAGIC.byteLength, true);
    let offset = SNAPSHOT_PREFIX_BYTES + headBytes;
    if (offset > bytes.byteLength) bad('head runs past the end');
    // A copy of the head: msgpackr keeps a reference to the last buffer it decoded.
    const [sessions, commands, checksum, keys] = kvPackr.unpack(
      Uint8Array.prototype.slice.call(snapshot, SNAPSHOT_PREFIX_BYTES, offset),
    ) as SnapshotHead;
    this.clear();
    for (let i = 0; i < keys; i++) {
      if (offset + SNAPSHOT_RECORD_BYTES > bytes.byteLength) bad(`record ${i} of ${keys} runs past the end`);
      const keyLength = view.getUint32(offset, true);
      const valueLength = view.getUint32(offset + 4, true);
      const index = view.getFloat64(offset + 8, true);
      const keyStart = offset + SNAPSHOT_RECORD_BYTES;
      const valueStart = keyStart + keyLength;
      offset = valueStart + valueLength;
      if (offset > bytes.byteLength) bad(`record ${i} of ${keys} runs past the end`);
      // The value stays a view into the snapshot (a Buffer, as values applied from commands are): copying a
      // million small values costs a million ArrayBuffers and seconds of GC. The snapshot is almost all
      // values, so holding it is proportionate; it is freed once every key restored from it has been
      // overwritten or deleted.
      this.data.set(bytes.toString('latin1', keyStart, valueStart), { value: bytes.subarray(valueStart, offset), index });
    }
    if (offset !== bytes.byteLength) bad(`${bytes.byteLength - offset} bytes after the last record`);
    this.restoreSessions(sessions);
    this.commandsApplied = commands;
    this.checksum = checksum;
  }

  /** The msgpack format of the first release; still read, never written. */
  private restoreFormat1(snapshot: Uint8Array): void {
    const decoded = kvPackr.unpack(snapshot) as {
      v: number;
      data: [Uint8Array, Uint8Array, number][];
      sessions: SnapshotSession[];
      commands: number;
      checksum: number;
    };
    if (decoded.v !== 1) throw new TypeError(`unknown KV snapshot version ${String(decoded.v)}`);
    this.clear();
    for (const [key, value, index] of decoded.data) this.data.set(latin1(key), { value, index });
    this.restoreSessions(decoded.sessions);
    this.commandsApplied = decoded.commands;
    this.checksum = decoded.checksum;
  }

  private clear(): void {
    this.data.clear();
    this.sessions.clear();
    this.sortedKeys = null;
  }

  private restoreSessions(sessions: readonly SnapshotSession[]): void {
    for (const [id, ack, lastActiveMs, results] of sessions) this.sessions.set(id, { ack, lastActiveMs, results: new Map(results) });
  }

  get keyCount(): number {
    return this.data.size;
  }
}

/**
 * KV snapshot format 2 (docs/STORAGE.md): the 8-byte magic, the head's length (u32 LE), the msgpack head
 * (sessions, counters, key count), then per key a 16-byte record header (key length u32, value length u32,
 * last-modified index f64, all LE), the key's bytes and the value's bytes. Written straight into buffers
 * sized first, this is about seven times faster than packing the store as one msgpack value (format 1).
 */
class KvSnapshotSlices implements SnapshotSlices {
  private cursor = 0;
  private headWritten = false;

  constructor(
    private readonly head: Uint8Array,
    private readonly keys: readonly string[],
    private readonly stored: readonly Stored[],
  ) {}

  next(maxBytes: number): Uint8Array | null {
    const { keys, stored, head } = this;
    if (this.headWritten && this.cursor >= keys.length) return null;
    let size = this.headWritten ? 0 : SNAPSHOT_PREFIX_BYTES + head.byteLength;
    let end = this.cursor;
    for (; end < keys.length; end++) {
      const record = SNAPSHOT_RECORD_BYTES + (keys[end] as string).length + (stored[end] as Stored).value.byteLength;
      if (end > this.cursor && size + record > maxBytes) break;
      size += record;
    }
    // Every byte is written below (checked at the end), so the buffer need not be zeroed first.
    const out = Buffer.allocUnsafe(size);
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    let offset = 0;
    if (!this.headWritten) {
      out.set(SNAPSHOT_MAGIC, 0);
      view.setUint32(SNAPSHOT_MAGIC.byteLength, head.byteLength, true);
      out.set(head, SNAPSHOT_PREFIX_BYTES);
      offset = SNAPSHOT_PREFIX_BYTES + head.byteLength;
      this.headWritten = true;
    }
    for (let i = this.cursor; i < end; i++) {
      const key = keys[i] as string;
      const { value, index } = stored[i] as Stored;
      view.setUint32(offset, key.length, true);
      view.setUint32(offset + 4, value.byteLength, true);
      view.setFloat64(offset + 8, index, true);
      offset += SNAPSHOT_RECORD_BYTES;
      if (key.length <= SHORT_KEY_CHARS) {
        // Cheaper than a call into C++ for the usual short key.
        for (let c = 0; c < key.length; c++) out[offset + c] = key.charCodeAt(c);
        offset += key.length;
      } else offset += out.write(key, offset, 'latin1');
      out.set(value, offset);
      offset += value.byteLength;
    }
    if (offset !== size) throw new Error(`KV snapshot slice wrote ${offset} bytes of ${size}`);
    this.cursor = end;
    return out;
  }
}
