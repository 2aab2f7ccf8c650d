// A router's client lane to a node in another process: the client-port frames (src/transport/client-port.ts)
// over one TCP connection (lane 'client'), reconnecting with back-off. It is a FramePort, plus onReset: when a
// connection breaks, or a post is refused, the caller fails its requests in flight as "outcome unknown".
import type { Random } from '../../raft/random.js';
import type { FramePort } from '../link.js';
import { LogOnce, type TransportLog } from './errors.js';
import { Dialler } from './dialler.js';
import { resolveTcpLimits, type TcpTransportLimits } from './limits.js';
import type { PeerSecurity } from './security.js';

export interface ClientLaneOptions {
  readonly clusterId: string;
  /** The router's name (any string the node accepts; with TLS, its certificate must name it). */
  readonly from: string;
  /** The node dialled. */
  readonly to: string;
  readonly security: PeerSecurity;
  readonly limits?: Partial<TcpTransportLimits>;
  /** Back-off jitter; Math.random by default. */
  readonly random?: Random;
  readonly log?: TransportLog;
}

/** Why a lane reset: its connection broke, or a post found the lane's queue full (disconnected, or a node not reading). */
export type ClientLaneResetReason = 'connection-lost' | 'queue-full' | 'closed';

export interface ClientLane extends FramePort {
  /** Called on every reset; each frame posted before it was written on a connection that broke, or discarded. */
  onReset(listener: (reason: ClientLaneResetReason) => void): void;
  /** The lane has a connection that finished its handshake. */
  readonly isOpen: boolean;
}

class TcpClientLane implements ClientLane {
  private readonly messageListeners: ((frame: Uint8Array) => void)[] = [];
  private readonly resetListeners: ((reason: ClientLaneResetReason) => void)[] = [];
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private closed = false;
  private readonly limits: TcpTransportLimits;
  private readonly dialler: Dialler;

  constructor(address: string, options: ClientLaneOptions) {
    this.limits = resolveTcpLimits(options.limits);
    this.dialler = new Dialler({
      address,
      clusterId: options.clusterId,
      from: options.from,
      to: options.to,
      lane: 'client',
      security: options.security,
      limits: this.limits,
      random: options.random ?? { next: Math.random },
      logOnce: new LogOnce(options.log ?? (() => undefined)),
      handlers: {
        onOpen: () => this.sendPending(),
        onData: (frame) => {
          for (const listener of this.messageListeners) listener(frame.body);
        },
        onDrain: () => undefined,
        onBreak: () => this.reset('connection-lost'),
      },
    });
  }

  get isOpen(): boolean {
    return this.dialler.isOpen;
  }

  postMessage(frame: Uint8Array): void {
    if (this.closed) return;
    if (this.dialler.isOpen) {
      if (this.dialler.unsentBytes > this.limits.clientLaneQueueBytesMax) {
        // The node stopped reading: refuse rather than buffer without bound.
        this.reset('queue-full');
        return;
      }
      this.dialler.write('CLIENT', frame);
      return;
    }
    if (
      this.pending.length >= this.limits.clientLaneQueueMessagesMax ||
      this.pendingBytes + frame.byteLength > this.limits.clientLaneQueueBytesMax
    ) {
      this.pending = [];
      this.pendingBytes = 0;
      this.reset('queue-full');
      return;
    }
    this.pending.push(frame);
    this.pendingBytes += frame.byteLength;
  }

  on(_event: 'message', listener: (frame: Uint8Array) => void): this {
    this.messageListeners.push(listener);
    return this;
  }

  onReset(listener: (reason: ClientLaneResetReason) => void): void {
    this.resetListeners.push(listener);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = [];
    this.pendingBytes = 0;
    this.dialler.close();
  }

  unref(): void {
    this.dialler.unref();
  }

  private sendPending(): void {
    const pending = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    for (const frame of pending) this.dialler.write('CLIENT', frame);
  }

  private reset(reason: ClientLaneResetReason): void {
    for (const listener of this.resetListeners) listener(reason);
  }
}

/** A client lane to the node at `address` (host:port), dialling at once and reconnecting with back-off. */
export function dialClientLane(address: string, options: ClientLaneOptions): ClientLane {
  return new TcpClientLane(address, options);
}
