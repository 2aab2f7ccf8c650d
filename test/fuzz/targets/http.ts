// Fuzz target: the HTTP request path (src/router/http-server.ts behind Node's HTTP parser): the input is the
// raw bytes a client writes on one connection (it then half-closes it), served by a 1-node KV cluster behind
// the router on 127.0.0.1. The admin token is never in the inputs, so no admin action (a kill, a partition)
// runs; the admin endpoints are reached only as far as their refusal. Oracles (as
// test/unit/hostile-http.test.ts): every answer on the connection is a success or a JSON error with a
// registered code, the status and `definite` the registry gives it, never INTERNAL or 500; the server closes the
// connection within REPLY_MS_MAX (no hang).
import * as net from 'node:net';
import { ERRORS, isErrorCode } from '../../../src/protocol/errors.js';
import { startService, type Service } from '../../../src/router/service.js';
import { leaderOf, startCluster, type TestCluster } from '../../integration/cluster-harness.js';
import { check, FuzzDefect, type FuzzTarget } from '../target.js';

const TOKEN = 'fuzz-admin-token-0d9e6c2a41f7b385';
const LIMITS = { keyBytesMax: 64, valueBytesMax: 256, bodyBytesMax: 1_024 };
/** From the client's half-close to the server's close: far above any answer of a 1-node cluster. */
const REPLY_MS_MAX = 10_000;

let cluster: TestCluster | null = null;
let service: Service | null = null;

async function open(): Promise<void> {
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
}

async function close(): Promise<void> {
  await service?.close();
  await cluster?.stop();
  service = null;
  cluster = null;
}

/** Writes the bytes, half-closes, and returns all the server wrote before it closed. */
function exchange(port: number, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new FuzzDefect(`the server did not close the connection within ${REPLY_MS_MAX} ms of the client's end`));
    }, REPLY_MS_MAX);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {}); // a reset after a refusal: the answer is what came before it
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    socket.end(data);
  });
}

interface Answer {
  readonly status: number;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: Buffer;
}

/** The answers in what the server wrote, in order (1xx interim answers skipped); a HEAD's has no body. */
function answersIn(bytes: Buffer): Answer[] {
  const answers: Answer[] = [];
  let at = 0;
  while (at < bytes.byteLength) {
    const end = bytes.indexOf('\r\n\r\n', at);
    check(end !== -1, `an answer cut inside its head: ${JSON.stringify(bytes.subarray(at, at + 200).toString('latin1'))}`);
    const [statusLine = '', ...lines] = bytes.subarray(at, end).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3}) /.exec(statusLine)?.[1]);
    check(
      Number.isInteger(status),
      `not an HTTP status line: ${JSON.stringify(statusLine)} in ${JSON.stringify(bytes.toString('latin1').slice(0, 800))}`,
    );
    const headers = new Map(
      lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
    );
    at = end + 4;
    const length = Number(headers.get('content-length') ?? '0');
    const bodiless = status < 200 || bytes.subarray(at, at + 9).toString('latin1') === 'HTTP/1.1 ' || at + length > bytes.byteLength;
    const body = bodiless ? Buffer.alloc(0) : bytes.subarray(at, at + length);
    at += body.byteLength;
    if (status >= 200) answers.push({ status, headers, body });
  }
  return answers;
}

function checkAnswer(answer: Answer): void {
  const what = `${answer.status} ${answer.body.toString('utf8').slice(0, 300)}`;
  check(answer.status !== 500, `a 500: ${what}`);
  if (answer.status < 400 || answer.body.byteLength === 0) return; // a success, or a HEAD's error (no body)
  if (answer.status === 408) return; // Node's own answer to a request that timed out
  check(answer.headers.get('content-type') === 'application/json', `an error that is not JSON: ${what}`);
  let parsed: { error?: { code?: unknown; message?: unknown; definite?: unknown } };
  try {
    parsed = JSON.parse(answer.body.toString('utf8')) as typeof parsed;
  } catch {
    throw new FuzzDefect(`an error body that does not parse: ${what}`);
  }
  const code = String(parsed.error?.code);
  check(isErrorCode(code), `an error with an unregistered code: ${what}`);
  check(code !== 'INTERNAL', `INTERNAL: ${what}`);
  check(answer.status === ERRORS[code].status, `${code} with status ${answer.status}, not ${ERRORS[code].status}: ${what}`);
  check(parsed.error?.definite === ERRORS[code].definite, `${code} with definite ${String(parsed.error?.definite)}: ${what}`);
  check(typeof parsed.error?.message === 'string', `an error without a message: ${what}`);
}

async function run(data: Buffer): Promise<void> {
  if (service === null) throw new Error('the http target was not opened');
  const reply = await exchange(service.http.port, data);
  for (const answer of answersIn(reply)) checkAnswer(answer);
}

export const httpTarget: FuzzTarget = {
  name: 'http',
  description: 'the HTTP request path: raw request bytes on a connection to the router of a 1-node KV cluster',
  coverage: ['src/router/http-server', 'src/router/explorer-http'],
  dictionary: [
    'GET ',
    'PUT ',
    'POST ',
    'DELETE ',
    'HEAD ',
    'OPTIONS ',
    ' HTTP/1.1\r\n',
    '\r\n',
    '\r\n\r\n',
    'Host: 127.0.0.1\r\n',
    'Content-Length: ',
    'Transfer-Encoding: chunked\r\n',
    'Connection: keep-alive\r\n',
    'Origin: http://evil.example\r\n',
    'Authorization: Bearer x\r\n',
    'X-Admin-Token: x\r\n',
    'X-Raftkv-Redirect: true\r\n',
    'Expect: 100-continue\r\n',
    '/v1/kv/',
    '/v1/kv',
    '/v1/members/',
    '/v1/nodes/n1/',
    '/v1/faults/',
    '/v1/leader/transfer',
    '/explorer/',
    '/metrics',
    '/health',
    '/ready',
    '/v1/status',
    '/v1/cluster',
    '/v1/snapshot',
    '?ifIndex=',
    '?limit=',
    '?consistency=stale',
    '?encoding=base64',
    '?node=n1',
    '?redirect=true',
    '?prefix=',
    '&cursor=',
    '%',
    '%E0',
    '%00',
    '%2F',
    '..',
    '{',
    '}',
    '"to":"n1"',
    '"value":',
  ],
  inputBytesMax: 2048,
  inputMsMax: REPLY_MS_MAX + 2_000,
  open,
  run,
  close,
};
