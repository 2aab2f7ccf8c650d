// Hostile input to the HTTP request path (issue 18, item 6), and the admin token's comparison. One 1-node
// cluster behind the router on 127.0.0.1 (port 0), requests written as raw bytes on a socket so that the
// request target can hold anything HTTP framing allows (percent-encoding, `..`, very long paths, bytes that
// are not UTF-8). Every answer is a success or a well-formed JSON error with a registered code and the status
// the registry gives it; never INTERNAL, never a hang (each request has a deadline). The random requests never
// carry the admin token, so no admin action runs. 160 property requests in all.
import * as net from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERRORS, isErrorCode } from '../../src/protocol/errors.js';
import { isAdminToken } from '../../src/router/http-server.js';
import { startService, type Service } from '../../src/router/service.js';
import { leaderOf, startCluster, type TestCluster } from '../integration/cluster-harness.js';

const TOKEN = 'hostile-admin-token-7f3a';
const REQUEST_MS_MAX = 8_000;
const LIMITS = { keyBytesMax: 64, valueBytesMax: 256, bodyBytesMax: 1_024 };

let cluster: TestCluster;
let service: Service;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 1, stateMachine: 'kv' });
  service = await startService(cluster.supervisor, {
    host: '127.0.0.1',
    httpPort: 0,
    respPort: 0,
    adminToken: TOKEN,
    limits: LIMITS,
    router: { requestTimeoutMs: 2_000 },
  });
  await leaderOf(cluster.supervisor);
}, 60_000);

afterAll(async () => {
  await service?.close();
  await cluster?.stop();
});

interface RawReply {
  readonly status: number;
  readonly headers: Map<string, string>;
  readonly body: Buffer;
}

