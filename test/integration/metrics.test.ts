// GET /metrics of a real 3-node cluster, checked against the Prometheus naming conventions
// (prometheus.io/docs/practices/naming) with a rule list of our own, and, where promtool is installed, by
// `promtool check metrics` as well: the promtool part runs only where promtool is on PATH (CI installs it,
// the Debian package prometheus in .ci/run); elsewhere it is skipped and the rule list still runs.
import { spawnSync } from 'node:child_process';
import * as http from 'node:http';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type Service } from '../../src/router/service.js';
import { leaderOf, startCluster, waitFor, type TestCluster } from './cluster-harness.js';

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

interface Family {
  readonly name: string;
  help: string | null;
  type: string | null;
  readonly samples: Sample[];
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL_PAIR = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'] as const;

/** The Prometheus text format (version 0.0.4), by family: HELP, TYPE and the samples under it. */
function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string): Family => {
    let found = families.get(name);
    if (found === undefined) families.set(name, (found = { name, help: null, type: null, samples: [] }));
    return found;
  };
  for (const line of text.split('\n')) {
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta !== null) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (kind === 'HELP') family(name).help = rest;
      else family(name).type = rest;
      continue;
    }
    if (line.trim() === '' || line.startsWith('#')) continue;
    const match = SAMPLE_LINE.exec(line);
    if (match === null) throw new Error(`not a sample line: ${line}`);
    const [, name, labelText = '', value] = match as unknown as [string, string, string | undefined, string];
    const labels: Record<string, string> = {};
    for (const [, key, text] of labelText.matchAll(LABEL_PAIR)) labels[key as string] = text as string;
    // A histogram's samples belong to the family declared under the name without its suffix.
    const suffix = HISTOGRAM_SUFFIXES.find((end) => name.endsWith(end));
    const base = suffix === undefined ? name : name.slice(0, -suffix.length);
    const owner = suffix !== undefined && families.get(base)?.type === 'histogram' ? base : name;
    family(owner).samples.push({ name, labels, value: Number(value) });
  }
  return families;
}

const SNAKE_CASE = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;
/** Name parts that are not base units (prometheus.io/docs/practices/naming/#base-units): seconds and bytes are. */
const NOT_BASE_UNITS = new Set([
  'ms',
  'msec',
  'millis',
  'milliseconds',
  'us',
  'microseconds',
  'ns',
  'nanoseconds',
  'sec',
  'secs',
  'minutes',
  'hours',
  'days',
  'kb',
  'mb',
  'gb',
  'kib',
  'mib',
  'gib',
  'kilobytes',
  'megabytes',
  'gigabytes',
  'percent',
]);

/**
 * The naming conventions as rules, one problem (`name: what`) per rule a family breaks: HELP and TYPE present;
 * snake_case names and labels; `raftkv_` for everything but the standard process_/nodejs_ metrics
 * (`standard`, prom-client's defaults); counters and only counters end in `_total` (the standard metrics keep
 * their names); base units; a histogram's `_bucket` samples with `le` up to "+Inf", cumulative, with `_sum` and
 * `_count` for each label set.
 */
function checkExposition(families: ReadonlyMap<string, Family>, standard: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  for (const family of families.values()) {
    const { name, type } = family;
    const problem = (what: string): number => problems.push(`${name}: ${what}`);
    if (family.help === null || family.help.trim() === '') problem('no HELP');
    if (type === null) problem('no TYPE');
    else if (!['counter', 'gauge', 'histogram', 'summary'].includes(type))
      problem(`TYPE ${type} is none of counter, gauge, histogram, summary`);
    if (!SNAKE_CASE.test(name)) problem('not snake_case');
    if (/^raftkv_(process|nodejs)_/.test(name)) problem('a standard metric renamed: its prefix is doubled');
    else if (!name.startsWith('raftkv_') && !standard.has(name)) problem('neither raftkv_ nor a standard process_/nodejs_ metric');
    if (type === 'counter' && !name.endsWith('_total')) problem('a counter not ending in _total');
    if (type !== 'counter' && name.endsWith('_total') && !standard.has(name)) problem('ends in _total but is not a counter');
    const unit = name.split('_').find((part) => NOT_BASE_UNITS.has(part));
    if (unit !== undefined) problem(`${unit} is not a base unit (seconds, bytes)`);
    if (type !== 'histogram' && type !== 'summary' && HISTOGRAM_SUFFIXES.some((end) => name.endsWith(end)))
      problem('a histogram suffix on a non-histogram');
    for (const s of family.samples) {
      for (const label of Object.keys(s.labels)) if (!SNAKE_CASE.test(label)) problem(`label ${label} not snake_case`);
    }
    if (type === 'histogram') checkHistogram(family, problem);
    else if (type === 'counter' || type === 'gauge') {
      for (const s of family.samples) if (s.name !== name) problem(`sample ${s.name} under it`);
    }
  }
  return problems;
}

