// The coverage-guided fuzzing loop, in this thread: a corpus of inputs, havoc mutations (bit flips, bytes set,
// inserted, deleted, duplicated, interesting integers, decimal lengths, dictionary tokens, splices of two
// inputs), V8 block coverage as feedback (coverage.ts), and a seeded PRNG: the same seed, corpus and target run
// the same inputs in the same order. An input that shows a feature never seen joins the corpus. The loop ends at
// the first finding, after `iterationsMax` inputs, or at the deadline.
import { getHeapStatistics } from 'node:v8';
import { SeededRandom } from '../../src/raft/random.js';
import { CoverageTracker } from './coverage.js';
import type { FuzzTarget } from './target.js';

/** Growth of the heap and array buffers one input may cause: far above any honest parse of a few KiB. */
export const INPUT_ALLOCATION_BYTES_MAX = 64 * 1024 * 1024;
/** The corpus in memory: the oldest mutated-in entries go first past it (seeds stay). */
export const CORPUS_ENTRIES_MAX = 4_096;
/** Inputs of a pure parser run per coverage take (see fuzz). */
const BATCH_INPUTS = 16;
/** How many of the newest corpus entries pickParent favours. */
const NEWEST_ENTRIES = 4;
/** How often a long run reports its progress. */
const PROGRESS_MS = 10_000;
/** Mutations stacked on one input. */
const MUTATIONS_PER_INPUT_MAX = 6;

export interface Finding {
  readonly input: Buffer;
  readonly kind: 'exception' | 'slow' | 'allocation' | 'hang';
  readonly message: string;
}

export interface FuzzOptions {
  readonly target: FuzzTarget;
  readonly seed: number;
  /** The starting corpus (the repo's seeds, in a stable order). */
  readonly seeds: readonly Buffer[];
  readonly iterationsMax: number;
  /** `performance.now()` past which no new input starts; Infinity: none. */
  readonly deadline: number;
  /** Coverage feedback on (the default); off, no input joins the corpus: blind mutation of the seeds (the self-test's control). */
  readonly feedback?: boolean;
  /** Called before each input runs (the watchdog's view of the input in flight). */
  readonly beforeInput?: (input: Buffer) => void;
  /** Called with each input that joined the corpus and its new features. */
  readonly onNewInput?: (input: Buffer, features: ReadonlySet<string>) => void;
  readonly onProgress?: (progress: FuzzProgress) => void;
}

export interface FuzzProgress {
  readonly iterations: number;
  readonly corpusEntries: number;
  readonly features: number;
}

export interface FuzzResult extends FuzzProgress {
  readonly finding: Finding | null;
  /** Inputs that added coverage during this run (not the seeds), in the order found. */
  readonly added: readonly Buffer[];
}

const INTERESTING_8 = [0, 1, 0x7f, 0x80, 0xff, 0x0a, 0x0d, 0x20, 0x2a, 0x24, 0x2d, 0x30, 0x39];
const INTERESTING_32 = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
const INTERESTING_DECIMALS = [
  '0',
  '1',
  '-1',
  '2',
  '12',
  '32',
  '255',
  '4096',
  '65536',
  '99999999',
  '2147483647',
  '4294967296',
  '-2147483648',
  '999999999999',
  '9999999999999999',
  '1e3',
  '0x10',
];

/** A mutator over one target's dictionary, driven by a seeded PRNG. */
export class Mutator {
  private readonly tokens: readonly Buffer[];

  constructor(
    private readonly random: SeededRandom,
    dictionary: readonly (string | Uint8Array)[],
    private readonly bytesMax: number,
  ) {
    this.tokens = dictionary.map((token) => (typeof token === 'string' ? Buffer.from(token, 'latin1') : Buffer.from(token)));
  }

  /** A new input from `parent` (never `parent` itself, which stays in the corpus unchanged). */
  mutate(parent: Buffer, other: Buffer | null): Buffer {
    let out: Buffer = Buffer.from(parent);
    const count = 1 + this.random.int(0, MUTATIONS_PER_INPUT_MAX);
    for (let i = 0; i < count; i++) out = this.once(out, other);
    return out.byteLength > this.bytesMax ? out.subarray(0, this.bytesMax) : out;
  }

