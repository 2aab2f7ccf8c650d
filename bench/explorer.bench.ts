// What the explorer's event stream costs under full write load (issue 14). One cluster per run carries the load
// without a break while the nodes' explorer frames are switched off and on in short windows (in the order off,
// on, on, off, ... so that a drift of the machine or of the log's size favours neither side), with a page
// subscribed to GET /explorer/events all along (reading every event). Each run is compared with itself: the
// throughput of a fresh cluster varies by up to 40% from one start to the next (elections, disk layout), more
// than the cost being priced.
//
//   npm run bench:explorer [-- --rounds 2 --windows 32 --window-seconds 2 --storage disk,memory --nodes 3
//                              --frame-ms 100]
//
// The cell: HTTP writes of 256 B values from 64 connections (the main write target's cell). Per window: the
// writes the router proposed per second and the CPU the whole raftkv process (router and every node) spent per
// write. Prints each run's windows, then the cost (1 - on/off) of throughput as the mean over the blocks of four
// windows (off, on, on, off: each block cancels a linear drift) with its 95% confidence interval, the same for
// CPU per write, the events per second the page received and the largest buffer the hub held (it must stay
// within explorerEventsMax). `--frame-ms 10` sends ten times the frames of the default 100: the cost of the
// frames themselves grows tenfold, what does not grow (timing round trips) stays, so the figure bounds the
// default's cost from above when the default's own is lost in the noise.
import * as http from 'node:http';
import { parseArgs } from 'node:util';
import { EXPLORER_FRAME_MS } from '../src/protocol/explorer.js';
import { LIMITS_DEFAULTS } from '../src/router/limits.js';
import { describeMachine, formatLoadAverage, isMainModule, positiveInteger, printTable } from './bench-util.js';
import { startCluster } from './lib/cluster.js';
import { runLoad } from './lib/load-run.js';
import { HOST, Resources, type Cluster, type Storage } from './lib/resources.js';
import { meanInterval, type MeanInterval } from './lib/stats.js';

interface Window {
  readonly frames: boolean;
  readonly writesPerSecond: number;
  /** CPU microseconds of the raftkv process per write. */
  readonly cpuMicrosPerWrite: number;
  /** Events the page received per second. */
  readonly eventsPerSecond: number;
}

interface Run {
  readonly storage: Storage;
  readonly windows: readonly Window[];
  readonly bufferMax: number;
}

interface Page {
  events(): number;
  close(): void;
}

/** A page's stream, in this process: reads and counts every event until closed. */
function subscribe(cluster: Cluster): Page {
  let events = 0;
  const req = http.get(`http://${HOST}:${cluster.service.http.port}/explorer/events`, (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      for (let i = chunk.indexOf('\n\n'); i >= 0; i = chunk.indexOf('\n\n', i + 2)) events++;
    });
  });
  req.on('error', () => undefined);
  return { events: () => events, close: () => req.destroy() };
}

/** Whether frames are on in window `i`: off, on, on, off, off, on, on, off, ... */
const framesIn = (i: number): boolean => i % 4 === 1 || i % 4 === 2;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Switches the frames window by window while the load's measured window is open, measuring each. */
async function alternate(cluster: Cluster, page: Page, windows: number, windowMs: number, frameMs: number): Promise<Window[]> {
  const { router } = cluster.service;
  const measured: Window[] = [];
  for (let i = 0; i < windows; i++) {
    const frames = framesIn(i);
    await cluster.supervisor.setExplorerFrames(frames, frameMs);
    const writes = router.stats.commands;
    const cpu = process.cpuUsage();
    const events = page.events();
    const start = performance.now();
    await sleep(windowMs);
    const seconds = (performance.now() - start) / 1000;
    const done = router.stats.commands - writes;
    const used = process.cpuUsage(cpu);
    measured.push({
      frames,
      writesPerSecond: done / seconds,
      cpuMicrosPerWrite: (used.user + used.system) / done,
      eventsPerSecond: (page.events() - events) / seconds,
    });
  }
  return measured;
}

interface Cell {
  readonly storage: Storage;
  readonly nodes: number;
  readonly windows: number;
  readonly windowSeconds: number;
  readonly frameMs: number;
}

async function runOnce(resources: Resources, cell: Cell): Promise<Run> {
  const { storage, nodes, windows, windowSeconds, frameMs } = cell;
  const cluster = await startCluster(resources, nodes, storage);
  try {
    const page = subscribe(cluster);
    let bufferMax = 0;
    const sampler = setInterval(() => (bufferMax = Math.max(bufferMax, cluster.service.explorer.bufferedEvents)), 100);
    let measuring: Promise<Window[]> | null = null;
    const result = await runLoad(
      resources,
      {
        protocol: 'raftkv-http',
        port: cluster.service.http.port,
        connections: 64,
        pipeline: 1,
        readRatio: 0,
        valueBytes: 256,
        keySpace: 10_000,
        warmupSeconds: 2,
        // A little longer than the windows, so that the last one ends inside the load's window.
        seconds: windows * windowSeconds + 2,
      },
      cluster,
      (open) => {
        if (open) measuring = alternate(cluster, page, windows, windowSeconds * 1000, frameMs);
      },
    );
    clearInterval(sampler);
    if (measuring === null) throw new Error('the load client never opened its window');
    const measured = await (measuring as Promise<Window[]>);
    page.close();
    if (result.window.server !== null && result.window.server.elections > 0) {
      console.log(`  (${result.window.server.elections} election(s) during the run: its figures include them)`);
    }
    return { storage, windows: measured, bufferMax };
  } finally {
    await resources.endCluster(cluster);
  }
}

