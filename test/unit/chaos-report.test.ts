// The HTML report of a chaos run (issue 15, item 9): bounded in size whatever the history's length, with a
// legend and the fault windows labelled, and the slowest operations still drawn one by one.
import { describe, expect, it } from 'vitest';
import type { Operation } from '../../src/chaos/checker/history.js';
import type { FaultRecord } from '../../src/chaos/nemesis.js';
import { REPORT_CHECK_DETAIL_CHARS_MAX, REPORT_OUTLIERS_MAX, htmlReport } from '../../src/chaos/report.js';
import { phaseStats, type ChaosResult } from '../../src/chaos/runner.js';
import { parseScenario } from '../../src/chaos/scenario.js';
import { SHORT_SCENARIO } from '../support/scenario-library.js';

/** A ten-minute history of `count` operations, 2 ms each, 40 ms during a partition from 200 s to 260 s. */
function longResult(count: number): ChaosResult {
  const endMs = 600_000;
  const history: Operation[] = [];
  for (let id = 0; id < count; id++) {
    const invokeTime = (id / count) * endMs;
    const slow = invokeTime >= 200_000 && invokeTime < 260_000;
    const latency = slow ? 40 + (id % 7) : 2 + (id % 3) * 0.1;
    const status = id % 5_000 === 0 ? 'info' : 'ok';
    history.push({
      id,
      process: id % 64,
      f: 'write',
      key: 'k',
      input: id,
      output: null,
      status,
      invokeTime,
      completeTime: status === 'info' ? Infinity : invokeTime + latency,
    });
  }
  const faults: FaultRecord[] = [
    { atMs: 200_000, endMs: 260_000, label: 'partition majority-minority', kind: 'partition', skipped: false },
  ];
  return {
    scenario: parseScenario(SHORT_SCENARIO, 'long'),
    history,
    faults,
    phases: phaseStats(history, faults, endMs),
    checks: [{ name: 'linearizable', verdict: 'fail', detail: 'x'.repeat(REPORT_CHECK_DETAIL_CHARS_MAX + 10) }],
    ok: false,
    durationMs: endMs,
    seed: 1,
  } as ChaosResult;
}

describe('the chaos HTML report', () => {
  it('stays small for a ten-minute run of a million operations, with a legend and the fault labelled', () => {
    const html = htmlReport(longResult(1_000_000));
    expect(html.length).toBeLessThan(1024 * 1024);
    expect(html).toContain('1,000,000 operations');
    expect(html).toContain('partition majority-minority');
    for (const label of ['p50', 'p99', 'max (dashed)', 'a fault in force', 'failed or unknown (info)']) expect(html).toContain(label);
    const dots = html.match(/<circle /g)?.length ?? 0;
    expect(dots).toBeGreaterThan(0);
    expect(dots).toBeLessThanOrEqual(REPORT_OUTLIERS_MAX);
    expect(html).toContain('10 more characters cut');
  });

  it('draws every slow operation of a short run, and nothing of columns where nothing was answered', () => {
    const html = htmlReport(longResult(2_000));
    // Operations above their column's p99 are few in a short run: all drawn.
    expect(html.match(/<circle /g)?.length ?? 0).toBeLessThan(REPORT_OUTLIERS_MAX);
    expect(html).toContain('2,000 operations');
    expect(html).not.toContain('NaN');
  });
});
