/**
 * Where `raftkv cluster` takes its settings from, weakest first: the defaults, a YAML file (`--config FILE`),
 * RAFTKV_* environment variables, then the command line. As etcd does, the file's keys and the variables are
 * the long options' own names (`data-dir: ./data`, `RAFTKV_DATA_DIR=./data`), so one name means one thing
 * everywhere. The file is validated strictly with the same schema library as the scenarios: an unknown key,
 * a wrong type or a value out of range is an error with the file, its line and the key (and the nearest known
 * key for a typo). The settings are then handed to the command-line parser as options placed before the
 * user's own, so flags win, and every cross-check of the parser (limits that must agree) applies to all.
 */
import * as fs from 'node:fs';
import { z } from 'zod';
import { CLUSTER_NODES_MAX } from '../actor/supervisor.js';
import { LIMITS_TABLE } from '../config/limits.js';
import { LOG_FORMATS, LOG_LEVELS } from '../util/log.js';
import { formatIssue, locateIssues, nearest, readYaml, type FileIssue } from '../util/yaml-validation.js';

/** A configuration that cannot be used: every mistake found, each with its place. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  readonly issues: readonly FileIssue[];
  constructor(issues: readonly FileIssue[]) {
    const sorted = [...issues].sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
    super(sorted.map(formatIssue).join('\n'));
    this.issues = sorted;
  }
}

/** Variables starting RAFTKV_ that are not settings of the command (read elsewhere, by the tests). */
const OTHER_VARIABLES: ReadonlySet<string> = new Set(['RAFTKV_CHROMIUM']);

const positive = z.number().int().positive();
const port = z.number().int().min(0).max(65_535);

/** Every setting a file may give, by option name: the options of `raftkv cluster` except the actions. */
export const CONFIG_SCHEMA = z.strictObject({
  nodes: z.number().int().min(1).max(CLUSTER_NODES_MAX),
  'data-dir': z.string().min(1),
  memory: z.boolean(),
  processes: z.boolean(),
  host: z.string().min(1),
  'http-port': port,
  'resp-port': port,
  'admin-token': z.string().min(1),
  'tls-cert': z.string().min(1),
  'tls-key': z.string().min(1),
  'tls-ca': z.string().min(1),
  'tick-ms': z.number().int().min(1).max(1000),
  'read-mode': z.enum(['safe', 'lease']),
  timing: z.enum(['normal', 'demo']),
  scenario: z.string().min(1),
  'log-format': z.enum(LOG_FORMATS),
  'log-level': z.enum(LOG_LEVELS),
  ...Object.fromEntries(
    LIMITS_TABLE.filter((row) => row.flag !== null && row.name !== 'tickMs').map((row) => [(row.flag as string).slice(2), positive]),
  ),
});

type ConfigKey = keyof z.infer<typeof CONFIG_SCHEMA>;
const CONFIG_KEYS = Object.keys(CONFIG_SCHEMA.shape) as ConfigKey[];

/** The environment variable of a setting: RAFTKV_ and the option name in capitals (`data-dir`: RAFTKV_DATA_DIR). */
export function variableOf(key: string): string {
  return `RAFTKV_${key.toUpperCase().replace(/-/g, '_')}`;
}

/** A setting as the command-line options that give it (a boolean that is false gives none: it is the default). */
function asArgs(key: string, value: unknown): string[] {
  if (typeof value === 'boolean') return value ? [`--${key}`] : [];
  return [`--${key}`, String(value)];
}

/** Reads and validates a configuration file: its settings as command-line options, in the file's order. */
export function configFileArgs(file: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError([{ file, line: null, path: '', message: `cannot read it: ${(error as Error).message}` }]);
  }
  const read = readYaml(text, file);
  if (!read.ok) throw new ConfigError(read.issues);
  if (read.source.raw === null || read.source.raw === undefined) return []; // an empty file sets nothing
  const result = CONFIG_SCHEMA.partial().safeParse(read.source.raw);
  if (!result.success) throw new ConfigError(locateIssues(result.error.issues, read.source, CONFIG_SCHEMA));
  return Object.entries(result.data).flatMap(([key, value]) => asArgs(key, value));
}

/**
 * The settings RAFTKV_* variables give, as command-line options; `warn` hears of a RAFTKV_ variable that is no
 * setting (with the nearest one), which is not an error: a shell may hold variables of other versions.
 */
export function environmentArgs(env: NodeJS.ProcessEnv, warn: (line: string) => void): string[] {
  const byVariable = new Map(CONFIG_KEYS.map((key) => [variableOf(key), key]));
  const args: string[] = [];
  const issues: FileIssue[] = [];
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('RAFTKV_') || raw === undefined || OTHER_VARIABLES.has(name)) continue;
    const key = byVariable.get(name);
    if (key === undefined) {
      const near = nearest(name, [...byVariable.keys()]);
      warn(`raftkv: ${name} is not a setting of raftkv cluster; ignored${near === null ? '' : ` (did you mean ${near}?)`}`);
      continue;
    }
    const schema = CONFIG_SCHEMA.shape[key];
    // Variables are text: numbers and booleans are read as such before the schema checks them (a choice, such as
    // RAFTKV_TIMING or RAFTKV_LOG_FORMAT, stays text).
    const value: unknown =
      schema instanceof z.ZodBoolean
        ? raw === 'true' || raw === '1'
          ? true
          : raw === 'false' || raw === '0'
            ? false
            : raw
        : schema instanceof z.ZodString || schema instanceof z.ZodEnum
          ? raw
          : raw.trim() === ''
            ? raw
            : Number(raw);
    const checked = schema.safeParse(value);
    if (!checked.success) {
      issues.push({
        file: name,
        line: null,
        path: '',
        message: `${checked.error.issues[0]?.message ?? 'invalid'} (got ${JSON.stringify(raw)})`,
      });
      continue;
    }
    args.push(...asArgs(key, checked.data));
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return args;
}

/**
 * The command line of `raftkv cluster` with the file's and the environment's settings placed before the
 * user's own options (the last occurrence of an option wins): `--config FILE` is taken out and read.
 */
export function resolveClusterArgv(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  warn: (line: string) => void = console.error,
): string[] {
  const rest: string[] = [];
  let config: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--config') {
      const file = argv[i + 1];
      if (file === undefined || file.startsWith('--'))
        throw new ConfigError([{ file: '--config', line: null, path: '', message: 'needs a file' }]);
      config = file;
      i++;
    } else if (arg.startsWith('--config=')) config = arg.slice('--config='.length);
    else rest.push(arg);
  }
  return [...(config === null ? [] : configFileArgs(config)), ...environmentArgs(env, warn), ...rest];
}
