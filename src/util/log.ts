/**
 * The log of `raftkv cluster` (issue 15, item 4), on pino: every line has a time, a level, the node it is about
 * and the term when known, and a message. Two formats:
 *
 * - `json`: one object per line on stdout (`{"level":"info","time":"2026-...Z","node":"n2","term":5,"msg":"..."}`),
 *   what Kubernetes, journald and log shippers take as is.
 * - `pretty` (the default, on a terminal or not: piping into grep or tee must not change what is printed): one
 *   readable line `HH:MM:SS.mmm LEVEL [n2 t5] message` in local time. The announcements users and scripts read
 *   (`HTTP API: ...`, `leader n1 (term 1)`, `n1 running: started`) are printed bare, exactly as before this logger.
 *
 * Logging is off every hot path (start-up, faults, state changes), so pretty lines are formatted synchronously
 * here rather than in a pino transport thread: a line is out before the process can exit.
 */
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

export function isLogFormat(value: string): value is LogFormat {
  return (LOG_FORMATS as readonly string[]).includes(value);
}

/** What a line is about, beyond its message. */
export interface LogContext {
  /** info when not given. */
  readonly level?: LogLevel;
  readonly node?: string;
  /** The node's term, when the writer knows it. */
  readonly term?: number;
  /** A line users and scripts read as is (a start-up line, the leader): printed bare in pretty format. */
  readonly announce?: boolean;
}

/**
 * Where a component sends its lines. A plain `(line: string) => void` (an array's push in a test) is one too:
 * it just ignores the context.
 */
export type LogFn = (message: string, context?: LogContext) => void;

/** Where the formatted lines go (process.stdout by default). */
export interface LogSink {
  write(text: string): unknown;
}

export interface LoggerOptions {
  readonly format: LogFormat;
  readonly level: LogLevel;
  readonly sink?: LogSink;
  /** The clock of the lines' times (tests fix it). */
  readonly now?: () => number;
}

export interface Logger {
  readonly format: LogFormat;
  readonly level: LogLevel;
  readonly log: LogFn;
}

/** The width of the widest level name, so pretty messages line up. */
const LEVEL_WIDTH = 5;

/** One pretty line from pino's JSON object: `HH:MM:SS.mmm LEVEL [n2 t5] message`. */
export function prettyLine(record: { time: string; level: string; node?: string; term?: number; msg: string }): string {
  const time = new Date(record.time);
  const clock = [time.getHours(), time.getMinutes(), time.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
  const stamp = `${clock}.${String(time.getMilliseconds()).padStart(3, '0')}`;
  const about = record.node === undefined ? '' : `[${record.node}${record.term === undefined ? '' : ` t${record.term}`}] `;
  return `${stamp} ${record.level.toUpperCase().padEnd(LEVEL_WIDTH)} ${about}${record.msg}`;
}

/** A pino destination that turns each JSON line into a pretty one before it reaches `sink`. */
function prettyDestination(sink: LogSink): DestinationStream {
  return {
    write(line: string): void {
      sink.write(prettyLine(JSON.parse(line) as Parameters<typeof prettyLine>[0]) + '\n');
    },
  };
}

export function createLogger(options: LoggerOptions): Logger {
  const sink = options.sink ?? process.stdout;
  const now = options.now ?? Date.now;
  const logger: PinoLogger = pino(
    {
      level: options.level,
      // No pid or hostname on every line: one process, and the collector knows its host.
      base: null,
      // ISO 8601 times and level names: readable by people and by every log collector.
      timestamp: () => `,"time":"${new Date(now()).toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.format === 'json' ? sink : prettyDestination(sink),
  );
  const log: LogFn = (message, context = {}) => {
    const level = context.level ?? 'info';
    if (options.format === 'pretty' && context.announce === true) {
      if (logger.isLevelEnabled(level)) sink.write(message + '\n');
      return;
    }
    const fields: { node?: string; term?: number } = {};
    if (context.node !== undefined) fields.node = context.node;
    if (context.term !== undefined) fields.term = context.term;
    logger[level](fields, message);
  };
  return { format: options.format, level: options.level, log };
}

/** A cap on repeated lines: at most `lines` of one key per `windowMs`; the rest are counted into one summary line. */
export interface RepeatLimit {
  readonly lines: number;
  readonly windowMs: number;
}

/** The limiter's clock and timer (tests drive a fake one). */
export interface LimiterClock {
  now(): number;
  after(ms: number, run: () => void): void;
}

export const SYSTEM_LIMITER_CLOCK: LimiterClock = {
  now: () => Date.now(),
  // Unref'd: a pending summary never keeps the process alive.
  after: (ms, run) => void setTimeout(run, ms).unref(),
};

interface RepeatState {
  windowStart: number;
  written: number;
  suppressed: number;
  /** The last line held back: the summary repeats it with the count. */
  last: { message: string; context: LogContext | undefined } | null;
}

/**
 * Keeps a repeated fault (a peer sending garbage on every message, a crash loop, a failing disk) from writing
 * a line per occurrence: per key, the first `limit.lines` lines of each window are written, and the ones after
 * are counted; at the end of the window one line says `<the last one> (repeated K times in the last S s)`.
 * Keys are meant to be few (a node, a node and a kind of fault): their state is kept for the limiter's life.
 */
export class RepeatLimiter {
  private readonly keys = new Map<string, RepeatState>();

  constructor(
    private readonly limit: RepeatLimit,
    private readonly write: LogFn,
    private readonly clock: LimiterClock = SYSTEM_LIMITER_CLOCK,
  ) {
    if (!Number.isInteger(limit.lines) || limit.lines < 1 || !(limit.windowMs > 0)) {
      throw new RangeError(`a repeat limit needs lines >= 1 and windowMs > 0, got ${JSON.stringify(limit)}`);
    }
  }

  log(key: string, message: string, context?: LogContext): void {
    const now = this.clock.now();
    let state = this.keys.get(key);
    if (state === undefined || now - state.windowStart >= this.limit.windowMs) {
      // A new window; a summary still pending for the old one is written by its timer first (it fires at the end).
      if (state !== undefined && state.suppressed > 0) this.summarize(key);
      state = { windowStart: now, written: 0, suppressed: 0, last: null };
      this.keys.set(key, state);
    }
    if (state.written < this.limit.lines) {
      state.written++;
      this.write(message, context);
      return;
    }
    state.suppressed++;
    state.last = { message, context };
    if (state.suppressed === 1) {
      const windowState = state;
      this.clock.after(state.windowStart + this.limit.windowMs - now, () => {
        if (this.keys.get(key) === windowState) this.summarize(key);
      });
    }
  }

  private summarize(key: string): void {
    const state = this.keys.get(key);
    if (state === undefined || state.last === null || state.suppressed === 0) return;
    const seconds = this.limit.windowMs / 1000;
    this.write(`${state.last.message} (repeated ${state.suppressed} times in the last ${seconds} s)`, state.last.context);
    state.suppressed = 0;
    state.last = null;
  }
}
