import { randomBytes } from 'node:crypto';
import type { Supervisor } from '../actor/supervisor.js';
import type { NodeRefusal, NodeRefusalCode, ReadOutcome } from '../protocol/node.js';
import type { ClientPortClient } from '../transport/client-port.js';
import type { NodeId } from '../raft/types.js';
import {
  commandBytes,
  encodeBatch,
  type KvCommand,
  type KvQuery,
  type KvQueryResult,
  type KvResult,
  type SessionCommand,
} from '../kv/commands.js';
import { apiError, type ApiError, type ErrorCode } from '../protocol/errors.js';
import { delay, withDeadline } from '../util/async.js';

export interface RouterLimits {
  /** How long a request may wait for its answer before the client hears it timed out. */
  readonly requestTimeoutMs: number;
  /** Most commands in one proposal. */
  readonly batchCommandsMax: number;
  /** Most key and value bytes in one proposal (one command always goes, whatever its size). */
  readonly batchBytesMax: number;
  /** Most requests waiting or in flight; beyond, requests are refused with OVERLOADED. */
  readonly pendingRequestsMax: number;
  /**
   * The longest a request should wait for its turn. Past two full proposals (2 x batchCommandsMax), the router
   * holds at most what the cluster answered in this long (at the rate of the last whole second); beyond, requests
   * are refused with OVERLOADED. A larger backlog would only make every request later (past requestTimeoutMs: a
   * TIMEOUT, whose outcome is unknown), and answering the excess at once costs little.
   */
  readonly queueDelayMsMax: number;
  /** Back-off before retrying when there is no leader. */
  readonly retryDelayMs: number;
  /** One attempt at one node: past it the router stops trusting that node as leader and asks again. */
  readonly attemptTimeoutMs: number;
}

/**
 * Client connections are spread over this many lanes, each tracking the leader on its own, as independent
 * clients would: one slow lane does not hold up the rest, and the chaos checks see what a client bound to
 * a deposed leader would see.
 */
export const ROUTER_LANES = 8;

function laneOf(lane: number): number {
  return ((lane % ROUTER_LANES) + ROUTER_LANES) % ROUTER_LANES;
}

function groupByLane<T extends { lane: number }>(items: readonly T[]): Map<number, T[]> {
  const lanes = new Map<number, T[]>();
  for (const item of items) {
    const list = lanes.get(item.lane);
    if (list === undefined) lanes.set(item.lane, [item]);
    else list.push(item);
  }
  return lanes;
}

/**
 * Refusals a retry at another node cannot cure: the client hears them at once (they are definite) unless an
 * earlier attempt of the same command may have been appended, in which case the router keeps retrying under
 * the same session sequence number so that the outcome is learned. Every other refusal is about leadership
 * or a node going away, and is retried until the request's deadline.
 */
const ANSWER_NOW: ReadonlySet<NodeRefusalCode> = new Set<NodeRefusalCode>(['QUEUE_FULL', 'PROPOSAL_TOO_LARGE', 'DISK_FULL']);

export const ROUTER_LIMITS_DEFAULTS: RouterLimits = {
  requestTimeoutMs: 5_000,
  batchCommandsMax: 1024,
  batchBytesMax: 8 * 1024 * 1024,
  pendingRequestsMax: 100_000,
  queueDelayMsMax: 1_000,
  retryDelayMs: 25,
  attemptTimeoutMs: 1_000,
};

export type WriteResult = { readonly ok: true; readonly result: KvResult } | { readonly ok: false; readonly error: ApiError };
export type ReadResult =
  | { readonly ok: true; readonly result: KvQueryResult; readonly index: number }
  | {
      readonly ok: false;
      readonly error: ApiError;
      /** A pinned read refused by its node: the leader that node names (null: it knows none). */
      readonly leaderId?: NodeId | null;
    };

interface PendingWrite {
  readonly lane: number;
  /** The session the command was numbered in: every retry goes out under it, even after the router starts a new one. */
  readonly session: string;
  readonly seq: number;
  /** That session's watermark when the command was queued: what a retry sends once the router has moved on to a new session. */
  readonly ack: number;
  readonly command: KvCommand;
  readonly deadline: number;
  /** A proposal holding it reached a leader and may have been appended: a give-up is then indefinite. */
  mayHaveApplied: boolean;
  readonly resolve: (result: WriteResult) => void;
}

