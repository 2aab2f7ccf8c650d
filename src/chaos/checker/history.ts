/**
 * Histories of client operations, recorded with Jepsen's semantics: every operation is invoked, then completes
 * `ok` (it happened, between its invocation and its completion), `fail` (it surely did not happen) or `info`
 * (it may have happened, at any time after its invocation: indefinite errors and timeouts).
 *
 * The checker sees `fail` operations as absent and gives `info` operations a completion time of +infinity; such
 * an operation may also be left out of a linearization altogether.
 */
import assert from 'node:assert/strict';

/** A value carried by an operation: a string, a number, nil, or a vector of them (Jepsen's `[expected new]`). */
export type Value = string | number | boolean | null | readonly Value[];

export type OperationStatus = 'ok' | 'fail' | 'info';

/** How the times of a history are counted: milliseconds of a monotonic clock, or positions in an event log. */
export type TimeUnit = 'ms' | 'event';

export interface Operation {
  /** Unique within its history (its position among the history's operations). */
  readonly id: number;
  /** The client process that ran it; a process has at most one operation outstanding. */
  readonly process: number;
  /** The function: `get`, `put`, `append` (KV model), `read`, `write`, `cas` (register model). */
  readonly f: string;
  readonly key: string;
  /** The argument: the value written, `[expected, new]` for a CAS, null for a read. */
  readonly input: Value;
  /** The result: the value read; meaningless when `status` is `info` (the result never came back). */
  readonly output: Value;
  readonly status: OperationStatus;
  readonly invokeTime: number;
  /** +Infinity for an `info` operation: it may take effect at any time after its invocation. */
  readonly completeTime: number;
}

/** A history with the unit of its times, as the parser returns it. */
export interface ParsedHistory {
  readonly operations: readonly Operation[];
  readonly timeUnit: TimeUnit;
}

/**
 * The operations the checker searches: `fail` operations dropped (they did not happen) and `info` operations
 * completed at +infinity. Ids are kept, so explanations name the operations of the original history.
 */
export function normalizeOperations(operations: readonly Operation[]): Operation[] {
  const seenIds = new Set<number>();
  const normalized: Operation[] = [];
  for (const op of operations) {
    assert.ok(!seenIds.has(op.id), `operation id ${op.id} is used twice`);
    seenIds.add(op.id);
    assert.ok(Number.isFinite(op.invokeTime), `operation ${op.id} has no finite invoke time`);
    if (op.status === 'fail') continue;
    if (op.status === 'info') {
      normalized.push(op.completeTime === Number.POSITIVE_INFINITY ? op : { ...op, completeTime: Number.POSITIVE_INFINITY });
      continue;
    }
    assert.ok(op.completeTime >= op.invokeTime, `operation ${op.id} completes before it is invoked`);
    normalized.push(op);
  }
  return normalized;
}

// ---------------------------------------------------------------------------------------------------------------
// Recording (for the chaos runner): invoke, then complete with ok / fail / info.

export interface InvokeArguments {
  readonly process: number;
  readonly f: string;
  readonly key: string;
  readonly input: Value;
}

export interface Completion {
  readonly status: OperationStatus;
  /** The value read; omit for writes and for `info`. */
  readonly output?: Value;
}

/** A handle on an invoked operation, to pass to `complete`. */
export interface PendingOperation {
  readonly id: number;
}

/**
 * Records a history as it happens. Times come from `clock` (ms, monotonic). Operations still outstanding when
 * `operations()` is called come out as `info`: they may or may not have happened.
 */
export class HistoryRecorder {
  private readonly clock: () => number;
  private readonly invoked: InvokeArguments[] = [];
  private readonly invokeTimes: number[] = [];
  private readonly completions = new Map<number, { readonly completion: Completion; readonly time: number }>();
  private readonly outstandingByProcess = new Map<number, number>();

  constructor(options: { readonly clock?: () => number } = {}) {
    this.clock = options.clock ?? (() => performance.now());
  }

  invoke(call: InvokeArguments): PendingOperation {
    assert.ok(!this.outstandingByProcess.has(call.process), `process ${call.process} already has an operation outstanding`);
    const id = this.invoked.length;
    this.invoked.push(call);
    this.invokeTimes.push(this.clock());
    this.outstandingByProcess.set(call.process, id);
    return { id };
  }

