import { Packr } from 'msgpackr';
import type { Message, MessageType } from '../raft/types.js';

/** Most Raft messages in one frame (one postMessage). */
export const FRAME_MESSAGES_MAX = 256;

const MESSAGE_TYPES: ReadonlySet<MessageType> = new Set<MessageType>([
  'VoteRequest', 'VoteResponse', 'AppendRequest', 'AppendResponse', 'SnapshotRequest', 'SnapshotResponse', 'TimeoutNow',
]);

export class FrameError extends Error {
  readonly code = 'TRANSPORT_BAD_FRAME';
}

/**
 * Encodes batches of Raft messages for one ordered link. msgpackr's sequential records describe each message
 * shape once and then refer to it, so the decoder on the other end must see every frame, in order: faults
 * (drop, delay, duplicate) are applied to messages before encoding, never to frames.
 */
export class FrameEncoder {
  private readonly packr = new Packr({ sequential: true, useRecords: true });

  /** An exact-size copy: posting msgpackr's shared buffer view would copy its whole 8 KiB backing store. */
  encode(messages: readonly Message[]): Uint8Array {
    return new Uint8Array(this.packr.pack(messages));
  }
}

export class FrameDecoder {
  private readonly packr = new Packr({ sequential: true, useRecords: true });

  decode(frame: Uint8Array): Message[] {
    const decoded: unknown = this.packr.unpack(frame);
    if (!Array.isArray(decoded)) throw new FrameError('frame is not an array of messages');
    for (const message of decoded) {
      const type = (message as { type?: unknown } | null)?.type;
      if (typeof type !== 'string' || !MESSAGE_TYPES.has(type as MessageType)) throw new FrameError(`unknown message type ${String(type)}`);
    }
    return decoded as Message[];
  }
}
