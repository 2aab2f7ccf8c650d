import type { MembersView, NodeState, Supervisor } from '../actor/supervisor.js';
import type { NodeClock } from '../protocol/clock.js';
import { DISK_FAULTS_NONE } from '../protocol/disk-faults.js';
import type { NodeRefusalCode } from '../protocol/node.js';
import type { SeededRandom } from '../raft/random.js';
import type { MembershipChange, NodeId } from '../raft/types.js';
import { MEMBERSHIP_FAULTS, type FaultAction, type FaultEvent, type RemoveTarget, type Target } from './scenario.js';

/** A fault as it happened: what, on whom, and when (ms since the run began). */
export interface FaultRecord {
  readonly atMs: number;
  /** What it did; a membership change's label gains its outcome once it has one. */
  label: string;
  /** When it was undone (its `for` ran out, or the final heal). */
  endMs: number | null;
  readonly kind: FaultAction['kind'];
  /** It found no target (nothing to kill, restart, resume, no leader to move): recorded, not counted as a fault. */
  skipped: boolean;
}

/** Refusals that mean "not now": the change is tried again, until its window ends. */
const MEMBERSHIP_RETRY_CODES: ReadonlySet<NodeRefusalCode> = new Set([
  'NOT_LEADER',
  'TRANSFER_IN_PROGRESS',
  'CONFIG_CHANGE_IN_PROGRESS',
  'LEARNER_NOT_CAUGHT_UP',
  'PROPOSAL_DROPPED',
  'QUEUE_FULL',
]);
/** A membership fault tries its change at most this many times... */
export const MEMBERSHIP_ATTEMPTS_MAX = 100;
/**
 * ...each call waiting this long at most (Supervisor.changeMembership's timeout, counted after an added node has
 * started): long, because an add that finds no leader in time leaves its started node behind without having
 * proposed anything, and a retry is then refused (MEMBER_EXISTS)...
 */
export const MEMBERSHIP_CALL_TIMEOUT_MS = 20_000;
/** ...and this long between tries. */
export const MEMBERSHIP_RETRY_DELAY_MS = 200;
/** The end of the run gives the membership changes under way this long to finish (they stop retrying then). */
export const MEMBERSHIP_END_GRACE_MS = 15_000;

type MembershipAction = Extract<FaultAction, { kind: (typeof MEMBERSHIP_FAULTS)[number] }>;

const isMembership = (action: FaultAction): action is MembershipAction => (MEMBERSHIP_FAULTS as readonly string[]).includes(action.kind);

/** Whether the configuration shows `change` done (after an answer that did not say whether it was). */
function inEffect(change: MembershipChange, view: MembersView): boolean {
  const member = view.members.find((m) => m.id === change.id);
  switch (change.kind) {
    case 'add-learner':
      return member !== undefined;
    case 'add-voter':
    case 'promote':
      return member?.role === 'voter';
    case 'remove':
      return member === undefined;
  }
}

/**
 * Carries out a scenario's faults on a live cluster (Jepsen's nemesis): kills and restarts, pauses,
 * partitions of several shapes, lossy links, leadership transfers. Targets are chosen when a fault fires.
 */
export class Nemesis {
  readonly records: FaultRecord[] = [];
  private readonly killed = new Set<NodeId>();
  private readonly paused = new Set<NodeId>();
  private readonly slowed = new Set<NodeId>();
  /** Each node a clock fault changed, with the clock it had before (the scenario's start clock): undo restores it. */
  private readonly clockBefore = new Map<NodeId, NodeClock>();
  /** Each node a disk fault was set on: undo makes its disk healthy again. */
  private readonly disked = new Set<NodeId>();
  /** The node the last isolate-leader partition cut off, until a heal: the `isolated` target. */
  private isolated: NodeId | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Membership changes still being tried: the end of the run waits for them. */
  private readonly changing = new Set<Promise<void>>();
  /** The last membership change scheduled: the next one starts after it. */
  private membershipTurn: Promise<void> = Promise.resolve();
  /** Nodes being added, not yet members: no other fault targets them until their add is answered. */
  private readonly joining = new Set<NodeId>();
  /** Set by healAll (run time): membership changes stop retrying then. */
  private endByMs = Number.POSITIVE_INFINITY;

  constructor(
    private readonly supervisor: Supervisor,
    private readonly startedAt: number,
    private readonly log: (line: string) => void,
    /** Every random choice (which follower, which minority): the run's seed replays them. */
    private readonly random: SeededRandom,
  ) {}

