// The actor faults of the admin API (issue 14): crash (an exception in the node's turn, restarted by policy),
// hang (the thread stops answering; the watchdog ends and restarts it), slow, flood (the bounded mailbox drops
// the excess), and a restart storm past the restart intensity, after which the supervisor gives up on the node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeState } from '../../src/actor/supervisor.js';
import type { NodeId } from '../../src/raft/types.js';
import { startService, type Service } from '../../src/router/service.js';
import { leaderOf, startCluster, waitFor, type TestCluster } from './cluster-harness.js';

let cluster: TestCluster;
let service: Service;
const MAX_RESTARTS = 3;

beforeAll(async () => {
  cluster = await startCluster({
    nodes: 3,
    stateMachine: 'kv',
    watchdogIntervalMs: 200,
    watchdogTimeoutMs: 1_500,
    restart: { maxRestarts: MAX_RESTARTS, periodMs: 60_000, backoffMs: 20, backoffMaxMs: 200 },
    limits: { mailboxMessagesMax: 10_000 },
  });
  service = await startService(cluster.supervisor, { host: '127.0.0.1', httpPort: 0, respPort: 0, adminToken: null });
  await leaderOf(cluster.supervisor);
}, 60_000);

afterAll(async () => {
  await service?.close();
  await cluster?.stop();
});

async function post(path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`http://127.0.0.1:${service.http.port}${path}`, {
    method: 'POST',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

function codeOf(reply: { json: Record<string, unknown> }): string {
  return (reply.json.error as { code: string }).code;
}

async function follower(): Promise<NodeId> {
  const leader = await leaderOf(cluster.supervisor);
  return cluster.supervisor.ids.find((id) => id !== leader && cluster.supervisor.stateOf(id) === 'running') as NodeId;
}

function waitState(id: NodeId, state: NodeState): Promise<true> {
  return waitFor(`${id} ${state}`, () => cluster.supervisor.stateOf(id) === state);
}

describe('actor faults', () => {
  it('crash: an exception inside the turn; the supervisor restarts the node by its policy', async () => {
    const id = await follower();
    const reply = await post(`/v1/nodes/${id}/crash`);
    expect(reply.status).toBe(200);
    await waitFor('the crash seen', () =>
      cluster.log.some((line) => line.startsWith(`${id} restarting`) && line.includes('crashed on request')),
    );
    await waitState(id, 'running');
    expect(cluster.supervisor.supervision(id).restarts).toBe(1);
    // A deliberate restart clears the record, for the storm below.
    await post(`/v1/nodes/${id}/restart`);
    expect(cluster.supervisor.supervision(id).restarts).toBe(0);
  });

  it('hang: the watchdog notices the silent node, ends it and restarts it; the cluster elects another leader', async () => {
    const leader = await leaderOf(cluster.supervisor);
    const reply = await post(`/v1/nodes/${leader}/hang`);
    expect(reply.status).toBe(200);
    await waitFor('the watchdog', () =>
      cluster.log.some((line) => line.startsWith(`${leader} restarting`) && line.includes('hung: no answer to the watchdog')),
    );
    await waitFor('another leader', () => {
      const now = cluster.supervisor.leaderId;
      return now !== null && now !== leader;
    });
    await waitState(leader, 'running');
    await post(`/v1/nodes/${leader}/restart`);
  });

  it('flood: the bounded mailbox drops what exceeds it, counts it, and the node carries on', async () => {
    const id = await follower();
    const reply = await post(`/v1/nodes/${id}/flood`, { messages: 50_000 });
    expect(reply.status).toBe(200);
    const status = await waitFor('drops counted', async () => {
      const all = await cluster.supervisor.status();
      const raft = all.find((n) => n.id === id)?.raft;
      return raft !== null && raft !== undefined && raft.mailboxDropped > 0 ? raft : null;
    });
    expect(status.mailboxDropped).toBeGreaterThanOrEqual(50_000 - 10_000);
    const put = await fetch(`http://127.0.0.1:${service.http.port}/v1/kv/after-flood`, { method: 'PUT', body: 'v' });
    expect(put.status).toBe(200);
    const { index } = (await put.json()) as { index: number };
    await waitFor(`${id} applies past the flood`, async () => {
      const all = await cluster.supervisor.status();
      return (all.find((n) => n.id === id)?.raft?.appliedIndex ?? 0) >= index;
    });
  });

  it('slow: accepted within its bound, refused beyond it or malformed', async () => {
    const id = await follower();
    expect((await post(`/v1/nodes/${id}/slow`, { ms: 20 })).status).toBe(200);
    const put = await fetch(`http://127.0.0.1:${service.http.port}/v1/kv/while-slow`, { method: 'PUT', body: 'v' });
    expect(put.status).toBe(200);
    expect((await post(`/v1/nodes/${id}/slow`, { ms: 0 })).status).toBe(200);
    expect(codeOf(await post(`/v1/nodes/${id}/slow`, { ms: 10_001 }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(await post(`/v1/nodes/${id}/slow`, { ms: 'fast' }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(await post(`/v1/nodes/${id}/flood`, { messages: 0 }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(await post('/v1/nodes/n9/crash'))).toBe('UNKNOWN_NODE');
    expect(codeOf(await post(`/v1/nodes/${id}/explode`))).toBe('NOT_FOUND');
  });

  it('a restart storm past the restart intensity: the supervisor gives up on the node and says why', async () => {
    const id = await follower();
    for (let crash = 1; crash <= MAX_RESTARTS + 1; crash++) {
      await waitState(id, 'running');
      expect((await post(`/v1/nodes/${id}/crash`)).status).toBe(200);
      await waitFor(`crash ${crash} seen`, () => cluster.supervisor.stateOf(id) !== 'running');
    }
    await waitState(id, 'failed');
    expect(cluster.supervisor.supervision(id).reason).toMatch(
      new RegExp(`${MAX_RESTARTS + 1} crashes within 60000 ms \\(limit ${MAX_RESTARTS}\\)`),
    );
    // A failed node takes no more faults; a restart by hand brings it back.
    expect(codeOf(await post(`/v1/nodes/${id}/crash`))).toBe('NODE_STOPPED');
    expect((await post(`/v1/nodes/${id}/restart`)).status).toBe(200);
    await waitState(id, 'running');
  });
});
