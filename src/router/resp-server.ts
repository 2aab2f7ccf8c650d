import * as net from 'node:net';
import type { Supervisor } from '../actor/supervisor.js';
import type { KvCommand, KvQueryResult, KvResult } from '../kv/commands.js';
import { ERRORS, apiError, type ApiError, type ErrorCode } from './errors.js';
import type { Limits } from './limits.js';
import type { Metrics } from './metrics.js';
import { RespParser, RespProtocolError, encodeReply, type ParsedCommand, type RespValue } from './resp-parser.js';
import type { Router } from './router.js';

export interface RespServerDeps {
  readonly router: Router;
  readonly supervisor: Supervisor;
  readonly limits: Limits;
  readonly metrics: Metrics;
  /** The connection's lane of the router (ROUTER_LANES); set per connection. */
  readonly lane?: number;
}

let nextLane = 0;

const OK: RespValue = { status: 'OK' };

/** How long a connection may sit on half a frame before it is closed. */
export const RESP_PARTIAL_FRAME_TIMEOUT_MS = 30_000;

/**
 * The commands `execute` knows, by what they do to the store. Any other name is counted as 'unknown' in the
 * metrics, so clients cannot add metric labels.
 */
const COMMANDS = new Map<string, 'read' | 'write' | 'none'>([
  ...(['get', 'exists', 'mget', 'dbsize', 'scan'] as const).map((name) => [name, 'read'] as const),
  ...(['set', 'del', 'incr', 'decr', 'incrby', 'decrby', 'mset'] as const).map((name) => [name, 'write'] as const),
  ...(['ping', 'echo', 'info', 'hello', 'config', 'client', 'select', 'command'] as const).map((name) => [name, 'none'] as const),
]);

/** One reply owed to a pipelined command; `value` may legitimately be null (RESP nil) once done. */
interface Slot {
  done: boolean;
  value: RespValue;
}

/** Indefinite errors say so in their text: a Redis client sees only the prefix and the message. */
function errorReply(error: ApiError): RespValue {
  const spec = ERRORS[error.code];
  const unknown = spec.definite || error.message.includes('outcome is unknown') ? '' : ' (the outcome is unknown)';
  return { error: `${spec.redis} ${error.message}${unknown}` };
}

function fail(code: ErrorCode, message?: string): RespValue {
  return errorReply(apiError(code, message));
}

/** The Redis protocol (RESP2) front door: redis-cli, redis-benchmark and ioredis work unmodified. */
export function createRespServer(deps: RespServerDeps): net.Server {
  const server = net.createServer((socket) => serveConnection(socket, deps));
  server.maxConnections = deps.limits.connectionsMax;
  return server;
}

