import { describe, expect, it } from 'vitest';
import { deriveOptions, runSchedule } from './simulator.js';

describe('simulator: every run is a seed', () => {
  it('replays a seed exactly', () => {
    for (const seed of [7, 12345, 2 ** 40 + 3]) {
      const first = runSchedule(seed);
      const second = runSchedule(seed);
      expect(second.stats).toEqual(first.stats);
      expect(second.options).toEqual(first.options);
    }
  });

  it('derives different schedules from different seeds', () => {
    const options = new Set(Array.from({ length: 20 }, (_, seed) => JSON.stringify({ ...deriveOptions(seed), seed: 0 })));
    expect(options.size).toBeGreaterThan(15);
  });
});
