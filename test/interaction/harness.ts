// An in-memory cluster of RaftCore instances wired by hand, for the interaction scripts.
//  - network: one FIFO inbox per node; nothing moves until a script delivers it; cut links drop on delivery;
//  - storage: per node, exactly what process-ready wrote (hard state, entries, snapshot), so `restart`
//    rebuilds a core from what was persisted and forgets everything else;
//  - state machine: the list of applied command strings, with their indexes, so `compact` can snapshot it.
// Every node draws its election timeouts from a SeededRandom derived from the script's seed.
import assert from 'node:assert/strict';
import { memorySnapshotSource, RaftCore, SeededRandom } from '../../src/raft/index.js';
import type {
  Entry,
  HardState,
  Membership,
  Message,
  MessageType,
  NodeId,
  PersistedPosition,
  RaftOptionsInput,
  Ready,
  Snapshot,
} from '../../src/raft/index.js';

export type CoreOptions = Partial<Omit<RaftOptionsInput, 'id' | 'random'>>;

const EMPTY_HARD_STATE: HardState = { term: 0, votedFor: null, commitIndex: 0 };

/** What one node has made durable. Written only by process-ready (and compact), read only by restart. */
export class MemoryStorage {
  hardState: HardState = EMPTY_HARD_STATE;
  snapshot: Snapshot | null = null;
  entries: Entry[] = [];

  /** Writes a Ready in the order its doc comment gives; returns the position to report as persisted. */
  write(ready: Ready): PersistedPosition | null {
    let position: PersistedPosition | null = null;
    if (ready.snapshot !== null) {
      this.snapshot = ready.snapshot;
      this.entries = []; // an installed snapshot replaces the whole log
      position = { index: ready.snapshot.meta.index, term: ready.snapshot.meta.term };
    }
    if (ready.hardState !== null) this.hardState = ready.hardState;
    const first = ready.entries[0];
    const last = ready.entries[ready.entries.length - 1];
    if (first !== undefined && last !== undefined) {
      this.entries = this.entries.filter((entry) => entry.index < first.index);
      this.entries.push(...ready.entries);
      position = { index: last.index, term: last.term };
    }
    return position;
  }

  /** Keeps a snapshot taken locally and drops the entries it covers. */
  compact(snapshot: Snapshot): void {
    this.snapshot = snapshot;
    this.entries = this.entries.filter((entry) => entry.index > snapshot.meta.index);
  }
}

interface AppliedCommand {
  readonly index: number;
  readonly command: string;
}

/** The trivial state machine: the applied commands in order. A snapshot is the JSON of that list. */
export class CommandRecorder {
  appliedIndex = 0;
  private commands: AppliedCommand[] = [];

  get applied(): readonly string[] {
    return this.commands.map((c) => c.command);
  }

  apply(entries: readonly Entry[]): void {
    for (const entry of entries) {
      assert.equal(entry.index, this.appliedIndex + 1, `applied out of order: ${entry.index} after ${this.appliedIndex}`);
      if (entry.type === 'command') this.commands.push({ index: entry.index, command: decodeCommand(entry.data) });
      this.appliedIndex = entry.index;
    }
  }

  snapshotData(index: number): Uint8Array {
    assert.ok(index <= this.appliedIndex, `snapshot at ${index} beyond applied ${this.appliedIndex}`);
    return new TextEncoder().encode(JSON.stringify(this.commands.filter((c) => c.index <= index).map((c) => [c.index, c.command])));
  }

  restore(snapshot: Snapshot | null): void {
    this.commands = [];
    this.appliedIndex = snapshot?.meta.index ?? 0;
    if (snapshot === null) return;
    const pairs = JSON.parse(new TextDecoder().decode(snapshot.data)) as [number, string][];
    this.commands = pairs.map(([index, command]) => ({ index, command }));
  }
}

export function encodeCommand(command: string): Uint8Array {
  return new TextEncoder().encode(command);
}

export function decodeCommand(data: Uint8Array): string {
  return new TextDecoder().decode(data);
}

export interface InteractionNode {
  readonly id: NodeId;
  core: RaftCore;
  readonly storage: MemoryStorage;
  readonly stateMachine: CommandRecorder;
  restarts: number;
}

export interface ProcessedReady {
  readonly ready: Ready;
  readonly persisted: PersistedPosition | null;
}

export interface Delivery {
  readonly message: Message;
  readonly dropped: boolean;
}

export class InteractionCluster {
  private readonly nodes = new Map<NodeId, InteractionNode>();
  private readonly inboxes = new Map<NodeId, Message[]>();
  private readonly cutLinks = new Set<string>();
  private readonly membership: Membership;

