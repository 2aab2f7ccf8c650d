// Overload (issue 18, item 5): what accepted requests see when ten times as many are in flight as at the
// capacity cell, with the router's admission bound (pendingRequestsMax) at its default and at tighter values.
// The figure the tests cannot assert (no timing assertions there): the latency of accepted requests under
// overload, and how much is shed (OVERLOADED, HTTP 429 / RESP TRYAGAIN) instead.
//
//   npm run bench:overload [-- --storage disk|memory --nodes 3 --seconds 10 --api http,resp
//                               --connections 64 --factor 10 --pending 100000,1000,256]
//
// Per API: one capacity run (`--connections` clients, one request in flight each, default bound), then one
// run per `--pending` value with `--factor` times as many requests in flight (HTTP: that many connections;
// RESP: `--connections` connections pipelining `--factor` deep). Each run on a fresh 3-node cluster in this
// process; the load comes from bench/load/client.ts in its own process, so its CPU is not the router's. The
// warm-up runs with the default bound (the load client wants its first write on every connection accepted);
// the cell's bound is set for the measured window (Router.setPendingRequestsMax).
import { parseArgs } from 'node:util';
import { startService } from '../src/router/service.js';
import { describeMachine, formatLoadAverage, isMainModule, positiveInteger, positiveIntegers, printTable } from './bench-util.js';
import { startSupervisor } from './lib/cluster.js';
import { runLoad, type LoadResult } from './lib/load-run.js';
import { diskDir, HOST, memoryDir, Resources, type Storage } from './lib/resources.js';

interface Cell {
  readonly api: 'http' | 'resp';
  readonly label: string;
  readonly connections: number;
  readonly pipeline: number;
  readonly pendingRequestsMax: number;
}

interface Options {
  readonly storage: Storage;
  readonly nodes: number;
  readonly seconds: number;
  readonly apis: readonly ('http' | 'resp')[];
  readonly connections: number;
  readonly factor: number;
  readonly pending: readonly number[];
}

const WARMUP_SECONDS = 2;
const VALUE_BYTES = 256;
const KEY_SPACE = 10_000;
const DEFAULT_PENDING = 100_000;

function readOptions(args: readonly string[]): Options {
  const { values: v } = parseArgs({
    args: [...args],
    options: {
      storage: { type: 'string', default: 'disk' },
      nodes: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '10' },
      api: { type: 'string', default: 'http,resp' },
      connections: { type: 'string', default: '64' },
      factor: { type: 'string', default: '10' },
      pending: { type: 'string', default: `${DEFAULT_PENDING},1000,256` },
    },
  });
  if (v.storage !== 'disk' && v.storage !== 'memory') throw new RangeError(`--storage must be disk or memory, got ${v.storage}`);
  const apis = (v.api ?? '').split(',').map((a) => a.trim());
  for (const api of apis) if (api !== 'http' && api !== 'resp') throw new RangeError(`--api takes http and resp, got ${api}`);
  return {
    storage: v.storage,
    nodes: positiveInteger('nodes', v.nodes),
    seconds: positiveInteger('seconds', v.seconds),
    apis: apis as ('http' | 'resp')[],
    connections: positiveInteger('connections', v.connections),
    factor: positiveInteger('factor', v.factor),
    pending: positiveIntegers('pending', v.pending),
  };
}

function cells(options: Options): Cell[] {
  return options.apis.flatMap((api) => [
    { api, label: 'capacity', connections: options.connections, pipeline: 1, pendingRequestsMax: DEFAULT_PENDING },
    ...options.pending.map((pendingRequestsMax) => ({
      api,
      label: `${options.factor}x`,
      // HTTP has one request in flight per connection; the Redis protocol pipelines.
      connections: api === 'http' ? options.connections * options.factor : options.connections,
      pipeline: api === 'http' ? 1 : options.factor,
      pendingRequestsMax,
    })),
  ]);
}

async function runCell(resources: Resources, options: Options, cell: Cell): Promise<LoadResult> {
  const dataDir = options.storage === 'disk' ? diskDir(resources, 'raftkv-overload-').dir : memoryDir(resources, 'raftkv-overload-');
  const supervisor = await startSupervisor({ nodes: options.nodes, dataDir, durable: options.storage === 'disk', stateMachine: 'kv' });
  const warmupBound = Math.max(cell.pendingRequestsMax, cell.connections);
  const service = await startService(supervisor, {
    host: HOST,
    httpPort: 0,
    respPort: 0,
    adminToken: null,
    router: { pendingRequestsMax: warmupBound },
  }).catch(async (error: unknown) => {
    await supervisor.stop();
    throw error;
  });
  const cluster = resources.cluster({ nodes: options.nodes, storage: options.storage, supervisor, service, dataDir });
  try {
    return await runLoad(
      resources,
      {
        protocol: cell.api === 'http' ? 'raftkv-http' : 'resp',
        port: cell.api === 'http' ? service.http.port : service.resp.port,
        connections: cell.connections,
        pipeline: cell.pipeline,
        readRatio: 0,
        valueBytes: VALUE_BYTES,
        keySpace: KEY_SPACE,
        warmupSeconds: WARMUP_SECONDS,
        seconds: options.seconds,
      },
      cluster,
      // The load client wants its first write on every connection accepted: until the window, room for those.
      (open) => service.router.setPendingRequestsMax(open ? cell.pendingRequestsMax : warmupBound),
    );
  } finally {
    await resources.endCluster(cluster);
  }
}

/** A latency in ms; none (no request accepted in the window: NaN, or null once it crossed the process boundary). */
function millis(value: number | null): string {
  return value === null || Number.isNaN(value) ? '-' : value.toFixed(1);
}

async function main(): Promise<void> {
  const options = readOptions(process.argv.slice(2));
  console.log(
    `overload: ${describeMachine()}; load ${formatLoadAverage()}; ${options.nodes} nodes, ${options.storage}, ` +
      `${VALUE_BYTES} B writes, ${options.seconds} s windows`,
  );
  const resources = new Resources();
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => void resources.releaseAll().finally(() => process.exit(130)));
  const rows: string[][] = [];
  try {
    for (const cell of cells(options)) {
      const result = await runCell(resources, options, cell);
      const { report } = result;
      const shed = Object.entries(report.errors)
        .filter(([code]) => code.includes('OVERLOADED') || code.includes('429') || code.startsWith('TRYAGAIN'))
        .reduce((sum, [, count]) => sum + count, 0);
      const errors = Object.values(report.errors).reduce((sum, count) => sum + count, 0);
      const row = [
        `${cell.api} ${cell.label}`,
        String(cell.connections * cell.pipeline),
        cell.pendingRequestsMax.toLocaleString('en-US'),
        String(Math.round(result.opsPerSecond)),
        String(Math.round(shed / report.seconds)),
        String(errors - shed),
        millis(report.latency.p50Millis),
        millis(report.latency.p99Millis),
        millis(report.latency.maxMillis),
      ];
      console.log(row.join('  '), JSON.stringify(report.errors));
      rows.push(row);
    }
  } finally {
    await resources.releaseAll();
  }
  printTable(
    'accepted writes under overload (latency of accepted requests only, ms)',
    ['cell', 'in flight', 'pendingRequestsMax', 'accepted/s', 'shed/s', 'other errors', 'p50', 'p99', 'max'],
    rows,
  );
}

if (isMainModule(import.meta.url)) void main();
