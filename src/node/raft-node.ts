import { RaftCore } from '../raft/raft.js';
import type { RaftOptionsInput } from '../raft/config.js';
import type { Progress } from '../raft/progress.js';
import { wholeSnapshotSlices, type SnapshotSlices, type StateMachine } from '../raft/state-machine.js';
import type { Entry, Membership, MembershipChange, Message, NodeId, PersistedPosition, Ready, Role, Snapshot } from '../raft/types.js';
import { ERRORS } from '../protocol/errors.js';
import type { NodeFrameState } from '../protocol/explorer.js';
import {
  coreRefusalCode,
  NODE_DURATION_BUCKETS_SECONDS,
  type DurationCounts,
  type NodeDuration,
  type NodeEvent,
  type NodeMetricsSample,
  type NodeRefusal,
  type NodeRefusalCode,
  type NodeStatus,
  type ProposeOutcome,
  type RaftNodeLimits,
  type ReadOutcome,
} from '../protocol/node.js';
import type { RaftStorage, SnapshotSink } from '../storage/types.js';
import { readAllSnapshot } from '../storage/snapshot-store.js';

/**
 * Commit marks kept for entries not yet applied (see RaftNode.commitMarks). Past it, the newest mark is moved
 * forward instead of adding one: those entries are then timed from an earlier commit, never a later one.
 */
const COMMIT_MARKS_MAX = 4096;

export const NODE_LIMITS_DEFAULTS: RaftNodeLimits = {
  mailboxMessagesMax: 100_000,
  mailboxBatchMessagesMax: 1024,
  snapshotEveryEntries: 100_000,
  snapshotSliceBytes: 4 * 1024 * 1024,
  pendingTicksMax: 3,
  applyBytesPerTurnMax: 4 * 1024 * 1024,
  pausedCallsMax: 10_000,
  proposedBytesPerTurnMax: 64 * 1024 * 1024,
  diskFreeBytesMin: 64 * 1024 * 1024,
};

/** A node looks at its free disk space every this many ticks (a statfs: a few microseconds). */
export const DISK_CHECK_TICKS = 10;

/** What the node needs from where it runs: a worker (MessagePorts, timers) or a test harness. */
export interface NodeHost {
  send(message: Message): void;
  /** End of a turn: post everything queued to peers. */
  flush(): void;
  emit(event: NodeEvent): void;
}

/**
 * Where the node's turns and disk syncs run: in a worker, setImmediate and fdatasync in the thread pool;
 * in the simulator, events on its seeded clock. This is the only difference between the two.
 */
export interface NodeRuntime {
  /** Runs `task` after the current turn. */
  schedule(task: () => void): void;
  /** Makes everything written to `storage` so far durable, then calls `done` (later, never synchronously). */
  sync(storage: RaftStorage, done: (error: Error | null) => void): void;
  /**
   * The clock of the node's metrics, in ms (default performance.now). It only times: nothing the node decides
   * reads it, so a simulated run stays the same whichever clock it has.
   */
  now?(): number;
}

/** A worker's runtime: turns on setImmediate, group-committed fdatasync off the event loop. */
export const WORKER_RUNTIME: NodeRuntime = {
  schedule: (task) => void setImmediate(task),
  sync: (storage, done) => {
    storage.sync().then(
      () => done(null),
      (error: unknown) => done(error instanceof Error ? error : new Error(String(error))),
    );
  },
  now: () => performance.now(),
};

/**
 * One duration's observations between two metrics samples, in the buckets of NODE_DURATION_BUCKETS_SECONDS:
 * the node counts, the router's registry adds the counts up (a postMessage per observation would cost more
 * than the entry it times).
 */
export class DurationBuckets {
  private counts: number[] = new Array<number>(NODE_DURATION_BUCKETS_SECONDS.length + 1).fill(0);
  private sum = 0;
  private count = 0;

  /** `times` observations of `seconds` each (a run of entries committed together is one call). */
  observe(seconds: number, times = 1): void {
    let bucket = 0;
    while (bucket < NODE_DURATION_BUCKETS_SECONDS.length && seconds > (NODE_DURATION_BUCKETS_SECONDS[bucket] as number)) bucket++;
    this.counts[bucket] = (this.counts[bucket] as number) + times;
    this.sum += seconds * times;
    this.count += times;
  }

  /** The observations since the last take, or null if there were none; counting starts afresh. */
  take(): DurationCounts | null {
    if (this.count === 0) return null;
    const taken = { counts: this.counts, sum: this.sum, count: this.count };
    this.counts = new Array<number>(NODE_DURATION_BUCKETS_SECONDS.length + 1).fill(0);
    this.sum = 0;
    this.count = 0;
    return taken;
  }
}

