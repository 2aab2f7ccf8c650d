import { resolveOptions, type RaftBootState, type RaftOptions, type RaftOptionsInput } from './config.js';
import { invariant, InvariantError } from './invariant.js';
import { RaftLog } from './log.js';
import { OrderedIdSet } from './ordered-id-set.js';
import { Progress, type ProgressState } from './progress.js';
import { memorySnapshotSource } from './snapshot-source.js';
import type {
  AppendRequest,
  AppendResponse,
  Entry,
  HardState,
  Membership,
  MembershipChange,
  Message,
  NodeId,
  PersistedPosition,
  ProposeResult,
  ReadIndexResult,
  ReadState,
  Ready,
  Refusal,
  RefusalReason,
  Role,
  Snapshot,
  SnapshotRequest,
  SnapshotResponse,
  SnapshotSource,
  SoftState,
  TimeoutNow,
  TransferResult,
  VoteRequest,
  VoteResponse,
} from './types.js';

/** The messages whose handling depends on the role: every role answers a VoteRequest by the same rules. */
type RoleMessage = Exclude<Message, VoteRequest>;

interface PendingRead {
  readonly context: number;
  /** The commit index when the read was admitted (thesis 6.4 step 1). */
  readonly index: number;
  /** The heartbeat round whose acknowledgement by a quorum confirms leadership (step 2-3). */
  readonly round: number;
}

/** A snapshot being received in chunks from the leader. */
interface IncomingSnapshot {
  readonly meta: Snapshot['meta'];
  readonly totalBytes: number;
  /** Sized once from the first chunk; chunks are copied in as they arrive, so the snapshot is held once. */
  readonly data: Uint8Array;
  receivedBytes: number;
}

/** A leader's view of one member (voter or learner), as status() shows it: how far its log matches ours. */
export interface ProgressView {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly votedFor: NodeId | null;
  readonly leaderId: NodeId | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly stableIndex: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly lastTerm: number;
  readonly snapshotIndex: number;
  /** The newest configuration in the log (committed or not): voters, learners and their addresses. */
  readonly membership: Membership;
  readonly transferTarget: NodeId | null;
  /** On a leader, its view of every other voter and learner (so an operator sees how far a learner is); null otherwise. */
  readonly progress: Readonly<Record<NodeId, ProgressView>> | null;
}

const EMPTY: readonly never[] = Object.freeze([]);

/**
 * Ticks by which a leader lease ends before its followers' election timeout (clock phase and drift).
 *
 * The drift this buys (docs/SIMULATOR.md, "Clocks and the lease bound"): with E = electionTicks and D this
 * constant, a leader serves a lease read less than E - D of its own tick periods after it started a round a
 * quorum acknowledged (leaseValid: the round started at most E - D - 1 ticks ago). A voter that acknowledged
 * the round received it after the round started, and refuses every vote until E of its own ticks have passed
 * since (inLease; its own campaign waits a randomized timeout of at least E ticks, which only adds margin);
 * the first of those ticks may fall at once, so no other leader can be elected before (E - 1) of its periods.
 * Reads stay linearizable while (E - D) leader periods <= (E - 1) voter periods: while no voter's clock runs
 * faster than the leader's by more than (E - 1) / (E - D) (leaseClockRateRatioMax). The bound is on rates;
 * an offset between clocks changes nothing, since the core reads only its own ticks.
 */
export const LEASE_DRIFT_TICKS = 2;

/**
 * The largest ratio of two voters' clock rates (ticks per unit of real time) under which lease reads are
 * linearizable, for `electionTicks`: (E - 1) / (E - LEASE_DRIFT_TICKS), e.g. 1.125 for 10 ticks, 14/13 for 15.
 */
export function leaseClockRateRatioMax(electionTicks: number): number {
  if (!(electionTicks > LEASE_DRIFT_TICKS)) throw new RangeError(`lease reads need electionTicks above ${LEASE_DRIFT_TICKS}`);
  return (electionTicks - 1) / (electionTicks - LEASE_DRIFT_TICKS);
}

// On paths run per message or per entry, invariants are written `if (broken) throw new InvariantError(...)`
// rather than `invariant(ok, ...)`: the call would build its details object every time, even when the
// invariant holds, and that garbage showed up as a large share of the benchmark's GC time.

/**
 * The Raft protocol as a synchronous, deterministic state machine (Ongaro's thesis; etcd's raft library).
 * Inputs: tick(), step(), propose(), readIndex(), transferLeadership(), changeMembership() (and proposeMembership()).
 * Outputs: ready() hands out what to persist, send and apply; persisted() reports durable progress back.
 * No I/O, no clock, no global randomness: a seed and the input sequence determine everything.
 */
export class RaftCore {
  readonly id: NodeId;
  readonly options: RaftOptions;

  // Persistent state (Figure 2).
  private term: number;
  private votedFor: NodeId | null;
  readonly log: RaftLog;

  // Volatile state.
  private role: Role = 'follower';
  /**
   * The role's own message handling, swapped together with `role` (etcd's `r.step`): once the term is
   * checked, a message meets one role's rules instead of a role test inside every handler.
   */
  private stepForRole: (message: RoleMessage) => void = this.stepFollower;
  /** What a tick means in the role: an election timeout, or a leader's heartbeats (etcd's `r.tick`). */
  private tickForRole: () => void = this.tickElection;
  private leaderId: NodeId | null = null;
  private commitIndex: number;
  /** Highest index handed out in committedEntries. */
  private appliedIndex: number;
  /** Highest index known to be durable locally. */
  private stableIndex: number;
  /** Entries from here on have not yet been handed out for persistence. */
  private unstableFrom: number;
  private membership: Membership;
  private membershipIndex: number;
  private snapshotSource: SnapshotSource | null;

  // Timers, in ticks.
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTicks = 0;
  private tickCount = 0;

  // Candidate state.
  private votes = new Map<NodeId, boolean>();

  // Leader state.
  private progress = new Map<NodeId, Progress>();
  private round = 0;
  private roundRequested = false;
  private roundStartTicks = new Map<number, number>();
  private pendingReads: PendingRead[] = [];
  private readsAwaitingCommit: number[] = [];
  /** Followers to send to at the next ready(), in the order they were queued (which orders the messages). */
  private replicateTo = new OrderedIdSet();
  /** Reused by quorumIndex() so that counting a quorum allocates nothing. */
  private readonly quorumScratch: number[] = [];
  /**
   * The entries of the last AppendRequest built in this flushReplication(): followers at the same
   * position share one array. The log does not change during a flush; the cache is dropped after it.
   */
  private sharedEntries: readonly Entry[] = EMPTY;
  private sharedEntriesFrom = 0;
  private transferTarget: NodeId | null = null;
  /** The term in which this leader sent TimeoutNow: no lease reads for the rest of it. */
  private leaseRevokedInTerm = -1;
  /** Leader: ticks our own handed-out entries have waited for the disk (see stepDownStalled). */
  private persistWaitTicks = 0;
  /** Times this node stepped down as leader because its disk stalled. */
  private stalledStepDowns = 0;
  /** Ticks since the transfer began; it is abandoned after one election timeout (thesis 3.10). */
  private transferElapsed = 0;
  private pendingConfigIndex = 0;

  // Follower state.
  private incomingSnapshot: IncomingSnapshot | null = null;

  // Output not yet handed out.
  private outbox: Message[] = [];
  private outboxAfterPersist: Message[] = [];
  private readStates: ReadState[] = [];
  private hardStateDirty = false;
  private pendingSnapshot: Snapshot | null = null;
  private lastSoftState: SoftState;