  complete(pending: PendingOperation, completion: Completion): void {
    const call = this.invoked[pending.id];
    assert.ok(call !== undefined, `operation ${pending.id} was never invoked`);
    assert.ok(!this.completions.has(pending.id), `operation ${pending.id} completed twice`);
    this.completions.set(pending.id, { completion, time: this.clock() });
    this.outstandingByProcess.delete(call.process);
  }

  /** Operations completed so far (answered, or failed for sure): for progress, without building the history. */
  get completed(): number {
    return this.completions.size;
  }

  operations(): Operation[] {
    return this.invoked.map((call, id) => {
      const invokeTime = this.invokeTimes[id] ?? Number.NaN;
      const done = this.completions.get(id);
      const status = done?.completion.status ?? 'info';
      return {
        id,
        process: call.process,
        f: call.f,
        key: call.key,
        input: call.input,
        output: status === 'info' ? null : (done?.completion.output ?? null),
        status,
        invokeTime,
        completeTime: status === 'info' ? Number.POSITIVE_INFINITY : (done?.time ?? Number.NaN),
      };
    });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing Jepsen's EDN-like lines: `{:process 0, :type :invoke, :f :get, :key "k", :value nil}`.

/** The longest line the parser accepts: a history line is a small map. */
export const HISTORY_LINE_CHARS_MAX = 1_000_000;

type EdnValue = string | number | boolean | null | EdnKeyword | EdnValue[] | Map<string, EdnValue>;

interface EdnKeyword {
  readonly keyword: string;
}

export class HistoryParseError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`line ${line}: ${message}`);
    this.name = 'HistoryParseError';
  }
}

/**
 * Parses one event a line and pairs each completion with the last invocation of its process. Events without a
 * numeric `:process` (the nemesis) are skipped. Times are `:time` (ns, converted to ms) when every event has it,
 * else the event's position in the file (`timeUnit: 'event'`). An invocation never completed comes out `info`.
 */
export function parseJepsenHistory(text: string): ParsedHistory {
  const events = parseEvents(text);
  const timed = events.length > 0 && events.every((event) => event.timeNs !== null);
  const timeOf = (event: ParsedEvent): number => (timed ? (event.timeNs ?? 0) / 1e6 : event.index);

  interface Open {
    readonly event: ParsedEvent;
    readonly slot: number;
  }
  const open = new Map<number, Open>();
  const slots: (Operation | null)[] = [];
  const pendingSlots: Open[] = [];
  for (const event of events) {
    if (event.type === 'invoke') {
      if (open.has(event.process)) {
        throw new HistoryParseError(`process ${event.process} invokes while an operation is outstanding`, event.line);
      }
      const entry = { event, slot: slots.length };
      slots.push(null);
      open.set(event.process, entry);
      pendingSlots.push(entry);
      continue;
    }
    const invocation = open.get(event.process);
    if (invocation === undefined)
      throw new HistoryParseError(`process ${event.process} completes with no operation outstanding`, event.line);
    if (invocation.event.f !== event.f) {
      throw new HistoryParseError(`process ${event.process} invoked :${invocation.event.f} but completes :${event.f}`, event.line);
    }
    open.delete(event.process);
    slots[invocation.slot] = {
      id: invocation.slot,
      process: event.process,
      f: invocation.event.f,
      key: invocation.event.key,
      input: invocation.event.value,
      output: event.type === 'info' ? null : event.value,
      status: event.type,
      invokeTime: timeOf(invocation.event),
      completeTime: event.type === 'info' ? Number.POSITIVE_INFINITY : timeOf(event),
    };
  }
  for (const { event, slot } of pendingSlots) {
    if (slots[slot] !== null) continue;
    slots[slot] = {
      id: slot,
      process: event.process,
      f: event.f,
      key: event.key,
      input: event.value,
      output: null,
      status: 'info',
      invokeTime: timeOf(event),
      completeTime: Number.POSITIVE_INFINITY,
    };
  }
  const operations = slots.map((op) => {
    assert.ok(op !== null);
    return op;
  });
  return { operations, timeUnit: timed ? 'ms' : 'event' };
}

interface ParsedEvent {
  readonly line: number;
  /** Position among the client events, from 0. */
  readonly index: number;
  readonly process: number;
  readonly type: 'invoke' | OperationStatus;
  readonly f: string;
  readonly key: string;
  readonly value: Value;
  readonly timeNs: number | null;
}

