// Tests that read like the Raft paper (Ongaro and Ousterhout, "In Search of an Understandable Consensus
// Algorithm") and Ongaro's thesis ("Consensus: Bridging Theory and Practice"). Each test names the section
// it checks. Built on a small in-memory harness: see in-memory-cluster.ts.
import { describe, expect, it } from 'vitest';
import { InvariantError, memorySnapshotSource, RaftLog } from '../../src/raft/index.js';
import type {
  AppendRequest,
  AppendResponse,
  Entry,
  Message,
  NodeId,
  RaftCore,
  Ready,
  SnapshotMeta,
  SnapshotRequest,
  VoteRequest,
  VoteResponse,
} from '../../src/raft/index.js';
import { bytes, commandEntry, type CoreOptions, entriesWithTerms, InMemoryCluster, newCore, nodeIds } from './in-memory-cluster.js';

const ELECTION_TICKS = 10;
const THREE = nodeIds(3);
const FIVE = nodeIds(5);
/** Plain Raft as in the paper: no PreVote, no CheckQuorum, so nothing but the rules under test decides. */
const PLAIN: CoreOptions = { preVote: false, checkQuorum: false };

// ---------------------------------------------------------------------------
// Small helpers for driving a single core by hand.

function appendRequest(fields: Pick<AppendRequest, 'from' | 'to' | 'term'> & Partial<AppendRequest>): AppendRequest {
  return { type: 'AppendRequest', prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0, round: 0, ...fields };
}

function appendResponse(fields: Pick<AppendResponse, 'from' | 'to' | 'term' | 'matchIndex'> & Partial<AppendResponse>): AppendResponse {
  return { type: 'AppendResponse', success: true, rejectIndex: 0, conflictIndex: 0, conflictTerm: 0, round: 0, ...fields };
}

function voteRequest(fields: Pick<VoteRequest, 'from' | 'to' | 'term'> & Partial<VoteRequest>): VoteRequest {
  return { type: 'VoteRequest', preVote: false, lastLogIndex: 0, lastLogTerm: 0, transfer: false, ...fields };
}

function voteResponse(fields: Pick<VoteResponse, 'from' | 'to' | 'term' | 'granted'> & Partial<VoteResponse>): VoteResponse {
  return { type: 'VoteResponse', preVote: false, ...fields };
}

/** Takes a Ready and reports its entries durable at once. */
function drain(core: RaftCore): Ready {
  const ready = core.ready();
  const last = ready.entries[ready.entries.length - 1];
  if (last !== undefined) core.persisted({ index: last.index, term: last.term });
  return ready;
}

function allMessages(ready: Ready): Message[] {
  return [...ready.messages, ...ready.messagesAfterPersist];
}

function tickUntilRoleChanges(core: RaftCore, ticksMax = 2 * ELECTION_TICKS): number {
  const role = core.status().role;
  for (let ticks = 1; ticks <= ticksMax; ticks++) {
    core.tick();
    if (core.status().role !== role) return ticks;
  }
  throw new Error(`${core.id} stayed ${role} for ${ticksMax} ticks`);
}

/** Makes a lone core leader by handing it the votes of its peers. */
function electAlone(core: RaftCore): void {
  tickUntilRoleChanges(core);
  const peers = core.status().membership.voters.filter((id) => id !== core.id);
  for (const peer of peers) {
    const status = core.status();
    if (status.role === 'pre-candidate') {
      core.step(voteResponse({ from: peer, to: core.id, term: status.term + 1, preVote: true, granted: true }));
    }
  }
  for (const peer of peers) {
    const status = core.status();
    if (status.role === 'candidate') core.step(voteResponse({ from: peer, to: core.id, term: status.term, granted: true }));
  }
  expect(core.status().role).toBe('leader');
}

function logTerms(core: RaftCore): number[] {
  const log: RaftLog = core.log;
  const terms: number[] = [];
  for (let index = log.firstIndex; index <= log.lastIndex; index++) terms.push(log.termAt(index) as number);
  return terms;
}

function isAppend(message: Message): message is AppendRequest {
  return message.type === 'AppendRequest';
}

function commands(count: number, prefix = 'c', sizeBytes = 16): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => bytes(`${prefix}${i}`.padEnd(sizeBytes, '.')));
}

// ---------------------------------------------------------------------------

describe('5.1 Raft basics: terms', () => {
  // Reference: section 5.1
  it('a follower, candidate or leader that sees a larger term adopts it and becomes a follower', () => {
    const follower = newCore('n1', THREE, PLAIN);
    follower.step(appendRequest({ from: 'n2', to: 'n1', term: 2 }));
    expect(follower.status()).toMatchObject({ role: 'follower', term: 2, leaderId: 'n2', votedFor: null });
    expect(follower.ready().hardState).toMatchObject({ term: 2, votedFor: null });

    const candidate = newCore('n1', THREE, PLAIN);
    tickUntilRoleChanges(candidate);
    expect(candidate.status()).toMatchObject({ role: 'candidate', term: 1 });
    candidate.step(appendRequest({ from: 'n3', to: 'n1', term: 3 }));
    expect(candidate.status()).toMatchObject({ role: 'follower', term: 3, leaderId: 'n3' });

    const leader = newCore('n1', THREE, PLAIN);
    electAlone(leader);
    expect(leader.status().term).toBe(1);
    leader.step(appendResponse({ from: 'n2', to: 'n1', term: 4, success: false, matchIndex: 0 }));
    expect(leader.status()).toMatchObject({ role: 'follower', term: 4, leaderId: null });
    expect(drain(leader).hardState).toMatchObject({ term: 4, votedFor: null });
  });

  // Reference: section 5.1
  it('a request with a stale term is rejected and changes nothing', () => {
    const core = newCore('n1', THREE, PLAIN, { hardState: { term: 3, votedFor: null, commitIndex: 0 }, entries: entriesWithTerms([1, 2]) });
    drain(core);
    core.step(
      appendRequest({ from: 'n2', to: 'n1', term: 2, prevLogIndex: 2, prevLogTerm: 2, entries: [commandEntry(3, 2)], leaderCommit: 3 }),
    );
    core.step(voteRequest({ from: 'n3', to: 'n1', term: 2, lastLogIndex: 9, lastLogTerm: 2 }));
    const ready = drain(core);
    const replies = allMessages(ready);
    // The stale leader hears the newer term, so it can step down.
    expect(replies).toContainEqual(expect.objectContaining({ type: 'AppendResponse', to: 'n2', term: 3, success: false }));
    // The stale candidate gets no vote.
    expect(replies.filter((m) => m.type === 'VoteResponse' && m.granted)).toEqual([]);
    expect(core.status()).toMatchObject({ term: 3, votedFor: null, leaderId: null, lastIndex: 2, commitIndex: 0 });
    expect(ready.hardState).toBeNull();
  });

  // Reference: section 5.1
  it('a stale vote does not count towards an election', () => {
    const core = newCore('n1', THREE, PLAIN, { hardState: { term: 2, votedFor: null, commitIndex: 0 } });
    tickUntilRoleChanges(core);
    expect(core.status()).toMatchObject({ role: 'candidate', term: 3 });
    core.step(voteResponse({ from: 'n2', to: 'n1', term: 2, granted: true }));
    expect(core.status().role).toBe('candidate');
    core.step(voteResponse({ from: 'n2', to: 'n1', term: 3, granted: true }));
    expect(core.status().role).toBe('leader');
  });
});

