import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { NodeState, Supervisor } from '../actor/supervisor.js';
import {
  NODE_DURATION_BUCKETS_SECONDS,
  NODE_DURATIONS,
  type DurationCounts,
  type NodeDuration,
  type NodeMetricsSample,
} from '../protocol/node.js';
import type { NodeId } from '../raft/types.js';
import type { Router } from './router.js';

/** Why the supervisor started a node again (raftkv_node_restarts_total's `reason`): a small fixed set. */
export const RESTART_REASONS = ['crash', 'exit', 'hang', 'start_failed', 'request', 'other'] as const;
export type RestartReason = (typeof RESTART_REASONS)[number];

/**
 * Why a front door cut a connection off (raftkv_connections_closed_total's `reason`), each a limit of
 * docs/LIMITS.md: headers-timeout (headersTimeoutMs, slowloris), request-timeout (requestReceiveTimeoutMs: a body
 * or a command frame trickled), output-buffer (outputBufferBytesMax: a client that does not read its replies),
 * idle (idleTimeoutMs: an idle Redis-protocol connection, or a client that takes none of its replies).
 */
export const CONNECTION_CLOSE_REASONS = ['headers-timeout', 'request-timeout', 'output-buffer', 'idle'] as const;
export type ConnectionCloseReason = (typeof CONNECTION_CLOSE_REASONS)[number];

/** The caps whose refusals a node counts (raftkv_node_limit_refusals_total's `limit`). */
const NODE_LIMITS = ['mailboxMessagesMax', 'pausedCallsMax'] as const;

/** What each node-side duration is (docs/METRICS.md), by its name in the samples. */
const DURATION_HELP: Readonly<Record<NodeDuration, string>> = {
  proposal_commit: 'From a proposal at the leader to its commit there, per proposal (a batch of commands)',
  commit_apply: 'From an entry seen committed at a node to its apply there, per entry',
  wal_fsync: 'One sync of the WAL: the writes held until it and the fdatasync',
  snapshot_save: 'A node saving its own snapshot, from start to its log compacted (written a slice per turn)',
  snapshot_install: "A node installing a leader's snapshot: restoring the state machine and saving the snapshot",
};

/**
 * The supervisor's reason for a restart (RestartPolicy's decision after onCrash), as a label: the text names
 * the process (a pid, an error message) and would make a series per crash.
 */
export function restartReason(reason: string): RestartReason {
  if (reason.startsWith('hung')) return 'hang';
  if (reason.startsWith('uncaught')) return 'crash';
  if (reason.startsWith('worker exited')) return 'exit';
  if (reason.startsWith('start failed')) return 'start_failed';
  return 'other';
}

/** A node's running total of one duration: per bucket (not cumulative), sum, count. */
interface DurationTotals {
  readonly counts: number[];
  sum: number;
  count: number;
}

/**
 * A histogram whose observations are made in the node workers: each worker posts its bucket counts about once a
 * second (NodeMetricsSample.durations) and they are added up here per node, in the workers' buckets. Exposed
 * like any prom-client histogram (`_bucket` with `le`, `_sum`, `_count`); prom-client has no way to add bucket
 * counts to its own, so this one answers `get` itself.
 */
class NodeDurationHistogram extends Histogram<'node'> {
  private readonly totals = new Map<NodeId, DurationTotals>();

  constructor(
    readonly metricName: string,
    private readonly helpText: string,
    registry: Registry,
  ) {
    super({ name: metricName, help: helpText, labelNames: ['node'], buckets: [...NODE_DURATION_BUCKETS_SECONDS], registers: [registry] });
  }

  add(node: NodeId, counts: DurationCounts): void {
    let totals = this.totals.get(node);
    if (totals === undefined) this.totals.set(node, (totals = this.emptyTotals()));
    counts.counts.forEach((count, bucket) => (totals.counts[bucket] = (totals.counts[bucket] ?? 0) + count));
    totals.sum += counts.sum;
    totals.count += counts.count;
  }

  /** A node's series from its start, all zero: it is there before its first observation. */
  startNode(node: NodeId): void {
    if (!this.totals.has(node)) this.totals.set(node, this.emptyTotals());
  }

