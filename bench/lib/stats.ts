// Summaries of samples for every benchmark. One definition of a percentile, nearest rank, so that a p50 or a p99
// means the same thing in every table (and no interpolation invents a value no run produced).

export interface Distribution {
  readonly count: number;
  readonly mean: number;
  readonly min: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/** The samples in ascending order, as numbers (a Float64Array sorts numerically, not as strings). */
export function sortedSamples(samples: ArrayLike<number>): Float64Array {
  return Float64Array.from(samples).sort();
}

/**
 * The nearest-rank percentile of samples sorted ascending: the smallest sample with at least the share `share`
 * (0 to 1) of all samples at or below it. NaN when there are none. With fewer than 100 samples p99 is the maximum.
 */
export function nearestRank(sorted: ArrayLike<number>, share: number): number {
  const count = sorted.length;
  if (count === 0) return Number.NaN;
  if (!(share >= 0 && share <= 1)) throw new RangeError(`a percentile share is from 0 to 1, got ${share}`);
  return sorted[Math.min(count - 1, Math.max(0, Math.ceil(share * count) - 1))] as number;
}

/** The nearest-rank median: for an even count, the lower of the two middle samples. */
export function median(samples: ArrayLike<number>): number {
  return nearestRank(sortedSamples(samples), 0.5);
}

export function distribution(samples: ArrayLike<number>): Distribution {
  const sorted = sortedSamples(samples);
  const count = sorted.length;
  if (count === 0) return { count: 0, mean: Number.NaN, min: Number.NaN, p50: Number.NaN, p99: Number.NaN, max: Number.NaN };
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    count,
    mean: sum / count,
    min: sorted[0] as number,
    p50: nearestRank(sorted, 0.5),
    p99: nearestRank(sorted, 0.99),
    max: sorted[count - 1] as number,
  };
}

/** Student's t, two-sided 95% (the 0.975 quantile), by degrees of freedom 1 to 30; past 30 the normal's 1.96 is within 4%. */
const T_975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086,
  2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

export interface MeanInterval {
  readonly mean: number;
  /** The two-sided 95% confidence interval of the mean (t distribution): NaN with fewer than two samples. */
  readonly low: number;
  readonly high: number;
}

/** The mean of independent samples and its 95% confidence interval, for figures whose spread is roughly normal. */
export function meanInterval(samples: readonly number[]): MeanInterval {
  const count = samples.length;
  if (count === 0) return { mean: Number.NaN, low: Number.NaN, high: Number.NaN };
  const mean = samples.reduce((a, b) => a + b, 0) / count;
  if (count < 2) return { mean, low: Number.NaN, high: Number.NaN };
  const variance = samples.reduce((a, b) => a + (b - mean) ** 2, 0) / (count - 1);
  const t = T_975[count - 2] ?? 1.96;
  const half = t * Math.sqrt(variance / count);
  return { mean, low: mean - half, high: mean + half };
}
