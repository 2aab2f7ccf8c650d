// Hostile input to the write-ahead log's reader (issue 18, item 6): a valid log, damaged at random (bits
// flipped, bytes overwritten, a length field set to 4 GiB, segments truncated), is either recovered (a torn
// tail cut and repaired) or refused with a StorageError whose code is registered; never another exception, and
// never an entry or hard state that was not written (a record that fails its checksum is never applied).
// On the in-memory disk (src/storage/faulty-file-system.ts): no real files, deterministic.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isErrorCode } from '../../src/protocol/errors.js';
import type { Entry, HardState } from '../../src/raft/types.js';
import { StorageError, STORAGE_ERROR_CODES } from '../../src/storage/errors.js';
import { FaultyFileSystem } from '../../src/storage/faulty-file-system.js';
import { WriteAheadLog, type WalRecovery } from '../../src/storage/wal.js';
import { encodeRecord, parseRecord, RECORD_HEADER_BYTES, validRecordAfter, type WalBatch } from '../../src/storage/wal-record.js';
import { command } from '../support/entries.js';

const DIR = '/data/wal';

/** Batches as the node writes them: entries that follow on (or overwrite a suffix), hard states, resets. */
const plan = fc.array(
  fc.record({
    back: fc.integer({ min: 0, max: 2 }),
    count: fc.integer({ min: 0, max: 3 }),
    sizeBytes: fc.integer({ min: 0, max: 40 }),
    hardState: fc.option(
      fc.record({ term: fc.integer({ min: 1, max: 9 }), commitIndex: fc.nat(20), votedFor: fc.constantFrom(null, 'n1', 'n2') }),
    ),
    noop: fc.boolean(),
  }),
  { minLength: 1, maxLength: 12 },
);
type Plan = typeof plan extends fc.Arbitrary<infer T> ? T : never;

function batchesOf(steps: Plan): WalBatch[] {
  let next = 1;
  let term = 1;
  return steps.map((step) => {
    const first = Math.max(1, next - step.back);
    term += step.back > 0 ? 1 : 0;
    const entries: Entry[] = Array.from({ length: step.count }, (_, i) =>
      step.noop && i === 0 ? { type: 'noop', index: first + i, term } : command(first + i, term, step.sizeBytes),
    );
    if (step.count > 0) next = first + step.count;
    const hardState: HardState | null = step.hardState === null ? null : { ...step.hardState, votedFor: step.hardState.votedFor };
    return { hardState, reset: null, entries };
  });
}

const hardStateKey = (hs: HardState): string => `${hs.term}/${String(hs.votedFor)}/${hs.commitIndex}`;

const key = (entry: Entry): string =>
  `${entry.type}:${entry.index}:${entry.term}:${entry.type === 'command' ? Buffer.from(entry.data).toString('hex') : ''}`;

function written(fs: FaultyFileSystem, batches: readonly WalBatch[], segmentBytes: number, preallocate: boolean): void {
  const { wal } = WriteAheadLog.open(fs, DIR, { segmentBytes, preallocate });
  for (const batch of batches) wal.append(batch);
  wal.sync();
  wal.close();
}

/** Opens the log: its recovery, or the StorageError it refused with; anything else fails the test. */
function reopen(fs: FaultyFileSystem): { recovery: WalRecovery; wal: WriteAheadLog } | StorageError {
  try {
    return WriteAheadLog.open(fs, DIR, { segmentBytes: 256, preallocate: false });
  } catch (error) {
    if (!(error instanceof StorageError)) throw error;
    expect(isErrorCode(error.code)).toBe(true);
    expect(STORAGE_ERROR_CODES).toContain(error.code);
    expect(error.message.startsWith(`${error.code}:`)).toBe(true);
    return error;
  }
}

/** Replaces a file's bytes, durably. */
function overwrite(fs: FaultyFileSystem, file: string, data: Uint8Array): void {
  fs.remove(file);
  const handle = fs.open(file, { create: true });
  handle.write(data, 0);
  handle.sync();
  handle.close();
  fs.syncDir(DIR);
}

const damage = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), file: fc.nat(), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('byte' as const), file: fc.nat(), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    kind: fc.constant('length' as const),
    file: fc.nat(),
    at: fc.nat(),
    value: fc.constantFrom(0xffffffff, 0x10000000, 0x0fffffff, 1),
  }),
  fc.record({ kind: fc.constant('truncate' as const), file: fc.nat(), at: fc.nat() }),
);
type Damage = typeof damage extends fc.Arbitrary<infer T> ? T : never;

function apply(fs: FaultyFileSystem, d: Damage): void {
  const names = fs.list(DIR);
  if (names.length === 0) return;
  const file = `${DIR}/${names[d.file % names.length] as string}`;
  const data = fs.readFile(file);
  if (data.byteLength === 0) return;
  const at = d.at % data.byteLength;
  if (d.kind === 'flip') data[at] = (data[at] as number) ^ (1 << d.bit);
  else if (d.kind === 'byte') data[at] = d.value;
  else if (d.kind === 'length') {
    if (at + 4 <= data.byteLength) new DataView(data.buffer).setUint32(at, d.value, true);
  } else {
    overwrite(fs, file, data.subarray(0, at));
    return;
  }
  overwrite(fs, file, data);
}

