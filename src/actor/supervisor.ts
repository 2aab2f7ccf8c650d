import * as Comlink from 'comlink';
import { randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import * as path from 'node:path';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import {
  PROTOCOL_VERSION,
  type LinkFaults,
  type NodeControl,
  type NodeMetricsSample,
  type NodeRefusal,
  type NodeSettings,
  type NodeStartup,
  type NodeStatus,
  type PeerSecuritySettings,
  type ProposeOutcome,
  type ReadOutcome,
  type WorkerReport,
} from '../protocol/node.js';
import {
  EXPLORER_FRAME_MS,
  type LinkFaultEntry,
  type LinkTraffic,
  type NodeFrameState,
  type SupervisionState,
} from '../protocol/explorer.js';
import type { NodeEvent } from '../protocol/node.js';
import { TRUE_CLOCK, validateClock, type NodeClock } from '../protocol/clock.js';
import { DISK_FAULTS_NONE, type DiskFaults, type DiskFaultsStatus, type DiskRot, type DiskRotReport } from '../protocol/disk-faults.js';
import {
  checkNodeIdentity,
  DataDirLock,
  openClusterIdentity,
  recordedMembers,
  recordMembers,
  type ClusterIdentity,
} from '../storage/data-dir.js';
import { SeededRandom } from '../raft/random.js';
import type { Membership, MembershipChange, NodeId, Role, Snapshot } from '../raft/types.js';
import { ClientPortClient } from '../transport/client-port.js';
import { NO_FAULTS, validateFaults } from '../transport/link-faults.js';
import { dialClientLane } from '../transport/tcp/client-lane.js';
import { loadPeerSecurity } from '../transport/peer-security.js';
import { formatHostPort } from '../util/address.js';
import { delay, withTimeout } from '../util/async.js';
import { RepeatLimiter, type LogFn, type LogLevel, type RepeatLimit } from '../util/log.js';
import { spawnProcess, spawnThread, type HostedNode, type WorkerEntry } from './node-host.js';
import { RestartPolicy, type RestartPolicyOptions } from './restart-policy.js';

export type { WorkerEntry } from './node-host.js';

/** `remote`: a member this process does not run (raftkv node); the router reaches it over TCP. */
export type NodeState = 'starting' | 'running' | 'paused' | 'killed' | 'restarting' | 'failed' | 'stopped' | 'remote';

/**
 * This process as one member of a cluster of processes or hosts (`raftkv node`): it runs node `local` as a
 * worker thread whose peers are TCP; every other member runs elsewhere.
 */
export interface MemberOptions {
  readonly local: NodeId;
  readonly clusterId: string;
  /** host:port the local node's peer listener binds. */
  readonly peerListen: string;
  /** Every member's peer address (the local one included), as --peers gives them. */
  readonly addresses: Readonly<Record<NodeId, string>>;
  /** A member added to a running cluster: it starts with no configuration and learns it from the leader. */
  readonly join: boolean;
}

export interface SupervisorOptions extends NodeSettings {
  readonly nodes: number;
  /**
   * Seeds every node start's randomness (election timeouts, link-fault draws); null draws one. Printed by the
   * chaos runner, so a run's faults can be replayed as far as thread timing allows.
   */
  readonly seed: number | null;
  /** Parent folder; each node gets `<dataDir>/<id>`. */
  readonly dataDir: string;
  readonly restart: Partial<RestartPolicyOptions>;
  /**
   * The worker each node runs: by default workers/raft-node.worker (the KV store). Tests and benchmarks name
   * their own entry (a bare counter state machine, a crash at start) with extra workerData per node.
   */
  readonly worker: WorkerEntry | null;
  /**
   * Where each node runs: a worker thread of this process (its peers over MessagePorts), or a child process of
   * its own with its peers over TCP on loopback (`raftkv cluster --processes`).
   */
  readonly hosting: 'threads' | 'processes';
  /** Processes: how the nodes authenticate each other (plaintext is allowed on loopback). */
  readonly peerSecurity: PeerSecuritySettings;
  /** Set for `raftkv node`: `nodes` is then the member count, and only `member.local` runs here. */
  readonly member: MemberOptions | null;
  /** How long a node may take to report READY. */
  readonly startTimeoutMs: number;
  /** The watchdog asks every running node for its status this often... */
  readonly watchdogIntervalMs: number;
  /** ...and a node that has not answered within this is hung: terminated and restarted like a crashed one. */
  readonly watchdogTimeoutMs: number;
  /**
   * Where the supervisor's lines and its workers' go, each with its level, node and term (src/util/log.ts); a
   * plain `(line) => void` works too (the tests' arrays, the chaos runner).
   */
  readonly log: LogFn;
}

/**
 * How many lines of one kind a node may write per window; the rest are counted into one summary line
 * (RepeatLimiter in src/util/log.ts). A peer sending garbage fails on every message, a crash loop restarts
 * as often as its policy allows, a failing disk fails every write: a few lines say so, not thousands.
 */
export const LOG_REPEAT_LIMITS = {
  badFrame: { lines: 5, windowMs: 1_000 },
  storage: { lines: 5, windowMs: 1_000 },
  peer: { lines: 5, windowMs: 1_000 },
  restart: { lines: 3, windowMs: 10_000 },
} as const satisfies Record<string, RepeatLimit>;

export const SUPERVISOR_DEFAULTS: Omit<SupervisorOptions, 'nodes' | 'dataDir'> = {
  durable: true,
  // Every kill (admin API, CLI, chaos, tests) is a crash: a node holds its unsynced writes in the worker, so
  // worker.terminate drops them, where the page cache would have kept them. A clean stop syncs first.
  bufferUnsynced: true,
  explorerFrames: true,
  tickMs: 10,
  // Elections after 150-300 ms of silence, heartbeats every 30 ms.
  core: { electionTicks: 15, heartbeatTicks: 3 },
  limits: {},
  restart: {},
  worker: null,
  hosting: 'threads',
  peerSecurity: { mode: 'plaintext' },
  member: null,
  seed: null,
  startTimeoutMs: 30_000,
  watchdogIntervalMs: 1_000,
  watchdogTimeoutMs: 5_000,
  log: () => {},
};

/** The most nodes a cluster may have. */
export const CLUSTER_NODES_MAX = 9;

/** Member ids: what `raftkv node --id` accepts. */
const MEMBER_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;

/** One member as GET /v1/members shows it. */
export interface MemberView {
  readonly id: NodeId;
  readonly role: 'voter' | 'learner';
  /** Its peer address (TCP clusters), or null (a thread cluster). */
  readonly address: string | null;
  /** How far its log matches the leader's (the leader's own: its last index); null without a leader's view. */
  readonly matchIndex: number | null;
  /** Its state in this supervisor; null for a member this process does not know. */
  readonly state: NodeState | null;
}

export interface MembersView {
  readonly leader: NodeId | null;
  readonly term: number;
  /** The leader's last log index: a learner whose matchIndex is near it has caught up. */
  readonly lastIndex: number;
  readonly members: readonly MemberView[];
}

export interface ClusterNodeStatus {
  readonly id: NodeId;
  readonly status: NodeState;
  readonly raft: NodeStatus | null;
}

export interface SupervisorEvents {
  leader: [leader: NodeId | null, term: number];
  'node-state': [id: NodeId, state: NodeState, reason: string];
  /** A node's explorer frame (src/protocol/explorer.ts). */
  frame: [id: NodeId, state: NodeFrameState, links: Readonly<Record<NodeId, LinkTraffic>>];
  /** Every event a node reports (role changes, votes, snapshots). */
  'node-event': [event: NodeEvent];
  /** A node's metrics sample, about once a second (src/protocol/node.ts). */
  metrics: [id: NodeId, sample: NodeMetricsSample];
  /** The link faults in force changed: the whole list. */
  links: [faults: readonly LinkFaultEntry[]];
}

interface ManagedNode {
  readonly id: NodeId;
  state: NodeState;
  host: HostedNode | null;
  control: Comlink.Remote<NodeControl> | null;
  client: ClientPortClient | null;
  /** Processes: the node's peer address on loopback, kept across restarts (null for threads). */
  address: string | null;
  /**
   * A member the cluster was started with: with an empty log it starts with the initial voters. A member added
   * later starts with none and learns the configuration from the leader.
   */
  readonly founder: boolean;
  /** Set before a deliberate terminate, so the exit is not taken for a crash. */
  expectingExit: boolean;
  /** The watchdog's question to this node is still unanswered. */
  watchdogAsking: boolean;
  role: Role;
  term: number;
  readonly policy: RestartPolicy;
  restartTimer: NodeJS.Timeout | null;
  /** Why the node is in its state (the last setState's reason). */
  reason: string;
  /** While restarting: the backoff before the next start. */
  backoffMs: number | null;
}

/** An actor fault asked of a node that is not running (killed, restarting, failed, stopped). */
export class NodeNotRunningError extends Error {
  constructor(
    readonly id: NodeId,
    readonly state: NodeState,
  ) {
    super(`${id} is ${state}: only a running or paused node can take this fault`);
    this.name = 'NodeNotRunningError';
  }
}

/**
 * Spawns each Raft node as a worker-thread actor, wires a MessageChannel between every pair, and supervises
 * them (Erlang/OTP one-for-one): a node that crashes by itself is restarted with exponential backoff, at
 * most `maxRestarts` times in `periodMs`, then marked failed. Kill, restart, pause and link faults are the
 * fault-injection verbs. Every event is logged with its reason.
 */
export class Supervisor extends EventEmitter<SupervisorEvents> {
  readonly options: SupervisorOptions;
  /** The run's seed (the option, or one drawn at construction). */
  readonly seed: number;
  /** One seed per node start, drawn in order from `seed`. */
  private readonly seeds: SeededRandom;
  /** The members, in the order they joined (n1..nN at first). */
  get ids(): readonly NodeId[] {
    return this.idList;
  }
  private idList: NodeId[];
  private readonly nodes = new Map<NodeId, ManagedNode>();
  /** "from>to" -> faults on that directed link. */
  private readonly faults = new Map<string, LinkFaults>();
  /** Each node's clock, when not TRUE_CLOCK (setClock): a restart keeps it, as it keeps link faults. */
  private readonly clocks = new Map<NodeId, NodeClock>();
  /** Each node's disk faults, when any (setDiskFaults): a restart keeps the stall, the full disk and lost renames. */
  private readonly diskFaults = new Map<NodeId, DiskFaults>();
  private leader: { id: NodeId; term: number } | null = null;
  private stopping = false;
  private watchdog: NodeJS.Timeout | null = null;
  private respawns: Promise<void> = Promise.resolve();
  /** Whether nodes report explorer frames: the option at first, then setExplorerFrames. */
  private explorerFrames: boolean;
  /** Repeated lines held back, per kind, keyed by node id (LOG_REPEAT_LIMITS). */
  private readonly repeats: Readonly<Record<keyof typeof LOG_REPEAT_LIMITS, RepeatLimiter>>;

  constructor(options: Partial<SupervisorOptions> & Pick<SupervisorOptions, 'nodes' | 'dataDir'>) {
    super();
    this.options = { ...SUPERVISOR_DEFAULTS, ...options };
    this.seed = this.options.seed ?? randomInt(0, 2 ** 47);
    this.explorerFrames = this.options.explorerFrames;
    const write: LogFn = (message, context) => this.options.log(message, context);
    this.repeats = {
      badFrame: new RepeatLimiter(LOG_REPEAT_LIMITS.badFrame, write),
      storage: new RepeatLimiter(LOG_REPEAT_LIMITS.storage, write),
      peer: new RepeatLimiter(LOG_REPEAT_LIMITS.peer, write),
      restart: new RepeatLimiter(LOG_REPEAT_LIMITS.restart, write),
    };
    this.seeds = new SeededRandom(this.seed);
    const count = this.options.nodes;
    if (!Number.isInteger(count) || count < 1 || count > CLUSTER_NODES_MAX) {
      throw new RangeError(`nodes must be an integer from 1 to ${CLUSTER_NODES_MAX}, got ${count}`);
    }
    const member = this.options.member;
    const founders = member === null ? Array.from({ length: count }, (_, i) => `n${i + 1}`) : Object.keys(member.addresses);
    if (member !== null && !founders.includes(member.local))
      throw new RangeError(`${member.local} is not among the members ${founders.join(', ')}`);
    this.initialVoters = founders;
    // A cluster this supervisor runs starts its members as the last membership change left them (data-dir.ts).
    this.idList = (member === null ? recordedMembers(this.options.dataDir) : null) ?? [...founders];
    for (const id of this.idList) {
      this.nodes.set(id, this.managed(id, member?.addresses[id] ?? null, member?.join !== true && founders.includes(id)));
    }
  }

  /** The voters a node that starts with an empty log begins with: the cluster as it was first started. */
  private readonly initialVoters: readonly NodeId[];

  /** After a membership change: the members a later start of this cluster runs (not for raftkv node). */
  private recordMembers(): void {
    if (this.options.member === null) recordMembers(this.options.dataDir, this.idList);
  }

  private managed(id: NodeId, address: string | null, founder: boolean): ManagedNode {
    return {
      id,
      state: 'stopped',
      host: null,
      control: null,
      client: null,
      address,
      founder,
      expectingExit: false,
      watchdogAsking: false,
      role: 'follower',
      term: 0,
      policy: new RestartPolicy(this.options.restart),
      restartTimer: null,
      reason: 'not started',
      backoffMs: null,
    };
  }

  /**
   * The cluster's identity in its data folder (made by the first start), and whether this start resumed
   * existing data: set by start().
   */
  identity: ClusterIdentity | null = null;
  resumed = false;
  /** One lock per node folder, held from start() to stop(). */
  private locks: DataDirLock[] = [];

  /**
   * Takes each node folder's lock and checks whose data the folder holds (src/storage/data-dir.ts): a folder
   * in use by another process, of another cluster or of a newer raftkv is refused with its StorageError.
   */
  private claimDataDir(): void {
    const member = this.options.member;
    const { identity, resumed } = openClusterIdentity(this.options.dataDir, this.initialVoters.length, member?.clusterId ?? null);
    try {
      for (const id of this.localIds()) {
        const dir = path.join(this.options.dataDir, id);
        this.locks.push(DataDirLock.acquire(dir));
        checkNodeIdentity(dir, id, identity);
      }
    } catch (error) {
      this.releaseDataDir();
      throw error;
    }
    this.identity = identity;
    this.resumed = resumed;
  }

  private releaseDataDir(): void {
    for (const lock of this.locks) lock.release();
    this.locks = [];
  }

  /** Starts every node at once over a full mesh of channels made up front. */
  async start(): Promise<void> {
    if (this.locks.length === 0) this.claimDataDir();
    if (this.options.member !== null) return this.startMember(this.options.member);
    if (this.options.hosting === 'processes') await this.allocateAddresses();
    const mesh = new Map<NodeId, Record<NodeId, MessagePort>>(this.ids.map((id) => [id, {}]));
    for (const [i, a] of this.ids.entries()) {
      for (const b of this.ids.slice(i + 1)) {
        const channel = new MessageChannel();
        (mesh.get(a) as Record<NodeId, MessagePort>)[b] = channel.port1;
        (mesh.get(b) as Record<NodeId, MessagePort>)[a] = channel.port2;
      }
    }
    await Promise.all(this.ids.map((id) => this.spawn(this.node(id), mesh.get(id) ?? {})));
    this.watchdog ??= setInterval(() => this.watch(), this.options.watchdogIntervalMs);
    this.watchdog.unref();
  }

  /** raftkv node: the local node over TCP, and a client lane to every other member. */
  private async startMember(member: MemberOptions): Promise<void> {
    for (const node of this.nodes.values()) {
      if (node.id === member.local) continue;
      node.client = this.dialClient(node);
      this.setState(node, 'remote', `runs at ${node.address ?? '?'}`);
    }
    await this.spawn(this.node(member.local));
    this.watchdog ??= setInterval(() => this.watch(), this.options.watchdogIntervalMs);
    this.watchdog.unref();
  }

  /** The nodes this process runs: all of them, or (raftkv node) one. */
  private localIds(): readonly NodeId[] {
    const member = this.options.member;
    return member === null ? this.ids : [member.local];
  }

  /** A node that does not answer its status within watchdogTimeoutMs is hung: end it and restart it by policy. */
  private watch(): void {
    for (const node of this.nodes.values()) {
      const { control, host } = node;
      if (control === null || host === null || node.watchdogAsking) continue;
      if (node.state !== 'running' && node.state !== 'paused') continue;
      node.watchdogAsking = true;
      const timeoutMs = this.options.watchdogTimeoutMs;
      withTimeout(control.status(), timeoutMs).then(
        () => (node.watchdogAsking = false),
        () => {
          node.watchdogAsking = false;
          if (node.host === host) this.onCrash(node, host, `hung: no answer to the watchdog within ${timeoutMs} ms`);
        },
      );
    }
  }

  get leaderId(): NodeId | null {
    return this.leader?.id ?? null;
  }

  get leaderTerm(): number {
    return this.leader?.term ?? 0;
  }

  stateOf(id: NodeId): NodeState {
    return this.node(id).state;
  }

  /** The process id of a node running in a child process (hosting 'processes'), or null. */
  pidOf(id: NodeId): number | null {
    return this.node(id).host?.pid ?? null;
  }

  /** raftkv node: the HTTP API of this process's router, which its node reports in its status (redirects). */
  private clientUrl: string | null = null;

  /** raftkv node: tells the local node where this process's HTTP API is, now and after its restarts. */
  async setClientUrl(url: string): Promise<void> {
    this.clientUrl = url;
    const local = this.options.member === null ? undefined : this.nodes.get(this.options.member.local);
    await local?.control?.setClientUrl(url).catch(() => undefined);
  }

  /** The leader's entry in its status for clients to be redirected to, when it runs elsewhere (raftkv node). */
  private leaderUrl: { id: NodeId; url: string | null; at: number } | null = null;

  /**
   * Where a client that asked for a redirect should go: the leader's HTTP API when the leader is a remote
   * member and its router said where it is (cached a second); null when this process's own node leads or no
   * leader or URL is known.
   */
  async leaderClientUrl(): Promise<{ leader: NodeId; url: string } | null> {
    const leader = this.leader?.id ?? null;
    const node = leader === null ? undefined : this.nodes.get(leader);
    if (leader === null || node?.state !== 'remote' || node.client === null) return null;
    const cached = this.leaderUrl;
    if (cached === null || cached.id !== leader || Date.now() - cached.at > 1_000) {
      const outcome = await withTimeout(node.client.status(), 2_000).catch(() => null);
      this.leaderUrl = { id: leader, url: outcome?.ok === true ? outcome.status.clientUrl : null, at: Date.now() };
    }
    const url = this.leaderUrl?.url ?? null;
    return url === null ? null : { leader, url };
  }

  /**
   * A control call's answer, or a rejection after watchdogTimeoutMs: a comlink call to a worker that is killed
   * meanwhile never settles, and a restart or a heal waiting on it would wait for ever (the respawns chain
   * behind it too). The node itself is the watchdog's to judge.
   */
  private answer<T>(call: Promise<T>, what: string): Promise<T> {
    return withTimeout(call, this.options.watchdogTimeoutMs, what);
  }

  /** Whether the router can send a node requests: it runs here (not paused), or it is a remote member. */
  reachable(id: NodeId): boolean {
    // A member removed meanwhile is no longer known: not reachable (a router's lane may still name it).
    const state = this.nodes.get(id)?.state;
    return state === 'running' || state === 'remote';
  }

  /** The supervision tree's view of one node, as the explorer draws it. */
  supervision(id: NodeId): SupervisionState {
    const node = this.node(id);
    return { state: node.state, restarts: node.policy.recentCrashes(Date.now()), backoffMs: node.backoffMs, reason: node.reason };
  }

  /** The directed links with faults in force (every link not listed has none). */
  linkFaults(): LinkFaultEntry[] {
    const entries: LinkFaultEntry[] = [];
    for (const [key, faults] of this.faults) {
      if (faults.cut || faults.drop > 0 || faults.duplicate > 0 || faults.delayMs[1] > 0) {
        const [from, to] = key.split('>') as [NodeId, NodeId];
        entries.push({ from, to, faults });
      }
    }
    return entries;
  }

  /** Abrupt kill (worker.terminate), a crash: with bufferUnsynced (the default) what the node had not synced is gone. */
  async kill(id: NodeId): Promise<void> {
    const node = this.localNode(id);
    if (node.state === 'killed' || node.state === 'stopped') return;
    this.cancelRestart(node);
    await this.terminate(node);
    this.setState(node, 'killed', 'killed on request');
  }

  /** A new worker with the same id and data: it recovers from disk and catches up. */
  async restart(id: NodeId): Promise<void> {
    const node = this.localNode(id);
    this.cancelRestart(node);
    if (node.host !== null) await this.terminate(node);
    node.policy.reset();
    await this.respawn(node);
  }

  async pause(id: NodeId): Promise<void> {
    const node = this.node(id);
    if (node.state !== 'running' || node.control === null) return;
    await this.answer(node.control.pause(), `${id} pause`);
    this.setState(node, 'paused', 'paused on request');
    this.updateRole(node, node.role === 'leader' ? 'follower' : node.role, node.term, true);
  }

  async resume(id: NodeId): Promise<void> {
    const node = this.node(id);
    if (node.state !== 'paused' || node.control === null) return;
    await this.answer(node.control.resume(), `${id} resume`);
    this.setState(node, 'running', 'resumed on request');
  }

  /**
   * The actor faults (the explorer's buttons, the admin API): an exception inside the node's turn (let it crash:
   * the supervisor restarts it by policy), a hang (the thread stops answering; the watchdog ends it), every
   * turn delayed by `ms` (0 ends it), or a burst of `messages` stale messages into its mailbox.
   */
  async actorFault(
    id: NodeId,
    fault: { kind: 'crash' } | { kind: 'hang' } | { kind: 'slow'; ms: number } | { kind: 'flood'; messages: number },
  ): Promise<void> {
    const node = this.node(id);
    const control = node.control;
    if (control === null || (node.state !== 'running' && node.state !== 'paused')) {
      throw new NodeNotRunningError(id, node.state);
    }
    switch (fault.kind) {
      case 'crash':
        await control.crash(`crashed on request: an exception thrown inside ${id}'s turn`);
        break;
      case 'hang':
        await control.hang();
        break;
      case 'slow':
        await control.slow(fault.ms);
        break;
      case 'flood':
        await control.flood(fault.messages);
        break;
    }
    this.say(
      'info',
      `${id} ${fault.kind}${fault.kind === 'slow' ? ` ${fault.ms} ms` : fault.kind === 'flood' ? ` ${fault.messages} messages` : ''} on request`,
      node,
    );
  }

  /**
   * Turns every node's explorer frames on or off, now and for the nodes started later. A node that is not
   * running takes the setting when it starts, at the default rate: `frameMs` (one frame per that many ms, from
   * 1 ms) holds for the nodes running now. The explorer bench prices the frames with it in one cluster.
   */
  async setExplorerFrames(on: boolean, frameMs = EXPLORER_FRAME_MS): Promise<void> {
    if (!Number.isInteger(frameMs) || frameMs < 1) throw new RangeError(`frameMs must be a whole number of ms from 1, got ${frameMs}`);
    this.explorerFrames = on;
    const calls = [...this.nodes.values()].flatMap((node) =>
      node.control !== null && (node.state === 'running' || node.state === 'paused')
        ? [this.answer(node.control.setExplorerFrames(on, frameMs), `${node.id} explorer frames`)]
        : [],
    );
    // A node that dies meanwhile starts again with the new setting.
    await Promise.allSettled(calls);
  }

  /** A running node's state machine as of its applied index (a backup); see RaftNode.exportSnapshot. */
  async exportSnapshot(id: NodeId): Promise<Snapshot> {
    const node = this.node(id);
    if (node.control === null || node.state !== 'running') throw new NodeNotRunningError(id, node.state);
    return node.control.exportSnapshot();
  }

  /** Makes a running node start an election now. */
  async forceElection(id: NodeId): Promise<{ ok: true } | NodeRefusal> {
    const node = this.node(id);
    if (node.control === null || node.state !== 'running') throw new NodeNotRunningError(id, node.state);
    const result = await node.control.forceElection();
    this.say('info', `${id} forced to start an election`, node);
    return result;
  }

  /** Sets faults on the directed links from `from` (default all) to `to` (default all). */
  async setLinkFaults(target: { from?: NodeId; to?: NodeId }, faults: Partial<LinkFaults>): Promise<void> {
    const valid = validateFaults(faults);
    const updates: Promise<void>[] = [];
    for (const from of target.from === undefined ? this.ids : [this.checkId(target.from)]) {
      for (const to of target.to === undefined ? this.ids : [this.checkId(target.to)]) {
        if (from === to) continue;
        const current = this.faults.get(`${from}>${to}`) ?? NO_FAULTS;
        // `cut` given: it decides; not given: a cut link stays cut (drop or delay do not join it again).
        updates.push(this.applyFaults(from, to, { ...valid, cut: faults.cut ?? current.cut }));
      }
    }
    await Promise.all(updates);
  }

  /** A node's clock: its tick rate and wall-time skew (src/protocol/clock.ts). */
  clockOf(id: NodeId): NodeClock {
    return this.clocks.get(this.checkId(id)) ?? TRUE_CLOCK;
  }

  /**
   * Sets a node's clock (a fault: clocks that drift apart; TRUE_CLOCK ends it), on the running node at once and on
   * every later start of it. A rate or skew not given stays as it was.
   */
  async setClock(id: NodeId, clock: Partial<NodeClock>): Promise<void> {
    const node = this.node(this.checkId(id));
    const valid = validateClock({ ...this.clockOf(id), ...clock });
    if (valid.rate === TRUE_CLOCK.rate && valid.skewMs === TRUE_CLOCK.skewMs) this.clocks.delete(id);
    else this.clocks.set(id, valid);
    this.say('info', `${id} clock: rate ${valid.rate}, skew ${valid.skewMs} ms`, node);
    if (node.control !== null) await this.answer(node.control.setClock(valid), `${id} clock`).catch(() => undefined);
  }

  /** A node's disk faults as last set (queued errors as set, not as left). */
  diskFaultsOf(id: NodeId): DiskFaults {
    return this.diskFaults.get(this.checkId(id)) ?? DISK_FAULTS_NONE;
  }

  /**
   * Sets a node's disk faults (src/protocol/disk-faults.ts): on the running node at once, and the lasting ones
   * (a stall, a full disk, lost renames) on every later start of it. What is not named stays as it was. Returns
   * the node's state of them, or null if it is not running.
   */
  async setDiskFaults(id: NodeId, faults: Partial<DiskFaults>): Promise<DiskFaultsStatus | null> {
    const node = this.node(this.checkId(id));
    const next = { ...this.diskFaultsOf(id), ...faults };
    const lasting = { ...next, syncErrors: 0, writeErrors: 0 };
    if (JSON.stringify(lasting) === JSON.stringify(DISK_FAULTS_NONE)) this.diskFaults.delete(id);
    else this.diskFaults.set(id, lasting);
    this.say('info', `${id} disk faults: ${JSON.stringify(faults)}`, node);
    if (node.control === null || node.state !== 'running') return null;
    return this.answer(node.control.setDiskFaults(faults), `${id} disk faults`);
  }

  /** A running node snapshots its state machine now (and compacts its log); the index it snapshots at. */
  async snapshotNow(id: NodeId): Promise<number> {
    const node = this.node(this.checkId(id));
    if (node.control === null || node.state !== 'running') throw new NodeNotRunningError(id, node.state);
    return this.answer(node.control.snapshotNow(), `${id} snapshot`);
  }

  /** Rot at rest in a running node's newest WAL segment or snapshot (src/protocol/disk-faults.ts). */
  async rotDisk(id: NodeId, rot: DiskRot): Promise<DiskRotReport> {
    const node = this.node(this.checkId(id));
    if (node.control === null || node.state !== 'running') throw new Error(`${id} is not running`);
    const report = await this.answer(node.control.rotDisk(rot), `${id} disk rot`);
    this.say('warn', `${id} disk rot: ${rot.kind} in ${report.file} at offset ${report.offset}`, node);
    return report;
  }

  /** Nodes in different groups cannot talk; a node in no group is cut off from every other. */
  async partition(groups: readonly (readonly NodeId[])[]): Promise<void> {
    const groupOf = new Map<NodeId, number>();
    groups.forEach((group, i) => group.forEach((id) => groupOf.set(this.checkId(id), i)));
    await this.cutLinks((from, to) => {
      const a = groupOf.get(from);
      return a === undefined || a !== groupOf.get(to);
    });
    this.say('info', `partition ${groups.map((g) => `[${g.join(',')}]`).join(' ')}`);
  }

  /** Cuts every directed link for which `cut(from, to)` holds and reconnects the others (shapes like a bridge or a ring). */
  async cutLinks(cut: (from: NodeId, to: NodeId) => boolean): Promise<void> {
    const updates: Promise<void>[] = [];
    for (const from of this.ids) {
      for (const to of this.ids) {
        if (from === to) continue;
        const current = this.faults.get(`${from}>${to}`) ?? NO_FAULTS;
        updates.push(this.applyFaults(from, to, { ...current, cut: cut(from, to) }));
      }
    }
    await Promise.all(updates);
  }

  /** Removes every partition and link fault. */
  async heal(): Promise<void> {
    const updates: Promise<void>[] = [];
    for (const key of [...this.faults.keys()]) {
      const [from, to] = key.split('>') as [NodeId, NodeId];
      updates.push(this.applyFaults(from, to, NO_FAULTS));
    }
    await Promise.all(updates);
    this.faults.clear();
    this.scheduleLinksEvent();
    this.say('info', 'healed all links');
  }

  /**
   * The configuration as the leader knows it: each voter and learner, its peer address, how far its log
   * matches the leader's (null where the leader has no view: itself, or no leader), and its state here.
   */
  async members(): Promise<MembersView> {
    const leaderId = this.leader?.id ?? null;
    const leader = leaderId === null ? undefined : this.nodes.get(leaderId);
    let status: NodeStatus | null = null;
    if (leader?.control != null) status = await withTimeout(leader.control.status(), 2_000).catch(() => null);
    else if (leader?.client != null) {
      const outcome = await withTimeout(leader.client.status(), 2_000).catch(() => null);
      status = outcome?.ok === true ? outcome.status : null;
    }
    if (status === null) {
      // No leader to ask: any running node's newest configuration.
      const any = (await this.status()).find((s) => s.raft !== null)?.raft ?? null;
      status = any;
    }
    const membership = status?.membership ?? { voters: this.ids, learners: [] };
    const view = (id: NodeId, role: 'voter' | 'learner'): MemberView => ({
      id,
      role,
      address: membership.addresses?.[id] ?? this.nodes.get(id)?.address ?? null,
      matchIndex: id === status?.id ? status.lastIndex : (status?.progress?.[id]?.match ?? null),
      state: this.nodes.get(id)?.state ?? null,
    });
    return {
      leader: status?.role === 'leader' ? status.id : null,
      term: status?.term ?? 0,
      lastIndex: status?.lastIndex ?? 0,
      members: [...membership.voters.map((id) => view(id, 'voter')), ...membership.learners.map((id) => view(id, 'learner'))],
    };
  }

  /**
   * One membership change through the leader (thesis 4.1, one server at a time), answered once committed:
   * add a voter or (better) a learner, promote a learner that has caught up, remove a member. A node added to a
   * cluster this supervisor runs is started first, with an empty log (its folder must be new); a removed one is
   * stopped once the change commits and its folder kept aside as `<id>.removed-<time>`. raftkv node starts
   * nothing: the operator starts the new member (raftkv node --join) at the address given.
   */
  async changeMembership(change: MembershipChange, options: { timeoutMs?: number } = {}): Promise<ProposeOutcome> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    if (change.kind === 'add-voter' || change.kind === 'add-learner') return this.addMember(change, timeoutMs);
    const outcome = await this.viaLeader<ProposeOutcome>((client) => client.changeMembership(change), timeoutMs);
    if (outcome.ok && change.kind === 'remove') {
      await this.forgetMember(change.id);
      this.recordMembers();
    }
    return outcome;
  }

  private async addMember(change: MembershipChange & { kind: 'add-voter' | 'add-learner' }, timeoutMs: number): Promise<ProposeOutcome> {
    const refuse = (code: NodeRefusal['code'], message: string): NodeRefusal => ({
      ok: false,
      code,
      message,
      leaderId: null,
      definite: true,
    });
    if (!MEMBER_ID.test(change.id)) return refuse('INVALID_ARGUMENT', `'${change.id}' is not a member id (letters, digits, - and _)`);
    if (this.nodes.has(change.id)) return refuse('MEMBER_EXISTS', `${change.id} is already a member`);
    if (this.nodes.size >= CLUSTER_NODES_MAX) return refuse('INVALID_ARGUMENT', `a cluster has at most ${CLUSTER_NODES_MAX} members`);
    const remote = this.options.member !== null;
    if (remote && change.address === undefined) {
      return refuse('INVALID_ARGUMENT', `${change.id} runs elsewhere: give its peer address (host:port)`);
    }
    const node = this.managed(change.id, change.address ?? null, false);
    this.nodes.set(node.id, node);
    this.idList = [...this.idList, node.id];
    try {
      if (remote) {
        node.client = this.dialClient(node);
        this.setState(node, 'remote', `added at ${node.address ?? '?'}`);
      } else {
        if (this.options.hosting === 'processes') await this.allocateAddresses();
        const dir = path.join(this.options.dataDir, node.id);
        if (fs.existsSync(dir)) throw new Error(`${dir} exists: a new member starts from an empty folder`);
        this.locks.push(DataDirLock.acquire(dir));
        checkNodeIdentity(dir, node.id, this.identity as ClusterIdentity);
        await this.respawn(node);
        if (node.state !== 'running') throw new Error(`${node.id} did not start: ${node.reason}`);
      }
    } catch (error) {
      await this.forgetMember(node.id, false);
      return refuse('NODE_START_FAILED', (error as Error).message);
    }
    const withAddress: MembershipChange =
      node.address === null ? { kind: change.kind, id: node.id } : { kind: change.kind, id: node.id, address: node.address };
    const outcome = await this.viaLeader<ProposeOutcome>((client) => client.changeMembership(withAddress), timeoutMs);
    // Refused for sure: the new node is no member; stop it. Unknown: keep it, the change may have committed.
    if (!outcome.ok && outcome.definite) await this.forgetMember(node.id, false);
    else this.recordMembers();
    return outcome;
  }

  /**
   * raftkv node: the local node's log names the members; a member added through another member's router is
   * reached at the address the configuration gives it, and a removed one is let go.
   */
  private followMembership(membership: Membership): void {
    if (membership.voters.length === 0) return; // a joining node that has not heard from a leader yet
    const members = new Set([...membership.voters, ...membership.learners]);
    for (const id of members) {
      const address = membership.addresses?.[id];
      if (this.nodes.has(id) || address === undefined) continue;
      const node = this.managed(id, address, false);
      this.nodes.set(id, node);
      this.idList = [...this.idList, id];
      node.client = this.dialClient(node);
      this.setState(node, 'remote', `joined at ${address}`);
    }
    for (const node of [...this.nodes.values()]) {
      if (node.state === 'remote' && !members.has(node.id)) void this.forgetMember(node.id);
    }
  }

  /** A member left the configuration: stop it if it runs here, keep its folder aside, and forget it. */
  private async forgetMember(id: NodeId, keepFolder = true): Promise<void> {
    const node = this.nodes.get(id);
    if (node === undefined) return;
    this.cancelRestart(node);
    if (node.host !== null && node.control !== null && node.state === 'running') {
      await withTimeout(node.control.shutdown(), 5_000).catch(() => undefined);
    }
    await this.terminate(node);
    this.setState(node, 'stopped', 'removed from the cluster');
    this.nodes.delete(id);
    this.idList = this.idList.filter((other) => other !== id);
    for (const key of [...this.faults.keys()]) if (key.startsWith(`${id}>`) || key.endsWith(`>${id}`)) this.faults.delete(key);
    this.clocks.delete(id);
    this.diskFaults.delete(id);
    const dir = path.join(this.options.dataDir, id);
    const lock = this.locks.findIndex((held) => path.dirname(held.file) === dir);
    if (lock !== -1) {
      this.locks[lock]?.release();
      this.locks.splice(lock, 1);
      if (keepFolder) fs.renameSync(dir, `${dir}.removed-${new Date().toISOString().replace(/[:.]/g, '-')}`);
      else fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  /** Proposes commands through the current leader, following leader hints; refusals come back typed. */
  async propose(commands: Uint8Array[], options: { timeoutMs?: number } = {}): Promise<ProposeOutcome> {
    return this.viaLeader<ProposeOutcome>((client) => client.propose(commands), options.timeoutMs ?? 5_000);
  }

  /** A linearizable read through the leader. */
  async read(query: unknown = null, options: { timeoutMs?: number } = {}): Promise<ReadOutcome> {
    return this.viaLeader<ReadOutcome>((control) => control.read(query), options.timeoutMs ?? 5_000);
  }

  async transferLeadership(to: NodeId): Promise<{ ok: true } | NodeRefusal> {
    this.checkId(to);
    const leader = this.leader === null ? null : this.node(this.leader.id);
    if (leader?.control == null) {
      return { ok: false, code: 'NOT_LEADER', message: 'no leader known', leaderId: null, definite: true };
    }
    return leader.control.transferLeadership(to);
  }

  control(id: NodeId): Comlink.Remote<NodeControl> | null {
    return this.node(id).control;
  }

  /** The client data plane of a running node, or of a remote member (propose, read, readStale), or null. */
  client(id: NodeId): ClientPortClient | null {
    const node = this.nodes.get(id);
    if (node === undefined) return null;
    return node.state === 'running' || node.state === 'paused' || node.state === 'remote' ? node.client : null;
  }

  /** Resolves once a leader is known (or after `timeoutMs`), without polling. */
  waitForLeader(timeoutMs: number): Promise<NodeId | null> {
    if (this.leader !== null) return Promise.resolve(this.leader.id);
    return new Promise((resolve) => {
      const onLeader = (id: NodeId | null): void => {
        if (id === null) return;
        clearTimeout(timer);
        this.off('leader', onLeader);
        resolve(id);
      };
      const timer = setTimeout(() => {
        this.off('leader', onLeader);
        resolve(null);
      }, timeoutMs);
      this.on('leader', onLeader);
    });
  }

  async status(): Promise<ClusterNodeStatus[]> {
    return Promise.all(
      this.ids.map(async (id) => {
        const node = this.node(id);
        let raft: NodeStatus | null = null;
        if ((node.state === 'running' || node.state === 'paused') && node.control !== null) {
          raft = await withTimeout(node.control.status(), 2_000).catch(() => null);
        } else if (node.state === 'remote' && node.client !== null) {
          const outcome = await withTimeout(node.client.status(), 2_000).catch(() => null);
          raft = outcome?.ok === true ? outcome.status : null;
        }
        return { id, status: node.state, raft };
      }),
    );
  }

  /** Clean shutdown: every node syncs and closes its log, then its worker ends. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.watchdog !== null) clearInterval(this.watchdog);
    await Promise.all(
      [...this.nodes.values()].map(async (node) => {
        this.cancelRestart(node);
        if (node.control !== null && (node.state === 'running' || node.state === 'paused')) {
          await withTimeout(node.control.shutdown(), 5_000).catch(() => undefined);
        }
        await this.terminate(node);
        node.state = 'stopped';
      }),
    );
    this.releaseDataDir();
  }

  // -------------------------------------------------------------------------

  private node(id: NodeId): ManagedNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new RangeError(`unknown node ${id}; nodes are ${this.ids.join(', ')}`);
    return node;
  }

  /** A node this process runs; a remote member (raftkv node) cannot be killed or restarted from here. */
  private localNode(id: NodeId): ManagedNode {
    const node = this.node(id);
    if (node.state === 'remote') throw new NodeNotRunningError(id, 'remote');
    return node;
  }

  private checkId(id: NodeId): NodeId {
    return this.node(id).id;
  }

  /**
   * Starts one node's worker. `mesh` holds its ports when the whole cluster starts together; otherwise
   * (a restart) it gets a new channel with every peer that is up, whose end is handed over once it is READY.
   */
  /**
   * Restarts go one at a time: a node connects to the peers that are up when it starts, so two starting
   * together would miss each other.
   */
  private respawn(node: ManagedNode): Promise<void> {
    const next = this.respawns.then(() => (this.stopping ? undefined : this.spawn(node)));
    this.respawns = next.catch(() => undefined);
    return next;
  }

  private async spawn(node: ManagedNode, mesh: Record<NodeId, MessagePort> | null = null): Promise<void> {
    const processes = this.options.hosting === 'processes';
    // Over TCP (processes, or raftkv node) a node dials its peers itself; threads get a MessagePort per peer.
    const tcp = processes || this.options.member !== null;
    this.setState(node, 'starting', processes ? 'spawning process' : 'spawning worker');
    const peers: Record<NodeId, MessagePort> = { ...mesh };
    const peerPorts: [ManagedNode, MessagePort][] = [];
    if (mesh === null && !tcp) {
      for (const peer of this.nodes.values()) {
        if (peer.id === node.id || peer.control === null || (peer.state !== 'running' && peer.state !== 'paused')) continue;
        const channel = new MessageChannel();
        peers[peer.id] = channel.port1;
        peerPorts.push([peer, channel.port2]);
      }
    }
    const faults: Record<NodeId, LinkFaults> = {};
    for (const to of this.ids) {
      const f = this.faults.get(`${node.id}>${to}`);
      if (f !== undefined) faults[to] = f;
    }
    const startup: Omit<NodeStartup, 'ports'> = {
      protocolVersion: PROTOCOL_VERSION,
      seed: this.seeds.nextUint32(),
      id: node.id,
      voters: node.founder ? this.initialVoters : [],
      dataDir: path.join(this.options.dataDir, node.id),
      durable: this.options.durable,
      bufferUnsynced: this.options.bufferUnsynced,
      explorerFrames: this.explorerFrames,
      tickMs: this.options.tickMs,
      core: this.options.core,
      limits: this.options.limits,
      tcp: tcp ? this.tcpStartup(node) : null,
      faults,
      clock: this.clocks.get(node.id) ?? TRUE_CLOCK,
      disk: this.diskFaults.get(node.id) ?? DISK_FAULTS_NONE,
      clientUrl: this.options.member?.local === node.id ? this.clientUrl : null,
    };
    const host = processes ? spawnProcess(startup) : spawnThread(startup, peers, this.options.worker);
    node.host = host;
    node.expectingExit = false;
    node.control = Comlink.wrap<NodeControl>(host.control);
    node.client = host.client === null ? null : new ClientPortClient(host.client);
    const ready = new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${node.id} did not report READY within ${this.options.startTimeoutMs} ms`)),
        this.options.startTimeoutMs,
      );
      host.on('report', (report: WorkerReport) => {
        if (report.type === 'ready') {
          clearTimeout(timer);
          resolve(report.peerPort);
        } else if (report.type === 'start-failed') {
          clearTimeout(timer);
          reject(new Error(`${report.code}: ${report.message}`));
        } else this.onEvent(node, report);
      });
      host.once('exit', (reason) => {
        clearTimeout(timer);
        reject(new Error(`${reason} before READY`));
      });
    });
    host.on('exit', (reason) => this.onCrash(node, host, reason));
    try {
      await ready;
    } catch (error) {
      this.onCrash(node, host, `start failed: ${(error as Error).message}`);
      return;
    }
    if (processes && node.host === host) node.client = this.dialClient(node);
    // The peers that are up get their end of the new channels.
    await Promise.all(
      peerPorts.map(async ([peer, port]) => {
        if (peer.control === null) {
          port.close();
          return;
        }
        await this.answer(
          peer.control.connectPeer(node.id, Comlink.transfer(port, [port as unknown as never])),
          `${peer.id} connect`,
        ).catch(() => port.close());
      }),
    );
    this.setState(node, 'running', 'started');
  }

  /** Processes: a node's peers on loopback, the cluster's id, and how they authenticate. */
  private tcpStartup(node: ManagedNode): NodeStartup['tcp'] {
    const peers: Record<NodeId, string> = {};
    for (const peer of this.nodes.values()) if (peer.id !== node.id && peer.address !== null) peers[peer.id] = peer.address;
    return {
      clusterId: this.identity?.clusterId ?? 'raftkv',
      listen: this.options.member?.peerListen ?? node.address ?? formatHostPort('127.0.0.1', 0),
      peers,
      security: this.options.peerSecurity,
    };
  }

  /** Processes: the router's client lane to a node, over TCP; a broken connection fails the calls in flight as unknown. */
  private dialClient(node: ManagedNode): ClientPortClient {
    const lane = dialClientLane(node.address as string, {
      clusterId: this.identity?.clusterId ?? 'raftkv',
      // With TLS the router presents the certificate raftkv certs made for routers, which names `client`.
      from: 'client',
      to: node.id,
      security: loadPeerSecurity(this.options.peerSecurity, 'client'),
    });
    const client = new ClientPortClient(lane);
    lane.onReset(() => client.reset());
    return client;
  }

  /** Processes: one free loopback port per node, fixed for the life of the supervisor (a restarted node keeps its address). */
  private async allocateAddresses(): Promise<void> {
    for (const node of this.nodes.values()) {
      if (node.address !== null) continue;
      const port = await new Promise<number>((resolve, reject) => {
        const server = net.createServer();
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => {
          const { port } = server.address() as net.AddressInfo;
          server.close(() => resolve(port));
        });
      });
      node.address = formatHostPort('127.0.0.1', port);
    }
  }

  private onEvent(node: ManagedNode, report: WorkerReport): void {
    if (report.type === 'frame') {
      this.emit('frame', node.id, report.state, report.links);
      return;
    }
    if (report.type === 'metrics') {
      this.emit('metrics', node.id, report.sample);
      return;
    }
    if (report.type === 'log') {
      const limiter =
        report.kind === 'bad-frame' ? this.repeats.badFrame : report.kind === 'peer' ? this.repeats.peer : this.repeats.storage;
      limiter.log(node.id, report.message, this.about(node, report.level));
      return;
    }
    if (report.type !== 'event') return;
    const event = report.event;
    if (event.type === 'membership' && this.options.member !== null) this.followMembership(event.membership);
    if (event.type === 'role') {
      this.updateRole(node, event.role, event.term, false);
      // raftkv node: a remote leader is known only from what the local node hears.
      const leader = event.leaderId === null ? undefined : this.nodes.get(event.leaderId);
      if (leader?.state === 'remote') this.updateRole(leader, 'leader', event.term, false);
      else if (this.leader !== null && this.leader.id !== node.id && this.node(this.leader.id).state === 'remote') {
        this.updateRole(this.node(this.leader.id), 'follower', event.term, true);
      }
    }
    this.emit('node-event', event);
  }

  private updateRole(node: ManagedNode, role: Role, term: number, synthetic: boolean): void {
    node.role = role;
    node.term = term;
    if (role === 'leader' && !synthetic) {
      if (this.leader === null || term > this.leader.term || (term === this.leader.term && this.leader.id !== node.id)) {
        this.leader = { id: node.id, term };
        this.options.log(`leader ${node.id} (term ${term})`, { ...this.about(node, 'info'), announce: true });
        this.emit('leader', node.id, term);
      }
    } else if (this.leader?.id === node.id) {
      this.leader = null;
      this.emit('leader', null, term);
    }
  }

  /** The node's thread or process died on its own: restart by policy, or give up and mark the node failed. */
  private onCrash(node: ManagedNode, host: HostedNode, reason: string): void {
    if (node.host !== host) return; // an old incarnation
    if (node.expectingExit || this.stopping) return;
    this.detach(node);
    void host.terminate();
    const decision = node.policy.onCrash(Date.now());
    if (decision.kind === 'give-up') {
      this.setState(node, 'failed', `${reason}; ${decision.reason}`);
      return;
    }
    node.backoffMs = decision.delayMs;
    this.setState(node, 'restarting', `${reason}; restart in ${decision.delayMs} ms`);
    node.restartTimer = setTimeout(() => {
      node.restartTimer = null;
      void this.respawn(node);
    }, decision.delayMs);
  }

  private cancelRestart(node: ManagedNode): void {
    if (node.restartTimer !== null) clearTimeout(node.restartTimer);
    node.restartTimer = null;
  }

  private async terminate(node: ManagedNode): Promise<void> {
    const host = node.host;
    this.detach(node);
    if (host !== null) await host.terminate();
  }

  /** Forgets a node's worker and ports (its exit is expected from now on); it no longer leads. */
  private detach(node: ManagedNode): void {
    node.expectingExit = true;
    const host = node.host;
    node.host = null;
    node.control = null;
    node.client?.close();
    host?.dispose();
    node.client = null;
    this.updateRole(node, 'follower', node.term, true);
  }

  private async applyFaults(from: NodeId, to: NodeId, faults: LinkFaults): Promise<void> {
    this.faults.set(`${from}>${to}`, faults);
    this.scheduleLinksEvent();
    const node = this.node(from);
    if (node.control !== null) await this.answer(node.control.setLinkFaults(to, faults), `${from} link faults`).catch(() => undefined);
  }

  private linksEventScheduled = false;

  /** One 'links' event for all the links one call changes (a partition changes dozens). */
  private scheduleLinksEvent(): void {
    if (this.linksEventScheduled) return;
    this.linksEventScheduled = true;
    setImmediate(() => {
      this.linksEventScheduled = false;
      this.emit('links', this.linkFaults());
    });
  }

  private setState(node: ManagedNode, state: NodeState, reason: string): void {
    node.state = state;
    node.reason = reason;
    if (state !== 'restarting') node.backoffMs = null;
    const line = `${node.id} ${state}: ${reason}`;
    // A crash and its restart are warnings, held back past their limit in a crash loop; a node given up on is
    // an error, said once. The other states are the announcements users and scripts read (`n1 running: started`).
    if (state === 'restarting') this.repeats.restart.log(node.id, line, this.about(node, 'warn'));
    else if (state === 'failed') this.options.log(line, this.about(node, 'error'));
    else this.options.log(line, { ...this.about(node, 'info'), announce: true });
    this.emit('node-state', node.id, state, reason);
  }

  /** A line's context: its level, and the node with the term the supervisor knows of it (none before the first). */
  private about(node: ManagedNode, level: LogLevel): { level: LogLevel; node: NodeId; term?: number } {
    return node.term > 0 ? { level, node: node.id, term: node.term } : { level, node: node.id };
  }

  private say(level: LogLevel, message: string, node?: ManagedNode): void {
    this.options.log(message, node === undefined ? { level } : this.about(node, level));
  }

  private async viaLeader<T extends ProposeOutcome | ReadOutcome>(
    call: (client: ClientPortClient) => Promise<T>,
    timeoutMs: number,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let hint: NodeId | null = this.leader?.id ?? null;
    let last: T | null = null;
    while (Date.now() < deadline) {
      const target = hint !== null ? this.nodes.get(hint) : undefined;
      if (target?.client != null && (target.state === 'running' || target.state === 'remote')) {
        const outcome = await withTimeout(call(target.client), Math.max(1, deadline - Date.now())).catch(() => null);
        if (outcome === null) {
          // The call reached a node and got no answer in time: it may have been taken.
          const message = `${target.id} did not answer within ${timeoutMs} ms: the outcome is unknown`;
          return { ok: false, code: 'TIMEOUT', message, leaderId: null, definite: false } as T;
        }
        if (outcome.ok || !outcome.definite || (outcome.code !== 'NOT_LEADER' && outcome.code !== 'TRANSFER_IN_PROGRESS')) return outcome;
        last = outcome;
        hint = outcome.leaderId;
        if (hint === target.id || hint === null) await delay(10);
      } else {
        hint = await this.waitForLeader(Math.max(1, deadline - Date.now()));
      }
    }
    // Nothing was sent (no leader was found) or every answer was a definite refusal: surely not done.
    return last ?? ({ ok: false, code: 'NOT_LEADER', message: `no leader within ${timeoutMs} ms`, leaderId: null, definite: true } as T);
  }
}
