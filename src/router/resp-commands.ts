// The Redis-protocol commands raftkv implements: one table entry per command, with what Redis's COMMAND
// reports about it and its handler. The table's machinery (checks, arity, COMMAND replies) is in
// resp-command-table.ts; the connection loop that dispatches through it is in resp-server.ts.
import type { KvCommand, KvQuery, KvQueryResult, KvResult } from '../kv/commands.js';
import type { RespValue } from './resp-parser.js';
import {
  RespCommandTable,
  errorReply,
  fail,
  globPattern,
  type AclCategory,
  type RespCommandContext,
  type RespCommandSpec,
} from './resp-command-table.js';

const OK: RespValue = { status: 'OK' };
const SYNTAX_ERROR: RespValue = { error: 'ERR syntax error' };

// ---------------------------------------------------------------------------
// What the handlers share.

function checkKey(key: Buffer, context: RespCommandContext): RespValue | null {
  if (key.byteLength === 0) return fail('KEY_EMPTY');
  if (key.byteLength > context.limits.keyBytesMax)
    return fail('KEY_TOO_LARGE', `key is ${key.byteLength} bytes; the limit is ${context.limits.keyBytesMax}`);
  return null;
}

function firstBadKey(keys: readonly Buffer[], context: RespCommandContext): RespValue | null {
  for (const key of keys) {
    const bad = checkKey(key, context);
    if (bad !== null) return bad;
  }
  return null;
}

function checkValue(value: Buffer, context: RespCommandContext): RespValue | null {
  if (value.byteLength > context.limits.valueBytesMax)
    return fail('VALUE_TOO_LARGE', `value is ${value.byteLength} bytes; the limit is ${context.limits.valueBytesMax}`);
  return null;
}

async function write(context: RespCommandContext, command: KvCommand): Promise<KvResult | RespValue> {
  const outcome = await context.router.write(command, context.lane);
  return outcome.ok ? outcome.result : errorReply(outcome.error);
}

async function read(context: RespCommandContext, query: KvQuery): Promise<KvQueryResult | RespValue> {
  const outcome = await context.router.read(query, 'linearizable', context.lane);
  return outcome.ok ? outcome.result : errorReply(outcome.error);
}

function isKvResult(value: unknown): value is KvResult {
  return typeof value === 'object' && value !== null && 'ok' in value;
}

function isQuery<Op extends KvQueryResult['op']>(value: unknown, op: Op): value is Extract<KvQueryResult, { op: Op }> {
  return typeof value === 'object' && value !== null && (value as { op?: unknown }).op === op;
}

function parseInteger(raw: Buffer): number | null {
  const text = raw.toString('latin1');
  if (!/^-?\d{1,19}$/.test(text)) return null;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : null;
}

// ---------------------------------------------------------------------------
// The store's commands.

async function get(argv: readonly Buffer[], context: RespCommandContext): Promise<RespValue> {
  const key = argv[1] as Buffer;
  const bad = checkKey(key, context);
  if (bad !== null) return bad;
  const result = await read(context, { op: 'get', keys: [key] });
  if (!isQuery(result, 'get')) return result as RespValue;
  const item = result.items[0];
  return item == null ? null : Buffer.from(item.value);
}

async function set(argv: readonly Buffer[], context: RespCommandContext): Promise<RespValue> {
  const key = argv[1] as Buffer;
  const value = argv[2] as Buffer;
  const bad = checkKey(key, context) ?? checkValue(value, context);
  if (bad !== null) return bad;
  let ifAbsent = false;
  let ifExists = false;
  let returnPrevious = false;
  for (let i = 3; i < argv.length; i++) {
    const word = (argv[i] as Buffer).toString('latin1').toLowerCase();
    if (word === 'nx') ifAbsent = true;
    else if (word === 'xx') ifExists = true;
    else if (word === 'get') returnPrevious = true;
    else return { error: 'ERR syntax error (supported options: NX, XX, GET)' };
  }
  if (ifAbsent && ifExists) return SYNTAX_ERROR;
  const result = await write(context, { op: 'put', key, value, ifAbsent, ifExists, returnPrevious });
  if (!isKvResult(result)) return result;
  if (!result.ok) return result.code === 'CONDITION_NOT_MET' ? null : fail(result.code, result.message);
  if (returnPrevious) return result.previous == null ? null : Buffer.from(result.previous.value);
  return OK;
}

