// The Redis-protocol command table on its own, without sockets: every entry is well formed, the one arity
// check (Redis's convention, PING's maximum, MSET's pairs), subcommand dispatch and its errors, the COMMAND
// INFO and COMMAND DOCS replies against the shapes Redis 7 gives, and Redis's glob patterns.
import { describe, expect, it } from 'vitest';
import { ERRORS } from '../../src/protocol/errors.js';
import { RESP_COMMANDS } from '../../src/router/resp-commands.js';
import { arityAccepts, globPattern, resolveCommand, type RespCommand } from '../../src/router/resp-command-table.js';
import type { RespValue } from '../../src/router/resp-parser.js';

function commandNamed(fullName: string): RespCommand {
  const command = RESP_COMMANDS.find(fullName);
  if (command === undefined) throw new Error(`${fullName} is not in the table`);
  return command;
}

function argv(...words: string[]): Buffer[] {
  return words.map((word) => Buffer.from(word, 'latin1'));
}

/** Resolves a command line as the connection loop does: the top-level name, then resolveCommand. */
function resolve(...words: string[]): RespCommand | { readonly error: string } {
  const args = argv(...words);
  return resolveCommand(commandNamed((words[0] as string).toLowerCase()), args);
}

function statuses(...names: string[]): RespValue[] {
  return names.map((status) => ({ status }));
}

/** A flat RESP2 map ([key, value, key, value, ...]) as an object, for reading fields by name. */
function fields(flat: RespValue): Record<string, RespValue> {
  expect(Array.isArray(flat)).toBe(true);
  const pairs = flat as RespValue[];
  expect(pairs.length % 2).toBe(0);
  const record: Record<string, RespValue> = {};
  for (let i = 0; i < pairs.length; i += 2) record[pairs[i] as string] = pairs[i + 1] as RespValue;
  return record;
}

describe('the entries', () => {
  it('every command and subcommand has a lower-case name, a summary, a documented group and a since version', () => {
    const every = [...RESP_COMMANDS.everyCommand()];
    expect(every.length).toBeGreaterThan(RESP_COMMANDS.size);
    for (const command of every) {
      expect(command.name).toMatch(/^[a-z]+(\|[a-z-]+)?$/);
      expect(command.summary.length, command.name).toBeGreaterThan(10);
      expect(command.summary).not.toMatch(/[\r\n]/);
      expect(['connection', 'generic', 'server', 'string']).toContain(command.group);
      expect(command.since).toMatch(/^\d+\.\d+\.\d+$/);
      // Redis gives every command exactly one of @fast and @slow.
      expect(
        command.aclCategories.filter((category) => category === 'fast' || category === 'slow'),
        command.name,
      ).toHaveLength(1);
    }
  });

  it('holds every command raftkv answered before the table, and nothing else at the top level', () => {
    expect(RESP_COMMANDS.commands.map((command) => command.name).sort()).toEqual([
      'client',
      'command',
      'config',
      'dbsize',
      'decr',
      'decrby',
      'del',
      'echo',
      'exists',
      'get',
      'hello',
      'incr',
      'incrby',
      'info',
      'mget',
      'mset',
      'ping',
      'quit',
      'scan',
      'select',
      'set',
    ]);
  });

  it("orders a command against the connection's others by its flags: the store's reads, its writes, and the rest", () => {
    for (const name of ['get', 'mget', 'exists', 'dbsize', 'scan']) expect(commandNamed(name).effect, name).toBe('read');
    for (const name of ['set', 'del', 'incr', 'decr', 'incrby', 'decrby', 'mset']) expect(commandNamed(name).effect, name).toBe('write');
    for (const name of ['ping', 'echo', 'info', 'hello', 'select', 'quit', 'config|get', 'client|id', 'command|docs'])
      expect(commandNamed(name).effect, name).toBe('none');
  });

  it('finds a command by its full name in any case, and nothing for a name it does not hold', () => {
    expect(RESP_COMMANDS.find('GET')?.name).toBe('get');
    expect(RESP_COMMANDS.find('Config|Get')?.name).toBe('config|get');
    expect(RESP_COMMANDS.find('config|nosuch')).toBeUndefined();
    expect(RESP_COMMANDS.find('get|x')).toBeUndefined();
    expect(RESP_COMMANDS.find('config|get|x')).toBeUndefined();
    expect(RESP_COMMANDS.find('flushall')).toBeUndefined();
    expect(RESP_COMMANDS.get('GET')).toBeUndefined(); // the hot path's lookup takes the lower-cased name
  });
});

