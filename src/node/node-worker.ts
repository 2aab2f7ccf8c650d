import * as Comlink from 'comlink';
import type { Endpoint } from 'comlink';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { MessagePort } from 'node:worker_threads';
import { KvStateMachine } from '../kv/kv-state-machine.js';
import { validateClock } from '../protocol/clock.js';
import { isErrorCode } from '../protocol/errors.js';
import { EXPLORER_FRAME_MS, type LinkTraffic } from '../protocol/explorer.js';
import {
  NODE_METRICS_SAMPLE_MS,
  PROTOCOL_VERSION,
  type LinkCounts,
  type NodeControl,
  type NodeEvent,
  type NodeLogKind,
  type NodeLogLevel,
  type NodeStartup,
  type WorkerReport,
} from '../protocol/node.js';
import { SeededRandom } from '../raft/random.js';
import type { StateMachine } from '../raft/state-machine.js';
import type { Membership, Message, NodeId } from '../raft/types.js';
import { DiskStorage } from '../storage/disk-storage.js';
import { StorageError } from '../storage/errors.js';
import { FaultInjectingFileSystem } from '../storage/disk-faults.js';
import { NodeFileSystem, type FileSystem, type StorageFile } from '../storage/file-system.js';
import { walWrittenBytes } from '../storage/wal.js';
import { serveClientPort } from '../transport/client-port.js';
import { EntryBlocks } from '../transport/codec.js';
import { portEndpoint } from '../transport/comlink-endpoint.js';
import type { FramePort, Link } from '../transport/link.js';
import { PeerLink } from '../transport/peer-link.js';
import { TcpTransport } from '../transport/tcp/tcp-transport.js';
import { parseHostPort } from '../util/address.js';
import { loadPeerSecurity } from '../transport/peer-security.js';
import { NodeTicker, skewedClientHandler } from './node-clock.js';
import { DurationBuckets, RaftNode, WORKER_RUNTIME, type NodeRuntime } from './raft-node.js';

/** At most one "unreachable" line per peer this often: a full queue drops messages every turn. */
const UNREACHABLE_LOG_INTERVAL_MS = 1_000;

/** Heartbeat rounds remembered per peer for the explorer's round-trip times. */
const RTT_ROUNDS_KEPT = 64;

/** Blocks the thread for `ms` (the slow and hang faults) without burning a core; worker.terminate() interrupts it. */
const BLOCKER = new Int32Array(new SharedArrayBuffer(4));
function block(ms: number): void {
  Atomics.wait(BLOCKER, 0, 0, ms);
}

/**
 * The file system with every sync of a file in `walDir` timed into `fsync`: the writes the file held until the
 * sync (bufferUnsynced) and the fdatasync, as a record waits for them. Snapshot files are not timed here.
 */
function timingWalSyncs(files: FileSystem, walDir: string, fsync: DurationBuckets): FileSystem {
  const timed = (file: StorageFile): StorageFile => ({
    path: file.path,
    write: (data, position) => file.write(data, position),
    read: (position, length) => file.read(position, length),
    size: () => file.size(),
    sync: () => {
      const started = performance.now();
      file.sync();
      fsync.observe((performance.now() - started) / 1000);
    },
    syncAsync: () => {
      const started = performance.now();
      return file.syncAsync().then(() => fsync.observe((performance.now() - started) / 1000));
    },
    truncate: (length) => file.truncate(length),
    close: () => file.close(),
  });
  return {
    open: (file, options) => (path.dirname(file) === walDir ? timed(files.open(file, options)) : files.open(file, options)),
    exists: (file) => files.exists(file),
    list: (dir) => files.list(dir),
    mkdirp: (dir) => files.mkdirp(dir),
    rename: (from, to) => files.rename(from, to),
    remove: (file) => files.remove(file),
    syncDir: (dir) => files.syncDir(dir),
    readFile: (file) => files.readFile(file),
    freeBytes: (dir) => files.freeBytes(dir),
  };
}

