// The explorer page's second slice (issue 14) in headless Chromium, driven by playwright-core, against a real 3-node
// cluster of worker-thread nodes behind the real router and HTTP server, with a fast watchdog and a scenario library
// of one tiny scenario: the actor faults from the page and the supervision tree that shows them, the load panel and
// its charts, a scenario run to its verdict and report, and a simulator trace replayed from a file.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { scenarioCatalog } from '../../src/cli/explorer-scenarios.js';
import type { ExplorerTrace } from '../../src/protocol/explorer.js';
import { startService, type Service } from '../../src/router/service.js';
import { leaderOf, startCluster, type TestCluster } from '../integration/cluster-harness.js';
import { optionsOf, type RunRequest } from '../sim/replay.js';
import { runRequest } from '../sim/run-seeds.js';
import { simulatedNodeIds } from '../sim/simulator.js';
import { TraceRecorder } from '../sim/trace.js';
import { writeTinyLibrary } from '../support/scenario-library.js';
import { reportFailedPage } from './page-report.js';

const CHROMIUM = process.env.RAFTKV_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = path.resolve('test-results/explorer');
const WAIT = { timeout: 20_000, interval: 100 };

let dir: string;
let tracePath: string;
let schema2Path: string;
let trace: ExplorerTrace;
let cluster: TestCluster;
let service: Service;
let closeCatalog: () => void = () => {};
let browser: Browser;
let page: Page;
const consoleErrors: string[] = [];

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM))
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (as .ci/run does), or set RAFTKV_CHROMIUM`);
  fs.mkdirSync(SHOTS, { recursive: true });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftkv-explorer-browser-'));
  fs.mkdirSync(path.join(dir, 'scenarios'));
  writeTinyLibrary(path.join(dir, 'scenarios'));

  // Seed 17 of the simulator, recorded in-process as the explorer's trace (what `npm run sim -- --trace` writes).
  const request: RunRequest = { seed: 17, family: 'mixed', overrides: {} };
  const options = optionsOf(request);
  const recorder = new TraceRecorder(simulatedNodeIds(options), {
    tickMs: 10,
    electionTicks: options.electionTicks,
    heartbeatTicks: options.heartbeatTicks,
  });
  runRequest(request, recorder);
  trace = recorder.trace();
  tracePath = path.join(dir, 'seed-17.json');
  fs.writeFileSync(tracePath, JSON.stringify(trace));
  schema2Path = path.join(dir, 'schema-2.json');
  fs.writeFileSync(schema2Path, JSON.stringify({ ...trace, schema: 2 }));

  // A fast watchdog, and a restart intensity of 2 crashes in 30 s (the third marks a node failed).
  cluster = await startCluster({
    nodes: 3,
    stateMachine: 'kv',
    watchdogIntervalMs: 200,
    watchdogTimeoutMs: 1_500,
    restart: { maxRestarts: 2 },
  });
  service = await startService(cluster.supervisor, {
    host: '127.0.0.1',
    httpPort: 0,
    respPort: 0,
    adminToken: null,
    scenarios: (hub, running) => {
      const catalog = scenarioCatalog({
        dir: path.join(dir, 'scenarios'),
        supervisor: cluster.supervisor,
        service: running,
        hub,
        memory: false,
      });
      closeCatalog = () => catalog.close();
      return catalog;
    },
  });
  await leaderOf(cluster.supervisor);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(`console: ${message.text()} (${message.location().url})`);
  });
  page.on('pageerror', (error) => consoleErrors.push(`pageerror: ${error.message}`));
  await page.goto(`http://127.0.0.1:${service.http.port}/`);
});

afterAll(async () => {
  await browser?.close();
  closeCatalog();
  await service?.close();
  await cluster?.stop();
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
});

beforeEach(({ onTestFailed, task }) => {
  onTestFailed(() =>
    reportFailedPage(
      page,
      task.name,
      [
        'stream-status',
        'summary',
        'action-result',
        'supervision-tree',
        'load-result',
        'scenario-result',
        'scenario-log',
        'trace-error',
        'event-log',
      ],
      async () => ({ nodes: await nodes() }),
      shot,
    ),
  );
});

