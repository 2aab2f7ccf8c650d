// The limits table: every limit and tunable number of raftkv, named once, with its unit, its default, the
// room that enforces it, its command-line flag where a user may set it, and the cross-checks that must hold
// between them before anything starts. Each room keeps its own defaults object next to the code that
// enforces it (the core imports nothing of the project); this table collects them, and its types require a
// row for every numeric field of every defaults object, so a limit cannot be added without a row here.
import { TCP_TRANSPORT_DEFAULTS } from '../transport/tcp/limits.js';
import { RESTART_POLICY_DEFAULTS, type RestartPolicyOptions } from '../actor/restart-policy.js';
import { CLUSTER_NODES_MAX, SUPERVISOR_DEFAULTS } from '../actor/supervisor.js';
import { CHECK_DEFAULTS } from '../chaos/checker/check.js';
import { CHECKER_POOL_DEFAULTS, CHECKER_POOL_THREADS_MAX } from '../chaos/checker/pool.js';
import { SEARCH_LIMITS_DEFAULT } from '../chaos/checker/wgl.js';
import { KV_LIMITS_DEFAULTS, type KvLimits } from '../kv/kv-state-machine.js';
import { NODE_LIMITS_DEFAULTS } from '../node/raft-node.js';
import type { CoreSettings, RaftNodeLimits } from '../protocol/node.js';
import { RAFT_DEFAULTS } from '../raft/config.js';
import { LIMITS_DEFAULTS, type Limits } from '../router/limits.js';
import { ROUTER_LANES, ROUTER_LIMITS_DEFAULTS, type RouterLimits } from '../router/router.js';
import { RECORD_PAYLOAD_BYTES_MAX } from '../storage/wal-record.js';
import { WAL_DEFAULTS } from '../storage/wal.js';
import { CLIENT_FRAME_REQUESTS_MAX } from '../transport/client-port.js';
import { FRAME_BYTES_MAX, FRAME_MESSAGES_MAX } from '../transport/codec.js';

/** The unit words a limit's name may carry (the unit comes last, before Max/Min if any). */
export const LIMIT_UNITS = [
  'Bytes',
  'Ms',
  'Ticks',
  'Entries',
  'Messages',
  'Requests',
  'Commands',
  'Calls',
  'Items',
  'Arguments',
  'Connections',
  'Sessions',
  'Results',
  'Reads',
  'Restarts',
  'Threads',
  'Nodes',
  'Lanes',
  'Events',
  'Subscribers',
  'Mb',
] as const;
export type LimitUnit = (typeof LIMIT_UNITS)[number];

/** The room that enforces a limit. */
export type LimitRoom = 'core' | 'node' | 'transport' | 'storage' | 'kv' | 'front door' | 'router' | 'supervisor' | 'checker';

interface RowMeta {
  readonly unit: LimitUnit;
  /** A user may set it on `raftkv cluster` with the flag `--` + kebab-case name. */
  readonly settable: boolean;
  readonly description: string;
}

export interface LimitRow extends RowMeta {
  readonly name: string;
  readonly room: LimitRoom;
  readonly defaultValue: number;
  /** The command-line flag, or null where the value is fixed or set only by code. */
  readonly flag: string | null;
}

type NumericKeys<T> = { [K in keyof T]-?: T[K] extends number ? K : never }[keyof T] & string;

/** One row per numeric field of `defaults`: the mapped type makes a missing row a compile error. */
function rows<T extends object>(room: LimitRoom, defaults: T, meta: { readonly [K in NumericKeys<T>]: RowMeta }): LimitRow[] {
  return (Object.keys(meta) as NumericKeys<T>[]).map((name) => {
    const row = meta[name];
    return { name, room, defaultValue: defaults[name] as number, flag: row.settable ? `--${kebab(name)}` : null, ...row };
  });
}

const fixed = (unit: LimitUnit, description: string): RowMeta => ({ unit, settable: false, description });
const settable = (unit: LimitUnit, description: string): RowMeta => ({ unit, settable: true, description });

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

/** The core's numbers as a cluster runs them: the supervisor's election timing over the core's own defaults. */
const CORE_DEFAULTS = { ...RAFT_DEFAULTS, ...SUPERVISOR_DEFAULTS.core };

