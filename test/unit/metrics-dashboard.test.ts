// The Grafana dashboard (deploy/grafana-raftkv.json) and docs/METRICS.md against the registry itself: every
// metric a dashboard query names exists, and the doc lists exactly raftkv's metrics. The node-side histograms
// add up the bucket counts of the nodes' samples as Prometheus expects them.
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Supervisor } from '../../src/actor/supervisor.js';
import { NODE_DURATION_BUCKETS_SECONDS, type NodeMetricsSample } from '../../src/protocol/node.js';
import { Metrics, restartReason } from '../../src/router/metrics.js';
import type { Router } from '../../src/router/router.js';

const IDS = ['n1', 'n2', 'n3'];

/** A Metrics over a stand-in supervisor (events only) and router (no refusals). */
function metricsWithEvents(): { metrics: Metrics; supervisor: EventEmitter } {
  const supervisor = Object.assign(new EventEmitter(), { ids: IDS, stateOf: () => 'running' });
  const router = { refusalCounts: () => new Map() };
  return { metrics: new Metrics(supervisor as unknown as Supervisor, router as unknown as Router), supervisor };
}

const HISTOGRAM_SUFFIX = /_(bucket|sum|count)$/;

/** name -> type of every metric in the registry. */
function registered(metrics: Metrics): Map<string, string> {
  return new Map(metrics.registry.getMetricsAsArray().map((metric) => [metric.name, String(metric.type)]));
}

/** Whether `name` is a metric of the registry, or a sample name of one of its histograms. */
function known(types: ReadonlyMap<string, string>, name: string): boolean {
  if (types.has(name)) return true;
  return HISTOGRAM_SUFFIX.test(name) && types.get(name.replace(HISTOGRAM_SUFFIX, '')) === 'histogram';
}

/** Every PromQL expression in a dashboard: the targets' `expr` and the variables' queries, at any depth. */
function queries(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(queries);
  if (node === null || typeof node !== 'object') return [];
  return Object.entries(node).flatMap(([key, value]) =>
    (key === 'expr' || key === 'query' || key === 'definition') && typeof value === 'string' ? [value] : queries(value),
  );
}

const METRIC_NAME = /\b(?:raftkv|process|nodejs)_[a-z0-9_]+\b/g;

describe('the dashboard and the docs name the registry', () => {
  const { metrics } = metricsWithEvents();
  const types = registered(metrics);

  it('every metric a query of deploy/grafana-raftkv.json uses is in the registry', () => {
    const dashboard: unknown = JSON.parse(fs.readFileSync(new URL('../../deploy/grafana-raftkv.json', import.meta.url), 'utf8'));
    const exprs = queries(dashboard);
    expect(exprs.length).toBeGreaterThan(20);
    const used = new Set(exprs.flatMap((expr) => expr.match(METRIC_NAME) ?? []));
    expect([...used].filter((name) => !known(types, name))).toEqual([]);
    // The dashboard draws each of raftkv's histograms and gauges.
    for (const [name, type] of types) {
      if (name.startsWith('raftkv_') && (type === 'histogram' || type === 'gauge')) {
        expect(
          [...used].some((usedName) => usedName === name || usedName.replace(HISTOGRAM_SUFFIX, '') === name),
          name,
        ).toBe(true);
      }
    }
  });

  it('docs/METRICS.md lists every raftkv_ metric with its type, and no other', () => {
    const doc = fs.readFileSync(new URL('../../docs/METRICS.md', import.meta.url), 'utf8');
    const rows = new Map([...doc.matchAll(/^\| `(raftkv_[a-z0-9_]+)` \| (\w+) \|/gm)].map((row) => [row[1] as string, row[2] as string]));
    const own = new Map([...types].filter(([name]) => name.startsWith('raftkv_')));
    expect(Object.fromEntries(rows)).toEqual(Object.fromEntries(own));
    // Every name it mentions exists, but for the old names the last section lists as renamed.
    const current = doc.slice(0, doc.indexOf('## Renamed'));
    const mentioned = new Set(current.match(/\braftkv_[a-z0-9_]+\b/g) ?? []);
    expect([...mentioned].filter((name) => !known(types, name))).toEqual([]);
  });
});