  private now(): number {
    return performance.now() - this.startedAt;
  }

  /** Schedules every fault of the scenario. */
  schedule(faults: readonly FaultEvent[]): void {
    for (const fault of faults) {
      const timer = setTimeout(
        () => {
          this.timers.delete(timer);
          void this.fire(fault);
        },
        Math.max(0, fault.atMs - this.now()),
      );
      this.timers.add(timer);
    }
  }

  /** A member's state; null for one that left the cluster meanwhile (members come and go). */
  private stateOf(id: NodeId): NodeState | null {
    return this.supervisor.ids.includes(id) ? this.supervisor.stateOf(id) : null;
  }

  /** The members of the moment: the supervisor's nodes, less those still being added. */
  private members(): NodeId[] {
    return this.supervisor.ids.filter((id) => !this.joining.has(id));
  }

  private running(): NodeId[] {
    return this.members().filter((id) => this.stateOf(id) === 'running');
  }

  /** Calls `act` on each node; one that left the cluster meanwhile (a RangeError from the supervisor) is skipped. */
  private async onEach(ids: readonly NodeId[], act: (id: NodeId) => Promise<unknown>): Promise<void> {
    await Promise.all(
      ids.map((id) =>
        act(id).catch((error: unknown) => {
          if (!(error instanceof RangeError) || this.supervisor.ids.includes(id)) throw error;
        }),
      ),
    );
  }

  private resolve(target: Target | 'killed' | 'paused' | 'isolated'): NodeId[] {
    const running = this.running();
    const leader = this.supervisor.leaderId;
    const n = this.supervisor.ids.length;
    switch (target) {
      case 'leader':
        return leader !== null && running.includes(leader) ? [leader] : this.random.shuffle(running).slice(0, 1);
      case 'random':
        return this.random.shuffle(running).slice(0, 1);
      case 'follower':
        return this.random.shuffle(running.filter((id) => id !== leader)).slice(0, 1);
      case 'minority':
        return this.random.shuffle(running).slice(0, Math.floor((n - 1) / 2));
      case 'majority':
        return this.random.shuffle(running).slice(0, Math.floor(n / 2) + 1);
      case 'all':
        return this.members();
      case 'killed':
        return [...this.killed].filter((id) => this.supervisor.ids.includes(id));
      case 'paused':
        return [...this.paused].filter((id) => this.supervisor.ids.includes(id));
      case 'isolated':
        return this.isolated !== null && running.includes(this.isolated) ? [this.isolated] : [];
      default:
        return this.supervisor.ids.includes(target) ? [target] : [];
    }
  }

