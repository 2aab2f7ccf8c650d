// One outbound connection to one address on one lane, kept open: connect (TCP, or TLS 1.3), HELLO, the
// optional pre-shared-key exchange, WELCOME; then whole data frames both ways. It reconnects after any
// failure with jittered exponential back-off, and logs each (peer, kind) of failure once until it connects
// again. After etcd's rafthttp streams and hashicorp/raft's NetworkTransport connection pool.
import * as net from 'node:net';
import * as tls from 'node:tls';
import { parseHostPort } from '../../util/address.js';
import { PROTOCOL_VERSION } from '../../protocol/node.js';
import type { Random } from '../../raft/random.js';
import { LogOnce, TransportError } from './errors.js';
import { encodeControlFrame, encodeDataFrame, FrameReader, type Frame } from './frame.js';
import { parseChallenge, parseRefusal, parseWelcome, type Lane } from './handshake.js';
import { backoffMs, type TcpTransportLimits } from './limits.js';
import { pskNonce, pskProof, pskVerify, tlsClientOptions, type PeerSecurity, type PskTranscript } from './security.js';

export interface DiallerHandlers {
  /** The handshake finished: data frames may be written. */
  onOpen(): void;
  /** A RAFT or CLIENT frame from the acceptor. */
  onData(frame: Extract<Frame, { type: 'RAFT' | 'CLIENT' }>): void;
  /** The socket can take more after write() returned false. */
  onDrain(): void;
  /** An open connection broke (not called for failed attempts). */
  onBreak(): void;
}

export interface DiallerOptions {
  readonly address: string;
  readonly clusterId: string;
  readonly from: string;
  readonly to: string;
  readonly lane: Lane;
  readonly security: PeerSecurity;
  readonly limits: TcpTransportLimits;
  readonly random: Random;
  readonly logOnce: LogOnce;
  readonly handlers: DiallerHandlers;
  /** Keep the process alive for this connection and its timers? (A client lane may not.) */
  readonly ref?: boolean;
}

type State = 'connecting' | 'handshaking' | 'proving' | 'open' | 'waiting' | 'closed';

/** TLS and certificate failures, whatever side noticed them, are authentication failures. */
function failureKind(error: (Error & { code?: string }) | null): string {
  const code = error?.code;
  if (code === undefined) return 'connection-closed';
  if (
    code === 'TRANSPORT_AUTH_FAILED' ||
    code.startsWith('ERR_SSL') ||
    code.startsWith('ERR_TLS') ||
    /CERT|UNABLE_TO_|SIGNATURE/.test(code)
  ) {
    return 'TRANSPORT_AUTH_FAILED';
  }
  return code;
}

export class Dialler {
  private state: State = 'waiting';
  private socket: net.Socket | null = null;
  private reader: FrameReader | null = null;
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private nonce: Uint8Array | null = null;
  private lastError: (Error & { code?: string }) | null = null;
  private address: string;
  private refed: boolean;
  /** Connections tried, counting the first. */
  attempts = 0;
  /** Handshakes that finished. */
  opens = 0;

