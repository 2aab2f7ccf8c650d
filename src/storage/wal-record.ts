import { decodeEntries, layoutEntries, writeEntries } from '../codec/entry-block.js';
import { msgpackLengthsFit } from '../codec/msgpack-lengths.js';
import type { Entry, HardState } from '../raft/types.js';
import { checksum, hardStateToTuple, isCount, storagePackr, tupleToEntry, tupleToHardState } from './codec.js';

/**
 * A WAL record: a 12-byte header, the payload, and (type 3) a 12-byte trailer.
 *   header:  u32 payload length | u32 CRC-32 of (length, type, payload) | u8 type | 3 zero bytes
 *   trailer: u32 payload length | u32 the same CRC | u32 TRAILER_MAGIC
 * An all-zero header marks the end of the written part of a (preallocated) segment.
 *
 * Payload of type 1 (written by earlier versions, still read): msgpack [hardState, reset, [entry tuples]].
 * Payload of types 2 (earlier versions, still read) and 3 (written now):
 *   u32 head length h | head: msgpack [hardState, reset] | the entries as one block (src/codec/entry-block.ts)
 *
 * The trailer is what tells a torn write from a record damaged at rest. A write cut short by a crash leaves a
 * prefix of the record on disk and zeros (or the end of the file) after it, so its trailer is missing or a
 * prefix of itself; a record whose trailer is on disk was written whole, and if it no longer checks out, its
 * bytes changed afterwards (see recordWrittenWhole).
 */
export const RECORD_HEADER_BYTES = 12;
export const RECORD_TRAILER_BYTES = 12;
/** A batch as one msgpack payload: read for data written by earlier versions, no longer written. */
export const RECORD_TYPE_BATCH = 1;
/** A batch as a small msgpack head and its entries as one binary block, no trailer: read, no longer written. */
export const RECORD_TYPE_BATCH_V2 = 2;
/** Type 2's payload with a trailer: what encodeRecord writes. */
export const RECORD_TYPE_BATCH_V3 = 3;
/**
 * The trailer's last word, "RKV7" read as little-endian bytes. Every byte has at least two bits set, so no single
 * flipped bit turns it into zeros (which would read as a trailer the crash never wrote).
 */
export const TRAILER_MAGIC = 0x37564b52;
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

/** Encodes a batch as a record of type 3 (type 2, without the trailer, only for tests of logs older versions wrote). */
export function encodeRecord(batch: WalBatch, type: 2 | 3 = RECORD_TYPE_BATCH_V3): Uint8Array {
  const layout = layoutEntries(batch.entries);
  // msgpackr's result views its shared buffer: it is copied into the record before anything else packs.
  const head = storagePackr.pack([
    batch.hardState === null ? null : hardStateToTuple(batch.hardState),
    batch.reset === null ? null : [batch.reset.index, batch.reset.term],
  ]);
  const payloadBytes = HEAD_LENGTH_BYTES + head.byteLength + layout.bytes;
  // Recovery reads a longer length field as a torn or corrupt record, so such a record must never be written.
  if (payloadBytes > RECORD_PAYLOAD_BYTES_MAX) throw new RecordTooLargeError(payloadBytes);
  const trailerBytes = type === RECORD_TYPE_BATCH_V3 ? RECORD_TRAILER_BYTES : 0;
  const record = new Uint8Array(RECORD_HEADER_BYTES + payloadBytes + trailerBytes);
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
  view.setUint32(0, payloadBytes, true);
  record[8] = type;
  view.setUint32(RECORD_HEADER_BYTES, head.byteLength, true);
  record.set(head, RECORD_HEADER_BYTES + HEAD_LENGTH_BYTES);
  writeEntries(batch.entries, layout, record, RECORD_HEADER_BYTES + HEAD_LENGTH_BYTES + head.byteLength);
  const crc = recordChecksum(record, payloadBytes);
  view.setUint32(4, crc, true);
  if (trailerBytes > 0) {
    const trailer = RECORD_HEADER_BYTES + payloadBytes;
    view.setUint32(trailer, payloadBytes, true);
    view.setUint32(trailer + 4, crc, true);
    view.setUint32(trailer + 8, TRAILER_MAGIC, true);
  }
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
  if (!isRecordType(type) || view.getUint8(9) !== 0 || view.getUint8(10) !== 0 || view.getUint8(11) !== 0) {
    return { kind: 'bad', reason: 'bad record type' };
  }
  const trailerBytes = type === RECORD_TYPE_BATCH_V3 ? RECORD_TRAILER_BYTES : 0;
  if (length > RECORD_PAYLOAD_BYTES_MAX || offset + RECORD_HEADER_BYTES + length + trailerBytes > data.byteLength) {
    return { kind: 'bad', reason: 'record runs past the end of the segment' };
  }
  const record = data.subarray(offset, offset + RECORD_HEADER_BYTES + length + trailerBytes);
  if (recordChecksum(record, length) !== crc) return { kind: 'bad', reason: 'checksum mismatch' };
  if (trailerBytes > 0 && !trailerMatches(data, offset + RECORD_HEADER_BYTES + length, length, crc)) {
    return { kind: 'bad', reason: 'trailer does not match the header' };
  }
  try {
    const payload = record.subarray(RECORD_HEADER_BYTES, RECORD_HEADER_BYTES + length);
    const batch = type === RECORD_TYPE_BATCH ? decodePayloadV1(payload) : decodePayloadV2(payload);
    return { kind: 'record', batch, bytes: record.byteLength };
  } catch (error) {
    return { kind: 'bad', reason: `undecodable payload: ${(error as Error).message}` };
  }
}

