// The accepting side of one connection: reads HELLO within the handshake timeout, checks it (version,
// cluster, peer, authentication), answers WELCOME or REFUSE {code, message} and closes; then hands data
// frames to the transport. See docs/TRANSPORT.md, "Handshake".
import type * as net from 'node:net';
import type { TLSSocket } from 'node:tls';
import { PROTOCOL_VERSION } from '../../protocol/node.js';
import { TransportError, type LogOnce } from './errors.js';
import { encodeControlFrame, encodeDataFrame, FrameReader, type Frame } from './frame.js';
import { HANDSHAKE_NAME_CHARS_MAX, parseHello, parseProof, type Hello } from './handshake.js';
import type { TcpTransportLimits } from './limits.js';
import { certificateNames, pskNonce, pskProof, pskVerify, type PeerSecurity, type PskTranscript } from './security.js';

export interface AcceptorOptions {
  readonly id: string;
  readonly clusterId: string;
  readonly security: PeerSecurity;
  readonly limits: TcpTransportLimits;
  readonly logOnce: LogOnce;
  /** Is `from` a member this node accepts Raft traffic from? */
  isMember(from: string): boolean;
  /** Is there a taker for client lanes? */
  acceptsClients(): boolean;
  /** The handshake succeeded. */
  onOpen(connection: AcceptedConnection): void;
  /** A data frame on an open connection. */
  onData(connection: AcceptedConnection, frame: Extract<Frame, { type: 'RAFT' | 'CLIENT' }>): void;
  /** An open connection closed, whichever side closed it. */
  onClose(connection: AcceptedConnection): void;
}

type State = 'hello' | 'proof' | 'open' | 'closed';

export class AcceptedConnection {
  private state: State = 'hello';
  private readonly reader: FrameReader;
  private timer: NodeJS.Timeout | null;
  private helloSeen: Hello | null = null;
  /** The HELLO's `from`, even from a HELLO refused as malformed or of another version: the key its failures are logged under. */
  private claimedFrom: string | null = null;
  private acceptorNonce: Uint8Array | null = null;

