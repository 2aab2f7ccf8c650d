// The coverage-guided fuzzer's command (docs/FUZZING.md): `npm run fuzz -- [--target NAME] [--seconds N]
// [--seed S] [--iterations N] [--distill N]`, or `npm run fuzz -- --target NAME --replay FILE`.
//
// Each target runs in a worker thread (fuzz-worker.ts) from its corpus in test/fuzz/corpus/<target>/, for a
// time budget, with a seeded PRNG (the seed is printed: the same seed and corpus replay the same inputs). This
// thread is the watchdog: a target whose input in flight has not finished within its bound plus a margin is a
// hang; the worker is terminated and the input kept. A finding is written to test/fuzz/findings/<target>-<hash>,
// the command that replays it is printed, and the command exits 1. --distill N adds at most N minimized
// inputs that added coverage to the corpus (cov-<hash>) after a run without findings.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import type { Finding } from './engine.js';
import { IN_FLIGHT_HEADER_BYTES, type FuzzWorkerData, type FuzzWorkerReport } from './worker-protocol.js';
import { CORPUS, corpusOf } from './corpus.js';
import { loadTarget, TARGET_NAMES } from './targets/index.js';
import type { FuzzTarget } from './target.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FINDINGS = path.join(HERE, 'findings');
const TS_ENTRY = new URL('../../workers/ts-entry.mjs', import.meta.url);
/** Past a target's own bound per input, how long the watchdog waits before it calls the input a hang. */
const HANG_MARGIN_MS = 10_000;
/** A target's set-up (the http target starts a cluster) before its first input. */
const OPEN_MS_MAX = 120_000;
const WATCHDOG_PERIOD_MS = 500;
const DEFAULT_SECONDS = 60;

interface Outcome {
  readonly target: string;
  readonly iterations: number;
  readonly corpusEntries: number;
  readonly features: number;
  readonly finding: Finding | null;
  readonly distilled: readonly Uint8Array[];
}

const relative = (file: string): string => path.relative(process.cwd(), file);
const hashOf = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex').slice(0, 16);

function runWorker(target: FuzzTarget, data: Omit<FuzzWorkerData, 'inFlight' | 'target'>): Promise<Outcome> {
  const inFlight = new SharedArrayBuffer(IN_FLIGHT_HEADER_BYTES + target.inputBytesMax);
  const counters = new Int32Array(inFlight, 0, 2);
  // workers/ts-entry.mjs registers tsx in the worker, then loads the TypeScript module named by __entry.
  const worker = new Worker(TS_ENTRY, {
    workerData: {
      ...data,
      target: target.name,
      inFlight,
      __entry: new URL('./fuzz-worker.ts', import.meta.url).href,
    } satisfies FuzzWorkerData & {
      __entry: string;
    },
  });
  return new Promise((resolve, reject) => {
    let settled = false;
    let lastCount = 0;
    let lastChange = performance.now();
    const settle = (outcome: Outcome | Error): void => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    const watchdog = setInterval(() => {
      const count = Atomics.load(counters, 0);
      if (count !== lastCount) {
        lastCount = count;
        lastChange = performance.now();
        return;
      }
      const stuckMs = performance.now() - lastChange;
      if (stuckMs < (count === 0 ? OPEN_MS_MAX : target.inputMsMax + HANG_MARGIN_MS)) return;
      const length = Atomics.load(counters, 1);
      const input = Buffer.from(new Uint8Array(inFlight, IN_FLIGHT_HEADER_BYTES, length));
      const message =
        count === 0
          ? `the target did not start within ${OPEN_MS_MAX} ms`
          : `an input still running after ${Math.round(stuckMs)} ms: a hang`;
      void worker.terminate();
      settle({
        target: target.name,
        iterations: count,
        corpusEntries: 0,
        features: 0,
        finding: { input, kind: count === 0 ? 'slow' : 'hang', message },
        distilled: [],
      });
    }, WATCHDOG_PERIOD_MS);
    worker.on('message', (report: FuzzWorkerReport) => {
      if (report.kind === 'progress') {
        console.log(`  ${target.name}: ${report.iterations} inputs, ${report.corpusEntries} in the corpus, ${report.features} features`);
        return;
      }
      void worker.terminate(); // done: whatever the target left running goes with it
      const finding = report.result.finding === null ? null : { ...report.result.finding, input: Buffer.from(report.result.finding.input) };
      settle({ target: target.name, ...report.result, finding, distilled: report.distilled });
    });
    worker.on('error', (error) => settle(error));
    worker.on('exit', (code) => settle(new Error(`the ${target.name} fuzz worker exited (code ${code}) without a result`)));
  });
}

