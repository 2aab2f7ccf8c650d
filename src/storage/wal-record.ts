import { checksum, storagePackr, entryToTuple, hardStateToTuple, tupleToEntry, tupleToHardState } from './codec.js';
import type { Entry, HardState } from '../raft/types.js';

/**
 * A WAL record: a 12-byte header, then the payload.
 *   u32 payload length | u32 CRC-32 of (length, type, payload) | u8 type | 3 zero bytes
 * An all-zero header marks the end of the written part of a (preallocated) segment.
 */
export const RECORD_HEADER_BYTES = 12;
export const RECORD_TYPE_BATCH = 1;
/** Larger records are refused: a length field beyond it is taken for corruption. */
export const RECORD_PAYLOAD_BYTES_MAX = 256 * 1024 * 1024;

/** What one Ready persists, as one atomic record. */
export interface WalBatch {
  readonly hardState: HardState | null;
  /** The log restarts after this snapshot position: every entry before (and the old suffix) is obsolete. */
  readonly reset: { readonly index: number; readonly term: number } | null;
  readonly entries: readonly Entry[];
}

export function encodeRecord(batch: WalBatch): Uint8Array {
  const payload = storagePackr.pack([
    batch.hardState === null ? null : hardStateToTuple(batch.hardState),
    batch.reset === null ? null : [batch.reset.index, batch.reset.term],
    batch.entries.map(entryToTuple),
  ]);
  const record = new Uint8Array(RECORD_HEADER_BYTES + payload.byteLength);
  const view = new DataView(record.buffer);
  view.setUint32(0, payload.byteLength, true);
  record[8] = RECORD_TYPE_BATCH;
  record.set(payload, RECORD_HEADER_BYTES);
  view.setUint32(4, recordChecksum(record, payload.byteLength), true);
  return record;
}

function recordChecksum(record: Uint8Array, payloadBytes: number): number {
  const lengthAndType = checksum(record.subarray(8, 12), checksum(record.subarray(0, 4)));
  return checksum(record.subarray(RECORD_HEADER_BYTES, RECORD_HEADER_BYTES + payloadBytes), lengthAndType);
}

export type ParseResult =
  | { readonly kind: 'record'; readonly batch: WalBatch; readonly bytes: number }
  | { readonly kind: 'end' }
  | { readonly kind: 'bad'; readonly reason: string };

/** Reads the record at `offset` of a segment's bytes. */
export function parseRecord(data: Uint8Array, offset: number): ParseResult {
  if (offset + RECORD_HEADER_BYTES > data.byteLength) {
    return data.subarray(offset).every((b) => b === 0) ? { kind: 'end' } : { kind: 'bad', reason: 'truncated header' };
  }
  const view = new DataView(data.buffer, data.byteOffset + offset, RECORD_HEADER_BYTES);
  const length = view.getUint32(0, true);
  const crc = view.getUint32(4, true);
  const type = view.getUint8(8);
  if (length === 0 && crc === 0 && type === 0) return { kind: 'end' };
  if (type !== RECORD_TYPE_BATCH || view.getUint8(9) !== 0 || view.getUint8(10) !== 0 || view.getUint8(11) !== 0) {
    return { kind: 'bad', reason: 'bad record type' };
  }
  if (length > RECORD_PAYLOAD_BYTES_MAX || offset + RECORD_HEADER_BYTES + length > data.byteLength) {
    return { kind: 'bad', reason: 'record runs past the end of the segment' };
  }
  const record = data.subarray(offset, offset + RECORD_HEADER_BYTES + length);
  if (recordChecksum(record, length) !== crc) return { kind: 'bad', reason: 'checksum mismatch' };
  try {
    return { kind: 'record', batch: decodePayload(record.subarray(RECORD_HEADER_BYTES)), bytes: record.byteLength };
  } catch (error) {
    return { kind: 'bad', reason: `undecodable payload: ${(error as Error).message}` };
  }
}

function decodePayload(payload: Uint8Array): WalBatch {
  const decoded: unknown = storagePackr.unpack(payload);
  if (!Array.isArray(decoded) || decoded.length !== 3) throw new TypeError('batch is not a 3-tuple');
  const [hardState, reset, entries] = decoded as [unknown, unknown, unknown];
  if (!Array.isArray(entries)) throw new TypeError('entries is not an array');
  let resetPosition: WalBatch['reset'] = null;
  if (reset !== null) {
    if (!Array.isArray(reset) || typeof reset[0] !== 'number' || typeof reset[1] !== 'number') throw new TypeError('bad reset');
    resetPosition = { index: reset[0], term: reset[1] };
  }
  return {
    hardState: hardState === null ? null : tupleToHardState(hardState),
    reset: resetPosition,
    entries: entries.map(tupleToEntry),
  };
}

/** Whether any valid record starts after `offset`: tells a torn tail (none) from corruption in the middle. */
export function validRecordAfter(data: Uint8Array, offset: number): number | null {
  for (let p = offset + 1; p + RECORD_HEADER_BYTES <= data.byteLength; p++) {
    if (data[p + 8] !== RECORD_TYPE_BATCH) continue;
    if (parseRecord(data, p).kind === 'record') return p;
  }
  return null;
}