  private once(input: Buffer, other: Buffer | null): Buffer {
    const r = this.random;
    const at = (extra = 0): number => r.int(0, input.byteLength + extra);
    switch (r.int(0, 13)) {
      case 0: // flip a bit
        if (input.byteLength === 0) return this.insert(input, 0, Buffer.of(r.int(0, 256)));
        return this.set(input, at(), null, 1 << r.int(0, 8));
      case 1: // a random byte
        if (input.byteLength === 0) return this.insert(input, 0, Buffer.of(r.int(0, 256)));
        return this.set(input, at(), r.int(0, 256), 0);
      case 2: // an interesting byte
        if (input.byteLength === 0) return this.insert(input, 0, Buffer.of(r.pick(INTERESTING_8)));
        return this.set(input, at(), r.pick(INTERESTING_8), 0);
      case 3: // a byte added to or taken from
        if (input.byteLength === 0) return input;
        return this.add(input, at(), r.int(1, 36) * (r.chance(0.5) ? 1 : -1));
      case 4: // random bytes inserted
        return this.insert(input, at(1), Buffer.from(Array.from({ length: r.int(1, 5) }, () => r.int(0, 256))));
      case 5: // a range deleted
        if (input.byteLength === 0) return input;
        return this.remove(input, at(), r.int(1, 9));
      case 6: // a range duplicated elsewhere
        if (input.byteLength === 0) return input;
        return this.duplicate(input);
      case 7: // an interesting 16- or 32-bit integer, either byte order
        return this.integer(input);
      case 8: // a dictionary token inserted
      case 9: // a dictionary token written over
        if (this.tokens.length === 0) return this.insert(input, at(1), Buffer.of(r.int(0, 256)));
        return this.token(input, r.chance(0.5));
      case 10: // a decimal number replaced (lengths and counts of the text formats)
        return this.decimal(input);
      case 11: // spliced with another input
        if (other === null || other.byteLength === 0) return this.duplicate(input);
        return Buffer.concat([input.subarray(0, at(1)), other.subarray(r.int(0, other.byteLength))]);
      default: // cut short
        return input.subarray(0, at(1));
    }
  }

  private set(input: Buffer, at: number, value: number | null, xor: number): Buffer {
    const out = Buffer.from(input);
    out[at] = value === null ? (out[at] as number) ^ xor : value;
    return out;
  }

  private add(input: Buffer, at: number, delta: number): Buffer {
    const out = Buffer.from(input);
    out[at] = ((out[at] as number) + delta) & 0xff;
    return out;
  }

  private insert(input: Buffer, at: number, bytes: Buffer): Buffer {
    return Buffer.concat([input.subarray(0, at), bytes, input.subarray(at)]);
  }

  private remove(input: Buffer, at: number, length: number): Buffer {
    return Buffer.concat([input.subarray(0, at), input.subarray(at + length)]);
  }

  private duplicate(input: Buffer): Buffer {
    const r = this.random;
    const from = r.int(0, input.byteLength);
    const length = r.int(1, Math.min(32, input.byteLength - from) + 1);
    return this.insert(input, r.int(0, input.byteLength + 1), input.subarray(from, from + length));
  }

  private integer(input: Buffer): Buffer {
    const r = this.random;
    const width = r.chance(0.5) ? 2 : 4;
    const value = r.pick(INTERESTING_32) & (width === 2 ? 0xffff : 0xffffffff);
    const bytes = Buffer.alloc(width);
    const little = r.chance(0.5);
    if (width === 2) {
      if (little) bytes.writeUInt16LE(value);
      else bytes.writeUInt16BE(value);
    } else if (little) bytes.writeUInt32LE(value >>> 0);
    else bytes.writeUInt32BE(value >>> 0);
    if (input.byteLength < width || r.chance(0.2)) return this.insert(input, r.int(0, input.byteLength + 1), bytes);
    const out = Buffer.from(input);
    bytes.copy(out, r.int(0, input.byteLength - width + 1));
    return out;
  }

