import * as path from 'node:path';
import { msgpackLengthsFit } from '../codec/msgpack-lengths.js';
import type { SnapshotMeta, SnapshotSource } from '../raft/types.js';
import { checksum, metaToTuple, storagePackr, tupleToMeta } from './codec.js';
import { StorageError } from './errors.js';
import type { FileSystem, StorageFile } from './file-system.js';

/**
 * Snapshot file layout:
 *   8 bytes magic "RKVSNAP1" | u32 meta length | u32 meta CRC | u32 data length (low) | u32 data length (high)
 *   | u32 data CRC | u32 header CRC (of the 28 bytes before it) | meta (msgpack) | data
 * Written to a temporary file in bounded chunks, synced, renamed into place, directory synced.
 */
const MAGIC = new TextEncoder().encode('RKVSNAP1');
const HEADER_BYTES = 32;
const SUFFIX = '.snap';
const TEMP_SUFFIX = '.tmp';
/** How many snapshots to keep on disk: the newest and the one before it. */
export const SNAPSHOTS_KEPT = 2;
export const SNAPSHOT_READ_CHUNK_BYTES = 1024 * 1024;

function snapshotName(meta: SnapshotMeta): string {
  return `${meta.index.toString(16).padStart(16, '0')}-${meta.term.toString(16).padStart(16, '0')}${SUFFIX}`;
}

/** Streams a snapshot to disk without holding it in memory. */
export class SnapshotWriter {
  private closed = false;
  private offset: number;
  private dataBytes = 0;
  private dataCrc = 0;
  private readonly metaBytes: Uint8Array;
  private readonly temp: string;
  private readonly file: StorageFile;

  constructor(
    private readonly fs: FileSystem,
    private readonly dir: string,
    readonly meta: SnapshotMeta,
  ) {
    this.metaBytes = storagePackr.pack(metaToTuple(meta));
    this.temp = path.join(dir, snapshotName(meta) + TEMP_SUFFIX);
    fs.remove(this.temp);
    this.file = fs.open(this.temp, { create: true });
    this.offset = HEADER_BYTES + this.metaBytes.byteLength;
  }

  write(chunk: Uint8Array): void {
    this.file.write(chunk, this.offset);
    this.offset += chunk.byteLength;
    this.dataBytes += chunk.byteLength;
    this.dataCrc = checksum(chunk, this.dataCrc);
  }

  /** Makes what was written so far durable (so that finishing a big snapshot does not wait for all of it). */
  sync(): void {
    this.file.sync();
  }

  /** Closes and deletes the temporary file: the snapshot is dropped. */
  abort(): void {
    if (this.closed) return;
    this.closed = true;
    this.file.close();
    this.fs.remove(this.temp);
  }

  /** Makes the snapshot durable under its final name; it can be read from there at once (no second pass to verify it). */
  finish(): SnapshotSource {
    const header = new Uint8Array(HEADER_BYTES);
    const view = new DataView(header.buffer);
    header.set(MAGIC, 0);
    view.setUint32(8, this.metaBytes.byteLength, true);
    view.setUint32(12, checksum(this.metaBytes), true);
    view.setUint32(16, this.dataBytes % 0x1_0000_0000, true);
    view.setUint32(20, Math.floor(this.dataBytes / 0x1_0000_0000), true);
    view.setUint32(24, this.dataCrc, true);
    view.setUint32(28, checksum(header.subarray(0, 28)), true);
    this.file.write(header, 0);
    this.file.write(this.metaBytes, HEADER_BYTES);
    this.file.sync();
    this.file.close();
    this.closed = true;
    const final = path.join(this.dir, snapshotName(this.meta));
    this.fs.rename(this.temp, final);
    this.fs.syncDir(this.dir);
    return new DiskSnapshotSource(this.meta, this.dataBytes, this.fs, final, HEADER_BYTES + this.metaBytes.byteLength);
  }
}

/** A snapshot on disk, verified, read in chunks for InstallSnapshot and for restore. */
class DiskSnapshotSource implements SnapshotSource {
  constructor(
    readonly meta: SnapshotMeta,
    readonly sizeBytes: number,
    private readonly fs: FileSystem,
    private readonly file: string,
    private readonly dataOffset: number,
  ) {}

  readChunk(offsetBytes: number, maxBytes: number): Uint8Array {
    const length = Math.max(0, Math.min(maxBytes, this.sizeBytes - offsetBytes));
    const handle = this.fs.open(this.file, { create: false });
    try {
      return handle.read(this.dataOffset + offsetBytes, length);
    } finally {
      handle.close();
    }
  }