interface PendingRead {
  readonly lane: number;
  /** A pinned read: ReadIndex at this node only, and its refusal is the answer. */
  readonly node: NodeId | null;
  readonly query: KvQuery;
  readonly deadline: number;
  readonly resolve: (result: ReadResult) => void;
}

export interface RouterStats {
  proposals: number;
  commands: number;
  retries: number;
  readRounds: number;
  reads: number;
}

/**
 * The router actor: the store's front door. Commands that arrive in the same turn go to the leader as one
 * proposal (one log entry); reads that arrive together share one ReadIndex round. Every command carries this
 * router's session id and a sequence number, so a retry after a leader change or a lost answer is applied
 * once (thesis 6.3). Every wait is bounded; a give-up after a proposal may have been appended says so.
 */
export class Router {
  private limitsInForce: RouterLimits;
  readonly stats: RouterStats = { proposals: 0, commands: 0, retries: 0, readRounds: 0, reads: 0 };
  private session = randomBytes(8).toString('hex');
  private nextSeq = 1;
  /** The first sequence number of the current session. */
  private sessionFirstSeq = 1;
  /** Every sequence number up to here has been answered. */
  private ackedSeq = 0;
  private readonly answered = new Set<number>();
  private writeQueue: PendingWrite[] = [];
  private readQueue: PendingRead[] = [];
  private inFlight = 0;
  /** Requests answered with success: in the current rate window, and per second over the last whole one. */
  private answeredInWindow = 0;
  private answerWindowStartMs = Date.now();
  private answeredPerSecond = 0;
  private flushScheduled = false;
  private closed = false;
  private staleTurn = 0;
  private readonly refusals = new Map<ErrorCode, number>();
  /** Per lane: the node that lane believes leads. */
  private readonly believedLeader: (NodeId | null)[] = new Array<NodeId | null>(ROUTER_LANES).fill(null);

  /** Per lane, in 'probe' discovery: the node to try next when no leader is believed. */
  private readonly probeNext: number[] = new Array<number>(ROUTER_LANES).fill(0);

  constructor(
    private readonly supervisor: Supervisor,
    limits: Partial<RouterLimits> = {},
    /**
     * How a lane finds the leader once the one it believed in failed without naming another. 'supervisor':
     * ask the supervisor, which hears of every election over the control plane (the default: fastest).
     * 'probe': try the nodes in turn and follow the hints of their refusals, as an outside client must (as
     * etcd's client does); a node whose worker is gone counts as a refused connection. The failover bench
     * uses 'probe', so that raftkv's figure includes finding the new leader.
     */
    private readonly leaderDiscovery: 'supervisor' | 'probe' = 'supervisor',
  ) {
    this.limitsInForce = { ...ROUTER_LIMITS_DEFAULTS, ...limits };
  }

  get limits(): RouterLimits {
    return this.limitsInForce;
  }

  /**
   * Sets the admission bound (pendingRequestsMax) while the router runs: requests already admitted go on; new
   * ones past the bound are refused OVERLOADED. For a benchmark or a scenario that tightens it under load.
   */
  setPendingRequestsMax(pendingRequestsMax: number): void {
    if (!Number.isSafeInteger(pendingRequestsMax) || pendingRequestsMax < 1) {
      throw new RangeError(`pendingRequestsMax must be a positive integer, got ${pendingRequestsMax}`);
    }
    this.limitsInForce = { ...this.limitsInForce, pendingRequestsMax };
  }

