// The operator's endpoints (issue 15, item 2): /health (the process is up), /ready (a leader that confirms a
// quorum, with the reason when not), /v1/status (version, cluster id, nodes and their indexes, limits in force).
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type Service } from '../../src/router/service.js';
import { leaderOf, startCluster, waitFor, type TestCluster } from './cluster-harness.js';

let cluster: TestCluster;
let service: Service;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 3, stateMachine: 'kv' });
  service = await startService(cluster.supervisor, { host: '127.0.0.1', httpPort: 0, respPort: 0, adminToken: 'secret' });
  await leaderOf(cluster.supervisor);
}, 60_000);

afterAll(async () => {
  await service?.close();
  await cluster?.stop();
});

const get = async (path: string): Promise<{ status: number; body: Record<string, unknown> }> => {
  const response = await fetch(`http://127.0.0.1:${service.http.port}${path}`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

describe('health, readiness and status', () => {
  it('answers /health and /v1/status without the admin token, with the version, the cluster id and every limit', async () => {
    const health = await get('/health');
    expect(health).toMatchObject({ status: 200, body: { status: 'ok' } });
    const status = await get('/v1/status');
    expect(status.status).toBe(200);
    const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8')) as { version: string };
    expect(status.body.version).toBe(pkg.version);
    expect(status.body.clusterId).toBe(cluster.supervisor.identity?.clusterId);
    expect(status.body.clusterId).toMatch(/^[0-9a-f-]{36}$/);
    expect(status.body.dataDir).toBe(cluster.dataDir);
    expect(status.body.leader).toBe(cluster.supervisor.leaderId);
    const nodes = status.body.nodes as { id: string; commitIndex: number | null; appliedIndex: number | null }[];
    expect(nodes.map((n) => n.id)).toEqual(['n1', 'n2', 'n3']);
    for (const node of nodes) expect(node.commitIndex).toBeGreaterThanOrEqual(1);
    expect((status.body.limits as Record<string, number>).requestTimeoutMs).toBe(service.router.limits.requestTimeoutMs);
    expect(await (await fetch(`http://127.0.0.1:${service.http.port}/health`, { method: 'POST' })).status).toBe(405);
  });

  it('is ready with a leader that confirms a quorum; not ready, saying why, when a majority is down; ready again after', async () => {
    await waitFor('ready', async () => ((await get('/ready')).status === 200 ? true : null));
    const ready = await get('/ready');
    expect(ready.body).toMatchObject({ ready: true, leader: cluster.supervisor.leaderId });
    const leader = await leaderOf(cluster.supervisor);
    const others = cluster.supervisor.ids.filter((id) => id !== leader);
    for (const id of others) await cluster.supervisor.kill(id);
    const down = await waitFor('not ready', async () => {
      const answer = await get('/ready');
      return answer.status === 503 ? answer : null;
    });
    expect(down.body.ready).toBe(false);
    expect(String(down.body.reason)).toMatch(/no leader|did not confirm a quorum/);
    for (const id of others) await cluster.supervisor.restart(id);
    await waitFor('ready again', async () => ((await get('/ready')).status === 200 ? true : null));
  });
});
