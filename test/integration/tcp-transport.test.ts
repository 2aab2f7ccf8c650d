// The TCP peer transport (src/transport/tcp/) between real sockets on 127.0.0.1: Raft messages both ways,
// refused handshakes (logged once however often the dialler retries), reconnects, the bounded queue with its
// priority lane, the fault filter, the snapshot lane beside heartbeats, the client lane, the pre-shared key.
// Every wait polls a condition; every transport, socket and server is closed after each test.
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '../../src/protocol/node.js';
import { SeededRandom } from '../../src/raft/random.js';
import type { AppendRequest, Membership, Message, SnapshotRequest } from '../../src/raft/types.js';
import { EntryBlocks, FrameDecoder } from '../../src/transport/codec.js';
import { NO_FAULTS } from '../../src/transport/link-faults.js';
import type { FramePort } from '../../src/transport/link.js';
import { dialClientLane, type ClientLane, type ClientLaneResetReason } from '../../src/transport/tcp/client-lane.js';
import { encodeControlFrame, FrameReader, type Frame } from '../../src/transport/tcp/frame.js';
import type { TcpTransportLimits } from '../../src/transport/tcp/limits.js';
import type { PeerSecurity } from '../../src/transport/tcp/security.js';
import { TcpTransport } from '../../src/transport/tcp/tcp-transport.js';
import { commands } from '../support/entries.js';

const HOST = '127.0.0.1';
const CLUSTER = 'cluster-a';
const FAST: Partial<TcpTransportLimits> = { reconnectBackoffMinMs: 10, reconnectBackoffMaxMs: 40, handshakeTimeoutMs: 3_000 };
const PLAINTEXT: PeerSecurity = { mode: 'plaintext' };

interface LogLine {
  readonly level: string;
  readonly kind: string;
  readonly message: string;
}

interface TestNode {
  readonly id: string;
  readonly transport: TcpTransport;
  readonly delivered: Message[];
  readonly logs: LogLine[];
  readonly address: string;
}

const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  const pending = cleanups.splice(0).reverse();
  for (const cleanup of pending) await cleanup();
});

async function startNode(
  id: string,
  options: {
    clusterId?: string;
    security?: PeerSecurity;
    limits?: Partial<TcpTransportLimits>;
    peers?: Record<string, string>;
    port?: number;
    onClientChannel?: (port: FramePort, from: string) => void;
    onUnreachable?: (peer: string) => void;
  } = {},
): Promise<TestNode> {
  const delivered: Message[] = [];
  const logs: LogLine[] = [];
  const transport = await TcpTransport.start({
    id,
    clusterId: options.clusterId ?? CLUSTER,
    listen: { host: HOST, port: options.port ?? 0 },
    peers: options.peers ?? {},
    security: options.security ?? PLAINTEXT,
    limits: { ...FAST, ...options.limits },
    deliver: (messages) => delivered.push(...messages),
    log: (level, kind, message) => logs.push({ level, kind, message }),
    random: new SeededRandom(id.length * 7919 + 1),
    blocks: new EntryBlocks(),
    ...(options.onClientChannel === undefined ? {} : { onClientChannel: options.onClientChannel }),
    ...(options.onUnreachable === undefined ? {} : { onUnreachable: options.onUnreachable }),
  });
  cleanups.push(() => transport.close());
  return { id, transport, delivered, logs, address: `${HOST}:${transport.port}` };
}

