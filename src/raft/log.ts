import { invariant } from './invariant.js';
import type { Entry, Membership, SnapshotMeta } from './types.js';

/** Bytes an entry is charged against message and in-flight limits. */
export function entrySizeBytes(entry: Entry): number {
  switch (entry.type) {
    case 'command':
      return 24 + entry.data.byteLength;
    case 'noop':
      return 24;
    case 'config':
      return 24 + 16 * entry.membership.voters.length;
  }
}

/**
 * The in-memory log of one core: the entries after the newest snapshot, indexed from 1.
 * Entries at or below `snapshotIndex` are compacted away; their only trace is the snapshot meta.
 */
export class RaftLog {
  private entries: Entry[] = [];
  private snapshot: SnapshotMeta;

  constructor(snapshot: SnapshotMeta, entries: readonly Entry[]) {
    this.snapshot = snapshot;
    for (const entry of entries) this.append(entry);
  }

  get snapshotIndex(): number {
    return this.snapshot.index;
  }

  get snapshotTerm(): number {
    return this.snapshot.term;
  }

  get snapshotMeta(): SnapshotMeta {
    return this.snapshot;
  }

  /** The first index still held as an entry. */
  get firstIndex(): number {
    return this.snapshot.index + 1;
  }

  get lastIndex(): number {
    return this.snapshot.index + this.entries.length;
  }

  get lastTerm(): number {
    const last = this.entries[this.entries.length - 1];
    return last === undefined ? this.snapshot.term : last.term;
  }

  /** The term of the entry at `index`, or undefined when it is compacted away or beyond the end. */
  termAt(index: number): number | undefined {
    if (index === this.snapshot.index) return this.snapshot.term;
    if (index < this.snapshot.index || index > this.lastIndex) return undefined;
    return (this.entries[index - this.snapshot.index - 1] as Entry).term;
  }

  entryAt(index: number): Entry | undefined {
    if (index <= this.snapshot.index) return undefined;
    return this.entries[index - this.snapshot.index - 1];
  }

  matchTerm(index: number, term: number): boolean {
    return this.termAt(index) === term;
  }

  /** Entries in [from, to], at most `maxEntries`, cut at `maxBytes` (but at least one entry). */
  slice(from: number, to: number, maxEntries = Number.MAX_SAFE_INTEGER, maxBytes = Number.MAX_SAFE_INTEGER): Entry[] {
    invariant(from > this.snapshot.index, 'slice below the snapshot', { from, snapshotIndex: this.snapshot.index });
    const last = Math.min(to, this.lastIndex, from + maxEntries - 1);
    const out: Entry[] = [];
    let bytes = 0;
    for (let index = from; index <= last; index++) {
      const entry = this.entries[index - this.snapshot.index - 1] as Entry;
      bytes += entrySizeBytes(entry);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(entry);
    }
    return out;
  }

  append(entry: Entry): void {
    invariant(entry.index === this.lastIndex + 1, 'log append out of order', { index: entry.index, lastIndex: this.lastIndex });
    invariant(entry.term >= this.lastTerm, 'log append with a lower term', { term: entry.term, lastTerm: this.lastTerm });
    this.entries.push(entry);
  }

  /** Removes every entry at `index` and after. Never touches the snapshot. */
  truncateFrom(index: number): void {
    invariant(index > this.snapshot.index, 'truncate into the snapshot', { index, snapshotIndex: this.snapshot.index });
    if (index > this.lastIndex) return;
    this.entries.length = index - this.snapshot.index - 1;
  }

  /** The first index of the run of entries with `term` that contains `index` (for conflict hints). */
  firstIndexOfTermAt(index: number): number {
    const term = this.termAt(index);
    invariant(term !== undefined, 'firstIndexOfTermAt outside the log', { index });
    let first = index;
    while (first - 1 > this.snapshot.index && this.termAt(first - 1) === term) first--;
    return first;
  }

  /** The last index at or below `atMost` whose term is at most `term`, for the leader's side of fast back-tracking. */
  lastIndexWithTermAtMost(atMost: number, term: number): number {
    let index = Math.min(atMost, this.lastIndex);
    while (index > this.snapshot.index) {
      const t = this.termAt(index) as number;
      if (t <= term) return index;
      index--;
    }
    return this.snapshot.index;
  }

  /** Drops entries up to and including `meta.index`, which must be in the log (or be the snapshot itself). */
  compact(meta: SnapshotMeta): void {
    invariant(meta.index >= this.snapshot.index, 'compaction goes backwards', { index: meta.index, snapshotIndex: this.snapshot.index });
    invariant(meta.index <= this.lastIndex, 'compaction beyond the log', { index: meta.index, lastIndex: this.lastIndex });
    invariant(this.termAt(meta.index) === meta.term, 'compaction term mismatch', { index: meta.index, term: meta.term });
    this.entries = this.entries.slice(meta.index - this.snapshot.index);
    this.snapshot = meta;
  }

  /** Replaces the whole log by a snapshot received from the leader. */
  restore(meta: SnapshotMeta): void {
    this.entries = [];
    this.snapshot = meta;
  }

  /** The newest configuration in the log at or below `atMost`, falling back to the snapshot's. */
  latestMembership(atMost = this.lastIndex): { membership: Membership; index: number } {
    for (let index = Math.min(atMost, this.lastIndex); index > this.snapshot.index; index--) {
      const entry = this.entries[index - this.snapshot.index - 1] as Entry;
      if (entry.type === 'config') return { membership: entry.membership, index };
    }
    return { membership: this.snapshot.membership, index: this.snapshot.index };
  }
}
