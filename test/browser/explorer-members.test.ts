// The explorer's membership actions (issue 16) in headless Chromium, driven by playwright-core, against a real
// 3-node cluster of worker-thread nodes behind the real router and HTTP server, with an admin token the page
// carries: add a learner from the page (it appears on the ring, drawn as a learner), promote it, remove it (it
// leaves the ring, the tree and the member list), add it again under the same id; a refused change shows its
// error code where every failed action does; no console errors.
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Service } from '../../src/router/service.js';
import { leaderOf, type TestCluster } from '../integration/cluster-harness.js';
import { SHOTS, launchChromium, startExplorerCluster, type ExplorerCluster } from './explorer-harness.js';
import { reportFailedPage } from './page-report.js';

const WAIT = { timeout: 20_000, interval: 100 };
const TOKEN = 'explorer-members-token';

interface NodeView {
  readonly id: string;
  readonly role: string;
  readonly state: string;
  readonly member: string;
}

let explorer: ExplorerCluster;
let cluster: TestCluster;
let service: Service;
let browser: Browser;
let page: Page;
/** Console errors and page errors, each noted with whether the test was making the API refuse on purpose. */
const consoleErrors: { text: string; duringRefusal: boolean }[] = [];
let refusing = false;

beforeAll(async () => {
  explorer = await startExplorerCluster(3, TOKEN);
  ({ cluster, service } = explorer);
  await leaderOf(cluster.supervisor);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('console', (message) => {
    if (message.type() === 'error')
      consoleErrors.push({ text: `console: ${message.text()} (${message.location().url})`, duringRefusal: refusing });
  });
  page.on('pageerror', (error) => consoleErrors.push({ text: `pageerror: ${error.message}`, duringRefusal: refusing }));
  await page.goto(`http://127.0.0.1:${service.http.port}/?token=${TOKEN}`);
});

afterAll(async () => {
  await browser?.close();
  await explorer?.stop();
});

beforeEach(({ onTestFailed, task }) => {
  onTestFailed(() =>
    reportFailedPage(
      page,
      task.name,
      ['stream-status', 'summary', 'action-result', 'member-list', 'supervision-tree', 'event-log'],
      async () => ({ nodes: await nodes(), consoleErrors }),
      shot,
    ),
  );
});

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `members-${name}.png`), fullPage: true });
}

/** Every node as the ring draws it (data attributes: no DOM types here). */
function nodes(): Promise<NodeView[]> {
  return page.locator('#nodes-layer [data-node]').evaluateAll((elements) =>
    elements.map((element) => {
      const data = (element as unknown as { dataset: Record<string, string | undefined> }).dataset;
      return { id: data.node ?? '', role: data.role ?? '', state: data.state ?? '', member: data.member ?? '' };
    }),
  );
}

const ids = async (): Promise<string> =>
  (await nodes())
    .map((n) => n.id)
    .sort()
    .join(',');

/** One leader, every other running node a follower (a learner too: it never campaigns). */
async function settled(): Promise<boolean> {
  const all = await nodes();
  return all.filter((n) => n.role === 'leader').length === 1 && all.every((n) => n.state === 'running');
}

/** The action result once it is final: [ok, text]. */
async function actionResult(): Promise<[boolean, string]> {
  const result = page.getByTestId('action-result');
  await expect.poll(async () => ((await result.textContent()) ?? '').endsWith('…'), WAIT).toBe(false);
  return [(await result.getAttribute('data-ok')) === 'true', (await result.textContent()) ?? ''];
}

async function actionOk(): Promise<void> {
  const [ok, text] = await actionResult();
  expect(ok, text).toBe(true);
}

/** Promotes `id` from its member row, retrying while the leader says it has not caught up yet. */
async function promote(id: string): Promise<void> {
  await expect
    .poll(async () => {
      await page.getByTestId(`member-promote-${id}`).click();
      const [ok, text] = await actionResult();
      if (!ok && !text.includes('LEARNER_NOT_CAUGHT_UP')) throw new Error(text);
      return ok;
    }, WAIT)
    .toBe(true);
}

