// Fuzz target: the peer frame decoders. The first byte picks the surface, the rest is its input:
//   0: the MessagePort frame decoder (src/transport/codec.ts), twice on one decoder (msgpackr's sequential
//      records carry state from frame to frame);
//   1: the entries block (src/codec/entry-block.ts) alone;
//   2, 3: the TCP frame reader (src/transport/tcp/frame.ts), fed in 5-byte pieces (2) or whole (3), each frame
//      then read as a connection would: control frames by the handshake's parsers, RAFT frames by a
//      FrameDecoder.
// Oracles (as test/unit/hostile-peer-frames.test.ts): only FrameError (TRANSPORT_BAD_FRAME), EntryBlockError
// or a TransportError under a registered code; decoded messages of known types, at most FRAME_MESSAGES_MAX;
// entries consecutive, with safe integers, their data within the block; the reader holds less than one frame.
import { decodeEntries as decodeEntryBlock, EntryBlockError } from '../../../src/codec/entry-block.js';
import { MESSAGE_TYPES, type Entry, type Message } from '../../../src/raft/types.js';
import { FrameDecoder, FrameError, FRAME_MESSAGES_MAX } from '../../../src/transport/codec.js';
import { TransportError, TRANSPORT_ERROR_CODES } from '../../../src/transport/tcp/errors.js';
import { FRAME_HEADER_BYTES, FrameReader, type Frame } from '../../../src/transport/tcp/frame.js';
import { parseChallenge, parseHello, parseProof, parseRefusal, parseWelcome } from '../../../src/transport/tcp/handshake.js';
import { chunksOf, expectRefusal } from '../oracles.js';
import { check, type FuzzTarget } from '../target.js';

const KNOWN_TYPES: ReadonlySet<string> = new Set(MESSAGE_TYPES);
const READER_FRAME_BYTES_MAX = 4096;
const READER_CHUNK_BYTES = 5;

function checkEntries(entries: readonly Entry[], blockBytes: number): void {
  for (const [i, entry] of entries.entries()) {
    check(Number.isSafeInteger(entry.index) && Number.isSafeInteger(entry.term), `an entry with index ${entry.index}, term ${entry.term}`);
    if (i > 0) check(entry.index === (entries[i - 1] as Entry).index + 1, 'entries that do not follow on');
    if (entry.type === 'command')
      check(entry.data.byteLength <= blockBytes, `a command of ${entry.data.byteLength} bytes from a block of ${blockBytes}`);
  }
}

function checkMessages(messages: readonly Message[], frameBytes: number): void {
  check(messages.length <= FRAME_MESSAGES_MAX, `a frame of ${messages.length} messages`);
  for (const message of messages) {
    check(KNOWN_TYPES.has(message.type), `a message of type ${String(message.type)}`);
    if (message.type === 'AppendRequest') {
      check(Array.isArray(message.entries), 'an AppendRequest whose entries are not a list');
      checkEntries(message.entries, frameBytes);
    }
  }
}

function decodeFrame(decoder: FrameDecoder, frame: Uint8Array): boolean {
  try {
    checkMessages(decoder.decode(frame), frame.byteLength);
    return true;
  } catch (error) {
    expectRefusal(error, FrameError, ['TRANSPORT_BAD_FRAME']);
    return false;
  }
}

function decodeBlock(block: Uint8Array): void {
  try {
    checkEntries(decodeEntryBlock(block), block.byteLength);
  } catch (error) {
    if (!(error instanceof EntryBlockError)) throw error;
  }
}

/** A frame as a connection reads it: the handshake's parsers for control frames, a decoder for RAFT frames. */
function readFrame(frame: Frame, decoder: FrameDecoder): void {
  try {
    switch (frame.type) {
      case 'HELLO':
        parseHello(frame.body);
        return;
      case 'WELCOME':
        parseWelcome(frame.body);
        return;
      case 'CHALLENGE':
        parseChallenge(frame.body);
        return;
      case 'PROOF':
        parseProof(frame.body);
        return;
      case 'REFUSE': {
        const refusal = parseRefusal(frame.body);
        check((TRANSPORT_ERROR_CODES as readonly string[]).includes(refusal.code), `a refusal read with code ${refusal.code}`);
        return;
      }
      case 'RAFT':
        decodeFrame(decoder, frame.body);
        return;
      case 'CLIENT':
        return; // the client lane's bodies are the client port's (src/protocol/client.ts), not a peer's
    }
  } catch (error) {
    expectRefusal(error, TransportError, TRANSPORT_ERROR_CODES);
  }
}

function readStream(chunks: readonly Buffer[]): void {
  const reader = new FrameReader(READER_FRAME_BYTES_MAX);
  const decoder = new FrameDecoder();
  for (const chunk of chunks) {
    let frames: Frame[];
    try {
      frames = reader.push(chunk);
    } catch (error) {
      expectRefusal(error, TransportError, ['TRANSPORT_BAD_FRAME', 'TRANSPORT_FRAME_TOO_LARGE']);
      check(reader.pendingBytes === 0, `a refused reader still holds ${reader.pendingBytes} bytes`);
      return;
    }
    check(reader.pendingBytes < FRAME_HEADER_BYTES - 1 + READER_FRAME_BYTES_MAX, `the reader holds ${reader.pendingBytes} bytes`);
    for (const frame of frames) readFrame(frame, decoder);
  }
}

function run(data: Buffer): void {
  const surface = (data[0] ?? 0) % 4;
  const rest = data.subarray(1);
  if (surface === 0) {
    const decoder = new FrameDecoder();
    if (decodeFrame(decoder, rest)) decodeFrame(decoder, rest);
  } else if (surface === 1) decodeBlock(rest);
  else readStream(surface === 2 ? chunksOf(rest, READER_CHUNK_BYTES) : [rest]);
}

export const peerFramesTarget: FuzzTarget = {
  name: 'peer-frames',
  description: 'the MessagePort frame decoder, the entries block, the TCP frame reader and the handshake parsers',
  coverage: ['src/transport/codec', 'src/transport/tcp/frame', 'src/transport/tcp/handshake', 'src/codec/entry-block'],
  dictionary: [
    'type',
    'AppendRequest',
    'VoteRequest',
    'SnapshotRequest',
    'TimeoutNow',
    'entries',
    'protocolVersion',
    'clusterId',
    'lane',
    'raft',
    'nonce',
    'proof',
    'code',
    Uint8Array.of(0xdc),
    Uint8Array.of(0xdd),
    Uint8Array.of(0xde),
    Uint8Array.of(0xc4),
    Uint8Array.of(0xc6),
    Uint8Array.of(0xd4),
    Uint8Array.of(0xd5),
    Uint8Array.of(0xc7),
    Uint8Array.of(0x40),
    Uint8Array.of(0x91),
    Uint8Array.of(0x81),
    Uint8Array.of(0xa4),
    Uint8Array.of(0, 0, 0, 1),
    Uint8Array.of(0xff, 0xff, 0xff, 0xff),
  ],
  inputBytesMax: 4096,
  inputMsMax: 2_000,
  run,
};
