// Every scenario of the library, in a short form (12 s each), must pass all its checks (first half).
import { describe, it } from 'vitest';
import { LIBRARY, runLibraryScenario } from './chaos-harness.js';

describe('scenario library (first half)', () => {
  it.each(LIBRARY.slice(0, Math.ceil(LIBRARY.length / 2)))(
    '%s passes its checks',
    async (file) => {
      await runLibraryScenario(file);
    },
    120_000,
  );
});
