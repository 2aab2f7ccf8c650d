// Lease reads against drifting clocks, both sides of the bound (leaseClockRateRatioMax in src/raft/raft.ts,
// derived in docs/SIMULATOR.md). Within it: 300 seeds of the `clocks` family, every node's clock at its own
// rate (the fastest exactly at the bound over the slowest) and skewed, lease reads on, must keep every safety
// property. Beyond it: pinned seeds whose clocks spread 6 times as far apart (a leader slow against fast
// followers) must be caught serving stale lease reads, and the same seeds with the clocks brought back within
// the bound must pass. Replay one with the command the failure prints, e.g.
// npm run sim -- --seed 6000013 --family clocks --override '{"clockDrift":40,"electionTicks":10,...}'
import { describe, expect, it } from 'vitest';
import { leaseClockRateRatioMax } from '../../src/raft/raft.js';
import { replayCommand, type Overrides, type RunRequest } from './replay.js';
import { runFamily, runRequest } from './run-seeds.js';
import { Simulator, clockRateRatio, deriveOptions } from './simulator.js';

/**
 * Clocks 40 times as far apart as the bound allows (with 10 election ticks: the fastest clock 6 times the
 * slowest's rate, the bound 9/8), on 3 nodes with short delays, many readers and frequent leadership
 * transfers, so a slow clock often leads when a partition cuts it off. The rates stay as drawn (no clock faults).
 */
const BEYOND: Overrides = {
  clockDrift: 40,
  electionTicks: 10,
  nodeCount: 3,
  delayMaxUnits: 3,
  crashRate: 0,
  transferRate: 2,
  readShare: 0.9,
  clockFaultRate: 0,
};

/**
 * Seeds (of the clocks family, with BEYOND) that serve a stale lease read: the first four of 6,000,001 up, found
 * again when a just-started node began to hold off votes with lease reads (which moved every lease run).
 */
const STALE_SEEDS = [6_000_005, 6_000_013, 6_000_017, 6_000_036];

describe('simulator: lease reads on drifting clocks', () => {
  it('keeps every safety property on 300 seeds with clock rates spread to the lease bound and skewed', () => {
    const run = runFamily('clocks', 300);
    expect(run.failures).toEqual([]);
    for (const result of run.results) {
      expect(result.options.readMode).toBe('lease');
      expect(clockRateRatio(result.options)).toBeCloseTo(leaseClockRateRatioMax(result.options.electionTicks), 12);
    }
    expect(run.results.reduce((sum, r) => sum + r.stats.readsOk, 0)).toBeGreaterThan(100_000);
    expect(run.results.reduce((sum, r) => sum + r.stats.partitions, 0)).toBeGreaterThan(1_000);
    expect(run.results.reduce((sum, r) => sum + r.stats.transfers, 0)).toBeGreaterThan(100);
    expect(run.results.reduce((sum, r) => sum + r.stats.clockChanges, 0)).toBeGreaterThan(100);
  });

  it('beyond the bound, finds stale lease reads on the pinned seeds; within it, the same seeds pass', () => {
    expect(clockRateRatio(deriveOptions(STALE_SEEDS[0] as number, BEYOND))).toBeCloseTo(6, 12);
    for (const seed of STALE_SEEDS) {
      const beyond: RunRequest = { seed, family: 'clocks', overrides: BEYOND };
      const result = runRequest(beyond);
      expect(result.failure, replayCommand(beyond)).toMatchObject({ kind: 'correctness', property: 'linearizable-reads' });
      expect(result.failure?.message).toMatch(/read returned index \d+ but \d+ had completed before it began/);
      const within: RunRequest = { seed, family: 'clocks', overrides: { ...BEYOND, clockDrift: 1 } };
      const safe = runRequest(within);
      expect(safe.failure, replayCommand(within)).toBeNull();
      expect(safe.stats.readsOk).toBeGreaterThan(1_000);
    }
  });

  it('gives each node its own rate and skew in the clocks family, and every node the same clock elsewhere', () => {
    const options = deriveOptions(6_000_001, { clockDrift: 1, clockSkewUnitsMax: 50, electionTicks: 10, nodeCount: 5 });
    const clocks = [...new Simulator(options).clocks.values()];
    expect(clocks).toHaveLength(5);
    const rates = clocks.map((clock) => clock.rate);
    expect(Math.min(...rates)).toBe(1);
    expect(Math.max(...rates)).toBeCloseTo(9 / 8, 12);
    for (const clock of clocks) expect(Math.abs(clock.skewUnits)).toBeLessThanOrEqual(50);
    expect(new Set(clocks.map((clock) => clock.skewUnits)).size).toBe(5);
    expect(new Simulator(deriveOptions(1)).clocks.size).toBe(0);
  });
});
