import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Supervisor } from '../actor/supervisor.js';
import type { Router } from './router.js';

/** Prometheus metrics (prom-client): requests, latencies, commits, elections, leader changes, restarts, per-node indexes. */
export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'api' | 'route' | 'status'>;
  private readonly latency: Histogram<'api' | 'route'>;
  private readonly leaderChanges: Counter;
  private readonly nodeStates: Counter<'state'>;
  private readonly actions: Counter<'action'>;
  private readonly indexes: Gauge<'node' | 'kind'>;
  private readonly terms: Gauge<'node'>;
  private readonly limitRefusals: Gauge<'node' | 'limit'>;
  private readonly connectionsDropped: Counter<'api'>;
  /**
   * The labelled children of the request metrics, by api, route and status: prom-client hashes the label object
   * on every call otherwise, once per request on the hot path. Routes and statuses are small fixed sets.
   */
  private readonly requestSeries = new Map<string, { count: { inc(): void }; latency: { observe(seconds: number): void } }>();

  constructor(
    private readonly supervisor: Supervisor,
    router: Router,
  ) {
    const registers = [this.registry];
    // Caps that are reached are counted where an operator looks, not only answered (docs/LIMITS.md).
    new Counter({
      name: 'raftkv_router_refusals_total',
      help: 'Errors the router answered, by registered code (OVERLOADED, QUEUE_FULL, TIMEOUT, SESSION_LIMIT, ...)',
      labelNames: ['code'],
      registers,
      collect() {
        this.reset();
        for (const [code, count] of router.refusalCounts()) this.inc({ code }, count);
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: 'raftkv_process_' });
    this.requests = new Counter({
      name: 'raftkv_requests_total',
      help: 'Client requests by API, route and status',
      labelNames: ['api', 'route', 'status'],
      registers,
    });
    this.latency = new Histogram({
      name: 'raftkv_request_seconds',
      help: 'Client request latency',
      labelNames: ['api', 'route'],
      registers,
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    });
    this.leaderChanges = new Counter({ name: 'raftkv_leader_changes_total', help: 'Leader changes seen by the supervisor', registers });
    this.nodeStates = new Counter({
      name: 'raftkv_node_state_changes_total',
      help: 'Node state changes (restarts, failures, kills)',
      labelNames: ['state'],
      registers,
    });
    this.actions = new Counter({ name: 'raftkv_fault_actions_total', help: 'Fault-injection actions', labelNames: ['action'], registers });
    this.indexes = new Gauge({ name: 'raftkv_node_index', help: 'Per-node Raft indexes', labelNames: ['node', 'kind'], registers });
    this.terms = new Gauge({ name: 'raftkv_node_term', help: 'Per-node current term', labelNames: ['node'], registers });
    this.connectionsDropped = new Counter({
      name: 'raftkv_connections_dropped_total',
      help: 'Client connections closed at once because connectionsMax were open',
      labelNames: ['api'],
      registers,
    });
    this.limitRefusals = new Gauge({
      name: 'raftkv_node_limit_refusals',
      help: 'Per node since its start: messages dropped at a full mailbox (mailboxMessagesMax), calls refused while paused (pausedCallsMax)',
      labelNames: ['node', 'limit'],
      registers,
    });
    supervisor.on('leader', () => this.leaderChanges.inc());
    supervisor.on('node-state', (_id, state) => this.nodeStates.inc({ state }));
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

  nodeAction(action: string): void {
    this.actions.inc({ action });
  }

  /** Per-node figures are read at scrape time. */
  async render(): Promise<string> {
    for (const node of await this.supervisor.status()) {
      const raft = node.raft;
      if (raft === null) continue;
      this.indexes.set({ node: node.id, kind: 'commit' }, raft.commitIndex);
      this.indexes.set({ node: node.id, kind: 'applied' }, raft.appliedIndex);
      this.indexes.set({ node: node.id, kind: 'last_log' }, raft.lastIndex);
      this.indexes.set({ node: node.id, kind: 'snapshot' }, raft.snapshotIndex);
      this.terms.set({ node: node.id }, raft.term);
      this.limitRefusals.set({ node: node.id, limit: 'mailboxMessagesMax' }, raft.mailboxDropped);
      this.limitRefusals.set({ node: node.id, limit: 'pausedCallsMax' }, raft.pausedCallsRefused);
    }
    return this.registry.metrics();
  }
}
