// What a node's shell needs of its connection to one peer, whatever carries it: a MessagePort between two
// worker threads (PeerLink, peer-link.ts) or a TCP connection between two processes or hosts (the TCP
// transport, tcp/). The node queues messages during a turn (send), then flushes them as frames (flush).
import type { Message, NodeId } from '../raft/types.js';
import type { LinkFaults } from './link-faults.js';

export interface LinkStats {
  messagesSent: number;
  /** Dropped by the fault filter, or (TCP) because the peer's bounded queue was full or the peer unreachable. */
  messagesDropped: number;
  framesSent: number;
  /** Bytes of the frames sent (the encoded size). */
  bytesSent: number;
  messagesReceived: number;
}

export interface Link {
  readonly peer: NodeId;
  readonly stats: LinkStats;
  /** The link fault filter (cut, drop, delay, duplicate), run per message on the sending side. */
  setFaults(faults: LinkFaults): void;
  /** Queues a message for the end of the turn; never blocks and never throws for a slow or absent peer. */
  send(message: Message): void;
  /** Sends what was queued this turn. */
  flush(): void;
  close(): void;
}

/**
 * A duplex channel of whole frames (Uint8Array), the shape of a MessagePort that the client data plane
 * (client-port.ts) needs: a MessagePort between threads, or a TCP lane between processes.
 */
export interface FramePort {
  postMessage(frame: Uint8Array, transfer?: ArrayBuffer[]): void;
  on(event: 'message', listener: (frame: Uint8Array) => void): unknown;
  close(): void;
  unref?(): void;
}
