// Logs an operator can use (issue 15, item 4): a worker's line reaches the log through the supervisor with its
// node id and term, a flood of one fault writes a few lines and one count, and `raftkv cluster --log-format
// json` writes JSON lines on stdout.
import * as Comlink from 'comlink';
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { LOG_REPEAT_LIMITS } from '../../src/actor/supervisor.js';
import type { LogContext } from '../../src/util/log.js';
import { leaderOf, startCluster, waitFor, type TestCluster } from './cluster-harness.js';

const ENTRY = path.resolve('src/cli/run.ts');
let cluster: TestCluster | null = null;
let children: ChildProcess[] = [];

afterEach(async () => {
  await cluster?.stop();
  cluster = null;
  for (const child of children) if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
  children = [];
});

describe('a node worker logs through the supervisor', () => {
  it('a bad frame is logged with the node id and term, and a flood of them as a few lines and one count', async () => {
    const lines: { message: string; context: LogContext | undefined }[] = [];
    cluster = await startCluster({ nodes: 3, log: (message, context) => void lines.push({ message, context }) });
    const { supervisor } = cluster;
    await leaderOf(supervisor);
    // Stand in for n2 on n1's link to it: n1 takes our port as its link, and we send it garbage.
    const control = supervisor.control('n1');
    if (control === null) throw new Error('n1 is not running');
    const channel = new MessageChannel();
    await control.connectPeer('n2', Comlink.transfer(channel.port1, [channel.port1 as unknown as never]));
    const floods = 50;
    for (let i = 0; i < floods; i++) channel.port2.postMessage(new Uint8Array([0xff, 0xfe, 0xfd, i]));
    const bad = () => lines.filter((line) => line.message.startsWith('TRANSPORT_BAD_FRAME from n2'));
    const summary = await waitFor('the count of the held-back lines', () => bad().find((line) => line.message.includes('(repeated ')));
    channel.port2.close();

    const { lines: allowed, windowMs } = LOG_REPEAT_LIMITS.badFrame;
    expect(bad()).toHaveLength(allowed + 1);
    expect(summary.message).toMatch(new RegExp(`\\(repeated ${floods - allowed} times in the last ${windowMs / 1000} s\\)$`));
    for (const line of bad()) {
      expect(line.context?.level).toBe('warn');
      expect(line.context?.node).toBe('n1');
      // A leader was elected, so the supervisor knows n1's term.
      expect(line.context?.term).toBeGreaterThan(0);
    }
    // The supervisor's own announcements carry their node too.
    expect(lines.find((line) => /^leader n\d \(term \d+\)$/.test(line.message))?.context).toMatchObject({ level: 'info', announce: true });
  });
});

/** Runs the raftkv command with stdout and stderr apart. */
function run(args: string[]): { stdout: () => string; stderr: () => string; exited: Promise<number | null>; child: ChildProcess } {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  children.push(child);
  return { stdout: () => stdout, stderr: () => stderr, exited, child };
}

describe('raftkv cluster --log-format json', () => {
  it('writes one JSON object per line on stdout: time, level, msg, and the node and term of node lines', async () => {
    const proc = run(['cluster', '--nodes', '3', '--memory', '--http-port', '0', '--resp-port', '0', '--log-format', 'json']);
    type Line = { time: string; level: string; msg: string; node?: string; term?: number };
    const parsed = (): Line[] =>
      proc
        .stdout()
        .split('\n')
        .filter((line) => line.length > 0)
        .map((line) => JSON.parse(line) as Line);
    await waitFor(
      'a leader and the HTTP API announced',
      () => {
        const msgs = parsed().map((line) => line.msg);
        return msgs.some((msg) => /^leader n\d \(term \d+\)$/.test(msg)) && msgs.some((msg) => msg.startsWith('HTTP API: http://'));
      },
      60_000,
    );
    proc.child.kill('SIGINT');
    expect(await proc.exited, proc.stderr()).toBe(0);
    const lines = parsed();
    for (const line of lines) {
      expect(Number.isNaN(Date.parse(line.time)), JSON.stringify(line)).toBe(false);
      expect(['trace', 'debug', 'info', 'warn', 'error']).toContain(line.level);
      expect(typeof line.msg).toBe('string');
    }
    const leader = lines.find((line) => line.msg.startsWith('leader '));
    expect(leader?.node).toMatch(/^n\d$/);
    expect(leader?.msg).toBe(`leader ${leader?.node} (term ${leader?.term})`);
    expect(lines.find((line) => line.msg === 'n1 running: started')?.node).toBe('n1');
    expect(lines.at(-1)?.msg).toBe('stopped');
  });

  it('refuses --log-level bogus with exit 64, naming the levels', async () => {
    const proc = run(['cluster', '--log-level', 'bogus']);
    expect(await proc.exited).toBe(64);
    expect(proc.stderr()).toContain('--log-level must be one of trace, debug, info, warn, error, got bogus');
    expect(proc.stdout()).toBe('');
  });
});
