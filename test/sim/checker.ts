import type { RaftCore, RaftStatus } from '../../src/raft/raft.js';
import type { Entry, NodeId } from '../../src/raft/types.js';

/** The five safety properties of Raft (Figure 3), a commit index that never goes back, and linearizable reads. */
export type SafetyProperty =
  | 'election-safety'
  | 'leader-append-only'
  | 'log-matching'
  | 'leader-completeness'
  | 'state-machine-safety'
  | 'commit-monotonic'
  | 'linearizable-reads';

export class SafetyViolation extends Error {
  constructor(
    readonly property: SafetyProperty,
    detail: string,
  ) {
    super(`${property}: ${detail}`);
    this.name = 'SafetyViolation';
  }
}

const decoder = new TextDecoder();

/** A short, unique name for an entry's content: the same index and name mean the same entry. */
export function entryIdentity(entry: Entry): string {
  switch (entry.type) {
    case 'command':
      return `c:${decoder.decode(entry.data)}`;
    case 'noop':
      return `noop@${entry.term}`;
    case 'config':
      return `config@${entry.term}:${entry.membership.voters.join(',')}/${entry.membership.learners.join(',')}`;
  }
}

/** What the checker last saw of one node incarnation, so each step looks only at what changed. */
interface NodeView {
  readonly incarnation: number;
  /** mirror[index] is the entry object the log held there at the last step (entries are never mutated). */
  readonly mirror: (Entry | undefined)[];
  /** The term it led at the last step, or -1. */
  leaderTerm: number;
  lastIndex: number;
  /** Entries up to here have been compared with the committed entries. */
  commitChecked: number;
  commitIndex: number;
}

/** The part of a node's state the checker reads after every step. */
export interface ObservedNode {
  readonly id: NodeId;
  readonly incarnation: number;
  readonly core: RaftCore;
}

/**
 * Checks the Raft safety properties from the nodes' actual state after every simulator step. Each step costs
 * what changed: a log is compared with what the checker saw of it by scanning back from its end only while
 * the entry objects differ (entries are immutable, so an unchanged suffix is the same objects).
 *  - election safety: at most one leader per term, ever, and a voter of its own configuration when it wins
 *    (learners never campaign; quorums are counted over voters only);
 *  - log matching: every (index, term) ever held by any log names one entry with one predecessor term, so
 *    two logs that share an (index, term) share the entry and, by induction, the whole prefix;
 *  - leader append-only: while a node leads one term, no entry it held changes and its log never shrinks;
 *  - commit monotonic: a node's commit index never decreases within an incarnation; a recovered one is at
 *    most the highest the node ever had (the durable hint is min(commit, stable)) and is re-checked below;
 *  - state machine safety: every entry at or below any node's commit index is the one committed there;
 *  - leader completeness: every leader holds every entry committed in an earlier term. An entry's commit
 *    term is bounded by the term of a node whose commit index covers it (it learned the commit from a
 *    leader of at most its own term); leaders of that term or older are not bound by it, as a candidate
 *    may still win with votes granted before the commit.
 */
export class SafetyChecker {
  private readonly leaders = new Map<number, NodeId>();
  /** "index:term" -> identity of the entry and the term of its predecessor, for every entry ever in a log. */
  private readonly logEntries = new Map<string, string>();
  /** index -> the entry committed there (its term and identity). */
  private readonly committed = new Map<number, Entry>();
  /** index -> the lowest term of any node seen with a commit index covering it. */
  private readonly commitTerms = new Map<number, number>();
  private maxCommitted = 0;
  /** identities of committed commands, so a client's write can be found committed. */
  private readonly committedIdentities = new Set<string>();
  private readonly views = new Map<NodeId, NodeView>();
  /** The highest commit index each node ever had, across incarnations. */
  private readonly commitEver = new Map<NodeId, number>();
  /** index -> identity of the entry applied there (first application anywhere). */
  private readonly applied = new Map<number, string>();
  /** The running nodes that lead, as of their last check. */
  private readonly currentLeaders = new Map<NodeId, RaftCore>();
  /** Decoding a command is the costliest part of a check: each entry object is named once. */
  private readonly identities = new WeakMap<Entry, string>();

  /**
   * After every step: check the nodes the step could have changed (the simulator passes every node an event
   * touched; a node's state changes only through its own events, as messages between nodes are events too).
   */
  afterStep(nodes: readonly ObservedNode[]): void {
    for (const node of nodes) this.checkNode(node, node.core.status());
  }

