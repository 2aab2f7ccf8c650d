// Everything a benchmark run starts (raftkv clusters, child processes, temp folders, other servers), kept in one
// place so that a failure or a Ctrl-C anywhere still stops every process by its PID and removes every folder.
import { fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Supervisor } from '../../src/actor/supervisor.js';
import type { RaftNodeLimits } from '../../src/node/raft-node.js';
import { startService, type Service } from '../../src/router/service.js';
import { delay } from '../../src/util/async.js';
import { waitForLeader } from '../bench-util.js';

export const HOST = '127.0.0.1';
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX_LOADER = import.meta.resolve('tsx');
/** statfs type of tmpfs: on-disk figures refuse to run there. */
const TMPFS_MAGIC = 0x01021994;
const CHILD_EXIT_TIMEOUT_MS = 5_000;
const CLUSTER_START_TIMEOUT_MS = 30_000;
const LEADER_TIMEOUT_MS = 30_000;
/** After a run the cluster converges before the next; beyond this the next run starts anyway (and says so). */
const QUIET_TIMEOUT_MS = 20_000;
const QUIET_POLL_MS = 20;

export type Storage = 'disk' | 'memory';

/** The executable's path on PATH, or null. */
export function findExecutable(name: string): string | null {
  for (const folder of (process.env.PATH ?? '').split(delimiter)) {
    if (folder === '') continue;
    const candidate = join(folder, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** `count` distinct free ports on loopback: all held open at once so no two are the same, then released. */
export async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      servers.push(server);
      ports.push(await new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, HOST, () => resolve((server.address() as net.AddressInfo).port));
      }));
    }
    return ports;
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }
}

export function killPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** A raftkv cluster with its router, HTTP and Redis-protocol servers, in this process. */
export interface Cluster {
  readonly nodes: number;
  readonly storage: Storage;
  readonly supervisor: Supervisor;
  readonly service: Service;
  readonly dataDir: string;
}

export class Resources {
  private readonly clusters = new Set<Cluster>();
  private readonly children = new Set<ChildProcess>();
  private readonly dirs = new Set<string>();
  private readonly releasers = new Set<() => Promise<void>>();
  private releasing: Promise<void> | null = null;

  dir(parent: string, prefix: string): string {
    const dir = fs.mkdtempSync(join(parent, prefix));
    this.dirs.add(dir);
    return dir;
  }

  removeDir(dir: string): void {
    this.dirs.delete(dir);
    fs.rmSync(dir, { recursive: true, force: true });
  }

  /** Anything else to stop on release (another server's cluster); returns the function that unregisters it. */
  onRelease(release: () => Promise<void>): () => void {
    this.releasers.add(release);
    return () => this.releasers.delete(release);
  }

  cluster(cluster: Cluster): Cluster {
    this.clusters.add(cluster);
    return cluster;
  }

  async endCluster(cluster: Cluster): Promise<void> {
    this.clusters.delete(cluster);
    try {
      await cluster.service.close();
    } finally {
      await cluster.supervisor.stop();
      this.removeDir(cluster.dataDir);
    }
  }

