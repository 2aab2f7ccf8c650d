// The explorer's event stream (issue 14): what the node actors and the supervisor report, as the router serves
// it at GET /explorer/state (a snapshot) and GET /explorer/events (Server-Sent Events), and as a trace file
// holds it. Versioned: a reader refuses a schema it does not know. Imports only the core's types.
import type { NodeId, Role } from '../raft/types.js';
import type { LinkFaults } from './link-faults.js';

export const EXPLORER_SCHEMA_VERSION = 1;

/** How often a node reports its frame: the counters of a frame add up what happened since the last one. */
export const EXPLORER_FRAME_MS = 100;

/** A node's numbers as of its last frame. */
export interface NodeFrameState {
  readonly role: Role;
  readonly term: number;
  readonly leaderId: NodeId | null;
  readonly votedFor: NodeId | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  readonly mailboxDepth: number;
  readonly paused: boolean;
  /** Ticks since the node last heard from a leader (or, a leader, since its last heartbeat round), and the timeout. */
  readonly electionElapsed: number;
  readonly electionTimeout: number;
  /** A leader's view of each follower: the highest index known replicated, and the next index to send. */
  readonly progress: Readonly<Record<NodeId, { readonly match: number; readonly next: number }>>;
}

/** Messages and bytes one node sent to one peer during a frame (after the link's faults: what went on the wire). */
export interface LinkTraffic {
  readonly messages: number;
  readonly bytes: number;
  /** Dropped by the link's faults (a cut, or drop probability). */
  readonly dropped: number;
  /**
   * A leader's round-trip time to this peer in the frame, in ms (the mean of its samples), or null: from the
   * first AppendRequest of a heartbeat round to the first answer echoing that round. It includes the
   * follower's turn and, for a request that carried entries, its fsync. Only a leader measures it.
   */
  readonly rttMs: number | null;
}

/** The supervisor's view of one node actor. */
export interface SupervisionState {
  /** running, paused, killed, restarting, failed, starting, stopped (the supervisor's NodeState). */
  readonly state: string;
  /** Restarts the supervisor made after crashes, in the restart policy's current period. */
  readonly restarts: number;
  /** When restarting: the backoff before the next start, in ms. */
  readonly backoffMs: number | null;
  /** Why the node is in this state (the supervisor's reason). */
  readonly reason: string;
}

interface EventBase {
  /** The stream's sequence number (the SSE id), from 1; a trace keeps the numbers it was recorded with. */
  readonly seq: number;
  /** Milliseconds since the stream began (the simulator: simulated time). */
  readonly t: number;
}

export type ExplorerEventBody =
  /** A node's periodic frame (every EXPLORER_FRAME_MS, only while something changed or traffic flowed). */
  | {
      readonly kind: 'node-frame';
      readonly node: NodeId;
      readonly state: NodeFrameState;
      readonly links: Readonly<Record<NodeId, LinkTraffic>>;
    }
  /** A role or term change, at once (not aggregated). */
  | { readonly kind: 'role'; readonly node: NodeId; readonly role: Role; readonly term: number; readonly leaderId: NodeId | null }
  /** A vote granted or refused (not pre-votes), at once. */
  | { readonly kind: 'vote'; readonly node: NodeId; readonly candidate: NodeId; readonly term: number; readonly granted: boolean }
  | { readonly kind: 'snapshot'; readonly node: NodeId; readonly index: number; readonly how: 'taken' | 'installed' }
  /** The supervisor started, killed, restarted, paused, resumed or gave up on a node. */
  | { readonly kind: 'supervision'; readonly node: NodeId; readonly supervision: SupervisionState }
  /** The link faults now in force (every link not listed has none). */
  | { readonly kind: 'links'; readonly faults: readonly LinkFaultEntry[] }
  /** An action someone took through the admin API (the page, the console, curl, a scenario). */
  | { readonly kind: 'action'; readonly action: string; readonly target: string | null; readonly ok: boolean; readonly detail: string }
  /**
   * An invariant broken: two leaders in one term or a commit index that went back (the hub sees these in the
   * frames), an acknowledged write missing from a later read (the load generator checks its own keys); in a
   * simulator trace, any safety property the checker found broken.
   */
  | { readonly kind: 'alarm'; readonly alarm: ExplorerAlarm; readonly detail: string }
  /**
   * A scenario run from the explorer (POST /explorer/scenarios/{name}/run): started (with its seed), each line of
   * its log, and its verdict with the checks that ran and the URL of its HTML report.
   */
  | {
      readonly kind: 'scenario';
      readonly name: string;
      readonly phase: 'started' | 'log' | 'verdict';
      readonly detail: string;
      /** The verdict: passed or not, and the report's URL (GET /explorer/reports/...). */
      readonly ok?: boolean;
      readonly report?: string;
    }
  /** Each second while the explorer's load generator runs: what it did in that second. */
  | {
      readonly kind: 'load';
      readonly rate: number;
      readonly readShare: number;
      readonly ok: number;
      readonly failed: number;
      /** Operations not issued because loadInFlightMax were in flight. */
      readonly skipped: number;
      readonly p50Ms: number;
      readonly p99Ms: number;
    }
  /** Sent to one subscriber whose Last-Event-ID is older than the buffer holds: fetch the state again. */
  | { readonly kind: 'resync'; readonly reason: string };

export type ExplorerAlarm = 'two-leaders' | 'commit-went-back' | 'acknowledged-write-missing' | 'safety-violation';

export type ExplorerEvent = EventBase & ExplorerEventBody;
export type ExplorerEventKind = ExplorerEventBody['kind'];

export interface LinkFaultEntry {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly faults: LinkFaults;
}

/** GET /explorer/state: everything the page draws, as of event `seq`. */
export interface ExplorerState {
  readonly schema: number;
  readonly seq: number;
  readonly t: number;
  readonly nodes: readonly NodeId[];
  readonly leader: NodeId | null;
  readonly term: number;
  readonly timing: { readonly tickMs: number; readonly electionTicks: number; readonly heartbeatTicks: number };
  readonly node: Readonly<
    Record<NodeId, { readonly supervision: SupervisionState; readonly frame: NodeFrameState | null; readonly frameT: number | null }>
  >;
  readonly links: readonly LinkFaultEntry[];
  /** The alarms raised so far (at most the buffer's limit). */
  readonly alarms: readonly ExplorerEvent[];
  /** The load generator's settings (rate 0: off). */
  readonly load: { readonly rate: number; readonly readShare: number };
}

/** A trace file (export and import; the simulator writes the same): the state it starts from, then its events. */
export interface ExplorerTrace {
  readonly schema: number;
  readonly source: 'live' | 'simulator';
  readonly start: ExplorerState;
  readonly events: readonly ExplorerEvent[];
}
