// Writes the fuzzers' seed corpus (test/fuzz/corpus/<target>/seed-*): small valid and near-valid inputs made
// by raftkv's own encoders, so the seeds follow the formats when they change. Deterministic; run it again after
// a format change: `npx tsx test/fuzz/make-seeds.ts`. Entries the fuzzer added (cov-*) are left alone.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeEntries } from '../../src/codec/entry-block.js';
import { PROTOCOL_VERSION } from '../../src/protocol/node.js';
import type { Entry, Message, SnapshotMeta } from '../../src/raft/types.js';
import { encodeBackup } from '../../src/storage/backup.js';
import { FaultyFileSystem } from '../../src/storage/faulty-file-system.js';
import { SnapshotStore } from '../../src/storage/snapshot-store.js';
import { WriteAheadLog } from '../../src/storage/wal.js';
import type { WalBatch } from '../../src/storage/wal-record.js';
import { EntryBlocks, FrameEncoder } from '../../src/transport/codec.js';
import { encodeControlFrame, encodeDataFrameBytes } from '../../src/transport/tcp/frame.js';

const CORPUS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'corpus');
const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');
const withMode = (mode: number, body: Uint8Array): Buffer => Buffer.concat([Buffer.of(mode), body]);

function respSeeds(): Buffer[] {
  const multibulk = (...args: string[]): string => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
  return [
    multibulk('PING'),
    multibulk('SET', 'key', 'value'),
    multibulk('GET', 'key') + multibulk('DEL', 'key', 'other'),
    multibulk('SET', 'k', 'v', 'EX', '10', 'NX'),
    'PING\r\n',
    'SET a b\r\nGET a\n',
    '*0\r\n*-1\r\n',
    '*1\r\n$-1\r\n',
    '*1\r\n$99999999\r\n',
    '*2147483647\r\n',
    '*1\r\n$3\r\nabc',
    `*1\r\n$4\r\nab\r\n\r\n`,
    `*2\r\n$1\r\na\r\n:1\r\n`,
  ].map(bytes);
}

function httpSeeds(): Buffer[] {
  const request = (method: string, target: string, headers: string[] = [], body = ''): string =>
    `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers.map((h) => `${h}\r\n`).join('')}` +
    `${body === '' && method === 'GET' ? '' : `Content-Length: ${Buffer.byteLength(body)}\r\n`}\r\n${body}`;
  return [
    request('GET', '/health'),
    request('PUT', '/v1/kv/key', ['Content-Type: application/json'], '{"value":"v"}'),
    request('PUT', '/v1/kv/key?ifIndex=3', [], 'raw value'),
    request('GET', '/v1/kv/key?consistency=stale&encoding=base64'),
    request('DELETE', '/v1/kv/%E0%A4'),
    request('GET', '/v1/kv?prefix=k&limit=2'),
    request('GET', '/v1/status'),
    request('POST', '/v1/members', ['Authorization: Bearer wrong'], '{"id":"n2"}'),
    request('POST', '/v1/leader/transfer', [], '{"to":"n9"}'),
    request('GET', '/explorer/state?token=x'),
    request('GET', '/v1/kv/k', ['Origin: http://evil.example']),
    request('GET', '/health') + request('GET', '/ready'),
    request('PUT', '/v1/kv/k', ['Transfer-Encoding: chunked'], '').replace('Content-Length: 0\r\n', '') + '3\r\nabc\r\n0\r\n\r\n',
    'GET /v1/kv/\xe9 HTTP/1.1\r\nHost: x\r\n\r\n',
  ].map(bytes);
}

const ids = ['n1', 'n2', 'n3'];
const entries: Entry[] = [
  { type: 'noop', index: 5, term: 2 },
  { type: 'command', index: 6, term: 2, data: bytes('set k v') },
  { type: 'config', index: 7, term: 2, membership: { voters: ids, learners: ['n4'], addresses: { n4: '127.0.0.1:7004' } } },
];
const meta: SnapshotMeta = { index: 9, term: 3, membership: { voters: ids, learners: [] } };

