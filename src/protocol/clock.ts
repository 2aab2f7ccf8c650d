// A node's clock as the supervisor sets it (the start-up message, then NodeControl.setClock): a rate that
// scales how often the node ticks, and a skew that offsets its wall time. Real clocks drift apart; these let a
// chaos scenario make them, within the bound lease reads need (leaseClockRateRatioMax in src/raft/raft.ts) or
// beyond it.

/**
 * `rate`: ticks per `tickMs` of real time (1.05 ticks 5% fast: every tickMs / 1.05 ms). `skewMs`: how far the
 * node's wall clock is ahead of the real one (negative: behind); a node stamps the commands it takes from
 * clients with its own time (KV sessions expire by it), so a skewed node stamps them off by this much.
 */
export interface NodeClock {
  readonly rate: number;
  readonly skewMs: number;
}

/** Every node's clock unless told otherwise. */
export const TRUE_CLOCK: NodeClock = Object.freeze({ rate: 1, skewMs: 0 });

/** Rates a clock may be set to: a node ticking twice as fast or half as fast as another is far beyond any lease. */
export const CLOCK_RATE_MIN = 0.5;
export const CLOCK_RATE_MAX = 2;
/** A skew beyond an hour is no drift but a wrong clock. */
export const CLOCK_SKEW_MS_MAX = 3_600_000;

/** The clock, checked: a rate within [CLOCK_RATE_MIN, CLOCK_RATE_MAX], an integer skew within ±CLOCK_SKEW_MS_MAX. */
export function validateClock(clock: NodeClock): NodeClock {
  const { rate, skewMs } = clock;
  if (typeof rate !== 'number' || !(rate >= CLOCK_RATE_MIN && rate <= CLOCK_RATE_MAX))
    throw new RangeError(`clock rate must be a number from ${CLOCK_RATE_MIN} to ${CLOCK_RATE_MAX}, got ${String(rate)}`);
  if (!Number.isSafeInteger(skewMs) || Math.abs(skewMs) > CLOCK_SKEW_MS_MAX)
    throw new RangeError(`clock skewMs must be an integer from -${CLOCK_SKEW_MS_MAX} to ${CLOCK_SKEW_MS_MAX}, got ${String(skewMs)}`);
  return { rate, skewMs };
}
