// The Raft core must stay pure (STYLE.md): no Node modules, no clock, no timers, no global randomness,
// no process. The simulator replays a seed exactly only if this holds.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const RAFT_DIR = fileURLToPath(new URL('../../src/raft/', import.meta.url));

interface Stripped {
  /** The source with comments blanked out; string literals kept (import specifiers live there). */
  readonly code: string;
  /** As `code`, with the contents of string and template literals blanked too (their `${}` code kept). */
  readonly codeOnly: string;
}

/**
 * Blanks comments (and, in `codeOnly`, literal text) while keeping line structure. A small scanner over
 * strings, template literals with nested `${}` and comments; regex literals are not recognised, which is
 * fine for a core that has none (the self-check below would show a scanner gone wrong).
 */
function stripSource(source: string): Stripped {
  let code = '';
  let codeOnly = '';
  const emit = (ch: string, kind: 'code' | 'literal' | 'comment'): void => {
    const blank = ch === '\n' ? '\n' : ' ';
    code += kind === 'comment' ? blank : ch;
    codeOnly += kind === 'code' ? ch : blank;
  };
  // Stack of open template literals: each entry counts the braces open inside its current `${`.
  const templates: number[] = [];
  let i = 0;
  const n = source.length;
  const inTemplateText = (): boolean => templates.length > 0 && templates[templates.length - 1] === -1;
  while (i < n) {
    const ch = source[i] as string;
    const next = source[i + 1];
    if (inTemplateText()) {
      if (ch === '\\') {
        emit(ch, 'literal');
        if (next !== undefined) emit(next, 'literal');
        i += 2;
      } else if (ch === '`') {
        templates.pop();
        emit(ch, 'code');
        i++;
      } else if (ch === '$' && next === '{') {
        templates[templates.length - 1] = 0;
        emit(ch, 'code');
        emit(next, 'code');
        i += 2;
      } else {
        emit(ch, 'literal');
        i++;
      }
      continue;
    }
    if (ch === '/' && next === '/') {
      while (i < n && source[i] !== '\n') emit(source[i++] as string, 'comment');
      continue;
    }
    if (ch === '/' && next === '*') {
      const end = source.indexOf('*/', i + 2);
      const stop = end === -1 ? n : end + 2;
      while (i < stop) emit(source[i++] as string, 'comment');
      continue;
    }
    if (ch === "'" || ch === '"') {
      emit(ch, 'code');
      i++;
      while (i < n && source[i] !== ch && source[i] !== '\n') {
        if (source[i] === '\\') emit(source[i++] as string, 'literal');
        if (i < n) emit(source[i++] as string, 'literal');
      }
      if (i < n) emit(source[i++] as string, 'code');
      continue;
    }
    if (ch === '`') {
      templates.push(-1);
      emit(ch, 'code');
      i++;
      continue;
    }
    if (templates.length > 0 && (ch === '{' || ch === '}')) {
      const depth = templates[templates.length - 1] as number;
      if (ch === '}' && depth === 0)
        templates[templates.length - 1] = -1; // back into template text
      else templates[templates.length - 1] = depth + (ch === '{' ? 1 : -1);
    }
    emit(ch, 'code');
    i++;
  }
  return { code, codeOnly };
}

const BUILTINS = new Set(builtinModules.flatMap((name) => [name, name.split('/')[0] as string]));

interface Violation {
  readonly line: number;
  readonly rule: string;
  readonly text: string;
}

