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
 * Searches one partition. `operations` must be normalized (`normalizeOperations`): no `fail`, `info` ops
 * completing at +infinity.
 */
export function searchLinearization<State>(operations: readonly Operation[], model: Model<State>, limits: SearchLimits): SearchResult {
  const startedMs = performance.now();
  const n = operations.length;
  const list = buildEventList(operations);
  const { next, opOfNode, matchOfNode } = list;
  const definite = new Uint8Array(n);
  let remaining = 0;
  for (const [i, op] of operations.entries()) {
    assert.ok(op.status !== 'fail', `operation ${op.id}: fail operations are dropped before the search`);
    const isDefinite = op.completeTime !== Number.POSITIVE_INFINITY;
    definite[i] = isDefinite ? 1 : 0;
    if (isDefinite) remaining++;
  }

  const words = Math.max(1, Math.ceil(n / 32));
  const linearized = new Uint32Array(words);
  const salts = zobristSalts(n);
  let linearizedHash = 0;
  const cache = new VisitedCache(words, model);

  const stackNodes: number[] = [];
  const stackStates: State[] = [];
  let state = model.init();
  let node = next[HEAD] ?? NIL;
  let iterations = 0;
  let deepest = -1;
  let stuck: StuckPoint | null = null;

  const stats = (): SearchStats => ({ operations: n, iterations, cacheEntries: cache.size, elapsedMs: performance.now() - startedMs });
  const opIds = (nodes: readonly number[]): number[] => nodes.map((callNode) => operationAt(operations, opOfNode[callNode] ?? NIL).id);

  while (remaining > 0) {
    iterations++;
    if ((iterations & (SEARCH_CHECK_EVERY_ITERATIONS - 1)) === 0) {
      if (limits.cancel !== undefined && Atomics.load(limits.cancel, 0) !== 0)
        return { verdict: 'unknown', reason: 'cancelled', stats: stats() };
      if (Date.now() > limits.deadlineEpochMs) return { verdict: 'unknown', reason: 'time-limit', stats: stats() };
    }
    // Definite operations remain, so a return lies ahead before the end of the list.
    if (node === NIL) assert.fail('the search ran off the end of the event list');
    const match = matchOfNode[node] ?? NIL;
    if (match !== NIL) {
      // A call: try to linearize its operation now.
      const opIndex = opOfNode[node] ?? NIL;
      const result = model.step(state, operations[opIndex] as Operation);
      if (result.ok) {
        const word = opIndex >>> 5;
        const bit = 1 << (opIndex & 31);
        linearized[word] = (linearized[word] ?? 0) | bit;
        const hash = cacheKey(linearizedHash ^ (salts[opIndex] ?? 0), model.hash(result.newState));
        if (!cache.has(hash, linearized, result.newState)) {
          if (cache.size >= limits.cacheEntriesMax) return { verdict: 'unknown', reason: 'cache-limit', stats: stats() };
          cache.add(hash, linearized, result.newState);
          linearizedHash ^= salts[opIndex] ?? 0;
          stackNodes.push(node);
          stackStates.push(state);
          state = result.newState;
          lift(list, node);
          if (definite[opIndex] === 1) remaining--;
          node = next[HEAD] ?? NIL;
          continue;
        }
        linearized[word] = (linearized[word] ?? 0) & ~bit;
      }
      node = next[node] ?? NIL;
      continue;
    }
    // A return: its operation should be linearized by now. Note the deepest such point, then backtrack.
    if (stackNodes.length > deepest) {
      deepest = stackNodes.length;
      stuck = {
        linearized: opIds(stackNodes),
        state: model.describeState(state),
        blocking: operationAt(operations, opOfNode[node] ?? NIL).id,
        candidates: opIds(openCalls(list, node)),
      };
    }
    const top = stackNodes.pop();
    if (top === undefined) {
      assert.ok(stuck !== null);
      return { verdict: 'illegal', stuck, stats: stats() };
    }
    state = stackStates.pop() as State;
    const opIndex = opOfNode[top] ?? NIL;
    linearized[opIndex >>> 5] = (linearized[opIndex >>> 5] ?? 0) & ~(1 << (opIndex & 31));
    linearizedHash ^= salts[opIndex] ?? 0;
    if (definite[opIndex] === 1) remaining++;
    unlift(list, top);
    node = next[top] ?? NIL;
  }
  return { verdict: 'ok', linearization: opIds(stackNodes), stats: stats() };
}

