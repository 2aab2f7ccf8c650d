// The contract between a node worker and the main thread (supervisor and router): the start-up message, the
// reports the worker posts on its parentPort, the control plane (comlink) and the outcomes of client calls.
// Every room on either side imports it from here; it imports nothing of the project but the core's types.
import type { MessagePort } from 'node:worker_threads';
import type { RaftOptions } from '../raft/config.js';
import type { RaftStatus } from '../raft/raft.js';
import type { Membership, MembershipChange, NodeId, RefusalReason, Role, Snapshot } from '../raft/types.js';
import type { NodeClock } from './clock.js';
import type { DiskFaults, DiskFaultsStatus, DiskRot, DiskRotReport } from './disk-faults.js';
import type { ErrorCode } from './errors.js';
import type { LinkTraffic, NodeFrameState } from './explorer.js';
import type { LinkFaults } from './link-faults.js';

/**
 * The version of everything in src/protocol. A worker started with another version refuses to run
 * (PROTOCOL_VERSION_MISMATCH), and a TCP peer of another version is refused at its handshake
 * (TRANSPORT_VERSION_MISMATCH). Bump it when a message changes shape. 3: learners and member addresses in the
 * configuration, membership and status requests on the client lane, TCP peers. 4: a node's clock (rate and
 * skew) in the start-up message, and NodeControl.setClock; its disk faults in the start-up message,
 * NodeControl.setDiskFaults and rotDisk, the disk's state in NodeStatus and the 'disk' event.
 */
export const PROTOCOL_VERSION = 4;

/** The tunables of the core that cross to a worker (plain data: no PRNG object). */
export type CoreSettings = Partial<Omit<RaftOptions, 'id' | 'random'>>;

/** Limits of the node actor (defaults: NODE_LIMITS_DEFAULTS in src/node/raft-node.ts; all in src/config/limits.ts). */
export interface RaftNodeLimits {
  /** Messages waiting in the mailbox; beyond, new ones are dropped (like a full socket buffer). */
  readonly mailboxMessagesMax: number;
  /** Messages stepped per turn before the node yields its event loop (timers, I/O, control calls). */
  readonly mailboxBatchMessagesMax: number;
  /** Take a snapshot once this many entries were applied since the last one. */
  readonly snapshotEveryEntries: number;
  /** A snapshot is encoded and written this many bytes per turn, between the node's other turns. */
  readonly snapshotSliceBytes: number;
  /** Ticks that may pile up while the event loop was busy; more are dropped (time is not replayed). */
  readonly pendingTicksMax: number;
  /** Command bytes applied per turn; past them the rest waits for the next turn (the entry that crosses it is applied whole). */
  readonly applyBytesPerTurnMax: number;
  /** Client calls held while the node is paused; beyond, a call is refused at once with NODE_PAUSED_BACKLOG. */
  readonly pausedCallsMax: number;
  /**
   * Command bytes a node accepts from proposals between two of its turns (all go into one WAL record); more
   * are refused with QUEUE_FULL, and one proposal larger on its own with PROPOSAL_TOO_LARGE.
   */
  readonly proposedBytesPerTurnMax: number;
  /**
   * Free disk space below which a node refuses writes (DISK_FULL), drops entries sent to it and takes no
   * snapshot, until it has twice this again: room left for what is in flight, never a write that fails half way.
   */
  readonly diskFreeBytesMin: number;
}

export type { LinkFaults } from './link-faults.js';

/** The codes a node may refuse a client call with; each is in the registry. */
export const NODE_REFUSAL_CODES = [
  'NOT_LEADER',
  'TRANSFER_IN_PROGRESS',
  'QUEUE_FULL',
  'PROPOSAL_TOO_LARGE',
  'UNKNOWN_NODE',
  'CONFIG_CHANGE_IN_PROGRESS',
  'PROPOSAL_DROPPED',
  'NODE_STOPPED',
  'ANSWER_LOST',
  'NODE_PAUSED_BACKLOG',
  // The node's free disk space is below diskFreeBytesMin: it refuses writes before they reach the log.
  'DISK_FULL',
  'MEMBER_EXISTS',
  'MEMBER_NOT_FOUND',
  'MEMBER_NOT_LEARNER',
  'LEARNER_NOT_CAUGHT_UP',
  'LAST_VOTER',
  // A membership change the supervisor refuses before any node sees it: a bad id, a new node that did not start.
  'INVALID_ARGUMENT',
  'NODE_START_FAILED',
  // A call through the supervisor (propose, read, membership) that a node took and did not answer in time.
  'TIMEOUT',
] as const satisfies readonly ErrorCode[];

export type NodeRefusalCode = (typeof NODE_REFUSAL_CODES)[number];

