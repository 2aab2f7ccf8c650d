import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createSecureContext } from 'node:tls';
import { parseArgs } from 'node:util';
import { CLUSTER_NODES_MAX, Supervisor } from '../actor/supervisor.js';
import { recordedNodes } from '../storage/data-dir.js';
import { formatLimits, LIMITS_TABLE, LimitsError, resolveLimits, type LimitsInForce } from '../config/limits.js';
import { isLoopback, startService, type ServerTls, type Service, type ServiceOptions as StartServiceOptions } from '../router/service.js';
import { formatHostPort } from '../util/address.js';
import { runScenario } from '../chaos/runner.js';
import { loadScenario, reportResult } from './chaos-command.js';
import { startConsole } from './console.js';
import { SCENARIO_DIR, scenarioCatalog } from './explorer-scenarios.js';
import { UsageError } from './usage-error.js';
import {
  createLogger,
  isLogFormat,
  isLogLevel,
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFormat,
  type LogLevel,
  type LogSink,
} from '../util/log.js';

const SETTABLE_LIMITS = LIMITS_TABLE.filter((row) => row.flag !== null && row.name !== 'tickMs');

/** The usage lines of the options `raftkv cluster` and `raftkv node` share (SERVICE_OPTION_SPECS). */
export const SERVICE_USAGE_LINES = `  --host HOST      address the HTTP and Redis-protocol servers bind (default 127.0.0.1)
  --http-port P    HTTP API port (default 7379; 0 picks a free port)
  --resp-port P    Redis-protocol port (default 6380; 0 picks a free port)
  --admin-token T  token for the admin and fault endpoints (or RAFTKV_ADMIN_TOKEN); required off loopback
  --tls-cert FILE  serve HTTPS and the Redis protocol over TLS (1.2 or 1.3) with this PEM certificate (chain);
  --tls-key FILE   and its PEM private key: both or neither (raftkv certs makes a pair)
  --tls-ca FILE    with --tls-cert: require client certificates signed by this PEM CA (mutual TLS)
  --tick-ms MS     length of one Raft tick in milliseconds (default 10)
  --read-mode M    safe (default: each batch of linearizable reads confirmed by a heartbeat round) or lease (a
                   leader lease: no round while a quorum acknowledged one recently; safe only while the nodes'
                   clocks run within the bound docs/SIMULATOR.md derives)
  --timing T       normal (default: elections after 150-300 ms, heartbeats every 30 ms) or demo, slow enough to
                   watch in the explorer (100 ms ticks: elections after 2-4 s, heartbeats every 0.5 s); the tick
                   and election flags still override it
  --print-limits   print every limit with the value in force (after the flags below), its unit and flag; exit
  --log-format F   pretty (default: HH:MM:SS.mmm LEVEL [node term] message; start-up lines as they are) or json
                   (one object per line on stdout: time, level, node, term, msg)
  --log-level L    trace, debug, info (default), warn or error: the lines below it are not written
limits (positive integers; units in the names; cross-checked at start, see docs/LIMITS.md):
${SETTABLE_LIMITS.map((row) => `  ${row.flag} N`.padEnd(34) + row.description).join('\n')}`;

export const CLUSTER_USAGE = `usage: raftkv cluster [options]
  --config FILE    settings from a YAML file whose keys are these options' names (data-dir: ./data); RAFTKV_*
                   environment variables (RAFTKV_DATA_DIR) override it, and options given here override both
  --nodes N        number of Raft nodes, 1 to ${CLUSTER_NODES_MAX} (default 3)
  --data-dir DIR   where each node keeps its log and snapshots, one sub-folder per node (default ./data)
  --memory         keep nothing on disk: nodes survive their own restarts, nothing survives the cluster
  --processes      run each node as a child process of its own, the nodes talking TCP on loopback, instead of
                   as worker threads talking over MessagePorts (kill is then a SIGKILL of the node's process)
  --scenario FILE  run a failure-injection scenario (scenarios/*.yaml) against this cluster, report, keep running
${SERVICE_USAGE_LINES}`;

export interface ClusterCommandOptions {
  readonly nodes: number;
  readonly dataDir: string;
  readonly memory: boolean;
  /** Each node a child process over TCP on loopback, not a worker thread. */
  readonly processes: boolean;
  readonly tickMs: number;
  readonly host: string;
  readonly httpPort: number;
  readonly respPort: number;
  readonly adminToken: string | null;
  /** --tls-cert/--tls-key (and --tls-ca), read: the front doors serve TLS; null: plaintext. */
  readonly tls: ServerTls | null;
  readonly scenario: string | null;
  readonly limits: LimitsInForce;
  /** Print the limits in force and exit. */
  readonly printLimits: boolean;
  readonly logFormat: LogFormat;
  readonly logLevel: LogLevel;
}

