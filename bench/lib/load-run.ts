// One load run: the load-client process (bench/load/client.ts) against a server, with this process and the
// machine observed over the same measured window.
import * as fs from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { NodeId } from '../../src/raft/types.js';
import type { LoadMessage, LoadProtocol, LoadReport, LoadRunConfig } from '../load/harness.js';
import { HOST, forkScript, type Cluster, type Resources } from './resources.js';

const CLIENT_SCRIPT = fileURLToPath(new URL('../load/client.ts', import.meta.url));
/** Opening connections and prefilling keys before the warm-up may take this long. */
const LOAD_START_TIMEOUT_MS = 60_000;
const LOAD_DRAIN_TIMEOUT_MS = 10_000;

/** Busy and total CPU time of the whole machine so far, in clock ticks (Linux /proc/stat), or null elsewhere. */
function machineTicks(): { busy: number; total: number } | null {
  try {
    const line = fs.readFileSync('/proc/stat', 'latin1').split('\n', 1)[0] ?? '';
    const ticks = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
    const total = ticks.slice(0, 8).reduce((sum, t) => sum + t, 0);
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
    return Number.isFinite(total) && total > 0 ? { busy: total - idle, total } : null;
  } catch {
    return null;
  }
}

/** What the raftkv process (router, HTTP and RESP servers, every node's worker thread) did in the window. */
export interface ServerSample {
  /** CPU of this whole process in cores: the main thread and every node worker. */
  readonly cpuCores: number;
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
  private cpu = process.cpuUsage();
  private loop = performance.eventLoopUtilization();
  private stats = { proposals: 0, commands: 0 };
  private ticks = machineTicks();
  private elections = 0;
  private started = 0;
  private readonly onLeader = (leader: NodeId | null): void => {
    if (leader !== null) this.elections++;
  };

  constructor(private readonly cluster: Cluster | null) {}

  start(): void {
    this.cpu = process.cpuUsage();
    this.loop = performance.eventLoopUtilization();
    this.ticks = machineTicks();
    this.elections = 0;
    this.started = performance.now();
    if (this.cluster === null) return;
    const { router } = this.cluster.service;
    this.stats = { proposals: router.stats.proposals, commands: router.stats.commands };
    this.cluster.supervisor.on('leader', this.onLeader);
  }

  end(): WindowSample {
    const seconds = (performance.now() - this.started) / 1000;
    const cpu = process.cpuUsage(this.cpu);
    const loop = performance.eventLoopUtilization(this.loop);
    const ticksBefore = this.ticks;
    const ticksAfter = machineTicks();
    const machineCores = ticksBefore === null || ticksAfter === null || ticksAfter.total === ticksBefore.total
      ? Number.NaN
      : ((ticksAfter.busy - ticksBefore.busy) / (ticksAfter.total - ticksBefore.total)) * cpus().length;
    if (this.cluster === null) return { server: null, machineCores };
    const { router } = this.cluster.service;
    this.cluster.supervisor.off('leader', this.onLeader);
    const proposals = router.stats.proposals - this.stats.proposals;
    return {
      server: {
        cpuCores: (cpu.user + cpu.system) / 1e6 / seconds,
        routerLoopBusy: loop.utilization,
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

export async function runLoad(resources: Resources, spec: LoadSpec, cluster: Cluster | null): Promise<LoadResult> {
  const child = forkScript(resources, CLIENT_SCRIPT);
  const probe = new WindowProbe(cluster);
  let window = null as WindowSample | null; // set by a message handler
  try {
    const report = await new Promise<LoadReport>((resolve, reject) => {
      const limitMs = LOAD_START_TIMEOUT_MS + (spec.warmupSeconds + spec.seconds) * 1000 + LOAD_DRAIN_TIMEOUT_MS;
      const timer = setTimeout(() => reject(new Error(`${spec.protocol} load client: no report within ${limitMs} ms`)), limitMs);
      child.on('message', (message: LoadMessage) => {
        if (message.type === 'window-start') probe.start();
        else if (message.type === 'window-end') window = probe.end();
        else {
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