function operationAt(operations: readonly Operation[], index: number): Operation {
  const op = operations[index];
  assert.ok(op !== undefined, `no operation at ${index}`);
  return op;
}

// ---------------------------------------------------------------------------------------------------------------
// The event list. Node 0 is the head; nodes 1..2n are the events. A call node's match is its return node; a
// return node's match is NIL. Lifting removes a call and its return; unlifting in reverse order restores them
// (the removed nodes keep their own links: dancing links).

interface EventList {
  readonly next: Int32Array;
  readonly prev: Int32Array;
  readonly opOfNode: Int32Array;
  readonly matchOfNode: Int32Array;
}

function buildEventList(operations: readonly Operation[]): EventList {
  const n = operations.length;
  // Event e < n is the call of operation e, event e >= n the return of operation e - n.
  const events = Array.from({ length: 2 * n }, (_, e) => e);
  const timeOf = (e: number): number => {
    const op = operationAt(operations, e < n ? e : e - n);
    return e < n ? op.invokeTime : op.completeTime;
  };
  // In time order; at equal times calls come first, so operations that touch are taken as concurrent.
  events.sort((a, b) => timeOf(a) - timeOf(b) || Number(a >= n) - Number(b >= n) || a - b);
  const next = new Int32Array(2 * n + 1).fill(NIL);
  const prev = new Int32Array(2 * n + 1).fill(NIL);
  const opOfNode = new Int32Array(2 * n + 1).fill(NIL);
  const matchOfNode = new Int32Array(2 * n + 1).fill(NIL);
  const nodeOfEvent = new Int32Array(2 * n);
  let last = HEAD;
  for (const [position, e] of events.entries()) {
    const nodeId = position + 1;
    nodeOfEvent[e] = nodeId;
    opOfNode[nodeId] = e < n ? e : e - n;
    next[last] = nodeId;
    prev[nodeId] = last;
    last = nodeId;
  }
  for (let i = 0; i < n; i++) {
    const call = nodeOfEvent[i] ?? NIL;
    const ret = nodeOfEvent[i + n] ?? NIL;
    assert.ok(call < ret, `operation ${operationAt(operations, i).id} returns before it is called`);
    matchOfNode[call] = ret;
  }
  return { next, prev, opOfNode, matchOfNode };
}

function lift(list: EventList, call: number): void {
  const { next, prev, matchOfNode } = list;
  const ret = matchOfNode[call] ?? NIL;
  unlink(next, prev, call);
  unlink(next, prev, ret);
}

function unlink(next: Int32Array, prev: Int32Array, node: number): void {
  const before = prev[node] ?? NIL;
  const after = next[node] ?? NIL;
  next[before] = after;
  if (after !== NIL) prev[after] = before;
}

function unlift(list: EventList, call: number): void {
  const { next, prev, matchOfNode } = list;
  const ret = matchOfNode[call] ?? NIL;
  relink(next, prev, ret);
  relink(next, prev, call);
}

function relink(next: Int32Array, prev: Int32Array, node: number): void {
  const before = prev[node] ?? NIL;
  const after = next[node] ?? NIL;
  next[before] = node;
  if (after !== NIL) prev[after] = node;
}

/** The call nodes between the head and `until`: the operations open at that point. */
function openCalls(list: EventList, until: number): number[] {
  const calls: number[] = [];
  for (let node = list.next[HEAD] ?? NIL; node !== NIL && node !== until; node = list.next[node] ?? NIL) {
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
 * Visited (linearized set, state) pairs, as hash chains: the Map gives a chain's first entry, `chain` the next.
 * The sets are copied into one growing arena of words rather than one typed array each (fewer, larger objects
 * for the garbage collector).
 */
class VisitedCache<State> {
  size = 0;
  private readonly heads = new Map<number, number>();
  private chain = new Int32Array(1024);
  private arena: Uint32Array;
  private readonly states: State[] = [];

  constructor(
    private readonly words: number,
    private readonly model: Model<State>,
  ) {
    this.arena = new Uint32Array(1024 * words);
  }

  has(key: number, linearized: Uint32Array, state: State): boolean {
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
      if (same && model.equal(states[entry] as State, state)) return true;
    }
    return false;
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

  private grow(): void {
    const chain = new Int32Array(this.chain.length * 2);
    chain.set(this.chain);
    this.chain = chain;
    const arena = new Uint32Array(this.arena.length * 2);
    arena.set(this.arena);
    this.arena = arena;
  }
}
