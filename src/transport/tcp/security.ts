// How peers authenticate each other: TLS 1.3 with mutual certificates, or a pre-shared key proved by
// HMAC-SHA256 in the handshake, or nothing (loopback only). See docs/TRANSPORT.md, "Security".
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { ConnectionOptions, PeerCertificate, TlsOptions } from 'node:tls';
import { Packr } from 'msgpackr';
import { isLoopback, parseHostPort, type HostPort } from '../../util/address.js';
import { TransportError } from './errors.js';

export type { HostPort } from '../../util/address.js';

/**
 * - `plaintext`: no authentication, no encryption; refused by checkPeerSecurity unless every address is loopback.
 * - `psk`: each side proves it knows `key` (HMAC-SHA256 over both sides' nonces, the cluster id, both ids and the
 *   lane, compared in constant time). It AUTHENTICATES the peer but does NOT ENCRYPT or protect the frames
 *   after the handshake: anyone on the path can read them, and could inject into an established connection.
 *   Use it on a trusted network; use `tls` anywhere else.
 * - `tls`: TLS 1.3 only, mutual: each side's certificate must be signed by `ca` and name the node id (CN or a
 *   DNS subject alternative name) that the other side expects (the dialled id, or the HELLO's `from`).
 */
export type PeerSecurity =
  | { readonly mode: 'plaintext' }
  | { readonly mode: 'psk'; readonly key: Uint8Array }
  | { readonly mode: 'tls'; readonly ca: string | Buffer; readonly cert: string | Buffer; readonly key: string | Buffer };

/** The shortest pre-shared key accepted: 128 bits. */
export const PSK_KEY_BYTES_MIN = 16;
/** Bytes of each side's PSK nonce. */
export const PSK_NONCE_BYTES = 32;

/**
 * Throws TRANSPORT_INSECURE when `security` is plaintext while the listen address or any peer's address is not
 * loopback: off one host, peers must authenticate (psk) or, better, use TLS.
 */
export function checkPeerSecurity(
  listen: { readonly host: string },
  peers: Readonly<Record<string, string>>,
  security: PeerSecurity,
): void {
  if (security.mode === 'psk' && security.key.byteLength < PSK_KEY_BYTES_MIN) {
    throw new TransportError('TRANSPORT_INSECURE', `a pre-shared key must have at least ${PSK_KEY_BYTES_MIN} bytes`);
  }
  if (security.mode !== 'plaintext') return;
  const outside = [listen.host, ...Object.values(peers).map((address) => parseHostPort(address).host)].filter((host) => !isLoopback(host));
  if (outside.length > 0) {
    throw new TransportError(
      'TRANSPORT_INSECURE',
      `plaintext peer links are for loopback only, but ${outside.join(', ')} is not loopback: use TLS or a pre-shared key`,
    );
  }
}

/** The names a certificate gives its holder: its subject CN and its DNS subject alternative names. */
export function certificateNames(certificate: PeerCertificate | null | undefined): string[] {
  if (certificate === null || certificate === undefined || Object.keys(certificate).length === 0) return [];
  const names: string[] = [];
  const cn = certificate.subject?.CN as string | string[] | undefined;
  if (typeof cn === 'string') names.push(cn);
  else if (Array.isArray(cn)) names.push(...cn);
  for (const part of (certificate.subjectaltname ?? '').split(',')) {
    const trimmed = part.trim();
    if (trimmed.startsWith('DNS:')) names.push(trimmed.slice(4));
  }
  return names;
}

type TlsSecurity = Extract<PeerSecurity, { mode: 'tls' }>;

/** The acceptor's TLS options: TLS 1.3 only, client certificates required and verified against the CA. */
export function tlsServerOptions(security: TlsSecurity): TlsOptions {
  return {
    ca: security.ca,
    cert: security.cert,
    key: security.key,
    minVersion: 'TLSv1.3',
    requestCert: true,
    rejectUnauthorized: true,
  };
}

/** The dialler's TLS options: the server's certificate must be signed by the CA and name `peer`. */
export function tlsClientOptions(security: TlsSecurity, peer: string, address: HostPort): ConnectionOptions {
  return {
    host: address.host,
    port: address.port,
    ca: security.ca,
    cert: security.cert,
    key: security.key,
    minVersion: 'TLSv1.3',
    rejectUnauthorized: true,
    // SNI must not be an IP address; the node id is what the certificate names anyway.
    ...(isIP(peer) === 0 ? { servername: peer } : {}),
    checkServerIdentity: (_host: string, certificate: PeerCertificate) =>
      certificateNames(certificate).includes(peer)
        ? undefined
        : Object.assign(new Error(`the peer's certificate names ${certificateNames(certificate).join(', ') || 'nothing'}, not ${peer}`), {
            code: 'TRANSPORT_AUTH_FAILED',
          }),
  };
}

// ---------------------------------------------------------------------------
// Pre-shared key: challenge and response.

/** What both sides' proofs cover, so a proof cannot be replayed on another connection, lane or peer. */
export interface PskTranscript {
  readonly clusterId: string;
  readonly from: string;
  readonly to: string;
  readonly lane: string;
  readonly diallerNonce: Uint8Array;
  readonly acceptorNonce: Uint8Array;
}

const transcriptPackr = new Packr({ useRecords: false, moreTypes: false });

export function pskNonce(): Uint8Array {
  return new Uint8Array(randomBytes(PSK_NONCE_BYTES));
}

/** HMAC-SHA256 under the key; `role` differs per side so one side's proof never serves as the other's. */
export function pskProof(key: Uint8Array, role: 'dialler' | 'acceptor', transcript: PskTranscript): Uint8Array {
  const t = transcript;
  const message = transcriptPackr.pack(['raftkv-psk-v1', role, t.clusterId, t.from, t.to, t.lane, t.diallerNonce, t.acceptorNonce]);
  return new Uint8Array(createHmac('sha256', key).update(message).digest());
}

/** Constant-time check of a proof the other side sent. */
export function pskVerify(key: Uint8Array, role: 'dialler' | 'acceptor', transcript: PskTranscript, proof: unknown): boolean {
  if (!(proof instanceof Uint8Array)) return false;
  const expected = pskProof(key, role, transcript);
  return proof.byteLength === expected.byteLength && timingSafeEqual(proof, expected);
}