describe('the arity check', () => {
  it('positive arity: exactly that many arguments, the name included', () => {
    const get = commandNamed('get');
    expect([1, 2, 3].map((count) => arityAccepts(get, count))).toEqual([false, true, false]);
  });

  it('negative arity: at least that many', () => {
    const set = commandNamed('set');
    expect([2, 3, 4, 6].map((count) => arityAccepts(set, count))).toEqual([false, true, true, true]);
  });

  it('PING takes at most one message; MSET takes key value pairs', () => {
    const ping = commandNamed('ping');
    expect([1, 2, 3].map((count) => arityAccepts(ping, count))).toEqual([true, true, false]);
    const mset = commandNamed('mset');
    expect([2, 3, 4, 5, 6].map((count) => arityAccepts(mset, count))).toEqual([false, true, false, true, false]);
  });

  it('a wrong arity is the registered WRONG_ARITY error, naming the command (a subcommand by its full name)', () => {
    expect(ERRORS.WRONG_ARITY.redis).toBe('ERR');
    expect(resolve('get')).toEqual({ error: "ERR wrong number of arguments for 'get' command" });
    expect(resolve('mset', 'a', 'b', 'c')).toEqual({ error: "ERR wrong number of arguments for 'mset' command" });
    expect(resolve('config')).toEqual({ error: "ERR wrong number of arguments for 'config' command" });
    expect(resolve('config', 'GET')).toEqual({ error: "ERR wrong number of arguments for 'config|get' command" });
    expect(resolve('client', 'id', 'extra')).toEqual({ error: "ERR wrong number of arguments for 'client|id' command" });
  });
});

describe('subcommands', () => {
  it('the word after a container picks its subcommand, in any case', () => {
    expect(resolve('config', 'GeT', 'save')).toBe(commandNamed('config|get'));
    expect(resolve('CLIENT', 'setinfo', 'LIB-NAME', 'x')).toBe(commandNamed('client|setinfo'));
    expect(resolve('command', 'count')).toBe(commandNamed('command|count'));
  });

  it('COMMAND alone runs COMMAND itself; CONFIG and CLIENT alone are a wrong arity', () => {
    expect(resolve('command')).toBe(commandNamed('command'));
    expect(resolve('client')).toEqual({ error: "ERR wrong number of arguments for 'client' command" });
  });

  it('an unknown subcommand is the registered UNKNOWN_COMMAND error, listing the ones raftkv takes', () => {
    expect(ERRORS.UNKNOWN_COMMAND.redis).toBe('ERR');
    expect(resolve('client', 'kill', 'addr')).toEqual({
      error: "ERR unknown subcommand 'kill'. raftkv's CLIENT takes SETNAME, GETNAME, ID, SETINFO",
    });
    expect(resolve('command', 'getkeys', 'get', 'a')).toEqual({
      error: "ERR unknown subcommand 'getkeys'. raftkv's COMMAND takes COUNT, INFO, DOCS, LIST",
    });
  });
});

