// The shapes that go in and out of the Raft core. Everything here is plain data:
// it crosses MessagePorts (msgpackr), lands in the WAL, and is compared by the simulator.

export type NodeId = string;

/**
 * The cluster configuration carried in the log and in snapshots (thesis chapter 4). Voters elect and count in
 * every quorum; learners (thesis 4.2.1, etcd's learners) only receive the log, so that a new server catches up
 * before it is promoted and can slow no commit meanwhile. A node is at most one of the two.
 */
export interface Membership {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  /**
   * Opaque to the core, which only carries it: each member's transport address (the TCP transport's
   * `host:port`), so that every node learns a new member's address from the log or a snapshot.
   */
  readonly addresses?: Readonly<Record<NodeId, string>>;
}

/**
 * One membership change, the unit `RaftCore.changeMembership` takes (thesis 4.1: one server at a time).
 * Adding a server as a learner and promoting it once caught up is the recommended way to add a voter; adding a
 * voter directly is allowed (etcd allows it) but leaves the cluster one slow voter closer to losing its quorum.
 */
export type MembershipChange =
  | { readonly kind: 'add-voter' | 'add-learner'; readonly id: NodeId; readonly address?: string }
  | { readonly kind: 'promote'; readonly id: NodeId }
  | { readonly kind: 'remove'; readonly id: NodeId };

/** A command the state machine applies. `data` is opaque to the core. */
export interface CommandEntry {
  readonly type: 'command';
  readonly term: number;
  readonly index: number;
  readonly data: Uint8Array;
}

/** Appended by every new leader at the start of its term (thesis 6.4: a leader commits an entry of its own term first). */
export interface NoopEntry {
  readonly type: 'noop';
  readonly term: number;
  readonly index: number;
}

/** A configuration entry: takes effect as soon as it is in the log, committed or not (thesis 4.1). */
export interface ConfigEntry {
  readonly type: 'config';
  readonly term: number;
  readonly index: number;
  readonly membership: Membership;
}

export type Entry = CommandEntry | NoopEntry | ConfigEntry;

/** Term and vote: what a node must never forget (Figure 2, "persistent state on all servers"). */
export interface HardState {
  readonly term: number;
  readonly votedFor: NodeId | null;
  /** Persisted only as a hint to speed up restart; safety never depends on it. */
  readonly commitIndex: number;
}

export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  readonly membership: Membership;
}

/** Read access to the newest local snapshot, used to stream it to a follower in bounded chunks. */
export interface SnapshotSource {
  readonly meta: SnapshotMeta;
  readonly sizeBytes: number;
  readChunk(offsetBytes: number, maxBytes: number): Uint8Array;
}

/** A complete snapshot handed to the application to persist and restore. */
export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

// ---------------------------------------------------------------------------
// Messages (discriminated by `type`). Every message carries the sender's term.

interface MessageBase {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
}

/** RequestVote and its PreVote twin (thesis 9.6). For a PreVote, `term` is the term the candidate would use. */
export interface VoteRequest extends MessageBase {
  readonly type: 'VoteRequest';
  readonly preVote: boolean;
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
  /** Set when the election was started by TimeoutNow: voters skip the leader-lease check (thesis 3.10, 4.2.3). */
  readonly transfer: boolean;
}

export interface VoteResponse extends MessageBase {
  readonly type: 'VoteResponse';
  readonly preVote: boolean;
  readonly granted: boolean;
}

export interface AppendRequest extends MessageBase {
  readonly type: 'AppendRequest';
  readonly prevLogIndex: number;
  readonly prevLogTerm: number;
  readonly entries: readonly Entry[];
  readonly leaderCommit: number;
  /** The leader's heartbeat round; echoed back so one round can confirm many ReadIndex requests (thesis 6.4). */
  readonly round: number;
}

export interface AppendResponse extends MessageBase {
  readonly type: 'AppendResponse';
  readonly success: boolean;
  /** On success: the index of the last entry the follower now has that matches the leader. */
  readonly matchIndex: number;
  /** On rejection: the request's prevLogIndex, so the leader can tell a stale rejection from a fresh one. */
  readonly rejectIndex: number;
  /** On rejection: the follower's hint for fast back-tracking (thesis 5.3 / etcd's findConflictByTerm). */
  readonly conflictIndex: number;
  readonly conflictTerm: number;
  /** Echo of the request's round. */
  readonly round: number;
}