  /** The whole data in one read into one buffer (not chunk by chunk, each copied once more). */
  readAll(): Uint8Array {
    const data = this.readChunk(0, this.sizeBytes);
    if (data.byteLength !== this.sizeBytes) {
      throw new StorageError('STORAGE_SNAPSHOT_CORRUPT', `snapshot data ends after ${data.byteLength} of ${this.sizeBytes} bytes`, {
        file: this.file,
        offset: this.dataOffset,
      });
    }
    return data;
  }
}

export class SnapshotStore {
  constructor(
    private readonly fs: FileSystem,
    private readonly dir: string,
  ) {
    fs.mkdirp(dir);
    for (const name of fs.list(dir)) if (name.endsWith(TEMP_SUFFIX)) fs.remove(path.join(dir, name));
  }

  writer(meta: SnapshotMeta): SnapshotWriter {
    return new SnapshotWriter(this.fs, this.dir, meta);
  }

  save(meta: SnapshotMeta, data: Uint8Array): SnapshotSource {
    const writer = this.writer(meta);
    for (let offset = 0; offset < data.byteLength; offset += SNAPSHOT_READ_CHUNK_BYTES) {
      writer.write(data.subarray(offset, offset + SNAPSHOT_READ_CHUNK_BYTES));
    }
    const source = writer.finish();
    this.prune();
    return source;
  }

  /** The newest snapshot, verified end to end; a corrupt newest snapshot is an error, never skipped. */
  loadNewest(): SnapshotSource | null {
    const names = this.fs.list(this.dir).filter((name) => name.endsWith(SUFFIX));
    const newest = names[names.length - 1];
    if (newest === undefined) return null;
    return this.verify(path.join(this.dir, newest));
  }

  /** Keeps the newest SNAPSHOTS_KEPT snapshots. */
  prune(): void {
    const names = this.fs.list(this.dir).filter((name) => name.endsWith(SUFFIX));
    const stale = names.slice(0, Math.max(0, names.length - SNAPSHOTS_KEPT));
    for (const name of stale) this.fs.remove(path.join(this.dir, name));
    if (stale.length > 0) this.fs.syncDir(this.dir);
  }

  private verify(file: string): SnapshotSource {
    const fail = (message: string, offset?: number): never => {
      throw new StorageError('STORAGE_SNAPSHOT_CORRUPT', message, offset === undefined ? { file } : { file, offset });
    };
    const handle = this.fs.open(file, { create: false });
    try {
      const size = handle.size();
      const header = handle.read(0, HEADER_BYTES);
      if (header.byteLength < HEADER_BYTES) fail('file shorter than its header', 0);
      const view = new DataView(header.buffer, header.byteOffset, HEADER_BYTES);
      if (!MAGIC.every((b, i) => header[i] === b)) fail('bad magic', 0);
      if (checksum(header.subarray(0, 28)) !== view.getUint32(28, true)) fail('header checksum mismatch', 0);
      const metaBytes = view.getUint32(8, true);
      const dataBytes = view.getUint32(16, true) + view.getUint32(20, true) * 0x1_0000_0000;
      const dataOffset = HEADER_BYTES + metaBytes;
      if (dataOffset + dataBytes !== size) fail(`size ${size} does not match the header (${dataOffset + dataBytes})`, 0);
      const metaRaw = handle.read(HEADER_BYTES, metaBytes);
      if (checksum(metaRaw) !== view.getUint32(12, true)) fail('meta checksum mismatch', HEADER_BYTES);
      let meta: SnapshotMeta;
      try {
        if (!msgpackLengthsFit(metaRaw)) throw new TypeError('a length in the meta runs past its end');
        meta = tupleToMeta(storagePackr.unpack(metaRaw));
      } catch (error) {
        return fail(`undecodable meta: ${(error as Error).message}`, HEADER_BYTES);
      }
      let crc = 0;
      for (let offset = 0; offset < dataBytes; offset += SNAPSHOT_READ_CHUNK_BYTES) {
        crc = checksum(handle.read(dataOffset + offset, Math.min(SNAPSHOT_READ_CHUNK_BYTES, dataBytes - offset)), crc);
      }
      if (crc !== view.getUint32(24, true)) fail('data checksum mismatch', dataOffset);
      return new DiskSnapshotSource(meta, dataBytes, this.fs, file, dataOffset);
    } finally {
      handle.close();
    }
  }
}

/** Reads a whole snapshot into memory (for restoring a state machine). */
export function readAllSnapshot(source: SnapshotSource): Uint8Array {
  if (source instanceof DiskSnapshotSource) return source.readAll();
  const out = new Uint8Array(source.sizeBytes);
  for (let offset = 0; offset < source.sizeBytes; offset += SNAPSHOT_READ_CHUNK_BYTES) {
    out.set(source.readChunk(offset, SNAPSHOT_READ_CHUNK_BYTES), offset);
  }
  return out;
}