  /** `lane`: the client connection's lane (see ROUTER_LANES); each lane tracks the leader on its own. */
  write(command: KvCommand, lane = 0): Promise<WriteResult> {
    if (this.closed) return Promise.resolve({ ok: false, error: this.refusal('NO_LEADER', 'the router is shutting down') });
    const overloaded = this.admission();
    if (overloaded !== null) return Promise.resolve({ ok: false, error: overloaded });
    return new Promise((resolve) => {
      const write: PendingWrite = {
        session: this.session,
        seq: this.nextSeq++,
        ack: this.sessionAck(),
        command,
        deadline: Date.now() + this.limits.requestTimeoutMs,
        mayHaveApplied: false,
        resolve: (result) => {
          if (result.ok) this.answeredInWindow++;
          resolve(result);
        },
        lane: laneOf(lane),
      };
      this.writeQueue.push(write);
      this.scheduleFlush();
    });
  }

  /**
   * `node`: pin the read to that node (a client bound to one node, as Jepsen's are). A linearizable pinned read
   * is one ReadIndex attempt at that node, bounded by `attemptTimeoutMs`; whatever that node answers is the
   * answer (a follower's NOT_LEADER with the leader it names, a timeout), never a retry at another node. A
   * stale pinned read is served by that node from what it has applied.
   */
  read(query: KvQuery, consistency: 'linearizable' | 'stale' = 'linearizable', lane = 0, node: NodeId | null = null): Promise<ReadResult> {
    if (this.closed) return Promise.resolve({ ok: false, error: this.refusal('NO_LEADER', 'the router is shutting down') });
    if (node !== null && !this.supervisor.ids.includes(node)) {
      return Promise.resolve({
        ok: false,
        error: this.refusal('UNKNOWN_NODE', `no node ${node}: the node must be one of ${this.supervisor.ids.join(', ')}`),
      });
    }
    if (consistency === 'stale') return this.readStale(query, node);
    const overloaded = this.admission();
    if (overloaded !== null) return Promise.resolve({ ok: false, error: overloaded });
    return new Promise((resolve) => {
      const read: PendingRead = {
        query,
        node,
        deadline: Date.now() + this.limits.requestTimeoutMs,
        resolve: (result) => {
          if (result.ok) this.answeredInWindow++;
          resolve(result);
        },
        lane: laneOf(lane),
      };
      this.readQueue.push(read);
      this.scheduleFlush();
    });
  }

  close(): void {
    this.closed = true;
  }

  /** Every error the router answered, by code (for metrics: caps reached are seen, not only answered). */
  refusalCounts(): ReadonlyMap<ErrorCode, number> {
    return this.refusals;
  }

  // -------------------------------------------------------------------------

  /**
   * OVERLOADED when one more request would exceed pendingRequestsMax, or, past two full proposals, more than the
   * cluster answers in queueDelayMsMax (Little's law: a backlog of throughput x delay bounds the wait to about
   * that delay, whatever the throughput); else null.
   */
  private admission(): ApiError | null {
    const held = this.inFlight + this.writeQueue.length + this.readQueue.length;
    if (held >= this.limits.pendingRequestsMax) return this.refusal('OVERLOADED');
    const now = Date.now();
    if (now - this.answerWindowStartMs >= 1_000) {
      this.answeredPerSecond = (this.answeredInWindow * 1_000) / (now - this.answerWindowStartMs);
      this.answeredInWindow = 0;
      this.answerWindowStartMs = now;
    }
    // Two full proposals (one committing, the next forming) are always admitted: a router that has not been busy
    // yet (no rate to go by), one client's pipeline (respPipelineCommandsMax) or a burst after a quiet spell is not
    // refused for that. (More would be admitted at once from a cold start: 8,192 made 64,000 pipelined writes time
    // out on a 2-core machine, the shedding itself taking the CPU.)
    if (held < 2 * this.limits.batchCommandsMax) return null;
    const backlogMax = (this.answeredPerSecond * this.limits.queueDelayMsMax) / 1_000;
    if (held >= backlogMax) {
      return this.refusal(
        'OVERLOADED',
        `too many requests in flight: ${held} held, the cluster answers about ${Math.round(this.answeredPerSecond)} a second (queueDelayMsMax ${this.limits.queueDelayMsMax}); retry`,
      );
    }
    return null;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    const writes = this.writeQueue;
    const reads = this.readQueue;
    this.writeQueue = [];
    this.readQueue = [];
    for (const [lane, batch] of groupByLane(writes)) {
      // Proposals of at most batchCommandsMax commands and batchBytesMax bytes (a larger command goes alone).
      let start = 0;
      let bytes = 0;
      for (let i = 0; i < batch.length; i++) {
        const size = commandBytes((batch[i] as PendingWrite).command);
        if (i > start && (i - start >= this.limits.batchCommandsMax || bytes + size > this.limits.batchBytesMax)) {
          void this.sendWrites(batch.slice(start, i), lane);
          start = i;
          bytes = 0;
        }
        bytes += size;
      }
      void this.sendWrites(batch.slice(start), lane);
    }
    for (const [lane, batch] of groupByLane(reads.filter((r) => r.node === null))) void this.sendReads(batch, lane);
    // Pinned reads: one ReadIndex round per node per turn, whatever their lanes.
    const pinned = new Map<NodeId, PendingRead[]>();
    for (const read of reads) {
      if (read.node === null) continue;
      const list = pinned.get(read.node);
      if (list === undefined) pinned.set(read.node, [read]);
      else list.push(read);
    }
    for (const [node, batch] of pinned) void this.sendPinnedReads(batch, node);
  }