/**
 * What a command's log entry adds to its key and value bytes: the session id, sequence numbers, time stamp
 * and msgpack framing (about 100 bytes; 1 KiB leaves room). Used only by the cross-checks.
 */
export const ENTRY_OVERHEAD_BYTES = 1024;

export const LIMITS_TABLE: readonly LimitRow[] = [
  ...rows('core', CORE_DEFAULTS, {
    electionTicks: settable('Ticks', 'election timeout, drawn from [electionTicks, 2 x electionTicks)'),
    heartbeatTicks: settable('Ticks', 'a leader heartbeats every this many ticks'),
    appendEntriesMax: fixed('Entries', 'most entries in one AppendRequest'),
    appendBytesMax: fixed('Bytes', 'most command bytes in one AppendRequest (one entry always goes)'),
    inflightMessagesMax: fixed('Messages', 'most AppendRequests in flight to one follower'),
    inflightBytesMax: fixed('Bytes', 'most command bytes in flight to one follower'),
    uncommittedEntriesMax: settable('Entries', 'most proposed but uncommitted entries on a leader; beyond: QUEUE_FULL'),
    proposalBatchEntriesMax: fixed('Entries', 'most entries in one proposal; beyond: PROPOSAL_TOO_LARGE'),
    pendingReadsMax: settable('Reads', 'most ReadIndex requests waiting for confirmation; beyond: QUEUE_FULL'),
    snapshotChunkBytes: fixed('Bytes', 'size of one snapshot chunk sent to a follower'),
    applyBatchEntriesMax: fixed('Entries', 'most committed entries handed out in one Ready'),
    applyBatchBytesMax: fixed('Bytes', 'most command bytes of committed entries in one Ready (one entry always goes)'),
    learnerCatchUpEntriesMax: fixed('Entries', 'a learner is promoted only this close to the leader; beyond: LEARNER_NOT_CAUGHT_UP'),
    persistStallTicks: fixed(
      'Ticks',
      'a leader whose own log write waits this long for its disk steps down (hands over to a caught-up follower)',
    ),
  }),
  ...rows('node', NODE_LIMITS_DEFAULTS, {
    mailboxMessagesMax: settable(
      'Messages',
      "messages waiting in a node's mailbox; beyond, new ones are dropped (counted in mailboxDropped)",
    ),
    mailboxBatchMessagesMax: fixed('Messages', 'messages stepped per turn before the node yields its event loop'),
    snapshotEveryEntries: settable('Entries', 'a node snapshots its store after this many applied entries'),
    snapshotSliceBytes: fixed('Bytes', 'a snapshot is encoded and written this many bytes per turn'),
    pendingTicksMax: fixed('Ticks', 'ticks that may pile up while the event loop was busy; more are dropped'),
    applyBytesPerTurnMax: fixed('Bytes', 'command bytes applied per turn (the entry that crosses it is applied whole)'),
    pausedCallsMax: settable('Calls', 'client calls a paused node holds; beyond: NODE_PAUSED_BACKLOG'),
    diskFreeBytesMin: settable('Bytes', 'a node with less free disk space refuses writes (DISK_FULL) until it has twice this'),
    proposedBytesPerTurnMax: fixed('Bytes', 'command bytes a node accepts between two turns (one WAL record); beyond: QUEUE_FULL'),
  }),
  ...rows('kv', KV_LIMITS_DEFAULTS, {
    sessionExpiryMs: fixed('Ms', 'a client session idle this long (by log time) is forgotten; its retries get SESSION_EXPIRED'),
    sessionsMax: fixed('Sessions', 'most client sessions kept; beyond, the least recently active is forgotten'),
    sessionResultsMax: fixed('Results', 'most unacknowledged results one session keeps; beyond: SESSION_LIMIT'),
  }),
  ...rows('front door', LIMITS_DEFAULTS, {
    keyBytesMax: settable('Bytes', 'largest key; beyond: KEY_TOO_LARGE'),
    valueBytesMax: settable('Bytes', 'largest value; beyond: VALUE_TOO_LARGE'),
    bodyBytesMax: settable('Bytes', 'largest HTTP request body; beyond: BODY_TOO_LARGE'),
    commandBytesMax: settable('Bytes', 'largest Redis-protocol command, all its arguments with their framing; beyond: PROTOCOL_ERROR'),
    scanItemsMax: settable('Items', 'most items one scan returns'),
    respArgumentsMax: fixed('Arguments', 'most arguments in one Redis-protocol command; beyond: PROTOCOL_ERROR'),
    respPipelineCommandsMax: settable('Commands', 'unanswered commands pipelined on one Redis-protocol connection before it stops reading'),
    respInlineBytesMax: fixed('Bytes', 'longest inline Redis-protocol command; beyond: PROTOCOL_ERROR'),
    connectionsMax: settable('Connections', 'most open client connections, HTTP and Redis protocol each; beyond: OVERLOADED, closed'),
    connectionsRefusingMax: fixed(
      'Connections',
      'connections past connectionsMax being answered and closed at once; beyond, Node closes new ones unanswered',
    ),
    headersTimeoutMs: settable('Ms', "HTTP: a request's headers must arrive within this; beyond: 408, the connection closed"),
    requestReceiveTimeoutMs: settable(
      'Ms',
      "a whole request (HTTP headers and body, or one Redis-protocol command's frame) must arrive within this; beyond: closed",
    ),
    outputBufferBytesMax: settable('Bytes', 'reply bytes one connection may hold unread by its client; beyond: closed'),
    idleTimeoutMs: settable(
      'Ms',
      'a Redis-protocol connection idle this long is closed, and any connection whose client takes none of its replies this long',
    ),
    explorerEventsMax: settable('Events', 'explorer events kept for a page that reconnects; one further behind gets a resync'),
    explorerSubscribersMax: fixed('Subscribers', 'explorer event streams open at once; beyond: OVERLOADED'),
    floodMessagesMax: fixed('Messages', 'most messages one flood fault (POST /v1/nodes/{id}/flood) sends; beyond: INVALID_ARGUMENT'),
    explorerLoadRequestsPerSecondMax: fixed(
      'Requests',
      "highest rate (per second) the explorer's load generator may be set to; beyond: INVALID_ARGUMENT",
    ),
    explorerLoadInFlightRequestsMax: fixed(
      'Requests',
      "operations the explorer's load generator keeps in flight at most; beyond, it skips and counts them",
    ),
    slowTurnMsMax: fixed('Ms', 'longest turn delay one slow fault (POST /v1/nodes/{id}/slow) sets; beyond: INVALID_ARGUMENT'),
    explorerSubscriberBufferBytes: fixed(
      'Bytes',
      'bytes queued to one explorer event stream; beyond, it is closed (the page reconnects and replays)',
    ),
  }),
  ...rows(
    'router',
    { ...ROUTER_LIMITS_DEFAULTS, routerLanes: ROUTER_LANES },
    {
      requestTimeoutMs: settable('Ms', 'a request waits this long for its answer; then NO_LEADER or TIMEOUT'),
      batchCommandsMax: fixed('Commands', 'most commands in one proposal'),
      batchBytesMax: fixed('Bytes', 'most key and value bytes in one proposal (one command always goes)'),
      pendingRequestsMax: settable('Requests', 'requests waiting or in flight in the router; beyond: OVERLOADED'),
      queueDelayMsMax: settable(
        'Ms',
        'past 2 x batchCommandsMax requests, the router holds at most what the cluster answered in this long; beyond: OVERLOADED',
      ),
      retryDelayMs: fixed('Ms', 'back-off before retrying when no leader is known'),
      attemptTimeoutMs: fixed('Ms', 'one attempt at one node; past it the router asks who leads again'),
      routerLanes: fixed('Lanes', 'router lanes, each tracking the leader on its own'),
    },
  ),
  ...rows(
    'supervisor',
    { ...SUPERVISOR_DEFAULTS, clusterNodesMax: CLUSTER_NODES_MAX },
    {
      tickMs: settable('Ms', 'length of one Raft tick'),
      startTimeoutMs: fixed('Ms', 'a node worker must report READY within this'),
      watchdogIntervalMs: fixed('Ms', 'the watchdog asks every running node for its status this often'),
      watchdogTimeoutMs: fixed('Ms', 'a node that has not answered the watchdog within this is hung: terminated, restarted by policy'),
      clusterNodesMax: fixed('Nodes', 'most nodes in a cluster'),
    },
  ),
  ...rows('supervisor', RESTART_POLICY_DEFAULTS, {
    maxRestarts: settable('Restarts', 'crashes tolerated within periodMs; one more and the node is marked failed'),
    periodMs: fixed('Ms', 'the window maxRestarts counts crashes in'),
    backoffMs: fixed('Ms', 'delay before the first restart, doubled for each crash in the window'),
    backoffMaxMs: fixed('Ms', 'longest delay before a restart'),
  }),
  ...rows(
    'storage',
    { ...WAL_DEFAULTS, walRecordBytesMax: RECORD_PAYLOAD_BYTES_MAX },
    {
      segmentBytes: fixed('Bytes', 'size a WAL segment is preallocated to'),
      walRecordBytesMax: fixed('Bytes', 'largest WAL record; a longer length field is read as corruption'),
    },
  ),
  ...rows(
    'transport',
    { frameMessagesMax: FRAME_MESSAGES_MAX, frameBytesMax: FRAME_BYTES_MAX, clientFrameRequestsMax: CLIENT_FRAME_REQUESTS_MAX },
    {
      frameMessagesMax: fixed('Messages', 'most Raft messages in one peer frame; more: TRANSPORT_BAD_FRAME'),
      frameBytesMax: fixed('Bytes', 'a peer frame takes no further message past this many entry and snapshot bytes'),
      clientFrameRequestsMax: fixed('Requests', 'most router requests in one client-port frame'),
    },
  ),
  ...rows('transport', TCP_TRANSPORT_DEFAULTS, {
    peerFrameBytesMax: fixed('Bytes', 'longest TCP frame read from a peer; longer: TRANSPORT_FRAME_TOO_LARGE, the connection closed'),
    peerQueueMessagesMax: fixed('Messages', "messages each of a TCP peer's queues holds; beyond: dropped, the peer reported unreachable"),
    peerQueueBytesMax: fixed(
      'Bytes',
      "entry and snapshot bytes each of a TCP peer's queues holds; beyond: entry-carrying messages dropped",
    ),
    handshakeTimeoutMs: fixed('Ms', 'a TCP peer connection must finish connect, TLS and its handshake within this'),
    reconnectBackoffMinMs: fixed('Ms', 'first delay before a TCP link dials again (doubled per failure, jittered)'),
    reconnectBackoffMaxMs: fixed('Ms', 'longest delay before a TCP link dials again'),
    clientLaneQueueMessagesMax: fixed('Messages', 'frames a disconnected client lane holds; beyond: its requests fail as ANSWER_LOST'),
    clientLaneQueueBytesMax: fixed('Bytes', 'bytes a client lane holds, or an accepted client connection may leave unsent'),
    acceptedConnectionsMax: fixed('Connections', "connections a node's peer listener holds at once"),
  }),
  // The pool's thread count is one per core: a setting of the machine, not a limit, so it has no row.
  ...rows(
    'checker',
    {
      heapMbMax: CHECKER_POOL_DEFAULTS.heapMbMax,
      ...CHECK_DEFAULTS,
      ...SEARCH_LIMITS_DEFAULT,
      checkerThreadsMax: CHECKER_POOL_THREADS_MAX,
    },
    {
      heapMbMax: fixed('Mb', 'heap of one checker thread; a runaway search fails its task, not the process'),
      shrinkTimeLimitMs: fixed('Ms', 'time allowed for shrinking a failing history'),
      cacheEntriesMax: fixed('Entries', 'cache of one linearizability search'),
      checkerThreadsMax: fixed('Threads', 'most linearizability checker threads'),
    },
  ),
];

