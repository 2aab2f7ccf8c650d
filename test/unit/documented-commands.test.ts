// Docs that tell the truth (issue 15, item 10): every command the README and docs/ show, in code blocks and
// inline code, names a script that exists, and a concrete command line (no placeholder such as N, FILE,
// [options]) is accepted by the parser of the command it runs. Scripts without a parser of their own
// (lint, test, the micro-benchmarks) are checked for existence only; a chaos command's scenario file must
// exist and parse.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readExplorerBenchOptions } from '../../bench/explorer.bench.js';
import { readOptions } from '../../bench/main.js';
import { loadScenario } from '../../src/cli/chaos-command.js';
import { parseClusterArgs } from '../../src/cli/cluster-command.js';
import { parseNodeArgs } from '../../src/cli/node-command.js';
import { MUTATIONS } from '../mutations/mutations.js';
import { readMutationOptions } from '../mutations/run.js';
import { parseCliArgs } from '../sim/replay.js';

const DOCS = [
  'README.md',
  ...fs
    .readdirSync('docs')
    .filter((f) => f.endsWith('.md'))
    .map((f) => path.join('docs', f)),
];
const SCRIPTS = (JSON.parse(fs.readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts;

interface Documented {
  readonly where: string;
  readonly text: string;
}

/** The code of a Markdown file: fenced blocks line by line, and inline code spans. */
function codeOf(file: string): Documented[] {
  const found: Documented[] = [];
  let fenced = false;
  // A fenced line ending in a backslash goes on on the next line (a long command), as a shell reads it.
  let continued: Documented | null = null;
  fs.readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      const where = `${file}:${i + 1}`;
      if (line.trimStart().startsWith('```')) fenced = !fenced;
      else if (fenced && (continued !== null || line.trimEnd().endsWith('\\'))) {
        const text = `${continued?.text ?? ''} ${line.trimEnd().replace(/\\$/, '')}`;
        continued = { where: continued?.where ?? where, text };
        if (!line.trimEnd().endsWith('\\')) {
          found.push(continued);
          continued = null;
        }
      } else if (fenced) found.push({ where, text: line });
      else for (const span of line.matchAll(/`([^`]+)`/g)) found.push({ where, text: span[1] as string });
    });
  return found;
}

/** Words of a shell command line: quotes grouped, a trailing `# comment` dropped. */
function words(line: string): string[] {
  const out: string[] = [];
  for (const match of line.matchAll(/'([^']*)'|"([^"]*)"|(#.*$)|(\S+)/g)) {
    if (match[3] !== undefined) break;
    out.push(match[1] ?? match[2] ?? (match[4] as string));
  }
  return out;
}

/** Each `npm run SCRIPT [-- args]` and `raftkv COMMAND args` in the docs, as a script name and its arguments. */
function documentedCommands(): { where: string; line: string; script: string; args: string[] }[] {
  const commands: { where: string; line: string; script: string; args: string[] }[] = [];
  for (const file of DOCS) {
    for (const { where, text } of codeOf(file)) {
      for (const part of text.split(/&&|;/)) {
        const w = words(part.trim());
        if (w[0] === 'npm' && w[1] === 'run' && w[2] !== undefined) {
          const dashes = w.indexOf('--');
          commands.push({ where, line: part.trim(), script: w[2], args: dashes === -1 ? [] : w.slice(dashes + 1) });
        } else if (w[0] === 'raftkv' && (w[1] === 'cluster' || w[1] === 'chaos' || (w[1] === 'node' && w.length > 2))) {
          commands.push({ where, line: part.trim(), script: w[1], args: w.slice(2) });
        }
      }
    }
  }
  return commands;
}

/** A syntax summary rather than a command: placeholders (N, FILE, NAME), optional parts, alternatives, "...". */
const isTemplate = (args: readonly string[]): boolean =>
  args.some((arg) => /^[A-Z][A-Z_.]*$/.test(arg) || /[[\]|<>]|\.\.\.|\*/.test(arg) || /(^|\/)[A-Z][A-Z_]*\.yaml$/.test(arg));

/** Throws if the command's own parser refuses the arguments. */
const PARSERS: Record<string, (args: string[]) => unknown> = {
  bench: (args) => readOptions(args),
  'bench:explorer': (args) => readExplorerBenchOptions(args),
  sim: (args) => parseCliArgs(args),
  mutations: (args) => {
    const options = readMutationOptions(args);
    if (options.only !== undefined && !MUTATIONS.some((m) => m.name === options.only)) throw new Error(`no mutation ${options.only}`);
  },
  cluster: (args) => {
    const options = parseClusterArgs(args);
    if (options.scenario !== null) loadScenario(options.scenario);
  },
  // The docs' members bind other hosts' addresses, whose admin token comes from the environment (DEPLOY.md).
  node: (args) => {
    const before = process.env.RAFTKV_ADMIN_TOKEN;
    process.env.RAFTKV_ADMIN_TOKEN = 'documented';
    try {
      return parseNodeArgs(args);
    } finally {
      if (before === undefined) delete process.env.RAFTKV_ADMIN_TOKEN;
      else process.env.RAFTKV_ADMIN_TOKEN = before;
    }
  },
  chaos: (args) => {
    const files = args.filter((arg) => arg.endsWith('.yaml'));
    for (const file of files) loadScenario(file);
  },
};

describe('the documented commands', () => {
  const commands = documentedCommands();

  it('are found (the docs show many commands)', () => {
    expect(commands.length).toBeGreaterThan(40);
  });

  it('name scripts that exist in package.json', () => {
    const missing = commands
      .filter((c) => !(c.script in SCRIPTS) && !['cluster', 'chaos', 'node'].includes(c.script) && !c.script.endsWith('*'))
      .map((c) => `${c.where}: npm run ${c.script}`);
    expect(missing).toEqual([]);
  });

  it('parse, each with the parser of the command it runs', () => {
    const refused: string[] = [];
    let parsed = 0;
    for (const command of commands) {
      const parse = PARSERS[command.script];
      if (parse === undefined || isTemplate(command.args)) continue;
      try {
        parse(command.args);
        parsed++;
      } catch (error) {
        refused.push(`${command.where}: ${command.line}: ${(error as Error).message}`);
      }
    }
    expect(refused).toEqual([]);
    expect(parsed).toBeGreaterThan(20);
  });

  it('a command the parsers refuse is caught (the check can fail)', () => {
    expect(() => readOptions(['--nodes', '99'])).toThrow();
    expect(() => parseCliArgs(['--seeds', 'many'])).toThrow();
    expect(() => readMutationOptions(['--bogus'])).toThrow();
    expect(() => parseClusterArgs(['--nodes', 'ten'])).toThrow();
    expect(() => parseNodeArgs(['--id', 'n1', '--peers', 'n1=10.0.0.1:7001'])).toThrow(/TRANSPORT_INSECURE/);
    expect(() => readExplorerBenchOptions(['--windows', '5'])).toThrow();
  });
});
