// The chaos DSL says only what it does: a workload runs over the API it names or is refused; a check that
// does not fit the workload says n/a and checks nothing; a fault with no target is recorded as skipped and
// does not start a phase. (The runs themselves are in test/integration/chaos-scenarios-*.test.ts.)
import { describe, expect, it } from 'vitest';
import { runChecks } from '../../src/chaos/checks.js';
import type { FaultRecord } from '../../src/chaos/nemesis.js';
import { phaseStats } from '../../src/chaos/runner.js';
import { parseScenario } from '../../src/chaos/scenario.js';

const scenario = (workload: string, checks = '[linearizable]'): string =>
  `name: t\nnodes: 3\nduration: 5s\nworkload: ${workload}\nfaults: []\nchecks: ${checks}\n`;

describe('the scenario API', () => {
  it('runs each workload over the API it names, and refuses a pair it cannot run', () => {
    expect(parseScenario(scenario('{ type: set, api: resp }', '[no-lost-writes]')).workload.api).toBe('resp');
    expect(parseScenario(scenario('{ type: set }', '[no-lost-writes]')).workload.api).toBe('http');
    expect(() => parseScenario(scenario('{ type: register, api: resp }'))).toThrow(/register workload needs http/);
    expect(() => parseScenario(scenario('{ type: counter, api: http }', '[exactly-once]'))).toThrow(/counter workload needs resp/);
  });

  it('routes register reads through the router, or pins them to every node; refuses anything else', () => {
    expect(parseScenario(scenario('{ type: register }')).workload.reads).toBe('router');
    expect(parseScenario(scenario('{ type: register, reads: every-node }')).workload.reads).toBe('every-node');
    expect(() => parseScenario(scenario('{ type: register, reads: leader }'))).toThrow(
      /workload\.reads: must be one of router, every-node/,
    );
    expect(() => parseScenario(scenario('{ type: set, reads: every-node }', '[no-lost-writes]'))).toThrow(/needs the register workload/);
  });

  it('pause: isolated names the node an isolate-leader partition cut off; other faults do not take it', () => {
    const faults = (list: string): string => `name: t\nnodes: 3\nduration: 5s\nfaults: ${list}\n`;
    const parsed = parseScenario(faults('[{ at: 1s, partition: isolate-leader, for: 2s }, { at: 1s, pause: isolated, for: 1s }]'));
    expect(parsed.faults.map((f) => f.action)).toEqual([
      { kind: 'partition', shape: 'isolate-leader' },
      { kind: 'pause', target: 'isolated' },
    ]);
    expect(() => parseScenario(faults('[{ at: 1s, kill: isolated }]'))).toThrow(/kill: target must be one of/);
  });
});

describe('checks that do not fit the workload', () => {
  it('say n/a and check nothing', async () => {
    const verdicts = await runChecks(['linearizable', 'exactly-once', 'no-lost-writes'], 'set', [], new Map(), { timeLimitMs: 1_000 });
    expect(verdicts.map((v) => [v.name, v.verdict])).toEqual([
      ['linearizable', 'n/a'],
      ['exactly-once', 'n/a'],
      ['no-lost-writes', 'pass'],
    ]);
    const onRegister = await runChecks(['no-lost-writes'], 'register', [], new Map(), { timeLimitMs: 1_000 });
    expect(onRegister[0]?.verdict).toBe('n/a');
  });
});

describe('faults with no target', () => {
  it('are recorded as skipped and start no phase', () => {
    const faults: FaultRecord[] = [
      { atMs: 100, label: 'kill n1', endMs: null, kind: 'kill', skipped: false },
      { atMs: 200, label: 'resume  skipped: no target', endMs: null, kind: 'resume', skipped: true },
    ];
    expect(phaseStats([], faults, 300).map((p) => p.label)).toEqual(['start', 'kill n1']);
  });
});

describe('actor faults in the scenario language', () => {
  const scenario = (fault: string): string =>
    `name: s\nnodes: 3\nduration: 10s\nworkload: { type: register, keys: 2, clients: 2, rate: 10/s }\nfaults:\n  - ${fault}\nchecks: [linearizable]\n`;

  it('parses crash, hang, slow and flood with their targets and amounts', () => {
    expect(parseScenario(scenario('{ at: 1s, crash: leader }')).faults[0]?.action).toEqual({ kind: 'crash', target: 'leader' });
    expect(parseScenario(scenario('{ at: 1s, hang: n2 }')).faults[0]?.action).toEqual({ kind: 'hang', target: 'n2' });
    expect(parseScenario(scenario('{ at: 1s, slow: follower, ms: 200, for: 2s }')).faults[0]).toMatchObject({
      action: { kind: 'slow', target: 'follower', ms: 200 },
      forMs: 2000,
    });
    expect(parseScenario(scenario('{ at: 1s, flood: random, messages: 5000 }')).faults[0]?.action).toEqual({
      kind: 'flood',
      target: 'random',
      messages: 5000,
    });
  });

  it('refuses a slow without ms, a flood past its bound, and an unknown target', () => {
    expect(() => parseScenario(scenario('{ at: 1s, slow: leader }'))).toThrow(/ms: must be an integer from 1 to 10000/);
    expect(() => parseScenario(scenario('{ at: 1s, flood: leader, messages: 2000000 }'))).toThrow(
      /messages: must be an integer from 1 to 1000000/,
    );
    expect(() => parseScenario(scenario('{ at: 1s, crash: everyone }'))).toThrow(/target must be one of/);
  });
});
