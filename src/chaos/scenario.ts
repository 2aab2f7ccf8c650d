import { isMap, isNode, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { CLUSTER_NODES_MAX } from '../actor/supervisor.js';
import {
  durationMsOf,
  knownKeysAt,
  nodesSchema,
  READ_ROUTINGS as ROUTINGS,
  SCENARIO_DURATION_MS_MAX,
  scenarioDurationSchema,
  scenarioSchema,
} from './scenario-schema.js';

export { SCENARIO_CLIENTS_MAX, SCENARIO_DURATION_MS_MAX, SCENARIO_FAULTS_MAX, SCENARIO_RATE_MAX } from './scenario-schema.js';

/** Which nodes a fault hits, chosen when it fires. */
export type Target = 'leader' | 'random' | 'follower' | 'minority' | 'majority' | 'all' | `n${number}`;

export type FaultAction =
  | { readonly kind: 'kill'; readonly target: Target; readonly loseUnsynced: boolean }
  | { readonly kind: 'restart'; readonly target: 'killed' | Target }
  | { readonly kind: 'pause'; readonly target: 'isolated' | Target }
  | { readonly kind: 'resume'; readonly target: 'paused' | Target }
  | { readonly kind: 'partition'; readonly shape: 'isolate-leader' | 'majority-minority' | 'bridge' | 'ring' }
  | { readonly kind: 'links'; readonly drop: number; readonly delayMs: readonly [number, number]; readonly duplicate: number }
  | { readonly kind: 'heal' }
  | { readonly kind: 'transfer' }
  /** The actor faults: an exception in the turn (the supervisor restarts the node), a hang (the watchdog does). */
  | { readonly kind: 'crash'; readonly target: Target }
  | { readonly kind: 'hang'; readonly target: Target }
  /** Every turn of the node delayed by `ms`; undone (0) after `for`, and at the end. */
  | { readonly kind: 'slow'; readonly target: Target; readonly ms: number }
  | { readonly kind: 'flood'; readonly target: Target; readonly messages: number };

export interface FaultEvent {
  readonly atMs: number;
  readonly action: FaultAction;
  /** Undo the fault this long after it fires (kill -> restart, pause -> resume, partition/links -> heal). */
  readonly forMs: number | null;
}

export type WorkloadType = 'register' | 'counter' | 'set';
export type CheckName = 'linearizable' | 'no-lost-writes' | 'exactly-once';

export interface Workload {
  readonly type: WorkloadType;
  readonly keys: number;
  readonly clients: number;
  /** Operations per second over all clients. */
  readonly ratePerSecond: number;
  readonly mix: { readonly read: number; readonly write: number; readonly cas: number };
  readonly api: 'http' | 'resp';
  /**
   * Register workload: 'router' (default) sends every read through the router, which finds the leader;
   * 'every-node' pins client i's reads to node i mod nodes (`GET /v1/kv/{key}?node=...`), so some clients keep
   * reading through a deposed or isolated leader, as Jepsen's clients bound to one node do. Writes and CAS
   * still go through the router. A pinned read that its node refuses is a failed operation.
   */
  readonly reads: ReadRouting;
}

export type ReadRouting = 'router' | 'every-node';
export const READ_ROUTINGS: readonly ReadRouting[] = ROUTINGS;

export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly nodes: number;
  readonly storage: 'disk' | 'memory';
  readonly durationMs: number;
  readonly workload: Workload;
  readonly faults: readonly FaultEvent[];
  readonly checks: readonly CheckName[];
}

/** One mistake in a scenario file: where it is (file, 1-based line, the key's path) and what is wrong. */
export interface ScenarioIssue {
  readonly file: string;
  /** 1-based; null for a value given outside a file (a command-line option). */
  readonly line: number | null;
  /** Like `faults[2].from` or `workload.clients`; empty for the file as a whole. */
  readonly path: string;
  readonly message: string;
}

/** A file with many mistakes is usually one mistake repeated: past this many, the rest are only counted. */
export const SCENARIO_ISSUES_SHOWN_MAX = 20;

/** Every mistake found in a scenario, in file order; the message spells out the first SCENARIO_ISSUES_SHOWN_MAX. */
export class ScenarioError extends Error {
  readonly code = 'SCENARIO_INVALID';
  readonly issues: readonly ScenarioIssue[];

