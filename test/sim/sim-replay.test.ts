import { describe, expect, it } from 'vitest';
import { deriveOptions, runSchedule } from './simulator.js';
import { FRESH_SEED_MIN, familyOfSeed, optionsOf, parseCliArgs, replayCommand, requestOf, type RunRequest } from './replay.js';
import { runRequest } from './run-seeds.js';

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

/** Splits a shell command line into words, honouring single quotes (all replayCommand ever prints). */
function shellWords(line: string): string[] {
  const words: string[] = [];
  const pattern = /'([^']*)'|(\\')|([^\s'\\]+)|(\s+)/g;
  let word: string | null = null;
  for (const match of line.matchAll(pattern)) {
    if (match[4] !== undefined) {
      if (word !== null) words.push(word);
      word = null;
    } else word = (word ?? '') + (match[1] ?? (match[2] !== undefined ? "'" : (match[3] as string)));
  }
  if (word !== null) words.push(word);
  return words;
}

describe('simulator: one printed command replays any run', () => {
  const requests: RunRequest[] = [
    { seed: 17, family: 'mixed', overrides: {} },
    { seed: 1_000_017, family: 'lossy', overrides: {} },
    { seed: 2_000_017, family: 'lossy-everywhere', overrides: {} },
    { seed: 3_000_017, family: 'readers', overrides: {} },
    { seed: 3_000_017, family: 'readers', overrides: { nodeCount: 7, readMode: 'lease', tornWrites: false, dropBase: 0.05 } },
    { seed: 5, family: 'lossy', overrides: { requireAnswers: true } },
    { seed: 4_000_017, family: 'membership', overrides: { voteCrash: 0.3 } },
    { seed: 6_000_017, family: 'clocks', overrides: {} },
    { seed: 6_000_016, family: 'clocks', overrides: { clockDrift: 40, electionTicks: 10, nodeCount: 3 } },
  ];

  it('parses the printed command back to the options of the run', () => {
    for (const request of requests) {
      const command = replayCommand(request);
      const words = shellWords(command);
      expect(words.slice(0, 3)).toEqual(['npm', 'run', 'sim']);
      const parsed = parseCliArgs(words.slice(4));
      expect(parsed.seed).toBe(request.seed);
      const replayed = requestOf(parsed, request.seed);
      expect(optionsOf(replayed)).toEqual(runRequest(request).options);
    }
  });

  it('derives the family from the seed when the command names none', () => {
    expect(familyOfSeed(3)).toBe('mixed');
    expect(familyOfSeed(1_000_001)).toBe('lossy');
    expect(familyOfSeed(2_000_100)).toBe('lossy-everywhere');
    expect(familyOfSeed(3_000_300)).toBe('readers');
    expect(familyOfSeed(4_000_001)).toBe('membership');
    expect(familyOfSeed(6_000_300)).toBe('clocks');
    expect(familyOfSeed(FRESH_SEED_MIN)).toBe('mixed');
    const parsed = parseCliArgs(['--seed', '3000005']);
    expect(optionsOf(requestOf(parsed, 3_000_005))).toEqual(optionsOf({ seed: 3_000_005, family: 'readers', overrides: {} }));
    expect(optionsOf(requestOf(parsed, 3_000_005)).checkQuorum).toBe(false);
  });

  it('refuses unknown families and options', () => {
    expect(() => parseCliArgs(['--seed', '1', '--family', 'noisy'])).toThrow(/--family/);
    expect(() => parseCliArgs(['--seed', '1', '--override', '{"nodeCounts":5}'])).toThrow(/unknown option nodeCounts/);
    expect(() => parseCliArgs(['--seed', '1', '--override', '{"nodeCount":"5"}'])).toThrow(/nodeCount must be a number/);
  });
});
