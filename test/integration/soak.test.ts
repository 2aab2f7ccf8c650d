// The soak (issue 18, item 7) in a short form: one 5-node cluster, a window of every fault class in turn
// (kills, pauses, partitions, loss, disk, clock, membership), each checked on its own keys; the table per class
// shows every class ran, injected its faults, did real work, and found no violation and no acknowledged write
// lost. The command line refuses what does not go with --soak.
import { describe, expect, it } from 'vitest';
import { runSoak, SOAK_CLASSES, soakTable } from '../../src/chaos/soak.js';
import { runChaosCommand } from '../../src/cli/chaos-command.js';

describe('raftkv chaos --soak', () => {
  it('rotates every fault class through windows on one cluster, each checked, with a table per class', async () => {
    const lines: string[] = [];
    const result = await runSoak({ durationMs: 60_000, windowMs: 6_000, seed: 18, log: (line) => lines.push(line) });
    const report = `${lines.join('\n')}\n${soakTable(result)}`;
    expect(result.windows.length, report).toBeGreaterThanOrEqual(SOAK_CLASSES.length);
    for (const row of result.rows) {
      expect(row.runs, `${row.faultClass}\n${report}`).toBeGreaterThanOrEqual(1);
      expect(row.faults, `${row.faultClass}\n${report}`).toBeGreaterThanOrEqual(1);
      expect(row.operations, `${row.faultClass}\n${report}`).toBeGreaterThan(100);
      expect(row.violations, `${row.faultClass}\n${report}`).toBe(0);
      expect(row.lostAcknowledged, `${row.faultClass}\n${report}`).toBe(0);
    }
    // Both checks ran: the register windows for linearizability, the set windows for lost writes.
    expect(new Set(result.windows.map((w) => w.workload))).toEqual(new Set(['register', 'set']));
    expect(result.ok).toBe(true);
    expect(soakTable(result).split('\n')).toHaveLength(SOAK_CLASSES.length + 3);
  }, 180_000);

  it('refuses a scenario file, a window under 4 s and options that do not go with it', async () => {
    const run = (...argv: string[]): Promise<number> => runChaosCommand(argv, () => {});
    await expect(run('--soak', '1m', 'scenarios/leader-kill.yaml')).rejects.toThrow(/runs no scenario file/);
    // An hour is written 1h (as the README's soak command has it): only the window is refused here.
    await expect(run('--soak', '1h', '--window', '2s')).rejects.toThrow(/--window must be at least 4s/);
    await expect(run('--soak', '1m', '--processes')).rejects.toThrow(/takes only --window and --seed/);
    await expect(run('--soak', 'soon')).rejects.toThrow(/duration/);
    await expect(run('scenarios/leader-kill.yaml', '--window', '10s')).rejects.toThrow(/--window goes with --soak/);
  });
});
