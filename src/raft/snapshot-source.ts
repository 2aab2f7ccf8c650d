import type { Snapshot, SnapshotSource } from './types.js';

/** A snapshot held in memory, read in chunks without copying. */
export function memorySnapshotSource(snapshot: Snapshot): SnapshotSource {
  const data = snapshot.data;
  return {
    meta: snapshot.meta,
    sizeBytes: data.byteLength,
    readChunk(offsetBytes: number, maxBytes: number): Uint8Array {
      return data.subarray(offsetBytes, Math.min(data.byteLength, offsetBytes + maxBytes));
    },
  };
}