/** One request, its bytes as given, on a connection of its own; rejects if no whole answer comes in time. */
function rawRequest(head: Buffer, body: Buffer): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(service.http.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${REQUEST_MS_MAX} ms to ${head.toString('latin1').split('\r\n')[0] ?? ''}`));
    }, REQUEST_MS_MAX);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {}); // the server may close first (a body too large): the reply is what came
    socket.on('close', () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      if (end === -1) {
        reject(new Error(`no HTTP answer: ${JSON.stringify(all.toString('latin1').slice(0, 200))}`));
        return;
      }
      const [statusLine = '', ...lines] = all.subarray(0, end).toString('latin1').split('\r\n');
      const headers = new Map(
        lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
      );
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: all.subarray(end + 4) });
    });
    socket.write(Buffer.concat([head, body]));
  });
}

interface HostileRequest {
  readonly method: string;
  /** The request target's bytes (latin1: one char, one byte). */
  readonly target: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Buffer;
}

function send(request: HostileRequest): Promise<RawReply> {
  const lines = [
    `${request.method} ${request.target} HTTP/1.1`,
    `Host: 127.0.0.1:${service.http.port}`,
    'Connection: close',
    ...request.headers.map(([name, value]) => `${name}: ${value}`),
    `Content-Length: ${request.body.byteLength}`,
  ];
  return rawRequest(Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), request.body);
}

/** A request target Node's HTTP parser takes: visible ASCII only (raw bytes past 0x7e are refused before the handler). */
const parsableTarget = (target: string): boolean => /^[\x21-\x7e]*$/.test(target);

/** A success, or the JSON error the registry describes; never INTERNAL. */
function expectWellFormed(request: HostileRequest, reply: RawReply): void {
  const what = `${request.method} ${JSON.stringify(request.target)} -> ${reply.status} ${reply.body.toString('utf8').slice(0, 300)}`;
  if (!parsableTarget(request.target)) {
    // Node's HTTP parser refuses it before the handler: the server still answers in the API's error shape,
    // PROTOCOL_ERROR, and closes the connection (its framing is lost).
    expect(reply.status, what).toBe(400);
    expect(reply.headers.get('connection'), what).toBe('close');
    expect(JSON.parse(reply.body.toString('utf8')), what).toMatchObject({ error: { code: 'PROTOCOL_ERROR', definite: true } });
    return;
  }
  expect(reply.status, what).toBeGreaterThanOrEqual(200);
  expect(reply.status, what).not.toBe(500);
  if (request.method === 'HEAD') return; // no body to read
  if (reply.status < 400) return;
  expect(reply.headers.get('content-type'), what).toBe('application/json');
  const parsed = JSON.parse(reply.body.toString('utf8')) as { error?: { code?: unknown; message?: unknown; definite?: unknown } };
  const code = String(parsed.error?.code);
  expect(isErrorCode(code), what).toBe(true);
  if (!isErrorCode(code)) return;
  expect(code, what).not.toBe('INTERNAL');
  expect(reply.status, what).toBe(ERRORS[code].status);
  expect(parsed.error?.definite, what).toBe(ERRORS[code].definite);
  expect(typeof parsed.error?.message, what).toBe('string');
}

const PATHS = [
  '/v1/kv/',
  '/v1/kv',
  '/v1/members',
  '/v1/members/',
  '/v1/nodes/n1/',
  '/v1/faults/',
  '/v1/leader/transfer',
  '/explorer/',
  '/',
  '/metrics',
  '/health',
  '/ready',
  '/v1/status',
  '/v1/cluster',
  '/v1/snapshot',
  '/v2/',
  '',
];
const asciiSegment = fc.oneof(
  fc.constantFrom('key', 'n1', 'n9', 'kill', 'pause', 'campaign', 'links', 'heal', 'state', 'load', 'scenarios', 'app.js', '..', '.', ''),
  fc.constantFrom('%41', '%E0%A4', '%', '%zz', '%00', '%2F', '%2e%2e', '%C0%AF', '%FF%FE', '%F0%9F%98%80', '%ED%A0%80', '%25', '%0D%0A'),
  fc.string({ unit: fc.constantFrom('a', 'b', '/', '%', '.', '~', '-', '_', '0', 'F', 'E'), maxLength: 12 }),
  fc.integer({ min: 60, max: 3_000 }).map((n) => 'k'.repeat(n)),
);
/** Bytes that are not ASCII, raw in the target (not valid UTF-8 either, read as latin1 bytes). */
const rawSegment = fc.string({ unit: fc.constantFrom('a', 'é', '\u00ff', '\u0080', '\u00c3', '\u00e0'), minLength: 1, maxLength: 6 });
const queryPart = fc.tuple(
  fc.constantFrom('ifIndex', 'limit', 'consistency', 'encoding', 'node', 'redirect', 'token', 'prefix', 'cursor', 'x', ''),
  fc.constantFrom(
    '0',
    '1',
    '-1',
    '1e3',
    '99999999999999999999',
    'base64',
    'stale',
    'linearizable',
    'n1',
    'n9',
    'true',
    'wrong',
    '%E0',
    '',
    '%',
  ),
);
const query = fc.option(
  fc.array(queryPart, { maxLength: 3 }).map((parts) => `?${parts.map(([k, v]) => `${k}=${v}`).join('&')}`),
  { nil: '' },
);
const target = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.tuple(fc.array(asciiSegment, { minLength: 1, maxLength: 2 }), query).map(([keys, q]) => `/v1/kv/${keys.join('/')}${q}`),
  },
  {
    weight: 3,
    arbitrary: fc.tuple(fc.constantFrom(...PATHS), fc.array(asciiSegment, { maxLength: 3 }), query).map(([path, segments, q]) => {
      const joined = `${path}${segments.join('/')}`;
      return `${joined.startsWith('/') ? '' : '/'}${joined}${q}`;
    }),
  },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...PATHS), rawSegment).map(([path, raw]) => `/${path.replace(/^\//, '')}${raw}`) },
);
const jsonBody = fc.oneof(
  fc.constant(''),
  fc.constantFrom(
    '{',
    '[]',
    'null',
    '"x"',
    '{"to":',
    '{"to":"n9"}',
    '{"groups":[["n1"],["n1"]]}',
    '{"drop":2}',
    '{"delayMs":[5,1]}',
    '{"rate":-1}',
  ),
  fc.json({ maxDepth: 2 }),
  fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
  fc.integer({ min: 1_000, max: 1_100 }).map((n) => 'v'.repeat(n)), // around bodyBytesMax
);
const header = fc.constantFrom<readonly [string, string]>(
  ['Authorization', 'Bearer wrong'],
  ['Authorization', 'Bearer '],
  ['Authorization', 'Basic xyz'],
  ['X-Admin-Token', 'hostile-admin-token-7f3b'],
  ['X-Admin-Token', ''],
  ['Origin', 'http://evil.example'],
  ['Origin', 'not a url'],
  ['Content-Type', 'application/json'],
  ['Content-Type', 'text/plain; charset=utf-8'],
  ['X-Raftkv-Redirect', 'true'],
);
const request: fc.Arbitrary<HostileRequest> = fc.record({
  // Methods Node's HTTP parser knows (an unknown one is refused by Node itself before the handler, and CONNECT
  // is a tunnel, not a request).
  method: fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('GET', 'PUT', 'POST', 'DELETE') },
    { weight: 1, arbitrary: fc.constantFrom('HEAD', 'OPTIONS', 'PATCH', 'TRACE', 'PROPFIND', 'MOVE', 'PURGE', 'SEARCH') },
  ),
  target,
  headers: fc.oneof(
    { weight: 3, arbitrary: fc.constant([]) },
    { weight: 2, arbitrary: fc.uniqueArray(header, { maxLength: 2, selector: ([name]) => name.toLowerCase() }) },
  ),
  body: jsonBody.map((text) => Buffer.from(text, 'latin1')),
});

