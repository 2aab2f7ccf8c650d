// Membership changes under faults: four voters and two spares, a change every few ticks and by most new leaders
// at once (a learner or a voter added, a learner promoted or refused as it lags, a learner or a voter removed),
// lossy links, no PreVote or CheckQuorum. Without the current-term barrier the run finds two leaders in a term
// or a leader missing a committed entry within a few hundred seeds: the test-only switch
// unsafeSkipMembershipBarrier shows it here, and the mutation suite removes the barrier from the source. A
// failure names the command that replays it: npm run sim -- --seed S --family membership
import { describe, expect, it } from 'vitest';
import { runFamily, runRequest } from './run-seeds.js';
import { FAMILIES } from './replay.js';

/** How far the hunt with the barrier off may go: it found its first violation at the 181st seed when written. */
const UNSAFE_HUNT_SEEDS_MAX = 4000;

describe('simulator: membership changes', () => {
  it('keeps every safety property and recovers after heal on 400 seeds', () => {
    const run = runFamily('membership', 400);
    expect(run.failures).toEqual([]);
    const total = (stat: keyof (typeof run.results)[number]['stats']): number => run.results.reduce((sum, r) => sum + r.stats[stat], 0);
    // The schedules really change the membership, many times per run, in every way.
    expect(total('membershipChanges')).toBeGreaterThan(4 * run.results.length);
    expect(total('elections')).toBeGreaterThan(run.results.length);
    expect(total('learnersAdded')).toBeGreaterThan(run.results.length);
    expect(total('votersAdded')).toBeGreaterThan(run.results.length);
    expect(total('promotions')).toBeGreaterThan(run.results.length / 4);
    expect(total('promotionsRefused')).toBeGreaterThan(run.results.length / 10);
    expect(total('learnersRemoved')).toBeGreaterThan(run.results.length / 10);
    expect(total('votersRemoved')).toBeGreaterThan(run.results.length);
  });

  it('without the current-term barrier (unsafeSkipMembershipBarrier) finds two leaders in a term or a leader missing a committed entry', () => {
    const { firstSeed } = FAMILIES.membership;
    let found: { seed: number; property: string; message: string } | null = null;
    for (let seed = firstSeed; seed < firstSeed + UNSAFE_HUNT_SEEDS_MAX && found === null; seed++) {
      const result = runRequest({ seed, family: 'membership', overrides: { unsafeSkipMembershipBarrier: true } });
      // A liveness failure may come first in some seeds; only a broken safety property is the bug shown here.
      if (result.failure?.kind === 'correctness') found = { seed, ...result.failure };
    }
    expect(found, `no safety violation within ${UNSAFE_HUNT_SEEDS_MAX} seeds`).not.toBeNull();
    expect(['election-safety', 'leader-completeness']).toContain(found?.property);
  });
});
