// The peer Link over TCP (GitHub issue 16): each node listens on one port and dials, per peer, its own
// outbound connections for sending (lane 'raft', and lane 'snapshot' for SnapshotRequests, so a large chunk
// never delays a heartbeat); it receives on the connections it accepts. Per peer, bounded queues honour the
// socket's backpressure and let votes, responses and heartbeats go ahead of entry-carrying appends. Learned
// from etcd's rafthttp (stream and pipeline per peer, a separate snapshot path) and hashicorp/raft's
// NetworkTransport (connection per peer, back-off); see docs/TRANSPORT.md.
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Random } from '../../raft/random.js';
import type { Message, NodeId } from '../../raft/types.js';
import { parseHostPort } from '../../util/address.js';
import { EntryBlocks, FRAME_BYTES_MAX, FRAME_MESSAGES_MAX, FrameDecoder, FrameEncoder, FrameError } from '../codec.js';
import { LinkFaultFilter, type LinkFaults } from '../link-faults.js';
import type { FramePort, Link, LinkStats } from '../link.js';
import { AcceptedConnection, type AcceptorOptions } from './acceptor.js';
import { LogOnce, TransportError, type TransportLog } from './errors.js';
import { Dialler } from './dialler.js';
import type { Frame } from './frame.js';
import { resolveTcpLimits, type TcpTransportLimits } from './limits.js';
import { checkPeerSecurity, tlsServerOptions, type HostPort, type PeerSecurity } from './security.js';

export interface TcpLinkStats extends LinkStats {
  /** Connections the raft lane tried (the first included). */
  readonly connectAttempts: number;
  /** Handshakes of the raft lane that succeeded. */
  readonly connectionsOpened: number;
  /** Messages waiting in the link's queues (priority, entries, snapshot). */
  readonly messagesQueued: number;
}

export interface TcpTransportOptions {
  readonly id: NodeId;
  readonly clusterId: string;
  /** Port 0 picks a free one (see `port`). */
  readonly listen: HostPort;
  /** The other members and their `host:port`. */
  readonly peers: Readonly<Record<NodeId, string>>;
  readonly security: PeerSecurity;
  readonly limits?: Partial<TcpTransportLimits>;
  /** Each received frame's messages, in order per peer. */
  deliver(messages: Message[]): void;
  readonly log: TransportLog;
  /** Back-off jitter and the link fault filter. */
  readonly random: Random;
  /** Shared by the node's links; the node clears it after each turn's flushes. */
  readonly blocks: EntryBlocks;
  /** A router's client lane was accepted: serve its frames. Without it, client lanes are refused. */
  onClientChannel?(port: FramePort, from: string): void;
  /** A message to `peer` was dropped because its queue was full, or its connection broke. */
  onUnreachable?(peer: NodeId): void;
}

/** A FIFO with O(1) removal from the front and a byte count. */
class MessageQueue {
  private items: Message[] = [];
  private head = 0;
  bytes = 0;
  private readonly sizes: number[] = [];

  get length(): number {
    return this.items.length - this.head;
  }

  push(message: Message, bytes: number): void {
    this.items.push(message);
    this.sizes.push(bytes);
    this.bytes += bytes;
  }

  peek(): Message | undefined {
    return this.items[this.head];
  }

  peekBytes(): number {
    return this.sizes[this.head] ?? 0;
  }

  shift(): Message {
    const message = this.items[this.head] as Message;
    this.bytes -= this.sizes[this.head] as number;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.sizes.splice(0, this.head);
      this.head = 0;
    }
    return message;
  }

  clear(): number {
    const dropped = this.length;
    this.items = [];
    this.sizes.length = 0;
    this.head = 0;
    this.bytes = 0;
    return dropped;
  }
}

/** Votes, responses, TimeoutNow and heartbeats (appends without entries) go ahead of entry-carrying appends. */
function laneOf(message: Message): 'priority' | 'entries' | 'snapshot' {
  if (message.type === 'SnapshotRequest') return 'snapshot';
  if (message.type === 'AppendRequest' && message.entries.length > 0) return 'entries';
  return 'priority';
}

interface LinkContext {
  readonly options: TcpTransportOptions;
  readonly limits: TcpTransportLimits;
  readonly logOnce: LogOnce;
}

/**
 * One node's sending end to one peer: the fault filter (as PeerLink's: cut, drop, duplicate, delay, seeded),
 * then bounded queues drained into the raft lane (priority first) and the snapshot lane, as fast as each
 * socket takes them.
 */
