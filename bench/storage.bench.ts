// Benchmark of durable storage on the real disk, against the disk's own limit.
//
//   npx tsx bench/storage.bench.ts [--seconds 2] [--warmup-seconds 0.3] [--replay-entries 1000000]
//                                  [--writers 1,4,16,64] [--slice-seconds 0.25] [--dir /tmp] [--held-writes-only]
//
// 1. The disk: fdatasyncs per second of a plain file (4 KiB overwrites of preallocated blocks, then fdatasync),
//    blocking and through libuv's thread pool. This is the physical limit every durable append pays.
// 2. Appends: DiskStorage write() of one batch, then await sync(), in a loop, for batches of 1, 16 and 256
//    entries of 100 B and 4 KiB. Reported as entries/s, syncs/s and syncs/s as a share of the disk's limit.
// 3. Group commit: N concurrent writers, each writing one 100 B entry and awaiting sync(), in a loop: entries
//    per fdatasync shows how many writers share one.
// 4. Replay: DiskStorage.open (full recovery) of a log of 1,000,000 entries of 100 B: MB/s and entries/s.
//    The log was just written, so it is read from the page cache: this is the CPU cost of recovery.
// 5. Held writes: what holding unsynced writes in the process until sync costs (NodeFileSystem's default, so
//    that a kill loses them), against plain writes handed to the OS at once: the same write-then-sync loops
//    on two storages side by side, in alternating slices, on the disk with fdatasync and without fsync (as a
//    --memory cluster runs). entries/s of each and the process's CPU per entry. --held-writes-only runs just
//    this (its results go to results/storage-held-writes.json).
// Cases 1 to 4 use NodeFileSystem's default: writes held until sync.
// Each case runs in short slices, each after a raw fdatasync window as long, and its ratio divides by the raw
// rate of those windows: this disk's speed drifts by a factor of two or more within a minute, so a limit
// measured once at the start would not be comparable. The long measurement is repeated at the end.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Entry, Membership } from '../src/raft/types.js';
import { DiskStorage } from '../src/storage/disk-storage.js';
import { NodeFileSystem } from '../src/storage/file-system.js';
import { WAL_DEFAULTS } from '../src/storage/wal.js';
import { CountingFileSystem } from '../test/support/counting-file-system.js';
import { describeMachine, formatRate, machineFields, positiveIntegers, positiveNumber, printTable, writeResults } from './bench-util.js';
import { distribution } from './lib/stats.js';

const RESULTS_PATH = fileURLToPath(new URL('./results/storage.json', import.meta.url));
const HELD_WRITES_RESULTS_PATH = fileURLToPath(new URL('./results/storage-held-writes.json', import.meta.url));
const MEMBERSHIP: Membership = { voters: ['n1', 'n2', 'n3'], learners: [] };
const RAW_BLOCK_BYTES = 4096;
const RAW_FILE_BYTES = 64 * 1024 * 1024;
const BATCH_SIZES = [1, 16, 256] as const;
const ENTRY_SIZES_BYTES = [100, 4096] as const;
const GROUP_ENTRY_BYTES = 100;
const REPLAY_ENTRY_BYTES = 100;
const REPLAY_WRITE_BATCH_ENTRIES = 1000;
const REPLAY_RUNS = 3;
const HELD_ENTRY_BYTES = 100;
/** The held-writes cases: one writer with batches of these sizes, then many writers of one entry each. */
const HELD_CASES: readonly { readonly writers: number; readonly batchEntries: number }[] = [
  { writers: 1, batchEntries: 1 },
  { writers: 1, batchEntries: 16 },
  { writers: 1, batchEntries: 256 },
  { writers: 16, batchEntries: 1 },
];

interface BenchOptions {
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly replayEntries: number;
  readonly writers: readonly number[];
  readonly dir: string;
  /** A case runs in slices this long, each after a raw fdatasync window as long (half blocking, half async). */
  readonly sliceSeconds: number;
  /** Run only case 5, held writes against plain ones. */
  readonly heldWritesOnly: boolean;
}

interface RawResult {
  readonly fdatasyncPerSecondBlocking: number;
  readonly fdatasyncPerSecondAsync: number;
}