  child(child: ChildProcess): ChildProcess {
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** SIGTERM by PID, SIGKILL if it has not exited within CHILD_EXIT_TIMEOUT_MS. */
  async endChild(child: ChildProcess): Promise<void> {
    this.children.delete(child);
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    const pid = child.pid;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    killPid(pid, 'SIGTERM');
    const timer = setTimeout(() => killPid(pid, 'SIGKILL'), CHILD_EXIT_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }

  /** Idempotent: a signal during the run's own clean-up waits for the same release. */
  releaseAll(): Promise<void> {
    this.releasing ??= this.release().finally(() => {
      this.releasing = null;
    });
    return this.releasing;
  }

  private async release(): Promise<void> {
    await Promise.all([...this.children].map((child) => this.endChild(child).catch(() => undefined)));
    await Promise.all([...this.releasers].map((release) => release().catch(() => undefined)));
    await Promise.all([...this.clusters].map((cluster) => this.endCluster(cluster).catch(() => undefined)));
    for (const dir of this.dirs) fs.rmSync(dir, { recursive: true, force: true });
    this.children.clear();
    this.releasers.clear();
    this.clusters.clear();
    this.dirs.clear();
  }
}

/** Whether `dir` is on tmpfs, where an fsync costs nothing and on-disk figures would mean nothing. */
export function isTmpfs(dir: string): boolean {
  return fs.statfsSync(dir).type === TMPFS_MAGIC;
}

/** A folder on the real disk (TMPDIR); refuses tmpfs, where fsync costs nothing. */
export function diskDir(resources: Resources, prefix: string): { dir: string; fsType: string } {
  const dir = resources.dir(tmpdir(), prefix);
  const type = fs.statfsSync(dir).type;
  if (isTmpfs(dir)) {
    resources.removeDir(dir);
    throw new Error(`${tmpdir()} is on tmpfs: set TMPDIR to a folder on a real disk for the on-disk figures`);
  }
  return { dir, fsType: `0x${type.toString(16)}` };
}

export function memoryDir(resources: Resources, prefix: string): string {
  return resources.dir(fs.existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), prefix);
}

/** A TypeScript script in its own Node.js process (through tsx), with an IPC channel. */
export function forkScript(resources: Resources, script: string): ChildProcess {
  return resources.child(fork(script, [], { cwd: REPO_ROOT, execArgv: ['--import', TSX_LOADER], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
}

/**
 * A cluster as `raftkv cluster` runs it: on the real disk with fdatasync, or in memory as `--memory` does it
 * (files in /dev/shm, no fsync).
 */
export async function startCluster(
  resources: Resources,
  nodes: number,
  storage: Storage,
  limits: Partial<RaftNodeLimits> = {},
): Promise<Cluster> {
  const dataDir = storage === 'disk' ? diskDir(resources, 'raftkv-bench-').dir : memoryDir(resources, 'raftkv-bench-');
  try {
    const { supervisor, service } = await startRaftkv({ nodes, dataDir, durable: storage === 'disk', limits });
    return resources.cluster({ nodes, storage, supervisor, service, dataDir });
  } catch (error) {
    resources.removeDir(dataDir);
    throw error;
  }
}

/** A Supervisor cluster with its service on loopback, once it has a leader; stopped again if any step fails. */
export async function startRaftkv(
  options: { nodes: number; dataDir: string; durable: boolean; limits?: Partial<RaftNodeLimits> },
): Promise<{ supervisor: Supervisor; service: Service }> {
  const supervisor = new Supervisor({
    nodes: options.nodes, dataDir: options.dataDir, durable: options.durable, startTimeoutMs: CLUSTER_START_TIMEOUT_MS,
    limits: options.limits ?? {},
  });
  let service: Service | null = null;
  try {
    await supervisor.start();
    service = await startService(supervisor, { host: HOST, httpPort: 0, respPort: 0, adminToken: null });
    await waitForLeader(supervisor, LEADER_TIMEOUT_MS);
  } catch (error) {
    await service?.close().catch(() => undefined);
    await supervisor.stop().catch(() => undefined);
    throw error;
  }
  return { supervisor, service };
}

/**
 * Waits until every node has the leader's term and commit index and has applied it, so a run does not start
 * with the previous run's replication backlog. Returns how long that took; past the timeout, NaN (and the run
 * goes on).
 */
export async function waitQuiet(supervisor: Supervisor): Promise<number> {
  const start = performance.now();
  for (;;) {
    const statuses = await supervisor.status();
    const leader = statuses.find((s) => s.raft?.role === 'leader')?.raft ?? null;
    if (leader !== null) {
      const quiet = statuses.every((s) =>
        s.status === 'running' && s.raft !== null && s.raft.term === leader.term && s.raft.commitIndex === leader.commitIndex &&
        s.raft.appliedIndex === leader.commitIndex && s.raft.lastIndex === leader.lastIndex);
      if (quiet) return performance.now() - start;
    }
    if (performance.now() - start > QUIET_TIMEOUT_MS) {
      console.log(`  (the cluster did not converge within ${QUIET_TIMEOUT_MS} ms; the next run starts anyway)`);
      return Number.NaN;
    }
    await delay(QUIET_POLL_MS);
  }
}
