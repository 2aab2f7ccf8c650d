/**
 * Progress of long work (the simulator's seeds, the benchmark's cells, a chaos run): elapsed time, done of
 * total, the rate, the time left and what runs now. On a terminal one line redrawn in place a few times a
 * second; otherwise (CI logs, a file) a whole line every PROGRESS_LINE_INTERVAL_MS, so a log shows a long run
 * moving without a flood of lines.
 *
 * Work that keeps the event loop busy (the simulator's loop is synchronous) calls update() as it goes, and the
 * line is drawn when one is due; work that awaits (a benchmark cell) may call start() for a timer that draws it.
 */

/** A terminal redraws its line at most this often. */
export const PROGRESS_REDRAW_INTERVAL_MS = 250;
/** Elsewhere, a progress line at most this often. */
export const PROGRESS_LINE_INTERVAL_MS = 5_000;

/** Where progress goes: a stream like process.stdout (isTTY says whether it may redraw a line). */
export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

export interface ProgressOptions {
  /** What is being done, first on the line ("sim", "bench", a scenario's name). */
  readonly label: string;
  /** How many units the work has; null when unknown (no percentage, no time left). */
  readonly total: number | null;
  /** What a unit is called, plural ("seeds", "cells", "ops"). */
  readonly unit: string;
  readonly stream?: ProgressStream;
  /** Milliseconds, for tests; performance.now by default. */
  readonly now?: () => number;
}

/** "1m05s", "42s", "2h03m". */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

export class Progress {
  private readonly stream: ProgressStream;
  private readonly now: () => number;
  private readonly tty: boolean;
  private readonly startedAt: number;
  private lastDrawAt = Number.NEGATIVE_INFINITY;
  private done = 0;
  private detail = '';
  /** A line is on the terminal that the next output must clear first. */
  private drawn = false;
  private timer: ReturnType<typeof setInterval> | null = null;
  /** Writes past interceptOutput's wrapper (the stream's own write). */
  private rawWrite: (text: string) => unknown;
  private restoreWrite: (() => void) | null = null;

  constructor(private readonly options: ProgressOptions) {
    this.stream = options.stream ?? process.stdout;
    this.now = options.now ?? (() => performance.now());
    this.tty = this.stream.isTTY === true;
    this.rawWrite = (text) => this.stream.write(text);
    this.startedAt = this.now();
    // The first line of a non-terminal log comes one interval in: short runs print none.
    this.lastDrawAt = this.tty ? Number.NEGATIVE_INFINITY : this.startedAt;
  }

  /** Records how far the work is (and what runs now); draws the line if one is due. */
  update(done: number, detail: string = this.detail): void {
    this.done = done;
    this.detail = detail;
    if (this.now() - this.lastDrawAt >= (this.tty ? PROGRESS_REDRAW_INTERVAL_MS : PROGRESS_LINE_INTERVAL_MS)) this.draw();
  }

  /** For work that awaits: a timer draws the line when due, until stop(). */
  start(): this {
    this.timer ??= setInterval(() => this.update(this.done), this.tty ? PROGRESS_REDRAW_INTERVAL_MS : PROGRESS_LINE_INTERVAL_MS);
    this.timer.unref();
    return this;
  }

  /** Prints a line of the work's own output: above the progress line, which is drawn again after it. */
  log(line: string): void {
    this.clear();
    this.rawWrite(`${line}\n`);
    if (this.tty && this.timer !== null) this.draw();
  }

  /**
   * On a terminal, until stop(): whatever else writes to this stream (console.log of the work itself) clears the
   * progress line first, and the line is drawn again under a completed line. Nothing changes elsewhere.
   */
  interceptOutput(): this {
    const stream = this.stream as ProgressStream & { write: (...args: unknown[]) => unknown };
    if (!this.tty || this.restoreWrite !== null) return this;
    const original = stream.write;
    const ownWrite = Object.hasOwn(stream, 'write');
    this.rawWrite = (text) => original.call(stream, text);
    stream.write = (...args: unknown[]): unknown => {
      this.clear();
      const result = original.apply(stream, args);
      if (typeof args[0] === 'string' && args[0].endsWith('\n') && this.timer !== null) this.draw();
      return result;
    };
    this.restoreWrite = () => {
      if (ownWrite) stream.write = original;
      else delete (stream as { write?: unknown }).write;
      this.rawWrite = (text) => original.call(stream, text);
    };
    return this;
  }

  /** Ends the progress: the timer stops and a terminal's line is cleared (the work prints its own summary). */
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.clear();
    this.restoreWrite?.();
    this.restoreWrite = null;
  }

  /** The progress line as it would be drawn now. */
  line(): string {
    const elapsed = this.now() - this.startedAt;
    const { total, unit, label } = this.options;
    const parts = [`${label}: ${formatDuration(elapsed)}`];
    parts.push(
      total === null
        ? `${this.done.toLocaleString('en-US')} ${unit}`
        : `${this.done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} ${unit}`,
    );
    if (total !== null && total > 0) parts.push(`${Math.floor((this.done / total) * 100)}%`);
    if (elapsed >= 1000 && this.done > 0) {
      const perSecond = this.done / (elapsed / 1000);
      parts.push(
        perSecond >= 10 ? `${Math.round(perSecond).toLocaleString('en-US')} ${unit}/s` : `${(perSecond * 60).toFixed(1)} ${unit}/min`,
      );
      if (total !== null && this.done < total) parts.push(`~${formatDuration(((total - this.done) / perSecond) * 1000)} left`);
    }
    if (this.detail !== '') parts.push(this.detail);
    return parts.join(' · ');
  }

  private draw(): void {
    this.lastDrawAt = this.now();
    if (this.tty) {
      this.rawWrite(`\r${this.line()}\x1b[K`);
      this.drawn = true;
    } else this.rawWrite(`${this.line()}\n`);
  }

  private clear(): void {
    if (!this.drawn) return;
    this.drawn = false;
    this.rawWrite('\r\x1b[K');
  }
}
