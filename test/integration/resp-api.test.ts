// The Redis protocol (RESP2) over real sockets against a 3-node cluster: every command with ioredis, the
// command table as COMMAND describes it (and redis-cli reads it at start-up), the errors of the registry
// with their Redis prefixes, and raw sockets for what no client library sends (malformed frames, a bulk
// length of 2^40, binary garbage, half a frame and a stall, 10,000 connections).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERRORS, type ErrorCode } from '../../src/protocol/errors.js';
import { RESP_COMMANDS } from '../../src/router/resp-commands.js';
import { startService, type Service } from '../../src/router/service.js';
import { leaderOf, startCluster, strictRedisClient, waitFor, type TestCluster } from './cluster-harness.js';

let cluster: TestCluster;
let main: Service;
/** A short request timeout and a small pending cap, for TIMEOUT, NO_LEADER and OVERLOADED. */
let tight: Service;
let redis: Redis;
const clients: Redis[] = [];
const rawSockets = new Set<net.Socket>();

function client(service: Service): Redis {
  // No reconnects: a dropped connection must show up as a failure, not be papered over.
  const c = strictRedisClient(service.resp.port);
  clients.push(c);
  return c;
}

beforeAll(async () => {
  cluster = await startCluster({ nodes: 3, stateMachine: 'kv' });
  main = await startService(cluster.supervisor, { host: '127.0.0.1', httpPort: 0, respPort: 0, adminToken: null });
  tight = await startService(cluster.supervisor, {
    host: '127.0.0.1',
    httpPort: 0,
    respPort: 0,
    adminToken: null,
    router: { requestTimeoutMs: 1_500, pendingRequestsMax: 4 },
  });
  await leaderOf(cluster.supervisor);
  redis = client(main);
  await redis.connect();
  await redis.mset('sentinel:a', 'alpha', 'sentinel:b', 'beta');
});

afterAll(async () => {
  for (const socket of rawSockets) socket.destroy();
  for (const c of clients) c.disconnect();
  await main?.close();
  await tight?.close();
  await cluster?.stop();
});

/** Every error code one of these tests has seen over the wire. */
const seen = new Set<ErrorCode>();