describe('node samples', () => {
  it('add up into histograms per node: cumulative buckets, +Inf equal to _count, _sum in seconds', async () => {
    const { metrics, supervisor } = metricsWithEvents();
    const counts = new Array<number>(NODE_DURATION_BUCKETS_SECONDS.length + 1).fill(0);
    counts[0] = 2; // two fsyncs of at most the first bound
    counts[NODE_DURATION_BUCKETS_SECONDS.length] = 1; // one past the last bound
    const sample: NodeMetricsSample = {
      role: 'leader',
      term: 3,
      commitIndex: 10,
      appliedIndex: 9,
      lastIndex: 11,
      snapshotIndex: 0,
      mailboxDepth: 4,
      walBytes: 4096,
      inflightAppends: { n2: 1, n3: 0 },
      mailboxDropped: 5,
      pausedCallsRefused: 0,
      links: { n2: { messages: 7, bytes: 700, dropped: 1 } },
      durations: { wal_fsync: { counts, sum: 40.0001, count: 3 } },
    };
    supervisor.emit('metrics', 'n1', sample);
    supervisor.emit('metrics', 'n1', { ...sample, mailboxDropped: 1, links: {}, durations: { wal_fsync: { counts, sum: 40, count: 3 } } });
    const text = await metrics.render();
    const first = NODE_DURATION_BUCKETS_SECONDS[0] as number;
    const last = NODE_DURATION_BUCKETS_SECONDS.at(-1) as number;
    expect(text).toContain(`raftkv_wal_fsync_duration_seconds_bucket{node="n1",le="${first}"} 4`);
    expect(text).toContain(`raftkv_wal_fsync_duration_seconds_bucket{node="n1",le="${last}"} 4`);
    expect(text).toContain('raftkv_wal_fsync_duration_seconds_bucket{node="n1",le="+Inf"} 6');
    expect(text).toContain('raftkv_wal_fsync_duration_seconds_count{node="n1"} 6');
    expect(text).toContain('raftkv_wal_fsync_duration_seconds_sum{node="n1"} 80.0001');
    // A node that has not timed anything yet has its series at zero.
    expect(text).toContain('raftkv_wal_fsync_duration_seconds_count{node="n2"} 0');
    expect(text).toContain('raftkv_node_is_leader{node="n1"} 1');
    expect(text).toContain('raftkv_node_is_leader{node="n2"} 0');
    expect(text).toContain('raftkv_node_inflight_appends{node="n1",follower="n2"} 1');
    expect(text).toContain('raftkv_node_limit_refusals_total{node="n1",limit="mailboxMessagesMax"} 6');
    expect(text).toContain('raftkv_link_sent_bytes_total{from="n1",to="n2"} 700');
    // A node that stops running has no gauges left: its last sample would claim it still leads.
    supervisor.emit('node-state', 'n1', 'killed', 'killed on request');
    const after = await metrics.render();
    expect(after).toContain('raftkv_node_is_leader{node="n1"} 0');
    expect(after).not.toContain('raftkv_node_term{node="n1"}');
  });

  it('count restarts by a reason from a small set, requested ones included', async () => {
    expect(restartReason('hung: no answer to the watchdog within 5000 ms; restart in 100 ms')).toBe('hang');
    expect(restartReason('uncaught Error: boom; restart in 100 ms')).toBe('crash');
    expect(restartReason('worker exited with code 1; restart in 200 ms')).toBe('exit');
    expect(restartReason('start failed: STORAGE_WAL_CORRUPT: ...')).toBe('start_failed');
    expect(restartReason('something new')).toBe('other');
    const { metrics, supervisor } = metricsWithEvents();
    supervisor.emit('node-state', 'n2', 'restarting', 'uncaught Error: boom; restart in 100 ms');
    supervisor.emit('node-state', 'n2', 'starting', 'spawning worker');
    supervisor.emit('node-state', 'n2', 'running', 'started');
    supervisor.emit('node-state', 'n2', 'starting', 'spawning worker');
    const text = await metrics.render();
    expect(text).toContain('raftkv_node_restarts_total{node="n2",reason="crash"} 1');
    expect(text).toContain('raftkv_node_restarts_total{node="n2",reason="request"} 1');
    expect(text).toContain('raftkv_node_restarts_total{node="n3",reason="crash"} 0');
  });
});
