// The machinery of the Redis-protocol command table: what an entry declares, how the table is checked and
// looked up, the one arity check, and the COMMAND replies (INFO, DOCS, LIST) built from the entries. The
// entries themselves, with their handlers, are in resp-commands.ts; the connection loop in resp-server.ts.
import assert from 'node:assert/strict';
import type { Supervisor } from '../actor/supervisor.js';
import { ERRORS, apiError, type ApiError, type ErrorCode } from '../protocol/errors.js';
import type { Limits } from './limits.js';
import type { RespValue } from './resp-parser.js';
import type { Router } from './router.js';

/** Command flags as Redis 7 names them in COMMAND INFO; only those raftkv's commands carry. */
export type CommandFlag = 'write' | 'readonly' | 'denyoom' | 'admin' | 'noscript' | 'loading' | 'stale' | 'fast' | 'no_auth' | 'allow_busy';

/** Redis's order of the flags in a COMMAND INFO reply, whatever order an entry lists them in. */
const FLAG_ORDER: readonly CommandFlag[] = [
  'write',
  'readonly',
  'denyoom',
  'admin',
  'noscript',
  'loading',
  'stale',
  'fast',
  'no_auth',
  'allow_busy',
];

/** The groups of Redis's documentation that raftkv's commands belong to. */
export type CommandGroup = 'connection' | 'generic' | 'server' | 'string';

export type AclCategory = 'keyspace' | 'read' | 'write' | 'string' | 'admin' | 'fast' | 'slow' | 'dangerous' | 'connection';

/** Redis's order of the ACL categories in a COMMAND INFO reply. */
const CATEGORY_ORDER: readonly AclCategory[] = ['keyspace', 'read', 'write', 'string', 'admin', 'fast', 'slow', 'dangerous', 'connection'];

/** Flags of a key specification (Redis 7): how the command uses the keys it names. */
export type KeySpecFlag = 'RO' | 'RW' | 'OW' | 'RM' | 'access' | 'update' | 'insert' | 'delete' | 'variable_flags';

/** What a handler may use: the router, the supervisor, the limits, and the connection's router lane. */
export interface RespCommandContext {
  readonly router: Router;
  readonly supervisor: Supervisor;
  readonly limits: Limits;
  /** The connection's lane of the router (ROUTER_LANES). */
  readonly lane: number;
}

/**
 * Runs a command whose name and arity have already been checked. `argv` is the whole command, name
 * included, as Redis's handlers see it (argv[1] is the first argument).
 */
export type RespHandler = (argv: readonly Buffer[], context: RespCommandContext) => RespValue | Promise<RespValue>;

/** One entry of the table, as written in resp-commands.ts. */
export interface RespCommandSpec {
  /** Lower case; a subcommand is `container|sub`, as Redis 7 names it. */
  readonly name: string;
  /** Redis's convention: positive = exactly that many arguments, the name included; negative = at least minus that many. */
  readonly arity: number;
  /** The most arguments, the name included, where Redis's handler checks more than its arity says (PING takes one message). */
  readonly arityMax?: number;
  /** The arguments after the name come in pairs (MSET key value [key value ...]); an odd count is a wrong arity. */
  readonly argumentsInPairs?: boolean;
  readonly flags: readonly CommandFlag[];
  /** Positions of the first key, of the last key (-1 = the last argument), and the step between keys; 0, 0, 0 without keys. */
  readonly firstKey: number;
  readonly lastKey: number;
  readonly step: number;
  /** How the command uses its keys (its key specification's flags); required exactly when it takes keys. */
  readonly keyFlags?: readonly KeySpecFlag[];
  /** ACL categories the flags do not imply (write, readonly, admin and fast imply theirs, as in Redis). */
  readonly categories?: readonly AclCategory[];
  /** Redis's command tips ('nondeterministic_output'), where they hold for raftkv. */
  readonly tips?: readonly string[];
  /** One line: what raftkv does with the command. */
  readonly summary: string;
  readonly group: CommandGroup;
  /** The Redis version that introduced the command, as Redis documents it. */
  readonly since: string;
  /** Absent only on a container whose arity requires a subcommand (CONFIG, CLIENT). */
  readonly handler?: RespHandler;
  readonly subcommands?: readonly RespCommandSpec[];
}