export type LimitOverrides = Readonly<Record<string, number>>;

/** The numbers in force, per room, as each room's options take them. */
export interface LimitsInForce {
  readonly core: CoreSettings;
  readonly node: RaftNodeLimits;
  readonly kv: KvLimits;
  readonly frontDoor: Limits;
  readonly router: RouterLimits;
  readonly restart: RestartPolicyOptions;
  readonly tickMs: number;
  readonly startTimeoutMs: number;
  /** Every row's value in force, by name. */
  readonly values: ReadonlyMap<string, number>;
}

export class LimitsError extends Error {
  readonly code = 'INVALID_ARGUMENT';
}

/** The values in force: defaults, then `overrides` (settable rows only), then the cross-checks. */
export function resolveLimits(overrides: LimitOverrides = {}): LimitsInForce {
  const values = new Map(LIMITS_TABLE.map((row) => [row.name, row.defaultValue]));
  for (const [name, value] of Object.entries(overrides)) {
    const row = LIMITS_TABLE.find((r) => r.name === name);
    if (row === undefined) throw new LimitsError(`unknown limit ${name}`);
    if (!row.settable) throw new LimitsError(`${name} cannot be set`);
    if (!Number.isSafeInteger(value) || value < 1) throw new LimitsError(`${row.flag} must be a positive integer, got ${value}`);
    values.set(name, value);
  }
  const problems = crossCheck(values);
  if (problems.length > 0) throw new LimitsError(`limits that do not agree:\n  ${problems.join('\n  ')}`);
  const pick = <T extends object>(defaults: T, room: LimitRoom): T => {
    const picked = { ...defaults } as Record<string, unknown>;
    for (const row of LIMITS_TABLE) if (row.room === room && row.name in picked) picked[row.name] = values.get(row.name);
    return picked as T;
  };
  return {
    // Every core value in force, not a hand-picked few: a row made settable later reaches the core by itself.
    core: pick(CORE_DEFAULTS, 'core'),
    node: pick(NODE_LIMITS_DEFAULTS, 'node'),
    kv: pick(KV_LIMITS_DEFAULTS, 'kv'),
    frontDoor: pick(LIMITS_DEFAULTS, 'front door'),
    router: pick(ROUTER_LIMITS_DEFAULTS, 'router'),
    restart: pick(RESTART_POLICY_DEFAULTS, 'supervisor'),
    tickMs: values.get('tickMs') as number,
    startTimeoutMs: values.get('startTimeoutMs') as number,
    values,
  };
}

