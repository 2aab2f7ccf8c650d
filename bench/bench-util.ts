import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import type { Supervisor } from '../src/actor/supervisor.js';
import type { NodeId } from '../src/raft/types.js';

/** A rate as a whole number with thousands separators; "-" when there is none. */
export function formatRate(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '-';
}

/** A ratio with two decimals, or two significant digits below 0.1. */
export function formatRatio(value: number): string {
  if (!Number.isFinite(value)) return '-';
  return value >= 0.1 ? value.toFixed(2) : value.toPrecision(2);
}

/** Milliseconds with the precision their size deserves. */
export function formatMillis(value: number): string {
  if (!Number.isFinite(value)) return '-';
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

/** A figure of any kind: large ones as rates, small ones with two decimals. */
export function formatFigure(value: number): string {
  if (!Number.isFinite(value)) return '-';
  return Math.abs(value) >= 100 ? formatRate(value) : value.toFixed(2);
}

/** A table of aligned columns under its title: the first column to the left, the others (figures) to the right. */
export function printTable(title: string, header: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => (column === 0 ? cell.padEnd(widths[column] as number) : cell.padStart(widths[column] as number)))
      .join('  ');
  console.log(`\n${title}`);
  console.log(line(header));
  console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const row of rows) console.log(line(row));
}

/** The current leader, waiting for one (on the supervisor's leader events) up to `timeoutMs`. */
export async function waitForLeader(supervisor: Supervisor, timeoutMs: number): Promise<NodeId> {
  const leader = await supervisor.waitForLeader(timeoutMs);
  if (leader === null) throw new Error(`no leader within ${timeoutMs} ms`);
  return leader;
}

/** The next message a worker posts to its parent; its crash or early exit rejects. */
export function nextMessage<T>(worker: Worker, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (report: T): void => {
      cleanup();
      resolve(report);
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const onExit = (code: number): void => {
      cleanup();
      reject(new Error(`${what} exited with code ${code}`));
    };
    const cleanup = (): void => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}

// ---------------------------------------------------------------------------
// The machine, options and results of a benchmark run.

/** Node.js, the CPUs and their model: the first line of every benchmark's output. */
export function describeMachine(): string {
  return `node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'})`;
}

/** The 1, 5 and 15 minute load averages: other work on the machine slows every figure. */
export function formatLoadAverage(): string {
  return loadavg()
    .map((load) => load.toFixed(2))
    .join(' ');
}

/** What every results file says of the machine and the moment. */
export function machineFields(): { date: string; node: string; cpus: number; cpuModel: string | null } {
  return { date: new Date().toISOString(), node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? null };
}

/** Writes a benchmark's results as JSON (making its folder) and says where. */
export function writeResults(file: string, results: object): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`wrote ${file}`);
}

/** A number above zero from the command line, or a RangeError naming the option. */
export function positiveNumber(name: string, text: string | undefined): number {
  const value = Number(text);
  if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`--${name} must be a positive number, got ${text}`);
  return value;
}

export function positiveInteger(name: string, text: string | undefined): number {
  const value = Number(text);
  if (!(Number.isInteger(value) && value > 0)) throw new RangeError(`--${name} must be a positive integer, got ${text}`);
  return value;
}

/** A comma-separated list of positive integers, e.g. `--batch 1,16,64`. */
export function positiveIntegers(name: string, text: string | undefined): number[] {
  return (text ?? '').split(',').map((part) => positiveInteger(name, part.trim()));
}

/** Whether the module of `moduleUrl` is the script node was started with (a suite run on its own). */
export function isMainModule(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(moduleUrl);
}
