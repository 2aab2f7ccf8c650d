// A 64 MiB snapshot sent over TCP to a new learner while the cluster takes writes (issue 16): the snapshot
// travels in chunks on its own connection, so heartbeats keep flowing and no follower times out: the term
// stays the same from before the learner is added until it has caught up, and every write meanwhile succeeds.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Supervisor } from '../../src/actor/supervisor.js';
import { startService, type Service } from '../../src/router/service.js';
import { leaderOf, waitFor } from './cluster-harness.js';

const VALUE_BYTES = 1024 * 1024 - 1024;
const VALUES = 64;

let supervisor: Supervisor;
let service: Service;
let dataDir: string;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftkv-learner-snapshot-'));
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

async function terms(): Promise<number[]> {
  return (await supervisor.status()).flatMap((s) => (s.raft === null ? [] : [s.raft.term]));
}

describe('a large snapshot to a new learner over TCP', () => {
  it('sends 64 MiB of state while writes go on, with no election', async () => {
    const value = 'x'.repeat(VALUE_BYTES);
    for (let i = 0; i < VALUES; i++) {
      const answer = await fetch(url(`/v1/kv/big${i}`), { method: 'PUT', body: `${i}:${value}` });
      expect(answer.status).toBe(200);
    }
    // Every node applies every put (a follower may still be a turn behind the leader's answer), then compacts its
    // log into a snapshot: the learner can only be brought up to date by one.
    await waitFor('every node to apply every put', async () => {
      const all = await supervisor.status();
      return all.every((s) => (s.raft?.appliedIndex ?? 0) > VALUES) ? true : null;
    });
    for (const id of supervisor.ids) expect(await supervisor.control(id)?.snapshotNow()).toBeGreaterThan(VALUES);
    const term = (await terms())[0] as number;
    expect(new Set(await terms())).toEqual(new Set([term]));
    let leaderChanges = 0;
    const onLeader = (): void => void leaderChanges++;
    supervisor.on('leader', onLeader);
    let writing = true;
    let written = 0;
    const failures: number[] = [];
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        const answer = await fetch(url(`/v1/kv/small${i % 50}`), { method: 'PUT', body: String(i) });
        if (answer.status === 200) written++;
        else failures.push(answer.status);
      }
    })();
    const added = await fetch(url('/v1/members'), { method: 'POST', body: JSON.stringify({ id: 'n4', learner: true }) });
    expect(added.status).toBe(200);
    const caughtUp = await waitFor(
      'n4 to install the snapshot and catch up',
      async () => {
        const n4 = (await supervisor.status()).find((s) => s.id === 'n4')?.raft;
        const view = await supervisor.members();
        const match = view.members.find((m) => m.id === 'n4')?.matchIndex ?? 0;
        return n4 != null && n4.snapshotIndex > VALUES && match >= view.lastIndex - 100 ? n4 : null;
      },
      120_000,
    );
    writing = false;
    await writer;
    supervisor.off('leader', onLeader);
    expect(caughtUp.snapshotIndex).toBeGreaterThan(VALUES);
    expect(failures).toEqual([]);
    expect(written).toBeGreaterThan(0);
    // No election: not one leader change, and every node still in the term of before.
    expect(leaderChanges).toBe(0);
    expect(new Set(await terms())).toEqual(new Set([term]));
    // The learner holds the whole state.
    const last = (await (await fetch(url(`/v1/kv/big${VALUES - 1}?consistency=stale&node=n4`))).json()) as { value: string };
    expect(last.value.length).toBe(`${VALUES - 1}:`.length + VALUE_BYTES);
    expect(last.value.startsWith(`${VALUES - 1}:`)).toBe(true);
  });
});