  constructor(
    private readonly socket: net.Socket,
    private readonly options: AcceptorOptions,
  ) {
    this.reader = new FrameReader(options.limits.peerFrameBytesMax);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onChunk(chunk));
    socket.on('error', () => undefined); // 'close' follows
    socket.on('close', () => this.closed());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.fail('handshake-timeout', `no HELLO within ${options.limits.handshakeTimeoutMs} ms`, false);
    }, options.limits.handshakeTimeoutMs);
  }

  /** The dialler's HELLO (once the connection is open). */
  get hello(): Hello {
    if (this.helloSeen === null) throw new Error('no HELLO yet');
    return this.helloSeen;
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  get unsentBytes(): number {
    return this.socket.writableLength;
  }

  write(type: 'RAFT' | 'CLIENT', body: Uint8Array): boolean {
    if (this.state !== 'open') return false;
    const [head, rest] = encodeDataFrame(type, body);
    this.socket.cork();
    this.socket.write(head);
    const more = this.socket.write(rest);
    this.socket.uncork();
    return more;
  }

  unref(): void {
    this.socket.unref();
  }

  close(): void {
    this.socket.destroy();
    this.closed();
  }

  private peerName(): string {
    // Not the remote port: a dialler retrying comes from a new port each time, and must still be logged once.
    return this.claimedFrom ?? this.socket.remoteAddress ?? 'unknown';
  }

  private onChunk(chunk: Buffer): void {
    if (this.state === 'closed') return;
    let frames: Frame[];
    try {
      frames = this.reader.push(chunk);
    } catch (error) {
      const e = error as TransportError;
      this.fail(e.code, e.message, this.state !== 'open');
      return;
    }
    for (const frame of frames) {
      if ((this.state as State) === 'closed') return;
      try {
        this.onFrame(frame);
      } catch (error) {
        if (!(error instanceof TransportError)) throw error;
        this.fail(error.code, error.message, this.state !== 'open');
        return;
      }
    }
  }

  private onFrame(frame: Frame): void {
    const o = this.options;
    if (this.state === 'open') {
      if (frame.type !== 'RAFT' && frame.type !== 'CLIENT')
        throw new TransportError('TRANSPORT_BAD_FRAME', `a ${frame.type} frame after WELCOME`);
      const expected = this.hello.lane === 'client' ? 'CLIENT' : 'RAFT';
      if (frame.type !== expected) throw new TransportError('TRANSPORT_BAD_FRAME', `a ${frame.type} frame on the ${this.hello.lane} lane`);
      o.onData(this, frame);
      return;
    }
    if (this.state === 'hello') {
      if (frame.type !== 'HELLO') throw new TransportError('TRANSPORT_BAD_FRAME', `a ${frame.type} frame before HELLO`);
      const from = frame.body.from;
      if (typeof from === 'string') this.claimedFrom = from.slice(0, HANDSHAKE_NAME_CHARS_MAX);
      const hello = parseHello(frame.body);
      this.helloSeen = hello;
      this.check(hello);
      if (o.security.mode === 'psk') {
        if (hello.nonce === undefined) throw new TransportError('TRANSPORT_AUTH_FAILED', `${hello.from} offered no pre-shared key proof`);
        this.acceptorNonce = pskNonce();
        const proof = pskProof(o.security.key, 'acceptor', this.transcript());
        this.state = 'proof';
        this.socket.write(encodeControlFrame('CHALLENGE', { nonce: this.acceptorNonce, proof }));
        return;
      }
      this.welcome();
      return;
    }
    // state 'proof'
    if (frame.type !== 'PROOF' || o.security.mode !== 'psk')
      throw new TransportError('TRANSPORT_BAD_FRAME', `a ${frame.type} frame instead of PROOF`);
    if (!pskVerify(o.security.key, 'dialler', this.transcript(), parseProof(frame.body).proof)) {
      throw new TransportError('TRANSPORT_AUTH_FAILED', `${this.hello.from} does not know the pre-shared key`);
    }
    this.welcome();
  }

  /** Throws the refusal a HELLO earns, if any. */
  private check(hello: Hello): void {
    const o = this.options;
    if (hello.clusterId !== o.clusterId) {
      throw new TransportError('TRANSPORT_CLUSTER_MISMATCH', `${hello.from} is of cluster ${hello.clusterId}, this node of ${o.clusterId}`);
    }
    if (hello.to !== o.id) throw new TransportError('TRANSPORT_WRONG_PEER', `${hello.from} dialled ${hello.to}, but this is ${o.id}`);
    if (hello.lane === 'client') {
      if (!o.acceptsClients()) throw new TransportError('TRANSPORT_WRONG_PEER', `${o.id} takes no client lanes`);
    } else if (hello.from === o.id || !o.isMember(hello.from)) {
      throw new TransportError('TRANSPORT_WRONG_PEER', `${hello.from} is not a member this node knows`);
    }
    if (o.security.mode === 'tls') {
      const names = certificateNames((this.socket as TLSSocket).getPeerCertificate());
      if (!names.includes(hello.from)) {
        throw new TransportError('TRANSPORT_AUTH_FAILED', `${hello.from}'s certificate names ${names.join(', ') || 'nothing'}`);
      }
    }
  }

  private transcript(): PskTranscript {
    const hello = this.hello;
    return {
      clusterId: hello.clusterId,
      from: hello.from,
      to: hello.to,
      lane: hello.lane,
      diallerNonce: hello.nonce as Uint8Array,
      acceptorNonce: this.acceptorNonce as Uint8Array,
    };
  }

  private welcome(): void {
    const o = this.options;
    this.clearTimer();
    this.state = 'open';
    this.socket.write(encodeControlFrame('WELCOME', { protocolVersion: PROTOCOL_VERSION, clusterId: o.clusterId, id: o.id }));
    o.logOnce.clear(this.hello.from);
    o.onOpen(this);
  }

  /** Logs once per (peer, kind); before WELCOME, tells the dialler why in a REFUSE frame. Then closes. */
  private fail(kind: string, message: string, refuse: boolean): void {
    if (this.state === 'closed') return;
    const o = this.options;
    o.logOnce.report(this.peerName(), kind, `refused a connection from ${this.peerName()}: ${message}`);
    if (refuse && kind.startsWith('TRANSPORT_')) {
      this.socket.end(encodeControlFrame('REFUSE', { code: kind, message }));
      // end() flushes the REFUSE; the dialler closes on reading it, and the timer ends a dialler that does not.
      const socket = this.socket;
      const timer = setTimeout(() => socket.destroy(), o.limits.handshakeTimeoutMs);
      socket.once('close', () => clearTimeout(timer));
    } else {
      this.socket.destroy();
    }
    this.closed();
  }

  private closed(): void {
    if (this.state === 'closed') return;
    if (this.state === 'proof') {
      // The dialler checked this node's proof and hung up: the two sides hold different keys.
      this.options.logOnce.report(
        this.peerName(),
        'TRANSPORT_AUTH_FAILED',
        `${this.peerName()} closed before its PROOF: it holds another pre-shared key`,
      );
    }
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    this.clearTimer();
    if (wasOpen) this.options.onClose(this);
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
