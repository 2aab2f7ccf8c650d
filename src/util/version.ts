// The package's version, read once from its package.json: found by walking up from this module, which runs
// from src/util (tsx) or dist/src/util (the built command), so no build step has to copy it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | null = null;

/** raftkv's version (package.json "version"). */
export function packageVersion(): string {
  if (cached !== null) return cached;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'raftkv' && typeof pkg.version === 'string') return (cached = pkg.version);
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json of raftkv above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}
