// Overload (issue 18, item 5) against a 3-node cluster of worker-thread nodes on disk: ten times as many
// requests in flight as the router admits, over HTTP and the Redis protocol at once, are shed at once with the
// registered code (OVERLOADED: HTTP 429 with Retry-After, RESP -TRYAGAIN), definitely (a shed write never
// happens), while every accepted write is acknowledged and readable afterwards, the heap stays under a bound
// derived from the limits, and the cluster answers normally once the load stops. Slow clients (slowloris
// headers, a trickled body, a trickled Redis frame, a client that never reads its replies, an idle Redis
// connection) and connection floods are cut off by their limits and counted in the metrics.
import * as http from 'node:http';
import * as net from 'node:net';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERRORS } from '../../src/protocol/errors.js';
import { startService, type Service } from '../../src/router/service.js';
import { leaderOf, startCluster, strictRedisClient, waitFor, type TestCluster } from './cluster-harness.js';

let cluster: TestCluster;
const services: Service[] = [];
const clients: Redis[] = [];
const sockets = new Set<net.Socket>();
const timers = new Set<NodeJS.Timeout>();

beforeAll(async () => {
  cluster = await startCluster({ nodes: 3, stateMachine: 'kv' });
  await leaderOf(cluster.supervisor);
});

afterAll(async () => {
  for (const timer of timers) clearInterval(timer);
  for (const socket of sockets) socket.destroy();
  for (const c of clients) c.disconnect();
  for (const service of services) await service.close();
  await cluster?.stop();
});

async function service(options: Partial<Parameters<typeof startService>[1]> = {}): Promise<Service> {
  const started = await startService(cluster.supervisor, { host: '127.0.0.1', httpPort: 0, respPort: 0, adminToken: null, ...options });
  services.push(started);
  return started;
}

function redisOf(target: Service): Redis {
  const c = strictRedisClient(target.resp.port);
  clients.push(c);
  return c;
}

interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly text: string;
}

function request(target: Service, method: string, path: string, body?: string, agent: http.Agent | false = false): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers = body === undefined ? {} : { 'content-length': Buffer.byteLength(body) };
    const req = http.request({ host: '127.0.0.1', port: target.http.port, method, path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** One counter's value in a scrape of `target`'s /metrics (0 when the series is absent). */
async function metric(target: Service, name: string, labels: string): Promise<number> {
  const text = await target.metrics.render();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** A raw socket to 127.0.0.1:port, kept for teardown; everything it receives is collected. */
function connect(port: number): Promise<{ socket: net.Socket; received: () => string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, '127.0.0.1', () =>
      resolve({ socket, received: () => Buffer.concat(chunks).toString('latin1'), closed }),
    );
    sockets.add(socket);
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error) => {
      if (!socket.connecting) return; // a reset after connecting shows as 'close'
      reject(error);
    });
  });
}

/** Writes `text` one byte every `everyMs` until the socket closes (a slow client: the trickle is the behaviour under test). */
function trickle(socket: net.Socket, text: string, everyMs: number): void {
  let at = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || at >= text.length) {
      clearInterval(timer);
      timers.delete(timer);
      return;
    }
    socket.write(text[at++] as string);
  }, everyMs);
  timers.add(timer);
}