/** An entry after the table has checked it, with what dispatch and COMMAND need worked out once. */
export interface RespCommand {
  readonly name: string;
  readonly arity: number;
  readonly arityMax: number;
  readonly argumentsInPairs: boolean;
  readonly flags: readonly CommandFlag[];
  readonly firstKey: number;
  readonly lastKey: number;
  readonly step: number;
  readonly summary: string;
  readonly group: CommandGroup;
  readonly since: string;
  readonly handler: RespHandler;
  /** How the command touches the store, which orders it against the connection's other commands. */
  readonly effect: 'read' | 'write' | 'none';
  readonly aclCategories: readonly AclCategory[];
  /** By the word after the container's name, lower case; null when the command has none. */
  readonly subcommands: ReadonlyMap<string, RespCommand> | null;
  /** Its COMMAND INFO reply and its COMMAND DOCS map, built once. */
  readonly info: RespValue;
  readonly docs: RespValue;
}

// ---------------------------------------------------------------------------
// Error replies.

export type ErrorReply = { readonly error: string };

/** Indefinite errors say so in their text: a Redis client sees only the prefix and the message. */
export function errorReply(error: ApiError): ErrorReply {
  const spec = ERRORS[error.code];
  const unknown = spec.definite || error.message.includes('outcome is unknown') ? '' : ' (the outcome is unknown)';
  return { error: `${spec.redis} ${error.message}${unknown}` };
}

export function fail(code: ErrorCode, message?: string): ErrorReply {
  return errorReply(apiError(code, message));
}

export function isErrorReply(value: RespValue): value is ErrorReply {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value) && 'error' in value;
}

function quoted(argument: Buffer, charactersMax: number): string {
  return `'${argument.toString('latin1').slice(0, charactersMax)}'`;
}

/** Redis's text, with the name and the first arguments, each cut short so a client cannot make it long. */
export function unknownCommand(argv: readonly Buffer[]): ErrorReply {
  const name = (argv[0] as Buffer).toString('latin1').toLowerCase().slice(0, 64);
  const preview = argv
    .slice(1, 4)
    .map((argument) => quoted(argument, 32))
    .join(' ');
  return fail('UNKNOWN_COMMAND', `unknown command '${name}', with args beginning with: ${preview}`);
}

function unknownSubcommand(container: RespCommand, word: Buffer): ErrorReply {
  const known = [...(container.subcommands?.keys() ?? [])].map((sub) => sub.toUpperCase()).join(', ');
  return fail('UNKNOWN_COMMAND', `unknown subcommand ${quoted(word, 64)}. raftkv's ${container.name.toUpperCase()} takes ${known}`);
}

function wrongArity(command: RespCommand): ErrorReply {
  return fail('WRONG_ARITY', `wrong number of arguments for '${command.name}' command`);
}

// ---------------------------------------------------------------------------
// Dispatch.

/** Whether `argumentCount` arguments (the name included) fit the command's arity. */
export function arityAccepts(command: RespCommand, argumentCount: number): boolean {
  const { arity } = command;
  if (arity >= 0 ? argumentCount !== arity : argumentCount < -arity) return false;
  if (argumentCount > command.arityMax) return false;
  return !command.argumentsInPairs || (argumentCount - 1) % 2 === 0;
}

/**
 * The command to run for `argv`, whose name looked up `command`: its subcommand when it has them and one is
 * named, as Redis does; then the one arity check. An error reply when either fails.
 */
export function resolveCommand(command: RespCommand, argv: readonly Buffer[]): RespCommand | ErrorReply {
  let target = command;
  if (command.subcommands !== null && argv.length >= 2) {
    const word = argv[1] as Buffer;
    const sub = command.subcommands.get(word.toString('latin1').toLowerCase());
    if (sub === undefined) return unknownSubcommand(command, word);
    target = sub;
  }
  if (!arityAccepts(target, argv.length)) return wrongArity(target);
  return target;
}

export class RespCommandTable {
  /** The top-level commands, in the order the table lists them. */
  readonly commands: readonly RespCommand[];
  private readonly byName: ReadonlyMap<string, RespCommand>;

  constructor(specs: readonly RespCommandSpec[]) {
    this.commands = specs.map((spec) => compile(spec, null));
    this.byName = new Map(this.commands.map((command) => [command.name, command]));
    assert.equal(this.byName.size, this.commands.length, 'two commands share a name');
  }

