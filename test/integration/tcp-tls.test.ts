// Mutual TLS 1.3 between TCP transports on 127.0.0.1, with certificates from makeCertificates (raftkv certs):
// it works, and it refuses another CA's certificate, a certificate naming another node, an expired
// certificate, and a plaintext dialler (and a TLS dialler at a plaintext port): nothing delivered in each.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateCertificates, makeCertificates, type CertificateSet } from '../../src/cli/certs-command.js';
import { SeededRandom } from '../../src/raft/random.js';
import type { AppendRequest, Message } from '../../src/raft/types.js';
import { EntryBlocks } from '../../src/transport/codec.js';
import type { FramePort } from '../../src/transport/link.js';
import { dialClientLane } from '../../src/transport/tcp/client-lane.js';
import type { TcpTransportLimits } from '../../src/transport/tcp/limits.js';
import type { PeerSecurity } from '../../src/transport/tcp/security.js';
import { TcpTransport } from '../../src/transport/tcp/tcp-transport.js';
import { commands } from '../support/entries.js';

const HOST = '127.0.0.1';
const CLUSTER = 'cluster-tls';
const FAST: Partial<TcpTransportLimits> = { reconnectBackoffMinMs: 10, reconnectBackoffMaxMs: 40, handshakeTimeoutMs: 3_000 };

interface TestNode {
  readonly id: string;
  readonly transport: TcpTransport;
  readonly delivered: Message[];
  readonly logs: { kind: string; message: string }[];
  readonly address: string;
}

let dir = '';
let good: CertificateSet;
let otherCa: CertificateSet;
let expired: CertificateSet;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftkv-tls-'));
  good = makeCertificates({ nodes: ['n1', 'n2', 'router-1'], dir }).set;
  otherCa = generateCertificates({ nodes: ['n1', 'n2'] });
  const day = 86_400_000;
  expired = generateCertificates({
    nodes: ['n1'],
    ca: good.ca,
    notBefore: new Date(Date.now() - 3 * day),
    notAfter: new Date(Date.now() - day),
  });
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** TLS with `id`'s certificate from `set` (files read back from disk for the good set). */
function tls(id: string, set: CertificateSet = good): PeerSecurity {
  const pair = set.nodes[id];
  if (pair === undefined) throw new Error(`no certificate for ${id}`);
  if (set === good) {
    const read = (name: string): string => fs.readFileSync(path.join(dir, name), 'utf8');
    return { mode: 'tls', ca: read('ca.crt'), cert: read(`${id}.crt`), key: read(`${id}.key`) };
  }
  return { mode: 'tls', ca: set.ca.cert, cert: pair.cert, key: pair.key };
}

