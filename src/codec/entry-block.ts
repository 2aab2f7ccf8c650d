import { Packr } from 'msgpackr';
import type { Entry, Membership } from '../raft/types.js';
import { msgpackLengthsFit } from './msgpack-lengths.js';

// ---------------------------------------------------------------------------
// The entries block: a run of consecutive log entries as one binary block. The peer transport sends an
// AppendRequest's entries as one (src/transport/codec.ts), and a WAL record of type 2 holds its batch's
// entries as one (src/storage/wal-record.ts).
//
//   f64 index of the first entry, then per entry (indexes follow on, one by one):
//   u8 kind (0 command, 1 noop, 2 config) | f64 term | u32 payload length | payload
//   payload: a command's data; nothing for a noop; a config's membership as a msgpack map
//   { v: voters, l: learners, a?: { id: address } } (encodeMembership). A config written before learners
//   existed holds a msgpack array of strings, its voters: it still decodes, with no learners.
// Little-endian. No entries: an empty block (no header either). A block holds no outside state, so it
// decodes alone and the same bytes can go to every reader.

const BLOCK_HEADER_BYTES = 8;
const ENTRY_HEADER_BYTES = 13;
const KIND_COMMAND = 0;
const KIND_NOOP = 1;
const KIND_CONFIG = 2;
const NO_BYTES = new Uint8Array(0);
const configPackr = new Packr({ useRecords: false, moreTypes: false });

/** A malformed block: cut short, a bad kind, term, index or config payload. Each layer maps it to its own error. */
export class EntryBlockError extends Error {}

/** What writing a block needs to know up front: its size, and the encoded memberships of its config entries. */
export interface EntryBlockLayout {
  readonly bytes: number;
  /** Config entries' memberships by position in the entries, already encoded; null when there are none. */
  readonly configs: ReadonlyMap<number, Uint8Array> | null;
}

const EMPTY_LAYOUT: EntryBlockLayout = { bytes: 0, configs: null };

/** Little-endian float64s without a DataView (which would move a small block's bytes off the heap). */
const float64 = new Float64Array(1);
const float64Bytes = new Uint8Array(float64.buffer);

function writeFloat64(target: Uint8Array, offset: number, value: number): void {
  float64[0] = value;
  for (let i = 0; i < 8; i++) target[offset + i] = float64Bytes[i] as number;
}

function readFloat64(block: Uint8Array, offset: number): number {
  for (let i = 0; i < 8; i++) float64Bytes[i] = block[offset + i] as number;
  return float64[0] as number;
}

function readUint32(block: Uint8Array, offset: number): number {
  return (
    ((block[offset] as number) | ((block[offset + 1] as number) << 8) | ((block[offset + 2] as number) << 16)) +
    (block[offset + 3] as number) * 0x1000000
  );
}

function writeUint32(target: Uint8Array, offset: number, value: number): void {
  target[offset] = value & 0xff;
  target[offset + 1] = (value >>> 8) & 0xff;
  target[offset + 2] = (value >>> 16) & 0xff;
  target[offset + 3] = value >>> 24;
}

/** The block's size (and config payloads) for `entries`, which must be consecutive (else RangeError). */
export function layoutEntries(entries: readonly Entry[]): EntryBlockLayout {
  if (entries.length === 0) return EMPTY_LAYOUT;
  const first = (entries[0] as Entry).index;
  let configs: Map<number, Uint8Array> | null = null;
  let bytes = BLOCK_HEADER_BYTES + ENTRY_HEADER_BYTES * entries.length;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i] as Entry;
    if (entry.index !== first + i) throw new RangeError(`entries are not consecutive: ${entry.index} at position ${i} after ${first}`);
    if (entry.type === 'command') bytes += entry.data.byteLength;
    else if (entry.type === 'config') {
      const membership = encodeMembership(entry.membership);
      (configs ??= new Map()).set(i, membership);
      bytes += membership.byteLength;
    }
  }
  return { bytes, configs };
}

/** Writes the block of `entries` (laid out by layoutEntries) into `target` at `offset`: layout.bytes bytes. */
export function writeEntries(entries: readonly Entry[], layout: EntryBlockLayout, target: Uint8Array, offset: number): void {
  if (entries.length === 0) return;
  writeFloat64(target, offset, (entries[0] as Entry).index);
  let at = offset + BLOCK_HEADER_BYTES;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i] as Entry;
    const payload = entry.type === 'command' ? entry.data : entry.type === 'config' ? (layout.configs?.get(i) as Uint8Array) : NO_BYTES;
    target[at] = entry.type === 'command' ? KIND_COMMAND : entry.type === 'noop' ? KIND_NOOP : KIND_CONFIG;
    writeFloat64(target, at + 1, entry.term);
    writeUint32(target, at + 9, payload.byteLength);
    at += ENTRY_HEADER_BYTES;
    target.set(payload, at);
    at += payload.byteLength;
  }
}

