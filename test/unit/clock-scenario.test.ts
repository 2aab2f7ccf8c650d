// Clocks in scenario files (issue 18): `readMode: lease`, start clocks per node (`clocks: { n2: { rate,
// skewMs } }`) and the `clock` fault (a target with a rate, a skewMs or both). With lease reads on, the
// schema refuses clocks whose rates run further apart than leaseClockRateRatioMax allows for the cluster's
// election timeout; with ReadIndex reads any rate in range is allowed.
import { describe, expect, it } from 'vitest';
import { SUPERVISOR_DEFAULTS } from '../../src/actor/supervisor.js';
import { leaseClockRatio, parseScenario } from '../../src/chaos/scenario.js';
import { leaseClockRateRatioMax } from '../../src/raft/raft.js';
import { issueLines } from '../support/scenario-issues.js';

const FILE = 'scenarios/x.yaml';

const GOOD = `name: x
nodes: 3
duration: 20s
readMode: lease
clocks:
  n1: { rate: 1.02, skewMs: -400 }
  n3: { skewMs: 1200 }
workload: { type: register }
faults:
  - { at: 2s, clock: leader, rate: 1.05, for: 4s }
  - { at: 8s, clock: n2, skewMs: -2000 }
`;

const lines = issueLines;

describe('clocks in a scenario file', () => {
  it('accepts lease reads, start clocks and clock faults within the bound', () => {
    const scenario = parseScenario(GOOD, 'x', FILE);
    expect(scenario.readMode).toBe('lease');
    expect(scenario.clocks).toEqual({ n1: { rate: 1.02, skewMs: -400 }, n3: { rate: 1, skewMs: 1200 } });
    expect(scenario.faults.map((f) => [f.atMs, f.action, f.forMs])).toEqual([
      [2000, { kind: 'clock', target: 'leader', rate: 1.05, skewMs: null }, 4000],
      [8000, { kind: 'clock', target: 'n2', rate: null, skewMs: -2000 }, null],
    ]);
    // 1 (n2's true clock) to 1.05 (the fault): within 14/13 for 15 election ticks.
    expect(leaseClockRatio(scenario)).toBeCloseTo(1.05, 12);
    expect(leaseClockRateRatioMax(SUPERVISOR_DEFAULTS.core.electionTicks ?? 0)).toBeCloseTo(14 / 13, 12);
    expect(parseScenario('nodes: 3\nfaults: [{ at: 1s, kill: leader }]\n').readMode).toBe('safe');
  });

  it('refuses clocks beyond the lease bound with lease reads on, and allows them with ReadIndex reads', () => {
    const beyond = GOOD.replace('rate: 1.05', 'rate: 1.1');
    expect(lines(beyond)).toEqual([
      '4: readMode: lease reads need clocks within 1.0769 of each other (leaseClockRateRatioMax for electionTicks 15); ' +
        "this scenario's rates run from 1 to 1.1 (1.1000 apart)",
    ]);
    expect(parseScenario(beyond.replace('readMode: lease', 'readMode: safe'), 'x', FILE).faults[0]?.action).toMatchObject({ rate: 1.1 });
    // A slow start clock counts as much as a fast fault.
    expect(lines(GOOD.replace('rate: 1.02', 'rate: 0.97'))[0]).toMatch(/rates run from 0.97 to 1.05/);
  });

  it('refuses a clock out of range, a clock fault with neither rate nor skew, and its keys on another fault', () => {
    expect(lines(GOOD.replace('rate: 1.02', 'rate: 3'))).toEqual([
      '6: clocks.n1.rate: must be a number from 0.5 to 2 (ticks per tick of a true clock)',
    ]);
    expect(lines(GOOD.replace('skewMs: -400', 'skewMs: 0.5'))).toEqual([
      '6: clocks.n1.skewMs: must be an integer of milliseconds from -3600000 to 3600000',
    ]);
    expect(lines(GOOD.replace('clock: n2, skewMs: -2000', 'clock: n2'))).toEqual([
      '11: faults[1].clock: a clock fault needs a rate, a skewMs or both',
    ]);
    expect(lines(GOOD.replace('clock: n2, skewMs: -2000', 'kill: n2, skewMs: -2000'))).toEqual([
      '11: faults[1].skewMs: goes with clock, not kill',
    ]);
    expect(lines(GOOD.replace('clock: n2', 'clock: n4'))[0]).toMatch(/^11: faults\[1\]\.clock: unknown node n4/);
  });

  it('refuses pausing, hanging or slowing a node with lease reads on: its clock would stop', () => {
    expect(lines(GOOD.replace('clock: n2, skewMs: -2000', 'pause: leader'))).toEqual([
      "11: faults[1].pause: pause stops or slows the node's clock, which no lease bound covers: not with readMode lease",
    ]);
    expect(lines(GOOD.replace('clock: n2, skewMs: -2000', 'slow: n1, ms: 50'))[0]).toMatch(/^11: faults\[1\]\.slow: slow stops/);
    expect(
      parseScenario(GOOD.replace('readMode: lease', 'readMode: safe').replace('clock: n2, skewMs: -2000', 'pause: leader'), 'x', FILE)
        .faults,
    ).toHaveLength(2);
  });

  it('refuses start clocks for nodes the scenario does not start with, and unknown keys in them', () => {
    expect(lines(GOOD.replace('  n3: { skewMs: 1200 }', '  n4: { skewMs: 1200 }'))).toEqual([
      '7: clocks.n4: unknown node n4: start clocks are for n1 to n3',
    ]);
    expect(lines(GOOD.replace('n3: { skewMs: 1200 }', 'n3: { skew: 1200 }'))[0]).toMatch(/^7: clocks\.n3\.skew: unknown key/);
    expect(lines(GOOD.replace('readMode: lease', 'readMode: fast'))[0]).toMatch(/^4: readMode: must be one of safe, lease/);
  });
});