/** The node's own part of a metrics sample; the worker adds the WAL's and the links'. */
export type NodeMetrics = Omit<NodeMetricsSample, 'walBytes' | 'links'>;

/** Hooks for the simulator's checkers: what entered the log, what was applied, what was installed. */
export interface NodeObserver {
  onReady?(ready: Ready, core: RaftCore): void;
  onApplied?(entry: Entry): void;
  onSnapshotInstalled?(snapshot: Snapshot): void;
}

interface ProposalWaiter {
  readonly term: number;
  readonly firstIndex: number;
  readonly count: number;
  readonly lastIndex: number;
  readonly results: unknown[];
  readonly resolve: (outcome: ProposeOutcome) => void;
  /** When it was proposed (the runtime's clock, ms): its proposal-to-commit time is measured from here. */
  readonly proposedAt: number;
}

interface ReadWaiter {
  readonly query: unknown;
  index: number;
  readonly resolve: (outcome: ReadOutcome) => void;
}

export type ProposeCallback = (outcome: ProposeOutcome) => void;
export type ReadCallback = (outcome: ReadOutcome) => void;

/** A snapshot of this node's state machine being written, a slice per turn. */
interface SnapshotJob {
  readonly index: number;
  readonly slices: SnapshotSlices;
  readonly sink: SnapshotSink;
  /** When it began (the runtime's clock, ms). */
  readonly startedAt: number;
}

interface PendingPersist {
  /** Durable once the sync numbered `seq` completed. */
  readonly seq: number;
  readonly afterPersist: readonly Message[];
  readonly position: PersistedPosition | null;
}

/**
 * The Raft node actor (after RabbitMQ's ra): a mailbox drained in batches and a thin shell that feeds the
 * pure core and carries out its Ready: send, write, sync (group commit, completing later as an event),
 * apply, answer. Nothing here blocks for long: fsync runs in the thread pool while the node keeps working.
 */
export class RaftNode {
  readonly id: NodeId;
  readonly core: RaftCore;
  private readonly limits: RaftNodeLimits;
  private mailbox: Message[] = [];
  private mailboxHead = 0;
  private mailboxDropped = 0;
  private pendingTicks = 0;
  private drainScheduled = false;
  private paused = false;
  private stopped = false;
  private writeSeq = 0;
  private durableSeq = 0;
  private persistQueue: PendingPersist[] = [];
  private appliedIndex: number;
  /** The term of the last entry applied here (terms never decrease along the log). */
  private appliedTerm = 0;
  /**
   * Proposals waiting to be applied. Two may cover one index: a node that led, lost its entries and leads
   * again proposes anew at indexes its old proposals held (each is settled by the entry applied there).
   */
  private proposals = new Set<ProposalWaiter>();
  private reads = new Map<number, ReadWaiter>();
  private readsAwaitingApply: ReadWaiter[] = [];
  private nextReadContext = 1;
  private role: Role = 'follower';
  private fatal: Error | null = null;
  /** Client calls that arrived while paused, run on resume; at most pausedCallsMax. */
  private heldCalls: (() => void)[] = [];
  private pausedCallsRefused = 0;
  /** Command bytes proposed since the last turn took them into a Ready (at most proposedBytesPerTurnMax). */
  private proposedBytes = 0;
  private snapshotJob: SnapshotJob | null = null;
  /** Free space under diskFreeBytesMin: writes refused, entries sent here dropped, no snapshot (see checkDisk). */
  private diskFull = false;
  private diskFreeBytes: number | null = null;
  private ticksToDiskCheck = 0;
  /** The durations this node times, until the worker takes them into a metrics sample (takeMetrics). */
  private readonly timings = {
    proposal_commit: new DurationBuckets(),
    commit_apply: new DurationBuckets(),
    snapshot_save: new DurationBuckets(),
    snapshot_install: new DurationBuckets(),
  } satisfies Partial<Record<NodeDuration, DurationBuckets>>;
  private readonly now: () => number;
  /**
   * When this node saw its commit index reach each value: flat (index, time) pairs from commitMarksHead on,
   * oldest first, one per turn that moved it. An entry was committed at the first mark at or past its index;
   * marks behind the applied index are dropped as entries are applied. Numbers in one array: no allocation.
   */
  private commitMarks: number[] = [];
  private commitMarksHead = 0;
  private markedCommit = 0;
  /** The entries applied in this Ready so far that share one commit mark: timed together (one observation call). */
  private applyRun = { committedAt: 0, entries: 0 };
  /** The limit counters as of the last metrics sample (the sample carries what was added since). */
  private sampledMailboxDropped = 0;
  private sampledPausedCallsRefused = 0;

