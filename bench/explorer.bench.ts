// What the explorer's event stream costs under full write load (issue 14): the same cell run with the nodes'
// explorer frames off, and on with a page subscribed to GET /explorer/events (reading every event), interleaved.
//
//   npm run bench:explorer [-- --rounds 3 --seconds 10 --storage disk,memory]
//
// The cell: 3 nodes, HTTP writes of 256 B values from 64 connections (the main write target's cell). Each run
// starts a fresh cluster. Prints ops/s per run, the medians, the cost (1 - on/off), the events the subscriber
// received per second and the largest buffer the hub held (it must stay within explorerEventsMax).
import * as http from 'node:http';
import { parseArgs } from 'node:util';
import { LIMITS_DEFAULTS } from '../src/router/limits.js';
import { describeMachine, formatLoadAverage, positiveInteger, printTable } from './bench-util.js';
import { startCluster } from './lib/cluster.js';
import { runLoad } from './lib/load-run.js';
import { HOST, Resources, type Cluster, type Storage } from './lib/resources.js';
import { median } from './lib/stats.js';

interface Run {
  readonly storage: Storage;
  readonly frames: boolean;
  readonly opsPerSecond: number;
  readonly eventsPerSecond: number;
  readonly bufferMax: number;
}

/** A page's stream, in this process: reads and counts every event until closed. */
function subscribe(cluster: Cluster): { events: () => number; close: () => void } {
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

async function runOnce(resources: Resources, storage: Storage, frames: boolean, seconds: number): Promise<Run> {
  const cluster = await startCluster(resources, 3, storage, {}, frames);
  try {
    const page = frames ? subscribe(cluster) : null;
    let bufferMax = 0;
    const sampler = setInterval(() => (bufferMax = Math.max(bufferMax, cluster.service.explorer.bufferedEvents)), 100);
    const before = page?.events() ?? 0;
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
        seconds,
      },
      cluster,
    );
    clearInterval(sampler);
    const received = (page?.events() ?? 0) - before;
    page?.close();
    return {
      storage,
      frames,
      opsPerSecond: result.opsPerSecond,
      eventsPerSecond: received / (result.report.seconds + 2),
      bufferMax,
    };
  } finally {
    await resources.endCluster(cluster);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '10' },
      storage: { type: 'string', default: 'disk,memory' },
    },
  });
  const rounds = positiveInteger('--rounds', values.rounds);
  const seconds = positiveInteger('--seconds', values.seconds);
  const storages = values.storage.split(',') as Storage[];
  console.log(`explorer cost: ${describeMachine()}; load ${formatLoadAverage()}`);
  const resources = new Resources();
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => void resources.releaseAll().finally(() => process.exit(130)));
  const runs: Run[] = [];
  try {
    for (const storage of storages) {
      for (let round = 0; round < rounds; round++) {
        // Alternate which goes first, so a drift of the machine does not favour one side.
        for (const frames of round % 2 === 0 ? [false, true] : [true, false]) {
          const run = await runOnce(resources, storage, frames, seconds);
          runs.push(run);
          console.log(
            `${storage} frames ${frames ? 'on, a page subscribed' : 'off'}: ${Math.round(run.opsPerSecond)} ops/s` +
              (frames ? `, ${Math.round(run.eventsPerSecond)} events/s to the page, hub buffer at most ${run.bufferMax}` : ''),
          );
        }
      }
    }
  } finally {
    await resources.releaseAll();
  }
  const rows = storages.map((storage) => {
    const off = median(runs.filter((r) => r.storage === storage && !r.frames).map((r) => r.opsPerSecond));
    const on = median(runs.filter((r) => r.storage === storage && r.frames).map((r) => r.opsPerSecond));
    const bufferMax = Math.max(...runs.filter((r) => r.storage === storage).map((r) => r.bufferMax));
    return [
      storage,
      String(Math.round(off)),
      String(Math.round(on)),
      `${((1 - on / off) * 100).toFixed(1)}%`,
      `${bufferMax} / ${LIMITS_DEFAULTS.explorerEventsMax}`,
    ];
  });
  printTable(
    'the explorer event stream under full write load (median of the runs)',
    ['storage', 'off ops/s', 'on ops/s', 'cost', 'buffer max / limit'],
    rows,
  );
}

void main();
