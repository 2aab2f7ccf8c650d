import { createHash, timingSafeEqual } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TlsOptions } from 'node:tls';
import { NodeNotRunningError, type Supervisor } from '../actor/supervisor.js';
import type { KvItem, KvQueryResult, KvResult } from '../kv/commands.js';
import type { MembershipChange, NodeId } from '../raft/types.js';
import { DISK_FAULTS_NONE, validateDiskFaults, type DiskFaults, type DiskRotReport } from '../protocol/disk-faults.js';
import { ERRORS, apiError, type ApiError, type ErrorCode } from '../protocol/errors.js';
import type { ExplorerHub, ScenarioCatalog } from './explorer.js';
import type { ExplorerLoad } from './explorer-load.js';
import { explorerFile, streamEvents } from './explorer-http.js';
import { ConnectionGate, RETRY_AFTER_SECONDS, type Limits } from './limits.js';
import { backupOf } from '../actor/backup.js';
import { packageVersion } from '../util/version.js';
import type { Metrics } from './metrics.js';
import type { ReadResult, Router } from './router.js';

export interface HttpServerDeps {
  readonly router: Router;
  readonly supervisor: Supervisor;
  readonly limits: Limits;
  readonly metrics: Metrics;
  /** Required on admin and fault endpoints, and on the explorer, when not null. */
  readonly adminToken: string | null;
  /** The explorer's event hub; null serves no explorer (404 on its paths). */
  readonly explorer: ExplorerHub | null;
  /** The explorer's load generator; null: none (404 on its path). */
  readonly load: ExplorerLoad | null;
  /** The scenarios the explorer may run against this cluster; null: none (404 on those paths). */
  readonly scenarios: ScenarioCatalog | null;
  /** Every limit in force by name, as GET /v1/status shows them. */
  readonly limitsInForce: ReadonlyMap<string, number>;
}

