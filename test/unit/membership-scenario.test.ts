// Membership faults in scenario files (issue 16): add-learner and add-voter bring in a new node (an id past the
// scenario's nodes, up to CLUSTER_NODES_MAX, each once), promote takes a member added by an earlier fault, and
// remove-member a node or one chosen when it fires. A node an add brings in may be any fault's target, but only
// after its add; an id that is never added is still refused, with every mistake at its line.
import { describe, expect, it } from 'vitest';
import { CLUSTER_NODES_MAX } from '../../src/actor/supervisor.js';
import { parseScenario } from '../../src/chaos/scenario.js';
import { issueLines } from '../support/scenario-issues.js';

const FILE = 'scenarios/x.yaml';

const GOOD = `name: x
nodes: 3
duration: 20s
workload: { type: register }
faults:
  - { at: 2s, add-learner: n4, for: 4s }
  - { at: 6s, promote: n4, for: 4s }
  - { at: 10s, kill: n4, for: 2s }
  - { at: 13s, remove-member: leader }
  - { at: 15s, add-voter: n5 }
  - { at: 17s, remove-member: n5 }
`;

const lines = issueLines;

describe('membership faults in a scenario file', () => {
  it('accepts adds, a promotion and removals, and a fault on an added node after its add', () => {
    expect(parseScenario(GOOD, 'x', FILE).faults.map((f) => [f.atMs, f.action, f.forMs])).toEqual([
      [2000, { kind: 'add-learner', id: 'n4' }, 4000],
      [6000, { kind: 'promote', id: 'n4' }, 4000],
      [10_000, { kind: 'kill', target: 'n4', loseUnsynced: false }, 2000],
      [13_000, { kind: 'remove-member', target: 'leader' }, null],
      [15_000, { kind: 'add-voter', id: 'n5' }, null],
      [17_000, { kind: 'remove-member', target: 'n5' }, null],
    ]);
  });

  it('refuses an id that no fault adds, naming the nodes the scenario has and adds', () => {
    expect(lines(GOOD.replace('kill: n4', 'kill: n6'))).toEqual([
      '8: faults[2].kill: unknown node n6: this scenario has 3 nodes (n1 to n3, and n4, n5 once added)',
    ]);
    expect(lines(GOOD.replace('add-learner: n4', 'add-learner: n6'))).toEqual([
      '7: faults[1].promote: unknown node n4: this scenario has 3 nodes (n1 to n3, and n6, n5 once added)',
      '8: faults[2].kill: unknown node n4: this scenario has 3 nodes (n1 to n3, and n6, n5 once added)',
    ]);
  });

  it('refuses a fault on an added node at or before its add', () => {
    expect(lines(GOOD.replace('at: 6s, promote', 'at: 2s, promote'))).toEqual([
      '7: faults[1].promote: n4 is only added at 2s: name it in a later fault',
    ]);
    expect(lines(GOOD.replace('at: 17s, remove-member: n5', 'at: 1s, remove-member: n5'))).toEqual([
      '11: faults[5].remove-member: n5 is only added at 15s: name it in a later fault',
    ]);
  });

  it('refuses to add a node the scenario starts with, one past the cluster limit, or one node twice', () => {
    expect(lines(GOOD.replace('add-voter: n5', 'add-voter: n2'))).toEqual([
      '10: faults[4].add-voter: n2 is a member from the start (n1 to n3); a new member is n4 to n9',
      '11: faults[5].remove-member: unknown node n5: this scenario has 3 nodes (n1 to n3, and n4 once added)',
    ]);
    expect(lines(GOOD.replace('add-voter: n5', `add-voter: n${CLUSTER_NODES_MAX + 1}`))[0]).toBe(
      `10: faults[4].add-voter: must be a new node id (n4 to n${CLUSTER_NODES_MAX}: a cluster has at most ${CLUSTER_NODES_MAX} nodes), got "n10"`,
    );
    expect(lines(GOOD.replace('add-voter: n5', 'add-voter: n4')).slice(0, 2)).toEqual([
      '6: faults[0].add-learner: n4 is added 2 times: each new member is added once',
      '10: faults[4].add-voter: n4 is added 2 times: each new member is added once',
    ]);
    expect(lines(GOOD.replace('nodes: 3', `nodes: ${CLUSTER_NODES_MAX}`))[0]).toBe(
      `6: faults[0].add-learner: n4 is a member from the start (n1 to n${CLUSTER_NODES_MAX}); a new member is none`,
    );
  });

  it('promotes only an added member, and removes one node, not a group', () => {
    expect(lines(GOOD.replace('promote: n4', 'promote: n2'))).toEqual([
      '7: faults[1].promote: n2 is a voter from the start: only a member added by add-learner can be promoted',
    ]);
    expect(lines(GOOD.replace('remove-member: leader', 'remove-member: minority'))).toEqual([
      '9: faults[3].remove-member: target must be one of leader, follower, random or a node n1 to n3, and n4, n5 once added, got "minority"',
    ]);
    expect(lines(GOOD.replace('promote: n4', 'promote: leader'))).toEqual([
      '7: faults[1].promote: must be a node n1 to n3, and n4, n5 once added, got "leader"',
    ]);
  });
});
