// A deterministic simulator in the style of TigerBeetle's VOPR: one seed derives every option and every
// fault; the Raft safety properties are checked after every step; a liveness phase follows the chaos.

import { leaseClockRateRatioMax, type RaftCore } from '../../src/raft/raft.js';
import { InvariantError } from '../../src/raft/invariant.js';
import { SeededRandom } from '../../src/raft/random.js';
import type { CommandEntry, Entry, Membership, Message, NodeId, Ready, Snapshot } from '../../src/raft/types.js';
import { RaftNode, type NodeRuntime } from '../../src/node/raft-node.js';
import type { ProposeOutcome, ReadOutcome } from '../../src/protocol/node.js';
import type { StateMachine } from '../../src/raft/state-machine.js';
import { EventQueue } from './event-queue.js';
import { ReadWriteRegister, SafetyChecker, SafetyViolation, entryIdentity } from './checker.js';
import { DiskStorage } from '../../src/storage/disk-storage.js';
import { FaultInjectingFileSystem } from '../../src/storage/disk-faults.js';
import { StorageError } from '../../src/storage/errors.js';
import { FaultyFileSystem } from '../../src/storage/faulty-file-system.js';
import { walLastRecord, walWrittenBytes } from '../../src/storage/wal.js';
import type { LinkFaultEntry, NodeFrameState } from '../../src/protocol/explorer.js';
import type { TraceRecorder } from './trace.js';

export interface ScheduleOptions {
  readonly seed: number;
  readonly nodeCount: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly readMode: 'safe' | 'lease';
  /** Simulated time units per tick. */
  readonly tickUnits: number;
  readonly delayMinUnits: number;
  readonly delayMaxUnits: number;
  readonly dropBase: number;
  /** Share of directed links that drop `lossyDrop` of their messages. */
  readonly lossyLinkShare: number;
  readonly lossyDrop: number;
  readonly duplicate: number;
  readonly diskLatencyMaxUnits: number;
  readonly tornWrites: boolean;
  /** WAL segment size: small, so rotation and compaction happen often. */
  readonly segmentBytes: number;
  readonly preallocate: boolean;
  /** Expected faults per 100 ticks of the chaos phase. */
  readonly crashRate: number;
  readonly pauseRate: number;
  readonly partitionRate: number;
  readonly transferRate: number;
  /**
   * Expected membership changes per 100 ticks of the chaos phase (one change: a voter or a learner added, a
   * learner promoted, a voter or a learner removed, among the nodes plus two spares). With any, a new leader may
   * also try one at once (membershipAtElection): the moment a leader without the current-term barrier would
   * append a configuration beside an earlier leader's.
   */
  readonly membershipRate: number;
  /** With membership changes on: the chance that a new leader tries one at once. */
  readonly membershipAtElection: number;
  /**
   * The chance that a node which has just granted a vote (not a pre-vote) crashes and restarts within a
   * message delay: a node that forgets its vote then grants a second one in the same term.
   */
  readonly voteCrash: number;
  /** The core's learnerCatchUpEntriesMax: small values make the leader refuse promotions of lagging learners. */
  readonly learnerCatchUpEntriesMax: number;
  /**
   * Test only, never drawn from the seed: the core skips the current-term barrier of membership changes
   * (RaftOptions.unsafeSkipMembershipBarrier), so the membership family can show the single-server change bug.
   */
  readonly unsafeSkipMembershipBarrier: boolean;
  readonly clients: number;
  readonly clientThinkUnits: number;
  readonly readShare: number;
  readonly snapshotEveryEntries: number;
  readonly snapshotChunkBytes: number;
  readonly snapshotPadBytes: number;
  readonly appendEntriesMax: number;
  readonly inflightMessagesMax: number;
  readonly chaosTicks: number;
  readonly livenessTicksMax: number;
  /**
   * After the heal, every write still waiting on a running node must be answered by that node within
   * livenessTicksMax, not only decided (committed, or provably never to commit). Never drawn from the seed; on
   * by default (off, a write its node never answers is counted in writesLostUnanswered once it is decided).
   */
  readonly requireAnswers: boolean;
  /**
   * How far the nodes' clock rates spread, as a multiple of what lease reads tolerate. Never drawn from the seed
   * (0: every clock ticks at the same rate, as in every family but `clocks`). Above 0, each node's clock gets a
   * rate from 1 to R = 1 + clockDrift * (leaseClockRateRatioMax(electionTicks) - 1), the slowest at 1 and the
   * fastest at R: up to 1 the ratio of any two rates is within the lease bound (1 is the bound itself), past 1
   * it is beyond it. A node with rate r ticks every tickUnits / r units.
   */
  readonly clockDrift: number;
  /**
   * Each node's clock is off by a skew drawn from [-clockSkewUnitsMax, clockSkewUnitsMax] units: its ticks fall
   * when its own clock (rate * now + skew) passes a multiple of tickUnits. Never drawn from the seed (0: none).
   */
  readonly clockSkewUnitsMax: number;
  /**
   * Expected clock faults per 100 ticks of the chaos phase: one node's clock rate is drawn again, from 1 to the
   * run's clockRateRatio, from its next tick on (so the rates stay as far apart as clockDrift says, and which
   * node is slow changes). Never drawn from the seed (0: none); with clockDrift 0 there is nothing to change.
   */
  readonly clockFaultRate: number;
  /**
   * Expected disk faults per 100 ticks of the chaos phase (issue 18), each on one node (often the leader): a
   * stall (its syncs wait up to twice persistStallTicks), an fsync that fails (the node crashes at its next
   * turn and restarts from its disk), a full disk for a while (DISK_FULL refusals; an ENOSPC that gets past the
   * check crashes the node), or, once per run with three voters or more, rot at rest on a crashed node (a bit
   * flipped in, or a cut of, its newest WAL segment or snapshot), which it must find at its restart and stop
   * for good. Drawn from a stream of its own in mixed and lossy; 0 in the targeted families.
   */
  readonly diskFaultRate: number;
}

/** The node limits the simulator runs with: a full disk is one with less than this free. */
const SIM_DISK_FREE_BYTES_MIN = 16 * 1024;

/** A node's clock: `rate` ticks per tickUnits of simulated time, and an offset of `skewUnits`. */
export interface SimClock {
  readonly rate: number;
  readonly skewUnits: number;
}

/** The spread of clock rates (the fastest over the slowest) that a run's clockDrift gives. */
export function clockRateRatio(options: Pick<ScheduleOptions, 'clockDrift' | 'electionTicks'>): number {
  if (options.clockDrift === 0) return 1;
  return 1 + options.clockDrift * (leaseClockRateRatioMax(options.electionTicks) - 1);
}

export type FailureKind = 'correctness' | 'liveness' | 'crash';

export interface ScheduleResult {
  readonly seed: number;
  readonly options: ScheduleOptions;
  readonly ok: boolean;
  readonly failure: { readonly kind: FailureKind; readonly property: string; readonly message: string; readonly atUnits: number } | null;
  readonly stats: ScheduleStats;
}