  private token(input: Buffer, overwrite: boolean): Buffer {
    const r = this.random;
    const token = r.pick(this.tokens);
    const at = r.int(0, input.byteLength + 1);
    if (!overwrite) return this.insert(input, at, token);
    return Buffer.concat([input.subarray(0, at), token, input.subarray(at + token.byteLength)]);
  }

  private decimal(input: Buffer): Buffer {
    const r = this.random;
    const text = input.toString('latin1');
    const numbers = [...text.matchAll(/-?\d+/g)];
    const replacement = Buffer.from(r.pick(INTERESTING_DECIMALS), 'latin1');
    if (numbers.length === 0) return this.insert(input, r.int(0, input.byteLength + 1), replacement);
    const number = r.pick(numbers);
    return Buffer.concat([input.subarray(0, number.index), replacement, input.subarray(number.index + number[0].length)]);
  }
}

/**
 * The input to mutate: half the time one of the newest entries (each found something new, and what lies
 * behind it is likely near), otherwise any entry.
 */
function pickParent(random: SeededRandom, corpus: readonly Buffer[]): Buffer {
  if (random.chance(0.5)) return corpus[corpus.length - 1 - random.int(0, Math.min(NEWEST_ENTRIES, corpus.length))] as Buffer;
  return random.pick(corpus);
}

/** One input run through the target with its oracles (exceptions, time, allocation): null, or what it found. */
export async function runChecked(target: FuzzTarget, input: Buffer): Promise<Finding | null> {
  const before = allocatedBytes();
  const started = performance.now();
  try {
    const pending = target.run(input);
    if (pending !== undefined) await pending;
  } catch (error) {
    return { input, kind: 'exception', message: describe(error) };
  }
  const elapsedMs = performance.now() - started;
  const grownBytes = allocatedBytes() - before;
  if (elapsedMs > target.inputMsMax) {
    return { input, kind: 'slow', message: `the input took ${Math.round(elapsedMs)} ms; the bound is ${target.inputMsMax} ms` };
  }
  if (grownBytes > INPUT_ALLOCATION_BYTES_MAX) {
    return {
      input,
      kind: 'allocation',
      message: `the input grew memory by ${grownBytes} bytes; the bound is ${INPUT_ALLOCATION_BYTES_MAX}`,
    };
  }
  return null;
}

/** One input run with its oracles, and the features it showed. */
export async function execute(
  target: FuzzTarget,
  coverage: CoverageTracker,
  input: Buffer,
): Promise<{ features: Set<string>; finding: Finding | null }> {
  coverage.take(); // what ran between inputs (a server's background work) is no input's
  const finding = await runChecked(target, input);
  return { features: coverage.take(), finding };
}

/** The heap and the memory outside it that V8 knows of (array buffers): cheap to read, unlike process.memoryUsage(). */
function allocatedBytes(): number {
  const heap = getHeapStatistics();
  return heap.used_heap_size + heap.external_memory;
}

export function describe(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return `a non-Error was thrown: ${String(error)}`;
}

