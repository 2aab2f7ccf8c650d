import { invariant } from './invariant.js';

/**
 * The leader's view of one follower (etcd's Progress, thesis 10.2): how far it matches, what to send next,
 * and the flow-control state.
 *  - probe: one AppendRequest at a time until the follower's position is known;
 *  - replicate: optimistic pipelining, bounded by a window of in-flight messages and bytes;
 *  - snapshot: the follower needs a snapshot; chunks go one at a time.
 */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** In probe state: an AppendRequest is out and unanswered; cleared by any answer or by the next heartbeat. */
  probeSent = false;
  /** Heard from since the last CheckQuorum round. */
  recentActive = false;
  /** The highest heartbeat round this follower has echoed in this term. */
  ackedRound = 0;
  /** The commit index last told to this follower. */
  commitSent = 0;
  /** In snapshot state: which snapshot, and how many bytes of it the follower has. */
  snapshotIndex = 0;
  snapshotOffsetBytes = 0;
  // The AppendRequests in flight occupy slots [inflightHead, inflightTail) of three parallel arrays,
  // oldest first. Messages are sent and freed on every round trip, so none gets an object of its own,
  // and freed slots are reused by rewinding rather than by truncating the arrays, which would drop their
  // backing stores only to grow them again on the next send.
  /** The last index each message carried. */
  private readonly inflightLastIndex: number[] = [];
  /** The bytes of entries each message carried. */
  private readonly inflightEntryBytes: number[] = [];
  /** The heartbeat round current when each message was sent. */
  private readonly inflightRound: number[] = [];
  private inflightHead = 0;
  private inflightTail = 0;
  private inflightBytes = 0;

  constructor(next: number) {
    this.next = next;
  }

  get inflightCount(): number {
    return this.inflightTail - this.inflightHead;
  }

  isPaused(messagesMax: number, bytesMax: number): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflightCount >= messagesMax || this.inflightBytes >= bytesMax;
      case 'snapshot':
        return true;
    }
  }

  becomeProbe(): void {
    // After a snapshot the follower is known to hold everything up to it.
    const next = this.state === 'snapshot' ? Math.max(this.match, this.snapshotIndex) + 1 : this.match + 1;
    this.resetState('probe');
    this.next = next;
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState('snapshot');
    this.snapshotIndex = snapshotIndex;
    this.snapshotOffsetBytes = 0;
  }

  /** Records a successful append up to `index`. Returns whether the match advanced. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (index > this.match) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    this.freeInflightTo(index);
    return updated;
  }

  /** Records that entries up to `lastIndex` were sent (optimistically advancing `next` when replicating). */
  sentEntries(lastIndex: number, bytes: number, round: number): void {
    if (this.state === 'replicate') {
      this.next = lastIndex + 1;
      const slot = this.inflightTail++;
      this.inflightLastIndex[slot] = lastIndex;
      this.inflightEntryBytes[slot] = bytes;
      this.inflightRound[slot] = round;
      this.inflightBytes += bytes;
    } else {
      invariant(this.state === 'probe', 'entries sent in snapshot state');
      this.probeSent = true;
    }
  }

  /**
   * The follower has answered a heartbeat round started after our oldest unanswered append was sent: on an
   * ordered link that append (or its answer) was lost. Where links reorder, a false alarm costs one resend.
   */
  isStalled(): boolean {
    return this.inflightHead < this.inflightTail && this.ackedRound > (this.inflightRound[this.inflightHead] as number);
  }

  private freeInflightTo(index: number): void {
    while (this.inflightHead < this.inflightTail && (this.inflightLastIndex[this.inflightHead] as number) <= index) {
      this.inflightBytes -= this.inflightEntryBytes[this.inflightHead] as number;
      this.inflightHead++;
    }
    // Rewind once freed slots outnumber live ones: the arrays then never exceed twice the window, even
    // when it never drains, and the copying costs O(1) per freed message. A drained window copies nothing.
    if (this.inflightHead >= this.inflightTail - this.inflightHead) this.rewindInflight();
  }

  private rewindInflight(): void {
    const live = this.inflightTail - this.inflightHead;
    for (let slot = 0; slot < live; slot++) {
      this.inflightLastIndex[slot] = this.inflightLastIndex[this.inflightHead + slot] as number;
      this.inflightEntryBytes[slot] = this.inflightEntryBytes[this.inflightHead + slot] as number;
      this.inflightRound[slot] = this.inflightRound[this.inflightHead + slot] as number;
    }
    this.inflightHead = 0;
    this.inflightTail = live;
  }

  /** Empties the window; slots beyond the tail keep stale numbers that are never read. */
  private clearInflight(): void {
    this.inflightHead = 0;
    this.inflightTail = 0;
    this.inflightBytes = 0;
  }

  private resetState(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.snapshotIndex = 0;
    this.snapshotOffsetBytes = 0;
    this.clearInflight();
  }
}
