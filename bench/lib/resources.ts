// Everything a benchmark run starts (raftkv clusters, worker threads, child processes, temp folders, other
// servers), kept in one place so that a failure or a Ctrl-C anywhere still stops every process by its PID and
// removes every folder. Starting a cluster: cluster.ts.
import { fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import type { Supervisor } from '../../src/actor/supervisor.js';
import type { Service } from '../../src/router/service.js';

export const HOST = '127.0.0.1';
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX_LOADER = import.meta.resolve('tsx');
/** statfs type of tmpfs: on-disk figures refuse to run there. */
const TMPFS_MAGIC = 0x01021994;
const CHILD_EXIT_TIMEOUT_MS = 5_000;

export type Storage = 'disk' | 'memory';
/** Where a raftkv cluster's nodes run: worker threads of the bench's process, or child processes over TCP. */
export type Hosting = 'threads' | 'processes';

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
      ports.push(
        await new Promise<number>((resolve, reject) => {
          server.once('error', reject);
          server.listen(0, HOST, () => resolve((server.address() as net.AddressInfo).port));
        }),
      );
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
  /** Clusters without a service (no router): only their supervisor to stop. */
  private readonly supervisors = new Set<Supervisor>();
  private readonly workers = new Set<Worker>();
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

  supervisor(supervisor: Supervisor): Supervisor {
    this.supervisors.add(supervisor);
    return supervisor;
  }

  async endSupervisor(supervisor: Supervisor): Promise<void> {
    this.supervisors.delete(supervisor);
    await supervisor.stop();
  }

  worker(worker: Worker): Worker {
    this.workers.add(worker);
    return worker;
  }

  async endWorker(worker: Worker): Promise<void> {
    this.workers.delete(worker);
    await worker.terminate();
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
    await Promise.all([...this.supervisors].map((supervisor) => this.endSupervisor(supervisor).catch(() => undefined)));
    await Promise.all([...this.workers].map((worker) => this.endWorker(worker).catch(() => undefined)));
    for (const dir of this.dirs) fs.rmSync(dir, { recursive: true, force: true });
    this.children.clear();
    this.releasers.clear();
    this.clusters.clear();
    this.supervisors.clear();
    this.workers.clear();
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
  return resources.child(
    fork(script, [], { cwd: REPO_ROOT, execArgv: ['--import', TSX_LOADER], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  );
}