/** --timing presets: the tick and election limits they set (flags given explicitly win). */
const TIMINGS = {
  normal: { tickMs: 10 },
  // For teaching with the explorer: an election after 2 to 4 s of silence, a heartbeat every 0.5 s.
  demo: { tickMs: 100, electionTicks: 20, heartbeatTicks: 5 },
} as const;

function port(raw: string, name: string, usage: string): number {
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value > 65_535) throw new UsageError(`${name} must be a port number from 0 to 65535, got ${raw}`, usage);
  return value;
}

/** The options `raftkv cluster` and `raftkv node` share: timing, limits, front doors, logging. */
export const SERVICE_OPTION_SPECS = {
  'tick-ms': { type: 'string' },
  'read-mode': { type: 'string' },
  timing: { type: 'string', default: 'normal' },
  host: { type: 'string', default: '127.0.0.1' },
  'http-port': { type: 'string', default: '7379' },
  'resp-port': { type: 'string', default: '6380' },
  'admin-token': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-ca': { type: 'string' },
  'print-limits': { type: 'boolean', default: false },
  'log-format': { type: 'string', default: 'pretty' },
  'log-level': { type: 'string', default: 'info' },
  ...Object.fromEntries(SETTABLE_LIMITS.map((row) => [(row.flag as string).slice(2), { type: 'string' as const }])),
} as const;

/** What SERVICE_OPTION_SPECS give, checked. */
export type ServiceOptions = Pick<
  ClusterCommandOptions,
  'tickMs' | 'host' | 'httpPort' | 'respPort' | 'adminToken' | 'tls' | 'limits' | 'printLimits' | 'logFormat' | 'logLevel'
>;

/** The PEM text of a --tls-* file; a file that cannot be read is a usage error (nothing has started yet). */
function readPem(file: string, flag: string, usage: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`${flag}: cannot read ${file}: ${(error as Error).message}`, usage);
  }
  if (!text.includes('-----BEGIN ')) throw new UsageError(`${flag}: ${file} is not PEM`, usage);
  return text;
}

/** --tls-cert, --tls-key and --tls-ca: both of the pair or neither, read and checked (the key fits the certificate). */
function parseTls(text: (name: string) => string | undefined, usage: string): ServerTls | null {
  const certFile = text('tls-cert');
  const keyFile = text('tls-key');
  const caFile = text('tls-ca');
  if (certFile === undefined && keyFile === undefined) {
    if (caFile !== undefined) throw new UsageError('--tls-ca needs --tls-cert and --tls-key', usage);
    return null;
  }
  if (certFile === undefined || keyFile === undefined) {
    throw new UsageError(
      `${certFile === undefined ? '--tls-key needs --tls-cert' : '--tls-cert needs --tls-key'}: give both or neither`,
      usage,
    );
  }
  const tls: ServerTls = {
    cert: readPem(certFile, '--tls-cert', usage),
    key: readPem(keyFile, '--tls-key', usage),
    ...(caFile === undefined ? {} : { ca: readPem(caFile, '--tls-ca', usage) }),
  };
  try {
    createSecureContext(tls);
  } catch (error) {
    throw new UsageError(`--tls-cert, --tls-key, --tls-ca: ${(error as Error).message}`, usage);
  }
  return tls;
}

