// Runs every script in test/interaction/testdata/*.txt (etcd's datadriven style; format in script.ts)
// and compares the actual output of each block with the expected output checked in after its `----`.
//
// To regenerate the expected output after a deliberate change, run
//   RAFTKV_REWRITE=1 npx vitest run test/interaction
// then READ the diff (git diff test/interaction/testdata): every changed line is a change of protocol behaviour.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { runScript } from './script.js';

const TESTDATA_DIR = fileURLToPath(new URL('./testdata/', import.meta.url));
const REWRITE = process.env['RAFTKV_REWRITE'] === '1';
const scripts = readdirSync(TESTDATA_DIR)
  .filter((name) => name.endsWith('.txt'))
  .sort();

describe('interaction scripts', () => {
  test('there are scripts to run', () => {
    expect(scripts.length).toBeGreaterThan(0);
  });

  for (const name of scripts) {
    test(name, () => {
      const path = join(TESTDATA_DIR, name);
      const expected = readFileSync(path, 'utf8');
      const actual = runScript(expected);
      if (REWRITE) {
        if (actual !== expected) writeFileSync(path, actual);
        return;
      }
      // A string comparison: vitest prints a line diff of expected (checked in) against actual.
      expect(actual, `${name}: output differs (RAFTKV_REWRITE=1 regenerates it; review the diff)`).toBe(expected);
    });
  }
});