interface AppendResult {
  readonly batchEntries: number;
  readonly entryBytes: number;
  readonly seconds: number;
  readonly entriesPerSecond: number;
  /** One sync() per batch. */
  readonly syncsPerSecond: number;
  /** fdatasyncs actually issued per second (the syncs plus those of segment rotation). */
  readonly fdatasyncsPerSecond: number;
  readonly megabytesPerSecond: number;
  /** The disk's raw fdatasync/s measured in windows interleaved with this case. */
  readonly diskLimit: number;
  /** syncs/s divided by the disk's raw fdatasync/s beside it. */
  readonly ratioToDiskLimit: number;
}

interface GroupCommitResult {
  readonly writers: number;
  readonly seconds: number;
  readonly entriesPerSecond: number;
  readonly fdatasyncsPerSecond: number;
  readonly entriesPerFdatasync: number;
  readonly diskLimit: number;
  /** fdatasync/s divided by the disk's raw fdatasync/s beside it. */
  readonly ratioToDiskLimit: number;
}

interface ReplayResult {
  readonly entries: number;
  readonly entryBytes: number;
  readonly segments: number;
  /** Bytes of the segment files read (preallocated segments are read whole). */
  readonly fileBytes: number;
  readonly writeSeconds: number;
  readonly replaySecondsBest: number;
  readonly replaySecondsMedian: number;
  readonly entriesPerSecond: number;
  /** File bytes read per second (best run). */
  readonly megabytesPerSecond: number;
  /** Entry payload bytes recovered per second (best run). */
  readonly payloadMegabytesPerSecond: number;
}

function readOptions(): BenchOptions {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '2' },
      'warmup-seconds': { type: 'string', default: '0.3' },
      'replay-entries': { type: 'string', default: '1000000' },
      writers: { type: 'string', default: '1,4,16,64' },
      dir: { type: 'string', default: os.tmpdir() },
      'slice-seconds': { type: 'string', default: '0.25' },
      'held-writes-only': { type: 'boolean', default: false },
    },
  });
  return {
    seconds: positiveNumber('seconds', values.seconds),
    warmupSeconds: Number(values['warmup-seconds'] ?? 0),
    replayEntries: Math.floor(positiveNumber('replay-entries', values['replay-entries'])),
    writers: positiveIntegers('writers', values.writers),
    dir: values.dir ?? os.tmpdir(),
    sliceSeconds: positiveNumber('slice-seconds', values['slice-seconds']),
    heldWritesOnly: values['held-writes-only'] === true,
  };
}

function makeEntries(first: number, count: number, sizeBytes: number): Entry[] {
  const data = new Uint8Array(sizeBytes).fill(0x5a);
  return Array.from({ length: count }, (_, i) => ({ type: 'command', index: first + i, term: 1, data }));
}

function freshDir(root: string, name: string): string {
  const dir = path.join(root, name);
  fs.rmSync(dir, { recursive: true, force: true });
  return dir;
}

/** A preallocated plain file on the same disk: 4 KiB overwrites, each followed by fdatasync. */
class RawDisk {
  private readonly fd: number;
  private offset = 0;
  private readonly block = Buffer.alloc(RAW_BLOCK_BYTES, 0xa5);

  constructor(private readonly file: string) {
    this.fd = fs.openSync(file, 'w+');
    const zeros = Buffer.alloc(1024 * 1024);
    for (let offset = 0; offset < RAW_FILE_BYTES; offset += zeros.byteLength) fs.writeSync(this.fd, zeros, 0, zeros.byteLength, offset);
    fs.fsyncSync(this.fd);
  }

  /** fdatasync/s, blocking and through the thread pool, each measured for `seconds`. */
  async measure(seconds: number): Promise<RawResult> {
    let count = 0;
    let start = performance.now();
    while (performance.now() - start < seconds * 1000) {
      this.writeNext();
      fs.fdatasyncSync(this.fd);
      count++;
    }
    const blocking = count / ((performance.now() - start) / 1000);
    count = 0;
    start = performance.now();
    while (performance.now() - start < seconds * 1000) {
      this.writeNext();
      await new Promise<void>((resolve, reject) => fs.fdatasync(this.fd, (error) => (error ? reject(error) : resolve())));
      count++;
    }
    const async = count / ((performance.now() - start) / 1000);
    return { fdatasyncPerSecondBlocking: blocking, fdatasyncPerSecondAsync: async };
  }

  close(): void {
    fs.closeSync(this.fd);
    fs.rmSync(this.file, { force: true });
  }

