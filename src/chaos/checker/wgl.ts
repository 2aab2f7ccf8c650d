/**
 * The Wing-Gong linearizability search with Lowe's memoization, as in Porcupine's `checkSingle`.
 *
 * The history becomes a doubly-linked list of call and return events in time order. The search walks the list
 * from its head: at a call it tries to linearize that operation next (the model steps from the current state);
 * if the step is legal and the pair (set of linearized operations, new state) has not been seen before, it
 * "lifts" the call and its return out of the list, pushes the choice on a stack and starts again from the head.
 * Reaching a return means that operation should have been linearized already: the search backtracks (pops the
 * last choice, "unlifts" it back into the list, and tries the next call after it). The history is linearizable
 * when every definite operation has been lifted, and not when the stack is empty at a return.
 *
 * `info` operations return at +infinity, so they never force a backtrack; the search succeeds without them once
 * all the `ok` operations are linearized: an `info` operation may be left out (it never happened).
 *
 * Pruning by locality (a partial-order reduction): the model's partitions are independent (an operation's effect
 * and legality depend only on the operations of its own partition), so at each step the search tries only the
 * calls of the partition of the first return in the list, the operation that must be linearized soonest. That
 * loses no linearization: take any legal continuation X, o, Y where o is that first return's operation; moving the
 * operations of X from other partitions to just after o keeps every partition's order (so every step stays legal)
 * and breaks no real-time order, because each of them returns after o does (o's return comes first in the list)
 * while every operation put before them was invoked before o returned. Without this, an unpartitioned search of
 * many keys visits every combination of the keys' interleavings (the product of their state spaces); with it, the
 * other keys wait until one of their returns is due.
 *
 * For the same reason each partition keeps its own state, its own event list and its own cache, and a dead end
 * is a dead end of one partition: the search backjumps over the other partitions' choices to that partition's
 * last one (undoing them cannot help it) and marks the place dead in that partition's cache, whatever the other
 * partitions had done when it was found. Two more reductions: a legal read is taken as the only choice
 * (`legalRead`), and a partition that is costly to refute is set aside for a first round
 * (`searchLinearization`).
 */
import assert from 'node:assert/strict';
import type { Operation } from './history.js';
import type { Model } from './models.js';

export type Verdict = 'ok' | 'illegal' | 'unknown';

export type UnknownReason = 'time-limit' | 'cache-limit' | 'cancelled';

export interface SearchLimits {
  /** A `Date.now()` time (valid across threads) past which the search gives up with `unknown`. */
  readonly deadlineEpochMs: number;
  /** The most (linearized set, state) pairs the cache may hold before the search gives up with `unknown`. */
  readonly cacheEntriesMax: number;
  /** Another thread sets element 0 to non-zero to stop the search (`unknown`, reason `cancelled`). */
  readonly cancel?: Int32Array | undefined;
  /** Dead ends a model partition may cost in the first round before it is set aside (default SEARCH_SET_ASIDE_DEAD_ENDS). */
  readonly setAsideDeadEnds?: number | undefined;
}

/** How often (in search steps, a power of two) the deadline and the cancel flag are looked at. */
export const SEARCH_CHECK_EVERY_ITERATIONS = 1024;

export const SEARCH_LIMITS_DEFAULT = {
  /** About 1 KiB an entry at most for a few thousand operations: a bounded heap. */
  cacheEntriesMax: 1_000_000,
} as const;

/** Where the deepest attempt got stuck: the failing piece to show. Operations are named by their `id`. */
export interface StuckPoint {
  /** The longest linearized prefix found, in linearization order. */
  readonly linearized: readonly number[];
  /** The model state after that prefix (`describeState`). */
  readonly state: string;
  /** The operation whose return the search could not get past: it had to be linearized by then. */
  readonly blocking: number;
  /** The operations invoked and not yet linearized at that point (the blocking one included): none could go next. */
  readonly candidates: readonly number[];
}

export interface SearchStats {
  readonly operations: number;
  readonly iterations: number;
  readonly cacheEntries: number;
  readonly elapsedMs: number;
}

export type SearchResult =
  | { readonly verdict: 'ok'; readonly linearization: readonly number[]; readonly stats: SearchStats }
  | { readonly verdict: 'illegal'; readonly stuck: StuckPoint; readonly stats: SearchStats }
  | { readonly verdict: 'unknown'; readonly reason: UnknownReason; readonly stats: SearchStats };

const HEAD = 0;
const NIL = -1;

