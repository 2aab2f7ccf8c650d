import { decodeEntries, layoutEntries, writeEntries } from '../codec/entry-block.js';
import type { Entry, HardState } from '../raft/types.js';
import { checksum, hardStateToTuple, storagePackr, tupleToEntry, tupleToHardState } from './codec.js';

/**
 * A WAL record: a 12-byte header, then the payload.
 *   u32 payload length | u32 CRC-32 of (length, type, payload) | u8 type | 3 zero bytes
 * An all-zero header marks the end of the written part of a (preallocated) segment.
 *
 * Payload of type 1 (written by earlier versions, still read): msgpack [hardState, reset, [entry tuples]].
 * Payload of type 2 (written now):
 *   u32 head length h | head: msgpack [hardState, reset] | the entries as one block (src/codec/entry-block.ts)
 */
export const RECORD_HEADER_BYTES = 12;
/** A batch as one msgpack payload: read for data written by earlier versions, no longer written. */
export const RECORD_TYPE_BATCH = 1;
/** A batch as a small msgpack head and its entries as one binary block: what encodeRecord writes. */
export const RECORD_TYPE_BATCH_V2 = 2;
const HEAD_LENGTH_BYTES = 4;
/** Larger records are refused: a length field beyond it is taken for corruption. */
export const RECORD_PAYLOAD_BYTES_MAX = 256 * 1024 * 1024;

/** What one Ready persists, as one atomic record. */
export interface WalBatch {
  readonly hardState: HardState | null;
  /** The log restarts after this snapshot position: every entry before (and the old suffix) is obsolete. */
  readonly reset: { readonly index: number; readonly term: number } | null;
  readonly entries: readonly Entry[];
}

/** A batch whose record would exceed RECORD_PAYLOAD_BYTES_MAX: refused before its buffer is allocated. */
export class RecordTooLargeError extends RangeError {
  constructor(readonly payloadBytes: number) {
    super(`a batch of ${payloadBytes} bytes exceeds the record limit of ${RECORD_PAYLOAD_BYTES_MAX} bytes`);
  }
}

export function encodeRecord(batch: WalBatch): Uint8Array {
  const layout = layoutEntries(batch.entries);
  // msgpackr's result views its shared buffer: it is copied into the record before anything else packs.
  const head = storagePackr.pack([
    batch.hardState === null ? null : hardStateToTuple(batch.hardState),
    batch.reset === null ? null : [batch.reset.index, batch.reset.term],
  ]);
  const payloadBytes = HEAD_LENGTH_BYTES + head.byteLength + layout.bytes;
  // Recovery reads a longer length field as a torn or corrupt record, so such a record must never be written.
  if (payloadBytes > RECORD_PAYLOAD_BYTES_MAX) throw new RecordTooLargeError(payloadBytes);
  const record = new Uint8Array(RECORD_HEADER_BYTES + payloadBytes);
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
  view.setUint32(0, payloadBytes, true);
  record[8] = RECORD_TYPE_BATCH_V2;
  view.setUint32(RECORD_HEADER_BYTES, head.byteLength, true);
  record.set(head, RECORD_HEADER_BYTES + HEAD_LENGTH_BYTES);
  writeEntries(batch.entries, layout, record, RECORD_HEADER_BYTES + HEAD_LENGTH_BYTES + head.byteLength);
  view.setUint32(4, recordChecksum(record, payloadBytes), true);
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
  if (
    (type !== RECORD_TYPE_BATCH && type !== RECORD_TYPE_BATCH_V2) ||
    view.getUint8(9) !== 0 ||
    view.getUint8(10) !== 0 ||
    view.getUint8(11) !== 0
  ) {
    return { kind: 'bad', reason: 'bad record type' };
  }
  if (length > RECORD_PAYLOAD_BYTES_MAX || offset + RECORD_HEADER_BYTES + length > data.byteLength) {
    return { kind: 'bad', reason: 'record runs past the end of the segment' };
  }
  const record = data.subarray(offset, offset + RECORD_HEADER_BYTES + length);
  if (recordChecksum(record, length) !== crc) return { kind: 'bad', reason: 'checksum mismatch' };
  try {
    const payload = record.subarray(RECORD_HEADER_BYTES);
    const batch = type === RECORD_TYPE_BATCH ? decodePayloadV1(payload) : decodePayloadV2(payload);
    return { kind: 'record', batch, bytes: record.byteLength };
  } catch (error) {
    return { kind: 'bad', reason: `undecodable payload: ${(error as Error).message}` };
  }
}

function decodePayloadV1(payload: Uint8Array): WalBatch {
  const decoded: unknown = storagePackr.unpack(payload);
  if (!Array.isArray(decoded) || decoded.length !== 3) throw new TypeError('batch is not a 3-tuple');
  const [hardState, reset, entries] = decoded as [unknown, unknown, unknown];
  if (!Array.isArray(entries)) throw new TypeError('entries is not an array');
  return { ...decodeHead(hardState, reset), entries: entries.map(tupleToEntry) };
}

function decodePayloadV2(payload: Uint8Array): WalBatch {
  if (payload.byteLength < HEAD_LENGTH_BYTES) throw new TypeError('payload shorter than its head length');
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const headEnd = HEAD_LENGTH_BYTES + view.getUint32(0, true);
  if (headEnd > payload.byteLength) throw new TypeError('head runs past the payload');
  const head: unknown = storagePackr.unpack(payload.subarray(HEAD_LENGTH_BYTES, headEnd));
  if (!Array.isArray(head) || head.length !== 2) throw new TypeError('head is not a 2-tuple');
  const [hardState, reset] = head as [unknown, unknown];
  // A command's data stays a view into the segment's bytes, as msgpack's binary values did.
  return { ...decodeHead(hardState, reset), entries: decodeEntries(payload.subarray(headEnd)) };
}

/** The hard state and reset of a batch, as both record types hold them. */
function decodeHead(hardState: unknown, reset: unknown): Pick<WalBatch, 'hardState' | 'reset'> {
  let resetPosition: WalBatch['reset'] = null;
  if (reset !== null) {
    if (!Array.isArray(reset) || typeof reset[0] !== 'number' || typeof reset[1] !== 'number') throw new TypeError('bad reset');
    resetPosition = { index: reset[0], term: reset[1] };
  }
  return { hardState: hardState === null ? null : tupleToHardState(hardState), reset: resetPosition };
}

/** Whether any valid record starts after `offset`: tells a torn tail (none) from corruption in the middle. */
export function validRecordAfter(data: Uint8Array, offset: number): number | null {
  for (let p = offset + 1; p + RECORD_HEADER_BYTES <= data.byteLength; p++) {
    const type = data[p + 8];
    if (type !== RECORD_TYPE_BATCH && type !== RECORD_TYPE_BATCH_V2) continue;
    if (parseRecord(data, p).kind === 'record') return p;
  }
  return null;
}