/** The entries as a block of their own. */
export function encodeEntries(entries: readonly Entry[]): Uint8Array {
  const layout = layoutEntries(entries);
  if (layout.bytes === 0) return NO_BYTES;
  const block = new Uint8Array(layout.bytes);
  writeEntries(entries, layout, block, 0);
  return block;
}

/** The entries of a block; a command's data is a view into the block (no copy). A malformed block throws EntryBlockError. */
export function decodeEntries(block: Uint8Array): Entry[] {
  const entries: Entry[] = [];
  if (block.byteLength === 0) return entries;
  if (block.byteLength < BLOCK_HEADER_BYTES) throw new EntryBlockError('entries block shorter than its header');
  const first = readFloat64(block, 0);
  if (!Number.isSafeInteger(first) || first < 1) throw new EntryBlockError(`entries block starts at a bad index ${first}`);
  let offset = BLOCK_HEADER_BYTES;
  for (let index = first; offset < block.byteLength; index++) {
    if (offset + ENTRY_HEADER_BYTES > block.byteLength) throw new EntryBlockError('entry header cut short');
    const kind = block[offset];
    const term = readFloat64(block, offset + 1);
    const length = readUint32(block, offset + 9);
    offset += ENTRY_HEADER_BYTES;
    if (!Number.isSafeInteger(term) || term < 0) throw new EntryBlockError(`entry ${index} has a bad term ${term}`);
    if (offset + length > block.byteLength) throw new EntryBlockError(`entry ${index} runs past the block`);
    const payload = block.subarray(offset, offset + length);
    offset += length;
    if (kind === KIND_COMMAND) entries.push({ type: 'command', term, index, data: payload });
    else if (kind === KIND_NOOP && length === 0) entries.push({ type: 'noop', term, index });
    else if (kind === KIND_CONFIG) entries.push({ type: 'config', term, index, membership: decodeMembership(payload, index) });
    else throw new EntryBlockError(`entry ${index} has a bad kind ${String(kind)} or payload`);
  }
  return entries;
}

function decodeMembership(payload: Uint8Array, index: number): Membership {
  let plain: unknown;
  try {
    if (!msgpackLengthsFit(payload)) throw new RangeError('a length in the membership runs past its end');
    plain = configPackr.unpack(payload);
  } catch (error) {
    throw new EntryBlockError(`config entry ${index}: ${(error as Error).message}`);
  }
  const membership = membershipFromPlain(plain);
  if (typeof membership === 'string') throw new EntryBlockError(`config entry ${index}: ${membership}`);
  return membership;
}

/** A membership as plain data for msgpack: `{ v, l, a? }` (short keys: every config entry and snapshot carries one). */
export interface PlainMembership {
  readonly v: readonly string[];
  readonly l: readonly string[];
  readonly a?: Readonly<Record<string, string>>;
}

export function membershipToPlain(membership: Membership): PlainMembership {
  const plain = { v: [...membership.voters], l: [...membership.learners] };
  return membership.addresses === undefined ? plain : { ...plain, a: { ...membership.addresses } };
}

/** A config entry's payload: the membership as a msgpack map. */
export function encodeMembership(membership: Membership): Uint8Array {
  return new Uint8Array(configPackr.pack(membershipToPlain(membership)));
}

/**
 * A membership from its plain form: the `{ v, l, a? }` map, or, as written before learners existed, an array of
 * voters (read as having no learners). Returns what is wrong with anything else: other keys or types, a
 * duplicate id, or an id both voter and learner.
 */
export function membershipFromPlain(plain: unknown): Membership | string {
  if (Array.isArray(plain)) {
    const problem = idsProblem(plain, 'voters');
    return problem ?? { voters: plain as string[], learners: [] };
  }
  if (typeof plain !== 'object' || plain === null) return 'membership is neither a map nor an array of voters';
  const fields = plain as Record<string, unknown>;
  const unknownKey = Object.keys(fields).find((key) => key !== 'v' && key !== 'l' && key !== 'a');
  if (unknownKey !== undefined) return `membership has an unknown field '${unknownKey}'`;
  const { v: voters, l: learners, a: addresses } = fields;
  const problem = idsProblem(voters, 'voters') ?? idsProblem(learners, 'learners');
  if (problem !== null) return problem;
  const voterIds = voters as string[];
  const learnerIds = learners as string[];
  const both = learnerIds.find((id) => voterIds.includes(id));
  if (both !== undefined) return `membership has ${both} as both voter and learner`;
  if (addresses === undefined) return { voters: voterIds, learners: learnerIds };
  if (typeof addresses !== 'object' || addresses === null || Array.isArray(addresses)) return 'membership addresses are not a map';
  if (!Object.values(addresses).every((address) => typeof address === 'string')) return 'membership has an address that is not a string';
  return { voters: voterIds, learners: learnerIds, addresses: addresses as Record<string, string> };
}

function idsProblem(ids: unknown, what: string): string | null {
  if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string' && id.length > 0)) return `membership has bad ${what}`;
  if (new Set(ids).size !== ids.length) return `membership has a duplicate among its ${what}`;
  return null;
}
