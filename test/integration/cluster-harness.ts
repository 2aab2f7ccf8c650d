import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Redis } from 'ioredis';
import { Supervisor, type SupervisorOptions } from '../../src/actor/supervisor.js';
import type { NodeStatus } from '../../src/protocol/node.js';
import type { NodeId } from '../../src/raft/types.js';
import { testNodeWorker } from '../support/test-node.js';

/** Waits for a condition, polling; fails with `what` after a generous limit. Never a fixed sleep. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false> | T | null | undefined | false,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null && value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface TestCluster {
  readonly supervisor: Supervisor;
  readonly dataDir: string;
  readonly log: string[];
  /** Nodes whose next starts throw (the test worker's hook), by id. */
  readonly crashOnStart: Map<NodeId, string>;
  stop(): Promise<void>;
}

/** `stateMachine`: the bare counter of test/support (the default) or the KV store. */
export async function startCluster(
  options: Partial<SupervisorOptions> & { nodes: number; stateMachine?: 'kv' | 'counter' },
): Promise<TestCluster> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftkv-it-'));
  const log: string[] = [];
  const { stateMachine = 'counter', ...supervisorOptions } = options;
  const crashOnStart = new Map<NodeId, string>();
  const worker = testNodeWorker({ stateMachine, crashOnStart });
  const supervisor = new Supervisor({ dataDir, log: (line) => log.push(line), worker, ...supervisorOptions });
  await supervisor.start();
  return {
    supervisor,
    dataDir,
    log,
    crashOnStart,
    async stop() {
      await supervisor.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function leaderOf(supervisor: Supervisor): Promise<NodeId> {
  return waitFor('a leader', () => supervisor.leaderId);
}

const encoder = new TextEncoder();
export function command(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Proposes until acknowledged (retrying refusals that surely did not happen); returns the count of acks. */
export async function proposeMany(supervisor: Supervisor, count: number, tag: string): Promise<number> {
  let acked = 0;
  for (let i = 0; i < count; i++) {
    const outcome = await waitFor(`proposal ${tag}${i}`, async () => {
      const result = await supervisor.propose([command(`${tag}${i}`)], { timeoutMs: 2_000 });
      return result.ok ? result : null;
    });
    if (outcome.ok) acked++;
  }
  return acked;
}

export async function statuses(supervisor: Supervisor): Promise<Map<NodeId, NodeStatus>> {
  const all = await supervisor.status();
  return new Map(all.flatMap((s) => (s.raft === null ? [] : [[s.id, s.raft] as const])));
}

/** The counter state machine's view on one node (count and checksum of applied commands). */
export async function stateOf(supervisor: Supervisor, id: NodeId): Promise<{ count: number; checksum: number; index: number }> {
  const control = supervisor.control(id);
  if (control === null) throw new Error(`${id} is not running`);
  const outcome = await control.readStale(null);
  if (!outcome.ok) throw new Error(`stale read on ${id} refused`);
  const value = outcome.value as { count: number; checksum: number };
  return { ...value, index: outcome.index };
}

/** Waits until every running node has applied the same commands as `reference`. */
export async function waitConverged(
  supervisor: Supervisor,
  ids: readonly NodeId[],
  timeoutMs = 30_000,
): Promise<{ count: number; checksum: number }> {
  return waitFor(
    'all nodes to apply the same commands',
    async () => {
      const states = await Promise.all(ids.map((id) => stateOf(supervisor, id).catch(() => null)));
      const first = states[0];
      if (first == null) return null;
      return states.every((s) => s !== null && s.count === first.count && s.checksum === first.checksum) ? first : null;
    },
    timeoutMs,
  );
}

/** An ioredis client on loopback that never reconnects or retries: a dropped connection shows up as a failure. */
export function strictRedisClient(port: number): Redis {
  return new Redis({ host: '127.0.0.1', port, retryStrategy: () => null, maxRetriesPerRequest: 0, lazyConnect: true });
}