  constructor(
    options: { readonly core: RaftOptionsInput; readonly limits?: Partial<RaftNodeLimits> },
    private readonly storage: RaftStorage,
    private readonly stateMachine: StateMachine,
    private readonly host: NodeHost,
    private readonly runtime: NodeRuntime = WORKER_RUNTIME,
    private readonly observer: NodeObserver = {},
  ) {
    this.limits = { ...NODE_LIMITS_DEFAULTS, ...options.limits };
    this.now = runtime.now ?? (() => performance.now());
    this.id = options.core.id;
    const boot = storage.boot;
    this.core = new RaftCore(options.core, boot);
    this.appliedIndex = boot.snapshot?.meta.index ?? 0;
    if (boot.snapshot !== null) this.stateMachine.restore(readAllSnapshot(boot.snapshot));
    this.checkDisk();
  }

  /** One unit of time, from a timer (worker) or the simulated clock. Ticks while paused are lost, as with SIGSTOP. */
  tick(): void {
    if (this.paused || this.stopped) return;
    if (--this.ticksToDiskCheck <= 0) this.checkDisk();
    if (this.pendingTicks < this.limits.pendingTicksMax) this.pendingTicks++;
    this.scheduleDrain();
  }

  /** A batch of messages from a peer. */
  receive(messages: readonly Message[]): void {
    if (this.stopped) return;
    const room = this.limits.mailboxMessagesMax - (this.mailbox.length - this.mailboxHead);
    if (room < messages.length) this.mailboxDropped += messages.length - Math.max(0, room);
    for (let i = 0; i < Math.min(room, messages.length); i++) this.mailbox.push(messages[i] as Message);
    this.scheduleDrain();
  }

  propose(commands: readonly Uint8Array[]): Promise<ProposeOutcome> {
    return new Promise((resolve) => this.submit(commands, resolve));
  }

  /** Proposes commands as consecutive entries; `done` gets their results once this node has applied them. */
  submit(commands: readonly Uint8Array[], done: ProposeCallback): void {
    if (this.paused) return this.hold(() => this.submit(commands, done), done);
    if (this.stopped) return done(this.refusal('NODE_STOPPED', ERRORS.NODE_STOPPED.message, true));
    // What is proposed between two turns is written as one WAL record: bound it (its record must fit).
    let bytes = 0;
    for (const command of commands) bytes += command.byteLength;
    if (bytes > this.limits.proposedBytesPerTurnMax) {
      return done(this.refusal('PROPOSAL_TOO_LARGE', `a proposal of ${bytes} bytes, more than proposedBytesPerTurnMax`, true));
    }
    if (this.diskFull && this.core.isLeader) return done(this.diskFullRefusal());
    if (this.proposedBytes + bytes > this.limits.proposedBytesPerTurnMax) {
      return done(
        this.refusal('QUEUE_FULL', `this turn's proposals already hold ${this.proposedBytes} bytes (proposedBytesPerTurnMax)`, true),
      );
    }
    const result = this.core.propose(commands);
    if (!result.ok) return done(this.refusalFrom(result.reason));
    this.proposedBytes += bytes;
    this.scheduleDrain();
    this.proposals.add({
      term: result.term,
      firstIndex: result.firstIndex,
      count: commands.length,
      lastIndex: result.firstIndex + commands.length - 1,
      results: [],
      resolve: done,
      proposedAt: this.now(),
    });
  }

  read(query: unknown): Promise<ReadOutcome> {
    return new Promise((resolve) => this.query(query, resolve));
  }

  /** A linearizable read (ReadIndex): answered from the state machine once it has applied the read index. */
  query(query: unknown, done: ReadCallback): void {
    if (this.paused) return this.hold(() => this.query(query, done), done);
    if (this.stopped) return done(this.refusal('NODE_STOPPED', ERRORS.NODE_STOPPED.message, true));
    const context = this.nextReadContext++;
    const result = this.core.readIndex(context);
    if (!result.ok) return done(this.refusalFrom(result.reason));
    this.scheduleDrain();
    this.reads.set(context, { query, index: 0, resolve: done });
  }

  /** A read from whatever this node has applied: fast, possibly stale. */
  readStale(query: unknown): ReadOutcome {
    return { ok: true, index: this.appliedIndex, value: this.stateMachine.query(query) };
  }

  transferLeadership(to: NodeId): { ok: true } | NodeRefusal {
    const result = this.core.transferLeadership(to);
    this.scheduleDrain();
    return result.ok ? result : this.refusalFrom(result.reason);
  }

  /**
   * Proposes a new configuration (one voter or learner added, promoted or removed; see RaftCore.proposeMembership).
   * The answer says only whether the leader appended it, at which index: the change takes effect as it enters
   * each log. The simulator drives changes this way; clients use changeMembers.
   */
  changeMembership(membership: Membership): { ok: true; index: number } | NodeRefusal {
    if (this.stopped) return this.refusal('NODE_STOPPED', ERRORS.NODE_STOPPED.message, true);
    const result = this.core.proposeMembership(membership);
    if (!result.ok) return this.refusalFrom(result.reason);
    this.scheduleDrain();
    return { ok: true, index: result.firstIndex };
  }

