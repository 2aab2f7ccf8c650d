// Real Redis tools against the Redis-protocol port of a 3-node cluster: redis-cli (one-shot commands, commands
// on stdin, --scan, -r, --pipe mass insertion) and redis-benchmark, which must finish with no errors.
// The tools come from Debian's redis-tools; CI installs them. Without them this file fails, it does not skip.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type Service } from '../../src/router/service.js';
import { leaderOf, startCluster, type TestCluster } from './cluster-harness.js';

const TOOLS = ['redis-cli', 'redis-benchmark'] as const;
const CHILD_TIMEOUT_MS = 60_000;

let cluster: TestCluster | null = null;
let service: Service | null = null;
const children = new Set<ChildProcess>();

let missingTools: string[] | null = null;

/** Throws (failing the test that calls it) when a tool is missing. */
function requireTools(): void {
  missingTools ??= TOOLS.filter((tool) => {
    const probe = spawnSync(tool, ['--version'], { encoding: 'utf8' });
    return probe.error !== undefined || probe.status !== 0;
  });
  const missing = missingTools;
  if (missing.length > 0) {
    throw new Error(
      `${missing.join(' and ')} not found on PATH: install them with \`apt-get install -y redis-tools\` (CI does; these tests must not be skipped)`,
    );
  }
}

beforeAll(async () => {
  cluster = await startCluster({ nodes: 3, stateMachine: 'kv' });
  service = await startService(cluster.supervisor, { host: '127.0.0.1', httpPort: 0, respPort: 0, adminToken: null });
  await leaderOf(cluster.supervisor);
});

afterAll(async () => {
  for (const child of children)
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
  await service?.close();
  await cluster?.stop();
});

interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a tool asynchronously (the server lives in this process: a synchronous spawn would block it). */
function run(tool: (typeof TOOLS)[number], args: readonly string[], input = ''): Promise<RunResult> {
  requireTools();
  const port = String(service?.resp.port);
  return new Promise((resolve, reject) => {
    const child = spawn(tool, ['-h', '127.0.0.1', '-p', port, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      reject(new Error(`${tool} ${args.join(' ')} did not finish within ${CHILD_TIMEOUT_MS} ms; output so far: ${stdout}${stderr}`));
    }, CHILD_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

/** redis-cli with its output not a terminal: raw replies, one per line, nil as an empty line. */
async function cli(...args: string[]): Promise<string> {
  const result = await run('redis-cli', args);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return result.stdout;
}

describe('redis-tools are installed', () => {
  it('redis-cli and redis-benchmark are on PATH (apt-get install -y redis-tools)', () => {
    expect(() => requireTools()).not.toThrow();
  });
});

describe('redis-cli', () => {
  it('PING, ECHO, INFO', async () => {
    expect(await cli('ping')).toBe('PONG\n');
    expect(await cli('echo', 'hello world')).toBe('hello world\n');
    expect(await cli('info')).toMatch(/^# Server\r?\n/);
  });

  it('SET, GET, SET NX/XX/GET, DEL, EXISTS', async () => {
    expect(await cli('set', 'cli:a', 'alpha')).toBe('OK\n');
    expect(await cli('get', 'cli:a')).toBe('alpha\n');
    expect(await cli('get', 'cli:missing')).toBe('\n');
    expect(await cli('set', 'cli:a', 'other', 'nx')).toBe('\n');
    expect(await cli('set', 'cli:a', 'beta', 'xx', 'get')).toBe('alpha\n');
    expect(await cli('exists', 'cli:a', 'cli:a', 'cli:missing')).toBe('2\n');
    expect(await cli('del', 'cli:a', 'cli:missing')).toBe('1\n');
    expect(await cli('exists', 'cli:a')).toBe('0\n');
  });

  it('INCR, INCRBY, DECR, DECRBY, and -r to repeat a command', async () => {
    expect(await cli('incr', 'cli:n')).toBe('1\n');
    expect(await cli('incrby', 'cli:n', '10')).toBe('11\n');
    expect(await cli('decr', 'cli:n')).toBe('10\n');
    expect(await cli('decrby', 'cli:n', '20')).toBe('-10\n');
    expect(await cli('-r', '25', 'incr', 'cli:repeated')).toBe(`${Array.from({ length: 25 }, (_, i) => i + 1).join('\n')}\n`);
    expect(await cli('get', 'cli:repeated')).toBe('25\n');
  });

  it('MSET, MGET, DBSIZE, and --scan --pattern', async () => {
    expect(await cli('mset', 'cli:s:1', 'one', 'cli:s:2', 'two', 'cli:s:3', 'three')).toBe('OK\n');
    expect(await cli('mget', 'cli:s:1', 'cli:s:missing', 'cli:s:3')).toBe('one\n\nthree\n');
    expect(Number(await cli('dbsize'))).toBeGreaterThanOrEqual(3);
    const scanned = (await cli('--scan', '--pattern', 'cli:s:*')).trim().split('\n');
    expect(scanned.sort()).toEqual(['cli:s:1', 'cli:s:2', 'cli:s:3']);
  });

  it('commands from stdin, errors included, in order', async () => {
    const result = await run('redis-cli', [], 'SET cli:stdin 1\nINCR cli:stdin\nGET cli:stdin\nNOSUCHCOMMAND x\nINCR cli:stdin\n');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("OK\n2\n2\nERR unknown command 'nosuchcommand', with args beginning with: 'x'\n\n3\n");
  });

  it('error replies are shown as such: unknown command, wrong arity, not an integer, empty key', async () => {
    expect(await cli('flushall')).toMatch(/^ERR unknown command 'flushall'/);
    expect(await cli('get')).toMatch(/^ERR wrong number of arguments for 'get' command/);
    expect(await cli('set', 'cli:text', 'abc')).toBe('OK\n');
    expect(await cli('incr', 'cli:text')).toMatch(/^ERR value is not an integer or out of range/);
    expect(await cli('set', '', 'v')).toMatch(/^ERR the key is empty/);
  });

  it('--pipe mass insertion: 10,000 commands in raw protocol, no errors', async () => {
    const count = 10_000;
    let protocol = '';
    for (let i = 0; i < count; i++) {
      const key = `cli:pipe:${i}`;
      protocol += `*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$${String(i).length}\r\n${i}\r\n`;
    }
    const result = await run('redis-cli', ['--pipe'], protocol);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain(`errors: 0, replies: ${count}`);
    expect(await cli('get', 'cli:pipe:0')).toBe('0\n');
    expect(await cli('get', `cli:pipe:${count - 1}`)).toBe(`${count - 1}\n`);
  });
});

describe('redis-benchmark', () => {
  /** The summary lines of -q output ("SET: 9478.67 requests per second, p50=4.007 msec"), progress lines dropped. */
  function summaries(output: string): Map<string, number> {
    const lines = output.split(/[\r\n]+/).map((line) => /^([A-Z]+)(?: \(\d+ keys\))?: ([\d.]+) requests per second/.exec(line.trim()));
    return new Map(lines.flatMap((m) => (m === null ? [] : [[m[1] as string, Number(m[2])] as const])));
  }

  it('-t set,get,incr,mset -n 20000 -q finishes with no errors, and every INCR counted exactly once', async () => {
    const before = Number(await cli('get', 'counter:__rand_int__')); // no -r: the key name stays literal
    const result = await run('redis-benchmark', ['-t', 'set,get,incr,mset', '-n', '20000', '-q']);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).not.toMatch(/error/i);
    const rates = summaries(result.stdout);
    expect([...rates.keys()].sort()).toEqual(['GET', 'INCR', 'MSET', 'SET']);
    for (const rate of rates.values()) expect(rate).toBeGreaterThan(0);
    expect(Number(await cli('get', 'counter:__rand_int__'))).toBe(before + 20_000);
  });

  it('pipelined (-P 16) SET and GET finish with no errors', async () => {
    const result = await run('redis-benchmark', ['-t', 'set,get', '-n', '10000', '-P', '16', '-q']);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout + result.stderr).not.toMatch(/error/i);
    expect([...summaries(result.stdout).keys()].sort()).toEqual(['GET', 'SET']);
  });
});
