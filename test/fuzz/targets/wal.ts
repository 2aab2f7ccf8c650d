// Fuzz target: the write-ahead log's reader (src/storage/wal.ts, src/storage/wal-record.ts) on the in-memory
// disk. The first byte is a mode: bit 0 sets each record's CRC right before reading (so the fuzzer explores
// the decoding behind the checksum, not only the checksum), bit 1 splits the rest into two segments (the
// second byte says where), bit 2 opens the log as preallocated. Oracles (as test/unit/hostile-wal.test.ts):
// the log opens, or is refused with a StorageError under a registered storage code; what it recovers are
// values of their types, entries following on; parseRecord and validRecordAfter never throw; and a log that
// opened takes a new record and opens again ending with it (a torn tail was repaired, not left behind), or is
// refused for a gap the damage left.
import { StorageError, STORAGE_ERROR_CODES } from '../../../src/storage/errors.js';
import { checksum } from '../../../src/storage/codec.js';
import { FaultyFileSystem } from '../../../src/storage/faulty-file-system.js';
import { WriteAheadLog, type WalRecovery } from '../../../src/storage/wal.js';
import {
  parseRecord,
  RECORD_HEADER_BYTES,
  RECORD_TRAILER_BYTES,
  RECORD_TYPE_BATCH,
  RECORD_TYPE_BATCH_V2,
  RECORD_TYPE_BATCH_V3,
  TRAILER_MAGIC,
  validRecordAfter,
} from '../../../src/storage/wal-record.js';
import { expectRefusal } from '../oracles.js';
import { check, type FuzzTarget } from '../target.js';
import { checkEntries, checkHardState, checkPosition } from './storage-checks.js';

const DIR = '/data/wal';
const SEGMENT_BYTES = 1024;
const AFTER_REPAIR_CODES = ['STORAGE_LOG_GAP', 'STORAGE_CORRUPT_RECORD', 'STORAGE_MISSING_SEGMENT'];

/**
 * Sets the CRC of each whole record in `data` (in place), and a type 3 record's trailer, as a writer would have:
 * from the start to the first record that is not whole.
 */
export function fixRecordChecksums(data: Uint8Array): void {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let offset = 0;
  while (offset + RECORD_HEADER_BYTES <= data.byteLength) {
    const length = view.getUint32(offset, true);
    const type = data[offset + 8];
    const trailerBytes = type === RECORD_TYPE_BATCH_V3 ? RECORD_TRAILER_BYTES : 0;
    const known = type === RECORD_TYPE_BATCH || type === RECORD_TYPE_BATCH_V2 || type === RECORD_TYPE_BATCH_V3;
    const end = offset + RECORD_HEADER_BYTES + length;
    if (!known || end + trailerBytes > data.byteLength) return;
    const lengthAndType = checksum(data.subarray(offset + 8, offset + 12), checksum(data.subarray(offset, offset + 4)));
    const crc = checksum(data.subarray(offset + RECORD_HEADER_BYTES, end), lengthAndType);
    view.setUint32(offset + 4, crc, true);
    if (trailerBytes > 0) {
      view.setUint32(end, length, true);
      view.setUint32(end + 4, crc, true);
      view.setUint32(end + 8, TRAILER_MAGIC, true);
    }
    offset = end + trailerBytes;
  }
}

function segmentName(seq: number): string {
  return `${DIR}/${seq.toString(16).padStart(16, '0')}.wal`;
}

function writeFile(fs: FaultyFileSystem, file: string, bytes: Uint8Array): void {
  const handle = fs.open(file, { create: true });
  handle.write(bytes, 0);
  handle.sync();
  handle.close();
}

function open(fs: FaultyFileSystem, preallocate: boolean, codes: readonly string[]): { wal: WriteAheadLog; recovery: WalRecovery } | null {
  try {
    return WriteAheadLog.open(fs, DIR, { segmentBytes: SEGMENT_BYTES, preallocate });
  } catch (error) {
    expectRefusal(error, StorageError, codes);
    check(
      (error as Error).message.startsWith(`${(error as StorageError).code}:`),
      `a refusal without its code first: ${(error as Error).message}`,
    );
    return null;
  }
}

function checkRecords(data: Uint8Array): void {
  for (let offset = 0; offset <= data.byteLength; offset += 1 + (offset >> 2)) {
    const parsed = parseRecord(data, offset);
    if (parsed.kind === 'record') check(offset + parsed.bytes <= data.byteLength, 'a record past the end of its segment');
    const later = validRecordAfter(data, offset);
    if (later !== null) check(parseRecord(data, later).kind === 'record', 'validRecordAfter names a record parseRecord refuses');
  }
}

function run(data: Buffer): void {
  const mode = data[0] ?? 0;
  const fixChecksums = (mode & 1) !== 0;
  const twoSegments = (mode & 2) !== 0;
  const preallocate = (mode & 4) !== 0;
  const body = Uint8Array.from(data.subarray(twoSegments ? 2 : 1));
  const cut = twoSegments ? Math.floor(((data[1] ?? 0) * body.byteLength) / 256) : body.byteLength;
  const segments = twoSegments ? [body.slice(0, cut), body.slice(cut)] : [body];
  if (fixChecksums) for (const segment of segments) fixRecordChecksums(segment);
  for (const segment of segments) checkRecords(segment);

  const fs = new FaultyFileSystem();
  fs.mkdirp(DIR);
  for (const [seq, segment] of segments.entries()) writeFile(fs, segmentName(seq), segment);
  fs.syncDir(DIR);
  const opened = open(fs, preallocate, STORAGE_ERROR_CODES);
  if (opened === null) return;
  const { recovery, wal } = opened;
  checkHardState(recovery.hardState);
  checkPosition('reset', recovery.reset);
  checkEntries(recovery.entries);

  const next = (recovery.entries.at(-1)?.index ?? recovery.reset?.index ?? 0) + 1;
  const extra = { type: 'command' as const, index: next, term: 99, data: Uint8Array.of(1, 2, 3) };
  wal.append({ hardState: null, reset: null, entries: [extra] });
  wal.sync();
  wal.close();
  const again = open(fs, preallocate, AFTER_REPAIR_CODES);
  if (again === null) return;
  const last = again.recovery.entries.at(-1);
  check(
    last?.index === next && last.term === 99,
    `after a repair and an append, the log ends at ${last?.index ?? 'nothing'}, not at ${next}`,
  );
  again.wal.close();
}

export const walTarget: FuzzTarget = {
  name: 'wal',
  description: 'the write-ahead log reader: one or two segments, checksums as given or set right',
  coverage: ['src/storage/wal', 'src/storage/codec', 'src/codec/entry-block'],
  dictionary: [
    Uint8Array.of(3, 0, 0, 0),
    'RKV7',
    Uint8Array.of(2, 0, 0, 0),
    Uint8Array.of(1, 0, 0, 0),
    Uint8Array.of(0, 0, 0, 0),
    Uint8Array.of(0x92),
    Uint8Array.of(0x93),
    Uint8Array.of(0x94),
    Uint8Array.of(0xc0),
    Uint8Array.of(0xcb),
    Uint8Array.of(0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0),
    Uint8Array.of(0xff),
    Uint8Array.of(0xc4),
    Uint8Array.of(0x81, 0xa1, 0x76),
  ],
  inputBytesMax: 4096,
  inputMsMax: 2_000,
  run,
};
