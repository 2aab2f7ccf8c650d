// The TCP transport's limits, each with its unit last (STYLE.md). src/config/limits.ts collects them into the
// limits table; callers may pass some of them (tests use short back-offs).
import { PEER_FRAME_BYTES_MAX } from './frame.js';

export interface TcpTransportLimits {
  /** Longest frame (type and body) read from a peer; a longer length closes the connection. */
  readonly peerFrameBytesMax: number;
  /** Messages each of a peer's queues (priority, entries, snapshot) holds before it drops. */
  readonly peerQueueMessagesMax: number;
  /** Entry and snapshot bytes each of a peer's queues holds before it drops entry-carrying messages. */
  readonly peerQueueBytesMax: number;
  /** A connection that has not finished its handshake (TCP, TLS, HELLO to WELCOME) in this time is closed. */
  readonly handshakeTimeoutMs: number;
  /** First delay before a dialler tries again; it doubles per failure, with jitter. */
  readonly reconnectBackoffMinMs: number;
  /** Longest delay before a dialler tries again. */
  readonly reconnectBackoffMaxMs: number;
  /** Frames a client lane holds while disconnected; beyond, posts are refused (onReset). */
  readonly clientLaneQueueMessagesMax: number;
  /** Bytes a client lane holds while disconnected, or that an accepted client connection may have unsent. */
  readonly clientLaneQueueBytesMax: number;
  /** Connections the listener holds at once (peers' lanes, client lanes, handshakes in progress). */
  readonly acceptedConnectionsMax: number;
}

export const TCP_TRANSPORT_DEFAULTS: TcpTransportLimits = Object.freeze({
  peerFrameBytesMax: PEER_FRAME_BYTES_MAX,
  peerQueueMessagesMax: 4096,
  peerQueueBytesMax: 32 * 1024 * 1024,
  handshakeTimeoutMs: 5_000,
  reconnectBackoffMinMs: 100,
  reconnectBackoffMaxMs: 5_000,
  clientLaneQueueMessagesMax: 1024,
  clientLaneQueueBytesMax: 16 * 1024 * 1024,
  acceptedConnectionsMax: 1024,
});

/** The defaults with `overrides`, each checked to be a positive integer, and the back-off range ordered. */
export function resolveTcpLimits(overrides: Partial<TcpTransportLimits> = {}): TcpTransportLimits {
  const limits: TcpTransportLimits = { ...TCP_TRANSPORT_DEFAULTS, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (!(Number.isSafeInteger(value) && (value as number) >= 1))
      throw new RangeError(`${name} must be a positive integer, got ${String(value)}`);
  }
  if (limits.reconnectBackoffMinMs > limits.reconnectBackoffMaxMs)
    throw new RangeError('reconnectBackoffMinMs must not exceed reconnectBackoffMaxMs');
  return limits;
}

/** Exponential back-off with jitter: between half and all of min x 2^failures, capped at max. */
export function backoffMs(limits: TcpTransportLimits, failures: number, random: { next(): number }): number {
  const ceiling = Math.min(limits.reconnectBackoffMaxMs, limits.reconnectBackoffMinMs * 2 ** Math.min(failures, 30));
  return Math.round(ceiling * (0.5 + 0.5 * random.next()));
}
