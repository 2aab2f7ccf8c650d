// Real worker-thread clusters: elections, failover, recovery from disk, partitions, loss, supervision.
import { afterEach, describe, expect, it } from 'vitest';
import {
  command,
  leaderOf,
  proposeMany,
  startCluster,
  stateOf,
  statuses,
  waitConverged,
  waitFor,
  type TestCluster,
} from './cluster-harness.js';

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

describe('cluster of worker-thread nodes', () => {
  it.each([3, 5])('elects one leader in a %i-node cluster and commits through it', async (nodes) => {
    cluster = await startCluster({ nodes });
    const { supervisor } = cluster;
    const leader = await leaderOf(supervisor);
    expect(supervisor.ids).toContain(leader);
    expect(await proposeMany(supervisor, 20, 'a')).toBe(20);
    const state = await waitConverged(supervisor, supervisor.ids);
    expect(state.count).toBe(20);
    const roles = [...(await statuses(supervisor)).values()].map((s) => s.role);
    expect(roles.filter((role) => role === 'leader')).toHaveLength(1);
  });

  it('elects a new leader when the leader is killed, and loses no committed entry', async () => {
    cluster = await startCluster({ nodes: 5 });
    const { supervisor } = cluster;
    expect(await proposeMany(supervisor, 30, 'before')).toBe(30);
    const first = await leaderOf(supervisor);
    await supervisor.kill(first);
    const second = await waitFor('a new leader', () =>
      supervisor.leaderId !== null && supervisor.leaderId !== first ? supervisor.leaderId : null,
    );
    expect(second).not.toBe(first);
    expect(await proposeMany(supervisor, 30, 'after')).toBe(30);
    const alive = supervisor.ids.filter((id) => id !== first);
    expect((await waitConverged(supervisor, alive)).count).toBe(60);
    // The old leader comes back from its disk and catches up with everything.
    await supervisor.restart(first);
    expect((await waitConverged(supervisor, supervisor.ids)).count).toBe(60);
  });

  it('restarts a node from disk, and catches up a far-behind node through a snapshot', async () => {
    cluster = await startCluster({ nodes: 3, limits: { snapshotEveryEntries: 50 } });
    const { supervisor } = cluster;
    const leader = await leaderOf(supervisor);
    const follower = supervisor.ids.find((id) => id !== leader) as string;
    expect(await proposeMany(supervisor, 20, 'x')).toBe(20);
    await waitConverged(supervisor, supervisor.ids);
    const stoppedAt = (await statuses(supervisor)).get(follower)?.lastIndex ?? 0;
    await supervisor.kill(follower);
    expect(await proposeMany(supervisor, 200, 'y')).toBe(200);
    // The leader has compacted its log past where the follower stopped: only a snapshot can catch it up.
    const leaderStatus = (await statuses(supervisor)).get(leader);
    expect(leaderStatus?.firstIndex).toBeGreaterThan(stoppedAt + 1);
    await supervisor.restart(follower);
    expect((await waitConverged(supervisor, supervisor.ids)).count).toBe(220);
    const caughtUp = (await statuses(supervisor)).get(follower);
    expect(caughtUp?.snapshotIndex).toBeGreaterThan(stoppedAt);
  });

  it('a partitioned minority cannot commit while the majority can, and catches up after heal', async () => {
    cluster = await startCluster({ nodes: 5 });
    const { supervisor } = cluster;
    const oldLeader = await leaderOf(supervisor);
    expect(await proposeMany(supervisor, 5, 'a')).toBe(5);
    const others = supervisor.ids.filter((id) => id !== oldLeader);
    const minority = [oldLeader, others[0] as string];
    const majority = others.slice(1);
    await supervisor.partition([minority, majority]);
    // The old leader can take a proposal but never commit it.
    const control = supervisor.control(oldLeader);
    const stuck = control?.propose([command('minority')]);
    const raced = await Promise.race([stuck, new Promise((resolve) => setTimeout(() => resolve('pending'), 1_500))]);
    expect(raced === 'pending' || (raced as { ok: boolean }).ok === false).toBe(true);
    const newLeader = await waitFor('a majority leader', () =>
      supervisor.leaderId !== null && majority.includes(supervisor.leaderId) ? supervisor.leaderId : null,
    );
    expect(majority).toContain(newLeader);
    expect(await proposeMany(supervisor, 10, 'b')).toBe(10);
    await supervisor.heal();
    const state = await waitConverged(supervisor, supervisor.ids);
    expect(state.count).toBe(15); // the minority's proposal was never applied anywhere
    const outcome = await stuck;
    expect(outcome?.ok).toBe(false);
  });

  it('commits with 40% of messages dropped on every link', async () => {
    cluster = await startCluster({ nodes: 5 });
    const { supervisor } = cluster;
    await leaderOf(supervisor);
    await supervisor.setLinkFaults({}, { drop: 0.4 });
    expect(await proposeMany(supervisor, 30, 'lossy')).toBe(30);
    await supervisor.heal();
    expect((await waitConverged(supervisor, supervisor.ids)).count).toBe(30);
  });

  it('restarts a node that throws, and marks failed one that keeps throwing, without harm to the others', async () => {
    cluster = await startCluster({ nodes: 3, restart: { maxRestarts: 2, periodMs: 60_000, backoffMs: 50 } });
    const { supervisor } = cluster;
    const leader = await leaderOf(supervisor);
    const victim = supervisor.ids.find((id) => id !== leader) as string;
    await supervisor.control(victim)?.crash('boom');
    await waitFor('a restart after the crash', () =>
      cluster?.log.some((line) => line.startsWith(`${victim} restarting: uncaught Error: boom`)),
    );
    await waitFor('the crashed node running again', () => supervisor.stateOf(victim) === 'running');
    // Now it throws at every start: restarted twice with backoff, then given up on.
    cluster.crashOnStart.set(victim, 'broken on start');
    await supervisor.control(victim)?.crash('boom again');
    await waitFor('the node marked failed', () => supervisor.stateOf(victim) === 'failed');
    expect(cluster.log.some((line) => line.startsWith(`${victim} failed:`) && line.includes('crashes within'))).toBe(true);
    // The other two still form a majority and commit.
    expect(await proposeMany(supervisor, 10, 'still')).toBe(10);
    const alive = supervisor.ids.filter((id) => id !== victim);
    expect((await waitConverged(supervisor, alive)).count).toBe(10);
  });

  it('a paused leader that resumes steps down without serving a stale read', async () => {
    cluster = await startCluster({ nodes: 3 });
    const { supervisor } = cluster;
    const oldLeader = await leaderOf(supervisor);
    expect(await proposeMany(supervisor, 5, 'a')).toBe(5);
    await supervisor.pause(oldLeader);
    await waitFor('a new leader', () => (supervisor.leaderId !== null && supervisor.leaderId !== oldLeader ? supervisor.leaderId : null));
    expect(await proposeMany(supervisor, 5, 'b')).toBe(5);
    // A read sent to the paused old leader waits; when it resumes it must not answer from its stale state.
    const read = supervisor.control(oldLeader)?.read(null);
    await supervisor.resume(oldLeader);
    const outcome = await read;
    if (outcome?.ok) expect((outcome.value as { count: number }).count).toBe(10);
    else expect(outcome?.code).toBe('NOT_LEADER');
    await waitFor('the old leader to step down', async () => (await statuses(supervisor)).get(oldLeader)?.role === 'follower');
    expect((await stateOf(supervisor, oldLeader)).count).toBeLessThanOrEqual(10);
    expect((await waitConverged(supervisor, supervisor.ids)).count).toBe(10);
  });
});
