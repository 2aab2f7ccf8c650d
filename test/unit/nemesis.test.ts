// The nemesis's random choices come from the run's seed: two runs with one seed pick the same targets and
// shapes, so `raftkv chaos FILE --seed S` replays a failed run's fault schedule. Driven against a stand-in
// supervisor that only records what it was asked to do.
import { describe, expect, it } from 'vitest';
import type { MembersView, Supervisor } from '../../src/actor/supervisor.js';
import { MEMBERSHIP_ATTEMPTS_MAX, Nemesis } from '../../src/chaos/nemesis.js';
import type { NodeRefusal, ProposeOutcome } from '../../src/protocol/node.js';
import type { FaultEvent } from '../../src/chaos/scenario.js';
import { SeededRandom } from '../../src/raft/random.js';
import type { MembershipChange, NodeId } from '../../src/raft/types.js';

const FAULTS: readonly FaultEvent[] = [
  { atMs: 0, action: { kind: 'kill', target: 'random', loseUnsynced: false }, forMs: null },
  { atMs: 0, action: { kind: 'partition', shape: 'majority-minority' }, forMs: null },
  { atMs: 0, action: { kind: 'pause', target: 'follower' }, forMs: null },
  { atMs: 0, action: { kind: 'partition', shape: 'bridge' }, forMs: null },
  { atMs: 0, action: { kind: 'partition', shape: 'ring' }, forMs: null },
  { atMs: 0, action: { kind: 'kill', target: 'minority', loseUnsynced: false }, forMs: null },
  { atMs: 0, action: { kind: 'transfer' }, forMs: null },
];

/** A five-node supervisor stand-in: n1 leads, a kill or pause changes a node's state, and every call is recorded. */
function standIn(calls: string[]): Supervisor {
  const states = new Map<NodeId, string>(['n1', 'n2', 'n3', 'n4', 'n5'].map((id) => [id, 'running']));
  const record = (call: string): Promise<void> => {
    calls.push(call);
    return Promise.resolve();
  };
  return {
    ids: [...states.keys()],
    leaderId: 'n1',
    stateOf: (id: NodeId) => states.get(id),
    kill: (id: NodeId) => (states.set(id, 'killed'), record(`kill ${id}`)),
    restart: (id: NodeId) => (states.set(id, 'running'), record(`restart ${id}`)),
    pause: (id: NodeId) => (states.set(id, 'paused'), record(`pause ${id}`)),
    resume: (id: NodeId) => (states.set(id, 'running'), record(`resume ${id}`)),
    partition: (groups: NodeId[][]) => record(`partition ${JSON.stringify(groups)}`),
    cutLinks: (cut: (a: NodeId, b: NodeId) => boolean) => {
      const ids = [...states.keys()];
      return record(`cut ${ids.flatMap((a) => ids.filter((b) => a < b && cut(a, b)).map((b) => `${a}-${b}`)).join(' ')}`);
    },
    transferLeadership: (to: NodeId) => record(`transfer ${to}`),
    actorFault: (id: NodeId, fault: { kind: string; ms?: number; messages?: number }) =>
      record(
        `${fault.kind} ${id}${fault.ms === undefined ? '' : ` ${fault.ms}`}${fault.messages === undefined ? '' : ` ${fault.messages}`}`,
      ),
    heal: () => record('heal'),
  } as unknown as Supervisor;
}

/** The schedule one seed gives: the labels the nemesis recorded and the calls it made, in order. */
async function schedule(seed: number): Promise<string[]> {
  const calls: string[] = [];
  const nemesis = new Nemesis(standIn(calls), performance.now(), () => {}, new SeededRandom(seed));
  for (const fault of FAULTS) await nemesis.fire(fault);
  return [...nemesis.records.map((record) => record.label), ...calls];
}

describe('the nemesis replays from a seed', () => {
  it('two runs with the same seed make the same choices', async () => {
    for (const seed of [1, 42, 2 ** 40 + 7]) expect(await schedule(seed)).toEqual(await schedule(seed));
  });

  it('the choices do depend on the seed', async () => {
    const schedules = new Set<string>();
    for (let seed = 1; seed <= 8; seed++) schedules.add(JSON.stringify(await schedule(seed)));
    expect(schedules.size).toBeGreaterThan(1);
  });
});

