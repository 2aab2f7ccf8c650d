import { invariant, InvariantError } from './invariant.js';
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
  /**
   * Running totals of `entrySizeBytes`: `bytesThrough[p]` counts every entry up to position p, where
   * position 0 is the snapshot (its value is arbitrary: only differences are used). The bytes of any
   * range are one subtraction, so sending to many followers never re-sizes an entry. Filled lazily, up
   * to the furthest entry asked about: only a leader sending entries needs sizes, so followers never pay.
   */
  private bytesThrough: number[] = [0];
  private snapshot: SnapshotMeta;
  /** The term of the last entry (or of the snapshot): kept, not looked up, as every append checks it. */
  private lastEntryTerm: number;

  constructor(snapshot: SnapshotMeta, entries: readonly Entry[]) {
    this.snapshot = snapshot;
    this.lastEntryTerm = snapshot.term;
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
    return this.lastEntryTerm;
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
    const last = this.sliceEnd(from, to, maxEntries, maxBytes);
    return this.entries.slice(from - this.snapshot.index - 1, last - this.snapshot.index);
  }

  /**
   * The last index `slice(from, to, maxEntries, maxBytes)` returns (`from - 1` when it returns nothing):
   * the longest run from `from` within both limits, but at least one entry.
   */
  sliceEnd(from: number, to: number, maxEntries = Number.MAX_SAFE_INTEGER, maxBytes = Number.MAX_SAFE_INTEGER): number {
    if (from <= this.snapshot.index) throw new InvariantError('slice below the snapshot', { from, snapshotIndex: this.snapshot.index });
    const last = Math.min(to, this.lastIndex, from + maxEntries - 1);
    if (last < from) return from - 1;
    // No byte limit (persisting, applying): nothing to size. No log reaches 2^53 bytes.
    if (maxBytes >= Number.MAX_SAFE_INTEGER || this.bytesBetween(from, last) <= maxBytes) return last;
    // Over the byte limit: binary search for the longest prefix within it (totals only grow).
    let fits = from; // always send at least one entry, however large
    let tooBig = last;
    while (tooBig - fits > 1) {
      const middle = fits + Math.floor((tooBig - fits) / 2);
      if (this.bytesBetween(from, middle) <= maxBytes) fits = middle;
      else tooBig = middle;
    }
    return fits;
  }

  /** Sum of `entrySizeBytes` over the entries in [from, to], which must be in the log (0 when `to < from`). */
  bytesBetween(from: number, to: number): number {
    if (to < from) return 0;
    const base = this.snapshot.index;
    if (from <= base || to > this.lastIndex) {
      throw new InvariantError('byte count outside the log', { from, to, firstIndex: this.firstIndex, lastIndex: this.lastIndex });
    }
    this.sizeThrough(to - base);
    return (this.bytesThrough[to - base] as number) - (this.bytesThrough[from - base - 1] as number);
  }

  /** Extends the running totals to cover position `position`: each entry is sized once. */
  private sizeThrough(position: number): void {
    const totals = this.bytesThrough;
    for (let sized = totals.length - 1; sized < position; sized++) {
      totals.push((totals[sized] as number) + entrySizeBytes(this.entries[sized] as Entry));
    }
  }

  append(entry: Entry): void {
    // Checked by hand rather than with invariant(): its details object would be built for every entry.
    if (entry.index !== this.lastIndex + 1) {
      throw new InvariantError('log append out of order', { index: entry.index, lastIndex: this.lastIndex });
    }
    if (entry.term < this.lastTerm) throw new InvariantError('log append with a lower term', { term: entry.term, lastTerm: this.lastTerm });
    this.entries.push(entry);
    this.lastEntryTerm = entry.term;
  }

  /** Removes every entry at `index` and after. Never touches the snapshot. */
  truncateFrom(index: number): void {
    invariant(index > this.snapshot.index, 'truncate into the snapshot', { index, snapshotIndex: this.snapshot.index });
    if (index > this.lastIndex) return;
    this.entries.length = index - this.snapshot.index - 1;
    if (this.bytesThrough.length > this.entries.length + 1) this.bytesThrough.length = this.entries.length + 1;
    this.lastEntryTerm = this.entries[this.entries.length - 1]?.term ?? this.snapshot.term;
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
    const dropped = meta.index - this.snapshot.index;
    this.entries = this.entries.slice(dropped);
    // Position 0 is now the new snapshot; if it was never sized, start the totals afresh from it.
    this.bytesThrough = dropped < this.bytesThrough.length ? this.bytesThrough.slice(dropped) : [0];
    this.snapshot = meta; // lastTerm stands: the entry compacted up to had the snapshot's term
  }

  /** Replaces the whole log by a snapshot received from the leader. */
  restore(meta: SnapshotMeta): void {
    this.entries = [];
    this.bytesThrough = [0];
    this.snapshot = meta;
    this.lastEntryTerm = meta.term;
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
