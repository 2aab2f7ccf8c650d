// Hostile input to the peer frame decoders (issue 18, item 6): the MessagePort frame decoder
// (src/transport/codec.ts), the TCP frame reader (src/transport/tcp/frame.ts) and the entries block
// (src/codec/entry-block.ts). Arbitrary bytes and mutated valid frames are refused only with their own error
// (FrameError, TransportError, EntryBlockError) under a registered code, never another exception; a declared
// length is checked against the bytes at hand before anything is allocated for it; valid frames round-trip.
import { splitAt } from '../support/chunks.js';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { decodeEntries as decodeEntryBlock, EntryBlockError } from '../../src/codec/entry-block.js';
import { isErrorCode } from '../../src/protocol/errors.js';
import { MESSAGE_TYPES, type Entry, type Message } from '../../src/raft/types.js';
import { encodeEntries, EntryBlocks, FrameDecoder, FrameEncoder, FrameError, FRAME_MESSAGES_MAX } from '../../src/transport/codec.js';
import { TransportError } from '../../src/transport/tcp/errors.js';
import {
  encodeControlFrame,
  encodeDataFrameBytes,
  FRAME_HEADER_BYTES,
  FrameReader,
  type ControlFrameType,
  type Frame,
} from '../../src/transport/tcp/frame.js';

/** Plain data, so toEqual compares Uint8Array contents whatever buffer they view. */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_, v: unknown) => (v instanceof Uint8Array ? [...v] : v)));
}

const id = fc.constantFrom('n1', 'n2', 'n3', 'n12');
const term = fc.integer({ min: 0, max: 2 ** 40 });
const index = fc.integer({ min: 0, max: 2 ** 40 });
const membership = fc
  .uniqueArray(fc.constantFrom('n1', 'n2', 'n3', 'n4', 'n5'), { minLength: 1, maxLength: 5 })
  .chain((ids) =>
    fc.integer({ min: 0, max: ids.length - 1 }).map((cut) => ({ voters: ids.slice(0, cut + 1), learners: ids.slice(cut + 1) })),
  );

/** Consecutive entries from `first`. */
const entries = fc
  .tuple(
    fc.integer({ min: 1, max: 2 ** 40 }),
    fc.array(
      fc.oneof(
        fc.record({ type: fc.constant('command' as const), term, data: fc.uint8Array({ maxLength: 32 }) }),
        fc.record({ type: fc.constant('noop' as const), term }),
        fc.record({ type: fc.constant('config' as const), term, membership }),
      ),
      { maxLength: 6 },
    ),
  )
  .map(([first, shapes]) => shapes.map((shape, i) => ({ ...shape, index: first + i }) as Entry));

const message: fc.Arbitrary<Message> = fc.oneof(
  fc.record({
    type: fc.constant('VoteRequest' as const),
    from: id,
    to: id,
    term,
    preVote: fc.boolean(),
    lastLogIndex: index,
    lastLogTerm: term,
    transfer: fc.boolean(),
  }),
  fc.record({ type: fc.constant('VoteResponse' as const), from: id, to: id, term, preVote: fc.boolean(), granted: fc.boolean() }),
  fc.record({
    type: fc.constant('AppendRequest' as const),
    from: id,
    to: id,
    term,
    prevLogIndex: index,
    prevLogTerm: term,
    entries,
    leaderCommit: index,
    round: fc.nat(),
  }),
  fc.record({
    type: fc.constant('AppendResponse' as const),
    from: id,
    to: id,
    term,
    success: fc.boolean(),
    matchIndex: index,
    rejectIndex: index,
    conflictIndex: index,
    conflictTerm: term,
    round: fc.nat(),
  }),
  fc.record({
    type: fc.constant('SnapshotRequest' as const),
    from: id,
    to: id,
    term,
    meta: fc.record({ index, term, membership }),
    offsetBytes: fc.nat(),
    totalBytes: fc.nat(),
    data: fc.uint8Array({ maxLength: 32 }),
    done: fc.boolean(),
    round: fc.nat(),
  }),
  fc.record({
    type: fc.constant('SnapshotResponse' as const),
    from: id,
    to: id,
    term,
    snapshotIndex: index,
    receivedBytes: fc.nat(),
    done: fc.boolean(),
    success: fc.boolean(),
    round: fc.nat(),
  }),
  fc.record({ type: fc.constant('TimeoutNow' as const), from: id, to: id, term }),
);
const frameOfMessages = fc.array(message, { minLength: 1, maxLength: 5 });

const damage = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({
      kind: fc.constant('byte' as const),
      at: fc.nat(),
      value: fc.constantFrom(0, 0x7f, 0x80, 0xc1, 0xdc, 0xdd, 0xdb, 0xc6, 0xff),
    }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('length' as const), at: fc.nat(), value: fc.constantFrom(0, 0xffffffff, 0x7fffffff, 0x10000, 13) }),
  ),
  { minLength: 1, maxLength: 3 },
);
type Damage = typeof damage extends fc.Arbitrary<(infer T)[]> ? T : never;

