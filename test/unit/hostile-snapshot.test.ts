// Hostile input to the snapshot readers (issue 18, item 6): a snapshot file (src/storage/snapshot-store.ts) or
// a backup file (src/storage/backup.ts) with bytes flipped, lengths altered or cut short is refused with a
// registered StorageError (STORAGE_SNAPSHOT_CORRUPT, STORAGE_BACKUP_INVALID), never another exception, and a
// corrupt file never yields a decoded value. Snapshots on the in-memory disk; backups are bytes in memory.
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isErrorCode } from '../../src/protocol/errors.js';
import type { SnapshotMeta } from '../../src/raft/types.js';
import { decodeBackup, encodeBackup, type Backup } from '../../src/storage/backup.js';
import { StorageError, type StorageErrorCode } from '../../src/storage/errors.js';
import { FaultyFileSystem } from '../../src/storage/faulty-file-system.js';
import { readAllSnapshot, SnapshotStore } from '../../src/storage/snapshot-store.js';

const DIR = '/data/snap';

const meta: fc.Arbitrary<SnapshotMeta> = fc
  .record({
    index: fc.integer({ min: 1, max: 2 ** 40 }),
    term: fc.integer({ min: 1, max: 2 ** 40 }),
    ids: fc.uniqueArray(fc.constantFrom('n1', 'n2', 'n3', 'n4', 'n5'), { minLength: 1, maxLength: 5 }),
    voterCount: fc.nat(),
  })
  .map(({ index, term, ids, voterCount }) => {
    const voters = ids.slice(0, 1 + (voterCount % ids.length));
    return { index, term, membership: { voters, learners: ids.slice(voters.length) } };
  });
const data = fc.uint8Array({ maxLength: 300 });

const damage = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('byte' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('length' as const), at: fc.nat(), value: fc.constantFrom(0, 1, 0xffffffff, 0x7fffffff, 0x10000) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  ),
  { minLength: 1, maxLength: 3 },
);
type Damage = typeof damage extends fc.Arbitrary<(infer T)[]> ? T : never;

/** The bytes damaged; null if the damage left them exactly as they were (then they are not corrupt). */
function damaged(bytes: Uint8Array, all: readonly Damage[]): Uint8Array | null {
  let out = Uint8Array.from(bytes);
  for (const d of all) {
    if (d.kind === 'append') {
      out = Uint8Array.from([...out, ...d.bytes]);
      continue;
    }
    if (out.byteLength === 0) continue;
    const at = d.at % out.byteLength;
    if (d.kind === 'flip') out[at] = (out[at] as number) ^ (1 << d.bit);
    else if (d.kind === 'byte') out[at] = d.value;
    else if (d.kind === 'truncate') out = out.slice(0, at);
    else if (at + 4 <= out.byteLength) new DataView(out.buffer).setUint32(at, d.value, at % 2 === 0);
  }
  return Buffer.from(out).equals(Buffer.from(bytes)) ? null : out;
}

function expectRefused(error: unknown, code: StorageErrorCode): void {
  if (!(error instanceof StorageError)) throw error;
  expect(error.code).toBe(code);
  expect(isErrorCode(error.code)).toBe(true);
  expect(error.message.startsWith(`${code}:`)).toBe(true);
}

function snapshotFile(fs: FaultyFileSystem): string {
  return `${DIR}/${fs.list(DIR).find((name) => name.endsWith('.snap')) as string}`;
}

function replace(fs: FaultyFileSystem, file: string, bytes: Uint8Array): void {
  fs.remove(file);
  const handle = fs.open(file, { create: true });
  handle.write(bytes, 0);
  handle.sync();
  handle.close();
}

describe('the snapshot reader under hostile input', () => {
  it('a saved snapshot reads back whole', () => {
    fc.assert(
      fc.property(meta, data, (m, d) => {
        const fs = new FaultyFileSystem();
        new SnapshotStore(fs, DIR).save(m, d);
        const source = new SnapshotStore(fs, DIR).loadNewest();
        expect(source?.meta).toEqual(m);
        expect(Buffer.from(readAllSnapshot(source as NonNullable<typeof source>)).equals(Buffer.from(d))).toBe(true);
      }),
      { seed: 42, numRuns: 200 },
    );
  });

  it('a damaged snapshot file is STORAGE_SNAPSHOT_CORRUPT, never another exception, never its data', () => {
    fc.assert(
      fc.property(meta, data, damage, (m, d, hurt) => {
        const fs = new FaultyFileSystem();
        new SnapshotStore(fs, DIR).save(m, d);
        const file = snapshotFile(fs);
        const bytes = damaged(fs.readFile(file), hurt);
        fc.pre(bytes !== null);
        replace(fs, file, bytes as Uint8Array);
        let refused = false;
        try {
          const source = new SnapshotStore(fs, DIR).loadNewest();
          readAllSnapshot(source as NonNullable<typeof source>);
        } catch (error) {
          expectRefused(error, 'STORAGE_SNAPSHOT_CORRUPT');
          refused = true;
        }
        expect(refused).toBe(true);
      }),
      { seed: 43, numRuns: 400 },
    );
  });

  it('arbitrary bytes under a snapshot name are STORAGE_SNAPSHOT_CORRUPT', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, magic) => {
        const fs = new FaultyFileSystem();
        const file = `${DIR}/0000000000000001-0000000000000001.snap`;
        fs.mkdirp(DIR);
        replace(fs, file, magic ? Uint8Array.from([...Buffer.from('RKVSNAP1'), ...bytes]) : bytes);
        expect(() => new SnapshotStore(fs, DIR).loadNewest()).toThrow(StorageError);
        try {
          new SnapshotStore(fs, DIR).loadNewest();
        } catch (error) {
          expectRefused(error, 'STORAGE_SNAPSHOT_CORRUPT');
        }
      }),
      { seed: 44, numRuns: 300 },
    );
  });
});