/**
 * Dead ends a model partition may cost before a search of several sets it aside for the first round (see
 * `searchLinearization`).
 */
export const SEARCH_SET_ASIDE_DEAD_ENDS = 20_000;

/**
 * Searches one partition of the checker (the whole history when unpartitioned). `operations` must be normalized
 * (`normalizeOperations`): no `fail`, `info` ops completing at +infinity.
 *
 * With several model partitions, the first round sets aside any partition that reaches SEARCH_SET_ASIDE_DEAD_ENDS
 * dead ends and searches again without it, so one partition that is costly to refute does not hide another that
 * is cheap to refute: if the rest is illegal, so is the whole (locality). If the rest is linearizable, a last round
 * searches everything without that limit.
 */
export function searchLinearization<State>(operations: readonly Operation[], model: Model<State>, limits: SearchLimits): SearchResult {
  const startedMs = performance.now();
  const partitionOf = new Map<Operation, number>();
  for (const [partition, { operations: members }] of model.partition(operations).entries())
    for (const op of members) partitionOf.set(op, partition);
  const setAside = new Set<number>();
  let iterations = 0;
  let limited = partitionOf.size > 0 && new Set(partitionOf.values()).size > 1;
  for (;;) {
    const included = setAside.size === 0 ? operations : operations.filter((op) => !setAside.has(partitionOf.get(op) ?? NIL));
    const round = searchRound(included, model, limits, {
      iterationsBefore: iterations,
      deadEndsMax: limited ? (limits.setAsideDeadEnds ?? SEARCH_SET_ASIDE_DEAD_ENDS) : Infinity,
    });
    iterations = round.iterations;
    if (round.costly !== null) {
      setAside.add(partitionOf.get(round.costly) ?? NIL);
      continue;
    }
    const result = round.result;
    if (result.verdict === 'ok' && setAside.size > 0) {
      setAside.clear();
      limited = false;
      continue;
    }
    return { ...result, stats: { ...result.stats, operations: operations.length, elapsedMs: performance.now() - startedMs } };
  }
}

interface RoundOptions {
  /** Search steps of the earlier rounds: the deadline checks keep their spacing across rounds. */
  readonly iterationsBefore: number;
  /** Past this many dead ends in one partition, the round stops and names it. */
  readonly deadEndsMax: number;
}

/** One round: a result, or a partition (named by one of its operations) that cost more than `deadEndsMax`. */
type RoundResult =
  | { readonly costly: null; readonly result: SearchResult; readonly iterations: number }
  | { readonly costly: Operation; readonly iterations: number };

function searchRound<State>(
  operations: readonly Operation[],
  model: Model<State>,
  limits: SearchLimits,
  options: RoundOptions,
): RoundResult {
  const result = searchPartitions(operations, model, limits, options);
  if ('costly' in result) return result;
  return { costly: null, result, iterations: result.stats.iterations };
}