function serveConnection(socket: net.Socket, serverDeps: RespServerDeps): void {
  const deps: RespServerDeps = { ...serverDeps, lane: nextLane++ };
  socket.setNoDelay(true);
  // A client that stalls halfway through a frame gives up its connection after a while; a client idle
  // between commands keeps it (as with Redis's default of no timeout).
  socket.setTimeout(RESP_PARTIAL_FRAME_TIMEOUT_MS, () => {
    if (parser.bufferedBytes > 0) socket.destroy();
  });
  const parser = new RespParser({
    argumentsMax: deps.limits.respArgumentsMax,
    bulkBytesMax: Math.max(deps.limits.valueBytesMax, deps.limits.keyBytesMax) + 1024,
    inlineBytesMax: deps.limits.respInlineBytesMax,
  });
  // Replies go out in request order, whatever order the commands finish in (pipelining).
  const replies: Slot[] = [];
  let closing = false;
  // Commands of one connection take effect in the order they were sent, as in Redis: a read waits until the
  // writes sent before it are answered, a write until the reads before it are. A run of reads, or of writes,
  // still goes out together (one ReadIndex round, one proposal).
  let runKind: 'read' | 'write' | null = null;
  let runStart: Promise<unknown> = Promise.resolve();
  let runSettled: Promise<unknown> = runStart;
  // Answers that complete in the same turn (a pipelined batch) leave in one write.
  let flushScheduled = false;
  const scheduleFlush = (): void => {
    if (flushScheduled) return;
    flushScheduled = true;
    setImmediate(() => {
      flushScheduled = false;
      flushReplies();
    });
  };
  const flushReplies = (): void => {
    const out: Buffer[] = [];
    while (replies.length > 0 && (replies[0] as Slot).done) {
      out.push(encodeReply((replies.shift() as Slot).value));
    }
    if (out.length > 0 && !socket.destroyed) socket.write(out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out));
    if (replies.length < deps.limits.respPipelineMax && socket.isPaused()) socket.resume();
    if (closing && replies.length === 0) socket.end();
  };
  socket.on('data', (chunk: Buffer) => {
    if (closing) return;
    let commands: ParsedCommand[];
    try {
      commands = parser.feed(chunk);
    } catch (error) {
      const message = error instanceof RespProtocolError ? error.message : 'Protocol error';
      replies.push({ done: true, value: { error: `ERR ${message}` } });
      closing = true;
      flushReplies();
      return;
    }
    for (const args of commands) {
      const slot: Slot = { done: false, value: null };
      replies.push(slot);
      const started = process.hrtime.bigint();
      const name = (args[0] as Buffer).toString('latin1').toLowerCase();
      if (name === 'quit') {
        slot.done = true;
        slot.value = OK;
        closing = true;
        break;
      }
      const kind = COMMANDS.get(name) ?? 'none';
      let done: Promise<RespValue>;
      if (kind === 'none') done = execute(name, args.slice(1), deps);
      else {
        if (kind !== runKind) {
          runKind = kind;
          runStart = runSettled;
        }
        done = runStart.then(() => execute(name, args.slice(1), deps));
        runSettled = Promise.all([runSettled, done.catch(() => undefined)]);
      }
      void done.then(
        (value) => {
          slot.done = true;
          slot.value = value;
          deps.metrics.observeRequest('resp', COMMANDS.has(name) ? name : 'unknown', isError(value) ? 'error' : 'ok', Number(process.hrtime.bigint() - started) / 1e9);
          scheduleFlush();
        },
        (error: unknown) => {
          slot.done = true;
          slot.value = fail('INTERNAL', (error as Error).message);
          scheduleFlush();
        },
      );
    }
    flushReplies();
    // Backpressure: a client that pipelines more than the limit waits for answers before more is read.
    if (replies.length >= deps.limits.respPipelineMax) socket.pause();
  });
  socket.on('error', () => socket.destroy());
}

function isError(value: RespValue): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value) && 'error' in value;
}

function checkKey(key: Buffer, deps: RespServerDeps): RespValue | null {
  if (key.byteLength === 0) return fail('KEY_EMPTY');
  if (key.byteLength > deps.limits.keyBytesMax) return fail('KEY_TOO_LARGE', `key is ${key.byteLength} bytes; the limit is ${deps.limits.keyBytesMax}`);
  return null;
}

function firstBadKey(keys: readonly Buffer[], deps: RespServerDeps): RespValue | null {
  for (const key of keys) {
    const bad = checkKey(key, deps);
    if (bad !== null) return bad;
  }
  return null;
}

function checkValue(value: Buffer, deps: RespServerDeps): RespValue | null {
  if (value.byteLength > deps.limits.valueBytesMax) return fail('VALUE_TOO_LARGE', `value is ${value.byteLength} bytes; the limit is ${deps.limits.valueBytesMax}`);
  return null;
}

function arity(name: string): RespValue {
  return fail('WRONG_ARITY', `wrong number of arguments for '${name}' command`);
}

async function write(deps: RespServerDeps, command: KvCommand): Promise<KvResult | RespValue> {
  const outcome = await deps.router.write(command, deps.lane ?? 0);
  return outcome.ok ? outcome.result : errorReply(outcome.error);
}

async function read(deps: RespServerDeps, query: Parameters<Router['read']>[0]): Promise<KvQueryResult | RespValue> {
  const outcome = await deps.router.read(query, 'linearizable', deps.lane ?? 0);
  return outcome.ok ? outcome.result : errorReply(outcome.error);
}

function isKvResult(value: unknown): value is KvResult {
  return typeof value === 'object' && value !== null && 'ok' in value;
}

function parseInteger(raw: Buffer): number | null {
  const text = raw.toString('latin1');
  if (!/^-?\d{1,19}$/.test(text)) return null;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : null;
}