async function del(argv: readonly Buffer[], context: RespCommandContext): Promise<RespValue> {
  const keys = argv.slice(1);
  const bad = firstBadKey(keys, context);
  if (bad !== null) return bad;
  const result = await write(context, { op: 'delete', keys });
  if (!isKvResult(result)) return result;
  return result.ok ? (result.deleted ?? 0) : fail(result.code, result.message);
}

async function exists(argv: readonly Buffer[], context: RespCommandContext): Promise<RespValue> {
  const keys = argv.slice(1);
  const bad = firstBadKey(keys, context);
  if (bad !== null) return bad;
  const result = await read(context, { op: 'exists', keys });
  return isQuery(result, 'exists') ? result.count : (result as RespValue);
}

/** INCR, DECR, INCRBY and DECRBY: `sign` turns an increment into a decrement, `withAmount` reads argv[2]. */
function counter(sign: 1 | -1, withAmount: boolean) {
  return async (argv: readonly Buffer[], context: RespCommandContext): Promise<RespValue> => {
    const key = argv[1] as Buffer;
    const bad = checkKey(key, context);
    if (bad !== null) return bad;
    const amount = withAmount ? parseInteger(argv[2] as Buffer) : 1;
    if (amount === null) return fail('NOT_AN_INTEGER');
    const result = await write(context, { op: 'incr', key, by: sign * amount });
    if (!isKvResult(result)) return result;
    return result.ok ? (result.value ?? 0) : fail(result.code, result.message);
  };
}

async function mget(argv: readonly Buffer[], context: RespCommandContext): Promise<RespValue> {
  const keys = argv.slice(1);
  const bad = firstBadKey(keys, context);
  if (bad !== null) return bad;
  const result = await read(context, { op: 'get', keys });
  if (!isQuery(result, 'get')) return result as RespValue;
  return result.items.map((item) => (item == null ? null : Buffer.from(item.value)));
}

async function mset(argv: readonly Buffer[], context: RespCommandContext): Promise<RespValue> {
  const pairs: [Buffer, Buffer][] = [];
  for (let i = 1; i < argv.length; i += 2) {
    const key = argv[i] as Buffer;
    const value = argv[i + 1] as Buffer;
    const bad = checkKey(key, context) ?? checkValue(value, context);
    if (bad !== null) return bad;
    pairs.push([key, value]);
  }
  const result = await write(context, { op: 'mput', pairs });
  if (!isKvResult(result)) return result;
  return result.ok ? OK : fail(result.code, result.message);
}

async function dbsize(_argv: readonly Buffer[], context: RespCommandContext): Promise<RespValue> {
  const result = await read(context, { op: 'size' });
  return isQuery(result, 'size') ? result.keys : (result as RespValue);
}