  /** A crashed node leads nothing any more. */
  nodeStopped(id: NodeId): void {
    this.currentLeaders.delete(id);
  }

  private identityOf(entry: Entry): string {
    let identity = this.identities.get(entry);
    if (identity === undefined) {
      identity = entryIdentity(entry);
      this.identities.set(entry, identity);
    }
    return identity;
  }

  private checkNode(node: ObservedNode, status: RaftStatus): void {
    let view = this.views.get(node.id);
    if (view === undefined || view.incarnation !== node.incarnation) {
      const ever = this.commitEver.get(node.id) ?? 0;
      if (status.commitIndex > ever) {
        throw new SafetyViolation(
          'commit-monotonic',
          `${node.id} recovered commit index ${status.commitIndex}, above the highest it ever had (${ever})`,
        );
      }
      view = {
        incarnation: node.incarnation,
        mirror: [],
        leaderTerm: -1,
        lastIndex: 0,
        commitChecked: status.snapshotIndex,
        commitIndex: 0,
      };
      this.views.set(node.id, view);
    } else if (status.commitIndex < view.commitIndex) {
      throw new SafetyViolation('commit-monotonic', `${node.id} commit index went back from ${view.commitIndex} to ${status.commitIndex}`);
    }
    const leading = status.role === 'leader' ? status.term : -1;
    if (leading !== -1) {
      this.checkElection(status.term, node.id);
      // Only a voter wins an election: a leader first seen in its term is a voter of its own configuration (a
      // learner, or a node outside it, never campaigns), or a voter of the one before that a configuration not
      // yet committed removes (thesis 4.2.2: it may still be needed, and wins without its own vote). Later in
      // the term it may remove itself.
      if (leading !== view.leaderTerm && !status.membership.voters.includes(node.id) && !removedByUncommitted(node.core)) {
        throw new SafetyViolation('election-safety', `${node.id} leads term ${leading} but is no voter of its configuration`);
      }
      this.currentLeaders.set(node.id, node.core);
    } else this.currentLeaders.delete(node.id);
    const firstChanged = this.checkLogChanges(node, view);
    if (leading !== -1 && leading === view.leaderTerm && (firstChanged <= view.lastIndex || status.lastIndex < view.lastIndex)) {
      throw new SafetyViolation(
        'leader-append-only',
        `leader ${node.id} of term ${leading} changed its log from index ${firstChanged} (last was ${view.lastIndex}, now ${status.lastIndex})`,
      );
    }
    this.checkCommitted(node, view, status.commitIndex, status.term, status.snapshotIndex);
    if (leading !== -1 && leading !== view.leaderTerm) this.checkCompleteness(node.core, leading);
    view.leaderTerm = leading;
    view.lastIndex = status.lastIndex;
    view.commitIndex = status.commitIndex;
    if (status.commitIndex > (this.commitEver.get(node.id) ?? 0)) this.commitEver.set(node.id, status.commitIndex);
  }

  private checkElection(term: number, id: NodeId): void {
    const previous = this.leaders.get(term);
    if (previous === undefined) this.leaders.set(term, id);
    else if (previous !== id) throw new SafetyViolation('election-safety', `term ${term} has two leaders: ${previous} and ${id}`);
  }

  /** Checks the entries that differ from the last step; returns the first index that changed (lastIndex + 1 if none). */
  private checkLogChanges(node: ObservedNode, view: NodeView): number {
    const log = node.core.log;
    const mirror = view.mirror;
    let index = log.lastIndex;
    while (index > log.snapshotIndex && log.entryAt(index) !== mirror[index]) index--;
    const firstChanged = index + 1;
    for (let changed = firstChanged; changed <= log.lastIndex; changed++) {
      const entry = log.entryAt(changed) as Entry;
      const key = `${changed}:${entry.term}`;
      const value = `${this.identityOf(entry)}|${log.termAt(changed - 1) ?? -1}`;
      const known = this.logEntries.get(key);
      if (known === undefined) this.logEntries.set(key, value);
      else if (known !== value) throw new SafetyViolation('log-matching', `${node.id} has ${key} = ${value}, another log has ${known}`);
      mirror[changed] = entry;
    }
    if (mirror.length !== log.lastIndex + 1) mirror.length = log.lastIndex + 1;
    return firstChanged;
  }

