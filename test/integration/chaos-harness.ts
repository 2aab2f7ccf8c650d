import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'vitest';
import { runScenario } from '../../src/chaos/runner.js';
import { MEMBERSHIP_FAULTS, parseScenario, shortened } from '../../src/chaos/scenario.js';

/** The short form CI runs: the library scenario's timeline squeezed into this many milliseconds. */
export const SHORT_FORM_MS = 12_000;

export const LIBRARY = fs
  .readdirSync('scenarios')
  .filter((f) => f.endsWith('.yaml'))
  .sort();

/** Runs one library scenario in its short form and asserts every check passed, with real work done. */
export async function runLibraryScenario(file: string): Promise<void> {
  const scenario = shortened(parseScenario(fs.readFileSync(path.join('scenarios', file), 'utf8'), file), SHORT_FORM_MS);
  const log: string[] = [];
  const result = await runScenario(scenario, { log: (line) => log.push(line) });
  const ok = result.history.filter((op) => op.status === 'ok').length;
  const failures = result.checks.filter((c) => c.verdict !== 'pass').map((c) => `${c.name}: ${c.verdict}\n${c.detail}`);
  expect(failures, `${file}\n${log.join('\n')}`).toEqual([]);
  expect(result.ok, `${file}: passed only if something was checked`).toBe(true);
  expect(ok).toBeGreaterThan(100);
  expect(result.faults.length).toBeGreaterThanOrEqual(scenario.faults.length);
  // A scenario's start clocks reached their nodes (the supervisor says each), and so did its clock faults.
  for (const [id, clock] of Object.entries(scenario.clocks)) {
    const said = `${id} clock: rate ${clock.rate}, skew ${clock.skewMs} ms`;
    expect(
      log.some((line) => line.includes(said)),
      `${file}: ${said}\n${log.join('\n')}`,
    ).toBe(true);
  }
  // An overload scenario's excess was shed (definite failures, OVERLOADED), more of it than was admitted.
  if (scenario.admission !== undefined) {
    const shed = result.history.filter((op) => op.status === 'fail').length;
    expect(shed, `${file}: shed ${shed}, completed ${ok}`).toBeGreaterThan(ok);
  }
  // Disk faults and snapshots found a running node to act on (a skipped one would test nothing).
  const diskFaults = result.faults.filter((f) => f.kind === 'disk' || f.kind === 'snapshot');
  expect(diskFaults.filter((f) => f.skipped).map((f) => f.label)).toEqual([]);
  expect(diskFaults.length).toBe(scenario.faults.filter((f) => f.action.kind === 'disk' || f.action.kind === 'snapshot').length);
  const clockFaults = result.faults.filter((f) => f.kind === 'clock');
  expect(clockFaults.filter((f) => f.skipped).map((f) => f.label)).toEqual([]);
  expect(clockFaults.length).toBe(scenario.faults.filter((f) => f.action.kind === 'clock').length);
  // A membership fault that never committed would leave the scenario testing another cluster than it says.
  const changes = result.faults.filter((f) => (MEMBERSHIP_FAULTS as readonly string[]).includes(f.kind));
  expect(
    changes.filter((f) => !f.label.includes(': committed')).map((f) => f.label),
    `${file}\n${log.join('\n')}`,
  ).toEqual([]);
}
