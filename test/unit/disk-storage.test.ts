// DiskStorage, the RaftStorage a node boots from: recovery of the log and snapshots, compaction, leader
// snapshots, corruption (each with its stable code, file and offset) and group commit.
import { CountingFileSystem } from '../support/counting-file-system.js';
import * as nodeFs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../src/raft/random.js';
import type { Entry, Membership, Snapshot, SnapshotMeta } from '../../src/raft/types.js';
import { metaToTuple, storagePackr } from '../../src/storage/codec.js';
import { DiskStorage, type DiskStorageOptions } from '../../src/storage/disk-storage.js';
import { STORAGE_ERROR_CODES, StorageError, type StorageErrorCode } from '../../src/storage/errors.js';
import { FaultyFileSystem } from '../../src/storage/faulty-file-system.js';
import { NodeFileSystem, type FileSystem } from '../../src/storage/file-system.js';
import { readAllSnapshot } from '../../src/storage/snapshot-store.js';
import { RECORD_HEADER_BYTES, encodeRecord } from '../../src/storage/wal-record.js';
import { command, commands, hardState, storageErrorOf } from '../support/entries.js';
import { tempFolders } from '../support/temp-folders.js';

const DIR = '/data';
const WAL_DIR = '/data/wal';
const SNAP_DIR = '/data/snap';
const MEMBERSHIP: Membership = { voters: ['n1', 'n2', 'n3'], learners: [] };
const SNAPSHOT_HEADER_BYTES = 32;
const STORAGE_DOC = fileURLToPath(new URL('../../docs/STORAGE.md', import.meta.url));

function snapshot(index: number, term: number, sizeBytes = 300): Snapshot {
  const data = new Uint8Array(sizeBytes);
  for (let i = 0; i < sizeBytes; i++) data[i] = (index + i * 3) & 0xff;
  return { meta: { index, term, membership: MEMBERSHIP }, data };
}

function snapshotFile(dir: string, meta: { index: number; term: number }): string {
  return path.join(dir, 'snap', `${meta.index.toString(16).padStart(16, '0')}-${meta.term.toString(16).padStart(16, '0')}.snap`);
}

function snapshotDataOffset(meta: SnapshotMeta): number {
  return SNAPSHOT_HEADER_BYTES + storagePackr.pack(metaToTuple(meta)).byteLength;
}

function plain(entries: readonly Entry[]): string[] {
  return entries.map((e) => `${e.index}/${e.term}/${e.type === 'command' ? Buffer.from(e.data).toString('hex') : e.type}`);
}

function open(fs: FileSystem, options: Partial<DiskStorageOptions> = {}, dir = DIR): DiskStorage {
  return DiskStorage.open(fs, dir, { initialMembership: MEMBERSHIP, segmentBytes: 64 * 1024, preallocate: false, ...options });
}

function expectStorageError(action: () => unknown, code: StorageErrorCode, where: { file: string; offset?: number | null }): StorageError {
  const error = storageErrorOf(action);
  expect(error.code).toBe(code);
  expect(error.file).toBe(where.file);
  expect(error.message).toContain(where.file);
  if (where.offset !== undefined) expect(error.offset).toBe(where.offset);
  if (where.offset !== undefined && where.offset !== null) expect(error.message).toContain(`at offset ${where.offset}`);
  return error;
}

const tempDataDir = tempFolders('raftkv-disk-storage-test-', 'node');

