// Hostile input to the scenario parser (issue 18, item 6): arbitrary YAML-ish text and the library's scenarios
// mutated line by line are either accepted (and then within the schema's bounds) or refused with a
// ScenarioError listing issues that name the file and a line; never another exception, never a hang (an
// alias bomb or a deep nesting is refused at once).
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CLUSTER_NODES_MAX } from '../../src/actor/supervisor.js';
import { parseScenario, SCENARIO_DURATION_MS_MAX, ScenarioError, type Scenario } from '../../src/chaos/scenario.js';

const FILE = 'scenarios/hostile.yaml';
const LIBRARY = fs
  .readdirSync('scenarios')
  .filter((name) => name.endsWith('.yaml'))
  .sort()
  .map((name) => fs.readFileSync(path.join('scenarios', name), 'utf8'));

/** A scenario's time limit per parse: generous for a 2-core machine under load, far below a hang. */
const PARSE_MS_MAX = 5_000;

function parseOrRefuse(text: string): Scenario | ScenarioError {
  const started = performance.now();
  try {
    const scenario = parseScenario(text, 'hostile', FILE);
    expectWithinSchema(scenario);
    return scenario;
  } catch (error) {
    if (!(error instanceof ScenarioError)) throw error;
    expect(error.code).toBe('SCENARIO_INVALID');
    expect(error.issues.length).toBeGreaterThan(0);
    const lineCount = text.split(/\r\n|\r|\n/).length;
    for (const issue of error.issues) {
      expect(issue.file).toBe(FILE);
      expect(typeof issue.message).toBe('string');
      expect(issue.message.length).toBeGreaterThan(0);
      if (issue.line !== null) {
        expect(Number.isSafeInteger(issue.line) && issue.line >= 1).toBe(true);
        expect(issue.line).toBeLessThanOrEqual(lineCount + 1);
      }
    }
    expect(error.message.length).toBeGreaterThan(0);
    return error;
  } finally {
    expect(performance.now() - started).toBeLessThan(PARSE_MS_MAX);
  }
}

function expectWithinSchema(s: Scenario): void {
  expect(typeof s.name).toBe('string');
  expect(Number.isSafeInteger(s.nodes) && s.nodes >= 1 && s.nodes <= CLUSTER_NODES_MAX).toBe(true);
  expect(s.durationMs).toBeGreaterThan(0);
  expect(s.durationMs).toBeLessThanOrEqual(SCENARIO_DURATION_MS_MAX);
  for (const fault of s.faults) {
    expect(fault.atMs).toBeGreaterThanOrEqual(0);
    expect(fault.atMs).toBeLessThanOrEqual(s.durationMs);
    if (fault.forMs !== null) expect(fault.forMs).toBeGreaterThan(0);
  }
  for (const check of s.checks) expect(['linearizable', 'no-lost-writes', 'exactly-once']).toContain(check);
  expect(s.workload.clients).toBeGreaterThanOrEqual(1);
  expect(s.workload.ratePerSecond).toBeGreaterThan(0);
}

const scalar = fc.constantFrom(
  '3',
  '0',
  '-1',
  '1e309',
  '.nan',
  '~',
  'null',
  'true',
  '20s',
  '500ms',
  '999999h',
  'leader',
  'n99',
  'n1',
  '"quoted"',
  "'x'",
  '[]',
  '{}',
  '[1, [2, {a: b}]]',
  '&a x',
  '*a',
  '!!binary aGk=',
  '!!js/function "x"',
  '|',
  '>-',
  '@',
  '`',
  '%',
  '\t',
  '\u0000',
  '\uFEFF',
  '\uD800',
);

const lineEdit = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('swap' as const), at: fc.nat(), with: fc.nat() }),
  fc.record({ kind: fc.constant('value' as const), at: fc.nat(), value: scalar }),
  fc.record({ kind: fc.constant('indent' as const), at: fc.nat(), spaces: fc.integer({ min: -4, max: 4 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.string({ maxLength: 30 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);
type LineEdit = typeof lineEdit extends fc.Arbitrary<infer T> ? T : never;

function edit(lines: string[], e: LineEdit): string[] {
  if (lines.length === 0) return lines;
  const at = e.at % lines.length;
  const line = lines[at] as string;
  const out = [...lines];
  switch (e.kind) {
    case 'delete':
      out.splice(at, 1);
      break;
    case 'duplicate':
      out.splice(at, 0, line);
      break;
    case 'swap': {
      const other = e.with % lines.length;
      out[at] = lines[other] as string;
      out[other] = line;
      break;
    }
    case 'value': {
      const colon = line.indexOf(':');
      out[at] = colon === -1 ? `${line} ${e.value}` : `${line.slice(0, colon + 1)} ${e.value}`;
      break;
    }
    case 'indent':
      out[at] = e.spaces >= 0 ? ' '.repeat(e.spaces) + line : line.replace(new RegExp(`^ {0,${-e.spaces}}`), '');
      break;
    case 'insert':
      out.splice(at, 0, e.text);
      break;
    case 'truncate':
      out[at] = line.slice(0, e.at % (line.length + 1));
      return out.slice(0, at + 1);
  }
  return out;
}

describe('the scenario parser under hostile input', () => {
  it('every library scenario is accepted (the mutations start from valid files)', () => {
    expect(LIBRARY.length).toBeGreaterThan(3);
    for (const text of LIBRARY) expect(parseOrRefuse(text)).not.toBeInstanceOf(ScenarioError);
  });

  it('library scenarios mutated line by line: accepted within the schema, or a ScenarioError with located issues', () => {
    fc.assert(
      fc.property(fc.nat(), fc.array(lineEdit, { minLength: 1, maxLength: 4 }), (which, edits) => {
        let lines = (LIBRARY[which % LIBRARY.length] as string).split('\n');
        for (const e of edits) lines = edit(lines, e);
        parseOrRefuse(lines.join('\n'));
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  it('YAML-ish text made of scenario keys, values and YAML syntax: the same', () => {
    const token = fc.oneof(
      scalar,
      fc.constantFrom(
        'name:',
        'nodes:',
        'duration:',
        'workload:',
        'type:',
        'faults:',
        'checks:',
        '- ',
        'at:',
        'kill:',
        'for:',
        'partition:',
      ),
      fc.constantFrom('\n', '\n  ', '\n    ', ': ', ', ', '{', '}', '[', ']', '#', '---', '...', '? '),
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 60 }), (tokens) => void parseOrRefuse(tokens.join(''))),
      { seed: 43, numRuns: 400 },
    );
  });

  it('arbitrary text: the same', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => void parseOrRefuse(text)),
      { seed: 44, numRuns: 300 },
    );
  });

  it('an alias bomb and a deep nesting are refused quickly, not expanded', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++)
      bomb.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(', ')}]`,
      );
    expect(parseOrRefuse(bomb.join('\n'))).toBeInstanceOf(ScenarioError);
    expect(parseOrRefuse(`name: ${'['.repeat(5_000)}${']'.repeat(5_000)}`)).toBeInstanceOf(ScenarioError);
    expect(parseOrRefuse(`${'- '.repeat(2_000)}x`)).toBeInstanceOf(ScenarioError);
  });
});
