// The explorer's hub (issue 14): gathers what the supervisor and the node actors report into one numbered
// event stream (src/protocol/explorer.ts), keeps the last `explorerEventsMax` events for subscribers that
// reconnect (Last-Event-ID), and the state a page starts from. It also raises alarms when the frames show a
// broken invariant: two leaders in one term, or a node's commit index going back within one incarnation.
import type { Supervisor } from '../actor/supervisor.js';
import {
  EXPLORER_SCHEMA_VERSION,
  type ExplorerAlarm,
  type ExplorerEvent,
  type ExplorerEventBody,
  type ExplorerState,
  type LinkFaultEntry,
  type LinkTraffic,
  type NodeFrameState,
} from '../protocol/explorer.js';
import type { NodeEvent } from '../protocol/node.js';
import type { NodeId } from '../raft/types.js';

export interface ExplorerLimits {
  /** Events kept for replay; a subscriber further behind gets a resync. */
  readonly explorerEventsMax: number;
  /** Concurrent event-stream subscribers (pages). */
  readonly explorerSubscribersMax: number;
  /** Bytes queued to one subscriber before it is dropped (it reconnects and replays from its last id). */
  readonly explorerSubscriberBufferBytes: number;
}

/** Terms remembered for the two-leaders alarm. */
const TERMS_REMEMBERED = 10_000;
/** Alarms kept in the state. */
const ALARMS_KEPT = 100;

export type Subscriber = (event: ExplorerEvent) => void;

/** A scenario as the explorer lists it: runnable only if it fits this cluster (node count and storage). */
export interface ScenarioListing {
  readonly name: string;
  readonly description: string;
  readonly nodes: number;
  readonly storage: string;
  readonly durationMs: number;
  /** Why it cannot run here (another node count or storage, or a file that does not parse), or null. */
  readonly unfit: string | null;
}

/**
 * The scenario library the explorer may run against its own cluster. The router only routes; the command that
 * started the cluster (src/cli) implements it with the chaos runner, which the router may not import.
 */
export interface ScenarioCatalog {
  list(): ScenarioListing[];
  /** The running scenario's name, or null. */
  running(): string | null;
  /** Starts a run; its progress and verdict arrive as `scenario` events. */
  run(
    name: string,
  ):
    | { readonly ok: true; readonly seed: number }
    | { readonly ok: false; readonly why: 'unknown' | 'running' | 'unfit'; readonly detail: string };
  /** An HTML report a run wrote, by file name, or null. */
  report(file: string): Buffer | null;
}

export class ExplorerHub {
  private readonly events: ExplorerEvent[] = [];
  /** Index in `events` of the oldest kept event (the array is compacted when half of it is stale). */
  private head = 0;
  private seq = 0;
  private readonly startedMs = Date.now();
  private readonly frames = new Map<NodeId, { frame: NodeFrameState; t: number }>();
  private links: readonly LinkFaultEntry[] = [];
  private readonly alarms: ExplorerEvent[] = [];
  private readonly leaders = new Map<number, NodeId>();
  private readonly subscribers = new Set<Subscriber>();
  private readonly unsubscribeSupervisor: () => void;

  constructor(
    private readonly supervisor: Supervisor,
    readonly limits: ExplorerLimits,
  ) {
    const frame = (node: NodeId, state: NodeFrameState, links: Readonly<Record<NodeId, LinkTraffic>>): void => {
      // A last frame of a member just removed (its worker reports on its way out) would bring it back on the page.
      if (!supervisor.ids.includes(node)) return;
      this.onFrame(node, state);
      this.record({ kind: 'node-frame', node, state, links });
    };
    supervisor.on('frame', frame);
    const onNodeEvent = (event: NodeEvent): void => {
      if (!supervisor.ids.includes(event.id)) return;
      switch (event.type) {
        case 'role':
          this.onRole(event.id, event.role, event.term);
          this.record({ kind: 'role', node: event.id, role: event.role, term: event.term, leaderId: event.leaderId });
          return;
        case 'vote':
          this.record({ kind: 'vote', node: event.id, candidate: event.candidate, term: event.term, granted: event.granted });
          return;
        case 'snapshot':
          this.record({ kind: 'snapshot', node: event.id, index: event.index, how: event.how });
          return;
      }
    };
    supervisor.on('node-event', onNodeEvent);
    const onState = (id: NodeId, state: string, reason: string): void => {
      // A new incarnation may recover a lower commit index than its predecessor had: compare within one only (a
      // member removed and added again under its id, too, starts from nothing).
      if (state !== 'running' && state !== 'paused') this.frames.delete(id);
      // Membership changes add and remove ids (supervisor.ids): a member the supervisor no longer knows is
      // reported as the event says, not asked about (stateOf would throw for it).
      const known = supervisor.ids.includes(id);
      this.record({
        kind: 'supervision',
        node: id,
        supervision: known ? supervisor.supervision(id) : { state, restarts: 0, backoffMs: null, reason },
      });
    };
    supervisor.on('node-state', onState);
    const onLinks = (faults: readonly LinkFaultEntry[]): void => {
      this.links = faults;
      this.record({ kind: 'links', faults });
    };
    supervisor.on('links', onLinks);
    this.links = supervisor.linkFaults();
    this.unsubscribeSupervisor = () => {
      supervisor.off('frame', frame);
      supervisor.off('node-event', onNodeEvent);
      supervisor.off('node-state', onState);
      supervisor.off('links', onLinks);
    };
  }