/** The bytes the files of `dir` take (0 if it is gone): a few stat calls, once per metrics sample. */
function folderBytes(dir: string): number {
  let bytes = 0;
  try {
    for (const name of fs.readdirSync(dir)) bytes += fs.statSync(path.join(dir, name), { throwIfNoEntry: false })?.size ?? 0;
  } catch {
    return 0;
  }
  return bytes;
}

/**
 * What each link sent since the reader's previous look, for one reader (the explorer's frames, the metrics
 * samples): a link that was replaced (the peer reconnected) counts from zero again.
 */
class LinkCounters {
  private readonly before = new Map<NodeId, { link: Link } & LinkCounts>();

  take(links: ReadonlyMap<NodeId, Link>, visit: (peer: NodeId, sent: LinkCounts) => void): void {
    for (const [peer, link] of links) {
      const now = { link, messages: link.stats.messagesSent, bytes: link.stats.bytesSent, dropped: link.stats.messagesDropped };
      const prior = this.before.get(peer);
      const base = prior === undefined || prior.link !== link ? { messages: 0, bytes: 0, dropped: 0 } : prior;
      visit(peer, { messages: now.messages - base.messages, bytes: now.bytes - base.bytes, dropped: now.dropped - base.dropped });
      this.before.set(peer, now);
    }
  }

  clear(): void {
    this.before.clear();
  }
}

/** How a node talks to whoever runs it: its reports, its control plane, and (a worker thread) its router's port. */
export interface NodeIo {
  report(message: WorkerReport): void;
  /** The comlink endpoint NodeControl is exposed on. */
  readonly control: Endpoint;
  /** The router's client port (a worker thread); clients of a TCP node also come over its client lanes. */
  readonly client: FramePort | null;
}

/** Runs one Raft node inside a worker thread, its ports in its start-up message. */
export function runNodeWorker(startup: NodeStartup, parent: MessagePort, stateMachine: StateMachine = new KvStateMachine()): void {
  const ports = startup.ports;
  if (ports === null) throw new Error('a node worker thread needs its ports in the start-up message');
  void runNode(
    startup,
    { report: (message) => parent.postMessage(message), control: portEndpoint(ports.control), client: ports.client },
    stateMachine,
  );
}

/**
 * Runs one Raft node (in a worker thread or a child process): opens its storage, connects its peer links
 * (MessagePorts, or TCP), exposes its control plane, and reports READY. Any error at start is reported with
 * its code before the node gives up.
 */
