// The peer transport's frames (src/transport/codec.ts) and its link (src/transport/peer-link.ts): every message
// survives the trip, an AppendRequest's entries are encoded once for every link, bad frames are refused with
// TRANSPORT_BAD_FRAME, and frames stay within their named bounds.
import { Packr } from 'msgpackr';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import type { AppendRequest, Entry, Message } from '../../src/raft/types.js';
import {
  decodeEntries,
  encodeEntries,
  EntryBlocks,
  FRAME_BYTES_MAX,
  FRAME_MESSAGES_MAX,
  FrameDecoder,
  FrameEncoder,
  FrameError,
} from '../../src/transport/codec.js';
import { PeerLink } from '../../src/transport/peer-link.js';

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

function append(entries: readonly Entry[], to = 'n2'): AppendRequest {
  const prevLogIndex = entries.length === 0 ? 7 : (entries[0] as Entry).index - 1;
  return { type: 'AppendRequest', from: 'n1', to, term: 3, prevLogIndex, prevLogTerm: 2, entries, leaderCommit: 5, round: 9 };
}

const ENTRIES: readonly Entry[] = [
  { type: 'noop', term: 3, index: 8 },
  { type: 'command', term: 3, index: 9, data: bytes(1, 2, 3) },
  { type: 'config', term: 3, index: 10, membership: { voters: ['n1', 'n2', 'n3'], learners: [] } },
  { type: 'command', term: 4, index: 11, data: new Uint8Array(0) },
  { type: 'command', term: 2 ** 40, index: 12, data: new Uint8Array(300).fill(7) },
];

const EVERY_MESSAGE: readonly Message[] = [
  { type: 'VoteRequest', from: 'n1', to: 'n2', term: 4, preVote: true, lastLogIndex: 10, lastLogTerm: 3, transfer: false },
  { type: 'VoteResponse', from: 'n2', to: 'n1', term: 4, preVote: true, granted: true },
  append(ENTRIES),
  append([]),
  {
    type: 'AppendResponse',
    from: 'n2',
    to: 'n1',
    term: 3,
    success: true,
    matchIndex: 12,
    rejectIndex: 0,
    conflictIndex: 0,
    conflictTerm: 0,
    round: 9,
  },
  {
    type: 'SnapshotRequest',
    from: 'n1',
    to: 'n2',
    term: 3,
    meta: { index: 100, term: 3, membership: { voters: ['n1', 'n2'], learners: [] } },
    offsetBytes: 0,
    totalBytes: 3,
    data: bytes(9, 8, 7),
    done: true,
    round: 2,
  },
  { type: 'SnapshotResponse', from: 'n2', to: 'n1', term: 3, snapshotIndex: 100, receivedBytes: 3, done: true, success: true, round: 2 },
  { type: 'TimeoutNow', from: 'n1', to: 'n2', term: 3 },
];

/** Plain data, so toEqual compares Uint8Array contents whatever buffer they view. */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_, v: unknown) => (v instanceof Uint8Array ? [...v] : v)));
}

function expectBadFrame(run: () => unknown): void {
  let caught: unknown = null;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(FrameError);
  expect((caught as FrameError).code).toBe('TRANSPORT_BAD_FRAME');
}