function expectOnlyWritten(recovery: WalRecovery, batches: readonly WalBatch[]): void {
  const entries = new Set(batches.flatMap((b) => b.entries.map(key)));
  const hardStates = new Set(batches.flatMap((b) => (b.hardState === null ? [] : [hardStateKey(b.hardState)])));
  for (const entry of recovery.entries) expect(entries.has(key(entry)), key(entry)).toBe(true);
  for (const [i, entry] of recovery.entries.entries()) if (i > 0) expect(entry.index).toBe((recovery.entries[i - 1] as Entry).index + 1);
  if (recovery.hardState !== null) expect(hardStates.has(hardStateKey(recovery.hardState))).toBe(true);
  expect(recovery.reset).toBeNull();
}

describe('the WAL reader under hostile input', () => {
  it('a valid log reads back what was written (the reference the damaged runs are held to)', () => {
    fc.assert(
      fc.property(plan, fc.boolean(), (steps, preallocate) => {
        const batches = batchesOf(steps);
        const fs = new FaultyFileSystem();
        written(fs, batches, 256, preallocate);
        const opened = reopen(fs);
        expect(opened).not.toBeInstanceOf(StorageError);
        if (opened instanceof StorageError) return;
        expectOnlyWritten(opened.recovery, batches);
        const last = batches.flatMap((b) => b.entries).at(-1);
        expect(opened.recovery.entries.at(-1)?.index).toBe(last?.index);
        expect(opened.recovery.tornTail).toBeNull();
      }),
      { seed: 42, numRuns: 200 },
    );
  });

  it('a damaged log is recovered with only written entries, or refused with a registered StorageError', () => {
    fc.assert(
      fc.property(plan, fc.boolean(), fc.array(damage, { minLength: 1, maxLength: 3 }), (steps, preallocate, damages) => {
        const batches = batchesOf(steps);
        const fs = new FaultyFileSystem();
        written(fs, batches, 256, preallocate);
        for (const d of damages) apply(fs, d);
        const opened = reopen(fs);
        if (opened instanceof StorageError) return;
        expectOnlyWritten(opened.recovery, batches);
        // A recovered log takes new records and reads them back: a torn tail was repaired, not left behind.
        const next = (opened.recovery.entries.at(-1)?.index ?? 0) + 1;
        const extra = command(next, 99, 4);
        opened.wal.append({ hardState: null, reset: null, entries: [extra] });
        opened.wal.sync();
        opened.wal.close();
        const again = reopen(fs);
        if (again instanceof StorageError) {
          // Only a gap the damage left (the log's start lost with a middle segment's head) may refuse now.
          expect(['STORAGE_LOG_GAP', 'STORAGE_CORRUPT_RECORD', 'STORAGE_MISSING_SEGMENT']).toContain(again.code);
          return;
        }
        expect(again.recovery.entries.at(-1)).toEqual(extra);
        again.wal.close();
      }),
      { seed: 43, numRuns: 300 },
    );
  });

  it('a truncated last segment is a torn tail: recovered, never refused, with a prefix of what was written', () => {
    fc.assert(
      fc.property(plan, fc.nat(), (steps, cut) => {
        const batches = batchesOf(steps);
        const fs = new FaultyFileSystem();
        written(fs, batches, 1 << 20, false); // one segment
        const file = `${DIR}/${fs.list(DIR)[0] as string}`;
        const data = fs.readFile(file);
        overwrite(fs, file, data.subarray(0, cut % (data.byteLength + 1)));
        const opened = reopen(fs);
        expect(opened).not.toBeInstanceOf(StorageError);
        if (opened instanceof StorageError) return;
        expectOnlyWritten(opened.recovery, batches);
      }),
      { seed: 44, numRuns: 300 },
    );
  });

  it('parseRecord and validRecordAfter on arbitrary bytes: a record, the end or bad, never an exception', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(), (data, offset) => {
        const at = offset % (data.byteLength + 1);
        const parsed = parseRecord(data, at);
        expect(['record', 'end', 'bad']).toContain(parsed.kind);
        if (parsed.kind === 'record') expect(at + parsed.bytes).toBeLessThanOrEqual(data.byteLength);
        const later = validRecordAfter(data, at);
        if (later !== null) expect(parseRecord(data, later).kind).toBe('record');
      }),
      { seed: 45, numRuns: 500 },
    );
  });

  it('a record with a length field of 4 GiB, or 256 MiB, is bad (not read, not allocated)', () => {
    const record = encodeRecord({ hardState: { term: 1, votedFor: null, commitIndex: 0 }, reset: null, entries: [command(1, 1)] });
    for (const length of [0xffffffff, 0x10000000, 0x0fffffff]) {
      const copy = record.slice();
      new DataView(copy.buffer).setUint32(0, length, true);
      expect(parseRecord(copy, 0)).toEqual({ kind: 'bad', reason: expect.any(String) as unknown as string });
    }
    expect(RECORD_HEADER_BYTES).toBe(12);
  });
});
