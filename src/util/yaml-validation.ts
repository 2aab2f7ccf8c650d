/**
 * YAML files validated strictly with a zod schema, each mistake reported where it is written: the file, the
 * 1-based line and the key's path (`faults[2].fro: unknown key (did you mean for?)`). Scenario files
 * (src/chaos/scenario.ts) and the configuration file of `raftkv cluster` (src/cli/config-file.ts) both read
 * through it, so both say the same things the same way.
 */
import { isMap, isNode, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';

/** One mistake in a file: where it is (file, 1-based line, the key's path) and what is wrong. */
export interface FileIssue {
  readonly file: string;
  /** 1-based; null for a value given outside a file (a command-line option, an environment variable). */
  readonly line: number | null;
  /** Like `faults[2].from` or `workload.clients`; empty for the file as a whole. */
  readonly path: string;
  readonly message: string;
}

export function formatIssue(issue: FileIssue): string {
  return `${issue.file}${issue.line === null ? '' : `:${issue.line}`}: ${issue.path === '' ? '' : `${issue.path}: `}${issue.message}`;
}

/** A YAML document read with its line positions, to place the schema's issues. */
export interface YamlSource {
  readonly file: string;
  readonly doc: Document;
  readonly raw: unknown;
  lineAt(offset: number): number;
}

/** Reads YAML text: the document, or the syntax errors with their lines. */
export function readYaml(text: string, file: string): { ok: true; source: YamlSource } | { ok: false; issues: FileIssue[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const lineAt = (offset: number): number => lines.linePos(offset).line;
  if (doc.errors.length > 0) {
    return {
      ok: false,
      issues: doc.errors.map((error) => ({
        file,
        line: lineAt(error.pos[0]),
        path: '',
        message: `not valid YAML: ${error.message.split('\n')[0] ?? ''}`,
      })),
    };
  }
  try {
    return { ok: true, source: { file, doc, raw: doc.toJS(), lineAt } };
  } catch (error) {
    // What parses but cannot be built, such as an alias expanding past the yaml package's limit.
    return { ok: false, issues: [{ file, line: 1, path: '', message: `not valid YAML: ${(error as Error).message}` }] };
  }
}

/**
 * The schema's issues as file issues: an unknown-keys issue becomes one per key, each at the key's own line
 * and with the nearest key `schema` knows at that place, when one is close.
 */
export function locateIssues(issues: readonly z.core.$ZodIssue[], source: YamlSource, schema: z.core.$ZodType): FileIssue[] {
  return issues.flatMap((issue) => {
    const path = issue.path.filter((step): step is string | number => typeof step !== 'symbol');
    const at = (steps: readonly (string | number)[], message: string): FileIssue => ({
      file: source.file,
      line: source.lineAt(offsetOf(source.doc, steps)),
      path: pathText(steps),
      message,
    });
    if (issue.code !== 'unrecognized_keys') return [at(path, issue.message)];
    const known = knownKeysIn(schema, path);
    return issue.keys.map((key) => {
      const near = nearest(key, known);
      return at([...path, key], `unknown key${near === null ? '' : ` (did you mean ${near}?)`}`);
    });
  });
}

/** Where `steps` is written: the key naming it, or its value, or (when it is missing) the nearest enclosing map. */
function offsetOf(doc: Document, steps: readonly (string | number)[]): number {
  for (let n = steps.length; n > 0; n--) {
    const parent = n === 1 ? doc.contents : doc.getIn(steps.slice(0, n - 1), true);
    const step = steps[n - 1];
    if (isMap(parent)) {
      const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === String(step));
      const keyRange = isNode(pair?.key) ? pair.key.range : undefined;
      if (keyRange !== undefined && keyRange !== null) return keyRange[0];
    }
    const node = doc.getIn(steps.slice(0, n), true);
    if (isNode(node) && node.range) return node.range[0];
  }
  return isNode(doc.contents) && doc.contents.range ? doc.contents.range[0] : 0;
}

function pathText(steps: readonly (string | number)[]): string {
  return steps.map((step, i) => (typeof step === 'number' ? `[${step}]` : i === 0 ? step : `.${step}`)).join('');
}

/**
 * The keys of the map at `path` in `schema`, for "did you mean": the schema is walked rather than the keys
 * listed again, so the suggestion cannot fall behind the schema.
 */
export function knownKeysIn(schema: z.core.$ZodType, path: readonly PropertyKey[]): readonly string[] {
  let at = schema;
  for (const step of [...path, null]) {
    // Through the wrappers (default, optional, transform) to the map or list underneath.
    for (;;) {
      const def = at._zod.def as { innerType?: z.core.$ZodType; in?: z.core.$ZodType };
      const inner = def.innerType ?? def.in;
      if (inner === undefined) break;
      at = inner;
    }
    if (step === null) break;
    const def = at._zod.def as { shape?: Record<string, z.core.$ZodType>; element?: z.core.$ZodType };
    const next = typeof step === 'number' ? def.element : def.shape?.[String(step)];
    if (next === undefined) return [];
    at = next;
  }
  const shape = (at._zod.def as { shape?: Record<string, unknown> }).shape;
  return shape === undefined ? [] : Object.keys(shape);
}

/** Beyond two edits a "did you mean" points more often at a different key than at the one meant. */
const SUGGESTION_EDITS_MAX = 2;

/** The known name a typo most likely meant: the closest within SUGGESTION_EDITS_MAX edits, and fewer than its length. */
export function nearest(key: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Math.min(SUGGESTION_EDITS_MAX, key.length - 1) + 1;
  for (const candidate of known) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

/** Levenshtein distance, one row at a time. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitute = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      row.push(Math.min((previous[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, substitute));
    }
    previous = row;
  }
  return previous[b.length] ?? 0;
}
