// The TCP transport's refusals. The transport cannot import the limits table, but it may import the error
// registry (src/protocol/errors.ts): every code here is registered there, and the type says so.
import type { ErrorCode } from '../../protocol/errors.js';

/** Every code the TCP transport raises, sends in a REFUSE frame, or logs. */
export const TRANSPORT_ERROR_CODES = [
  'TRANSPORT_BAD_FRAME',
  'TRANSPORT_FRAME_TOO_LARGE',
  'TRANSPORT_VERSION_MISMATCH',
  'TRANSPORT_CLUSTER_MISMATCH',
  'TRANSPORT_WRONG_PEER',
  'TRANSPORT_AUTH_FAILED',
  'TRANSPORT_INSECURE',
] as const satisfies readonly ErrorCode[];

export type TransportErrorCode = (typeof TRANSPORT_ERROR_CODES)[number];

const CODES: ReadonlySet<string> = new Set(TRANSPORT_ERROR_CODES);

export function isTransportErrorCode(value: unknown): value is TransportErrorCode {
  return typeof value === 'string' && CODES.has(value);
}

/** A refusal of the TCP transport: a malformed or oversized frame, a failed handshake, an insecure setup. */
export class TransportError extends Error {
  constructor(
    readonly code: TransportErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

/** How a peer's failures are logged: (level, kind, message); kind is a registered code or a socket error code. */
export type TransportLog = (level: 'debug' | 'info' | 'warn' | 'error', kind: string, message: string) => void;

/**
 * Logs a failure once per (peer, kind) until that peer connects again (clear), so a peer that keeps refusing
 * does not fill the log while the dialler retries.
 */
export class LogOnce {
  /** Peers remembered at most; past it the oldest is forgotten (a stranger may try many names). */
  static readonly PEERS_MAX = 1024;
  private readonly seen = new Map<string, Set<string>>();

  constructor(private readonly log: TransportLog) {}

  report(peer: string, kind: string, message: string, level: 'info' | 'warn' | 'error' = 'warn'): void {
    let kinds = this.seen.get(peer);
    if (kinds === undefined) {
      kinds = new Set();
      if (this.seen.size >= LogOnce.PEERS_MAX) this.seen.delete(this.seen.keys().next().value as string);
      this.seen.set(peer, kinds);
    }
    if (kinds.has(kind)) return;
    kinds.add(kind);
    this.log(level, kind, message);
  }

  /** The peer connected: its next failure is news again. */
  clear(peer: string): void {
    this.seen.delete(peer);
  }
}
