// 300 schedules built to catch stale reads: many readers, frequent partitions and pauses, and no
// CheckQuorum, so a deposed leader keeps believing it leads until it hears a newer term. A leader that
// answered reads without confirming its leadership (ReadIndex) is caught here within a few seeds.
import { describe, expect, it } from 'vitest';
import { runFamily } from './run-seeds.js';

describe('simulator: readers against partitioned and paused leaders', () => {
  it('serves only linearizable reads on 300 seeds', () => {
    const run = runFamily('readers', 300);
    expect(run.failures).toEqual([]);
    expect(run.results.reduce((sum, r) => sum + r.stats.readsOk, 0)).toBeGreaterThan(50_000);
    expect(run.results.reduce((sum, r) => sum + r.stats.partitions, 0)).toBeGreaterThan(1_000);
  });
});
