// Lease reads and restarts: a voter that restarts forgets which leader it heard from, so it holds off votes
// for an election timeout of its own (the lease bound assumes no voter forgets a lease it granted).
import { describe, expect, it } from 'vitest';
import type { Message } from '../../src/raft/index.js';
import { newCore } from './in-memory-cluster.js';

const ELECTION_TICKS = 10;

describe('a node that has just started, with lease reads', () => {
  // The lease bound (docs/SIMULATOR.md) assumes a voter never forgets a lease it granted: one that restarts
  // knows no leader, and would otherwise vote at once for a candidate while the old leader still serves reads.
  const voteRequest = (to: string): Message => ({
    type: 'VoteRequest',
    from: 'n2',
    to,
    term: 5,
    preVote: false,
    lastLogIndex: 10,
    lastLogTerm: 4,
    transfer: false,
  });
  const granted = (core: ReturnType<typeof newCore>): boolean | undefined => {
    const ready = core.ready();
    const response = [...ready.messages, ...ready.messagesAfterPersist].find((m) => m.type === 'VoteResponse');
    return response?.type === 'VoteResponse' ? response.granted : undefined;
  };

  it('holds off votes for an election timeout of its own, then votes; without lease reads it votes at once', () => {
    const lease = newCore('n1', ['n1', 'n2', 'n3'], { electionTicks: ELECTION_TICKS, readMode: 'lease', checkQuorum: true });
    lease.step(voteRequest('n1'));
    expect(granted(lease)).not.toBe(true);
    for (let i = 0; i < ELECTION_TICKS; i++) lease.tick();
    lease.step(voteRequest('n1'));
    expect(granted(lease)).toBe(true);
    const safe = newCore('n1', ['n1', 'n2', 'n3'], { electionTicks: ELECTION_TICKS, readMode: 'safe', checkQuorum: true });
    safe.step(voteRequest('n1'));
    expect(granted(safe)).toBe(true);
  });
});
