// The explorer's load generator (issue 14): writes and linearizable reads through the router at a set rate,
// so the page can show throughput and latency while faults are injected. Each second it reports a `load`
// event: operations that succeeded and failed, and their p50 and p99 latency. It stops at rate 0.
import { performance } from 'node:perf_hooks';
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
      const key = this.encoder.encode(`explorer/load/${this.next++ % KEYS}`);
      const started = performance.now();
      this.inFlight++;
      // An even spread of reads among the writes, by share (no randomness needed).
      const read = (this.next * this.settings.readShare) % 1 < this.settings.readShare;
      const done = (ok: boolean): void => {
        this.inFlight--;
        if (ok) {
          this.ok++;
          this.latencies.push(performance.now() - started);
        } else this.failed++;
      };
      const pending = read
        ? this.router.read({ op: 'get', keys: [key] }).then((outcome) => outcome.ok)
        : this.router
            .write({ op: 'put', key, value: this.encoder.encode(String(started)) })
            .then((outcome) => outcome.ok && outcome.result.ok);
      pending.then(done, () => done(false));
    }
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
