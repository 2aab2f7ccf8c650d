// The fuzzers' corpus kept in the repo: test/fuzz/corpus/<target>/, seeds (seed-*, made by make-seeds.ts) and
// minimized inputs a run added coverage with (cov-*, kept by `npm run fuzz -- --distill N`).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CORPUS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'corpus');

/** The names of a target's corpus files, in name order (a stable order: a seed replays a run). */
export function corpusFiles(target: string): string[] {
  const dir = path.join(CORPUS, target);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((name) => !name.startsWith('.'))
    .sort();
}

export function corpusOf(target: string): Buffer[] {
  return corpusFiles(target).map((name) => fs.readFileSync(path.join(CORPUS, target, name)));
}
