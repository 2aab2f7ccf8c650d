/**
 * Sequential specifications the linearizability checker tests histories against. A model is pure: `step` never
 * changes the state it is given, so the search can keep old states on its stack and in its cache.
 */
import assert from 'node:assert/strict';
import type { Operation, Value } from './history.js';

export type StepResult<State> = { readonly ok: true; readonly newState: State } | { readonly ok: false };

/** A group of operations that the model lets the checker search on its own (Herlihy and Wing's locality). */
export interface Partition {
  /** What the operations share, e.g. their key; `*` for the whole history. */
  readonly key: string;
  readonly operations: readonly Operation[];
}

export interface Model<State> {
  /** The name the worker pool knows the model by (see `MODELS`); a model not in `MODELS` runs in-process only. */
  readonly name: string;
  init(): State;
  /**
   * Applies `op` to `state`. Not ok when the operation cannot take effect there (a read of another value, a
   * CAS whose expected value differs). An `info` operation's output is unknown and never checked.
   */
  step(state: State, op: Operation): StepResult<State>;
  /** Independent groups of operations; each op in exactly one. */
  partition(operations: readonly Operation[]): Partition[];
  /** A 32-bit hash; equal states hash equal. */
  hash(state: State): number;
  equal(a: State, b: State): boolean;
  /** True when the op never changes the state: dropping it from a non-linearizable history keeps it so. */
  isReadOnly(op: Operation): boolean;
  describeState(state: State): string;
  /** `put("k","v")` */
  formatCall(op: Operation): string;
  /** `ok`, `"v"`, `info`. */
  formatResult(op: Operation): string;
}

// ---------------------------------------------------------------------------------------------------------------
// Keyed models: a map from key to value, where each operation touches one key.

/** What a keyed model does to the value of one key. `undefined` from `apply` means the op cannot happen. */
interface KeySemantics {
  /** The value of an absent key, which reads return. */
  readonly absent: string | null;
  readonly readFunctions: ReadonlySet<string>;
  apply(value: KeyedValue | null, op: Operation): KeyedValue | null | undefined;
  formatCall(op: Operation): string;
}

/** A key's value with its running hash (FNV-1a, not finalized, so an append extends it in O(appended)). */
export interface KeyedValue {
  readonly text: string;
  readonly hash: number;
}

/**
 * The map's state: keys sorted, values beside them. Immutable; `hash` is kept up to date as entries change, so
 * hashing a state is O(1). Arrays rather than a Map: a step copies the state, and states are small (one key when
 * partitioned).
 */
export interface KeyedState {
  readonly keys: readonly string[];
  readonly values: readonly KeyedValue[];
  readonly hash: number;
}

export type ModelName = 'kv' | 'register';

const EMPTY_STATE: KeyedState = { keys: [], values: [], hash: 0 };
const NOT_OK: StepResult<never> = { ok: false };
const FNV_OFFSET = 0x811c9dc5 | 0;

function keyedModel(name: ModelName, semantics: KeySemantics): Model<KeyedState> {
  return {
    name,
    init: () => EMPTY_STATE,
    step(state, op) {
      const at = indexOfKey(state.keys, op.key);
      const current = at >= 0 ? (state.values[at] ?? null) : null;
      const next = semantics.apply(current, op);
      if (next === undefined) return NOT_OK;
      if (next === current || (next !== null && current !== null && next.text === current.text)) return { ok: true, newState: state };
      let hash = state.hash;
      if (current !== null) hash = (hash - entryHash(op.key, current)) | 0;
      // An absent key and one holding the absent value are the same state.
      const remove = next === null || next.text === semantics.absent;
      if (!remove) hash = (hash + entryHash(op.key, next)) | 0;
      if (at >= 0) {
        if (remove) return { ok: true, newState: { keys: without(state.keys, at), values: without(state.values, at), hash } };
        const values = state.values.slice();
        values[at] = next;
        return { ok: true, newState: { keys: state.keys, values, hash } };
      }
      if (remove) return { ok: true, newState: state };
      const insertAt = ~at;
      return { ok: true, newState: { keys: inserted(state.keys, insertAt, op.key), values: inserted(state.values, insertAt, next), hash } };
    },
    partition: partitionByKey,
    hash: (state) => state.hash,
    equal(a, b) {
      if (a === b) return true;
      if (a.hash !== b.hash || a.keys.length !== b.keys.length) return false;
      for (let i = 0; i < a.keys.length; i++) {
        const x = a.values[i];
        const y = b.values[i];
        if (a.keys[i] !== b.keys[i] || x === undefined || y === undefined) return false;
        if (x !== y && (x.hash !== y.hash || x.text !== y.text)) return false;
      }
      return true;
    },
    isReadOnly: (op) => semantics.readFunctions.has(op.f),
    describeState(state) {
      const entries = state.keys.map((key, i) => `${JSON.stringify(key)}: ${JSON.stringify(state.values[i]?.text ?? null)}`);
      return `{${entries.join(', ')}}`;
    },
    formatCall: (op) => semantics.formatCall(op),
    formatResult(op) {
      if (op.status !== 'ok') return op.status;
      return semantics.readFunctions.has(op.f) ? formatValue(op.output) : 'ok';
    },
  };
}

