// Scenario files are validated strictly (issue 15, item 7): an unknown key at any depth, a wrong type, a node
// the scenario does not have and a time outside the run are each an error naming the file, the 1-based line
// and the key's path; every mistake is reported at once (up to a cap); `raftkv chaos --check` validates files
// without running anything.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDuration, parseScenario, SCENARIO_ISSUES_SHOWN_MAX, ScenarioError, type ScenarioIssue } from '../../src/chaos/scenario.js';
import { EXIT_INVALID_SCENARIO, runChaosCommand } from '../../src/cli/chaos-command.js';

const FILE = 'scenarios/x.yaml';

/** The issues parseScenario reports for `text`; fails the test when the text is accepted. */
function issuesOf(text: string): readonly ScenarioIssue[] {
  try {
    parseScenario(text, 'x', FILE);
  } catch (error) {
    if (error instanceof ScenarioError) return error.issues;
    throw error;
  }
  throw new Error('the scenario was accepted');
}

/** Each issue as `line: path: message`, the way the tests compare them. */
const lines = (text: string): string[] => issuesOf(text).map((i) => `${i.line}: ${i.path}: ${i.message}`);

const GOOD = `name: x
nodes: 3
duration: 20s
workload:
  type: register
  clients: 4
  rate: 100/s
faults:
  - { at: 2s, kill: leader, for: 3s }
  - { at: 8s, pause: n3, for: 2s }
  - at: 12s
    partition: bridge
    for: 4s
checks: [linearizable]
`;