export function parseServiceOptions(values: Readonly<Record<string, string | boolean | undefined>>, usage: string): ServiceOptions {
  const text = (name: string): string | undefined => (typeof values[name] === 'string' ? (values[name] as string) : undefined);
  const timingName = text('timing') ?? 'normal';
  const timing = TIMINGS[timingName as keyof typeof TIMINGS] as Readonly<Record<string, number>> | undefined;
  if (timing === undefined) throw new UsageError(`--timing must be normal or demo, got ${timingName}`, usage);
  const tickMs = Number(text('tick-ms') ?? timing.tickMs);
  if (!Number.isInteger(tickMs) || tickMs < 1 || tickMs > 1000)
    throw new UsageError(`--tick-ms must be an integer from 1 to 1000, got ${text('tick-ms')}`, usage);
  const overrides: Record<string, number> = { ...timing, tickMs };
  for (const row of SETTABLE_LIMITS) {
    const raw = text((row.flag as string).slice(2));
    if (raw === undefined) continue;
    if (!/^\d+$/.test(raw)) throw new UsageError(`${row.flag} must be a positive integer (${row.unit.toLowerCase()}), got ${raw}`, usage);
    overrides[row.name] = Number(raw);
  }
  let limits: LimitsInForce;
  try {
    limits = resolveLimits(overrides);
  } catch (error) {
    if (error instanceof LimitsError) throw new UsageError(error.message, usage);
    throw error;
  }
  const readMode = text('read-mode') ?? 'safe';
  if (readMode !== 'safe' && readMode !== 'lease') throw new UsageError(`--read-mode must be safe or lease, got ${readMode}`, usage);
  if (readMode === 'lease') limits = { ...limits, core: { ...limits.core, readMode, checkQuorum: true } };
  const logFormat = text('log-format') ?? 'pretty';
  if (!isLogFormat(logFormat)) throw new UsageError(`--log-format must be ${LOG_FORMATS.join(' or ')}, got ${logFormat}`, usage);
  const logLevel = text('log-level') ?? 'info';
  if (!isLogLevel(logLevel)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${logLevel}`, usage);
  const host = text('host') ?? '127.0.0.1';
  const adminToken = text('admin-token') ?? process.env.RAFTKV_ADMIN_TOKEN ?? null;
  if (!isLoopback(host) && (adminToken === null || adminToken.length === 0)) {
    throw new UsageError(`--host ${host} is not loopback: the admin and fault endpoints need --admin-token or RAFTKV_ADMIN_TOKEN`, usage);
  }
  return {
    tickMs,
    host,
    httpPort: port(text('http-port') ?? '7379', '--http-port', usage),
    respPort: port(text('resp-port') ?? '6380', '--resp-port', usage),
    adminToken,
    tls: parseTls(text, usage),
    limits,
    printLimits: values['print-limits'] === true,
    logFormat,
    logLevel,
  };
}

export function parseClusterArgs(argv: readonly string[]): ClusterCommandOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        nodes: { type: 'string', default: '3' },
        'data-dir': { type: 'string', default: './data' },
        memory: { type: 'boolean', default: false },
        processes: { type: 'boolean', default: false },
        scenario: { type: 'string' },
        ...SERVICE_OPTION_SPECS,
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message, CLUSTER_USAGE);
  }
  const nodes = Number(values.nodes);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > CLUSTER_NODES_MAX) {
    throw new UsageError(`--nodes must be an integer from 1 to ${CLUSTER_NODES_MAX}, got ${values.nodes}`, CLUSTER_USAGE);
  }
  return {
    ...parseServiceOptions(values as Record<string, string | boolean | undefined>, CLUSTER_USAGE),
    nodes,
    dataDir: values['data-dir'],
    memory: values.memory,
    processes: values.processes,
    scenario: values.scenario ?? null,
  };
}

/** The router's and its front doors' settings from the shared options. */
export function frontDoors(options: ServiceOptions): Omit<StartServiceOptions, 'scenarios' | 'leaderDiscovery'> {
  return {
    host: options.host,
    httpPort: options.httpPort,
    respPort: options.respPort,
    adminToken: options.adminToken,
    tls: options.tls,
    limits: options.limits.frontDoor,
    router: options.limits.router,
    limitsInForce: options.limits.values,
  };
}

/** `host:port`, an IPv6 host in brackets. */
function shown(address: { address: string; port: number }): string {
  return formatHostPort(address.address, address.port);
}

/** The start-up lines users and scripts read: where the HTTP API and the Redis protocol listen. */
export function announceFrontDoors(service: Service, out: (line: string) => void): void {
  out(`HTTP API: ${baseUrl(service)}`);
  if (!service.tls) {
    out(`Redis protocol: redis-cli -h ${service.resp.address} -p ${service.resp.port}`);
    return;
  }
  // redis-cli needs --tls (and --cacert for a private CA; --cert/--key when client certificates are required).
  const client = service.clientCertificates ? ' --cert CLIENT.crt --key CLIENT.key' : '';
  out(`Redis protocol (TLS): redis-cli --tls --cacert CA.crt${client} -h ${service.resp.address} -p ${service.resp.port}`);
}

/** The HTTP API's URL: https:// when the front doors serve TLS. */
export function baseUrl(service: Service): string {
  return `${service.tls ? 'https' : 'http'}://${shown(service.http)}`;
}

/**
 * Resolves once SIGINT or SIGTERM has run `stop` to its end (a second signal meanwhile does nothing more):
 * the commands' clean shutdown, every node synced.
 */
export function untilSignal(stop: (signal: string) => Promise<void>): Promise<void> {
  let stopping: Promise<void> | null = null;
  return new Promise<void>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        stopping ??= stop(signal);
        void stopping.then(resolve);
      });
    }
  });
}

/** A later start with another node count is refused before anything starts (the supervisor checks it too). */
function checkNodeCount(dataDir: string, nodes: number): void {
  const recorded = recordedNodes(dataDir);
  if (recorded !== null && recorded !== nodes) {
    throw new UsageError(
      `${dataDir} holds a ${recorded}-node cluster; start it with --nodes ${recorded} or use another --data-dir`,
      CLUSTER_USAGE,
    );
  }
}

