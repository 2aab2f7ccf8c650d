// The checks the fuzz targets share, the same as the hostile-input tests' (test/unit/hostile-*.test.ts) but
// without vitest: a refusal is an instance of the surface's own error class under a registered code (and the
// code the surface documents); anything else thrown is rethrown, and the fuzzer reports it.
import { isErrorCode } from '../../src/protocol/errors.js';
import { check } from './target.js';

/** An error class whose instances carry a `code`. */
export type CodedErrorClass = abstract new (...args: never[]) => Error & { readonly code: string };

/**
 * Passes a refusal of the expected class whose code is registered and among `codes`; rethrows anything else,
 * so an unexpected exception surfaces with its own stack.
 */
export function expectRefusal(error: unknown, kind: CodedErrorClass, codes: readonly string[]): void {
  if (!(error instanceof kind)) throw error;
  check(isErrorCode(error.code), `${kind.name} with an unregistered code ${error.code}: ${error.message}`);
  check(codes.includes(error.code), `${kind.name} with code ${error.code}, expected one of ${codes.join(', ')}: ${error.message}`);
}

/** Bytes cut into pieces of `size` (the last shorter): a stream as a socket might deliver it. */
export function chunksOf(bytes: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.byteLength; at += size) chunks.push(bytes.subarray(at, at + size));
  return chunks.length === 0 ? [bytes] : chunks;
}
