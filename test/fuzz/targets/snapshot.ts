// Fuzz target: the snapshot readers. The first byte is a mode: bit 0 picks the snapshot file
// (src/storage/snapshot-store.ts, on the in-memory disk) or the backup file (src/storage/backup.ts); bit 1
// sets the checksums right before reading (so the fuzzer explores the decoding behind them). Oracles (as
// test/unit/hostile-snapshot.test.ts): a snapshot loads and reads back whole with a well-typed meta, or is
// refused with STORAGE_SNAPSHOT_CORRUPT; a backup decodes with a well-typed header and exactly its data, or is
// refused with STORAGE_BACKUP_INVALID; never another exception.
import { crc32 } from 'node:zlib';
import { decodeBackup } from '../../../src/storage/backup.js';
import { checksum } from '../../../src/storage/codec.js';
import { StorageError } from '../../../src/storage/errors.js';
import { FaultyFileSystem } from '../../../src/storage/faulty-file-system.js';
import { readAllSnapshot, SnapshotStore } from '../../../src/storage/snapshot-store.js';
import { expectRefusal } from '../oracles.js';
import { check, type FuzzTarget } from '../target.js';
import { checkMeta } from './storage-checks.js';

const DIR = '/data/snap';
const SNAPSHOT_HEADER_BYTES = 32;
const BACKUP_PREFIX_BYTES = 16;

/** Sets a snapshot file's three checksums (meta, data, header) as its header's lengths place them, in place. */
export function fixSnapshotChecksums(file: Uint8Array): void {
  if (file.byteLength < SNAPSHOT_HEADER_BYTES) return;
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const metaEnd = SNAPSHOT_HEADER_BYTES + view.getUint32(8, true);
  if (metaEnd <= file.byteLength) {
    view.setUint32(12, checksum(file.subarray(SNAPSHOT_HEADER_BYTES, metaEnd)), true);
    view.setUint32(24, checksum(file.subarray(metaEnd)), true);
  }
  view.setUint32(28, checksum(file.subarray(0, 28)), true);
}

/** Sets a backup's header CRC (zlib's CRC-32), in place. */
export function fixBackupChecksum(file: Uint8Array): void {
  if (file.byteLength < BACKUP_PREFIX_BYTES) return;
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const headerEnd = BACKUP_PREFIX_BYTES + view.getUint32(8, true);
  if (headerEnd <= file.byteLength) view.setUint32(12, crc32(file.subarray(BACKUP_PREFIX_BYTES, headerEnd)) >>> 0, true);
}

function readSnapshot(file: Uint8Array): void {
  const fs = new FaultyFileSystem();
  fs.mkdirp(DIR);
  const handle = fs.open(`${DIR}/0000000000000001-0000000000000001.snap`, { create: true });
  handle.write(file, 0);
  handle.sync();
  handle.close();
  try {
    const source = new SnapshotStore(fs, DIR).loadNewest();
    check(source !== null, 'a snapshot file that loads as no snapshot');
    checkMeta(source.meta);
    const data = readAllSnapshot(source);
    check(data.byteLength === source.sizeBytes, `a snapshot of ${source.sizeBytes} bytes read back as ${data.byteLength}`);
    check(data.byteLength <= file.byteLength, `a snapshot of ${data.byteLength} bytes from a file of ${file.byteLength}`);
  } catch (error) {
    expectRefusal(error, StorageError, ['STORAGE_SNAPSHOT_CORRUPT']);
  }
}

const isCount = (value: unknown): boolean => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

function readBackup(file: Uint8Array): void {
  try {
    const { header, data } = decodeBackup(file, 'fuzz.rkv');
    check(
      header.format === 1 && typeof header.clusterId === 'string' && typeof header.created === 'string',
      'a backup header of the wrong shape',
    );
    check(isCount(header.index) && isCount(header.term), `a backup at index ${header.index}, term ${header.term}`);
    check(Array.isArray(header.voters) && header.voters.every((id) => typeof id === 'string'), 'backup voters that are not ids');
    check(
      header.learners === undefined || (Array.isArray(header.learners) && header.learners.every((id) => typeof id === 'string')),
      'backup learners that are not ids',
    );
    check(data.byteLength === header.dataBytes, `${data.byteLength} data bytes where the header says ${header.dataBytes}`);
  } catch (error) {
    expectRefusal(error, StorageError, ['STORAGE_BACKUP_INVALID']);
  }
}

function run(data: Buffer): void {
  const mode = data[0] ?? 0;
  const file = Uint8Array.from(data.subarray(1));
  const backup = (mode & 1) !== 0;
  if ((mode & 2) !== 0) {
    if (backup) fixBackupChecksum(file);
    else fixSnapshotChecksums(file);
  }
  if (backup) readBackup(file);
  else readSnapshot(file);
}

export const snapshotTarget: FuzzTarget = {
  name: 'snapshot',
  description: 'the snapshot file reader and the backup file reader, checksums as given or set right',
  coverage: ['src/storage/snapshot-store', 'src/storage/backup', 'src/storage/codec', 'src/codec/entry-block'],
  dictionary: [
    'RKVSNAP1',
    'RKVBACK1',
    '"format":1',
    '"clusterId":"c"',
    '"index":',
    '"term":',
    '"voters":["n1"]',
    '"learners":[]',
    '"created":"x"',
    '"dataBytes":',
    '"dataCrc32":',
    '{',
    '}',
    '[',
    ']',
    ',',
    'null',
    '1e400',
    '-1',
    Uint8Array.of(0x93),
    Uint8Array.of(0x82, 0xa1, 0x76),
    Uint8Array.of(0xa1, 0x6c),
    Uint8Array.of(0xcb),
  ],
  inputBytesMax: 4096,
  inputMsMax: 2_000,
  run,
};
