// `raftkv node`: one member of a cluster of processes or hosts, as an etcd member runs: its Raft node (a worker
// thread, supervised: restarted if it crashes), its peer links over TCP, and its own router with the HTTP API
// and the Redis protocol, which forwards each request to the leader over that member's client lane.
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { CLUSTER_NODES_MAX, Supervisor } from '../actor/supervisor.js';
import { formatLimits } from '../config/limits.js';
import type { PeerSecuritySettings } from '../protocol/node.js';
import { startService, type Service } from '../router/service.js';
import { formatHostPort, isLoopback, parseHostPort } from '../util/address.js';
import { createLogger, type LogSink } from '../util/log.js';
import {
  announceFrontDoors,
  frontDoors,
  parseServiceOptions,
  SERVICE_OPTION_SPECS,
  SERVICE_USAGE_LINES,
  untilSignal,
  type ServiceOptions,
} from './cluster-command.js';
import { UsageError } from './usage-error.js';

export const NODE_USAGE = `usage: raftkv node --id ID --peers ID=HOST:PORT,... [options]
  --id ID              this member's id (letters, digits, - and _), one of --peers
  --peers LIST         every member's peer address, this one included (as etcd's --initial-cluster):
                       n1=10.0.0.1:7001,n2=10.0.0.2:7001,n3=10.0.0.3:7001
  --peer-listen H:P    the address the peer listener binds (default: this member's address in --peers; use
                       0.0.0.0:PORT to listen on every interface)
  --data-dir DIR       where this member keeps its log and snapshots, in DIR/ID (default ./data)
  --cluster-token T    names the cluster with --peers (default raftkv): every member of one cluster must be given
                       the same, so that a node of another cluster is refused
  --join               this member was added to a running cluster (raftkv member add): it starts with no
                       configuration and learns the cluster's from the leader; needs --cluster-id
  --cluster-id ID      the cluster's id (GET /v1/cluster answers it; raftkv member add prints it)
  --peer-tls-dir DIR   authenticate and encrypt peer links with TLS 1.3: DIR holds ca.crt, ID.crt and ID.key
                       (raftkv certs makes them), and client.crt/client.key for the routers' client lanes
  --peer-key-file F    authenticate peer links with the pre-shared key in F (not encrypted: prefer TLS)
  --advertise-client-url URL
                       where clients that ask for a redirect (?redirect=true) are sent while this member leads
                       (default: this member's host in --peers and its HTTP port)
                       Without either, every peer address must be loopback.
${SERVICE_USAGE_LINES}`;

export interface NodeCommandOptions extends ServiceOptions {
  readonly id: string;
  readonly peers: Readonly<Record<string, string>>;
  readonly peerListen: string;
  readonly dataDir: string;
  readonly clusterId: string;
  readonly join: boolean;
  readonly security: PeerSecuritySettings;
  /** Where clients that ask to be redirected to this member are sent; null: worked out from --peers and the HTTP port. */
  readonly advertiseClientUrl: string | null;
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;

/** `n1=h:p,n2=h:p` as a map; a RangeError names the bad entry. */
export function parsePeers(list: string): Record<string, string> {
  const peers: Record<string, string> = {};
  for (const entry of list.split(',').filter((item) => item.trim() !== '')) {
    const eq = entry.indexOf('=');
    const id = entry.slice(0, eq).trim();
    const address = entry.slice(eq + 1).trim();
    if (eq <= 0 || !ID_PATTERN.test(id)) throw new RangeError(`'${entry}' is not ID=HOST:PORT (an id of letters, digits, - and _)`);
    parseHostPort(address);
    if (Object.hasOwn(peers, id)) throw new RangeError(`${id} is listed twice`);
    peers[id] = address;
  }
  return peers;
}

/**
 * The id of a cluster started from `peers` with `token`, the same on every member without talking (as etcd
 * derives its cluster id from --initial-cluster and --initial-cluster-token).
 */
export function clusterIdOf(peers: Readonly<Record<string, string>>, token: string): string {
  const members = Object.entries(peers)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([id, address]) => `${id}=${address}`);
  return createHash('sha256')
    .update(`${token}\n${members.join(',')}`)
    .digest('hex')
    .slice(0, 16);
}