function checkHistogram(family: Family, problem: (what: string) => void): void {
  const series = new Map<string, { buckets: [number, number][]; sum: boolean; count: number | null }>();
  for (const s of family.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    let one = series.get(key);
    if (one === undefined) series.set(key, (one = { buckets: [], sum: false, count: null }));
    if (s.name === `${family.name}_bucket`) {
      if (le === undefined) problem('a _bucket sample without le');
      else one.buckets.push([le === '+Inf' ? Infinity : Number(le), s.value]);
    } else if (s.name === `${family.name}_sum`) one.sum = true;
    else if (s.name === `${family.name}_count`) one.count = s.value;
    else problem(`sample ${s.name} under it`);
  }
  for (const [labels, one] of series) {
    const sorted = one.buckets.sort((a, b) => a[0] - b[0]);
    if (sorted.at(-1)?.[0] !== Infinity) problem(`${labels}: no le="+Inf" bucket`);
    if (!one.sum) problem(`${labels}: no _sum`);
    if (one.count === null) problem(`${labels}: no _count`);
    else if (sorted.at(-1)?.[0] === Infinity && sorted.at(-1)?.[1] !== one.count) problem(`${labels}: +Inf bucket differs from _count`);
    sorted.forEach(([, value], i) => {
      if (i > 0 && value < (sorted[i - 1] as [number, number])[1]) problem(`${labels}: buckets not cumulative`);
    });
  }
}

let cluster: TestCluster;
let service: Service;

function get(path: string): Promise<{ status: number; contentType: string; text: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: service.http.port, path, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type']),
            text: Buffer.concat(chunks).toString(),
          }),
        );
      })
      .on('error', reject);
  });
}

function put(key: string, value: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: service.http.port,
        method: 'PUT',
        path: `/v1/kv/${key}`,
        agent: false,
        headers: { 'content-length': value.length },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(value);
  });
}

async function scrape(): Promise<Map<string, Family>> {
  const reply = await get('/metrics');
  expect(reply.status).toBe(200);
  return parseExposition(reply.text);
}

/** The value of one sample (by its full name and labels), or undefined. */
function sample(families: Map<string, Family>, family: string, name: string, labels: Record<string, string>): number | undefined {
  return families
    .get(family)
    ?.samples.find((s) => s.name === name && Object.entries(labels).every(([key, value]) => s.labels[key] === value))?.value;
}

beforeAll(async () => {
  cluster = await startCluster({ nodes: 3, stateMachine: 'kv', limits: { snapshotEveryEntries: 20 } });
  service = await startService(cluster.supervisor, { host: '127.0.0.1', httpPort: 0, respPort: 0, adminToken: null });
  // A leader change the service sees: the first election may end before the service exists (then it counts none).
  const first = await leaderOf(cluster.supervisor);
  const next = cluster.supervisor.ids.find((id) => id !== first) as string;
  let askedAt = 0;
  await waitFor(`${next} leads after a transfer`, async () => {
    if (cluster.supervisor.leaderId === next) return true;
    if (Date.now() - askedAt > 1_000) {
      askedAt = Date.now();
      await cluster.supervisor.transferLeadership(next).catch(() => undefined);
    }
    return null;
  });
  const leader = await leaderOf(cluster.supervisor);
  // A follower misses enough entries that the leader has compacted them: on its restart it installs a snapshot.
  const follower = cluster.supervisor.ids.find((id) => id !== leader) as string;
  await cluster.supervisor.kill(follower);
  for (let i = 0; i < 60; i++) expect(await put(`key-${i}`, `value-${i}`)).toBe(200);
  await cluster.supervisor.restart(follower);
  await get('/v1/kv/key-1');
  // Every duration has been timed and reported in a sample (about one a second per node).
  await waitFor('every node-side duration observed', async () => {
    const families = await scrape();
    const count = (name: string): number =>
      (families.get(name)?.samples ?? []).filter((s) => s.name === `${name}_count`).reduce((sum, s) => sum + s.value, 0);
    return ['proposal_commit', 'commit_apply', 'wal_fsync', 'snapshot_save', 'snapshot_install'].every(
      (duration) => count(`raftkv_${duration}_duration_seconds`) > 0,
    );
  });
}, 60_000);

afterAll(async () => {
  await service?.close();
  await cluster?.stop();
});