function decodePayloadV1(payload: Uint8Array): WalBatch {
  if (!msgpackLengthsFit(payload)) throw new TypeError('a length in the batch runs past its end');
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
  const headBytes = payload.subarray(HEAD_LENGTH_BYTES, headEnd);
  if (!msgpackLengthsFit(headBytes)) throw new TypeError('a length in the head runs past its end');
  const head: unknown = storagePackr.unpack(headBytes);
  if (!Array.isArray(head) || head.length !== 2) throw new TypeError('head is not a 2-tuple');
  const [hardState, reset] = head as [unknown, unknown];
  // A command's data stays a view into the segment's bytes, as msgpack's binary values did.
  return { ...decodeHead(hardState, reset), entries: decodeEntries(payload.subarray(headEnd)) };
}

/** The hard state and reset of a batch, as both record types hold them. */
function decodeHead(hardState: unknown, reset: unknown): Pick<WalBatch, 'hardState' | 'reset'> {
  let resetPosition: WalBatch['reset'] = null;
  if (reset !== null) {
    if (!Array.isArray(reset) || !isCount(reset[0]) || !isCount(reset[1])) throw new TypeError('bad reset');
    resetPosition = { index: reset[0], term: reset[1] };
  }
  return { hardState: hardState === null ? null : tupleToHardState(hardState), reset: resetPosition };
}

function isRecordType(type: number | undefined): boolean {
  return type === RECORD_TYPE_BATCH || type === RECORD_TYPE_BATCH_V2 || type === RECORD_TYPE_BATCH_V3;
}

function trailerMatches(data: Uint8Array, at: number, length: number, crc: number): boolean {
  const view = new DataView(data.buffer, data.byteOffset + at, RECORD_TRAILER_BYTES);
  return view.getUint32(0, true) === length && view.getUint32(4, true) === crc && view.getUint32(8, true) === TRAILER_MAGIC;
}

/** Whether any valid record starts after `offset`: tells a torn tail (none) from corruption in the middle. */
export function validRecordAfter(data: Uint8Array, offset: number): number | null {
  for (let p = offset + 1; p + RECORD_HEADER_BYTES <= data.byteLength; p++) {
    if (!isRecordType(data[p + 8])) continue;
    if (parseRecord(data, p).kind === 'record') return p;
  }
  return null;
}

/**
 * Whether the bad record at `offset` had been written whole before it went bad: then it is corruption at rest,
 * not a torn write, even as the last record of the log. A crash leaves a prefix of a write on disk, so a torn
 * type-3 record lacks its trailer, or holds a prefix of it followed by zeros; so does one whose repair (the
 * zeroing of a torn tail) was itself cut short, with zeros over the start of what it was zeroing. The record
 * was written whole if
 * - a trailer whose magic and length place it at the end of a record starting at `offset` is on disk (a bit
 *   flipped in the header, the payload or the trailer's CRC), or
 * - where the header's length puts the trailer, the trailer's CRC is the header's and its magic is whole (a bit
 *   flipped in the trailer's length), or its length and CRC are the header's and its magic's last byte is not
 *   zero (a bit flipped in the magic: a torn write leaves zeros there, and no byte of the magic is one bit
 *   from zero).
 * Logs of earlier versions (types 1 and 2) have no trailer: a bad last record there reads as torn.
 */
export function recordWrittenWhole(data: Uint8Array, offset: number): boolean {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const magic = Buffer.alloc(4);
  magic.writeUInt32LE(TRAILER_MAGIC);
  for (let at = bytes.indexOf(magic, offset + RECORD_HEADER_BYTES + 8); at !== -1; at = bytes.indexOf(magic, at + 1)) {
    const trailer = at - 8;
    if (bytes.readUInt32LE(trailer) === trailer - offset - RECORD_HEADER_BYTES) return true;
  }
  if (offset + RECORD_HEADER_BYTES > bytes.byteLength || bytes[offset + 8] !== RECORD_TYPE_BATCH_V3) return false;
  const length = bytes.readUInt32LE(offset);
  const at = offset + RECORD_HEADER_BYTES + length;
  if (length > RECORD_PAYLOAD_BYTES_MAX || at + RECORD_TRAILER_BYTES > bytes.byteLength) return false;
  const crcMatches = bytes.readUInt32LE(at + 4) === bytes.readUInt32LE(offset + 4);
  const magicWhole = bytes.readUInt32LE(at + 8) === TRAILER_MAGIC;
  return crcMatches && (magicWhole || (bytes.readUInt32LE(at) === length && bytes[at + RECORD_TRAILER_BYTES - 1] !== 0));
}