describe('DiskStorage recovery', () => {
  it('boots a brand-new node empty, with its initial membership', () => {
    const storage = open(new FaultyFileSystem());
    expect(storage.kind).toBe('disk');
    expect(storage.boot.hardState).toEqual({ term: 0, votedFor: null, commitIndex: 0 });
    expect(storage.boot.snapshot).toBeNull();
    expect(storage.boot.entries).toEqual([]);
    expect(storage.boot.initialMembership).toEqual(MEMBERSHIP);
  });

  it('restarts with the synced hard state and entries of every kind, suffix replacements applied', () => {
    const disk = new FaultyFileSystem();
    const storage = open(disk);
    const config: Entry = { type: 'config', index: 3, term: 1, membership: { voters: ['n1', 'n2'], learners: [] } };
    storage.write({
      snapshot: null,
      hardState: hardState(1),
      entries: [{ type: 'noop', index: 1, term: 1 }, command(2, 1), config, ...commands(4, 3, 1)],
    });
    storage.write({ snapshot: null, hardState: hardState(2, 3, 'n2'), entries: commands(5, 2, 2) });
    storage.syncNow();
    storage.close();
    disk.crash(new SeededRandom(1), { torn: true });
    const boot = open(disk).boot;
    expect(boot.hardState).toEqual(hardState(2, 3, 'n2'));
    expect(boot.entries[2]).toEqual(config);
    expect(plain(boot.entries)).toEqual(
      plain([{ type: 'noop', index: 1, term: 1 }, command(2, 1), config, command(4, 1), ...commands(5, 2, 2)]),
    );
  });

  it('after a crash keeps everything synced and loses only what was not', async () => {
    const disk = new FaultyFileSystem();
    const storage = open(disk);
    storage.write({ snapshot: null, hardState: hardState(1), entries: commands(1, 10, 1) });
    await storage.sync();
    storage.write({ snapshot: null, hardState: hardState(2), entries: commands(11, 10, 2) });
    disk.crash(new SeededRandom(2), { torn: false });
    const boot = open(disk).boot;
    expect(boot.hardState).toEqual(hardState(1));
    expect(plain(boot.entries)).toEqual(plain(commands(1, 10, 1)));
  });

  it('cuts a torn tail on real files, logs it, and boots with every synced entry', () => {
    const dir = tempDataDir();
    const fs = new NodeFileSystem();
    const storage = open(fs, { preallocate: true }, dir);
    storage.write({ snapshot: null, hardState: hardState(1), entries: commands(1, 20, 1, 100) });
    storage.syncNow();
    storage.close();
    const segment = path.join(dir, 'wal', '0000000000000000.wal');
    const end = encodeRecord({ hardState: hardState(1), reset: null, entries: commands(1, 20, 1, 100) }).byteLength;
    // The first 100 bytes of the next record made it to disk before the power went.
    const torn = encodeRecord({ hardState: null, reset: null, entries: commands(21, 5, 1, 100) }).subarray(0, 100);
    const fd = nodeFs.openSync(segment, 'r+');
    nodeFs.writeSync(fd, torn, 0, torn.byteLength, end);
    nodeFs.closeSync(fd);
    const messages: string[] = [];
    const restarted = open(fs, { preallocate: true, log: (m) => messages.push(m) }, dir);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain(`${segment} at offset ${end}`);
    expect(plain(restarted.boot.entries)).toEqual(plain(commands(1, 20, 1, 100)));
    restarted.close();
  });

  it('stops with STORAGE_CORRUPT_RECORD at a flipped bit followed by valid records', () => {
    const disk = new FaultyFileSystem();
    const storage = open(disk);
    const first = { hardState: hardState(1), reset: null, entries: commands(1, 5, 1) };
    storage.write({ snapshot: null, ...first });
    storage.write({ snapshot: null, hardState: null, entries: commands(6, 5, 1) });
    storage.write({ snapshot: null, hardState: null, entries: commands(11, 5, 1) });
    storage.close();
    const at = encodeRecord(first).byteLength;
    disk.flipBit(`${WAL_DIR}/0000000000000000.wal`, at + RECORD_HEADER_BYTES + 9, 2);
    expectStorageError(() => open(disk), 'STORAGE_CORRUPT_RECORD', { file: `${WAL_DIR}/0000000000000000.wal`, offset: at });
  });

  it('stops with STORAGE_MISSING_SEGMENT when a middle segment is missing', () => {
    const disk = new FaultyFileSystem();
    const storage = open(disk, { segmentBytes: 1024 });
    for (let i = 1; storage.walSegmentCount < 4; i++)
      storage.write({ snapshot: null, hardState: hardState(1), entries: [command(i, 1, 200)] });
    storage.close();
    disk.remove(`${WAL_DIR}/0000000000000002.wal`);
    disk.syncDir(WAL_DIR);
    const error = expectStorageError(() => open(disk, { segmentBytes: 1024 }), 'STORAGE_MISSING_SEGMENT', {
      file: `${WAL_DIR}/0000000000000003.wal`,
    });
    expect(error.message).toContain('0000000000000002.wal is missing');
  });
});

