// The faults of one directed link: set by the supervisor, applied by the sender's link layer, drawn by the explorer.

/** Faults the supervisor sets on one directed link (sender side). */
export interface LinkFaults {
  /** Cut: nothing goes through (a partition). */
  readonly cut: boolean;
  /** Probability a message is dropped. */
  readonly drop: number;
  /** Each message is held for a uniform delay in [min, max] milliseconds (reorders messages). */
  readonly delayMs: readonly [number, number];
  /** Probability a message is delivered twice. */
  readonly duplicate: number;
}
