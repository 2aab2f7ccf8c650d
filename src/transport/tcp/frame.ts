// The TCP transport's frames: `u32 length (big-endian, counts type and body) | u8 type | body`. Control
// frames (HELLO, CHALLENGE, PROOF, WELCOME, REFUSE) carry a msgpack map; RAFT carries a frame of Raft
// messages as codec.ts encodes it (msgpack, sequential records: one encoder and decoder per connection);
// CLIENT carries an opaque client-port frame. See docs/TRANSPORT.md.
import { Packr } from 'msgpackr';
import { msgpackLengthsFit } from '../../codec/msgpack-lengths.js';
import { TransportError } from './errors.js';

/**
 * The longest frame accepted (type and body): a Raft frame is at most FRAME_BYTES_MAX (4 MiB) of entries and
 * snapshot data plus one message (itself bounded by appendBytesMax or snapshotChunkBytes), so 64 MiB leaves a
 * wide margin; the extra 64 KiB covers the messages' fixed fields. A longer length is refused before anything
 * of the frame is buffered.
 */
export const PEER_FRAME_BYTES_MAX = 64 * 1024 * 1024 + 64 * 1024;

/** Bytes before the body: the u32 length and the u8 type. */
export const FRAME_HEADER_BYTES = 5;

export const FRAME_TYPES = { HELLO: 1, WELCOME: 2, REFUSE: 3, RAFT: 4, CLIENT: 5, CHALLENGE: 6, PROOF: 7 } as const;
export type FrameTypeName = keyof typeof FRAME_TYPES;
export type ControlFrameType = Exclude<FrameTypeName, 'RAFT' | 'CLIENT'>;

const TYPE_NAMES = new Map<number, FrameTypeName>(Object.entries(FRAME_TYPES).map(([name, code]) => [code, name as FrameTypeName]));

/** A whole frame as the reader yields it: a control frame's msgpack map, or a data frame's bytes. */
export type Frame =
  | { readonly type: ControlFrameType; readonly body: Readonly<Record<string, unknown>> }
  | { readonly type: 'RAFT' | 'CLIENT'; readonly body: Uint8Array };

const packr = new Packr({ useRecords: false, moreTypes: false });

function header(type: FrameTypeName, bodyBytes: number): Buffer {
  const length = 1 + bodyBytes;
  if (length > PEER_FRAME_BYTES_MAX) throw new TransportError('TRANSPORT_FRAME_TOO_LARGE', `a ${type} frame of ${length} bytes`);
  const head = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  head.writeUInt32BE(length, 0);
  head.writeUInt8(FRAME_TYPES[type], 4);
  return head;
}

/** A control frame's bytes (header and msgpack body). */
export function encodeControlFrame(type: ControlFrameType, body: Readonly<Record<string, unknown>>): Buffer {
  const encoded = packr.pack(body);
  return Buffer.concat([header(type, encoded.byteLength), encoded]);
}

/**
 * A data frame as its header and its body, so a large body is written as it is, not copied: write both
 * (corked) in order.
 */
export function encodeDataFrame(type: 'RAFT' | 'CLIENT', body: Uint8Array): [Buffer, Uint8Array] {
  return [header(type, body.byteLength), body];
}

/** One buffer holding the whole data frame (tests, small frames). */
export function encodeDataFrameBytes(type: 'RAFT' | 'CLIENT', body: Uint8Array): Buffer {
  const [head, rest] = encodeDataFrame(type, body);
  return Buffer.concat([head, rest]);
}