export class TcpLink implements Link {
  readonly stats: TcpLinkStats;
  private turn: Message[] = [];
  private readonly filter: LinkFaultFilter<Message>;
  private readonly priority = new MessageQueue();
  private readonly entries = new MessageQueue();
  private readonly snapshots = new MessageQueue();
  private readonly raft: Dialler;
  private snapshot: Dialler | null = null;
  private raftEncoder: FrameEncoder | null = null;
  private snapshotEncoder: FrameEncoder | null = null;
  private closed = false;

  constructor(
    readonly peer: NodeId,
    private address: string,
    private readonly context: LinkContext,
  ) {
    this.filter = new LinkFaultFilter<Message>(
      context.options.random,
      (message) => this.turn.push(message),
      (message) => {
        this.turn.push(message);
        this.flush();
      },
      () => this.stats.messagesDropped++,
    );
    this.raft = this.dial('raft');
    // The connection counts and the queue depth are read from the lanes when asked.
    const counts = { messagesSent: 0, messagesDropped: 0, framesSent: 0, bytesSent: 0, messagesReceived: 0 };
    const raft = this.raft;
    const queued = (): number => this.priority.length + this.entries.length + this.snapshots.length;
    this.stats = Object.defineProperties(counts as TcpLinkStats, {
      connectAttempts: { get: () => raft.attempts, enumerable: true },
      connectionsOpened: { get: () => raft.opens, enumerable: true },
      messagesQueued: { get: queued, enumerable: true },
    });
  }

  setFaults(faults: LinkFaults): void {
    this.filter.set(faults);
  }

  send(message: Message): void {
    if (!this.closed) this.filter.offer(message);
  }

  /** Moves the turn's messages into the queues (dropping what does not fit) and writes what the sockets take. */
  flush(): void {
    if (this.closed || this.turn.length === 0) return;
    const turn = this.turn;
    this.turn = [];
    for (const message of turn) this.enqueue(message);
    this.pumpRaft();
    this.pumpSnapshot();
  }

  /** The peer's address changed: reconnect there. */
  setAddress(address: string): void {
    if (address === this.address) return;
    this.address = address;
    this.raft.setAddress(address);
    this.snapshot?.setAddress(address);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.filter.close();
    this.turn = [];
    this.priority.clear();
    this.entries.clear();
    this.snapshots.clear();
    this.raft.close();
    this.snapshot?.close();
  }

  private dial(lane: 'raft' | 'snapshot'): Dialler {
    const { options, limits, logOnce } = this.context;
    return new Dialler({
      address: this.address,
      clusterId: options.clusterId,
      from: options.id,
      to: this.peer,
      lane,
      security: options.security,
      limits,
      random: options.random,
      logOnce,
      handlers: {
        onOpen: () => {
          // A new connection, a new msgpackr stream: its records start over.
          if (lane === 'raft') {
            this.raftEncoder = new FrameEncoder(options.blocks);
            this.pumpRaft();
          } else {
            this.snapshotEncoder = new FrameEncoder(options.blocks);
            this.pumpSnapshot();
          }
        },
        onData: () => undefined, // the acceptor never sends on a Raft lane
        onDrain: () => {
          if (lane === 'raft') this.pumpRaft();
          else this.pumpSnapshot();
        },
        onBreak: () => {
          if (lane === 'raft') {
            this.raftEncoder = null;
            // Entries queued for a broken connection are stale by the time it is back; the leader resends.
            this.drop(this.entries.clear());
          } else {
            this.snapshotEncoder = null;
            // The core resumes from the follower's receivedBytes: the next chunk goes on the next connection.
            this.drop(this.snapshots.clear());
          }
        },
      },
    });
  }

  private enqueue(message: Message): void {
    const { limits, options } = this.context;
    const lane = laneOf(message);
    const queue = lane === 'priority' ? this.priority : lane === 'entries' ? this.entries : this.snapshots;
    const bytes =
      message.type === 'SnapshotRequest'
        ? message.data.byteLength
        : message.type === 'AppendRequest'
          ? options.blocks.get(message.entries).byteLength
          : 0;
    const full = queue.length >= limits.peerQueueMessagesMax || (queue.length > 0 && queue.bytes + bytes > limits.peerQueueBytesMax);
    if (full) {
      this.drop(1);
      return;
    }
    queue.push(message, bytes);
    if (lane === 'snapshot' && this.snapshot === null) this.snapshot = this.dial('snapshot');
  }

  private drop(count: number): void {
    if (count === 0) return;
    this.stats.messagesDropped += count;
    this.context.options.onUnreachable?.(this.peer);
  }