describe('COMMAND INFO replies, shaped as Redis 7 returns them', () => {
  it('GET: arity 2, readonly and fast, one key at 1', () => {
    expect(commandNamed('get').info).toEqual([
      'get',
      2,
      statuses('readonly', 'fast'),
      1,
      1,
      1,
      statuses('@read', '@string', '@fast'),
      [],
      [
        [
          'flags',
          statuses('RO', 'access'),
          'begin_search',
          ['type', 'index', 'spec', ['index', 1]],
          'find_keys',
          ['type', 'range', 'spec', ['lastkey', 0, 'keystep', 1, 'limit', 0]],
        ],
      ],
      [],
    ]);
  });

  it('SET: arity -3, write and denyoom, one key at 1', () => {
    expect(commandNamed('set').info).toEqual([
      'set',
      -3,
      statuses('write', 'denyoom'),
      1,
      1,
      1,
      statuses('@write', '@string', '@slow'),
      [],
      [
        [
          'flags',
          statuses('RW', 'access', 'update', 'variable_flags'),
          'begin_search',
          ['type', 'index', 'spec', ['index', 1]],
          'find_keys',
          ['type', 'range', 'spec', ['lastkey', 0, 'keystep', 1, 'limit', 0]],
        ],
      ],
      [],
    ]);
  });

  it('MSET and DEL: keys to the last argument, every second one for MSET', () => {
    const mset = commandNamed('mset').info as RespValue[];
    expect(mset.slice(0, 6)).toEqual(['mset', -3, statuses('write', 'denyoom'), 1, -1, 2]);
    expect(mset[8]).toEqual([
      [
        'flags',
        statuses('OW', 'update'),
        'begin_search',
        ['type', 'index', 'spec', ['index', 1]],
        'find_keys',
        ['type', 'range', 'spec', ['lastkey', -1, 'keystep', 2, 'limit', 0]],
      ],
    ]);
    const del = commandNamed('del').info as RespValue[];
    expect(del.slice(0, 7)).toEqual(['del', -2, statuses('write'), 1, -1, 1, statuses('@keyspace', '@write', '@slow')]);
  });

  it("a command without keys has 0, 0, 0 and no key specification; a container lists its subcommands' replies", () => {
    const ping = commandNamed('ping').info as RespValue[];
    expect(ping).toEqual(['ping', -1, statuses('fast'), 0, 0, 0, statuses('@fast', '@connection'), [], [], []]);
    const config = commandNamed('config').info as RespValue[];
    expect(config.slice(0, 7)).toEqual(['config', -2, [], 0, 0, 0, statuses('@slow')]);
    expect(config[9]).toEqual([commandNamed('config|get').info, commandNamed('config|set').info]);
    expect((commandNamed('config|get').info as RespValue[]).slice(0, 7)).toEqual([
      'config|get',
      -3,
      statuses('admin', 'noscript', 'loading', 'stale'),
      0,
      0,
      0,
      statuses('@admin', '@slow', '@dangerous'),
    ]);
  });
});

describe('COMMAND DOCS maps', () => {
  it('summary, since and group as bulk strings, the keys redis-cli requires, and no arguments', () => {
    for (const command of RESP_COMMANDS.everyCommand()) {
      const docs = fields(command.docs);
      expect(docs.summary).toBe(command.summary);
      expect(docs.since).toBe(command.since);
      expect(docs.group).toBe(command.group);
      expect(Object.keys(docs).sort()).toEqual(
        command.subcommands === null ? ['group', 'since', 'summary'] : ['group', 'since', 'subcommands', 'summary'],
      );
    }
  });

  it("a container's subcommands as a map by full name (redis-cli reads the word after the |)", () => {
    const subcommands = fields(fields(commandNamed('client').docs).subcommands as RespValue);
    expect(Object.keys(subcommands)).toEqual(['client|setname', 'client|getname', 'client|id', 'client|setinfo']);
    expect(subcommands['client|id']).toBe(commandNamed('client|id').docs);
  });
});

describe('glob patterns (COMMAND LIST FILTERBY PATTERN, CONFIG GET)', () => {
  it.each([
    ['*', 'anything', true],
    ['*', '', true],
    ['conf*', 'config|get', true],
    ['conf*', 'xconfig', false],
    ['c?nfig', 'config', true],
    ['c?nfig', 'cnfig', false],
    ['[ab]x', 'bx', true],
    ['[ab]x', 'cx', false],
    ['[^ab]x', 'cx', true],
    ['[^ab]x', 'ax', false],
    ['[a-c]x', 'bx', true],
    ['[c-a]x', 'bx', true],
    ['[a-c]x', 'dx', false],
    ['a\\*', 'a*', true],
    ['a\\*', 'ab', false],
    ['a.c', 'abc', false],
    ['a.c', 'a.c', true],
    ['(x)+', '(x)+', true],
    ['SAVE', 'save', true],
    ['[ab', 'a', true],
  ] as const)('%s against %s: %s', (pattern, text, matches) => {
    expect(globPattern(pattern).test(text)).toBe(matches);
  });
});