  get size(): number {
    return this.commands.length;
  }

  /** A top-level command by its lower-case name: the hot path's one lookup. */
  get(name: string): RespCommand | undefined {
    return this.byName.get(name);
  }

  /** A command as COMMAND INFO and COMMAND DOCS name it: `get`, `CONFIG|GET`, in any case. */
  find(fullName: string): RespCommand | undefined {
    const [name = '', sub, ...rest] = fullName.toLowerCase().split('|');
    const command = this.byName.get(name);
    if (sub === undefined || command === undefined) return command;
    return rest.length === 0 ? command.subcommands?.get(sub) : undefined;
  }

  /** Every command, each container's subcommands right after it (COMMAND LIST). */
  *everyCommand(): Generator<RespCommand> {
    for (const command of this.commands) {
      yield command;
      for (const sub of command.subcommands?.values() ?? []) yield sub;
    }
  }
}

// ---------------------------------------------------------------------------
// Checking an entry and building its COMMAND replies.

function compile(spec: RespCommandSpec, container: RespCommandSpec | null): RespCommand {
  checkSpec(spec, container);
  const subcommands =
    spec.subcommands === undefined
      ? null
      : new Map(
          spec.subcommands.map((sub) => {
            const compiled = compile(sub, spec);
            return [compiled.name.slice(spec.name.length + 1), compiled] as const;
          }),
        );
  const flags = FLAG_ORDER.filter((flag) => spec.flags.includes(flag));
  const aclCategories = implicitCategories(spec);
  const name = spec.name;
  const command: Omit<RespCommand, 'info' | 'docs'> = {
    name,
    arity: spec.arity,
    arityMax: spec.arityMax ?? Number.POSITIVE_INFINITY,
    argumentsInPairs: spec.argumentsInPairs ?? false,
    flags,
    firstKey: spec.firstKey,
    lastKey: spec.lastKey,
    step: spec.step,
    summary: spec.summary,
    group: spec.group,
    since: spec.since,
    handler: spec.handler ?? (() => assert.fail(`${name} was dispatched without a subcommand`)),
    effect: flags.includes('write') ? 'write' : flags.includes('readonly') ? 'read' : 'none',
    aclCategories,
    subcommands,
  };
  return { ...command, info: infoReply(command, spec), docs: docsReply(command) };
}

function checkSpec(spec: RespCommandSpec, container: RespCommandSpec | null): void {
  assert.match(spec.name, container === null ? /^[a-z]+$/ : new RegExp(`^${container.name}\\|[a-z-]+$`), `bad command name ${spec.name}`);
  assert.ok(Number.isInteger(spec.arity) && spec.arity !== 0, `${spec.name}: arity must be a non-zero integer`);
  assert.ok(spec.arityMax === undefined || spec.arityMax >= Math.abs(spec.arity), `${spec.name}: arityMax below the arity`);
  const takesKeys = spec.firstKey > 0;
  assert.equal(spec.keyFlags !== undefined, takesKeys, `${spec.name}: key flags exactly when the command takes keys`);
  if (takesKeys) assert.ok(spec.step > 0 && (spec.lastKey === -1 || spec.lastKey >= spec.firstKey), `${spec.name}: bad key positions`);
  else assert.deepEqual([spec.lastKey, spec.step], [0, 0], `${spec.name}: key positions without a first key`);
  assert.ok(!(spec.flags.includes('write') && spec.flags.includes('readonly')), `${spec.name}: both write and readonly`);
  assert.ok(
    spec.handler !== undefined || (spec.subcommands !== undefined && spec.arity <= -2),
    `${spec.name}: no handler and no required subcommand`,
  );
  assert.ok(container === null || spec.subcommands === undefined, `${spec.name}: subcommands nest one level only`);
  assert.match(spec.since, /^\d+\.\d+\.\d+$/, `${spec.name}: since is a version`);
}

/** The categories Redis adds from the flags (write, read, admin and dangerous, fast, else slow), then the declared ones. */
function implicitCategories(spec: RespCommandSpec): readonly AclCategory[] {
  const categories = new Set<AclCategory>(spec.categories ?? []);
  if (spec.flags.includes('write')) categories.add('write');
  if (spec.flags.includes('readonly')) categories.add('read');
  if (spec.flags.includes('admin')) categories.add('admin').add('dangerous');
  categories.add(spec.flags.includes('fast') ? 'fast' : 'slow');
  return CATEGORY_ORDER.filter((category) => categories.has(category));
}