/**
 * The core's refusal reasons (src/raft/types.ts) under their registered codes. A Record over the union, so
 * a reason added to the core without a code here fails to compile.
 */
export const CORE_REFUSAL_CODES: Readonly<Record<RefusalReason, NodeRefusalCode>> = {
  'not-leader': 'NOT_LEADER',
  'transfer-in-progress': 'TRANSFER_IN_PROGRESS',
  'proposal-queue-full': 'QUEUE_FULL',
  'read-queue-full': 'QUEUE_FULL',
  'too-large': 'PROPOSAL_TOO_LARGE',
  'unknown-node': 'UNKNOWN_NODE',
  'config-change-in-progress': 'CONFIG_CHANGE_IN_PROGRESS',
  'member-exists': 'MEMBER_EXISTS',
  'unknown-member': 'MEMBER_NOT_FOUND',
  'not-learner': 'MEMBER_NOT_LEARNER',
  'learner-not-caught-up': 'LEARNER_NOT_CAUGHT_UP',
  'last-voter': 'LAST_VOTER',
};

/** The registered code of a core refusal; an unknown reason is a bug (it would otherwise reach a client under no name). */
export function coreRefusalCode(reason: string): NodeRefusalCode {
  const code = Object.hasOwn(CORE_REFUSAL_CODES, reason) ? CORE_REFUSAL_CODES[reason as RefusalReason] : undefined;
  if (code === undefined) throw new Error(`unregistered core refusal reason '${reason}': add it to CORE_REFUSAL_CODES`);
  return code;
}

/** A refused client call. Crosses ports as plain data, never as an Error. `definite`: the command surely did not happen. */
export interface NodeRefusal {
  readonly ok: false;
  readonly code: NodeRefusalCode;
  readonly message: string;
  readonly leaderId: NodeId | null;
  readonly definite: boolean;
}

export type ProposeOutcome = { readonly ok: true; readonly index: number; readonly results: readonly unknown[] } | NodeRefusal;
export type ReadOutcome = { readonly ok: true; readonly index: number; readonly value: unknown } | NodeRefusal;

export type NodeEvent =
  | { readonly type: 'role'; readonly id: NodeId; readonly role: Role; readonly leaderId: NodeId | null; readonly term: number }
  | { readonly type: 'snapshot'; readonly id: NodeId; readonly index: number; readonly how: 'taken' | 'installed' }
  /** The newest configuration in this node's log changed (a config entry appended or cut, a snapshot installed). */
  | { readonly type: 'membership'; readonly id: NodeId; readonly membership: Membership }
  /** A vote this node granted or refused (not a pre-vote). */
  | { readonly type: 'vote'; readonly id: NodeId; readonly candidate: NodeId; readonly term: number; readonly granted: boolean }
  /** This node's disk became full (free space under diskFreeBytesMin) or has room again. */
  | { readonly type: 'disk'; readonly id: NodeId; readonly full: boolean; readonly freeBytes: number | null };

export interface NodeStatus extends RaftStatus {
  readonly paused: boolean;
  readonly mailboxDepth: number;
  /** Messages dropped because the mailbox held mailboxMessagesMax. */
  readonly mailboxDropped: number;
  /** Client calls refused with NODE_PAUSED_BACKLOG because pausedCallsMax were held. */
  readonly pausedCallsRefused: number;
  readonly storage: 'disk' | 'memory';
  /** Free disk space is under diskFreeBytesMin: writes are refused with DISK_FULL. */
  readonly diskFull: boolean;
  /** Free bytes on the node's volume at the last check (every DISK_CHECK_TICKS ticks); null in memory. */
  readonly diskFreeBytes: number | null;
  /** The HTTP API of the router that runs with this node (raftkv node), where clients that ask are redirected. */
  readonly clientUrl: string | null;
  /** The worker's clock (NodeStartup.clock, then setClock), added by the worker's control plane; absent elsewhere. */
  readonly clock?: NodeClock;
}

/** How every node of a cluster runs: the supervisor's options and each worker's start-up message share them. */
export interface NodeSettings {
  /** False for --memory clusters: files in /dev/shm, no fsync. */
  readonly durable: boolean;
  /** Writes stay in the worker until synced, so a kill loses them as a crash would (on by default: SUPERVISOR_DEFAULTS). */
  readonly bufferUnsynced: boolean;
  /** Each node reports an explorer frame every EXPLORER_FRAME_MS (on by default; the explorer bench turns it off to price it). */
  readonly explorerFrames: boolean;
  readonly tickMs: number;
  readonly core: CoreSettings;
  readonly limits: Partial<RaftNodeLimits>;
}