/** Polls `condition` until it holds; fails naming `what` after `timeoutMs`. */
async function waitFor(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function heartbeat(from: string, to: string, round: number): AppendRequest {
  return { type: 'AppendRequest', from, to, term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0, round };
}

function append(from: string, to: string, first: number, count: number, sizeBytes = 8, round = 0): AppendRequest {
  return {
    type: 'AppendRequest',
    from,
    to,
    term: 1,
    prevLogIndex: first - 1,
    prevLogTerm: first > 1 ? 1 : 0,
    entries: commands(first, count, 1, sizeBytes),
    leaderCommit: 0,
    round,
  };
}

function snapshotChunk(from: string, to: string, offsetBytes: number, chunkBytes: number, totalBytes: number): SnapshotRequest {
  const data = new Uint8Array(chunkBytes).fill((offsetBytes / chunkBytes) & 0xff);
  const membership = { voters: [from, to], learners: [] } as unknown as Membership;
  return {
    type: 'SnapshotRequest',
    from,
    to,
    term: 1,
    meta: { index: 100, term: 1, membership },
    offsetBytes,
    totalBytes,
    data,
    done: offsetBytes + chunkBytes >= totalBytes,
    round: 0,
  };
}

function rounds(messages: readonly Message[]): number[] {
  return messages.filter((m): m is AppendRequest => m.type === 'AppendRequest' && m.entries.length === 0).map((m) => m.round);
}

function logged(node: TestNode, kind: string): number {
  return node.logs.filter((line) => line.kind === kind).length;
}

/** Three nodes that know each other. */
async function cluster(ids: readonly string[], options: Parameters<typeof startNode>[1] = {}): Promise<TestNode[]> {
  const nodes: TestNode[] = [];
  for (const id of ids) nodes.push(await startNode(id, options));
  for (const node of nodes) {
    node.transport.setPeers(Object.fromEntries(nodes.filter((other) => other !== node).map((other) => [other.id, other.address])));
  }
  return nodes;
}

/** A raw TCP client that sends `frames` and gathers what comes back until the server closes. */
async function rawExchange(port: number, frames: Buffer[]): Promise<{ frames: Frame[]; closed: boolean }> {
  const socket = net.connect({ host: HOST, port });
  cleanups.push(() => socket.destroy());
  const reader = new FrameReader();
  const received: Frame[] = [];
  let closed = false;
  socket.on('data', (chunk: Buffer) => received.push(...reader.push(chunk)));
  socket.on('error', () => undefined);
  socket.on('close', () => (closed = true));
  socket.on('connect', () => {
    for (const frame of frames) socket.write(frame);
  });
  await waitFor('the acceptor to close the raw connection', () => closed);
  return { frames: received, closed };
}

describe('TcpTransport: Raft messages between transports on 127.0.0.1', () => {
  it('carries heartbeats, appends with entries and responses both ways among three nodes', async () => {
    const [n1, n2, n3] = (await cluster(['n1', 'n2', 'n3'])) as [TestNode, TestNode, TestNode];
    const link12 = n1.transport.link('n2');
    const link13 = n1.transport.link('n3');
    expect(link12).toBeDefined();
    expect(n1.transport.links.size).toBe(2);
    link12?.send(heartbeat('n1', 'n2', 1));
    link12?.send(append('n1', 'n2', 1, 50, 100));
    link13?.send(append('n1', 'n3', 1, 3, 10_000));
    link12?.flush();
    link13?.flush();
    n2.transport.link('n1')?.send({
      type: 'AppendResponse',
      from: 'n2',
      to: 'n1',
      term: 1,
      success: true,
      matchIndex: 50,
      rejectIndex: 0,
      conflictIndex: 0,
      conflictTerm: 0,
      round: 1,
    });
    n2.transport.link('n1')?.flush();
    n3.transport
      .link('n2')
      ?.send({ type: 'VoteRequest', from: 'n3', to: 'n2', term: 2, preVote: true, lastLogIndex: 3, lastLogTerm: 1, transfer: false });
    n3.transport.link('n2')?.flush();
    await waitFor('every message delivered', () => n2.delivered.length === 3 && n3.delivered.length === 1 && n1.delivered.length === 1);

    const appended = n2.delivered.find((m): m is AppendRequest => m.type === 'AppendRequest' && m.entries.length > 0);
    expect(appended?.entries).toEqual(commands(1, 50, 1, 100));
    expect(rounds(n2.delivered)).toEqual([1]);
    expect((n3.delivered[0] as AppendRequest).entries).toEqual(commands(1, 3, 1, 10_000));
    expect(n1.delivered[0]).toMatchObject({ type: 'AppendResponse', matchIndex: 50 });
    expect(n2.delivered.some((m) => m.type === 'VoteRequest' && m.from === 'n3')).toBe(true);
    expect(link12?.stats).toMatchObject({ messagesSent: 2, messagesDropped: 0 });
    expect(n2.transport.link('n1')?.stats.messagesReceived).toBe(2);
    for (const node of [n1, n2, n3]) expect(node.logs.filter((line) => line.kind.startsWith('TRANSPORT_'))).toEqual([]);
  });

  it('reconnects after the peer is closed and started again on the same port', async () => {
    const n2 = await startNode('n2');
    const n1 = await startNode('n1', { peers: { n2: n2.address } });
    n2.transport.setPeers({ n1: n1.address });
    const link = n1.transport.link('n2');
    link?.send(heartbeat('n1', 'n2', 1));
    link?.flush();
    await waitFor('the first heartbeat', () => rounds(n2.delivered).includes(1));

    const port = n2.transport.port;
    await n2.transport.close();
    const attempts = link?.stats.connectAttempts ?? 0;
    await waitFor('n1 to retry the closed peer', () => (link?.stats.connectAttempts ?? 0) >= attempts + 2);

    const again = await startNode('n2', { port, peers: { n1: n1.address } });
    let round = 100;
    await waitFor('a heartbeat through the new connection', () => {
      link?.send(heartbeat('n1', 'n2', round++));
      link?.flush();
      return again.delivered.length > 0;
    });
    expect(link?.stats.connectionsOpened).toBe(2);
    expect(rounds(again.delivered).every((r) => r >= 100)).toBe(true);
  });

  it('setPeers redials a peer whose address changed', async () => {
    const n2 = await startNode('n2');
    const n1 = await startNode('n1', { peers: { n2: n2.address } });
    n2.transport.setPeers({ n1: n1.address });
    const link = n1.transport.link('n2');
    link?.send(heartbeat('n1', 'n2', 1));
    link?.flush();
    await waitFor('the first heartbeat', () => n2.delivered.length === 1);
    await n2.transport.close();
    const moved = await startNode('n2', { peers: { n1: n1.address } });
    n1.transport.setPeers({ n2: moved.address });
    expect(n1.transport.link('n2')).toBe(link); // the same link, redialled
    link?.send(heartbeat('n1', 'n2', 2));
    link?.flush();
    await waitFor('the heartbeat at the new address', () => moved.delivered.length === 1);
    expect(rounds(moved.delivered)).toEqual([2]);
  });

  it('delays messages by the delay fault, in order of their timers', async () => {
    const [n1, n2] = (await cluster(['n1', 'n2'])) as [TestNode, TestNode];
    const link = n1.transport.link('n2');
    link?.setFaults({ ...NO_FAULTS, delayMs: [20, 40] });
    const sentAt = Date.now();
    for (let round = 1; round <= 5; round++) link?.send(heartbeat('n1', 'n2', round));
    link?.flush();
    expect(link?.stats.messagesQueued).toBe(0); // held by timers, not queued
    await waitFor('the delayed heartbeats', () => n2.delivered.length === 5);
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(19);
    expect([...rounds(n2.delivered)].sort()).toEqual([1, 2, 3, 4, 5]);
  });

  it('the fault filter drops while cut, and the link carries on when healed', async () => {
    const [n1, n2] = (await cluster(['n1', 'n2'])) as [TestNode, TestNode];
    const link = n1.transport.link('n2');
    link?.setFaults({ ...NO_FAULTS, cut: true });
    for (let round = 1; round <= 5; round++) link?.send(heartbeat('n1', 'n2', round));
    link?.flush();
    expect(link?.stats.messagesDropped).toBe(5);
    link?.setFaults(NO_FAULTS);
    link?.send(heartbeat('n1', 'n2', 6));
    link?.flush();
    await waitFor('the heartbeat after healing', () => n2.delivered.length > 0);
    expect(rounds(n2.delivered)).toEqual([6]);
  });

  it('applies seeded drop and duplicate faults per message', async () => {
    const [n1, n2] = (await cluster(['n1', 'n2'])) as [TestNode, TestNode];
    const link = n1.transport.link('n2');
    link?.setFaults({ ...NO_FAULTS, drop: 0.5, duplicate: 0.5 });
    for (let round = 1; round <= 200; round++) link?.send(heartbeat('n1', 'n2', round));
    link?.flush();
    const dropped = link?.stats.messagesDropped ?? 0;
    expect(dropped).toBeGreaterThan(50);
    expect(dropped).toBeLessThan(150);
    await waitFor('the queue sent', () => link?.stats.messagesQueued === 0 && (link?.stats.messagesSent ?? 0) > 0);
    const sent = link?.stats.messagesSent ?? 0;
    await waitFor('the survivors', () => n2.delivered.length === sent);
    expect(sent).toBeGreaterThan(200 - dropped); // some were duplicated
  });
});

describe('TcpTransport: refused handshakes', () => {
  async function expectRefusedOnce(dialler: TestNode, acceptor: TestNode, code: string, peer: string): Promise<void> {
    const link = dialler.transport.link(peer);
    await waitFor(`several refused attempts (${code})`, () => (link?.stats.connectAttempts ?? 0) >= 5);
    await waitFor(`the refusal logged at both ends (${code})`, () => logged(dialler, code) >= 1 && logged(acceptor, code) >= 1);
    expect(logged(dialler, code)).toBe(1);
    expect(logged(acceptor, code)).toBe(1);
    expect(link?.stats.connectionsOpened).toBe(0);
    link?.send(heartbeat(dialler.id, peer, 1));
    link?.flush();
    expect(acceptor.delivered).toEqual([]);
  }

  it('a HELLO of another protocol version: REFUSE TRANSPORT_VERSION_MISMATCH, closed, logged once over several attempts', async () => {
    const n2 = await startNode('n2', { peers: { n1: `${HOST}:1` } });
    for (let attempt = 0; attempt < 3; attempt++) {
      const hello = encodeControlFrame('HELLO', {
        protocolVersion: PROTOCOL_VERSION + 1,
        clusterId: CLUSTER,
        from: 'n1',
        to: 'n2',
        lane: 'raft',
      });
      const answer = await rawExchange(n2.transport.port, [hello]);
      expect(answer.closed).toBe(true);
      expect(answer.frames).toHaveLength(1);
      expect(answer.frames[0]).toMatchObject({ type: 'REFUSE', body: { code: 'TRANSPORT_VERSION_MISMATCH' } });
    }
    expect(logged(n2, 'TRANSPORT_VERSION_MISMATCH')).toBe(1);
    expect(n2.delivered).toEqual([]);
  });

  it('garbage instead of a HELLO is refused and closed', async () => {
    const n2 = await startNode('n2');
    const answer = await rawExchange(n2.transport.port, [Buffer.from([0, 0, 0, 2, 99, 0])]);
    expect(answer.frames[0]).toMatchObject({ type: 'REFUSE', body: { code: 'TRANSPORT_BAD_FRAME' } });
    const huge = await rawExchange(n2.transport.port, [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')]);
    expect(huge.frames[0]).toMatchObject({ type: 'REFUSE', body: { code: 'TRANSPORT_FRAME_TOO_LARGE' } });
    expect(n2.delivered).toEqual([]);
  });

  it('another cluster id: TRANSPORT_CLUSTER_MISMATCH, logged once at each end', async () => {
    const n2 = await startNode('n2', { peers: { n1: `${HOST}:1` } });
    const n1 = await startNode('n1', { clusterId: 'cluster-b', peers: { n2: n2.address } });
    await expectRefusedOnce(n1, n2, 'TRANSPORT_CLUSTER_MISMATCH', 'n2');
  });

  it('dialling the wrong node (`to` is not the acceptor): TRANSPORT_WRONG_PEER', async () => {
    const n2 = await startNode('n2', { peers: { n1: `${HOST}:1` } });
    const n1 = await startNode('n1', { peers: { n3: n2.address } });
    await expectRefusedOnce(n1, n2, 'TRANSPORT_WRONG_PEER', 'n3');
  });

  it('an unknown `from` on a raft lane: TRANSPORT_WRONG_PEER', async () => {
    const n2 = await startNode('n2', { peers: { n1: `${HOST}:1` } });
    const n9 = await startNode('n9', { peers: { n2: n2.address } });
    await expectRefusedOnce(n9, n2, 'TRANSPORT_WRONG_PEER', 'n2');
  });

  it('a member removed by setPeers is refused from then on', async () => {
    const [n1, n2] = (await cluster(['n1', 'n2'])) as [TestNode, TestNode];
    const link = n1.transport.link('n2');
    link?.send(heartbeat('n1', 'n2', 1));
    link?.flush();
    await waitFor('the heartbeat', () => n2.delivered.length === 1);
    n2.transport.setPeers({});
    expect(n2.transport.link('n1')).toBeUndefined();
    await waitFor('n1 refused by n2', () => logged(n1, 'TRANSPORT_WRONG_PEER') === 1);
    link?.send(heartbeat('n1', 'n2', 2));
    link?.flush();
    expect(rounds(n2.delivered)).toEqual([1]);
  });
});

describe('TcpTransport: queues, priority and lanes', () => {
  it('a full queue drops entry-carrying appends (reported unreachable) while heartbeats still go, ahead of entries', async () => {
    // A peer that completes the handshake, then stops reading until told.
    const sockets = new Set<net.Socket>();
    const received: Message[] = [];
    let paused: net.Socket | null = null;
    const server = net.createServer((socket) => {
      sockets.add(socket);
      const reader = new FrameReader();
      const decoder = new FrameDecoder();
      socket.on('error', () => undefined);
      socket.on('data', (chunk: Buffer) => {
        for (const frame of reader.push(chunk)) {
          if (frame.type === 'HELLO') {
            socket.write(encodeControlFrame('WELCOME', { protocolVersion: PROTOCOL_VERSION, clusterId: CLUSTER, id: 'n2' }));
            socket.pause();
            paused = socket;
          } else if (frame.type === 'RAFT') received.push(...decoder.decode(frame.body));
        }
      });
    });
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          server.close(() => resolve());
        }),
    );
    await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
    const port = (server.address() as net.AddressInfo).port;
    const unreachable: string[] = [];
    const n1 = await startNode('n1', {
      peers: { n2: `${HOST}:${port}` },
      limits: { peerQueueMessagesMax: 64, peerQueueBytesMax: 256 * 1024 },
      onUnreachable: (peer) => unreachable.push(peer),
    });
    const link = n1.transport.link('n2');
    await waitFor('the handshake', () => paused !== null && (link?.stats.connectionsOpened ?? 0) === 1);

    // Appends of 64 KiB until the socket and then the queue are full.
    let index = 1;
    for (let turn = 0; turn < 2_000 && (link?.stats.messagesDropped ?? 0) === 0; turn++) {
      for (let i = 0; i < 8; i++, index++) link?.send(append('n1', 'n2', index, 1, 64 * 1024));
      link?.flush();
      await new Promise((resolve) => setImmediate(resolve));
    }
    const dropped = link?.stats.messagesDropped ?? 0;
    expect(dropped).toBeGreaterThan(0);
    expect(unreachable[0]).toBe('n2');
    const sentBefore = link?.stats.messagesSent ?? 0;

    // Heartbeats are never dropped for a full entries queue; entries still are.
    for (let round = 1; round <= 10; round++) link?.send(heartbeat('n1', 'n2', 1_000 + round));
    link?.flush();
    expect(link?.stats.messagesDropped).toBe(dropped);
    for (let turn = 0; turn < 2_000 && (link?.stats.messagesDropped ?? 0) === dropped; turn++, index++) {
      link?.send(append('n1', 'n2', index, 1, 64 * 1024));
      link?.flush();
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(link?.stats.messagesDropped).toBeGreaterThan(dropped);

    (paused as net.Socket | null)?.resume();
    await waitFor('the heartbeats after the peer reads again', () => rounds(received).length === 10);
    await waitFor('the queue drained', () => link?.stats.messagesQueued === 0);
    // The heartbeats overtook the entry appends that were still queued when they were sent.
    const firstHeartbeat = received.findIndex((m) => m.type === 'AppendRequest' && m.entries.length === 0);
    const lastAppend = received.findLastIndex((m) => m.type === 'AppendRequest' && m.entries.length > 0);
    expect(firstHeartbeat).toBeLessThan(lastAppend);
    expect(link?.stats.messagesSent).toBeGreaterThan(sentBefore);
    // Every append that was not dropped arrived, in order.
    const indexes = received.flatMap((m) => (m.type === 'AppendRequest' ? m.entries.map((e) => e.index) : []));
    expect(indexes).toEqual([...indexes].sort((a, b) => a - b));
  });

  it('streams a multi-MiB snapshot on its own lane while heartbeats keep flowing on the raft lane', async () => {
    const [n1, n2] = (await cluster(['n1', 'n2'])) as [TestNode, TestNode];
    const link = n1.transport.link('n2');
    const chunkBytes = 1024 * 1024;
    const totalBytes = 24 * chunkBytes;
    // Warm both lanes up first.
    link?.send(heartbeat('n1', 'n2', 0));
    link?.send(snapshotChunk('n1', 'n2', 0, chunkBytes, totalBytes));
    link?.flush();
    await waitFor('both lanes open', () => n2.delivered.length === 2);
    n2.delivered.length = 0;

    for (let offset = chunkBytes; offset < totalBytes; offset += chunkBytes)
      link?.send(snapshotChunk('n1', 'n2', offset, chunkBytes, totalBytes));
    link?.send(heartbeat('n1', 'n2', 1));
    link?.flush();
    let round = 2;
    const chunks = (): number => n2.delivered.filter((m) => m.type === 'SnapshotRequest').length;
    await waitFor('the whole snapshot', () => {
      link?.send(heartbeat('n1', 'n2', round++));
      link?.flush();
      return chunks() === 23;
    });
    const lastChunk = n2.delivered.findLastIndex((m) => m.type === 'SnapshotRequest');
    const firstHeartbeat = n2.delivered.findIndex((m) => m.type === 'AppendRequest');
    expect(firstHeartbeat).toBeLessThan(lastChunk);
    const snapshot = n2.delivered.filter((m): m is SnapshotRequest => m.type === 'SnapshotRequest');
    expect(snapshot.map((m) => m.offsetBytes)).toEqual(Array.from({ length: 23 }, (_, i) => (i + 1) * chunkBytes));
    expect(snapshot.at(-1)?.done).toBe(true);
    expect(snapshot[5]?.data[chunkBytes - 1]).toBe(6);
    expect(link?.stats.messagesDropped).toBe(0);
  });
});

describe('TcpTransport: the client lane', () => {
  it('carries frames both ways, fires onReset when the connection breaks, and reconnects', async () => {
    const ports: { port: FramePort; from: string }[] = [];
    const n2 = await startNode('n2', {
      onClientChannel: (port, from) => {
        ports.push({ port, from });
        port.on('message', (frame) => port.postMessage(Uint8Array.from(frame).reverse()));
      },
    });
    const lane: ClientLane = dialClientLane(n2.address, {
      clusterId: CLUSTER,
      from: 'router-1',
      to: 'n2',
      security: PLAINTEXT,
      limits: FAST,
    });
    cleanups.push(() => lane.close());
    const answers: number[][] = [];
    const resets: ClientLaneResetReason[] = [];
    lane.on('message', (frame) => answers.push([...frame]));
    lane.onReset((reason) => resets.push(reason));
    lane.postMessage(new Uint8Array([1, 2, 3])); // before the handshake: queued
    await waitFor('the echo', () => answers.length === 1);
    expect(answers[0]).toEqual([3, 2, 1]);
    expect(ports.map((p) => p.from)).toEqual(['router-1']);

    ports[0]?.port.close();
    await waitFor('the reset', () => resets.length === 1);
    expect(resets).toEqual(['connection-lost']);
    await waitFor('the lane back', () => lane.isOpen && ports.length === 2);
    lane.postMessage(new Uint8Array([4, 5]));
    await waitFor('the echo after the reconnect', () => answers.length === 2);
    expect(answers[1]).toEqual([5, 4]);
  });

  it('refuses posts past its queue while disconnected (onReset), and a node without a client taker refuses the lane', async () => {
    const n2 = await startNode('n2'); // no onClientChannel
    const logs: string[] = [];
    const lane = dialClientLane(n2.address, {
      clusterId: CLUSTER,
      from: 'router-1',
      to: 'n2',
      security: PLAINTEXT,
      limits: { ...FAST, clientLaneQueueMessagesMax: 2 },
      log: (_level, kind) => logs.push(kind),
    });
    cleanups.push(() => lane.close());
    const resets: ClientLaneResetReason[] = [];
    lane.onReset((reason) => resets.push(reason));
    for (let i = 0; i < 3; i++) lane.postMessage(new Uint8Array([i]));
    expect(resets).toEqual(['queue-full']);
    await waitFor('the refusal', () => logs.includes('TRANSPORT_WRONG_PEER'));
    expect(lane.isOpen).toBe(false);
  });
});

describe('TcpTransport: pre-shared key', () => {
  const key = new Uint8Array(32).fill(9);

  it('nodes with the same key talk', async () => {
    const [n1, n2] = (await cluster(['n1', 'n2'], { security: { mode: 'psk', key } })) as [TestNode, TestNode];
    n1.transport.link('n2')?.send(append('n1', 'n2', 1, 5));
    n1.transport.link('n2')?.flush();
    n2.transport.link('n1')?.send(heartbeat('n2', 'n1', 7));
    n2.transport.link('n1')?.flush();
    await waitFor('both ways', () => n2.delivered.length === 1 && n1.delivered.length === 1);
    expect((n2.delivered[0] as AppendRequest).entries).toEqual(commands(1, 5, 1));
  });

  it('a wrong key is refused (TRANSPORT_AUTH_FAILED, logged once), nothing delivered; so is a dialler without a key', async () => {
    const n2 = await startNode('n2', { security: { mode: 'psk', key }, peers: { n1: `${HOST}:1`, n3: `${HOST}:1` } });
    const n1 = await startNode('n1', { security: { mode: 'psk', key: new Uint8Array(32).fill(1) }, peers: { n2: n2.address } });
    const link = n1.transport.link('n2');
    await waitFor('several attempts', () => (link?.stats.connectAttempts ?? 0) >= 5);
    expect(logged(n1, 'TRANSPORT_AUTH_FAILED')).toBe(1);
    expect(link?.stats.connectionsOpened).toBe(0);

    const n3 = await startNode('n3', { peers: { n2: n2.address } }); // plaintext
    const link3 = n3.transport.link('n2');
    await waitFor('several attempts of n3', () => (link3?.stats.connectAttempts ?? 0) >= 5);
    expect(logged(n3, 'TRANSPORT_AUTH_FAILED')).toBe(1);
    // Once per dialler: n1 hung up before its PROOF, n3 offered no proof at all.
    await waitFor('the acceptor logged both', () => logged(n2, 'TRANSPORT_AUTH_FAILED') === 2);
    expect(n2.logs.filter((line) => line.kind === 'TRANSPORT_AUTH_FAILED').map((line) => line.message.includes('n3'))).toEqual([
      false,
      true,
    ]);
    link?.send(heartbeat('n1', 'n2', 1));
    link?.flush();
    link3?.send(heartbeat('n3', 'n2', 1));
    link3?.flush();
    expect(n2.delivered).toEqual([]);
  });

  it('plaintext off loopback is refused at start (TRANSPORT_INSECURE)', async () => {
    await expect(startNode('n1', { peers: { n2: '10.1.2.3:7000' } })).rejects.toMatchObject({ code: 'TRANSPORT_INSECURE' });
    await expect(startNode('n1', { security: { mode: 'psk', key: new Uint8Array(8) } })).rejects.toMatchObject({
      code: 'TRANSPORT_INSECURE',
    });
  });
});