function searchPartitions<State>(
  operations: readonly Operation[],
  model: Model<State>,
  limits: SearchLimits,
  options: RoundOptions,
): SearchResult | { readonly costly: Operation; readonly iterations: number } {
  const startedMs = performance.now();
  const n = operations.length;
  const groups = new ModelPartitions(operations, model);
  const { partitionOfOp, localIndexOfOp } = groups;
  const list = buildEventList(operations, partitionOfOp, groups.count);
  const { next, opOfNode, matchOfNode } = list;
  const definite = new Uint8Array(n);
  let remaining = 0;
  for (const [i, op] of operations.entries()) {
    assert.ok(op.status !== 'fail', `operation ${op.id}: fail operations are dropped before the search`);
    const isDefinite = op.completeTime !== Number.POSITIVE_INFINITY;
    definite[i] = isDefinite ? 1 : 0;
    if (isDefinite) remaining++;
  }

  const salts = zobristSalts(n);

  const stackNodes: number[] = [];
  /** The state of the choice's partition before it. */
  const stackStates: State[] = [];
  /** 1 for a read taken as the only choice (see `legalRead`): its alternatives need no trying. */
  const stackForced: number[] = [];
  /** The search has just arrived at a new place: look for a read to take first. */
  let arrived = true;
  /** `node` is that read. */
  let forced = false;
  let focus = remaining > 0 ? firstReturnPartition(list, partitionOfOp) : NIL;
  let node = remaining > 0 ? (next[list.headOf(focus)] ?? NIL) : NIL;
  let iterations = options.iterationsBefore;
  const deadEnds = new Int32Array(groups.count);
  let deepest = -1;
  let stuck: StuckPoint | null = null;

  const stats = (): SearchStats => ({
    operations: n,
    iterations,
    cacheEntries: groups.cacheEntries(),
    elapsedMs: performance.now() - startedMs,
  });
  const opIds = (nodes: readonly number[]): number[] => nodes.map((callNode) => operationAt(operations, opOfNode[callNode] ?? NIL).id);

  while (remaining > 0) {
    iterations++;
    if ((iterations & (SEARCH_CHECK_EVERY_ITERATIONS - 1)) === 0) {
      if (limits.cancel !== undefined && Atomics.load(limits.cancel, 0) !== 0)
        return { verdict: 'unknown', reason: 'cancelled', stats: stats() };
      if (Date.now() > limits.deadlineEpochMs) return { verdict: 'unknown', reason: 'time-limit', stats: stats() };
    }
    if (arrived) {
      arrived = false;
      const read = legalRead(list, focus, operations, model, groups.of(focus).state);
      if (read !== NIL) {
        node = read;
        forced = true;
      }
    }
    // Definite operations remain, so a return lies ahead before the end of the list.
    if (node === NIL) assert.fail('the search ran off the end of the event list');
    const match = matchOfNode[node] ?? NIL;
    if (match !== NIL) {
      // A call of the focus partition: try to linearize its operation now.
      const opIndex = opOfNode[node] ?? NIL;
      const group = groups.of(focus);
      const result = model.step(group.state, operations[opIndex] as Operation);
      if (result.ok) {
        const local = localIndexOfOp[opIndex] ?? NIL;
        const word = local >>> 5;
        const bit = 1 << (local & 31);
        group.linearized[word] = (group.linearized[word] ?? 0) | bit;
        const salt = salts[opIndex] ?? 0;
        const hash = cacheKey(group.linearizedHash ^ salt, model.hash(result.newState));
        const seen = group.cache.find(hash, group.linearized, result.newState);
        if (seen === NIL || !group.cache.failed(seen)) {
          if (seen === NIL) {
            if (groups.cacheEntries() >= limits.cacheEntriesMax) return { verdict: 'unknown', reason: 'cache-limit', stats: stats() };
            group.cache.add(hash, group.linearized, result.newState);
          }
          group.linearizedHash ^= salt;
          stackNodes.push(node);
          stackStates.push(group.state);
          stackForced.push(forced ? 1 : 0);
          forced = false;
          arrived = true;
          group.state = result.newState;
          group.cacheKey = hash;
          lift(list, node);
          if (definite[opIndex] === 1) remaining--;
          if (remaining > 0) {
            focus = firstReturnPartition(list, partitionOfOp);
            node = next[list.headOf(focus)] ?? NIL;
          }
          continue;
        }
        group.linearized[word] = (group.linearized[word] ?? 0) & ~bit;
      }
      if (forced) {
        // The read, the only choice needed here, leads to a dead end: so does this place.
        forced = false;
        node = firstReturnOf(list, focus);
        continue;
      }
      node = next[node] ?? NIL;
      continue;
    }
    // A return, of the focus partition: every call of that partition before it was tried, and none led to a
    // linearization. So the focus partition cannot go on from where it stands (whatever the other partitions
    // do: they are independent). Note the deepest such point, then backtrack.
    if (stackNodes.length > deepest) {
      deepest = stackNodes.length;
      stuck = {
        linearized: opIds(stackNodes),
        state: model.describeState(groups.of(focus).state),
        blocking: operationAt(operations, opOfNode[node] ?? NIL).id,
        candidates: opIds(openCalls(list, focus, node)),
      };
    }
    // Backjump: undo choices until the last one of the stuck partition. Undoing a choice of another partition
    // leaves the stuck partition where it is, so trying that choice's alternatives could not help.
    const culprit = focus;
    const culpritGroup = groups.of(culprit);
    for (;;) {
      const top = stackNodes.pop();
      if (top === undefined) {
        assert.ok(stuck !== null);
        return { verdict: 'illegal', stuck, stats: stats() };
      }
      const opIndex = opOfNode[top] ?? NIL;
      const partition = partitionOfOp[opIndex] ?? NIL;
      const group = groups.of(partition);
      // The culprit's place is now proven a dead end: no later visit explores it again.
      if (partition === culprit) {
        culpritGroup.cache.markFailed(culpritGroup.cacheKey, culpritGroup.linearized, culpritGroup.state);
        deadEnds[culprit] = (deadEnds[culprit] ?? 0) + 1;
        if ((deadEnds[culprit] ?? 0) > options.deadEndsMax) return { costly: operationAt(operations, opIndex), iterations };
      }
      group.state = stackStates.pop() as State;
      const wasForced = stackForced.pop() === 1;
      const local = localIndexOfOp[opIndex] ?? NIL;
      group.linearized[local >>> 5] = (group.linearized[local >>> 5] ?? 0) & ~(1 << (local & 31));
      group.linearizedHash ^= salts[opIndex] ?? 0;
      group.cacheKey = cacheKey(group.linearizedHash, model.hash(group.state));
      if (definite[opIndex] === 1) remaining++;
      unlift(list, top);
      // Back before a forced read, the place is a dead end too: keep going.
      if (partition === culprit && !wasForced) {
        node = next[top] ?? NIL;
        focus = culprit;
        break;
      }
    }
  }
  return { verdict: 'ok', linearization: opIds(stackNodes), stats: stats() };
}

