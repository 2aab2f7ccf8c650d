/** Erlang/OTP-style restart intensity: at most `maxRestarts` crashes in `periodMs`, with exponential backoff. */
export interface RestartPolicyOptions {
  readonly maxRestarts: number;
  readonly periodMs: number;
  readonly backoffMs: number;
  readonly backoffMaxMs: number;
}

export const RESTART_POLICY_DEFAULTS: RestartPolicyOptions = {
  maxRestarts: 5,
  periodMs: 30_000,
  backoffMs: 100,
  backoffMaxMs: 5_000,
};

export type RestartDecision =
  { readonly kind: 'restart'; readonly delayMs: number } | { readonly kind: 'give-up'; readonly reason: string };

export class RestartPolicy {
  readonly options: RestartPolicyOptions;
  private crashes: number[] = [];

  constructor(options: Partial<RestartPolicyOptions> = {}) {
    this.options = { ...RESTART_POLICY_DEFAULTS, ...options };
  }

  onCrash(nowMs: number): RestartDecision {
    const since = nowMs - this.options.periodMs;
    this.crashes = this.crashes.filter((at) => at > since);
    this.crashes.push(nowMs);
    if (this.crashes.length > this.options.maxRestarts) {
      return {
        kind: 'give-up',
        reason: `${this.crashes.length} crashes within ${this.options.periodMs} ms (limit ${this.options.maxRestarts})`,
      };
    }
    const delayMs = Math.min(this.options.backoffMaxMs, this.options.backoffMs * 2 ** (this.crashes.length - 1));
    return { kind: 'restart', delayMs };
  }

  /** The crashes counted against the limit now (those within the last periodMs). */
  recentCrashes(nowMs: number): number {
    const since = nowMs - this.options.periodMs;
    return this.crashes.filter((at) => at > since).length;
  }

  /** A deliberate restart clears the record. */
  reset(): void {
    this.crashes = [];
  }
}