  async fire(fault: FaultEvent): Promise<void> {
    if (isMembership(fault.action)) return this.fireMembership(fault.action, fault.forMs);
    const record = await this.apply(fault.action);
    if (record === null) return;
    this.records.push(record);
    this.log(`[${(record.atMs / 1000).toFixed(1)}s] ${record.label}`);
    if (fault.forMs !== null && !isMembership(fault.action)) {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void this.undo(record, fault.action);
      }, fault.forMs);
      this.timers.add(timer);
    }
  }

  private async apply(action: FaultAction): Promise<FaultRecord | null> {
    const atMs = this.now();
    const record = (label: string, skipped = false): FaultRecord => ({
      atMs,
      label: skipped ? `${label} skipped: no target` : label,
      endMs: null,
      kind: action.kind,
      skipped,
    });
    switch (action.kind) {
      case 'kill': {
        const ids = this.resolve(action.target).filter((id) => !this.killed.has(id));
        for (const id of ids) this.killed.add(id);
        await this.onEach(ids, (id) => this.supervisor.kill(id));
        return record(`kill ${ids.join(',')}${action.loseUnsynced ? ' (losing unsynced writes)' : ''}`, ids.length === 0);
      }
      case 'restart': {
        const ids = this.resolve(action.target).filter((id) => this.stateOf(id) === 'killed' || this.stateOf(id) === 'failed');
        await Promise.all(ids.map((id) => this.supervisor.restart(id).catch(() => undefined)));
        for (const id of ids) this.killed.delete(id);
        return record(`restart ${ids.join(',')}`, ids.length === 0);
      }
      case 'pause': {
        const ids = this.resolve(action.target).filter((id) => !this.paused.has(id));
        for (const id of ids) this.paused.add(id);
        await this.onEach(ids, (id) => this.supervisor.pause(id));
        return record(`pause ${ids.join(',')}`, ids.length === 0);
      }
      case 'resume': {
        const ids = this.resolve(action.target).filter((id) => this.paused.has(id));
        await this.onEach(ids, (id) => this.supervisor.resume(id));
        for (const id of ids) this.paused.delete(id);
        return record(`resume ${ids.join(',')}`, ids.length === 0);
      }
      case 'partition':
        return record(await this.partition(action.shape));
      case 'links':
        await this.supervisor.setLinkFaults({}, { drop: action.drop, delayMs: action.delayMs, duplicate: action.duplicate });
        return record(`links drop=${action.drop} delay=${action.delayMs.join('-')}ms duplicate=${action.duplicate}`);
      case 'heal':
        this.isolated = null;
        await this.supervisor.heal();
        return record('heal');
      case 'crash':
      case 'hang':
      case 'flood':
      case 'slow': {
        const ids = this.resolve(action.target).filter((id) => this.stateOf(id) === 'running');
        const fault =
          action.kind === 'slow'
            ? { kind: action.kind, ms: action.ms }
            : action.kind === 'flood'
              ? { kind: action.kind, messages: action.messages }
              : { kind: action.kind };
        // A node that stopped meanwhile is refused (NodeNotRunningError): it simply takes no fault.
        await Promise.all(ids.map((id) => this.supervisor.actorFault(id, fault).catch(() => undefined)));
        if (action.kind === 'slow') for (const id of ids) this.slowed.add(id);
        const detail = action.kind === 'slow' ? ` ${action.ms} ms` : action.kind === 'flood' ? ` ${action.messages} messages` : '';
        return record(`${action.kind} ${ids.join(',')}${detail}`, ids.length === 0);
      }
      case 'clock': {
        const ids = this.resolve(action.target);
        const clock = {
          ...(action.rate === null ? {} : { rate: action.rate }),
          ...(action.skewMs === null ? {} : { skewMs: action.skewMs }),
        };
        for (const id of ids) if (!this.clockBefore.has(id)) this.clockBefore.set(id, this.supervisor.clockOf(id));
        await this.onEach(ids, (id) => this.supervisor.setClock(id, clock));
        const detail = `${action.rate === null ? '' : ` rate ${action.rate}`}${action.skewMs === null ? '' : ` skew ${action.skewMs} ms`}`;
        return record(`clock ${ids.join(',')}${detail}`, ids.length === 0);
      }
      case 'disk': {
        const ids = this.resolve(action.target);
        for (const id of ids) this.disked.add(id);
        await this.onEach(ids, (id) => this.supervisor.setDiskFaults(id, action.faults));
        const detail = Object.entries(action.faults)
          .map(([key, value]) => ` ${key} ${String(value)}`)
          .join('');
        return record(`disk ${ids.join(',')}${detail}`, ids.length === 0);
      }
      case 'snapshot': {
        const ids = this.resolve(action.target);
        // Not awaited: a kill at the same `at` is to land while the snapshot is being written.
        for (const id of ids) void this.supervisor.snapshotNow(id).catch(() => undefined);
        return record(`snapshot ${ids.join(',')}`, ids.length === 0);
      }
      case 'transfer': {
        const leader = this.supervisor.leaderId;
        const target = this.random.shuffle(this.running().filter((id) => id !== leader))[0];
        if (leader === null || target === undefined) return record('transfer', true);
        await this.supervisor.transferLeadership(target).catch((error: unknown) => {
          if (!(error instanceof RangeError)) throw error; // the target left the cluster meanwhile
        });
        return record(`transfer ${leader} -> ${target}`);
      }
      case 'add-learner':
      case 'add-voter':
      case 'promote':
      case 'remove-member':
        throw new Error(`${action.kind} is a membership change: fireMembership carries it out`);
    }
  }

  /**
   * A membership change: recorded (and in force) at once, then carried out after the membership faults before it
   * (one change at a time, in the scenario's order: a promotion waits for its learner's add), its member chosen
   * then, and tried until it commits, is refused for good, or its window (`for`, else the run) ends; the
   * record's label then says how it went.
   */
  private async fireMembership(action: MembershipAction, forMs: number | null): Promise<void> {
    const atMs = this.now();
    const record: FaultRecord = { atMs, label: `${action.kind} ${this.describe(action)}`, endMs: null, kind: action.kind, skipped: false };
    this.records.push(record);
    this.log(`[${(atMs / 1000).toFixed(1)}s] ${record.label}`);
    const deadlineMs = atMs + (forMs ?? Number.POSITIVE_INFINITY);
    const attempt = this.membershipTurn.then(async () => {
      // The leader to remove may be between terms: wait for one, within the window.
      if (action.kind === 'remove-member' && action.target === 'leader' && this.now() < this.endByMs)
        await this.supervisor.waitForLeader(Math.max(1, Math.min(MEMBERSHIP_CALL_TIMEOUT_MS, deadlineMs - this.now())));
      const change = this.membershipChange(action);
      if (change === null) {
        record.skipped = true;
        record.label = `${record.label} skipped: no target`;
        this.log(`[${(this.now() / 1000).toFixed(1)}s] ${record.label}`);
        return;
      }
      if (change.kind === 'remove') {
        // A removed node is gone for good: nothing to restart, resume or speed up.
        this.killed.delete(change.id);
        this.paused.delete(change.id);
        this.slowed.delete(change.id);
      }
      const adding = change.kind === 'add-learner' || change.kind === 'add-voter';
      if (adding) this.joining.add(change.id);
      const outcome = await this.changeMembership(change, deadlineMs).finally(() => {
        if (adding) this.joining.delete(change.id);
      });
      record.label = `${action.kind} ${change.id}: ${outcome}`;
      record.endMs = this.now();
      this.log(`[${(record.endMs / 1000).toFixed(1)}s] ${record.label}`);
    });
    this.membershipTurn = attempt;
    this.changing.add(attempt);
    await attempt.finally(() => this.changing.delete(attempt));
  }

  private describe(action: MembershipAction): string {
    return action.kind === 'remove-member' ? action.target : action.id;
  }

  /** The change a membership fault asks for, its member chosen now; null when there is none to remove. */
  private membershipChange(action: MembershipAction): MembershipChange | null {
    switch (action.kind) {
      case 'add-learner':
      case 'add-voter':
      case 'promote':
        return { kind: action.kind, id: action.id };
      case 'remove-member': {
        const id = this.removeTarget(action.target);
        return id === null ? null : { kind: 'remove', id };
      }
    }
  }

  private removeTarget(target: RemoveTarget): NodeId | null {
    const leader = this.supervisor.leaderId;
    const running = this.running();
    switch (target) {
      case 'leader':
        return leader !== null && this.supervisor.ids.includes(leader) ? leader : null;
      case 'follower':
        return this.random.shuffle(running.filter((id) => id !== leader))[0] ?? null;
      case 'random':
        return this.random.shuffle(running)[0] ?? null;
      default:
        return this.supervisor.ids.includes(target) ? target : null;
    }
  }

  /**
   * Tries `change` until it commits or is refused for good, while "not now" refusals last, at most
   * MEMBERSHIP_ATTEMPTS_MAX times and until `deadlineMs` (run time) or the end of the run. An answer that does
   * not say whether the change happened (a timeout) is settled by reading the configuration. Says how it went.
   */
  private async changeMembership(change: MembershipChange, deadlineMs: number): Promise<string> {
    let unsure = false;
    let last = 'no answer';
    for (let attempt = 1; attempt <= MEMBERSHIP_ATTEMPTS_MAX; attempt++) {
      const remainingMs = Math.min(deadlineMs, this.endByMs) - this.now();
      if (remainingMs <= 0) break;
      const timeoutMs = Math.max(1, Math.min(MEMBERSHIP_CALL_TIMEOUT_MS, remainingMs));
      const outcome = await this.supervisor.changeMembership(change, { timeoutMs }).catch((error: unknown) => ({
        ok: false as const,
        code: 'ANSWER_LOST' as const,
        message: (error as Error).message,
        definite: false,
      }));
      const tries = `${attempt} ${attempt === 1 ? 'try' : 'tries'}`;
      if (outcome.ok) return `committed (${tries})`;
      last = `${outcome.code}: ${outcome.message}`;
      unsure ||= !outcome.definite;
      // After an answer that left it open, the change may have committed since (a retry is then refused).
      if (unsure && (await this.inEffect(change))) return `committed (${tries}, confirmed from the configuration)`;
      const retry = !outcome.definite || MEMBERSHIP_RETRY_CODES.has(outcome.code) || (unsure && outcome.code === 'MEMBER_EXISTS');
      if (!retry) return `refused, ${last}`;
      await new Promise((resolve) => setTimeout(resolve, MEMBERSHIP_RETRY_DELAY_MS));
    }
    return `not done, last answer ${last}`;
  }

  private async inEffect(change: MembershipChange): Promise<boolean> {
    const view = await this.supervisor.members().catch(() => null);
    return view !== null && view.leader !== null && inEffect(change, view);
  }

  private async partition(shape: Extract<FaultAction, { kind: 'partition' }>['shape']): Promise<string> {
    const ids = this.random.shuffle(this.members());
    const leader = this.supervisor.leaderId;
    // Any other shape replaces the isolation (cutLinks reconnects the links it does not cut).
    this.isolated = null;
    switch (shape) {
      case 'isolate-leader': {
        const isolated = leader ?? (ids[0] as NodeId);
        this.isolated = isolated;
        await this.supervisor.partition([[isolated], ids.filter((id) => id !== isolated)]);
        return `partition: isolate ${isolated}`;
      }
      case 'majority-minority': {
        const minority = ids.slice(0, Math.floor(ids.length / 2));
        const majority = ids.slice(minority.length);
        await this.supervisor.partition([minority, majority]);
        return `partition [${minority.join(',')}] | [${majority.join(',')}]`;
      }
      case 'bridge': {
        // Two halves that only the bridge node talks to both of (Jepsen's bridge).
        const bridge = ids[0] as NodeId;
        const left = new Set(ids.slice(1, 1 + Math.floor((ids.length - 1) / 2)));
        await this.supervisor.cutLinks((a, b) => a !== bridge && b !== bridge && left.has(a) !== left.has(b));
        return `partition: bridge ${bridge} between [${[...left].join(',')}] and [${ids.slice(1 + left.size).join(',')}]`;
      }
      case 'ring': {
        // Each node hears only its two neighbours.
        const position = new Map(ids.map((id, i) => [id, i]));
        await this.supervisor.cutLinks((a, b) => {
          const distance = Math.abs((position.get(a) as number) - (position.get(b) as number));
          return distance !== 1 && distance !== ids.length - 1;
        });
        return `partition: ring ${ids.join('-')}`;
      }
    }
  }

  private async undo(record: FaultRecord, action: FaultAction): Promise<void> {
    switch (action.kind) {
      case 'kill':
        await this.apply({ kind: 'restart', target: 'killed' });
        break;
      case 'pause':
        await this.apply({ kind: 'resume', target: 'paused' });
        break;
      case 'partition':
      case 'links':
        this.isolated = null;
        await this.supervisor.heal();
        break;
      case 'slow':
        await this.unslow();
        break;
      case 'clock':
        await this.unclock();
        break;
      case 'disk':
        await this.undisk();
        break;
      default:
        return;
    }
    record.endMs = this.now();
    this.log(`[${(record.endMs / 1000).toFixed(1)}s] undo: ${record.label}`);
  }

  /** Every slowed node back to full speed (one that crashed or restarted meanwhile is already). */
  private async unslow(): Promise<void> {
    const ids = [...this.slowed];
    this.slowed.clear();
    const members = ids.filter((id) => this.supervisor.ids.includes(id));
    await Promise.all(members.map((id) => this.supervisor.actorFault(id, { kind: 'slow', ms: 0 }).catch(() => undefined)));
  }

  /** Every disk a disk fault made sick healthy again (queued errors are used up by the crashes they cause). */
  private async undisk(): Promise<void> {
    const ids = [...this.disked].filter((id) => this.supervisor.ids.includes(id));
    this.disked.clear();
    await this.onEach(ids, (id) => this.supervisor.setDiskFaults(id, DISK_FAULTS_NONE));
  }

  /** Every clock a clock fault changed back to what it was before (the scenario's start clock). */
  private async unclock(): Promise<void> {
    const before = new Map(this.clockBefore);
    this.clockBefore.clear();
    const ids = [...before.keys()].filter((id) => this.supervisor.ids.includes(id));
    await this.onEach(ids, (id) => this.supervisor.setClock(id, before.get(id) ?? {}));
  }

  /**
   * The end of the run: stop scheduling, heal every link, resume and restart every node; then give the
   * membership changes under way (or waiting their turn) up to MEMBERSHIP_END_GRACE_MS to finish, so the final
   * reads meet the configuration the scenario asked for (each record's end says when its change committed).
   */
  async healAll(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.endByMs = this.now() + MEMBERSHIP_END_GRACE_MS;
    this.isolated = null;
    await this.supervisor.heal();
    await this.apply({ kind: 'resume', target: 'paused' });
    await this.unslow();
    await this.unclock();
    await this.undisk();
    await this.apply({ kind: 'restart', target: 'all' });
    await Promise.all([...this.changing]);
    await this.apply({ kind: 'restart', target: 'all' });
    const end = this.now();
    for (const record of this.records) record.endMs ??= end;
  }
}