/** SCAN cursor [MATCH prefix*] [COUNT n]: the cursor names the last key returned (see ScanCursors). */
async function scan(argv: readonly Buffer[], context: RespCommandContext): Promise<RespValue> {
  const cursor = parseInteger(argv[1] as Buffer);
  if (cursor === null || cursor < 0) return { error: 'ERR invalid cursor' };
  let prefix = Buffer.alloc(0);
  let count = 10;
  for (let i = 2; i < argv.length; i += 2) {
    const option = argv[i]?.toString('latin1').toLowerCase();
    const raw = argv[i + 1];
    if (raw === undefined) return SYNTAX_ERROR;
    if (option === 'match') {
      const pattern = raw.toString('latin1');
      const star = pattern.indexOf('*');
      if (/[?[\\]/.test(pattern) || (star !== -1 && star !== pattern.length - 1))
        return { error: 'ERR only MATCH prefix* patterns are supported' };
      prefix = Buffer.from(star === -1 ? pattern : pattern.slice(0, -1), 'latin1');
    } else if (option === 'count') {
      const n = parseInteger(raw);
      if (n === null || n < 1) return { error: 'ERR value is not an integer or out of range' };
      count = Math.min(n, context.limits.scanItemsMax);
    } else return SYNTAX_ERROR;
  }
  const after = cursor === 0 ? null : SCAN_CURSORS.get(cursor);
  if (after === undefined) return { error: 'ERR invalid cursor' };
  const result = await read(context, { op: 'scan', prefix, after, limit: count });
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

// ---------------------------------------------------------------------------
// Connection and server commands.

async function info(_argv: readonly Buffer[], context: RespCommandContext): Promise<RespValue> {
  const { supervisor } = context;
  const nodes = await supervisor.status();
  const lines = [
    '# Server',
    'redis_version:7.0.0',
    'raftkv_version:0.1.0',
    'redis_mode:cluster',
    `process_id:${process.pid}`,
    '',
    '# Persistence',
    'loading:0',
    '',
    '# Replication',
    'role:master',
    `raft_leader:${supervisor.leaderId ?? 'none'}`,
    `raft_term:${supervisor.leaderTerm}`,
    ...nodes.map(
      (n) =>
        `raft_node_${n.id}:status=${n.status},role=${n.raft?.role ?? 'none'},commit=${n.raft?.commitIndex ?? 0},applied=${n.raft?.appliedIndex ?? 0}`,
    ),
    '',
  ];
  return lines.join('\r\n');
}

function hello(argv: readonly Buffer[]): RespValue {
  // Only RESP2: a client asking for 3 falls back (redis-cli, ioredis).
  const version = argv[1]?.toString('latin1');
  if (version !== undefined && version !== '2') return { error: 'NOPROTO unsupported protocol version' };
  return ['server', 'raftkv', 'version', '0.1.0', 'proto', 2, 'id', 1, 'mode', 'cluster', 'role', 'master', 'modules', []];
}

/** The parameters CONFIG GET reports: redis-benchmark asks for these two at start-up. */
const CONFIG_PARAMETERS: readonly (readonly [name: string, value: string])[] = [
  ['save', ''],
  ['appendonly', 'yes'],
];

function configGet(argv: readonly Buffer[]): RespValue {
  const patterns = argv.slice(2).map((raw) => globPattern(raw.toString('latin1')));
  return CONFIG_PARAMETERS.filter(([name]) => patterns.some((pattern) => pattern.test(name))).flat();
}

function select(argv: readonly Buffer[]): RespValue {
  return argv[1]?.toString('latin1') === '0' ? OK : { error: 'ERR DB index is out of range' };
}

// ---------------------------------------------------------------------------
// COMMAND: the table describing itself.

/** COMMAND and COMMAND INFO with no names: every top-level command, built once. */
let everyInfo: RespValue[] | null = null;
let everyDocs: RespValue[] | null = null;

function commandInfo(argv: readonly Buffer[]): RespValue {
  if (argv.length <= 2) return (everyInfo ??= RESP_COMMANDS.commands.map((command) => command.info));
  return argv.slice(2).map((name) => RESP_COMMANDS.find(name.toString('latin1'))?.info ?? null);
}

function commandDocs(argv: readonly Buffer[]): RespValue {
  if (argv.length === 2) return (everyDocs ??= RESP_COMMANDS.commands.flatMap((command) => [command.name, command.docs]));
  // Unknown names are left out, as Redis does.
  return argv.slice(2).flatMap((name) => {
    const command = RESP_COMMANDS.find(name.toString('latin1'));
    return command === undefined ? [] : [command.name, command.docs];
  });
}

/** COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN glob]; subcommands are listed too, as in Redis. */
function commandList(argv: readonly Buffer[]): RespValue {
  const every = [...RESP_COMMANDS.everyCommand()];
  if (argv.length === 2) return every.map((command) => command.name);
  if (argv.length !== 5 || argv[2]?.toString('latin1').toLowerCase() !== 'filterby') return SYNTAX_ERROR;
  const kind = argv[3]?.toString('latin1').toLowerCase();
  const value = (argv[4] as Buffer).toString('latin1');
  if (kind === 'module') return []; // raftkv has no modules
  if (kind === 'aclcat') {
    const category = value.toLowerCase() as AclCategory;
    return every.filter((command) => command.aclCategories.includes(category)).map((command) => command.name);
  }
  if (kind === 'pattern') {
    const pattern = globPattern(value);
    return every.filter((command) => pattern.test(command.name)).map((command) => command.name);
  }
  return SYNTAX_ERROR;
}

// ---------------------------------------------------------------------------
// The table. Arity, flags, key positions, ACL categories, group and since are Redis 7's for the same
// command; the summaries say what raftkv does.

/** The key positions of a command that takes no key. */
const NO_KEYS = { firstKey: 0, lastKey: 0, step: 0 } as const;

/** A CLIENT subcommand: raftkv answers the handshakes of client libraries and keeps nothing. */
function clientSubcommand(
  name: string,
  arity: number,
  since: string,
  summary: string,
  handler: RespCommandSpec['handler'],
): RespCommandSpec {
  const flags: RespCommandSpec['flags'] = ['noscript', 'loading', 'stale'];
  return { name: `client|${name}`, arity, flags, ...NO_KEYS, categories: ['connection'], summary, group: 'connection', since, handler };
}

const SPECS: readonly RespCommandSpec[] = [
  {
    name: 'get',
    arity: 2,
    flags: ['readonly', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    keyFlags: ['RO', 'access'],
    categories: ['string'],
    summary: 'Returns the value of a key (a linearizable read), or nil when it does not exist.',
    group: 'string',
    since: '1.0.0',
    handler: get,
  },
  {
    name: 'set',
    arity: -3,
    flags: ['write', 'denyoom'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    keyFlags: ['RW', 'access', 'update', 'variable_flags'],
    categories: ['string'],
    summary: 'Sets the value of a key; of the options only NX, XX and GET.',
    group: 'string',
    since: '1.0.0',
    handler: set,
  },
  {
    name: 'incr',
    arity: 2,
    flags: ['write', 'denyoom', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    keyFlags: ['RW', 'access', 'update'],
    categories: ['string'],
    summary: 'Adds 1 to the integer value of a key (a missing key counts as 0) and returns the result.',
    group: 'string',
    since: '1.0.0',
    handler: counter(1, false),
  },
  {
    name: 'decr',
    arity: 2,
    flags: ['write', 'denyoom', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    keyFlags: ['RW', 'access', 'update'],
    categories: ['string'],
    summary: 'Subtracts 1 from the integer value of a key (a missing key counts as 0) and returns the result.',
    group: 'string',
    since: '1.0.0',
    handler: counter(-1, false),
  },
  {
    name: 'incrby',
    arity: 3,
    flags: ['write', 'denyoom', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    keyFlags: ['RW', 'access', 'update'],
    categories: ['string'],
    summary: 'Adds an integer to the integer value of a key (a missing key counts as 0) and returns the result.',
    group: 'string',
    since: '1.0.0',
    handler: counter(1, true),
  },
  {
    name: 'decrby',
    arity: 3,
    flags: ['write', 'denyoom', 'fast'],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    keyFlags: ['RW', 'access', 'update'],
    categories: ['string'],
    summary: 'Subtracts an integer from the integer value of a key (a missing key counts as 0) and returns the result.',
    group: 'string',
    since: '1.0.0',
    handler: counter(-1, true),
  },
  {
    name: 'mget',
    arity: -2,
    flags: ['readonly', 'fast'],
    firstKey: 1,
    lastKey: -1,
    step: 1,
    keyFlags: ['RO', 'access'],
    categories: ['string'],
    summary: 'Returns the values of the keys in one linearizable read, nil for each that does not exist.',
    group: 'string',
    since: '1.0.0',
    handler: mget,
  },
  {
    name: 'mset',
    arity: -3,
    argumentsInPairs: true,
    flags: ['write', 'denyoom'],
    firstKey: 1,
    lastKey: -1,
    step: 2,
    keyFlags: ['OW', 'update'],
    categories: ['string'],
    summary: 'Sets the values of several keys at once, in one log entry.',
    group: 'string',
    since: '1.0.1',
    handler: mset,
  },
  {
    name: 'del',
    arity: -2,
    flags: ['write'],
    firstKey: 1,
    lastKey: -1,
    step: 1,
    keyFlags: ['RM', 'delete'],
    categories: ['keyspace'],
    summary: 'Deletes the keys and returns how many existed.',
    group: 'generic',
    since: '1.0.0',
    handler: del,
  },
  {
    name: 'exists',
    arity: -2,
    flags: ['readonly', 'fast'],
    firstKey: 1,
    lastKey: -1,
    step: 1,
    keyFlags: ['RO'],
    categories: ['keyspace'],
    summary: 'Returns how many of the keys exist; a key named twice counts twice.',
    group: 'generic',
    since: '1.0.0',
    handler: exists,
  },
  {
    name: 'scan',
    arity: -2,
    flags: ['readonly'],
    ...NO_KEYS,
    categories: ['keyspace'],
    tips: ['nondeterministic_output'],
    summary: 'Iterates over the keys in byte order; MATCH takes only prefix* patterns.',
    group: 'generic',
    since: '2.8.0',
    handler: scan,
  },
  {
    name: 'dbsize',
    arity: 1,
    flags: ['readonly', 'fast'],
    ...NO_KEYS,
    categories: ['keyspace'],
    summary: 'Returns the number of keys (a linearizable read).',
    group: 'server',
    since: '1.0.0',
    handler: dbsize,
  },
  {
    name: 'info',
    arity: -1,
    flags: ['loading', 'stale'],
    ...NO_KEYS,
    categories: ['dangerous'],
    tips: ['nondeterministic_output'],
    summary: "Describes the server and the Raft cluster: the leader, the term, and each node's role and indexes.",
    group: 'server',
    since: '1.0.0',
    handler: info,
  },
  {
    name: 'config',
    arity: -2,
    flags: [],
    ...NO_KEYS,
    summary: 'A container for configuration commands.',
    group: 'server',
    since: '2.0.0',
    subcommands: [
      {
        name: 'config|get',
        arity: -3,
        flags: ['admin', 'noscript', 'loading', 'stale'],
        ...NO_KEYS,
        summary: 'Returns the parameters whose names match the patterns; raftkv reports only save and appendonly.',
        group: 'server',
        since: '2.0.0',
        handler: configGet,
      },
      {
        name: 'config|set',
        arity: -4,
        flags: ['admin', 'noscript', 'loading', 'stale'],
        ...NO_KEYS,
        summary: 'Answers OK and changes nothing: raftkv is configured when it starts.',
        group: 'server',
        since: '2.0.0',
        handler: () => OK,
      },
    ],
  },
  {
    name: 'command',
    arity: -1,
    flags: ['loading', 'stale'],
    ...NO_KEYS,
    categories: ['connection'],
    summary: 'Returns details about every command raftkv implements.',
    group: 'server',
    since: '2.8.13',
    handler: commandInfo,
    subcommands: [
      {
        name: 'command|count',
        arity: 2,
        flags: ['loading', 'stale'],
        ...NO_KEYS,
        categories: ['connection'],
        summary: 'Returns the number of commands.',
        group: 'server',
        since: '2.8.13',
        handler: () => RESP_COMMANDS.size,
      },
      {
        name: 'command|info',
        arity: -2,
        flags: ['loading', 'stale'],
        ...NO_KEYS,
        categories: ['connection'],
        summary: 'Returns details about the named commands (all of them if none is named), nil for an unknown one.',
        group: 'server',
        since: '2.8.13',
        handler: commandInfo,
      },
      {
        name: 'command|docs',
        arity: -2,
        flags: ['loading', 'stale'],
        ...NO_KEYS,
        categories: ['connection'],
        summary: 'Returns the summary, since and group of the named commands (all of them if none is named).',
        group: 'server',
        since: '7.0.0',
        handler: commandDocs,
      },
      {
        name: 'command|list',
        arity: -2,
        flags: ['loading', 'stale'],
        ...NO_KEYS,
        categories: ['connection'],
        summary: 'Returns the names of the commands and subcommands, optionally FILTERBY ACLCAT, PATTERN or MODULE.',
        group: 'server',
        since: '7.0.0',
        handler: commandList,
      },
    ],
  },
  {
    name: 'ping',
    arity: -1,
    arityMax: 2,
    flags: ['fast'],
    ...NO_KEYS,
    categories: ['connection'],
    summary: 'Answers PONG, or its one argument.',
    group: 'connection',
    since: '1.0.0',
    handler: (argv) => (argv.length === 1 ? { status: 'PONG' } : (argv[1] as Buffer)),
  },
  {
    name: 'echo',
    arity: 2,
    flags: ['fast'],
    ...NO_KEYS,
    categories: ['connection'],
    summary: 'Returns its argument.',
    group: 'connection',
    since: '1.0.0',
    handler: (argv) => argv[1] as Buffer,
  },
  {
    name: 'hello',
    arity: -1,
    flags: ['noscript', 'loading', 'stale', 'fast', 'no_auth', 'allow_busy'],
    ...NO_KEYS,
    categories: ['connection'],
    summary: "Answers the server's properties; only protocol version 2 (RESP2), so RESP3 clients fall back.",
    group: 'connection',
    since: '6.0.0',
    handler: hello,
  },
  {
    name: 'select',
    arity: 2,
    flags: ['loading', 'stale', 'fast'],
    ...NO_KEYS,
    categories: ['connection'],
    summary: 'Selects a database; raftkv has only database 0.',
    group: 'connection',
    since: '1.0.0',
    handler: select,
  },
  {
    name: 'client',
    arity: -2,
    flags: [],
    ...NO_KEYS,
    summary: 'A container for client connection commands.',
    group: 'connection',
    since: '2.4.0',
    subcommands: [
      clientSubcommand('setname', 3, '2.6.9', 'Answers OK; raftkv keeps no connection names.', () => OK),
      clientSubcommand('getname', 2, '2.6.9', 'Returns nil; raftkv keeps no connection names.', () => null),
      clientSubcommand('id', 2, '5.0.0', 'Returns 1 for every connection; raftkv does not number them.', () => 1),
      clientSubcommand('setinfo', 4, '7.2.0', 'Answers OK; raftkv keeps no client library names or versions.', () => OK),
    ],
  },
  {
    name: 'quit',
    arity: -1,
    flags: ['noscript', 'loading', 'stale', 'fast', 'no_auth', 'allow_busy'],
    ...NO_KEYS,
    categories: ['connection'],
    // The connection loop answers QUIT itself, since it must also stop reading; this is the same answer.
    summary: 'Closes the connection once the commands sent before it are answered.',
    group: 'connection',
    since: '1.0.0',
    handler: () => OK,
  },
];

export const RESP_COMMANDS = new RespCommandTable(SPECS);