  proposeChange(change: MembershipChange): Promise<ProposeOutcome> {
    return new Promise((resolve) => this.changeMembers(change, resolve));
  }

  /**
   * Proposes one membership change (RaftCore.changeMembership: add a voter or a learner, promote, remove);
   * `done` gets the answer once this leader has committed and applied it, or its typed refusal at once.
   */
  changeMembers(change: MembershipChange, done: ProposeCallback): void {
    if (this.paused) return this.hold(() => this.changeMembers(change, done), done);
    if (this.stopped) return done(this.refusal('NODE_STOPPED', ERRORS.NODE_STOPPED.message, true));
    if (this.diskFull && this.core.isLeader) return done(this.diskFullRefusal());
    const result = this.core.changeMembership(change);
    if (!result.ok) return done(this.refusalFrom(result.reason));
    this.scheduleDrain();
    this.proposals.add({
      term: result.term,
      firstIndex: result.firstIndex,
      count: 1,
      lastIndex: result.firstIndex,
      results: [],
      resolve: done,
      proposedAt: this.now(),
    });
  }

  /** Starts an election at this node now (RaftCore.forceElection). */
  forceElection(): { ok: true } | NodeRefusal {
    const result = this.core.forceElection();
    this.scheduleDrain();
    return result.ok ? result : this.refusalFrom(result.reason);
  }

