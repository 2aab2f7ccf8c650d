// Block coverage of this thread's JavaScript through V8's precise coverage (node:inspector), the feedback of the
// coverage-guided fuzzer. Binary mode (callCount: false, detailed: true): each take reports, for every function
// run since the last take, the blocks of it that did not run (count 0), and resets.
//
// V8 reports a nested block only where its count differs from its parent's, so a block that ran is not listed.
// The tracker therefore learns each function's blocks from the takes where they did not run; a known block of
// a function that ran, outside every block reported as not run, ran. A feature is a function that ran, or a
// known block that ran; an input is interesting when it shows a feature never seen before.
import { Session } from 'node:inspector';

interface Range {
  readonly startOffset: number;
  readonly endOffset: number;
  readonly count: number;
}
interface FunctionCoverage {
  readonly ranges: readonly Range[];
}
interface ScriptCoverage {
  readonly url: string;
  readonly functions: readonly FunctionCoverage[];
}

/** The blocks of one function that the tracker has seen: start and end offsets, as `start:end`. */
type KnownBlocks = Set<string>;

/**
 * One inspector session per thread, started once and never stopped: V8 compiles functions run while precise
 * coverage was off without their block counters, so stopping and starting again would lose them.
 */
let session: Session | null = null;

function post(method: string, params?: object): unknown {
  if (session === null) {
    session = new Session();
    session.connect();
    post('Profiler.enable');
    post('Profiler.startPreciseCoverage', { callCount: false, detailed: true });
  }
  let answer: unknown;
  let failure: Error | null = null;
  // The in-thread session answers synchronously: the callback has run when post returns.
  session.post(method, params, (error, result) => {
    failure = error;
    answer = result;
  });
  if (failure !== null) throw failure;
  return answer;
}

export class CoverageTracker {
  /** Per function (`url@start`): its blocks learned so far. */
  private readonly blocks = new Map<string, KnownBlocks>();
  /** Every feature seen so far. */
  private readonly seen = new Set<string>();

  /** `sources`: fragments of script URLs (paths) whose coverage counts, e.g. `src/router/resp-parser`. */
  constructor(private readonly sources: readonly string[]) {}

  /** Starts the thread's coverage if it is not yet on; what ran before (module loading) is no input's. */
  start(): void {
    post('Profiler.takePreciseCoverage');
  }

  /** Features seen in all inputs so far. */
  get featureCount(): number {
    return this.seen.size;
  }

  /** The features of what ran since the last call. */
  take(): Set<string> {
    const features = new Set<string>();
    const { result } = post('Profiler.takePreciseCoverage') as { result: readonly ScriptCoverage[] };
    for (const script of result) {
      if (!this.sources.some((source) => script.url.includes(source))) continue;
      for (const fn of script.functions) this.functionFeatures(script.url, fn, features);
    }
    return features;
  }

  /** Records the features as seen; returns how many were new. */
  merge(features: ReadonlySet<string>): number {
    let added = 0;
    for (const feature of features) {
      if (this.seen.has(feature)) continue;
      this.seen.add(feature);
      added++;
    }
    return added;
  }

  /** Whether any of the features was never seen (without recording them). */
  hasNew(features: ReadonlySet<string>): boolean {
    for (const feature of features) if (!this.seen.has(feature)) return true;
    return false;
  }

  /** The features never seen. */
  unseen(features: ReadonlySet<string>): string[] {
    return [...features].filter((feature) => !this.seen.has(feature));
  }

  private functionFeatures(url: string, fn: FunctionCoverage, features: Set<string>): void {
    const [whole, ...nested] = fn.ranges;
    if (whole === undefined || whole.count === 0) return;
    const key = `${url}@${whole.startOffset}`;
    features.add(key);
    let known = this.blocks.get(key);
    if (known === undefined) {
      known = new Set();
      this.blocks.set(key, known);
    }
    const notRun = nested.filter((range) => range.count === 0);
    for (const range of notRun) known.add(`${range.startOffset}:${range.endOffset}`);
    for (const block of known) {
      const [start, end] = block.split(':').map(Number) as [number, number];
      const inside = notRun.some((range) => range.startOffset <= start && end <= range.endOffset);
      if (!inside) features.add(`${key}:${block}`);
    }
  }
}