describe('5.2 Leader election', () => {
  // Reference: section 5.2
  it('a follower that hears nothing for an election timeout becomes a candidate and asks for votes', () => {
    const core = newCore('n1', THREE, PLAIN);
    for (let i = 0; i < ELECTION_TICKS - 1; i++) core.tick();
    expect(core.status().role).toBe('follower');
    expect(core.hasReady()).toBe(false);
    tickUntilRoleChanges(core, ELECTION_TICKS + 1);
    expect(core.status()).toMatchObject({ role: 'candidate', term: 1, votedFor: 'n1' });
    const ready = drain(core);
    expect(ready.hardState).toMatchObject({ term: 1, votedFor: 'n1' });
    const requests = ready.messagesAfterPersist.filter((m): m is VoteRequest => m.type === 'VoteRequest');
    expect(requests.map((m) => m.to).sort()).toEqual(['n2', 'n3']);
    expect(requests.every((m) => m.term === 1 && !m.preVote)).toBe(true);
    // Vote requests wait for the vote for self to be durable.
    expect(ready.messages.filter((m) => m.type === 'VoteRequest')).toEqual([]);
  });

  // Reference: section 5.2
  it('a candidate that neither wins nor loses starts a new election with a higher term', () => {
    const core = newCore('n1', THREE, PLAIN);
    tickUntilRoleChanges(core);
    expect(core.status().term).toBe(1);
    drain(core);
    for (let i = 0; i < 2 * ELECTION_TICKS && core.status().term === 1; i++) core.tick();
    expect(core.status()).toMatchObject({ role: 'candidate', term: 2, votedFor: 'n1' });
    expect(drain(core).messagesAfterPersist.filter((m) => m.type === 'VoteRequest' && m.term === 2)).toHaveLength(2);
  });

  // Reference: section 5.2
  it.each([
    { size: 1, grants: 0, rejects: 0, role: 'leader' },
    { size: 3, grants: 2, rejects: 0, role: 'leader' },
    { size: 3, grants: 1, rejects: 0, role: 'leader' },
    { size: 3, grants: 0, rejects: 0, role: 'candidate' },
    { size: 3, grants: 0, rejects: 1, role: 'candidate' },
    { size: 3, grants: 0, rejects: 2, role: 'follower' },
    { size: 5, grants: 4, rejects: 0, role: 'leader' },
    { size: 5, grants: 2, rejects: 0, role: 'leader' },
    { size: 5, grants: 1, rejects: 0, role: 'candidate' },
    { size: 5, grants: 1, rejects: 2, role: 'candidate' },
    { size: 5, grants: 1, rejects: 3, role: 'follower' },
  ])('a candidate of $size voters with $grants grants and $rejects rejections ends $role', ({ size, grants, rejects, role }) => {
    const voters = nodeIds(size);
    const core = newCore('n1', voters, PLAIN);
    tickUntilRoleChanges(core);
    const term = core.status().term;
    const peers = voters.slice(1);
    peers.slice(0, grants).forEach((from) => core.step(voteResponse({ from, to: 'n1', term, granted: true })));
    peers.slice(grants, grants + rejects).forEach((from) => core.step(voteResponse({ from, to: 'n1', term, granted: false })));
    expect(core.status().role).toBe(role);
    expect(core.status().term).toBe(term);
  });

  // Reference: section 5.2
  it('the same voter granting twice counts once', () => {
    const core = newCore('n1', FIVE, PLAIN);
    tickUntilRoleChanges(core);
    const term = core.status().term;
    core.step(voteResponse({ from: 'n2', to: 'n1', term, granted: true }));
    core.step(voteResponse({ from: 'n2', to: 'n1', term, granted: true }));
    expect(core.status().role).toBe('candidate');
    core.step(voteResponse({ from: 'n3', to: 'n1', term, granted: true }));
    expect(core.status().role).toBe('leader');
  });

  // Reference: section 5.2 ("each server will vote for at most one candidate in a given term")
  it('a node votes for at most one candidate per term, and remembers its vote across a restart', () => {
    const core = newCore('n1', THREE, PLAIN);
    const granted = (ready: Ready, to: NodeId): boolean | undefined =>
      allMessages(ready).find((m): m is VoteResponse => m.type === 'VoteResponse' && m.to === to)?.granted;
    core.step(voteRequest({ from: 'n2', to: 'n1', term: 1 }));
    const first = drain(core);
    expect(granted(first, 'n2')).toBe(true);
    expect(first.hardState).toMatchObject({ term: 1, votedFor: 'n2' });
    core.step(voteRequest({ from: 'n3', to: 'n1', term: 1 }));
    expect(granted(drain(core), 'n3')).toBe(false);
    core.step(voteRequest({ from: 'n2', to: 'n1', term: 1 })); // a retry of the same request
    expect(granted(drain(core), 'n2')).toBe(true);
    expect(core.status().votedFor).toBe('n2');

    const restarted = newCore('n1', THREE, PLAIN, { hardState: { term: 1, votedFor: 'n2', commitIndex: 0 } });
    restarted.step(voteRequest({ from: 'n3', to: 'n1', term: 1 }));
    expect(granted(drain(restarted), 'n3')).toBe(false);
  });

  // Reference: section 5.2 ("election timeouts are chosen randomly from a fixed interval")
  it('election timeouts are random in [electionTicks, 2 * electionTicks) and differ across nodes', () => {
    const timeoutOf = (seed: number): number => tickUntilRoleChanges(newCore('n1', THREE, PLAIN, {}, seed));
    const firstTimeouts = Array.from({ length: 20 }, (_, seed) => timeoutOf(seed + 1));
    for (const ticks of firstTimeouts) {
      expect(ticks).toBeGreaterThanOrEqual(ELECTION_TICKS);
      expect(ticks).toBeLessThan(2 * ELECTION_TICKS);
    }
    expect(new Set(firstTimeouts).size).toBeGreaterThan(3);

    // One node, many elections in a row: the timeout is drawn afresh each time and covers the interval.
    const core = newCore('n1', THREE, PLAIN, {}, 7);
    const seen = new Set<number>();
    for (let election = 0; election < 300; election++) {
      const term = core.status().term;
      let ticks = 0;
      while (core.status().term === term) {
        core.tick();
        ticks++;
      }
      seen.add(ticks);
    }
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: ELECTION_TICKS }, (_, i) => ELECTION_TICKS + i));
  });

  // Reference: section 5.2 (election safety: at most one leader per term)
  it('a cluster under randomized timeouts elects exactly one leader per term', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const cluster = new InMemoryCluster({ size: 5, seed, core: PLAIN });
      const leadersByTerm = new Map<number, Set<NodeId>>();
      for (let tick = 0; tick < 200; tick++) {
        cluster.tickAll();
        for (const core of cluster.nodes.values()) {
          const status = core.status();
          if (status.role !== 'leader') continue;
          const leaders = leadersByTerm.get(status.term) ?? new Set<NodeId>();
          leaders.add(core.id);
          leadersByTerm.set(status.term, leaders);
        }
      }
      expect(leadersByTerm.size).toBeGreaterThan(0);
      for (const leaders of leadersByTerm.values()) expect(leaders.size).toBe(1);
    }
  });
});

