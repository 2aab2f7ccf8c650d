import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';

/** The size limits every front door enforces, each refused with its own error code. */
export interface Limits {
  readonly keyBytesMax: number;
  readonly valueBytesMax: number;
  readonly bodyBytesMax: number;
  /** Redis protocol: the largest command, all its arguments with their framing (what one log entry may carry). */
  readonly commandBytesMax: number;
  /** Most items one scan returns. */
  readonly scanItemsMax: number;
  /** Redis protocol: most arguments in one command, and most unanswered commands pipelined on one connection. */
  readonly respArgumentsMax: number;
  readonly respPipelineCommandsMax: number;
  /** Redis protocol: longest inline command line. */
  readonly respInlineBytesMax: number;
  /** Most open client connections (HTTP and Redis protocol each); one more is answered OVERLOADED and closed. */
  readonly connectionsMax: number;
  /**
   * Connections past connectionsMax being answered and closed at once; past this many more, Node closes a new
   * connection before reading it, unanswered (a flood faster than the refusals leave keeps no descriptors).
   */
  readonly connectionsRefusingMax: number;
  /** HTTP: a request's headers must arrive within this (slowloris); beyond, 408 and the connection is closed. */
  readonly headersTimeoutMs: number;
  /**
   * A whole request must arrive within this: HTTP headers and body, or one Redis-protocol command's frame (from its
   * first byte, or from the command before it); beyond, the connection is closed.
   */
  readonly requestReceiveTimeoutMs: number;
  /**
   * Reply bytes one connection may hold unsent (the client is not reading them), as Redis's
   * client-output-buffer-limit; beyond, the connection is closed.
   */
  readonly outputBufferBytesMax: number;
  /**
   * Redis protocol: a connection with no command in progress and no byte sent or taken for this long is closed
   * (Redis's `timeout`). Both front doors: a connection whose client takes none of its replies for this long
   * (it stopped reading; the replies are below outputBufferBytesMax) is closed.
   */
  readonly idleTimeoutMs: number;
  /** The explorer (src/router/explorer.ts): events kept for replay, subscribers, bytes queued to one subscriber. */
  readonly explorerEventsMax: number;
  readonly explorerSubscribersMax: number;
  readonly explorerSubscriberBufferBytes: number;
  /** The actor faults of the admin API: most messages one flood sends, longest turn delay one slow fault sets. */
  readonly floodMessagesMax: number;
  readonly slowTurnMsMax: number;
  /** The explorer's load generator: the highest rate it may be set to, and operations it keeps in flight at most. */
  readonly explorerLoadRequestsPerSecondMax: number;
  readonly explorerLoadInFlightRequestsMax: number;
}

export const LIMITS_DEFAULTS: Limits = {
  keyBytesMax: 4 * 1024,
  valueBytesMax: 1024 * 1024,
  bodyBytesMax: 2 * 1024 * 1024,
  commandBytesMax: 4 * 1024 * 1024,
  scanItemsMax: 10_000,
  respArgumentsMax: 1024 * 1024,
  respPipelineCommandsMax: 1024,
  respInlineBytesMax: 64 * 1024,
  connectionsMax: 10_000,
  connectionsRefusingMax: 1_024,
  headersTimeoutMs: 10_000,
  requestReceiveTimeoutMs: 30_000,
  outputBufferBytesMax: 32 * 1024 * 1024,
  // Redis's default is no timeout; an idle connection holds one of connectionsMax, and every Redis client in
  // use (redis-cli, ioredis, redis-py) reconnects, so raftkv closes one idle for 5 minutes. (An idle HTTP
  // keep-alive connection is closed after 5 s, Node's keepAliveTimeout.)
  idleTimeoutMs: 300_000,
  explorerEventsMax: 10_000,
  explorerSubscribersMax: 16,
  explorerSubscriberBufferBytes: 1024 * 1024,
  floodMessagesMax: 1_000_000,
  slowTurnMsMax: 10_000,
  explorerLoadRequestsPerSecondMax: 5_000,
  explorerLoadInFlightRequestsMax: 1_000,
};

/** What a 429 (OVERLOADED, QUEUE_FULL) and a refused connection tell the client to wait, in seconds (Retry-After). */
export const RETRY_AFTER_SECONDS = 1;

/** How long a refused connection stays open after its answer was written, before the reset. */
export const REFUSED_CONNECTION_LINGER_MS = 50;

/**
 * A front door's count of open connections (connectionsMax). Past the cap a new connection is answered with
 * `refusal` (it is written, the connection ended, then destroyed once the bytes left) instead of being closed
 * without a word, as Redis answers `-ERR max number of clients reached`; the open ones are not disturbed.
 */
export class ConnectionGate {
  private open = 0;

  constructor(
    private readonly connectionsMax: number,
    private readonly refused: () => void,
  ) {}

  get openConnections(): number {
    return this.open;
  }

  /** True: the connection is admitted and counted until it closes. False: it was refused and is being closed. */
  admit(socket: Socket, refusal: string): boolean {
    if (this.open >= this.connectionsMax) {
      this.refused();
      socket.on('error', () => socket.destroy());
      // Once the answer has left, and the client has had a moment to see its connect succeed, a reset without a
      // FIN first: a client that does not read has not stopped at an end of stream, so it still sees the
      // connection go. (A FIN and then unread bytes would leave it open on that side for ever.) TLS: closed.
      socket.write(refusal, () => {
        const timer = setTimeout(() => {
          if (socket instanceof TLSSocket) socket.end(() => socket.destroy());
          else socket.resetAndDestroy();
        }, REFUSED_CONNECTION_LINGER_MS);
        timer.unref();
      });
      return false;
    }
    this.open++;
    socket.once('close', () => this.open--);
    return true;
  }
}
