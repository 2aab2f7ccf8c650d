import { Packr } from 'msgpackr';
import { crc32 } from 'node:zlib';
import { membershipFromPlain, membershipToPlain, type PlainMembership } from '../codec/entry-block.js';
import type { Entry, HardState, SnapshotMeta } from '../raft/types.js';

// WAL records of type 1 (written by earlier versions, still read) hold entries as tuples:
// [kind, term, index, payload], kind 0 = command (payload = bytes), 1 = noop, 2 = config (payload = voters).
// Type 2 records hold them as one entries block (src/codec/entry-block.ts).
export function tupleToEntry(tuple: unknown): Entry {
  if (!Array.isArray(tuple) || tuple.length !== 4) throw new TypeError('entry is not a 4-tuple');
  const [kind, term, index, payload] = tuple as [unknown, unknown, unknown, unknown];
  if (typeof term !== 'number' || typeof index !== 'number' || !Number.isSafeInteger(term) || !Number.isSafeInteger(index) || index < 1) {
    throw new TypeError('entry term or index is not an integer');
  }
  if (kind === 0 && payload instanceof Uint8Array) return { type: 'command', term, index, data: payload };
  if (kind === 1) return { type: 'noop', term, index };
  if (kind === 2 && Array.isArray(payload) && payload.every((v) => typeof v === 'string')) {
    return { type: 'config', term, index, membership: { voters: payload as string[], learners: [] } };
  }
  throw new TypeError(`entry kind ${String(kind)} with a bad payload`);
}

/** A term, an index or a count as the writer wrote it: a file whose checksum holds may still be crafted (found by the fuzzer). */
export const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

export function hardStateToTuple(hardState: HardState): [number, string | null, number] {
  return [hardState.term, hardState.votedFor, hardState.commitIndex];
}

export function tupleToHardState(tuple: unknown): HardState {
  if (!Array.isArray(tuple) || tuple.length !== 3) throw new TypeError('hard state is not a 3-tuple');
  const [term, votedFor, commitIndex] = tuple as [unknown, unknown, unknown];
  if (!isCount(term) || !isCount(commitIndex) || (votedFor !== null && typeof votedFor !== 'string')) {
    throw new TypeError('hard state has bad fields');
  }
  return { term, votedFor, commitIndex };
}

// Snapshot meta: [index, term, membership], the membership as a config entry's payload holds it ({ v, l, a? });
// snapshots written before learners existed hold an array of voters there, read as having no learners.
export function metaToTuple(meta: SnapshotMeta): [number, number, PlainMembership] {
  return [meta.index, meta.term, membershipToPlain(meta.membership)];
}

export function tupleToMeta(tuple: unknown): SnapshotMeta {
  if (!Array.isArray(tuple) || tuple.length !== 3) throw new TypeError('snapshot meta is not a 3-tuple');
  const [index, term, plain] = tuple as [unknown, unknown, unknown];
  if (!isCount(index) || !isCount(term)) throw new TypeError('snapshot meta has bad fields');
  const membership = membershipFromPlain(plain);
  if (typeof membership === 'string') throw new TypeError(`snapshot meta: ${membership}`);
  return { index, term, membership };
}

/** One msgpack codec for storage: plain maps and arrays, no shared structures, so every record decodes alone. */
export const storagePackr = new Packr({ useRecords: false, moreTypes: false });

export function checksum(data: Uint8Array, initial = 0): number {
  return crc32(data, initial) >>> 0;
}
