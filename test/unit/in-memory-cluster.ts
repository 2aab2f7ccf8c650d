// A tiny in-memory harness for the Raft core tests: N RaftCore instances, a FIFO network the test
// steers by hand (cut links, hold messages, hold a node's disk), and a record of everything that came
// out of ready(). Persistence is immediate unless a node's disk is held back.
import { RaftCore, SeededRandom } from '../../src/raft/index.js';
import type {
  Entry,
  HardState,
  Message,
  NodeId,
  PersistedPosition,
  RaftOptionsInput,
  ReadState,
  Ready,
  Snapshot,
  SnapshotSource,
} from '../../src/raft/index.js';

export type CoreOptions = Partial<Omit<RaftOptionsInput, 'id' | 'random'>>;

/** A node's durable state at start; anything left out starts empty. */
export interface BootOverride {
  readonly hardState?: HardState;
  readonly entries?: readonly Entry[];
  readonly snapshot?: SnapshotSource | null;
}

export interface ClusterOptions {
  readonly size: number;
  readonly seed?: number;
  readonly core?: CoreOptions;
  readonly boot?: Readonly<Record<NodeId, BootOverride>>;
  /** The initial voters (all nodes by default); the others start outside the configuration, as spares to add. */
  readonly voters?: readonly NodeId[];
}

/** Work a held-back disk has not finished: the position to report and the messages that wait for it. */
interface HeldPersist {
  position: PersistedPosition | null;
  messages: Message[];
}

const ITERATIONS_MAX = 10_000;

export function nodeIds(size: number): NodeId[] {
  return Array.from({ length: size }, (_, i) => `n${i + 1}`);
}

export function commandEntry(index: number, term: number, text = `e${index}`): Entry {
  return { type: 'command', index, term, data: new TextEncoder().encode(text) };
}

/** Builds a log from a list of terms: entry i+1 has terms[i]. */
export function entriesWithTerms(terms: readonly number[]): Entry[] {
  return terms.map((term, i) => commandEntry(i + 1, term));
}

export function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

export function text(data: Uint8Array): string {
  return new TextDecoder().decode(data);
}

export function newCore(id: NodeId, voters: readonly NodeId[], options: CoreOptions = {}, boot: BootOverride = {}, seed = 1): RaftCore {
  return new RaftCore(
    { id, random: new SeededRandom(seed), ...options },
    {
      hardState: boot.hardState ?? { term: 0, votedFor: null, commitIndex: 0 },
      snapshot: boot.snapshot ?? null,
      entries: boot.entries ?? [],
      initialMembership: { voters, learners: [] },
    },
  );
}

export class InMemoryCluster {
  readonly ids: NodeId[];
  readonly nodes = new Map<NodeId, RaftCore>();
  /** Messages sent and not yet delivered, in order. */
  inFlight: Message[] = [];
  /** Every message any node ever sent, in order. */
  readonly sent: Message[] = [];
  /** Every message delivered to its target. */
  readonly delivered: Message[] = [];
  readonly applied = new Map<NodeId, Entry[]>();
  readonly readStates = new Map<NodeId, ReadState[]>();
  readonly installedSnapshots = new Map<NodeId, Snapshot[]>();
  readonly readies = new Map<NodeId, Ready[]>();
  /** Directed links that drop everything: `from->to`. */
  private readonly cut = new Set<string>();
  private readonly heldDisks = new Map<NodeId, HeldPersist>();

  constructor(options: ClusterOptions) {
    this.ids = nodeIds(options.size);
    const seed = options.seed ?? 1;
    this.ids.forEach((id, i) => {
      this.nodes.set(id, newCore(id, options.voters ?? this.ids, options.core, options.boot?.[id], seed * 1000 + i));
      this.applied.set(id, []);
      this.readStates.set(id, []);
      this.installedSnapshots.set(id, []);
      this.readies.set(id, []);
    });
  }

  node(id: NodeId): RaftCore {
    const core = this.nodes.get(id);
    if (core === undefined) throw new Error(`no node ${id}`);
    return core;
  }

  leader(): RaftCore | undefined {
    const leaders = [...this.nodes.values()].filter((core) => core.isLeader);
    const newestTerm = Math.max(0, ...leaders.map((core) => core.status().term));
    return leaders.find((core) => core.status().term === newestTerm);
  }

  appliedCommands(id: NodeId): string[] {
    return (this.applied.get(id) ?? []).flatMap((entry) => (entry.type === 'command' ? [text(entry.data)] : []));
  }