describe('the isolated target', () => {
  it('pauses the node the isolate-leader partition cut off, while that partition lasts', async () => {
    const calls: string[] = [];
    const nemesis = new Nemesis(standIn(calls), performance.now(), () => {}, new SeededRandom(3));
    const fire = (action: FaultEvent['action']): Promise<void> => nemesis.fire({ atMs: 0, action, forMs: null });
    await fire({ kind: 'pause', target: 'isolated' });
    await fire({ kind: 'partition', shape: 'isolate-leader' });
    await fire({ kind: 'pause', target: 'isolated' });
    await fire({ kind: 'resume', target: 'paused' });
    await fire({ kind: 'heal' });
    await fire({ kind: 'pause', target: 'isolated' });
    expect(nemesis.records.map((r) => r.label)).toEqual([
      'pause  skipped: no target',
      'partition: isolate n1',
      'pause n1',
      'resume n1',
      'heal',
      'pause  skipped: no target',
    ]);
    expect(calls).toContain('pause n1');
  });
});

describe('actor faults in scenarios', () => {
  it('crash, hang, slow and flood reach the supervisor for running targets; a slow node is sped up again at the end', async () => {
    const calls: string[] = [];
    const nemesis = new Nemesis(standIn(calls), performance.now(), () => {}, new SeededRandom(5));
    const fire = (action: FaultEvent['action']): Promise<void> => nemesis.fire({ atMs: 0, action, forMs: null });
    await fire({ kind: 'crash', target: 'leader' });
    await fire({ kind: 'hang', target: 'n2' });
    await fire({ kind: 'slow', target: 'n3', ms: 200 });
    await fire({ kind: 'flood', target: 'n4', messages: 5000 });
    await fire({ kind: 'kill', target: 'n5', loseUnsynced: false });
    await fire({ kind: 'crash', target: 'n5' });
    expect(nemesis.records.map((r) => r.label)).toEqual([
      'crash n1',
      'hang n2',
      'slow n3 200 ms',
      'flood n4 5000 messages',
      'kill n5',
      'crash  skipped: no target',
    ]);
    await nemesis.healAll();
    expect(calls.filter((call) => /^(crash|hang|slow|flood) /.test(call))).toEqual([
      'crash n1',
      'hang n2',
      'slow n3 200',
      'flood n4 5000',
      'slow n3 0',
    ]);
  });
});

/**
 * A three-node supervisor stand-in whose membership changes answer from a script: each answer is taken in turn
 * (the last one repeats); an ok add or a remove changes `ids`, as Supervisor.changeMembership does.
 */
function membershipStandIn(answers: (ProposeOutcome | 'ok')[], calls: string[]): Supervisor {
  let ids: NodeId[] = ['n1', 'n2', 'n3'];
  const voters = new Set<NodeId>(ids);
  let turn = 0;
  const stand = {
    get ids() {
      return ids;
    },
    leaderId: 'n1',
    stateOf: (id: NodeId) => {
      if (!ids.includes(id)) throw new RangeError(`unknown node ${id}`);
      return 'running';
    },
    kill: (id: NodeId) => (calls.push(`kill ${id}`), Promise.resolve()),
    waitForLeader: () => Promise.resolve('n1'),
    members: (): Promise<MembersView> =>
      Promise.resolve({
        leader: 'n1',
        term: 1,
        lastIndex: 1,
        members: ids.map((id) => ({ id, role: voters.has(id) ? 'voter' : 'learner', address: null, matchIndex: null, state: null })),
      } as MembersView),
    changeMembership: (change: MembershipChange): Promise<ProposeOutcome> => {
      calls.push(`${change.kind} ${change.id}`);
      const answer = answers[Math.min(turn++, answers.length - 1)] as ProposeOutcome | 'ok';
      if (answer !== 'ok') return Promise.resolve(answer);
      if (change.kind === 'add-learner' || change.kind === 'add-voter') ids = [...ids, change.id];
      if (change.kind !== 'add-learner') voters.add(change.id);
      if (change.kind === 'remove') ids = ids.filter((id) => id !== change.id);
      return Promise.resolve({ ok: true, index: turn } as unknown as ProposeOutcome);
    },
    heal: () => Promise.resolve(),
  };
  return stand as unknown as Supervisor;
}

const refusal = (code: NodeRefusal['code'], definite = true): NodeRefusal => ({ ok: false, code, message: code, leaderId: null, definite });