  private writeNext(): void {
    fs.writeSync(this.fd, this.block, 0, this.block.byteLength, this.offset);
    this.offset = (this.offset + RAW_BLOCK_BYTES) % RAW_FILE_BYTES;
  }
}

/**
 * Runs a case in slices of `sliceSeconds`, each preceded by a raw fdatasync window of the same length (half
 * blocking, half through the thread pool), so case and disk limit are measured side by side under the same
 * drift. The limit is the better of the two raw rates, averaged over the windows.
 */
async function beside(disk: RawDisk, options: BenchOptions, runSlice: (seconds: number) => Promise<void>): Promise<number> {
  const slices = Math.max(1, Math.round(options.seconds / options.sliceSeconds));
  let blocking = 0;
  let async = 0;
  for (let i = 0; i < slices; i++) {
    const raw = await disk.measure(options.sliceSeconds / 2);
    blocking += raw.fdatasyncPerSecondBlocking / slices;
    async += raw.fdatasyncPerSecondAsync / slices;
    await runSlice(options.sliceSeconds);
  }
  return Math.max(blocking, async);
}

async function measureAppends(
  root: string,
  options: BenchOptions,
  batchEntries: number,
  entryBytes: number,
  disk: RawDisk,
): Promise<AppendResult> {
  const dir = freshDir(root, `append-${batchEntries}-${entryBytes}`);
  const counting = new CountingFileSystem(new NodeFileSystem());
  const storage = DiskStorage.open(counting, dir, { initialMembership: MEMBERSHIP });
  let next = 1;
  const run = { batches: 0, seconds: 0, fileSyncs: 0 };
  const runFor = async (seconds: number): Promise<void> => {
    const syncsBefore = counting.fileSyncs;
    const start = performance.now();
    while (performance.now() - start < seconds * 1000) {
      storage.write({ snapshot: null, hardState: null, entries: makeEntries(next, batchEntries, entryBytes) });
      next += batchEntries;
      await storage.sync();
      run.batches++;
    }
    run.seconds += (performance.now() - start) / 1000;
    run.fileSyncs += counting.fileSyncs - syncsBefore;
  };
  storage.write({ snapshot: null, hardState: { term: 1, votedFor: 'n1', commitIndex: 0 }, entries: [] });
  await runFor(options.warmupSeconds);
  Object.assign(run, { batches: 0, seconds: 0, fileSyncs: 0 });
  const diskLimit = await beside(disk, options, runFor);
  storage.close();
  fs.rmSync(dir, { recursive: true, force: true });
  const syncsPerSecond = run.batches / run.seconds;
  const entriesPerSecond = (run.batches * batchEntries) / run.seconds;
  return {
    batchEntries,
    entryBytes,
    seconds: run.seconds,
    entriesPerSecond,
    syncsPerSecond,
    fdatasyncsPerSecond: run.fileSyncs / run.seconds,
    megabytesPerSecond: (entriesPerSecond * entryBytes) / 1e6,
    diskLimit,
    ratioToDiskLimit: syncsPerSecond / diskLimit,
  };
}

async function measureGroupCommit(root: string, options: BenchOptions, writers: number, disk: RawDisk): Promise<GroupCommitResult> {
  const dir = freshDir(root, `group-${writers}`);
  const counting = new CountingFileSystem(new NodeFileSystem());
  const storage = DiskStorage.open(counting, dir, { initialMembership: MEMBERSHIP });
  storage.write({ snapshot: null, hardState: { term: 1, votedFor: 'n1', commitIndex: 0 }, entries: [] });
  await storage.sync();
  let next = 1;
  let entries = 0;
  let seconds = 0;
  let fileSyncs = 0;
  const runFor = async (sliceSeconds: number): Promise<void> => {
    const syncsBefore = counting.fileSyncs;
    const start = performance.now();
    const deadline = start + sliceSeconds * 1000;
    const writer = async (): Promise<void> => {
      while (performance.now() < deadline) {
        storage.write({ snapshot: null, hardState: null, entries: makeEntries(next++, 1, GROUP_ENTRY_BYTES) });
        await storage.sync();
        entries++;
      }
    };
    await Promise.all(Array.from({ length: writers }, writer));
    seconds += (performance.now() - start) / 1000;
    fileSyncs += counting.fileSyncs - syncsBefore;
  };
  await runFor(options.warmupSeconds);
  [entries, seconds, fileSyncs] = [0, 0, 0];
  const diskLimit = await beside(disk, options, runFor);
  storage.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return {
    writers,
    seconds,
    entriesPerSecond: entries / seconds,
    fdatasyncsPerSecond: fileSyncs / seconds,
    entriesPerFdatasync: entries / Math.max(1, fileSyncs),
    diskLimit,
    ratioToDiskLimit: fileSyncs / seconds / diskLimit,
  };
}

