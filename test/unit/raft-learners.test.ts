// Learners and the typed membership-change API of the core (thesis chapter 4; etcd's learners): a learner
// receives the log but counts in no quorum (commit, ReadIndex, CheckQuorum), never campaigns and is never asked
// for a vote; changeMembership refuses what is not one change with a typed reason.
import { describe, expect, it } from 'vitest';
import { resolveOptions } from '../../src/raft/config.js';
import { SeededRandom } from '../../src/raft/random.js';
import type { MembershipChange, VoteRequest } from '../../src/raft/types.js';
import { bytes, InMemoryCluster } from './in-memory-cluster.js';

const PLAIN = { preVote: false, checkQuorum: false } as const;

/** Voters n1..n3 and a spare n4, with n1 elected and its no-op committed. */
function threeVotersAndSpare(core: Record<string, unknown> = {}): InMemoryCluster {
  const cluster = new InMemoryCluster({ size: 4, voters: ['n1', 'n2', 'n3'], core: { ...PLAIN, ...core } });
  cluster.elect('n1');
  return cluster;
}

function changeAndCommit(cluster: InMemoryCluster, change: MembershipChange): void {
  const result = cluster.node('n1').changeMembership(change);
  expect(result.ok, JSON.stringify(result)).toBe(true);
  cluster.stabilize();
}

describe('learners: replicated to, counted in no quorum (thesis 4.2.1)', () => {
  it('an added learner receives and applies the log, and shows in the leader status with its progress', () => {
    const cluster = threeVotersAndSpare();
    const leader = cluster.node('n1');
    changeAndCommit(cluster, { kind: 'add-learner', id: 'n4', address: '10.0.0.4:7000' });
    leader.propose([bytes('a'), bytes('b')]);
    cluster.stabilize();
    expect(cluster.appliedCommands('n4')).toEqual(['a', 'b']);
    const status = leader.status();
    expect(status.membership).toEqual({ voters: ['n1', 'n2', 'n3'], learners: ['n4'], addresses: { n4: '10.0.0.4:7000' } });
    expect(status.progress?.['n4']).toEqual({ match: status.lastIndex, next: status.lastIndex + 1, state: 'replicate' });
    expect(Object.keys(status.progress ?? {}).sort()).toEqual(['n2', 'n3', 'n4']);
    expect(cluster.node('n2').status().progress).toBeNull();
    // Every node learns the configuration, the address with it, from the log.
    expect(cluster.node('n4').status().membership).toEqual(status.membership);
  });

  it("a learner's acknowledgement never commits: with both other voters cut off, nothing commits", () => {
    const cluster = threeVotersAndSpare();
    const leader = cluster.node('n1');
    changeAndCommit(cluster, { kind: 'add-learner', id: 'n4' });
    cluster.isolate('n2');
    cluster.isolate('n3');
    const commit = leader.status().commitIndex;
    leader.propose([bytes('x')]);
    cluster.stabilize();
    expect(leader.progressOf('n4')?.match).toBe(leader.status().lastIndex);
    expect(leader.status().commitIndex).toBe(commit);
    cluster.heal();
    cluster.tickAll(2);
    expect(leader.status().commitIndex).toBe(leader.status().lastIndex);
  });

  it('a learner never campaigns, and a candidate asks only voters', () => {
    const cluster = threeVotersAndSpare();
    changeAndCommit(cluster, { kind: 'add-learner', id: 'n4' });
    const learner = cluster.node('n4');
    cluster.isolate('n4');
    for (let i = 0; i < 10 * learner.options.electionTicks; i++) learner.tick();
    expect(learner.status().role).toBe('follower');
    expect(learner.forceElection()).toMatchObject({ ok: false, reason: 'unknown-node' });
    cluster.heal();
    const before = cluster.sent.length;
    cluster.campaign('n2');
    const asked = cluster.sent
      .slice(before)
      .filter((m): m is VoteRequest => m.type === 'VoteRequest')
      .map((m) => m.to);
    expect(new Set(asked)).toEqual(new Set(['n1', 'n3']));
    expect(cluster.node('n2').isLeader).toBe(true);
  });

  it('ReadIndex is confirmed by voters only: a learner answering the heartbeat round is not enough', () => {
    const cluster = threeVotersAndSpare();
    const leader = cluster.node('n1');
    changeAndCommit(cluster, { kind: 'add-learner', id: 'n4' });
    cluster.isolate('n2');
    cluster.isolate('n3');
    expect(leader.readIndex(7)).toEqual({ ok: true });
    cluster.stabilize();
    expect(cluster.readStates.get('n1')).toEqual([]);
    cluster.heal();
    cluster.tickAll(1);
    expect(cluster.readStates.get('n1')?.map((r) => r.context)).toEqual([7]);
  });

  it('CheckQuorum: a leader that hears only from its learner steps down', () => {
    const cluster = threeVotersAndSpare({ checkQuorum: true });
    const leader = cluster.node('n1');
    changeAndCommit(cluster, { kind: 'add-learner', id: 'n4' });
    cluster.isolate('n2');
    cluster.isolate('n3');
    for (let i = 0; i < 2 * leader.options.electionTicks && leader.isLeader; i++) {
      leader.tick();
      cluster.stabilize();
    }
    expect(leader.isLeader).toBe(false);
  });

  it('a promoted learner counts: four voters need three acknowledgements', () => {
    const cluster = threeVotersAndSpare();
    const leader = cluster.node('n1');
    changeAndCommit(cluster, { kind: 'add-learner', id: 'n4' });
    changeAndCommit(cluster, { kind: 'promote', id: 'n4' });
    expect(leader.status().membership).toMatchObject({ voters: ['n1', 'n2', 'n3', 'n4'], learners: [] });
    cluster.isolate('n2');
    cluster.isolate('n3');
    const commit = leader.status().commitIndex;
    leader.propose([bytes('y')]);
    cluster.stabilize();
    expect(leader.status().commitIndex).toBe(commit);
    cluster.heal();
    cluster.isolate('n3');
    cluster.tickAll(2);
    expect(leader.status().commitIndex).toBe(leader.status().lastIndex);
  });

  it('removing a learner drops its progress and its address', () => {
    const cluster = threeVotersAndSpare();
    const leader = cluster.node('n1');
    changeAndCommit(cluster, { kind: 'add-learner', id: 'n4', address: 'h4:1' });
    changeAndCommit(cluster, { kind: 'remove', id: 'n4' });
    expect(leader.status().membership).toEqual({ voters: ['n1', 'n2', 'n3'], learners: [], addresses: {} });
    expect(leader.progressOf('n4')).toBeUndefined();
  });
});