describe('membership from the explorer', () => {
  it('lists three voters and offers to add n4 as a learner', async () => {
    await expect.poll(() => page.getByTestId('stream-status').textContent(), WAIT).toBe('live');
    await expect.poll(ids, WAIT).toBe('n1,n2,n3');
    await expect.poll(settled, WAIT).toBe(true);
    for (const id of ['n1', 'n2', 'n3']) await expect.poll(() => page.getByTestId(`member-${id}-role`).textContent(), WAIT).toBe('voter');
    await expect.poll(() => page.getByTestId('action-add-learner').textContent(), WAIT).toBe('add learner n4');
    expect(await page.getByTestId('action-add-learner').isDisabled()).toBe(false);
    expect(await page.getByTestId('members-summary').textContent()).toBe('3 voters · 0 learners');
    expect(await page.getByTestId('member-promote-n1').count()).toBe(0);
  });

  it('adds a learner by a click: n4 appears on the ring and in the tree, drawn as a learner, and follows', async () => {
    await page.getByTestId('action-add-learner').click();
    await actionOk();
    expect(await page.getByTestId('action-result').textContent()).toMatch(/^add learner n4: ok at index \d+$/);
    await expect.poll(ids, WAIT).toBe('n1,n2,n3,n4');
    await expect.poll(async () => (await nodes()).find((n) => n.id === 'n4')?.member, WAIT).toBe('learner');
    expect(await page.getByTestId('node-n4-member').textContent()).toBe('learner');
    await expect.poll(() => page.getByTestId('member-n4-role').textContent(), WAIT).toBe('learner');
    await expect.poll(() => page.getByTestId('supervision-n4-state').textContent(), WAIT).toBe('running');
    await expect.poll(async () => (await nodes()).find((n) => n.id === 'n4')?.role, WAIT).toBe('follower');
    expect(await page.getByTestId('members-summary').textContent()).toBe('3 voters · 1 learner');
    await expect.poll(() => page.getByTestId('action-add-learner').textContent(), WAIT).toBe('add learner n5');
    await shot('learner');
  });

  it('shows a refused promotion with its error code, as a failed action', async () => {
    // The leader refuses a promotion of a learner far behind; the page's learner is caught up at once, so the
    // refusal is the server's answer replayed for this one request.
    const promotePath = '**/v1/members/n4/promote';
    refusing = true;
    await page.route(promotePath, (route) =>
      route.fulfill({
        status: 409,
        contentType: 'application/json',
        body: JSON.stringify({
          error: { code: 'LEARNER_NOT_CAUGHT_UP', message: 'n4 is 5000 entries behind the leader', definite: true },
        }),
      }),
    );
    try {
      await page.getByTestId('member-promote-n4').click();
      const [ok, text] = await actionResult();
      expect(ok).toBe(false);
      expect(text).toBe('promote n4 failed: LEARNER_NOT_CAUGHT_UP: n4 is 5000 entries behind the leader');
    } finally {
      await page.unroute(promotePath);
      refusing = false;
    }
    expect(await page.getByTestId('member-n4-role').textContent()).toBe('learner');
  });

  it('promotes the learner by a click: n4 is a voter', async () => {
    await promote('n4');
    await expect.poll(() => page.getByTestId('member-n4-role').textContent(), WAIT).toBe('voter');
    await expect.poll(async () => (await nodes()).find((n) => n.id === 'n4')?.member, WAIT).toBe('voter');
    expect(await page.getByTestId('node-n4-member').textContent()).toBe('');
    expect(await page.getByTestId('member-promote-n4').count()).toBe(0);
    expect(await page.getByTestId('members-summary').textContent()).toBe('4 voters · 0 learners');
  });

  it('removes n4 by a click: it leaves the ring, the tree, the strips and the member list; three voters lead on', async () => {
    await page.getByTestId('member-remove-n4').click();
    await actionOk();
    await expect.poll(ids, WAIT).toBe('n1,n2,n3');
    await expect.poll(() => page.getByTestId('member-n4').count(), WAIT).toBe(0);
    expect(await page.getByTestId('supervision-n4').count()).toBe(0);
    expect(await page.getByTestId('strip-n4').count()).toBe(0);
    expect(await page.locator('#links-layer [data-to="n4"], #links-layer [data-from="n4"]').count()).toBe(0);
    await expect.poll(settled, WAIT).toBe(true);
    await expect.poll(() => page.getByTestId('action-add-learner').textContent(), WAIT).toBe('add learner n4');
    // Events of the removed member that arrive late do not bring it back.
    await page.waitForTimeout(500);
    expect(await ids()).toBe('n1,n2,n3');
    await shot('removed');
  });

  it('adds n4 again (an empty folder, the old one kept aside) and removes it again', async () => {
    await page.getByTestId('action-add-learner').click();
    await actionOk();
    await expect.poll(ids, WAIT).toBe('n1,n2,n3,n4');
    await expect.poll(() => page.getByTestId('member-n4-role').textContent(), WAIT).toBe('learner');
    await expect.poll(() => page.getByTestId('supervision-n4-state').textContent(), WAIT).toBe('running');
    await page.getByTestId('member-remove-n4').click();
    await actionOk();
    await expect.poll(ids, WAIT).toBe('n1,n2,n3');
    await expect.poll(settled, WAIT).toBe(true);
  });

  it('wrote nothing to the console but the refusal it was made to show', () => {
    // A refused request is logged by Chromium itself ("Failed to load resource: ... 409"); nothing else may be.
    const unexpected = consoleErrors.filter((error) => !(error.duringRefusal && /Failed to load resource/.test(error.text)));
    expect(unexpected).toEqual([]);
  });
});
