// Runs a TypeScript worker entry under tsx (tests and `tsx` runs); built code spawns the .js entry directly.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.__entry);