/** The MessagePorts of a node that runs as a worker thread of its supervisor's process (transferred). */
export interface NodePorts {
  /** One MessagePort per running peer: the data plane (frames of the core's messages, src/transport/codec.ts). */
  readonly peers: Readonly<Record<NodeId, MessagePort>>;
  /** The control plane (comlink): NodeControl. */
  readonly control: MessagePort;
  /** The client data plane: the router's numbered, batched requests (src/protocol/client.ts). */
  readonly client: MessagePort;
}

/** How a node authenticates its peers over TCP; the worker reads the files (docs/TRANSPORT.md). */
export type PeerSecuritySettings =
  | { readonly mode: 'plaintext' }
  /** A file holding the cluster's pre-shared key: peers prove they know it; links are authenticated, not encrypted. */
  | { readonly mode: 'psk'; readonly keyFile: string }
  /** A folder made by `raftkv certs`: ca.crt, and <id>.crt with <id>.key for this node. TLS 1.3, mutual. */
  | { readonly mode: 'tls'; readonly certDir: string };

/** A node that reaches its peers over TCP (one node per process or host) instead of MessagePorts. */
export interface TcpStartup {
  /** Every handshake carries it: a node of another cluster is refused (TRANSPORT_CLUSTER_MISMATCH). */
  readonly clusterId: string;
  /** host:port the node's peer listener binds (port 0 picks one, reported in READY). */
  readonly listen: string;
  /** Every other member's peer address (host:port), until the configuration in the log names them. */
  readonly peers: Readonly<Record<NodeId, string>>;
  readonly security: PeerSecuritySettings;
}

/** The typed start-up message of a node (a worker's workerData, or a child process's first IPC message). */
export interface NodeStartup extends NodeSettings {
  readonly protocolVersion: number;
  readonly id: NodeId;
  /** Seeds this start's randomness (election timeouts, link faults): from the supervisor's seed, so a run replays. */
  readonly seed: number;
  readonly voters: readonly NodeId[];
  readonly dataDir: string;
  /** A worker thread's ports; null in a child process (control over IPC, clients over TCP). */
  readonly ports: NodePorts | null;
  /** Peers over TCP; null for a thread cluster (the peers are ports.peers). */
  readonly tcp: TcpStartup | null;
  readonly faults: Readonly<Record<NodeId, LinkFaults>>;
  /** The node's clock (src/protocol/clock.ts): its tick rate and wall-time skew, kept across restarts like link faults. */
  readonly clock: NodeClock;
  /**
   * The node's disk faults (src/protocol/disk-faults.ts) kept across restarts: a stall, a full disk, lost renames.
   * Queued errors are not: a node that crashed on one starts without it.
   */
  readonly disk: DiskFaults;
  /** The HTTP API of the router that runs with this node, once known (NodeStatus.clientUrl). */
  readonly clientUrl: string | null;
}

/**
 * How often a node worker posts its metrics sample: Prometheus scrapes every 15 s or so, and a second keeps the
 * gauges fresh at one small message per node per second, whatever the load.
 */
export const NODE_METRICS_SAMPLE_MS = 1_000;

/**
 * The upper bounds, in seconds, of the buckets of every duration a node times (the last bucket, +Inf, is
 * implied): from 100 µs (an fsync on a fast disk, an apply) to 30 s (a large snapshot on a slow one).
 */
export const NODE_DURATION_BUCKETS_SECONDS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

/**
 * The durations a node times: from a proposal to its commit (as the leader that proposed it saw it), from an
 * entry's commit to its apply here, each sync of the WAL (the writes held until it, then the fdatasync), and
 * the saving of its own snapshot and the installing of a leader's.
 */
export const NODE_DURATIONS = ['proposal_commit', 'commit_apply', 'wal_fsync', 'snapshot_save', 'snapshot_install'] as const;
export type NodeDuration = (typeof NODE_DURATIONS)[number];

/** Observations of one duration: per bucket of NODE_DURATION_BUCKETS_SECONDS and +Inf (not cumulative), their sum in seconds, their count. */
export interface DurationCounts {
  readonly counts: readonly number[];
  readonly sum: number;
  readonly count: number;
}

/** What one node sent to one peer (LinkTraffic without the round-trip time). */
export type LinkCounts = Omit<LinkTraffic, 'rttMs'>;

/** A node's numbers for Prometheus (docs/METRICS.md): gauges as they are now, the rest since the previous sample. */
export interface NodeMetricsSample {
  readonly role: Role;
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  readonly mailboxDepth: number;
  /** The sizes of the WAL's segment files (preallocated space included: what the log takes on disk). */
  readonly walBytes: number;
  /** A leader's AppendRequests in flight to each follower (from its progress); empty on any other role. */
  readonly inflightAppends: Readonly<Record<NodeId, number>>;
  /** Since the previous sample: messages dropped at a full mailbox, calls refused with NODE_PAUSED_BACKLOG. */
  readonly mailboxDropped: number;
  readonly pausedCallsRefused: number;
  /** Since the previous sample: what went to each peer. */
  readonly links: Readonly<Record<NodeId, LinkCounts>>;
  /** Since the previous sample: each duration observed at least once. */
  readonly durations: Readonly<Partial<Record<NodeDuration, DurationCounts>>>;
}

