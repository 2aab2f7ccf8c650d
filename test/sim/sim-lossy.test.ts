// 1,000 schedules of 5 nodes where some or all links drop 40% of messages, on top of the seed's other faults.
import { describe, expect, it } from 'vitest';
import { runFamily } from './run-seeds.js';

describe('simulator: 5 nodes, 40% loss on some links', () => {
  it('keeps every safety property and recovers after heal on 1,000 seeds', () => {
    const run = runFamily('lossy', 1000);
    expect(run.failures).toEqual([]);
    const dropped = run.results.reduce((sum, r) => sum + r.stats.messagesDropped, 0);
    const sent = run.results.reduce((sum, r) => sum + r.stats.messagesSent, 0);
    expect(dropped / sent).toBeGreaterThan(0.15);
    expect(run.results.reduce((sum, r) => sum + r.stats.writesOk, 0)).toBeGreaterThan(10_000);
  });

  it('commits with 40% loss on every link and nothing else going wrong', () => {
    const run = runFamily('lossy-everywhere', 100);
    expect(run.failures).toEqual([]);
    for (const result of run.results) expect(result.stats.writesOk).toBeGreaterThan(0);
  });
});
