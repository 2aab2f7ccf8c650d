// Piscina runs the default export of its `filename`. Running from source (tests, tsx), that is this file: it
// registers tsx, loads the TypeScript worker named in workerData.__entry and re-exports its default function.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const entry = await import(workerData.__entry);

export default entry.default;