describe('changeMembership: typed refusals', () => {
  it('refuses what is not one change', () => {
    const cluster = threeVotersAndSpare();
    const leader = cluster.node('n1');
    expect(leader.changeMembership({ kind: 'add-voter', id: 'n2' })).toMatchObject({ ok: false, reason: 'member-exists' });
    expect(leader.changeMembership({ kind: 'remove', id: 'n9' })).toMatchObject({ ok: false, reason: 'unknown-member' });
    expect(leader.changeMembership({ kind: 'promote', id: 'n9' })).toMatchObject({ ok: false, reason: 'unknown-member' });
    expect(leader.changeMembership({ kind: 'promote', id: 'n2' })).toMatchObject({ ok: false, reason: 'not-learner' });
    changeAndCommit(cluster, { kind: 'add-learner', id: 'n4' });
    expect(leader.changeMembership({ kind: 'add-learner', id: 'n4' })).toMatchObject({ ok: false, reason: 'member-exists' });
    expect(leader.changeMembership({ kind: 'add-voter', id: 'n4' })).toMatchObject({ ok: false, reason: 'member-exists' });
    expect(cluster.node('n2').changeMembership({ kind: 'add-learner', id: 'n5' })).toMatchObject({
      ok: false,
      reason: 'not-leader',
      leaderId: 'n1',
    });
  });

  it('one change at a time: a second is refused until the first commits', () => {
    const cluster = threeVotersAndSpare();
    const leader = cluster.node('n1');
    expect(leader.changeMembership({ kind: 'add-learner', id: 'n4' }).ok).toBe(true);
    expect(leader.changeMembership({ kind: 'remove', id: 'n4' })).toMatchObject({ ok: false, reason: 'config-change-in-progress' });
    cluster.stabilize();
    expect(leader.changeMembership({ kind: 'remove', id: 'n4' }).ok).toBe(true);
  });

  it('the only voter cannot be removed', () => {
    const cluster = new InMemoryCluster({ size: 2, voters: ['n1'], core: PLAIN });
    const leader = cluster.elect('n1');
    cluster.stabilize();
    expect(leader.changeMembership({ kind: 'remove', id: 'n1' })).toMatchObject({ ok: false, reason: 'last-voter' });
    changeAndCommit(cluster, { kind: 'add-learner', id: 'n2' });
    expect(leader.changeMembership({ kind: 'remove', id: 'n1' })).toMatchObject({ ok: false, reason: 'last-voter' });
  });

  it('a learner more than learnerCatchUpEntriesMax entries behind is not promoted until it catches up', () => {
    const cluster = threeVotersAndSpare({ learnerCatchUpEntriesMax: 3 });
    const leader = cluster.node('n1');
    changeAndCommit(cluster, { kind: 'add-learner', id: 'n4' });
    cluster.isolate('n4');
    leader.propose([bytes('1'), bytes('2'), bytes('3'), bytes('4')]);
    cluster.stabilize();
    expect(leader.status().lastIndex - (leader.progressOf('n4')?.match ?? 0)).toBe(4);
    expect(leader.changeMembership({ kind: 'promote', id: 'n4' })).toMatchObject({ ok: false, reason: 'learner-not-caught-up' });
    cluster.heal();
    cluster.tickAll(2);
    expect(leader.changeMembership({ kind: 'promote', id: 'n4' }).ok).toBe(true);
  });

  it('the current-term barrier refuses a new leader until its own entry commits, unless the test-only switch skips it', () => {
    for (const unsafeSkipMembershipBarrier of [false, true]) {
      const cluster = new InMemoryCluster({ size: 4, voters: ['n1', 'n2', 'n3'], core: { ...PLAIN, unsafeSkipMembershipBarrier } });
      const n1 = cluster.node('n1');
      while (n1.status().role !== 'candidate') n1.tick();
      for (let i = 0; i < 10 && !n1.isLeader; i++) {
        cluster.processAll();
        cluster.deliver((message) => message.type === 'VoteRequest' || message.type === 'VoteResponse');
      }
      cluster.processAll();
      expect(n1.status().commitIndex).toBeLessThan(n1.status().lastIndex);
      const result = n1.changeMembership({ kind: 'add-learner', id: 'n4' });
      if (unsafeSkipMembershipBarrier) expect(result.ok).toBe(true);
      else expect(result).toMatchObject({ ok: false, reason: 'config-change-in-progress' });
    }
  });

  it('a leader that removes itself leads until the removal commits, then steps down; the others elect a leader', () => {
    const cluster = threeVotersAndSpare();
    const leader = cluster.node('n1');
    expect(leader.changeMembership({ kind: 'remove', id: 'n1' }).ok).toBe(true);
    expect(leader.isLeader).toBe(true);
    cluster.stabilize();
    expect(leader.isLeader).toBe(false);
    expect(leader.status().membership.voters).toEqual(['n2', 'n3']);
    cluster.campaign('n2');
    expect(cluster.node('n2').isLeader).toBe(true);
  });
});

