// A node's clock through the control plane (issue 18): Supervisor.setClock reaches the running worker at once,
// is kept across a restart (the start-up message carries it, as it carries link faults), and the true clock
// ends it. How the clock drives the node (tick rate, skewed time stamps) is test/unit/node-clock.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRUE_CLOCK } from '../../src/protocol/clock.js';
import { leaderOf, proposeMany, startCluster, statuses, waitFor, type TestCluster } from './cluster-harness.js';

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 3 });
  await leaderOf(cluster.supervisor);
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

const clockOf = async (id: string) => (await statuses(cluster.supervisor)).get(id)?.clock;

describe('clock faults', () => {
  it('sets a running node clock, keeps it across a restart, and puts the true clock back', async () => {
    const { supervisor } = cluster;
    await supervisor.setClock('n2', { rate: 1.05, skewMs: -300 });
    expect(await clockOf('n2')).toEqual({ rate: 1.05, skewMs: -300 });
    expect(await clockOf('n1')).toEqual(TRUE_CLOCK);
    expect(supervisor.clockOf('n2')).toEqual({ rate: 1.05, skewMs: -300 });
    // A rate or a skew alone changes only itself.
    await supervisor.setClock('n2', { skewMs: 250 });
    expect(await clockOf('n2')).toEqual({ rate: 1.05, skewMs: 250 });

    await supervisor.kill('n2');
    await supervisor.restart('n2');
    await waitFor('n2 running', () => supervisor.stateOf('n2') === 'running');
    expect(await clockOf('n2')).toEqual({ rate: 1.05, skewMs: 250 });
    // The cluster still commits with one clock fast and skewed.
    expect(await proposeMany(supervisor, 20, 'clock')).toBe(20);

    await supervisor.setClock('n2', TRUE_CLOCK);
    expect(await clockOf('n2')).toEqual(TRUE_CLOCK);
  }, 60_000);

  it('refuses a clock out of range, and changes nothing', async () => {
    const { supervisor } = cluster;
    await expect(supervisor.setClock('n3', { rate: 5 })).rejects.toThrow(RangeError);
    await expect(supervisor.setClock('n3', { skewMs: 1.5 })).rejects.toThrow(RangeError);
    await expect(supervisor.setClock('n9', { rate: 1 })).rejects.toThrow(RangeError);
    expect(await clockOf('n3')).toEqual(TRUE_CLOCK);
  });
});