async function expectRespError(promise: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<string> {
  const error = await promise.then(
    (value) => {
      throw new Error(`expected ${code}, got ${JSON.stringify(value)}`);
    },
    (e: unknown) => e as Error,
  );
  expect(error.message.startsWith(`${ERRORS[code].redis} `), error.message).toBe(true);
  if (message !== undefined) expect(error.message).toMatch(message);
  seen.add(code);
  return error.message;
}

async function expectSentinelsIntact(): Promise<void> {
  const fresh = client(main);
  await fresh.connect();
  expect(await fresh.ping()).toBe('PONG');
  expect(await fresh.mget('sentinel:a', 'sentinel:b')).toEqual(['alpha', 'beta']);
  fresh.disconnect();
}

/** A bare TCP connection that collects every byte the server sends. */
class RawConnection {
  received = '';
  closed = false;
  private constructor(readonly socket: net.Socket) {
    rawSockets.add(socket);
    socket.on('data', (chunk: Buffer) => (this.received += chunk.toString('latin1')));
    socket.on('close', () => {
      this.closed = true;
      rawSockets.delete(socket);
    });
    socket.on('error', () => undefined);
  }

  static open(service: Service): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(service.resp.port, '127.0.0.1');
      socket.once('connect', () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  send(bytes: string | Buffer): void {
    this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  async until(what: string, predicate: (received: string) => boolean): Promise<string> {
    await waitFor(what, () => predicate(this.received), 10_000);
    return this.received;
  }

  async untilClosed(): Promise<string> {
    await waitFor('the server to close the connection', () => this.closed, 10_000);
    return this.received;
  }
}

function multibulk(...args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const data = typeof arg === 'string' ? Buffer.from(arg) : arg;
    parts.push(Buffer.from(`$${data.byteLength}\r\n`), data, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Sends bytes that break the protocol: one -ERR Protocol error reply, then the server closes the connection. */
async function expectProtocolError(bytes: string | Buffer, message: RegExp): Promise<void> {
  const conn = await RawConnection.open(main);
  conn.send(bytes);
  const received = await conn.untilClosed();
  expect(received).toMatch(/^-ERR Protocol error: [^\r\n]+\r\n$/);
  expect(received).toMatch(message);
  seen.add('PROTOCOL_ERROR');
}

// ---------------------------------------------------------------------------

describe('commands (ioredis)', () => {
  it('connects (ready check: INFO, CLIENT SETINFO), PING and ECHO', async () => {
    expect(redis.status).toBe('ready');
    expect(await redis.ping()).toBe('PONG');
    expect(await redis.ping('hello')).toBe('hello');
    expect(await redis.echo('a b\r\nc')).toBe('a b\r\nc');
  });

  it('SET and GET, binary-safe; GET of a missing key is nil', async () => {
    expect(await redis.set('greeting', 'hello')).toBe('OK');
    expect(await redis.get('greeting')).toBe('hello');
    expect(await redis.get('no-such-key')).toBeNull();
    const key = Buffer.from([0, 1, 255, 13, 10]);
    const value = randomBytes(4096);
    expect(await redis.set(key, value)).toBe('OK');
    expect((await redis.getBuffer(key))?.equals(value)).toBe(true);
  });

  it('SET NX / XX / GET, and their combinations', async () => {
    expect(await redis.set('nx', 'first', 'NX')).toBe('OK');
    expect(await redis.set('nx', 'second', 'NX')).toBeNull(); // CONDITION_NOT_MET is a nil reply, as in Redis
    expect(await redis.get('nx')).toBe('first');
    expect(await redis.set('xx-missing', 'v', 'XX')).toBeNull();
    expect(await redis.exists('xx-missing')).toBe(0);
    expect(await redis.set('nx', 'third', 'XX')).toBe('OK');
    expect(await redis.call('SET', 'nx', 'fourth', 'GET')).toBe('third');
    expect(await redis.call('SET', 'get-missing', 'v', 'GET')).toBeNull();
    expect(await redis.call('SET', 'nx', 'fifth', 'XX', 'GET')).toBe('fourth');
    expect(await redis.call('SET', 'nx', 'sixth', 'NX', 'GET')).toBeNull();
    expect(await redis.get('nx')).toBe('fifth');
    await expect(redis.call('SET', 'nx', 'v', 'NX', 'XX')).rejects.toThrow(/^ERR syntax error/);
    await expect(redis.call('SET', 'nx', 'v', 'EX', '10')).rejects.toThrow(/^ERR syntax error \(supported options: NX, XX, GET\)/);
    expect(await redis.get('nx')).toBe('fifth');
  });

  it('DEL and EXISTS count keys (EXISTS counts a repeated key each time)', async () => {
    await redis.mset('d1', '1', 'd2', '2', 'd3', '3');
    expect(await redis.exists('d1', 'd2', 'd2', 'missing')).toBe(3);
    expect(await redis.del('d1', 'd2', 'missing')).toBe(2);
    expect(await redis.exists('d1', 'd2', 'd3')).toBe(1);
    expect(await redis.del('d1')).toBe(0);
  });

  it('INCR, INCRBY, DECR, DECRBY; NOT_AN_INTEGER for a non-integer value, amount or overflow', async () => {
    expect(await redis.incr('counter')).toBe(1);
    expect(await redis.incrby('counter', 41)).toBe(42);
    expect(await redis.decr('counter')).toBe(41);
    expect(await redis.decrby('counter', 50)).toBe(-9);
    expect(await redis.get('counter')).toBe('-9');
    await redis.set('text', 'hello');
    await expectRespError(redis.incr('text'), 'NOT_AN_INTEGER', /not an integer or out of range/);
    await expectRespError(redis.call('INCRBY', 'counter', 'abc'), 'NOT_AN_INTEGER');
    await expectRespError(redis.call('INCRBY', 'counter', '99999999999999999999'), 'NOT_AN_INTEGER');
    await redis.set('max', String(Number.MAX_SAFE_INTEGER));
    await expectRespError(redis.incr('max'), 'NOT_AN_INTEGER');
    expect(await redis.get('text')).toBe('hello');
    expect(await redis.get('counter')).toBe('-9');
  });

  it('MSET and MGET', async () => {
    expect(await redis.mset('m1', 'one', 'm2', 'two', 'm3', 'three')).toBe('OK');
    expect(await redis.mget('m1', 'missing', 'm3', 'm2')).toEqual(['one', null, 'three', 'two']);
    await expectRespError(redis.call('MSET', 'm1', 'one', 'm2'), 'WRONG_ARITY', /'mset'/);
    expect(await redis.get('m2')).toBe('two');
  });

  it('DBSIZE counts keys', async () => {
    const before = await redis.dbsize();
    await redis.mset('dbsize:1', 'a', 'dbsize:2', 'b', 'dbsize:3', 'c');
    expect(await redis.dbsize()).toBe(before + 3);
    await redis.del('dbsize:1');
    expect(await redis.dbsize()).toBe(before + 2);
  });

  it('SCAN cursor MATCH prefix* COUNT n pages through every key of the prefix once', async () => {
    const keys = Array.from({ length: 25 }, (_, i) => `scan:${String(i).padStart(2, '0')}`);
    await redis.mset(...keys.flatMap((k) => [k, 'v']));
    await redis.set('scanner-not-matched', 'v');
    const found: string[] = [];
    let cursor = '0';
    let pages = 0;
    do {
      const [next, page] = await redis.scan(cursor, 'MATCH', 'scan:*', 'COUNT', 10);
      found.push(...page);
      cursor = next;
      pages++;
    } while (cursor !== '0' && pages < 100);
    expect(found).toEqual(keys);
    expect(pages).toBe(3);
    const [, exact] = await redis.scan('0', 'MATCH', 'scan:07');
    expect(exact).toEqual(['scan:07']);
    const streamed: string[] = [];
    for await (const page of redis.scanStream({ match: 'scan:*', count: 7 })) streamed.push(...(page as string[]));
    expect(streamed).toEqual(keys);
    await expect(redis.scan('0', 'MATCH', 'scan:?')).rejects.toThrow(/only MATCH prefix\* patterns/);
    await expect(redis.scan('0', 'MATCH', '*:07')).rejects.toThrow(/only MATCH prefix\* patterns/);
    await expect(redis.scan('0', 'COUNT', '0')).rejects.toThrow(/not an integer or out of range/);
    await expect(redis.scan('x')).rejects.toThrow(/invalid cursor/);
    await expect(redis.call('SCAN', '0', 'MATCH')).rejects.toThrow(/syntax error/);
  });

  it('SCAN returns every key present for the whole scan once, even when others are deleted meanwhile and past 10,000 keys', async () => {
    const keys = Array.from({ length: 12_000 }, (_, i) => `big:${String(i).padStart(5, '0')}`);
    for (let i = 0; i < keys.length; i += 1000) await redis.mset(...keys.slice(i, i + 1000).flatMap((k) => [k, 'v']));
    const found: string[] = [];
    let cursor = '0';
    let pages = 0;
    do {
      const [next, page] = await redis.scan(cursor, 'MATCH', 'big:*', 'COUNT', 1000);
      found.push(...page);
      // Delete keys already returned: an offset cursor would now skip the next ones.
      if (pages === 0) await redis.del(...page.slice(0, 500));
      cursor = next;
      pages++;
    } while (cursor !== '0' && pages < 100);
    expect(found).toEqual(keys);
    await expect(redis.scan('99999999')).rejects.toThrow(/invalid cursor/);
  });

  it('INFO shows the server and the Raft cluster', async () => {
    const info = await redis.info();
    expect(info).toMatch(/^# Server\r\n/);
    expect(info).toContain('redis_version:');
    expect(info).toContain('loading:0');
    expect(info).toContain(`raft_leader:${cluster.supervisor.leaderId}`);
    expect(info).toMatch(/raft_node_n1:status=running,role=\w+,commit=\d+,applied=\d+/);
  });

  it('HELLO (RESP2 only: HELLO 3 is refused so clients fall back), CONFIG GET, CLIENT, SELECT 0', async () => {
    await expect(redis.call('HELLO', '3')).rejects.toThrow(/^NOPROTO/);
    const hello = (await redis.call('HELLO', '2')) as unknown[];
    expect(hello.slice(0, 6)).toEqual(['server', 'raftkv', 'version', '0.1.0', 'proto', 2]);
    expect(await redis.call('HELLO')).toEqual(hello);
    expect(await redis.config('GET', 'save')).toEqual(['save', '']);
    expect(await redis.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
    expect(await redis.config('GET', 'maxmemory')).toEqual([]);
    expect(await redis.config('GET', 'SAVE', 'append*', 'save')).toEqual(['save', '', 'appendonly', 'yes']);
    expect(await redis.call('CONFIG', 'SET', 'save', '')).toBe('OK');
    expect(await redis.call('CLIENT', 'SETNAME', 'tester')).toBe('OK');
    expect(await redis.call('CLIENT', 'SETINFO', 'LIB-NAME', 'x')).toBe('OK');
    expect(await redis.call('CLIENT', 'GETNAME')).toBeNull();
    expect(await redis.call('CLIENT', 'ID')).toBe(1);
    expect(await redis.select(0)).toBe('OK');
    await expect(redis.select(1)).rejects.toThrow(/^ERR DB index is out of range/);
  });

  it('is case-insensitive in command names', async () => {
    expect(await redis.call('pInG')).toBe('PONG');
    expect(await redis.call('sEt', 'case', 'v')).toBe('OK');
    expect(await redis.call('GeT', 'case')).toBe('v');
  });

  it('pipelining: 3,000 commands in one write are answered in order (beyond the pipeline cap: backpressure)', async () => {
    const pipeline = redis.pipeline();
    for (let i = 0; i < 1_000; i++) {
      pipeline.set(`pipe:${i}`, String(i));
      pipeline.incr('pipe:counter');
      pipeline.get(`pipe:${i}`);
    }
    const results = (await pipeline.exec()) ?? [];
    expect(results).toHaveLength(3_000);
    for (let i = 0; i < 1_000; i++) {
      expect(results[3 * i]).toEqual([null, 'OK']);
      expect(results[3 * i + 1]).toEqual([null, i + 1]);
      expect(results[3 * i + 2]).toEqual([null, String(i)]);
    }
  });

  it('commands pipelined on one connection take effect in the order sent (a GET sees the SET before it, not the one after)', async () => {
    for (let round = 0; round < 50; round++) {
      const results =
        (await redis
          .pipeline()
          .set('order', `a${round}`)
          .get('order')
          .set('order', `b${round}`)
          .incr('order:n')
          .get('order:n')
          .mget('order', 'order:n')
          .del('order')
          .exists('order')
          .exec()) ?? [];
      expect(results.map(([, value]) => value)).toEqual([
        'OK',
        `a${round}`,
        'OK',
        round + 1,
        String(round + 1),
        [`b${round}`, String(round + 1)],
        1,
        0,
      ]);
    }
  });

  it('QUIT answers OK and closes; nothing pipelined after it runs', async () => {
    const conn = await RawConnection.open(main);
    conn.send(Buffer.concat([multibulk('SET', 'before-quit', '1'), multibulk('QUIT'), multibulk('SET', 'after-quit', '1')]));
    expect(await conn.untilClosed()).toBe('+OK\r\n+OK\r\n');
    expect(await redis.get('before-quit')).toBe('1');
    expect(await redis.exists('after-quit')).toBe(0);
    const quitter = client(main);
    await quitter.connect();
    expect(await quitter.quit()).toBe('OK');
  });

  it('inline commands (telnet style) work on a raw socket', async () => {
    const conn = await RawConnection.open(main);
    conn.send('PING\r\nSET inline value\r\nGET inline\nECHO hi\r\n');
    expect(await conn.until('four replies', (r) => r.split('\r\n').length >= 6)).toBe('+PONG\r\n+OK\r\n$5\r\nvalue\r\n$2\r\nhi\r\n');
    conn.socket.destroy();
  });
});

/** A flat RESP2 map ([key, value, ...], as COMMAND DOCS answers) as a Map. */
function flatMap(reply: unknown): Map<string, unknown> {
  expect(Array.isArray(reply)).toBe(true);
  const flat = reply as unknown[];
  expect(flat.length % 2).toBe(0);
  const map = new Map<string, unknown>();
  for (let i = 0; i < flat.length; i += 2) map.set(flat[i] as string, flat[i + 1]);
  return map;
}

describe('the command table, as COMMAND describes it', () => {
  it("COMMAND COUNT equals the table size; COMMAND and COMMAND INFO give one reply per command, in the table's order", async () => {
    expect(await redis.call('COMMAND', 'COUNT')).toBe(RESP_COMMANDS.size);
    const names = RESP_COMMANDS.commands.map((command) => command.name);
    const every = (await redis.call('COMMAND')) as unknown[][];
    expect(every.map((info) => info[0])).toEqual(names);
    expect(every.every((info) => info.length === 10)).toBe(true);
    expect(await redis.call('COMMAND', 'INFO')).toEqual(every);
    // Every command the other tests send is in it.
    for (const name of [
      'get',
      'set',
      'del',
      'exists',
      'incr',
      'incrby',
      'decr',
      'decrby',
      'mget',
      'mset',
      'dbsize',
      'scan',
      'ping',
      'echo',
      'info',
      'hello',
      'config',
      'client',
      'select',
      'quit',
    ]) {
      expect(names).toContain(name);
    }
  });

  it('COMMAND INFO of GET and SET: arity, flags and key positions as Redis 7 gives them; nil for an unknown name', async () => {
    const [get, set, unknown, configGet] = (await redis.call(
      'COMMAND',
      'INFO',
      'get',
      'SET',
      'nosuchcommand',
      'config|get',
    )) as unknown[][];
    const keySpec = (flags: string[]): unknown[] => [
      'flags',
      flags,
      'begin_search',
      ['type', 'index', 'spec', ['index', 1]],
      'find_keys',
      ['type', 'range', 'spec', ['lastkey', 0, 'keystep', 1, 'limit', 0]],
    ];
    expect(get).toEqual(['get', 2, ['readonly', 'fast'], 1, 1, 1, ['@read', '@string', '@fast'], [], [keySpec(['RO', 'access'])], []]);
    expect(set).toEqual([
      'set',
      -3,
      ['write', 'denyoom'],
      1,
      1,
      1,
      ['@write', '@string', '@slow'],
      [],
      [keySpec(['RW', 'access', 'update', 'variable_flags'])],
      [],
    ]);
    expect(unknown).toBeNull();
    expect(configGet?.slice(0, 6)).toEqual(['config|get', -3, ['admin', 'noscript', 'loading', 'stale'], 0, 0, 0]);
    const [mset] = (await redis.call('COMMAND', 'INFO', 'mset')) as unknown[][];
    expect(mset?.slice(0, 6)).toEqual(['mset', -3, ['write', 'denyoom'], 1, -1, 2]);
    // A container lists its subcommands' replies.
    const [client] = (await redis.call('COMMAND', 'INFO', 'client')) as unknown[][];
    expect((client?.[9] as unknown[][]).map((sub) => sub[0])).toEqual(['client|setname', 'client|getname', 'client|id', 'client|setinfo']);
  });

  it('COMMAND DOCS: a map per command with a summary, since and group (RESP2: flat arrays); unknown names left out', async () => {
    const docs = flatMap(await redis.call('COMMAND', 'DOCS'));
    expect([...docs.keys()]).toEqual(RESP_COMMANDS.commands.map((command) => command.name));
    for (const [name, entry] of docs) {
      const fields = flatMap(entry);
      expect(typeof fields.get('summary'), name).toBe('string');
      expect((fields.get('summary') as string).length, name).toBeGreaterThan(10);
      expect(fields.get('since'), name).toMatch(/^\d+\.\d+\.\d+$/);
      expect(['connection', 'generic', 'server', 'string'], name).toContain(fields.get('group'));
    }
    expect(flatMap(docs.get('get')).get('since')).toBe('1.0.0');
    expect(flatMap(docs.get('scan')).get('group')).toBe('generic');
    const configSubcommands = flatMap(flatMap(docs.get('config')).get('subcommands'));
    expect([...configSubcommands.keys()]).toEqual(['config|get', 'config|set']);
    const some = flatMap(await redis.call('COMMAND', 'DOCS', 'GET', 'nosuchcommand', 'client|id'));
    expect([...some.keys()]).toEqual(['get', 'client|id']);
    expect(flatMap(some.get('get')).get('summary')).toMatch(/value of a key/);
  });

  it('COMMAND LIST: every command and subcommand; FILTERBY ACLCAT, PATTERN and MODULE', async () => {
    const list = (await redis.call('COMMAND', 'LIST')) as string[];
    expect(list).toEqual([...RESP_COMMANDS.everyCommand()].map((command) => command.name));
    expect(list).toContain('config|get');
    expect(await redis.call('COMMAND', 'LIST', 'FILTERBY', 'ACLCAT', 'read')).toEqual(['get', 'mget', 'exists', 'scan', 'dbsize']);
    expect(await redis.call('COMMAND', 'LIST', 'FILTERBY', 'PATTERN', '*incr*')).toEqual(['incr', 'incrby']);
    expect(await redis.call('COMMAND', 'LIST', 'FILTERBY', 'PATTERN', 'CLIENT|?ET*')).toEqual([
      'client|setname',
      'client|getname',
      'client|setinfo',
    ]);
    expect(await redis.call('COMMAND', 'LIST', 'FILTERBY', 'MODULE', 'json')).toEqual([]);
    await expect(redis.call('COMMAND', 'LIST', 'FILTERBY', 'COLOUR', 'x')).rejects.toThrow(/^ERR syntax error$/);
    await expect(redis.call('COMMAND', 'LIST', 'FILTERBY')).rejects.toThrow(/^ERR syntax error$/);
  });

  it('the real redis-cli starts (it reads COMMAND DOCS for its help and hints) and runs commands without complaint', async () => {
    const port = String(main.resp.port);
    // `help` makes redis-cli read COMMAND DOCS and build its help from it (redis-cli asserts on a malformed reply).
    const help = await runRedisCli(['-h', '127.0.0.1', '-p', port, 'help', 'get']);
    expect(help.stderr).toBe('');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('GET');
    expect(help.stdout).toContain(RESP_COMMANDS.find('get')?.summary);
    expect(help.stdout).toMatch(/since:\S* 1\.0\.0/);
    expect(help.stdout).toMatch(/group:\S* string/);
    const group = await runRedisCli(['-h', '127.0.0.1', '-p', port, 'help', '@connection']);
    expect(group.code).toBe(0);
    expect(group.stdout).toContain('CLIENT SETNAME');
    // With no command on its line redis-cli starts its REPL, which also reads COMMAND DOCS first; commands come from stdin.
    const session = await runRedisCli(['-h', '127.0.0.1', '-p', port], 'SET cli:table v\nGET cli:table\nCOMMAND COUNT\n');
    expect(session.stderr).toBe('');
    expect(session.code).toBe(0);
    expect(session.stdout).toBe(`OK\nv\n${RESP_COMMANDS.size}\n`);
  });
});

interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const CLI_TIMEOUT_MS = 30_000;

/** Runs redis-cli asynchronously (the server lives in this process). Without redis-tools installed this fails, it does not skip. */
function runRedisCli(args: readonly string[], input = ''): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-cli', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redis-cli ${args.join(' ')} did not finish within ${CLI_TIMEOUT_MS} ms; output so far: ${stdout}${stderr}`));
    }, CLI_TIMEOUT_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`redis-cli could not start (apt-get install -y redis-tools): ${error.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

describe('errors (each with its registry prefix); the connection stays usable', () => {
  it('an unknown command: -ERR unknown command, with the name and the first arguments', async () => {
    const message = await expectRespError(redis.call('FLUSHALL', 'ASYNC'), 'UNKNOWN_COMMAND');
    expect(message).toBe("ERR unknown command 'flushall', with args beginning with: 'ASYNC'");
    await expectRespError(redis.call('X'.repeat(10_000)), 'UNKNOWN_COMMAND', /unknown command 'x{64}'/);
    expect(await redis.ping()).toBe('PONG');
  });

  it('unknown command names do not become metric labels (a client cannot grow the metrics without bound)', async () => {
    const names = Array.from({ length: 200 }, () => `bogus${randomBytes(6).toString('hex')}`);
    const pipeline = redis.pipeline();
    for (const name of names) pipeline.call(name);
    const results = (await pipeline.exec()) ?? [];
    expect(results.every(([error]) => error !== null && /^ERR unknown command/.test(error.message))).toBe(true);
    const metrics = await main.metrics.render();
    for (const name of names) expect(metrics).not.toContain(name);
    expect(metrics).toMatch(/^raftkv_requests_total\{api="resp",route="unknown",status="error"\} \d+$/m);
    expect(metrics).toMatch(/^raftkv_requests_total\{api="resp",route="get",status="ok"\} \d+$/m);
  });

  it('WRONG_ARITY for every command with too few or too many arguments', async () => {
    const wrong: [string, ...string[]][] = [
      ['GET'],
      ['GET', 'a', 'b'],
      ['SET', 'a'],
      ['DEL'],
      ['EXISTS'],
      ['INCR'],
      ['INCR', 'a', 'b'],
      ['INCRBY', 'a'],
      ['DECRBY', 'a', '1', '2'],
      ['MGET'],
      ['MSET'],
      ['MSET', 'a'],
      ['ECHO'],
      ['ECHO', 'a', 'b'],
      ['PING', 'a', 'b'],
      ['SCAN'],
      ['DBSIZE', 'x'],
      ['SELECT'],
      ['SELECT', '0', 'x'],
      ['CONFIG'],
      ['CLIENT'],
    ];
    for (const [name, ...args] of wrong) {
      await expectRespError(
        redis.call(name, ...args),
        'WRONG_ARITY',
        new RegExp(`^ERR wrong number of arguments for '${name.toLowerCase()}' command$`),
      );
    }
    // A subcommand is named as Redis 7 names it, container|sub.
    await expectRespError(redis.call('CONFIG', 'GET'), 'WRONG_ARITY', /^ERR wrong number of arguments for 'config\|get' command$/);
    await expectRespError(redis.call('COMMAND', 'COUNT', 'x'), 'WRONG_ARITY', /'command\|count'/);
    expect(await redis.ping()).toBe('PONG');
  });

  it('an unknown subcommand: UNKNOWN_COMMAND, naming the subcommands raftkv takes', async () => {
    const message = await expectRespError(redis.call('CLIENT', 'KILL', '127.0.0.1:1'), 'UNKNOWN_COMMAND');
    expect(message).toBe("ERR unknown subcommand 'KILL'. raftkv's CLIENT takes SETNAME, GETNAME, ID, SETINFO");
    await expectRespError(
      redis.call('CONFIG', 'REWRITE'),
      'UNKNOWN_COMMAND',
      /^ERR unknown subcommand 'REWRITE'\. raftkv's CONFIG takes GET, SET$/,
    );
    expect(await redis.ping()).toBe('PONG');
  });

  it('KEY_EMPTY, KEY_TOO_LARGE and VALUE_TOO_LARGE: nothing is written', async () => {
    await expectRespError(redis.set('', 'v'), 'KEY_EMPTY');
    await expectRespError(redis.get(''), 'KEY_EMPTY');
    await expectRespError(redis.incr(''), 'KEY_EMPTY');
    await expectRespError(redis.del('ok-key', ''), 'KEY_EMPTY');
    const huge = 'k'.repeat(4 * 1024 + 1);
    await expectRespError(redis.set(huge, 'v'), 'KEY_TOO_LARGE', /4097 bytes; the limit is 4096/);
    await expectRespError(redis.mset('fine', 'v', huge, 'v'), 'KEY_TOO_LARGE');
    expect(await redis.exists('fine')).toBe(0);
    await expectRespError(redis.set('big', Buffer.alloc(1024 * 1024 + 1)), 'VALUE_TOO_LARGE', /1048577 bytes; the limit is 1048576/);
    expect(await redis.exists('big')).toBe(0);
    expect(await redis.set('big', Buffer.alloc(1024 * 1024, 0x61))).toBe('OK');
    expect((await redis.getBuffer('big'))?.byteLength).toBe(1024 * 1024);
    expect(await redis.ping()).toBe('PONG');
  });

  it('OVERLOADED beyond the router’s pending cap: TRYAGAIN, and the refused writes did not happen', async () => {
    const c = client(tight);
    await c.connect();
    const pipeline = c.pipeline();
    for (let i = 0; i < 50; i++) pipeline.set(`overload:${i}`, 'v');
    const results = (await pipeline.exec()) ?? [];
    const refused = results.flatMap(([error], i) => (error === null ? [] : [i]));
    expect(refused.length).toBeGreaterThan(0);
    await expectRespError(Promise.reject(results[refused[0] as number]?.[0] as Error), 'OVERLOADED', /too many requests in flight; retry/);
    for (const [i, [error, value]] of results.entries()) {
      expect(await redis.exists(`overload:${i}`)).toBe(error === null ? 1 : 0);
      if (error === null) expect(value).toBe('OK');
    }
  });
});

describe('bad input on raw sockets: a clear error, the server stays up, no data lost', () => {
  it('malformed RESP: a non-bulk argument', async () => {
    await expectProtocolError('*1\r\n:5\r\n', /expected '\$', got ':'/);
    await expectProtocolError('*2\r\n$3\r\nGET\r\n$1\r\nabc\r\n', /expected CRLF after bulk data/);
    await expectProtocolError('*x\r\n', /invalid multibulk length/);
    await expectSentinelsIntact();
  });

  it('a bulk length of 2^40 (and one just over the value limit) is refused before any of it is buffered', async () => {
    await expectProtocolError(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${2 ** 40}\r\n`, /invalid bulk length/);
    await expectProtocolError(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${1024 * 1024 + 1024 + 1}\r\n`, /invalid bulk length/);
    await expectProtocolError(`*${2 ** 40}\r\n`, /invalid multibulk length/);
    await expectSentinelsIntact();
  });

  it('binary garbage', async () => {
    for (let i = 0; i < 5; i++) {
      await expectProtocolError(
        Buffer.concat([Buffer.from([0, 0xff, 0xfe]), randomBytes(2_000), Buffer.from('\n')]),
        /binary data in an inline request/,
      );
    }
    // A stream of bytes that never ends a line is cut off at the inline limit (64 KiB).
    await expectProtocolError(Buffer.alloc(70 * 1024, 0x41), /too big inline request/);
    await expectSentinelsIntact();
  });

  it('a client that sends half a frame and stalls gets no answer and holds up no one; completing the frame answers it', async () => {
    const stalled = await RawConnection.open(main);
    stalled.send('*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$5\r\nva');
    // Others are served meanwhile.
    for (let i = 0; i < 20; i++) expect(await redis.set(`while-stalled:${i}`, 'v')).toBe('OK');
    // A bounded wait to show that nothing is answered and nothing written while the frame is incomplete.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(stalled.received).toBe('');
    expect(stalled.closed).toBe(false);
    expect(await redis.exists('half')).toBe(0);
    stalled.send('lue\r\n');
    expect(await stalled.until('the SET reply', (r) => r.length > 0)).toBe('+OK\r\n');
    expect(await redis.get('half')).toBe('value');
    // One that stalls and then disconnects: its half command never runs.
    const quitter = await RawConnection.open(main);
    quitter.send('*3\r\n$3\r\nSET\r\n$9\r\nhalf-gone\r\n$5\r\nva');
    quitter.socket.destroy();
    await waitFor('the socket to close', () => quitter.closed);
    expect(await redis.exists('half-gone')).toBe(0);
    await expectSentinelsIntact();
  });

  it('an unknown command on a raw socket: an error reply, and the connection stays open', async () => {
    const conn = await RawConnection.open(main);
    conn.send('NOSUCHCOMMAND arg1 arg2\r\nPING\r\n');
    const received = await conn.until('two replies', (r) => r.endsWith('+PONG\r\n'));
    expect(received).toBe("-ERR unknown command 'nosuchcommand', with args beginning with: 'arg1' 'arg2'\r\n+PONG\r\n");
    expect(conn.closed).toBe(false);
    conn.socket.destroy();
  });

  it('10,000 connections opened and dropped (500 at a time): the server still answers and the data is intact', async () => {
    const BATCH = 500;
    const BATCHES = 20;
    for (let b = 0; b < BATCHES; b++) {
      const batch = await Promise.all(Array.from({ length: BATCH }, () => RawConnection.open(main)));
      batch.forEach((conn, i) => {
        // A third say nothing, a third send a whole command, a third half of one.
        if (i % 3 === 1) conn.send('*1\r\n$4\r\nPING\r\n');
        if (i % 3 === 2) conn.send('*3\r\n$3\r\nSET\r\n$7\r\ndropped\r\n$5\r\nva');
      });
      for (const conn of batch) conn.socket.destroy();
      await waitFor(`batch ${b} closed`, () => batch.every((conn) => conn.closed));
      // Pacing, not an assertion: a burst of connects right after a burst of closes overflows the loopback
      // accept queue (the kernel's ListenOverflows, with any Node server) and costs a 1 s SYN retry.
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await redis.ping()).toBe('PONG');
    expect(await redis.exists('dropped')).toBe(0);
    await expectSentinelsIntact();
    // And the server still takes a full load of new connections.
    const again = await Promise.all(Array.from({ length: 200 }, () => RawConnection.open(main)));
    for (const conn of again) conn.send('PING\r\n');
    await waitFor('200 PONGs', () => again.every((conn) => conn.received === '+PONG\r\n'));
    for (const conn of again) conn.socket.destroy();
  });
});

describe('no quorum and timeouts over RESP', () => {
  it('TIMEOUT when a write reached a leader that cannot commit; TRYAGAIN (NO_LEADER) when there is none', async () => {
    const { supervisor } = cluster;
    const c = client(tight);
    await c.connect();
    await redis.set('fate', 'before');
    let timedOut: string | null = null;
    for (let attempt = 0; attempt < 3 && timedOut === null; attempt++) {
      await leaderOf(supervisor);
      await supervisor.partition([['n1'], ['n2'], ['n3']]);
      const message = await c.set('fate', 'after').then(
        () => 'OK',
        (e: unknown) => (e as Error).message,
      );
      if (message.startsWith('TIMEOUT ')) timedOut = message;
      else {
        expect(message).toMatch(/^TRYAGAIN /); // the leader stepped down before the write reached it: try again
        await supervisor.heal();
        await waitFor('a leader again', () => supervisor.leaderId);
        await waitFor('a write to succeed', () =>
          redis.set('probe', '1').then(
            () => true,
            () => false,
          ),
        );
      }
    }
    expect(timedOut, 'a write should reach the isolated leader before it steps down').not.toBeNull();
    await expectRespError(Promise.reject(new Error(timedOut as string)), 'TIMEOUT', /outcome is unknown/);
    await waitFor('the isolated leader to step down', () => supervisor.leaderId === null);
    await expectRespError(c.set('fate', 'never'), 'NO_LEADER', /no leader \(no quorum\): nothing was written; retry/);
    await supervisor.heal();
    await waitFor('a leader again', () => supervisor.leaderId);
    await waitFor('a write to succeed', () =>
      redis.set('probe', '2').then(
        () => true,
        () => false,
      ),
    );
    expect(['before', 'after']).toContain(await redis.get('fate'));
    await expectSentinelsIntact();
  });
});

describe('coverage', () => {
  it('every error code the Redis protocol can give was seen over the wire, with its registry prefix', () => {
    expect([...seen].sort()).toEqual([
      'KEY_EMPTY',
      'KEY_TOO_LARGE',
      'NOT_AN_INTEGER',
      'NO_LEADER',
      'OVERLOADED',
      'PROTOCOL_ERROR',
      'TIMEOUT',
      'UNKNOWN_COMMAND',
      'VALUE_TOO_LARGE',
      'WRONG_ARITY',
    ]);
  });
});