/** What the start found in the data folder: a new cluster, or the data it resumes and how far its logs go. */
async function describeData(supervisor: Supervisor, dataDir: string): Promise<string> {
  const id = supervisor.identity?.clusterId ?? '?';
  if (!supervisor.resumed) return `a new cluster ${id} in ${dataDir}`;
  const last = (await supervisor.status()).map((node) => `${node.id} ${node.raft?.lastIndex ?? '?'}`);
  return `resuming cluster ${id} from ${dataDir}: last log index ${last.join(', ')}`;
}

/** `sink`: where the log goes (stdout; a test may catch it). */
export async function runCluster(options: ClusterCommandOptions, sink: LogSink = process.stdout): Promise<void> {
  if (options.printLimits) {
    // The answer to a question, not a log line: printed as it is whatever the log format.
    sink.write(formatLimits(options.limits) + '\n');
    return;
  }
  const { log } = createLogger({ format: options.logFormat, level: options.logLevel, sink });
  // The command's own lines are announcements: bare in the pretty format, as users and scripts know them.
  const out = (line: string): void => log(line, { announce: true });
  // --memory: files in RAM (/dev/shm where there is one) and no fsync; removed when the command ends.
  const shm = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  const dataDir = options.memory ? fs.mkdtempSync(path.join(shm, 'raftkv-')) : path.resolve(options.dataDir);
  if (!options.memory) checkNodeCount(dataDir, options.nodes);
  if (options.scenario !== null) {
    // A bad file, or one written for another cluster, is refused before anything starts.
    const scenario = loadScenario(options.scenario);
    if (scenario.nodes !== options.nodes) {
      throw new UsageError(
        `scenario ${scenario.name} is written for ${scenario.nodes} nodes: start the cluster with --nodes ${scenario.nodes}`,
        CLUSTER_USAGE,
      );
    }
    if ((scenario.storage === 'memory') !== options.memory) {
      throw new UsageError(
        `scenario ${scenario.name} is written for ${scenario.storage} storage: start the cluster ${scenario.storage === 'memory' ? 'with' : 'without'} --memory`,
        CLUSTER_USAGE,
      );
    }
  }
  const supervisor = new Supervisor({
    nodes: options.nodes,
    dataDir,
    durable: !options.memory,
    hosting: options.processes ? 'processes' : 'threads',
    tickMs: options.tickMs,
    core: options.limits.core,
    limits: options.limits.node,
    restart: options.limits.restart,
    log,
  });
  const nodes = `${options.nodes} nodes${options.processes ? ' (one process each, TCP on loopback)' : ''}`;
  out(
    options.memory
      ? `raftkv: ${nodes} in memory (nothing survives a restart of the cluster)`
      : `raftkv: ${nodes}, data in ${dataDir} (a write is acknowledged once a majority has fsynced it)`,
  );
  let service: Service | null = null;
  let terminal: ReturnType<typeof startConsole> | null = null;
  let catalog: ReturnType<typeof scenarioCatalog> | null = null;
  let stopping = false;
  const done = untilSignal(async (signal) => {
    stopping = true;
    terminal?.close();
    catalog?.close();
    out(`${signal}: stopping; every node syncs its log`);
    await service?.close();
    await supervisor.stop();
    if (options.memory) fs.rmSync(dataDir, { recursive: true, force: true });
    out('stopped');
  });
  await supervisor.start();
  if (!options.memory) out(await describeData(supervisor, dataDir));
  service = await startService(supervisor, {
    ...frontDoors(options),
    scenarios: (hub, running) => {
      catalog = scenarioCatalog({ dir: SCENARIO_DIR, supervisor, service: running, hub, memory: options.memory });
      return catalog;
    },
  });
  out(`explorer: ${baseUrl(service)}/${options.adminToken === null ? '' : '?token=<the admin token>'}`);
  announceFrontDoors(service, out);
  if (options.scenario !== null) {
    const scenario = loadScenario(options.scenario);
    out(`chaos: running ${scenario.name} for ${(scenario.durationMs / 1000).toFixed(1)} s against this cluster`);
    // Progress is for people: a JSON log gets none (each of its lines must be a JSON object).
    const progress = options.logFormat === 'pretty' ? { progress: process.stdout } : {};
    const result = await runScenario(scenario, { cluster: { supervisor, service }, log: out, ...progress });
    reportResult(result, `chaos-report-${scenario.name}.html`, out);
    out('the cluster keeps running; Ctrl-C stops it');
  }
  if (process.stdin.isTTY && !stopping) {
    terminal = startConsole({ baseUrl: baseUrl(service), adminToken: options.adminToken }, process.stdin, process.stdout);
  }
  await done;
}