describe('offered load at ten times what the router admits', () => {
  /** The router admits this many requests at once; the clients keep ten times as many in flight. */
  const ADMITTED = 100;
  const HTTP_CLIENTS = 500;
  const RESP_CONNECTIONS = 20;
  const RESP_PIPELINE = 25;
  const ROUNDS = 6;
  const VALUE = 'v'.repeat(100);
  /** Front-door limits of this service: the heap bound below is derived from them. */
  const LIMITS = { outputBufferBytesMax: 1024 * 1024, respPipelineCommandsMax: 64 };

  it('sheds the excess at once with OVERLOADED (429 + Retry-After, -TRYAGAIN); nothing else fails, no accepted write is lost, the heap stays bounded, and it recovers', async () => {
    const target = await service({ router: { pendingRequestsMax: ADMITTED }, limits: LIMITS });
    const resp = Array.from({ length: RESP_CONNECTIONS }, () => redisOf(target));
    await Promise.all(resp.map((c) => c.connect()));
    const agent = new http.Agent({ keepAlive: true, maxSockets: HTTP_CLIENTS });
    const acked: string[] = [];
    const shed: string[] = [];
    const other: string[] = [];
    const heapBefore = process.memoryUsage().heapUsed;
    let heapPeak = heapBefore;
    const sampler = setInterval(() => (heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed)), 10);
    timers.add(sampler);
    const shedBefore = await metric(target, 'raftkv_router_refusals_total', 'code="OVERLOADED"');

    const httpClient = async (client: number): Promise<void> => {
      for (let round = 0; round < ROUNDS; round++) {
        const key = `load:h:${client}:${round}`;
        const reply = await request(target, 'PUT', `/v1/kv/${key}`, VALUE, agent).catch((error: Error): Reply => ({
          status: -1,
          headers: {},
          text: error.message,
        }));
        if (reply.status === 200) acked.push(key);
        else if (reply.status === 429 && reply.text.includes('"OVERLOADED"') && reply.headers['retry-after'] === '1') shed.push(key);
        else other.push(`${key}: ${reply.status} ${reply.text}`);
      }
    };
    const respClient = async (c: Redis, connection: number): Promise<void> => {
      for (let round = 0; round < ROUNDS; round++) {
        const keys = Array.from({ length: RESP_PIPELINE }, (_, i) => `load:r:${connection}:${round}:${i}`);
        const pipeline = c.pipeline();
        for (const key of keys) pipeline.set(key, VALUE);
        const results = await pipeline.exec().catch((error: Error) => keys.map(() => [error, null] as [Error, null]));
        (results ?? []).forEach(([error, value], i) => {
          const key = keys[i] as string;
          if (error === null && value === 'OK') acked.push(key);
          else if (error !== null && error.message.startsWith(`${ERRORS.OVERLOADED.redis} `)) shed.push(key);
          else other.push(`${key}: ${String(error?.message ?? value)}`);
        });
      }
    };
    await Promise.all([...Array.from({ length: HTTP_CLIENTS }, (_, i) => httpClient(i)), ...resp.map((c, i) => respClient(c, i))]);
    clearInterval(sampler);
    agent.destroy();

    const offered = (HTTP_CLIENTS + RESP_CONNECTIONS * RESP_PIPELINE) * ROUNDS;
    expect(other, 'answers other than OK and OVERLOADED').toEqual([]);
    expect(acked.length + shed.length).toBe(offered);
    expect(shed.length, 'requests shed').toBeGreaterThan(0);
    expect(acked.length, 'requests accepted').toBeGreaterThan(0);
    expect((await metric(target, 'raftkv_router_refusals_total', 'code="OVERLOADED"')) - shedBefore).toBe(shed.length);

    // The heap: what the router admits, what the front doors may buffer per connection, and what the test's own
    // clients hold, plus room for garbage not yet collected (a scavenge's worth of young generation and the old
    // generation's growth before a full collection): a leak or an unbounded queue of the offered load is far above.
    const requestBytes = 1024 + VALUE.length + 64;
    const boundBytes =
      ADMITTED * requestBytes +
      HTTP_CLIENTS * (16 * 1024 + requestBytes) +
      RESP_CONNECTIONS * (LIMITS.respPipelineCommandsMax * requestBytes + LIMITS.outputBufferBytesMax) +
      offered * requestBytes +
      96 * 1024 * 1024;
    console.log(
      `overload: ${offered} offered, ${acked.length} accepted, ${shed.length} shed; heap ${mb(heapBefore)} -> peak ${mb(heapPeak)} (bound +${mb(boundBytes)})`,
    );
    expect(heapPeak - heapBefore).toBeLessThan(boundBytes);

    // Every accepted write is there; no shed write happened (OVERLOADED is definite).
    const reader = resp[0] as Redis;
    for (let at = 0; at < acked.length; at += 500) {
      const keys = acked.slice(at, at + 500);
      expect(await reader.mget(...keys)).toEqual(keys.map(() => VALUE));
    }
    for (let at = 0; at < shed.length; at += 500) {
      const keys = shed.slice(at, at + 500);
      expect(await reader.mget(...keys)).toEqual(keys.map(() => null));
    }

    // Once the load stops, requests one at a time are all served, and none is shed.
    const shedAfterLoad = await metric(target, 'raftkv_router_refusals_total', 'code="OVERLOADED"');
    for (let i = 0; i < 20; i++) {
      expect((await request(target, 'PUT', `/v1/kv/after:${i}`, 'x')).status).toBe(200);
      expect(await reader.set(`after:r:${i}`, 'y')).toBe('OK');
    }
    expect(JSON.parse((await request(target, 'GET', '/v1/kv/after:19')).text)).toMatchObject({ value: 'x' });
    expect(await metric(target, 'raftkv_router_refusals_total', 'code="OVERLOADED"')).toBe(shedAfterLoad);
  });
});

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

