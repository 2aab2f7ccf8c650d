// The raftkv clusters the benchmarks run in this process: one way to start a Supervisor cluster (with or without
// its router and servers) and one way to wait until it has converged, for every suite.
import { performance } from 'node:perf_hooks';
import { Supervisor } from '../../src/actor/supervisor.js';
import type { RaftNodeLimits } from '../../src/protocol/node.js';
import { startService, type Service } from '../../src/router/service.js';
import { delay } from '../../src/util/async.js';
import { testNodeWorker } from '../../test/support/test-node.js';
import { waitForLeader } from '../bench-util.js';
import { diskDir, HOST, memoryDir, type Cluster, type Hosting, type Resources, type Storage } from './resources.js';

const CLUSTER_START_TIMEOUT_MS = 30_000;
const LEADER_TIMEOUT_MS = 30_000;
const CONVERGE_POLL_MS = 10;
/** After a run the cluster converges before the next; beyond this the next run starts anyway (and says so). */
const QUIET_TIMEOUT_MS = 20_000;

export interface SupervisorClusterOptions {
  readonly nodes: number;
  readonly dataDir: string;
  /** False: no fsync (a --memory cluster, its data in /dev/shm). */
  readonly durable: boolean;
  /**
   * `kv`: the real node worker with the KV store. `counter`: a bare state machine that only counts commands
   * (test/support's node worker), so a figure is Raft and the actors, not the store.
   */
  readonly stateMachine: 'kv' | 'counter';
  readonly limits?: Partial<RaftNodeLimits>;
  /** How long a node may take to report READY (restarting one with a large log takes longer than the default). */
  readonly startTimeoutMs?: number;
  /** The nodes' explorer frames (on by default; the explorer bench prices them). */
  readonly explorerFrames?: boolean;
  /** Each node a worker thread of this process (MessagePorts, the default) or a child process (TCP on loopback). */
  readonly hosting?: Hosting;
  readonly log?: (line: string) => void;
}

/** A Supervisor cluster in this process, once it has a leader; stopped again if it does not get there. */
export async function startSupervisor(options: SupervisorClusterOptions): Promise<Supervisor> {
  const supervisor = new Supervisor({
    nodes: options.nodes,
    dataDir: options.dataDir,
    durable: options.durable,
    limits: options.limits ?? {},
    startTimeoutMs: options.startTimeoutMs ?? CLUSTER_START_TIMEOUT_MS,
    explorerFrames: options.explorerFrames ?? true,
    hosting: options.hosting ?? 'threads',
    ...(options.stateMachine === 'counter' ? { worker: testNodeWorker({ stateMachine: 'counter', crashOnStart: new Map() }) } : {}),
    ...(options.log === undefined ? {} : { log: options.log }),
  });
  try {
    await supervisor.start();
    await waitForLeader(supervisor, LEADER_TIMEOUT_MS);
  } catch (error) {
    await supervisor.stop().catch(() => undefined);
    throw error;
  }
  return supervisor;
}

/** A KV cluster with its service (router, HTTP and Redis-protocol servers) on loopback; stopped again if any step fails. */
export async function startRaftkv(options: {
  nodes: number;
  dataDir: string;
  durable: boolean;
  limits?: Partial<RaftNodeLimits>;
  /** How the router finds a new leader (see Router): the failover suite probes, as etcd's client must. */
  leaderDiscovery?: 'supervisor' | 'probe';
  explorerFrames?: boolean;
  hosting?: Hosting;
}): Promise<{ supervisor: Supervisor; service: Service }> {
  const { leaderDiscovery = 'supervisor', ...clusterOptions } = options;
  const supervisor = await startSupervisor({ ...clusterOptions, stateMachine: 'kv' });
  try {
    const service = await startService(supervisor, { host: HOST, httpPort: 0, respPort: 0, adminToken: null, leaderDiscovery });
    return { supervisor, service };
  } catch (error) {
    await supervisor.stop().catch(() => undefined);
    throw error;
  }
}

/**
 * A cluster as `raftkv cluster` runs it: on the real disk with fdatasync, or in memory as `--memory` does it
 * (files in /dev/shm, no fsync); its nodes worker threads, or child processes over TCP as `--processes` does it.
 */
export async function startCluster(
  resources: Resources,
  nodes: number,
  storage: Storage,
  limits: Partial<RaftNodeLimits> = {},
  explorerFrames = true,
  hosting: Hosting = 'threads',
): Promise<Cluster> {
  const dataDir = storage === 'disk' ? diskDir(resources, 'raftkv-bench-').dir : memoryDir(resources, 'raftkv-bench-');
  try {
    const { supervisor, service } = await startRaftkv({ nodes, dataDir, durable: storage === 'disk', limits, explorerFrames, hosting });
    return resources.cluster({ nodes, storage, supervisor, service, dataDir });
  } catch (error) {
    resources.removeDir(dataDir);
    throw error;
  }
}

/**
 * Waits until every node runs, follows the leader in its term and has applied what the leader committed.
 * `whileWriting`: a client keeps writing, so the target is the leader's commit index at the first look.
 * Otherwise the cluster must also be quiet: the same commit index and log end on every node, so the next run
 * does not start with the previous one's replication backlog. Returns how long it took in ms; throws past
 * `timeoutMs`, naming each node's state.
 */
export async function waitConverged(supervisor: Supervisor, options: { timeoutMs: number; whileWriting?: boolean }): Promise<number> {
  const start = performance.now();
  let firstCommitIndex = Number.NaN;
  for (;;) {
    const statuses = await supervisor.status();
    const leader = statuses.find((s) => s.raft?.role === 'leader')?.raft ?? null;
    if (leader !== null) {
      if (Number.isNaN(firstCommitIndex)) firstCommitIndex = leader.commitIndex;
      const target = options.whileWriting === true ? firstCommitIndex : leader.commitIndex;
      const converged = statuses.every(
        (s) =>
          s.status === 'running' &&
          s.raft !== null &&
          s.raft.term === leader.term &&
          s.raft.leaderId === leader.id &&
          s.raft.appliedIndex >= target &&
          (options.whileWriting === true || (s.raft.commitIndex === leader.commitIndex && s.raft.lastIndex === leader.lastIndex)),
      );
      if (converged) return performance.now() - start;
    }
    if (performance.now() - start > options.timeoutMs) {
      const states = statuses.map((s) => [
        s.id,
        s.status,
        s.raft?.role,
        s.raft?.term,
        s.raft?.commitIndex,
        s.raft?.appliedIndex,
        s.raft?.lastIndex,
      ]);
      throw new Error(`the cluster did not converge within ${options.timeoutMs} ms: ${JSON.stringify(states)}`);
    }
    await delay(CONVERGE_POLL_MS);
  }
}

/** waitConverged between runs: past QUIET_TIMEOUT_MS the next run starts anyway, and the figure is NaN. */
export async function waitQuiet(supervisor: Supervisor): Promise<number> {
  try {
    return await waitConverged(supervisor, { timeoutMs: QUIET_TIMEOUT_MS });
  } catch {
    console.log(`  (the cluster did not converge within ${QUIET_TIMEOUT_MS} ms; the next run starts anyway)`);
    return Number.NaN;
  }
}
