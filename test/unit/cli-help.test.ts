// Every raftkv command answers --help with its usage and --version with the package version, exit 0, and
// starts nothing (issue 15, item 1).
import * as fs from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CHAOS_USAGE } from '../../src/cli/chaos-command.js';
import { CLUSTER_USAGE } from '../../src/cli/cluster-command.js';
import { main } from '../../src/cli/main.js';
import { SNAPSHOT_USAGE } from '../../src/cli/snapshot-command.js';

const VERSION = (JSON.parse(fs.readFileSync('package.json', 'utf8')) as { version: string }).version;

/** Runs the command, returning its exit code and what it printed. */
async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void out.push(args.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void err.push(args.join(' ')));
  const code = await main(argv);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

afterEach(() => vi.restoreAllMocks());

describe('raftkv --help and --version', () => {
  it.each([[['--version']], [['-V']], [['cluster', '--version']], [['chaos', 'x.yaml', '--version']]])(
    '%j prints the version and exits 0',
    async (argv) => {
      const { code, out } = await run(argv);
      expect(code).toBe(0);
      expect(out).toBe(`raftkv ${VERSION} (node ${process.version})`);
    },
  );

  it.each([
    ['cluster', CLUSTER_USAGE],
    ['chaos', CHAOS_USAGE],
    ['snapshot', SNAPSHOT_USAGE],
  ])('raftkv %s --help prints that usage and exits 0', async (command, usage) => {
    for (const flag of ['--help', '-h']) {
      const { code, out, err } = await run([command, '--nodes', '3', flag]);
      expect(code).toBe(0);
      expect(out).toBe(usage);
      expect(err).toBe('');
    }
  });

  it('raftkv --help lists the commands and exits 0; no command is a usage error (64)', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^usage: raftkv <command>/);
    expect(help.out).toContain('--version');
    expect((await run([])).code).toBe(64);
    const unknown = await run(['frobnicate']);
    expect(unknown.code).toBe(64);
    expect(unknown.err).toContain('unknown command frobnicate');
  });
});
