// `raftkv node` (issue 16): each member a process of its own with its own router, as etcd members run. Any
// member's HTTP API serves any request, forwarding it to the leader over its client lane; a SIGKILL of the
// leader's process leaves the others to elect a new one, and nothing acknowledged is lost.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts } from '../support/free-ports.js';
import { waitFor } from './cluster-harness.js';

const ENTRY = path.resolve('src/cli/run.ts');

interface Member {
  readonly id: string;
  child: ChildProcess;
  output: string;
  http: string | null;
  exited: Promise<number | null>;
}

let dataDir: string;
let peers: string;
/** A fourth member's address, free at the start, for the membership test. */
let spare: string;
const members = new Map<string, Member>();

function startMember(id: string, extra: string[] = [], memberPeers = peers): Member {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      ENTRY,
      'node',
      '--id',
      id,
      '--peers',
      memberPeers,
      '--data-dir',
      path.join(dataDir, `host-${id}`),
      '--http-port',
      '0',
      '--resp-port',
      '0',
      ...extra,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const member: Member = {
    id,
    child,
    output: '',
    http: null,
    exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
  };
  const take = (chunk: Buffer): void => {
    member.output += chunk.toString();
    member.http ??= /^HTTP API: (http:\/\/\S+)$/m.exec(member.output)?.[1] ?? null;
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  members.set(id, member);
  return member;
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftkv-node-'));
  const ports = await freePorts(4);
  peers = ports
    .slice(0, 3)
    .map((port, i) => `n${i + 1}=127.0.0.1:${port}`)
    .join(',');
  spare = `127.0.0.1:${ports[3] as number}`;
  for (const id of ['n1', 'n2', 'n3']) startMember(id);
  for (const member of members.values()) await waitFor(`${member.id} serving HTTP`, () => member.http, 60_000);
}, 90_000);

