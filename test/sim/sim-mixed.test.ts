// 1,000 schedules with every option drawn from the seed: 3, 5 and 7 nodes, crashes with torn writes,
// pauses, partitions of every shape, drops, duplicates, leadership transfers, lease and ReadIndex reads.
// A failure names the command that replays it: npm run sim -- --seed S --family mixed
import { describe, expect, it } from 'vitest';
import { runFamily } from './run-seeds.js';

describe('simulator: mixed fault schedules', () => {
  it('keeps every safety property and recovers after heal on 1,000 seeds', () => {
    const run = runFamily('mixed', 1000);
    expect(run.failures).toEqual([]);
    const crashes = run.results.reduce((sum, r) => sum + r.stats.crashes, 0);
    const readsOk = run.results.reduce((sum, r) => sum + r.stats.readsOk, 0);
    const writesOk = run.results.reduce((sum, r) => sum + r.stats.writesOk, 0);
    const snapshots = run.results.reduce((sum, r) => sum + r.stats.snapshotsSent, 0);
    // The schedules really exercise what they claim to.
    expect(crashes).toBeGreaterThan(1000);
    expect(readsOk).toBeGreaterThan(10_000);
    expect(writesOk).toBeGreaterThan(10_000);
    expect(snapshots).toBeGreaterThan(100);
    for (const nodes of [3, 5, 7]) expect(run.results.some((r) => r.options.nodeCount === nodes)).toBe(true);
  });
});
