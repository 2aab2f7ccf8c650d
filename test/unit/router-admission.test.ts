// The router's admission bound (pendingRequestsMax, issue 18 item 5): past it, a request is refused at once with
// OVERLOADED (definite: never proposed), while the ones admitted are proposed and answered; the bound can be
// tightened while the router runs, and the requests already admitted are not disturbed. Past a full proposal,
// the router holds at most what the cluster answered in queueDelayMsMax (Little's law bounds the wait).
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Supervisor } from '../../src/actor/supervisor.js';
import type { KvCommand } from '../../src/kv/commands.js';
import { ERRORS } from '../../src/protocol/errors.js';
import type { ProposeOutcome } from '../../src/protocol/node.js';
import { Router, type WriteResult } from '../../src/router/router.js';
import type { ClientPortClient } from '../../src/transport/client-port.js';

const put = (i: number): KvCommand => ({ op: 'put', key: Buffer.from(`k${i}`), value: Buffer.from('v') });

/** One leader, n1, that holds every proposal until `release` answers them all. */
function heldLeader(): { supervisor: Supervisor; proposed: () => number; release: () => void } {
  const held: (() => void)[] = [];
  let proposed = 0;
  const client = {
    propose: (entries: readonly Uint8Array[]) =>
      new Promise<ProposeOutcome>((resolve) => {
        proposed += entries.length;
        held.push(() => resolve({ ok: true, index: 1, results: entries.map((_, i) => [{ ok: true, index: i + 1 }]) }));
      }),
  } as unknown as ClientPortClient;
  const supervisor = { ids: ['n1'], leaderId: 'n1', reachable: () => true, client: () => client } as unknown as Supervisor;
  return { supervisor, proposed: () => proposed, release: () => held.splice(0).forEach((answer) => answer()) };
}

describe("the router's admission bound", () => {
  it('refuses the requests past pendingRequestsMax at once with OVERLOADED, never proposed; the admitted ones are answered', async () => {
    const { supervisor, proposed, release } = heldLeader();
    const router = new Router(supervisor, { pendingRequestsMax: 10 });
    const answers = Array.from({ length: 100 }, (_, i) => router.write(put(i)));
    const refused = await Promise.all(answers.slice(10));
    for (const answer of refused) expect(answer).toMatchObject({ ok: false, error: { code: 'OVERLOADED' } });
    expect(ERRORS.OVERLOADED.definite).toBe(true);
    await new Promise((resolve) => setImmediate(resolve)); // the router's turn: the admitted ones are proposed
    expect(proposed()).toBe(10);
    release();
    for (const answer of await Promise.all(answers.slice(0, 10))) expect(answer.ok).toBe(true);
    expect(router.refusalCounts().get('OVERLOADED')).toBe(90);
    // Once they are answered, there is room again.
    const next = router.write(put(100));
    await new Promise((resolve) => setImmediate(resolve));
    release();
    expect((await next).ok).toBe(true);
  });

  it('setPendingRequestsMax tightens the bound under load: the admitted requests go on, new ones past it are refused', async () => {
    const { supervisor, release } = heldLeader();
    const router = new Router(supervisor, { pendingRequestsMax: 50 });
    const admitted = Array.from({ length: 20 }, (_, i) => router.write(put(i)));
    await new Promise((resolve) => setImmediate(resolve));
    router.setPendingRequestsMax(5);
    expect(router.limits.pendingRequestsMax).toBe(5);
    const late: WriteResult = await router.write(put(99));
    expect(late).toMatchObject({ ok: false, error: { code: 'OVERLOADED' } });
    release();
    for (const answer of await Promise.all(admitted)) expect(answer.ok).toBe(true);
    expect(() => router.setPendingRequestsMax(0)).toThrow(RangeError);
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('past two full proposals, holds at most what the cluster answered in queueDelayMsMax (the last whole second); beyond: OVERLOADED', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const startMs = Date.now();
    const { supervisor, release } = heldLeader();
    const router = new Router(supervisor, { batchCommandsMax: 4, queueDelayMsMax: 1_000 });
    const floor = 2 * 4;
    const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
    const admitAndAnswer = async (count: number): Promise<void> => {
      const answers = Array.from({ length: count }, (_, i) => router.write(put(i)));
      await turn();
      release();
      for (const answer of await Promise.all(answers)) expect(answer.ok).toBe(true);
    };
    // Nothing answered yet: two full proposals are admitted, not one more.
    const first = Array.from({ length: floor }, (_, i) => router.write(put(i)));
    expect(await router.write(put(floor))).toMatchObject({ ok: false, error: { code: 'OVERLOADED' } });
    await turn();
    release();
    for (const answer of await Promise.all(first)) expect(answer.ok).toBe(true);
    // 3 x floor answered within the first second...
    await admitAndAnswer(floor);
    await admitAndAnswer(floor);
    // ...so in the next, 3 x floor a second for 1 s: that many held at most.
    vi.setSystemTime(startMs + 1_000);
    const held = Array.from({ length: 3 * floor }, (_, i) => router.write(put(100 + i)));
    expect(await router.write(put(0))).toMatchObject({ ok: false, error: { code: 'OVERLOADED' } });
    await turn();
    release();
    for (const answer of await Promise.all(held)) expect(answer.ok).toBe(true);
  });
});