afterAll(async () => {
  for (const member of members.values()) {
    if (member.child.exitCode === null && member.child.signalCode === null) member.child.kill('SIGKILL');
    await member.exited;
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function cluster(
  member: Member,
): Promise<{ leader: string | null; nodes: { id: string; status: string; role: string | null }[] } | null> {
  try {
    const response = await fetch(`${member.http}/v1/cluster`);
    return response.ok
      ? ((await response.json()) as { leader: string | null; nodes: { id: string; status: string; role: string | null }[] })
      : null;
  } catch {
    return null;
  }
}

async function put(member: Member, key: string, value: string): Promise<number> {
  try {
    return (await fetch(`${member.http}/v1/kv/${key}`, { method: 'PUT', body: value })).status;
  } catch {
    return 0;
  }
}

describe('raftkv node: one member per process', () => {
  it('forms one cluster: every member sees the same leader and every node, and serves writes and reads through any member', async () => {
    const leader = await waitFor(
      'one leader seen by every member',
      async () => {
        const views = await Promise.all([...members.values()].map((m) => cluster(m)));
        const leaders = new Set(views.map((v) => v?.leader ?? null));
        return leaders.size === 1 && !leaders.has(null) ? ([...leaders][0] as string) : null;
      },
      60_000,
    );
    const view = await cluster(members.get('n1') as Member);
    expect(view?.nodes.map((n) => n.id)).toEqual(['n1', 'n2', 'n3']);
    expect(view?.nodes.find((n) => n.id === leader)?.role).toBe('leader');
    for (const [i, member] of [...members.values()].entries()) {
      expect(
        await waitFor(`a write through ${member.id}`, async () => ((await put(member, `key${i}`, `value${i}`)) === 200 ? true : null)),
      ).toBe(true);
    }
    for (const member of members.values()) {
      for (let i = 0; i < 3; i++) {
        const response = await fetch(`${member.http}/v1/kv/key${i}`);
        expect(await response.json()).toMatchObject({ key: `key${i}`, value: `value${i}` });
      }
    }
  });

  it('forwards by default, and answers a client that asks with a redirect to the leader (307, method and body kept)', async () => {
    const view = await cluster(members.get('n1') as Member);
    const leader = members.get(view?.leader as string) as Member;
    const follower = [...members.values()].find((m) => m.id !== leader.id) as Member;
    await waitFor(`${follower.id} knows the leader's URL`, async () => {
      const answer = await fetch(`${follower.http}/v1/kv/redirected?redirect=true`, { method: 'PUT', body: 'r', redirect: 'manual' });
      return answer.status === 307 ? true : null;
    });
    const answer = await fetch(`${follower.http}/v1/kv/redirected?redirect=true`, { method: 'PUT', body: 'r', redirect: 'manual' });
    expect(answer.status).toBe(307);
    const location = answer.headers.get('location') as string;
    expect(new URL(location).port).toBe(new URL(leader.http as string).port);
    expect(new URL(location).pathname).toBe('/v1/kv/redirected');
    expect(await answer.json()).toMatchObject({ error: { code: 'NOT_LEADER' }, leader: leader.id });
    // Following it writes at the leader; the leader itself serves a redirect request as usual.
    expect((await fetch(location, { method: 'PUT', body: 'r' })).status).toBe(200);
    // Without asking, the follower forwards.
    expect((await fetch(`${follower.http}/v1/kv/forwarded`, { method: 'PUT', body: 'f' })).status).toBe(200);
    const read = await fetch(`${follower.http}/v1/kv/redirected`);
    expect(await read.json()).toMatchObject({ value: 'r' });
  });

  it('survives a SIGKILL of the leader process: the others elect a leader and keep every acknowledged write', async () => {
    const first = members.get('n1') as Member;
    const leader = (await cluster(first))?.leader as string;
    const victim = members.get(leader) as Member;
    victim.child.kill('SIGKILL');
    await victim.exited;
    const survivor = [...members.values()].find((m) => m.id !== leader) as Member;
    const next = await waitFor(
      'a new leader among the survivors',
      async () => {
        const view = await cluster(survivor);
        return view?.leader != null && view.leader !== leader ? view.leader : null;
      },
      60_000,
    );
    expect(next).not.toBe(leader);
    expect(
      await waitFor('a write without the old leader', async () => ((await put(survivor, 'after', 'kill')) === 200 ? true : null)),
    ).toBe(true);
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${survivor.http}/v1/kv/key${i}`);
      expect(await response.json()).toMatchObject({ value: `value${i}` });
    }
    // The killed member comes back from its disk and catches up.
    const back = startMember(leader);
    await waitFor(`${leader} serving again`, () => back.http, 60_000);
    await waitFor(
      `${leader} to read the write it missed`,
      async () => {
        const response = await fetch(`${back.http}/v1/kv/after?consistency=stale`).catch(() => null);
        return response?.status === 200 ? true : null;
      },
      60_000,
    );
  });

  it('grows to four with a learner added by raftkv member, promotes it once caught up, and shrinks back', async () => {
    const first = [...members.values()].find((m) => m.child.exitCode === null && m.http !== null) as Member;
    const cli = (args: string[]): Promise<{ code: number | null; output: string }> =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, 'member', ...args, '--endpoint', first.http as string], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let output = '';
        child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.on('exit', (code) => resolve({ code, output }));
      });
    const added = await cli(['add', 'n4', '--learner', '--address', spare]);
    expect(added.code, added.output).toBe(0);
    const clusterId = /--cluster-id (\S+)/.exec(added.output)?.[1] as string;
    expect(clusterId).toMatch(/^[0-9a-f]{16}$/);
    const joiner = startMember('n4', ['--join', '--cluster-id', clusterId], `${peers},n4=${spare}`);
    await waitFor('n4 serving', () => joiner.http, 60_000);
    await waitFor(
      'n4 promoted once caught up',
      async () => {
        const promoted = await cli(['promote', 'n4']);
        return promoted.code === 0 ? true : null;
      },
      60_000,
    );
    const listed = await cli(['list']);
    expect(listed.output).toMatch(/^n4\s+voter\s/m);
    // Every write so far reached n4, and a write through n4's own router commits with it voting.
    expect(await waitFor('a write through n4', async () => ((await put(joiner, 'via-n4', 'yes')) === 200 ? true : null))).toBe(true);
    const early = await fetch(`${joiner.http}/v1/kv/key0?consistency=stale`);
    expect(await early.json()).toMatchObject({ value: 'value0' });
    // Shrink back to three: remove n4.
    const removed = await cli(['remove', 'n4']);
    expect(removed.code, removed.output).toBe(0);
    expect((await cli(['list'])).output).not.toMatch(/^n4\s/m);
    expect(await waitFor('a write after shrinking', async () => ((await put(first, 'after-shrink', 'ok')) === 200 ? true : null))).toBe(
      true,
    );
    const refused = await cli(['promote', 'n2']);
    expect(refused.code).toBe(1);
    expect(refused.output).toContain('MEMBER_NOT_LEARNER');
  });

  it('refuses plaintext peer links off loopback, and a member missing from --peers, with exit code 64', async () => {
    const offLoopback = spawn(
      process.execPath,
      ['--import', 'tsx', ENTRY, 'node', '--id', 'n1', '--peers', 'n1=10.0.0.1:7001,n2=10.0.0.2:7001'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let text = '';
    offLoopback.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
    expect(await new Promise((resolve) => offLoopback.on('exit', resolve))).toBe(64);
    expect(text).toContain('TRANSPORT_INSECURE');
    const missing = spawn(process.execPath, ['--import', 'tsx', ENTRY, 'node', '--id', 'n9', '--peers', 'n1=127.0.0.1:7001'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let said = '';
    missing.stderr.on('data', (chunk: Buffer) => (said += chunk.toString()));
    expect(await new Promise((resolve) => missing.on('exit', resolve))).toBe(64);
    expect(said).toContain('does not list --id n9');
  });
});
