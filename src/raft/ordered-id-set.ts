import { InvariantError } from './invariant.js';
import type { NodeId } from './types.js';

/**
 * A set of node ids that iterates in insertion order, as `Set<NodeId>` does, for the few peers a leader
 * queues for replication between two ready() calls. It is filled and emptied on every round, so
 * clearing keeps the backing array (a Set allocates a new table on each clear), and a linear search over
 * a cluster's handful of members is cheaper than hashing.
 */
export class OrderedIdSet {
  /** Members in slots [0, size); slots beyond hold stale ids that are never read. */
  private readonly ids: NodeId[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The member added `position`-th since the last clear. */
  at(position: number): NodeId {
    if (position < 0 || position >= this.count) throw new InvariantError('id set position out of range', { position, size: this.count });
    return this.ids[position] as NodeId;
  }

  has(id: NodeId): boolean {
    for (let position = 0; position < this.count; position++) {
      if (this.ids[position] === id) return true;
    }
    return false;
  }

  /** Adds `id` at the end unless it is already a member (which keeps its place). */
  add(id: NodeId): void {
    if (!this.has(id)) this.ids[this.count++] = id;
  }

  clear(): void {
    this.count = 0;
  }
}
