// Membership changes under faults: four voters and two spares, a voter added or removed every few ticks and
// by most new leaders at once, lossy links, no PreVote or CheckQuorum. Without the current-term barrier the
// run finds two leaders in a term or a leader missing a committed entry within a few hundred seeds (the
// mutation suite shows it). A failure names the command that replays it: npm run sim -- --seed S --family membership
import { describe, expect, it } from 'vitest';
import { runFamily } from './run-seeds.js';

describe('simulator: membership changes', () => {
  it('keeps every safety property and recovers after heal on 400 seeds', () => {
    const run = runFamily('membership', 400);
    expect(run.failures).toEqual([]);
    const changes = run.results.reduce((sum, r) => sum + r.stats.membershipChanges, 0);
    const elections = run.results.reduce((sum, r) => sum + r.stats.elections, 0);
    // The schedules really change the membership, many times per run.
    expect(changes).toBeGreaterThan(4 * run.results.length);
    expect(elections).toBeGreaterThan(run.results.length);
  });
});