describe('5.3 Log replication', () => {
  // Reference: section 5.3
  it('the leader appends a proposal to its log and sends it to every follower', () => {
    const cluster = new InMemoryCluster({ size: 3 });
    const leader = cluster.elect('n1');
    const term = leader.status().term;
    const noopIndex = leader.status().lastIndex;
    const result = leader.propose([bytes('x')]);
    expect(result).toEqual({ ok: true, term, firstIndex: noopIndex + 1 });
    const ready = leader.ready();
    expect(ready.entries).toEqual([{ type: 'command', term, index: noopIndex + 1, data: bytes('x') }]);
    const appends = ready.messages.filter(isAppend);
    expect(appends.map((m) => m.to).sort()).toEqual(['n2', 'n3']);
    for (const append of appends) {
      expect(append).toMatchObject({ term, prevLogIndex: noopIndex, prevLogTerm: term });
      expect(append.entries.map((e) => e.index)).toEqual([noopIndex + 1]);
    }
  });

  // Reference: section 5.3
  it('a committed proposal reaches every state machine in the same order', () => {
    const cluster = new InMemoryCluster({ size: 3 });
    const leader = cluster.elect('n1');
    for (const word of ['a', 'b', 'c']) leader.propose([bytes(word)]);
    leader.propose([bytes('d'), bytes('e')]);
    cluster.stabilize();
    for (const id of THREE) expect(cluster.appliedCommands(id)).toEqual(['a', 'b', 'c', 'd', 'e']);
    for (const id of THREE) expect(cluster.node(id).status().commitIndex).toBe(leader.status().lastIndex);
  });

  // Reference: section 5.3 (AppendEntries consistency check)
  it('a follower rejects an append whose previous entry it does not hold, and keeps its log', () => {
    const core = newCore('n1', THREE, PLAIN, { hardState: { term: 2, votedFor: null, commitIndex: 0 }, entries: entriesWithTerms([1, 1]) });
    core.step(appendRequest({ from: 'n2', to: 'n1', term: 2, prevLogIndex: 2, prevLogTerm: 2, entries: [commandEntry(3, 2)] }));
    const mismatch = drain(core).messagesAfterPersist[0];
    expect(mismatch).toMatchObject({ type: 'AppendResponse', to: 'n2', success: false, rejectIndex: 2, conflictIndex: 1, conflictTerm: 1 });
    expect(logTerms(core)).toEqual([1, 1]);

    core.step(appendRequest({ from: 'n2', to: 'n1', term: 2, prevLogIndex: 5, prevLogTerm: 2, entries: [commandEntry(6, 2)] }));
    const missing = drain(core).messagesAfterPersist[0];
    expect(missing).toMatchObject({ type: 'AppendResponse', success: false, rejectIndex: 5, conflictIndex: 3 });
    expect(logTerms(core)).toEqual([1, 1]);
  });

  // Reference: section 5.3 ("if an existing entry conflicts with a new one, delete it and all that follow")
  it.each([
    { prev: [2, 2], entries: [[3, 3]], want: [1, 2, 3] },
    {
      prev: [1, 1],
      entries: [
        [2, 3],
        [3, 4],
      ],
      want: [1, 3, 4],
    },
    { prev: [0, 0], entries: [[1, 1]], want: [1, 2, 3] },
    { prev: [0, 0], entries: [[1, 3]], want: [3] },
    { prev: [3, 3], entries: [], want: [1, 2, 3] },
  ])('a follower with log [1, 2, 3] given prev $prev and entries $entries ends with $want', ({ prev, entries, want }) => {
    const core = newCore('n1', THREE, PLAIN, {
      hardState: { term: 3, votedFor: null, commitIndex: 0 },
      entries: entriesWithTerms([1, 2, 3]),
    });
    const [prevLogIndex, prevLogTerm] = prev as [number, number];
    const newEntries = entries.map(([index, term]) => commandEntry(index as number, term as number));
    core.step(appendRequest({ from: 'n2', to: 'n1', term: 4, prevLogIndex, prevLogTerm, entries: newEntries }));
    const reply = drain(core).messagesAfterPersist[0];
    expect(reply).toMatchObject({ type: 'AppendResponse', success: true, matchIndex: prevLogIndex + newEntries.length });
    expect(logTerms(core)).toEqual(want);
  });

  // Reference: section 5.3 ("a log entry is committed once the leader has replicated it on a majority")
  it('the leader commits an entry once a majority stores it, and not before', () => {
    const cluster = new InMemoryCluster({ size: 5 });
    const leader = cluster.elect('n1');
    cluster.isolate('n4');
    cluster.isolate('n5');
    const first = leader.propose([bytes('three of five')]);
    cluster.stabilize();
    expect(first.ok).toBe(true);
    const firstIndex = first.ok ? first.firstIndex : -1;
    expect(leader.status().commitIndex).toBe(firstIndex);
    expect(cluster.appliedCommands('n1')).toEqual(['three of five']);

    cluster.isolate('n3');
    const second = leader.propose([bytes('two of five')]);
    cluster.stabilize();
    expect(second.ok).toBe(true);
    expect(leader.status().commitIndex).toBe(firstIndex);
    expect(cluster.node('n2').status().lastIndex).toBe(firstIndex + 1);
    expect(cluster.appliedCommands('n1')).toEqual(['three of five']);

    cluster.heal();
    // The appends lost on the cut links are noticed by heartbeat rounds (flow control allows two of slack).
    for (let i = 0; i < 4; i++) {
      cluster.tick('n1', leader.options.heartbeatTicks);
      cluster.stabilize();
    }
    expect(leader.status().commitIndex).toBe(firstIndex + 1);
    for (const id of FIVE) expect(cluster.appliedCommands(id)).toEqual(['three of five', 'two of five']);
  });

  // Reference: section 5.3 ("the leader keeps track of the highest index it knows to be committed ... followers learn")
  it('followers learn the commit index from the leader and only then apply', () => {
    const cluster = new InMemoryCluster({ size: 3 });
    const leader = cluster.elect('n1');
    const result = leader.propose([bytes('v')]);
    const index = result.ok ? result.firstIndex : -1;
    cluster.processAll(); // the leader sends the entry
    cluster.deliver(); // followers append it
    cluster.processAll(); // followers persist and acknowledge
    for (const id of ['n2', 'n3']) {
      expect(cluster.node(id).status().lastIndex).toBe(index);
      expect(cluster.node(id).status().commitIndex).toBeLessThan(index);
      expect(cluster.appliedCommands(id)).toEqual([]);
    }
    cluster.deliver(); // the leader hears the acknowledgements
    cluster.processAll(); // commits, applies, tells followers
    expect(leader.status().commitIndex).toBe(index);
    expect(cluster.appliedCommands('n1')).toEqual(['v']);
    const told = cluster.inFlight.filter((m): m is AppendRequest => isAppend(m) && m.leaderCommit >= index);
    expect(told.map((m) => m.to).sort()).toEqual(['n2', 'n3']);
    cluster.stabilize();
    for (const id of ['n2', 'n3']) {
      expect(cluster.node(id).status().commitIndex).toBe(index);
      expect(cluster.appliedCommands(id)).toEqual(['v']);
    }
  });

  // Reference: section 5.3, Figure 7 (the leader brings every follower's log into agreement with its own)
  it.each([
    { name: 'a', follower: [1, 1, 1, 4, 4, 5, 5, 6, 6] },
    { name: 'b', follower: [1, 1, 1, 4] },
    { name: 'c', follower: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6] },
    { name: 'd', follower: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7] },
    { name: 'e', follower: [1, 1, 1, 4, 4, 4, 4] },
    { name: 'f', follower: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3] },
  ])('Figure 7 ($name): the leader of term 8 makes the follower log equal to its own', ({ follower }) => {
    const leaderLog = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    const cluster = new InMemoryCluster({
      size: 3,
      boot: {
        n1: { hardState: { term: 7, votedFor: null, commitIndex: 0 }, entries: entriesWithTerms(leaderLog) },
        n2: { hardState: { term: 7, votedFor: null, commitIndex: 0 }, entries: entriesWithTerms(follower) },
      },
    });
    const leader = cluster.elect('n1');
    expect(leader.status().term).toBe(8);
    cluster.stabilize();
    expect(logTerms(cluster.node('n2'))).toEqual([...leaderLog, 8]);
    expect(logTerms(cluster.node('n3'))).toEqual([...leaderLog, 8]);
    for (const id of THREE) expect(cluster.node(id).status().commitIndex).toBe(11);
  });
});