export async function runNode(startup: NodeStartup, io: NodeIo, stateMachine: StateMachine = new KvStateMachine()): Promise<void> {
  const report = (message: WorkerReport): void => io.report(message);
  // A worker writes nothing to the console: the supervisor logs its lines with the node's id and term, and
  // holds back a repeated kind (a peer sending garbage on every message) past its limit.
  const logLine = (level: NodeLogLevel, kind: NodeLogKind, message: string): void => report({ type: 'log', level, kind, message });
  if (startup.protocolVersion !== PROTOCOL_VERSION) {
    report({
      type: 'start-failed',
      code: 'PROTOCOL_VERSION_MISMATCH',
      message: `supervisor speaks version ${startup.protocolVersion}, this worker ${PROTOCOL_VERSION}`,
    });
    return;
  }
  let storage: DiskStorage;
  const dataDir = path.resolve(startup.dataDir);
  // The WAL folder as DiskStorage lays it out (src/storage/disk-storage.ts).
  const walDir = path.join(dataDir, 'wal');
  const walFsync = new DurationBuckets();
  // The disk's faults (setDiskFaults): with none set, every call passes straight through.
  const disk = new FaultInjectingFileSystem(new NodeFileSystem({ durable: startup.durable, bufferUnsynced: startup.bufferUnsynced }));
  disk.set(startup.disk);
  let rots = 0;
  try {
    storage = DiskStorage.open(timingWalSyncs(disk, walDir, walFsync), dataDir, {
      initialMembership: { voters: startup.voters, learners: [] },
      log: (message) => logLine('warn', 'storage', message),
    });
  } catch (error) {
    // Every StorageError code is registered (test/unit/error-registry.test.ts); the check keeps the type honest.
    const code = error instanceof StorageError && isErrorCode(error.code) ? error.code : 'NODE_START_FAILED';
    report({ type: 'start-failed', code, message: (error as Error).message });
    return;
  }
  // The peer links: MessagePorts (connect, below) or the TCP transport's (started below, before READY).
  const portLinks = new Map<NodeId, PeerLink>();
  let links: ReadonlyMap<NodeId, Link> = portLinks;
  // A turn's AppendRequests to followers at the same position carry the same entries, encoded once for all.
  const blocks = new EntryBlocks();
  // The explorer's round-trip times: when a heartbeat round's first AppendRequest left for each peer, and the
  // samples of this frame (see LinkTraffic.rttMs). Bounded: a peer that never answers keeps RTT_ROUNDS_KEPT rounds.
  const roundSentAt = new Map<NodeId, Map<number, number>>();
  const rtt = new Map<NodeId, { sum: number; count: number }>();
  // Set while explorer frames are on (startup.explorerFrames, then setExplorerFrames): RTTs are timed only then.
  let framer: ReturnType<typeof setInterval> | undefined;
  const noteSent = (message: Message): void => {
    if (message.type !== 'AppendRequest') return;
    let rounds = roundSentAt.get(message.to);
    if (rounds === undefined) roundSentAt.set(message.to, (rounds = new Map()));
    if (rounds.has(message.round)) return;
    rounds.set(message.round, performance.now());
    if (rounds.size > RTT_ROUNDS_KEPT) rounds.delete(rounds.keys().next().value as number);
  };
  const noteReceived = (messages: readonly Message[]): void => {
    for (const message of messages) {
      if (message.type !== 'AppendResponse') continue;
      const rounds = roundSentAt.get(message.from);
      const sentAt = rounds?.get(message.round);
      if (rounds === undefined || sentAt === undefined) continue;
      rounds.delete(message.round);
      const sample = rtt.get(message.from) ?? { sum: 0, count: 0 };
      sample.sum += performance.now() - sentAt;
      sample.count++;
      rtt.set(message.from, sample);
    }
  };
  const host = {
    send(message: Message): void {
      if (framer !== undefined) noteSent(message);
      links.get(message.to)?.send(message);
    },
    flush(): void {
      for (const link of links.values()) link.flush();
      blocks.clear();
    },
    emit(event: NodeEvent): void {
      if (event.type === 'membership') learnAddresses(event.membership);
      if (event.type === 'disk') {
        const free = `${event.freeBytes ?? 0} bytes free`;
        if (event.full) logLine('warn', 'storage', `disk full (${free}, under diskFreeBytesMin): refusing writes until it has twice that`);
        else logLine('info', 'storage', `disk has room again (${free}): taking writes`);
      }
      report({ type: 'event', event });
    },
  };
  // Over TCP, the configuration in the log names every member's peer address: a member added later is dialled
  // from it. A member removed is not let go: until the change that removes it commits, it may still lead or
  // vote (a removed leader replicates that very change, thesis 4.2.2), and its peers must go on answering it;
  // past that it sends nothing that matters (PreVote and CheckQuorum keep it from disrupting anyone).
  const knownPeers: Record<NodeId, string> = { ...startup.tcp?.peers };
  const learnAddresses = (membership: Membership): void => {
    if (transport === null) return;
    let changed = false;
    for (const id of [...membership.voters, ...membership.learners]) {
      const address = membership.addresses?.[id];
      if (id === startup.id || address === undefined || knownPeers[id] === address) continue;
      knownPeers[id] = address;
      changed = true;
    }
    if (changed) transport.setPeers(knownPeers);
  };
  // One seeded stream for the core, one forked for each peer link's fault filter: the supervisor's seed names both.
  const random = new SeededRandom(startup.seed);
  // The slow fault: every turn starts late, the thread blocked meanwhile, as under a slow CPU or a stalled disk.
  let slowMs = 0;
  const runtime: NodeRuntime = {
    schedule: (task) =>
      void setImmediate(() => {
        if (slowMs > 0) block(slowMs);
        task();
      }),
    sync: WORKER_RUNTIME.sync,
  };
  const node = new RaftNode(
    { core: { ...startup.core, id: startup.id, random: random.fork() }, limits: startup.limits },
    storage,
    stateMachine,
    host,
    runtime,
  );
  node.setClientUrl(startup.clientUrl);
  // The node's clock (setClock changes it): the ticker's rate, and the skew clients' proposals are stamped with.
  let clock = validateClock(startup.clock);
  const clients = skewedClientHandler(node, () => clock);
  const connect = (peer: NodeId, port: MessagePort): void => {
    portLinks.get(peer)?.close();
    const link = new PeerLink(
      peer,
      port,
      (messages) => {
        if (framer !== undefined) noteReceived(messages);
        node.receive(messages);
      },
      (error) => {
        logLine('warn', 'bad-frame', `TRANSPORT_BAD_FRAME from ${peer}: ${error.message}`);
      },
      blocks,
      random.fork(),
    );
    const faults = startup.faults[peer];
    if (faults !== undefined) link.setFaults(faults);
    portLinks.set(peer, link);
  };
  for (const [peer, port] of Object.entries(startup.ports?.peers ?? {})) connect(peer, port);
  let transport: TcpTransport | null = null;
  // When each peer was last said to be unreachable: a full queue drops many messages a turn, one line says it.
  const unreachableSaidAt = new Map<NodeId, number>();
  if (startup.tcp !== null) {
    const tcp = startup.tcp;
    try {
      transport = await TcpTransport.start({
        id: startup.id,
        clusterId: tcp.clusterId,
        listen: parseHostPort(tcp.listen),
        peers: tcp.peers,
        security: loadPeerSecurity(tcp.security, startup.id),
        deliver: (messages) => {
          if (framer !== undefined) noteReceived(messages);
          node.receive(messages);
        },
        log: (level, kind, message) => logLine(level, 'peer', `${kind}: ${message}`),
        random: random.fork(),
        blocks,
        onClientChannel: (port) => serveClientPort(port, clients),
        // A peer's queue overflowed or its connection broke: what was queued for it was dropped (the core
        // resends from its progress). Said as a peer line, which the supervisor limits to a few a second.
        onUnreachable: (peer) => {
          const now = performance.now();
          if (now - (unreachableSaidAt.get(peer) ?? -Infinity) < UNREACHABLE_LOG_INTERVAL_MS) return;
          unreachableSaidAt.set(peer, now);
          logLine('warn', 'peer', `${peer} unreachable: messages to it dropped (its queue was full or its connection broke)`);
        },
      });
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      report({
        type: 'start-failed',
        code: typeof code === 'string' && isErrorCode(code) ? code : 'NODE_START_FAILED',
        message: `peer listener ${tcp.listen}: ${(error as Error).message}`,
      });
      node.stop();
      return;
    }
    links = transport.links;
    for (const [peer, faults] of Object.entries(startup.faults)) transport.links.get(peer)?.setFaults(faults);
  }

  const control: NodeControl = {
    status: () => ({ ...node.status(), clock }),
    propose: (commands) => node.propose(commands),
    read: (query) => node.read(query),
    readStale: (query) => node.readStale(query),
    transferLeadership: (to) => node.transferLeadership(to),
    changeMembership: (change) => node.proposeChange(change),
    forceElection: () => node.forceElection(),
    pause: () => node.pause(),
    resume: () => node.resume(),
    setLinkFaults: (peer, faults) => links.get(peer)?.setFaults(faults),
    setClock: (next) => {
      clock = validateClock(next);
      ticker.setClock(clock);
    },
    setDiskFaults: (faults) => ({ faults: disk.set(faults), injected: { ...disk.injected } }),
    rotDisk: (rot) => {
      // Seeded from the node's seed and the count of rots so far: a run replays.
      const random = new SeededRandom(startup.seed + ++rots);
      return rot.target === 'wal'
        ? disk.rot(walDir, '.wal', rot.kind, random, walWrittenBytes)
        : disk.rot(path.join(dataDir, 'snap'), '.snap', rot.kind, random);
    },
    setClientUrl: (url) => node.setClientUrl(url),
    connectPeer: (peer, port) => connect(peer, port),
    snapshotNow: () => node.snapshotNow(),
    exportSnapshot: async () => {
      const snapshot = await node.exportSnapshot();
      return Comlink.transfer(snapshot, [snapshot.data.buffer]);
    },
    crash: (reason) => {
      setImmediate(() => {
        throw new Error(reason);
      });
    },
    hang: () => {
      // After this call has answered: from then on nothing runs here, the control plane included.
      setImmediate(() => {
        for (;;) block(60_000);
      });
    },
    slow: (ms) => {
      slowMs = ms;
    },
    flood: (messages) => {
      // Stale AppendResponses (term 0) from a peer: each costs a mailbox slot and a step, and changes nothing.
      const from = links.keys().next().value ?? startup.id;
      const stale: Message = {
        type: 'AppendResponse',
        from,
        to: startup.id,
        term: 0,
        success: false,
        matchIndex: 0,
        rejectIndex: 0,
        conflictIndex: 0,
        conflictTerm: 0,
        round: 0,
      };
      node.receive(new Array<Message>(messages).fill(stale));
    },
    setExplorerFrames: (on, frameMs) => {
      if (on) {
        clearInterval(framer);
        framer = setInterval(reportFrame, frameMs);
      } else if (framer !== undefined) {
        clearInterval(framer);
        framer = undefined;
        roundSentAt.clear();
        rtt.clear();
        frameLinks.clear();
        lastState = '';
      }
    },
    shutdown: () => {
      ticker.stop();
      clearInterval(framer);
      clearInterval(sampler);
      node.stop();
      for (const link of links.values()) link.close();
      void transport?.close();
    },
  };
  Comlink.expose(control, io.control);
  if (io.client !== null) serveClientPort(io.client, clients);
  // The explorer's frame, at most one per EXPLORER_FRAME_MS: the node's numbers and each link's traffic since
  // the last frame, skipped when nothing changed.
  const frameLinks = new LinkCounters();
  let lastState = '';
  const reportFrame = (): void => {
    const traffic: Record<NodeId, LinkTraffic> = {};
    let flowed = false;
    frameLinks.take(links, (peer, sent) => {
      const samples = rtt.get(peer);
      const rttMs = samples === undefined || samples.count === 0 ? null : samples.sum / samples.count;
      traffic[peer] = { ...sent, rttMs };
      if (sent.messages > 0 || sent.dropped > 0) flowed = true;
    });
    rtt.clear();
    const state = node.frameState();
    const key = JSON.stringify(state);
    if (!flowed && key === lastState) return;
    lastState = key;
    report({ type: 'frame', state, links: traffic });
  };
  // The metrics sample, every NODE_METRICS_SAMPLE_MS whatever the explorer does: one message a second carries
  // what the node counted and timed meanwhile (src/protocol/node.ts NodeMetricsSample).
  const sampleLinks = new LinkCounters();
  const reportMetrics = (): void => {
    const sent: Record<NodeId, LinkCounts> = {};
    sampleLinks.take(links, (peer, counts) => (sent[peer] = counts));
    const sample = node.takeMetrics();
    const fsyncs = walFsync.take();
    const durations = fsyncs === null ? sample.durations : { ...sample.durations, wal_fsync: fsyncs };
    report({ type: 'metrics', sample: { ...sample, durations, walBytes: folderBytes(walDir), links: sent } });
  };
  const ticker = new NodeTicker(startup.tickMs, () => node.tick(), clock);
  const sampler = setInterval(reportMetrics, NODE_METRICS_SAMPLE_MS);
  if (startup.explorerFrames) control.setExplorerFrames(true, EXPLORER_FRAME_MS);
  report({ type: 'ready', peerPort: transport?.port ?? null });
  // A scrape right after start finds every node's gauges.
  reportMetrics();
}
