// The explorer's load generator (issue 14): writes and linearizable reads through the router at a set rate,
// so the page can show throughput and latency while faults are injected. Each second it reports a `load`
// event: operations that succeeded and failed, and their p50 and p99 latency. It stops at rate 0.
// It also checks its own keys (explorer/load/N): a read must see every write acknowledged before it was
// issued (the key's last-modified index at least that write's); otherwise an acknowledged write is missing,
// and it raises the alarm. Someone else writing or deleting those keys would make it raise it wrongly.
import { performance } from 'node:perf_hooks';
import type { KvQueryResult } from '../kv/commands.js';
import type { ExplorerHub } from './explorer.js';
import type { Router } from './router.js';

/** Operations issued per timer turn are spread over the second in steps of this many ms. */
const STEP_MS = 10;
/** Keys the load cycles through (explorer/load/0 ... ). */
const KEYS = 100;

export interface LoadSettings {
  /** Operations per second; 0 stops the load. */
  readonly rate: number;
  /** Share of reads (linearizable), the rest writes. */
  readonly readShare: number;
}

export class ExplorerLoad {
  private settings: LoadSettings = { rate: 0, readShare: 0.5 };
  private timer: NodeJS.Timeout | null = null;
  private reporter: NodeJS.Timeout | null = null;
  private credit = 0;
  private next = 0;
  private inFlight = 0;
  private ok = 0;
  private failed = 0;
  private skipped = 0;
  private latencies: number[] = [];
  /** Per key, the highest index of a write to it acknowledged so far. */
  private readonly acknowledged = new Map<string, number>();
  private readonly encoder = new TextEncoder();

  constructor(
    private readonly router: Router,
    private readonly hub: ExplorerHub,
    /** Operations in flight at most; beyond, the generator skips (and counts) rather than queue without bound. */
    private readonly inFlightMax: number,
  ) {}

  get current(): LoadSettings {
    return this.settings;
  }

  set(settings: LoadSettings): void {
    this.settings = settings;
    this.hub.load = { ...settings };
    if (settings.rate === 0) {
      this.stop();
      return;
    }
    this.timer ??= setInterval(() => this.issue(), STEP_MS);
    this.reporter ??= setInterval(() => this.report(), 1_000);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    if (this.reporter !== null) clearInterval(this.reporter);
    this.timer = null;
    this.reporter = null;
    this.credit = 0;
  }

  private issue(): void {
    this.credit += (this.settings.rate * STEP_MS) / 1_000;
    for (; this.credit >= 1; this.credit--) {
      if (this.inFlight >= this.inFlightMax) {
        this.skipped++;
        continue;
      }
      const op = this.next++;
      // Each key twice in a row, and reads spread evenly by share (op is a read when (op + 1) * share crosses an
      // integer): at share 0.5 every key is written, then read, so reads check the writes just acknowledged.
      const name = `explorer/load/${Math.floor(op / 2) % KEYS}`;
      const key = this.encoder.encode(name);
      const started = performance.now();
      this.inFlight++;
      const read = Math.floor((op + 1) * this.settings.readShare) > Math.floor(op * this.settings.readShare);
      const done = (ok: boolean): void => {
        this.inFlight--;
        if (ok) {
          this.ok++;
          this.latencies.push(performance.now() - started);
        } else this.failed++;
      };
      const ackedBefore = this.acknowledged.get(name) ?? 0;
      const pending = read
        ? this.router.read({ op: 'get', keys: [key] }).then((outcome) => {
            if (outcome.ok) this.checkRead(name, ackedBefore, outcome.result);
            return outcome.ok;
          })
        : this.router.write({ op: 'put', key, value: this.encoder.encode(String(started)) }).then((outcome) => {
            const ok = outcome.ok && outcome.result.ok;
            if (ok) this.acknowledged.set(name, Math.max(this.acknowledged.get(name) ?? 0, outcome.result.index));
            return ok;
          });
      pending.then(done, () => done(false));
    }
  }

  /** A linearizable read must see every write acknowledged before it was issued. */
  private checkRead(name: string, ackedBefore: number, result: KvQueryResult): void {
    if (ackedBefore === 0 || result.op !== 'get') return;
    const item = result.items[0] ?? null;
    if (item !== null && item.index >= ackedBefore) return;
    this.hub.alarm(
      'acknowledged-write-missing',
      `a read of ${name} returned ${item === null ? 'no value' : `the write at index ${item.index}`}, but a write at index ${ackedBefore} had been acknowledged before the read began`,
    );
  }

  private report(): void {
    const sorted = this.latencies.sort((a, b) => a - b);
    const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
    this.hub.recordLoad({
      rate: this.settings.rate,
      readShare: this.settings.readShare,
      ok: this.ok,
      failed: this.failed,
      skipped: this.skipped,
      p50Ms: at(0.5),
      p99Ms: at(0.99),
    });
    this.ok = 0;
    this.failed = 0;
    this.skipped = 0;
    this.latencies = [];
  }
}
