// A simulator run as an explorer trace (issue 14): the live stream's schema, so a failing seed opens in the
// explorer's replay mode. Recording must not change the run.
import { describe, expect, it } from 'vitest';
import type { ExplorerEvent } from '../../src/protocol/explorer.js';
import { SafetyViolation } from './checker.js';
import { optionsOf, type RunRequest } from './replay.js';
import { runRequest } from './run-seeds.js';
import { Simulator, simulatedNodeIds } from './simulator.js';
import { parseTrace, TraceRecorder } from './trace.js';

function recorderFor(request: RunRequest): TraceRecorder {
  const options = optionsOf(request);
  return new TraceRecorder(simulatedNodeIds(options), {
    tickMs: 10,
    electionTicks: options.electionTicks,
    heartbeatTicks: options.heartbeatTicks,
  });
}

describe('simulator traces', () => {
  const request: RunRequest = { seed: 17, family: 'mixed', overrides: {} };

  it('records a run in the explorer schema without changing it', () => {
    const recorder = recorderFor(request);
    const traced = runRequest(request, recorder);
    expect(traced.stats).toEqual(runRequest(request).stats);
    const trace = parseTrace(JSON.stringify(recorder.trace()));
    expect(trace.source).toBe('simulator');
    expect(trace.start.nodes).toEqual(simulatedNodeIds(optionsOf(request)));
    const kinds = new Set(trace.events.map((event) => event.kind));
    for (const kind of ['node-frame', 'role', 'vote', 'supervision', 'links'] as const) expect(kinds).toContain(kind);
    for (const id of trace.start.nodes) expect(trace.events.some((e) => e.kind === 'node-frame' && e.node === id)).toBe(true);
    expect(trace.events.some((e) => e.kind === 'role' && e.role === 'leader')).toBe(true);
    const times = trace.events.map((event) => event.t);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    // Every crash in the stats is a supervision event.
    expect(trace.events.filter((e) => e.kind === 'supervision' && e.supervision.state === 'restarting').length).toBe(traced.stats.crashes);
  });

  it('ends a failing run with a safety-violation alarm naming the property', () => {
    const recorder = recorderFor(request);
    let steps = 0;
    const hooks = {
      onStep: (): void => {
        if (++steps === 200) throw new SafetyViolation('election-safety', 'term 3 has two leaders: n1 and n2 (injected by the test)');
      },
    };
    const result = new Simulator(optionsOf(request), hooks, recorder).run();
    expect(result.ok).toBe(false);
    const last = recorder.trace().events.at(-1) as ExplorerEvent;
    expect(last).toMatchObject({ kind: 'alarm', alarm: 'safety-violation' });
    expect(last.kind === 'alarm' && last.detail).toMatch(/^correctness \(election-safety\): election-safety: term 3 has two leaders/);
  });

  it('refuses a trace of another schema, or with events out of order', () => {
    const trace = recorderFor(request).trace();
    expect(() => parseTrace(JSON.stringify({ ...trace, schema: 2 }))).toThrow(/trace schema 2, this reader knows 1/);
    const events = [
      { seq: 2, t: 0, kind: 'links', faults: [] },
      { seq: 1, t: 0, kind: 'links', faults: [] },
    ];
    expect(() => parseTrace(JSON.stringify({ ...trace, events }))).toThrow(/increasing seq/);
    expect(() => parseTrace(JSON.stringify({ schema: 1, source: 'elsewhere' }))).toThrow(/source/);
  });
});