describe('DiskStorage snapshots and compaction', () => {
  it('deletes whole segments below a snapshot; a restart keeps the hard state, the snapshot and the entries after it', () => {
    const disk = new FaultyFileSystem();
    const options = { segmentBytes: 1024 };
    const storage = open(disk, options);
    // The only hard state ever written is in the first segment, which compaction deletes.
    storage.write({ snapshot: null, hardState: hardState(4, 1, 'n3'), entries: [command(1, 4, 60)] });
    for (let i = 2; i <= 100; i++) storage.write({ snapshot: null, hardState: null, entries: [command(i, 4, 60)] });
    storage.syncNow();
    const before = storage.walSegmentCount;
    expect(before).toBeGreaterThan(5);
    const snap = snapshot(80, 4, 5000);
    const source = storage.saveSnapshot(snap);
    expect(source.meta).toEqual(snap.meta);
    expect(Buffer.from(readAllSnapshot(source)).equals(Buffer.from(snap.data))).toBe(true);
    const after = storage.walSegmentCount;
    expect(after).toBeLessThan(before);
    expect(after).toBeGreaterThanOrEqual(1);
    expect(disk.list(WAL_DIR)).toHaveLength(after);
    expect(disk.exists(`${WAL_DIR}/0000000000000000.wal`)).toBe(false);
    // Crash without closing: compaction and the snapshot must already be durable.
    disk.crash(new SeededRandom(3), { torn: true });
    const boot = open(disk, options).boot;
    expect(boot.hardState).toEqual(hardState(4, 1, 'n3'));
    expect(boot.snapshot?.meta).toEqual(snap.meta);
    expect(Buffer.from(readAllSnapshot(boot.snapshot ?? source)).equals(Buffer.from(snap.data))).toBe(true);
    expect(plain(boot.entries)).toEqual(plain(Array.from({ length: 20 }, (_, i) => command(81 + i, 4, 60))));
  });

  it('keeps the hard state through compaction when a crash lost the copy a rotation carried forward', () => {
    // Regression: the hard state lived only in segment 0; its copy at the start of segment 1 was never synced
    // and was lost in a crash, so compacting segment 0 away used to forget the term and vote.
    const disk = new FaultyFileSystem();
    const options = { segmentBytes: 512 };
    const storage = open(disk, options);
    storage.write({ snapshot: null, hardState: hardState(7, 0, 'n2'), entries: commands(1, 3, 7, 80) });
    storage.syncNow();
    storage.write({ snapshot: null, hardState: null, entries: commands(4, 3, 7, 80) }); // rotates; not synced
    expect(storage.walSegmentCount).toBe(2);
    disk.crash(new SeededRandom(10), { torn: false });
    const restarted = open(disk, options);
    expect(restarted.boot.hardState).toEqual(hardState(7, 0, 'n2'));
    restarted.write({ snapshot: null, hardState: null, entries: commands(4, 1, 7, 80) });
    restarted.syncNow();
    restarted.saveSnapshot(snapshot(4, 7));
    expect(disk.exists(`${WAL_DIR}/0000000000000000.wal`)).toBe(false);
    disk.crash(new SeededRandom(11), { torn: true });
    const boot = open(disk, options).boot;
    expect(boot.hardState).toEqual(hardState(7, 0, 'n2'));
    expect(boot.snapshot?.meta.index).toBe(4);
  });

  it('keeps only the two newest snapshot files', () => {
    const disk = new FaultyFileSystem();
    const storage = open(disk);
    storage.write({ snapshot: null, hardState: hardState(1), entries: commands(1, 30, 1) });
    storage.syncNow();
    for (const index of [10, 20, 30]) storage.saveSnapshot(snapshot(index, 1));
    expect(disk.list(SNAP_DIR)).toEqual([
      path.basename(snapshotFile(DIR, { index: 20, term: 1 })),
      path.basename(snapshotFile(DIR, { index: 30, term: 1 })),
    ]);
    expect(open(disk).boot.snapshot?.meta.index).toBe(30);
  });

  it('resets the log when a leader snapshot is installed; a restart boots from it and the entries after it', async () => {
    const disk = new FaultyFileSystem();
    const storage = open(disk);
    storage.write({ snapshot: null, hardState: hardState(1), entries: commands(1, 10, 1) });
    await storage.sync();
    // The leader's snapshot is ahead of (and disagrees with) the local log.
    storage.write({ snapshot: snapshot(50, 3), hardState: hardState(3, 50, null), entries: [] });
    storage.write({ snapshot: null, hardState: null, entries: commands(51, 5, 3) });
    await storage.sync();
    disk.crash(new SeededRandom(4), { torn: true });
    const boot = open(disk).boot;
    expect(boot.snapshot?.meta.index).toBe(50);
    expect(boot.snapshot?.meta.term).toBe(3);
    expect(boot.hardState).toEqual(hardState(3, 50, null));
    expect(plain(boot.entries)).toEqual(plain(commands(51, 5, 3)));
  });

  it('repairs a crash between saving a leader snapshot and syncing its reset: the other history is dropped', () => {
    const disk = new FaultyFileSystem();
    const storage = open(disk);
    storage.write({ snapshot: null, hardState: hardState(1), entries: commands(1, 60, 1) });
    storage.syncNow();
    // Entry 50 has term 1 here, the leader's snapshot says term 3: a different history.
    storage.write({ snapshot: snapshot(50, 3), hardState: hardState(3), entries: [] });
    disk.crash(new SeededRandom(5), { torn: false });
    const first = open(disk);
    expect(first.boot.snapshot?.meta.index).toBe(50);
    expect(first.boot.entries).toEqual([]);
    // The record raising the term to 3 was lost with the reset: the node adopts the snapshot's term, unvoted.
    expect(first.boot.hardState).toEqual(hardState(3, 0, null));
    first.write({ snapshot: null, hardState: hardState(3), entries: commands(51, 2, 3) });
    first.syncNow();
    disk.crash(new SeededRandom(6), { torn: true });
    // The repair logged the reset, so the entries written after it connect on the next restart.
    const second = open(disk).boot;
    expect(second.snapshot?.meta.index).toBe(50);
    expect(plain(second.entries)).toEqual(plain(commands(51, 2, 3)));
    expect(second.hardState).toEqual(hardState(3));
  });

  it('keeps the entries after a leader snapshot that matches the local log when the reset was lost', () => {
    const disk = new FaultyFileSystem();
    const storage = open(disk);
    storage.write({ snapshot: null, hardState: hardState(2), entries: commands(1, 60, 2) });
    storage.syncNow();
    storage.write({ snapshot: snapshot(50, 2), hardState: null, entries: [] });
    disk.crash(new SeededRandom(7), { torn: false });
    const boot = open(disk).boot;
    expect(boot.snapshot?.meta.index).toBe(50);
    expect(plain(boot.entries)).toEqual(plain(commands(51, 10, 2)));
  });

  it('stops with STORAGE_SNAPSHOT_CORRUPT at a flipped bit in the snapshot data, naming file and offset', () => {
    const disk = new FaultyFileSystem();
    const storage = open(disk);
    storage.write({ snapshot: null, hardState: hardState(1), entries: commands(1, 10, 1) });
    storage.syncNow();
    const snap = snapshot(10, 1, 10_000);
    storage.saveSnapshot(snap);
    storage.close();
    const file = snapshotFile(DIR, snap.meta);
    const dataOffset = snapshotDataOffset(snap.meta);
    disk.flipBit(file, dataOffset + 7_000, 5);
    const error = expectStorageError(() => open(disk), 'STORAGE_SNAPSHOT_CORRUPT', { file, offset: dataOffset });
    expect(error.message).toContain('data checksum mismatch');
  });

  it('stops with STORAGE_SNAPSHOT_CORRUPT at a flipped bit in the snapshot header or meta', () => {
    for (const [flipAt, offset, reason] of [
      [3, 0, 'bad magic'],
      [17, 0, 'header checksum mismatch'],
      [SNAPSHOT_HEADER_BYTES + 1, SNAPSHOT_HEADER_BYTES, 'meta checksum mismatch'],
    ] as const) {
      const disk = new FaultyFileSystem();
      const storage = open(disk);
      storage.write({ snapshot: null, hardState: hardState(1), entries: commands(1, 10, 1) });
      storage.syncNow();
      storage.saveSnapshot(snapshot(10, 1));
      storage.close();
      const file = snapshotFile(DIR, { index: 10, term: 1 });
      disk.flipBit(file, flipAt, 1);
      const error = expectStorageError(() => open(disk), 'STORAGE_SNAPSHOT_CORRUPT', { file, offset });
      expect(error.message).toContain(reason);
    }
  });

  it('stops with STORAGE_SNAPSHOT_CORRUPT on a truncated snapshot file on the real disk', () => {
    const dir = tempDataDir();
    const fs = new NodeFileSystem();
    const storage = open(fs, {}, dir);
    storage.write({ snapshot: null, hardState: hardState(1), entries: commands(1, 10, 1) });
    storage.syncNow();
    storage.saveSnapshot(snapshot(10, 1, 4096));
    storage.close();
    const file = snapshotFile(dir, { index: 10, term: 1 });
    nodeFs.truncateSync(file, 2000);
    const error = expectStorageError(() => open(fs, {}, dir), 'STORAGE_SNAPSHOT_CORRUPT', { file, offset: 0 });
    expect(error.message).toContain('size 2000 does not match');
  });

  it('stops with STORAGE_SNAPSHOT_CORRUPT at a flipped bit in a real snapshot file', () => {
    const dir = tempDataDir();
    const fs = new NodeFileSystem();
    const storage = open(fs, {}, dir);
    storage.write({ snapshot: null, hardState: hardState(1), entries: commands(1, 10, 1) });
    storage.syncNow();
    const snap = snapshot(10, 1, 3 * 1024 * 1024); // spans several read chunks
    storage.saveSnapshot(snap);
    storage.close();
    const file = snapshotFile(dir, snap.meta);
    const bytes = nodeFs.readFileSync(file);
    const at = bytes.byteLength - 10;
    bytes[at] = (bytes[at] as number) ^ 0x80;
    nodeFs.writeFileSync(file, bytes);
    expectStorageError(() => open(fs, {}, dir), 'STORAGE_SNAPSHOT_CORRUPT', { file, offset: snapshotDataOffset(snap.meta) });
  });

  it('stops with STORAGE_SNAPSHOT_CORRUPT when the log was reset to a snapshot that is not on disk', () => {
    const disk = new FaultyFileSystem();
    const storage = open(disk);
    storage.write({ snapshot: snapshot(50, 3), hardState: hardState(3), entries: commands(51, 3, 3) });
    storage.syncNow();
    storage.close();
    disk.remove(snapshotFile(DIR, { index: 50, term: 3 }));
    disk.syncDir(SNAP_DIR);
    const error = expectStorageError(() => open(disk), 'STORAGE_SNAPSHOT_CORRUPT', { file: SNAP_DIR });
    expect(error.message).toContain('reset to a snapshot at 50');
  });

  it('stops with STORAGE_LOG_GAP when the snapshot under a compacted log is gone', () => {
    const disk = new FaultyFileSystem();
    const storage = open(disk, { segmentBytes: 1024 });
    for (let i = 1; i <= 60; i++) storage.write({ snapshot: null, hardState: hardState(1), entries: [command(i, 1, 60)] });
    storage.syncNow();
    storage.saveSnapshot(snapshot(50, 1));
    storage.close();
    for (const name of disk.list(SNAP_DIR)) disk.remove(`${SNAP_DIR}/${name}`);
    disk.syncDir(SNAP_DIR);
    const error = expectStorageError(() => open(disk, { segmentBytes: 1024 }), 'STORAGE_LOG_GAP', { file: WAL_DIR });
    expect(error.message).toContain('the snapshot ends at 0');
  });
});

