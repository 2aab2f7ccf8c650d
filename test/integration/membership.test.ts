// Membership changes through the HTTP API (issue 16 part 4): a learner added to a running cluster gets the
// log, is refused promotion only while it lags, votes once promoted; a voter and the leader itself can be
// removed; each refusal has its registered code. Writes keep working throughout, and the new member holds them.
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Supervisor, type MembersView } from '../../src/actor/supervisor.js';
import { testNodeWorker } from '../support/test-node.js';
import { startService, type Service } from '../../src/router/service.js';
import { leaderOf, startCluster, waitFor, type TestCluster } from './cluster-harness.js';

let cluster: TestCluster;
let service: Service;
const TOKEN = 'members-secret';

beforeAll(async () => {
  cluster = await startCluster({ nodes: 3, stateMachine: 'kv' });
  service = await startService(cluster.supervisor, { host: '127.0.0.1', httpPort: 0, respPort: 0, adminToken: TOKEN });
  await leaderOf(cluster.supervisor);
}, 60_000);

afterAll(async () => {
  await service?.close();
  await cluster?.stop();
});

const url = (p: string): string => `http://127.0.0.1:${service.http.port}${p}`;
const auth = { authorization: `Bearer ${TOKEN}` };

async function call(method: string, p: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const init: RequestInit = { method, headers: { ...auth, 'content-type': 'application/json' } };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(url(p), init);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function members(): Promise<MembersView> {
  return (await call('GET', '/v1/members')).body as unknown as MembersView;
}

async function put(key: string, value: string): Promise<void> {
  await waitFor(`PUT ${key}`, async () =>
    (await fetch(url(`/v1/kv/${key}`), { method: 'PUT', body: value })).status === 200 ? true : null,
  );
}

describe('membership changes over HTTP', () => {
  it('lists the voters; refuses a change without the token, a second add, a promotion of a voter, an unknown member', async () => {
    const view = await members();
    expect(view.members.map((m) => [m.id, m.role])).toEqual([
      ['n1', 'voter'],
      ['n2', 'voter'],
      ['n3', 'voter'],
    ]);
    expect(view.leader).toBe(cluster.supervisor.leaderId);
    expect((await fetch(url('/v1/members'), { method: 'POST', body: '{"id":"n4"}' })).status).toBe(401);
    expect(await call('POST', '/v1/members', { id: 'n2', learner: true })).toMatchObject({
      status: 409,
      body: { error: { code: 'MEMBER_EXISTS' } },
    });
    expect(await call('POST', '/v1/members/n2/promote')).toMatchObject({ status: 409, body: { error: { code: 'MEMBER_NOT_LEARNER' } } });
    expect(await call('DELETE', '/v1/members/n9')).toMatchObject({ status: 404, body: { error: { code: 'MEMBER_NOT_FOUND' } } });
    expect(await call('POST', '/v1/members', { id: 'bad id' })).toMatchObject({
      status: 400,
      body: { error: { code: 'INVALID_ARGUMENT' } },
    });
  });

  it('adds a learner that receives the log, promotes it once caught up, and it holds every write', async () => {
    for (let i = 0; i < 50; i++) await put(`before${i}`, `v${i}`);
    const added = await call('POST', '/v1/members', { id: 'n4', learner: true });
    expect(added.status, JSON.stringify(added.body)).toBe(200);
    expect(cluster.supervisor.ids).toContain('n4');
    expect(cluster.supervisor.stateOf('n4')).toBe('running');
    let view = await members();
    expect(view.members.find((m) => m.id === 'n4')?.role).toBe('learner');
    await waitFor('n4 caught up', async () => {
      const now = await members();
      const n4 = now.members.find((m) => m.id === 'n4');
      return n4?.matchIndex != null && n4.matchIndex >= now.lastIndex - 1 ? true : null;
    });
    const promoted = await waitFor('n4 promoted', async () => {
      const answer = await call('POST', '/v1/members/n4/promote');
      return answer.status === 200 ? answer : null;
    });
    expect(promoted.body.change).toEqual({ kind: 'promote', id: 'n4' });
    // Each change is an action in the explorer's log, a refused one with its code.
    const seq = service.explorer.state().seq;
    expect((await call('POST', '/v1/members', { id: 'n4', learner: true })).status).toBe(409);
    const actions = (service.explorer.since(seq) ?? []).flatMap((e) => (e.kind === 'action' ? [e] : []));
    expect(actions.some((a) => a.action === 'POST /v1/members' && !a.ok && a.detail.startsWith('MEMBER_EXISTS'))).toBe(true);
    view = await members();
    expect(view.members.filter((m) => m.role === 'voter').map((m) => m.id)).toEqual(['n1', 'n2', 'n3', 'n4']);
    await put('after-promote', 'x');
    // n4 holds the writes made before it joined and after it voted.
    await waitFor('n4 to apply every write', async () => {
      const answer = await fetch(url('/v1/kv/after-promote?consistency=stale&node=n4'));
      return answer.status === 200 ? true : null;
    });
    const early = (await (await fetch(url('/v1/kv/before0?consistency=stale&node=n4'))).json()) as { value: string };
    expect(early.value).toBe('v0');
  });

  it('removes a follower, then the leader itself: the others elect a leader and writes go on', async () => {
    const leader = await leaderOf(cluster.supervisor);
    const follower = cluster.supervisor.ids.find((id) => id !== leader && id !== 'n4') as string;
    const seq = service.explorer.state().seq;
    const removed = await call('DELETE', `/v1/members/${follower}`);
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    const actions = (service.explorer.since(seq) ?? []).flatMap((e) => (e.kind === 'action' ? [e] : []));
    expect(actions.some((a) => a.action === `DELETE /v1/members/${follower}` && a.ok)).toBe(true);
    expect(cluster.supervisor.ids).not.toContain(follower);
    await put('after-follower-removed', 'y');
    const gone = await waitFor('the leader removed', async () => {
      const answer = await call('DELETE', `/v1/members/${leader}`);
      return answer.status === 200 ? answer : null;
    });
    expect((gone.body.members as MembersView).members.map((m) => m.id)).not.toContain(leader);
    const next = await waitFor('a new leader', () =>
      cluster.supervisor.leaderId !== null && cluster.supervisor.leaderId !== leader ? cluster.supervisor.leaderId : null,
    );
    expect(next).not.toBe(leader);
    await put('after-leader-removed', 'z');
    const view = await members();
    expect(view.members).toHaveLength(2);
    expect(view.members.every((m) => m.role === 'voter')).toBe(true);
    // Two voters left: removing one more is allowed; the last one never is.
    const survivor = view.members.map((m) => m.id);
    const other = survivor.find((id) => id !== view.leader) as string;
    expect((await call('DELETE', `/v1/members/${other}`)).status).toBe(200);
    const last = (await members()).members[0]?.id as string;
    expect(await call('DELETE', `/v1/members/${last}`)).toMatchObject({ status: 409, body: { error: { code: 'LAST_VOTER' } } });
  });
});

describe('a promotion waits for the learner to catch up', () => {
  it('refuses LEARNER_NOT_CAUGHT_UP (409, definite) while the learner lags, and promotes it once it has caught up', async () => {
    const lagging = await startCluster({ nodes: 3, stateMachine: 'kv', core: { learnerCatchUpEntriesMax: 5 } });
    const door = await startService(lagging.supervisor, { host: '127.0.0.1', httpPort: 0, respPort: 0, adminToken: null });
    const at = (p: string): string => `http://127.0.0.1:${door.http.port}${p}`;
    try {
      await leaderOf(lagging.supervisor);
      expect((await fetch(at('/v1/members'), { method: 'POST', body: JSON.stringify({ id: 'n4', learner: true }) })).status).toBe(200);
      // The learner stops taking entries; the log moves on past the promotion limit.
      await lagging.supervisor.pause('n4');
      for (let i = 0; i < 20; i++) {
        await waitFor(`write ${i}`, async () =>
          (await fetch(at(`/v1/kv/lag${i}`), { method: 'PUT', body: 'x' })).status === 200 ? true : null,
        );
      }
      const refused = await fetch(at('/v1/members/n4/promote'), { method: 'POST' });
      expect(refused.status).toBe(409);
      expect(await refused.json()).toMatchObject({ error: { code: 'LEARNER_NOT_CAUGHT_UP', definite: true } });
      await lagging.supervisor.resume('n4');
      const promoted = await waitFor('n4 promoted once caught up', async () => {
        const answer = await fetch(at('/v1/members/n4/promote'), { method: 'POST' });
        return answer.status === 200 ? answer : null;
      });
      expect(promoted.status).toBe(200);
    } finally {
      await door.close();
      await lagging.stop();
    }
  });
});

describe('a membership change survives a restart of the whole cluster', () => {
  it('starts the added member again, and not the removed one', async () => {
    const grown = await startCluster({ nodes: 3, stateMachine: 'kv' });
    try {
      await leaderOf(grown.supervisor);
      expect((await grown.supervisor.changeMembership({ kind: 'add-learner', id: 'n4' })).ok).toBe(true);
      const removed = await waitFor('n2 removed', async () => {
        const outcome = await grown.supervisor.changeMembership({ kind: 'remove', id: 'n2' });
        return outcome.ok ? outcome : null;
      });
      expect(removed.ok).toBe(true);
      await grown.supervisor.stop();
      const again = new Supervisor({
        nodes: 3,
        dataDir: grown.dataDir,
        worker: testNodeWorker({ stateMachine: 'kv', crashOnStart: new Map() }),
      });
      await again.start();
      try {
        expect(again.ids).toEqual(['n1', 'n3', 'n4']);
        await leaderOf(again);
        const view = await waitFor('the configuration', async () => {
          const members = await again.members();
          return members.leader !== null ? members : null;
        });
        expect(view.members.map((m) => [m.id, m.role])).toEqual([
          ['n1', 'voter'],
          ['n3', 'voter'],
          ['n4', 'learner'],
        ]);
      } finally {
        await again.stop();
      }
    } finally {
      fs.rmSync(grown.dataDir, { recursive: true, force: true });
    }
  });
});
