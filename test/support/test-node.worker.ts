// A node worker for tests and benchmarks: the production body (src/node/node-worker.ts) with the test hooks
// production does not carry: a bare counter state machine instead of the KV store, and a crash at start.
import { parentPort, workerData } from 'node:worker_threads';
import { runNodeWorker } from '../../src/node/node-worker.js';
import type { NodeStartup } from '../../src/protocol/node.js';
import { CounterStateMachine } from './counter-state-machine.js';
import type { TestNodeData } from './test-node.js';

if (parentPort === null) throw new Error('test-node.worker must run in a worker thread');
const startup = workerData as NodeStartup & TestNodeData;
if (startup.testCrashOnStart !== null) throw new Error(startup.testCrashOnStart);
runNodeWorker(startup, parentPort, startup.testStateMachine === 'counter' ? new CounterStateMachine() : undefined);