describe('slow clients are cut off by their limits, and counted', () => {
  let slow: Service;
  const SLOW_LIMITS = { headersTimeoutMs: 300, requestReceiveTimeoutMs: 600, idleTimeoutMs: 1_000, outputBufferBytesMax: 256 * 1024 };

  beforeAll(async () => {
    slow = await service({ limits: SLOW_LIMITS });
  });

  it('slowloris: HTTP headers trickled a byte at a time get 408 after headersTimeoutMs and the connection closes', async () => {
    const before = await metric(slow, 'raftkv_connections_closed_total', 'api="http",reason="headers-timeout"');
    const { socket, received, closed } = await connect(slow.http.port);
    socket.write('GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n');
    trickle(socket, 'x-slow: ' + 'a'.repeat(10_000), 20);
    await closed;
    expect(received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(await metric(slow, 'raftkv_connections_closed_total', 'api="http",reason="headers-timeout"')).toBe(before + 1);
    expect((await request(slow, 'GET', '/health')).status).toBe(200);
  });

  it('a request body trickled a byte at a time is cut off after requestReceiveTimeoutMs; nothing is written', async () => {
    const before = await metric(slow, 'raftkv_connections_closed_total', 'api="http",reason="request-timeout"');
    const { socket, received, closed } = await connect(slow.http.port);
    socket.write('PUT /v1/kv/trickled HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 10000\r\n\r\n');
    trickle(socket, 'b'.repeat(10_000), 20);
    await closed;
    expect(received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(await metric(slow, 'raftkv_connections_closed_total', 'api="http",reason="request-timeout"')).toBe(before + 1);
    expect((await request(slow, 'GET', '/v1/kv/trickled')).status).toBe(404);
  });

  it('a Redis-protocol command frame trickled a byte at a time is cut off after requestReceiveTimeoutMs; nothing is written', async () => {
    const before = await metric(slow, 'raftkv_connections_closed_total', 'api="resp",reason="request-timeout"');
    const { socket, received, closed } = await connect(slow.resp.port);
    socket.write('*3\r\n$3\r\nSET\r\n$8\r\ntrickled\r\n$10000\r\n');
    trickle(socket, 'c'.repeat(10_000), 20);
    await closed;
    expect(received()).toBe('');
    expect(await metric(slow, 'raftkv_connections_closed_total', 'api="resp",reason="request-timeout"')).toBe(before + 1);
    const check = redisOf(slow);
    await check.connect();
    expect(await check.exists('trickled')).toBe(0);
    check.disconnect();
  });

  it('a Redis-protocol client that pipelines but never reads its replies is closed past outputBufferBytesMax; others are served', async () => {
    const before = await metric(slow, 'raftkv_connections_closed_total', 'api="resp",reason="output-buffer"');
    const { socket, closed } = await connect(slow.resp.port);
    socket.pause(); // never reads
    // 64 KiB echoed per command: far more than the limit and the sockets' kernel buffers together, in all.
    const argument = 'e'.repeat(64 * 1024);
    const echo = Buffer.from(`*2\r\n$4\r\nECHO\r\n$${argument.length}\r\n${argument}\r\n`);
    for (let i = 0; i < 1_024 && !socket.destroyed; i++) socket.write(echo);
    await closed;
    expect(await metric(slow, 'raftkv_connections_closed_total', 'api="resp",reason="output-buffer"')).toBe(before + 1);
    const check = redisOf(slow);
    await check.connect();
    expect(await check.echo('still here')).toBe('still here');
    check.disconnect();
  });

  it('an HTTP client that pipelines GETs but never reads the answers is closed past outputBufferBytesMax; others are served', async () => {
    expect((await request(slow, 'PUT', '/v1/kv/large', 'g'.repeat(64 * 1024))).status).toBe(200);
    const before = await metric(slow, 'raftkv_connections_closed_total', 'api="http",reason="output-buffer"');
    const { socket } = await connect(slow.http.port);
    socket.pause(); // never reads
    // 64 MiB of answers asked in one write (so Node parses every request before any answer backs up).
    socket.write('GET /v1/kv/large?consistency=stale HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n'.repeat(1_024));
    // A FIN or a reset, as the server's buffers fall: a client that does not read may never see the former.
    await waitFor(
      'the non-reading connection cut off',
      async () => (await metric(slow, 'raftkv_connections_closed_total', 'api="http",reason="output-buffer"')) === before + 1,
    );
    expect((await request(slow, 'GET', '/health')).status).toBe(200);
  });

  it('an HTTP client that stops reading with fewer replies than outputBufferBytesMax waiting is closed after idleTimeoutMs', async () => {
    const roomy = await service({ limits: { idleTimeoutMs: 1_000, outputBufferBytesMax: 64 * 1024 * 1024 } });
    expect((await request(roomy, 'PUT', '/v1/kv/large', 'g'.repeat(64 * 1024))).status).toBe(200);
    const before = await metric(roomy, 'raftkv_connections_closed_total', 'api="http",reason="idle"');
    const { socket } = await connect(roomy.http.port);
    socket.pause(); // never reads
    // 32 MiB of answers: more than the sockets' kernel buffers hold, half the output limit.
    socket.write('GET /v1/kv/large?consistency=stale HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n'.repeat(512));
    // The server ends the connection with a FIN, which a client that does not read never gets to: the count says it.
    await waitFor(
      'the stalled connection cut off',
      async () => (await metric(roomy, 'raftkv_connections_closed_total', 'api="http",reason="idle"')) === before + 1,
    );
    expect(await metric(roomy, 'raftkv_connections_closed_total', 'api="http",reason="output-buffer"')).toBe(0);
  });

  it('a Redis-protocol connection idle for idleTimeoutMs is closed (Redis `timeout`)', async () => {
    const before = await metric(slow, 'raftkv_connections_closed_total', 'api="resp",reason="idle"');
    const { socket, received, closed } = await connect(slow.resp.port);
    socket.write('PING\r\n');
    await waitFor('PONG', () => received() === '+PONG\r\n');
    await closed;
    expect(await metric(slow, 'raftkv_connections_closed_total', 'api="resp",reason="idle"')).toBe(before + 1);
  });
});

describe('connection floods', () => {
  const CAP = 8;
  const FLOOD = 200;

  it.each(['resp', 'http'] as const)(
    '%s: connections past connectionsMax are answered OVERLOADED and closed, counted; the open ones keep being served',
    async (api) => {
      const target = await service({ limits: { connectionsMax: CAP } });
      const port = api === 'http' ? target.http.port : target.resp.port;
      const ping = api === 'http' ? 'GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n' : 'PING\r\n';
      const answered = (text: string): boolean => (api === 'http' ? /^HTTP\/1\.1 200 [\s\S]*\r\n\r\n\S/.test(text) : text === '+PONG\r\n');
      // The held connections, each served once so the server surely counts it.
      const held = [];
      for (let i = 0; i < CAP; i++) {
        const connection = await connect(port);
        connection.socket.write(ping);
        await waitFor(`held connection ${i} served`, () => answered(connection.received()));
        held.push(connection);
      }
      const before = await metric(target, 'raftkv_connections_dropped_total', `api="${api}"`);
      const flood = await Promise.all(Array.from({ length: FLOOD }, () => connect(port)));
      await Promise.all(flood.map((f) => f.closed));
      for (const f of flood) {
        if (api === 'resp') expect(f.received()).toBe(`-TRYAGAIN max number of clients reached (connectionsMax ${CAP}); retry later\r\n`);
        else {
          expect(f.received()).toMatch(/^HTTP\/1\.1 429 Too Many Requests\r\n/);
          expect(f.received()).toMatch(/\r\nretry-after: 1\r\n/);
          expect(f.received()).toContain('"code":"OVERLOADED"');
        }
      }
      expect(await metric(target, 'raftkv_connections_dropped_total', `api="${api}"`)).toBe(before + FLOOD);
      // The held connections were not disturbed: each is served again on the same socket.
      for (const [i, connection] of held.entries()) {
        const already = connection.received().length;
        connection.socket.write(ping);
        await waitFor(`held connection ${i} served again`, () => answered(connection.received().slice(already)));
        expect(connection.socket.destroyed).toBe(false);
      }
      // Once one of them goes, a new connection is admitted.
      const first = held[0] as (typeof held)[number];
      first.socket.destroy();
      await first.closed;
      await waitFor('a new connection admitted', async () => {
        const fresh = await connect(port);
        fresh.socket.write(ping);
        const ok = await Promise.race([
          waitFor('an answer', () => answered(fresh.received()), 2_000).then(() => true),
          fresh.closed.then(() => false),
        ]).catch(() => false);
        fresh.socket.destroy();
        return ok;
      });
    },
  );
});