async function execute(name: string, args: Buffer[], deps: RespServerDeps): Promise<RespValue> {
  switch (name) {
    case 'ping':
      return args.length === 0 ? { status: 'PONG' } : args.length === 1 ? (args[0] as Buffer) : arity(name);
    case 'echo':
      return args.length === 1 ? (args[0] as Buffer) : arity(name);
    case 'get': {
      if (args.length !== 1) return arity(name);
      const key = args[0] as Buffer;
      const bad = checkKey(key, deps);
      if (bad !== null) return bad;
      const result = await read(deps, { op: 'get', keys: [key] });
      if (!isQuery(result, 'get')) return result as RespValue;
      const item = result.items[0];
      return item == null ? null : Buffer.from(item.value);
    }
    case 'set':
      return set(args, deps);
    case 'del': {
      if (args.length < 1) return arity(name);
      for (const key of args) {
        const bad = checkKey(key, deps);
        if (bad !== null) return bad;
      }
      const result = await write(deps, { op: 'delete', keys: args });
      if (!isKvResult(result)) return result;
      return result.ok ? (result.deleted ?? 0) : fail(result.code, result.message);
    }
    case 'exists': {
      if (args.length < 1) return arity(name);
      const badKey = firstBadKey(args, deps);
      if (badKey !== null) return badKey;
      const result = await read(deps, { op: 'exists', keys: args });
      return isQuery(result, 'exists') ? result.count : (result as RespValue);
    }
    case 'incr':
    case 'decr':
    case 'incrby':
    case 'decrby': {
      const withAmount = name.endsWith('by');
      if (args.length !== (withAmount ? 2 : 1)) return arity(name);
      const key = args[0] as Buffer;
      const bad = checkKey(key, deps);
      if (bad !== null) return bad;
      const amount = withAmount ? parseInteger(args[1] as Buffer) : 1;
      if (amount === null) return fail('NOT_AN_INTEGER');
      const result = await write(deps, { op: 'incr', key, by: name.startsWith('decr') ? -amount : amount });
      if (!isKvResult(result)) return result;
      return result.ok ? (result.value ?? 0) : fail(result.code, result.message);
    }
    case 'mget': {
      if (args.length < 1) return arity(name);
      const badKey = firstBadKey(args, deps);
      if (badKey !== null) return badKey;
      const result = await read(deps, { op: 'get', keys: args });
      if (!isQuery(result, 'get')) return result as RespValue;
      return result.items.map((item) => (item == null ? null : Buffer.from(item.value)));
    }
    case 'mset': {
      if (args.length < 2 || args.length % 2 !== 0) return arity(name);
      const pairs: [Buffer, Buffer][] = [];
      for (let i = 0; i < args.length; i += 2) {
        const key = args[i] as Buffer;
        const value = args[i + 1] as Buffer;
        const bad = checkKey(key, deps) ?? checkValue(value, deps);
        if (bad !== null) return bad;
        pairs.push([key, value]);
      }
      const result = await write(deps, { op: 'mput', pairs });
      if (!isKvResult(result)) return result;
      return result.ok ? OK : fail(result.code, result.message);
    }
    case 'dbsize': {
      const result = await read(deps, { op: 'size' });
      return isQuery(result, 'size') ? result.keys : (result as RespValue);
    }
    case 'scan':
      return scan(args, deps);
    case 'info':
      return info(deps);
    case 'hello': {
      // Only RESP2: a client asking for 3 falls back (redis-cli, ioredis).
      const version = args[0]?.toString('latin1');
      if (version !== undefined && version !== '2') return { error: 'NOPROTO unsupported protocol version' };
      return ['server', 'raftkv', 'version', '0.1.0', 'proto', 2, 'id', 1, 'mode', 'cluster', 'role', 'master', 'modules', []];
    }
    case 'config': {
      const sub = args[0]?.toString('latin1').toLowerCase();
      if (sub === 'get') {
        const param = args[1]?.toString('latin1').toLowerCase() ?? '';
        if (param === 'save') return ['save', ''];
        if (param === 'appendonly') return ['appendonly', 'yes'];
        return [];
      }
      return OK;
    }
    case 'client': {
      const sub = args[0]?.toString('latin1').toLowerCase();
      if (sub === 'getname') return null;
      if (sub === 'id') return 1;
      return OK;
    }
    case 'select':
      return args[0]?.toString('latin1') === '0' ? OK : { error: 'ERR DB index is out of range' };
    case 'command':
      return [];
    default: {
      const preview = args.slice(0, 3).map((a) => `'${a.toString('latin1').slice(0, 32)}'`).join(' ');
      return fail('UNKNOWN_COMMAND', `unknown command '${name.slice(0, 64)}', with args beginning with: ${preview}`);
    }
  }
}

function isQuery<Op extends KvQueryResult['op']>(value: unknown, op: Op): value is Extract<KvQueryResult, { op: Op }> {
  return typeof value === 'object' && value !== null && (value as { op?: unknown }).op === op;
}