  /** Entries newly covered by the node's commit index are the committed ones (recording them when first seen). */
  private checkCommitted(node: ObservedNode, view: NodeView, commitIndex: number, term: number, snapshotIndex: number): void {
    if (view.commitChecked < snapshotIndex) view.commitChecked = snapshotIndex; // compacted: its snapshot state is checked on install
    const log = node.core.log;
    for (let index = view.commitChecked + 1; index <= commitIndex; index++) {
      const entry = log.entryAt(index) as Entry;
      const known = this.committed.get(index);
      if (known === undefined) {
        this.committed.set(index, entry);
        this.committedIdentities.add(this.identityOf(entry));
        if (index > this.maxCommitted) this.maxCommitted = index;
      } else if (known.term !== entry.term) {
        // The same index and term is the same entry: log matching has held every logged entry to that.
        throw new SafetyViolation(
          'state-machine-safety',
          `${node.id} has ${this.identityOf(entry)} committed at ${index}, another node committed ${this.identityOf(known)}`,
        );
      }
      const bound = this.commitTerms.get(index);
      if (bound === undefined || term < bound) {
        this.commitTerms.set(index, term);
        for (const leader of this.currentLeaders.values()) this.checkCompletenessAt(leader, index);
      }
    }
    if (commitIndex > view.commitChecked) view.commitChecked = commitIndex;
  }

  /** A new leader: every entry committed in an earlier term above its snapshot is in its log. */
  private checkCompleteness(core: RaftCore, term: number): void {
    for (let index = core.log.snapshotIndex + 1; index <= this.maxCommitted; index++) this.checkCompletenessAt(core, index, term);
  }

  private checkCompletenessAt(core: RaftCore, index: number, term = core.status().term): void {
    const committed = this.committed.get(index);
    const commitTerm = this.commitTerms.get(index);
    if (committed === undefined || commitTerm === undefined || commitTerm >= term || index <= core.log.snapshotIndex) return;
    const entry = core.log.entryAt(index);
    if (entry === undefined || entry.term !== committed.term) {
      throw new SafetyViolation(
        'leader-completeness',
        `leader ${core.id} of term ${term} lacks entry ${index} (${this.identityOf(committed)}) committed by term ${commitTerm}; has ${entry === undefined ? 'nothing' : this.identityOf(entry)}`,
      );
    }
  }

  /** An applied entry is the one every other node applied at its index. */
  onApplied(node: NodeId, entry: Entry): void {
    const identity = entryIdentity(entry);
    const known = this.applied.get(entry.index);
    if (known === undefined) {
      this.applied.set(entry.index, identity);
      this.committedIdentities.add(identity); // applied means committed, even if compacted before a step saw it
    } else if (known !== identity) {
      throw new SafetyViolation('state-machine-safety', `${node} applied ${identity} at ${entry.index}, another node applied ${known}`);
    }
  }

  /** Whether an entry with this identity was ever committed (commands are unique). */
  isCommitted(identity: string): boolean {
    return this.committedIdentities.has(identity);
  }

  get leaderCount(): number {
    return this.leaders.size;
  }
}

/**
 * Linearizability of reads and writes on a register whose value is the applied log prefix: a read returns the
 * index the serving node had applied. Writes are totally ordered by their log index, so the history is
 * linearizable iff every operation lands after every operation that completed before it was invoked:
 * a read returns at least, and a write is placed after, the highest index completed before its invocation.
 */
export class ReadWriteRegister {
  /** The highest index any completed operation has observed or written. */
  private floor = 0;
  completedReads = 0;
  completedWrites = 0;

  invoke(): number {
    return this.floor;
  }

  readCompleted(value: number, floorAtInvoke: number, detail: string): void {
    if (value < floorAtInvoke) {
      throw new SafetyViolation(
        'linearizable-reads',
        `read returned index ${value} but ${floorAtInvoke} had completed before it began (${detail})`,
      );
    }
    this.completedReads++;
    if (value > this.floor) this.floor = value;
  }

  writeCompleted(index: number, floorAtInvoke: number, detail: string): void {
    if (index <= floorAtInvoke) {
      throw new SafetyViolation(
        'linearizable-reads',
        `write placed at ${index}, not after ${floorAtInvoke} completed before it began (${detail})`,
      );
    }
    this.completedWrites++;
    if (index > this.floor) this.floor = index;
  }
}

/** A voter of the previous configuration that the configuration in force, not yet committed, removes. */
function removedByUncommitted(core: RaftCore): boolean {
  const index = core.configurationIndex;
  return index > core.committed && core.log.latestMembership(index - 1).membership.voters.includes(core.options.id);
}