  constructor(private readonly options: DiallerOptions) {
    this.address = options.address;
    this.refed = options.ref ?? true;
    this.connect();
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** Open and not waiting for 'drain'. */
  get writable(): boolean {
    return this.state === 'open' && this.socket !== null && !this.socket.writableNeedDrain;
  }

  /** Bytes written but not yet handed to the kernel. */
  get unsentBytes(): number {
    return this.socket?.writableLength ?? 0;
  }

  /** Writes a data frame (header and body, corked); false means wait for onDrain. Only when open. */
  write(type: 'RAFT' | 'CLIENT', body: Uint8Array): boolean {
    const socket = this.socket;
    if (this.state !== 'open' || socket === null) throw new Error(`write on a ${this.state} dialler`);
    const [head, rest] = encodeDataFrame(type, body);
    socket.cork();
    socket.write(head);
    const more = socket.write(rest);
    socket.uncork();
    return more;
  }

  /** The peer moved: drop the connection and dial the new address at once. */
  setAddress(address: string): void {
    if (address === this.address || this.state === 'closed') return;
    parseHostPort(address);
    this.address = address;
    const wasOpen = this.state === 'open';
    this.teardown();
    if (wasOpen) this.options.handlers.onBreak();
    this.failures = 0;
    this.connect();
  }

  unref(): void {
    this.refed = false;
    this.socket?.unref();
    this.timer?.unref();
  }

  close(): void {
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    this.teardown();
    this.state = 'closed';
    if (wasOpen) this.options.handlers.onBreak();
  }

  private connect(): void {
    const o = this.options;
    this.attempts++;
    this.lastError = null;
    this.state = 'connecting';
    this.reader = new FrameReader(o.limits.peerFrameBytesMax);
    const address = parseHostPort(this.address);
    let socket: net.Socket;
    if (o.security.mode === 'tls') {
      socket = tls.connect(tlsClientOptions(o.security, o.to, address));
      socket.once('secureConnect', () => this.sendHello());
    } else {
      socket = net.connect({ host: address.host, port: address.port });
      socket.once('connect', () => this.sendHello());
    }
    this.socket = socket;
    socket.setNoDelay(true);
    if (!this.refed) socket.unref();
    socket.on('data', (chunk: Buffer) => this.onChunk(socket, chunk));
    socket.on('drain', () => {
      if (this.socket === socket && this.state === 'open') o.handlers.onDrain();
    });
    socket.on('error', (error) => {
      if (this.socket === socket) this.lastError = error;
    });
    socket.on('close', () => {
      if (this.socket !== socket) return;
      if (this.lastError === null && this.state === 'handshaking' && o.security.mode === 'tls') {
        // The acceptor answers every refusal of its own with a REFUSE frame; a TLS peer that closes silently
        // after the TLS handshake has refused this node's certificate (TLS 1.3 checks it after the client is done).
        this.fail('TRANSPORT_AUTH_FAILED', "the peer closed the TLS connection before WELCOME: it refused this node's certificate");
        return;
      }
      this.fail(failureKind(this.lastError), this.lastError?.message ?? 'the connection closed');
    });
    this.setTimer(o.limits.handshakeTimeoutMs, () => this.fail('handshake-timeout', `no WELCOME within ${o.limits.handshakeTimeoutMs} ms`));
  }

  private sendHello(): void {
    const o = this.options;
    if (this.socket === null || this.state !== 'connecting') return;
    this.state = 'handshaking';
    this.nonce = o.security.mode === 'psk' ? pskNonce() : null;
    const hello = { protocolVersion: PROTOCOL_VERSION, clusterId: o.clusterId, from: o.from, to: o.to, lane: o.lane };
    this.socket.write(encodeControlFrame('HELLO', this.nonce === null ? hello : { ...hello, nonce: this.nonce }));
  }

  private onChunk(socket: net.Socket, chunk: Buffer): void {
    if (this.socket !== socket || this.reader === null) return;
    let frames: Frame[];
    try {
      frames = this.reader.push(chunk);
    } catch (error) {
      const e = error as TransportError;
      this.fail(e.code, e.message);
      return;
    }
    for (const frame of frames) {
      if (this.socket !== socket) return;
      try {
        this.onFrame(frame);
      } catch (error) {
        if (!(error instanceof TransportError)) throw error;
        this.fail(error.code, error.message);
        return;
      }
    }
  }

  private onFrame(frame: Frame): void {
    const o = this.options;
    if (this.state === 'open') {
      if (frame.type !== 'RAFT' && frame.type !== 'CLIENT')
        throw new TransportError('TRANSPORT_BAD_FRAME', `a ${frame.type} frame after WELCOME`);
      o.handlers.onData(frame);
      return;
    }
    switch (frame.type) {
      case 'REFUSE': {
        const refusal = parseRefusal(frame.body);
        this.fail(refusal.code, `${o.to} at ${this.address} refused the ${o.lane} lane: ${refusal.message}`);
        return;
      }
      case 'CHALLENGE': {
        if (o.security.mode !== 'psk' || this.state !== 'handshaking' || this.nonce === null) {
          throw new TransportError('TRANSPORT_AUTH_FAILED', `${o.to} asked for a pre-shared key this node does not use`);
        }
        const challenge = parseChallenge(frame.body);
        const transcript = this.transcript(challenge.nonce);
        if (!pskVerify(o.security.key, 'acceptor', transcript, challenge.proof)) {
          throw new TransportError('TRANSPORT_AUTH_FAILED', `${o.to} at ${this.address} does not know the pre-shared key`);
        }
        this.state = 'proving';
        this.socket?.write(encodeControlFrame('PROOF', { proof: pskProof(o.security.key, 'dialler', transcript) }));
        return;
      }
      case 'WELCOME': {
        if (o.security.mode === 'psk' && this.state !== 'proving') {
          throw new TransportError('TRANSPORT_AUTH_FAILED', `${o.to} at ${this.address} welcomed without proving the pre-shared key`);
        }
        const welcome = parseWelcome(frame.body);
        if (welcome.clusterId !== o.clusterId)
          throw new TransportError('TRANSPORT_CLUSTER_MISMATCH', `${this.address} is of cluster ${welcome.clusterId}`);
        if (welcome.id !== o.to) throw new TransportError('TRANSPORT_WRONG_PEER', `${this.address} is ${welcome.id}, not ${o.to}`);
        this.open();
        return;
      }
      default:
        throw new TransportError('TRANSPORT_BAD_FRAME', `a ${frame.type} frame before WELCOME`);
    }
  }

  private transcript(acceptorNonce: Uint8Array): PskTranscript {
    const o = this.options;
    return { clusterId: o.clusterId, from: o.from, to: o.to, lane: o.lane, diallerNonce: this.nonce as Uint8Array, acceptorNonce };
  }

  private open(): void {
    this.clearTimer();
    this.state = 'open';
    this.failures = 0;
    this.opens++;
    this.options.logOnce.clear(this.options.to);
    this.options.handlers.onOpen();
  }

  /** Logs once per kind, drops the connection, and dials again after the back-off. */
  private fail(kind: string, message: string): void {
    if (this.state === 'closed' || this.state === 'waiting') return;
    const o = this.options;
    const wasOpen = this.state === 'open';
    this.teardown();
    o.logOnce.report(o.to, kind, `${o.lane} lane to ${o.to} (${this.address}): ${message}`, wasOpen ? 'info' : 'warn');
    if (wasOpen) o.handlers.onBreak();
    if ((this.state as State) !== 'waiting') return; // onBreak closed or moved us
    const wait = backoffMs(o.limits, this.failures++, o.random);
    this.setTimer(wait, () => this.connect());
  }

  /** Drops the socket and timer; the state becomes 'waiting'. */
  private teardown(): void {
    this.clearTimer();
    const socket = this.socket;
    this.socket = null;
    this.reader = null;
    this.state = 'waiting';
    socket?.destroy();
  }

  private setTimer(ms: number, action: () => void): void {
    this.clearTimer();
    const timer = setTimeout(() => {
      if (this.timer === timer) this.timer = null;
      action();
    }, ms);
    if (!this.refed) timer.unref();
    this.timer = timer;
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