  /** Proposes one batch through the leader, retrying under the same sequence numbers until answered or timed out. */
  private async sendWrites(batch: PendingWrite[], lane: number): Promise<void> {
    this.inFlight += batch.length;
    let pending = batch;
    try {
      while (pending.length > 0) {
        pending = this.expire(pending);
        if (pending.length === 0) return;
        const target = await this.leaderOrWait(lane);
        if (target === null) continue;
        const { id: leaderId, client: leader } = target;
        const commands: SessionCommand[] = pending.map((w) => ({
          session: w.session,
          seq: w.seq,
          ack: w.session === this.session ? this.sessionAck() : w.ack,
          command: w.command,
        }));
        // One log entry per command, all in one proposal: the entry's index is the command's own revision, so
        // compare-and-set by index names exactly one write even when two writes to a key share a batch.
        const timeMs = Date.now();
        const entries = commands.map((command) => encodeBatch({ timeMs, commands: [command] }));
        this.stats.proposals++;
        this.stats.commands += pending.length;
        const outcome = await withDeadline(leader.propose(entries), this.attemptDeadline(pending));
        if (outcome !== null && outcome.ok) {
          pending.forEach((w, i) => this.answer(w, (outcome.results[i] as KvResult[])[0] as KvResult));
          return;
        }
        if (outcome !== null && ANSWER_NOW.has(outcome.code)) {
          pending = this.refuse(pending, outcome);
          if (pending.length === 0) return;
        }
        this.leaderFailed(lane, leaderId, outcome === null ? undefined : outcome.leaderId);
        // No answer, or an answer that does not rule out the append: from now on a give-up is indefinite.
        if (outcome === null || !outcome.definite) for (const w of pending) w.mayHaveApplied = true;
        this.stats.retries++;
        if (outcome !== null && outcome.code !== 'PROPOSAL_DROPPED') await delay(this.limits.retryDelayMs);
      }
    } finally {
      this.inFlight -= batch.length;
    }
  }

  private answer(write: PendingWrite, result: KvResult): void {
    if (!result.ok && result.code === 'SESSION_EXPIRED') {
      if (write.session === this.session) {
        // Start afresh; this command's fate is unknown. The new session's commands carry ack 0 until one of
        // them is answered, so the state machine opens it rather than taking it for an expired one.
        this.session = randomBytes(8).toString('hex');
        this.answered.clear();
        this.ackedSeq = this.nextSeq - 1;
        this.sessionFirstSeq = this.nextSeq;
      }
      write.resolve({ ok: false, error: this.refusal('SESSION_EXPIRED', result.message) });
      return;
    }
    if (!result.ok && result.code === 'SESSION_LIMIT') this.count('SESSION_LIMIT');
    this.markAnswered(write.seq);
    write.resolve({ ok: true, result });
  }

  private refusal(code: ErrorCode, message?: string): ApiError {
    this.count(code);
    return apiError(code, message);
  }

  private count(code: ErrorCode): void {
    this.refusals.set(code, (this.refusals.get(code) ?? 0) + 1);
  }