  /** The load generator's settings, for the state (set by ExplorerLoad's owner). */
  load: { rate: number; readShare: number } = { rate: 0, readShare: 0.5 };

  /** One second of the load generator. */
  recordLoad(second: Omit<Extract<ExplorerEventBody, { kind: 'load' }>, 'kind'>): void {
    this.record({ kind: 'load', ...second });
  }

  /** A scenario's progress (started, a log line, the verdict with its report's URL). */
  recordScenario(name: string, phase: 'started' | 'log' | 'verdict', detail: string, verdict?: { ok: boolean; report: string }): void {
    this.record({ kind: 'scenario', name, phase, detail, ...(verdict === undefined ? {} : verdict) });
  }

  /** An admin action someone took (the page, the console, curl), with its outcome. */
  recordAction(action: string, target: string | null, ok: boolean, detail: string): void {
    this.record({ kind: 'action', action, target, ok, detail });
  }

  /** The state a page starts from: every node's supervision and last frame, the link faults, the alarms. */
  state(): ExplorerState {
    const node: Record<NodeId, ExplorerState['node'][NodeId]> = {};
    for (const id of this.supervisor.ids) {
      const frame = this.frames.get(id);
      node[id] = { supervision: this.supervisor.supervision(id), frame: frame?.frame ?? null, frameT: frame?.t ?? null };
    }
    const timing = this.supervisor.options;
    return {
      schema: EXPLORER_SCHEMA_VERSION,
      seq: this.seq,
      t: this.now(),
      nodes: this.supervisor.ids,
      leader: this.supervisor.leaderId,
      term: this.supervisor.leaderTerm,
      timing: {
        tickMs: timing.tickMs,
        electionTicks: timing.core.electionTicks ?? 0,
        heartbeatTicks: timing.core.heartbeatTicks ?? 0,
      },
      node,
      links: this.links,
      alarms: [...this.alarms],
      load: { ...this.load },
    };
  }

  /** The events after `seq`, or null when some of them are no longer kept (the subscriber must resync). */
  since(seq: number): ExplorerEvent[] | null {
    if (seq >= this.seq) return [];
    const oldest = this.events[this.head];
    if (oldest === undefined || seq + 1 < oldest.seq) return null;
    return this.events.slice(this.head + (seq + 1 - oldest.seq));
  }

  /** Adds a subscriber; false when explorerSubscribersMax are already subscribed. */
  subscribe(subscriber: Subscriber): boolean {
    if (this.subscribers.size >= this.limits.explorerSubscribersMax) return false;
    this.subscribers.add(subscriber);
    return true;
  }

  unsubscribe(subscriber: Subscriber): void {
    this.subscribers.delete(subscriber);
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** Events kept now (at most explorerEventsMax). */
  get bufferedEvents(): number {
    return this.events.length - this.head;
  }

  get lastSeq(): number {
    return this.seq;
  }

  close(): void {
    this.unsubscribeSupervisor();
    this.subscribers.clear();
  }

  // -------------------------------------------------------------------------

  private now(): number {
    return Date.now() - this.startedMs;
  }

  private record(body: ExplorerEventBody): void {
    const event = { seq: ++this.seq, t: this.now(), ...body } as ExplorerEvent;
    this.events.push(event);
    if (this.events.length - this.head > this.limits.explorerEventsMax) this.head++;
    if (this.head > this.limits.explorerEventsMax) {
      this.events.splice(0, this.head);
      this.head = 0;
    }
    for (const subscriber of this.subscribers) subscriber(event);
  }

  private onFrame(node: NodeId, frame: NodeFrameState): void {
    const before = this.frames.get(node);
    if (before !== undefined && frame.commitIndex < before.frame.commitIndex) {
      this.alarm('commit-went-back', `${node}'s commit index went from ${before.frame.commitIndex} to ${frame.commitIndex}`);
    }
    this.frames.set(node, { frame, t: this.now() });
    if (frame.role === 'leader') this.onRole(node, 'leader', frame.term);
  }

  private onRole(node: NodeId, role: string, term: number): void {
    if (role !== 'leader') return;
    const known = this.leaders.get(term);
    if (known === undefined) {
      this.leaders.set(term, node);
      if (this.leaders.size > TERMS_REMEMBERED) this.leaders.delete(this.leaders.keys().next().value as number);
    } else if (known !== node) this.alarm('two-leaders', `term ${term} has two leaders: ${known} and ${node}`);
  }

  /** Raises an alarm: recorded in the stream and kept in the state (the last ALARMS_KEPT). */
  alarm(alarm: ExplorerAlarm, detail: string): void {
    this.record({ kind: 'alarm', alarm, detail });
    this.alarms.push(this.events[this.events.length - 1] as ExplorerEvent);
    if (this.alarms.length > ALARMS_KEPT) this.alarms.shift();
  }
}
