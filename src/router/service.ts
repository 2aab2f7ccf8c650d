import type { AddressInfo } from 'node:net';
import type { Supervisor } from '../actor/supervisor.js';
import { isLoopback } from '../util/address.js';
import { ExplorerHub, type ScenarioCatalog } from './explorer.js';
import { ExplorerLoad } from './explorer-load.js';
import { createHttpServer, listen, type ServerTls } from './http-server.js';
import { LIMITS_DEFAULTS, type Limits } from './limits.js';
import { Metrics } from './metrics.js';
import { createRespServer } from './resp-server.js';
import { Router, type RouterLimits } from './router.js';

export interface ServiceOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly httpPort: number;
  readonly respPort: number;
  readonly adminToken: string | null;
  /** Serve HTTPS and the Redis protocol over TLS with this certificate (and require client certificates signed by its `ca`); null or absent: plaintext. */
  readonly tls?: ServerTls | null;
  readonly limits?: Partial<Limits>;
  readonly router?: Partial<RouterLimits>;
  /** How the router's lanes find a new leader (see Router): the supervisor's word (default) or probing the nodes. */
  readonly leaderDiscovery?: 'supervisor' | 'probe';
  /**
   * Every limit in force by name, for GET /v1/status (raftkv cluster gives the whole table's values); by
   * default the front door's and the router's own.
   */
  readonly limitsInForce?: ReadonlyMap<string, number>;
  /** The scenarios the explorer may run (raftkv cluster gives its library); none by default. */
  readonly scenarios?: (hub: ExplorerHub, service: Omit<Service, 'close'>) => ScenarioCatalog;
}

export interface Service {
  readonly router: Router;
  readonly metrics: Metrics;
  readonly explorer: ExplorerHub;
  readonly http: AddressInfo;
  readonly resp: AddressInfo;
  /** Both front doors serve TLS (https://, `redis-cli --tls`). */
  readonly tls: boolean;
  /** Clients must present a certificate (the front doors were given a CA). */
  readonly clientCertificates: boolean;
  close(): Promise<void>;
}

export { isLoopback } from '../util/address.js';
export type { ServerTls } from './http-server.js';

/** Starts the router with its HTTP and Redis-protocol front doors over a running supervisor. */
export async function startService(supervisor: Supervisor, options: ServiceOptions): Promise<Service> {
  if (!isLoopback(options.host) && options.adminToken === null) {
    throw new Error(`binding ${options.host} exposes the admin and fault endpoints: set --admin-token or RAFTKV_ADMIN_TOKEN`);
  }
  const limits: Limits = { ...LIMITS_DEFAULTS, ...options.limits };
  const router = new Router(supervisor, options.router, options.leaderDiscovery);
  const metrics = new Metrics(supervisor, router);
  const explorer = new ExplorerHub(supervisor, limits);
  const load = new ExplorerLoad(router, explorer, limits.explorerLoadInFlightRequestsMax);
  // Set once the service exists (a scenario runs against it); until then no request can ask for one.
  let scenarios = null as ScenarioCatalog | null;
  const catalog: ScenarioCatalog = {
    list: () => scenarios?.list() ?? [],
    running: () => scenarios?.running() ?? null,
    run: (name) => scenarios?.run(name) ?? { ok: false, why: 'unknown', detail: `no scenario ${name}` },
    report: (file) => scenarios?.report(file) ?? null,
  };
  const tls = options.tls ?? null;
  const httpServer = createHttpServer(
    {
      router,
      supervisor,
      limits,
      metrics,
      adminToken: options.adminToken,
      explorer,
      load,
      scenarios: options.scenarios === undefined ? null : catalog,
      limitsInForce: options.limitsInForce ?? new Map(Object.entries({ ...limits, ...router.limits })),
    },
    tls,
  );
  const respServer = createRespServer({ router, supervisor, limits, metrics }, tls);
  // Past twice connectionsMax (the front doors answer and close the ones in between), Node closes a new
  // connection before reading it: count it too, so the cap is seen, not only felt.
  httpServer.on('drop', () => metrics.connectionDropped('http'));
  respServer.on('drop', () => metrics.connectionDropped('resp'));
  const respSockets = new Set<import('node:net').Socket>();
  respServer.on('connection', (socket) => {
    respSockets.add(socket);
    socket.on('close', () => respSockets.delete(socket));
  });
  const http = await listen(httpServer, options.httpPort, options.host);
  const resp = await new Promise<AddressInfo>((resolve, reject) => {
    respServer.once('error', reject);
    respServer.listen(options.respPort, options.host, () => resolve(respServer.address() as AddressInfo));
  });
  const service: Service = {
    router,
    metrics,
    http,
    resp,
    tls: tls !== null,
    clientCertificates: tls?.ca !== undefined,
    explorer,
    async close() {
      load.stop();
      explorer.close();
      router.close();
      httpServer.closeAllConnections();
      for (const socket of respSockets) socket.destroy();
      await Promise.all([
        new Promise<void>((resolve) => httpServer.close(() => resolve())),
        new Promise<void>((resolve) => {
          respServer.close(() => resolve());
        }),
      ]);
    },
  };
  scenarios = options.scenarios?.(explorer, service) ?? null;
  return service;
}
