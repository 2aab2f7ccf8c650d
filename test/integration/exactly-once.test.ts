// Exactly-once under leader failure: many clients increment counters over the Redis protocol while the leader
// is killed, again and again. The router retries proposals that were in flight under the same client session
// and sequence number, so a command the old leader already committed is not applied a second time. In the
// end every counter equals the number of acknowledged increments, and the values the increments returned
// are exactly 1..N: none lost, none doubled.
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KvQueryResult } from '../../src/kv/commands.js';
import { startService, type Service } from '../../src/router/service.js';
import type { NodeId } from '../../src/raft/types.js';
import { leaderOf, startCluster, strictRedisClient, waitFor, type TestCluster } from './cluster-harness.js';

const CLIENTS = 24;
const COUNTERS = 6;
/** Kill the leader until this many kills caught proposals in flight (the router had to re-propose them)... */
const RETRIED_KILLS_MIN = 3;
/** ...but at least this many kills, and at most this many. */
const LEADER_KILLS_MIN = 3;
const LEADER_KILLS_MAX = 12;
/** Acknowledged increments to see between faults, so that each kill lands amid steady traffic. */
const PROGRESS_BETWEEN_FAULTS = 100;

let cluster: TestCluster;
let service: Service;
const clients: Redis[] = [];

beforeAll(async () => {
  cluster = await startCluster({ nodes: 3, stateMachine: 'kv' });
  service = await startService(cluster.supervisor, { host: '127.0.0.1', httpPort: 0, respPort: 0, adminToken: null });
  await leaderOf(cluster.supervisor);
  for (let i = 0; i < CLIENTS + 1; i++) {
    const c = strictRedisClient(service.resp.port);
    clients.push(c);
    await c.connect();
  }
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await service?.close();
  await cluster?.stop();
});

interface Tally {
  /** Increments answered with a value. */
  acked: number;
  /** The values those answers carried. */
  readonly values: number[];
  /** Refusals that surely did not happen (TRYAGAIN): the client simply tries again. */
  definite: number;
  /** Errors after which the increment may or may not have happened (TIMEOUT, SESSION_EXPIRED, internal). */
  indefinite: number;
}

const counterKey = (i: number): string => `counter:${i}`;

async function digests(ids: readonly NodeId[]): Promise<string[]> {
  return Promise.all(
    ids.map(async (id) => {
      const control = cluster.supervisor.control(id);
      if (control === null) return `${id} down`;
      const outcome = await control.readStale({ op: 'digest' });
      if (!outcome.ok) return `${id} refused`;
      const digest = outcome.value as Extract<KvQueryResult, { op: 'digest' }>;
      return `${digest.keys}/${digest.checksum}/${digest.commands}`;
    }),
  );
}

describe('exactly-once increments while the leader is killed', () => {
  it('every counter equals its acknowledged increments, and the returned values are exactly 1..N', async () => {
    const { supervisor } = cluster;
    const tallies: Tally[] = Array.from({ length: COUNTERS }, () => ({ acked: 0, values: [], definite: 0, indefinite: 0 }));
    const unexpected: string[] = [];
    let stop = false;
    const total = (): number => tallies.reduce((sum, t) => sum + t.acked, 0);

    const loops = clients.slice(0, CLIENTS).map(async (c, clientIndex) => {
      for (let n = 0; !stop; n++) {
        const counter = (clientIndex + n) % COUNTERS;
        const tally = tallies[counter] as Tally;
        try {
          const value = await c.incr(counterKey(counter));
          tally.acked++;
          tally.values.push(value);
        } catch (error) {
          const message = (error as Error).message;
          if (message.startsWith('TRYAGAIN ')) tally.definite++;
          else {
            tally.indefinite++;
            unexpected.push(message);
          }
        }
      }
    });

    const faults: string[] = [];
    let retriedKills = 0;
    for (let round = 0; round < LEADER_KILLS_MAX && (round < LEADER_KILLS_MIN || retriedKills < RETRIED_KILLS_MIN); round++) {
      const before = total();
      await waitFor(`${PROGRESS_BETWEEN_FAULTS} increments before kill ${round + 1}`, () => total() >= before + PROGRESS_BETWEEN_FAULTS);
      const leader = await leaderOf(supervisor);
      const retriesBefore = service.router.stats.retries;
      await supervisor.kill(leader);
      const next = await waitFor(`a new leader after killing ${leader}`, () =>
        supervisor.leaderId !== null && supervisor.leaderId !== leader ? supervisor.leaderId : null,
      );
      faults.push(`killed ${leader}, then ${next} led`);
      const afterKill = total();
      await waitFor(`${PROGRESS_BETWEEN_FAULTS} increments under the new leader`, () => total() >= afterKill + PROGRESS_BETWEEN_FAULTS);
      if (service.router.stats.retries > retriesBefore) retriedKills++;
      // Back to three nodes before the next kill, so a majority always survives.
      await supervisor.restart(leader);
      await waitFor(`${leader} running again`, () => supervisor.stateOf(leader) === 'running');
    }
    stop = true;
    await Promise.all(loops);

    expect(faults.length).toBeGreaterThanOrEqual(LEADER_KILLS_MIN);
    expect(unexpected, 'no increment should end in an indefinite error with a 5 s request timeout').toEqual([]);
    // The kills caught commands in flight, which the router re-proposed to the next leader.
    expect(retriedKills, faults.join('; ')).toBeGreaterThanOrEqual(RETRIED_KILLS_MIN);

    const reader = clients[CLIENTS] as Redis;
    for (const [i, tally] of tallies.entries()) {
      const final = Number(await reader.get(counterKey(i)));
      expect(tally.indefinite).toBe(0);
      expect(final, `counter ${i}: ${tally.acked} acknowledged, ${tally.definite} refused`).toBe(tally.acked);
      const sorted = [...tally.values].sort((a, b) => a - b);
      expect(sorted).toEqual(Array.from({ length: final }, (_, k) => k + 1));
    }
    expect(total()).toBeGreaterThanOrEqual(2 * faults.length * PROGRESS_BETWEEN_FAULTS);

    // Every node holds the same state, the restarted ones included.
    await waitFor('every node to apply the same commands', async () => {
      const all = await digests(supervisor.ids);
      return all.every((d) => d === all[0] && !d.includes(' ')) ? all : null;
    });
  });
});
