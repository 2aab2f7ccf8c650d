import type { Membership, NodeId, PersistedPosition, SnapshotSource, Entry, HardState } from './types.js';
import type { Random } from './random.js';

/** Tunables of one Raft core. Every queue and batch has a named limit; units come last. */
export interface RaftOptions {
  readonly id: NodeId;
  /** Election timeout is drawn from [electionTicks, 2 * electionTicks). */
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /** 'safe' confirms every read by a heartbeat round (thesis 6.4); 'lease' trusts a leader lease (6.4.1) and needs checkQuorum. */
  readonly readMode: 'safe' | 'lease';
  readonly random: Random;
  /** Most entries in one AppendRequest. */
  readonly appendEntriesMax: number;
  /** Most bytes of command data in one AppendRequest (at least one entry is always sent). */
  readonly appendBytesMax: number;
  /** Most AppendRequests in flight to one follower in the replicate state. */
  readonly inflightMessagesMax: number;
  /** Most bytes of command data in flight to one follower. */
  readonly inflightBytesMax: number;
  /** Most proposed but not yet committed entries on a leader; beyond, proposals are refused. */
  readonly uncommittedEntriesMax: number;
  /** Most entries in one propose() call. */
  readonly proposalBatchEntriesMax: number;
  /** Most ReadIndex requests waiting for confirmation. */
  readonly pendingReadsMax: number;
  /** Size of one InstallSnapshot chunk. */
  readonly snapshotChunkBytes: number;
  /** Most committed entries handed out in one Ready. */
  readonly applyBatchEntriesMax: number;
  /** Most command bytes of committed entries in one Ready (the first entry always goes, whatever its size). */
  readonly applyBatchBytesMax: number;
  /**
   * A learner is promoted only when its match index is at most this many entries behind the leader's last
   * index: a voter that must first catch up would leave the cluster one failure from losing its quorum.
   */
  readonly learnerCatchUpEntriesMax: number;
  /**
   * A leader whose own log write has been waiting this many ticks for its disk (a stalled fsync) steps down,
   * handing its leadership to a caught-up follower when it has one: a leader that cannot persist holds up
   * nothing for long, and its memory does not fill with entries it cannot write.
   */
  readonly persistStallTicks: number;
  /**
   * Test only: lets the simulator show the single-server change bug. Skips the current-term barrier, so a new
   * leader may append a configuration before an entry of its own term has committed. Never set it elsewhere.
   */
  readonly unsafeSkipMembershipBarrier: boolean;
}

export const RAFT_DEFAULTS = {
  electionTicks: 10,
  heartbeatTicks: 1,
  preVote: true,
  checkQuorum: true,
  readMode: 'safe',
  appendEntriesMax: 256,
  appendBytesMax: 1024 * 1024,
  inflightMessagesMax: 64,
  inflightBytesMax: 16 * 1024 * 1024,
  uncommittedEntriesMax: 65_536,
  proposalBatchEntriesMax: 4096,
  pendingReadsMax: 65_536,
  snapshotChunkBytes: 256 * 1024,
  applyBatchEntriesMax: 4096,
  applyBatchBytesMax: 1024 * 1024,
  learnerCatchUpEntriesMax: 1000,
  // 1 s at the default tickMs of 10: ten times the election timeout, far above a slow fsync under load.
  persistStallTicks: 100,
  unsafeSkipMembershipBarrier: false,
} as const satisfies Omit<RaftOptions, 'id' | 'random'>;

export type RaftOptionsInput = Pick<RaftOptions, 'id' | 'random'> & Partial<Omit<RaftOptions, 'id' | 'random'>>;

/** What a node recovered from stable storage at start (all empty for a brand-new node). */
export interface RaftBootState {
  readonly hardState: HardState;
  /** The newest snapshot, if any; the log continues right after it. */
  readonly snapshot: SnapshotSource | null;
  /** Durable entries after the snapshot, in order, without gaps. */
  readonly entries: readonly Entry[];
  /** The configuration a brand-new cluster starts with (ignored once the log or snapshot holds one). */
  readonly initialMembership: Membership;
}

export function resolveOptions(input: RaftOptionsInput): RaftOptions {
  const options: RaftOptions = { ...RAFT_DEFAULTS, ...input };
  if (!(options.electionTicks > options.heartbeatTicks)) throw new RangeError('electionTicks must exceed heartbeatTicks');
  if (!(options.heartbeatTicks >= 1)) throw new RangeError('heartbeatTicks must be at least 1');
  if (options.readMode === 'lease' && !options.checkQuorum) throw new RangeError('lease reads need checkQuorum');
  if (typeof options.unsafeSkipMembershipBarrier !== 'boolean') throw new RangeError('unsafeSkipMembershipBarrier must be a boolean');
  if (options.readMode === 'lease' && options.electionTicks < 4) throw new RangeError('lease reads need electionTicks of at least 4');
  for (const key of [
    'appendEntriesMax',
    'appendBytesMax',
    'inflightMessagesMax',
    'inflightBytesMax',
    'uncommittedEntriesMax',
    'proposalBatchEntriesMax',
    'pendingReadsMax',
    'snapshotChunkBytes',
    'applyBatchEntriesMax',
    'applyBatchBytesMax',
    'learnerCatchUpEntriesMax',
    'persistStallTicks',
  ] as const) {
    if (!Number.isInteger(options[key]) || options[key] < 1) throw new RangeError(`${key} must be a positive integer`);
  }
  return options;
}

export type { PersistedPosition };
