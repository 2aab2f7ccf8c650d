// What test/fuzz/fuzzer.ts and its worker (fuzz-worker.ts) pass each other.
import type { FuzzResult } from './engine.js';

export interface FuzzWorkerData {
  readonly target: string;
  readonly seed: number;
  readonly seeds: readonly Uint8Array[];
  readonly iterationsMax: number;
  readonly seconds: number;
  /** Distill the inputs that added coverage into at most this many new corpus entries (0: none). */
  readonly distillEntriesMax: number;
  /** [inputs started, input length] as Int32, then the input's bytes. */
  readonly inFlight: SharedArrayBuffer;
}

export type FuzzWorkerReport =
  | { readonly kind: 'progress'; readonly iterations: number; readonly corpusEntries: number; readonly features: number }
  | { readonly kind: 'done'; readonly result: Omit<FuzzResult, 'added'>; readonly distilled: readonly Uint8Array[] };

export const IN_FLIGHT_HEADER_BYTES = 8;
