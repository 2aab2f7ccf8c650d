// The error registry (src/protocol/errors.ts) and its documentation (docs/ERRORS.md) must agree, code by code,
// after fastify's docs/Reference/Errors.md and its test: add a code to one and not the other, or change a
// status, outcome or prefix in one place only, and this fails.
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERRORS, apiError, isApiError, type ErrorCode } from '../../src/protocol/errors.js';

const DOC_PATH = new URL('../../docs/ERRORS.md', import.meta.url);
const HEADER = ['Code', 'HTTP', 'Outcome', 'Redis prefix', 'Meaning', 'How to solve'];

interface DocRow {
  readonly code: string;
  readonly status: string;
  readonly outcome: string;
  readonly redis: string;
  readonly meaning: string;
  readonly solve: string;
}

function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split('|')
    .map((cell) => cell.trim());
}

/** The rows of the one table whose header is HEADER. */
function documentedRows(markdown: string): DocRow[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((line) => line.trim().startsWith('|') && cells(line).join('|') === HEADER.join('|'));
  if (start === -1) throw new Error(`docs/ERRORS.md has no table with the header | ${HEADER.join(' | ')} |`);
  const rows: DocRow[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.trim().startsWith('|')) break;
    const row = cells(line);
    expect(row, `a row of ${HEADER.length} cells: ${line}`).toHaveLength(HEADER.length);
    const [code, status, outcome, redis, meaning, solve] = row as [string, string, string, string, string, string];
    rows.push({ code: code.replace(/`/g, ''), status, outcome, redis: redis.replace(/`/g, ''), meaning, solve });
  }
  return rows;
}

const markdown = fs.readFileSync(DOC_PATH, 'utf8');
const rows = documentedRows(markdown);
const registered = Object.keys(ERRORS) as ErrorCode[];

describe('docs/ERRORS.md agrees with the error registry', () => {
  it('documents every registered code, once, and no other', () => {
    const documented = rows.map((row) => row.code);
    expect(
      documented.filter((code, i) => documented.indexOf(code) !== i),
      'codes documented twice',
    ).toEqual([]);
    expect(
      registered.filter((code) => !documented.includes(code)),
      'registered but not documented',
    ).toEqual([]);
    expect(
      documented.filter((code) => !(code in ERRORS)),
      'documented but not registered',
    ).toEqual([]);
  });

  it.each(registered)('%s: the same HTTP status, outcome and Redis prefix, with a meaning and how to solve', (code) => {
    const row = rows.find((r) => r.code === code);
    expect(row, `${code} is documented`).toBeDefined();
    if (row === undefined) return;
    const spec = ERRORS[code];
    expect(row.status).toBe(String(spec.status));
    expect(row.outcome).toBe(spec.definite ? 'definite' : 'indefinite');
    expect(row.redis).toBe(spec.redis);
    expect(row.meaning.length, `${code}: meaning`).toBeGreaterThanOrEqual(10);
    expect(row.solve.length, `${code}: how to solve`).toBeGreaterThanOrEqual(10);
  });
});

describe('the error registry', () => {
  it.each(registered)('%s is well formed: an error status, a one-word Redis prefix, a one-line message', (code) => {
    const spec = ERRORS[code];
    expect(code).toMatch(/^[A-Z][A-Z0-9_]*$/);
    expect(spec.status).toBeGreaterThanOrEqual(400);
    expect(spec.status).toBeLessThan(600);
    expect(spec.redis).toMatch(/^[A-Z]+$/);
    expect(spec.message.length).toBeGreaterThan(0);
    expect(spec.message).not.toMatch(/[\r\n]/);
  });

  it('only a possibly-applied outcome is indefinite: timeouts, lost answers, expired sessions, and failures that stop a node', () => {
    const stopsNode = (code: ErrorCode): boolean => ERRORS[code].status === 500;
    expect(registered.filter((code) => !ERRORS[code].definite && !stopsNode(code)).sort()).toEqual([
      'ANSWER_LOST',
      'SESSION_EXPIRED',
      'TIMEOUT',
    ]);
    // Every 500 is indefinite: an operation caught in one may or may not have happened.
    expect(registered.filter((code) => stopsNode(code) && ERRORS[code].definite)).toEqual([]);
  });

  it('apiError carries the registry message unless given one; isApiError recognises only registered codes', () => {
    expect(apiError('NO_LEADER')).toEqual({ code: 'NO_LEADER', message: ERRORS.NO_LEADER.message });
    expect(apiError('CAS_FAILED', 'custom')).toEqual({ code: 'CAS_FAILED', message: 'custom' });
    expect(isApiError({ code: 'TIMEOUT', message: 'x' })).toBe(true);
    expect(isApiError({ code: 'NOPE', message: 'x' })).toBe(false);
    expect(isApiError({ code: 'toString', message: 'x' })).toBe(false); // not fooled by the prototype
    expect(isApiError({ code: 'constructor', message: 'x' })).toBe(false);
    expect(isApiError(new Error('TIMEOUT'))).toBe(false);
    expect(isApiError(null)).toBe(false);
  });
});