  /** Like SIGSTOP or a long GC pause: no ticks, no processing; messages and client calls wait. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.pendingTicks = 0;
    const held = this.heldCalls;
    this.heldCalls = [];
    // The worst order for a deposed leader, as after SIGSTOP: the client calls that waited run before the
    // messages that would tell it a new leader took over. A read must still not be served stale.
    for (const call of held) call();
    this.drain();
  }

  /**
   * The state machine as of the applied index, with that entry's term and the configuration then in force: a
   * backup (`raftkv snapshot save`). Nothing is written or compacted. The state is captured at the call (as a
   * snapshot is: one pass over the keys) and encoded a slice of snapshotSliceBytes per turn, between the node's
   * other turns, so a big store does not stop the leader for the whole encoding (`npm run bench:kv-snapshot`
   * prices both ways). The caller makes sure first (a ReadIndex at this node) that what it must contain is
   * applied.
   */
  exportSnapshot(): Promise<Snapshot> {
    const index = this.appliedIndex;
    const term = this.core.log.termAt(index);
    if (term === undefined) return Promise.reject(new Error(`the term of applied entry ${index} is not in the log`));
    const meta = { index, term, membership: this.core.log.latestMembership(index).membership };
    const slices = this.stateMachine.snapshotSlices?.() ?? wholeSnapshotSlices(this.stateMachine.snapshot());
    const chunks: Uint8Array[] = [];
    return new Promise((resolve, reject) => {
      const step = (): void => {
        if (this.stopped) return reject(new Error('the node stopped while its state was being exported'));
        const slice = slices.next(this.limits.snapshotSliceBytes);
        if (slice !== null) {
          chunks.push(slice);
          return this.runtime.schedule(step);
        }
        // One buffer of its own (not a pooled one), so that it can be transferred, not copied, to the caller.
        const data = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0));
        let offset = 0;
        for (const chunk of chunks) {
          data.set(chunk, offset);
          offset += chunk.byteLength;
        }
        resolve({ meta, data });
      };
      step();
    });
  }

  /** Takes a snapshot (or completes the one being written) within this call, and returns the snapshot index. */
  snapshotNow(): number {
    this.takeSnapshot();
    const job = this.snapshotJob;
    if (job !== null) while (this.writeSnapshotSlice(job));
    return this.core.log.snapshotIndex;
  }

  status(): NodeStatus {
    return {
      ...this.core.status(),
      appliedIndex: this.appliedIndex,
      paused: this.paused,
      mailboxDepth: this.mailbox.length - this.mailboxHead,
      mailboxDropped: this.mailboxDropped,
      pausedCallsRefused: this.pausedCallsRefused,
      storage: this.storage.kind,
      diskFull: this.diskFull,
      diskFreeBytes: this.diskFreeBytes,
      clientUrl: this.clientUrl,
    };
  }

  /** The HTTP API of the router that runs with this node (NodeStatus.clientUrl). */
  private clientUrl: string | null = null;

  setClientUrl(url: string | null): void {
    this.clientUrl = url;
  }

  /** What the explorer draws of this node (src/protocol/explorer.ts). */
  frameState(): NodeFrameState {
    const status = this.status();
    const progress: Record<NodeId, { match: number; next: number }> = {};
    this.eachFollower(status, (follower, view) => (progress[follower] = { match: view.match, next: view.next }));
    const timer = this.core.electionTimer();
    return {
      role: status.role,
      term: status.term,
      leaderId: status.leaderId,
      votedFor: status.votedFor,
      commitIndex: status.commitIndex,
      appliedIndex: status.appliedIndex,
      lastIndex: status.lastIndex,
      snapshotIndex: status.snapshotIndex,
      mailboxDepth: status.mailboxDepth,
      paused: status.paused,
      electionElapsed: timer.elapsed,
      electionTimeout: timer.timeout,
      progress,
    };
  }

  /**
   * The node's part of a metrics sample (src/protocol/node.ts): its gauges now, and the durations and limit
   * counts since the previous call.
   */
  takeMetrics(): NodeMetrics {
    const status = this.status();
    const inflightAppends: Record<NodeId, number> = {};
    this.eachFollower(status, (follower, view) => (inflightAppends[follower] = view.inflightCount));
    const durations: Partial<Record<NodeDuration, DurationCounts>> = {};
    for (const [name, buckets] of Object.entries(this.timings)) {
      const taken = buckets.take();
      if (taken !== null) durations[name as NodeDuration] = taken;
    }
    const sample: NodeMetrics = {
      role: status.role,
      term: status.term,
      commitIndex: status.commitIndex,
      appliedIndex: status.appliedIndex,
      lastIndex: status.lastIndex,
      snapshotIndex: status.snapshotIndex,
      mailboxDepth: status.mailboxDepth,
      inflightAppends,
      mailboxDropped: status.mailboxDropped - this.sampledMailboxDropped,
      pausedCallsRefused: status.pausedCallsRefused - this.sampledPausedCallsRefused,
      durations,
    };
    this.sampledMailboxDropped = status.mailboxDropped;
    this.sampledPausedCallsRefused = status.pausedCallsRefused;
    return sample;
  }

  /** A leader's view of each follower (nothing on any other role). */
  private eachFollower(status: NodeStatus, visit: (follower: NodeId, view: Readonly<Progress>) => void): void {
    if (status.role !== 'leader') return;
    for (const voter of status.membership.voters) {
      const view = this.core.progressOf(voter);
      if (voter !== this.id && view !== undefined) visit(voter, view);
    }
  }

  /** Clean shutdown: nothing more is processed, the log is synced and closed. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.failAll();
    this.snapshotJob?.sink.abort();
    this.snapshotJob = null;
    const held = this.heldCalls;
    this.heldCalls = [];
    for (const call of held) call();
    this.storage.syncNow();
    this.storage.close();
  }

  // -------------------------------------------------------------------------

  private scheduleDrain(): void {
    if (this.drainScheduled || this.stopped) return;
    this.drainScheduled = true;
    this.runtime.schedule(() => this.drain());
  }

  /** One turn: ticks, a bounded batch of messages, completed syncs, then everything the core asks for. */
  private drain(): void {
    this.drainScheduled = false;
    if (this.fatal !== null) throw this.fatal;
    if (this.paused || this.stopped) return;
    for (; this.pendingTicks > 0; this.pendingTicks--) this.core.tick();
    const end = Math.min(this.mailbox.length, this.mailboxHead + this.limits.mailboxBatchMessagesMax);
    for (; this.mailboxHead < end; this.mailboxHead++) {
      const message = this.mailbox[this.mailboxHead] as Message;
      // A full disk takes no entries and no snapshot: dropped (Raft resends them), so the node falls behind
      // rather than failing a write half way. Heartbeats and votes still go through: it is no candidate.
      if (this.diskFull && (message.type === 'SnapshotRequest' || (message.type === 'AppendRequest' && message.entries.length > 0)))
        continue;
      this.core.step(message);
    }
    if (this.mailboxHead === this.mailbox.length) {
      this.mailbox = [];
      this.mailboxHead = 0;
    }
    this.completePersists();
    this.markCommit();
    // Committed entries are applied a bounded amount per turn: a node restarting with a long log (or a
    // follower far behind) keeps answering its peers and its control plane in between.
    let appliedBytes = 0;
    this.proposedBytes = 0;
    while (this.core.hasReady()) {
      const ready = this.core.ready();
      this.handleReady(ready);
      for (const entry of ready.committedEntries) if (entry.type === 'command') appliedBytes += entry.data.byteLength;
      if (appliedBytes >= this.limits.applyBytesPerTurnMax && this.core.hasReady()) {
        this.scheduleDrain();
        break;
      }
    }
    this.host.flush();
    if (this.mailboxHead < this.mailbox.length) this.scheduleDrain();
  }

  private handleReady(ready: Ready): void {
    this.observer.onReady?.(ready, this.core);
    this.noticeMembership();
    if (ready.softState !== null) this.onSoftState(ready.softState.role, ready.softState.leaderId, ready.softState.term);
    for (const message of ready.messages) this.host.send(message);
    const installStarted = ready.snapshot !== null ? this.now() : 0;
    if (ready.snapshot !== null) this.installSnapshot(ready.snapshot);
    const writes = ready.snapshot !== null || ready.hardState !== null || ready.entries.length > 0;
    if (writes) this.storage.write({ snapshot: ready.snapshot, hardState: ready.hardState, entries: ready.entries });
    // Installing a leader's snapshot: restoring the state machine from it, then saving it (durable on return).
    if (ready.snapshot !== null) this.timings.snapshot_install.observe((this.now() - installStarted) / 1000);
    const last = ready.entries[ready.entries.length - 1];
    const position: PersistedPosition | null =
      last !== undefined
        ? { index: last.index, term: last.term }
        : ready.snapshot !== null
          ? { index: ready.snapshot.meta.index, term: ready.snapshot.meta.term }
          : null;
    if (writes) {
      const seq = ++this.writeSeq;
      this.persistQueue.push({ seq, afterPersist: ready.messagesAfterPersist, position });
      // Group commit: syncs requested while one runs share the next fdatasync (see DiskStorage.sync).
      this.runtime.sync(this.storage, (error) => {
        // An fsync error is never retried (the page cache may have dropped the data): crash, recover from disk.
        if (error !== null) this.fatal = error;
        else if (seq > this.durableSeq) this.durableSeq = seq;
        this.scheduleDrain();
      });
    } else if (this.persistQueue.length > 0) {
      // Nothing to write, but these messages may promise entries of an earlier batch: wait for it.
      this.persistQueue.push({ seq: this.writeSeq, afterPersist: ready.messagesAfterPersist, position: null });
    } else {
      for (const message of ready.messagesAfterPersist) this.host.send(message);
    }
    for (const message of ready.messagesAfterPersist) {
      if (message.type === 'VoteResponse' && !message.preVote) {
        this.host.emit({ type: 'vote', id: this.id, candidate: message.to, term: message.term, granted: message.granted });
      }
    }
    for (const entry of ready.committedEntries) this.apply(entry);
    this.endApplyRun();
    for (const readState of ready.readStates) {
      const waiter = this.reads.get(readState.context);
      if (waiter === undefined) continue;
      this.reads.delete(readState.context);
      waiter.index = readState.index;
      this.readsAwaitingApply.push(waiter);
    }
    this.serveReads();
  }

  private completePersists(): void {
    while (this.persistQueue.length > 0) {
      const head = this.persistQueue[0] as PendingPersist;
      if (head.seq > this.durableSeq) break;
      this.persistQueue.shift();
      for (const message of head.afterPersist) this.host.send(message);
      if (head.position !== null) this.core.persisted(head.position);
    }
  }

  /**
   * Marks the commit index if this turn moved it (see commitMarks). Read once per turn, after the messages and
   * completed syncs that can move it: the time of a commit is known to within a turn.
   */
  private markCommit(): void {
    const commit = this.core.committed;
    if (commit <= this.markedCommit) return;
    this.markedCommit = commit;
    const marks = this.commitMarks;
    if (marks.length - this.commitMarksHead >= 2 * COMMIT_MARKS_MAX) marks[marks.length - 2] = commit;
    else marks.push(commit, this.now());
  }

  /** When the entry at `index` was seen committed: the first mark at or past it (now if none, as at a snapshot's end). */
  private committedAt(index: number): number {
    const marks = this.commitMarks;
    while (this.commitMarksHead < marks.length && (marks[this.commitMarksHead] as number) < index) this.commitMarksHead += 2;
    if (this.commitMarksHead >= marks.length) {
      marks.length = 0;
      this.commitMarksHead = 0;
      return this.now();
    }
    return marks[this.commitMarksHead + 1] as number;
  }

  /** Counts an applied entry into the current run of entries that share a commit mark (timed in endApplyRun). */
  private timeApply(committedAt: number): void {
    const run = this.applyRun;
    if (run.entries > 0 && run.committedAt !== committedAt) this.endApplyRun();
    run.committedAt = committedAt;
    run.entries++;
  }

  private endApplyRun(): void {
    const run = this.applyRun;
    if (run.entries === 0) return;
    this.timings.commit_apply.observe((this.now() - run.committedAt) / 1000, run.entries);
    run.entries = 0;
  }

  private apply(entry: Entry): void {
    this.appliedIndex = entry.index;
    const committedAt = this.committedAt(entry.index);
    this.timeApply(committedAt);
    const result = entry.type === 'command' ? this.stateMachine.apply(entry) : null;
    this.observer.onApplied?.(entry);
    if (entry.term !== this.appliedTerm) {
      this.appliedTerm = entry.term;
      this.dropProposalsBefore(entry);
    }
    this.settleProposal(entry, result, committedAt);
    if (entry.index - this.core.log.snapshotIndex >= this.limits.snapshotEveryEntries && !this.diskFull) this.takeSnapshot();
  }

  /**
   * Looks at the free disk space: under diskFreeBytesMin the node refuses writes until it is back above twice
   * that (as etcd's NOSPACE alarm, for this node). A leader refuses proposals and membership changes with
   * DISK_FULL before they reach its log; a follower drops the entries and snapshots it is sent. What is
   * already in flight fits in the margin; a write that fails anyway (ENOSPC) crashes the node, which recovers
   * from what is on disk.
   */
  private checkDisk(): void {
    this.ticksToDiskCheck = DISK_CHECK_TICKS;
    const free = this.storage.freeBytes();
    this.diskFreeBytes = free;
    const min = this.limits.diskFreeBytesMin;
    const full = free !== null && free < (this.diskFull ? 2 * min : min);
    if (full === this.diskFull) return;
    this.diskFull = full;
    this.host.emit({ type: 'disk', id: this.id, full, freeBytes: free });
  }

  private diskFullRefusal(): NodeRefusal {
    return this.refusal('DISK_FULL', `${this.diskFreeBytes ?? 0} bytes free on this node's disk, under diskFreeBytesMin`, true);
  }

  private settleProposal(entry: Entry, result: unknown, committedAt: number): void {
    if (this.proposals.size === 0) return;
    for (const waiter of this.proposals) {
      if (entry.index < waiter.firstIndex || entry.index > waiter.lastIndex) continue;
      if (entry.term !== waiter.term) {
        // Another leader's entry took this index: the proposal was never applied and never will be.
        this.proposals.delete(waiter);
        waiter.resolve(this.refusal('PROPOSAL_DROPPED', `entry ${entry.index} went to another leader's command`, true));
        continue;
      }
      waiter.results.push(result);
      if (entry.index === waiter.lastIndex) {
        this.proposals.delete(waiter);
        this.timings.proposal_commit.observe(Math.max(0, committedAt - waiter.proposedAt) / 1000);
        waiter.resolve({ ok: true, index: waiter.firstIndex, results: waiter.results });
      }
    }
  }

  /**
   * A committed entry of term T at index i rules out every proposal of an older term at a later index: terms
   * never decrease along a log, and every later leader holds (i, T). Such a proposal was cut from this node's
   * log by a newer leader, or never replicated, and no index may ever be applied here to settle it (the new
   * leader's log can end before it), so it is answered now: PROPOSAL_DROPPED, definite. Checked once per term
   * change in the applied entries, which is when it can first hold.
   */
  private dropProposalsBefore(entry: Entry): void {
    for (const waiter of this.proposals) {
      if (waiter.term >= entry.term || waiter.firstIndex <= entry.index) continue;
      this.proposals.delete(waiter);
      const message = `entry ${entry.index} of term ${entry.term} committed before the proposal's entries of term ${waiter.term}`;
      waiter.resolve(this.refusal('PROPOSAL_DROPPED', message, true));
    }
  }

  private serveReads(): void {
    if (this.readsAwaitingApply.length === 0) return;
    const waiting: ReadWaiter[] = [];
    for (const waiter of this.readsAwaitingApply) {
      if (waiter.index <= this.appliedIndex) {
        waiter.resolve({ ok: true, index: this.appliedIndex, value: this.stateMachine.query(waiter.query) });
      } else waiting.push(waiter);
    }
    this.readsAwaitingApply = waiting;
  }

  private installSnapshot(snapshot: Snapshot): void {
    this.stateMachine.restore(snapshot.data);
    this.appliedIndex = snapshot.meta.index;
    this.observer.onSnapshotInstalled?.(snapshot);
    this.host.emit({ type: 'snapshot', id: this.id, index: snapshot.meta.index, how: 'installed' });
    this.abandonProposalsUpTo(snapshot.meta.index);
    this.serveReads();
  }

  /**
   * Proposals whose entries a leader's snapshot now covers will never be applied here one by one: whether they
   * made it into that snapshot is unknown to this node, so they are answered ANSWER_LOST (indefinite), not left
   * waiting for an apply that never comes.
   */
  private abandonProposalsUpTo(index: number): void {
    for (const waiter of this.proposals) {
      if (waiter.firstIndex > index) continue;
      this.proposals.delete(waiter);
      waiter.resolve(this.refusal('ANSWER_LOST', `a snapshot up to index ${index} replaced the proposal's entries here`, false));
    }
  }

  /**
   * Starts a snapshot of the state machine as it is now (`snapshotSlices` captures it), written a slice per
   * turn (see continueSnapshot): a store of a million keys is hundreds of megabytes, and encoding and
   * writing it in one turn stopped the node for a second or more, long enough for an election.
   */
  private takeSnapshot(): void {
    if (this.snapshotJob !== null) return;
    const index = this.appliedIndex;
    if (index <= this.core.log.snapshotIndex) return;
    const term = this.core.log.termAt(index);
    if (term === undefined) return;
    const meta = { index, term, membership: this.core.log.latestMembership(index).membership };
    const slices = this.stateMachine.snapshotSlices?.() ?? wholeSnapshotSlices(this.stateMachine.snapshot());
    const job: SnapshotJob = { index, slices, sink: this.storage.beginSnapshot(meta), startedAt: this.now() };
    this.snapshotJob = job;
    this.runtime.schedule(() => this.continueSnapshot(job));
  }

  /** One slice per turn, between the node's other turns; paused, it waits like everything else. */
  private continueSnapshot(job: SnapshotJob): void {
    if (this.snapshotJob !== job || this.stopped) return;
    if (this.paused) {
      this.heldCalls.push(() => this.continueSnapshot(job));
      return;
    }
    if (this.writeSnapshotSlice(job)) this.runtime.schedule(() => this.continueSnapshot(job));
  }

  /** Writes the next slice; after the last, finishes the snapshot and compacts the log. Returns whether more remain. */
  private writeSnapshotSlice(job: SnapshotJob): boolean {
    const slice = job.slices.next(this.limits.snapshotSliceBytes);
    if (slice !== null) {
      job.sink.write(slice);
      return true;
    }
    this.snapshotJob = null;
    if (job.index <= this.core.log.snapshotIndex) {
      job.sink.abort(); // a snapshot from the leader, installed meanwhile, is newer
      return false;
    }
    this.core.compact(job.sink.finish());
    this.timings.snapshot_save.observe((this.now() - job.startedAt) / 1000);
    this.host.emit({ type: 'snapshot', id: this.id, index: job.index, how: 'taken' });
    return false;
  }

  /** The configuration this node last reported: the newest in its log (an entry appended, or a snapshot installed). */
  private reportedMembership: Membership | null = null;

  /** Reports a new configuration (the TCP transport learns members' addresses from it; the supervisor, the members). */
  private noticeMembership(): void {
    const membership = this.core.configuration;
    if (membership === this.reportedMembership) return;
    this.reportedMembership = membership;
    this.host.emit({ type: 'membership', id: this.id, membership });
  }

  private onSoftState(role: Role, leaderId: NodeId | null, term: number): void {
    if (this.role === 'leader' && role !== 'leader') {
      // Unconfirmed reads die with the leadership; they had no effect, so the refusal is definite.
      for (const waiter of this.reads.values())
        waiter.resolve(this.refusal('NOT_LEADER', 'leadership lost before the read was confirmed', true));
      this.reads.clear();
    }
    this.role = role;
    this.host.emit({ type: 'role', id: this.id, role, leaderId, term });
  }

  /** The node stops: calls in flight may have been applied (ANSWER_LOST); reads had no effect (NODE_STOPPED). */
  private failAll(): void {
    const lost = ERRORS.ANSWER_LOST.message;
    for (const waiter of this.proposals) waiter.resolve(this.refusal('ANSWER_LOST', lost, false));
    for (const waiter of this.reads.values()) waiter.resolve(this.refusal('NODE_STOPPED', 'node stopped', true));
    for (const waiter of this.readsAwaitingApply) waiter.resolve(this.refusal('NODE_STOPPED', 'node stopped', true));
    this.proposals.clear();
    this.reads.clear();
    this.readsAwaitingApply = [];
  }

  /** A client call while paused waits for resume, unless pausedCallsMax already wait: then it is refused now. */
  private hold(call: () => void, done: (refusal: NodeRefusal) => void): void {
    if (this.heldCalls.length >= this.limits.pausedCallsMax) {
      this.pausedCallsRefused++;
      done(this.refusal('NODE_PAUSED_BACKLOG', `the node is paused and holds ${this.heldCalls.length} calls (pausedCallsMax)`, true));
      return;
    }
    this.heldCalls.push(call);
  }

  /** A core refusal under its registered code (an unregistered reason throws: it is a bug, not a refusal). */
  private refusalFrom(reason: string): NodeRefusal {
    const code = coreRefusalCode(reason);
    return this.refusal(code, ERRORS[code].message, true);
  }

  private refusal(code: NodeRefusalCode, message: string, definite: boolean): NodeRefusal {
    return { ok: false, code, message, leaderId: this.core.status().leaderId, definite };
  }
}
