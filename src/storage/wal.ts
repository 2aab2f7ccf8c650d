import * as path from 'node:path';
import type { Entry, HardState } from '../raft/types.js';
import { StorageError } from './errors.js';
import type { FileSystem, StorageFile } from './file-system.js';
import { encodeRecord, parseRecord, recordWrittenWhole, RecordTooLargeError, validRecordAfter, type WalBatch } from './wal-record.js';

export interface WalOptions {
  /** Size a segment is preallocated to; a segment rotates once the next record would not fit. */
  readonly segmentBytes: number;
  /** Zero-fill new segments up front: overwriting allocated blocks syncs faster than extending a file. */
  readonly preallocate: boolean;
  /** Called with what recovery repaired (a torn tail) so the operator can see it in the log. */
  readonly log?: (message: string) => void;
}

// 4 MiB: zero-filling and syncing a new segment then takes a few milliseconds, a small part of a heartbeat.
export const WAL_DEFAULTS: WalOptions = { segmentBytes: 4 * 1024 * 1024, preallocate: true };

const SEGMENT_SUFFIX = '.wal';
const ZERO_CHUNK_BYTES = 1024 * 1024;

interface Segment {
  readonly seq: number;
  readonly file: string;
  /** The highest entry index written into this segment (0 if none). */
  maxEntryIndex: number;
}

/** What recovery found in the log. */
export interface WalRecovery {
  readonly hardState: HardState | null;
  /** The newest reset (a snapshot installed from the leader), if any survives in the log. */
  readonly reset: { readonly index: number; readonly term: number } | null;
  /** The entries after the newest reset, in order; the caller drops those a snapshot covers. */
  readonly entries: Entry[];
  readonly tornTail: { readonly file: string; readonly offset: number } | null;
}

function segmentName(seq: number): string {
  return `${seq.toString(16).padStart(16, '0')}${SEGMENT_SUFFIX}`;
}

/**
 * A segmented, append-only write-ahead log (after etcd's wal and LogCabin's segmented log). One record per
 * Ready batch, framed with its length and a CRC. Writes go to the OS at once; `sync` makes them durable,
 * so one fdatasync covers every batch written since the last one (group commit).
 */
export class WriteAheadLog {
  private readonly segments: Segment[] = [];
  private active: StorageFile | null = null;
  private writeOffset = 0;
  private lastHardState: HardState | null = null;
  /** Bytes written to the OS since the last sync began. */
  private unsyncedBytes = 0;
  private closed = false;
  /** Files with an fdatasync still running in the thread pool: closing them now could sync a reused fd. */
  private readonly asyncSyncsInFlight = new Map<StorageFile, number>();
  private readonly retired: StorageFile[] = [];

  private constructor(
    private readonly fs: FileSystem,
    private readonly dir: string,
    private readonly options: WalOptions,
  ) {}

