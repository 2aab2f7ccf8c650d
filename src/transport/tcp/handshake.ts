// The handshake's messages and their checks. The dialler sends HELLO; the acceptor answers WELCOME, or REFUSE
// {code, message} and closes; with a pre-shared key, a CHALLENGE (the acceptor's nonce and proof) and a PROOF
// (the dialler's) come between. See docs/TRANSPORT.md, "Handshake".
import { PROTOCOL_VERSION } from '../../protocol/node.js';
import { TransportError, isTransportErrorCode, type TransportErrorCode } from './errors.js';
import { PSK_NONCE_BYTES } from './security.js';

/** raft: Raft messages from one member to another; snapshot: SnapshotRequests (their own connection); client: a router's client-port frames. */
export const LANES = ['raft', 'snapshot', 'client'] as const;
export type Lane = (typeof LANES)[number];

/** Longest node id, cluster id or client name in a handshake. */
export const HANDSHAKE_NAME_CHARS_MAX = 256;
/** Longest refusal message kept. */
const REFUSAL_MESSAGE_CHARS_MAX = 1024;

export interface Hello {
  readonly protocolVersion: number;
  readonly clusterId: string;
  readonly from: string;
  readonly to: string;
  readonly lane: Lane;
  /** The dialler's nonce, with a pre-shared key only. */
  readonly nonce?: Uint8Array;
}

export interface Welcome {
  readonly protocolVersion: number;
  readonly clusterId: string;
  /** The acceptor's node id. */
  readonly id: string;
}

export interface Challenge {
  readonly nonce: Uint8Array;
  readonly proof: Uint8Array;
}

export interface Proof {
  readonly proof: Uint8Array;
}

export interface Refusal {
  readonly code: TransportErrorCode;
  readonly message: string;
}

function name(body: Readonly<Record<string, unknown>>, field: string, what: string): string {
  const value = body[field];
  if (typeof value !== 'string' || value.length === 0 || value.length > HANDSHAKE_NAME_CHARS_MAX) {
    throw new TransportError('TRANSPORT_BAD_FRAME', `${what}.${field} must be a string of 1 to ${HANDSHAKE_NAME_CHARS_MAX} characters`);
  }
  return value;
}

function bytes(body: Readonly<Record<string, unknown>>, field: string, what: string, length: number): Uint8Array {
  const value = body[field];
  if (!(value instanceof Uint8Array) || value.byteLength !== length) {
    throw new TransportError('TRANSPORT_BAD_FRAME', `${what}.${field} must be ${length} bytes`);
  }
  return value;
}

/** The version is checked first: a peer of another version may have changed the rest of the shape. */
function version(body: Readonly<Record<string, unknown>>, what: string): number {
  const value = body.protocolVersion;
  if (typeof value !== 'number' || !Number.isSafeInteger(value))
    throw new TransportError('TRANSPORT_BAD_FRAME', `${what} has no protocolVersion`);
  if (value !== PROTOCOL_VERSION) {
    throw new TransportError('TRANSPORT_VERSION_MISMATCH', `the peer speaks protocol version ${value}, this node ${PROTOCOL_VERSION}`);
  }
  return value;
}

export function parseHello(body: Readonly<Record<string, unknown>>): Hello {
  const protocolVersion = version(body, 'HELLO');
  const lane = body.lane;
  if (typeof lane !== 'string' || !(LANES as readonly string[]).includes(lane)) {
    throw new TransportError('TRANSPORT_BAD_FRAME', `HELLO.lane must be one of ${LANES.join(', ')}`);
  }
  const hello: Hello = {
    protocolVersion,
    clusterId: name(body, 'clusterId', 'HELLO'),
    from: name(body, 'from', 'HELLO'),
    to: name(body, 'to', 'HELLO'),
    lane: lane as Lane,
  };
  return body.nonce === undefined ? hello : { ...hello, nonce: bytes(body, 'nonce', 'HELLO', PSK_NONCE_BYTES) };
}

export function parseWelcome(body: Readonly<Record<string, unknown>>): Welcome {
  return { protocolVersion: version(body, 'WELCOME'), clusterId: name(body, 'clusterId', 'WELCOME'), id: name(body, 'id', 'WELCOME') };
}

export function parseChallenge(body: Readonly<Record<string, unknown>>): Challenge {
  return { nonce: bytes(body, 'nonce', 'CHALLENGE', PSK_NONCE_BYTES), proof: bytes(body, 'proof', 'CHALLENGE', 32) };
}

export function parseProof(body: Readonly<Record<string, unknown>>): Proof {
  return { proof: bytes(body, 'proof', 'PROOF', 32) };
}

/** A REFUSE frame's code and message; an unregistered code reads as TRANSPORT_BAD_FRAME. */
export function parseRefusal(body: Readonly<Record<string, unknown>>): Refusal {
  const code = body.code;
  const message = typeof body.message === 'string' ? body.message.slice(0, REFUSAL_MESSAGE_CHARS_MAX) : '';
  if (!isTransportErrorCode(code)) return { code: 'TRANSPORT_BAD_FRAME', message: `a refusal with an unknown code ${String(code)}` };
  return { code, message };
}