async function startNode(
  id: string,
  security: PeerSecurity,
  peers: Record<string, string> = {},
  onClientChannel?: (port: FramePort, from: string) => void,
): Promise<TestNode> {
  const delivered: Message[] = [];
  const logs: { kind: string; message: string }[] = [];
  const transport = await TcpTransport.start({
    id,
    clusterId: CLUSTER,
    listen: { host: HOST, port: 0 },
    peers,
    security,
    limits: FAST,
    deliver: (messages) => delivered.push(...messages),
    log: (_level, kind, message) => logs.push({ kind, message }),
    random: new SeededRandom(id.charCodeAt(1)),
    blocks: new EntryBlocks(),
    ...(onClientChannel === undefined ? {} : { onClientChannel }),
  });
  cleanups.push(() => transport.close());
  return { id, transport, delivered, logs, address: `${HOST}:${transport.port}` };
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function append(from: string, to: string, count: number): AppendRequest {
  return {
    type: 'AppendRequest',
    from,
    to,
    term: 1,
    prevLogIndex: 0,
    prevLogTerm: 0,
    entries: commands(1, count, 1),
    leaderCommit: 0,
    round: 1,
  };
}

/** `dialler` tries several times, never gets through, and logs each kind of failure once; nothing reaches `acceptor`. */
async function expectRefused(dialler: TestNode, acceptor: TestNode, peer: string, kind = 'TRANSPORT_AUTH_FAILED'): Promise<void> {
  const link = dialler.transport.link(peer);
  link?.send(append(dialler.id, peer, 2));
  link?.flush();
  await waitFor('several attempts', () => (link?.stats.connectAttempts ?? 0) >= 5);
  await waitFor(`a ${kind} logged`, () => dialler.logs.some((line) => line.kind === kind));
  expect(link?.stats.connectionsOpened).toBe(0);
  expect(dialler.logs.filter((line) => line.kind === kind)).toHaveLength(1);
  expect(acceptor.delivered).toEqual([]);
}

describe('TcpTransport over mutual TLS 1.3', () => {
  it('carries Raft messages both ways, and a client lane, with certificates from makeCertificates', async () => {
    const ports: string[] = [];
    const n2 = await startNode('n2', tls('n2'), {}, (port, from) => {
      ports.push(from);
      port.on('message', (frame) => port.postMessage(frame));
    });
    const n1 = await startNode('n1', tls('n1'), { n2: n2.address });
    n2.transport.setPeers({ n1: n1.address });
    n1.transport.link('n2')?.send(append('n1', 'n2', 4));
    n1.transport.link('n2')?.flush();
    n2.transport.link('n1')?.send(append('n2', 'n1', 1));
    n2.transport.link('n1')?.flush();
    await waitFor('both ways', () => n2.delivered.length === 1 && n1.delivered.length === 1);
    expect((n2.delivered[0] as AppendRequest).entries).toEqual(commands(1, 4, 1));

    const lane = dialClientLane(n2.address, { clusterId: CLUSTER, from: 'router-1', to: 'n2', security: tls('router-1'), limits: FAST });
    cleanups.push(() => lane.close());
    const echoes: Uint8Array[] = [];
    lane.on('message', (frame) => echoes.push(frame));
    lane.postMessage(new Uint8Array([42]));
    await waitFor('the client lane echo', () => echoes.length === 1);
    expect(ports).toEqual(['router-1']);
    expect([...n1.logs, ...n2.logs].filter((line) => line.kind === 'TRANSPORT_AUTH_FAILED')).toEqual([]);
  });

  it('refuses a certificate of another CA', async () => {
    const n2 = await startNode('n2', tls('n2'), { n1: `${HOST}:1` });
    const n1 = await startNode('n1', tls('n1', otherCa), { n2: n2.address });
    await expectRefused(n1, n2, 'n2');
    await waitFor('the acceptor logged it', () => n2.logs.some((line) => line.kind === 'TRANSPORT_AUTH_FAILED'));
  });

  it("refuses a certificate that names another node: n1 presenting n2's certificate", async () => {
    const n2 = await startNode('n2', tls('n2'), { n1: `${HOST}:1` });
    const impostor = await startNode('n1', tls('n2'), { n2: n2.address });
    await expectRefused(impostor, n2, 'n2');
    // The acceptor refused it after the HELLO: its certificate names n2, the HELLO says n1. Logged once.
    expect(n2.logs.filter((line) => line.kind === 'TRANSPORT_AUTH_FAILED')).toHaveLength(1);
    // And dialling the impostor, n2 finds a server certificate that does not name n1.
    n2.transport.setPeers({ n1: impostor.address });
    await expectRefused(n2, impostor, 'n1');
  });

  it('refuses an expired certificate', async () => {
    const n2 = await startNode('n2', tls('n2'), { n1: `${HOST}:1` });
    const n1 = await startNode('n1', tls('n1', expired), { n2: n2.address });
    await expectRefused(n1, n2, 'n2');
  });

  it('refuses a plaintext dialler at a TLS port, and a TLS dialler at a plaintext port', async () => {
    const n2 = await startNode('n2', tls('n2'), { n1: `${HOST}:1` });
    const plain = await startNode('n1', { mode: 'plaintext' }, { n2: n2.address });
    const link = plain.transport.link('n2');
    link?.send(append('n1', 'n2', 1));
    link?.flush();
    await waitFor('several attempts', () => (link?.stats.connectAttempts ?? 0) >= 5);
    expect(link?.stats.connectionsOpened).toBe(0);
    expect(n2.delivered).toEqual([]);

    const n3 = await startNode('n3', { mode: 'plaintext' }, { n1: `${HOST}:1` });
    const tlsDialler = await startNode('n1', tls('n1'), { n3: n3.address });
    const link3 = tlsDialler.transport.link('n3');
    await waitFor('several attempts of the TLS dialler', () => (link3?.stats.connectAttempts ?? 0) >= 5 && tlsDialler.logs.length > 0);
    expect(link3?.stats.connectionsOpened).toBe(0);
    const kinds = tlsDialler.logs.map((line) => line.kind);
    expect(kinds).toEqual([...new Set(kinds)]); // each kind once
    expect(n3.delivered).toEqual([]);
    // The plaintext acceptor read the TLS ClientHello as a frame header and refused it.
    expect(n3.logs.some((line) => line.kind === 'TRANSPORT_FRAME_TOO_LARGE' || line.kind === 'TRANSPORT_BAD_FRAME')).toBe(true);
  });
});