describe('GET /metrics', () => {
  it('follows the Prometheus naming conventions: every rule holds for every metric', async () => {
    const reply = await get('/metrics');
    expect(reply.contentType).toMatch(/^text\/plain/);
    const families = parseExposition(reply.text);
    // The standard process and Node.js metrics are prom-client's defaults, under their own names.
    const standard = new Registry();
    collectDefaultMetrics({ register: standard });
    const standardNames = new Set(standard.getMetricsAsArray().map((metric) => metric.name));
    expect(checkExposition(families, standardNames)).toEqual([]);
    for (const name of standardNames) expect(families.has(name), name).toBe(true);
    expect(families.get('process_cpu_seconds_total')?.type).toBe('counter');
    expect(families.get('nodejs_heap_size_used_bytes')?.type).toBe('gauge');
    expect(reply.text).not.toMatch(/raftkv_process_|_ms\b|_milliseconds\b/);
  });

  it('passes promtool check metrics (only where promtool is installed; CI installs it)', async (context) => {
    const version = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
    if (version.error !== undefined) return context.skip();
    const { text } = await get('/metrics');
    const checked = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    // prom-client's standard nodejs_active_{handles,requests,resources}_total are gauges: promtool's lint says a
    // gauge should not end in _total, and the dashboards that expect them by these names say otherwise.
    const problems = `${checked.stdout}\n${checked.stderr}`
      .split('\n')
      .map((line) => line.trim())
      .filter(
        (line) =>
          line !== '' &&
          !/^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/.test(line),
      );
    expect(problems).toEqual([]);
    expect([0, 3]).toContain(checked.status);
  });

  it('carries the numbers it names: per-node gauges, counters, and histograms the nodes timed', async () => {
    const families = await scrape();
    const leader = cluster.supervisor.leaderId as string;
    const ids = cluster.supervisor.ids;
    for (const node of ids) {
      expect(sample(families, 'raftkv_node_is_leader', 'raftkv_node_is_leader', { node })).toBe(node === leader ? 1 : 0);
      expect(sample(families, 'raftkv_node_term', 'raftkv_node_term', { node })).toBeGreaterThan(0);
      expect(sample(families, 'raftkv_node_commit_index', 'raftkv_node_commit_index', { node })).toBeGreaterThanOrEqual(60);
      expect(sample(families, 'raftkv_node_wal_size_bytes', 'raftkv_node_wal_size_bytes', { node })).toBeGreaterThan(0);
      expect(sample(families, 'raftkv_elections_total', 'raftkv_elections_total', { node })).toBeGreaterThanOrEqual(0);
    }
    expect(sample(families, 'raftkv_node_applied_index', 'raftkv_node_applied_index', { node: leader })).toBeGreaterThanOrEqual(60);
    for (const follower of ids.filter((id) => id !== leader)) {
      expect(
        sample(families, 'raftkv_node_inflight_appends', 'raftkv_node_inflight_appends', { node: leader, follower }),
      ).toBeGreaterThanOrEqual(0);
      expect(
        sample(families, 'raftkv_link_sent_messages_total', 'raftkv_link_sent_messages_total', { from: leader, to: follower }),
      ).toBeGreaterThan(0);
      expect(
        sample(families, 'raftkv_link_sent_bytes_total', 'raftkv_link_sent_bytes_total', { from: leader, to: follower }),
      ).toBeGreaterThan(0);
    }
    expect(sample(families, 'raftkv_leader_changes_total', 'raftkv_leader_changes_total', {})).toBeGreaterThanOrEqual(1);
    const restarted = families.get('raftkv_node_restarts_total')?.samples.filter((s) => s.labels.reason === 'request' && s.value > 0);
    expect(restarted).toHaveLength(1);
    const put = { api: 'http', route: 'kv' };
    expect(sample(families, 'raftkv_request_duration_seconds', 'raftkv_request_duration_seconds_count', put)).toBeGreaterThanOrEqual(60);
    expect(sample(families, 'raftkv_requests_total', 'raftkv_requests_total', { ...put, status: '200' })).toBeGreaterThanOrEqual(60);
    // Proposal to commit was timed at the leader, once per proposal; a follower proposes nothing.
    expect(
      sample(families, 'raftkv_proposal_commit_duration_seconds', 'raftkv_proposal_commit_duration_seconds_count', { node: leader }),
    ).toBeGreaterThan(0);
  });

  it('fails the rules on the names this replaced (the rule list can fail)', () => {
    const old = [
      '# HELP raftkv_process_process_cpu_seconds_total Total user and system CPU time spent in seconds.',
      '# TYPE raftkv_process_process_cpu_seconds_total counter',
      'raftkv_process_process_cpu_seconds_total 1',
      '# HELP raftkv_latency_ms Latency',
      '# TYPE raftkv_latency_ms histogram',
      'raftkv_latency_ms_bucket{le="1"} 1',
      'raftkv_latency_ms_sum 1',
      '# TYPE raftkv_requests counter',
      'raftkv_requests 2',
      '# HELP process_made_up_total A process_ name prom-client does not have',
      '# TYPE process_made_up_total counter',
      'process_made_up_total 1',
      '# HELP raftkv_totalCount camelCase',
      '# TYPE raftkv_totalCount gauge',
      'raftkv_totalCount 1',
    ].join('\n');
    const problems = checkExposition(parseExposition(old), new Set(['process_cpu_seconds_total']));
    const about = (name: string): string[] => problems.filter((problem) => problem.startsWith(`${name}:`));
    expect(about('raftkv_process_process_cpu_seconds_total')).toContainEqual(expect.stringContaining('doubled'));
    expect(about('raftkv_latency_ms')).toEqual(
      expect.arrayContaining([expect.stringContaining('base unit'), expect.stringContaining('+Inf'), expect.stringContaining('_count')]),
    );
    expect(about('raftkv_requests')).toEqual(expect.arrayContaining([expect.stringContaining('_total'), expect.stringContaining('HELP')]));
    expect(about('process_made_up_total')).toContainEqual(expect.stringContaining('raftkv_'));
    expect(about('raftkv_totalCount')).toContainEqual(expect.stringContaining('snake_case'));
  });
});