describe('5.4 Safety', () => {
  // Reference: section 5.4.1 ("the voter denies its vote if its own log is more up-to-date")
  it.each([
    { lastLogTerm: 2, lastLogIndex: 2, granted: true },
    { lastLogTerm: 2, lastLogIndex: 3, granted: true },
    { lastLogTerm: 3, lastLogIndex: 1, granted: true },
    { lastLogTerm: 2, lastLogIndex: 1, granted: false },
    { lastLogTerm: 1, lastLogIndex: 5, granted: false },
    { lastLogTerm: 0, lastLogIndex: 0, granted: false },
  ])(
    'a voter with log [1, 2] answers a candidate with last entry (term $lastLogTerm, index $lastLogIndex): $granted',
    ({ lastLogTerm, lastLogIndex, granted }) => {
      const core = newCore('n1', THREE, PLAIN, {
        hardState: { term: 2, votedFor: null, commitIndex: 0 },
        entries: entriesWithTerms([1, 2]),
      });
      core.step(voteRequest({ from: 'n2', to: 'n1', term: 3, lastLogTerm, lastLogIndex }));
      const ready = drain(core);
      const reply = ready.messagesAfterPersist.find((m): m is VoteResponse => m.type === 'VoteResponse');
      expect(reply).toMatchObject({ to: 'n2', term: 3, granted });
      expect(core.status().votedFor).toBe(granted ? 'n2' : null);
    },
  );

  // Reference: section 5.4.1 (Election restriction: a candidate missing committed entries cannot win)
  it('a node that missed committed entries cannot be elected, and the entries survive', () => {
    const cluster = new InMemoryCluster({ size: 3, core: PLAIN });
    const leader = cluster.elect('n1');
    cluster.isolate('n3');
    leader.propose([bytes('committed')]);
    cluster.stabilize();
    expect(cluster.appliedCommands('n2')).toEqual(['committed']);
    cluster.heal();
    cluster.campaign('n3');
    expect(cluster.node('n3').isLeader).toBe(false);
    expect([...cluster.nodes.values()].filter((core) => core.isLeader)).toEqual([]);
    // Whoever wins next holds the committed entry.
    cluster.campaign('n2');
    expect(cluster.node('n2').isLeader).toBe(true);
    cluster.stabilize();
    for (const id of THREE) expect(cluster.appliedCommands(id)).toEqual(['committed']);
  });

  // Reference: section 5.4.2 ("never commits log entries from previous terms by counting replicas"), Figure 8
  it('a leader does not commit an entry of an older term on a majority of replicas alone', () => {
    const core = newCore('n1', THREE, PLAIN, { hardState: { term: 2, votedFor: null, commitIndex: 0 }, entries: entriesWithTerms([1, 2]) });
    electAlone(core);
    const term = core.status().term;
    expect(term).toBe(3);
    drain(core); // the leader's own no-op at index 3 is now durable
    // n2 holds index 2 (term 2): with the leader that is a majority, but it is not of the current term.
    core.step(appendResponse({ from: 'n2', to: 'n1', term, matchIndex: 2 }));
    expect(core.status().commitIndex).toBe(0);
    expect(drain(core).committedEntries).toEqual([]);
    // Once an entry of the current term is on a majority, it and everything before it commit.
    core.step(appendResponse({ from: 'n2', to: 'n1', term, matchIndex: 3 }));
    expect(core.status().commitIndex).toBe(3);
    expect(drain(core).committedEntries.map((e) => [e.index, e.term])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
  });

  // Reference: section 5.4.2, Figure 8 (c)-(d) played out on a five-node cluster
  it('Figure 8: an old-term entry on a majority is not committed, and is later overwritten', () => {
    const cluster = new InMemoryCluster({
      size: 5,
      // One entry per AppendRequest, so the old entry and the new leader's own entry travel apart.
      core: { ...PLAIN, appendEntriesMax: 1 },
      boot: {
        n1: { hardState: { term: 4, votedFor: 'n1', commitIndex: 1 }, entries: entriesWithTerms([1, 2]) },
        n2: { hardState: { term: 4, votedFor: 'n1', commitIndex: 1 }, entries: entriesWithTerms([1]) },
        n3: { hardState: { term: 4, votedFor: 'n1', commitIndex: 1 }, entries: entriesWithTerms([1]) },
        n4: { hardState: { term: 4, votedFor: 'n1', commitIndex: 1 }, entries: entriesWithTerms([1]) },
        n5: { hardState: { term: 5, votedFor: null, commitIndex: 1 }, entries: entriesWithTerms([1, 3]) },
      },
    });
    // S5 does not hear from S1 in term 5 (else S1 would overwrite S5's term-3 entry first).
    cluster.cutLink('n1', 'n5');
    // (c): S1 leads term 5 and copies its term-2 entry at index 2 to S2, S3 and S4, but every
    // AppendRequest carrying its own no-op (index 3, term 5) is lost.
    const s1 = cluster.node('n1');
    tickUntilRoleChanges(s1);
    // An append carrying the no-op is lost whenever it would be accepted (a follower still missing
    // index 2 rejects it, which is how S1 learns to send index 2 first).
    const carriesNoop = (m: Message): boolean =>
      isAppend(m) && m.entries.some((e) => e.index === 3) && cluster.node(m.to).log.matchTerm(m.prevLogIndex, m.prevLogTerm);
    cluster.processAll();
    for (let i = 0; i < 20 && cluster.inFlight.length > 0; i++) {
      cluster.drop(carriesNoop);
      cluster.deliver();
      cluster.processAll();
    }
    expect(s1.status()).toMatchObject({ role: 'leader', term: 5 });
    for (const id of ['n2', 'n3', 'n4']) expect(logTerms(cluster.node(id))).toEqual([1, 2]);
    // Index 2 is on four of five servers, but it is of term 2: counting replicas must not commit it.
    expect(s1.status().commitIndex).toBe(1);
    // S1 crashes. (d): S5, whose last entry has term 3, wins term 6 with the votes of S2, S3, S4 ...
    cluster.isolate('n1');
    cluster.campaign('n5');
    expect(cluster.node('n5').isLeader).toBe(true);
    cluster.stabilize();
    // ... and overwrites index 2 everywhere it can reach. Had it been committed, that would lose a committed entry.
    for (const id of ['n2', 'n3', 'n4', 'n5']) expect(logTerms(cluster.node(id)).slice(0, 2)).toEqual([1, 3]);
    for (const id of FIVE) expect(cluster.applied.get(id)?.some((e) => e.index === 2 && e.term === 2)).toBe(false);
  });
});

describe('thesis 6.4 Linearizable reads (ReadIndex)', () => {
  function readyCluster(size = 3): { cluster: InMemoryCluster; leader: RaftCore } {
    const cluster = new InMemoryCluster({ size });
    const leader = cluster.elect('n1');
    cluster.stabilize();
    return { cluster, leader };
  }

  // Reference: thesis section 6.4 (steps 2-3: a heartbeat round acknowledged by a majority)
  it('a read is answered only after a quorum acknowledges a heartbeat round sent after it', () => {
    const { cluster, leader } = readyCluster();
    leader.propose([bytes('w')]);
    cluster.stabilize();
    const commitIndex = leader.status().commitIndex;
    expect(leader.readIndex(7)).toEqual({ ok: true });
    cluster.process('n1');
    expect(cluster.readStates.get('n1')).toEqual([]);
    const heartbeats = cluster.inFlight.filter((m): m is AppendRequest => isAppend(m) && m.from === 'n1');
    expect(heartbeats.map((m) => m.to).sort()).toEqual(['n2', 'n3']);
    cluster.drop((m) => m.to === 'n3');
    cluster.deliver(); // n2 gets its heartbeat
    cluster.processAll(); // n2 answers
    expect(cluster.readStates.get('n1')).toEqual([]);
    cluster.deliver(); // the leader hears n2: with itself, a majority
    cluster.process('n1');
    expect(cluster.readStates.get('n1')).toEqual([{ context: 7, index: commitIndex }]);
  });

  // Reference: thesis section 6.4
  it('an acknowledgement of an older round does not confirm a read', () => {
    const { cluster, leader } = readyCluster();
    cluster.tick('n1', leader.options.heartbeatTicks); // a heartbeat round goes out before the read
    cluster.processAll();
    const older = cluster.inFlight.splice(0);
    expect(leader.readIndex(1)).toEqual({ ok: true });
    cluster.process('n1');
    cluster.drop(); // the read's round is lost
    cluster.inFlight.push(...older); // the older round arrives
    cluster.stabilize();
    expect(cluster.readStates.get('n1')).toEqual([]);
    cluster.tick('n1', leader.options.heartbeatTicks);
    cluster.stabilize();
    expect(cluster.readStates.get('n1')?.map((r) => r.context)).toEqual([1]);
  });

  // Reference: thesis section 6.4
  it('a leader cut off from the majority never answers a read', () => {
    const { cluster, leader } = readyCluster();
    cluster.isolate('n1');
    expect(leader.readIndex(1).ok).toBe(true);
    for (let i = 0; i < 3 * ELECTION_TICKS; i++) {
      cluster.tick('n1');
      cluster.stabilize();
    }
    expect(cluster.readStates.get('n1')).toEqual([]);
  });

  // Reference: thesis section 6.4 ("the leader can batch many reads behind one round of heartbeats")
  it('a batch of many reads is confirmed by a single heartbeat round', () => {
    const { cluster, leader } = readyCluster(5);
    const sentBefore = cluster.sent.length;
    for (let context = 0; context < 500; context++) expect(leader.readIndex(context)).toEqual({ ok: true });
    cluster.stabilize();
    const appends = cluster.sent.slice(sentBefore).filter((m) => isAppend(m) && m.from === 'n1');
    expect(appends).toHaveLength(4); // one heartbeat per follower
    const states = cluster.readStates.get('n1') ?? [];
    expect(states.map((s) => s.context)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(new Set(states.map((s) => s.index))).toEqual(new Set([leader.status().commitIndex]));
  });

  // Reference: thesis section 6.4 (step 1: a new leader first commits an entry of its own term)
  it("a new leader answers reads only at or after its own term's first entry", () => {
    const core = newCore('n1', THREE, PLAIN, { hardState: { term: 1, votedFor: null, commitIndex: 1 }, entries: entriesWithTerms([1, 1]) });
    electAlone(core);
    const noopIndex = core.status().lastIndex;
    expect(noopIndex).toBe(3);
    expect(core.readIndex(5)).toEqual({ ok: true });
    const first = drain(core);
    expect(first.readStates).toEqual([]);
    // A heartbeat round answered before the no-op commits does not release the read.
    const round = first.messages.filter(isAppend).reduce((max, m) => Math.max(max, m.round), 0);
    core.step(appendResponse({ from: 'n2', to: 'n1', term: 2, matchIndex: 2, round }));
    expect(drain(core).readStates).toEqual([]);
    // The no-op commits: now a round is started for the read, and its acknowledgement releases it.
    core.step(appendResponse({ from: 'n2', to: 'n1', term: 2, matchIndex: noopIndex, round }));
    const afterCommit = drain(core);
    expect(afterCommit.readStates).toEqual([]);
    const readRound = afterCommit.messages.filter(isAppend).reduce((max, m) => Math.max(max, m.round), 0);
    expect(readRound).toBeGreaterThan(round);
    core.step(appendResponse({ from: 'n3', to: 'n1', term: 2, matchIndex: noopIndex, round: readRound }));
    expect(drain(core).readStates).toEqual([{ context: 5, index: noopIndex }]);
  });

  // Reference: thesis section 6.4
  it('a follower refuses a read and names the leader', () => {
    const { cluster } = readyCluster();
    expect(cluster.node('n2').readIndex(1)).toEqual({ ok: false, reason: 'not-leader', leaderId: 'n1' });
  });
});

describe('thesis 9.6 PreVote', () => {
  // Reference: thesis section 9.6
  it('a partitioned node does not raise its term, and rejoins without disturbing the leader', () => {
    const cluster = new InMemoryCluster({ size: 3 });
    const leader = cluster.elect('n1');
    cluster.stabilize();
    const term = leader.status().term;
    cluster.isolate('n3');
    for (let i = 0; i < 10 * ELECTION_TICKS; i++) cluster.tickAll();
    const n3 = cluster.node('n3').status();
    expect(n3.term).toBe(term);
    expect(n3.role).toBe('pre-candidate');
    cluster.heal();
    cluster.tickAll(2);
    expect(leader.isLeader).toBe(true);
    for (const id of THREE) expect(cluster.node(id).status()).toMatchObject({ term, leaderId: 'n1' });
  });

  // Reference: thesis section 9.6 (without PreVote the same partition inflates the term)
  it('without PreVote the same partitioned node raises its term at every timeout', () => {
    const cluster = new InMemoryCluster({ size: 3, core: { preVote: false } });
    const leader = cluster.elect('n1');
    const term = leader.status().term;
    cluster.isolate('n3');
    for (let i = 0; i < 10 * ELECTION_TICKS; i++) cluster.tickAll();
    expect(cluster.node('n3').status().term).toBeGreaterThan(term + 3);
  });

  // Reference: thesis section 9.6 ("a candidate whose log is not up to date cannot win the pre-vote")
  it('a node with a stale log loses the pre-vote and no term changes anywhere', () => {
    const up: Entry[] = entriesWithTerms([1, 1]);
    const cluster = new InMemoryCluster({
      size: 3,
      boot: {
        n1: { hardState: { term: 1, votedFor: null, commitIndex: 0 }, entries: up },
        n2: { hardState: { term: 1, votedFor: null, commitIndex: 0 }, entries: up },
        n3: { hardState: { term: 1, votedFor: null, commitIndex: 0 }, entries: entriesWithTerms([1]) },
      },
    });
    cluster.campaign('n3');
    const votes = cluster.delivered.filter((m): m is VoteResponse => m.type === 'VoteResponse');
    expect(votes.map((m) => [m.from, m.preVote, m.granted])).toEqual([
      ['n1', true, false],
      ['n2', true, false],
    ]);
    for (const id of THREE) expect(cluster.node(id).status()).toMatchObject({ term: 1, role: 'follower' });
    const hardStates = [...cluster.readies.values()].flat().filter((ready) => ready.hardState !== null);
    expect(hardStates).toEqual([]);
  });
});

describe('thesis 6.2 CheckQuorum', () => {
  // Reference: thesis section 6.2 ("a leader steps down if an election timeout passes without a majority")
  it('a leader cut off from the majority steps down within two election timeouts', () => {
    const cluster = new InMemoryCluster({ size: 3 });
    const leader = cluster.elect('n1');
    cluster.stabilize();
    const term = leader.status().term;
    cluster.isolate('n1');
    for (let i = 0; i < 2 * ELECTION_TICKS; i++) {
      cluster.tick('n1');
      cluster.stabilize();
    }
    expect(leader.status()).toMatchObject({ role: 'follower', term, leaderId: null });
    expect(leader.propose([bytes('x')])).toMatchObject({ ok: false, reason: 'not-leader' });
  });

  // Reference: thesis section 6.2 ("if an election timeout elapses without a successful round of heartbeats
  // to a majority of its cluster, the leader steps down"), with thesis 3.10 transfers being asked for meanwhile
  it('a leader cut off from the majority steps down even while leadership transfers keep being requested', () => {
    const cluster = new InMemoryCluster({ size: 3 });
    const leader = cluster.elect('n1');
    cluster.stabilize();
    cluster.isolate('n1');
    for (let tick = 1; tick <= 5 * ELECTION_TICKS && leader.isLeader; tick++) {
      // An operator draining the node retries the transfer now and then; each attempt is accepted (n2 is a voter).
      if (tick % (ELECTION_TICKS - 1) === 0) leader.transferLeadership('n2');
      cluster.tick('n1');
      cluster.stabilize();
    }
    expect(leader.status().role).toBe('follower');
  });

  // Reference: thesis section 6.2
  it('a leader that hears from a majority stays leader', () => {
    const cluster = new InMemoryCluster({ size: 5 });
    const leader = cluster.elect('n1');
    const term = leader.status().term;
    cluster.isolate('n4');
    cluster.isolate('n5');
    for (let i = 0; i < 10 * ELECTION_TICKS; i++) cluster.tickAll();
    expect(leader.status()).toMatchObject({ role: 'leader', term });
  });

  // Reference: thesis section 6.2 (contrast: without CheckQuorum the stale leader lingers)
  it('without CheckQuorum an isolated leader keeps believing it leads', () => {
    const cluster = new InMemoryCluster({ size: 3, core: { checkQuorum: false } });
    const leader = cluster.elect('n1');
    cluster.isolate('n1');
    for (let i = 0; i < 10 * ELECTION_TICKS; i++) cluster.tickAll();
    expect(leader.isLeader).toBe(true);
  });

  // Reference: thesis section 4.2.3 / 6.2 (a follower that hears from its leader ignores disruptive votes)
  it('a follower in contact with its leader ignores a vote request of a higher term', () => {
    const cluster = new InMemoryCluster({ size: 3, core: { preVote: false } });
    const leader = cluster.elect('n1');
    const term = leader.status().term;
    const n2 = cluster.node('n2');
    n2.step(voteRequest({ from: 'n3', to: 'n2', term: term + 5, lastLogIndex: 100, lastLogTerm: term }));
    expect(n2.status()).toMatchObject({ term, leaderId: 'n1', votedFor: 'n1' });
    expect(n2.ready().messagesAfterPersist.filter((m) => m.type === 'VoteResponse')).toEqual([]);
  });
});

describe('thesis 4.1 Membership changes, one voter at a time', () => {
  it('a new leader appends no configuration until an entry of its own term has committed (the current-term barrier)', () => {
    const cluster = new InMemoryCluster({ size: 3, core: PLAIN });
    const n1 = cluster.node('n1');
    while (n1.status().role !== 'candidate') n1.tick();
    // Only the election's messages move: n1 leads with its no-op appended but not yet replicated.
    for (let i = 0; i < 10 && !n1.isLeader; i++) {
      cluster.processAll();
      cluster.deliver((message) => message.type === 'VoteRequest' || message.type === 'VoteResponse');
    }
    cluster.processAll();
    expect(n1.isLeader).toBe(true);
    expect(n1.status().commitIndex).toBeLessThan(n1.status().lastIndex);
    expect(n1.proposeMembership({ voters: ['n1', 'n2'], learners: [] })).toMatchObject({ ok: false, reason: 'config-change-in-progress' });
    cluster.stabilize();
    expect(n1.status().commitIndex).toBe(n1.status().lastIndex);
    expect(n1.proposeMembership({ voters: ['n1', 'n2'], learners: [] }).ok).toBe(true);
  });

  it('refuses a change of more than one voter, and a second change while one is uncommitted', () => {
    const cluster = new InMemoryCluster({ size: 3, core: PLAIN });
    const leader = cluster.elect('n1');
    expect(leader.proposeMembership({ voters: ['n1'], learners: [] })).toMatchObject({ ok: false, reason: 'too-large' });
    expect(leader.proposeMembership({ voters: ['n1', 'n2', 'n3', 'n4'], learners: [] }).ok).toBe(true);
    expect(leader.proposeMembership({ voters: ['n1', 'n2', 'n3'], learners: [] })).toMatchObject({
      ok: false,
      reason: 'config-change-in-progress',
    });
  });
});

describe('forced elections (the explorer)', () => {
  it('a follower forced to campaign wins at once: its requests carry the transfer flag, so voters in contact with the leader answer', () => {
    const cluster = new InMemoryCluster({ size: 3, core: { preVote: true, checkQuorum: true } });
    const leader = cluster.elect('n1');
    const term = leader.status().term;
    const n2 = cluster.node('n2');
    expect(n2.forceElection()).toEqual({ ok: true });
    expect(n2.status()).toMatchObject({ role: 'candidate', term: term + 1 });
    cluster.stabilize();
    expect(n2.status()).toMatchObject({ role: 'leader', term: term + 1 });
    expect(leader.status().role).toBe('follower');
  });

  it('a node outside the configuration cannot be forced', () => {
    const outsider = newCore('n9', THREE, PLAIN);
    expect(outsider.forceElection()).toMatchObject({ ok: false, reason: 'unknown-node' });
  });
});

describe('thesis 3.10 Leadership transfer', () => {
  // Reference: thesis section 3.10
  it('an up-to-date target gets TimeoutNow at once and wins the next term', () => {
    const cluster = new InMemoryCluster({ size: 3 });
    const leader = cluster.elect('n1');
    leader.propose([bytes('before')]);
    cluster.stabilize();
    const term = leader.status().term;
    expect(leader.transferLeadership('n2')).toEqual({ ok: true });
    cluster.process('n1');
    expect(cluster.inFlight).toContainEqual(expect.objectContaining({ type: 'TimeoutNow', from: 'n1', to: 'n2', term }));
    cluster.stabilize();
    expect(cluster.node('n2').status()).toMatchObject({ role: 'leader', term: term + 1 });
    expect(leader.status()).toMatchObject({ role: 'follower', term: term + 1, leaderId: 'n2' });
    cluster.node('n2').propose([bytes('after')]);
    cluster.stabilize();
    for (const id of THREE) expect(cluster.appliedCommands(id)).toEqual(['before', 'after']);
  });

  // Reference: thesis section 3.10 ("the prior leader ... brings the target up to date; it stops accepting requests")
  it('a lagging target is caught up first, and proposals are refused meanwhile', () => {
    const cluster = new InMemoryCluster({ size: 3 });
    const leader = cluster.elect('n1');
    cluster.isolate('n3');
    leader.propose(commands(20));
    cluster.stabilize();
    cluster.heal();
    expect(leader.transferLeadership('n3')).toEqual({ ok: true });
    expect(leader.propose([bytes('refused')])).toEqual({ ok: false, reason: 'transfer-in-progress', leaderId: 'n1' });
    const lastIndex = leader.status().lastIndex;
    // Heartbeats reveal the appends lost while n3 was cut off, and replication to n3 resumes.
    for (let i = 0; i < 5 && !cluster.node('n3').isLeader; i++) {
      cluster.tick('n1');
      cluster.stabilize();
    }
    const timeoutNow = cluster.delivered.find((m) => m.type === 'TimeoutNow');
    expect(timeoutNow).toMatchObject({ from: 'n1', to: 'n3' });
    // TimeoutNow went out only after n3 had acknowledged the whole log.
    const timeoutAt = cluster.sent.findIndex((m) => m.type === 'TimeoutNow');
    const lastAckBefore = cluster.sent
      .slice(0, timeoutAt)
      .filter((m): m is AppendResponse => m.type === 'AppendResponse' && m.from === 'n3' && m.success)
      .at(-1);
    expect(lastAckBefore?.matchIndex).toBe(lastIndex);
    expect(cluster.node('n3').isLeader).toBe(true);
    expect(cluster.appliedCommands('n3')).toHaveLength(20);
  });

  // Reference: thesis section 3.10 ("if the transfer does not complete within an election timeout, the leader aborts it")
  it('a transfer to an unreachable target is abandoned after an election timeout', () => {
    const cluster = new InMemoryCluster({ size: 3 });
    const leader = cluster.elect('n1');
    cluster.isolate('n3');
    expect(leader.transferLeadership('n3')).toEqual({ ok: true });
    expect(leader.propose([bytes('x')])).toMatchObject({ ok: false, reason: 'transfer-in-progress' });
    for (let i = 0; i < ELECTION_TICKS; i++) {
      cluster.tick('n1');
      cluster.stabilize();
    }
    expect(leader.isLeader).toBe(true);
    expect(leader.status().transferTarget).toBeNull();
    expect(leader.propose([bytes('y')]).ok).toBe(true);
  });

  // Reference: thesis section 3.10
  it('a transfer to a non-member or from a follower is refused', () => {
    const cluster = new InMemoryCluster({ size: 3 });
    const leader = cluster.elect('n1');
    expect(leader.transferLeadership('n9')).toEqual({ ok: false, reason: 'unknown-node', leaderId: 'n1' });
    expect(cluster.node('n2').transferLeadership('n3')).toEqual({ ok: false, reason: 'not-leader', leaderId: 'n1' });
  });
});

describe('thesis 10.2.1 Writing to the leader disk in parallel', () => {
  // Reference: thesis section 10.2.1 ("the leader ... count itself only once its own entry is durable")
  it('a three-node cluster commits through both followers while the leader disk lags', () => {
    const cluster = new InMemoryCluster({ size: 3 });
    const leader = cluster.elect('n1');
    cluster.stabilize();
    cluster.holdDisk('n1');
    const result = leader.propose([bytes('fast followers')]);
    const index = result.ok ? result.firstIndex : -1;
    cluster.stabilize();
    expect(leader.status().stableIndex).toBeLessThan(index);
    expect(leader.status().commitIndex).toBe(index);
    for (const id of ['n2', 'n3']) expect(cluster.appliedCommands(id)).toEqual(['fast followers']);
    // The leader applies only what is durable on its own disk.
    expect(cluster.appliedCommands('n1')).toEqual([]);
    cluster.releaseDisk('n1');
    cluster.stabilize();
    expect(cluster.appliedCommands('n1')).toEqual(['fast followers']);
  });

  // Reference: thesis section 10.2.1
  it('with one follower unreachable, commit waits for the leader disk', () => {
    const cluster = new InMemoryCluster({ size: 3 });
    const leader = cluster.elect('n1');
    cluster.stabilize();
    const commitBefore = leader.status().commitIndex;
    cluster.isolate('n3');
    cluster.holdDisk('n1');
    const result = leader.propose([bytes('slow leader disk')]);
    const index = result.ok ? result.firstIndex : -1;
    cluster.stabilize();
    expect(cluster.node('n2').status().lastIndex).toBe(index);
    expect(leader.status().commitIndex).toBe(commitBefore);
    expect(cluster.appliedCommands('n2')).toEqual([]);
    cluster.releaseDisk('n1');
    cluster.stabilize();
    expect(leader.status().commitIndex).toBe(index);
    expect(cluster.appliedCommands('n1')).toEqual(['slow leader disk']);
    expect(cluster.appliedCommands('n2')).toEqual(['slow leader disk']);
  });

  // Reference: thesis section 10.2.1 / Figure 2 (a follower acknowledges only what it has made durable)
  it('followers with slow disks hold back their acknowledgements, and so the commit', () => {
    const cluster = new InMemoryCluster({ size: 3 });
    const leader = cluster.elect('n1');
    cluster.stabilize();
    const commitBefore = leader.status().commitIndex;
    cluster.holdDisk('n2');
    cluster.holdDisk('n3');
    const result = leader.propose([bytes('x')]);
    cluster.stabilize();
    expect(leader.status().commitIndex).toBe(commitBefore);
    cluster.releaseDisk('n3');
    cluster.stabilize();
    expect(leader.status().commitIndex).toBe(result.ok ? result.firstIndex : -1);
  });
});

describe('limits', () => {
  // Reference: none in the paper; raftkv's named limits (STYLE.md: a limit on every queue and batch)
  it("propose refuses a batch beyond proposalBatchEntriesMax with 'too-large'", () => {
    const cluster = new InMemoryCluster({ size: 3, core: { proposalBatchEntriesMax: 8 } });
    const leader = cluster.elect('n1');
    const lastIndex = leader.status().lastIndex;
    expect(leader.propose(commands(9))).toEqual({ ok: false, reason: 'too-large', leaderId: 'n1' });
    expect(leader.status().lastIndex).toBe(lastIndex);
    expect(leader.propose(commands(8))).toMatchObject({ ok: true, firstIndex: lastIndex + 1 });
  });

  // Reference: thesis section 10.2 (bounding the leader's uncommitted log) and raftkv's named limits
  it("propose refuses with 'proposal-queue-full' beyond uncommittedEntriesMax, until entries commit", () => {
    const cluster = new InMemoryCluster({ size: 3, core: { uncommittedEntriesMax: 10 } });
    const leader = cluster.elect('n1');
    cluster.stabilize();
    cluster.isolate('n2');
    cluster.isolate('n3');
    expect(leader.propose(commands(6)).ok).toBe(true);
    expect(leader.propose(commands(5))).toEqual({ ok: false, reason: 'proposal-queue-full', leaderId: 'n1' });
    for (let i = 0; i < 4; i++) expect(leader.propose([bytes(`single ${i}`)]).ok).toBe(true);
    expect(leader.propose([bytes('one too many')])).toMatchObject({ ok: false, reason: 'proposal-queue-full' });
    cluster.heal();
    cluster.tickAll();
    cluster.stabilize();
    expect(leader.propose(commands(10)).ok).toBe(true);
  });

  // Reference: thesis section 6.4 (reads wait for a heartbeat round) and raftkv's named limits
  it("readIndex refuses with 'read-queue-full' beyond pendingReadsMax, until reads are confirmed", () => {
    const cluster = new InMemoryCluster({ size: 3, core: { pendingReadsMax: 4 } });
    const leader = cluster.elect('n1');
    cluster.stabilize();
    cluster.isolate('n1');
    for (let context = 0; context < 4; context++) expect(leader.readIndex(context)).toEqual({ ok: true });
    expect(leader.readIndex(4)).toEqual({ ok: false, reason: 'read-queue-full', leaderId: 'n1' });
    cluster.heal();
    cluster.tick('n1');
    cluster.stabilize();
    expect(cluster.readStates.get('n1')).toHaveLength(4);
    expect(leader.readIndex(5)).toEqual({ ok: true });
  });

  // Reference: thesis section 10.2.2 (batching: bounded AppendEntries)
  it('AppendRequests never carry more than appendEntriesMax entries nor, beyond one entry, appendBytesMax', () => {
    const cluster = new InMemoryCluster({ size: 3, core: { appendEntriesMax: 4, appendBytesMax: 200 } });
    const leader = cluster.elect('n1');
    leader.propose(commands(50, 'small', 16)); // 40 bytes each: at most 4 per message
    leader.propose(commands(6, 'big', 150)); // 174 bytes each: one per message
    cluster.stabilize();
    const appends = cluster.sent.filter(isAppend);
    expect(appends.some((m) => m.entries.length === 4)).toBe(true);
    for (const append of appends) {
      expect(append.entries.length).toBeLessThanOrEqual(4);
      if (append.entries.length > 1) {
        const size = append.entries.reduce((sum, e) => sum + (e.type === 'command' ? 24 + e.data.byteLength : 24), 0);
        expect(size).toBeLessThanOrEqual(200);
      }
    }
    for (const id of THREE) expect(cluster.appliedCommands(id)).toHaveLength(56);
  });

  /** The AppendRequests with entries to `to` that the leader has not yet heard acknowledged. */
  function unacknowledgedAppends(cluster: InMemoryCluster, leader: RaftCore, to: NodeId, sentFrom: number): AppendRequest[] {
    const match = leader.progressOf(to)?.match ?? 0;
    return cluster.sent
      .slice(sentFrom)
      .filter((m): m is AppendRequest => isAppend(m) && m.to === to && m.entries.length > 0)
      .filter((m) => m.prevLogIndex + m.entries.length > match);
  }

  // Reference: thesis section 10.2.2 (pipelining, bounded by a window of requests in flight)
  it('entry-carrying AppendRequests in flight to a follower never exceed inflightMessagesMax', () => {
    const cluster = new InMemoryCluster({ size: 3, core: { inflightMessagesMax: 3, appendEntriesMax: 2 } });
    const leader = cluster.elect('n1');
    cluster.stabilize();
    expect(leader.progressOf('n2')?.state).toBe('replicate');
    const sentFrom = cluster.sent.length;
    leader.propose(commands(40));
    let steps = 0;
    let widest = 0;
    while ((cluster.inFlight.length > 0 || cluster.processAll()) && steps < 10_000) {
      cluster.processAll();
      const unacknowledged = unacknowledgedAppends(cluster, leader, 'n2', sentFrom).length;
      widest = Math.max(widest, unacknowledged);
      expect(unacknowledged).toBeLessThanOrEqual(3);
      expect(leader.progressOf('n2')?.inflightCount).toBeLessThanOrEqual(3);
      // Deliver one message at a time, so the window really fills up.
      const next = cluster.inFlight.shift();
      if (next !== undefined) {
        cluster.inFlight.unshift(next);
        cluster.deliver((m) => m === next);
      }
      steps++;
    }
    expect(widest).toBe(3); // the window did fill up
    expect(cluster.sent.slice(sentFrom).filter((m) => isAppend(m) && m.to === 'n2' && m.entries.length > 0).length).toBeGreaterThanOrEqual(
      20,
    );
    for (const id of THREE) expect(cluster.appliedCommands(id)).toHaveLength(40);
  });

  // Reference: thesis section 10.2.2 (pipelining, bounded by a window); RaftOptions.inflightMessagesMax
  it('a follower whose window is full is sent no further AppendRequests, commit-only ones included, while another follower moves the commit', () => {
    const cluster = new InMemoryCluster({ size: 3, core: { inflightMessagesMax: 3, appendEntriesMax: 2 } });
    const leader = cluster.elect('n1');
    cluster.stabilize();
    const sentFrom = cluster.sent.length;
    // n2 is slow: nothing reaches it. n3 is fast. No ticks, so no heartbeats either.
    const rounds = (count: number, tag: string): void => {
      for (let round = 0; round < count; round++) {
        leader.propose(commands(2, `${tag}${round}-`));
        cluster.processAll();
        cluster.deliver((m) => m.to !== 'n2');
        cluster.processAll();
        cluster.deliver((m) => m.to !== 'n2');
        cluster.processAll();
      }
    };
    const toSlow = (): Message[] => cluster.sent.slice(sentFrom).filter((m) => isAppend(m) && m.to === 'n2');
    rounds(10, 'a');
    expect(leader.status().commitIndex).toBe(leader.status().lastIndex);
    // At most the window of entry-carrying appends, plus a commit notice between them while the window was open.
    expect(toSlow().filter((m) => m.type === 'AppendRequest' && m.entries.length > 0).length).toBe(3);
    const afterFirst = toSlow().length;
    expect(afterFirst).toBeLessThanOrEqual(2 * 3);
    // Once paused, nothing more goes out however far the commit moves: the queue to a slow follower is bounded.
    rounds(10, 'b');
    expect(leader.status().commitIndex).toBe(leader.status().lastIndex);
    expect(toSlow().length).toBe(afterFirst);
  });
});

describe('section 7 Log compaction: InstallSnapshot', () => {
  // Reference: section 7 ("the leader sends snapshots to followers that lag behind"), in bounded chunks
  it('a follower behind the compacted log receives the snapshot in chunks and ends with the leader state', () => {
    const chunkBytes = 1000;
    const cluster = new InMemoryCluster({ size: 3, core: { snapshotChunkBytes: chunkBytes } });
    const leader = cluster.elect('n1');
    cluster.stabilize();
    cluster.isolate('n3');
    for (let batch = 0; batch < 5; batch++) leader.propose(commands(6, `b${batch}-`));
    cluster.stabilize();
    const applied = leader.status().appliedIndex;
    expect(applied).toBe(leader.status().lastIndex);
    const data = Uint8Array.from({ length: 4500 }, (_, i) => (i * 7) % 251);
    const meta: SnapshotMeta = { index: applied, term: leader.status().term, membership: { voters: THREE, learners: [] } };
    leader.compact(memorySnapshotSource({ meta, data }));
    expect(leader.status().firstIndex).toBe(applied + 1);

    cluster.heal();
    leader.propose([bytes('after snapshot')]);
    for (let i = 0; i < 5; i++) cluster.tickAll();

    const chunks = cluster.sent.filter((m): m is SnapshotRequest => m.type === 'SnapshotRequest' && m.to === 'n3');
    expect(chunks.length).toBeGreaterThanOrEqual(5);
    for (const chunk of chunks) expect(chunk.data.byteLength).toBeLessThanOrEqual(chunkBytes);
    const offsets = [...new Set(chunks.map((c) => c.offsetBytes))].sort((a, b) => a - b);
    expect(offsets).toEqual([0, 1000, 2000, 3000, 4000]);
    expect(chunks.filter((c) => c.done).every((c) => c.offsetBytes === 4000)).toBe(true);

    const installed = cluster.installedSnapshots.get('n3') ?? [];
    expect(installed).toHaveLength(1);
    expect(installed[0]?.meta).toEqual(meta);
    expect(installed[0]?.data).toEqual(data);
    const n3 = cluster.node('n3').status();
    const n1 = leader.status();
    expect(n3).toMatchObject({
      snapshotIndex: meta.index,
      lastIndex: n1.lastIndex,
      lastTerm: n1.lastTerm,
      commitIndex: n1.commitIndex,
      term: n1.term,
    });
    expect(logTerms(cluster.node('n3'))).toEqual(logTerms(leader));
    expect(cluster.appliedCommands('n3')).toEqual(['after snapshot']);
  });
});

describe('invariants', () => {
  // Reference: section 5.3 (Log Matching: a log grows by consecutive indexes)
  it('RaftLog.append out of order throws InvariantError', () => {
    const log = new RaftLog({ index: 0, term: 0, membership: { voters: THREE, learners: [] } }, []);
    log.append(commandEntry(1, 1));
    expect(() => log.append(commandEntry(3, 1))).toThrow(InvariantError);
  });

  // Reference: none in the paper; the core's caller contract (STYLE.md: a broken invariant crashes)
  it('a message delivered to the wrong node throws InvariantError', () => {
    const core = newCore('n1', THREE);
    expect(() => core.step(appendRequest({ from: 'n2', to: 'n3', term: 1 }))).toThrow(InvariantError);
  });

  // Reference: section 5.2 (Election Safety), Figure 3
  it('a second leader in the same term throws InvariantError (Election Safety broken)', () => {
    const core = newCore('n1', THREE, PLAIN);
    electAlone(core);
    const term = core.status().term;
    expect(() => core.step(appendRequest({ from: 'n2', to: 'n1', term }))).toThrow(/two leaders in one term/);
  });

  // Reference: section 7 (a snapshot covers only applied state)
  it('compacting beyond the applied index throws InvariantError', () => {
    const core = newCore('n1', THREE, PLAIN, { hardState: { term: 1, votedFor: null, commitIndex: 0 }, entries: entriesWithTerms([1, 1]) });
    const meta: SnapshotMeta = { index: 2, term: 1, membership: { voters: THREE, learners: [] } };
    expect(() => core.compact(memorySnapshotSource({ meta, data: new Uint8Array(1) }))).toThrow(InvariantError);
  });
});