function damaged(bytes: Uint8Array, all: readonly Damage[]): Uint8Array {
  let out = Uint8Array.from(bytes);
  for (const d of all) {
    if (out.byteLength === 0) return out;
    const at = d.at % out.byteLength;
    if (d.kind === 'flip') out[at] = (out[at] as number) ^ (1 << d.bit);
    else if (d.kind === 'byte') out[at] = d.value;
    else if (d.kind === 'truncate') out = out.subarray(0, at);
    else if (at + 4 <= out.byteLength) new DataView(out.buffer, out.byteOffset).setUint32(at, d.value, d.at % 2 === 0);
  }
  return out;
}

/** What a decoder threw: its own error class under a registered code passes; anything else fails the test. */
function expectOwnError(error: unknown, kind: new (...args: never[]) => Error): void {
  if (!(error instanceof kind)) throw error;
  const code = (error as Error & { code?: unknown }).code;
  if (code !== undefined) expect(isErrorCode(String(code))).toBe(true);
}

const KNOWN_TYPES: ReadonlySet<string> = new Set(MESSAGE_TYPES);

function decodeOrRefuse(decoder: FrameDecoder, frame: Uint8Array): Message[] | null {
  try {
    const messages = decoder.decode(frame);
    expect(messages.length).toBeLessThanOrEqual(FRAME_MESSAGES_MAX);
    for (const m of messages) {
      expect(KNOWN_TYPES.has(m.type)).toBe(true);
      if (m.type === 'AppendRequest') expect(Array.isArray(m.entries)).toBe(true);
    }
    return messages;
  } catch (error) {
    expectOwnError(error, FrameError);
    expect((error as FrameError).code).toBe('TRANSPORT_BAD_FRAME');
    return null;
  }
}

describe('the MessagePort frame decoder under hostile input', () => {
  it('arbitrary bytes: messages of known types, or a FrameError (TRANSPORT_BAD_FRAME), never another exception', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { minLength: 1, maxLength: 4 }), (frames) => {
        const decoder = new FrameDecoder(); // one per connection: frames in order, as a link sends them
        for (const frame of frames) decodeOrRefuse(decoder, frame);
      }),
      { seed: 42, numRuns: 500 },
    );
  });

  it('arbitrary msgpack values: refused unless an array of known messages', () => {
    fc.assert(
      fc.property(
        fc.anything({ maxDepth: 3, withTypedArray: true, withBigInt: true, withMap: true, withSet: true, withDate: true }),
        (value) => {
          // What a hostile peer might pack, with the packer a link uses (some values msgpack cannot hold: skipped).
          let bytes: Uint8Array;
          try {
            bytes = new Packr({ sequential: true, useRecords: true }).pack(value);
          } catch {
            fc.pre(false);
            return;
          }
          decodeOrRefuse(new FrameDecoder(), new Uint8Array(bytes));
        },
      ),
      { seed: 43, numRuns: 400 },
    );
  });

  it('valid frames, damaged: decoded or refused with a FrameError, never another exception', () => {
    fc.assert(
      fc.property(fc.array(frameOfMessages, { minLength: 1, maxLength: 3 }), fc.nat(), damage, (frames, which, hurt) => {
        const encoder = new FrameEncoder(new EntryBlocks());
        const decoder = new FrameDecoder();
        const target = which % frames.length;
        for (const [i, messages] of frames.entries()) {
          const bytes = encoder.encode(messages);
          if (decodeOrRefuse(decoder, i === target ? damaged(bytes, hurt) : bytes) === null) break;
        }
      }),
      { seed: 44, numRuns: 400 },
    );
  });

  it('valid frames round-trip through one encoder and decoder, in order', () => {
    fc.assert(
      fc.property(fc.array(frameOfMessages, { minLength: 1, maxLength: 4 }), (frames) => {
        const blocks = new EntryBlocks();
        const encoder = new FrameEncoder(blocks);
        const decoder = new FrameDecoder();
        for (const messages of frames) {
          expect(plain(decoder.decode(encoder.encode(messages)))).toEqual(plain(messages));
          blocks.clear();
        }
      }),
      { seed: 45, numRuns: 300 },
    );
  });
});