export interface ScheduleStats {
  events: number;
  messagesSent: number;
  messagesDropped: number;
  crashes: number;
  pauses: number;
  partitions: number;
  transfers: number;
  /** Clock faults: a node's clock rate drawn again (clockFaultRate). */
  clockChanges: number;
  /** Disk faults (diskFaultRate) by kind; rotFound: rot the node found at its restart (it stopped for good). */
  diskStalls: number;
  fsyncErrors: number;
  disksFull: number;
  rots: number;
  rotFound: number;
  membershipChanges: number;
  /** Accepted changes by kind (membershipChanges counts them all). */
  learnersAdded: number;
  votersAdded: number;
  promotions: number;
  learnersRemoved: number;
  votersRemoved: number;
  /** Promotions the leader refused as the learner lagged (learner-not-caught-up). */
  promotionsRefused: number;
  elections: number;
  writesOk: number;
  writesFailed: number;
  readsOk: number;
  opsUnknown: number;
  /** Writes decided lost after the heal that their (still running) node never answered. */
  writesLostUnanswered: number;
  snapshotsSent: number;
  maxCommitIndex: number;
  livenessTicks: number;
}

/** Every option derived from one seed. Overrides pin some of them (tests use this for targeted runs). */
export function deriveOptions(seed: number, overrides: Partial<Omit<ScheduleOptions, 'seed'>> = {}): ScheduleOptions {
  const random = new SeededRandom(seed);
  const nodeCount = random.pick([3, 3, 5, 5, 5, 7]);
  const lossy = random.chance(0.4);
  const lease = random.chance(0.15);
  const options: ScheduleOptions = {
    seed,
    nodeCount,
    electionTicks: random.pick([6, 10, 10, 15]),
    heartbeatTicks: random.pick([1, 2, 2, 3]),
    preVote: random.chance(0.85),
    checkQuorum: lease || random.chance(0.85),
    readMode: lease ? 'lease' : 'safe',
    tickUnits: 10,
    delayMinUnits: 1,
    delayMaxUnits: random.pick([3, 8, 15, 25]),
    dropBase: random.pick([0, 0, 0.01, 0.05, 0.1]),
    lossyLinkShare: lossy ? random.pick([0.3, 0.5, 1]) : 0,
    lossyDrop: 0.4,
    duplicate: random.pick([0, 0, 0.02, 0.05]),
    diskLatencyMaxUnits: random.pick([0, 2, 5, 12]),
    tornWrites: random.chance(0.7),
    segmentBytes: random.pick([512, 4096, 65_536]),
    preallocate: random.chance(0.5),
    crashRate: random.pick([0, 0.5, 1, 2, 4]),
    // A paused leader's clock stops: lease reads assume bounded clock drift, so no pauses with leases.
    pauseRate: lease ? 0 : random.pick([0, 0.5, 1, 2]),
    partitionRate: random.pick([0, 0.5, 1, 2, 4]),
    transferRate: random.pick([0, 0, 0.3, 1]),
    clients: random.int(1, 6),
    clientThinkUnits: random.pick([5, 20, 60]),
    readShare: random.pick([0.2, 0.4, 0.6]),
    snapshotEveryEntries: random.pick([20, 50, 200]),
    snapshotChunkBytes: random.pick([16, 64, 4096]),
    snapshotPadBytes: random.int(0, 200),
    appendEntriesMax: random.pick([1, 4, 64]),
    inflightMessagesMax: random.pick([1, 4, 64]),
    chaosTicks: random.pick([300, 500, 800]),
    livenessTicksMax: 0,
    requireAnswers: true,
    // Drawn last, so the options drawn before them stay what they were for every seed.
    membershipRate: random.pick([0, 0, 0, 1, 3]),
    membershipAtElection: 0.5,
    voteCrash: random.pick([0, 0, 0.1, 0.3]),
    learnerCatchUpEntriesMax: random.pick([2, 10, 1000]),
    unsafeSkipMembershipBarrier: false,
    clockDrift: 0,
    clockSkewUnitsMax: 0,
    clockFaultRate: 0,
    // From a stream of its own, so the options drawn above stay what they were for every seed.
    diskFaultRate: new SeededRandom(seed ^ 0xd15c).pick([0, 0, 0.5, 1, 2]),
    ...overrides,
  };
  // Lease reads assume clocks that do not stop: never combine them with pauses, even when overrides ask.
  const readMode = options.pauseRate > 0 ? 'safe' : options.readMode;
  return { ...options, readMode, livenessTicksMax: overrides.livenessTicksMax ?? options.electionTicks * 60 };
}

type SimEvent =
  | { readonly kind: 'tick'; readonly node: NodeId }
  | { readonly kind: 'deliver'; readonly message: Message }
  /** A turn or a sync completion of one node incarnation (the node actor's runtime). */
  | { readonly kind: 'run'; readonly node: NodeId; readonly incarnation: number; readonly task: () => void }
  | { readonly kind: 'client'; readonly client: number }
  | { readonly kind: 'fault' }
  | { readonly kind: 'restart'; readonly node: NodeId }
  /** A crash aimed at one incarnation (it may already be gone); the node restarts `downUnits` later. */
  | { readonly kind: 'crash'; readonly node: NodeId; readonly incarnation: number; readonly downUnits: number }
  /** A membership change through the current leader; `leader` pins it to the node that led when it was planned. */
  | { readonly kind: 'membership'; readonly leader: NodeId | null }
  | { readonly kind: 'resume'; readonly node: NodeId }
  | { readonly kind: 'heal-partition' }
  /** A full disk has room again. */
  | { readonly kind: 'disk-free'; readonly node: NodeId };

interface PendingOp {
  readonly kind: 'write' | 'read';
  readonly client: number;
  readonly node: NodeId;
  readonly floorAtInvoke: number;
  readonly deadline: number;
}

/** A client write whose outcome nobody has learned yet: it must be answered or decided after the heal. */
interface OpenWrite {
  readonly identity: string;
  readonly client: number;
  readonly node: NodeId;
  readonly incarnation: number;
  /** The node's term when the write was proposed: a leader appends it in that term. */
  readonly term: number;
}

interface Link {
  cut: boolean;
  drop: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Nodes beyond the initial voters that membership changes may add. */
const SPARE_NODES = 2;
/** Every node a run may use: the initial voters n1..nN, then the spares membership changes may add. */
export function simulatedNodeIds(options: ScheduleOptions): NodeId[] {
  const spares = options.membershipRate > 0 ? SPARE_NODES : 0;
  return Array.from({ length: options.nodeCount + spares }, (_, i) => `n${i + 1}`);
}

/** Membership changes never leave fewer voters than this. */
const VOTERS_MIN = 3;

/** The replicated state machine of the simulation: a rolling hash over the applied commands. */
class SimStateMachine implements StateMachine {
  hash = 0;

  apply(entry: CommandEntry): null {
    this.hash = mix(this.hash, entryIdentity(entry));
    return null;
  }

  query(): number {
    return this.hash;
  }

  snapshot(): Uint8Array {
    return encoder.encode(JSON.stringify({ hash: this.hash, pad: 'x'.repeat(this.padBytes) }));
  }

  restore(data: Uint8Array): void {
    this.hash = (JSON.parse(decoder.decode(data)) as { hash: number }).hash;
  }

