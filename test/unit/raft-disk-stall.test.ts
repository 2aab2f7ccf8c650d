// A leader whose disk stalls (issue 18, item 1): it steps down within persistStallTicks and hands over to a
// caught-up follower, with one election and no storm after it; a slow disk that keeps finishing its writes
// never trips the rule.
import { describe, expect, it } from 'vitest';
import type { Message } from '../../src/raft/index.js';
import { bytes, InMemoryCluster } from './in-memory-cluster.js';

const STALL_TICKS = 30;
const ELECTION_TICKS = 10;

function cluster(): InMemoryCluster {
  return new InMemoryCluster({
    size: 3,
    seed: 5,
    core: { electionTicks: ELECTION_TICKS, heartbeatTicks: 1, persistStallTicks: STALL_TICKS },
  });
}

describe('a leader whose disk stalls', () => {
  it('keeps committing through its followers, then steps down within persistStallTicks and hands over in one election', () => {
    const c = cluster();
    const n1 = c.elect('n1');
    const term = n1.status().term;
    c.holdDisk('n1');
    expect(n1.propose([bytes('during-stall')]).ok).toBe(true);
    c.stabilize();
    // Thesis 10.2.1: the followers' acknowledgements commit the entry while the leader's own write waits.
    expect(c.appliedCommands('n2')).toContain('during-stall');
    const ticks: number[] = [];
    for (let tick = 1; tick <= STALL_TICKS && n1.isLeader; tick++) {
      c.tickAll();
      ticks.push(tick);
    }
    expect(n1.isLeader).toBe(false);
    expect(ticks.length).toBe(STALL_TICKS);
    expect(n1.stalledStepDownCount).toBe(1);
    // It handed over by TimeoutNow: a follower leads in the next term at once, without waiting out a timeout.
    const leader = c.leader();
    expect(leader?.options.id).not.toBe('n1');
    expect(leader?.status().term).toBe(term + 1);
    // The stall goes on for many election timeouts: no further elections (PreVote and CheckQuorum hold, and the
    // stalled node cannot campaign without recording its vote).
    c.tickAll(10 * ELECTION_TICKS);
    expect(c.leader()?.status().term).toBe(term + 1);
    expect(n1.status().term).toBe(term + 1);
    expect(n1.status().role).toBe('follower');
    // Writes go on at the new leader; once the disk is back, the old leader catches up with them.
    expect(c.leader()?.propose([bytes('after')]).ok).toBe(true);
    c.stabilize();
    c.releaseDisk('n1');
    c.tickAll(3);
    expect(c.appliedCommands('n1')).toEqual(expect.arrayContaining(['during-stall', 'after']));
  });

  it('stays leader on a slow disk that finishes each write, however long the run', () => {
    const c = cluster();
    const n1 = c.elect('n1');
    const term = n1.status().term;
    for (let round = 0; round < 20; round++) {
      c.holdDisk('n1');
      expect(n1.propose([bytes(`w${round}`)]).ok).toBe(true);
      c.stabilize();
      c.tickAll(STALL_TICKS - 5);
      c.releaseDisk('n1');
      c.stabilize();
    }
    expect(n1.isLeader).toBe(true);
    expect(n1.status().term).toBe(term);
    expect(n1.stalledStepDownCount).toBe(0);
  });

  it('steps down even when no follower holds its whole log, and the followers elect a leader by timeout', () => {
    const c = cluster();
    const n1 = c.elect('n1');
    const term = n1.status().term;
    c.holdDisk('n1');
    expect(n1.propose([bytes('unreplicated')]).ok).toBe(true);
    // Heartbeats flow both ways, but every append that carries entries is lost: nobody holds n1's last entry.
    const carriesEntries = (m: Message): boolean => m.type === 'AppendRequest' && m.entries.length > 0;
    const settle = (): void => {
      for (let i = 0; i < 1000; i++) {
        c.processAll();
        c.drop(carriesEntries);
        if (c.deliver() === 0) return;
      }
    };
    // One tick more than the stall: the entry is handed to the disk at the first tick's turn.
    for (let tick = 0; tick <= STALL_TICKS && n1.isLeader; tick++) {
      for (const id of ['n1', 'n2', 'n3']) c.tick(id);
      settle();
    }
    expect(n1.isLeader).toBe(false);
    expect(n1.stalledStepDownCount).toBe(1);
    expect(c.delivered.some((m) => m.type === 'TimeoutNow')).toBe(false);
    c.tickAll(4 * ELECTION_TICKS);
    const leader = c.leader();
    expect(leader?.options.id).not.toBe('n1');
    expect(leader?.status().term).toBeGreaterThan(term);
  });
});
