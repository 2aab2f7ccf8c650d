import type { RaftCore } from '../../src/raft/raft.js';
import type { Entry, NodeId } from '../../src/raft/types.js';

/** The five safety properties of Raft (Figure 3) plus linearizable reads. */
export type SafetyProperty =
  'election-safety' | 'leader-append-only' | 'log-matching' | 'leader-completeness' | 'state-machine-safety' | 'linearizable-reads';

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
      return `config@${entry.term}:${entry.membership.voters.join(',')}`;
  }
}

interface LeaderWatch {
  readonly term: number;
  lastIndex: number;
  lastTerm: number;
}

/**
 * Checks the Raft safety properties incrementally, at the points where they could first break:
 *  - election safety when a node becomes leader;
 *  - leader completeness when a node becomes leader (its log holds every committed entry);
 *  - log matching when entries enter any log (same index and term => same entry and same predecessor);
 *  - leader append-only after every step of a leader;
 *  - state machine safety on every apply;
 *  - linearizable reads on every read response (see ReadWriteRegister).
 */
export class SafetyChecker {
  private readonly leaders = new Map<number, NodeId>();
  /** index -> identity of the entry applied there (first application anywhere). */
  private readonly applied = new Map<number, string>();
  /**
   * index -> an upper bound on the term in which it was committed: the applying node's term at the first
   * application. Leader Completeness binds only leaders of later terms; a candidate of an older term may
   * still win with votes granted before the commit and delivered late, and that is not a violation.
   */
  private readonly commitTerms = new Map<number, number>();
  private maxApplied = 0;
  /** "index:term" -> identity and the term of its predecessor. */
  private readonly logEntries = new Map<string, string>();
  private readonly watches = new Map<NodeId, LeaderWatch>();

  onBecameLeader(core: RaftCore): void {
    const { term, id } = core.status();
    const previous = this.leaders.get(term);
    if (previous !== undefined && previous !== id) {
      throw new SafetyViolation('election-safety', `term ${term} has two leaders: ${previous} and ${id}`);
    }
    this.leaders.set(term, id);
    this.checkCompleteness(core);
    this.watches.set(id, { term, lastIndex: core.log.lastIndex, lastTerm: core.log.lastTerm });
  }

  /** Every committed (applied anywhere) entry above the leader's snapshot is in its log. */
  private checkCompleteness(core: RaftCore): void {
    const log = core.log;
    const term = core.status().term;
    for (let index = log.snapshotIndex + 1; index <= this.maxApplied; index++) {
      const committed = this.applied.get(index);
      if (committed === undefined) continue; // only ever applied from snapshots so far
      if ((this.commitTerms.get(index) as number) >= term) continue;
      const entry = log.entryAt(index);
      if (entry === undefined || entryIdentity(entry) !== committed) {
        throw new SafetyViolation(
          'leader-completeness',
          `leader ${core.id} of term ${term} lacks committed entry ${index} (${committed}); has ${entry === undefined ? 'nothing' : entryIdentity(entry)}`,
        );
      }
    }
  }

  /** Entries handed out for persistence: the moment they entered this node's log. */
  onEntriesAppended(node: NodeId, entries: readonly Entry[], termBefore: number): void {
    let prevTerm = termBefore;
    for (const entry of entries) {
      const key = `${entry.index}:${entry.term}`;
      const value = `${entryIdentity(entry)}|${prevTerm}`;
      const known = this.logEntries.get(key);
      if (known === undefined) this.logEntries.set(key, value);
      else if (known !== value) {
        throw new SafetyViolation('log-matching', `${node} has ${key} = ${value}, another log has ${known}`);
      }
      prevTerm = entry.term;
    }
  }

  onApplied(node: NodeId, entry: Entry, nodeTerm: number): void {
    const identity = entryIdentity(entry);
    const known = this.applied.get(entry.index);
    if (known === undefined) {
      this.applied.set(entry.index, identity);
      this.commitTerms.set(entry.index, nodeTerm);
      if (entry.index > this.maxApplied) this.maxApplied = entry.index;
    } else if (known !== identity) {
      throw new SafetyViolation('state-machine-safety', `${node} applied ${identity} at ${entry.index}, another node applied ${known}`);
    }
  }

  appliedIdentity(index: number): string | undefined {
    return this.applied.get(index);
  }

  /** While a node stays leader of one term, its log only grows: the last entry it had is still there. */
  afterStep(core: RaftCore): void {
    const watch = this.watches.get(core.id);
    if (watch === undefined) return;
    const status = core.status();
    if (status.role !== 'leader' || status.term !== watch.term) {
      this.watches.delete(core.id);
      return;
    }
    const log = core.log;
    if (log.lastIndex < watch.lastIndex || (watch.lastIndex >= log.snapshotIndex && log.termAt(watch.lastIndex) !== watch.lastTerm)) {
      throw new SafetyViolation('leader-append-only', `leader ${core.id} of term ${watch.term} lost or changed entry ${watch.lastIndex}`);
    }
    watch.lastIndex = log.lastIndex;
    watch.lastTerm = log.lastTerm;
  }

  forget(node: NodeId): void {
    this.watches.delete(node);
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
