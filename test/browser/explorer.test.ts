// The explorer page (issue 14) in headless Chromium, driven by playwright-core, against a real 5-node cluster of
// worker-thread nodes behind the real router and HTTP server: the page must show the cluster as it is, and its
// clicks must break and heal it. The page is loaded through a small TCP proxy on loopback so that the test can
// really drop the page's event stream (and hold it down) while the server keeps running.
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Service } from '../../src/router/service.js';
import { leaderOf, type TestCluster } from '../integration/cluster-harness.js';
import { SHOTS, launchChromium, startExplorerCluster, type ExplorerCluster } from './explorer-harness.js';
import { reportFailedPage } from './page-report.js';

const WAIT = { timeout: 20_000, interval: 100 };

/** A TCP proxy on loopback: `drop()` cuts every connection through it; while held, new connections wait unanswered. */
class DroppingProxy {
  private readonly server: net.Server;
  private readonly open = new Set<net.Socket>();
  private held: net.Socket[] | null = null;
  port = 0;

  constructor(private readonly targetPort: number) {
    this.server = net.createServer((client) => {
      if (this.held !== null) {
        client.pause();
        this.held.push(client);
        this.open.add(client);
        client.on('close', () => this.open.delete(client));
        return;
      }
      this.pipe(client);
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  private pipe(client: net.Socket): void {
    const upstream = net.connect(this.targetPort, '127.0.0.1');
    this.open.add(client);
    this.open.add(upstream);
    client.on('close', () => {
      this.open.delete(client);
      upstream.destroy();
    });
    upstream.on('close', () => {
      this.open.delete(upstream);
      client.destroy();
    });
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
  }

  /** Cuts every open connection and holds new ones until release(). */
  holdAndDrop(): void {
    this.held = [];
    for (const socket of [...this.open]) socket.destroy();
  }

  release(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const client of held) if (!client.destroyed) this.pipe(client);
  }

  async close(): Promise<void> {
    this.held = null;
    for (const socket of [...this.open]) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

interface NodeView {
  readonly id: string;
  readonly role: string;
  readonly term: number | null;
  readonly state: string;
  readonly commit: number | null;
}

let explorer: ExplorerCluster;
let cluster: TestCluster;
let service: Service;
let proxy: DroppingProxy;
let browser: Browser;
let page: Page;
interface ConsoleError {
  readonly text: string;
  /** The test was dropping the page's event stream. */
  readonly duringDrop: boolean;
  /** The test was making the API refuse an action. */
  readonly duringRefusal: boolean;
}
/** Console errors and page errors, each noted with what the test was doing to the page at the time. */
const consoleErrors: ConsoleError[] = [];
let dropping = false;
/** Set while the test makes the API refuse an action on purpose. */
let refusing = false;

beforeAll(async () => {
  explorer = await startExplorerCluster(5, null);
  ({ cluster, service } = explorer);
  proxy = new DroppingProxy(service.http.port);
  await proxy.listen();
  await leaderOf(cluster.supervisor);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('console', (message) => {
    if (message.type() === 'error')
      consoleErrors.push({ text: `console: ${message.text()} (${message.location().url})`, duringDrop: dropping, duringRefusal: refusing });
  });
  page.on('pageerror', (error) =>
    consoleErrors.push({ text: `pageerror: ${error.message}`, duringDrop: dropping, duringRefusal: refusing }),
  );
  await page.goto(`http://127.0.0.1:${proxy.port}/`);
});

afterAll(async () => {
  await browser?.close();
  await proxy?.close();
  await explorer?.stop();
});

beforeEach(({ onTestFailed, task }) => {
  onTestFailed(() =>
    reportFailedPage(
      page,
      task.name,
      ['stream-status', 'summary', 'event-log'],
      async () => ({
        nodes: await nodes(),
        links: await page
          .locator('#links-layer [data-from]')
          .evaluateAll((elements) => elements.map((e) => (e as unknown as { dataset: Record<string, string | undefined> }).dataset)),
      }),
      shot,
    ),
  );
});

/** Every node as the page draws it, read from the data attributes of the ring (no DOM types here: tsconfig has no DOM lib). */
function nodes(): Promise<NodeView[]> {
  return page.locator('#nodes-layer [data-node]').evaluateAll((elements) =>
    elements.map((element) => {
      const data = (element as unknown as { dataset: Record<string, string | undefined> }).dataset;
      return {
        id: data.node ?? '',
        role: data.role ?? '',
        term: data.term ? Number(data.term) : null,
        state: data.state ?? '',
        commit: data.commit ? Number(data.commit) : null,
      };
    }),
  );
}

/** The single leader and its term when exactly one node is leader and every other running node follows in that term. */
async function settled(): Promise<{ leader: string; term: number } | null> {
  const all = await nodes();
  const leaders = all.filter((n) => n.role === 'leader');
  if (leaders.length !== 1) return null;
  const leader = leaders[0] as NodeView;
  const up = all.filter((n) => n.state === 'running');
  return up.every((n) => n === leader || (n.role === 'follower' && n.term === leader.term))
    ? { leader: leader.id, term: leader.term ?? 0 }
    : null;
}

async function node(id: string): Promise<NodeView | undefined> {
  return (await nodes()).find((n) => n.id === id);
}

async function select(...ids: string[]): Promise<void> {
  await page.getByTestId('selection-clear').click();
  for (const id of ids) await page.getByTestId(`node-${id}`).click();
  await expect.poll(() => page.getByTestId('selection').getAttribute('data-selected'), WAIT).toBe(ids.join(','));
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** An action result the page shows; fails with the page's message if the API refused. */
async function actionOk(): Promise<void> {
  const result = page.getByTestId('action-result');
  await expect.poll(async () => ((await result.textContent()) ?? '').endsWith('…'), WAIT).toBe(false);
  expect(await result.getAttribute('data-ok'), (await result.textContent()) ?? '').toBe('true');
}

describe('the explorer page on a 5-node cluster', () => {
  let leader = '';
  let term = 0;

  it('shows one leader and four followers of its term, live', async () => {
    await expect.poll(() => page.getByTestId('stream-status').textContent(), WAIT).toBe('live');
    await expect.poll(() => nodes().then((all) => all.length), WAIT).toBe(5);
    await expect.poll(settled, WAIT).not.toBeNull();
    const now = (await settled()) as { leader: string; term: number };
    leader = now.leader;
    term = now.term;
    // Each of the leader's links shows its round-trip time (the leader's heartbeat rounds).
    const other = ['n1', 'n2', 'n3', 'n4', 'n5'].find((id) => id !== leader) as string;
    const [a, b] = [leader, other].sort() as [string, string];
    await expect
      .poll(async () => Number((await page.getByTestId(`link-${a}-${b}`).getAttribute('data-rtt')) || 'NaN'), WAIT)
      .toBeGreaterThan(0);
    await shot('initial');
  });

  it('kills the leader by a click: a new leader of a higher term; restarts it by a click: a follower again', async () => {
    await select(leader);
    await page.getByTestId('action-kill').click();
    await actionOk();
    await expect.poll(async () => (await node(leader))?.state, WAIT).toBe('killed');
    await expect.poll(() => page.getByTestId(`node-${leader}-supervision`).textContent(), WAIT).toContain('killed');
    await shot('after-kill');
    await expect
      .poll(async () => {
        const now = await settled();
        return now !== null && now.leader !== leader && now.term > term;
      }, WAIT)
      .toBe(true);
    const next = (await settled()) as { leader: string; term: number };
    await shot('new-leader');

    await select(leader);
    await page.getByTestId('action-restart').click();
    await actionOk();
    await expect.poll(async () => (await node(leader))?.state, WAIT).toBe('running');
    await expect.poll(async () => (await node(leader))?.role, WAIT).toBe('follower');
    await expect.poll(settled, WAIT).not.toBeNull();
    leader = ((await settled()) as { leader: string }).leader;
    expect(((await settled()) as { term: number }).term).toBeGreaterThanOrEqual(next.term);
  });

  it('hangs a follower by a click: the watchdog finds it, and the supervision tree shows it running again after 1 restart', async () => {
    await expect.poll(settled, WAIT).not.toBeNull();
    const now = (await settled()) as { leader: string; term: number };
    const hung = ['n1', 'n2', 'n3', 'n4', 'n5'].find((id) => id !== now.leader) as string;
    await select(hung);
    await page.getByTestId('action-hang').click();
    await actionOk();
    const restarts = page.getByTestId(`supervision-${hung}-restarts`);
    await expect.poll(() => restarts.textContent(), WAIT).toBe('restarts 1');
    await expect.poll(() => page.getByTestId(`supervision-${hung}-state`).textContent(), WAIT).toBe('running');
    expect(await page.getByTestId(`supervision-${hung}-last-fault`).textContent()).toMatch(/hung: no answer to the watchdog/);
  });

  it('cuts a link by a click (drawn cut) and heals all (drawn whole)', async () => {
    const ids = (await nodes()).map((n) => n.id);
    const [a, b] = ids.filter((id) => id !== leader) as [string, string];
    const link = page.getByTestId(`link-${a}-${b}`);
    expect(await link.getAttribute('data-cut')).toBe('false');
    await select(a, b);
    await page.getByTestId('action-link-cut').click();
    await actionOk();
    await expect.poll(() => link.getAttribute('data-cut'), WAIT).toBe('true');
    await shot('link-cut');
    await page.getByTestId('action-heal-all').click();
    await actionOk();
    await expect.poll(() => link.getAttribute('data-cut'), WAIT).toBe('false');
  });

  it('partitions from the box (every link between the groups drawn cut), heals all, and shows the API error of a refused partition', async () => {
    await page.getByTestId('partition-input').fill('n1,n2|n3,n4,n5');
    await page.getByTestId('action-partition').click();
    await actionOk();
    const cut = page.locator('#links-layer [data-cut="true"]');
    await expect.poll(() => cut.count(), WAIT).toBe(6);
    expect(await page.getByTestId('link-n1-n2').getAttribute('data-cut')).toBe('false');
    expect(await page.getByTestId('link-n3-n5').getAttribute('data-cut')).toBe('false');
    await page.getByTestId('action-heal-all').click();
    await actionOk();
    await expect.poll(() => cut.count(), WAIT).toBe(0);

    // n9 is no node: the server refuses with UNKNOWN_NODE (404), and the page says so. Chromium logs the 404 as a
    // failed load: expected here, and only here.
    refusing = true;
    await page.getByTestId('partition-input').fill('n1,n9|n3,n4,n5');
    await page.getByTestId('action-partition').click();
    const result = page.getByTestId('action-result');
    await expect.poll(() => result.getAttribute('data-ok'), WAIT).toBe('false');
    expect(await result.textContent()).toContain('UNKNOWN_NODE');
    refusing = false;
    await page.getByTestId('partition-input').fill('');
  });

  it('partitions by dragging nodes into groups, from the ring and between the zones of the board', async () => {
    const input = page.getByTestId('partition-input');
    const zone = (group: string) => page.getByTestId(`partition-zone-${group}`);
    const chips = async (group: string) => (await zone(group).locator('.chip').allTextContents()).join(',');
    await expect.poll(() => chips('none'), WAIT).toBe('n1,n2,n3,n4,n5');
    await page.getByTestId('selection-clear').click();
    await page.getByTestId('node-n1').dragTo(zone('A'));
    await page.getByTestId('node-n2').dragTo(zone('A'));
    await page.getByTestId('node-n3').dragTo(zone('B'));
    await page.getByTestId('partition-chip-n4').dragTo(zone('B'));
    await page.getByTestId('partition-chip-n5').dragTo(zone('C'));
    expect(await input.inputValue()).toBe('n1,n2|n3,n4|n5');
    // From one group to another, and the ring's nodes wear their group; a drag selects nothing.
    await page.getByTestId('partition-chip-n5').dragTo(zone('B'));
    expect(await input.inputValue()).toBe('n1,n2|n3,n4,n5');
    expect([await chips('none'), await chips('A'), await chips('B'), await chips('C')]).toEqual(['', 'n1,n2', 'n3,n4,n5', '']);
    expect(await page.getByTestId('node-n3').getAttribute('data-group')).toBe('B');
    expect(await page.getByTestId('selection').getAttribute('data-selected')).toBe('');
    await page.getByTestId('action-partition').click();
    await actionOk();
    const cut = page.locator('#links-layer [data-cut="true"]');
    await expect.poll(() => cut.count(), WAIT).toBe(6);
    await shot('partition-drag');
    expect(await page.getByTestId('link-n3-n4').getAttribute('data-cut')).toBe('false');
    await page.getByTestId('action-heal-all').click();
    await actionOk();
    await expect.poll(() => cut.count(), WAIT).toBe(0);
    // Typing into the box moves the chips too; an empty box puts every node back in none.
    await input.fill('n2|n1');
    expect([await chips('none'), await chips('A'), await chips('B')]).toEqual(['n3,n4,n5', 'n2', 'n1']);
    await input.fill('');
    expect(await chips('none')).toBe('n1,n2,n3,n4,n5');
  });

  it('puts from the client panel: an index, and every node commits up to it', async () => {
    await page.getByTestId('kv-key').fill('explorer-key');
    await page.getByTestId('kv-value').fill('hello from the page');
    await page.getByTestId('kv-put').click();
    const result = page.getByTestId('kv-result');
    await expect.poll(() => result.getAttribute('data-index'), WAIT).toMatch(/^\d+$/);
    expect(await result.getAttribute('data-ok')).toBe('true');
    const index = Number(await result.getAttribute('data-index'));
    expect(index).toBeGreaterThan(0);
    await expect
      .poll(async () => {
        const all = await nodes();
        return all.length === 5 && all.every((n) => n.commit !== null && n.commit >= index);
      }, WAIT)
      .toBe(true);
    await page.getByTestId('kv-get').click();
    await expect.poll(() => result.textContent(), WAIT).toContain('hello from the page');
  });

  it('recovers after its event stream drops, and shows what happened while it was down', async () => {
    const follower = (await nodes()).find((n) => n.role === 'follower')?.id as string;
    await expect.poll(() => page.getByTestId('stream-status').textContent(), WAIT).toBe('live');
    dropping = true;
    proxy.holdAndDrop();
    await expect.poll(() => page.getByTestId('stream-status').textContent(), WAIT).toBe('reconnecting');
    // While the page cannot hear: pause a follower through the API, straight to the server (not through the proxy).
    const status = await post(service.http.port, `/v1/nodes/${follower}/pause`);
    expect(status).toBe(200);
    expect((await node(follower))?.state).toBe('running');
    proxy.release();
    await expect.poll(() => page.getByTestId('stream-status').textContent(), WAIT).toBe('live');
    dropping = false;
    await expect.poll(async () => (await node(follower))?.state, WAIT).toBe('paused');
    await expect
      .poll(
        () =>
          page
            .getByTestId('event-log')
            .locator('li[data-kind="supervision"]', { hasText: `${follower} paused` })
            .count(),
        WAIT,
      )
      .toBeGreaterThan(0);
    await select(follower);
    await page.getByTestId('action-resume').click();
    await actionOk();
    await expect.poll(async () => (await node(follower))?.state, WAIT).toBe('running');
    // The session the page would export has no hole where the stream was down: the events the stream replayed on
    // reconnecting are kept even though the state fetched meanwhile already covered them.
    const recorded = (await page.evaluate(
      '(() => { const t = window.__explorer.trace(); return { start: t.start.seq, seqs: t.events.map((e) => e.seq) }; })()',
    )) as { start: number; seqs: number[] };
    expect(recorded.seqs.length).toBeGreaterThan(0);
    expect(recorded.seqs.every((seq, i) => seq === recorded.start + 1 + i)).toBe(true);
  });

  it('shows an alarm event loudly, in the red banner at the top', async () => {
    // A healthy cluster raises no alarm, so this one is handed to the page's event handler as the stream would
    // deliver it: it checks the page's drawing of an alarm, not the hub's detection. It carries the seq the page has
    // already applied, so no real event of the stream is taken for it and skipped.
    const banner = page.getByTestId('alarm-banner');
    expect(await banner.isVisible()).toBe(false);
    await page.evaluate(() => {
      const explorer = (globalThis as unknown as { __explorer: { model: { seq: number }; receive(event: unknown): void } }).__explorer;
      const seq = explorer.model.seq;
      explorer.receive({
        seq,
        t: 0,
        kind: 'alarm',
        alarm: 'two-leaders',
        detail: 'term 99 has two leaders: n1 and n2 (injected by the test)',
      });
    });
    await expect.poll(() => banner.isVisible(), WAIT).toBe(true);
    expect(await banner.textContent()).toContain('two-leaders');
    await shot('alarm');
    await page.getByTestId('alarm-dismiss').click();
    await expect.poll(() => banner.isVisible(), WAIT).toBe(false);
  });

  it('logged no console error and no page error', () => {
    // Chromium logs two things the test causes on purpose, and only those are expected, and only while it causes
    // them: the stream it cuts, as a failed load of /explorer/events (a net:: error such as
    // ERR_INCOMPLETE_CHUNKED_ENCODING), and the partition it makes the API refuse, as a 404 of /v1/faults/partition.
    const dropped = /^console: Failed to load resource: net::ERR_[A-Z_]+ \(http:\/\/127\.0\.0\.1:\d+\/explorer\/events\)$/;
    const refused =
      /^console: Failed to load resource: the server responded with a status of 404 \(Not Found\) \(http:\/\/127\.0\.0\.1:\d+\/v1\/faults\/partition\)$/;
    const expected = (e: ConsoleError): boolean => (e.duringDrop && dropped.test(e.text)) || (e.duringRefusal && refused.test(e.text));
    expect(consoleErrors.filter((e) => !expected(e)).map((e) => e.text)).toEqual([]);
  });
});

function post(port: number, target: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: target, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}
