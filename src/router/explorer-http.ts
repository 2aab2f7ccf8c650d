// The explorer's HTTP side (issue 14): the page at GET / and its assets, the state at GET /explorer/state, and
// the event stream at GET /explorer/events (Server-Sent Events: `id: seq`, replay from Last-Event-ID, a resync
// event when the id is older than the hub keeps). With an admin token set, every one of them requires it (a
// browser page passes it as ?token=, since EventSource cannot set headers).
import { readFile } from 'node:fs/promises';
import type * as http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExplorerEvent } from '../protocol/explorer.js';
import type { ExplorerHub } from './explorer.js';

/** The page's files: in the source tree whether this module runs from src/ (tsx) or from dist/src/ (built). */
const PAGE_DIR = fileURLToPath(
  new URL(import.meta.url.endsWith('.ts') ? '../explorer/page/' : '../../../src/explorer/page/', import.meta.url),
);

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** Asset names: a flat folder, no path tricks. */
const ASSET_NAME = /^[a-z0-9][a-z0-9.-]*\.(html|js|css|svg|png)$/;

/** A comment line sent this often keeps proxies and the browser from closing an idle stream. */
const KEEPALIVE_MS = 15_000;

export interface ExplorerFile {
  readonly status: 200;
  readonly contentType: string;
  readonly body: Buffer;
}

/** GET / and GET /explorer/assets/NAME: a file of the page, or null if there is none of that name. */
export async function explorerFile(urlPath: string): Promise<ExplorerFile | null> {
  const name = urlPath === '/' ? 'index.html' : urlPath.slice('/explorer/assets/'.length);
  if (!ASSET_NAME.test(name)) return null;
  try {
    const body = await readFile(path.join(PAGE_DIR, name));
    return { status: 200, contentType: CONTENT_TYPES[path.extname(name)] ?? 'application/octet-stream', body };
  } catch {
    return null;
  }
}

/**
 * Streams the hub's events to one client until it disconnects. Returns false (and writes nothing) when the
 * hub already has explorerSubscribersMax subscribers. A client too slow to take its events (more than
 * explorerSubscriberBufferBytes queued) is disconnected; it reconnects with its Last-Event-ID and replays.
 */
export function streamEvents(req: http.IncomingMessage, res: http.ServerResponse, url: URL, hub: ExplorerHub): boolean {
  const write = (event: ExplorerEvent): void => {
    if (res.writableLength > hub.limits.explorerSubscriberBufferBytes) {
      res.end();
      return;
    }
    res.write(`id: ${event.seq}\ndata: ${JSON.stringify(event)}\n\n`);
  };
  if (!hub.subscribe(write)) return false;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  const lastId = req.headers['last-event-id'] ?? url.searchParams.get('lastEventId');
  if (typeof lastId === 'string' && lastId !== '') {
    const missed = /^\d+$/.test(lastId) ? hub.since(Number(lastId)) : null;
    if (missed === null) {
      const reason = `events after ${lastId} are no longer kept (the last ${hub.limits.explorerEventsMax}): fetch /explorer/state again`;
      res.write(`data: ${JSON.stringify({ seq: hub.lastSeq, t: 0, kind: 'resync', reason })}\n\n`);
    } else for (const event of missed) write(event);
  } else res.write(': connected\n\n');
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
  const stop = (): void => {
    clearInterval(keepalive);
    hub.unsubscribe(write);
  };
  res.on('close', stop);
  req.on('close', stop);
  return true;
}