export interface SnapshotRequest extends MessageBase {
  readonly type: 'SnapshotRequest';
  readonly meta: SnapshotMeta;
  readonly offsetBytes: number;
  readonly totalBytes: number;
  readonly data: Uint8Array;
  readonly done: boolean;
  readonly round: number;
}

export interface SnapshotResponse extends MessageBase {
  readonly type: 'SnapshotResponse';
  readonly snapshotIndex: number;
  /** Bytes received so far; the leader sends the next chunk from here. */
  readonly receivedBytes: number;
  readonly done: boolean;
  /** False when the follower lost track (e.g. it restarted mid-transfer) and the leader must start over. */
  readonly success: boolean;
  readonly round: number;
}

/** Leadership transfer: tells the target to start an election at once (thesis 3.10). */
export interface TimeoutNow extends MessageBase {
  readonly type: 'TimeoutNow';
}

export type Message = VoteRequest | VoteResponse | AppendRequest | AppendResponse | SnapshotRequest | SnapshotResponse | TimeoutNow;

export type MessageType = Message['type'];

/** Every message type, once: a Record over the union, so a new message type without an entry fails to compile. */
const MESSAGE_TYPE_SET: Readonly<Record<MessageType, true>> = {
  VoteRequest: true,
  VoteResponse: true,
  AppendRequest: true,
  AppendResponse: true,
  SnapshotRequest: true,
  SnapshotResponse: true,
  TimeoutNow: true,
};

export const MESSAGE_TYPES = Object.keys(MESSAGE_TYPE_SET) as readonly MessageType[];

// ---------------------------------------------------------------------------
// Outputs.

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

/** Volatile state the application may want to show (not persisted). */
export interface SoftState {
  readonly role: Role;
  readonly leaderId: NodeId | null;
  readonly term: number;
}

/** A linearizable read may be served once the state machine has applied `index`. */
export interface ReadState {
  readonly context: number;
  readonly index: number;
}

/**
 * What the core asks its caller to do. Ordering rule (as in etcd's Ready):
 *  1. `messages` may be sent at once (the leader's AppendRequests: thesis 10.2.1 lets the leader
 *     write its own log in parallel with replication).
 *  2. `snapshot`, `hardState` and `entries` are written to stable storage (in that order; entries
 *     replace any stored suffix starting at their first index) and synced.
 *  3. Only then are `messagesAfterPersist` sent (votes and append acknowledgements promise durability),
 *     and `persisted(...)` is reported back to the core.
 *  `committedEntries` may be applied in order at any time; they are always already durable locally.
 *  `readStates` are answered once the state machine has applied their index.
 */
export interface Ready {
  readonly softState: SoftState | null;
  readonly hardState: HardState | null;
  readonly snapshot: Snapshot | null;
  readonly entries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly messagesAfterPersist: readonly Message[];
  readonly committedEntries: readonly Entry[];
  readonly readStates: readonly ReadState[];
}

/** Where the caller's last persist ended: the core counts only durable entries (thesis 10.2.1). */
export interface PersistedPosition {
  readonly index: number;
  readonly term: number;
}

// ---------------------------------------------------------------------------
// Typed results of requests that may be refused (expected outcomes, not bugs).

/** Every reason the core may refuse a request for; each has a registered error code (src/protocol/errors.ts). */
export const REFUSAL_REASONS = [
  'not-leader',
  'transfer-in-progress',
  'proposal-queue-full',
  'read-queue-full',
  'too-large',
  'unknown-node',
  'config-change-in-progress',
  /** changeMembership: the server to add is already a voter or a learner. */
  'member-exists',
  /** changeMembership: the server to promote or remove is not in the configuration. */
  'unknown-member',
  /** changeMembership: the server to promote is a voter already. */
  'not-learner',
  /** changeMembership: the learner to promote is more than learnerCatchUpEntriesMax entries behind the leader. */
  'learner-not-caught-up',
  /** changeMembership: removing the only voter would leave no one to elect a leader. */
  'last-voter',
] as const;

export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export interface Refusal {
  readonly ok: false;
  readonly reason: RefusalReason;
  readonly leaderId: NodeId | null;
}

export interface ProposeAccepted {
  readonly ok: true;
  readonly term: number;
  /** Index of the first proposed entry; the batch occupies consecutive indexes. */
  readonly firstIndex: number;
}

export type ProposeResult = ProposeAccepted | Refusal;
export type ReadIndexResult = { readonly ok: true } | Refusal;
export type TransferResult = { readonly ok: true } | Refusal;
