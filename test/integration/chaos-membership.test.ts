// Membership changes in chaos scenarios and chaos on a cluster of processes (issue 16): the nemesis adds a
// learner, promotes it and removes members through Supervisor.changeMembership while the workload runs and
// other faults fire, and the checks still pass; the same runner runs a scenario on child processes over TCP.
// The library's grow-shrink and member-replace run in the short-form list (chaos-scenarios-a/b) like the others.
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../src/chaos/runner.js';
import { MEMBERSHIP_FAULTS, parseScenario, shortened } from '../../src/chaos/scenario.js';
import { runChaosCommand } from '../../src/cli/chaos-command.js';

const GROW = `name: grow
nodes: 3
duration: 8s
workload: { type: register, keys: 4, clients: 4, rate: 100/s }
faults:
  - { at: 1s, add-learner: n4 }
  - { at: 3.5s, promote: n4 }
  - { at: 6s, remove-member: follower }
checks: [linearizable]
`;

describe('membership faults in a scenario', () => {
  it('adds a learner, promotes it and removes a follower under load; the register stays linearizable', async () => {
    const log: string[] = [];
    const result = await runScenario(parseScenario(GROW, 'grow'), { log: (line) => log.push(line) });
    expect(result.ok, log.join('\n')).toBe(true);
    const changes = result.faults.filter((f) => (MEMBERSHIP_FAULTS as readonly string[]).includes(f.kind));
    expect(
      changes.map((f) => f.label.replace(/ \(.*\)$/, '')),
      log.join('\n'),
    ).toEqual([
      expect.stringMatching(/^add-learner n4: committed/),
      'promote n4: committed',
      expect.stringMatching(/^remove-member n\d: committed/),
    ]);
    for (const change of changes) expect(change.endMs).not.toBeNull();
  });
});

describe('chaos on a cluster of processes', () => {
  it('runs leader-kill, shortened, on child processes over TCP and passes', async () => {
    const scenario = shortened(parseScenario(fs.readFileSync('scenarios/leader-kill.yaml', 'utf8'), 'leader-kill'), 12_000);
    const log: string[] = [];
    const result = await runScenario(scenario, { log: (line) => log.push(line), hosting: 'processes' });
    expect(result.ok, log.join('\n')).toBe(true);
    // Each kill is a SIGKILL of the leader's process and its restart a new process: fewer operations than threads.
    expect(result.history.filter((op) => op.status === 'ok').length, log.join('\n')).toBeGreaterThan(50);
    expect(result.faults.filter((f) => f.kind === 'kill' && !f.skipped).length).toBeGreaterThanOrEqual(3);
  });

  it('raftkv chaos --processes refuses to go with --check', async () => {
    await expect(
      runChaosCommand(
        ['--check', '--processes', 'scenarios/leader-kill.yaml'],
        () => {},
        () => {},
      ),
    ).rejects.toThrow(/--check runs nothing: it takes no --duration, --report, --seed, --processes, --soak or --window/);
  });
});