class HttpError extends Error {
  constructor(
    readonly error: ApiError,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(error.message);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

function fail(code: ErrorCode, message?: string, extra: Record<string, unknown> = {}): never {
  throw new HttpError(apiError(code, message), extra);
}

/** A front door's TLS: PEM text (the command reads the files). */
export interface ServerTls {
  readonly cert: string;
  readonly key: string;
  /** When given, a client must present a certificate signed by it (mutual TLS). */
  readonly ca?: string;
}

/** Lowest TLS version a front door accepts; Node offers 1.3 first, so 1.3 is what current clients get. */
export const FRONT_DOOR_TLS_VERSION_MIN = 'TLSv1.2';

/** The options of a TLS front door (HTTPS and the Redis protocol alike). */
export function serverTlsOptions(tls: ServerTls): TlsOptions {
  return {
    cert: tls.cert,
    key: tls.key,
    minVersion: FRONT_DOOR_TLS_VERSION_MIN,
    maxVersion: 'TLSv1.3',
    ...(tls.ca === undefined ? {} : { ca: tls.ca, requestCert: true, rejectUnauthorized: true }),
  };
}

/**
 * The HTTP API of DESIGN.md: JSON in and out, one error shape, every limit with its own code. With `tls`, the
 * same API over HTTPS (node:https).
 */
export function createHttpServer(deps: HttpServerDeps, tls: ServerTls | null = null): http.Server {
  // Sockets refused past connectionsMax (a request parsed on one before it closes is not served), and sockets
  // whose request body is still arriving (a timeout then is requestReceiveTimeoutMs, not headersTimeoutMs).
  const refused = new WeakSet<Duplex>();
  const receivingBody = new WeakSet<Duplex>();
  // Per connection, the responses not yet handed to the socket: pipelined ones wait in Node behind the one
  // being sent, with their bodies, however many the client sends without reading (see unreadOutputBytes).
  const unsent = new WeakMap<Duplex, Set<http.ServerResponse>>();
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (refused.has(req.socket)) return;
    const socket = req.socket;
    let responses = unsent.get(socket);
    if (responses === undefined) unsent.set(socket, (responses = new Set()));
    responses.add(res);
    const sent = (): void => void responses.delete(res);
    res.once('finish', sent);
    res.once('close', sent);
    if (!req.complete) {
      receivingBody.add(req.socket);
      const received = (): void => void receivingBody.delete(req.socket);
      req.once('end', received);
      req.once('close', received);
    }
    const started = process.hrtime.bigint();
    let route = 'unknown';
    handle(req, res, deps, (r) => (route = r))
      .then((reply) => {
        if (reply === null) return; // streamed
        if (reply.contentType !== undefined) sendFile(res, reply.status, reply.contentType, reply.body as Buffer);
        else send(res, reply.status, reply.body, reply.location !== undefined, reply.location);
      })
      .catch((error: unknown) => {
        const apiErr = error instanceof HttpError ? error.error : apiError('INTERNAL', (error as Error).message);
        const extra = error instanceof HttpError ? error.extra : {};
        const close = apiErr.code === 'BODY_TOO_LARGE';
        const status = ERRORS[apiErr.code].status;
        // A client told to back off is told for how long (RFC 9110 Retry-After): OVERLOADED, QUEUE_FULL.
        if (status === 429) res.setHeader('retry-after', String(RETRY_AFTER_SECONDS));
        send(
          res,
          status,
          { error: { code: apiErr.code, message: apiErr.message, definite: ERRORS[apiErr.code].definite, ...extra } },
          close,
        );
      })
      .finally(() => {
        deps.metrics.observeRequest('http', route, res.statusCode, Number(process.hrtime.bigint() - started) / 1e9);
        watchOutput(socket, responses);
      });
  };
  // A client that does not read its replies: past outputBufferBytesMax of them its connection goes (Redis's
  // client-output-buffer-limit); below it, Node stops reading its requests once replies back up, and the
  // connection goes when the client has taken none of them (no 'drain') for idleTimeoutMs.
  const watched = new WeakSet<Duplex>();
  const watchOutput = (socket: Duplex, responses: ReadonlySet<http.ServerResponse>): void => {
    if (socket.destroyed) return;
    if (unreadOutputBytes(socket, responses) > deps.limits.outputBufferBytesMax) {
      deps.metrics.connectionClosed('http', 'output-buffer');
      socket.destroy();
      return;
    }
    if (watched.has(socket) || unreadOutputBytes(socket, responses) === 0) return;
    // Each 'drain' (the client took what the socket held) starts the clock again while replies wait.
    const arm = (): NodeJS.Timeout => {
      const t = setTimeout(() => {
        stop();
        if (socket.destroyed || unreadOutputBytes(socket, responses) === 0) return;
        deps.metrics.connectionClosed('http', 'idle');
        socket.destroy();
      }, deps.limits.idleTimeoutMs);
      t.unref();
      return t;
    };
    let timer = arm();
    const taken = (): void => {
      clearTimeout(timer);
      if (!socket.destroyed && unreadOutputBytes(socket, responses) > 0) timer = arm();
      else stop();
    };
    const stop = (): void => {
      clearTimeout(timer);
      watched.delete(socket);
      socket.off('drain', taken);
      socket.off('close', stop);
    };
    watched.add(socket);
    socket.on('drain', taken);
    socket.on('close', stop);
  };
  const { headersTimeoutMs, requestReceiveTimeoutMs, connectionsMax } = deps.limits;
  const timeouts: http.ServerOptions = {
    headersTimeout: headersTimeoutMs,
    requestTimeout: requestReceiveTimeoutMs,
    // Node checks both timeouts only this often (30 s by default): a quarter of the shorter, at most a second.
    connectionsCheckingInterval: Math.max(10, Math.min(1_000, Math.floor(Math.min(headersTimeoutMs, requestReceiveTimeoutMs) / 4))),
    // An HTTP/1.1 request without Host is refused in handle(), in the API's error shape, not with Node's bare 400.
    requireHostHeader: false,
  };
  const server: http.Server =
    tls === null ? http.createServer(timeouts, handler) : https.createServer({ ...serverTlsOptions(tls), ...timeouts }, handler);
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 100;
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      deps.metrics.connectionClosed('http', receivingBody.has(socket) ? 'request-timeout' : 'headers-timeout');
    }
    answerClientError(error, socket);
  });
  // Past connectionsMax a new connection is answered 429 OVERLOADED and closed (after the TLS handshake on
  // HTTPS, so the answer can be read); past connectionsRefusingMax more, Node closes it unanswered ('drop').
  const gate = new ConnectionGate(connectionsMax, () => deps.metrics.connectionDropped('http'));
  const body = JSON.stringify({
    error: {
      code: 'OVERLOADED',
      message: `max number of clients reached (connectionsMax ${connectionsMax}); retry later`,
      definite: ERRORS.OVERLOADED.definite,
    },
  });
  const refusal =
    `HTTP/1.1 ${ERRORS.OVERLOADED.status} Too Many Requests\r\ncontent-type: application/json\r\n` +
    `retry-after: ${RETRY_AFTER_SECONDS}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
  server.on(tls === null ? 'connection' : 'secureConnection', (socket: import('node:net').Socket) => {
    if (!gate.admit(socket, refusal)) refused.add(socket);
  });
  server.maxConnections = connectionsMax + deps.limits.connectionsRefusingMax;
  return server;
}

/**
 * Reply bytes a connection holds that its client has not taken: those in the socket's buffer, and the bodies of
 * the pipelined responses Node keeps until the ones before them are sent (a response not yet given the socket).
 */
function unreadOutputBytes(socket: Duplex, responses: ReadonlySet<http.ServerResponse>): number {
  let bytes = socket.writableLength;
  // A response's writableLength is what it holds itself plus, once it has the socket, what the socket holds.
  for (const res of responses) bytes += res.writableLength - (res.socket === null ? 0 : socket.writableLength);
  return bytes;
}

/**
 * A request Node's HTTP parser refuses (an unknown method, bytes outside ASCII in the target, too many header
 * bytes) gets the API's error shape, PROTOCOL_ERROR, instead of Node's bare 400; the connection is closed, as
 * its framing is lost. A request that timed out keeps Node's 408; a socket already gone is destroyed.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    socket.end('HTTP/1.1 408 Request Timeout\r\nconnection: close\r\n\r\n');
    return;
  }
  if (error.code === undefined || !error.code.startsWith('HPE_')) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({
    error: {
      code: 'PROTOCOL_ERROR',
      message: `the request is not valid HTTP/1.1 (${error.code})`,
      definite: ERRORS.PROTOCOL_ERROR.definite,
    },
  });
  socket.end(
    `HTTP/1.1 ${ERRORS.PROTOCOL_ERROR.status} Bad Request\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

function send(res: http.ServerResponse, status: number, body: unknown, close = false, location?: string): void {
  if (res.headersSent) return;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const headers: http.OutgoingHttpHeaders = {
    'content-type': typeof body === 'string' ? 'text/plain; version=0.0.4' : 'application/json',
    'content-length': Buffer.byteLength(text),
  };
  if (close) headers.connection = 'close';
  if (location !== undefined) headers.location = location;
  res.writeHead(status, headers);
  res.end(text);
}

