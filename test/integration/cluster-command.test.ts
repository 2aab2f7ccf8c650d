// The `raftkv cluster` command as a user runs it: start-up lines, a leader announced, Ctrl-C exits 0.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from './cluster-harness.js';

const ENTRY = path.resolve('src/cli/run.ts');
let children: ChildProcess[] = [];
let dataDir: string | null = null;

afterEach(() => {
  for (const child of children) if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
  children = [];
  if (dataDir !== null) fs.rmSync(dataDir, { recursive: true, force: true });
  dataDir = null;
});

function run(args: string[]): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  proc.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  children.push(proc);
  return { child: proc, output: () => output, exited };
}

describe('raftkv cluster', () => {
  it('starts the nodes, announces a leader, and shuts down cleanly on SIGINT', async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftkv-cli-'));
    const { child: proc, output, exited } = run(['cluster', '--nodes', '3', '--data-dir', dataDir]);
    await waitFor('a leader line', () => /^leader n\d \(term \d+\)$/m.test(output()), 60_000);
    // A leader needs two of the three; wait for the third too (a node whose start failed is restarted, and says why).
    await waitFor('every node running', () => ['n1', 'n2', 'n3'].every((id) => output().includes(`${id} running`)), 60_000);
    expect(output()).toContain(`raftkv: 3 nodes, data in ${dataDir}`);
    proc.kill('SIGINT');
    expect(await exited, output()).toBe(0);
    expect(output()).toMatch(/stopped\s*$/);
    // The data survives for the next start.
    expect(fs.readdirSync(dataDir).sort(), output()).toEqual(['cluster.json', 'n1', 'n2', 'n3']);
  });

  it('refuses a node count that does not match the data folder, and bad options, with exit code 64', async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftkv-cli-'));
    fs.writeFileSync(path.join(dataDir, 'cluster.json'), JSON.stringify({ nodes: 3 }));
    const mismatch = run(['cluster', '--nodes', '5', '--data-dir', dataDir]);
    expect(await mismatch.exited).toBe(64);
    expect(mismatch.output()).toContain('holds a 3-node cluster');
    const tooMany = run(['cluster', '--nodes', '10']);
    expect(await tooMany.exited).toBe(64);
    expect(tooMany.output()).toContain('--nodes must be an integer from 1 to 9');
  });

  it('refuses a second cluster on the same data folder at once, naming the holder; a restart resumes every acknowledged write', async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftkv-cli-'));
    const args = ['cluster', '--nodes', '3', '--data-dir', dataDir, '--http-port', '0', '--resp-port', '0'];
    const first = run(args);
    await waitFor('the first cluster serving', () => /^HTTP API: (http:\/\/\S+)$/m.exec(first.output())?.[1], 60_000);
    expect(first.output()).toMatch(/^a new cluster [0-9a-f-]{36} in /m);
    const base = (/^HTTP API: (http:\/\/\S+)$/m.exec(first.output()) as RegExpExecArray)[1] as string;
    const put = await waitFor('an acknowledged put', async () => {
      const response = await fetch(`${base}/v1/kv/kept`, { method: 'PUT', body: 'yes' }).catch(() => null);
      return response?.status === 200 ? response : null;
    });
    expect(put.status).toBe(200);

    // The second start is refused before it starts any node: exit 73, the first's PID named.
    const second = run(args);
    expect(await second.exited, second.output()).toBe(73);
    expect(second.output()).toContain(`STORAGE_DIR_LOCKED: ${path.join(dataDir, 'n1')} is in use by process ${first.child.pid}`);
    expect(second.output()).not.toContain('n1 starting');
    // The first still serves.
    expect(await (await fetch(`${base}/v1/kv/kept`)).text()).toContain('yes');

    first.child.kill('SIGINT');
    expect(await first.exited, first.output()).toBe(0);
    expect(fs.existsSync(path.join(dataDir, 'n1', 'LOCK'))).toBe(false);
    const third = run(args);
    await waitFor('the third cluster serving', () => /^HTTP API: (http:\/\/\S+)$/m.exec(third.output())?.[1], 60_000);
    expect(third.output()).toMatch(/^resuming cluster [0-9a-f-]{36} from .*: last log index n1 \d+, n2 \d+, n3 \d+$/m);
    const again = (/^HTTP API: (http:\/\/\S+)$/m.exec(third.output()) as RegExpExecArray)[1] as string;
    const value = await waitFor('the key read back', async () => {
      const response = await fetch(`${again}/v1/kv/kept`).catch(() => null);
      return response?.status === 200 ? response.text() : null;
    });
    expect(value).toContain('yes');
    third.child.kill('SIGINT');
    expect(await third.exited, third.output()).toBe(0);
  });
});