function parseEvents(text: string): ParsedEvent[] {
  const events: ParsedEvent[] = [];
  const lines = text.split('\n');
  for (const [i, raw] of lines.entries()) {
    const lineNumber = i + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith(';')) continue;
    if (line.length > HISTORY_LINE_CHARS_MAX) throw new HistoryParseError('line too long', lineNumber);
    const parsed = readEdn(line, lineNumber);
    if (!(parsed instanceof Map)) throw new HistoryParseError('an event is a map', lineNumber);
    const process = parsed.get('process');
    if (typeof process !== 'number') continue; // the nemesis and other non-client processes
    const type = keywordOf(parsed.get('type'));
    if (type !== 'invoke' && type !== 'ok' && type !== 'fail' && type !== 'info') {
      throw new HistoryParseError(`unknown :type ${String(type)}`, lineNumber);
    }
    const f = keywordOf(parsed.get('f'));
    if (f === null) throw new HistoryParseError('missing :f', lineNumber);
    const key = parsed.get('key');
    const time = parsed.get('time');
    events.push({
      line: lineNumber,
      index: events.length,
      process,
      type,
      f,
      key: typeof key === 'string' ? key : key === undefined || key === null ? '' : String(toValue(key, lineNumber)),
      value: toValue(parsed.get('value') ?? null, lineNumber),
      timeNs: typeof time === 'number' ? time : null,
    });
  }
  return events;
}

function keywordOf(value: EdnValue | undefined): string | null {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Map)) return value.keyword;
  return null;
}

function toValue(value: EdnValue, line: number): Value {
  if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (Array.isArray(value)) return value.map((item) => toValue(item, line));
  if (value instanceof Map) throw new HistoryParseError('a map is not a supported operation value', line);
  return `:${value.keyword}`;
}

/** Reads one EDN form: maps, vectors, lists, strings, keywords, numbers, nil, true, false. */
function readEdn(text: string, line: number): EdnValue {
  let at = 0;
  const fail = (message: string): never => {
    throw new HistoryParseError(`${message} at column ${at + 1}`, line);
  };
  const skip = (): void => {
    while (at < text.length && /[\s,]/.test(text[at] ?? '')) at++;
  };
  const form = (): EdnValue => {
    skip();
    const c = text[at];
    if (c === undefined) return fail('unexpected end');
    if (c === '{') {
      at++;
      const map = new Map<string, EdnValue>();
      for (;;) {
        skip();
        if (text[at] === '}') {
          at++;
          return map;
        }
        const key = form();
        const name = keywordOf(key);
        if (name === null) return fail('a map key must be a keyword or string');
        map.set(name, form());
      }
    }
    if (c === '[' || c === '(') {
      const close = c === '[' ? ']' : ')';
      at++;
      const items: EdnValue[] = [];
      for (;;) {
        skip();
        if (text[at] === close) {
          at++;
          return items;
        }
        if (at >= text.length) return fail(`missing ${close}`);
        items.push(form());
      }
    }
    if (c === '"') return string();
    if (c === ':') {
      at++;
      return { keyword: atom() };
    }
    const word = atom();
    if (word === 'nil') return null;
    if (word === 'true') return true;
    if (word === 'false') return false;
    const number = Number(word.replace(/[NM]$/, ''));
    if (word !== '' && Number.isFinite(number)) return number;
    return fail(`unexpected "${word || c}"`);
  };
  const atom = (): string => {
    const start = at;
    while (at < text.length && !/[\s,{}[\]()"]/.test(text[at] ?? '')) at++;
    return text.slice(start, at);
  };
  const string = (): string => {
    at++;
    let out = '';
    for (;;) {
      const c = text[at];
      if (c === undefined) return fail('unterminated string');
      at++;
      if (c === '"') return out;
      if (c !== '\\') {
        out += c;
        continue;
      }
      const escaped = text[at];
      at++;
      if (escaped === 'n') out += '\n';
      else if (escaped === 't') out += '\t';
      else if (escaped === 'r') out += '\r';
      else if (escaped === 'u') {
        out += String.fromCharCode(Number.parseInt(text.slice(at, at + 4), 16));
        at += 4;
      } else if (escaped === undefined) return fail('unterminated string');
      else out += escaped;
    }
  };
  const value = form();
  skip();
  if (at !== text.length) fail('trailing characters');
  return value;
}