  constructor(input: RaftOptionsInput, boot: RaftBootState) {
    this.options = resolveOptions(input);
    this.id = this.options.id;
    const snapshotMeta = boot.snapshot?.meta ?? { index: 0, term: 0, membership: boot.initialMembership };
    this.log = new RaftLog(snapshotMeta, boot.entries);
    this.snapshotSource = boot.snapshot;
    this.term = boot.hardState.term;
    this.votedFor = boot.hardState.votedFor;
    invariant(this.log.lastTerm <= this.term, 'log term beyond the hard state term', { lastTerm: this.log.lastTerm, term: this.term });
    this.commitIndex = Math.min(Math.max(boot.hardState.commitIndex, snapshotMeta.index), this.log.lastIndex);
    this.appliedIndex = snapshotMeta.index;
    this.stableIndex = this.log.lastIndex;
    this.unstableFrom = this.log.lastIndex + 1;
    const latest = this.log.latestMembership();
    this.membership = latest.membership;
    this.membershipIndex = latest.index;
    this.resetElectionTimeout();
    this.lastSoftState = this.softState();
  }

  // -------------------------------------------------------------------------
  // Introspection.

  status(): RaftStatus {
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      votedFor: this.votedFor,
      leaderId: this.leaderId,
      commitIndex: this.commitIndex,
      appliedIndex: this.appliedIndex,
      stableIndex: this.stableIndex,
      firstIndex: this.log.firstIndex,
      lastIndex: this.log.lastIndex,
      lastTerm: this.log.lastTerm,
      snapshotIndex: this.log.snapshotIndex,
      membership: this.membership,
      transferTarget: this.transferTarget,
      progress: this.role === 'leader' ? this.progressViews() : null,
    };
  }

  private progressViews(): Record<NodeId, ProgressView> {
    const views: Record<NodeId, ProgressView> = {};
    for (const [id, progress] of this.progress) views[id] = { match: progress.match, next: progress.next, state: progress.state };
    return views;
  }

  get isLeader(): boolean {
    return this.role === 'leader';
  }

  /** Times this node stepped down as leader because its disk stalled (persistStallTicks). */
  get stalledStepDownCount(): number {
    return this.stalledStepDowns;
  }

  /** The newest configuration in the log, as status() gives it, without building the status (read every turn). */
  get configuration(): Membership {
    return this.membership;
  }

  /** The index of the entry that holds the configuration in force (0: the initial one; a snapshot's index). */
  get configurationIndex(): number {
    return this.membershipIndex;
  }

  /** The commit index, as status() gives it, without building the status (read every turn). */
  get committed(): number {
    return this.commitIndex;
  }

  /** Ticks since the election timer was last reset, and the (randomized) timeout it runs to: for the explorer. */
  electionTimer(): { readonly elapsed: number; readonly timeout: number } {
    return { elapsed: this.electionElapsed, timeout: this.randomizedElectionTicks };
  }

  /** The leader's view of a follower (voter or learner), for tests and metrics. */
  progressOf(id: NodeId): Readonly<Progress> | undefined {
    return this.progress.get(id);
  }

  // -------------------------------------------------------------------------
  // Inputs.

  /** One unit of logical time. Elections and heartbeats are counted in ticks. */
  tick(): void {
    this.tickCount++;
    this.tickForRole();
  }

  /** Hands one message from a peer to the core. Messages addressed elsewhere are a caller bug. */
  step(message: Message): void {
    if (message.to !== this.id) throw new InvariantError('message delivered to the wrong node', { to: message.to, id: this.id });
    if (message.term > this.term) {
      if (!this.stepHigherTerm(message)) return;
    } else if (message.term < this.term) {
      this.stepLowerTerm(message);
      return;
    }
    // Whether to grant a vote depends on our vote and log, not our role (section 5.2, thesis 9.6).
    if (message.type === 'VoteRequest') this.handleVoteRequest(message);
    else this.stepForRole(message);
  }

  /** Appends commands to the leader's log as one batch; they replicate on the next ready(). */
  propose(commands: readonly Uint8Array[]): ProposeResult {
    const refusal = this.checkProposal(commands.length);
    if (refusal !== null) return refusal;
    const firstIndex = this.log.lastIndex + 1;
    for (const data of commands) this.appendOwn({ type: 'command', term: this.term, index: this.log.lastIndex + 1, data });
    return { ok: true, term: this.term, firstIndex };
  }

  /**
   * Proposes one membership change (thesis 4.1: one server at a time, so any two majorities of the old and new
   * configurations overlap). Learners count in no quorum, so adding, promoting or removing one is a single
   * change too. Expected refusals are typed: the change is not one (member-exists, unknown-member,
   * not-learner, last-voter), the learner to promote lags (learner-not-caught-up), or an earlier change is not
   * committed yet or no entry of this term is (config-change-in-progress: the barrier). Recommended for a new
   * voter: add it as a learner, promote it once caught up.
   */
  changeMembership(change: MembershipChange): ProposeResult {
    const refusal = this.checkConfigChange();
    if (refusal !== null) return refusal;
    const next = this.nextMembership(change);
    if (typeof next === 'string') return this.refuse(next);
    const index = this.log.lastIndex + 1;
    this.appendOwn({ type: 'config', term: this.term, index, membership: next });
    return { ok: true, term: this.term, firstIndex: index };
  }

  /**
   * Proposes a whole next configuration; it must differ from the current one by one change of changeMembership
   * (else too-large), which it then is. Kept for callers that think in configurations (the simulator).
   */
  proposeMembership(membership: Membership): ProposeResult {
    const change = singleChange(this.membership, membership);
    if (change === null) return this.checkConfigChange() ?? this.refuse('too-large');
    return this.changeMembership(change);
  }

  /** Whether a configuration may be appended now: on a leader, with no change pending, past the current-term barrier. */
  private checkConfigChange(): Refusal | null {
    const refusal = this.checkProposal(1);
    if (refusal !== null) return refusal;
    if (this.pendingConfigIndex > this.commitIndex) return this.refuse('config-change-in-progress');
    // The current-term barrier: append a configuration only once an entry of this term has committed. An earlier
    // leader's change still in some logs could otherwise commit later beside this one, whose majorities need not
    // overlap (the single-server change bug, Ongaro's raft-dev post of 2015, thesis 4.1 errata).
    if (this.options.unsafeSkipMembershipBarrier) return null;
    if (!this.committedInCurrentTerm()) return this.refuse('config-change-in-progress');
    return null;
  }

  /** The configuration after `change`, or why the change is refused. */
  private nextMembership(change: MembershipChange): Membership | RefusalReason {
    const { voters, learners } = this.membership;
    const id = change.id;
    const isVoter = voters.includes(id);
    const isLearner = learners.includes(id);
    switch (change.kind) {
      case 'add-voter':
      case 'add-learner': {
        if (isVoter || isLearner) return 'member-exists';
        const addresses = change.address === undefined ? this.membership.addresses : { ...this.membership.addresses, [id]: change.address };
        return membershipOf(
          change.kind === 'add-voter' ? [...voters, id] : voters,
          change.kind === 'add-learner' ? [...learners, id] : learners,
          addresses,
        );
      }
      case 'promote': {
        if (isVoter) return 'not-learner';
        if (!isLearner) return 'unknown-member';
        const progress = this.progress.get(id);
        invariant(progress !== undefined, 'a leader tracks every learner', { id });
        if (this.log.lastIndex - progress.match > this.options.learnerCatchUpEntriesMax) return 'learner-not-caught-up';
        return membershipOf(
          [...voters, id],
          learners.filter((learner) => learner !== id),
          this.membership.addresses,
        );
      }
      case 'remove': {
        if (!isVoter && !isLearner) return 'unknown-member';
        if (isVoter && voters.length === 1) return 'last-voter';
        let addresses = this.membership.addresses;
        if (addresses !== undefined && Object.hasOwn(addresses, id)) {
          const { [id]: _removed, ...rest } = addresses;
          addresses = rest;
        }
        return membershipOf(
          voters.filter((voter) => voter !== id),
          learners.filter((learner) => learner !== id),
          addresses,
        );
      }
    }
  }

  /**
   * Asks for a linearizable read (thesis 6.4). A ReadState with this context comes out of ready() once a
   * quorum has confirmed this node is still leader; the caller serves the read once it has applied that index.
   */
  readIndex(context: number): ReadIndexResult {
    if (this.role !== 'leader') return this.refuse('not-leader');
    if (this.pendingReads.length + this.readsAwaitingCommit.length >= this.options.pendingReadsMax) {
      return this.refuse('read-queue-full');
    }
    if (!this.committedInCurrentTerm()) {
      // A new leader does not know the commit index until an entry of its own term commits.
      this.readsAwaitingCommit.push(context);
      return { ok: true };
    }
    this.admitRead(context);
    return { ok: true };
  }

  /** Hands leadership to `to` once it is caught up (thesis 3.10). Proposals are refused meanwhile. */
  transferLeadership(to: NodeId): TransferResult {
    if (this.role !== 'leader') return this.refuse('not-leader');
    if (to === this.id) return { ok: true };
    const target = this.progress.get(to);
    if (target === undefined || !this.membership.voters.includes(to)) return this.refuse('unknown-node');
    this.transferTarget = to;
    this.transferElapsed = 0;
    if (target.match === this.log.lastIndex) this.sendTimeoutNow(to);
    else this.replicateTo.add(to);
    return { ok: true };
  }

  /**
   * Starts an election now, as a leadership transfer's TimeoutNow does (etcd's forced campaign): no PreVote,
   * and the vote requests carry the transfer flag, so voters that hear from a leader do not ignore them. The
   * explorer's "force an election". Only a voter may; it wins only with a log as up to date as a majority's.
   */
  forceElection(): TransferResult {
    if (!this.isVoter()) return this.refuse('unknown-node');
    this.campaign('candidate', true);
    return { ok: true };
  }

  /**
   * The caller reports that everything handed out up to `position` is durable. A position whose entry
   * has since been replaced is ignored: a later report will cover the replacement.
   */
  persisted(position: PersistedPosition): void {
    if (position.index <= this.stableIndex) return;
    if (position.index >= this.unstableFrom) return; // not handed out yet: cannot be durable
    if (!this.log.matchTerm(position.index, position.term)) return;
    this.stableIndex = position.index;
    this.persistWaitTicks = 0;
    if (this.role === 'leader') this.matchAdvanced(position.index);
  }

  /**
   * The caller has taken a snapshot of its state machine at `source.meta.index` (at most the applied index):
   * entries up to it are dropped, and the snapshot is what lagging followers will be sent.
   */
  compact(source: SnapshotSource): void {
    const meta = source.meta;
    invariant(meta.index <= this.appliedIndex, 'snapshot beyond the applied index', { index: meta.index, applied: this.appliedIndex });
    if (meta.index <= this.log.snapshotIndex) return;
    this.log.compact(meta);
    this.snapshotSource = source;
  }

  // -------------------------------------------------------------------------
  // Output.

  hasReady(): boolean {
    return (
      this.outbox.length > 0 ||
      this.outboxAfterPersist.length > 0 ||
      this.readStates.length > 0 ||
      this.hardStateDirty ||
      this.pendingSnapshot !== null ||
      this.unstableFrom <= this.log.lastIndex ||
      this.replicateTo.size > 0 ||
      this.roundRequested ||
      this.appliedIndex < this.applicableIndex() ||
      this.softStateChanged()
    );
  }

  /** Takes everything the caller must do now (see the ordering rule on `Ready`). */
  ready(): Ready {
    this.flushReplication();
    const softState = this.softStateChanged() ? (this.lastSoftState = this.softState()) : null;
    const hardState: HardState | null = this.hardStateDirty
      ? // The commit hint never points past what is already durable: a torn write could keep this record
        // but lose the entries after it, and a restart must not take an overwritten entry for committed.
        { term: this.term, votedFor: this.votedFor, commitIndex: Math.min(this.commitIndex, this.stableIndex) }
      : null;
    this.hardStateDirty = false;
    const snapshot = this.pendingSnapshot;
    this.pendingSnapshot = null;
    let entries: readonly Entry[] = EMPTY;
    if (this.unstableFrom <= this.log.lastIndex) {
      entries = this.log.slice(this.unstableFrom, this.log.lastIndex);
      if (this.stableIndex >= this.unstableFrom) {
        throw new InvariantError('unpersisted entries counted as stable', { stable: this.stableIndex, unstableFrom: this.unstableFrom });
      }
      this.unstableFrom = this.log.lastIndex + 1;
    }
    const ready: Ready = {
      softState,
      hardState,
      snapshot,
      entries,
      messages: this.takeOutbox(),
      messagesAfterPersist: this.takeOutboxAfterPersist(),
      committedEntries: this.takeCommitted(),
      readStates: this.takeReadStates(),
    };
    return ready;
  }

  // -------------------------------------------------------------------------
  // Time.

  /** Followers and candidates: an election timeout with no word from a leader starts a campaign (section 5.2). */
  private tickElection(): void {
    this.electionElapsed++;
    if (this.electionElapsed >= this.randomizedElectionTicks && this.mayCampaign()) {
      this.electionElapsed = 0;
      this.campaign(this.options.preVote ? 'pre-candidate' : 'candidate', false);
    }
  }

  /** The leader: heartbeats, CheckQuorum, and the time limit on a leadership transfer. */
  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.options.electionTicks) {
      this.electionElapsed = 0;
      if (this.options.checkQuorum && !this.quorumRecentlyActive()) {
        // CheckQuorum (thesis 6.2): a leader cut off from a majority stops claiming leadership.
        this.becomeFollower(this.term, null);
        return;
      }
    }
    if (this.transferTarget !== null && ++this.transferElapsed >= this.options.electionTicks) this.transferTarget = null;
    // A leader removing itself counts in no majority (thesis 4.2.2): its disk holds nothing up, and stepping down
    // before its removal commits would leave a log that outranks the others' with no voter to campaign for it.
    if (this.stableIndex >= this.unstableFrom - 1 || !this.isVoter()) this.persistWaitTicks = 0;
    else if (++this.persistWaitTicks >= this.options.persistStallTicks) {
      this.stepDownStalled();
      return;
    }
    if (this.heartbeatElapsed >= this.options.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat();
    }
  }

  /**
   * Our disk has not made our own entries durable for persistStallTicks: step down, and hand leadership to the
   * voter with the longest log if it holds all of ours (TimeoutNow), so the cluster need not wait for an
   * election timeout. Our followers keep their PreVote and CheckQuorum protections: without a TimeoutNow they
   * elect a leader in the usual way, once our heartbeats stop. As a follower we cannot campaign until our disk
   * records our vote, so a stalled node does not start an election storm.
   */
  private stepDownStalled(): void {
    this.persistWaitTicks = 0;
    let best: NodeId | null = null;
    let bestMatch = -1;
    for (const [id, progress] of this.progress) {
      if (id === this.id || !this.membership.voters.includes(id) || progress.match <= bestMatch) continue;
      best = id;
      bestMatch = progress.match;
    }
    if (best !== null && bestMatch === this.log.lastIndex) this.sendTimeoutNow(best);
    this.stalledStepDowns++;
    this.becomeFollower(this.term, null);
  }

  private resetElectionTimeout(): void {
    const base = this.options.electionTicks;
    this.randomizedElectionTicks = base + Math.floor(this.options.random.next() * base);
  }

  // -------------------------------------------------------------------------
  // Terms.

  /** Returns whether the message should be processed further. */
  private stepHigherTerm(message: Message): boolean {
    if (message.type === 'VoteRequest') {
      // Leader stickiness (thesis 4.2.3 and 9.6): while we hear from a leader, a vote request is a disruption.
      if (!message.transfer && this.inLease()) return false;
      if (message.preVote) return true; // a PreVote never changes our term
    }
    if (message.type === 'VoteResponse' && message.preVote && message.granted) return true;
    const leader = message.type === 'AppendRequest' || message.type === 'SnapshotRequest' ? message.from : null;
    this.becomeFollower(message.term, leader);
    return true;
  }

  private stepLowerTerm(message: Message): void {
    switch (message.type) {
      case 'AppendRequest':
      case 'SnapshotRequest':
        // Tell a deposed leader about the newer term, so it steps down (Figure 2: "reply false if term < currentTerm").
        this.send({
          type: 'AppendResponse',
          from: this.id,
          to: message.from,
          term: this.term,
          success: false,
          matchIndex: 0,
          rejectIndex: 0,
          conflictIndex: 0,
          conflictTerm: 0,
          round: 0,
        });
        return;
      case 'VoteRequest':
        if (message.preVote) {
          this.sendAfterPersist({ type: 'VoteResponse', from: this.id, to: message.from, term: this.term, preVote: true, granted: false });
        }
        return;
      default:
        return; // stale responses carry nothing we can use
    }
  }

  private inLease(): boolean {
    if ((this.options.checkQuorum || this.options.preVote) && this.leaderId !== null && this.electionElapsed < this.options.electionTicks) {
      return true;
    }
    // With lease reads, a node that has just started may have acknowledged a leader's round before it went down,
    // and that leader may still serve reads on it: it holds off votes for an election timeout of its own, as if
    // it had heard from that leader as it started (the lease bound assumes no voter forgets a lease it granted).
    return this.options.readMode === 'lease' && this.tickCount < this.options.electionTicks;
  }

  // -------------------------------------------------------------------------
  // Messages of our term, by role (etcd's stepFollower, stepCandidate, stepLeader).

  private stepFollower(message: RoleMessage): void {
    switch (message.type) {
      case 'AppendRequest':
        this.handleAppendRequest(message);
        return;
      case 'SnapshotRequest':
        this.handleSnapshotRequest(message);
        return;
      case 'TimeoutNow':
        this.handleTimeoutNow(message);
        return;
      default:
        return; // answers to a campaign or a leadership this node has already left
    }
  }

  /** The pre-candidate shares it: the two differ only in which vote responses they count. */
  private stepCandidate(message: RoleMessage): void {
    switch (message.type) {
      case 'VoteResponse':
        this.handleVoteResponse(message);
        return;
      case 'AppendRequest':
        // A leader of our term already exists, so this election is lost (section 5.2).
        this.becomeFollower(this.term, message.from);
        this.handleAppendRequest(message);
        return;
      case 'SnapshotRequest':
        this.becomeFollower(this.term, message.from);
        this.handleSnapshotRequest(message);
        return;
      default:
        return; // TimeoutNow is for a leader's follower; leader-side responses are from a role we have left
    }
  }

  private stepLeader(message: RoleMessage): void {
    switch (message.type) {
      case 'AppendResponse':
        this.handleAppendResponse(message);
        return;
      case 'SnapshotResponse':
        this.handleSnapshotResponse(message);
        return;
      case 'AppendRequest':
      case 'SnapshotRequest':
        // Election Safety (Figure 3): at most one leader per term.
        throw new InvariantError('two leaders in one term', { term: this.term, other: message.from });
      default:
        return; // late votes of an election already won; TimeoutNow only moves a follower
    }
  }

  // -------------------------------------------------------------------------
  // Roles.

  private becomeFollower(term: number, leaderId: NodeId | null): void {
    invariant(term >= this.term, 'term goes backwards', { term, current: this.term });
    if (term > this.term) {
      this.term = term;
      this.votedFor = null;
      this.hardStateDirty = true;
    }
    this.role = 'follower';
    this.stepForRole = this.stepFollower;
    this.tickForRole = this.tickElection;
    this.leaderId = leaderId;
    this.resetRoleState();
  }

  private campaign(role: 'pre-candidate' | 'candidate', transfer: boolean): void {
    // A PreVote asks in the term we would use, without moving to it (thesis 9.6).
    const term = this.term + 1;
    this.role = role;
    this.stepForRole = this.stepCandidate;
    this.tickForRole = this.tickElection;
    this.leaderId = null;
    this.resetRoleState();
    if (role === 'candidate') {
      this.term = term;
      this.votedFor = this.id;
      this.hardStateDirty = true;
    }
    this.votes.set(this.id, true);
    if (this.voteOutcome() === 'won') {
      this.winElection(role);
      return;
    }
    // Only voters are asked: a learner's vote would count in no quorum (etcd asks only voters as well).
    for (const voter of this.membership.voters) {
      if (voter === this.id) continue;
      // Vote requests wait for the persist of our own term and vote: a candidate that forgot its
      // self-vote after a crash could vote twice in one term.
      this.sendAfterPersist({
        type: 'VoteRequest',
        from: this.id,
        to: voter,
        term,
        preVote: role === 'pre-candidate',
        lastLogIndex: this.log.lastIndex,
        lastLogTerm: this.log.lastTerm,
        transfer,
      });
    }
  }

  private winElection(role: 'pre-candidate' | 'candidate'): void {
    if (role === 'pre-candidate') this.campaign('candidate', false);
    else this.becomeLeader();
  }

  private becomeLeader(): void {
    invariant(this.role === 'candidate', 'only a candidate becomes leader', { role: this.role });
    this.role = 'leader';
    this.stepForRole = this.stepLeader;
    this.tickForRole = this.tickHeartbeat;
    this.leaderId = this.id;
    this.resetRoleState();
    for (const members of [this.membership.voters, this.membership.learners]) {
      for (const member of members) {
        if (member !== this.id) this.progress.set(member, new Progress(this.log.lastIndex + 1));
      }
    }
    this.pendingConfigIndex = this.membershipIndex;
    // Thesis 6.4 / 8: a new leader commits an entry of its own term to learn the commit index.
    this.appendOwn({ type: 'noop', term: this.term, index: this.log.lastIndex + 1 });
  }

  private resetRoleState(): void {
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetElectionTimeout();
    this.votes.clear();
    this.progress.clear();
    this.replicateTo.clear();
    this.pendingReads = [];
    this.readsAwaitingCommit = [];
    this.roundRequested = false;
    this.roundStartTicks.clear();
    this.transferTarget = null;
    this.transferElapsed = 0;
  }

  private isVoter(): boolean {
    return this.membership.voters.includes(this.id);
  }

  /**
   * A voter campaigns; so does a voter that a configuration not yet committed removes (thesis 4.2.2: until it
   * commits, the server may still be needed). A leader removing itself that loses its leadership (CheckQuorum,
   * a crash) may hold the longest log, which the remaining voters will not vote past: without it campaigning,
   * no one could win. It counts in no majority of the new configuration, which its votes are tallied by.
   */
  private mayCampaign(): boolean {
    if (this.isVoter()) return true;
    if (this.membershipIndex <= this.commitIndex) return false;
    return this.log.latestMembership(this.membershipIndex - 1).membership.voters.includes(this.id);
  }

  private quorumSize(): number {
    return Math.floor(this.membership.voters.length / 2) + 1;
  }

  // -------------------------------------------------------------------------
  // Elections (section 5.2, thesis 9.6).

  private handleVoteRequest(request: VoteRequest): void {
    const canVote =
      this.votedFor === request.from || (this.votedFor === null && this.leaderId === null) || (request.preVote && request.term > this.term);
    // Section 5.4.1: grant only to a candidate whose log is at least as up to date as ours.
    const upToDate =
      request.lastLogTerm > this.log.lastTerm || (request.lastLogTerm === this.log.lastTerm && request.lastLogIndex >= this.log.lastIndex);
    const granted = canVote && upToDate;
    if (granted && !request.preVote) {
      this.votedFor = request.from;
      this.hardStateDirty = true;
      this.electionElapsed = 0;
    }
    this.sendAfterPersist({
      type: 'VoteResponse',
      from: this.id,
      to: request.from,
      // A granted PreVote answers in the candidate's future term so it is not taken for stale.
      term: granted && request.preVote ? request.term : this.term,
      preVote: request.preVote,
      granted,
    });
  }

  private handleVoteResponse(response: VoteResponse): void {
    const expected = response.preVote ? 'pre-candidate' : 'candidate';
    if (this.role !== expected) return; // an answer from the other phase of the campaign
    if (!this.membership.voters.includes(response.from)) return;
    this.votes.set(response.from, response.granted);
    const outcome = this.voteOutcome();
    if (outcome === 'won') this.winElection(expected);
    else if (outcome === 'lost') this.becomeFollower(this.term, null);
  }

  private voteOutcome(): 'won' | 'lost' | 'pending' {
    let granted = 0;
    let rejected = 0;
    for (const voter of this.membership.voters) {
      const vote = this.votes.get(voter);
      if (vote === true) granted++;
      else if (vote === false) rejected++;
    }
    const quorum = this.quorumSize();
    if (granted >= quorum) return 'won';
    if (rejected > this.membership.voters.length - quorum) return 'lost';
    return 'pending';
  }

  // -------------------------------------------------------------------------
  // Replication, follower side (section 5.3).

  private handleAppendRequest(request: AppendRequest): void {
    this.acceptLeader(request.from);
    if (request.prevLogIndex < this.commitIndex) {
      // Already committed here (perhaps compacted): only what follows the commit index can be news.
      this.appendAfterCommitted(request);
      return;
    }
    if (!this.log.matchTerm(request.prevLogIndex, request.prevLogTerm)) {
      this.rejectAppend(request);
      return;
    }
    const lastNew = this.appendFromLeader(request.prevLogIndex, request.entries);
    this.advanceFollowerCommit(Math.min(request.leaderCommit, lastNew));
    this.acceptAppend(request, lastNew);
  }

  /** The request starts inside our committed prefix: skip the entries we must already have. */
  private appendAfterCommitted(request: AppendRequest): void {
    const skip = this.commitIndex - request.prevLogIndex;
    const rest = request.entries.slice(skip);
    // The committed prefix is the same on every node (Leader Completeness), so it matches the leader's.
    const lastNew = rest.length > 0 ? this.appendFromLeader(this.commitIndex, rest) : this.commitIndex;
    this.advanceFollowerCommit(Math.min(request.leaderCommit, lastNew));
    this.acceptAppend(request, lastNew);
  }

  // Responses are written out field by field: object spread is slow on this hot path.
  private acceptAppend(request: AppendRequest, matchIndex: number): void {
    this.sendAfterPersist({
      type: 'AppendResponse',
      from: this.id,
      to: request.from,
      term: this.term,
      success: true,
      matchIndex,
      rejectIndex: 0,
      conflictIndex: 0,
      conflictTerm: 0,
      round: request.round,
    });
  }

  private rejectAppend(request: AppendRequest): void {
    const prevIndex = request.prevLogIndex;
    const beyond = prevIndex > this.log.lastIndex;
    this.sendAfterPersist({
      type: 'AppendResponse',
      from: this.id,
      to: request.from,
      term: this.term,
      success: false,
      matchIndex: 0,
      rejectIndex: prevIndex,
      conflictIndex: beyond ? this.log.lastIndex + 1 : this.log.firstIndexOfTermAt(prevIndex),
      conflictTerm: beyond ? 0 : (this.log.termAt(prevIndex) as number),
      round: request.round,
    });
  }

  /** Appends the leader's entries after `prevIndex`, truncating at the first conflict. Returns the last index covered. */
  private appendFromLeader(prevIndex: number, entries: readonly Entry[]): number {
    let index = prevIndex;
    // An indexed loop: `entries` is sometimes the frozen EMPTY, and for-of over arrays of mixed kinds
    // left the iterator unoptimised (an object allocated per entry).
    for (let position = 0; position < entries.length; position++) {
      const entry = entries[position] as Entry;
      index++;
      if (entry.index !== index) throw new InvariantError('append request entries not contiguous', { expected: index, got: entry.index });
      const existing = this.log.termAt(index);
      if (existing === entry.term) continue;
      if (existing !== undefined) {
        if (index <= this.commitIndex) throw new InvariantError('leader overwrites a committed entry', { index, commit: this.commitIndex });
        this.truncateFrom(index);
      }
      this.log.append(entry);
      if (entry.type === 'config') this.setMembership(entry.membership, entry.index);
    }
    return index;
  }

  private truncateFrom(index: number): void {
    this.log.truncateFrom(index);
    this.stableIndex = Math.min(this.stableIndex, index - 1);
    this.unstableFrom = Math.min(this.unstableFrom, index);
    if (this.membershipIndex >= index) {
      const latest = this.log.latestMembership();
      this.setMembership(latest.membership, latest.index);
    }
  }

  private advanceFollowerCommit(index: number): void {
    if (index > this.commitIndex) this.commitIndex = index;
  }

  /** Only a follower gets here: a candidate steps down first, a leader never accepts another (stepCandidate, stepLeader). */
  private acceptLeader(leaderId: NodeId): void {
    if (this.role !== 'follower')
      throw new InvariantError('leader accepted outside the follower role', { role: this.role, other: leaderId });
    if (this.leaderId !== null && this.leaderId !== leaderId) {
      throw new InvariantError('two leaders in one term', { term: this.term, known: this.leaderId, other: leaderId });
    }
    this.leaderId = leaderId;
    this.electionElapsed = 0;
  }

  // -------------------------------------------------------------------------
  // Replication, leader side.

  private handleAppendResponse(response: AppendResponse): void {
    const progress = this.progress.get(response.from);
    if (progress === undefined) return;
    progress.recentActive = true;
    this.noteRound(progress, response.round);
    if (response.success) this.onAppendAccepted(response.from, progress, response.matchIndex);
    else this.onAppendRejected(progress, response);
  }

  private onAppendAccepted(from: NodeId, progress: Progress, matchIndex: number): void {
    if (matchIndex > this.log.lastIndex) {
      throw new InvariantError('follower matches beyond the leader log', { from, matchIndex, last: this.log.lastIndex });
    }
    const wasProbing = progress.state === 'probe';
    progress.probeSent = false;
    const updated = progress.maybeUpdate(matchIndex);
    // A probe answered: the follower's position is known, so pipelining may start (etcd's StateReplicate).
    if (wasProbing && (updated || matchIndex === progress.match)) progress.becomeReplicate();
    if (updated) this.matchAdvanced(progress.match);
    if (this.transferTarget === from && progress.match === this.log.lastIndex) {
      this.sendTimeoutNow(from);
    }
    if (progress.next <= this.log.lastIndex) this.replicateTo.add(from);
  }

  private onAppendRejected(progress: Progress, response: AppendResponse): void {
    if (response.rejectIndex <= progress.match) return; // stale: we already know it matches further
    if (progress.state === 'probe' && response.rejectIndex !== progress.next - 1) return; // answer to an older probe
    // Fast back-tracking (thesis 5.3): skip a whole conflicting term per round trip.
    // If we hold the follower's conflicting term, resume after our last entry of it; if not, no entry of
    // ours after our last one with a lower term can match, so resume no later than that.
    let next = response.conflictIndex;
    if (response.conflictTerm > 0) {
      const candidate = this.log.lastIndexWithTermAtMost(response.rejectIndex, response.conflictTerm);
      next = this.log.termAt(candidate) === response.conflictTerm ? candidate + 1 : Math.min(candidate + 1, response.conflictIndex);
    }
    progress.becomeProbe();
    progress.next = Math.max(progress.match + 1, Math.min(next, response.rejectIndex));
    this.replicateTo.add(response.from);
  }

  /** Sends whatever each follower in `replicateTo` is missing, as far as its flow control allows. */
  private flushReplication(): void {
    if (this.role === 'leader') {
      if (this.roundRequested) this.broadcastHeartbeat();
      // Indexed, not iterated: nothing below queues another follower, and this allocates no iterator.
      for (let position = 0; position < this.replicateTo.size; position++) {
        const id = this.replicateTo.at(position);
        const progress = this.progress.get(id);
        if (progress === undefined) continue;
        while (this.sendAppend(id, progress)) {
          // keep filling the pipeline
        }
        // A paused follower learns the commit index from the next heartbeat: its window stays bounded.
        const paused = progress.isPaused(this.options.inflightMessagesMax, this.options.inflightBytesMax);
        if (progress.state === 'replicate' && !paused && progress.commitSent < this.commitIndex) this.sendCommit(id, progress);
      }
      this.sharedEntries = EMPTY; // let the shared array go with the messages
    }
    this.replicateTo.clear();
  }

  /** Sends one AppendRequest (or snapshot chunk) to a follower. Returns whether another could follow at once. */
  private sendAppend(to: NodeId, progress: Progress): boolean {
    if (progress.isPaused(this.options.inflightMessagesMax, this.options.inflightBytesMax)) return false;
    const prevIndex = progress.next - 1;
    const prevTerm = this.log.termAt(prevIndex);
    if (prevTerm === undefined || progress.next < this.log.firstIndex) {
      this.startSnapshot(to, progress);
      return false;
    }
    const last =
      progress.next <= this.log.lastIndex
        ? this.log.sliceEnd(progress.next, this.log.lastIndex, this.options.appendEntriesMax, this.options.appendBytesMax)
        : prevIndex;
    if (last === prevIndex && progress.state === 'replicate') return false; // nothing new; heartbeats cover liveness
    const entries = this.entriesToSend(progress.next, last);
    const bytes = this.log.bytesBetween(progress.next, last);
    this.send({
      type: 'AppendRequest',
      from: this.id,
      to,
      term: this.term,
      prevLogIndex: prevIndex,
      prevLogTerm: prevTerm,
      entries,
      leaderCommit: this.commitIndex,
      round: this.round,
    });
    progress.sentEntries(last, bytes, this.round);
    progress.commitSent = this.commitIndex;
    return progress.state === 'replicate' && last < this.log.lastIndex;
  }

  /**
   * The entries [from, last] for an AppendRequest. Followers that are level (the usual case: all caught
   * up when a batch is proposed) get the same range, so they share one array instead of a copy each.
   * Messages are read-only data, so sharing is safe.
   */
  private entriesToSend(from: number, last: number): readonly Entry[] {
    if (last < from) return EMPTY;
    const shared = this.sharedEntries;
    if (this.sharedEntriesFrom === from && shared.length === last - from + 1) return shared;
    const entries = this.log.slice(from, last);
    this.sharedEntries = entries;
    this.sharedEntriesFrom = from;
    return entries;
  }

  /** Tells a replicating follower a new commit index at once, right after the last entry sent to it. */
  private sendCommit(to: NodeId, progress: Progress): void {
    const prevIndex = progress.next - 1;
    const prevTerm = this.log.termAt(prevIndex);
    if (prevTerm === undefined) return;
    this.send({
      type: 'AppendRequest',
      from: this.id,
      to,
      term: this.term,
      prevLogIndex: prevIndex,
      prevLogTerm: prevTerm,
      entries: EMPTY,
      leaderCommit: this.commitIndex,
      round: this.round,
    });
    progress.commitSent = this.commitIndex;
  }

  /**
   * Heartbeats carry no entries and point at the follower's known match, so they never fail the
   * consistency check; the commit index they carry is capped at that match.
   */
  private broadcastHeartbeat(): void {
    this.roundRequested = false;
    this.startRound();
    for (const [id, progress] of this.progress) {
      if (progress.state === 'snapshot') {
        this.sendSnapshotChunk(id, progress); // also re-sends a chunk that may have been lost
        continue;
      }
      if (progress.state === 'probe') progress.probeSent = false; // let a lost probe be retried
      // An AppendRequest lost in the pipeline shows as a follower that answers newer rounds but not it.
      if (progress.state === 'replicate' && progress.isStalled()) progress.becomeProbe();
      // A follower whose match was compacted away gets an index-0 heartbeat: always consistent.
      const prevIndex = progress.match >= this.log.snapshotIndex ? progress.match : 0;
      this.send({
        type: 'AppendRequest',
        from: this.id,
        to: id,
        term: this.term,
        prevLogIndex: prevIndex,
        prevLogTerm: prevIndex === 0 ? 0 : (this.log.termAt(prevIndex) as number),
        entries: EMPTY,
        leaderCommit: Math.min(this.commitIndex, progress.match),
        round: this.round,
      });
      if (progress.match < this.log.lastIndex) this.replicateTo.add(id);
    }
  }

  /**
   * One voter's durable index (a follower's match, or our own stable index) rose to `index`. Below or at
   * the commit index it cannot lift the quorum's index above it; and since maybeCommit runs after every
   * such rise, nothing committable was left waiting. So only a rise past the commit index is counted.
   */
  private matchAdvanced(index: number): void {
    if (index > this.commitIndex) this.maybeCommit();
  }

  /** Commits the highest index a quorum has durably stored, if it is of the current term (Figure 8, section 5.4.2). */
  private maybeCommit(): void {
    if (this.role !== 'leader') return;
    const candidate = this.quorumMatchIndex();
    if (candidate <= this.commitIndex) return;
    if (this.log.termAt(candidate) !== this.term) return; // never commit an older term's entry by counting replicas
    const hadCommittedInTerm = this.committedInCurrentTerm();
    this.commitIndex = candidate;
    this.replicateToAll(); // followers learn the new commit index
    if (!hadCommittedInTerm) this.releaseReadsAwaitingCommit();
    this.maybeStepDownAfterRemoval();
  }

  /** The highest index a quorum of voters has durably stored: our own stable index and each follower's match. */
  private quorumMatchIndex(): number {
    const matches = this.quorumScratch;
    let count = 0;
    // Learners have a Progress too but count in no quorum: only the voters' matches are gathered.
    const voters = this.membership.voters;
    for (let position = 0; position < voters.length; position++) {
      const voter = voters[position] as NodeId;
      if (voter === this.id) {
        matches[count++] = this.stableIndex;
        continue;
      }
      const progress = this.progress.get(voter);
      if (progress === undefined) throw new InvariantError('leader tracks no progress of a voter', { voter });
      matches[count++] = progress.match;
    }
    return quorumIndex(matches, count);
  }

  private committedInCurrentTerm(): boolean {
    return this.log.termAt(this.commitIndex) === this.term;
  }

  private appendOwn(entry: Entry): void {
    invariant(this.role === 'leader', 'only a leader appends its own entries');
    this.log.append(entry);
    if (entry.type === 'config') {
      this.setMembership(entry.membership, entry.index);
      this.pendingConfigIndex = entry.index;
    }
    this.replicateToAll();
  }

  private replicateToAll(): void {
    if (this.replicateTo.size === this.progress.size) return;
    for (const id of this.progress.keys()) this.replicateTo.add(id);
  }

  private checkProposal(count: number): Refusal | null {
    if (this.role !== 'leader') return this.refuse('not-leader');
    if (this.transferTarget !== null) return this.refuse('transfer-in-progress');
    if (count > this.options.proposalBatchEntriesMax) return this.refuse('too-large');
    if (this.log.lastIndex - this.commitIndex + count > this.options.uncommittedEntriesMax) return this.refuse('proposal-queue-full');
    return null;
  }

  private quorumRecentlyActive(): boolean {
    let active = this.isVoter() ? 1 : 0;
    for (const [id, progress] of this.progress) {
      if (progress.recentActive && this.membership.voters.includes(id)) active++;
      progress.recentActive = false;
    }
    return active >= this.quorumSize();
  }

  // -------------------------------------------------------------------------
  // Membership (thesis chapter 4): the newest configuration in the log rules, committed or not.

  private setMembership(membership: Membership, index: number): void {
    this.membership = membership;
    this.membershipIndex = index;
    if (this.role !== 'leader') return;
    // The leader replicates to every voter and learner (thesis 4.2.1: a learner catches up before it votes).
    for (const members of [membership.voters, membership.learners]) {
      for (const member of members) {
        if (member !== this.id && !this.progress.has(member)) {
          this.progress.set(member, new Progress(this.log.lastIndex + 1));
          this.replicateTo.add(member);
        }
      }
    }
    for (const id of [...this.progress.keys()]) {
      if (!isMember(membership, id)) this.progress.delete(id);
    }
    this.maybeCommit(); // the quorum changed with the voters
  }

  /** A leader removed from the configuration steps down once that configuration commits (thesis 4.2.2). */
  private maybeStepDownAfterRemoval(): void {
    if (this.role === 'leader' && this.membershipIndex <= this.commitIndex && !this.isVoter()) {
      this.becomeFollower(this.term, null);
    }
  }

  // -------------------------------------------------------------------------
  // Linearizable reads (thesis 6.4).

  private admitRead(context: number): void {
    if (this.membership.voters.length === 1 && this.isVoter()) {
      this.readStates.push({ context, index: this.commitIndex });
      return;
    }
    if (this.options.readMode === 'lease' && this.leaseValid()) {
      this.readStates.push({ context, index: this.commitIndex });
      return;
    }
    // All reads admitted before the next ready() share one heartbeat round.
    this.pendingReads.push({ context, index: this.commitIndex, round: this.round + 1 });
    this.roundRequested = true;
  }

  private releaseReadsAwaitingCommit(): void {
    const contexts = this.readsAwaitingCommit;
    this.readsAwaitingCommit = [];
    for (const context of contexts) this.admitRead(context);
  }

  private startRound(): void {
    this.round++;
    this.roundStartTicks.set(this.round, this.tickCount);
    // Keep only recent rounds: the lease needs none older than an election timeout.
    for (const [round, tick] of this.roundStartTicks) {
      if (tick >= this.tickCount - this.options.electionTicks) break;
      this.roundStartTicks.delete(round);
    }
  }

  private noteRound(progress: Progress, round: number): void {
    if (round <= progress.ackedRound) return;
    progress.ackedRound = round;
    this.confirmReads();
  }

  private confirmReads(): void {
    if (this.pendingReads.length === 0) return;
    const acked = this.quorumScratch;
    let count = 0;
    if (this.isVoter()) acked[count++] = this.round;
    for (const [id, progress] of this.progress) {
      if (this.membership.voters.includes(id)) acked[count++] = progress.ackedRound;
    }
    const confirmedRound = quorumIndex(acked, count, this.quorumSize());
    let released = 0;
    for (const read of this.pendingReads) {
      if (read.round > confirmedRound) break;
      this.readStates.push({ context: read.context, index: read.index });
      released++;
    }
    if (released > 0) this.pendingReads = this.pendingReads.slice(released);
  }

  /**
   * TimeoutNow lets the target win votes inside our followers' leases (thesis 3.10): from then on in this
   * term our lease proves nothing, and reads go through ReadIndex rounds.
   */
  private sendTimeoutNow(to: NodeId): void {
    this.leaseRevokedInTerm = this.term;
    this.send({ type: 'TimeoutNow', from: this.id, to, term: this.term });
  }

  /** Lease reads (thesis 6.4.1): a quorum acknowledged a round started less than an election timeout ago. */
  private leaseValid(): boolean {
    if (this.leaseRevokedInTerm === this.term) return false;
    // Followers hold off elections for electionTicks of their own clocks after hearing from us; ticks run
    // out of phase across nodes, so the lease ends LEASE_DRIFT_TICKS early.
    const since = this.tickCount - (this.options.electionTicks - LEASE_DRIFT_TICKS) + 1;
    let fresh = this.isVoter() ? 1 : 0;
    for (const [id, progress] of this.progress) {
      const started = this.roundStartTicks.get(progress.ackedRound);
      if (started !== undefined && started >= since && this.membership.voters.includes(id)) fresh++;
    }
    return this.committedInCurrentTerm() && fresh >= this.quorumSize();
  }

  // -------------------------------------------------------------------------
  // Snapshots (section 7).

  private startSnapshot(to: NodeId, progress: Progress): void {
    const source = this.snapshotSource;
    invariant(source !== null, 'follower needs compacted entries but there is no snapshot', { to });
    progress.becomeSnapshot(source.meta.index);
    this.sendSnapshotChunk(to, progress);
  }

  private sendSnapshotChunk(to: NodeId, progress: Progress): void {
    const source = this.snapshotSource;
    if (source === null) return;
    if (source.meta.index !== progress.snapshotIndex) {
      // A newer snapshot replaced the one in transfer: start it over.
      progress.becomeSnapshot(source.meta.index);
    }
    const offset = progress.snapshotOffsetBytes;
    const data = source.readChunk(offset, this.options.snapshotChunkBytes);
    this.send({
      type: 'SnapshotRequest',
      from: this.id,
      to,
      term: this.term,
      meta: source.meta,
      offsetBytes: offset,
      totalBytes: source.sizeBytes,
      data,
      done: offset + data.byteLength >= source.sizeBytes,
      round: this.round,
    });
  }

  private handleSnapshotResponse(response: SnapshotResponse): void {
    const progress = this.progress.get(response.from);
    if (progress === undefined) return;
    progress.recentActive = true;
    this.noteRound(progress, response.round);
    if (progress.state !== 'snapshot' || response.snapshotIndex !== progress.snapshotIndex) return;
    if (!response.success) {
      progress.snapshotOffsetBytes = 0;
      this.sendSnapshotChunk(response.from, progress);
      return;
    }
    if (response.done) {
      progress.maybeUpdate(response.snapshotIndex);
      progress.becomeProbe();
      this.replicateTo.add(response.from);
      this.maybeCommit();
      return;
    }
    // The follower's count is the truth: it may be behind what we sent (a lost or reordered chunk).
    if (response.receivedBytes !== progress.snapshotOffsetBytes) {
      progress.snapshotOffsetBytes = response.receivedBytes;
      this.sendSnapshotChunk(response.from, progress);
    }
  }

  private handleSnapshotRequest(request: SnapshotRequest): void {
    this.acceptLeader(request.from);
    const reply = (fields: Pick<SnapshotResponse, 'receivedBytes' | 'done' | 'success'>): void => {
      this.sendAfterPersist({
        type: 'SnapshotResponse',
        from: this.id,
        to: request.from,
        term: this.term,
        snapshotIndex: request.meta.index,
        round: request.round,
        ...fields,
      });
    };
    const meta = request.meta;
    if (meta.index <= this.commitIndex) {
      // Nothing to install: we already have everything the snapshot covers.
      this.incomingSnapshot = null;
      reply({ receivedBytes: request.totalBytes, done: true, success: true });
      return;
    }
    let incoming = this.incomingSnapshot;
    const sameSnapshot = incoming !== null && incoming.meta.index === meta.index && incoming.meta.term === meta.term;
    if (request.offsetBytes === 0 && !(sameSnapshot && incoming !== null && incoming.receivedBytes > 0)) {
      incoming = { meta, totalBytes: request.totalBytes, data: new Uint8Array(request.totalBytes), receivedBytes: 0 };
      this.incomingSnapshot = incoming;
    } else if (incoming === null || !sameSnapshot) {
      reply({ receivedBytes: 0, done: false, success: false }); // we lost the start: ask for it again
      return;
    }
    if (request.offsetBytes === incoming.receivedBytes) {
      if (incoming.receivedBytes + request.data.byteLength > incoming.totalBytes) {
        throw new InvariantError('snapshot chunk beyond the announced size', { offset: request.offsetBytes, total: incoming.totalBytes });
      }
      incoming.data.set(request.data, incoming.receivedBytes);
      incoming.receivedBytes += request.data.byteLength;
    }
    if (!request.done || incoming.receivedBytes < incoming.totalBytes) {
      reply({ receivedBytes: incoming.receivedBytes, done: false, success: true });
      return;
    }
    this.incomingSnapshot = null;
    this.installSnapshot({ meta, data: incoming.data });
    reply({ receivedBytes: incoming.totalBytes, done: true, success: true });
  }

  private installSnapshot(snapshot: Snapshot): void {
    const meta = snapshot.meta;
    if (this.log.matchTerm(meta.index, meta.term)) {
      // We hold the entry the snapshot ends at, so our log after it is consistent: just learn the commit.
      this.advanceFollowerCommit(meta.index);
      return;
    }
    this.log.restore(meta);
    this.commitIndex = meta.index;
    this.appliedIndex = meta.index;
    this.stableIndex = Math.min(this.stableIndex, meta.index);
    this.unstableFrom = meta.index + 1;
    this.setMembership(meta.membership, meta.index);
    this.snapshotSource = memorySnapshotSource(snapshot);
    this.pendingSnapshot = snapshot;
  }

  // -------------------------------------------------------------------------
  // Leadership transfer (thesis 3.10).

  private handleTimeoutNow(message: TimeoutNow): void {
    if (!this.isVoter() || this.leaderId !== message.from) return;
    this.campaign('candidate', true);
  }

  // -------------------------------------------------------------------------
  // Output plumbing.

  private send(message: Message): void {
    this.outbox.push(message);
  }

  private sendAfterPersist(message: Message): void {
    this.outboxAfterPersist.push(message);
  }

  private refuse(reason: RefusalReason): Refusal {
    return { ok: false, reason, leaderId: this.leaderId };
  }

  private softState(): SoftState {
    return { role: this.role, leaderId: this.leaderId, term: this.term };
  }

  private softStateChanged(): boolean {
    const last = this.lastSoftState;
    return last.role !== this.role || last.leaderId !== this.leaderId || last.term !== this.term;
  }

  private applicableIndex(): number {
    return Math.min(this.commitIndex, this.stableIndex);
  }

  private takeCommitted(): readonly Entry[] {
    const upTo = Math.min(this.applicableIndex(), this.appliedIndex + this.options.applyBatchEntriesMax);
    if (upTo <= this.appliedIndex) return EMPTY;
    let entries = this.log.slice(this.appliedIndex + 1, upTo);
    let bytes = 0;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i] as Entry;
      if (entry.type === 'command') bytes += entry.data.byteLength;
      if (bytes > this.options.applyBatchBytesMax && i > 0) {
        entries = entries.slice(0, i);
        break;
      }
    }
    this.appliedIndex = (entries[entries.length - 1] as Entry).index;
    return entries;
  }

  private takeOutbox(): readonly Message[] {
    if (this.outbox.length === 0) return EMPTY;
    const out = this.outbox;
    this.outbox = [];
    return out;
  }

  private takeOutboxAfterPersist(): readonly Message[] {
    if (this.outboxAfterPersist.length === 0) return EMPTY;
    const out = this.outboxAfterPersist;
    this.outboxAfterPersist = [];
    return out;
  }

  private takeReadStates(): readonly ReadState[] {
    if (this.readStates.length === 0) return EMPTY;
    const out = this.readStates;
    this.readStates = [];
    return out;
  }
}

