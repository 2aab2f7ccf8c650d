// The explorer's load generator checks its own keys: a read that misses a write acknowledged before it began
// raises the acknowledged-write-missing alarm; a store that keeps its writes raises none.
import { describe, expect, it } from 'vitest';
import type { ExplorerHub } from '../../src/router/explorer.js';
import { ExplorerLoad } from '../../src/router/explorer-load.js';
import type { Router } from '../../src/router/router.js';

/** A router stand-in whose reads answer each key's index as `readIndex` makes it from the last write's. */
function standIn(readIndex: (written: number) => number): Router {
  const written = new Map<string, number>();
  let index = 0;
  const decoder = new TextDecoder();
  return {
    write: (command: { key: Uint8Array }) => {
      written.set(decoder.decode(command.key), ++index);
      return Promise.resolve({ ok: true, result: { ok: true, index } });
    },
    read: (query: { keys: Uint8Array[] }) => {
      const key = decoder.decode(query.keys[0]);
      const last = written.get(key);
      const item = last === undefined ? null : { key: query.keys[0], value: new Uint8Array(), index: readIndex(last) };
      return Promise.resolve({ ok: true, result: { op: 'get', items: [item] }, index });
    },
  } as unknown as Router;
}

async function alarmsAfterLoad(router: Router): Promise<string[]> {
  const alarms: string[] = [];
  const hub = {
    load: { rate: 0, readShare: 0.5 },
    alarm: (kind: string, detail: string) => void alarms.push(`${kind}: ${detail}`),
    recordLoad: () => {},
  };
  const load = new ExplorerLoad(router, hub as unknown as ExplorerHub, 100);
  load.set({ rate: 2_000, readShare: 0.5 });
  // Every key written and read back at least once: 100 keys, half the operations reads.
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && alarms.length === 0 && (load as unknown as { next: number }).next < 1_000) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  load.stop();
  return alarms;
}

describe('the explorer load generator', () => {
  it('raises acknowledged-write-missing when a read returns a value older than an acknowledged write', async () => {
    // A store that lost every write after the first: reads keep answering index 1.
    const alarms = await alarmsAfterLoad(standIn(() => 1));
    expect(alarms[0]).toMatch(
      /^acknowledged-write-missing: a read of explorer\/load\/\d+ returned the write at index \d+, but a write at index \d+ had been acknowledged/,
    );
  });

  it('raises nothing when every read sees the writes acknowledged before it', async () => {
    expect(await alarmsAfterLoad(standIn((written) => written))).toEqual([]);
  });
});
