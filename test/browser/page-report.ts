// When a browser step fails, say what the page showed then and keep a screenshot of it: a timeout alone would
// not tell a slow election from a page that stopped drawing.
import type { Page } from 'playwright-core';

/** Text kept of each element, at most. */
const TEXT_MAX = 1500;

/**
 * Prints the text of each `data-testid` element (their names as keys) with `extra` (the nodes and links as the
 * test reads them), then saves a screenshot named after the task through `shot`.
 */
export async function reportFailedPage(
  page: Page | undefined,
  task: string,
  testIds: readonly string[],
  extra: () => Promise<Record<string, unknown>>,
  shot: (name: string) => Promise<void>,
): Promise<void> {
  if (page === undefined || page.isClosed()) return;
  const view = await page
    .evaluate(
      ({ ids, max }) => {
        const doc = (globalThis as unknown as { document: { querySelector(s: string): { textContent: string | null } | null } }).document;
        return Object.fromEntries(ids.map((id) => [id, doc.querySelector(`[data-testid=${id}]`)?.textContent?.slice(0, max) ?? null]));
      },
      { ids: [...testIds], max: TEXT_MAX },
    )
    .catch((error: unknown) => ({ error: String(error) }));
  const more = await extra().catch((error: unknown) => ({ extraError: String(error) }));
  console.error(`the page when "${task}" failed:`, JSON.stringify({ ...more, ...view }));
  await shot(`failed-${task.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}`).catch(() => undefined);
}
