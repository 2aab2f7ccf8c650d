// One load run: the load-client process (bench/load/client.ts) against a server, with this process and the
// machine observed over the same measured window.
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { NodeId } from '../../src/raft/types.js';
import type { LoadMessage, LoadProtocol, LoadReport, LoadRunConfig } from '../load/harness.js';
import { CpuSampler } from './cpu-sampler.js';
import { HOST, forkScript, type Cluster, type Resources } from './resources.js';

const CLIENT_SCRIPT = fileURLToPath(new URL('../load/client.ts', import.meta.url));
/** Opening connections and prefilling keys before the warm-up may take this long. */
const LOAD_START_TIMEOUT_MS = 60_000;
const LOAD_DRAIN_TIMEOUT_MS = 10_000;
/** Linux's USER_HZ: /proc counts CPU time in these ticks per second. */
const PROC_TICKS_PER_SECOND = 100;

/** CPU seconds a process has used so far (Linux /proc), or null when it is gone or /proc is missing. */
function pidCpuSeconds(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Past the command name in parentheses: utime and stime are fields 14 and 15 of stat.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / PROC_TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/** CPU seconds so far of each node that runs in a child process (hosting 'processes'), by PID. */
function nodeProcessCpuSeconds(cluster: Cluster): Map<number, number> {
  const seconds = new Map<number, number>();
  for (const id of cluster.supervisor.ids) {
    const pid = cluster.supervisor.pidOf(id);
    const cpu = pid === null ? null : pidCpuSeconds(pid);
    if (pid !== null && cpu !== null) seconds.set(pid, cpu);
  }
  return seconds;
}

/** What the raftkv process (router, HTTP and RESP servers, every node's worker thread) did in the window. */
export interface ServerSample {
  /**
   * CPU of raftkv in cores: this whole process (the main thread and every node worker) and, when the nodes run
   * as child processes, theirs too.
   */
  readonly cpuCores: number;
  /** Of cpuCores, the node processes' share (0 when the nodes are worker threads). */
  readonly nodeProcessCores: number;
  /** Busy share of the main thread's event loop, where the router and both servers run. */
  readonly routerLoopBusy: number;
  /** Client commands per router proposal: how much the router's batching amortises. */
  readonly commandsPerProposal: number;
  /** Leaders elected during the window (each a new term): every one is an election the load sat through. */
  readonly elections: number;
}

export interface WindowSample {
  /** Null when the server under test is another process (etcd, redis-server, the bare HTTP server). */
  readonly server: ServerSample | null;
  /** Cores busy on the whole machine (every process: the servers, the load client, and anything else running). */
  readonly machineCores: number;
}

/** Samples this process and the machine over a window; `cluster` null when the server is another process. */
export class WindowProbe {
  private readonly cpu = new CpuSampler();
  private stats = { proposals: 0, commands: 0 };
  private elections = 0;
  private nodeCpu = new Map<number, number>();
  private startedMs = 0;
  private readonly onLeader = (leader: NodeId | null): void => {
    if (leader !== null) this.elections++;
  };

  constructor(private readonly cluster: Cluster | null) {}

  start(): void {
    this.cpu.restart();
    this.elections = 0;
    if (this.cluster === null) return;
    this.nodeCpu = nodeProcessCpuSeconds(this.cluster);
    this.startedMs = performance.now();
    const { router } = this.cluster.service;
    this.stats = { proposals: router.stats.proposals, commands: router.stats.commands };
    this.cluster.supervisor.on('leader', this.onLeader);
  }

  end(): WindowSample {
    const cpu = this.cpu.end();
    const machineCores = cpu.machineCores;
    if (this.cluster === null) return { server: null, machineCores };
    const { router } = this.cluster.service;
    this.cluster.supervisor.off('leader', this.onLeader);
    const proposals = router.stats.proposals - this.stats.proposals;
    // A node process restarted in the window (a new PID) is left out: its CPU before the window is unknown.
    let nodeCpuSeconds = 0;
    for (const [pid, seconds] of nodeProcessCpuSeconds(this.cluster)) {
      const before = this.nodeCpu.get(pid);
      if (before !== undefined) nodeCpuSeconds += seconds - before;
    }
    const nodeProcessCores = nodeCpuSeconds / ((performance.now() - this.startedMs) / 1000);
    return {
      server: {
        cpuCores: cpu.processCores + nodeProcessCores,
        nodeProcessCores,
        routerLoopBusy: cpu.loopBusy,
        commandsPerProposal: proposals === 0 ? Number.NaN : (router.stats.commands - this.stats.commands) / proposals,
        elections: this.elections,
      },
      machineCores,
    };
  }
}

export interface LoadSpec {
  readonly protocol: LoadProtocol;
  readonly port: number;
  readonly connections: number;
  readonly pipeline: number;
  readonly readRatio: number;
  readonly valueBytes: number;
  readonly keySpace: number;
  readonly warmupSeconds: number;
  readonly seconds: number;
}

export interface LoadResult {
  readonly report: LoadReport;
  readonly opsPerSecond: number;
  readonly window: WindowSample;
  /** Cores busy with neither raftkv nor the load client (for another server: that server, and the rest). */
  readonly otherCores: number;
}

/** `onWindow` is called when the measured window starts, and with the same argument false when it ends. */
export async function runLoad(
  resources: Resources,
  spec: LoadSpec,
  cluster: Cluster | null,
  onWindow?: (open: boolean) => void,
): Promise<LoadResult> {
  const child = forkScript(resources, CLIENT_SCRIPT);
  const probe = new WindowProbe(cluster);
  let window = null as WindowSample | null; // set by a message handler
  try {
    const report = await new Promise<LoadReport>((resolve, reject) => {
      const limitMs = LOAD_START_TIMEOUT_MS + (spec.warmupSeconds + spec.seconds) * 1000 + LOAD_DRAIN_TIMEOUT_MS;
      const timer = setTimeout(() => reject(new Error(`${spec.protocol} load client: no report within ${limitMs} ms`)), limitMs);
      child.on('message', (message: LoadMessage) => {
        if (message.type === 'window-start') {
          probe.start();
          onWindow?.(true);
        } else if (message.type === 'window-end') {
          window = probe.end();
          onWindow?.(false);
        } else {
          clearTimeout(timer);
          if (message.type === 'report') resolve(message.report);
          else reject(new Error(`${spec.protocol} load client failed: ${message.message}`));
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${spec.protocol} load client exited (${signal ?? code}) before its report`));
      });
      const config: LoadRunConfig = { type: 'run', host: HOST, ...spec, drainTimeoutMs: LOAD_DRAIN_TIMEOUT_MS };
      child.send(config);
    });
    if (window === null) throw new Error(`${spec.protocol} load client reported without ending its window`);
    const w: WindowSample = window;
    return {
      report,
      opsPerSecond: report.ops / report.seconds,
      window: w,
      otherCores: Math.max(0, w.machineCores - (w.server?.cpuCores ?? 0) - report.clientCpuCores),
    };
  } finally {
    await resources.endChild(child);
  }
}