describe('the backup reader under hostile input', () => {
  const CLUSTER = '0b3c2c1e-8f00-4a4b-9a6e-2c1d3e4f5a6b';
  const NOW = new Date(Date.UTC(2026, 0, 2));

  const decodeOrRefuse = (bytes: Uint8Array): Backup | null => {
    try {
      return decodeBackup(bytes, 'backup.rkv');
    } catch (error) {
      expectRefused(error, 'STORAGE_BACKUP_INVALID');
      return null;
    }
  };

  it('a backup reads back whole', () => {
    fc.assert(
      fc.property(meta, data, (m, d) => {
        const backup = decodeOrRefuse(encodeBackup(m, d, CLUSTER, NOW));
        expect(backup?.header).toMatchObject({ index: m.index, term: m.term, clusterId: CLUSTER, voters: m.membership.voters });
        expect(Buffer.from(backup?.data ?? []).equals(Buffer.from(d))).toBe(true);
      }),
      { seed: 45, numRuns: 200 },
    );
  });

  it('a damaged backup is STORAGE_BACKUP_INVALID, never another exception, never decoded', () => {
    fc.assert(
      fc.property(meta, data, damage, (m, d, hurt) => {
        const bytes = damaged(encodeBackup(m, d, CLUSTER, NOW), hurt);
        fc.pre(bytes !== null);
        expect(decodeOrRefuse(bytes as Uint8Array)).toBeNull();
      }),
      { seed: 46, numRuns: 400 },
    );
  });

  it('arbitrary bytes, with or without the magic, are STORAGE_BACKUP_INVALID', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, magic) => {
        const file = magic ? Uint8Array.from([...Buffer.from('RKVBACK1'), ...bytes]) : bytes;
        expect(decodeOrRefuse(file)).toBeNull();
      }),
      { seed: 47, numRuns: 400 },
    );
  });

  it('a header whose CRC holds but whose JSON is not a backup header is STORAGE_BACKUP_INVALID (a crafted file)', () => {
    const header = fc.oneof(
      fc.json({ maxDepth: 2 }),
      fc
        .record(
          {
            format: fc.oneof(fc.constant(1), fc.anything({ maxDepth: 0 })),
            clusterId: fc.oneof(fc.constant(CLUSTER), fc.anything({ maxDepth: 1 })),
            index: fc.oneof(fc.integer({ min: 1, max: 99 }), fc.double(), fc.string(), fc.constant(null)),
            term: fc.oneof(fc.integer({ min: 1, max: 99 }), fc.double(), fc.string()),
            voters: fc.oneof(fc.constant(['n1']), fc.anything({ maxDepth: 1 })),
            learners: fc.oneof(fc.constant([]), fc.anything({ maxDepth: 1 })),
            created: fc.oneof(fc.constant(NOW.toISOString()), fc.anything({ maxDepth: 0 })),
            dataBytes: fc.oneof(fc.constant(3), fc.double(), fc.string(), fc.constant(-1)),
            dataCrc32: fc.oneof(fc.constant(crc32(Uint8Array.of(1, 2, 3))), fc.double(), fc.string()),
          },
          { requiredKeys: [] },
        )
        .map((value) => JSON.stringify(value)),
    );
    fc.assert(
      fc.property(header, (json) => {
        const headerBytes = Buffer.from(json, 'utf8');
        const prefix = Buffer.alloc(16);
        Buffer.from('RKVBACK1', 'latin1').copy(prefix, 0);
        prefix.writeUInt32LE(headerBytes.byteLength, 8);
        prefix.writeUInt32LE(crc32(headerBytes), 12);
        const backup = decodeOrRefuse(Buffer.concat([prefix, headerBytes, Uint8Array.of(1, 2, 3)]));
        if (backup === null) return;
        // Accepted only as a whole, well-typed header (what restore and status then rely on).
        const h = backup.header;
        expect(h.format).toBe(1);
        expect(typeof h.clusterId).toBe('string');
        expect(Number.isSafeInteger(h.index) && h.index >= 0).toBe(true);
        expect(Number.isSafeInteger(h.term) && h.term >= 0).toBe(true);
        expect(Array.isArray(h.voters) && h.voters.every((v) => typeof v === 'string')).toBe(true);
        expect(h.learners === undefined || (Array.isArray(h.learners) && h.learners.every((v) => typeof v === 'string'))).toBe(true);
        expect(typeof h.created).toBe('string');
        expect(h.dataBytes).toBe(3);
      }),
      { seed: 48, numRuns: 400 },
    );
  });
});