interface NodeView {
  readonly id: string;
  readonly role: string;
  readonly term: number | null;
  readonly state: string;
}

function nodes(): Promise<NodeView[]> {
  return page.locator('#nodes-layer [data-node]').evaluateAll((elements) =>
    elements.map((element) => {
      const data = (element as unknown as { dataset: Record<string, string | undefined> }).dataset;
      return { id: data.node ?? '', role: data.role ?? '', term: data.term ? Number(data.term) : null, state: data.state ?? '' };
    }),
  );
}

/** One actor's row of the supervision tree. */
async function actor(
  id: string,
): Promise<{ state: string | null; restarts: string | null; history: string | null; reason: string | null }> {
  const row = page.getByTestId(`supervision-${id}`);
  return {
    state: await row.getAttribute('data-state'),
    restarts: await row.getAttribute('data-restarts'),
    history: await row.getAttribute('data-history'),
    reason: await page.getByTestId(`supervision-${id}-reason`).textContent(),
  };
}

async function select(id: string): Promise<void> {
  await page.getByTestId('selection-clear').click();
  await page.getByTestId(`node-${id}`).click();
  await expect.poll(() => page.getByTestId('selection').getAttribute('data-selected'), WAIT).toBe(id);
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** The result line of a panel once its request is answered; fails with the page's message if the API refused. */
async function resultOk(testId: string): Promise<string> {
  const result = page.getByTestId(testId);
  await expect.poll(async () => ((await result.textContent()) ?? '').endsWith('…'), WAIT).toBe(false);
  const text = (await result.textContent()) ?? '';
  expect(await result.getAttribute('data-ok'), text).toBe('true');
  return text;
}

/** Reads what window.__explorer exposes, in the page: `read` must use nothing but its argument (it is sent as source). */
function explorer<T>(read: (explorer: ExplorerHandle) => T): Promise<T> {
  return page.evaluate(`(${read.toString()})(window.__explorer)`) as Promise<T>;
}
interface ExplorerHandle {
  readonly series: {
    readonly throughput: { t: number; ok: number; failed: number; fault: boolean }[];
    readonly latency: { p50Ms: number; fault: boolean }[];
  };
  trace(): ExplorerTrace | null;
  readonly replay: { t: number; endT: number; index: number; events: number } | null;
}

/** Sets a range input as a user dragging it would (playwright cannot fill a range). */
async function setRange(testId: string, value: number): Promise<void> {
  await page.getByTestId(testId).evaluate((input, v) => {
    const range = input as unknown as { value: string; dispatchEvent(event: unknown): boolean };
    const EventClass = (globalThis as unknown as { Event: new (type: string, init: { bubbles: boolean }) => unknown }).Event;
    range.value = String(v);
    range.dispatchEvent(new EventClass('input', { bubbles: true }));
  }, value);
}

/** Whether `id` holds the leader's whole log (the same last index and term). */
async function caughtUp(id: string): Promise<boolean> {
  const status = await cluster.supervisor.status();
  const leader = status.find((n) => n.raft?.role === 'leader')?.raft;
  const node = status.find((n) => n.id === id)?.raft;
  if (!leader || !node) return false;
  return node.lastIndex === leader.lastIndex && node.lastTerm === leader.lastTerm;
}

/** The id of a follower (as the page shows it) that is running. */
async function aFollower(except: string[] = []): Promise<string> {
  await expect
    .poll(async () => (await nodes()).some((n) => n.role === 'follower' && n.state === 'running' && !except.includes(n.id)), WAIT)
    .toBe(true);
  return (await nodes()).find((n) => n.role === 'follower' && n.state === 'running' && !except.includes(n.id))?.id as string;
}

describe('the explorer page: actor faults, supervision, load, scenarios, replay', () => {
  let hung = '';
  let crashed = '';

  it('draws the supervision tree: the supervisor and one running actor per node', async () => {
    await expect.poll(() => page.getByTestId('stream-status').textContent(), WAIT).toBe('live');
    await expect.poll(() => page.locator('[data-testid=supervision-tree] > li').count(), WAIT).toBe(3);
    for (const id of ['n1', 'n2', 'n3']) {
      await expect.poll(async () => (await actor(id)).state, WAIT).toBe('running');
      expect((await actor(id)).restarts).toBe('0');
    }
    await expect.poll(async () => (await nodes()).filter((n) => n.role === 'leader').length, WAIT).toBe(1);
  });

  it('hangs a node from the page: the watchdog finds it, the tree shows it restarting, then running with 1 restart', async () => {
    hung = await aFollower();
    await select(hung);
    await page.getByTestId('action-hang').click();
    await resultOk('action-result');
    await expect.poll(async () => (await actor(hung)).history ?? '', WAIT).toMatch(/restarting,(starting,)?running$/);
    const row = await actor(hung);
    expect(row.state).toBe('running');
    expect(row.restarts).toBe('1');
    expect(row.history).toMatch(/^running,.*restarting/);
    expect(await page.getByTestId(`supervision-${hung}`).getAttribute('title')).toContain('restarting');
    // Back to running, the row still says why it was restarted.
    expect(await page.getByTestId(`supervision-${hung}-last-fault`).textContent()).toMatch(
      /^last restarting at .*hung: no answer to the watchdog/,
    );
    // The reason of the restart names the watchdog's finding (the row keeps the reason of the last change).
    const log = page.getByTestId('event-log').locator('li[data-kind="supervision"]', { hasText: `${hung} restarting` });
    await expect.poll(() => log.count(), WAIT).toBeGreaterThan(0);
    expect(await log.first().textContent()).toContain('hung');
    await shot('supervision');
  });

  it('crashes a node from the page (restarted by policy); slow and flood answer ok', async () => {
    crashed = await aFollower([hung]);
    await select(crashed);
    await page.getByTestId('action-crash').click();
    await resultOk('action-result');
    await expect.poll(async () => (await actor(crashed)).history ?? '', WAIT).toMatch(/restarting,(starting,)?running$/);
    expect((await actor(crashed)).restarts).toBe('1');

    await page.getByTestId('slow-ms').fill('200');
    await page.getByTestId('action-slow').click();
    expect(await resultOk('action-result')).toContain('by 200 ms');
    await page.getByTestId('slow-ms').fill('0');
    await page.getByTestId('action-slow').click();
    expect(await resultOk('action-result')).toContain('off');
    expect(await page.getByTestId('flood-count').inputValue()).toBe('20000');
    await page.getByTestId('action-flood').click();
    expect(await resultOk('action-result')).toContain('20000');
    // A bad count is refused on the page, before any request.
    await page.getByTestId('flood-count').fill('-3');
    await page.getByTestId('action-flood').click();
    await expect.poll(() => page.getByTestId('action-result').getAttribute('data-ok'), WAIT).toBe('false');
    await page.getByTestId('flood-count').fill('20000');
    await expect.poll(async () => (await actor(crashed)).state, WAIT).toBe('running');
  });

  it('marks a node that crashes past the restart intensity failed, loudly, with the reason; restart brings it back', async () => {
    await select(crashed);
    // Its second crash in the period is restarted (the limit is 2); the third is one too many.
    await page.getByTestId('action-crash').click();
    await resultOk('action-result');
    await expect
      .poll(async () => (await actor(crashed)).history ?? '', WAIT)
      .toMatch(/restarting,(starting,)?running,restarting,(starting,)?running$/);
    expect((await actor(crashed)).restarts).toBe('2');
    await page.getByTestId('action-crash').click();
    await resultOk('action-result');
    await expect.poll(async () => (await actor(crashed)).state, WAIT).toBe('failed');
    expect(await page.getByTestId(`supervision-${crashed}-state`).textContent()).toBe('FAILED');
    expect(await page.getByTestId(`supervision-${crashed}-reason`).textContent()).toMatch(
      /^gave up: .*3 crashes within 30000 ms \(limit 2\)/,
    );
    expect(await page.getByTestId('supervision-summary').getAttribute('data-failed')).toBe('1');
    await shot('supervision-failed');
    await page.getByTestId('action-restart').click();
    await resultOk('action-result');
    await expect.poll(async () => (await actor(crashed)).state, WAIT).toBe('running');
    expect((await actor(crashed)).restarts).toBe('0');
  });

  it('runs load from the panel: the throughput series gets points with ok > 0, drawn on the canvases; stops', async () => {
    await setRange('load-rate', 300);
    expect(await page.getByTestId('load-rate-value').textContent()).toBe('300');
    await page.getByTestId('load-start').click();
    await resultOk('load-result');
    await expect.poll(() => page.getByTestId('load-status').getAttribute('data-rate'), WAIT).toBe('300');
    await expect.poll(() => explorer((e) => e.series.throughput.filter((p) => p.ok > 0).length), WAIT).toBeGreaterThanOrEqual(2);
    const latency = await explorer((e) => e.series.latency);
    expect(latency.length).toBeGreaterThan(0);
    expect(latency.some((p) => p.p50Ms > 0)).toBe(true);
    expect(Number(await page.getByTestId('load-throughput').getAttribute('data-points'))).toBeGreaterThan(0);
    expect(Number(await page.getByTestId('load-latency').getAttribute('data-points'))).toBeGreaterThan(0);
    expect(await explorer((e) => e.series.throughput.some((p) => p.fault))).toBe(false);

    // A follower paused under load: the seconds it is paused are shaded, and the seconds after it resumes are not.
    const paused = await aFollower();
    await select(paused);
    await page.getByTestId('action-pause').click();
    await resultOk('action-result');
    await expect.poll(() => explorer((e) => e.series.throughput.filter((p) => p.fault).length), WAIT).toBeGreaterThanOrEqual(2);
    await page.getByTestId('action-resume').click();
    await resultOk('action-result');
    await expect
      .poll(
        () => explorer((e) => e.series.throughput.findLastIndex((p) => !p.fault) > e.series.throughput.findLastIndex((p) => p.fault)),
        WAIT,
      )
      .toBe(true);
    await expect.poll(() => explorer((e) => e.series.throughput.at(-1)?.ok ?? 0), WAIT).toBeGreaterThan(0);
    await shot('load');
    await page.getByTestId('load-stop').click();
    await resultOk('load-result');
    await expect.poll(() => page.getByTestId('load-status').textContent(), WAIT).toBe('off');
  });

  it('runs a tiny scenario from its panel to a PASS verdict whose report loads; an unfit one cannot be run', async () => {
    await expect.poll(() => page.getByTestId('scenario-short').count(), WAIT).toBe(1);
    expect(await page.getByTestId('scenario-run-five').isDisabled()).toBe(true);
    expect(await page.getByTestId('scenario-five').textContent()).toContain('written for 5 nodes');
    await page.getByTestId('scenario-run-short').click();
    await resultOk('scenario-result');
    const verdict = page.getByTestId('scenario-verdict');
    await expect.poll(() => verdict.isVisible(), { timeout: 60_000, interval: 200 }).toBe(true);
    expect(await verdict.getAttribute('data-ok'), (await verdict.textContent()) ?? '').toBe('true');
    expect(await verdict.textContent()).toContain('PASS');
    expect(await page.locator('[data-testid=scenario-log] li').count()).toBeGreaterThan(1);
    await shot('scenario');
    const href = await page.getByTestId('scenario-report').getAttribute('href');
    expect(href).toMatch(/^\/explorer\/reports\/short-\d+\.html$/);
    const report = await browser.newPage();
    try {
      const response = await report.goto(`http://127.0.0.1:${service.http.port}${href}`);
      expect(response?.status()).toBe(200);
      expect(await report.content()).toContain('short');
    } finally {
      await report.close();
    }
    // Done: the run buttons are enabled again for the one that fits.
    await expect.poll(() => page.getByTestId('scenario-run-short').isDisabled(), WAIT).toBe(false);
  });

  it('exports the live session as a trace, which replays: the load series, the restarts and the verdict come back', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('trace-export').click()]);
    const file = await download.path();
    const exported = JSON.parse(fs.readFileSync(file, 'utf8')) as ExplorerTrace;
    expect(exported.schema).toBe(1);
    expect(exported.source).toBe('live');
    expect(exported.start.nodes).toEqual(['n1', 'n2', 'n3']);
    // The state fetched at connect, then every event since, in order.
    expect(exported.events.length).toBeGreaterThan(100);
    expect((exported.events[0] as { seq: number }).seq).toBeGreaterThan(exported.start.seq);
    expect(exported.events.every((e, i) => i === 0 || e.seq > (exported.events[i - 1] as { seq: number }).seq)).toBe(true);
    const kinds = new Set(exported.events.map((e) => e.kind));
    for (const kind of ['node-frame', 'supervision', 'action', 'load', 'scenario'] as const) expect(kinds).toContain(kind);

    const saved = path.join(dir, 'live.json');
    fs.copyFileSync(file, saved);
    await page.getByTestId('trace-import').setInputFiles(saved);
    await expect.poll(() => page.getByTestId('stream-status').textContent(), WAIT).toBe('replay');
    const endT = exported.events.at(-1)?.t as number;
    expect(await page.getByTestId('replay-slider').getAttribute('max')).toBe(String(endT));
    await setRange('replay-slider', endT);
    await expect.poll(() => explorer((e) => e.replay?.index), WAIT).toBe(exported.events.length);
    expect(await explorer((e) => e.series.throughput.filter((p) => p.ok > 0).length)).toBeGreaterThanOrEqual(2);
    expect(await explorer((e) => e.series.throughput.some((p) => p.fault))).toBe(true);
    // Not the restart count at the end: if the hung node led when the scenario killed the leader, the
    // scenario's restart (a deliberate one) cleared its count, as the supervisor does. Its history keeps it.
    expect((await actor(hung)).history).toMatch(/restarting/);
    const hungRow = page.getByTestId('event-log').locator('li[data-kind="supervision"]', { hasText: 'hung: no answer to the watchdog' });
    expect(await hungRow.count()).toBeGreaterThan(0);
    expect(await page.getByTestId('scenario-verdict').getAttribute('data-ok')).toBe('true');
    await shot('replay-live-export');
  });

  it('replays a simulator trace from a file: the slider plays to the end, the trace nodes with a leader; refuses schema 2', async () => {
    const endT = trace.events.at(-1)?.t as number;
    await page.getByTestId('trace-import').setInputFiles(tracePath);
    await expect.poll(() => page.getByTestId('stream-status').textContent(), WAIT).toBe('replay');
    // The page may still be replaying the previous test's trace: wait for this one's end time.
    await expect.poll(() => page.getByTestId('replay-slider').getAttribute('max'), WAIT).toBe(String(endT));
    await expect.poll(() => nodes().then((all) => all.map((n) => n.id).join()), WAIT).toBe(trace.start.nodes.join());
    await page.getByTestId('replay-speed').selectOption('20');
    await page.getByTestId('replay-play').click();
    await expect.poll(() => page.getByTestId('replay-slider').getAttribute('data-t'), WAIT).toBe(String(endT));
    expect(await explorer((e) => e.replay)).toEqual({ t: endT, endT, index: trace.events.length, events: trace.events.length });
    const last = await nodes();
    expect(last.filter((n) => n.role === 'leader').map((n) => n.id)).toEqual(['n1']);
    expect(await page.getByTestId('summary').textContent()).toContain('leader n1');
    // Actions on the live cluster are off while replaying.
    expect(await page.getByTestId('action-heal-all').isDisabled()).toBe(true);
    await shot('replay');

    // Back to the start: the view is rebuilt from the trace's start state and its first events (the nodes start at
    // 0 ms, running, with no frame yet: no role, no leader).
    await setRange('replay-slider', 0);
    await expect.poll(() => explorer((e) => e.replay?.t), WAIT).toBe(0);
    const first = trace.events.filter((e) => e.t === 0).length;
    expect(await explorer((e) => e.replay?.index)).toBe(first);
    expect((await nodes()).every((n) => n.state === 'running' && n.role !== 'leader')).toBe(true);
    expect(await page.getByTestId('summary').textContent()).toContain('no leader');

    await page.getByTestId('trace-import').setInputFiles(schema2Path);
    const error = page.getByTestId('trace-error');
    await expect.poll(() => error.getAttribute('data-ok'), WAIT).toBe('false');
    expect(await error.textContent()).toContain('trace schema 2, this page reads schema 1');
    expect(await error.isVisible()).toBe(true);
    await shot('replay-refused');

    await page.getByTestId('replay-live').click();
    await expect.poll(() => page.getByTestId('stream-status').textContent(), WAIT).toBe('live');
    await expect.poll(async () => (await nodes()).filter((n) => n.role === 'leader' && n.state === 'running').length, WAIT).toBe(1);
    expect(await page.getByTestId('action-heal-all').isDisabled()).toBe(false);
  });

  it('keeps at most 20,000 events for export, folding the oldest into the start state', async () => {
    // A second page, fed synthetic link events past the stream's seq (it is closed afterwards: its model is spoiled).
    const other = await browser.newPage();
    const errors: string[] = [];
    other.on('pageerror', (error) => errors.push(error.message));
    other.on('console', (message) => void (message.type() === 'error' && errors.push(message.text())));
    try {
      await other.goto(`http://127.0.0.1:${service.http.port}/`);
      await expect.poll(() => other.evaluate('window.__explorer.trace() !== null'), WAIT).toBe(true);
      const result = (await other.evaluate(`(() => {
        const explorer = window.__explorer;
        const base = explorer.model.seq + 1000000;
        for (let i = 1; i <= 20500; i++) {
          const faults = i % 2 === 0 ? [] : [{ from: 'n1', to: 'n2', faults: { cut: true, drop: 0, duplicate: 0, delayMs: [0, 0] } }];
          explorer.receive({ seq: base + i, t: explorer.model.state.t, kind: 'links', faults });
        }
        const trace = explorer.trace();
        return { base, count: trace.events.length, first: trace.events[0].seq, last: trace.events.at(-1).seq, start: trace.start.seq, links: trace.start.links.length };
      })()`)) as { base: number; count: number; first: number; last: number; start: number; links: number };
      expect(result.count).toBeLessThanOrEqual(20_000);
      expect(result.last).toBe(result.base + 20_500);
      // The start stands as of the event before the first one kept, with that event's links (an odd one: a cut).
      expect(result.first).toBe(result.start + 1);
      expect(result.start).toBeGreaterThan(result.base);
      expect(result.links).toBe((result.start - result.base) % 2 === 1 ? 1 : 0);
      expect(errors).toEqual([]);
    } finally {
      await other.close();
    }
  });

  it('forces an election at a follower: it leads, in a higher term', async () => {
    await expect.poll(() => page.getByTestId('stream-status').textContent(), WAIT).toBe('live');
    const candidate = await aFollower([]);
    // It can win only with a log as up to date as a majority's: a follower just restarted may still be catching up.
    await expect.poll(() => caughtUp(candidate), WAIT).toBe(true);
    const term = cluster.supervisor.leaderTerm;
    await select(candidate);
    await page.getByTestId('action-campaign').click();
    await resultOk('action-result');
    await expect.poll(() => cluster.supervisor.leaderId === candidate && cluster.supervisor.leaderTerm > term, WAIT).toBe(true);
    await expect.poll(() => page.getByTestId(`node-${candidate}`).getAttribute('data-role'), WAIT).toBe('leader');
  });

  it('logged no console error and no page error', () => {
    expect(consoleErrors).toEqual([]);
  });
});