  override async get(): ReturnType<Histogram<'node'>['get']> {
    const values: { value: number; labels: Record<string, string | number>; metricName: string }[] = [];
    for (const [node, totals] of this.totals) {
      let cumulative = 0;
      NODE_DURATION_BUCKETS_SECONDS.forEach((bound, bucket) => {
        cumulative += totals.counts[bucket] ?? 0;
        values.push({ value: cumulative, labels: { node, le: bound }, metricName: `${this.metricName}_bucket` });
      });
      values.push({ value: totals.count, labels: { node, le: '+Inf' }, metricName: `${this.metricName}_bucket` });
      values.push({ value: totals.sum, labels: { node }, metricName: `${this.metricName}_sum` });
      values.push({ value: totals.count, labels: { node }, metricName: `${this.metricName}_count` });
    }
    // The `le` label is the histogram's own (prom-client's type keeps it out of the declared label names).
    return { name: this.metricName, help: this.helpText, type: 'histogram', aggregator: 'sum', values } as unknown as Awaited<
      ReturnType<Histogram<'node'>['get']>
    >;
  }

  /** What the registry renders as text (prom-client's Histogram has it; it would read its own, empty, buckets). */
  async getForPromString(): ReturnType<Histogram<'node'>['get']> {
    return this.get();
  }

  private emptyTotals(): DurationTotals {
    return { counts: new Array<number>(NODE_DURATION_BUCKETS_SECONDS.length + 1).fill(0), sum: 0, count: 0 };
  }
}

