// Entry point of a Raft node worker: all the work is in src/node/node-worker.ts.
import { parentPort, workerData } from 'node:worker_threads';
import { runNodeWorker } from '../src/node/node-worker.js';
import type { NodeStartup } from '../src/protocol/node.js';

if (parentPort === null) throw new Error('raft-node.worker must run in a worker thread');
runNodeWorker(workerData as NodeStartup, parentPort);
