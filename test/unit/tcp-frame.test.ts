// The TCP transport's frame reader (src/transport/tcp/frame.ts): whole frames out of any split of the byte
// stream; oversized lengths, unknown types and bad bodies refused with their registered codes, nothing yielded.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isErrorCode } from '../../src/protocol/errors.js';
import { TRANSPORT_ERROR_CODES, TransportError } from '../../src/transport/tcp/errors.js';
import { encodeControlFrame, encodeDataFrameBytes, FrameReader, PEER_FRAME_BYTES_MAX, type Frame } from '../../src/transport/tcp/frame.js';

function refusal(action: () => unknown): TransportError {
  try {
    action();
  } catch (error) {
    if (error instanceof TransportError) return error;
    throw error;
  }
  throw new Error('expected a TransportError');
}

const hello = { protocolVersion: 2, clusterId: 'c1', from: 'n1', to: 'n2', lane: 'raft' };

function lengthPrefix(length: number, type = 4): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(length, 0);
  head.writeUInt8(type, 4);
  return head;
}

describe('FrameReader', () => {
  it('every code it uses is registered', () => {
    for (const code of TRANSPORT_ERROR_CODES) expect(isErrorCode(code)).toBe(true);
  });

  it('reads a control frame and a data frame from one chunk (merged)', () => {
    const reader = new FrameReader();
    const bytes = Buffer.concat([encodeControlFrame('HELLO', hello), encodeDataFrameBytes('RAFT', new Uint8Array([1, 2, 3]))]);
    const frames = reader.push(bytes);
    expect(frames).toHaveLength(2);
    expect(frames[0]).toEqual({ type: 'HELLO', body: hello });
    expect(frames[1]?.type).toBe('RAFT');
    expect([...(frames[1]?.body as Uint8Array)]).toEqual([1, 2, 3]);
    expect(reader.pendingBytes).toBe(0);
  });

  it('holds a partial frame until the rest arrives, one byte at a time', () => {
    const reader = new FrameReader();
    const bytes = encodeDataFrameBytes('CLIENT', new Uint8Array(1000).fill(7));
    for (let i = 0; i < bytes.length - 1; i++) expect(reader.push(bytes.subarray(i, i + 1))).toEqual([]);
    const frames = reader.push(bytes.subarray(bytes.length - 1));
    expect(frames).toHaveLength(1);
    expect(frames[0]?.body).toEqual(new Uint8Array(1000).fill(7));
  });

  it('refuses a length above the cap as soon as the length arrives, before buffering the frame', () => {
    const reader = new FrameReader();
    const error = refusal(() => reader.push(lengthPrefix(PEER_FRAME_BYTES_MAX + 1).subarray(0, 4)));
    expect(error.code).toBe('TRANSPORT_FRAME_TOO_LARGE');
    expect(reader.pendingBytes).toBe(0);
    // Dead after a refusal: the connection is to be closed.
    expect(refusal(() => reader.push(encodeControlFrame('HELLO', hello))).code).toBe('TRANSPORT_FRAME_TOO_LARGE');
  });

  it('honours a smaller cap', () => {
    const reader = new FrameReader(100);
    expect(reader.push(encodeDataFrameBytes('RAFT', new Uint8Array(99)))).toHaveLength(1);
    expect(refusal(() => reader.push(encodeDataFrameBytes('RAFT', new Uint8Array(100)))).code).toBe('TRANSPORT_FRAME_TOO_LARGE');
  });

  it('refuses an unknown type, a zero length, and garbage, yielding nothing', () => {
    expect(refusal(() => new FrameReader().push(Buffer.concat([lengthPrefix(2, 99), Buffer.from([0])]))).code).toBe('TRANSPORT_BAD_FRAME');
    expect(refusal(() => new FrameReader().push(Buffer.from([0, 0, 0, 0, 1]))).code).toBe('TRANSPORT_BAD_FRAME');
    // Garbage whose first four bytes read as a huge length, and garbage with a small one and a bad type.
    expect(refusal(() => new FrameReader().push(Buffer.from('GET / HTTP/1.1\r\n\r\n'))).code).toBe('TRANSPORT_FRAME_TOO_LARGE');
    expect(refusal(() => new FrameReader().push(Buffer.from([0, 0, 0, 3, 0xee, 1, 2]))).code).toBe('TRANSPORT_BAD_FRAME');
  });

  it('refuses a control frame whose body is not a msgpack map', () => {
    const notMsgpack = Buffer.concat([lengthPrefix(3, 1), Buffer.from([0xc1, 0xc1])]); // 0xc1 is never used by msgpack
    expect(refusal(() => new FrameReader().push(notMsgpack)).code).toBe('TRANSPORT_BAD_FRAME');
    const notAMap = Buffer.concat([lengthPrefix(2, 2), Buffer.from([0x05])]); // the number 5
    expect(refusal(() => new FrameReader().push(notAMap)).code).toBe('TRANSPORT_BAD_FRAME');
  });

  it('refuses to encode a frame above the cap', () => {
    expect(() => encodeDataFrameBytes('RAFT', new Uint8Array(PEER_FRAME_BYTES_MAX))).toThrow(TransportError);
  });

  it('any split of a stream of valid frames yields the same frames (property)', () => {
    const frameArb = fc.oneof(
      fc.record({ type: fc.constantFrom('RAFT' as const, 'CLIENT' as const), body: fc.uint8Array({ maxLength: 300 }) }),
      fc.record({
        type: fc.constantFrom('HELLO' as const, 'WELCOME' as const, 'REFUSE' as const),
        body: fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.oneof(fc.string(), fc.integer()), { maxKeys: 4 }),
      }),
    );
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 20 }), (frames, cuts) => {
        const encoded = frames.map((frame) =>
          frame.body instanceof Uint8Array
            ? encodeDataFrameBytes(frame.type as 'RAFT' | 'CLIENT', frame.body)
            : encodeControlFrame(frame.type as 'HELLO' | 'WELCOME' | 'REFUSE', frame.body),
        );
        const stream = Buffer.concat(encoded);
        const points = [...new Set(cuts.map((cut) => (stream.length === 0 ? 0 : cut % (stream.length + 1))))].sort((a, b) => a - b);
        const reader = new FrameReader();
        const read: Frame[] = [];
        let start = 0;
        for (const point of [...points, stream.length]) {
          read.push(...reader.push(stream.subarray(start, point)));
          start = point;
        }
        expect(reader.pendingBytes).toBe(0);
        expect(
          read.map((frame) => ({ type: frame.type, body: frame.body instanceof Uint8Array ? new Uint8Array(frame.body) : frame.body })),
        ).toEqual(frames.map((frame) => ({ type: frame.type, body: frame.body })));
      }),
      { numRuns: 300 },
    );
  });
});