/**
 * Prometheus metrics (prom-client), named by the Prometheus conventions (docs/METRICS.md): raftkv's own under
 * `raftkv_`, in base units (`_seconds`, `_bytes`), counters ending in `_total`; the standard process and Node.js
 * metrics under their usual names. The nodes' numbers come from their metrics samples (NodeMetricsSample, about
 * once a second), so a scrape asks no node anything and never waits for a hung one.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'api' | 'route' | 'status'>;
  private readonly latency: Histogram<'api' | 'route'>;
  private readonly connectionsDropped: Counter<'api'>;
  private readonly connectionsClosed: Counter<'api' | 'reason'>;
  private readonly actions: Counter<'action'>;
  private readonly durations: Readonly<Record<NodeDuration, NodeDurationHistogram>>;
  private readonly limitRefusals: Counter<'node' | 'limit'>;
  private readonly linkMessages: Counter<'from' | 'to'>;
  private readonly linkBytes: Counter<'from' | 'to'>;
  private readonly linkDropped: Counter<'from' | 'to'>;
  /** Each running node's latest sample: the gauges are read from here at scrape time. */
  private readonly samples = new Map<NodeId, NodeMetricsSample>();
  /** Each node's state as last announced, to tell a requested restart from a first start. */
  private readonly states = new Map<NodeId, NodeState>();
  /**
   * The labelled children of the request metrics, by api, route and status: prom-client hashes the label object
   * on every call otherwise, once per request on the hot path. Routes and statuses are small fixed sets.
   */
  private readonly requestSeries = new Map<string, { count: { inc(): void }; latency: { observe(seconds: number): void } }>();

  constructor(supervisor: Supervisor, router: Router) {
    const registers = [this.registry];
    // The standard names (process_cpu_seconds_total, nodejs_heap_size_used_bytes, ...): what every dashboard expects.
    collectDefaultMetrics({ register: this.registry });
    // Caps that are reached are counted where an operator looks, not only answered (docs/LIMITS.md).
    new Counter({
      name: 'raftkv_router_refusals_total',
      help: 'Errors the router answered, by registered code (OVERLOADED, QUEUE_FULL, TIMEOUT, NOT_LEADER, ...)',
      labelNames: ['code'],
      registers,
      collect() {
        this.reset();
        for (const [code, count] of router.refusalCounts()) this.inc({ code }, count);
      },
    });
    this.requests = new Counter({
      name: 'raftkv_requests_total',
      help: 'Client requests by API (http, resp), route or command, and status',
      labelNames: ['api', 'route', 'status'],
      registers,
    });
    this.latency = new Histogram({
      name: 'raftkv_request_duration_seconds',
      help: 'Client request latency by API and route or command, from the request read to the answer written',
      labelNames: ['api', 'route'],
      registers,
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    });
    this.connectionsDropped = new Counter({
      name: 'raftkv_connections_dropped_total',
      help: 'Client connections refused (answered OVERLOADED and closed at once) because connectionsMax were open',
      labelNames: ['api'],
      registers,
    });
    this.connectionsClosed = new Counter({
      name: 'raftkv_connections_closed_total',
      help: 'Client connections the server cut off by a limit: headers-timeout, request-timeout, output-buffer, idle',
      labelNames: ['api', 'reason'],
      registers,
    });
    for (const api of ['http', 'resp'] as const) {
      this.connectionsDropped.inc({ api }, 0);
      for (const reason of CONNECTION_CLOSE_REASONS) this.connectionsClosed.inc({ api, reason }, 0);
    }
    this.actions = new Counter({ name: 'raftkv_fault_actions_total', help: 'Fault-injection actions', labelNames: ['action'], registers });

    const leaderChanges = new Counter({ name: 'raftkv_leader_changes_total', help: 'Leaders the supervisor saw elected', registers });
    const elections = new Counter({
      name: 'raftkv_elections_total',
      help: 'Elections a node started (became candidate; pre-votes are not counted)',
      labelNames: ['node'],
      registers,
    });
    const restarts = new Counter({
      name: 'raftkv_node_restarts_total',
      help: 'Node restarts by reason: crash, exit, hang (the watchdog), start_failed (restarted by policy), request (admin)',
      labelNames: ['node', 'reason'],
      registers,
    });
    const stateChanges = new Counter({
      name: 'raftkv_node_state_changes_total',
      help: 'Supervision state changes of a node (starting, running, paused, killed, restarting, failed)',
      labelNames: ['node', 'state'],
      registers,
    });
    this.limitRefusals = new Counter({
      name: 'raftkv_node_limit_refusals_total',
      help: 'Messages dropped at a full mailbox (mailboxMessagesMax), calls refused while paused (pausedCallsMax)',
      labelNames: ['node', 'limit'],
      registers,
    });
    const linkLabels = ['from', 'to'] as const;
    this.linkMessages = new Counter({
      name: 'raftkv_link_sent_messages_total',
      help: 'Raft messages a node sent to a peer',
      labelNames: linkLabels,
      registers,
    });
    this.linkBytes = new Counter({
      name: 'raftkv_link_sent_bytes_total',
      help: 'Bytes a node sent to a peer',
      labelNames: linkLabels,
      registers,
    });
    this.linkDropped = new Counter({
      name: 'raftkv_link_dropped_messages_total',
      help: "Messages a link's faults dropped (a cut, drop probability)",
      labelNames: linkLabels,
      registers,
    });
    this.durations = Object.fromEntries(
      NODE_DURATIONS.map((name) => [
        name,
        new NodeDurationHistogram(`raftkv_${name}_duration_seconds`, DURATION_HELP[name], this.registry),
      ]),
    ) as Record<NodeDuration, NodeDurationHistogram>;
    this.nodeGauges(supervisor.ids);

    // Every series a node will have is there from the start at 0, so rate() and increase() see its first change.
    for (const node of supervisor.ids) {
      this.states.set(node, supervisor.stateOf(node));
      elections.inc({ node }, 0);
      for (const reason of RESTART_REASONS) restarts.inc({ node, reason }, 0);
      for (const limit of NODE_LIMITS) this.limitRefusals.inc({ node, limit }, 0);
      for (const histogram of Object.values(this.durations)) histogram.startNode(node);
    }
    leaderChanges.inc(0);

    supervisor.on('leader', (leader) => {
      if (leader !== null) leaderChanges.inc();
    });
    supervisor.on('node-event', (event) => {
      if (event.type === 'role' && event.role === 'candidate') elections.inc({ node: event.id });
    });
    supervisor.on('node-state', (node, state, reason) => {
      stateChanges.inc({ node, state });
      const before = this.states.get(node);
      this.states.set(node, state);
      if (state === 'restarting') restarts.inc({ node, reason: restartReason(reason) });
      // A start after the node ran, was killed or gave up, not by the restart policy: an admin's restart.
      else if (state === 'starting' && before !== undefined && before !== 'restarting' && before !== 'stopped') {
        restarts.inc({ node, reason: 'request' });
      }
      // A node that is not running has no gauges (its last sample would claim it still leads).
      if (state !== 'running' && state !== 'paused') this.samples.delete(node);
    });
    supervisor.on('metrics', (node, sample) => this.addSample(node, sample));
  }

  observeRequest(api: 'http' | 'resp', route: string, status: number | string, seconds: number): void {
    const key = `${api} ${route} ${status}`;
    let series = this.requestSeries.get(key);
    if (series === undefined) {
      series = { count: this.requests.labels(api, route, String(status)), latency: this.latency.labels(api, route) };
      this.requestSeries.set(key, series);
    }
    series.count.inc();
    series.latency.observe(seconds);
  }

  connectionDropped(api: 'http' | 'resp'): void {
    this.connectionsDropped.inc({ api });
  }

  connectionClosed(api: 'http' | 'resp', reason: ConnectionCloseReason): void {
    this.connectionsClosed.inc({ api, reason });
  }

  nodeAction(action: string): void {
    this.actions.inc({ action });
  }

  /** The Prometheus text exposition of every metric. */
  async render(): Promise<string> {
    return this.registry.metrics();
  }

  /** A node's sample: its counters and histograms grow by what it counted since its previous one. */
  private addSample(node: NodeId, sample: NodeMetricsSample): void {
    // A sample posted as the node was being stopped may land after its state changed: it adds, but sets no gauge.
    const state = this.states.get(node);
    if (state === 'running' || state === 'paused' || state === 'starting') this.samples.set(node, sample);
    this.limitRefusals.inc({ node, limit: 'mailboxMessagesMax' }, sample.mailboxDropped);
    this.limitRefusals.inc({ node, limit: 'pausedCallsMax' }, sample.pausedCallsRefused);
    for (const [to, sent] of Object.entries(sample.links)) {
      this.linkMessages.inc({ from: node, to }, sent.messages);
      this.linkBytes.inc({ from: node, to }, sent.bytes);
      this.linkDropped.inc({ from: node, to }, sent.dropped);
    }
    for (const [name, counts] of Object.entries(sample.durations)) this.durations[name as NodeDuration].add(node, counts);
  }

  /** The per-node gauges, set from the latest samples at each scrape. */
  private nodeGauges(ids: readonly NodeId[]): void {
    const registers = [this.registry];
    const samples = this.samples;
    const perNode = (name: string, help: string, value: (sample: NodeMetricsSample) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['node'],
        registers,
        collect() {
          this.reset();
          for (const [node, sample] of samples) this.set({ node }, value(sample));
        },
      });
    };
    new Gauge({
      name: 'raftkv_node_is_leader',
      help: 'Whether a node is the leader (1) or not (0); a node that is not running is 0',
      labelNames: ['node'],
      registers,
      collect() {
        for (const node of ids) this.set({ node }, samples.get(node)?.role === 'leader' ? 1 : 0);
      },
    });
    perNode('raftkv_node_term', "A node's current term", (sample) => sample.term);
    perNode('raftkv_node_commit_index', 'The highest log index a node knows committed', (sample) => sample.commitIndex);
    perNode('raftkv_node_applied_index', 'The highest log index a node applied to its state machine', (sample) => sample.appliedIndex);
    perNode('raftkv_node_last_log_index', "The index of the last entry in a node's log", (sample) => sample.lastIndex);
    perNode('raftkv_node_snapshot_index', "The index a node's newest snapshot covers", (sample) => sample.snapshotIndex);
    perNode('raftkv_node_mailbox_messages', "Messages waiting in a node's mailbox", (sample) => sample.mailboxDepth);
    perNode(
      'raftkv_node_wal_size_bytes',
      "The size of a node's WAL segment files (preallocated space included)",
      (sample) => sample.walBytes,
    );
    new Gauge({
      name: 'raftkv_node_inflight_appends',
      help: "AppendRequests a leader has in flight to a follower (from the leader's progress)",
      labelNames: ['node', 'follower'],
      registers,
      collect() {
        this.reset();
        for (const [node, sample] of samples) {
          for (const [follower, inflight] of Object.entries(sample.inflightAppends)) this.set({ node, follower }, inflight);
        }
      },
    });
  }
}
