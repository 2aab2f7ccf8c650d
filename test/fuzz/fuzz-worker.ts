// One target's fuzzing run, in a worker thread of test/fuzz/fuzzer.ts, so that the main thread can watch it:
// before each input the worker copies it into shared memory and counts it, and the main thread, seeing the
// count stand still past the target's bound, terminates the worker (an endless loop cannot be interrupted from
// inside) and keeps the input in flight as the finding.
import { parentPort, workerData } from 'node:worker_threads';
import { distill, fuzz } from './engine.js';
import { loadTarget } from './targets/index.js';
import { IN_FLIGHT_HEADER_BYTES, type FuzzWorkerData, type FuzzWorkerReport } from './worker-protocol.js';

const data = workerData as FuzzWorkerData;
const port = parentPort;
if (port === null) throw new Error('fuzz-worker.ts runs as a worker thread of test/fuzz/fuzzer.ts');
const target = await loadTarget(data.target);
const counters = new Int32Array(data.inFlight, 0, 2);
const bytes = new Uint8Array(data.inFlight, IN_FLIGHT_HEADER_BYTES);

await target.open?.();
const beforeInput = (input: Buffer): void => {
  const length = Math.min(input.byteLength, bytes.byteLength);
  bytes.set(input.subarray(0, length));
  Atomics.store(counters, 1, length);
  Atomics.add(counters, 0, 1);
};
const result = await fuzz({
  target,
  seed: data.seed,
  seeds: data.seeds.map((seed) => Buffer.from(seed)),
  iterationsMax: data.iterationsMax,
  deadline: performance.now() + data.seconds * 1000,
  beforeInput,
  onProgress: (progress) => port.postMessage({ kind: 'progress', ...progress } satisfies FuzzWorkerReport),
});
const distilled =
  result.finding === null && data.distillEntriesMax > 0
    ? await distill(
        target,
        data.seeds.map((seed) => Buffer.from(seed)),
        result.added,
        data.distillEntriesMax,
        beforeInput,
      )
    : [];
await target.close?.();
const summary = { iterations: result.iterations, corpusEntries: result.corpusEntries, features: result.features, finding: result.finding };
port.postMessage({ kind: 'done', result: summary, distilled } satisfies FuzzWorkerReport);