function sendFile(res: http.ServerResponse, status: number, contentType: string, body: Buffer): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': contentType, 'content-length': body.byteLength, 'cache-control': 'no-cache' });
  res.end(body);
}

interface Reply {
  readonly status: number;
  readonly body: unknown;
  /** Set for a file of the explorer's page: the body is its bytes. */
  readonly contentType?: string;
  /** A redirect's target (the connection is closed after it: a request body left unread goes with it). */
  readonly location?: string;
}

/**
 * A client of raftkv node may ask to be sent to the leader rather than have this member forward its request
 * (`?redirect=true`, or the header `x-raftkv-redirect: true`), as etcd's v2 API redirected: 307 Temporary
 * Redirect (the method and body are kept) to the leader's HTTP API, when the leader is another member whose
 * router said where it is. Otherwise (this member's node leads, or no leader or URL is known) the request is
 * served here as usual.
 */
async function redirectToLeader(req: http.IncomingMessage, url: URL, deps: HttpServerDeps): Promise<Reply | null> {
  const asked = url.searchParams.get('redirect') ?? req.headers['x-raftkv-redirect'];
  if (asked !== 'true' && asked !== '1') return null;
  const target = await deps.supervisor.leaderClientUrl();
  if (target === null) return null;
  const location = new URL(url.pathname + url.search, target.url).toString();
  return {
    status: 307,
    body: { error: { code: 'NOT_LEADER', message: `${target.leader} leads: ${location}`, definite: true }, leader: target.leader },
    location,
  };
}

/** The explorer's routes (explorer-http.ts); null when the path is not one of them. */
async function explorerRoute(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
  deps: HttpServerDeps,
  setRoute: (route: string) => void,
): Promise<Reply | null | 'not-explorer'> {
  const path = url.pathname;
  const isPage = path === '/' || path.startsWith('/explorer/');
  if (!isPage) return 'not-explorer';
  setRoute('explorer');
  const hub = deps.explorer;
  if (hub === null) fail('NOT_FOUND', 'this server runs no explorer');
  checkAdmin(req, deps, url);
  if (path.startsWith('/explorer/scenarios') || path.startsWith('/explorer/reports/')) return scenarioRoute(req, path, deps, hub);
  if (path === '/explorer/load') return loadRoute(req, deps, hub);
  if (req.method !== 'GET') fail('METHOD_NOT_ALLOWED');
  if (path === '/explorer/state') return { status: 200, body: hub.state() };
  if (path === '/explorer/events') {
    if (!streamEvents(req, res, url, hub))
      fail('OVERLOADED', `${hub.limits.explorerSubscribersMax} explorer event streams are open (explorerSubscribersMax)`);
    return null;
  }
  const file = await explorerFile(path);
  if (file === null) fail('NOT_FOUND', `no explorer file ${path}`);
  return file;
}

/** POST /explorer/load {"rate":N,"readShare":S}: sets the load generator (rate 0 stops it). */
async function loadRoute(req: http.IncomingMessage, deps: HttpServerDeps, hub: ExplorerHub): Promise<Reply> {
  if (deps.load === null) fail('NOT_FOUND', 'this server runs no load generator');
  if (req.method !== 'POST') fail('METHOD_NOT_ALLOWED');
  const body = await readJson(req, deps);
  const rate = boundedInteger(body.rate, 'rate', 0, deps.limits.explorerLoadRequestsPerSecondMax);
  const readShare = body.readShare === undefined ? 0.5 : probability(body.readShare, 'readShare');
  deps.load.set({ rate, readShare });
  hub.recordAction('POST /explorer/load', null, true, JSON.stringify({ rate, readShare }));
  return { status: 200, body: { rate, readShare } };
}

/** GET /explorer/scenarios, POST /explorer/scenarios/{name}/run, GET /explorer/reports/{file}. */
function scenarioRoute(req: http.IncomingMessage, path: string, deps: HttpServerDeps, hub: ExplorerHub): Reply {
  const catalog = deps.scenarios;
  if (catalog === null) fail('NOT_FOUND', 'this server runs no scenarios');
  const run = /^\/explorer\/scenarios\/([a-z0-9-]+)\/run$/.exec(path);
  if (path === '/explorer/scenarios') {
    if (req.method !== 'GET') fail('METHOD_NOT_ALLOWED');
    return { status: 200, body: { scenarios: catalog.list(), running: catalog.running() } };
  }
  if (run !== null) {
    if (req.method !== 'POST') fail('METHOD_NOT_ALLOWED');
    const name = run[1] as string;
    const started = catalog.run(name);
    if (!started.ok) {
      const code = started.why === 'unknown' ? 'NOT_FOUND' : started.why === 'running' ? 'SCENARIO_RUNNING' : 'INVALID_ARGUMENT';
      hub.recordAction(`POST ${path}`, name, false, `${code}: ${started.detail}`);
      fail(code, started.detail);
    }
    hub.recordAction(`POST ${path}`, name, true, `seed ${started.seed}`);
    return { status: 202, body: { name, seed: started.seed } };
  }
  if (path.startsWith('/explorer/reports/')) {
    if (req.method !== 'GET') fail('METHOD_NOT_ALLOWED');
    const report = catalog.report(path.slice('/explorer/reports/'.length));
    if (report === null) fail('NOT_FOUND', `no report ${path}`);
    return { status: 200, body: report, contentType: 'text/html; charset=utf-8' };
  }
  return fail('NOT_FOUND', `no endpoint ${path}`);
}