function peerFrameSeeds(): Buffer[] {
  const common = { from: 'n1', to: 'n2', term: 3 };
  const messages: Message[] = [
    { type: 'VoteRequest', ...common, preVote: true, lastLogIndex: 7, lastLogTerm: 2, transfer: false },
    { type: 'VoteResponse', ...common, preVote: false, granted: true },
    { type: 'AppendRequest', ...common, prevLogIndex: 4, prevLogTerm: 2, entries, leaderCommit: 4, round: 1 },
    { type: 'AppendResponse', ...common, success: true, matchIndex: 7, rejectIndex: 0, conflictIndex: 0, conflictTerm: 0, round: 1 },
    { type: 'SnapshotRequest', ...common, meta, offsetBytes: 0, totalBytes: 3, data: Uint8Array.of(1, 2, 3), done: true, round: 2 },
    { type: 'SnapshotResponse', ...common, snapshotIndex: 9, receivedBytes: 3, done: true, success: true, round: 2 },
    { type: 'TimeoutNow', ...common },
  ];
  const encoder = new FrameEncoder(new EntryBlocks());
  const frame = (list: Message[]): Uint8Array => encoder.encode(list);
  const hello = { protocolVersion: PROTOCOL_VERSION, clusterId: 'c1', from: 'n1', to: 'n2', lane: 'raft' };
  const stream = Buffer.concat([
    encodeControlFrame('HELLO', hello),
    encodeControlFrame('WELCOME', { protocolVersion: PROTOCOL_VERSION, clusterId: 'c1', id: 'n2' }),
    encodeDataFrameBytes('RAFT', new FrameEncoder(new EntryBlocks()).encode(messages.slice(0, 3))),
  ]);
  return [
    withMode(0, frame(messages)),
    withMode(0, frame([messages[2] as Message])),
    withMode(0, frame([messages[4] as Message, messages[6] as Message])),
    withMode(1, encodeEntries(entries)),
    withMode(1, encodeEntries([{ type: 'command', index: 1, term: 1, data: Uint8Array.of(0) }])),
    withMode(2, stream),
    withMode(3, stream),
    withMode(2, encodeControlFrame('HELLO', { ...hello, nonce: new Uint8Array(32) })),
    withMode(3, encodeControlFrame('REFUSE', { code: 'TRANSPORT_CLUSTER_MISMATCH', message: 'no' })),
    withMode(3, encodeControlFrame('CHALLENGE', { nonce: new Uint8Array(32), proof: new Uint8Array(32) })),
    withMode(2, encodeControlFrame('PROOF', { proof: new Uint8Array(32) })),
    withMode(3, encodeDataFrameBytes('CLIENT', Uint8Array.of(1, 2))),
    withMode(2, Buffer.of(0xff, 0xff, 0xff, 0xff, 4)),
  ];
}

/** The segments of a log written by the WAL itself from these batches. */
function walSegments(batches: readonly WalBatch[], segmentBytes: number, preallocate: boolean): Uint8Array[] {
  const disk = new FaultyFileSystem();
  const { wal } = WriteAheadLog.open(disk, '/wal', { segmentBytes, preallocate });
  for (const batch of batches) wal.append(batch);
  wal.sync();
  wal.close();
  return disk.list('/wal').map((name) => disk.readFile(`/wal/${name}`));
}