  /** Opens (creating if needed) the log in `dir` and recovers what it holds. */
  static open(fs: FileSystem, dir: string, options: Partial<WalOptions> = {}): { wal: WriteAheadLog; recovery: WalRecovery } {
    const wal = new WriteAheadLog(fs, dir, { ...WAL_DEFAULTS, ...options });
    fs.mkdirp(dir);
    const recovery = wal.recover();
    return { wal, recovery };
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /** Hands one batch to the OS. Not durable until `sync`. */
  append(batch: WalBatch): void {
    this.assertOpen();
    let record: Uint8Array;
    try {
      record = encodeRecord(batch);
    } catch (error) {
      if (error instanceof RecordTooLargeError) throw new StorageError('STORAGE_RECORD_TOO_LARGE', error.message, { file: this.dir });
      throw error;
    }
    if (this.active === null || (this.writeOffset > 0 && this.writeOffset + record.byteLength > this.options.segmentBytes)) {
      this.rotate();
    }
    const active = this.active as StorageFile;
    active.write(record, this.writeOffset);
    this.writeOffset += record.byteLength;
    this.unsyncedBytes += record.byteLength;
    const segment = this.segments[this.segments.length - 1] as Segment;
    if (batch.reset !== null) {
      segment.maxEntryIndex = batch.reset.index;
    }
    if (batch.hardState !== null) this.lastHardState = batch.hardState;
    const last = batch.entries[batch.entries.length - 1];
    if (last !== undefined) segment.maxEntryIndex = last.index;
  }

  get hasUnsynced(): boolean {
    return this.unsyncedBytes > 0;
  }

  /** fdatasync, blocking. */
  sync(): void {
    this.assertOpen();
    // With nothing new written, an fdatasync may still be running in the thread pool: durable only once
    // it ends, so a blocking sync must not return early then (shutdown relies on it).
    if (this.active === null || (this.unsyncedBytes === 0 && !this.asyncSyncsInFlight.has(this.active))) return;
    this.unsyncedBytes = 0;
    this.active.sync();
  }

  /** fdatasync off the event loop. Everything appended before the call is durable when it resolves. */
  async syncAsync(): Promise<void> {
    this.assertOpen();
    const file = this.active;
    if (file === null || this.unsyncedBytes === 0) return;
    this.unsyncedBytes = 0;
    this.asyncSyncsInFlight.set(file, (this.asyncSyncsInFlight.get(file) ?? 0) + 1);
    try {
      await file.syncAsync();
    } finally {
      const left = (this.asyncSyncsInFlight.get(file) ?? 1) - 1;
      if (left > 0) this.asyncSyncsInFlight.set(file, left);
      else this.asyncSyncsInFlight.delete(file);
      this.closeRetired();
    }
  }

  private closeRetired(): void {
    for (let i = this.retired.length - 1; i >= 0; i--) {
      const file = this.retired[i] as StorageFile;
      if (this.asyncSyncsInFlight.has(file)) continue;
      file.close();
      this.retired.splice(i, 1);
    }
  }

  /** Deletes whole segments whose every entry is at or below `index` (covered by a durable snapshot). */
  compactTo(index: number): number {
    const oldest = this.segments[0];
    if (this.segments.length < 2 || oldest === undefined || oldest.maxEntryIndex > index) return 0;
    // The newest hard state may live only in a segment about to go: the copy a rotation carries into the
    // next segment is not synced with it, and a crash can lose it while the segment itself survives. So it
    // is logged again, durably, in the active segment (which compaction never deletes) before anything goes.
    if (this.lastHardState !== null) {
      this.append({ hardState: this.lastHardState, reset: null, entries: [] });
      this.sync();
    }
    let removed = 0;
    while (this.segments.length > 1) {
      const oldest = this.segments[0] as Segment;
      if (oldest.maxEntryIndex > index) break;
      this.fs.remove(oldest.file);
      this.segments.shift();
      removed++;
    }
    if (removed > 0) this.fs.syncDir(this.dir);
    return removed;
  }

  close(): void {
    if (this.closed) return;
    if (this.active !== null) {
      this.sync();
      this.retired.push(this.active);
    }
    this.active = null;
    this.closed = true;
    // A sync still in flight closes its file when it ends.
    this.closeRetired();
  }

  // -------------------------------------------------------------------------

  private assertOpen(): void {
    if (this.closed) throw new StorageError('STORAGE_CLOSED', 'the write-ahead log is closed', { file: this.dir });
  }

  /**
   * A new segment: the old one is synced first (a batch never depends on an unsynced older segment), the new
   * file is created, preallocated and made durable in its directory, and it starts with the current hard
   * state so that deleting older segments never loses it.
   */
  private rotate(): void {
    if (this.active !== null) {
      this.active.sync();
      this.retired.push(this.active);
      this.closeRetired();
      this.unsyncedBytes = 0;
    }
    const seq = (this.segments[this.segments.length - 1]?.seq ?? -1) + 1;
    const file = path.join(this.dir, segmentName(seq));
    const handle = this.fs.open(file, { create: true });
    if (this.options.preallocate) {
      const zeros = new Uint8Array(Math.min(ZERO_CHUNK_BYTES, this.options.segmentBytes));
      for (let offset = 0; offset < this.options.segmentBytes; offset += zeros.byteLength) {
        handle.write(zeros.subarray(0, Math.min(zeros.byteLength, this.options.segmentBytes - offset)), offset);
      }
      handle.sync();
    }
    this.fs.syncDir(this.dir);
    const previous = this.segments[this.segments.length - 1];
    this.segments.push({ seq, file, maxEntryIndex: previous?.maxEntryIndex ?? 0 });
    this.active = handle;
    this.writeOffset = 0;
    if (this.lastHardState !== null) {
      // Only the hard state is carried over: a reset matters only against the older segments it obsoletes.
      const record = encodeRecord({ hardState: this.lastHardState, reset: null, entries: [] });
      handle.write(record, 0);
      this.writeOffset = record.byteLength;
      this.unsyncedBytes += record.byteLength;
    }
  }

  private recover(): WalRecovery {
    const names = this.fs.list(this.dir).filter((name) => name.endsWith(SEGMENT_SUFFIX));
    this.dropUnfinishedSegment(names);
    let hardState: HardState | null = null;
    let reset: WalRecovery['reset'] = null;
    let entries: Entry[] = [];
    let tornTail: WalRecovery['tornTail'] = null;
    let expectedSeq: number | null = null;
    for (const [i, name] of names.entries()) {
      const seq = Number.parseInt(name.slice(0, -SEGMENT_SUFFIX.length), 16);
      const file = path.join(this.dir, name);
      if (!Number.isSafeInteger(seq)) throw new StorageError('STORAGE_BAD_PATH', `unexpected file ${name} in the log directory`, { file });
      if (expectedSeq !== null && seq !== expectedSeq) {
        throw new StorageError('STORAGE_MISSING_SEGMENT', `segment ${segmentName(expectedSeq)} is missing`, { file });
      }
      expectedSeq = seq + 1;
      const isLast = i === names.length - 1;
      const data = this.fs.readFile(file);
      const segment: Segment = { seq, file, maxEntryIndex: this.segments[this.segments.length - 1]?.maxEntryIndex ?? 0 };
      let offset = 0;
      for (;;) {
        const parsed = parseRecord(data, offset);
        if (parsed.kind === 'end') break;
        if (parsed.kind === 'bad') {
          const why = !isLast
            ? 'newer segments follow'
            : validRecordAfter(data, offset) !== null
              ? 'valid records follow'
              : recordWrittenWhole(data, offset)
                ? 'its trailer shows it was written whole'
                : null;
          if (why !== null) {
            throw new StorageError('STORAGE_CORRUPT_RECORD', `${parsed.reason}; ${why}, so this is not a torn write`, { file, offset });
          }
          tornTail = { file, offset };
          break;
        }
        const batch = parsed.batch;
        if (batch.hardState !== null) hardState = batch.hardState;
        if (batch.reset !== null) {
          reset = batch.reset;
          entries = [];
          segment.maxEntryIndex = batch.reset.index;
        }
        entries = appendRecovered(entries, batch.entries, reset, { file, offset });
        const last = batch.entries[batch.entries.length - 1];
        if (last !== undefined) segment.maxEntryIndex = last.index;
        offset += parsed.bytes;
      }
      this.segments.push(segment);
      if (isLast) {
        this.checkPreallocated(file, data);
        this.reopenActive(file, data, offset, tornTail !== null);
      }
    }
    this.lastHardState = hardState;
    if (tornTail !== null) this.options.log?.(`wal: cut a torn record at the tail of ${tornTail.file} at offset ${tornTail.offset}`);
    return { hardState, reset, entries, tornTail };
  }

  /**
   * A crash (or a full disk) while a new segment was being preallocated leaves it short and all zeros: no record
   * was ever written to it. It is removed, so the log ends with the segment before it (the next append rotates
   * again), and a node whose disk is full can still start.
   */
  private dropUnfinishedSegment(names: string[]): void {
    const last = names[names.length - 1];
    if (!this.options.preallocate || last === undefined) return;
    const file = path.join(this.dir, last);
    const data = this.fs.readFile(file);
    if (data.byteLength >= this.options.segmentBytes || !data.every((byte) => byte === 0)) return;
    this.fs.remove(file);
    this.fs.syncDir(this.dir);
    names.pop();
  }

  /**
   * A preallocated segment is zero-filled to its full size and synced before its first record is written, so
   * one that holds anything but zeros and is shorter than that lost its end after it was written (a file system repair, a
   * stray truncate): records that had been synced may be gone, which a torn write cannot do.
   */
  private checkPreallocated(file: string, data: Uint8Array): void {
    // A short segment of zeros alone (a crash in its preallocation) was removed before (dropUnfinishedSegment).
    if (!this.options.preallocate || data.byteLength >= this.options.segmentBytes) return;
    throw new StorageError(
      'STORAGE_CORRUPT_RECORD',
      `the segment is ${data.byteLength} bytes, shorter than the ${this.options.segmentBytes} it was preallocated to: truncated after it was written`,
      { file, offset: data.byteLength },
    );
  }

  /** Continues writing the last segment after its last valid record, zeroing any torn bytes beyond it. */
  private reopenActive(file: string, data: Uint8Array, offset: number, torn: boolean): void {
    const handle = this.fs.open(file, { create: false });
    let dirtyEnd = offset;
    for (let p = data.byteLength - 1; p >= offset; p--) {
      if (data[p] !== 0) {
        dirtyEnd = p + 1;
        break;
      }
    }
    // A crash while preallocating leaves a short segment with no record yet: fill it before the first one.
    if (dirtyEnd > offset || torn) {
      handle.write(new Uint8Array(dirtyEnd - offset), offset);
      handle.sync();
    }
    this.active = handle;
    this.writeOffset = offset;
  }
}

/** The valid records of a segment's bytes, [0, end): what rot at rest aims at. */
export function walWrittenBytes(data: Uint8Array): readonly [number, number] {
  return [0, walLastRecord(data)[1]];
}

/** The last valid record of a segment's bytes, [start, end) ([0, 0] if none): where a flip looks most like a torn write. */
export function walLastRecord(data: Uint8Array): readonly [number, number] {
  let start = 0;
  let offset = 0;
  for (let parsed = parseRecord(data, 0); parsed.kind === 'record'; parsed = parseRecord(data, offset)) {
    start = offset;
    offset += parsed.bytes;
  }
  return [start, offset];
}

/** Applies one recovered batch's entries: an entry at index i replaces the suffix from i on. */
function appendRecovered(
  entries: Entry[],
  batch: readonly Entry[],
  reset: WalRecovery['reset'],
  where: { file: string; offset: number },
): Entry[] {
  const first = batch[0];
  if (first === undefined) return entries;
  const base = entries[0]?.index ?? (reset === null ? first.index : reset.index + 1);
  const position = first.index - base;
  // A batch that starts before everything we hold replaces it all (a truncation back past the oldest
  // surviving segment, whose predecessors were compacted away).
  if (position < 0) return [...batch];
  if (position > entries.length) {
    throw new StorageError('STORAGE_LOG_GAP', `entry ${first.index} follows entry ${base + entries.length - 1}`, where);
  }
  entries.length = position;
  for (const entry of batch) entries.push(entry);
  return entries;
}
