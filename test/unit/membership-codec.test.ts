// The membership on disk and on the wire: a config entry's payload in an entries block (WAL records of type 2,
// AppendRequests) and the snapshot meta. The format with learners and addresses round-trips; what the version
// before learners wrote (an array of voters) still decodes, with no learners; anything else is refused.
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { decodeEntries, encodeEntries, EntryBlockError, membershipFromPlain } from '../../src/codec/entry-block.js';
import type { Entry, Membership, SnapshotMeta } from '../../src/raft/types.js';
import { metaToTuple, storagePackr, tupleToMeta } from '../../src/storage/codec.js';
import { SnapshotStore } from '../../src/storage/snapshot-store.js';
import { FaultyFileSystem } from '../../src/storage/faulty-file-system.js';

const packr = new Packr({ useRecords: false, moreTypes: false });

const WITH_LEARNERS: Membership = { voters: ['n1', 'n2', 'n3'], learners: ['n4'], addresses: { n1: 'a:1', n4: 'd:4' } };

/** A one-entry block with a config entry whose payload is `payload`, laid out as entry-block.ts documents it. */
function configBlock(index: number, term: number, payload: Uint8Array): Uint8Array {
  const block = new Uint8Array(8 + 13 + payload.byteLength);
  const view = new DataView(block.buffer);
  view.setFloat64(0, index, true);
  block[8] = 2; // config
  view.setFloat64(9, term, true);
  view.setUint32(17, payload.byteLength, true);
  block.set(payload, 21);
  return block;
}

describe('config entries in an entries block', () => {
  it('round-trip voters, learners and addresses', () => {
    const entries: Entry[] = [
      { type: 'config', term: 2, index: 5, membership: WITH_LEARNERS },
      { type: 'config', term: 2, index: 6, membership: { voters: ['n1'], learners: [] } },
    ];
    expect(decodeEntries(encodeEntries(entries))).toEqual(entries);
  });

  it('decode the payload written before learners existed (an array of voters) as a membership with no learners', () => {
    const old = configBlock(9, 3, packr.pack(['n1', 'n2', 'n3']));
    expect(decodeEntries(old)).toEqual([{ type: 'config', term: 3, index: 9, membership: { voters: ['n1', 'n2', 'n3'], learners: [] } }]);
  });

  it('writes the map form', () => {
    const block = encodeEntries([{ type: 'config', term: 1, index: 1, membership: WITH_LEARNERS }]);
    expect(packr.unpack(block.subarray(21))).toEqual({ v: ['n1', 'n2', 'n3'], l: ['n4'], a: { n1: 'a:1', n4: 'd:4' } });
  });

  it.each([
    ['a number', 7, /neither a map nor an array/],
    ['voters that are not strings', [1, 2], /bad voters/],
    ['an unknown field', { v: ['n1'], l: [], x: 1 }, /unknown field 'x'/],
    ['no learners', { v: ['n1'] }, /bad learners/],
    ['a duplicate voter', { v: ['n1', 'n1'], l: [] }, /duplicate/],
    ['a voter that is also a learner', { v: ['n1', 'n2'], l: ['n2'] }, /both voter and learner/],
    ['addresses that are a list', { v: ['n1'], l: [], a: ['x'] }, /not a map/],
    ['an address that is not a string', { v: ['n1'], l: [], a: { n1: 5 } }, /not a string/],
    ['an empty id', { v: [''], l: [] }, /bad voters/],
  ])('refuse a payload with %s (EntryBlockError)', (_name, plain, message) => {
    expect(() => decodeEntries(configBlock(1, 1, packr.pack(plain)))).toThrow(EntryBlockError);
    expect(() => decodeEntries(configBlock(1, 1, packr.pack(plain)))).toThrow(message);
  });

  it('refuse a payload that is not msgpack', () => {
    expect(() => decodeEntries(configBlock(1, 1, new Uint8Array([0xc1])))).toThrow(EntryBlockError);
  });

  it('membershipFromPlain names what is wrong instead of throwing', () => {
    expect(membershipFromPlain(null)).toMatch(/neither a map/);
    expect(membershipFromPlain({ v: ['n1'], l: ['n2'] })).toEqual({ voters: ['n1'], learners: ['n2'] });
  });
});

describe('snapshot meta', () => {
  it('round-trips learners and addresses', () => {
    const meta: SnapshotMeta = { index: 40, term: 6, membership: WITH_LEARNERS };
    expect(tupleToMeta(storagePackr.unpack(storagePackr.pack(metaToTuple(meta))))).toEqual(meta);
  });

  it('reads the meta of a snapshot written before learners existed ([index, term, voters])', () => {
    expect(tupleToMeta(storagePackr.unpack(storagePackr.pack([40, 6, ['n1', 'n2']])))).toEqual({
      index: 40,
      term: 6,
      membership: { voters: ['n1', 'n2'], learners: [] },
    });
  });

  it('refuses a meta whose membership is malformed', () => {
    expect(() => tupleToMeta([1, 1, { v: ['n1'], l: ['n1'] }])).toThrow(/both voter and learner/);
    expect(() => tupleToMeta([1, 1, 'n1'])).toThrow(TypeError);
  });

  it('a snapshot saved with learners and addresses is read back with them', () => {
    const fs = new FaultyFileSystem();
    fs.mkdirp('/snap');
    const store = new SnapshotStore(fs, '/snap');
    const meta: SnapshotMeta = { index: 12, term: 2, membership: WITH_LEARNERS };
    store.save(meta, new Uint8Array([1, 2, 3]));
    expect(new SnapshotStore(fs, '/snap').loadNewest()?.meta).toEqual(meta);
  });
});
