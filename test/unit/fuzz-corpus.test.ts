// The fuzzers' corpus as a regression test (docs/FUZZING.md): every file of test/fuzz/corpus/<target>/ runs
// through its target, whose oracles throw on a defect; no fuzzer needed, deterministic. And the fuzzer's own
// test: with a fixed seed, coverage feedback finds a planted bug behind a 4-byte prefix within a bound on the
// inputs run, which blind mutation of the same seeds does not. And the defects it found, checked directly.
import { Packr } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { msgpackLengthsFit } from '../../src/codec/msgpack-lengths.js';
import { tupleToHardState, tupleToMeta } from '../../src/storage/codec.js';
import { FrameDecoder } from '../../src/transport/codec.js';
import { FrameReader } from '../../src/transport/tcp/frame.js';
import { corpusFiles, corpusOf } from '../fuzz/corpus.js';
import { fuzz } from '../fuzz/engine.js';
import { loadTarget, TARGET_NAMES } from '../fuzz/targets/index.js';
import { PLANTED_MAGIC, plantedTarget } from '../fuzz/targets/planted.js';
import type { FuzzTarget } from '../fuzz/target.js';

/** Inputs the fuzzer may run before it finds the planted bug (seed 1 needs about 14 000; any seed of 1 to 12 under 80 000). */
const PLANTED_INPUTS_MAX = 60_000;

describe('the fuzz corpus', () => {
  it('holds a few dozen small files per target at most, for every target', () => {
    for (const name of TARGET_NAMES) {
      const files = corpusOf(name);
      expect(files.length, name).toBeGreaterThan(3);
      expect(files.length, name).toBeLessThanOrEqual(64);
      for (const file of files) expect(file.byteLength, name).toBeLessThanOrEqual(8 * 1024);
    }
  });

  for (const name of TARGET_NAMES) {
    describe(name, () => {
      let target: FuzzTarget;
      beforeAll(async () => {
        target = await loadTarget(name);
        await target.open?.();
      }, 60_000);
      afterAll(async () => {
        await target?.close?.();
      });

      it('every corpus file passes the target and its oracles', async () => {
        const files = corpusFiles(name);
        const inputs = corpusOf(name);
        for (const [i, input] of inputs.entries()) {
          try {
            await target.run(input);
          } catch (error) {
            throw new Error(`test/fuzz/corpus/${name}/${files[i] ?? ''}: ${(error as Error).stack ?? String(error)}`);
          }
        }
      });
    });
  }
});

describe('what the fuzzer found', () => {
  it('a msgpack length past the bytes is refused before msgpackr loops over it (a 10-byte HELLO had cost a second and 100 MB)', () => {
    const arrayOf2Pow24 = Uint8Array.of(0xdd, 0x01, 0xff, 0xff, 0xff);
    expect(msgpackLengthsFit(arrayOf2Pow24)).toBe(false);
    expect(() => new FrameReader().push(Uint8Array.of(0, 0, 0, 6, 1, ...arrayOf2Pow24))).toThrow(
      /a length in the HELLO body runs past its end/,
    );
    expect(() => new FrameDecoder().decode(arrayOf2Pow24)).toThrow(/a declared length runs past its end/);
    for (const value of [
      [],
      { a: [1, 'x', Uint8Array.of(1)] },
      [null, [2, 'n1', 3]],
      'x'.repeat(70_000),
      new Array(20).fill({ v: ['n1'] }),
    ]) {
      expect(msgpackLengthsFit(new Packr({ useRecords: false }).pack(value)), JSON.stringify(value).slice(0, 40)).toBe(true);
      expect(msgpackLengthsFit(new Packr({ sequential: true, useRecords: true }).pack([value, value]))).toBe(true);
    }
    expect(msgpackLengthsFit(Uint8Array.of(0x92, 0x01))).toBe(false); // an array that ends past the bytes
  });

  it('a snapshot meta or hard state whose checksum holds but whose term is not a count is refused', () => {
    expect(() => tupleToMeta([9, -20, { v: ['n1'], l: [] }])).toThrow(TypeError);
    expect(() => tupleToHardState([Number.NaN, null, 0])).toThrow(TypeError);
    expect(() => tupleToHardState([1, null, 1.5])).toThrow(TypeError);
    expect(tupleToHardState([2, 'n1', 3])).toEqual({ term: 2, votedFor: 'n1', commitIndex: 3 });
  });
});

describe('the coverage-guided fuzzer', () => {
  const seeds = [Buffer.from('seed')];

  it('finds the planted bug within a bounded number of inputs (seed 1)', async () => {
    const result = await fuzz({ target: plantedTarget, seed: 1, seeds, iterationsMax: PLANTED_INPUTS_MAX, deadline: Infinity });
    expect(result.finding?.kind).toBe('exception');
    expect(result.finding?.message).toMatch(/^PlantedBug: /);
    expect(result.finding?.input.subarray(0, 4).toString('latin1')).toBe(PLANTED_MAGIC);
    expect(result.iterations).toBeLessThanOrEqual(PLANTED_INPUTS_MAX);
    // Each byte of the prefix was a step: an input reaching a new branch joined the corpus.
    expect(result.corpusEntries).toBeGreaterThanOrEqual(1 + 3);
  }, 120_000);

  it('without coverage feedback, the same seed and bound do not find it', async () => {
    const result = await fuzz({
      target: plantedTarget,
      seed: 1,
      seeds,
      iterationsMax: PLANTED_INPUTS_MAX,
      deadline: Infinity,
      feedback: false,
    });
    expect(result.finding).toBeNull();
    expect(result.iterations).toBe(PLANTED_INPUTS_MAX);
    expect(result.corpusEntries).toBe(1);
  }, 120_000);

  it('replays: the same seed runs the same inputs to the same finding', async () => {
    const run = (): ReturnType<typeof fuzz> =>
      fuzz({ target: plantedTarget, seed: 1, seeds, iterationsMax: PLANTED_INPUTS_MAX, deadline: Infinity });
    const [first, second] = [await run(), await run()];
    expect(second.iterations).toBe(first.iterations);
    expect(second.finding?.input.equals(first.finding?.input ?? Buffer.alloc(0))).toBe(true);
  }, 120_000);
});
