// The benchmarks' summaries (bench/lib/stats.ts): one percentile definition everywhere, and the mean's interval
// that the explorer bench reports its cost with.
import { describe, expect, it } from 'vitest';
import { meanInterval, median, nearestRank, sortedSamples } from '../../bench/lib/stats.js';

describe('bench statistics', () => {
  it('takes nearest-rank percentiles of samples sorted as numbers', () => {
    const sorted = sortedSamples([10, 9, 100, 1]);
    expect([...sorted]).toEqual([1, 9, 10, 100]);
    expect(nearestRank(sorted, 0.5)).toBe(9);
    expect(nearestRank(sorted, 0.99)).toBe(100);
    expect(median([3, 1, 2])).toBe(2);
    expect(() => nearestRank(sorted, 2)).toThrow(RangeError);
  });

  it("gives the mean's 95% interval with Student's t", () => {
    // Samples 1..5: mean 3, sample sd sqrt(2.5), t(4) = 2.776, half width 2.776 * sqrt(2.5 / 5) = 1.963.
    const interval = meanInterval([1, 2, 3, 4, 5]);
    expect(interval.mean).toBe(3);
    expect(interval.low).toBeCloseTo(3 - 1.963, 3);
    expect(interval.high).toBeCloseTo(3 + 1.963, 3);
    // Past 31 samples the normal quantile stands in: 40 samples alternating 0 and 2, sd 1.0127, half width 0.3138.
    const many = meanInterval(Array.from({ length: 40 }, (_, i) => (i % 2) * 2));
    expect(many.high - many.mean).toBeCloseTo(1.96 * Math.sqrt(40 / 39 / 40), 6);
    expect(Number.isNaN(meanInterval([7]).low)).toBe(true);
    expect(meanInterval([7]).mean).toBe(7);
    expect(Number.isNaN(meanInterval([]).mean)).toBe(true);
  });
});