  private pumpRaft(): void {
    const encoder = this.raftEncoder;
    if (encoder === null) return;
    while ((this.priority.length > 0 || this.entries.length > 0) && this.raft.writable) {
      const batch: Message[] = [];
      let bytes = 0;
      while (this.priority.length > 0 && batch.length < FRAME_MESSAGES_MAX) batch.push(this.priority.shift());
      while (this.entries.length > 0 && batch.length < FRAME_MESSAGES_MAX && bytes < FRAME_BYTES_MAX) {
        bytes += this.entries.peekBytes();
        batch.push(this.entries.shift());
      }
      this.write(this.raft, encoder, batch);
    }
  }

  private pumpSnapshot(): void {
    const encoder = this.snapshotEncoder;
    const dialler = this.snapshot;
    if (encoder === null || dialler === null) return;
    while (this.snapshots.length > 0 && dialler.writable) {
      const batch: Message[] = [];
      let bytes = 0;
      while (this.snapshots.length > 0 && batch.length < FRAME_MESSAGES_MAX && bytes < FRAME_BYTES_MAX) {
        bytes += this.snapshots.peekBytes();
        batch.push(this.snapshots.shift());
      }
      this.write(dialler, encoder, batch);
    }
  }

  private write(dialler: Dialler, encoder: FrameEncoder, batch: Message[]): void {
    const frame = encoder.encode(batch);
    dialler.write('RAFT', frame);
    this.stats.framesSent++;
    this.stats.bytesSent += frame.byteLength;
    this.stats.messagesSent += batch.length;
  }
}

/** The accepting end of a router's client lane, as the FramePort the client data plane serves. */
class AcceptedClientPort implements FramePort {
  private readonly listeners: ((frame: Uint8Array) => void)[] = [];

  constructor(
    private readonly connection: AcceptedConnection,
    private readonly unsentBytesMax: number,
    private readonly logOnce: LogOnce,
  ) {}

  postMessage(frame: Uint8Array): void {
    if (!this.connection.isOpen) return;
    if (this.connection.unsentBytes > this.unsentBytesMax) {
      // The router stopped reading: it loses the connection and, through its onReset, learns its requests' fate is unknown.
      this.logOnce.report(
        this.connection.hello.from,
        'client-lane-backlog',
        `client lane of ${this.connection.hello.from} stopped reading; closed`,
      );
      this.connection.close();
      return;
    }
    this.connection.write('CLIENT', frame);
  }

  on(_event: 'message', listener: (frame: Uint8Array) => void): this {
    this.listeners.push(listener);
    return this;
  }

  receive(frame: Uint8Array): void {
    for (const listener of this.listeners) listener(frame);
  }

  close(): void {
    this.connection.close();
  }

  unref(): void {
    this.connection.unref();
  }
}