/**
 * The `quorum`-th largest of `values[0 .. count)` (by default a majority of `count`), or 0 when there are
 * fewer values: the highest index that many voters have reached. Sorts that prefix in place, descending;
 * an insertion sort, as a cluster has only a handful of voters.
 */
function quorumIndex(values: number[], count: number, quorum = Math.floor(count / 2) + 1): number {
  if (count > values.length) throw new InvariantError('quorum count beyond its values', { count, length: values.length });
  for (let sorted = 1; sorted < count; sorted++) {
    const value = values[sorted] as number;
    let position = sorted;
    while (position > 0 && (values[position - 1] as number) < value) {
      values[position] = values[position - 1] as number;
      position--;
    }
    values[position] = value;
  }
  return quorum <= count ? (values[quorum - 1] as number) : 0;
}

function membershipOf(voters: readonly NodeId[], learners: readonly NodeId[], addresses: Membership['addresses']): Membership {
  return addresses === undefined ? { voters, learners } : { voters, learners, addresses };
}

function isMember(membership: Membership, id: NodeId): boolean {
  return membership.voters.includes(id) || membership.learners.includes(id);
}

/**
 * The one MembershipChange that turns `current` into `next`, or null when it takes none or more than one (a
 * voter turned learner is no change changeMembership makes either). An added member's address comes from `next`.
 */
function singleChange(current: Membership, next: Membership): MembershipChange | null {
  const changes: MembershipChange[] = [];
  const address = (id: NodeId): { address?: string } => {
    const value = next.addresses?.[id];
    return value === undefined ? {} : { address: value };
  };
  for (const id of next.voters) {
    if (current.learners.includes(id)) changes.push({ kind: 'promote', id });
    else if (!current.voters.includes(id)) changes.push({ kind: 'add-voter', id, ...address(id) });
  }
  for (const id of next.learners) {
    if (current.voters.includes(id)) return null;
    if (!current.learners.includes(id)) changes.push({ kind: 'add-learner', id, ...address(id) });
  }
  for (const id of [...current.voters, ...current.learners]) {
    if (!isMember(next, id)) changes.push({ kind: 'remove', id });
  }
  return changes.length === 1 ? (changes[0] as MembershipChange) : null;
}