describe('membership faults', () => {
  const fire = (nemesis: Nemesis, action: FaultEvent['action'], forMs: number | null = null): Promise<void> =>
    nemesis.fire({ atMs: 0, action, forMs });

  it('retries a change while the cluster says not now, and records how it went', async () => {
    const calls: string[] = [];
    const answers = [
      refusal('CONFIG_CHANGE_IN_PROGRESS'),
      refusal('NOT_LEADER'),
      'ok' as const,
      refusal('LEARNER_NOT_CAUGHT_UP'),
      'ok' as const,
    ];
    const nemesis = new Nemesis(membershipStandIn(answers, calls), performance.now(), () => {}, new SeededRandom(1));
    await fire(nemesis, { kind: 'add-learner', id: 'n4' });
    await fire(nemesis, { kind: 'promote', id: 'n4' });
    expect(nemesis.records.map((r) => r.label)).toEqual(['add-learner n4: committed (3 tries)', 'promote n4: committed (2 tries)']);
    expect(nemesis.records.every((r) => r.endMs !== null && !r.skipped)).toBe(true);
    expect(calls).toEqual(['add-learner n4', 'add-learner n4', 'add-learner n4', 'promote n4', 'promote n4']);
  });

  it('carries out changes one at a time, in order: a promotion waits for its add', async () => {
    const calls: string[] = [];
    const nemesis = new Nemesis(membershipStandIn([refusal('NOT_LEADER'), 'ok'], calls), performance.now(), () => {}, new SeededRandom(1));
    await Promise.all([fire(nemesis, { kind: 'add-learner', id: 'n4' }), fire(nemesis, { kind: 'promote', id: 'n4' })]);
    expect(calls).toEqual(['add-learner n4', 'add-learner n4', 'promote n4']);
  });

  it('gives up on a refusal for good, and at the end of its window', async () => {
    const calls: string[] = [];
    const nemesis = new Nemesis(
      membershipStandIn([refusal('MEMBER_NOT_LEARNER'), refusal('LEARNER_NOT_CAUGHT_UP')], calls),
      performance.now(),
      () => {},
      new SeededRandom(1),
    );
    await fire(nemesis, { kind: 'promote', id: 'n2' });
    await fire(nemesis, { kind: 'add-voter', id: 'n4' }, 300);
    expect(nemesis.records.map((r) => r.label)).toEqual([
      'promote n2: refused, MEMBER_NOT_LEARNER: MEMBER_NOT_LEARNER',
      'add-voter n4: not done, last answer LEARNER_NOT_CAUGHT_UP: LEARNER_NOT_CAUGHT_UP',
    ]);
    expect(calls.length).toBeLessThan(1 + MEMBERSHIP_ATTEMPTS_MAX);
  });

  it('settles an answer that left the change open from the configuration', async () => {
    const calls: string[] = [];
    const supervisor = membershipStandIn(['ok'], calls);
    const change = supervisor.changeMembership.bind(supervisor);
    // The change commits, but its answer is lost.
    supervisor.changeMembership = async (c) => (await change(c), refusal('ANSWER_LOST', false));
    const nemesis = new Nemesis(supervisor, performance.now(), () => {}, new SeededRandom(1));
    await fire(nemesis, { kind: 'add-learner', id: 'n4' });
    expect(nemesis.records.map((r) => r.label)).toEqual(['add-learner n4: committed (1 try, confirmed from the configuration)']);
  });

  it('removes a member chosen when it fires from the current members, and targets follow them', async () => {
    const calls: string[] = [];
    const supervisor = membershipStandIn(['ok'], calls);
    const nemesis = new Nemesis(supervisor, performance.now(), () => {}, new SeededRandom(7));
    await fire(nemesis, { kind: 'add-learner', id: 'n4' });
    await fire(nemesis, { kind: 'remove-member', target: 'leader' });
    expect(supervisor.ids).toEqual(['n2', 'n3', 'n4']);
    await fire(nemesis, { kind: 'kill', target: 'n4', loseUnsynced: false });
    await fire(nemesis, { kind: 'remove-member', target: 'n1' });
    expect(nemesis.records.map((r) => r.label)).toEqual([
      'add-learner n4: committed (1 try)',
      'remove-member n1: committed (1 try)',
      'kill n4',
      'remove-member n1 skipped: no target',
    ]);
  });
});
