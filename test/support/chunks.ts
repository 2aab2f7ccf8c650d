/**
 * `bytes` cut at the given points (each taken modulo its length, duplicates dropped): how a property test feeds
 * a stream to an incremental parser in arbitrary chunks, as a socket might deliver it. Empty input is one chunk.
 */
export function splitAt<T extends Uint8Array>(bytes: T, cuts: readonly number[]): T[] {
  if (bytes.byteLength === 0) return [bytes];
  const points = [...new Set(cuts.map((c) => c % bytes.byteLength))].sort((a, b) => a - b);
  const chunks: T[] = [];
  let from = 0;
  for (const p of points) {
    chunks.push(bytes.subarray(from, p) as T);
    from = p;
  }
  chunks.push(bytes.subarray(from) as T);
  return chunks;
}