/**
 * What must hold between limits of different rooms; each broken rule is one line naming the limits. The
 * bounds on a WAL record are upper bounds of what one turn writes, not exact sizes: see docs/LIMITS.md.
 */
export function crossCheck(values: ReadonlyMap<string, number>): string[] {
  const v = (name: string): number => {
    const value = values.get(name);
    if (value === undefined) throw new Error(`no limit named ${name}`);
    return value;
  };
  const problems: string[] = [];
  const rule = (holds: boolean, text: string): void => void (holds || problems.push(text));
  const entryBytesMax = Math.max(v('commandBytesMax'), v('keyBytesMax') + v('bodyBytesMax')) + ENTRY_OVERHEAD_BYTES;
  rule(v('valueBytesMax') <= v('bodyBytesMax'), `valueBytesMax (${v('valueBytesMax')}) must fit in bodyBytesMax (${v('bodyBytesMax')})`);
  rule(
    v('keyBytesMax') + v('valueBytesMax') <= v('commandBytesMax'),
    `a key and a value (keyBytesMax + valueBytesMax = ${v('keyBytesMax') + v('valueBytesMax')}) must fit in commandBytesMax (${v('commandBytesMax')})`,
  );
  rule(
    v('batchBytesMax') + entryBytesMax <= v('proposedBytesPerTurnMax'),
    `a router batch (batchBytesMax ${v('batchBytesMax')} plus one entry of up to ${entryBytesMax}) must fit in proposedBytesPerTurnMax (${v('proposedBytesPerTurnMax')})`,
  );
  rule(
    v('proposedBytesPerTurnMax') + entryBytesMax <= v('walRecordBytesMax'),
    `a leader's turn of proposals (proposedBytesPerTurnMax ${v('proposedBytesPerTurnMax')} plus one entry) must fit in a WAL record (${v('walRecordBytesMax')})`,
  );
  const followerTurnBytes = 2 * (v('inflightBytesMax') + v('appendBytesMax') + entryBytesMax);
  rule(
    followerTurnBytes <= v('walRecordBytesMax'),
    `a follower's turn of appended entries (2 x (inflightBytesMax + appendBytesMax + one entry) = ${followerTurnBytes}) must fit in a WAL record (${v('walRecordBytesMax')})`,
  );
  rule(
    v('appendBytesMax') <= v('frameBytesMax'),
    `appendBytesMax (${v('appendBytesMax')}) must fit in frameBytesMax (${v('frameBytesMax')})`,
  );
  rule(
    v('snapshotChunkBytes') <= v('frameBytesMax'),
    `snapshotChunkBytes (${v('snapshotChunkBytes')}) must fit in frameBytesMax (${v('frameBytesMax')})`,
  );
  rule(
    v('frameBytesMax') + Math.max(v('appendBytesMax'), v('snapshotChunkBytes')) + 64 * 1024 <= v('peerFrameBytesMax'),
    `a peer frame (frameBytesMax ${v('frameBytesMax')} plus one append or snapshot chunk, plus 64 KiB) must fit in peerFrameBytesMax (${v('peerFrameBytesMax')})`,
  );
  rule(
    v('reconnectBackoffMinMs') <= v('reconnectBackoffMaxMs'),
    `reconnectBackoffMinMs (${v('reconnectBackoffMinMs')}) must not exceed reconnectBackoffMaxMs (${v('reconnectBackoffMaxMs')})`,
  );
  rule(
    v('batchCommandsMax') <= v('proposalBatchEntriesMax'),
    `batchCommandsMax (${v('batchCommandsMax')}) must not exceed proposalBatchEntriesMax (${v('proposalBatchEntriesMax')}), or full batches are refused`,
  );
  rule(
    v('sessionResultsMax') >= v('pendingRequestsMax'),
    `sessionResultsMax (${v('sessionResultsMax')}) must be at least pendingRequestsMax (${v('pendingRequestsMax')}), or a busy router meets SESSION_LIMIT`,
  );
  rule(
    v('applyBytesPerTurnMax') >= v('applyBatchBytesMax'),
    `applyBytesPerTurnMax (${v('applyBytesPerTurnMax')}) must be at least applyBatchBytesMax (${v('applyBatchBytesMax')})`,
  );
  rule(
    v('electionTicks') > v('heartbeatTicks'),
    `electionTicks (${v('electionTicks')}) must exceed heartbeatTicks (${v('heartbeatTicks')})`,
  );
  rule(
    v('attemptTimeoutMs') <= v('requestTimeoutMs'),
    `attemptTimeoutMs (${v('attemptTimeoutMs')}) must not exceed requestTimeoutMs (${v('requestTimeoutMs')})`,
  );
  rule(
    v('headersTimeoutMs') <= v('requestReceiveTimeoutMs'),
    `headersTimeoutMs (${v('headersTimeoutMs')}) must not exceed requestReceiveTimeoutMs (${v('requestReceiveTimeoutMs')}): the headers are part of the request`,
  );
  rule(v('backoffMs') <= v('backoffMaxMs'), `backoffMs (${v('backoffMs')}) must not exceed backoffMaxMs (${v('backoffMaxMs')})`);
  rule(
    v('electionTicks') * v('tickMs') < v('requestTimeoutMs'),
    `an election (electionTicks x tickMs = ${v('electionTicks') * v('tickMs')} ms) must be shorter than requestTimeoutMs (${v('requestTimeoutMs')}), or every failover times out`,
  );
  return problems;
}

/** The table in force, for `raftkv cluster --print-limits`. */
export function formatLimits(inForce: LimitsInForce): string {
  const header = ['name', 'room', 'value', 'default', 'unit', 'flag', 'what it bounds'];
  const lines = LIMITS_TABLE.map((row) => [
    row.name,
    row.room,
    String(inForce.values.get(row.name)),
    String(row.defaultValue),
    row.unit.toLowerCase(),
    row.flag ?? '-',
    row.description,
  ]);
  const widths = header.slice(0, -1).map((title, i) => Math.max(title.length, ...lines.map((line) => (line[i] as string).length)));
  const format = (cells: string[]): string =>
    cells.map((cell, i) => (i < widths.length ? cell.padEnd(widths[i] as number) : cell)).join('  ');
  return [format(header), ...lines.map(format)].join('\n');
}
