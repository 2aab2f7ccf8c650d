// A simulator run as an explorer trace (issue 14): the same schema the live cluster streams
// (src/protocol/explorer.ts), so a failing seed's run opens in the explorer's replay mode.
// `npm run sim -- --seed S --trace FILE` writes it. Simulated time: one unit is one millisecond of `t`.
import {
  EXPLORER_FRAME_MS,
  EXPLORER_SCHEMA_VERSION,
  type ExplorerEvent,
  type ExplorerEventBody,
  type ExplorerState,
  type ExplorerTrace,
  type LinkFaultEntry,
  type LinkTraffic,
  type NodeFrameState,
  type SupervisionState,
} from '../../src/protocol/explorer.js';
import type { NodeId } from '../../src/raft/types.js';

export interface TraceTiming {
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
}

export class TraceRecorder {
  private readonly events: ExplorerEvent[] = [];
  private seq = 0;
  private nextFrameAt = EXPLORER_FRAME_MS;
  private readonly traffic = new Map<string, { messages: number; bytes: number; dropped: number; rttMs: null }>();
  private readonly supervision = new Map<NodeId, SupervisionState>();

  constructor(
    private readonly ids: readonly NodeId[],
    private readonly timing: TraceTiming,
  ) {
    for (const id of ids) this.supervision.set(id, { state: 'stopped', restarts: 0, backoffMs: null, reason: 'not started' });
  }

  record(t: number, body: ExplorerEventBody): void {
    this.events.push({ seq: ++this.seq, t, ...body } as ExplorerEvent);
  }

  /** A node's supervision changed: started, crashed, paused, resumed, retired. */
  supervise(t: number, node: NodeId, state: string, reason: string): void {
    const before = this.supervision.get(node);
    const restarts = (before?.restarts ?? 0) + (state === 'running' && before?.state === 'restarting' ? 1 : 0);
    const supervision: SupervisionState = { state, restarts, backoffMs: null, reason };
    this.supervision.set(node, supervision);
    this.record(t, { kind: 'supervision', node, supervision });
  }

  /** One message sent (or dropped) on a link, counted into the next frame. */
  sent(from: NodeId, to: NodeId, dropped: boolean): void {
    const key = `${from}>${to}`;
    const counts = this.traffic.get(key) ?? { messages: 0, bytes: 0, dropped: 0, rttMs: null };
    if (dropped) counts.dropped++;
    else counts.messages++;
    this.traffic.set(key, counts);
  }

  /** Emits a frame per running node each EXPLORER_FRAME_MS of simulated time that has passed. */
  frames(t: number, states: () => ReadonlyMap<NodeId, NodeFrameState>): void {
    if (t < this.nextFrameAt) return;
    this.nextFrameAt = (Math.floor(t / EXPLORER_FRAME_MS) + 1) * EXPLORER_FRAME_MS;
    for (const [node, state] of states()) {
      const links: Record<NodeId, LinkTraffic> = {};
      for (const peer of this.ids) {
        if (peer === node) continue;
        const counts = this.traffic.get(`${node}>${peer}`);
        links[peer] = counts ?? { messages: 0, bytes: 0, dropped: 0, rttMs: null };
      }
      this.record(t, { kind: 'node-frame', node, state, links });
    }
    this.traffic.clear();
  }

  links(t: number, faults: readonly LinkFaultEntry[]): void {
    this.record(t, { kind: 'links', faults });
  }

  /** The whole run: the state it starts from (every node stopped, no faults) and its events. */
  trace(): ExplorerTrace {
    const node: Record<NodeId, ExplorerState['node'][NodeId]> = {};
    for (const id of this.ids)
      node[id] = { supervision: { state: 'stopped', restarts: 0, backoffMs: null, reason: 'not started' }, frame: null, frameT: null };
    const start: ExplorerState = {
      schema: EXPLORER_SCHEMA_VERSION,
      seq: 0,
      t: 0,
      nodes: this.ids,
      leader: null,
      term: 0,
      timing: this.timing,
      node,
      links: [],
      alarms: [],
      load: { rate: 0, readShare: 0.5 },
    };
    return { schema: EXPLORER_SCHEMA_VERSION, source: 'simulator', start, events: this.events };
  }
}

/** Parses a trace file, refusing another schema version or a malformed one with a message that says why. */
export function parseTrace(text: string): ExplorerTrace {
  const value = JSON.parse(text) as Partial<ExplorerTrace>;
  if (value.schema !== EXPLORER_SCHEMA_VERSION)
    throw new Error(`trace schema ${String(value.schema)}, this reader knows ${EXPLORER_SCHEMA_VERSION}`);
  if (value.source !== 'live' && value.source !== 'simulator') throw new Error('trace source must be live or simulator');
  if (value.start === undefined || !Array.isArray(value.events)) throw new Error('a trace has a start state and an events array');
  let seq = 0;
  for (const event of value.events) {
    if (typeof event.seq !== 'number' || event.seq <= seq) throw new Error(`trace events must have increasing seq (at ${seq})`);
    seq = event.seq;
  }
  return value as ExplorerTrace;
}