  constructor(
    size: number,
    private readonly seed: number,
    private readonly options: CoreOptions,
  ) {
    assert.ok(size >= 1, 'a cluster needs a node');
    this.membership = { voters: Array.from({ length: size }, (_, i) => `n${i + 1}`), learners: [] };
    for (const id of this.membership.voters) {
      const storage = new MemoryStorage();
      this.nodes.set(id, { id, core: this.bootCore(id, storage, 0), storage, stateMachine: new CommandRecorder(), restarts: 0 });
      this.inboxes.set(id, []);
    }
  }

  get ids(): readonly NodeId[] {
    return this.membership.voters;
  }

  node(id: NodeId): InteractionNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`unknown node ${id}`);
    return node;
  }

  inbox(id: NodeId): readonly Message[] {
    return this.inboxes.get(id) ?? [];
  }

  /** Takes a Ready, persists it at once, applies what committed, queues the messages, reports persisted(). */
  processReady(id: NodeId): ProcessedReady {
    const node = this.node(id);
    const ready = node.core.ready();
    const persisted = node.storage.write(ready);
    if (ready.snapshot !== null) node.stateMachine.restore(ready.snapshot);
    node.stateMachine.apply(ready.committedEntries);
    for (const message of [...ready.messages, ...ready.messagesAfterPersist]) this.enqueue(message);
    if (persisted !== null) node.core.persisted(persisted);
    return { ready, persisted };
  }

  /** Steps the queued messages to `to` (optionally only one type) into its core; messages over a cut link are dropped. */
  deliver(to: NodeId, type?: MessageType): Delivery[] {
    const node = this.node(to);
    const deliveries: Delivery[] = [];
    for (const message of this.take(to, type)) {
      const dropped = this.isCut(message.from, message.to);
      if (!dropped) node.core.step(message);
      deliveries.push({ message, dropped });
    }
    return deliveries;
  }

  /** Discards the queued messages to `to` (optionally only one type). */
  drop(to: NodeId, type?: MessageType): Message[] {
    return this.take(to, type);
  }

  cut(a: NodeId, b: NodeId): void {
    assert.notEqual(a, b, 'a node cannot be cut from itself');
    this.cutLinks.add(linkKey(a, b));
  }

  heal(): void {
    this.cutLinks.clear();
  }

  isCut(a: NodeId, b: NodeId): boolean {
    return this.cutLinks.has(linkKey(a, b));
  }

  /** Takes a snapshot of the node's state machine at `index` and compacts its log up to there. */
  compact(id: NodeId, index: number): Snapshot {
    const node = this.node(id);
    const term = node.core.log.termAt(index);
    if (term === undefined) throw new Error(`${id} has no entry ${index} to compact to`);
    const snapshot: Snapshot = {
      meta: { index, term, membership: node.core.log.latestMembership(index).membership },
      data: node.stateMachine.snapshotData(index),
    };
    node.core.compact(memorySnapshotSource(snapshot));
    node.storage.compact(snapshot);
    return snapshot;
  }

  /** A crash and restart: the new core knows only what storage holds; the state machine restarts from the snapshot. */
  restart(id: NodeId): void {
    const node = this.node(id);
    node.restarts++;
    node.core = this.bootCore(id, node.storage, node.restarts);
    node.stateMachine.restore(node.storage.snapshot);
  }

  private bootCore(id: NodeId, storage: MemoryStorage, restarts: number): RaftCore {
    const nodeNumber = this.membership.voters.indexOf(id) + 1;
    const random = new SeededRandom(this.seed * 1_000_003 + nodeNumber * 1009 + restarts);
    return new RaftCore(
      { ...this.options, id, random },
      {
        hardState: storage.hardState,
        snapshot: storage.snapshot === null ? null : memorySnapshotSource(storage.snapshot),
        entries: [...storage.entries],
        initialMembership: this.membership,
      },
    );
  }

  private enqueue(message: Message): void {
    const inbox = this.inboxes.get(message.to);
    if (inbox === undefined) throw new Error(`message to unknown node ${message.to}`);
    inbox.push(message);
  }

  private take(to: NodeId, type: MessageType | undefined): Message[] {
    const inbox = this.inboxes.get(to);
    if (inbox === undefined) throw new Error(`unknown node ${to}`);
    const taken = inbox.filter((m) => type === undefined || m.type === type);
    this.inboxes.set(
      to,
      inbox.filter((m) => !(type === undefined || m.type === type)),
    );
    return taken;
  }
}

function linkKey(a: NodeId, b: NodeId): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}
