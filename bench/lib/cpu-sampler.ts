// What the machine and this process spent over a measured window: the one resource sampler of the benchmarks.
// On a shared 2-core machine a figure means little without the CPU beside it: the process's own cores, the busy
// share of this thread's event loop, the busiest thread (the leader, in a cluster of worker threads), and the
// rest of the machine.
import * as fs from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';

/** Linux's USER_HZ: /proc counts CPU time in these ticks per second. */
const PROC_TICKS_PER_SECOND = 100;

export interface CpuSample {
  readonly seconds: number;
  /** CPU time of this whole process (every thread), and the same in cores (1 = one core busy all the time). */
  readonly processCpuSeconds: number;
  readonly processCores: number;
  /** Busy share of this thread's event loop, 0 to 1. */
  readonly loopBusy: number;
  /** CPU time of this process's busiest thread; NaN where /proc is missing. */
  readonly busiestThreadCpuSeconds: number;
  /** Cores busy on the whole machine (every process); NaN where /proc is missing. */
  readonly machineCores: number;
}

/** Busy and total CPU time of the whole machine so far, in ticks (Linux /proc/stat), or null elsewhere. */
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

/** CPU seconds of each thread of this process so far, by thread id (Linux /proc), or null elsewhere. */
function threadCpuSeconds(): Map<string, number> | null {
  try {
    const seconds = new Map<string, number>();
    for (const tid of fs.readdirSync('/proc/self/task')) {
      const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'latin1');
      // Past the command name in parentheses: utime and stime are fields 14 and 15 of stat.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      seconds.set(tid, (Number(fields[11]) + Number(fields[12])) / PROC_TICKS_PER_SECOND);
    }
    return seconds;
  } catch {
    // A thread that exits between the listing and the read: the window has no per-thread figure.
    return null;
  }
}

/** Starts sampling when made (or at `restart()`); `end()` gives what was spent since. */
export class CpuSampler {
  private startedAt = performance.now();
  private cpu = process.cpuUsage();
  private loop = performance.eventLoopUtilization();
  private machine = machineTicks();
  private threads = threadCpuSeconds();

  restart(): void {
    this.startedAt = performance.now();
    this.cpu = process.cpuUsage();
    this.loop = performance.eventLoopUtilization();
    this.machine = machineTicks();
    this.threads = threadCpuSeconds();
  }

  end(): CpuSample {
    const seconds = (performance.now() - this.startedAt) / 1000;
    const cpu = process.cpuUsage(this.cpu);
    const loop = performance.eventLoopUtilization(this.loop);
    const machine = machineTicks();
    const threads = threadCpuSeconds();
    const processCpuSeconds = (cpu.user + cpu.system) / 1e6;
    let busiestThreadCpuSeconds = Number.NaN;
    if (this.threads !== null && threads !== null) {
      busiestThreadCpuSeconds = 0;
      for (const [tid, spent] of threads) busiestThreadCpuSeconds = Math.max(busiestThreadCpuSeconds, spent - (this.threads.get(tid) ?? 0));
    }
    const before = this.machine;
    const machineCores =
      before === null || machine === null || machine.total === before.total
        ? Number.NaN
        : ((machine.busy - before.busy) / (machine.total - before.total)) * cpus().length;
    return {
      seconds,
      processCpuSeconds,
      processCores: processCpuSeconds / seconds,
      loopBusy: loop.utilization,
      busiestThreadCpuSeconds,
      machineCores,
    };
  }
}