async function handle(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  deps: HttpServerDeps,
  setRoute: (route: string) => void,
): Promise<Reply | null> {
  // HTTP/1.1 requires Host (RFC 9112, 3.2); Node's own refusal had no body and no code (found by the fuzzer, test/fuzz).
  if (req.httpVersion === '1.1' && req.headers.host === undefined) fail('PROTOCOL_ERROR', 'an HTTP/1.1 request needs a Host header');
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://localhost');
  } catch {
    return fail('PROTOCOL_ERROR', 'the request target is not a valid URL');
  }
  checkOrigin(req);
  const explorer = await explorerRoute(req, res, url, deps, setRoute);
  if (explorer !== 'not-explorer') return explorer;
  const path = url.pathname;
  const method = req.method ?? 'GET';
  if (path === '/v1/kv' || path.startsWith('/v1/kv/')) {
    const redirect = await redirectToLeader(req, url, deps);
    if (redirect !== null) {
      setRoute('redirect');
      return redirect;
    }
  }
  if (path.startsWith('/v1/kv/')) {
    setRoute('kv');
    const key = decodeKey(path.slice('/v1/kv/'.length), deps.limits);
    const lane = laneFor(req.socket);
    if (method === 'PUT') return putKey(req, url, key, deps, lane);
    if (method === 'GET') return getKey(url, key, deps, lane);
    if (method === 'DELETE') return deleteKey(key, deps, lane);
    fail('METHOD_NOT_ALLOWED');
  }
  if (path === '/v1/kv') {
    setRoute('scan');
    if (method !== 'GET') fail('METHOD_NOT_ALLOWED');
    return scan(url, deps, laneFor(req.socket));
  }
  if (path === '/metrics') {
    setRoute('metrics');
    return { status: 200, body: await deps.metrics.render() };
  }
  if (path === '/health') {
    setRoute('health');
    if (method !== 'GET') fail('METHOD_NOT_ALLOWED');
    return { status: 200, body: { status: 'ok', uptimeSeconds: Math.round(process.uptime()) } };
  }
  if (path === '/ready') {
    setRoute('ready');
    if (method !== 'GET') fail('METHOD_NOT_ALLOWED');
    return readiness(deps);
  }
  if (path === '/v1/status') {
    setRoute('status');
    if (method !== 'GET') fail('METHOD_NOT_ALLOWED');
    return { status: 200, body: await serverStatus(deps) };
  }
  if (path === '/v1/snapshot') {
    setRoute('snapshot');
    if (method !== 'GET') fail('METHOD_NOT_ALLOWED');
    checkAdmin(req, deps);
    return backup(deps);
  }
  if (path === '/v1/cluster') {
    setRoute('cluster');
    if (method !== 'GET') fail('METHOD_NOT_ALLOWED');
    return { status: 200, body: await clusterStatus(deps.supervisor) };
  }
  if (path === '/v1/members' || path.startsWith('/v1/members/')) {
    setRoute('members');
    if (method === 'GET') return membersRoute(req, method, path, deps);
    // A change is an action, in the explorer's log like a kill or a partition.
    try {
      const reply = await membersRoute(req, method, path, deps);
      deps.explorer?.recordAction(`${method} ${path}`, null, true, JSON.stringify((reply.body as { change: unknown }).change));
      return reply;
    } catch (error) {
      if (error instanceof HttpError && error.error.code !== 'NOT_FOUND' && error.error.code !== 'UNAUTHORIZED') {
        deps.explorer?.recordAction(`${method} ${path}`, null, false, `${error.error.code}: ${error.error.message}`);
      }
      throw error;
    }
  }
  setRoute('admin');
  try {
    const reply = await admin(req, method, path, deps);
    deps.explorer?.recordAction(`${method} ${path}`, null, true, JSON.stringify(reply.body));
    return reply;
  } catch (error) {
    // Only actions the server knows: a 404 or a refused token is no action.
    if (error instanceof HttpError && error.error.code !== 'NOT_FOUND' && error.error.code !== 'UNAUTHORIZED') {
      deps.explorer?.recordAction(`${method} ${path}`, null, false, `${error.error.code}: ${error.error.message}`);
    }
    throw error;
  }
}

function decodeKey(raw: string, limits: Limits): Uint8Array {
  let text: string;
  try {
    text = decodeURIComponent(raw);
  } catch {
    return fail('INVALID_ARGUMENT', 'the key is not valid percent-encoding');
  }
  const key = encoder.encode(text);
  if (key.byteLength === 0) fail('KEY_EMPTY');
  if (key.byteLength > limits.keyBytesMax) fail('KEY_TOO_LARGE', `the key is ${key.byteLength} bytes; the limit is ${limits.keyBytesMax}`);
  return key;
}