/** What the search knows of one of the model's partitions: where it stands, and which places it has visited. */
interface PartitionProgress<State> {
  state: State;
  /** Its operations linearized so far, as a set by their index within the partition. */
  readonly linearized: Uint32Array;
  /** Zobrist hash of `linearized` (the XOR of its operations' salts). */
  linearizedHash: number;
  /** The cache key of (linearized, state). */
  cacheKey: number;
  readonly cache: VisitedCache<State>;
}

/**
 * The model's partitions of the history (Herlihy and Wing's locality: each can be linearized on its own), each
 * with its own state and cache of visited places, so a dead end of one partition is remembered whatever the others
 * had done when it was found.
 */
class ModelPartitions<State> {
  readonly partitionOfOp: Int32Array;
  /** An operation's index within its partition. */
  readonly localIndexOfOp: Int32Array;
  readonly count: number;
  private readonly progress: PartitionProgress<State>[];

  constructor(operations: readonly Operation[], model: Model<State>) {
    const indexOfOperation = new Map<Operation, number>(operations.map((op, i) => [op, i]));
    this.partitionOfOp = new Int32Array(operations.length).fill(NIL);
    this.localIndexOfOp = new Int32Array(operations.length).fill(NIL);
    const partitions = model.partition(operations);
    this.count = partitions.length;
    for (const [partition, { operations: members }] of partitions.entries()) {
      for (const [local, op] of members.entries()) {
        const index = indexOfOperation.get(op);
        assert.ok(index !== undefined, `the model's partitions hold operation ${op.id}, which is not in the history`);
        assert.ok(this.partitionOfOp[index] === NIL, `operation ${op.id} is in two partitions`);
        this.partitionOfOp[index] = partition;
        this.localIndexOfOp[index] = local;
      }
    }
    for (const [i, partition] of this.partitionOfOp.entries())
      assert.ok(partition !== NIL, `operation ${operationAt(operations, i).id} is in no partition`);
    const initial = model.init();
    const initialKey = cacheKey(0, model.hash(initial));
    this.progress = partitions.map(({ operations: members }) => {
      const words = Math.max(1, Math.ceil(members.length / 32));
      return {
        state: initial,
        linearized: new Uint32Array(words),
        linearizedHash: 0,
        cacheKey: initialKey,
        cache: new VisitedCache(words, model),
      };
    });
  }

  of(partition: number): PartitionProgress<State> {
    const progress = this.progress[partition];
    assert.ok(progress !== undefined, `no partition ${partition}`);
    return progress;
  }

  cacheEntries(): number {
    let entries = 0;
    for (const { cache } of this.progress) entries += cache.size;
    return entries;
  }
}

/**
 * A read-only call of `partition`, open now (before its first return), that is legal in `state`; NIL if none.
 * Taking it next loses no linearization (a partial-order reduction of reads): it does not change the state, and
 * every operation that returned before it was invoked is already linearized (its return came before the first
 * one left), so moving it to the front of any legal continuation keeps the continuation legal.
 */
function legalRead<State>(list: EventList, partition: number, operations: readonly Operation[], model: Model<State>, state: State): number {
  for (let node = list.next[list.headOf(partition)] ?? NIL; node !== NIL; node = list.next[node] ?? NIL) {
    if ((list.matchOfNode[node] ?? NIL) === NIL) return NIL;
    const op = operationAt(operations, list.opOfNode[node] ?? NIL);
    if (model.isReadOnly(op) && model.step(state, op).ok) return node;
  }
  return NIL;
}

