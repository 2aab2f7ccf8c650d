// A sick disk (issue 18, item 1): the fault-injecting file system on its own, then a node on it: a full disk
// refuses writes with DISK_FULL, corrupts nothing and takes writes again once space returns; an ENOSPC that
// gets through anyway crashes the node, which recovers every acknowledged entry from its disk.
import { describe, expect, it } from 'vitest';
import { DISK_CHECK_TICKS, RaftNode, type NodeRuntime } from '../../src/node/raft-node.js';
import type { ProposeOutcome } from '../../src/protocol/node.js';
import { SeededRandom } from '../../src/raft/random.js';
import { DiskStorage } from '../../src/storage/disk-storage.js';
import { FaultInjectingFileSystem } from '../../src/storage/disk-faults.js';
import { FaultyFileSystem } from '../../src/storage/faulty-file-system.js';
import { walWrittenBytes } from '../../src/storage/wal.js';
import { CounterStateMachine } from '../support/counter-state-machine.js';
import { storageErrorOf } from '../support/entries.js';

const DIR = '/data';
const MEMBERS = { voters: ['n1'], learners: [] };

function errorCode(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('the fault-injecting file system', () => {
  it('fails the next fsyncs and writes it is told to with EIO, then passes them through', async () => {
    const disk = new FaultInjectingFileSystem(new FaultyFileSystem());
    disk.mkdirp(DIR);
    const file = disk.open(`${DIR}/f`, { create: true });
    disk.set({ syncErrors: 2, writeErrors: 1 });
    expect(errorCode(() => file.write(Uint8Array.of(1), 0))).toBe('EIO');
    file.write(Uint8Array.of(1), 0);
    expect(errorCode(() => file.sync())).toBe('EIO');
    await expect(file.syncAsync()).rejects.toMatchObject({ code: 'EIO' });
    file.sync();
    await file.syncAsync();
    expect(disk.injected).toMatchObject({ syncErrors: 2, writeErrors: 1 });
    expect(disk.current).toMatchObject({ syncErrors: 0, writeErrors: 0 });
  });

  it('holds a stalled fsync until the stall is lifted, and counts it', async () => {
    const disk = new FaultInjectingFileSystem(new FaultyFileSystem());
    disk.mkdirp(DIR);
    const file = disk.open(`${DIR}/f`, { create: true });
    file.write(Uint8Array.of(1), 0);
    disk.set({ syncDelayMs: 3_600_000 });
    const sync = file.syncAsync();
    expect(await settled(sync)).toBe(false);
    disk.set({ syncDelayMs: 0 });
    await sync;
    expect(disk.injected.syncsDelayed).toBe(1);
  });

  it('counts space by what grows files, fails the write that does not fit after writing what does, and gives space back', () => {
    const faulty = new FaultyFileSystem();
    const disk = new FaultInjectingFileSystem(faulty);
    disk.mkdirp(DIR);
    const file = disk.open(`${DIR}/f`, { create: true });
    file.write(new Uint8Array(100).fill(7), 0);
    disk.set({ spaceBytes: 50 });
    expect(disk.freeBytes(DIR)).toBe(50);
    file.write(new Uint8Array(100).fill(8), 0); // an overwrite takes nothing
    file.write(new Uint8Array(30).fill(9), 100);
    expect(disk.freeBytes(DIR)).toBe(20);
    expect(errorCode(() => file.write(new Uint8Array(30).fill(5), 130))).toBe('ENOSPC');
    expect(file.size()).toBe(150);
    expect([...faulty.readFile(`${DIR}/f`).subarray(128, 150)]).toEqual(new Array<number>(22).fill(5).map((v, i) => (i < 2 ? 9 : v)));
    expect(disk.freeBytes(DIR)).toBe(0);
    expect(errorCode(() => disk.open(`${DIR}/g`, { create: true }))).toBe('ENOSPC');
    disk.remove(`${DIR}/f`);
    expect(disk.freeBytes(DIR)).toBe(150);
    expect(disk.injected.noSpace).toBe(2);
  });

  it('loses renames when told to', () => {
    const disk = new FaultInjectingFileSystem(new FaultyFileSystem());
    disk.mkdirp(DIR);
    disk.open(`${DIR}/a`, { create: true }).write(Uint8Array.of(1), 0);
    disk.set({ loseRenames: true });
    disk.rename(`${DIR}/a`, `${DIR}/b`);
    expect([disk.exists(`${DIR}/a`), disk.exists(`${DIR}/b`)]).toEqual([true, false]);
    disk.set({ loseRenames: false });
    disk.rename(`${DIR}/a`, `${DIR}/b`);
    expect([disk.exists(`${DIR}/a`), disk.exists(`${DIR}/b`)]).toEqual([false, true]);
    expect(disk.injected.renamesLost).toBe(1);
  });
});

/** A single-voter node on DiskStorage over a faulty disk, its turns and syncs run by hand. */
function nodeOnSickDisk(faulty = new FaultyFileSystem()) {
  const disk = new FaultInjectingFileSystem(faulty);
  const storage = DiskStorage.open(disk, DIR, { initialMembership: MEMBERS, segmentBytes: 4096 });
  const tasks: (() => void)[] = [];
  const runtime: NodeRuntime = {
    schedule: (task) => void tasks.push(task),
    sync: (s, done) => {
      s.syncNow();
      tasks.push(() => done(null));
    },
  };
  const events: unknown[] = [];
  const node = new RaftNode(
    { core: { id: 'n1', random: new SeededRandom(3), electionTicks: 3, heartbeatTicks: 1 }, limits: { diskFreeBytesMin: 10_000 } },
    storage,
    new CounterStateMachine(),
    { send: () => {}, flush: () => {}, emit: (event) => void events.push(event) },
    runtime,
  );
  const run = (): void => {
    for (let turns = 0; turns < 1000 && tasks.length > 0; turns++) (tasks.shift() as () => void)();
  };
  const ticks = (count: number): void => {
    for (let i = 0; i < count; i++) {
      node.tick();
      run();
    }
  };
  const propose = (text: string): ProposeOutcome => {
    let outcome: ProposeOutcome | null = null;
    node.submit([new TextEncoder().encode(text)], (o) => (outcome = o));
    run();
    if (outcome === null) throw new Error('no answer');
    return outcome;
  };
  ticks(10);
  expect(node.status().role).toBe('leader');
  return { faulty, disk, storage, node, ticks, propose, events };
}

function recoveredCommands(faulty: FaultyFileSystem): number {
  const storage = DiskStorage.open(faulty, DIR, { initialMembership: MEMBERS, segmentBytes: 4096 });
  const count = storage.boot.entries.filter((entry) => entry.type === 'command').length;
  storage.close();
  return count;
}

describe('a node on a full disk', () => {
  it('refuses writes with DISK_FULL, corrupts nothing, and takes writes again once it has twice diskFreeBytesMin', () => {
    const { faulty, disk, node, ticks, propose, events } = nodeOnSickDisk();
    expect(propose('before')).toMatchObject({ ok: true });
    disk.set({ spaceBytes: 5_000 });
    ticks(DISK_CHECK_TICKS);
    const lastIndex = node.status().lastIndex;
    const refused = propose('refused');
    expect(refused).toMatchObject({ ok: false, code: 'DISK_FULL', definite: true });
    expect(node.status()).toMatchObject({ diskFull: true, diskFreeBytes: 5_000, lastIndex });
    // Space comes back, but not yet twice the minimum: still refused (no flapping at the edge).
    disk.set({ spaceBytes: 15_000 });
    ticks(DISK_CHECK_TICKS);
    expect(propose('still refused')).toMatchObject({ ok: false, code: 'DISK_FULL' });
    disk.set({ spaceBytes: null });
    ticks(DISK_CHECK_TICKS);
    expect(propose('after')).toMatchObject({ ok: true });
    expect(events.filter((e) => (e as { type: string }).type === 'disk')).toMatchObject([{ full: true }, { full: false }]);
    node.stop();
    expect(recoveredCommands(faulty)).toBe(2);
  });

  it('crashes on an ENOSPC that gets past the check, and recovers every acknowledged entry from its disk', () => {
    const { faulty, disk, node, propose } = nodeOnSickDisk();
    let acknowledged = 0;
    for (let i = 0; i < 5; i++) if (propose(`w${i}`).ok) acknowledged++;
    // The check sees the real disk's room; then the disk fills at once, under a segment's preallocation.
    disk.set({ spaceBytes: 100 });
    let crash: unknown = null;
    for (let i = 0; i < 200 && crash === null; i++) {
      try {
        if (propose(`x${i}`.padEnd(200, '.')).ok) acknowledged++;
      } catch (error) {
        crash = error;
      }
    }
    expect(crash).toMatchObject({ code: 'ENOSPC' });
    faulty.crash(new SeededRandom(9), { torn: true });
    expect(recoveredCommands(faulty)).toBeGreaterThanOrEqual(acknowledged);
    expect(node.status().role).toBe('leader');
  });
});

describe('a lost rename', () => {
  it('loses the newest snapshot under a compacted log, which the next start reports instead of booting without it', () => {
    const faulty = new FaultyFileSystem();
    const disk = new FaultInjectingFileSystem(faulty);
    const storage = DiskStorage.open(disk, DIR, { initialMembership: MEMBERS, segmentBytes: 512 });
    for (let i = 1; i <= 60; i++) {
      const entry = { type: 'command' as const, index: i, term: 1, data: new Uint8Array(40).fill(i) };
      storage.write({ snapshot: null, hardState: { term: 1, votedFor: 'n1', commitIndex: i }, entries: [entry] });
    }
    storage.syncNow();
    disk.set({ loseRenames: true });
    storage.saveSnapshot({ meta: { index: 50, term: 1, membership: MEMBERS }, data: new Uint8Array(64).fill(3) });
    storage.close();
    expect(disk.injected.renamesLost).toBe(1);
    expect(faulty.list(`${DIR}/snap`).some((name) => name.endsWith('.snap'))).toBe(false);
    const error = storageErrorOf(() => DiskStorage.open(faulty, DIR, { initialMembership: MEMBERS, segmentBytes: 512 }));
    expect(['STORAGE_LOG_GAP', 'STORAGE_SNAPSHOT_CORRUPT']).toContain(error.code);
  });
});

describe('rot at rest', () => {
  it('a flipped bit or a cut in the WAL or in a snapshot stops the node at its next start, naming the file', () => {
    for (const [target, kind, code] of [
      ['wal', 'flip', 'STORAGE_CORRUPT_RECORD'],
      ['wal', 'truncate', 'STORAGE_CORRUPT_RECORD'],
      ['snapshot', 'flip', 'STORAGE_SNAPSHOT_CORRUPT'],
      ['snapshot', 'truncate', 'STORAGE_SNAPSHOT_CORRUPT'],
    ] as const) {
      const faulty = new FaultyFileSystem();
      const disk = new FaultInjectingFileSystem(faulty);
      const storage = DiskStorage.open(disk, DIR, { initialMembership: MEMBERS, segmentBytes: 4096 });
      const entries = Array.from({ length: 20 }, (_, i) => ({ type: 'command' as const, index: i + 1, term: 1, data: Uint8Array.of(i) }));
      storage.write({ snapshot: null, hardState: { term: 1, votedFor: 'n1', commitIndex: 20 }, entries });
      storage.syncNow();
      storage.saveSnapshot({ meta: { index: 10, term: 1, membership: MEMBERS }, data: new Uint8Array(64).fill(3) });
      storage.close();
      const report =
        target === 'wal'
          ? disk.rot(`${DIR}/wal`, '.wal', kind, new SeededRandom(4), walWrittenBytes)
          : disk.rot(`${DIR}/snap`, '.snap', kind, new SeededRandom(4));
      const error = storageErrorOf(() => DiskStorage.open(faulty, DIR, { initialMembership: MEMBERS, segmentBytes: 4096 }));
      expect(error.code, `${target} ${kind}`).toBe(code);
      expect(error.file).toBe(target === 'wal' ? report.file : report.file);
      if (target === 'wal') expect(error.offset).toBeLessThanOrEqual(report.offset);
    }
  });
});
