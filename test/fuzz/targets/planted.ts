// A toy target with a planted bug, for the fuzzer's own test: it throws only on inputs that start with the four
// bytes "FUZZ". Each byte is its own branch, so coverage feedback finds the prefix one byte at a time; blind
// random inputs would need about 2^32 tries.
import type { FuzzTarget } from '../target.js';

export const PLANTED_MAGIC = 'FUZZ';

export class PlantedBug extends Error {
  override readonly name = 'PlantedBug';
}

function planted(data: Buffer): void {
  if (data[0] !== 0x46) return;
  if (data[1] !== 0x55) return;
  if (data[2] !== 0x5a) return;
  if (data[3] !== 0x5a) return;
  throw new PlantedBug('the planted bug: the input starts with FUZZ');
}

export const plantedTarget: FuzzTarget = {
  name: 'planted',
  description: "a toy parser that throws on the prefix FUZZ (the fuzzer's self-test)",
  coverage: ['test/fuzz/targets/planted'],
  dictionary: [],
  inputBytesMax: 16,
  inputMsMax: 2_000,
  run: planted,
};
