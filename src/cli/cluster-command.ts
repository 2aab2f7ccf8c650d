import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { CLUSTER_NODES_MAX, Supervisor } from '../actor/supervisor.js';
import { UsageError } from './usage-error.js';

export const CLUSTER_USAGE = `usage: raftkv cluster [options]
  --nodes N        number of Raft nodes, 1 to ${CLUSTER_NODES_MAX} (default 3)
  --data-dir DIR   where each node keeps its log and snapshots, one sub-folder per node (default ./data)
  --memory         keep nothing on disk: nodes survive their own restarts, nothing survives the cluster
  --tick-ms MS     length of one Raft tick in milliseconds (default 10)`;

export interface ClusterCommandOptions {
  readonly nodes: number;
  readonly dataDir: string;
  readonly memory: boolean;
  readonly tickMs: number;
}

export function parseClusterArgs(argv: readonly string[]): ClusterCommandOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        nodes: { type: 'string', default: '3' },
        'data-dir': { type: 'string', default: './data' },
        memory: { type: 'boolean', default: false },
        'tick-ms': { type: 'string', default: '10' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message, CLUSTER_USAGE);
  }
  const nodes = Number(values.nodes);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > CLUSTER_NODES_MAX) {
    throw new UsageError(`--nodes must be an integer from 1 to ${CLUSTER_NODES_MAX}, got ${values.nodes}`, CLUSTER_USAGE);
  }
  const tickMs = Number(values['tick-ms']);
  if (!Number.isInteger(tickMs) || tickMs < 1 || tickMs > 1000) throw new UsageError(`--tick-ms must be an integer from 1 to 1000, got ${values['tick-ms']}`, CLUSTER_USAGE);
  return { nodes, dataDir: values['data-dir'], memory: values.memory, tickMs };
}

/** The cluster's identity in its data folder: a later start with another node count is refused, not mixed. */
function checkClusterFile(dataDir: string, nodes: number): void {
  const file = path.join(dataDir, 'cluster.json');
  if (fs.existsSync(file)) {
    const recorded = JSON.parse(fs.readFileSync(file, 'utf8')) as { nodes?: unknown };
    if (recorded.nodes !== nodes) {
      throw new UsageError(`${dataDir} holds a ${String(recorded.nodes)}-node cluster; start it with --nodes ${String(recorded.nodes)} or use another --data-dir`, CLUSTER_USAGE);
    }
    return;
  }
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify({ nodes, created: new Date().toISOString() })}\n`);
}

export async function runCluster(options: ClusterCommandOptions, out: (line: string) => void = console.log): Promise<void> {
  // --memory: files in RAM (/dev/shm where there is one) and no fsync; removed when the command ends.
  const shm = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  const dataDir = options.memory ? fs.mkdtempSync(path.join(shm, 'raftkv-')) : path.resolve(options.dataDir);
  if (!options.memory) checkClusterFile(dataDir, options.nodes);
  const supervisor = new Supervisor({
    nodes: options.nodes,
    dataDir,
    durable: !options.memory,
    tickMs: options.tickMs,
    log: (line) => out(line),
  });
  out(options.memory
    ? `raftkv: ${options.nodes} nodes in memory (nothing survives a restart of the cluster)`
    : `raftkv: ${options.nodes} nodes, data in ${dataDir} (a write is acknowledged once a majority has fsynced it)`);
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    out(`${signal}: stopping; every node syncs its log`);
    await supervisor.stop();
    if (options.memory) fs.rmSync(dataDir, { recursive: true, force: true });
    out('stopped');
  };
  const done = new Promise<void>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void stop(signal).then(resolve));
  });
  await supervisor.start();
  await done;
}
