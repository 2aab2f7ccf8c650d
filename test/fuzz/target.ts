// What a fuzz target is: one input surface of raftkv fed arbitrary bytes. `run` throws only on a real defect
// (an exception that is not a refusal with a registered code, an allocation past a bound, an answer that breaks
// the surface's contract); a refusal with a registered code is a normal outcome and returns.

export interface FuzzTarget {
  readonly name: string;
  /** One line: what the target feeds its bytes to. */
  readonly description: string;
  /** Fragments of the source paths whose block coverage guides the fuzzer (e.g. `src/router/resp-parser`). */
  readonly coverage: readonly string[];
  /** Tokens the mutator inserts and overwrites with (keywords, magic bytes, framing). */
  readonly dictionary: readonly (string | Uint8Array)[];
  /** Longer inputs are cut: the work per input stays bounded. */
  readonly inputBytesMax: number;
  /** An input that takes longer than this is a finding (a hang, or work out of proportion to the input). */
  readonly inputMsMax: number;
  /** Set-up before the first input (a server, a cluster); none for the pure parsers. */
  open?(): Promise<void>;
  /** Feeds one input; throws a FuzzDefect (or any unexpected exception) on a defect. */
  run(data: Buffer): void | Promise<void>;
  close?(): Promise<void>;
}

/** A defect found by a target's oracle (as opposed to an exception the parser itself threw). */
export class FuzzDefect extends Error {
  override readonly name = 'FuzzDefect';
}

/** Fails the input with a FuzzDefect unless `condition` holds. */
export function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new FuzzDefect(what);
}
