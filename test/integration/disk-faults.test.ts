// Sick disks under a live cluster (issue 18, item 1), each fault through the supervisor: an fsync that fails
// crashes the node and the supervisor restarts it from its disk; a full disk refuses writes with DISK_FULL and
// takes them again once space returns; a leader whose disk stalls steps down, with one election and no storm
// while the stall lasts; rot at rest stops the node at its next start with an error naming the file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeId } from '../../src/raft/types.js';
import { startService, type Service } from '../../src/router/service.js';
import { command, leaderOf, proposeMany, startCluster, statuses, waitConverged, waitFor, type TestCluster } from './cluster-harness.js';

let cluster: TestCluster;
let service: Service;

beforeAll(async () => {
  cluster = await startCluster({
    nodes: 3,
    restart: { maxRestarts: 3, periodMs: 60_000, backoffMs: 20, backoffMaxMs: 200 },
  });
  service = await startService(cluster.supervisor, { host: '127.0.0.1', httpPort: 0, respPort: 0, adminToken: null });
  await leaderOf(cluster.supervisor);
}, 60_000);

afterAll(async () => {
  await service?.close();
  await cluster?.stop();
});

async function postDisk(body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`http://127.0.0.1:${service.http.port}/v1/faults/disk`, { method: 'POST', body: JSON.stringify(body) });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

async function termOf(id: NodeId): Promise<number> {
  return (await statuses(cluster.supervisor)).get(id)?.term ?? -1;
}

describe('disk faults', () => {
  it('an fsync that fails crashes the node, never acknowledging what it held; the supervisor restarts it from its disk', async () => {
    const supervisor = cluster.supervisor;
    const leader = await leaderOf(supervisor);
    await supervisor.setDiskFaults(leader, { syncErrors: 1 });
    // Writes until the failed fsync has crashed the leader (the next one it runs fails).
    await waitFor('the leader to crash on EIO', async () => {
      await supervisor.propose([command('eio')], { timeoutMs: 500 }).catch(() => null);
      return cluster.log.some((line) => line.startsWith(`${leader} restarting`) && line.includes('EIO'));
    });
    await waitFor(`${leader} running again`, () => supervisor.stateOf(leader) === 'running');
    expect(await proposeMany(supervisor, 10, 'after-eio-')).toBe(10);
    await waitConverged(supervisor, supervisor.ids);
    // The queued error was used up by the crash: the restarted node's disk is healthy again.
    expect(supervisor.diskFaultsOf(leader).syncErrors).toBe(0);
  });

  it('a full disk refuses writes with DISK_FULL, corrupts nothing, and takes them again once space returns', async () => {
    const supervisor = cluster.supervisor;
    const leader = await leaderOf(supervisor);
    const restartsBefore = supervisor.supervision(leader).restarts;
    await supervisor.setDiskFaults(leader, { spaceBytes: 0 });
    const refused = await waitFor('a write refused with DISK_FULL', async () => {
      const outcome = await supervisor.propose([command('full')], { timeoutMs: 2_000 });
      return !outcome.ok && outcome.code === 'DISK_FULL' ? outcome : null;
    });
    expect(refused.definite).toBe(true);
    expect((await statuses(supervisor)).get(leader)).toMatchObject({ diskFull: true, diskFreeBytes: 0 });
    await supervisor.setDiskFaults(leader, { spaceBytes: null });
    await waitFor('writes taken again', async () => (await supervisor.propose([command('room')], { timeoutMs: 2_000 })).ok);
    expect(await proposeMany(supervisor, 10, 'after-full-')).toBe(10);
    await waitConverged(supervisor, supervisor.ids);
    expect(supervisor.supervision(leader).restarts).toBe(restartsBefore);
  });

  it('a leader whose disk stalls steps down and hands over in one election; no election follows while the stall lasts', async () => {
    const supervisor = cluster.supervisor;
    const stalled = await leaderOf(supervisor);
    const term = await termOf(stalled);
    await supervisor.setDiskFaults(stalled, { syncDelayMs: 3_600_000 });
    // A write makes the leader's disk wait; the leader steps down after persistStallTicks.
    void supervisor.propose([command('stalled')], { timeoutMs: 500 }).catch(() => null);
    const next = await waitFor('another leader', () => {
      const id = supervisor.leaderId;
      return id !== null && id !== stalled ? id : null;
    });
    const newTerm = await termOf(next);
    expect(newTerm).toBeGreaterThan(term);
    expect(await proposeMany(supervisor, 30, 'during-stall-')).toBe(30);
    // Still stalled: the stalled node follows, and nobody started another election.
    expect((await statuses(supervisor)).get(stalled)).toMatchObject({ role: 'follower', term: newTerm });
    expect(await termOf(next)).toBe(newTerm);
    expect(supervisor.leaderId).toBe(next);
    await supervisor.setDiskFaults(stalled, { syncDelayMs: 0 });
    await waitConverged(supervisor, supervisor.ids);
  });

  it("POST /v1/faults/disk sets, reports and clears a node's disk faults, and refuses a malformed one by name", async () => {
    const id = cluster.supervisor.ids[0] as NodeId;
    for (const [body, field] of [
      [{ node: id, syncDelayMs: -1 }, 'syncDelayMs'],
      [{ node: id, spaceBytes: 'lots' }, 'spaceBytes'],
      [{ node: id, slow: true }, 'slow'],
      [{ node: id, rot: { target: 'log', kind: 'flip' } }, 'rot'],
      [{ node: 'nobody', syncErrors: 1 }, 'node'],
    ] as const) {
      const reply = await postDisk(body);
      expect(reply.status, JSON.stringify(body)).toBeGreaterThanOrEqual(400);
      expect(JSON.stringify(reply.json), JSON.stringify(body)).toContain(field);
    }
    const set = await postDisk({ node: id, syncDelayMs: 5, loseRenames: true });
    expect(set.status).toBe(200);
    expect(set.json).toMatchObject({ node: id, faults: { syncDelayMs: 5, loseRenames: true, spaceBytes: null } });
    expect(cluster.supervisor.diskFaultsOf(id)).toMatchObject({ syncDelayMs: 5, loseRenames: true });
    const cleared = await postDisk({ node: id, clear: true });
    expect(cleared.json).toMatchObject({ faults: { syncDelayMs: 0, loseRenames: false } });
    expect(cluster.supervisor.diskFaultsOf(id)).toMatchObject({ syncDelayMs: 0, loseRenames: false });
  });

  it('rot at rest in a WAL stops the node at its next start, naming the segment; the others go on', async () => {
    const supervisor = cluster.supervisor;
    const leader = await leaderOf(supervisor);
    const victim = supervisor.ids.find((id) => id !== leader) as NodeId;
    expect(await proposeMany(supervisor, 5, 'before-rot-')).toBe(5);
    await waitConverged(supervisor, supervisor.ids);
    const rot = await supervisor.rotDisk(victim, { target: 'wal', kind: 'flip' });
    await supervisor.kill(victim);
    await supervisor.restart(victim).catch(() => undefined);
    await waitFor(`${victim} refused to start on the corrupt record`, () =>
      cluster.log.some((line) => line.includes('STORAGE_CORRUPT_RECORD') && line.includes(rot.file)),
    );
    await waitFor(`${victim} failed`, () => supervisor.stateOf(victim) === 'failed');
    expect(await proposeMany(supervisor, 5, 'after-rot-')).toBe(5);
  });
});