/** Binary search: the key's index, or `~insertionPoint` when absent. */
function indexOfKey(keys: readonly string[], key: string): number {
  let low = 0;
  let high = keys.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const probe = keys[middle] as string;
    if (probe === key) return middle;
    if (probe < key) low = middle + 1;
    else high = middle - 1;
  }
  return ~low;
}

function without<T>(items: readonly T[], at: number): T[] {
  return [...items.slice(0, at), ...items.slice(at + 1)];
}

function inserted<T>(items: readonly T[], at: number, item: T): T[] {
  return [...items.slice(0, at), item, ...items.slice(at)];
}

function keyedValue(text: string): KeyedValue {
  return { text, hash: fnv(FNV_OFFSET, text) };
}

function appended(value: KeyedValue | null, suffix: string): KeyedValue {
  if (value === null) return keyedValue(suffix);
  return { text: value.text + suffix, hash: fnv(value.hash, suffix) };
}

function fnv(hash: number, text: string): number {
  let h = hash;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h;
}

function partitionByKey(operations: readonly Operation[]): Partition[] {
  const groups = new Map<string, Operation[]>();
  for (const op of operations) {
    const group = groups.get(op.key);
    if (group === undefined) groups.set(op.key, [op]);
    else group.push(op);
  }
  return [...groups].map(([key, ops]) => ({ key, operations: ops }));
}

/** A key's value's contribution to the state hash: its running hash finalized with the key's. */
function entryHash(key: string, value: KeyedValue): number {
  let hash = fnv(value.hash, key);
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  return (hash ^ (hash >>> 16)) | 0;
}

export function formatValue(value: Value): string {
  if (value === null) return 'nil';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((item: Value) => formatValue(item)).join(' ')}]`;
  return String(value);
}

function expectString(op: Operation, value: Value, what: string): string {
  // Called on every step: the message is built only on failure.
  if (typeof value !== 'string') assert.fail(`operation ${op.id} (${op.f}): ${what} must be a string, got ${formatValue(value)}`);
  return value;
}

/**
 * Porcupine's key-value model: a map from key to string, initially empty. `put` sets, `append` concatenates,
 * `get` reads (`""` when the key is absent).
 */
export const kvModel: Model<KeyedState> = keyedModel('kv', {
  absent: '',
  readFunctions: new Set(['get']),
  apply(value, op) {
    switch (op.f) {
      case 'get':
        if (op.status === 'info') return value;
        return op.output === (value?.text ?? '') ? value : undefined;
      case 'put':
        return keyedValue(expectString(op, op.input, 'the value put'));
      case 'append':
        return appended(value, expectString(op, op.input, 'the value appended'));
      default:
        throw new RangeError(`kv model: unknown function "${op.f}" in operation ${op.id}`);
    }
  },
  formatCall(op) {
    const key = JSON.stringify(op.key);
    return op.f === 'get' ? `get(${key})` : `${op.f}(${key},${formatValue(op.input)})`;
  },
});

/** The `[expected, new]` of a CAS. */
export function casArguments(op: Operation): { readonly expected: string | null; readonly value: string } {
  const input = op.input;
  if (!Array.isArray(input) || input.length !== 2)
    assert.fail(`operation ${op.id}: a cas takes [expected, new], got ${formatValue(input)}`);
  const [expected, value] = input as readonly Value[];
  if (expected !== null && typeof expected !== 'string') assert.fail(`operation ${op.id}: cas expected value must be a string or nil`);
  return { expected: expected as string | null, value: expectString(op, value ?? null, 'the new value of a cas') };
}

/**
 * A register per key, for raftkv's chaos workloads: `read` (nil when the key is absent), `write`, and
 * `cas` with input `[expected, new]`, which succeeds only when the register holds `expected`. Values written
 * are unique strings. A CAS that completes `ok` succeeded; one that found another value completes `fail`.
 */
export const registerModel: Model<KeyedState> = keyedModel('register', {
  absent: null,
  readFunctions: new Set(['read']),
  apply(value, op) {
    switch (op.f) {
      case 'read':
        if (op.status === 'info') return value;
        return op.output === (value?.text ?? null) ? value : undefined;
      case 'write':
        return keyedValue(expectString(op, op.input, 'the value written'));
      case 'cas': {
        const { expected, value: next } = casArguments(op);
        return expected === (value?.text ?? null) ? keyedValue(next) : undefined;
      }
      default:
        throw new RangeError(`register model: unknown function "${op.f}" in operation ${op.id}`);
    }
  },
  formatCall(op) {
    const key = JSON.stringify(op.key);
    if (op.f === 'read') return `read(${key})`;
    if (op.f === 'cas') {
      const { expected, value } = casArguments(op);
      return `cas(${key},${formatValue(expected)},${formatValue(value)})`;
    }
    return `${op.f}(${key},${formatValue(op.input)})`;
  },
});

/** The models a worker can run, by name: a model's functions cannot cross a MessagePort, its name can. */
export const MODELS: Readonly<Record<ModelName, Model<KeyedState>>> = { kv: kvModel, register: registerModel };

export function modelByName(name: string): Model<KeyedState> {
  assert.ok(Object.hasOwn(MODELS, name), `unknown model "${name}"`);
  return MODELS[name as ModelName];
}