  constructor(private readonly padBytes: number) {}
}

function mix(hash: number, text: string): number {
  let h = hash ^ 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** One simulated machine: a disk that outlives crashes, and the node actor of its current incarnation. */
class SimNode {
  node: RaftNode | null = null;
  sm: SimStateMachine | null = null;
  incarnation = 0;
  /** The highest index applied by this incarnation (from its snapshot on). */
  appliedIndex = 0;
  /** The disk completes syncs in order. */
  syncDoneAt = 0;
  readonly disk = new FaultyFileSystem();
  /** The disk as the node sees it: a full disk (spaceBytes) is set here. */
  readonly faults = new FaultInjectingFileSystem(this.disk);
  /** Syncs complete no earlier than this (a stalled disk). */
  stallUntil = 0;
  /** The next sync fails with EIO (and is not made durable). */
  failNextSync = false;
  /** Rot at rest was put on its disk and it has not restarted since. */
  rotted = false;
  storage: DiskStorage | null = null;
  /** Booted at least once: a spare is not, until a membership change adds it. */
  joined = false;
  /** Taken out of service for good (the heal's operator: a node outside the leader's configuration). */
  retired = false;

  constructor(readonly id: NodeId) {}

  get up(): boolean {
    return this.node !== null;
  }

  get core(): RaftCore | null {
    return this.node?.core ?? null;
  }

  get paused(): boolean {
    return this.node?.status().paused ?? false;
  }
}

/** Hooks that let a test watch a run (e.g. count reads served, or record events). */
export interface SimulatorHooks {
  onStep?(simulator: Simulator, description: string): void;
}

/**
 * Runs the real node actor (RaftNode over the real DiskStorage) on a seeded clock, network and disk.
 * Only the runtime differs from a worker: turns and fdatasync completions are events of the simulation.
 */
export class Simulator {
  readonly options: ScheduleOptions;
  private readonly random: SeededRandom;
  private readonly queue = new EventQueue<SimEvent>();
  private readonly nodes = new Map<NodeId, SimNode>();
  /** Every node the run may use: the initial voters, then the spares membership changes may add. */
  private readonly ids: NodeId[];
  private readonly initialVoters: NodeId[];
  private readonly links = new Map<string, Link>();
  /** Each node's clock (rate 1, no skew unless clockDrift or clockSkewUnitsMax asks for more); clock faults change rates. */
  private readonly nodeClocks: Map<NodeId, SimClock>;
  readonly checker = new SafetyChecker();
  readonly register = new ReadWriteRegister();
  /** index -> state hash after applying it (first seen), to check snapshots and replays. */
  private readonly hashes = new Map<number, number>();
  private readonly pendingOps = new Map<number, PendingOp>();
  private readonly leaderHint = new Map<number, NodeId>();
  private readonly clientSeq = new Map<number, number>();
  /** Every write not yet answered by its node, even after its client gave up waiting. */
  private readonly openWrites = new Set<OpenWrite>();
  now = 0;
  private phase: 'chaos' | 'liveness' = 'chaos';
  private livenessStartUnits = 0;
  private livenessProbe: string | null = null;
  private livenessProbeIndex = 0;
  private livenessProbeTerm = -1;
  readonly stats: ScheduleStats = {
    events: 0,
    messagesSent: 0,
    messagesDropped: 0,
    crashes: 0,
    pauses: 0,
    partitions: 0,
    transfers: 0,
    clockChanges: 0,
    diskStalls: 0,
    fsyncErrors: 0,
    disksFull: 0,
    rots: 0,
    rotFound: 0,
    membershipChanges: 0,
    learnersAdded: 0,
    votersAdded: 0,
    promotions: 0,
    learnersRemoved: 0,
    votersRemoved: 0,
    promotionsRefused: 0,
    elections: 0,
    writesOk: 0,
    writesFailed: 0,
    readsOk: 0,
    opsUnknown: 0,
    writesLostUnanswered: 0,
    snapshotsSent: 0,
    maxCommitIndex: 0,
    livenessTicks: 0,
  };

  constructor(
    options: ScheduleOptions,
    private readonly hooks: SimulatorHooks = {},
    /** Records the run as an explorer trace (test/sim/trace.ts), or null. */
    private readonly trace: TraceRecorder | null = null,
  ) {
    this.options = options;
    this.random = new SeededRandom(options.seed ^ 0x5eed);
    this.ids = simulatedNodeIds(options);
    this.initialVoters = this.ids.slice(0, options.nodeCount);
    for (const id of this.ids) this.nodes.set(id, new SimNode(id));
    for (const from of this.ids) {
      for (const to of this.ids) {
        if (from === to) continue;
        const lossy = this.random.chance(options.lossyLinkShare);
        this.links.set(`${from}>${to}`, { cut: false, drop: lossy ? options.lossyDrop : options.dropBase });
      }
    }
    this.nodeClocks = drawClocks(options, this.ids);
  }

  run(): ScheduleResult {
    try {
      this.start();
      while (this.phase === 'chaos' || !this.livenessReached()) {
        const next = this.queue.pop();
        if (next === undefined) throw new Error('event queue ran dry');
        this.now = next.time;
        if (this.phase === 'chaos' && this.now >= this.options.chaosTicks * this.options.tickUnits) this.beginLiveness();
        if (this.phase === 'liveness' && this.now - this.livenessStartUnits > this.options.livenessTicksMax * this.options.tickUnits) {
          return this.result({ kind: 'liveness', property: 'liveness', message: this.livenessReport() });
        }
        this.stats.events++;
        const phase = this.phase;
        this.handle(next.event);
        this.checkAfter(next.event, phase !== this.phase);
        this.trace?.frames(this.now, () => this.frameStates());
      }
      this.stats.livenessTicks = Math.ceil((this.now - this.livenessStartUnits) / this.options.tickUnits);
      return this.result(null);
    } catch (error) {
      if (error instanceof SafetyViolation) return this.result({ kind: 'correctness', property: error.property, message: error.message });
      if (error instanceof InvariantError) return this.result({ kind: 'crash', property: 'invariant', message: error.message });
      const message = error instanceof Error ? `${error.message}\n${error.stack ?? ''}` : String(error);
      return this.result({ kind: 'crash', property: 'exception', message });
    }
  }

  private frameStates(): Map<NodeId, NodeFrameState> {
    const states = new Map<NodeId, NodeFrameState>();
    for (const node of this.nodes.values()) if (node.node !== null) states.set(node.id, node.node.frameState());
    return states;
  }

  /** The links with faults now, as the explorer draws them. */
  private linkFaults(): LinkFaultEntry[] {
    const entries: LinkFaultEntry[] = [];
    for (const [key, link] of this.links) {
      if (!link.cut && link.drop === 0) continue;
      const [from, to] = key.split('>') as [NodeId, NodeId];
      entries.push({ from, to, faults: { cut: link.cut, drop: link.drop, delayMs: [0, 0], duplicate: this.options.duplicate } });
    }
    return entries;
  }

  private result(failure: Omit<NonNullable<ScheduleResult['failure']>, 'atUnits'> | null): ScheduleResult {
    if (failure !== null)
      this.trace?.record(this.now, {
        kind: 'alarm',
        alarm: 'safety-violation',
        detail: `${failure.kind} (${failure.property}): ${failure.message}`,
      });
    for (const node of this.nodes.values()) {
      const commit = node.core?.status().commitIndex ?? 0;
      if (commit > this.stats.maxCommitIndex) this.stats.maxCommitIndex = commit;
    }
    return {
      seed: this.options.seed,
      options: this.options,
      ok: failure === null,
      failure: failure === null ? null : { ...failure, atUnits: this.now },
      stats: this.stats,
    };
  }

  // -------------------------------------------------------------------------
  // Set-up and phases.

  private start(): void {
    for (const id of this.initialVoters) {
      this.boot(this.node(id));
      // Nodes tick out of phase (and, with clocks, at their own rates).
      this.queue.push(this.firstTick(id, this.random.int(0, this.options.tickUnits)), { kind: 'tick', node: id });
    }
    // Spares tick from the start too, though they only run once a membership change boots them.
    for (const id of this.ids.slice(this.initialVoters.length)) {
      this.queue.push(this.firstTick(id, this.random.int(0, this.options.tickUnits)), { kind: 'tick', node: id });
    }
    this.trace?.links(0, this.linkFaults());
    for (let client = 0; client < this.options.clients; client++) {
      this.queue.push(this.random.int(0, 50), { kind: 'client', client });
    }
    this.scheduleFault();
  }

  get clocks(): ReadonlyMap<NodeId, SimClock> {
    return this.nodeClocks;
  }

  /** A node's tick period in units: tickUnits on a clock of rate 1, shorter on a fast clock. */
  private tickPeriod(id: NodeId): number {
    const clock = this.clocks.get(id);
    return clock === undefined ? this.options.tickUnits : this.options.tickUnits / clock.rate;
  }

  /** The first tick: the node's phase, shifted by its clock's skew (its ticks fall where its own clock says). */
  private firstTick(id: NodeId, phase: number): number {
    const clock = this.clocks.get(id);
    if (clock === undefined) return phase;
    const period = this.tickPeriod(id);
    return phase + ((((clock.skewUnits / clock.rate) % period) + period) % period);
  }

  private beginLiveness(): void {
    this.phase = 'liveness';
    this.livenessStartUnits = this.now;
    for (const link of this.links.values()) {
      link.cut = false;
      link.drop = 0;
    }
    this.trace?.links(this.now, []);
    for (const node of this.nodes.values()) {
      node.stallUntil = 0;
      node.failNextSync = false;
      node.faults.set({ spaceBytes: null });
      if (!node.up && node.joined && !node.retired) this.tryBoot(node);
      this.surviveDiskError(node, () => node.node?.resume());
    }
  }

  /**
   * The nodes the heal waits for: the leader's voters and learners still in service (a learner must catch up
   * too). Any other node is taken out of service for good, as an operator decommissions a removed server (it
   * may never learn of its removal, and without PreVote and CheckQuorum its elections would disrupt the
   * cluster for ever).
   */
  private servingVoters(leader: SimNode): SimNode[] {
    const { voters, learners } = (leader.core as RaftCore).status().membership;
    const members = new Set([...voters, ...learners]);
    for (const node of this.nodes.values()) {
      // A leader that removed itself leads until its removal commits, then steps down: retired after that.
      if (!members.has(node.id) && node.joined && !node.retired && node !== leader) this.retire(node);
    }
    return [...this.nodes.values()].filter((node) => members.has(node.id) && !node.retired);
  }

  private retire(node: SimNode): void {
    if (node.up) this.crash(node);
    node.retired = true;
    this.trace?.supervise(this.now, node.id, 'stopped', "outside the leader's configuration at the heal");
    node.incarnation++; // its waiting writes will never be answered
  }

  /** Healed: one leader that every node follows, and a fresh proposal applied everywhere. */
  private livenessReached(): boolean {
    const leader = this.currentLeader();
    if (leader === null) return false;
    const term = (leader.core as RaftCore).status().term;
    const voters = this.servingVoters(leader);
    for (const node of voters) {
      const status = node.core?.status();
      if (status === undefined || status.leaderId !== leader.id || status.term !== term) return false;
    }
    if (this.livenessProbeIndex === 0 && this.livenessProbeTerm !== term) {
      // A probe proposed to an earlier leader may have been dropped with its term: propose again.
      const probe = `probe-${this.options.seed}-${term}`;
      this.livenessProbe = `c:${probe}`;
      this.livenessProbeTerm = term;
      (leader.node as RaftNode).submit([encoder.encode(probe)], (outcome) => {
        if (!outcome.ok && this.livenessProbeIndex === 0) this.livenessProbeTerm = -1; // refused: ask again
      });
      this.checkNode(leader); // the proposal entered its log between two steps
      return false;
    }
    if (this.livenessProbeIndex === 0) return false;
    for (const node of voters) {
      if (node.appliedIndex < this.livenessProbeIndex) return false;
    }
    return this.undecidedWrites().length === 0;
  }

  /**
   * Writes made before the heal that their node has not answered yet (requireAnswers), or, without it, that
   * are neither answered, nor committed, nor definitely lost. Called once every voter follows the leader of
   * term T and has applied the probe (an entry of term T): every log then holds that entry, and log terms only
   * grow, so no entry of an older term can commit any more. A write proposed in an older term, or to a crashed
   * incarnation, is not committed now, it never will be. Only the leader's writes of term T can still commit.
   * A write to a crashed incarnation is never waited for: its answer died with the process.
   */
  private undecidedWrites(): OpenWrite[] {
    const leader = this.currentLeader();
    const undecided: OpenWrite[] = [];
    for (const write of this.openWrites) {
      const waiting = this.node(write.node).incarnation === write.incarnation;
      if (this.checker.isCommitted(write.identity)) {
        if (this.options.requireAnswers && waiting) undecided.push(write);
        else this.openWrites.delete(write);
      } else if (waiting && write.node === leader?.id && write.term === leader.core?.status().term) undecided.push(write);
      else if (this.options.requireAnswers && waiting) undecided.push(write);
      else {
        if (waiting) this.stats.writesLostUnanswered++;
        this.openWrites.delete(write);
      }
    }
    return undecided;
  }

  private livenessReport(): string {
    const lines = [...this.nodes.values()].map((node) => {
      const s = node.core?.status();
      return s === undefined
        ? `${node.id}: down`
        : `${node.id}: ${s.role} term=${s.term} leader=${s.leaderId} commit=${s.commitIndex} last=${s.lastIndex} applied=${node.appliedIndex}`;
    });
    const limit = `within ${this.options.livenessTicksMax} ticks after heal`;
    const leader = this.currentLeader();
    const voters = leader === null ? [] : this.servingVoters(leader);
    const probed = leader !== null && this.livenessProbeIndex > 0 && voters.every((node) => node.appliedIndex >= this.livenessProbeIndex);
    if (!probed) return `no stable leader with the probe applied everywhere ${limit}; ${lines.join('; ')}`;
    const open = [...this.openWrites]
      .slice(0, 5)
      .map((write) => `${write.identity} (client ${write.client} via ${write.node}, term ${write.term})`);
    return `${this.openWrites.size} writes made before the heal not answered ${limit}: ${open.join(', ')}; ${lines.join('; ')}`;
  }

  /**
   * The safety checks after a step, on every node the step could have changed: a node's core changes only in
   * its own events (a message between nodes is a delivery event of its own), so checking those is checking
   * every node. Client calls, faults and the start of the liveness phase may touch any node.
   */
  private checkAfter(event: SimEvent, phaseChanged: boolean): void {
    const target = phaseChanged ? null : this.targetOf(event);
    if (target === null) {
      for (const node of this.nodes.values()) this.checkNode(node);
    } else this.checkNode(this.node(target));
  }

  private targetOf(event: SimEvent): NodeId | null {
    switch (event.kind) {
      case 'tick':
      case 'run':
      case 'restart':
      case 'resume':
      case 'crash':
      case 'disk-free':
        return event.node;
      case 'deliver':
        return event.message.to;
      case 'client':
      case 'fault':
      case 'heal-partition':
      case 'membership':
        return null;
    }
  }

  private checkNode(node: SimNode): void {
    const core = node.core;
    if (core !== null) this.checker.afterStep([{ id: node.id, incarnation: node.incarnation, core }]);
  }

  private currentLeader(): SimNode | null {
    let best: SimNode | null = null;
    let bestTerm = -1;
    for (const node of this.nodes.values()) {
      const status = node.core?.status();
      if (status?.role === 'leader' && status.term > bestTerm) {
        best = node;
        bestTerm = status.term;
      }
    }
    return best;
  }

  // -------------------------------------------------------------------------
  // Events.

  private handle(event: SimEvent): void {
    switch (event.kind) {
      case 'tick': {
        this.queue.push(this.now + this.tickPeriod(event.node), { kind: 'tick', node: event.node });
        this.node(event.node).node?.tick();
        return;
      }
      case 'deliver':
        this.node(event.message.to).node?.receive([event.message]);
        return;
      case 'run': {
        const node = this.node(event.node);
        if (node.node === null || node.incarnation !== event.incarnation) return; // a crashed incarnation
        this.surviveDiskError(node, event.task);
        this.hooks.onStep?.(this, event.node);
        return;
      }
      case 'client':
        this.onClient(event.client);
        return;
      case 'fault':
        if (this.phase === 'chaos') {
          this.injectFault();
          this.scheduleFault();
        }
        return;
      case 'restart': {
        const node = this.node(event.node);
        if (!node.up && !node.retired) this.tryBoot(node);
        return;
      }
      case 'crash': {
        const node = this.node(event.node);
        if (this.phase !== 'chaos' || !node.up || node.incarnation !== event.incarnation) return;
        this.crash(node);
        this.queue.push(this.now + event.downUnits, { kind: 'restart', node: event.node });
        return;
      }
      case 'membership':
        if (this.phase === 'chaos') this.changeMembership(event.leader);
        return;
      case 'resume': {
        const node = this.node(event.node);
        if (node.paused) this.trace?.supervise(this.now, node.id, 'running', 'resumed');
        this.surviveDiskError(node, () => node.node?.resume());
        return;
      }
      case 'disk-free':
        this.node(event.node).faults.set({ spaceBytes: null });
        return;
      case 'heal-partition':
        if (this.phase === 'chaos') for (const link of this.links.values()) link.cut = false;
        this.trace?.links(this.now, this.linkFaults());
        return;
    }
  }

  // -------------------------------------------------------------------------
  // Nodes: the real actor with a simulated runtime.

  /** Runs a turn of the node: an injected EIO or ENOSPC crashes it, as a worker dies of it, and it restarts later. */
  private surviveDiskError(node: SimNode, turn: () => void): void {
    try {
      turn();
    } catch (error) {
      if (!isInjectedDiskError(error)) throw error;
      this.crash(node);
      const downTicks = this.random.int(1, 3 * this.options.electionTicks);
      this.queue.push(this.now + downTicks * this.options.tickUnits, { kind: 'restart', node: node.id });
    }
  }

  /**
   * Boots a node that may not start: rot at rest it must find (it stops for good, as an operator would take it
   * out of service), or a disk still full (it tries again later).
   */
  private tryBoot(node: SimNode): void {
    try {
      this.boot(node);
      node.rotted = false;
    } catch (error) {
      if (node.rotted && error instanceof StorageError) {
        this.stats.rotFound++;
        this.trace?.supervise(this.now, node.id, 'failed', `found rot at rest: ${error.message}`);
        node.retired = true;
        node.incarnation++; // its waiting writes will never be answered
        return;
      }
      if (!isInjectedDiskError(error)) throw error;
      this.queue.push(this.now + this.options.electionTicks * this.options.tickUnits, { kind: 'restart', node: node.id });
    }
  }

  private boot(node: SimNode): void {
    const o = this.options;
    // Recovery runs the real on-disk code: torn tails are cut; anything else it finds wrong fails the run.
    node.joined = true;
    this.trace?.supervise(this.now, node.id, 'running', node.incarnation === 0 ? 'started' : 'restarted after a crash');
    const storage = DiskStorage.open(node.faults, '/data', {
      initialMembership: { voters: this.initialVoters, learners: [] },
      segmentBytes: o.segmentBytes,
      preallocate: o.preallocate,
    });
    const incarnation = ++node.incarnation;
    const runtime: NodeRuntime = {
      schedule: (task) => this.queue.push(this.now, { kind: 'run', node: node.id, incarnation, task }),
      sync: (target, done) => {
        node.syncDoneAt = Math.max(node.syncDoneAt, node.stallUntil, this.now + this.random.int(0, o.diskLatencyMaxUnits + 1));
        const fail = node.failNextSync;
        node.failNextSync = false;
        this.queue.push(node.syncDoneAt, {
          kind: 'run',
          node: node.id,
          incarnation,
          task: () => {
            if (fail) {
              node.disk.loseUnsynced();
              return done(injectedDiskError('EIO'));
            }
            target.syncNow();
            done(null);
          },
        });
      },
    };
    const sm = new SimStateMachine(o.snapshotPadBytes);
    node.storage = storage;
    node.sm = sm;
    node.appliedIndex = storage.boot.snapshot?.meta.index ?? 0;
    node.syncDoneAt = this.now;
    node.node = new RaftNode(
      {
        core: {
          id: node.id,
          random: this.random.fork(),
          electionTicks: o.electionTicks,
          heartbeatTicks: o.heartbeatTicks,
          preVote: o.preVote,
          checkQuorum: o.checkQuorum,
          readMode: o.readMode,
          appendEntriesMax: o.appendEntriesMax,
          inflightMessagesMax: o.inflightMessagesMax,
          snapshotChunkBytes: o.snapshotChunkBytes,
          learnerCatchUpEntriesMax: o.learnerCatchUpEntriesMax,
          unsafeSkipMembershipBarrier: o.unsafeSkipMembershipBarrier,
          persistStallTicks: 3 * o.electionTicks,
        },
        limits: { snapshotEveryEntries: o.snapshotEveryEntries, pendingTicksMax: 1, diskFreeBytesMin: SIM_DISK_FREE_BYTES_MIN },
      },
      storage,
      sm,
      { send: (message) => this.send(message), flush: () => {}, emit: () => {} },
      runtime,
      {
        onReady: (ready) => this.onReady(node, ready),
        onApplied: (entry) => this.onApplied(node, entry),
        onSnapshotInstalled: (snapshot) => this.onSnapshotInstalled(node, snapshot),
      },
    );
    this.checkState(node, node.appliedIndex, 'recovered from its snapshot');
  }

  private onReady(node: SimNode, ready: Ready): void {
    if (ready.softState !== null) {
      const { role, term, leaderId } = ready.softState;
      this.trace?.record(this.now, { kind: 'role', node: node.id, role, term, leaderId });
    }
    if (ready.softState === null || ready.softState.role !== 'leader') return;
    this.stats.elections++;
    if (this.options.membershipRate > 0 && this.phase === 'chaos' && this.random.chance(this.options.membershipAtElection)) {
      this.queue.push(this.now, { kind: 'membership', leader: node.id });
    }
  }

  private onApplied(node: SimNode, entry: Entry): void {
    if (entry.index !== node.appliedIndex + 1) {
      throw new SafetyViolation('state-machine-safety', `${node.id} applied ${entry.index} after ${node.appliedIndex}`);
    }
    node.appliedIndex = entry.index;
    this.checker.onApplied(node.id, entry);
    if (this.livenessProbe !== null && entryIdentity(entry) === this.livenessProbe) this.livenessProbeIndex = entry.index;
    const hash = (node.sm as SimStateMachine).hash;
    const known = this.hashes.get(entry.index);
    if (known === undefined) this.hashes.set(entry.index, hash);
    else if (known !== hash)
      throw new SafetyViolation('state-machine-safety', `${node.id} state after ${entry.index} differs from another node's`);
  }

  private onSnapshotInstalled(node: SimNode, snapshot: Snapshot): void {
    this.stats.snapshotsSent++;
    this.trace?.record(this.now, { kind: 'snapshot', node: node.id, index: snapshot.meta.index, how: 'installed' });
    node.appliedIndex = snapshot.meta.index;
    this.checkState(node, snapshot.meta.index, 'installed a snapshot');
  }

  /** The state a node holds at `index` (from a snapshot) must be the state every node had there. */
  private checkState(node: SimNode, index: number, how: string): void {
    const known = this.hashes.get(index);
    if (index > 0 && known !== undefined && known !== node.sm?.hash) {
      throw new SafetyViolation('state-machine-safety', `${node.id} ${how} at ${index} whose state differs`);
    }
  }

  // -------------------------------------------------------------------------
  // Network.

  private send(message: Message): void {
    this.stats.messagesSent++;
    if (message.type === 'VoteResponse' && message.granted && !message.preVote) this.maybeCrashVoter(message.from);
    if (this.trace !== null && message.type === 'VoteResponse' && !message.preVote) {
      this.trace.record(this.now, {
        kind: 'vote',
        node: message.from,
        candidate: message.to,
        term: message.term,
        granted: message.granted,
      });
    }
    const link = this.links.get(`${message.from}>${message.to}`);
    if (link === undefined || link.cut || this.random.chance(link.drop)) {
      this.stats.messagesDropped++;
      this.trace?.sent(message.from, message.to, true);
      return;
    }
    this.trace?.sent(message.from, message.to, false);
    const copies = this.random.chance(this.options.duplicate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const delay = this.random.int(this.options.delayMinUnits, this.options.delayMaxUnits + 1);
      this.queue.push(this.now + delay, { kind: 'deliver', message });
    }
  }

  // -------------------------------------------------------------------------
  // Faults.

  private scheduleFault(): void {
    const o = this.options;
    const perTick =
      (o.crashRate + o.pauseRate + o.partitionRate + o.transferRate + o.clockFaultRate + o.diskFaultRate + o.membershipRate) / 100;
    if (perTick === 0) return;
    const meanUnits = this.options.tickUnits / perTick;
    this.queue.push(this.now + 1 + this.random.int(0, Math.ceil(2 * meanUnits)), { kind: 'fault' });
  }

  private injectFault(): void {
    const o = this.options;
    const total = o.crashRate + o.pauseRate + o.partitionRate + o.transferRate + o.clockFaultRate + o.diskFaultRate + o.membershipRate;
    let roll = this.random.next() * total;
    if ((roll -= o.crashRate) < 0) this.crashSome();
    else if ((roll -= o.pauseRate) < 0) this.pauseOne();
    else if ((roll -= o.partitionRate) < 0) this.partition();
    else if ((roll -= o.transferRate) < 0) this.transfer();
    else if ((roll -= o.clockFaultRate) < 0) this.changeClock();
    else if ((roll -= o.diskFaultRate) < 0) this.diskFault();
    else this.changeMembership(null);
  }

  /** A disk fault on one running node, often the leader (see ScheduleOptions.diskFaultRate). */
  private diskFault(): void {
    const o = this.options;
    const leader = this.currentLeader();
    const up = this.ids.filter((id) => this.node(id).up);
    if (up.length === 0) return;
    const node = this.node(this.random.chance(0.5) && leader !== null ? leader.id : this.random.pick(up));
    const roll = this.random.next();
    const rotted = this.stats.rots > 0; // rot at rest once per run at most: the node may stop for good
    if (roll < 0.35) {
      this.stats.diskStalls++;
      const ticks = this.random.int(1, 6 * o.electionTicks + 1);
      node.stallUntil = Math.max(node.stallUntil, this.now + ticks * o.tickUnits);
    } else if (roll < 0.6) {
      this.stats.fsyncErrors++;
      node.failNextSync = true;
    } else if (roll < 0.85 || rotted || this.initialVoters.length < 3) {
      this.stats.disksFull++;
      node.faults.set({ spaceBytes: this.random.int(0, SIM_DISK_FREE_BYTES_MIN) });
      const ticks = this.random.int(o.electionTicks, 8 * o.electionTicks);
      this.queue.push(this.now + ticks * o.tickUnits, { kind: 'disk-free', node: node.id });
    } else this.rot(node);
  }

  /** Rot at rest: the node crashes, a bit of its newest WAL segment or snapshot flips (or the segment is cut), and it restarts later. */
  private rot(node: SimNode): void {
    this.stats.rots++;
    this.crash(node);
    const snapshots = node.disk.list('/data/snap').filter((name) => name.endsWith('.snap'));
    const target = snapshots.length > 0 && this.random.chance(0.3) ? 'snapshot' : 'wal';
    // A cut is found only in a preallocated segment: without preallocation it reads as a torn tail (STORAGE.md).
    const kind = target === 'wal' && this.options.preallocate && this.random.chance(0.3) ? 'truncate' : 'flip';
    try {
      // Half the flips hit the last record, where only its trailer tells rot from a torn write.
      const range = kind === 'flip' && this.random.chance(0.5) ? walLastRecord : walWrittenBytes;
      if (target === 'wal') node.faults.rot('/data/wal', '.wal', kind, this.random, range);
      else node.faults.rot('/data/snap', '.snap', kind, this.random);
      node.rotted = true;
    } catch (error) {
      if (!(error instanceof RangeError)) throw error; // nothing written yet to rot
    }
    const downTicks = this.random.int(1, 4 * this.options.electionTicks);
    this.queue.push(this.now + downTicks * this.options.tickUnits, { kind: 'restart', node: node.id });
  }

  /** A clock fault: one node's clock rate drawn again within the run's spread, from its next tick on. */
  private changeClock(): void {
    const id = this.random.pick(this.ids);
    const clock = this.nodeClocks.get(id);
    if (clock === undefined) return;
    this.stats.clockChanges++;
    const rate = 1 + this.random.next() * (clockRateRatio(this.options) - 1);
    this.nodeClocks.set(id, { ...clock, rate });
  }

  private crashSome(): void {
    const leader = this.currentLeader();
    const up = this.ids.filter((id) => this.node(id).up);
    if (up.length === 0) return;
    // Often the leader, sometimes everyone at once (durability), otherwise one random node.
    const roll = this.random.next();
    const victims = roll < 0.1 ? up : [roll < 0.5 && leader !== null ? leader.id : this.random.pick(up)];
    for (const id of victims) {
      const node = this.node(id);
      if (!node.up) continue;
      this.crash(node);
      const downTicks = this.random.int(1, 6 * this.options.electionTicks);
      this.queue.push(this.now + downTicks * this.options.tickUnits, { kind: 'restart', node: id });
    }
  }

  /** A voter that crashes right after granting its vote, and is back before the other candidates' requests land. */
  private maybeCrashVoter(id: NodeId): void {
    const o = this.options;
    if (o.voteCrash === 0 || this.phase !== 'chaos' || !this.random.chance(o.voteCrash)) return;
    const node = this.node(id);
    const downUnits = this.random.int(1, o.delayMaxUnits + 1);
    this.queue.push(this.now, { kind: 'crash', node: id, incarnation: node.incarnation, downUnits });
  }

  /**
   * One membership change through the leader (the one named, if it still leads): add a learner or a voter,
   * promote a learner (refused while it lags by more than learnerCatchUpEntriesMax), remove a learner or a
   * voter (never below VOTERS_MIN voters). A spare added for the first time boots with an empty disk. Now and
   * then the leader crashes or is cut off soon after, leaving the new configuration in a minority of logs.
   */
  private changeMembership(pinned: NodeId | null): void {
    const leader = pinned === null ? this.currentLeader() : this.node(pinned);
    const status = leader?.core?.status();
    if (leader?.node == null || leader.paused || status?.role !== 'leader') return;
    const change = this.pickChange(status.membership);
    if (change === null) return;
    const result = leader.node.changeMembership(change.next);
    if (!result.ok) {
      if (result.code === 'LEARNER_NOT_CAUGHT_UP') this.stats.promotionsRefused++;
      return;
    }
    this.stats.membershipChanges++;
    this.stats[change.stat]++;
    for (const id of [...change.next.voters, ...change.next.learners]) {
      const node = this.node(id);
      if (!node.joined) this.boot(node);
    }
    const roll = this.random.next();
    if (roll < 0.3) {
      const downUnits = this.random.int(1, 6 * this.options.electionTicks) * this.options.tickUnits;
      const at = this.now + this.random.int(0, 3 * this.options.tickUnits);
      this.queue.push(at, { kind: 'crash', node: leader.id, incarnation: leader.incarnation, downUnits });
    } else if (roll < 0.6) this.isolate(leader.id);
  }

  /** The next configuration for one change, and the stat that counts it; null when no change fits. */
  private pickChange(
    current: Membership,
  ): { next: Membership; stat: 'learnersAdded' | 'votersAdded' | 'promotions' | 'learnersRemoved' | 'votersRemoved' } | null {
    const { voters, learners } = current;
    const without = (ids: readonly NodeId[], id: NodeId): NodeId[] => ids.filter((other) => other !== id);
    if (learners.length > 0 && this.random.chance(0.4)) {
      const learner = this.random.pick([...learners]);
      if (this.random.chance(0.8))
        return { next: { ...current, voters: [...voters, learner], learners: without(learners, learner) }, stat: 'promotions' };
      return { next: { ...current, learners: without(learners, learner) }, stat: 'learnersRemoved' };
    }
    const addable = this.ids.filter((id) => !voters.includes(id) && !learners.includes(id) && !this.node(id).retired);
    const add = addable.length > 0 && (voters.length <= VOTERS_MIN || this.random.chance(0.5));
    if (add) {
      const id = this.random.pick(addable);
      // Half the additions go straight to voter (allowed, as etcd allows it), half through a learner.
      if (this.random.chance(0.5)) return { next: { ...current, voters: [...voters, id] }, stat: 'votersAdded' };
      return { next: { ...current, learners: [...learners, id] }, stat: 'learnersAdded' };
    }
    if (voters.length <= VOTERS_MIN) return null;
    return { next: { ...current, voters: without(voters, this.random.pick([...voters])) }, stat: 'votersRemoved' };
  }

  /** Cuts one node off from every other, both ways, until the partition heals. */
  private isolate(id: NodeId): void {
    this.stats.partitions++;
    for (const [key, link] of this.links) {
      const [from, to] = key.split('>') as [NodeId, NodeId];
      link.cut = from === id || to === id;
    }
    this.trace?.links(this.now, this.linkFaults());
    const healTicks = this.random.int(this.options.electionTicks, 8 * this.options.electionTicks);
    this.queue.push(this.now + healTicks * this.options.tickUnits, { kind: 'heal-partition' });
  }

  private crash(node: SimNode): void {
    this.stats.crashes++;
    this.trace?.supervise(this.now, node.id, 'restarting', 'crashed (unsynced writes lost)');
    node.disk.crash(this.random, { torn: this.options.tornWrites });
    node.storage = null;
    node.node = null;
    node.sm = null;
    this.checker.nodeStopped(node.id);
  }

  private pauseOne(): void {
    const leader = this.currentLeader();
    const up = this.ids.filter((id) => this.node(id).up && !this.node(id).paused);
    if (up.length === 0) return;
    const id = this.random.chance(0.6) && leader !== null && !leader.paused ? leader.id : this.random.pick(up);
    this.stats.pauses++;
    this.node(id).node?.pause();
    this.trace?.supervise(this.now, id, 'paused', 'paused');
    const pauseTicks = this.random.int(1, 4 * this.options.electionTicks);
    this.queue.push(this.now + pauseTicks * this.options.tickUnits, { kind: 'resume', node: id });
  }

  /** Partitions of many shapes: isolate one node (often the leader), majority/minority, bridge, ring, random cuts. */
  private partition(): void {
    this.stats.partitions++;
    for (const link of this.links.values()) link.cut = false;
    const ids = this.random.shuffle([...this.ids]);
    const leader = this.currentLeader();
    const shape = this.random.int(0, 5);
    const connected = (a: NodeId, b: NodeId): boolean => {
      switch (shape) {
        case 0: {
          const isolated = leader !== null && this.random.chance(0.7) ? leader.id : (ids[0] as NodeId);
          return a !== isolated && b !== isolated;
        }
        case 1: {
          const minority = new Set(ids.slice(0, Math.floor(ids.length / 2)));
          return minority.has(a) === minority.has(b);
        }
        case 2: {
          // Bridge: two halves that only the bridge node talks to both of.
          const bridge = ids[0] as NodeId;
          const left = new Set(ids.slice(1, 1 + Math.floor((ids.length - 1) / 2)));
          return a === bridge || b === bridge || left.has(a) === left.has(b);
        }
        case 3: {
          // Ring: each node hears only its two neighbours.
          const distance = Math.abs(ids.indexOf(a) - ids.indexOf(b));
          return distance === 1 || distance === ids.length - 1;
        }
        default:
          return true;
      }
    };
    const decided = new Map<string, boolean>();
    for (const [key, link] of this.links) {
      const [a, b] = key.split('>') as [NodeId, NodeId];
      const pair = a < b ? `${a}|${b}` : `${b}|${a}`;
      let ok = decided.get(pair);
      if (ok === undefined) {
        ok = shape === 4 ? !this.random.chance(0.3) : connected(a, b);
        decided.set(pair, ok);
      }
      // Some cuts are one-way: a node can hear but not be heard.
      link.cut = !ok && (shape === 4 ? true : !this.random.chance(0.1));
    }
    const healTicks = this.random.int(this.options.electionTicks, 8 * this.options.electionTicks);
    this.queue.push(this.now + healTicks * this.options.tickUnits, { kind: 'heal-partition' });
    this.trace?.links(this.now, this.linkFaults());
  }

  private transfer(): void {
    const leader = this.currentLeader();
    if (leader?.node == null || leader.paused) return;
    const target = this.random.pick(this.ids.filter((id) => id !== leader.id));
    this.stats.transfers++;
    leader.node.transferLeadership(target);
  }

  // -------------------------------------------------------------------------
  // Clients: each has one operation outstanding; writes are unique commands, reads go through ReadIndex.

  private onClient(client: number): void {
    const op = this.pendingOps.get(client);
    if (op !== undefined) {
      if (this.now < op.deadline) {
        this.queue.push(this.now + this.options.clientThinkUnits, { kind: 'client', client });
        return;
      }
      this.stats.opsUnknown++; // timed out: the outcome is unknown (Jepsen's info)
      this.pendingOps.delete(client);
    }
    if (this.phase === 'liveness') return;
    this.invoke(client);
    this.queue.push(this.now + this.random.int(1, this.options.clientThinkUnits + 1), { kind: 'client', client });
  }

  private invoke(client: number): void {
    const hint = this.leaderHint.get(client);
    const id = hint !== undefined && this.random.chance(0.8) ? hint : this.random.pick(this.ids);
    const target = this.node(id).node;
    if (target === null) return; // connection refused: try again next time
    const op: PendingOp = {
      kind: this.random.chance(this.options.readShare) ? 'read' : 'write',
      client,
      node: id,
      floorAtInvoke: this.register.invoke(),
      deadline: this.now + 8 * this.options.electionTicks * this.options.tickUnits,
    };
    this.pendingOps.set(client, op);
    if (op.kind === 'read') {
      target.query(null, (outcome) => this.readDone(op, outcome));
    } else {
      const seq = (this.clientSeq.get(client) ?? 0) + 1;
      this.clientSeq.set(client, seq);
      const command = `w${client}.${seq}`;
      const open: OpenWrite = {
        identity: `c:${command}`,
        client,
        node: id,
        incarnation: this.node(id).incarnation,
        term: target.core.status().term,
      };
      this.openWrites.add(open);
      target.submit([encoder.encode(command)], (outcome) => {
        this.openWrites.delete(open);
        this.writeDone(op, outcome);
      });
    }
  }

  /** Answers count only while the client still waits for them (not after it timed out). */
  private current(op: PendingOp): boolean {
    if (this.pendingOps.get(op.client) !== op) return false;
    this.pendingOps.delete(op.client);
    return true;
  }

  /** A write completes when the node it was proposed to applies it (RaftNode settles the proposal). */
  private writeDone(op: PendingOp, outcome: ProposeOutcome): void {
    if (!this.current(op)) return;
    if (outcome.ok) {
      this.register.writeCompleted(outcome.index, op.floorAtInvoke, `client ${op.client} via ${op.node}`);
      this.stats.writesOk++;
      this.leaderHint.set(op.client, op.node);
    } else if (outcome.code === 'PROPOSAL_DROPPED') {
      this.stats.writesFailed++; // another entry took its index: it will never apply
    } else this.noteRefusal(op.client, outcome.leaderId);
  }

  /** A read returns the index the serving node had applied: the register's value. */
  private readDone(op: PendingOp, outcome: ReadOutcome): void {
    if (!this.current(op)) return;
    if (outcome.ok) {
      this.register.readCompleted(outcome.index, op.floorAtInvoke, `client ${op.client} via ${op.node}`);
      this.stats.readsOk++;
    } else this.noteRefusal(op.client, outcome.leaderId);
  }

  private noteRefusal(client: number, leaderId: NodeId | null): void {
    if (leaderId !== null) this.leaderHint.set(client, leaderId);
    else this.leaderHint.delete(client);
  }

  private node(id: NodeId): SimNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }
}

/**
 * The nodes' clocks, from a stream of their own (so the seed's other draws stay what they were): none (every
 * node on the shared clock) unless clockDrift or clockSkewUnitsMax ask for them. The slowest node's rate is
 * 1 and the fastest's the run's clockRateRatio, the others' in between; the nodes are shuffled first, so any
 * node may be the slowest.
 */
function drawClocks(options: ScheduleOptions, ids: readonly NodeId[]): Map<NodeId, SimClock> {
  const clocks = new Map<NodeId, SimClock>();
  if (options.clockDrift === 0 && options.clockSkewUnitsMax === 0) return clocks;
  const random = new SeededRandom(options.seed ^ 0xc10c);
  const ratio = clockRateRatio(options);
  const order = random.shuffle([...ids]);
  order.forEach((id, i) => {
    const rate = i === 0 ? 1 : i === 1 ? ratio : 1 + random.next() * (ratio - 1);
    const skewUnits = options.clockSkewUnitsMax === 0 ? 0 : (random.next() * 2 - 1) * options.clockSkewUnitsMax;
    clocks.set(id, { rate, skewUnits });
  });
  return clocks;
}

export function runSchedule(
  seed: number,
  overrides: Partial<Omit<ScheduleOptions, 'seed'>> = {},
  hooks: SimulatorHooks = {},
): ScheduleResult {
  return new Simulator(deriveOptions(seed, overrides), hooks).run();
}

/** An EIO or ENOSPC the simulator's disk faults raised (never one of the code's own errors). */
function injectedDiskError(code: 'EIO'): Error {
  return Object.assign(new Error(`${code}: injected disk fault`), { code });
}

function isInjectedDiskError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return error instanceof Error && (code === 'EIO' || code === 'ENOSPC') && error.message.includes('injected');
}