  constructor(issues: readonly ScenarioIssue[]) {
    const sorted = [...issues].sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
    const more = sorted.length - SCENARIO_ISSUES_SHOWN_MAX;
    super([...sorted.slice(0, SCENARIO_ISSUES_SHOWN_MAX).map(formatIssue), ...(more > 0 ? [`and ${more} more`] : [])].join('\n'));
    this.issues = sorted;
  }
}

export function formatIssue(issue: ScenarioIssue): string {
  return `${issue.file}${issue.line === null ? '' : `:${issue.line}`}: ${issue.path === '' ? '' : `${issue.path}: `}${issue.message}`;
}

/** "30s", "500ms", "2m", or a number of seconds, in milliseconds. */
export function parseDuration(value: unknown, where: string): number {
  const ms = durationMsOf(value);
  if (typeof ms === 'string') throw new ScenarioError([{ file: where, line: null, path: '', message: ms }]);
  return ms;
}

/**
 * Parses and validates a scenario (YAML text): every mistake found, up to SCENARIO_ISSUES_SHOWN_MAX, in one
 * ScenarioError, each naming `file`, its line and the key's path. `name` stands in for a missing `name:`.
 */
export function parseScenario(text: string, name = 'scenario', file = name): Scenario {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const lineAt = (offset: number): number => lines.linePos(offset).line;
  if (doc.errors.length > 0) {
    throw new ScenarioError(
      doc.errors.map((error) => ({
        file,
        line: lineAt(error.pos[0]),
        path: '',
        message: `not valid YAML: ${error.message.split('\n')[0] ?? ''}`,
      })),
    );
  }
  let raw: unknown;
  try {
    raw = doc.toJS();
  } catch (error) {
    // What parses but cannot be built, such as an alias expanding past the yaml package's limit.
    throw new ScenarioError([{ file, line: 1, path: '', message: `not valid YAML: ${(error as Error).message}` }]);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new ScenarioError([{ file, line: 1, path: '', message: 'a scenario is a YAML map' }]);
  // Node names and fault times are checked against the scenario's own size and length; when those are wrong
  // themselves (and reported), the widest bounds keep the faults from drawing errors that are not theirs.
  const fields = raw as Record<string, unknown>;
  const nodes = nodesSchema.safeParse(fields.nodes);
  const duration = scenarioDurationSchema.safeParse(fields.duration);
  const bounds = {
    nodes: nodes.success ? nodes.data : CLUSTER_NODES_MAX,
    durationMs: duration.success ? duration.data : SCENARIO_DURATION_MS_MAX,
  };
  const result = scenarioSchema(bounds, name).safeParse(raw);
  if (result.success) return result.data;
  throw new ScenarioError(result.error.issues.flatMap((issue) => locate(issue, doc, lineAt, file)));
}

/** A zod issue as file issues: an unknown-keys issue becomes one per key, each at the key's own line. */
function locate(issue: z.core.$ZodIssue, doc: Document, lineAt: (offset: number) => number, file: string): ScenarioIssue[] {
  const path = issue.path.filter((step): step is string | number => typeof step !== 'symbol');
  const at = (steps: readonly (string | number)[], message: string): ScenarioIssue => ({
    file,
    line: lineAt(offsetOf(doc, steps)),
    path: pathText(steps),
    message,
  });
  if (issue.code !== 'unrecognized_keys') return [at(path, issue.message)];
  const known = knownKeysAt(path);
  return issue.keys.map((key) => {
    const near = nearest(key, known);
    return at([...path, key], `unknown key${near === null ? '' : ` (did you mean ${near}?)`}`);
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

/** Beyond two edits a "did you mean" points more often at a different key than at the one meant. */
const SUGGESTION_EDITS_MAX = 2;

/** The known key a typo most likely meant: the closest within SUGGESTION_EDITS_MAX edits, and fewer than the key's length. */
function nearest(key: string, known: readonly string[]): string | null {
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

/** The same scenario squeezed into `durationMs` (CI runs each library scenario in a short form). */
export function shortened(scenario: Scenario, durationMs: number): Scenario {
  if (durationMs >= scenario.durationMs) return scenario;
  const scale = durationMs / scenario.durationMs;
  return {
    ...scenario,
    durationMs,
    faults: scenario.faults.map((f) => ({ ...f, atMs: f.atMs * scale, forMs: f.forMs === null ? null : f.forMs * scale })),
  };
}
