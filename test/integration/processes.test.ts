// `raftkv cluster --processes` (issue 16): the same supervisor runs each node as a child process of its own,
// the nodes talking TCP on loopback and the router reaching each over its client lane. A kill is a SIGKILL of
// that process: acknowledged writes survive it, a new leader takes over, the node comes back from its disk.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Supervisor } from '../../src/actor/supervisor.js';
import { startService, type Service } from '../../src/router/service.js';
import { makeCertificates } from '../../src/cli/certs-command.js';
import { leaderOf, waitFor } from './cluster-harness.js';

let supervisor: Supervisor;
let service: Service;
let dataDir: string;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftkv-processes-'));
  supervisor = new Supervisor({ nodes: 3, dataDir, hosting: 'processes' });
  await supervisor.start();
  service = await startService(supervisor, { host: '127.0.0.1', httpPort: 0, respPort: 0, adminToken: null });
  await leaderOf(supervisor);
}, 60_000);

afterAll(async () => {
  await service?.close();
  await supervisor?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const url = (p: string): string => `http://127.0.0.1:${service.http.port}${p}`;

async function put(key: string, value: string): Promise<number> {
  const response = await fetch(url(`/v1/kv/${key}`), { method: 'PUT', body: value });
  return response.status;
}

async function get(key: string): Promise<{ status: number; value?: string }> {
  const response = await fetch(url(`/v1/kv/${key}`));
  const body = (await response.json()) as { value?: string };
  return { status: response.status, ...body };
}

describe('a cluster of processes over TCP', () => {
  it('runs each node in its own process, serves writes and reads, and shows every node in /v1/cluster', async () => {
    const pids = new Set<number>();
    const cluster = (await (await fetch(url('/v1/cluster'))).json()) as { nodes: { id: string; status: string; role: string }[] };
    expect(cluster.nodes.map((n) => n.status)).toEqual(['running', 'running', 'running']);
    for (const id of supervisor.ids) {
      const pid = supervisor.pidOf(id);
      expect(pid).not.toBeNull();
      expect(pid).not.toBe(process.pid);
      pids.add(pid as number);
    }
    expect(pids.size).toBe(3);
    for (let i = 0; i < 20; i++) expect(await put(`k${i}`, `v${i}`)).toBe(200);
    for (let i = 0; i < 20; i++) expect(await get(`k${i}`)).toMatchObject({ status: 200, value: `v${i}` });
  });

  it("feeds the explorer the same as threads do: every node's frames, one leader among them", async () => {
    const state = await waitFor('a frame from every node process, one of them the leader', () => {
      const now = service.explorer.state();
      const frames = supervisor.ids.map((id) => now.node[id]?.frame ?? null);
      if (frames.some((frame) => frame === null)) return null;
      const leaders = frames.filter((frame) => frame?.role === 'leader');
      return leaders.length === 1 && leaders[0]?.leaderId === supervisor.leaderId ? now : null;
    });
    for (const id of supervisor.ids) expect(state.node[id]?.supervision.state).toBe('running');
  });

  it('survives a SIGKILL of the leader process: a new leader, no acknowledged write lost, the node back from disk', async () => {
    const leader = await leaderOf(supervisor);
    const pid = supervisor.pidOf(leader) as number;
    await supervisor.kill(leader);
    expect(() => process.kill(pid, 0)).toThrow(); // the process is gone
    const next = await waitFor('a new leader', () =>
      supervisor.leaderId !== null && supervisor.leaderId !== leader ? supervisor.leaderId : null,
    );
    expect(next).not.toBe(leader);
    for (let i = 0; i < 20; i++) expect(await get(`k${i}`)).toMatchObject({ status: 200, value: `v${i}` });
    expect(await waitFor('a write with one node down', async () => ((await put('after-kill', 'x')) === 200 ? true : null))).toBe(true);
    await supervisor.restart(leader);
    expect(supervisor.pidOf(leader)).not.toBe(pid);
    await waitFor(`${leader} to catch up`, async () => {
      const all = await supervisor.status();
      const mine = all.find((s) => s.id === leader)?.raft;
      const top = Math.max(...all.map((s) => s.raft?.appliedIndex ?? 0));
      return mine != null && mine.appliedIndex === top && top > 0 ? true : null;
    });
  });

  it('restarts a node process that crashes, and one that hangs (the watchdog ends it with SIGKILL)', async () => {
    const leader = await leaderOf(supervisor);
    const victim = supervisor.ids.find((id) => id !== leader) as string;
    for (const kind of ['crash', 'hang'] as const) {
      const pid = supervisor.pidOf(victim);
      await supervisor.actorFault(victim, { kind });
      const next = await waitFor(`${victim} restarted after the ${kind}`, () => {
        const now = supervisor.pidOf(victim);
        return supervisor.stateOf(victim) === 'running' && now !== null && now !== pid ? now : null;
      });
      expect(next).not.toBe(pid);
      expect(() => process.kill(pid as number, 0)).toThrow();
    }
    expect(supervisor.supervision(victim).restarts).toBeGreaterThanOrEqual(2);
  });

  it('applies link faults inside the node processes: a partitioned leader is replaced, and healing joins it again', async () => {
    const leader = await leaderOf(supervisor);
    const others = supervisor.ids.filter((id) => id !== leader);
    await supervisor.partition([[leader], others]);
    const next = await waitFor('a leader on the majority side', async () => {
      const all = await supervisor.status();
      const leaders = all.filter((s) => others.includes(s.id) && s.raft?.role === 'leader');
      return leaders[0]?.id ?? null;
    });
    expect(others).toContain(next);
    await supervisor.heal();
    await waitFor('one leader after healing', async () => {
      const all = await supervisor.status();
      const leaders = all.filter((s) => s.raft?.role === 'leader');
      return leaders.length === 1 && all.every((s) => s.raft?.term === leaders[0]?.raft?.term) ? true : null;
    });
    expect(await waitFor('a write after healing', async () => ((await put('healed', 'y')) === 200 ? true : null))).toBe(true);
  });
});

describe('membership changes in a cluster of processes', () => {
  it('adds a learner process, promotes it, and removes the leader: the change is answered and the others elect a leader', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftkv-processes-members-'));
    const grown = new Supervisor({ nodes: 3, dataDir: dir, hosting: 'processes' });
    try {
      await grown.start();
      await leaderOf(grown);
      expect((await grown.changeMembership({ kind: 'add-learner', id: 'n4' })).ok).toBe(true);
      expect(grown.pidOf('n4')).not.toBeNull();
      await waitFor('n4 promoted', async () => ((await grown.changeMembership({ kind: 'promote', id: 'n4' })).ok ? true : null));
      const leader = await leaderOf(grown);
      // The removed leader replicates its own removal: its peers must go on answering it until that commits.
      const removed = await grown.changeMembership({ kind: 'remove', id: leader });
      expect(removed, JSON.stringify(removed)).toMatchObject({ ok: true });
      expect(grown.ids).not.toContain(leader);
      const next = await waitFor('a leader among the others', () =>
        grown.leaderId !== null && grown.leaderId !== leader ? grown.leaderId : null,
      );
      expect(grown.ids).toContain(next);
      const view = await grown.members();
      expect(view.members.map((m) => m.id).sort()).toEqual(grown.ids.slice().sort());
    } finally {
      await grown.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a cluster of processes whose peer links use TLS', () => {
  it('elects a leader and serves writes with mutual TLS between the nodes and on the router client lanes', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftkv-processes-tls-'));
    const certDir = path.join(dir, 'certs');
    makeCertificates({ nodes: ['n1', 'n2', 'n3', 'client'], dir: certDir });
    const secure = new Supervisor({
      nodes: 3,
      dataDir: path.join(dir, 'data'),
      hosting: 'processes',
      peerSecurity: { mode: 'tls', certDir },
    });
    let secureService: Service | null = null;
    try {
      await secure.start();
      secureService = await startService(secure, { host: '127.0.0.1', httpPort: 0, respPort: 0, adminToken: null });
      await leaderOf(secure);
      const port = secureService.http.port;
      const status = await waitFor('a write over TLS links', async () => {
        const answer = await fetch(`http://127.0.0.1:${port}/v1/kv/tls`, { method: 'PUT', body: 'yes' });
        return answer.status === 200 ? answer.status : null;
      });
      expect(status).toBe(200);
      const read = (await (await fetch(`http://127.0.0.1:${port}/v1/kv/tls`)).json()) as { value: string };
      expect(read.value).toBe('yes');
    } finally {
      await secureService?.close();
      await secure.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
