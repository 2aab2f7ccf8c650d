// Benchmark of the linearizability checker on Porcupine's six KV histories (test/fixtures/porcupine-kv/).
//
//   npx tsx bench/checker.bench.ts [--runs 3] [--time-limit-ms 10000] [--shrink-time-limit-ms 2000] [--threads 2]
//                                  [--json out.json]
//
// Each history is checked partitioned by key and unpartitioned, in-process (checkHistorySync) and in a piscina
// pool (checkHistory with a pool), with the checker's defaults otherwise (stop at the first illegal partition,
// then shrink it). A case runs `--runs` times and the median is reported; a case that hit its time limit runs
// once. The pool is started and warmed up before timing: its start-up (tsx in each worker) is reported apart.
import { readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { checkHistory, checkHistorySync, createCheckerPool, kvModel, parseJepsenHistory, type CheckResult, type CheckerPool } from '../src/chaos/checker/index.js';

const DATA_DIR = new URL('../test/fixtures/porcupine-kv/', import.meta.url);
const HISTORY_NAMES = ['c01-ok', 'c01-bad', 'c10-ok', 'c10-bad', 'c50-ok', 'c50-bad'] as const;
/** Bounds the options a user may pass. */
const RUNS_MAX = 100;

interface BenchOptions {
  readonly runs: number;
  readonly timeLimitMs: number;
  readonly shrinkTimeLimitMs: number;
  readonly threads: number;
  readonly jsonPath: string | null;
}

interface Row {
  readonly history: string;
  readonly operations: number;
  readonly partitioned: boolean;
  readonly where: 'in-process' | 'pool';
  readonly verdict: string;
  readonly runs: number;
  readonly medianMs: number;
  readonly minMs: number;
  /** Of the median run, the time spent shrinking the failure (the verdict was known before). */
  readonly shrinkMs: number;
  readonly iterations: number;
  readonly cacheEntries: number;
  /** Operations in the printed failing piece. */
  readonly piece: number | null;
}

function readOptions(): BenchOptions {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '3' },
      'time-limit-ms': { type: 'string', default: '10000' },
      'shrink-time-limit-ms': { type: 'string', default: '2000' },
      threads: { type: 'string', default: '2' },
      json: { type: 'string' },
    },
  });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > RUNS_MAX) throw new RangeError(`--runs must be 1..${RUNS_MAX}`);
  return {
    runs,
    timeLimitMs: Number(values['time-limit-ms']),
    shrinkTimeLimitMs: Number(values['shrink-time-limit-ms']),
    threads: Number(values.threads),
    jsonPath: values.json ?? null,
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function timeCase(run: () => Promise<CheckResult>, runs: number): Promise<{ result: CheckResult; timesMs: number[]; shrinkMs: number[] }> {
  const timesMs: number[] = [];
  const shrinkMs: number[] = [];
  let result: CheckResult | null = null;
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    result = await run();
    timesMs.push(performance.now() - started);
    shrinkMs.push(result.shrinkMs);
    // A search that gave up takes its whole time limit every time: once is enough.
    if (result.verdict === 'unknown') break;
  }
  if (result === null) throw new Error('no run');
  return { result, timesMs, shrinkMs };
}

async function main(): Promise<void> {
  const options = readOptions();
  const histories = HISTORY_NAMES.map((name) => {
    const started = performance.now();
    const parsed = parseJepsenHistory(readFileSync(new URL(`${name}.txt`, DATA_DIR), 'utf8'));
    return { name, parsed, parseMs: performance.now() - started };
  });

  const poolStarted = performance.now();
  const pool: CheckerPool = createCheckerPool({ threads: options.threads });
  const rows: Row[] = [];
  let poolStartMs = 0;
  try {
    // Warm-up: the first tasks wait for the workers to load tsx and the checker.
    const first = histories[0];
    if (first === undefined) throw new Error('no history');
    await Promise.all(
      Array.from({ length: options.threads }, () => checkHistory(first.parsed.operations, kvModel, { partitioned: false, timeLimitMs: 10_000, pool })),
    );
    poolStartMs = performance.now() - poolStarted;

    for (const { name, parsed } of histories) {
      for (const partitioned of [true, false]) {
        const checkOptions = {
          partitioned,
          timeLimitMs: options.timeLimitMs,
          shrinkTimeLimitMs: options.shrinkTimeLimitMs,
          timeUnit: parsed.timeUnit,
        };
        const cases = [
          { where: 'in-process' as const, run: () => Promise.resolve(checkHistorySync(parsed.operations, kvModel, checkOptions)) },
          { where: 'pool' as const, run: () => checkHistory(parsed.operations, kvModel, { ...checkOptions, pool }) },
        ];
        for (const { where, run } of cases) {
          const { result, timesMs, shrinkMs } = await timeCase(run, options.runs);
          const row: Row = {
            history: name,
            operations: result.operations,
            partitioned,
            where,
            verdict: result.verdict,
            runs: timesMs.length,
            medianMs: median(timesMs),
            minMs: Math.min(...timesMs),
            shrinkMs: median(shrinkMs),
            iterations: result.partitions.reduce((sum, p) => sum + p.stats.iterations, 0),
            cacheEntries: result.partitions.reduce((sum, p) => sum + p.stats.cacheEntries, 0),
            piece: result.failure?.operations.length ?? null,
          };
          rows.push(row);
          process.stdout.write(`${formatRow(row)}\n`);
        }
      }
    }
  } finally {
    await pool.destroy();
  }

  process.stdout.write(`\nparse: ${histories.map((h) => `${h.name} ${h.parseMs.toFixed(1)} ms`).join(', ')}\n`);
  process.stdout.write(`pool start-up and warm-up (${options.threads} threads): ${poolStartMs.toFixed(0)} ms\n\n`);
  process.stdout.write(`${formatTable(rows)}\n`);
  if (options.jsonPath !== null) {
    writeFileSync(options.jsonPath, `${JSON.stringify({ options, poolStartMs, rows }, null, 2)}\n`);
  }
}

function formatRow(row: Row): string {
  return `${row.history} ${row.partitioned ? 'partitioned' : 'whole'} ${row.where}: ${row.verdict} in ${row.medianMs.toFixed(1)} ms (shrink ${row.shrinkMs.toFixed(1)} ms)`;
}

function formatTable(rows: readonly Row[]): string {
  const header = ['history', 'ops', 'partitioned', 'where', 'verdict', 'median ms', 'min ms', 'of which shrink ms', 'runs', 'iterations', 'cache entries', 'piece'];
  const body = rows.map((r) => [
    r.history, String(r.operations), r.partitioned ? 'yes' : 'no', r.where, r.verdict, r.medianMs.toFixed(1), r.minMs.toFixed(1), r.shrinkMs.toFixed(1), String(r.runs),
    String(r.iterations), String(r.cacheEntries), r.piece === null ? '' : String(r.piece),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => (cells[i] ?? '').length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

await main();
