// redis-server (the single-node ceiling, with every write fsynced) and redis-benchmark for `npm run bench`.
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { delay } from '../../src/util/async.js';
import { HOST, diskDir, findExecutable, freePorts, type Resources } from '../lib/resources.js';

const REDIS_SERVER_START_TIMEOUT_MS = 10_000;
const REDIS_BENCHMARK_TIMEOUT_MS = 120_000;
const REDIS_BENCHMARK_REQUESTS_MIN = 2_000;
const REDIS_BENCHMARK_REQUESTS_MAX = 5_000_000;
/** A first short run sizes -n of the measured one. */
export const REDIS_BENCHMARK_PROBE_REQUESTS = { unpipelined: 5_000, pipelined: 20_000 } as const;

export const REDIS_INSTALL_HINT = {
  server: 'redis-server not found on PATH: the Redis comparison needs it (Debian: apt-get install -y redis-server)',
  benchmark: 'redis-benchmark not found on PATH: its runs are skipped (Debian: apt-get install -y redis-tools)',
} as const;

export interface RedisTools {
  readonly server: string | null;
  readonly benchmark: string | null;
}

export function findRedisTools(): RedisTools {
  return { server: findExecutable('redis-server'), benchmark: findExecutable('redis-benchmark') };
}

export interface RedisServer {
  readonly child: ChildProcess;
  readonly port: number;
  readonly dir: string;
}

/** redis-server on a free loopback port, AOF with fsync on every write (appendfsync always), on the real disk. */
export async function startRedisServer(resources: Resources, binary: string): Promise<RedisServer> {
  const { dir } = diskDir(resources, 'raftkv-bench-redis-');
  const [port] = (await freePorts(1)) as [number];
  const child = resources.child(
    spawn(
      binary,
      [
        '--port',
        String(port),
        '--bind',
        HOST,
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
        '--dir',
        dir,
        // No background AOF rewrite in the middle of a run.
        '--auto-aof-rewrite-percentage',
        '0',
        '--daemonize',
        'no',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    ),
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const deadline = performance.now() + REDIS_SERVER_START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`redis-server exited at start: ${stderr.trim().slice(-400)}`);
    if (await answersPing(port)) return { child, port, dir };
    if (performance.now() > deadline) {
      await resources.endChild(child);
      throw new Error(`redis-server did not answer PING on port ${port} within ${REDIS_SERVER_START_TIMEOUT_MS} ms`);
    }
    await delay(50);
  }
}

export async function stopRedisServer(resources: Resources, server: RedisServer): Promise<void> {
  await resources.endChild(server.child);
  resources.removeDir(server.dir);
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port });
    let answer = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG'));
    });
  });
}

export interface RedisBenchmarkRun {
  readonly requests: number;
  readonly requestsPerSecond: number;
  readonly avgMillis: number;
  readonly p50Millis: number;
  readonly p95Millis: number;
  readonly p99Millis: number;
  readonly maxMillis: number;
  readonly seconds: number;
  readonly command: string;
}

export interface RedisBenchmarkSpec {
  readonly port: number;
  readonly clients: number;
  readonly valueBytes: number;
  readonly pipeline: number;
  readonly requests: number;
}

/** -n for a run of about `seconds` at `rate` requests/s. */
export function requestsFor(seconds: number, rate: number): number {
  return Math.round(Math.min(REDIS_BENCHMARK_REQUESTS_MAX, Math.max(REDIS_BENCHMARK_REQUESTS_MIN, rate * seconds)));
}

/** One `redis-benchmark -t set` run; parses its CSV summary line. */
export async function redisBenchmark(resources: Resources, binary: string, spec: RedisBenchmarkSpec): Promise<RedisBenchmarkRun> {
  // --csv rather than -q: the same run, and its summary adds p95, p99 and max to -q's rate and p50.
  const args = [
    '-h',
    HOST,
    '-p',
    String(spec.port),
    '-t',
    'set',
    '-n',
    String(spec.requests),
    '-c',
    String(spec.clients),
    '-d',
    String(spec.valueBytes),
    '--csv',
  ];
  if (spec.pipeline > 1) args.push('-P', String(spec.pipeline));
  const started = performance.now();
  const child = resources.child(spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  try {
    const code = await new Promise<number | string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`redis-benchmark ${args.join(' ')}: not done within ${REDIS_BENCHMARK_TIMEOUT_MS} ms`)),
        REDIS_BENCHMARK_TIMEOUT_MS,
      );
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once('exit', (exitCode, signal) => {
        clearTimeout(timer);
        resolve(signal ?? exitCode ?? -1);
      });
    });
    const seconds = (performance.now() - started) / 1000;
    const line = stdout.split('\n').find((l) => l.startsWith('"SET"'));
    if (code !== 0 || line === undefined)
      throw new Error(`redis-benchmark ${args.join(' ')} exited with ${code}: ${(stderr || stdout).trim().slice(-400)}`);
    // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
    const fields = line.split(',').map((field) => Number(field.replace(/"/g, '')));
    const [, rps, avg, , p50, p95, p99, max] = fields as [number, number, number, number, number, number, number, number];
    if (!(rps > 0)) throw new Error(`redis-benchmark printed no rate: ${line}`);
    return {
      requests: spec.requests,
      requestsPerSecond: rps,
      avgMillis: avg,
      p50Millis: p50,
      p95Millis: p95,
      p99Millis: p99,
      maxMillis: max,
      seconds,
      command: `redis-benchmark ${args.join(' ')}`,
    };
  } finally {
    await resources.endChild(child);
  }
}