/**
 * COMMAND INFO's ten fields, as Redis 7 gives them in RESP2: name, arity, flags, first key, last key, step,
 * ACL categories, tips, key specifications (maps as flat arrays), subcommands.
 */
function infoReply(command: Omit<RespCommand, 'info' | 'docs'>, spec: RespCommandSpec): RespValue {
  const keySpecs: RespValue[] =
    spec.keyFlags === undefined
      ? []
      : [
          [
            'flags',
            spec.keyFlags.map((flag) => ({ status: flag })),
            'begin_search',
            ['type', 'index', 'spec', ['index', command.firstKey]],
            // A key specification counts the last key from the first; -1 still means the last argument.
            'find_keys',
            [
              'type',
              'range',
              'spec',
              ['lastkey', command.lastKey === -1 ? -1 : command.lastKey - command.firstKey, 'keystep', command.step, 'limit', 0],
            ],
          ],
        ];
  return [
    command.name,
    command.arity,
    command.flags.map((flag) => ({ status: flag })),
    command.firstKey,
    command.lastKey,
    command.step,
    command.aclCategories.map((category) => ({ status: `@${category}` })),
    [...(spec.tips ?? [])],
    keySpecs,
    [...(command.subcommands?.values() ?? [])].map((sub) => sub.info),
  ];
}

/**
 * COMMAND DOCS's map for one command as a flat array (RESP2): summary, since, group, and the subcommands'
 * maps by full name. Arguments are left out, as Redis allows: redis-cli then shows no argument hints.
 */
function docsReply(command: Omit<RespCommand, 'info' | 'docs'>): RespValue {
  const docs: RespValue[] = ['summary', command.summary, 'since', command.since, 'group', command.group];
  if (command.subcommands !== null)
    docs.push(
      'subcommands',
      [...command.subcommands.values()].flatMap((sub) => [sub.name, sub.docs]),
    );
  return docs;
}

// ---------------------------------------------------------------------------
// Glob patterns (COMMAND LIST FILTERBY PATTERN, CONFIG GET).

/**
 * Redis's glob patterns, case-insensitive as COMMAND LIST and CONFIG GET match them: `*`, `?`, `[abc]`,
 * `[^a-z]`, and `\` to take the next character literally.
 */
export function globPattern(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i] as string;
    if (char === '*') source += '[\\s\\S]*';
    else if (char === '?') source += '[\\s\\S]';
    else if (char === '\\' && i + 1 < pattern.length) source += escapeRegExp(pattern[++i] as string);
    else if (char === '[') {
      const parsed = characterClass(pattern, i + 1);
      source += parsed.source;
      i = parsed.end;
    } else source += escapeRegExp(char);
  }
  return new RegExp(`^${source}$`, 'i');
}

/** A `[...]` class from `start` (just after the bracket); an unclosed one runs to the end, as in Redis. */
function characterClass(pattern: string, start: number): { source: string; end: number } {
  let i = start;
  const negated = pattern[i] === '^';
  if (negated) i++;
  let members = '';
  for (; i < pattern.length && pattern[i] !== ']'; i++) {
    let char = pattern[i] as string;
    if (char === '\\' && i + 1 < pattern.length) char = pattern[++i] as string;
    if (pattern[i + 1] === '-' && i + 2 < pattern.length && pattern[i + 2] !== ']') {
      const to = pattern[i + 2] as string;
      // Redis accepts a range written backwards (`[z-a]`); a RegExp does not.
      const [low, high] = char <= to ? [char, to] : [to, char];
      members += `${escapeClassMember(low)}-${escapeClassMember(high)}`;
      i += 2;
    } else members += escapeClassMember(char);
  }
  if (members === '') return { source: negated ? '[\\s\\S]' : '(?!)', end: i };
  return { source: `[${negated ? '^' : ''}${members}]`, end: i };
}

function escapeRegExp(char: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(char) ? `\\${char}` : char;
}

function escapeClassMember(char: string): string {
  return /[\]\\^-]/.test(char) ? `\\${char}` : char;
}