  /** Advances the watermark the state machine uses to drop cached results. */
  private markAnswered(seq: number): void {
    if (seq <= this.ackedSeq) return; // a command of an earlier session, already below the watermark
    this.answered.add(seq);
    while (this.answered.has(this.ackedSeq + 1)) {
      this.answered.delete(this.ackedSeq + 1);
      this.ackedSeq++;
    }
  }

  /** The current session's watermark; 0 while none of its commands has been answered (the session may not exist yet). */
  private sessionAck(): number {
    return this.ackedSeq >= this.sessionFirstSeq ? this.ackedSeq : 0;
  }

  /** Answers `refusal` to the writes that surely never applied; returns the ones an earlier attempt may have appended. */
  private refuse(pending: PendingWrite[], refusal: NodeRefusal): PendingWrite[] {
    const unsure: PendingWrite[] = [];
    for (const w of pending) {
      if (w.mayHaveApplied) {
        unsure.push(w);
        continue;
      }
      this.markAnswered(w.seq);
      w.resolve({ ok: false, error: this.refusal(refusal.code, refusal.message) });
    }
    return unsure;
  }

  private expire(pending: PendingWrite[]): PendingWrite[] {
    const now = Date.now();
    const alive: PendingWrite[] = [];
    for (const w of pending) {
      if (now < w.deadline) {
        alive.push(w);
        continue;
      }
      this.markAnswered(w.seq);
      w.resolve({ ok: false, error: w.mayHaveApplied ? this.refusal('TIMEOUT') : this.refusal('NO_LEADER') });
    }
    return alive;
  }

  private async sendReads(batch: PendingRead[], lane: number): Promise<void> {
    this.inFlight += batch.length;
    let pending = batch;
    try {
      while (pending.length > 0) {
        const now = Date.now();
        for (const r of pending) if (now >= r.deadline) r.resolve({ ok: false, error: this.refusal('TIMEOUT', 'the read timed out') });
        pending = pending.filter((r) => now < r.deadline);
        if (pending.length === 0) return;
        const target = await this.leaderOrWait(lane);
        if (target === null) continue;
        const { id: leaderId, client: leader } = target;
        this.stats.readRounds++;
        this.stats.reads += pending.length;
        const outcome: ReadOutcome | null = await withDeadline(
          leader.read({ op: 'batch', queries: pending.map((r) => r.query) }),
          this.attemptDeadline(pending),
        );
        if (outcome !== null && outcome.ok) {
          const results = (outcome.value as Extract<KvQueryResult, { op: 'batch' }>).results;
          pending.forEach((r, i) => r.resolve({ ok: true, result: results[i] as KvQueryResult, index: outcome.index }));
          return;
        }
        if (outcome !== null && ANSWER_NOW.has(outcome.code)) {
          // A read has no effect: nothing to learn by retrying it.
          for (const r of pending) r.resolve({ ok: false, error: this.refusal(outcome.code, outcome.message) });
          return;
        }
        this.leaderFailed(lane, leaderId, outcome === null ? undefined : outcome.leaderId);
        await delay(this.limits.retryDelayMs);
      }
    } finally {
      this.inFlight -= batch.length;
    }
  }

  /**
   * Reads pinned to `node`: one attempt there (ReadIndex at that node), bounded by attemptTimeoutMs. Its refusal
   * is the answer, with the leader it names: a pinned read is never retried at another node.
   */
  private async sendPinnedReads(batch: PendingRead[], node: NodeId): Promise<void> {
    this.inFlight += batch.length;
    try {
      const client = this.supervisor.client(node);
      if (client === null) {
        for (const r of batch)
          r.resolve({ ok: false, error: this.refusal('NODE_STOPPED', `node ${node} is not running; nothing was read`) });
        return;
      }
      this.stats.readRounds++;
      this.stats.reads += batch.length;
      const outcome: ReadOutcome | null = await withDeadline(
        client.read({ op: 'batch', queries: batch.map((r) => r.query) }),
        this.attemptDeadline(batch),
      );
      if (outcome === null) {
        const message = `node ${node} did not answer the read within ${this.limits.attemptTimeoutMs} ms`;
        for (const r of batch) r.resolve({ ok: false, error: this.refusal('TIMEOUT', message) });
        return;
      }
      if (outcome.ok) {
        const results = (outcome.value as Extract<KvQueryResult, { op: 'batch' }>).results;
        batch.forEach((r, i) => r.resolve({ ok: true, result: results[i] as KvQueryResult, index: outcome.index }));
        return;
      }
      for (const r of batch) r.resolve({ ok: false, error: this.refusal(outcome.code, outcome.message), leaderId: outcome.leaderId });
    } finally {
      this.inFlight -= batch.length;
    }
  }

