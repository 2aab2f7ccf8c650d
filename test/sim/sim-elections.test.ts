// Elections with voters that crash right after granting a vote and come back within a message delay, no
// PreVote, short timeouts and long delays. A node that forgot its vote would grant a second one in the same
// term: two leaders. A failure names the command that replays it: npm run sim -- --seed S --family elections
import { describe, expect, it } from 'vitest';
import { runFamily } from './run-seeds.js';

describe('simulator: elections with voters that crash after voting', () => {
  it('elects at most one leader per term and recovers after heal on 300 seeds', () => {
    const run = runFamily('elections', 300);
    expect(run.failures).toEqual([]);
    const crashes = run.results.reduce((sum, r) => sum + r.stats.crashes, 0);
    const elections = run.results.reduce((sum, r) => sum + r.stats.elections, 0);
    expect(crashes).toBeGreaterThan(10 * run.results.length);
    expect(elections).toBeGreaterThan(2 * run.results.length);
  });
});