/** Messages a node worker posts on its parentPort. */
export type WorkerReport =
  /** The node runs; `peerPort` is its TCP peer listener's port (null for a thread cluster). */
  | { readonly type: 'ready'; readonly peerPort: number | null }
  | { readonly type: 'event'; readonly event: NodeEvent }
  /** About every NODE_METRICS_SAMPLE_MS (and once at READY): the node's numbers for Prometheus. */
  | { readonly type: 'metrics'; readonly sample: NodeMetricsSample }
  /** The explorer's frame (every EXPLORER_FRAME_MS while something changed): the node's numbers and its links' traffic. */
  | { readonly type: 'frame'; readonly state: NodeFrameState; readonly links: Readonly<Record<NodeId, LinkTraffic>> }
  | { readonly type: 'start-failed'; readonly code: ErrorCode; readonly message: string }
  /**
   * A line for the operator: a worker writes nothing to the console itself; the supervisor logs it with the
   * node's id and term, at most a few of one kind a second (LOG_REPEAT_LIMITS in src/actor/supervisor.ts).
   */
  | { readonly type: 'log'; readonly level: NodeLogLevel; readonly kind: NodeLogKind; readonly message: string };

/**
 * What a supervisor and a node in a child process (raftkv cluster --processes) say over the IPC channel: the
 * start-up message first, then the control plane's comlink messages both ways and the node's reports.
 */
export type ProcessMessage =
  | { readonly type: 'start'; readonly startup: NodeStartup }
  | { readonly type: 'control'; readonly data: unknown }
  | { readonly type: 'report'; readonly report: WorkerReport };

/** The levels of src/util/log.ts (this room imports none of util). */
export type NodeLogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';
/** What a worker's line is about, each kind rate-limited on its own: a peer's bad frame, the node's storage, its TCP peer links. */
export type NodeLogKind = 'bad-frame' | 'storage' | 'peer';

/** The control plane of one node, called through comlink. */
export interface NodeControl {
  status(): NodeStatus;
  propose(commands: Uint8Array[]): Promise<ProposeOutcome>;
  read(query: unknown): Promise<ReadOutcome>;
  readStale(query: unknown): ReadOutcome;
  transferLeadership(to: NodeId): { ok: true } | NodeRefusal;
  /** One membership change at this node (it must lead); answered once committed and applied here. */
  changeMembership(change: MembershipChange): Promise<ProposeOutcome>;
  pause(): void;
  resume(): void;
  setLinkFaults(peer: NodeId, faults: LinkFaults): void;
  /** Fault injection: the node's clock from now on (its tick rate and the skew of its wall time); TRUE_CLOCK ends it. */
  setClock(clock: NodeClock): void;
  /** Fault injection: the node's disk faults from now on (what is not named stays); DISK_FAULTS_NONE ends them. */
  setDiskFaults(faults: Partial<DiskFaults>): DiskFaultsStatus;
  /** Fault injection: rot at rest in the node's newest WAL segment or snapshot; the node finds it at its next start. */
  rotDisk(rot: DiskRot): DiskRotReport;
  connectPeer(peer: NodeId, port: MessagePort): void;
  snapshotNow(): number;
  /** The state machine as of the applied index, for a backup: nothing written, nothing compacted; over several turns. */
  exportSnapshot(): Promise<Snapshot>;
  /** Fault injection: an uncaught exception in the node's event loop, as a bug would throw. */
  crash(reason: string): void;
  /** Starts an election at this node now (the explorer's "force an election"). */
  forceElection(): { ok: true } | NodeRefusal;
  /** Fault injection: the thread stops answering (blocked for good) while it stays alive; the watchdog ends it. */
  hang(): void;
  /** Fault injection: every turn of the node starts `ms` late (the thread blocked meanwhile); 0 ends it. */
  slow(ms: number): void;
  /** Fault injection: `messages` stale messages land in the mailbox at once (dropped past mailboxMessagesMax). */
  flood(messages: number): void;
  /**
   * Starts or stops this node's explorer frames (and the round-trip timing they carry), one per `frameMs` (the
   * default EXPLORER_FRAME_MS; the explorer bench shortens it to magnify the frames' cost).
   */
  setExplorerFrames(on: boolean, frameMs: number): void;
  /** The HTTP API of the router that runs with this node (raftkv node): reported in its status. */
  setClientUrl(url: string | null): void;
  /** Clean stop: sync and close the log. */
  shutdown(): void;
}
