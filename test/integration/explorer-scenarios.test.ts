// The explorer's scenario runner (issue 14): a scenario of the library run against the cluster the explorer
// watches, one at a time, its progress and verdict as `scenario` events, its HTML report served.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runConsoleLine } from '../../src/cli/console.js';
import { scenarioCatalog } from '../../src/cli/explorer-scenarios.js';
import type { ExplorerEvent } from '../../src/protocol/explorer.js';
import type { ScenarioListing } from '../../src/router/explorer.js';
import { startService, type Service } from '../../src/router/service.js';
import { writeTinyLibrary } from '../support/scenario-library.js';
import { leaderOf, startCluster, waitFor, type TestCluster } from './cluster-harness.js';

let cluster: TestCluster;
let service: Service;
let dir: string;
const events: ExplorerEvent[] = [];
let closeCatalog: () => void = () => {};

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftkv-scenarios-'));
  writeTinyLibrary(dir, { broken: true, lease: true });
  cluster = await startCluster({ nodes: 3, stateMachine: 'kv' });
  service = await startService(cluster.supervisor, {
    host: '127.0.0.1',
    httpPort: 0,
    respPort: 0,
    adminToken: null,
    scenarios: (hub, running) => {
      hub.subscribe((event) => void events.push(event));
      const catalog = scenarioCatalog({ dir, supervisor: cluster.supervisor, service: running, hub, memory: false });
      closeCatalog = () => catalog.close();
      return catalog;
    },
  });
  await leaderOf(cluster.supervisor);
}, 60_000);

afterAll(async () => {
  closeCatalog();
  await service?.close();
  await cluster?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const url = (p: string): string => `http://127.0.0.1:${service.http.port}${p}`;
const codeOf = async (response: Response): Promise<string> => ((await response.json()) as { error: { code: string } }).error.code;

describe('the explorer runs scenarios', () => {
  it('lists the library, saying which scenarios cannot run on this cluster and why', async () => {
    const body = (await (await fetch(url('/explorer/scenarios'))).json()) as { scenarios: ScenarioListing[]; running: string | null };
    expect(body.running).toBeNull();
    expect(body.scenarios.map((s) => s.name)).toEqual(['broken', 'five', 'lease', 'short']);
    expect(body.scenarios.find((s) => s.name === 'short')?.unfit).toBeNull();
    expect(body.scenarios.find((s) => s.name === 'five')?.unfit).toBe('written for 5 nodes; this cluster has 3');
    expect(body.scenarios.find((s) => s.name === 'broken')?.unfit).toMatch(/^does not parse: /);
    expect(body.scenarios.find((s) => s.name === 'lease')?.unfit).toBe("written for lease reads; this cluster's are safe");
  });

  it('lists them in the terminal console too', async () => {
    const text = await runConsoleLine('scenarios', { baseUrl: url(''), adminToken: null });
    const lines = text.split('\n');
    expect(lines[0]).toBe('4 scenarios');
    expect(lines.find((line) => line.trim().startsWith('five'))).toMatch(/\(cannot run here: written for 5 nodes; this cluster has 3\)$/);
    expect(lines.find((line) => line.trim().startsWith('short'))).toMatch(/A leader killed once/);
  });

  it('runs one at a time, streams its progress, and serves its report', async () => {
    const started = await fetch(url('/explorer/scenarios/short/run'), { method: 'POST' });
    expect(started.status).toBe(202);
    const { seed } = (await started.json()) as { seed: number };
    expect(Number.isInteger(seed)).toBe(true);
    const again = await fetch(url('/explorer/scenarios/short/run'), { method: 'POST' });
    expect(again.status).toBe(409);
    expect(await codeOf(again)).toBe('SCENARIO_RUNNING');
    const verdict = await waitFor('the verdict', () => events.find((e) => e.kind === 'scenario' && e.phase === 'verdict'), 90_000);
    expect(verdict.kind === 'scenario' && verdict.ok).toBe(true);
    expect(events.some((e) => e.kind === 'scenario' && e.phase === 'started' && e.detail.includes(`seed ${seed}`))).toBe(true);
    expect(events.some((e) => e.kind === 'scenario' && e.phase === 'log')).toBe(true);
    const report = verdict.kind === 'scenario' ? (verdict.report ?? '') : '';
    expect(report).toMatch(/^\/explorer\/reports\/short-\d+\.html$/);
    const html = await fetch(url(report));
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await html.text()).toContain('short');
  }, 120_000);

  it('refuses an unknown or unfit scenario, a wrong method and a report that does not exist, with registered codes', async () => {
    expect(await codeOf(await fetch(url('/explorer/scenarios/nothing/run'), { method: 'POST' }))).toBe('NOT_FOUND');
    expect(await codeOf(await fetch(url('/explorer/scenarios/five/run'), { method: 'POST' }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(await fetch(url('/explorer/scenarios/short/run')))).toBe('METHOD_NOT_ALLOWED');
    expect(await codeOf(await fetch(url('/explorer/reports/short-1.html')))).toBe('NOT_FOUND');
    expect(await codeOf(await fetch(url('/explorer/reports/..%2F..%2Fetc%2Fpasswd')))).toBe('NOT_FOUND');
  });
});
