import { Packr } from 'msgpackr';
import { decodeEntries as decodeEntryBlock, encodeEntries, EntryBlockError } from '../codec/entry-block.js';
import { msgpackLengthsFit } from '../codec/msgpack-lengths.js';
import type { PeerFrame } from '../protocol/peer.js';
import { MESSAGE_TYPES, type AppendRequest, type Entry, type Message, type MessageType } from '../raft/types.js';

/** Most Raft messages in one frame (one postMessage); a frame with more is refused. */
export const FRAME_MESSAGES_MAX = 256;
/**
 * A frame takes no further message once its entries and snapshot data reach this many bytes (one message
 * always goes): a frame is at most this plus one message, itself bounded by the core's appendBytesMax or
 * snapshotChunkBytes.
 */
export const FRAME_BYTES_MAX = 4 * 1024 * 1024;

const KNOWN_MESSAGE_TYPES: ReadonlySet<MessageType> = new Set<MessageType>(MESSAGE_TYPES);

export class FrameError extends Error {
  readonly code = 'TRANSPORT_BAD_FRAME';
}

// ---------------------------------------------------------------------------
// Entries: one binary block per AppendRequest (src/codec/entry-block.ts), the same bytes for every follower.
// A block holds no per-link state (unlike msgpackr's sequential records), so the leader encodes a range of
// entries once per turn (EntryBlocks) and every link whose AppendRequest carries that range puts the same
// bytes in its frame.

const NO_ENTRIES = new Uint8Array(0);

/** Slots of EntryBlocks' table: a power of two well above the AppendRequests of a usual turn. */
const ENTRY_BLOCK_SLOTS = 256;

/** A block made this turn, and the next one made in the same slot. */
interface MadeBlock {
  readonly first: Entry;
  readonly last: Entry;
  readonly count: number;
  readonly block: Uint8Array;
  readonly next: MadeBlock | null;
}

/**
 * The entry blocks of one turn, shared by every link of a node: a follower whose AppendRequest carries the
 * same entries as another's (level followers get the same ranges) reuses that block. A range is known by its
 * first and last entry objects (the leader's log objects, one per index and term), not by its array, since
 * the core builds a new array per message. clear() at the end of each turn.
 */
export class EntryBlocks {
  /** Blocks by first index, modulo the table size; each slot chains the blocks that land in it. */
  private readonly slots: (MadeBlock | null)[] = new Array<MadeBlock | null>(ENTRY_BLOCK_SLOTS).fill(null);
  private used = false;

  /** The entries as one block, encoded at most once per turn. */
  get(entries: readonly Entry[]): Uint8Array {
    if (entries.length === 0) return NO_ENTRIES;
    const first = entries[0] as Entry;
    const last = entries[entries.length - 1] as Entry;
    const slot = first.index % ENTRY_BLOCK_SLOTS;
    const head = this.slots[slot] ?? null;
    for (let made = head; made !== null; made = made.next) {
      if (made.first === first && made.last === last && made.count === entries.length) return made.block;
    }
    const block = encodeEntries(entries);
    this.slots[slot] = { first, last, count: entries.length, block, next: head };
    this.used = true;
    return block;
  }

  /** Forgets the turn's blocks (so they, and the entries they name, can go). */
  clear(): void {
    if (!this.used) return;
    this.slots.fill(null);
    this.used = false;
  }
}

/** The entries as one block (see EntryBlocks to share it between links). */
export { encodeEntries };

/** The entries of a block; a command's data is a view into the block (no copy). Malformed blocks throw FrameError. */
export function decodeEntries(block: Uint8Array): Entry[] {
  try {
    return decodeEntryBlock(block);
  } catch (error) {
    if (error instanceof EntryBlockError) throw new FrameError(error.message);
    throw error;
  }
}

// ---------------------------------------------------------------------------
// Frames.

/** An AppendRequest as it crosses the port: its entries as one block. */
type WireAppendRequest = Omit<AppendRequest, 'entries'> & { entries: Uint8Array };

/**
 * Encodes batches of Raft messages for one ordered link. msgpackr's sequential records describe each message
 * shape once and then refer to it, so the decoder on the other end must see every frame, in order: faults
 * (drop, delay, duplicate) are applied to messages before encoding, never to frames. An AppendRequest's
 * entries go as a block from `blocks`, which the links of one node share, so a turn encodes each range once
 * for all followers rather than once per link.
 */
export class FrameEncoder {
  private readonly packr = new Packr({ sequential: true, useRecords: true });

  /** `blocks` must be cleared after every turn (it holds the turn's blocks). */
  constructor(private readonly blocks: EntryBlocks) {}

  /** An exact-size copy: posting msgpackr's shared buffer view would copy its whole 8 KiB backing store. */
  encode(messages: PeerFrame): Uint8Array {
    const wire = new Array<Message | WireAppendRequest>(messages.length);
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i] as Message;
      wire[i] = message.type === 'AppendRequest' ? this.toWire(message) : message;
    }
    return new Uint8Array(this.packr.pack(wire));
  }

  /** The bytes a message adds to a frame beyond its fixed fields: what FRAME_BYTES_MAX counts. */
  payloadBytes(message: Message): number {
    if (message.type === 'AppendRequest') return this.blocks.get(message.entries).byteLength;
    return message.type === 'SnapshotRequest' ? message.data.byteLength : 0;
  }

  private toWire(request: AppendRequest): WireAppendRequest {
    return {
      type: 'AppendRequest',
      from: request.from,
      to: request.to,
      term: request.term,
      prevLogIndex: request.prevLogIndex,
      prevLogTerm: request.prevLogTerm,
      entries: this.blocks.get(request.entries),
      leaderCommit: request.leaderCommit,
      round: request.round,
    };
  }
}

export class FrameDecoder {
  private readonly packr = new Packr({ sequential: true, useRecords: true });

  decode(frame: Uint8Array): Message[] {
    if (!msgpackLengthsFit(frame)) throw new FrameError('undecodable frame: a declared length runs past its end');
    let decoded: unknown;
    try {
      decoded = this.packr.unpack(frame);
    } catch (error) {
      throw new FrameError(`undecodable frame: ${(error as Error).message}`);
    }
    if (!Array.isArray(decoded)) throw new FrameError('frame is not an array of messages');
    if (decoded.length > FRAME_MESSAGES_MAX) throw new FrameError(`frame of ${decoded.length} messages, more than ${FRAME_MESSAGES_MAX}`);
    for (const message of decoded) {
      const type = (message as { type?: unknown } | null)?.type;
      if (typeof type !== 'string' || !KNOWN_MESSAGE_TYPES.has(type as MessageType))
        throw new FrameError(`unknown message type ${String(type)}`);
      if (type === 'AppendRequest') {
        const request = message as { entries: unknown };
        if (!(request.entries instanceof Uint8Array)) throw new FrameError('AppendRequest entries are not a block');
        request.entries = decodeEntries(request.entries);
      }
    }
    return decoded as Message[];
  }
}