describe('DiskStorage group commit', () => {
  it('makes many writes durable with one sync call and one fsync', async () => {
    const disk = new FaultyFileSystem();
    const storage = open(disk);
    storage.write({ snapshot: null, hardState: hardState(1), entries: [command(1, 1)] }); // creates the first segment
    const before = disk.syncCount;
    for (let i = 2; i <= 100; i++) storage.write({ snapshot: null, hardState: null, entries: [command(i, 1)] });
    expect(disk.syncCount).toBe(before);
    await storage.sync();
    expect(disk.syncCount).toBe(before + 1);
    disk.crash(new SeededRandom(8), { torn: true });
    expect(open(disk).boot.entries.map((e) => e.index)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  it('shares fsyncs between concurrent sync() calls: the ones arriving during a sync share the next', async () => {
    const disk = new FaultyFileSystem();
    const storage = open(disk);
    storage.write({ snapshot: null, hardState: hardState(1), entries: [command(1, 1)] }); // creates the first segment
    const before = disk.syncCount;
    const p1 = storage.sync();
    storage.write({ snapshot: null, hardState: null, entries: [command(2, 1)] });
    const p2 = storage.sync();
    storage.write({ snapshot: null, hardState: null, entries: [command(3, 1)] });
    const p3 = storage.sync();
    expect(p3).toBe(p2);
    expect(p2).not.toBe(p1);
    await Promise.all([p1, p2, p3]);
    expect(disk.syncCount).toBe(before + 2);
    // Ten writers at once: the first starts an fsync, the other nine share one more.
    const writers = Array.from({ length: 10 }, async (_, i) => {
      storage.write({ snapshot: null, hardState: null, entries: [command(4 + i, 1)] });
      await storage.sync();
    });
    await Promise.all(writers);
    expect(disk.syncCount).toBe(before + 4);
    disk.crash(new SeededRandom(9), { torn: true });
    expect(open(disk).boot.entries.map((e) => e.index)).toEqual(Array.from({ length: 13 }, (_, i) => i + 1));
  });

  it('on the real disk, concurrent writers awaiting sync() share fdatasyncs and all become durable', async () => {
    const dir = tempDataDir();
    const fs = new CountingFileSystem(new NodeFileSystem());
    const storage = open(fs, { preallocate: true }, dir);
    storage.write({ snapshot: null, hardState: hardState(1), entries: [] });
    await storage.sync();
    const before = fs.fileSyncs;
    const writersCount = 32;
    const roundsCount = 5;
    let next = 1;
    const writer = async (): Promise<void> => {
      for (let round = 0; round < roundsCount; round++) {
        storage.write({ snapshot: null, hardState: null, entries: [command(next++, 1, 100)] });
        await storage.sync();
      }
    };
    await Promise.all(Array.from({ length: writersCount }, writer));
    const fsyncs = fs.fileSyncs - before;
    expect(fsyncs).toBeGreaterThan(0);
    // Writers share fsyncs: in lockstep a round of 32 writes needs two (the one running and the one they share),
    // but on a loaded machine the writers drift apart and rounds overlap (12 for 5 rounds was seen in CI), so the
    // bound asserts sharing, a quarter of one fsync per write at most, not the scheduling of this run.
    expect(fsyncs).toBeLessThanOrEqual((writersCount * roundsCount) / 4);
    storage.close();
    const boot = open(new NodeFileSystem(), { preallocate: true }, dir).boot;
    expect(boot.entries.map((e) => e.index)).toEqual(Array.from({ length: writersCount * roundsCount }, (_, i) => i + 1));
  });

  it('rejects sync() after close with STORAGE_CLOSED', async () => {
    const storage = open(new FaultyFileSystem());
    storage.write({ snapshot: null, hardState: hardState(1), entries: [command(1, 1)] });
    storage.close();
    await expect(storage.sync()).rejects.toMatchObject({ code: 'STORAGE_CLOSED' });
  });
});

describe('docs/STORAGE.md', () => {
  it('documents every StorageError code, and no other', () => {
    const codes = [...STORAGE_ERROR_CODES].sort();
    expect(codes.length).toBeGreaterThanOrEqual(7);
    const doc = nodeFs.readFileSync(STORAGE_DOC, 'utf8');
    const documented = [...doc.matchAll(/^\| `(STORAGE_[A-Z_]+)` \|/gm)].map((m) => m[1] as string).sort();
    expect(documented).toEqual(codes);
  });
});