const FORBIDDEN_CODE: ReadonlyArray<{ rule: string; pattern: RegExp }> = [
  { rule: 'Date', pattern: /\bDate\b/ },
  { rule: 'Math.random', pattern: /\bMath\s*\.\s*random\b/ },
  { rule: 'timer', pattern: /\b(setTimeout|setInterval|setImmediate)\b/ },
  { rule: 'performance.now', pattern: /\bperformance\s*\.\s*now\b/ },
  { rule: 'process', pattern: /\bprocess\s*\./ },
  { rule: 'require', pattern: /\brequire\s*\(/ },
];

const SPECIFIER_PATTERNS: readonly RegExp[] = [
  /\b(?:import|export)\b[^'"`;]*?\bfrom\s*(['"])([^'"]+)\1/g,
  /\bimport\s*(['"])([^'"]+)\1/g,
  /\bimport\s*\(\s*(['"])([^'"]+)\1/g,
];

function isNodeModule(specifier: string): boolean {
  return specifier.startsWith('node:') || BUILTINS.has(specifier) || BUILTINS.has(specifier.split('/')[0] as string);
}

function findViolations(source: string): Violation[] {
  const { code, codeOnly } = stripSource(source);
  const violations: Violation[] = [];
  const lineOf = (offset: number): number => code.slice(0, offset).split('\n').length;
  for (const pattern of SPECIFIER_PATTERNS) {
    for (const match of code.matchAll(pattern)) {
      const specifier = match[2] as string;
      if (isNodeModule(specifier)) violations.push({ line: lineOf(match.index), rule: 'node module', text: specifier });
    }
  }
  codeOnly.split('\n').forEach((lineText, i) => {
    for (const { rule, pattern } of FORBIDDEN_CODE) {
      if (pattern.test(lineText)) violations.push({ line: i + 1, rule, text: lineText.trim() });
    }
  });
  return violations;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|mts|cts|js|mjs)$/.test(name) ? [path] : [];
  });
}

describe('the scanner', () => {
  it('catches planted violations of every rule', () => {
    const planted = [
      "import { readFileSync } from 'node:fs';",
      'import fs from "fs";',
      "import { Worker } from 'worker_threads';",
      "import 'node:crypto';",
      "export { x } from 'fs/promises';",
      "const m = await import('node:os');",
      'const now = Date.now();',
      'const when = new Date();',
      'const r = Math.random();',
      'setTimeout(() => {}, 1);',
      'const h = setInterval(f, 10);',
      'setImmediate(f);',
      'const t = performance.now();',
      'const e = process.env.X;',
      "const lib = require('x');",
      'const s = `at ${Date.now()}`;',
    ];
    for (const line of planted) {
      expect(findViolations(line), line).not.toEqual([]);
    }
    const all = findViolations(planted.join('\n'));
    expect(new Set(all.map((v) => v.rule))).toEqual(
      new Set(['node module', 'Date', 'Math.random', 'timer', 'performance.now', 'process', 'require']),
    );
  });

  it('ignores comments, string text, and look-alike names', () => {
    const innocent = [
      '// uses Date.now() and Math.random() in a comment',
      '/* import fs from "node:fs"; setTimeout(); process.exit() */',
      '/**',
      ' * Doc comment: require(x), performance.now(), setImmediate',
      ' */',
      "const message = 'process.exit is not called here';",
      'const updated = deadline + 1; // "Date" inside a word does not count',
      "import { invariant } from './invariant.js';",
      "import type { Entry } from './types.js';",
      'const s = `no ${count} Date here`;',
      'this.processOutbox(); const requirement = 1;',
    ];
    expect(findViolations(innocent.join('\n'))).toEqual([]);
  });

  it('keeps line numbers through multi-line comments', () => {
    const source = ['/* one', 'two */', 'const a = 1;', 'const b = Date.now();'].join('\n');
    expect(findViolations(source)).toEqual([{ line: 4, rule: 'Date', text: 'const b = Date.now();' }]);
  });
});

describe('src/raft purity', () => {
  const files = sourceFiles(RAFT_DIR);

  it('scans the whole core', () => {
    const names = files.map((file) => relative(RAFT_DIR, file));
    expect(names).toEqual(expect.arrayContaining(['raft.ts', 'log.ts', 'progress.ts', 'config.ts', 'types.ts', 'random.ts']));
  });

  it.each(files.map((file) => [relative(RAFT_DIR, file), file] as const))(
    '%s imports no Node module and uses no clock, timer, global randomness or process',
    (_name, file) => {
      expect(findViolations(readFileSync(file, 'utf8'))).toEqual([]);
    },
  );
});