function report(outcome: Outcome, seed: number): boolean {
  const { target, finding } = outcome;
  if (finding === null) {
    console.log(
      `${target}: ${outcome.iterations} inputs, ${outcome.corpusEntries} in the corpus, ${outcome.features} features: no finding`,
    );
    return true;
  }
  fs.mkdirSync(FINDINGS, { recursive: true });
  const file = path.join(FINDINGS, `${target}-${hashOf(finding.input)}`);
  fs.writeFileSync(file, finding.input);
  console.log(`${target}: FINDING (${finding.kind}) after ${outcome.iterations} inputs (seed ${seed}):\n${finding.message}`);
  console.log(`  input (${finding.input.byteLength} bytes): ${JSON.stringify(finding.input.toString('latin1').slice(0, 200))}`);
  console.log(`  saved as ${relative(file)}; replay it with:\n  npm run fuzz -- --target ${target} --replay ${relative(file)}`);
  return false;
}

function keepDistilled(outcome: Outcome): void {
  const dir = path.join(CORPUS, outcome.target);
  for (const input of outcome.distilled) fs.writeFileSync(path.join(dir, `cov-${hashOf(input)}`), input);
  if (outcome.distilled.length > 0) console.log(`${outcome.target}: ${outcome.distilled.length} inputs added to ${relative(dir)}`);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      target: { type: 'string' },
      seconds: { type: 'string' },
      seed: { type: 'string' },
      iterations: { type: 'string' },
      replay: { type: 'string' },
      distill: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help === true) {
    console.log(
      'npm run fuzz -- [--target NAME] [--seconds N] [--seed S] [--iterations N] [--distill N]\n' +
        'npm run fuzz -- --target NAME --replay FILE\n' +
        `targets: ${TARGET_NAMES.join(', ')}`,
    );
    return 0;
  }
  const number = (text: string | undefined, fallback: number, what: string): number => {
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`--${what} must be a non-negative integer, not ${text}`);
    return value;
  };
  const seed = number(values.seed, Date.now() % 1_000_000, 'seed');
  if (values.replay !== undefined) {
    if (values.target === undefined) throw new Error('--replay needs --target NAME');
    const target = await loadTarget(values.target);
    const input = fs.readFileSync(values.replay);
    console.log(`replaying ${values.replay} (${input.byteLength} bytes) through ${target.name}`);
    const outcome = await runWorker(target, { seed, seeds: [input], iterationsMax: 1, seconds: 0, distillEntriesMax: 0 });
    if (outcome.finding === null) console.log(`${target.name}: the input passes every oracle`);
    else console.log(`${target.name}: FINDING (${outcome.finding.kind}):\n${outcome.finding.message}`);
    return outcome.finding === null ? 0 : 1;
  }
  const targets = await Promise.all((values.target === undefined ? TARGET_NAMES : [values.target]).map(loadTarget));
  const seconds = number(values.seconds, DEFAULT_SECONDS, 'seconds');
  const iterationsMax = number(values.iterations, Number.MAX_SAFE_INTEGER, 'iterations');
  const distillEntriesMax = number(values.distill, 0, 'distill');
  console.log(`fuzzing ${targets.map((t) => t.name).join(', ')}: ${seconds} s each, seed ${seed}`);
  let clean = true;
  for (const target of targets) {
    const outcome = await runWorker(target, { seed, seeds: corpusOf(target.name), iterationsMax, seconds, distillEntriesMax });
    if (!report(outcome, seed)) clean = false;
    else keepDistilled(outcome);
  }
  if (!clean) console.log(`a finding; the whole run replays with --seed ${seed}`);
  return clean ? 0 : 1;
}

process.exitCode = await main().catch((error: unknown) => {
  // A usage mistake (an unknown target, a bad number) or a worker that died: not a finding.
  console.error(error instanceof Error ? error.message : String(error));
  return 2;
});