describe('a scenario file is validated strictly, each mistake with its file, line and key', () => {
  it('accepts the good file the other cases spoil', () => {
    expect(parseScenario(GOOD, 'x', FILE).faults).toHaveLength(3);
  });

  it('names a typo inside a workload, at its line, with the key it probably meant', () => {
    expect(lines(GOOD.replace('  clients: 4', '  clientz: 4'))).toEqual(['6: workload.clientz: unknown key (did you mean clients?)']);
    let message = '';
    try {
      parseScenario(GOOD.replace('  clients: 4', '  clientz: 4'), 'x', FILE);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toBe('scenarios/x.yaml:6: workload.clientz: unknown key (did you mean clients?)');
  });

  it('names a typo inside a workload when no checks are given (their default comes from the workload)', () => {
    // Without `checks:`, building the scenario reads the workload's type: a workload with a mistake is no
    // workload, and the mistake must be reported, not a TypeError thrown (found on a fresh clone).
    const noChecks = GOOD.replace('checks: [linearizable]\n', '').replace('  clients: 4', '  clientz: 4');
    expect(lines(noChecks)).toEqual(['6: workload.clientz: unknown key (did you mean clients?)']);
  });

  it('names a typo inside a fault, in a flow map and in a block map', () => {
    expect(lines(GOOD.replace('pause: n3, for: 2s', 'pause: n3, fro: 2s'))).toEqual(['10: faults[1].fro: unknown key (did you mean for?)']);
    expect(lines(GOOD.replace('    for: 4s', '    fr: 4s'))).toEqual(['13: faults[2].fr: unknown key (did you mean for?)']);
    expect(lines(GOOD.replace('bridge', 'bridge\n    colour: red'))).toEqual(['13: faults[2].colour: unknown key']);
  });

  it('refuses a value of the wrong type, where the value is written', () => {
    expect(lines(GOOD.replace('clients: 4', 'clients: four'))).toEqual(['6: workload.clients: must be an integer from 1 to 1024']);
    expect(lines(GOOD.replace('nodes: 3', 'nodes: [3]'))).toEqual(['2: nodes: must be an integer from 1 to 9']);
    expect(lines(GOOD.replace('checks: [linearizable]', 'checks: linearizable'))).toEqual([
      '14: checks: must be a list of linearizable, no-lost-writes, exactly-once',
    ]);
    expect(lines(GOOD.replace('at: 2s', 'at: soon'))).toEqual(['9: faults[0].at: expected a duration like 30s, 500ms or 2m, got "soon"']);
  });

  it('reads durations in ms, s, m and h', () => {
    expect(['250ms', '30s', '2m', '1h', '1.5h'].map((text) => parseDuration(text, 'x'))).toEqual([
      250, 30_000, 120_000, 3_600_000, 5_400_000,
    ]);
    expect(() => parseDuration('1d', 'x')).toThrow(/expected a duration like 30s/);
  });

  it('refuses a fault that does two things, or none, and a key that belongs to another action', () => {
    expect(lines(GOOD.replace('kill: leader,', 'kill: leader, pause: leader,'))).toEqual([
      '9: faults[0]: a fault does one thing; this one has kill and pause',
    ]);
    expect(lines(GOOD.replace('kill: leader,', ''))).toEqual([
      '9: faults[0]: a fault needs one of kill, restart, pause, resume, partition, links, heal, transfer, crash, hang, slow, flood, clock, disk, snapshot, add-learner, add-voter, promote, remove-member',
    ]);
    expect(lines(GOOD.replace('kill: leader,', 'kill: leader, ms: 5,'))).toEqual(['9: faults[0].ms: goes with slow, not kill']);
    // A disk fault needs something wrong with the disk; its keys go with it alone, each within its range.
    expect(lines(GOOD.replace('kill: leader,', 'disk: leader,'))).toEqual([
      '9: faults[0].disk: a disk fault needs one or more of stallMs, fsyncErrors, writeErrors, spaceBytes, loseRenames',
    ]);
    expect(lines(GOOD.replace('kill: leader,', 'kill: leader, stallMs: 100,'))).toEqual(['9: faults[0].stallMs: goes with disk, not kill']);
    expect(lines(GOOD.replace('kill: leader,', 'disk: leader, fsyncErrors: 0,'))[0]).toMatch(/^9: faults\[0\]\.fsyncErrors: /);
    expect(
      parseScenario(GOOD.replace('kill: leader,', 'disk: leader, stallMs: 3000, spaceBytes: 0,'), 'x', FILE).faults[0]?.action,
    ).toEqual({
      kind: 'disk',
      target: 'leader',
      faults: { syncDelayMs: 3000, spaceBytes: 0 },
    });
    expect(lines(GOOD.replace('workload:', 'workload:\n  api: resp'))).toEqual([
      '5: workload.api: the register workload needs http: its compare-and-set by index has no Redis-protocol command',
    ]);
  });

  it('refuses a node the scenario does not have (n1 to nN for its nodes)', () => {
    expect(lines(GOOD.replace('pause: n3', 'pause: n4'))).toEqual([
      '10: faults[1].pause: unknown node n4: this scenario has 3 nodes (n1 to n3)',
    ]);
    // The same node is fine in a scenario that has it.
    expect(parseScenario(GOOD.replace('pause: n3', 'pause: n4').replace('nodes: 3', 'nodes: 5')).faults[1]?.action).toEqual({
      kind: 'pause',
      target: 'n4',
    });
  });

  it('refuses a time outside the run: after the end, an undo after the end, or negative', () => {
    expect(lines(GOOD.replace('at: 12s', 'at: 21s'))).toEqual(['11: faults[2].at: "21s" is after the end of the scenario (20s)']);
    expect(lines(GOOD.replace('    for: 4s', '    for: 9s'))).toEqual([
      '13: faults[2].for: ends at 21s, after the end of the scenario (20s)',
    ]);
    expect(lines(GOOD.replace('at: 2s', 'at: -2s'))).toEqual(['9: faults[0].at: must not be negative, got "-2s"']);
    expect(lines(GOOD.replace('at: 2s', 'at: -2'))).toEqual(['9: faults[0].at: must not be negative, got -2']);
    // At the very end is still inside the run.
    expect(parseScenario(GOOD.replace('at: 12s', 'at: 16s')).faults[2]?.atMs).toBe(16_000);
  });

  it('reports every mistake at once, in file order', () => {
    const broken = GOOD.replace('duration: 20s', 'duration: 20s\nsize: 3')
      .replace('clients: 4', 'clients: -1')
      .replace('kill: leader', 'kill: n9')
      .replace('at: 12s', 'at: 1m')
      .replace('checks: [linearizable]', 'checks: [linearisable]');
    expect(lines(broken)).toEqual([
      '4: size: unknown key',
      '7: workload.clients: must be an integer from 1 to 1024',
      '10: faults[0].kill: unknown node n9: this scenario has 3 nodes (n1 to n3)',
      '12: faults[2].at: "1m" is after the end of the scenario (20s)',
      '15: checks[0]: must be one of linearizable, no-lost-writes, exactly-once, got "linearisable"',
    ]);
  });

  it(`spells out at most ${SCENARIO_ISSUES_SHOWN_MAX} and counts the rest`, () => {
    const faults = Array.from({ length: 30 }, (_, i) => `  - { at: ${i}s, kil: leader }`).join('\n');
    const text = `name: x\nduration: 1m\nfaults:\n${faults}\n`;
    expect(issuesOf(text)).toHaveLength(30);
    let message = '';
    try {
      parseScenario(text, 'x', FILE);
    } catch (error) {
      message = (error as Error).message;
    }
    const shown = message.split('\n');
    expect(shown).toHaveLength(SCENARIO_ISSUES_SHOWN_MAX + 1);
    expect(shown[0]).toBe('scenarios/x.yaml:4: faults[0].kil: unknown key (did you mean kill?)');
    expect(shown.at(-1)).toBe('and 10 more');
  });

  it('gives a YAML syntax error its line', () => {
    expect(lines('name: x\nnodes: 3\nworkload: { type: register\nfaults: []\n')[0]).toMatch(/^\d+: : not valid YAML: /);
    expect(issuesOf('name: x\nname: y\n').map((i) => i.line)).toEqual([2]);
  });
});

describe('the scenario library', () => {
  const files = fs
    .readdirSync('scenarios')
    .filter((f) => f.endsWith('.yaml'))
    .sort();

  it.each(files)('%s validates', (file) => {
    const scenario = parseScenario(fs.readFileSync(path.join('scenarios', file), 'utf8'), file, `scenarios/${file}`);
    expect(scenario.name).toBe(file.slice(0, -'.yaml'.length));
    expect(scenario.faults.length).toBeGreaterThan(0);
  });

  it('parses to the same scenarios as before strict validation', () => {
    const read = (file: string) => parseScenario(fs.readFileSync(path.join('scenarios', file), 'utf8'), file);
    expect(read('lossy-links.yaml')).toEqual({
      name: 'lossy-links',
      description: '40% of messages dropped on every link, then delays and duplicates on top.',
      nodes: 5,
      storage: 'disk',
      durationMs: 30_000,
      workload: {
        type: 'register',
        keys: 8,
        clients: 8,
        ratePerSecond: 150,
        mix: { read: 0.5, write: 0.3, cas: 0.2 },
        api: 'http',
        reads: 'router',
      },
      faults: [
        { atMs: 3000, action: { kind: 'links', drop: 0.4, delayMs: [0, 0], duplicate: 0 }, forMs: 10_000 },
        { atMs: 16_000, action: { kind: 'links', drop: 0.2, delayMs: [0, 20], duplicate: 0.05 }, forMs: 10_000 },
      ],
      checks: ['linearizable'],
      // The defaults of the keys added with the clock faults (issue 18): ReadIndex reads, true clocks.
      readMode: 'safe',
      clocks: {},
    });
    expect(read('counter-leader-kill.yaml').faults.map((f) => f.action)).toEqual([
      { kind: 'kill', target: 'leader', loseUnsynced: false },
      { kind: 'kill', target: 'leader', loseUnsynced: false },
      { kind: 'transfer' },
    ]);
    expect(read('counter-leader-kill.yaml').workload.api).toBe('resp');
    expect(read('lose-unsynced.yaml').faults[0]?.action).toEqual({ kind: 'kill', target: 'leader', loseUnsynced: true });
    expect(read('supervision.yaml').faults.map((f) => f.action)).toEqual([
      { kind: 'crash', target: 'leader' },
      { kind: 'hang', target: 'follower' },
      { kind: 'slow', target: 'leader', ms: 100 },
      { kind: 'flood', target: 'follower', messages: 50_000 },
    ]);
  });
});

describe('raftkv chaos --check', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftkv-scenario-check-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const good = path.join(dir, 'good.yaml');
  const bad = path.join(dir, 'bad.yaml');
  fs.writeFileSync(good, GOOD);
  fs.writeFileSync(bad, GOOD.replace('  clients: 4', '  clientz: 4').replace('pause: n3', 'pause: n7'));

  const check = async (files: string[]): Promise<{ code: number; out: string[]; err: string[] }> => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runChaosCommand(
      ['--check', ...files],
      (line) => out.push(line),
      (line) => err.push(line),
    );
    return { code, out, err };
  };

  it('prints ok with the scenario in brief for a valid file, and exits 0', async () => {
    expect(await check([good])).toEqual({ code: 0, out: [`ok ${good} (x, 3 nodes, 20s, 3 faults)`], err: [] });
  });

  it('prints every mistake of an invalid file with its line and exits 65, still checking the others', async () => {
    expect(await check([bad, good])).toEqual({
      code: EXIT_INVALID_SCENARIO,
      out: [`ok ${good} (x, 3 nodes, 20s, 3 faults)`],
      err: [
        `${bad}:6: workload.clientz: unknown key (did you mean clients?)\n` +
          `${bad}:10: faults[1].pause: unknown node n7: this scenario has 3 nodes (n1 to n3)`,
      ],
    });
    expect(EXIT_INVALID_SCENARIO).toBe(65);
  });

  it('exits 65 from the command line too, and 0 on the whole library', () => {
    const raftkv = (args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/run.ts', 'chaos', '--check', ...args], { encoding: 'utf8' });
    const invalid = raftkv([good, bad]);
    expect(invalid.status).toBe(65);
    expect(invalid.stdout).toBe(`ok ${good} (x, 3 nodes, 20s, 3 faults)\n`);
    expect(invalid.stderr).toContain(`${bad}:6: workload.clientz: unknown key`);
    const library = fs
      .readdirSync('scenarios')
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => path.join('scenarios', f));
    const valid = raftkv(library);
    expect(valid.status, valid.stderr).toBe(0);
    expect(valid.stdout.trim().split('\n')).toHaveLength(library.length);
    expect(valid.stdout).toContain('ok scenarios/stale-read.yaml (stale-read, 3 nodes, 20s, 6 faults)');
  });
});