  /** A stale read is served by any running node from what it has applied, round robin; or by `node`, if pinned. */
  private async readStale(query: KvQuery, node: NodeId | null): Promise<ReadResult> {
    if (node !== null && !this.supervisor.reachable(node)) {
      return { ok: false, error: this.refusal('NODE_STOPPED', `node ${node} is not running; nothing was read`) };
    }
    const running = this.supervisor.ids.filter((id) => this.supervisor.reachable(id));
    const id = node ?? running[this.staleTurn++ % Math.max(1, running.length)];
    const control = id === undefined ? null : this.supervisor.client(id);
    if (control === null) return { ok: false, error: this.refusal('NO_LEADER', 'no node is running') };
    const outcome = await withDeadline<ReadOutcome>(control.readStale(query), Date.now() + this.limits.requestTimeoutMs);
    if (outcome === null || !outcome.ok) return { ok: false, error: this.refusal('TIMEOUT', 'the stale read timed out') };
    return { ok: true, result: outcome.value as KvQueryResult, index: outcome.index };
  }

  /**
   * The node this router believes leads, as a client would: it keeps using it until that node refuses with a
   * hint or stops answering, and only then asks the supervisor who leads now. (The supervisor hears of new
   * leaders over the control plane, which partitions do not cut; trusting it on every request would hide
   * a deposed leader's mistakes from the chaos checks.)
   */
  private leaderTarget(lane: number): { id: NodeId; client: ClientPortClient } | null {
    if (this.leaderDiscovery === 'probe') return this.probeTarget(lane);
    let id = this.believedLeader[lane] ?? null;
    if (id === null || !this.supervisor.reachable(id)) id = this.supervisor.leaderId;
    this.believedLeader[lane] = id;
    const client = id === null ? null : this.supervisor.client(id);
    return id === null || client === null ? null : { id, client };
  }

  /** The believed leader, else the next node in turn; nodes whose worker is gone are skipped like refused connections. */
  private probeTarget(lane: number): { id: NodeId; client: ClientPortClient } | null {
    const ids = this.supervisor.ids;
    for (let tries = 0; tries < ids.length; tries++) {
      let id = this.believedLeader[lane] ?? null;
      if (id === null) {
        const next = this.probeNext[lane] ?? 0;
        id = ids[next % ids.length] as NodeId;
        this.probeNext[lane] = (next + 1) % ids.length;
      }
      const client = this.supervisor.client(id);
      if (client !== null) {
        this.believedLeader[lane] = id;
        return { id, client };
      }
      this.believedLeader[lane] = null;
    }
    return null;
  }

  /** The lane's leader, or null after the retry delay when none is known (the caller tries again). */
  private async leaderOrWait(lane: number): Promise<{ id: NodeId; client: ClientPortClient } | null> {
    const target = this.leaderTarget(lane);
    if (target === null) await delay(this.limits.retryDelayMs);
    return target;
  }

  /** An attempt at `id` failed: follow its hint, or forget it so the next attempt asks the supervisor. */
  private leaderFailed(lane: number, id: NodeId, hint: NodeId | null | undefined): void {
    if (this.believedLeader[lane] !== id) return;
    this.believedLeader[lane] = hint !== undefined && hint !== id ? hint : null;
  }

  private attemptDeadline(pending: readonly { deadline: number }[]): number {
    return Math.min(Date.now() + this.limits.attemptTimeoutMs, ...pending.map((p) => p.deadline));
  }
}