export class TcpTransport {
  private readonly limits: TcpTransportLimits;
  /** Failures of this node's diallers, by the peer dialled. */
  private readonly logOnce: LogOnce;
  /** Failures of connections this node accepted, by the peer that dialled (kept apart: both ends may fail alike). */
  private readonly acceptLogOnce: LogOnce;
  private readonly linksByPeer = new Map<NodeId, TcpLink>();
  private members = new Set<NodeId>();
  private readonly sockets = new Set<net.Socket>();
  /** The open inbound Raft connections: one per (peer, lane), a newer one replacing the older. */
  private readonly inbound = new Map<string, AcceptedConnection>();
  private readonly decoders = new Map<AcceptedConnection, FrameDecoder>();
  private readonly clientPorts = new Map<AcceptedConnection, AcceptedClientPort>();
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly options: TcpTransportOptions,
    private readonly server: net.Server,
    limits: TcpTransportLimits,
  ) {
    this.limits = limits;
    this.logOnce = new LogOnce(options.log);
    this.acceptLogOnce = new LogOnce(options.log);
  }

  /** Listens on `options.listen` (checked by checkPeerSecurity first), then dials every peer. */
  static async start(options: TcpTransportOptions): Promise<TcpTransport> {
    // Everything that can be refused is refused before the port is taken.
    checkPeerSecurity(options.listen, options.peers, options.security);
    for (const address of Object.values(options.peers)) parseHostPort(address);
    const limits = resolveTcpLimits(options.limits);
    const security = options.security;
    const server = security.mode === 'tls' ? tls.createServer(tlsServerOptions(security)) : net.createServer();
    const transport = new TcpTransport(options, server, limits);
    server.maxConnections = transport.limits.acceptedConnectionsMax;
    server.on('connection', (socket: net.Socket) => transport.track(socket));
    if (security.mode === 'tls') {
      server.on('secureConnection', (socket: tls.TLSSocket) => transport.accept(socket));
      server.on('tlsClientError', (error: Error, socket: tls.TLSSocket) => {
        const who = socket.remoteAddress ?? 'unknown';
        transport.acceptLogOnce.report(who, 'TRANSPORT_AUTH_FAILED', `TLS handshake from ${who} failed: ${error.message}`);
      });
    } else {
      server.on('connection', (socket: net.Socket) => transport.accept(socket));
    }
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.listen.port, options.listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (error) => options.log('error', 'listen', `peer listener of ${options.id}: ${error.message}`));
    transport.setPeers(options.peers);
    return transport;
  }

  /** The port listened on. */
  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  get links(): ReadonlyMap<NodeId, TcpLink> {
    return this.linksByPeer;
  }

  link(peer: NodeId): TcpLink | undefined {
    return this.linksByPeer.get(peer);
  }

  /** Membership changed: links to new peers open, links to former ones close, moved peers are dialled anew. */
  setPeers(peers: Readonly<Record<NodeId, string>>): void {
    if (this.closing !== null) return;
    checkPeerSecurity(this.options.listen, peers, this.options.security);
    for (const address of Object.values(peers)) parseHostPort(address);
    const next = new Map(Object.entries(peers).filter(([peer]) => peer !== this.options.id));
    for (const [peer, link] of this.linksByPeer) {
      if (next.has(peer)) continue;
      link.close();
      this.linksByPeer.delete(peer);
      for (const lane of ['raft', 'snapshot']) this.inbound.get(`${peer}/${lane}`)?.close();
    }
    for (const [peer, address] of next) {
      const link = this.linksByPeer.get(peer);
      if (link === undefined) {
        this.linksByPeer.set(peer, new TcpLink(peer, address, { options: this.options, limits: this.limits, logOnce: this.logOnce }));
      } else link.setAddress(address);
    }
    this.members = new Set(next.keys());
  }

  /** Closes the listener, every link and every accepted connection, and clears their timers. */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    for (const link of this.linksByPeer.values()) link.close();
    this.linksByPeer.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    this.closing = closed;
    return closed;
  }

  private track(socket: net.Socket): void {
    if (this.closing !== null) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  private accept(socket: net.Socket): void {
    if (this.closing !== null) {
      socket.destroy();
      return;
    }
    const options: AcceptorOptions = {
      id: this.options.id,
      clusterId: this.options.clusterId,
      security: this.options.security,
      limits: this.limits,
      logOnce: this.acceptLogOnce,
      isMember: (from) => this.members.has(from),
      acceptsClients: () => this.options.onClientChannel !== undefined,
      onOpen: (connection) => this.opened(connection),
      onData: (connection, frame) => this.received(connection, frame),
      onClose: (connection) => this.lost(connection),
    };
    new AcceptedConnection(socket, options);
  }

  private opened(connection: AcceptedConnection): void {
    const hello = connection.hello;
    if (hello.lane === 'client') {
      const port = new AcceptedClientPort(connection, this.limits.clientLaneQueueBytesMax, this.acceptLogOnce);
      this.clientPorts.set(connection, port);
      this.options.onClientChannel?.(port, hello.from);
      return;
    }
    const key = `${hello.from}/${hello.lane}`;
    const older = this.inbound.get(key);
    this.inbound.set(key, connection);
    this.decoders.set(connection, new FrameDecoder());
    older?.close();
  }

  private received(connection: AcceptedConnection, frame: Extract<Frame, { type: 'RAFT' | 'CLIENT' }>): void {
    if (frame.type === 'CLIENT') {
      this.clientPorts.get(connection)?.receive(frame.body);
      return;
    }
    const decoder = this.decoders.get(connection);
    if (decoder === undefined) return;
    const from = connection.hello.from;
    let messages: Message[];
    try {
      messages = decoder.decode(frame.body);
      for (const message of messages) {
        if (message.from !== from || message.to !== this.options.id) {
          throw new FrameError(`a message from ${message.from} to ${message.to} on ${from}'s lane to ${this.options.id}`);
        }
      }
    } catch (error) {
      if (!(error instanceof FrameError)) throw error;
      // The msgpack stream cannot resume after a lost frame: the connection goes, the dialler reconnects.
      this.acceptLogOnce.report(from, 'TRANSPORT_BAD_FRAME', `a bad frame from ${from}: ${error.message}`);
      connection.close();
      return;
    }
    const link = this.linksByPeer.get(from);
    if (link !== undefined) link.stats.messagesReceived += messages.length;
    this.options.deliver(messages);
  }

  private lost(connection: AcceptedConnection): void {
    this.decoders.delete(connection);
    this.clientPorts.delete(connection);
    const hello = connection.hello;
    const key = `${hello.from}/${hello.lane}`;
    if (this.inbound.get(key) === connection) this.inbound.delete(key);
  }
}

export { TransportError };