/** The whole body, refused past `limitBytes`; stream events rather than an async iterator, which costs far more per request. */
function readBody(req: http.IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limitBytes) {
    req.resume();
    fail('BODY_TOO_LARGE', `the body is ${declared} bytes; the limit is ${limitBytes}`);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const onData = (chunk: Buffer): void => {
      total += chunk.byteLength;
      if (total > limitBytes) {
        cleanup();
        req.resume();
        reject(new HttpError(apiError('BODY_TOO_LARGE', `the body exceeds the limit of ${limitBytes} bytes`)));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const onAborted = (): void => onError(new Error('the client closed the connection before the body was complete'));
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

async function readJson(req: http.IncomingMessage, deps: HttpServerDeps): Promise<Record<string, unknown>> {
  const body = await readBody(req, deps.limits.bodyBytesMax);
  if (body.byteLength === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    return fail('INVALID_JSON', `the body is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) fail('INVALID_JSON', 'the body must be a JSON object');
  return parsed as Record<string, unknown>;
}

function integerParam(url: URL, name: string, { min, max }: { min: number; max: number }): number | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null) return undefined;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max)
    fail('INVALID_ARGUMENT', `${name} must be an integer from ${min} to ${max}`);
  return value;
}

function writeFailure(result: { ok: false; error: ApiError }): never {
  throw new HttpError(result.error);
}

/** A read's failure; a pinned read refused by its node adds the leader that node names (`leader`, null if none). */
function readFailure(result: Extract<ReadResult, { ok: false }>): never {
  throw new HttpError(result.error, result.leaderId === undefined ? {} : { leader: result.leaderId });
}

function kvFailure(result: Extract<KvResult, { ok: false }>): never {
  throw new HttpError(apiError(result.code, result.message), { index: result.index });
}

/** Each client connection gets a lane of the router (ROUTER_LANES), as independent clients would. */
const lanes = new WeakMap<object, number>();
let nextLane = 0;
function laneFor(socket: object): number {
  let lane = lanes.get(socket);
  if (lane === undefined) {
    lane = nextLane++;
    lanes.set(socket, lane);
  }
  return lane;
}

async function putKey(req: http.IncomingMessage, url: URL, key: Uint8Array, deps: HttpServerDeps, lane: number): Promise<Reply> {
  const ifIndex = integerParam(url, 'ifIndex', { min: 0, max: Number.MAX_SAFE_INTEGER });
  const value = await readBody(req, deps.limits.bodyBytesMax);
  if (value.byteLength > deps.limits.valueBytesMax)
    fail('VALUE_TOO_LARGE', `the value is ${value.byteLength} bytes; the limit is ${deps.limits.valueBytesMax}`);
  const outcome = await deps.router.write(ifIndex === undefined ? { op: 'put', key, value } : { op: 'put', key, value, ifIndex }, lane);
  if (!outcome.ok) writeFailure(outcome);
  if (!outcome.result.ok) kvFailure(outcome.result);
  return { status: 200, body: { index: outcome.result.index } };
}

function consistencyOf(url: URL): 'linearizable' | 'stale' {
  const raw = url.searchParams.get('consistency') ?? 'linearizable';
  if (raw !== 'linearizable' && raw !== 'stale') fail('INVALID_ARGUMENT', 'consistency must be linearizable or stale');
  return raw;
}

/** `?node=n2`: the read is pinned to that node (the router checks the id: UNKNOWN_NODE otherwise). */
function nodeOf(url: URL): NodeId | null {
  return url.searchParams.get('node');
}

function encodeValue(value: Uint8Array, url: URL): string {
  const encoding = url.searchParams.get('encoding') ?? 'utf8';
  if (encoding === 'base64') return Buffer.from(value).toString('base64');
  if (encoding !== 'utf8') fail('INVALID_ARGUMENT', 'encoding must be utf8 or base64');
  try {
    return utf8.decode(value);
  } catch {
    return fail('VALUE_NOT_UTF8');
  }
}

function itemJson(item: KvItem, url: URL): { key: string; value: string; index: number } {
  return { key: Buffer.from(item.key).toString('utf8'), value: encodeValue(item.value, url), index: item.index };
}

async function getKey(url: URL, key: Uint8Array, deps: HttpServerDeps, lane: number): Promise<Reply> {
  const outcome = await deps.router.read({ op: 'get', keys: [key] }, consistencyOf(url), lane, nodeOf(url));
  if (!outcome.ok) readFailure(outcome);
  const item = (outcome.result as Extract<KvQueryResult, { op: 'get' }>).items[0];
  if (item == null) fail('KEY_NOT_FOUND', `no key ${Buffer.from(key).toString('utf8')}`);
  return { status: 200, body: itemJson(item, url) };
}

async function deleteKey(key: Uint8Array, deps: HttpServerDeps, lane: number): Promise<Reply> {
  const outcome = await deps.router.write({ op: 'delete', keys: [key] }, lane);
  if (!outcome.ok) writeFailure(outcome);
  if (!outcome.result.ok) kvFailure(outcome.result);
  return { status: 200, body: { deleted: (outcome.result.deleted ?? 0) > 0, index: outcome.result.index } };
}

async function scan(url: URL, deps: HttpServerDeps, lane: number): Promise<Reply> {
  const prefix = encoder.encode(url.searchParams.get('prefix') ?? '');
  if (prefix.byteLength > deps.limits.keyBytesMax) fail('KEY_TOO_LARGE', 'the prefix is larger than the key limit');
  const limit = integerParam(url, 'limit', { min: 1, max: deps.limits.scanItemsMax }) ?? 100;
  // Paging: the next page starts after the last key of this one; `more` says whether there is one.
  const afterText = url.searchParams.get('after');
  const after = afterText === null ? null : encoder.encode(afterText);
  if (after !== null && after.byteLength > deps.limits.keyBytesMax) fail('KEY_TOO_LARGE', 'after is larger than the key limit');
  const outcome = await deps.router.read({ op: 'scan', prefix, after, limit }, consistencyOf(url), lane, nodeOf(url));
  if (!outcome.ok) readFailure(outcome);
  const result = outcome.result as Extract<KvQueryResult, { op: 'scan' }>;
  return { status: 200, body: { items: result.items.map((item) => itemJson(item, url)), index: outcome.index, more: result.more } };
}

/**
 * Ready: this router reaches a leader and that leader confirms it still leads a quorum (one ReadIndex round,
 * pinned to it, bounded by attemptTimeoutMs), so a request sent now can be served. 503 with the reason when
 * not, for a load balancer or a Kubernetes readiness probe.
 */
async function readiness(deps: HttpServerDeps): Promise<Reply> {
  const confirmed = await confirmLeader(deps);
  if (!confirmed.ok) return { status: 503, body: { ready: false, leader: confirmed.leader, reason: confirmed.reason } };
  return { status: 200, body: { ready: true, leader: confirmed.leader, term: deps.supervisor.leaderTerm, appliedIndex: confirmed.index } };
}

/**
 * The leader as the router knows it, confirmed by one ReadIndex round pinned to it (bounded by the router's
 * attempt timeout): it still leads a quorum, and has applied everything committed before the call.
 */
async function confirmLeader(
  deps: HttpServerDeps,
): Promise<{ ok: true; leader: NodeId; index: number } | { ok: false; leader: NodeId | null; code: ErrorCode; reason: string }> {
  const leader = deps.supervisor.leaderId;
  if (leader === null) {
    return { ok: false, leader, code: 'NO_LEADER', reason: 'no leader: an election is under way, or too few nodes are up to elect one' };
  }
  const read = await deps.router.read({ op: 'size' }, 'linearizable', 0, leader);
  if (!read.ok) {
    return {
      ok: false,
      leader,
      code: read.error.code,
      reason: `the leader ${leader} did not confirm a quorum: ${read.error.code}: ${read.error.message}`,
    };
  }
  return { ok: true, leader, index: read.index };
}

/**
 * GET /v1/snapshot: a backup file (src/storage/backup.ts) of the leader's state machine. The leader first
 * confirms it still leads and applies up to that point (a ReadIndex pinned to it), so every write acknowledged
 * before the request is in the backup; then its state as of its applied index is taken, in one turn.
 */
async function backup(deps: HttpServerDeps): Promise<Reply> {
  const confirmed = await confirmLeader(deps);
  if (!confirmed.ok) fail(confirmed.code, `no backup: ${confirmed.reason}`);
  let file: Uint8Array;
  try {
    file = await backupOf(deps.supervisor, confirmed.leader);
  } catch (error) {
    if (error instanceof NodeNotRunningError) fail('NODE_STOPPED', error.message);
    throw error;
  }
  return { status: 200, body: Buffer.from(file.buffer, file.byteOffset, file.byteLength), contentType: 'application/octet-stream' };
}

/** GET /v1/status: what an operator asks first (after Consul's /v1/agent/self and etcd's /version). */
async function serverStatus(deps: HttpServerDeps): Promise<unknown> {
  const { supervisor } = deps;
  return {
    version: packageVersion(),
    clusterId: supervisor.identity?.clusterId ?? null,
    uptimeSeconds: Math.round(process.uptime()),
    dataDir: supervisor.options.dataDir,
    durable: supervisor.options.durable,
    ...((await clusterStatus(supervisor)) as object),
    limits: Object.fromEntries(deps.limitsInForce),
  };
}

async function clusterStatus(supervisor: Supervisor): Promise<unknown> {
  const nodes = await supervisor.status();
  return {
    leader: supervisor.leaderId,
    term: supervisor.leaderTerm,
    nodes: nodes.map((n) => ({
      id: n.id,
      status: n.status,
      role: n.raft?.role ?? null,
      term: n.raft?.term ?? null,
      commitIndex: n.raft?.commitIndex ?? null,
      appliedIndex: n.raft?.appliedIndex ?? null,
      lastLogIndex: n.raft?.lastIndex ?? null,
      snapshotIndex: n.raft?.snapshotIndex ?? null,
    })),
  };
}

/**
 * GET /v1/members (the configuration as the leader knows it), POST /v1/members {"id","learner","address"} (add),
 * POST /v1/members/{id}/promote, DELETE /v1/members/{id}: one change at a time, answered once committed. The
 * changes need the admin token; listing does not.
 */
async function membersRoute(req: http.IncomingMessage, method: string, path: string, deps: HttpServerDeps): Promise<Reply> {
  const { supervisor } = deps;
  const promote = /^\/v1\/members\/([^/]+)\/promote$/.exec(path);
  const one = /^\/v1\/members\/([^/]+)$/.exec(path);
  let change: MembershipChange;
  if (path === '/v1/members') {
    if (method === 'GET') return { status: 200, body: await supervisor.members() };
    if (method !== 'POST') fail('METHOD_NOT_ALLOWED');
    checkAdmin(req, deps);
    const body = await readJson(req, deps);
    if (typeof body.id !== 'string' || body.id === '') fail('INVALID_ARGUMENT', "id must be the new member's id");
    if (body.learner !== undefined && typeof body.learner !== 'boolean') fail('INVALID_ARGUMENT', 'learner must be true or false');
    if (body.address !== undefined && typeof body.address !== 'string') fail('INVALID_ARGUMENT', 'address must be host:port');
    const kind = body.learner === true ? 'add-learner' : 'add-voter';
    change = body.address === undefined ? { kind, id: body.id } : { kind, id: body.id, address: body.address };
  } else if (promote !== null) {
    if (method !== 'POST') fail('METHOD_NOT_ALLOWED');
    checkAdmin(req, deps);
    change = { kind: 'promote', id: memberIdParam(promote[1] as string) };
  } else if (one !== null) {
    if (method !== 'DELETE') fail('METHOD_NOT_ALLOWED');
    checkAdmin(req, deps);
    change = { kind: 'remove', id: memberIdParam(one[1] as string) };
  } else return fail('NOT_FOUND', `no endpoint ${method} ${path}`);
  const outcome = await supervisor.changeMembership(change, { timeoutMs: deps.router.limits.requestTimeoutMs });
  if (!outcome.ok) fail(outcome.code === 'NOT_LEADER' ? 'NO_LEADER' : outcome.code, outcome.message);
  return { status: 200, body: { change, index: outcome.index, members: await supervisor.members() } };
}

/** A member id from the path, percent-decoded; malformed percent-encoding is INVALID_ARGUMENT, never a 500. */
function memberIdParam(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return fail('INVALID_ARGUMENT', 'the member id is not valid percent-encoding');
  }
}

/**
 * A browser sends Origin with every POST (and with cross-origin requests): a page of another origin may not
 * act on this server, or a site the user visits could kill nodes on their loopback cluster (a POST with a
 * text/plain body needs no CORS preflight). Clients that are not browsers (curl, the bench, redis tools) send
 * no Origin and are not affected; the explorer's own page has this server's origin.
 */
function checkOrigin(req: http.IncomingMessage): void {
  const origin = req.headers.origin;
  if (origin === undefined) return;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return fail('FORBIDDEN_ORIGIN', `Origin ${origin} is not a URL`);
  }
  if (host !== req.headers.host) fail('FORBIDDEN_ORIGIN', `a page of ${origin} may not call ${req.headers.host ?? 'this server'}`);
}

/** The admin token, when one is set: as a bearer token, an x-admin-token header, or (the explorer's page only) ?token=. */
function checkAdmin(req: http.IncomingMessage, deps: HttpServerDeps, url: URL | null = null): void {
  if (deps.adminToken === null) return;
  const header = req.headers.authorization ?? '';
  const token = header.startsWith('Bearer ')
    ? header.slice(7)
    : ((req.headers['x-admin-token'] as string | undefined) ?? url?.searchParams.get('token') ?? undefined);
  if (!isAdminToken(token, deps.adminToken)) fail('UNAUTHORIZED');
}

const tokenDigest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/**
 * Whether `given` is the admin token, in a time that tells nothing about either: both are hashed (SHA-256) and
 * the digests, always 32 bytes, compared with timingSafeEqual, so neither a matching prefix nor the token's
 * length shows in how long a refusal takes. No token given never matches, even an empty admin token.
 */
export function isAdminToken(given: string | undefined, adminToken: string): boolean {
  const same = timingSafeEqual(tokenDigest(given ?? ''), tokenDigest(adminToken));
  return given !== undefined && same;
}

function nodeIdParam(value: unknown, supervisor: Supervisor, name: string): NodeId {
  if (typeof value !== 'string' || !supervisor.ids.includes(value))
    fail('UNKNOWN_NODE', `${name} must be one of ${supervisor.ids.join(', ')}`);
  return value;
}

async function admin(req: http.IncomingMessage, method: string, path: string, deps: HttpServerDeps): Promise<Reply> {
  const { supervisor } = deps;
  const nodeAction = /^\/v1\/nodes\/([^/]+)\/(kill|restart|pause|resume)$/.exec(path);
  const actorFault = /^\/v1\/nodes\/([^/]+)\/(crash|hang|slow|flood)$/.exec(path);
  const campaign = /^\/v1\/nodes\/([^/]+)\/campaign$/.exec(path);
  const known =
    nodeAction !== null ||
    actorFault !== null ||
    campaign !== null ||
    ['/v1/faults/partition', '/v1/faults/links', '/v1/faults/heal', '/v1/faults/disk', '/v1/leader/transfer'].includes(path);
  if (!known) fail('NOT_FOUND', `no endpoint ${method} ${path}`);
  if (method !== 'POST') fail('METHOD_NOT_ALLOWED');
  checkAdmin(req, deps);
  if (nodeAction !== null) {
    const id = nodeIdParam(nodeAction[1], supervisor, 'the node');
    const action = nodeAction[2] as 'kill' | 'restart' | 'pause' | 'resume';
    const state = supervisor.stateOf(id);
    if ((action === 'pause' || action === 'resume') && state !== 'running' && state !== 'paused')
      fail('NODE_STOPPED', `${id} is ${state}: only a running or paused node can be paused or resumed`);
    await supervisor[action](id);
    deps.metrics.nodeAction(action);
    return { status: 200, body: { id, status: supervisor.stateOf(id) } };
  }
  if (campaign !== null) {
    const id = nodeIdParam(campaign[1], supervisor, 'the node');
    let outcome: Awaited<ReturnType<Supervisor['forceElection']>>;
    try {
      outcome = await supervisor.forceElection(id);
    } catch (error) {
      if (error instanceof NodeNotRunningError) fail('NODE_STOPPED', error.message);
      throw error;
    }
    if (!outcome.ok) fail(outcome.code, outcome.message);
    return { status: 200, body: { id, campaign: true } };
  }
  const body = await readJson(req, deps);
  if (actorFault !== null) return injectActorFault(nodeIdParam(actorFault[1], supervisor, 'the node'), actorFault[2] as string, body, deps);
  switch (path) {
    case '/v1/faults/partition': {
      const groups = body.groups;
      if (!Array.isArray(groups) || groups.some((g) => !Array.isArray(g)))
        fail('INVALID_ARGUMENT', 'groups must be an array of arrays of node ids');
      const checked = (groups as unknown[][]).map((g) => g.map((id) => nodeIdParam(id, supervisor, 'every group member')));
      await supervisor.partition(checked);
      return { status: 200, body: { groups: checked } };
    }
    case '/v1/faults/links': {
      const faults: { cut?: boolean; drop?: number; duplicate?: number; delayMs?: [number, number] } = {};
      if (body.cut !== undefined) {
        if (typeof body.cut !== 'boolean') fail('INVALID_ARGUMENT', 'cut must be true or false');
        faults.cut = body.cut;
      }
      if (body.drop !== undefined) faults.drop = probability(body.drop, 'drop');
      if (body.duplicate !== undefined) faults.duplicate = probability(body.duplicate, 'duplicate');
      if (body.delayMs !== undefined) {
        const d = body.delayMs;
        if (
          !Array.isArray(d) ||
          d.length !== 2 ||
          !d.every((v) => typeof v === 'number' && v >= 0 && v <= 60_000) ||
          (d[0] as number) > (d[1] as number)
        ) {
          fail('INVALID_ARGUMENT', 'delayMs must be [min, max] milliseconds, 0 <= min <= max <= 60000');
        }
        faults.delayMs = [d[0] as number, d[1] as number];
      }
      const target: { from?: NodeId; to?: NodeId } = {};
      if (body.from !== undefined) target.from = nodeIdParam(body.from, supervisor, 'from');
      if (body.to !== undefined) target.to = nodeIdParam(body.to, supervisor, 'to');
      await supervisor.setLinkFaults(target, faults);
      return { status: 200, body: { ...target, ...faults } };
    }
    case '/v1/faults/heal':
      await supervisor.heal();
      return { status: 200, body: { healed: true } };
    case '/v1/faults/disk':
      return injectDiskFaults(body, supervisor);
    default: {
      const to = nodeIdParam(body.to, supervisor, 'to');
      if (supervisor.stateOf(to) !== 'running')
        fail('NODE_STOPPED', `${to} is ${supervisor.stateOf(to)}: leadership goes only to a running node`);
      const outcome = await supervisor.transferLeadership(to);
      if (!outcome.ok) fail(outcome.code === 'NOT_LEADER' ? 'NO_LEADER' : outcome.code, outcome.message);
      return { status: 200, body: { to } };
    }
  }
}

/**
 * POST /v1/faults/disk {"node":"n1", ...DiskFaults, "clear"?: true, "rot"?: {"target":"wal"|"snapshot","kind":"flip"|"truncate"}}:
 * a node's disk faults (src/protocol/disk-faults.ts); fields not named stay as they were, `clear` ends them all.
 */
async function injectDiskFaults(body: Record<string, unknown>, supervisor: Supervisor): Promise<Reply> {
  const id = nodeIdParam(body.node, supervisor, 'node');
  const { node: _node, clear, rot, ...settings } = body;
  if (clear !== undefined && typeof clear !== 'boolean') fail('INVALID_ARGUMENT', 'clear must be true or false');
  let faults: Partial<DiskFaults> = {};
  try {
    faults = clear === true ? DISK_FAULTS_NONE : validateDiskFaults(settings);
  } catch (error) {
    fail('INVALID_ARGUMENT', (error as Error).message);
  }
  let rotted: DiskRotReport | null = null;
  if (rot !== undefined) {
    const { target, kind } = (typeof rot === 'object' && rot !== null ? rot : {}) as Record<string, unknown>;
    if ((target !== 'wal' && target !== 'snapshot') || (kind !== 'flip' && kind !== 'truncate'))
      fail('INVALID_ARGUMENT', 'rot must be {"target": "wal" | "snapshot", "kind": "flip" | "truncate"}');
    if (supervisor.stateOf(id) !== 'running')
      fail('NODE_STOPPED', `${id} is ${supervisor.stateOf(id)}: only a running node's disk can rot`);
    try {
      rotted = await supervisor.rotDisk(id, { target, kind });
    } catch (error) {
      fail('INVALID_ARGUMENT', (error as Error).message);
    }
  }
  const state = await supervisor.setDiskFaults(id, faults);
  return {
    status: 200,
    body: { node: id, faults: state?.faults ?? supervisor.diskFaultsOf(id), injected: state?.injected ?? null, rot: rotted },
  };
}

/** POST /v1/nodes/{id}/crash, /hang, /slow {"ms":N}, /flood {"messages":N}: the actor faults (Supervisor.actorFault). */
async function injectActorFault(id: NodeId, kind: string, body: Record<string, unknown>, deps: HttpServerDeps): Promise<Reply> {
  let fault: Parameters<Supervisor['actorFault']>[1];
  if (kind === 'slow') fault = { kind, ms: boundedInteger(body.ms, 'ms', 0, deps.limits.slowTurnMsMax) };
  else if (kind === 'flood') fault = { kind, messages: boundedInteger(body.messages, 'messages', 1, deps.limits.floodMessagesMax) };
  else fault = { kind: kind as 'crash' | 'hang' };
  try {
    await deps.supervisor.actorFault(id, fault);
  } catch (error) {
    if (error instanceof NodeNotRunningError) fail('NODE_STOPPED', error.message);
    throw error;
  }
  return { status: 200, body: { id, fault: kind, ...fault } };
}

function boundedInteger(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    fail('INVALID_ARGUMENT', `${name} must be an integer from ${min} to ${max}`);
  return value;
}

function probability(value: unknown, name: string): number {
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) fail('INVALID_ARGUMENT', `${name} must be a number from 0 to 1`);
  return value;
}

export function listen(server: http.Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}
