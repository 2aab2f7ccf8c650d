// A leader that removes itself and loses its leadership before the removal commits (thesis 4.2.2). Its log then
// outranks the remaining voters', who cannot win without its vote: it must still campaign, under the new
// configuration and without counting its own vote, win, commit its removal and step down. Found by the
// simulator's disks family (seed 7000298: CheckQuorum stepped such a leader down during a partition, and no
// leader was ever elected again).
import { describe, expect, it } from 'vitest';
import type { Message } from '../../src/raft/index.js';
import { InMemoryCluster } from './in-memory-cluster.js';

const ELECTION_TICKS = 10;

describe('a leader removing itself that loses its leadership before the removal commits', () => {
  it('campaigns under the new configuration, wins without its own vote, commits its removal and steps down', () => {
    const c = new InMemoryCluster({ size: 4, seed: 11, core: { electionTicks: ELECTION_TICKS, heartbeatTicks: 1, checkQuorum: true } });
    const n4 = c.elect('n4');
    // n2 is gone for good: the old configuration (four voters) needs n1, n3 and n4.
    c.isolate('n2');
    expect(n4.changeMembership({ kind: 'remove', id: 'n4' }).ok).toBe(true);
    // The entry reaches nobody: n4's log now outranks n1's and n3's.
    const carriesEntries = (m: Message): boolean => m.type === 'AppendRequest' && m.entries.length > 0;
    c.processAll();
    c.drop(carriesEntries);
    expect(n4.configuration.voters).toEqual(['n1', 'n2', 'n3']);
    expect(n4.configurationIndex).toBeGreaterThan(n4.committed);
    // Cut off, CheckQuorum steps it down before its removal commits.
    c.isolate('n4');
    for (let tick = 0; tick < 2 * ELECTION_TICKS && n4.isLeader; tick++) c.tickAll();
    expect(n4.isLeader).toBe(false);
    // The partition heals (n2 stays gone). n1 and n3 cannot win: they need n4's vote, and n4's log is longer.
    c.heal();
    c.isolate('n2');
    c.tickAll(10 * ELECTION_TICKS);
    const leader = c.leader();
    expect(leader).toBeDefined();
    expect(['n1', 'n3']).toContain(leader?.options.id);
    expect(leader?.configuration.voters).toEqual(['n1', 'n2', 'n3']);
    expect(leader?.committed).toBeGreaterThanOrEqual(n4.configurationIndex);
    expect(n4.isLeader).toBe(false);
  });
});