describe('frames', () => {
  it('carry every message type, in order, frame after frame', () => {
    const encoder = new FrameEncoder(new EntryBlocks());
    const decoder = new FrameDecoder();
    for (let round = 0; round < 3; round++) {
      expect(plain(decoder.decode(encoder.encode(EVERY_MESSAGE)))).toEqual(plain(EVERY_MESSAGE));
    }
  });

  it('encode a range of entries once per turn for every link, and each link decodes it', () => {
    const blocks = new EntryBlocks();
    const block = blocks.get(ENTRIES.slice());
    // The core builds a new array per message; the same entry objects make the same block.
    expect(blocks.get(ENTRIES.slice())).toBe(block);
    expect(blocks.get(ENTRIES.slice(0, 4))).not.toBe(block);
    expect(blocks.get(ENTRIES.slice(1))).not.toBe(block);
    const links = ['n2', 'n3', 'n4'].map((to) => ({ to, encoder: new FrameEncoder(blocks), decoder: new FrameDecoder() }));
    for (const link of links) {
      const [decoded] = link.decoder.decode(link.encoder.encode([append(ENTRIES.slice(), link.to)])) as [AppendRequest];
      expect(decoded.to).toBe(link.to);
      expect(plain(decoded.entries)).toEqual(plain(ENTRIES));
    }
    blocks.clear();
    expect(blocks.get(ENTRIES.slice())).not.toBe(block);
  });

  it('refuse entries that do not follow on', () => {
    expect(() => encodeEntries([ENTRIES[1] as Entry, ENTRIES[3] as Entry])).toThrow(/not consecutive/);
  });

  it('refuse what is not a frame of known messages', () => {
    const packr = new Packr({ sequential: true, useRecords: true });
    expectBadFrame(() => new FrameDecoder().decode(new Packr({ sequential: true, useRecords: true }).pack({ type: 'VoteRequest' })));
    expectBadFrame(() => new FrameDecoder().decode(packr.pack([{ type: 'Gossip' }])));
    expectBadFrame(() =>
      new FrameDecoder().decode(new Packr({ sequential: true, useRecords: true }).pack([{ ...append([]), entries: [] }])),
    );
    expectBadFrame(() => new FrameDecoder().decode(Uint8Array.from([0xc1, 0xc1, 0xc1])));
    const tooMany = Array.from({ length: FRAME_MESSAGES_MAX + 1 }, () => EVERY_MESSAGE[0] as Message);
    expectBadFrame(() => new FrameDecoder().decode(new FrameEncoder(new EntryBlocks()).encode(tooMany)));
  });

  it('refuse malformed entry blocks', () => {
    const block = encodeEntries(ENTRIES.slice());
    expectBadFrame(() => decodeEntries(block.subarray(0, 5)));
    expectBadFrame(() => decodeEntries(block.subarray(0, block.byteLength - 1)));
    const badKind = block.slice();
    badKind[8] = 9;
    expectBadFrame(() => decodeEntries(badKind));
    const badTerm = block.slice();
    new DataView(badTerm.buffer).setFloat64(9, 1.5, true);
    expectBadFrame(() => decodeEntries(badTerm));
    const badIndex = block.slice();
    new DataView(badIndex.buffer).setFloat64(0, -1, true);
    expectBadFrame(() => decodeEntries(badIndex));
    expect(decodeEntries(new Uint8Array(0))).toEqual([]);
  });
});

/** Frames a PeerLink posts, received raw on the other end of its channel. */
async function flushed(queue: (link: PeerLink) => void): Promise<Uint8Array[]> {
  const { port1, port2 } = new MessageChannel();
  const link = new PeerLink(
    'n2',
    port1,
    () => {},
    (error) => {
      throw error;
    },
  );
  const frames: Uint8Array[] = [];
  port2.on('message', (frame: Uint8Array) => frames.push(frame));
  queue(link);
  link.flush();
  await new Promise((resolve) => setTimeout(resolve, 20));
  link.close();
  (port2 as MessagePort).close();
  return frames;
}

describe('PeerLink', () => {
  it('splits a turn into frames of at most FRAME_MESSAGES_MAX messages, in order', async () => {
    const count = FRAME_MESSAGES_MAX * 2 + 3;
    const frames = await flushed((link) => {
      for (let i = 0; i < count; i++) link.send({ type: 'TimeoutNow', from: 'n1', to: 'n2', term: i });
    });
    const decoder = new FrameDecoder();
    const decoded = frames.map((frame) => decoder.decode(frame));
    expect(decoded.map((batch) => batch.length)).toEqual([FRAME_MESSAGES_MAX, FRAME_MESSAGES_MAX, 3]);
    expect(decoded.flat().map((message) => message.term)).toEqual(Array.from({ length: count }, (_, i) => i));
  });

  it('starts a new frame once one holds FRAME_BYTES_MAX bytes of entries', async () => {
    const chunk = FRAME_BYTES_MAX / 4;
    const frames = await flushed((link) => {
      for (let i = 0; i < 6; i++) link.send(append([{ type: 'command', term: 1, index: i + 1, data: new Uint8Array(chunk) }]));
    });
    const decoder = new FrameDecoder();
    expect(frames.map((frame) => decoder.decode(frame).length)).toEqual([4, 2]);
    for (const frame of frames) expect(frame.byteLength).toBeLessThan(FRAME_BYTES_MAX + chunk + 1024);
  });

  it('counts the bytes of the frames it posts (read before the buffer is transferred away)', async () => {
    let sender: PeerLink | null = null;
    const frames = await flushed((link) => {
      sender = link;
      for (let i = 0; i < 3; i++) link.send({ type: 'TimeoutNow', from: 'n1', to: 'n2', term: i });
    });
    const stats = (sender as unknown as PeerLink).stats;
    expect(stats.bytesSent).toBeGreaterThan(0);
    expect(stats.bytesSent).toBe(frames.reduce((sum, frame) => sum + frame.byteLength, 0));
    expect(stats.messagesSent).toBe(3);
  });

  it('applies faults per message before encoding: a cut link posts nothing', async () => {
    const frames = await flushed((link) => {
      link.setFaults({ cut: true, drop: 0, delayMs: [0, 0], duplicate: 0 });
      link.send(append(ENTRIES));
      expect(link.stats.messagesDropped).toBe(1);
    });
    expect(frames).toEqual([]);
  });
});