describe('proposeMembership: a whole configuration, one change from the current one', () => {
  it('takes a configuration that differs by one change, and refuses more or a demotion', () => {
    const cluster = threeVotersAndSpare();
    const leader = cluster.node('n1');
    expect(leader.proposeMembership({ voters: ['n1', 'n2', 'n3'], learners: [] })).toMatchObject({ ok: false, reason: 'too-large' });
    expect(leader.proposeMembership({ voters: ['n1', 'n2'], learners: ['n3'] })).toMatchObject({ ok: false, reason: 'too-large' });
    expect(leader.proposeMembership({ voters: ['n1', 'n2', 'n3'], learners: ['n4', 'n5'] })).toMatchObject({
      ok: false,
      reason: 'too-large',
    });
    expect(leader.proposeMembership({ voters: ['n1', 'n2', 'n3'], learners: ['n4'], addresses: { n4: 'h:4' } }).ok).toBe(true);
    cluster.stabilize();
    expect(leader.status().membership.addresses).toEqual({ n4: 'h:4' });
    expect(leader.proposeMembership({ voters: ['n1', 'n2', 'n3', 'n4'], learners: [] }).ok).toBe(true);
  });
});

describe('options', () => {
  it('validates learnerCatchUpEntriesMax and unsafeSkipMembershipBarrier', () => {
    const random = new SeededRandom(1);
    expect(resolveOptions({ id: 'n1', random }).learnerCatchUpEntriesMax).toBe(1000);
    expect(resolveOptions({ id: 'n1', random }).unsafeSkipMembershipBarrier).toBe(false);
    expect(() => resolveOptions({ id: 'n1', random, learnerCatchUpEntriesMax: 0 })).toThrow(RangeError);
    expect(() => resolveOptions({ id: 'n1', random, learnerCatchUpEntriesMax: 1.5 })).toThrow(RangeError);
  });
});
