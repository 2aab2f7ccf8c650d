import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach } from 'vitest';

/**
 * For a test file: `folder()` makes a fresh folder under the OS temp folder and returns the path of `child`
 * inside it (not created); every folder made is removed after each test.
 */
export function tempFolders(prefix: string, child: string): () => string {
  const made: string[] = [];
  afterEach(() => {
    for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    made.push(dir);
    return path.join(dir, child);
  };
}