describe('the HTTP request path under hostile input', () => {
  it('random methods, paths, queries, headers and bodies: a success or a registered JSON error, never INTERNAL or a hang', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (r) => expectWellFormed(r, await send(r))),
      { seed: 42, numRuns: 150 },
    );
  }, 120_000);

  it('the server still serves after the hostile requests', async () => {
    const reply = await send({ method: 'GET', target: '/health', headers: [], body: Buffer.alloc(0) });
    expect(reply.status).toBe(200);
  });
});

describe('the admin token', () => {
  it('wrong tokens of every length, and none, are refused; the right one is accepted (constant-time comparison)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 2 * TOKEN.length + 2 }), (given) => {
        expect(isAdminToken(given, TOKEN)).toBe(given === TOKEN);
      }),
      { seed: 43, numRuns: 300 },
    );
    for (let length = 0; length <= 2 * TOKEN.length; length++) {
      if (length <= TOKEN.length) expect(isAdminToken(TOKEN.slice(0, length), TOKEN), `prefix of ${length}`).toBe(length === TOKEN.length);
      else expect(isAdminToken(TOKEN + 'x'.repeat(length - TOKEN.length), TOKEN), `extended to ${length}`).toBe(false);
      expect(isAdminToken('x'.repeat(length), TOKEN)).toBe(false);
    }
    expect(isAdminToken(undefined, TOKEN)).toBe(false);
    expect(isAdminToken(undefined, '')).toBe(false);
    expect(isAdminToken('', '')).toBe(true);
    expect(isAdminToken(TOKEN, TOKEN)).toBe(true);
    expect(isAdminToken('é', 'é')).toBe(true);
    expect(isAdminToken('é', 'e\u0301')).toBe(false);
  });

  it('over HTTP: a wrong token of any length is UNAUTHORIZED; the right one, as bearer, header or ?token=, is served', async () => {
    const wrongs = [TOKEN.slice(0, -1), `${TOKEN}x`, TOKEN.toUpperCase(), '', 'x'.repeat(TOKEN.length), 'x'.repeat(200)];
    for (const wrong of wrongs) {
      for (const headers of [[['Authorization', `Bearer ${wrong}`]], [['X-Admin-Token', wrong]]] as const) {
        const reply = await send({ method: 'GET', target: '/v1/snapshot', headers, body: Buffer.alloc(0) });
        expect(reply.status, `${headers[0][0]}: ${wrong}`).toBe(401);
        expect((JSON.parse(reply.body.toString('utf8')) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED');
      }
      const page = await send({
        method: 'GET',
        target: `/explorer/state?token=${encodeURIComponent(wrong)}`,
        headers: [],
        body: Buffer.alloc(0),
      });
      expect(page.status).toBe(401);
    }
    for (const headers of [[['Authorization', `Bearer ${TOKEN}`]], [['X-Admin-Token', TOKEN]]] as const) {
      const reply = await send({ method: 'GET', target: '/v1/snapshot', headers, body: Buffer.alloc(0) });
      expect(reply.status).toBe(200);
    }
    const page = await send({ method: 'GET', target: `/explorer/state?token=${TOKEN}`, headers: [], body: Buffer.alloc(0) });
    expect(page.status).toBe(200);
  });

  it('with the right token, a malformed member id is INVALID_ARGUMENT; a request Node cannot parse is a JSON PROTOCOL_ERROR', async () => {
    const auth = [['Authorization', `Bearer ${TOKEN}`]] as const;
    for (const [method, target] of [
      ['DELETE', '/v1/members/%E0'],
      ['POST', '/v1/members/%E0/promote'],
    ] as const) {
      const reply = await send({ method, target, headers: auth, body: Buffer.alloc(0) });
      expect(reply.status, `${method} ${target}`).toBe(400);
      expect(JSON.parse(reply.body.toString('utf8'))).toMatchObject({ error: { code: 'INVALID_ARGUMENT' } });
    }
    const unknownMethod = await send({ method: 'A', target: '/v1/kv/x', headers: [], body: Buffer.alloc(0) });
    expect(unknownMethod.status).toBe(400);
    expect(JSON.parse(unknownMethod.body.toString('utf8'))).toMatchObject({ error: { code: 'PROTOCOL_ERROR', definite: true } });
  });
});