function measureReplay(root: string, entryCount: number): ReplayResult {
  const dir = freshDir(root, 'replay');
  const fsys = new NodeFileSystem();
  let start = performance.now();
  const storage = DiskStorage.open(fsys, dir, { initialMembership: MEMBERSHIP });
  storage.write({ snapshot: null, hardState: { term: 1, votedFor: 'n1', commitIndex: 0 }, entries: [] });
  for (let first = 1; first <= entryCount; first += REPLAY_WRITE_BATCH_ENTRIES) {
    const count = Math.min(REPLAY_WRITE_BATCH_ENTRIES, entryCount - first + 1);
    storage.write({ snapshot: null, hardState: null, entries: makeEntries(first, count, REPLAY_ENTRY_BYTES) });
  }
  storage.close();
  const writeSeconds = (performance.now() - start) / 1000;
  const walDir = path.join(dir, 'wal');
  const segmentNames = fs.readdirSync(walDir);
  const fileBytes = segmentNames.reduce((sum, name) => sum + fs.statSync(path.join(walDir, name)).size, 0);
  const times: number[] = [];
  for (let run = 0; run < REPLAY_RUNS; run++) {
    start = performance.now();
    const recovered = DiskStorage.open(fsys, dir, { initialMembership: MEMBERSHIP });
    const seconds = (performance.now() - start) / 1000;
    const last = recovered.boot.entries[recovered.boot.entries.length - 1];
    if (recovered.boot.entries.length !== entryCount || last?.index !== entryCount) {
      throw new Error(`replay recovered ${recovered.boot.entries.length} entries, expected ${entryCount}`);
    }
    recovered.close();
    times.push(seconds);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  const replaySeconds = distribution(times);
  const best = replaySeconds.min;
  return {
    entries: entryCount,
    entryBytes: REPLAY_ENTRY_BYTES,
    segments: segmentNames.length,
    fileBytes,
    writeSeconds,
    replaySecondsBest: best,
    replaySecondsMedian: replaySeconds.p50,
    entriesPerSecond: entryCount / best,
    megabytesPerSecond: fileBytes / best / 1e6,
    payloadMegabytesPerSecond: (entryCount * REPLAY_ENTRY_BYTES) / best / 1e6,
  };
}

interface HeldWritesSide {
  readonly entriesPerSecond: number;
  /** The whole process's CPU (user + system) per entry, fdatasync's thread included. */
  readonly cpuMicrosecondsPerEntry: number;
}

interface HeldWritesResult {
  readonly writers: number;
  readonly batchEntries: number;
  readonly entryBytes: number;
  /** fdatasync on the disk, or none (files in /dev/shm, as a --memory cluster keeps them). */
  readonly durable: boolean;
  readonly plain: HeldWritesSide;
  readonly held: HeldWritesSide;
  /** held entries/s over plain entries/s. */
  readonly throughputRatio: number;
}

/** One storage of the comparison: `writers` loops of write(batch) then await sync(), a slice at a time. */
class WriteSyncLoop {
  private next = 1;
  private entries = 0;
  private seconds = 0;
  private cpuMicroseconds = 0;

  constructor(
    private readonly storage: DiskStorage,
    private readonly writers: number,
    private readonly batchEntries: number,
  ) {}

  async runFor(sliceSeconds: number): Promise<void> {
    const cpuBefore = process.cpuUsage();
    const start = performance.now();
    const deadline = start + sliceSeconds * 1000;
    const writer = async (): Promise<void> => {
      while (performance.now() < deadline) {
        this.storage.write({ snapshot: null, hardState: null, entries: makeEntries(this.next, this.batchEntries, HELD_ENTRY_BYTES) });
        this.next += this.batchEntries;
        await this.storage.sync();
        this.entries += this.batchEntries;
      }
    };
    await Promise.all(Array.from({ length: this.writers }, writer));
    this.seconds += (performance.now() - start) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    this.cpuMicroseconds += cpu.user + cpu.system;
  }

  reset(): void {
    [this.entries, this.seconds, this.cpuMicroseconds] = [0, 0, 0];
  }

  result(): HeldWritesSide {
    return { entriesPerSecond: this.entries / this.seconds, cpuMicrosecondsPerEntry: this.cpuMicroseconds / Math.max(1, this.entries) };
  }
}

/**
 * Plain writes against writes held until sync, on two storages in folders of the same file system, run in
 * alternating slices (plain first, then held first) so that drift of the disk and of the machine's other load
 * falls on both alike.
 */
async function measureHeldWrites(
  root: string,
  options: BenchOptions,
  durable: boolean,
  writers: number,
  batchEntries: number,
): Promise<HeldWritesResult> {
  const open = (bufferUnsynced: boolean): { loop: WriteSyncLoop; storage: DiskStorage; dir: string } => {
    const dir = freshDir(root, `held-${bufferUnsynced ? 'held' : 'plain'}-${durable ? 'disk' : 'memory'}-${writers}-${batchEntries}`);
    const storage = DiskStorage.open(new NodeFileSystem({ durable, bufferUnsynced }), dir, { initialMembership: MEMBERSHIP });
    storage.write({ snapshot: null, hardState: { term: 1, votedFor: 'n1', commitIndex: 0 }, entries: [] });
    return { loop: new WriteSyncLoop(storage, writers, batchEntries), storage, dir };
  };
  const plain = open(false);
  const held = open(true);
  try {
    await plain.loop.runFor(options.warmupSeconds);
    await held.loop.runFor(options.warmupSeconds);
    plain.loop.reset();
    held.loop.reset();
    const slices = Math.max(2, Math.round(options.seconds / options.sliceSeconds));
    for (let i = 0; i < slices; i++) {
      const order = i % 2 === 0 ? [plain, held] : [held, plain];
      for (const side of order) await side.loop.runFor(options.sliceSeconds);
    }
  } finally {
    for (const side of [plain, held]) {
      side.storage.close();
      fs.rmSync(side.dir, { recursive: true, force: true });
    }
  }
  const plainResult = plain.loop.result();
  const heldResult = held.loop.result();
  return {
    writers,
    batchEntries,
    entryBytes: HELD_ENTRY_BYTES,
    durable,
    plain: plainResult,
    held: heldResult,
    throughputRatio: heldResult.entriesPerSecond / plainResult.entriesPerSecond,
  };
}

/** Case 5 on the disk (`root`) and without fsync (in /dev/shm where there is one). */
async function measureAllHeldWrites(root: string, options: BenchOptions): Promise<HeldWritesResult[]> {
  const memoryRoot = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'raftkv-storage-bench-'));
  const results: HeldWritesResult[] = [];
  try {
    for (const durable of [true, false]) {
      for (const { writers, batchEntries } of HELD_CASES) {
        results.push(await measureHeldWrites(durable ? root : memoryRoot, options, durable, writers, batchEntries));
      }
    }
  } finally {
    fs.rmSync(memoryRoot, { recursive: true, force: true });
  }
  printTable(
    `held writes (until sync, so a kill loses them) against plain ones (to the OS at once), ${HELD_ENTRY_BYTES} B entries, alternating slices`,
    ['storage', 'writers', 'batch', 'plain entries/s', 'held entries/s', 'held / plain', 'plain CPU µs/entry', 'held CPU µs/entry'],
    results.map((r) => [
      r.durable ? 'disk, fdatasync' : 'no fsync (shm)',
      String(r.writers),
      String(r.batchEntries),
      formatRate(r.plain.entriesPerSecond),
      formatRate(r.held.entriesPerSecond),
      r.throughputRatio.toFixed(2),
      r.plain.cpuMicrosecondsPerEntry.toFixed(1),
      r.held.cpuMicrosecondsPerEntry.toFixed(1),
    ]),
  );
  return results;
}

