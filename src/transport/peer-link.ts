import type { MessagePort } from 'node:worker_threads';
import { SeededRandom, type Random } from '../raft/random.js';
import type { Message, NodeId } from '../raft/types.js';
import { EntryBlocks, FRAME_BYTES_MAX, FRAME_MESSAGES_MAX, FrameDecoder, FrameEncoder } from './codec.js';
import { LinkFaultFilter, type LinkFaults } from './link-faults.js';
import type { Link, LinkStats } from './link.js';

export type { LinkStats } from './link.js';

/**
 * One node's end of the MessagePort to one peer: outgoing messages are queued during a turn and flushed
 * as batched frames; incoming frames are decoded and handed to `deliver`. The fault filter runs on the
 * sending side, per message, before encoding.
 */
export class PeerLink implements Link {
  private queue: Message[] = [];
  private readonly encoder: FrameEncoder;
  /** Set when this link has blocks of its own (none shared): it clears them after each flush. */
  private readonly ownBlocks: EntryBlocks | null;
  private readonly decoder = new FrameDecoder();
  private readonly filter: LinkFaultFilter<Message>;
  readonly stats: LinkStats = { messagesSent: 0, messagesDropped: 0, framesSent: 0, bytesSent: 0, messagesReceived: 0 };

  constructor(
    readonly peer: NodeId,
    private readonly port: MessagePort,
    deliver: (messages: Message[]) => void,
    onBadFrame: (error: Error) => void,
    /** Shared by every link of the node (see EntryBlocks), which clears it after each turn's flush. */
    blocks: EntryBlocks | null = null,
    /** Drives the fault filter (drop, duplicate, delay): seeded by the supervisor, so a run's seed names its faults. */
    random: Random = new SeededRandom(0),
  ) {
    this.filter = new LinkFaultFilter<Message>(
      random,
      (message) => this.queue.push(message),
      (message) => {
        this.queue.push(message);
        this.flush();
      },
      () => this.stats.messagesDropped++,
    );
    const shared = blocks ?? new EntryBlocks();
    this.ownBlocks = blocks === null ? shared : null;
    this.encoder = new FrameEncoder(shared);
    port.on('message', (frame: Uint8Array) => {
      let messages: Message[];
      try {
        messages = this.decoder.decode(frame);
      } catch (error) {
        onBadFrame(error as Error);
        return;
      }
      this.stats.messagesReceived += messages.length;
      deliver(messages);
    });
  }

  setFaults(faults: LinkFaults): void {
    this.filter.set(faults);
  }

  send(message: Message): void {
    this.filter.offer(message);
  }

  /**
   * Posts everything queued, each frame transferred (no copy): at most FRAME_MESSAGES_MAX messages, and no
   * further message once the frame holds FRAME_BYTES_MAX bytes of entries and snapshot data.
   */
  flush(): void {
    const queue = this.queue;
    if (queue.length === 0) return;
    this.queue = [];
    for (let start = 0; start < queue.length;) {
      let end = start;
      for (let bytes = 0; end < queue.length && end - start < FRAME_MESSAGES_MAX && bytes < FRAME_BYTES_MAX; end++) {
        bytes += this.encoder.payloadBytes(queue[end] as Message);
      }
      const batch = start === 0 && end === queue.length ? queue : queue.slice(start, end);
      const frame = this.encoder.encode(batch);
      // Counted before the send: a transferred buffer reads as 0 bytes after it.
      this.stats.bytesSent += frame.byteLength;
      this.port.postMessage(frame, [frame.buffer as ArrayBuffer]);
      this.stats.framesSent++;
      this.stats.messagesSent += batch.length;
      start = end;
    }
    this.ownBlocks?.clear();
  }

  close(): void {
    this.filter.close();
    this.port.close();
  }
}