export function parseNodeArgs(argv: readonly string[]): NodeCommandOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        id: { type: 'string' },
        peers: { type: 'string' },
        'peer-listen': { type: 'string' },
        'data-dir': { type: 'string', default: './data' },
        'cluster-token': { type: 'string', default: 'raftkv' },
        'cluster-id': { type: 'string' },
        'advertise-client-url': { type: 'string' },
        join: { type: 'boolean', default: false },
        'peer-tls-dir': { type: 'string' },
        'peer-key-file': { type: 'string' },
        ...SERVICE_OPTION_SPECS,
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message, NODE_USAGE);
  }
  const id = values.id;
  if (id === undefined || !ID_PATTERN.test(id))
    throw new UsageError(`--id must be an id of letters, digits, - and _, got ${id ?? 'nothing'}`, NODE_USAGE);
  if (values.peers === undefined) throw new UsageError('--peers is required: every member as ID=HOST:PORT, this one included', NODE_USAGE);
  let peers: Record<string, string>;
  try {
    peers = parsePeers(values.peers);
  } catch (error) {
    throw new UsageError(`--peers: ${(error as Error).message}`, NODE_USAGE);
  }
  const own = peers[id];
  if (own === undefined) throw new UsageError(`--peers does not list --id ${id}: list every member, this one included`, NODE_USAGE);
  const count = Object.keys(peers).length;
  if (count > CLUSTER_NODES_MAX) throw new UsageError(`--peers lists ${count} members; at most ${CLUSTER_NODES_MAX}`, NODE_USAGE);
  const peerListen = values['peer-listen'] ?? own;
  try {
    parseHostPort(peerListen);
  } catch (error) {
    throw new UsageError(`--peer-listen: ${(error as Error).message}`, NODE_USAGE);
  }
  if (values.join && values['cluster-id'] === undefined) {
    throw new UsageError('--join needs --cluster-id (GET /v1/cluster on a member answers it)', NODE_USAGE);
  }
  if (values['peer-tls-dir'] !== undefined && values['peer-key-file'] !== undefined) {
    throw new UsageError('give --peer-tls-dir or --peer-key-file, not both', NODE_USAGE);
  }
  const security: PeerSecuritySettings =
    values['peer-tls-dir'] !== undefined
      ? { mode: 'tls', certDir: path.resolve(values['peer-tls-dir']) }
      : values['peer-key-file'] !== undefined
        ? { mode: 'psk', keyFile: path.resolve(values['peer-key-file']) }
        : { mode: 'plaintext' };
  const addresses = [peerListen, ...Object.values(peers)];
  if (security.mode === 'plaintext' && !addresses.every((address) => isLoopback(parseHostPort(address).host))) {
    throw new UsageError(
      'TRANSPORT_INSECURE: peer links off loopback need --peer-tls-dir (certificates from raftkv certs) or --peer-key-file',
      NODE_USAGE,
    );
  }
  return {
    ...parseServiceOptions(values as Record<string, string | boolean | undefined>, NODE_USAGE),
    id,
    peers,
    peerListen,
    dataDir: values['data-dir'],
    clusterId: values['cluster-id'] ?? clusterIdOf(peers, values['cluster-token']),
    join: values.join,
    security,
    advertiseClientUrl: advertiseUrlOf(values['advertise-client-url']),
  };
}

function advertiseUrlOf(raw: string | undefined): string | null {
  if (raw === undefined) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--advertise-client-url must be a URL like http://10.0.0.1:7379, got ${raw}`, NODE_USAGE);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError('--advertise-client-url must be http:// or https://', NODE_USAGE);
  return url.origin;
}

/**
 * This member's HTTP API as other hosts reach it: the address it listens on, or, when that is every interface
 * (0.0.0.0, ::), the host of its own peer address.
 */
function advertisedUrl(service: Service, peerAddress: string): string {
  const { host: listening, port } = { host: service.http.address, port: service.http.port };
  const host = listening === '0.0.0.0' || listening === '::' ? parseHostPort(peerAddress).host : listening;
  return `${service.tls ? 'https' : 'http'}://${formatHostPort(host, port)}`;
}

/** Runs one member until SIGINT or SIGTERM; `sink`: where the log goes. */
export async function runNode(options: NodeCommandOptions, sink: LogSink = process.stdout): Promise<void> {
  if (options.printLimits) {
    sink.write(formatLimits(options.limits) + '\n');
    return;
  }
  const { log } = createLogger({ format: options.logFormat, level: options.logLevel, sink });
  const out = (line: string): void => log(line, { announce: true });
  const dataDir = path.resolve(options.dataDir);
  const supervisor = new Supervisor({
    nodes: Object.keys(options.peers).length,
    dataDir,
    durable: true,
    tickMs: options.tickMs,
    core: options.limits.core,
    limits: options.limits.node,
    restart: options.limits.restart,
    peerSecurity: options.security,
    member: {
      local: options.id,
      clusterId: options.clusterId,
      peerListen: options.peerListen,
      addresses: options.peers,
      join: options.join,
    },
    log,
  });
  out(
    `raftkv node ${options.id} of cluster ${options.clusterId}: peers ${Object.entries(options.peers)
      .map(([id, address]) => `${id}=${address}`)
      .join(',')}, data in ${path.join(dataDir, options.id)}`,
  );
  let service: Service | null = null;
  const done = untilSignal(async (signal) => {
    out(`${signal}: stopping; the node syncs its log`);
    await service?.close();
    await supervisor.stop();
    out('stopped');
  });
  await supervisor.start();
  out(`peer listener: ${options.peerListen} (${options.security.mode})`);
  service = await startService(supervisor, { ...frontDoors(options), leaderDiscovery: 'probe' });
  announceFrontDoors(service, out);
  // Clients of another member that ask for a redirect (?redirect=true) are sent here while this node leads.
  const advertised = options.advertiseClientUrl ?? advertisedUrl(service, options.peers[options.id] as string);
  await supervisor.setClientUrl(advertised);
  out(`advertised client URL: ${advertised}`);
  await done;
}