function walSeeds(): Buffer[] {
  const command = (index: number, term: number, text: string): Entry => ({ type: 'command', index, term, data: bytes(text) });
  const batches: WalBatch[] = [
    { hardState: { term: 1, votedFor: 'n1', commitIndex: 0 }, reset: null, entries: [{ type: 'noop', index: 1, term: 1 }] },
    { hardState: null, reset: null, entries: [command(2, 1, 'a'), command(3, 1, 'bc')] },
    {
      hardState: { term: 2, votedFor: null, commitIndex: 3 },
      reset: null,
      entries: [entries[2] as Entry].map((e) => ({ ...e, index: 3, term: 2 })),
    },
  ];
  const reset: WalBatch = { hardState: null, reset: { index: 10, term: 3 }, entries: [command(11, 3, 'x')] };
  const one = walSegments(batches, 1 << 16, false)[0] as Uint8Array;
  const two = walSegments(batches, 80, false);
  const torn = one.slice(0, one.byteLength - 5);
  const seeds = [
    withMode(0, one),
    withMode(1, one),
    withMode(0, torn),
    withMode(0, walSegments([...batches, reset], 1 << 16, false)[0] as Uint8Array),
    withMode(1, walSegments([reset], 1 << 16, false)[0] as Uint8Array),
    withMode(5, walSegments(batches.slice(0, 1), 512, true)[0] as Uint8Array),
  ];
  if (two.length >= 2) {
    const first = two[0] as Uint8Array;
    const joined = Buffer.concat([first, two[1] as Uint8Array]);
    seeds.push(Buffer.concat([Buffer.of(2, Math.floor((first.byteLength * 256) / joined.byteLength) + 1), joined]));
  }
  return seeds;
}

function snapshotSeeds(): Buffer[] {
  const snapshotFile = (m: SnapshotMeta, data: Uint8Array): Uint8Array => {
    const disk = new FaultyFileSystem();
    new SnapshotStore(disk, '/snap').save(m, data);
    return disk.readFile(`/snap/${disk.list('/snap').find((name) => name.endsWith('.snap')) as string}`);
  };
  const created = new Date(Date.UTC(2026, 0, 2));
  const cluster = '0b3c2c1e-8f00-4a4b-9a6e-2c1d3e4f5a6b';
  const snapshot = snapshotFile(meta, bytes('snapshot data'));
  return [
    withMode(0, snapshot),
    withMode(2, snapshot),
    withMode(0, snapshotFile({ ...meta, membership: { voters: ['n1'], learners: ['n2'], addresses: { n2: 'h:1' } } }, new Uint8Array(0))),
    withMode(0, snapshot.subarray(0, snapshot.byteLength - 3)),
    withMode(1, encodeBackup(meta, bytes('backup data'), cluster, created)),
    withMode(3, encodeBackup(meta, new Uint8Array(0), cluster, created)),
    withMode(1, bytes('RKVBACK1')),
  ];
}

function scenarioSeeds(): Buffer[] {
  const library = fs
    .readdirSync(path.join(ROOT, 'scenarios'))
    .filter((name) => name.endsWith('.yaml'))
    .sort()
    .map((name) => fs.readFileSync(path.join(ROOT, 'scenarios', name)));
  return [
    ...library,
    bytes('name: x\nnodes: 3\nduration: 10s\nworkload: { type: counter }\nfaults: []\nchecks: [linearizable]\n'),
    bytes('a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n'),
    bytes('name: [[[[[[[[[[]]]]]]]]]]\n'),
  ];
}

const SEEDS: Record<string, () => Buffer[]> = {
  resp: respSeeds,
  http: httpSeeds,
  'peer-frames': peerFrameSeeds,
  wal: walSeeds,
  snapshot: snapshotSeeds,
  scenario: scenarioSeeds,
};

for (const [target, make] of Object.entries(SEEDS)) {
  const dir = path.join(CORPUS, target);
  fs.mkdirSync(dir, { recursive: true });
  for (const name of fs.readdirSync(dir)) if (name.startsWith('seed-')) fs.rmSync(path.join(dir, name));
  const seeds = make();
  for (const [i, seed] of seeds.entries()) fs.writeFileSync(path.join(dir, `seed-${String(i).padStart(2, '0')}`), seed);
  console.log(`${target}: ${seeds.length} seeds`);
}