/** The first return left in `partition`'s list. */
function firstReturnOf(list: EventList, partition: number): number {
  let node = list.next[list.headOf(partition)] ?? NIL;
  while (node !== NIL && (list.matchOfNode[node] ?? NIL) !== NIL) node = list.next[node] ?? NIL;
  assert.ok(node !== NIL, `partition ${partition} has no return left`);
  return node;
}

/** The partition of the first return left: its operation must be linearized before any other return. */
function firstReturnPartition(list: EventList, partitionOfOp: Int32Array): number {
  const first = list.returnNext[HEAD] ?? NIL;
  assert.ok(first !== NIL, 'no return left in the event list');
  return partitionOfOp[list.opOfNode[first] ?? NIL] ?? NIL;
}

function operationAt(operations: readonly Operation[], index: number): Operation {
  const op = operations[index];
  assert.ok(op !== undefined, `no operation at ${index}`);
  return op;
}

// ---------------------------------------------------------------------------------------------------------------
// The event lists. Nodes 1..2n are the events; a call node's match is its return node, a return node's match is
// NIL. Each partition has its own list of its events in time order (`next`/`prev`, headed by node `headOf(p)`,
// past the events), which the search walks; one more list holds every return in time order (`returnNext`/
// `returnPrev`, headed by node 0), whose first names the partition to work on. Lifting removes a call and its
// return from them; unlifting in reverse order restores them (the removed nodes keep their own links: dancing
// links).

interface EventList {
  readonly next: Int32Array;
  readonly prev: Int32Array;
  readonly returnNext: Int32Array;
  readonly returnPrev: Int32Array;
  readonly opOfNode: Int32Array;
  readonly matchOfNode: Int32Array;
  /** The head node of a partition's list. */
  headOf(partition: number): number;
}

function buildEventList(operations: readonly Operation[], partitionOfOp: Int32Array, partitionCount: number): EventList {
  const n = operations.length;
  // Event e < n is the call of operation e, event e >= n the return of operation e - n.
  const events = Array.from({ length: 2 * n }, (_, e) => e);
  const timeOf = (e: number): number => {
    const op = operationAt(operations, e < n ? e : e - n);
    return e < n ? op.invokeTime : op.completeTime;
  };
  // In time order; at equal times calls come first, so operations that touch are taken as concurrent.
  events.sort((a, b) => timeOf(a) - timeOf(b) || Number(a >= n) - Number(b >= n) || a - b);
  const nodes = 2 * n + 1 + partitionCount;
  const headOf = (partition: number): number => 2 * n + 1 + partition;
  const next = new Int32Array(nodes).fill(NIL);
  const prev = new Int32Array(nodes).fill(NIL);
  const returnNext = new Int32Array(2 * n + 1).fill(NIL);
  const returnPrev = new Int32Array(2 * n + 1).fill(NIL);
  const opOfNode = new Int32Array(nodes).fill(NIL);
  const matchOfNode = new Int32Array(nodes).fill(NIL);
  const nodeOfEvent = new Int32Array(2 * n);
  const lastOfPartition = Int32Array.from({ length: partitionCount }, (_, p) => headOf(p));
  let lastReturn = HEAD;
  for (const [position, e] of events.entries()) {
    const nodeId = position + 1;
    const opIndex = e < n ? e : e - n;
    nodeOfEvent[e] = nodeId;
    opOfNode[nodeId] = opIndex;
    const partition = partitionOfOp[opIndex] ?? NIL;
    const last = lastOfPartition[partition] ?? NIL;
    assert.ok(last !== NIL, `operation ${operationAt(operations, opIndex).id} is in no partition`);
    next[last] = nodeId;
    prev[nodeId] = last;
    lastOfPartition[partition] = nodeId;
    if (e >= n) {
      returnNext[lastReturn] = nodeId;
      returnPrev[nodeId] = lastReturn;
      lastReturn = nodeId;
    }
  }
  for (let i = 0; i < n; i++) {
    const call = nodeOfEvent[i] ?? NIL;
    const ret = nodeOfEvent[i + n] ?? NIL;
    assert.ok(call < ret, `operation ${operationAt(operations, i).id} returns before it is called`);
    matchOfNode[call] = ret;
  }
  return { next, prev, returnNext, returnPrev, opOfNode, matchOfNode, headOf };
}

function lift(list: EventList, call: number): void {
  const { next, prev, returnNext, returnPrev, matchOfNode } = list;
  const ret = matchOfNode[call] ?? NIL;
  unlink(next, prev, call);
  unlink(next, prev, ret);
  unlink(returnNext, returnPrev, ret);
}