/**
 * Turns socket chunks into whole frames: a chunk may hold part of a frame or several. A length above the cap
 * is refused (TRANSPORT_FRAME_TOO_LARGE) as soon as its four bytes arrive, an unknown type or a control body
 * that is not a msgpack map is TRANSPORT_BAD_FRAME; after a refusal the reader refuses everything (the
 * connection is to be closed).
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private bufferedBytes = 0;
  private failure: TransportError | null = null;

  constructor(private readonly frameBytesMax: number = PEER_FRAME_BYTES_MAX) {
    if (!(Number.isSafeInteger(frameBytesMax) && frameBytesMax >= 1)) throw new RangeError('frameBytesMax must be a positive integer');
  }

  /** Bytes held for a frame not yet whole. */
  get pendingBytes(): number {
    return this.bufferedBytes;
  }

  /** The whole frames completed by `chunk`, in order; throws TransportError at the first bad one. */
  push(chunk: Uint8Array): Frame[] {
    if (this.failure !== null) throw this.failure;
    if (chunk.byteLength > 0) {
      this.chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      this.bufferedBytes += chunk.byteLength;
    }
    const frames: Frame[] = [];
    try {
      for (;;) {
        const frame = this.next();
        if (frame === null) break;
        frames.push(frame);
      }
    } catch (error) {
      this.failure = error instanceof TransportError ? error : new TransportError('TRANSPORT_BAD_FRAME', String(error));
      this.chunks = [];
      this.bufferedBytes = 0;
      throw this.failure;
    }
    return frames;
  }

  private next(): Frame | null {
    if (this.bufferedBytes < 4) return null;
    const length = this.peek(4).readUInt32BE(0);
    if (length > this.frameBytesMax) {
      throw new TransportError('TRANSPORT_FRAME_TOO_LARGE', `a frame of ${length} bytes, more than ${this.frameBytesMax}`);
    }
    if (length === 0) throw new TransportError('TRANSPORT_BAD_FRAME', 'a frame of length 0 (no type)');
    if (this.bufferedBytes < 4 + length) return null;
    const bytes = this.take(4 + length);
    const code = bytes[4] as number;
    const type = TYPE_NAMES.get(code);
    if (type === undefined) throw new TransportError('TRANSPORT_BAD_FRAME', `unknown frame type ${code}`);
    // A plain Uint8Array view (not a Buffer): what a MessagePort would deliver.
    const body = new Uint8Array(bytes.buffer, bytes.byteOffset + FRAME_HEADER_BYTES, bytes.byteLength - FRAME_HEADER_BYTES);
    if (type === 'RAFT' || type === 'CLIENT') return { type, body };
    return { type, body: decodeControlBody(type, body) };
  }

  /** The first `bytes` buffered bytes, joined if they span chunks (not consumed). */
  private peek(bytes: number): Buffer {
    const first = this.chunks[0] as Buffer;
    if (first.byteLength >= bytes) return first;
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined;
  }

  /** Removes and returns the first `bytes` buffered bytes: a view when they lie in one chunk. */
  private take(bytes: number): Buffer {
    let first = this.chunks[0] as Buffer;
    if (first.byteLength < bytes) {
      const parts: Buffer[] = [];
      let gathered = 0;
      while (gathered < bytes) {
        const chunk = this.chunks.shift() as Buffer;
        const need = bytes - gathered;
        if (chunk.byteLength > need) {
          parts.push(chunk.subarray(0, need));
          this.chunks.unshift(chunk.subarray(need));
          gathered += need;
        } else {
          parts.push(chunk);
          gathered += chunk.byteLength;
        }
      }
      this.bufferedBytes -= bytes;
      return Buffer.concat(parts, bytes);
    }
    this.bufferedBytes -= bytes;
    if (first.byteLength === bytes) {
      this.chunks.shift();
      return first;
    }
    const taken = first.subarray(0, bytes);
    first = first.subarray(bytes);
    this.chunks[0] = first;
    return taken;
  }
}

function decodeControlBody(type: ControlFrameType, body: Uint8Array): Readonly<Record<string, unknown>> {
  // Before any peer is authenticated: a declared length past the body must not cost the decoder a thing.
  if (!msgpackLengthsFit(body)) throw new TransportError('TRANSPORT_BAD_FRAME', `a length in the ${type} body runs past its end`);
  let decoded: unknown;
  try {
    decoded = packr.unpack(body);
  } catch (error) {
    throw new TransportError('TRANSPORT_BAD_FRAME', `undecodable ${type} body: ${(error as Error).message}`);
  }
  if (typeof decoded !== 'object' || decoded === null || Array.isArray(decoded) || decoded instanceof Uint8Array) {
    throw new TransportError('TRANSPORT_BAD_FRAME', `${type} body is not a map`);
  }
  return decoded as Record<string, unknown>;
}