const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);
const mean = (values: readonly number[]): number => sum(values) / values.length;
const percent = (value: number): string => `${(value * 100).toFixed(1)}%`;
const interval = (m: MeanInterval): string => `${percent(m.mean)} (${percent(m.low)} .. ${percent(m.high)})`;
const onEvents = (windows: readonly Window[]): number => mean(windows.filter((w) => w.frames).map((w) => w.eventsPerSecond));

/** 1 - on/off of a figure over the windows given. */
function cost(windows: readonly Window[], figure: (w: Window) => number): number {
  return 1 - mean(windows.filter((w) => w.frames).map(figure)) / mean(windows.filter((w) => !w.frames).map(figure));
}

/** The bench's options from a command line (throws on a bad one). */
export function readExplorerBenchOptions(argv: readonly string[]): {
  rounds: number;
  windows: number;
  windowSeconds: number;
  nodes: number;
  frameMs: number;
  storages: Storage[];
} {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      rounds: { type: 'string', default: '2' },
      windows: { type: 'string', default: '32' },
      'window-seconds': { type: 'string', default: '2' },
      'frame-ms': { type: 'string', default: String(EXPLORER_FRAME_MS) },
      storage: { type: 'string', default: 'disk,memory' },
      nodes: { type: 'string', default: '3' },
    },
  });
  const rounds = positiveInteger('--rounds', values.rounds);
  const windows = positiveInteger('--windows', values.windows);
  if (windows % 4 !== 0) throw new RangeError(`--windows must be a multiple of 4 (blocks of off, on, on, off), got ${windows}`);
  const windowSeconds = positiveInteger('--window-seconds', values['window-seconds']);
  const nodes = positiveInteger('--nodes', values.nodes);
  const frameMs = positiveInteger('--frame-ms', values['frame-ms']);
  const storages = values.storage.split(',') as Storage[];
  for (const storage of storages)
    if (storage !== 'disk' && storage !== 'memory') throw new RangeError(`--storage takes disk, memory; got ${storage}`);
  return { rounds, windows, windowSeconds, nodes, frameMs, storages };
}

async function main(): Promise<void> {
  const { rounds, windows, windowSeconds, nodes, frameMs, storages } = readExplorerBenchOptions(process.argv.slice(2));
  console.log(`explorer cost: ${describeMachine()}; load ${formatLoadAverage()}; ${nodes} nodes; a frame per ${frameMs} ms when on`);
  const resources = new Resources();
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => void resources.releaseAll().finally(() => process.exit(130)));
  const runs: Run[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      for (const storage of storages) {
        const run = await runOnce(resources, { storage, nodes, windows, windowSeconds, frameMs });
        runs.push(run);
        const list = run.windows.map((w) => `${w.frames ? 'on' : 'off'} ${Math.round(w.writesPerSecond)}`).join(', ');
        console.log(`${storage} run ${round + 1}: writes/s by window: ${list}`);
        console.log(
          `  cost ${percent(cost(run.windows, (w) => w.writesPerSecond))} of throughput; ` +
            `${Math.round(onEvents(run.windows))} events/s to the page with frames on; hub buffer at most ${run.bufferMax}`,
        );
      }
    }
  } finally {
    await resources.releaseAll();
  }
  const rows = storages.map((storage) => {
    const mine = runs.filter((r) => r.storage === storage);
    const all = mine.flatMap((r) => r.windows);
    const byBlock = (figure: (w: Window) => number): MeanInterval =>
      meanInterval(
        mine.flatMap((r) => Array.from({ length: r.windows.length / 4 }, (_, b) => cost(r.windows.slice(b * 4, b * 4 + 4), figure))),
      );
    const throughput = byBlock((w) => w.writesPerSecond);
    // CPU per write: the cost is how much more (on/off - 1), so the sign of 1 - on/off is turned.
    const saved = byBlock((w) => w.cpuMicrosPerWrite);
    const cpu: MeanInterval = { mean: -saved.mean, low: -saved.high, high: -saved.low };
    return [
      storage,
      String(all.length),
      String(Math.round(mean(all.filter((w) => !w.frames).map((w) => w.writesPerSecond)))),
      String(Math.round(mean(all.filter((w) => w.frames).map((w) => w.writesPerSecond)))),
      interval(throughput),
      interval(cpu),
      String(Math.round(onEvents(all))),
      `${Math.max(...mine.map((r) => r.bufferMax))} / ${LIMITS_DEFAULTS.explorerEventsMax}`,
    ];
  });
  printTable(
    `the explorer event stream under full write load, a frame per ${frameMs} ms when on (cost: mean over the blocks, 95% interval)`,
    ['storage', 'windows', 'off writes/s', 'on writes/s', 'throughput cost', 'CPU per write more', 'events/s', 'buffer max / limit'],
    rows,
  );
}

if (isMainModule(import.meta.url)) void main();