  // --- network faults -------------------------------------------------------

  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}->${to}`);
  }

  isolate(id: NodeId): void {
    for (const other of this.ids) {
      if (other === id) continue;
      this.cut.add(`${id}->${other}`);
      this.cut.add(`${other}->${id}`);
    }
  }

  heal(): void {
    this.cut.clear();
  }

  // --- disk -----------------------------------------------------------------

  /** From now on `id`'s persisted() report and its after-persist messages wait until releaseDisk(). */
  holdDisk(id: NodeId): void {
    if (!this.heldDisks.has(id)) this.heldDisks.set(id, { position: null, messages: [] });
  }

  releaseDisk(id: NodeId): void {
    const held = this.heldDisks.get(id);
    if (held === undefined) return;
    this.heldDisks.delete(id);
    if (held.position !== null) this.node(id).persisted(held.position);
    this.enqueue(held.messages);
  }

  // --- driving --------------------------------------------------------------

  /** Takes one Ready from `id` and carries it out. Returns whether there was anything. */
  process(id: NodeId): boolean {
    const core = this.node(id);
    if (!core.hasReady()) return false;
    const ready = core.ready();
    this.readies.get(id)?.push(ready);
    this.enqueue(ready.messages);
    let position: PersistedPosition | null = null;
    if (ready.snapshot !== null) {
      this.installedSnapshots.get(id)?.push(ready.snapshot);
      position = { index: ready.snapshot.meta.index, term: ready.snapshot.meta.term };
    }
    const last = ready.entries[ready.entries.length - 1];
    if (last !== undefined) position = { index: last.index, term: last.term };
    const held = this.heldDisks.get(id);
    if (held !== undefined) {
      if (position !== null) held.position = position;
      held.messages.push(...ready.messagesAfterPersist);
    } else {
      if (position !== null) core.persisted(position);
      this.enqueue(ready.messagesAfterPersist);
    }
    this.applied.get(id)?.push(...ready.committedEntries);
    this.readStates.get(id)?.push(...ready.readStates);
    return true;
  }

  processAll(): boolean {
    let any = false;
    for (let i = 0; i < ITERATIONS_MAX; i++) {
      let progressed = false;
      for (const id of this.ids) progressed = this.process(id) || progressed;
      if (!progressed) return any;
      any = true;
    }
    throw new Error('processAll did not settle');
  }

  /** Delivers every message now in flight (those matching `filter`, if given); the rest stay queued. */
  deliver(filter: (message: Message) => boolean = () => true): number {
    const batch = this.inFlight;
    this.inFlight = [];
    let count = 0;
    for (const message of batch) {
      if (!filter(message)) {
        this.inFlight.push(message);
        continue;
      }
      this.step(message);
      count++;
    }
    return count;
  }

  /** Drops every message in flight matching `filter` (all of them by default). */
  drop(filter: (message: Message) => boolean = () => true): Message[] {
    const dropped = this.inFlight.filter(filter);
    this.inFlight = this.inFlight.filter((message) => !filter(message));
    return dropped;
  }

  /** Processes and delivers until nothing moves (no ticks). */
  stabilize(): void {
    for (let i = 0; i < ITERATIONS_MAX; i++) {
      this.processAll();
      if (this.inFlight.length === 0) return;
      this.deliver();
    }
    throw new Error('cluster did not stabilize');
  }

  tick(id: NodeId, times = 1): void {
    for (let i = 0; i < times; i++) this.node(id).tick();
  }

  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const id of this.ids) this.node(id).tick();
      this.stabilize();
    }
  }

  /** Ticks only `id` until it starts an election, then lets the election run to its end. */
  campaign(id: NodeId): void {
    const core = this.node(id);
    const ticksMax = 2 * core.options.electionTicks;
    for (let i = 0; i < ticksMax && core.status().role === 'follower'; i++) core.tick();
    if (core.status().role === 'follower') throw new Error(`${id} did not campaign within ${ticksMax} ticks`);
    this.stabilize();
  }

  /** Elects `id` and lets its first entry (the no-op) commit everywhere reachable. */
  elect(id: NodeId): RaftCore {
    this.campaign(id);
    const core = this.node(id);
    if (!core.isLeader) throw new Error(`${id} did not win: ${JSON.stringify(core.status())}`);
    return core;
  }

  private step(message: Message): void {
    if (this.cut.has(`${message.from}->${message.to}`)) return;
    const target = this.nodes.get(message.to);
    if (target === undefined) return;
    this.delivered.push(message);
    target.step(message);
  }

  private enqueue(messages: readonly Message[]): void {
    for (const message of messages) {
      this.sent.push(message);
      this.inFlight.push(message);
    }
  }
}
