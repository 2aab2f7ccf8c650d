// Known Raft bugs the simulator must catch (issue 13, item 2). Each is a source patch applied to a temporary
// copy of the repository by run.ts, so src/ carries no test switches. A patch must match its file exactly
// once: a refactor that breaks one makes the suite fail loudly instead of silently testing nothing.
import type { FamilyName } from '../sim/replay.js';

export interface Mutation {
  /** Short kebab-case name, used on the command line and in the table. */
  readonly name: string;
  /** Path from the repository root. */
  readonly file: string;
  /** Exact text that must occur once in `file`. */
  readonly find: string;
  readonly replace: string;
  readonly description: string;
  /** The simulator families whose seeds hunt it, in turn (the ones built for this kind of bug). */
  readonly families: readonly FamilyName[];
  /** A chaos scenario that must fail too, with the mutation built into a real cluster. */
  readonly scenario?: string;
}

export const MUTATIONS: readonly Mutation[] = [
  {
    name: 'commit-earlier-term',
    file: 'src/raft/raft.ts',
    find: "    if (this.log.termAt(candidate) !== this.term) return; // never commit an older term's entry by counting replicas\n",
    replace: '',
    description: 'commits an entry of an earlier term by counting replicas (Figure 8: no current-term check in maybeCommit)',
    families: ['membership', 'readers', 'lossy', 'mixed'],
  },
  {
    name: 'vote-twice',
    file: 'src/raft/raft.ts',
    find: '(this.votedFor === null && this.leaderId === null)',
    replace: '(this.leaderId === null)',
    description: 'grants a vote in a term although votedFor names another candidate',
    families: ['mixed', 'lossy', 'readers', 'membership', 'elections'],
  },
  {
    name: 'read-without-confirmation',
    file: 'src/raft/raft.ts',
    find:
      '    // All reads admitted before the next ready() share one heartbeat round.\n' +
      '    this.pendingReads.push({ context, index: this.commitIndex, round: this.round + 1 });\n' +
      '    this.roundRequested = true;\n',
    replace: '    this.readStates.push({ context, index: this.commitIndex });\n',
    description: 'a leader answers a read at once, without a quorum confirming it still leads (no ReadIndex round)',
    families: ['readers'],
    scenario: 'scenarios/stale-read.yaml',
  },
  {
    name: 'skip-log-matching',
    file: 'src/raft/raft.ts',
    find: '    if (!this.log.matchTerm(request.prevLogIndex, request.prevLogTerm)) {\n      this.rejectAppend(request);',
    replace: '    if (request.prevLogIndex > this.log.lastIndex) {\n      this.rejectAppend(request);',
    description: 'a follower accepts AppendRequest entries whatever prevLogTerm (only checks that prevLogIndex exists)',
    families: ['mixed', 'lossy', 'readers', 'membership'],
  },
  {
    name: 'vote-not-persisted',
    file: 'src/raft/raft.ts',
    find: '{ term: this.term, votedFor: this.votedFor, commitIndex: Math.min(this.commitIndex, this.stableIndex) }',
    replace: '{ term: this.term, votedFor: null, commitIndex: Math.min(this.commitIndex, this.stableIndex) }',
    description: 'the hard state is written with votedFor null, so a restarted node forgets its vote',
    families: ['elections'],
  },
  {
    name: 'apply-before-commit',
    file: 'src/raft/raft.ts',
    find: '  private applicableIndex(): number {\n    return Math.min(this.commitIndex, this.stableIndex);\n  }',
    replace: '  private applicableIndex(): number {\n    return this.log.lastIndex;\n  }',
    description: 'entries are handed out to apply up to the last log index, not the commit index',
    families: ['mixed', 'lossy', 'lossy-everywhere', 'readers', 'membership'],
  },
  {
    name: 'membership-without-term-barrier',
    file: 'src/raft/raft.ts',
    find: "    if (!this.committedInCurrentTerm()) return this.refuse('config-change-in-progress');\n",
    replace: '',
    description:
      "a new leader appends a configuration before an entry of its own term has committed, beside an earlier leader's uncommitted one",
    families: ['membership'],
  },
  {
    name: 'learners-in-quorum',
    file: 'src/raft/raft.ts',
    find: '    const voters = this.membership.voters;\n',
    replace: '    const voters = [...this.membership.voters, ...this.membership.learners];\n',
    description: "a leader counts its learners' matches in the commit quorum, so an entry may commit on a minority of the voters",
    families: ['membership'],
  },
  {
    name: 'no-fsync',
    file: 'src/storage/wal.ts',
    find: '    this.unsyncedBytes = 0;\n    this.active.sync();\n',
    replace: '    this.unsyncedBytes = 0;\n',
    description:
      "the WAL's blocking sync (what the simulator's disk completion calls) never fsyncs; FaultyFileSystem loses unsynced writes on a crash",
    families: ['mixed', 'lossy', 'readers', 'membership'],
  },
  {
    name: 'fsync-error-retried',
    file: 'src/node/raft-node.ts',
    find: '        if (error !== null) this.fatal = error;\n        else if (seq > this.durableSeq) this.durableSeq = seq;\n',
    replace: '        if (seq > this.durableSeq) this.durableSeq = seq;\n',
    description:
      'a failed fsync is taken as done and the node goes on ("fsyncgate"): the writes it was to make durable were dropped, and a crash loses what the node acknowledged',
    families: ['disks'],
  },
  {
    name: 'torn-tail-swallows-rot',
    file: 'src/storage/wal.ts',
    find: ': recordWrittenWhole(data, offset)',
    replace: ': false && recordWrittenWhole(data, offset)',
    description:
      'recovery takes a last record that was written whole and then rotted for a torn write, and cuts it: the node forgets entries (or a vote) it acknowledged',
    families: ['disks'],
  },
];

/** Known bugs the suite cannot inject yet, and why (none at present: each entry is printed under the table). */
export const NOT_COVERED: readonly { readonly name: string; readonly reason: string }[] = [];