/** Runs the fuzzing loop (see the file's head): the seeds first, then mutations of the corpus. */
export async function fuzz(options: FuzzOptions): Promise<FuzzResult> {
  const { target } = options;
  const random = new SeededRandom(options.seed);
  const mutator = new Mutator(random, target.dictionary, target.inputBytesMax);
  const coverage = new CoverageTracker(target.coverage);
  coverage.start();
  const corpus: Buffer[] = [];
  const added: Buffer[] = [];
  let iterations = 0;
  const progress = (): FuzzProgress => ({ iterations, corpusEntries: corpus.length, features: coverage.featureCount });
  const done = (finding: Finding | null): FuzzResult => ({ ...progress(), finding, added });
  for (const seed of options.seeds.length === 0 ? [Buffer.alloc(0)] : options.seeds) {
    const input = seed.subarray(0, target.inputBytesMax);
    options.beforeInput?.(input);
    const { features, finding } = await execute(target, coverage, input);
    iterations++;
    if (finding !== null) return done(finding);
    coverage.merge(features);
    corpus.push(input);
  }
  const seedCount = corpus.length;
  const keep = (input: Buffer, features: Set<string>): void => {
    coverage.merge(features);
    if (corpus.length >= CORPUS_ENTRIES_MAX) corpus.splice(seedCount, 1);
    corpus.push(input);
    added.push(input);
    options.onNewInput?.(input, features);
  };
  // A pure parser runs a batch of inputs per coverage take (a take costs far more than a parse); only a batch
  // that shows something new is run again input by input, to find which inputs to keep. A target with a
  // server (open) runs one input per take: its background work must not be taken for an input's.
  const batchInputs = target.open === undefined ? BATCH_INPUTS : 1;
  let reported = performance.now();
  while (iterations < options.iterationsMax && performance.now() < options.deadline) {
    if (options.onProgress !== undefined && performance.now() - reported > PROGRESS_MS) {
      reported = performance.now();
      options.onProgress(progress());
    }
    const batch: Buffer[] = [];
    if (options.feedback !== false) coverage.take();
    while (batch.length < batchInputs && iterations < options.iterationsMax) {
      const parent = pickParent(random, corpus);
      const other = corpus.length > 1 ? random.pick(corpus) : null;
      const input = mutator.mutate(parent, other);
      options.beforeInput?.(input);
      const finding = await runChecked(target, input);
      iterations++;
      if (finding !== null) return done(finding);
      batch.push(input);
    }
    if (options.feedback === false) continue;
    const union = coverage.take();
    if (!coverage.hasNew(union)) continue;
    if (batch.length === 1) {
      keep(batch[0] as Buffer, union);
      continue;
    }
    for (const input of batch) {
      options.beforeInput?.(input);
      const { features, finding } = await execute(target, coverage, input);
      if (finding !== null) return done(finding);
      if (coverage.hasNew(features)) keep(input, features);
    }
  }
  return done(null);
}

/** Deletions tried per input when minimizing one. */
const MINIMIZE_STEPS_MAX = 256;

/**
 * A small corpus with the coverage of `seeds` plus `added`: the inputs of `added` (shortest first) that still
 * show a feature the seeds and the inputs kept before them do not, each cut down (ranges deleted while it
 * keeps its new features), at most `entriesMax` of them.
 */
export async function distill(
  target: FuzzTarget,
  seeds: readonly Buffer[],
  added: readonly Buffer[],
  entriesMax: number,
  beforeInput: (input: Buffer) => void = () => {},
): Promise<Buffer[]> {
  const coverage = new CoverageTracker(target.coverage);
  coverage.start();
  const run = (input: Buffer): ReturnType<typeof execute> => {
    beforeInput(input);
    return execute(target, coverage, input);
  };
  for (const seed of seeds) coverage.merge((await run(seed)).features);
  const kept: Buffer[] = [];
  for (const input of [...added].sort((a, b) => a.byteLength - b.byteLength || a.compare(b))) {
    if (kept.length >= entriesMax) break;
    const { features, finding } = await run(input);
    if (finding !== null) continue;
    const fresh = coverage.unseen(features);
    if (fresh.length === 0) continue;
    const small = await minimize(run, input, fresh);
    coverage.merge((await run(small)).features);
    kept.push(small);
  }
  return kept;
}

/** The input with ranges deleted, halving the range size down to one byte, as long as it keeps every feature in `keep`. */
async function minimize(run: (input: Buffer) => ReturnType<typeof execute>, input: Buffer, keep: readonly string[]): Promise<Buffer> {
  let best = input;
  let steps = 0;
  for (let size = Math.max(1, best.byteLength >> 1); size >= 1 && steps < MINIMIZE_STEPS_MAX; size >>= 1) {
    for (let at = 0; at + size <= best.byteLength && steps < MINIMIZE_STEPS_MAX; steps++) {
      const candidate = Buffer.concat([best.subarray(0, at), best.subarray(at + size)]);
      const { features, finding } = await run(candidate);
      if (finding === null && keep.every((feature) => features.has(feature))) best = candidate;
      else at += size;
    }
  }
  return best;
}