function unlink(next: Int32Array, prev: Int32Array, node: number): void {
  const before = prev[node] ?? NIL;
  const after = next[node] ?? NIL;
  next[before] = after;
  if (after !== NIL) prev[after] = before;
}

function unlift(list: EventList, call: number): void {
  const { next, prev, returnNext, returnPrev, matchOfNode } = list;
  const ret = matchOfNode[call] ?? NIL;
  relink(returnNext, returnPrev, ret);
  relink(next, prev, ret);
  relink(next, prev, call);
}

function relink(next: Int32Array, prev: Int32Array, node: number): void {
  const before = prev[node] ?? NIL;
  const after = next[node] ?? NIL;
  next[before] = node;
  if (after !== NIL) prev[after] = node;
}

/** The call nodes of `partition` before `until`: its operations open at that point. */
function openCalls(list: EventList, partition: number, until: number): number[] {
  const calls: number[] = [];
  for (let node = list.next[list.headOf(partition)] ?? NIL; node !== NIL && node !== until; node = list.next[node] ?? NIL) {
    if ((list.matchOfNode[node] ?? NIL) !== NIL) calls.push(node);
  }
  return calls;
}

// ---------------------------------------------------------------------------------------------------------------
// The cache of visited (linearized set, state) pairs. The set's hash is Zobrist's: one random word per operation,
// XORed in and out as operations are linearized and undone, so it costs O(1) a step.

function zobristSalts(n: number): Int32Array {
  const salts = new Int32Array(n);
  // A fixed seed (splitmix32): runs are reproducible.
  let seed = 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    seed = (seed + 0x9e3779b9) | 0;
    let z = seed;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    salts[i] = z ^ (z >>> 16);
  }
  return salts;
}

/** Kept in the small-integer range, so the Map keys are not boxed numbers. */
function cacheKey(linearizedHash: number, stateHash: number): number {
  return (linearizedHash ^ Math.imul(stateHash ^ (stateHash >>> 15), 0x2c1b3c6d)) & 0x3fffffff;
}

/**
 * Visited (linearized set, state) pairs of one partition, as hash chains: the Map gives a chain's first entry,
 * `chain` the next. Each entry is marked once it is proven a dead end; an unmarked one was left by a backjump on
 * account of another partition, so it may yet lead somewhere. The sets are copied into one growing arena of words
 * rather than one typed array each (fewer, larger objects for the garbage collector).
 */
class VisitedCache<State> {
  size = 0;
  private readonly heads = new Map<number, number>();
  private chain = new Int32Array(1024);
  private deadEnd = new Uint8Array(1024);
  private arena: Uint32Array;
  private readonly states: State[] = [];

  constructor(
    private readonly words: number,
    private readonly model: Model<State>,
  ) {
    this.arena = new Uint32Array(1024 * words);
  }

  /** The entry of the pair, or NIL. */
  find(key: number, linearized: Uint32Array, state: State): number {
    const { words, arena, chain, states, model } = this;
    for (let entry = this.heads.get(key) ?? NIL; entry !== NIL; entry = chain[entry] ?? NIL) {
      const base = entry * words;
      let same = true;
      for (let w = 0; w < words; w++) {
        if (arena[base + w] !== linearized[w]) {
          same = false;
          break;
        }
      }
      if (same && model.equal(states[entry] as State, state)) return entry;
    }
    return NIL;
  }

  failed(entry: number): boolean {
    return this.deadEnd[entry] === 1;
  }

  add(key: number, linearized: Uint32Array, state: State): void {
    const entry = this.size;
    if (entry === this.chain.length) this.grow();
    this.arena.set(linearized, entry * this.words);
    this.chain[entry] = this.heads.get(key) ?? NIL;
    this.heads.set(key, entry);
    this.states.push(state);
    this.size++;
  }

  /** The pair was added when the search reached it: marks it a dead end. */
  markFailed(key: number, linearized: Uint32Array, state: State): void {
    const entry = this.find(key, linearized, state);
    assert.ok(entry !== NIL, 'a dead end the search never entered');
    this.deadEnd[entry] = 1;
  }

  private grow(): void {
    const chain = new Int32Array(this.chain.length * 2);
    chain.set(this.chain);
    this.chain = chain;
    const deadEnd = new Uint8Array(this.deadEnd.length * 2);
    deadEnd.set(this.deadEnd);
    this.deadEnd = deadEnd;
    const arena = new Uint32Array(this.arena.length * 2);
    arena.set(this.arena);
    this.arena = arena;
  }
}