async function set(args: Buffer[], deps: RespServerDeps): Promise<RespValue> {
  if (args.length < 2) return arity('set');
  const key = args[0] as Buffer;
  const value = args[1] as Buffer;
  const bad = checkKey(key, deps) ?? checkValue(value, deps);
  if (bad !== null) return bad;
  let ifAbsent = false;
  let ifExists = false;
  let returnPrevious = false;
  for (const option of args.slice(2)) {
    const word = option.toString('latin1').toLowerCase();
    if (word === 'nx') ifAbsent = true;
    else if (word === 'xx') ifExists = true;
    else if (word === 'get') returnPrevious = true;
    else return { error: 'ERR syntax error (supported options: NX, XX, GET)' };
  }
  if (ifAbsent && ifExists) return { error: 'ERR syntax error' };
  const result = await write(deps, { op: 'put', key, value, ifAbsent, ifExists, returnPrevious });
  if (!isKvResult(result)) return result;
  if (!result.ok) return result.code === 'CONDITION_NOT_MET' ? null : fail(result.code, result.message);
  if (returnPrevious) return result.previous == null ? null : Buffer.from(result.previous.value);
  return OK;
}

/** SCAN cursor [MATCH prefix*] [COUNT n]: the cursor is an offset into the keys of the prefix, in order. */
async function scan(args: Buffer[], deps: RespServerDeps): Promise<RespValue> {
  if (args.length < 1) return arity('scan');
  const cursor = parseInteger(args[0] as Buffer);
  if (cursor === null || cursor < 0) return { error: 'ERR invalid cursor' };
  let prefix = Buffer.alloc(0);
  let count = 10;
  for (let i = 1; i < args.length; i += 2) {
    const option = args[i]?.toString('latin1').toLowerCase();
    const raw = args[i + 1];
    if (raw === undefined) return { error: 'ERR syntax error' };
    if (option === 'match') {
      const pattern = raw.toString('latin1');
      const star = pattern.indexOf('*');
      if (/[?[\\]/.test(pattern) || (star !== -1 && star !== pattern.length - 1)) return { error: 'ERR only MATCH prefix* patterns are supported' };
      prefix = Buffer.from(star === -1 ? pattern : pattern.slice(0, -1), 'latin1');
    } else if (option === 'count') {
      const n = parseInteger(raw);
      if (n === null || n < 1) return { error: 'ERR value is not an integer or out of range' };
      count = Math.min(n, deps.limits.scanItemsMax);
    } else return { error: 'ERR syntax error' };
  }
  const after = cursor === 0 ? null : SCAN_CURSORS.get(cursor);
  if (after === undefined) return { error: 'ERR invalid cursor' };
  const result = await read(deps, { op: 'scan', prefix, after, limit: count });
  if (!isQuery(result, 'scan')) return result as RespValue;
  const last = result.items[result.items.length - 1];
  const next = result.more && last !== undefined ? SCAN_CURSORS.open(Buffer.from(last.key)) : 0;
  return [String(next), result.items.map((item) => Buffer.from(item.key))];
}

/**
 * SCAN cursors name the last key returned (redis-cli reads cursors as numbers, so the key stays here), and
 * the next page starts after it: keys present for the whole scan are returned once, however many there
 * are and whatever is deleted meanwhile. At most SCAN_CURSORS_MAX are kept; the oldest are forgotten.
 */
export const SCAN_CURSORS_MAX = 100_000;

class ScanCursors {
  private next = 1;
  private readonly keys = new Map<number, Buffer>();

  open(lastKey: Buffer): number {
    const id = this.next++;
    this.keys.set(id, lastKey);
    if (this.keys.size > SCAN_CURSORS_MAX) this.keys.delete(this.keys.keys().next().value as number);
    return id;
  }

  get(id: number): Buffer | undefined {
    return this.keys.get(id);
  }
}

const SCAN_CURSORS = new ScanCursors();

async function info(deps: RespServerDeps): Promise<RespValue> {
  const nodes = await deps.supervisor.status();
  const lines = [
    '# Server', 'redis_version:7.0.0', 'raftkv_version:0.1.0', 'redis_mode:cluster', `process_id:${process.pid}`, '',
    '# Persistence', 'loading:0', '',
    '# Replication', 'role:master', `raft_leader:${deps.supervisor.leaderId ?? 'none'}`, `raft_term:${deps.supervisor.leaderTerm}`,
    ...nodes.map((n) => `raft_node_${n.id}:status=${n.status},role=${n.raft?.role ?? 'none'},commit=${n.raft?.commitIndex ?? 0},applied=${n.raft?.appliedIndex ?? 0}`),
    '',
  ];
  return lines.join('\r\n');
}