describe('the entries block under hostile input', () => {
  const decodeOrRefuseBlock = (block: Uint8Array): Entry[] | null => {
    try {
      const decoded = decodeEntryBlock(block);
      for (const [i, entry] of decoded.entries()) {
        expect(Number.isSafeInteger(entry.index) && Number.isSafeInteger(entry.term)).toBe(true);
        if (i > 0) expect(entry.index).toBe((decoded[i - 1] as Entry).index + 1);
        if (entry.type === 'command') expect(entry.data.byteLength).toBeLessThanOrEqual(block.byteLength);
      }
      return decoded;
    } catch (error) {
      expectOwnError(error, EntryBlockError);
      return null;
    }
  };

  it('arbitrary bytes: consecutive entries within the block, or an EntryBlockError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (block) => void decodeOrRefuseBlock(block)),
      { seed: 46, numRuns: 500 },
    );
  });

  it('valid blocks, damaged (lengths altered to 4 GiB, kinds, terms): decoded or refused, never another exception', () => {
    fc.assert(
      fc.property(entries, damage, (list, hurt) => void decodeOrRefuseBlock(damaged(encodeEntries(list), hurt))),
      { seed: 47, numRuns: 500 },
    );
  });

  it('valid blocks round-trip', () => {
    fc.assert(
      fc.property(entries, (list) => {
        expect(plain(decodeEntryBlock(encodeEntries(list)))).toEqual(plain(list));
      }),
      { seed: 48, numRuns: 300 },
    );
  });

  it('an entry declaring a 4 GiB payload in a small block is refused, not allocated', () => {
    const block = Uint8Array.from(encodeEntries([{ type: 'command', term: 1, index: 1, data: Uint8Array.of(1, 2) }]));
    new DataView(block.buffer).setUint32(8 + 9, 0xffffffff, true);
    expect(() => decodeEntryBlock(block)).toThrow(EntryBlockError);
  });
});

describe('the TCP frame reader under hostile input', () => {
  const FRAME_BYTES_MAX = 4096;

  /** Pushes every chunk; after a refusal every push refuses with the same error. */
  function readAll(chunks: readonly Uint8Array[]): { frames: Frame[]; failure: TransportError | null } {
    const reader = new FrameReader(FRAME_BYTES_MAX);
    const frames: Frame[] = [];
    for (const chunk of chunks) {
      try {
        frames.push(...reader.push(chunk));
      } catch (error) {
        expectOwnError(error, TransportError);
        const failure = error as TransportError;
        expect(['TRANSPORT_BAD_FRAME', 'TRANSPORT_FRAME_TOO_LARGE']).toContain(failure.code);
        expect(() => reader.push(Uint8Array.of(0, 0, 0, 1, 4))).toThrow(failure);
        expect(reader.pendingBytes).toBe(0);
        return { frames, failure };
      }
      // Never more than one frame's worth held: a longer declared length was refused on its first 4 bytes.
      expect(reader.pendingBytes).toBeLessThan(FRAME_HEADER_BYTES - 1 + FRAME_BYTES_MAX);
    }
    return { frames, failure: null };
  }

  const controlType = fc.constantFrom<ControlFrameType>('HELLO', 'WELCOME', 'REFUSE', 'CHALLENGE', 'PROOF');
  const wireFrame = fc.oneof(
    fc.record({
      type: controlType,
      body: fc.dictionary(
        fc.string({ maxLength: 8 }),
        fc.oneof(fc.string({ maxLength: 16 }), fc.integer(), fc.boolean(), fc.constant(null)),
        {
          maxKeys: 4,
        },
      ),
    }),
    fc.record({ type: fc.constantFrom('RAFT' as const, 'CLIENT' as const), body: fc.uint8Array({ maxLength: 64 }) }),
  );
  const encodeFrame = (frame: { type: ControlFrameType | 'RAFT' | 'CLIENT'; body: unknown }): Buffer =>
    frame.type === 'RAFT' || frame.type === 'CLIENT'
      ? encodeDataFrameBytes(frame.type, frame.body as Uint8Array)
      : encodeControlFrame(frame.type, frame.body as Record<string, unknown>);

  it('arbitrary bytes in arbitrary chunks: whole frames, or a registered TransportError, never another exception', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (bytes, cuts) => void readAll(splitAt(bytes, cuts)),
      ),
      { seed: 49, numRuns: 500 },
    );
  });

  it('valid frames, damaged, in arbitrary chunks: frames or a registered TransportError', () => {
    fc.assert(
      fc.property(
        fc.array(wireFrame, { minLength: 1, maxLength: 4 }),
        damage,
        fc.array(fc.nat(), { maxLength: 8 }),
        (frames, hurt, cuts) => {
          const bytes = Buffer.concat(frames.map(encodeFrame));
          readAll(splitAt(damaged(bytes, hurt), cuts));
        },
      ),
      { seed: 50, numRuns: 500 },
    );
  });

  it('valid frames round-trip whatever the chunk split', () => {
    fc.assert(
      fc.property(fc.array(wireFrame, { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 10 }), (frames, cuts) => {
        const { frames: read, failure } = readAll(splitAt(Buffer.concat(frames.map(encodeFrame)), cuts));
        expect(failure).toBeNull();
        expect(plain(read)).toEqual(plain(frames));
      }),
      { seed: 51, numRuns: 300 },
    );
  });

  it('a declared length of 4 GiB is refused on its four bytes, before any of the frame is buffered', () => {
    const reader = new FrameReader(FRAME_BYTES_MAX);
    expect(() => reader.push(Uint8Array.of(0xff, 0xff, 0xff, 0xff))).toThrow(
      expect.objectContaining({ code: 'TRANSPORT_FRAME_TOO_LARGE' }) as unknown as Error,
    );
    expect(reader.pendingBytes).toBe(0);
  });
});
