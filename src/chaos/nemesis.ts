import type { Supervisor } from '../actor/supervisor.js';
import type { SeededRandom } from '../raft/random.js';
import type { NodeId } from '../raft/types.js';
import type { FaultAction, FaultEvent, Target } from './scenario.js';

/** A fault as it happened: what, on whom, and when (ms since the run began). */
export interface FaultRecord {
  readonly atMs: number;
  readonly label: string;
  /** When it was undone (its `for` ran out, or the final heal). */
  endMs: number | null;
  readonly kind: FaultAction['kind'];
  /** It found no target (nothing to kill, restart, resume, no leader to move): recorded, not counted as a fault. */
  readonly skipped: boolean;
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
  /** The node the last isolate-leader partition cut off, until a heal: the `isolated` target. */
  private isolated: NodeId | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();

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

  private running(): NodeId[] {
    return this.supervisor.ids.filter((id) => this.supervisor.stateOf(id) === 'running');
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
        return [...this.supervisor.ids];
      case 'killed':
        return [...this.killed];
      case 'paused':
        return [...this.paused];
      case 'isolated':
        return this.isolated !== null && running.includes(this.isolated) ? [this.isolated] : [];
      default:
        return this.supervisor.ids.includes(target) ? [target] : [];
    }
  }

  async fire(fault: FaultEvent): Promise<void> {
    const record = await this.apply(fault.action);
    if (record === null) return;
    this.records.push(record);
    this.log(`[${(record.atMs / 1000).toFixed(1)}s] ${record.label}`);
    if (fault.forMs !== null) {
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
        await Promise.all(ids.map((id) => this.supervisor.kill(id)));
        return record(`kill ${ids.join(',')}${action.loseUnsynced ? ' (losing unsynced writes)' : ''}`, ids.length === 0);
      }
      case 'restart': {
        const ids = this.resolve(action.target).filter(
          (id) => this.supervisor.stateOf(id) === 'killed' || this.supervisor.stateOf(id) === 'failed',
        );
        await Promise.all(ids.map((id) => this.supervisor.restart(id).catch(() => undefined)));
        for (const id of ids) this.killed.delete(id);
        return record(`restart ${ids.join(',')}`, ids.length === 0);
      }
      case 'pause': {
        const ids = this.resolve(action.target).filter((id) => !this.paused.has(id));
        for (const id of ids) this.paused.add(id);
        await Promise.all(ids.map((id) => this.supervisor.pause(id)));
        return record(`pause ${ids.join(',')}`, ids.length === 0);
      }
      case 'resume': {
        const ids = this.resolve(action.target).filter((id) => this.paused.has(id));
        await Promise.all(ids.map((id) => this.supervisor.resume(id)));
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
        const ids = this.resolve(action.target).filter((id) => this.supervisor.stateOf(id) === 'running');
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
      case 'transfer': {
        const leader = this.supervisor.leaderId;
        const target = this.random.shuffle(this.running().filter((id) => id !== leader))[0];
        if (leader === null || target === undefined) return record('transfer', true);
        await this.supervisor.transferLeadership(target);
        return record(`transfer ${leader} -> ${target}`);
      }
    }
  }

  private async partition(shape: Extract<FaultAction, { kind: 'partition' }>['shape']): Promise<string> {
    const ids = this.random.shuffle([...this.supervisor.ids]);
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
    await Promise.all(ids.map((id) => this.supervisor.actorFault(id, { kind: 'slow', ms: 0 }).catch(() => undefined)));
  }

  /** The end of the run: stop scheduling, heal every link, resume and restart every node. */
  async healAll(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.isolated = null;
    await this.supervisor.heal();
    await this.apply({ kind: 'resume', target: 'paused' });
    await this.unslow();
    await this.apply({ kind: 'restart', target: 'all' });
    const end = this.now();
    for (const record of this.records) record.endMs ??= end;
  }
}