async function main(): Promise<void> {
  const options = readOptions();
  const root = fs.mkdtempSync(path.join(options.dir, 'raftkv-storage-bench-'));
  const began = performance.now();
  try {
    if (options.heldWritesOnly) {
      console.log(`storage bench, held writes only, in ${root}: ${options.seconds}s per case and side, ${describeMachine()}`);
      const heldWrites = await measureAllHeldWrites(root, options);
      writeResults(HELD_WRITES_RESULTS_PATH, {
        benchmark: 'storage-held-writes',
        ...machineFields(),
        dir: options.dir,
        options,
        heldWrites,
      });
      return;
    }
    console.log(
      `storage bench in ${root}: ${options.seconds}s per case (after ${options.warmupSeconds}s warm-up), ` +
        `segments of ${WAL_DEFAULTS.segmentBytes / 1024 / 1024} MiB preallocated, ${describeMachine()}`,
    );
    const disk = new RawDisk(path.join(root, 'raw-fdatasync'));
    const raw = await disk.measure(options.seconds);
    console.log(
      `\ndisk limit: ${formatRate(raw.fdatasyncPerSecondBlocking)} fdatasync/s blocking, ${formatRate(raw.fdatasyncPerSecondAsync)} fdatasync/s through the thread pool (${RAW_BLOCK_BYTES} B writes)`,
    );
    console.log(
      `(each case runs in ${options.sliceSeconds} s slices, each after a raw fdatasync window as long; its ratio divides by that raw rate)`,
    );

    const appends: AppendResult[] = [];
    for (const entryBytes of ENTRY_SIZES_BYTES) {
      for (const batchEntries of BATCH_SIZES) appends.push(await measureAppends(root, options, batchEntries, entryBytes, disk));
    }
    printTable(
      'appends: write(batch) then await sync(), one writer',
      ['entry B', 'batch', 'entries/s', 'syncs/s', 'fdatasync/s', 'MB/s', 'disk fdatasync/s beside', 'syncs / disk limit'],
      appends.map((r) => [
        String(r.entryBytes),
        String(r.batchEntries),
        formatRate(r.entriesPerSecond),
        formatRate(r.syncsPerSecond),
        formatRate(r.fdatasyncsPerSecond),
        r.megabytesPerSecond.toFixed(1),
        formatRate(r.diskLimit),
        r.ratioToDiskLimit.toFixed(2),
      ]),
    );

    const groupCommit: GroupCommitResult[] = [];
    for (const writers of options.writers) groupCommit.push(await measureGroupCommit(root, options, writers, disk));
    printTable(
      `group commit: N writers, each write(1 entry of ${GROUP_ENTRY_BYTES} B) then await sync()`,
      ['writers', 'entries/s', 'fdatasync/s', 'entries per fdatasync', 'disk fdatasync/s beside', 'fdatasync / disk limit'],
      groupCommit.map((r) => [
        String(r.writers),
        formatRate(r.entriesPerSecond),
        formatRate(r.fdatasyncsPerSecond),
        r.entriesPerFdatasync.toFixed(1),
        formatRate(r.diskLimit),
        r.ratioToDiskLimit.toFixed(2),
      ]),
    );

    const replay = measureReplay(root, options.replayEntries);
    console.log(
      `\nreplay: ${formatRate(replay.entries)} entries of ${replay.entryBytes} B in ${replay.segments} segments (${(replay.fileBytes / 1e6).toFixed(1)} MB of files, written in ${replay.writeSeconds.toFixed(2)} s): ` +
        `best ${replay.replaySecondsBest.toFixed(2)} s, median ${replay.replaySecondsMedian.toFixed(2)} s of ${REPLAY_RUNS} = ` +
        `${formatRate(replay.entriesPerSecond)} entries/s, ${replay.megabytesPerSecond.toFixed(1)} MB/s of files, ${replay.payloadMegabytesPerSecond.toFixed(1)} MB/s of entry data (page cache warm)`,
    );

    const heldWrites = await measureAllHeldWrites(root, options);

    const rawAfter = await disk.measure(options.seconds);
    disk.close();
    console.log(
      `\ndisk limit again at the end: ${formatRate(rawAfter.fdatasyncPerSecondBlocking)} fdatasync/s blocking, ${formatRate(rawAfter.fdatasyncPerSecondAsync)} fdatasync/s through the thread pool`,
    );
    const totalSeconds = (performance.now() - began) / 1000;
    console.log(`total ${totalSeconds.toFixed(1)} s`);

    // Ratios: syncs/s (appends) or fdatasync/s (group commit) over the best raw fdatasync/s beside each case.
    writeResults(RESULTS_PATH, {
      benchmark: 'storage',
      ...machineFields(),
      dir: options.dir,
      options,
      segmentBytes: WAL_DEFAULTS.segmentBytes,
      diskLimit: { ...raw, rawBlockBytes: RAW_BLOCK_BYTES, atEnd: rawAfter },
      appends,
      groupCommit,
      replay,
      heldWrites,
      totalSeconds,
    });
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

await main();
