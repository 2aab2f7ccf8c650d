// The terminal console of `raftkv cluster` (issue 14): each line is a request to the cluster's own HTTP API,
// answered or refused with the registered codes, like a click in the explorer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_HELP, parsePartitionSpec, runConsoleLine, type ConsoleTarget } from '../../src/cli/console.js';
import { startService, type Service } from '../../src/router/service.js';
import { leaderOf, startCluster, waitFor, type TestCluster } from './cluster-harness.js';

let cluster: TestCluster;
let service: Service;
let target: ConsoleTarget;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 3, stateMachine: 'kv' });
  service = await startService(cluster.supervisor, { host: '127.0.0.1', httpPort: 0, respPort: 0, adminToken: null });
  target = { baseUrl: `http://127.0.0.1:${service.http.port}`, adminToken: null };
  await leaderOf(cluster.supervisor);
}, 60_000);

afterAll(async () => {
  await service?.close();
  await cluster?.stop();
});

describe('the terminal console', () => {
  it('status, put, get and delete', async () => {
    expect(await runConsoleLine('status', target)).toMatch(/^leader n\d, term \d+\n {2}n1 {3}running/);
    expect(await runConsoleLine('put greeting hello there', target)).toMatch(/^ok \{"index":\d+\}$/);
    expect(await runConsoleLine('get greeting', target)).toMatch(/^hello there \(index \d+\)$/);
    expect(await runConsoleLine('delete greeting', target)).toMatch(/"deleted":true/);
    expect(await runConsoleLine('get greeting', target)).toMatch(/^KEY_NOT_FOUND: /);
    expect(await runConsoleLine('   ', target)).toBe('');
    expect(await runConsoleLine('help', target)).toBe(CONSOLE_HELP);
  });

  it('kills and restarts a node, cuts a link and heals, transfers leadership', async () => {
    const leader = await leaderOf(cluster.supervisor);
    const other = cluster.supervisor.ids.find((id) => id !== leader) as string;
    expect(await runConsoleLine(`kill ${other}`, target)).toBe(`ok {"id":"${other}","status":"killed"}`);
    expect(await runConsoleLine(`restart ${other}`, target)).toMatch(/^ok /);
    await waitFor(`${other} running`, () => cluster.supervisor.stateOf(other) === 'running');
    expect(await runConsoleLine(`cut ${leader} ${other}`, target)).toMatch(/^ok /);
    expect(cluster.supervisor.linkFaults()).toEqual([expect.objectContaining({ from: leader, to: other })]);
    expect(await runConsoleLine('heal', target)).toBe('ok {"healed":true}');
    expect(cluster.supervisor.linkFaults()).toEqual([]);
    const transferred = await waitFor('a transfer', async () => {
      const line = await runConsoleLine(`transfer ${other}`, target);
      return line.startsWith('ok') ? line : null;
    });
    expect(transferred).toBe(`ok {"to":"${other}"}`);
    await waitFor(`${other} leads`, () => cluster.supervisor.leaderId === other);
    // A forced election at the old leader, now a follower: it wins, in a higher term, once its log is as up to
    // date as a majority's. The new leader's first entry may not have reached it yet when it campaigns (it then
    // loses that election, rightly), so the campaign is repeated until it wins, at most every 2 s.
    const term = cluster.supervisor.leaderTerm;
    let campaignedAt = 0;
    await waitFor(
      `${leader} leads again`,
      async () => {
        if (cluster.supervisor.leaderId === leader && cluster.supervisor.leaderTerm > term) return true;
        if (Date.now() - campaignedAt < 2_000) return false;
        campaignedAt = Date.now();
        expect(await runConsoleLine(`campaign ${leader}`, target)).toBe(`ok {"id":"${leader}","campaign":true}`);
        return false;
      },
      60_000,
    );
    expect(await runConsoleLine('campaign n9', target)).toMatch(/^UNKNOWN_NODE: /);
  });

  it('crashes and hangs a node (the supervisor restarts each), pauses and resumes one, slows and floods one', async () => {
    const follower = (): string => cluster.supervisor.ids.find((id) => id !== cluster.supervisor.leaderId) as string;
    // Restarted by the supervisor after a fault whose log line says `why`: running again, the restart counted.
    const restartedAfter = (id: string, why: string): boolean => {
      const state = cluster.supervisor.supervision(id);
      const logged = cluster.log.some((line) => line.startsWith(`${id} restarting: `) && line.includes(why));
      return logged && state.state === 'running' && state.restarts > 0;
    };
    const crashed = follower();
    expect(await runConsoleLine(`crash ${crashed}`, target)).toMatch(new RegExp(`^ok \\{"id":"${crashed}","fault":"crash"`));
    await waitFor(`${crashed} restarted after its crash`, () => restartedAfter(crashed, 'crashed on request'));
    const hung = cluster.supervisor.ids.find((id) => id !== cluster.supervisor.leaderId && id !== crashed) as string;
    expect(await runConsoleLine(`hang ${hung}`, target)).toMatch(new RegExp(`^ok \\{"id":"${hung}","fault":"hang"`));
    await waitFor(`${hung} found hung by the watchdog and restarted`, () => restartedAfter(hung, 'hung'));
    const paused = follower();
    expect(await runConsoleLine(`pause ${paused}`, target)).toMatch(/^ok /);
    expect(cluster.supervisor.stateOf(paused)).toBe('paused');
    expect(await runConsoleLine(`resume ${paused}`, target)).toMatch(/^ok /);
    expect(cluster.supervisor.stateOf(paused)).toBe('running');
    expect(await runConsoleLine(`slow ${paused} 5`, target)).toMatch(/^ok /);
    expect(await runConsoleLine(`slow ${paused} 0`, target)).toMatch(/^ok /);
    expect(await runConsoleLine(`flood ${paused} 1000`, target)).toMatch(/^ok /);
    // After all that the cluster still takes writes.
    await waitFor('a put after the faults', async () =>
      (await runConsoleLine('put after-faults yes', target)).startsWith('ok') ? true : null,
    );
  });

  it('drives the load generator, and answers scenario commands even where the service runs none', async () => {
    expect(await runConsoleLine('load 20 0.5', target)).toBe('ok {"rate":20,"readShare":0.5}');
    expect(service.explorer.load).toEqual({ rate: 20, readShare: 0.5 });
    expect(await runConsoleLine('load 0', target)).toBe('ok {"rate":0,"readShare":0.5}');
    expect(await runConsoleLine('load fast', target)).toMatch(/^INVALID_ARGUMENT: rate must be an integer/);
    expect(await runConsoleLine('scenarios', target)).toBe('NOT_FOUND: this server runs no scenarios');
    expect(await runConsoleLine('run leader-kill', target)).toBe('NOT_FOUND: this server runs no scenarios');
  });

  it('partitions by a spec, and refuses bad input with registered codes', async () => {
    expect(parsePartitionSpec('n1,n2|n3')).toEqual([['n1', 'n2'], ['n3']]);
    expect(await runConsoleLine('partition n1|n2,n3', target)).toMatch(/^ok /);
    expect(await runConsoleLine('heal', target)).toMatch(/^ok /);
    expect(await runConsoleLine('partition n1,n2', target)).toMatch(/^INVALID_ARGUMENT: a partition is two or more groups/);
    expect(await runConsoleLine('partition n1,,n2|n3', target)).toMatch(/^INVALID_ARGUMENT: /);
    expect(await runConsoleLine('partition n1|n9', target)).toMatch(/^UNKNOWN_NODE: /);
    expect(await runConsoleLine('kill n9', target)).toMatch(/^UNKNOWN_NODE: /);
    expect(await runConsoleLine('kill', target)).toBe('INVALID_ARGUMENT: usage: kill NODE');
    expect(await runConsoleLine('slow n1 forever', target)).toMatch(/^INVALID_ARGUMENT: ms must be an integer/);
    expect(await runConsoleLine('frobnicate n1', target)).toBe('NOT_FOUND: unknown command frobnicate; type help');
    expect(await runConsoleLine('status', { baseUrl: 'http://127.0.0.1:1', adminToken: null })).toMatch(/^cannot reach /);
  });
});
