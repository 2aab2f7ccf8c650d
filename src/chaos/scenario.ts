import { parse as parseYaml } from 'yaml';
import { CLUSTER_NODES_MAX } from '../actor/supervisor.js';
import { LIMITS_DEFAULTS } from '../router/limits.js';

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
export const READ_ROUTINGS: readonly ReadRouting[] = ['router', 'every-node'];

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

export class ScenarioError extends Error {
  readonly code = 'SCENARIO_INVALID';
}

/** Limits on what a scenario may ask for. */
export const SCENARIO_DURATION_MS_MAX = 60 * 60_000;
export const SCENARIO_CLIENTS_MAX = 1024;
export const SCENARIO_RATE_MAX = 100_000;
export const SCENARIO_FAULTS_MAX = 10_000;

function fail(where: string, message: string): never {
  throw new ScenarioError(`${where}: ${message}`);
}

/** "30s", "500ms", "2m", or a number of seconds. */
export function parseDuration(value: unknown, where: string): number {
  if (typeof value === 'number' && value >= 0) return value * 1000;
  if (typeof value !== 'string') fail(where, `expected a duration like 30s, 500ms or 2m, got ${JSON.stringify(value)}`);
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m)$/.exec(value.trim());
  if (match === null) fail(where, `expected a duration like 30s, 500ms or 2m, got ${JSON.stringify(value)}`);
  const amount = Number(match[1]);
  return match[2] === 'ms' ? amount : match[2] === 's' ? amount * 1000 : amount * 60_000;
}

function parseRate(value: unknown, where: string): number {
  const text = typeof value === 'number' ? String(value) : value;
  const match = typeof text === 'string' ? /^(\d+(?:\.\d+)?)\s*(?:\/s)?$/.exec(text.trim()) : null;
  const rate = match === null ? Number.NaN : Number(match[1]);
  if (!(rate > 0 && rate <= SCENARIO_RATE_MAX)) fail(where, `rate must be like 500/s, from 1 to ${SCENARIO_RATE_MAX}`);
  return rate;
}

function parseTarget(value: unknown, where: string, extra: readonly string[] = []): Target {
  const allowed = ['leader', 'random', 'follower', 'minority', 'majority', 'all', ...extra];
  if (typeof value === 'string' && (allowed.includes(value) || /^n[1-9]$/.test(value))) return value as Target;
  return fail(where, `target must be one of ${allowed.join(', ')} or a node id like n2, got ${JSON.stringify(value)}`);
}

function integerIn(value: unknown, where: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    fail(where, `must be an integer from ${min} to ${max}`);
  return value;
}

function probability(value: unknown, where: string): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) fail(where, 'must be a number from 0 to 1');
  return value;
}

function parseAction(raw: Record<string, unknown>, where: string): FaultAction {
  if ('kill' in raw) return { kind: 'kill', target: parseTarget(raw.kill, `${where}.kill`), loseUnsynced: raw['lose-unsynced'] === true };
  if ('restart' in raw) return { kind: 'restart', target: parseTarget(raw.restart, `${where}.restart`, ['killed']) };
  if ('pause' in raw) return { kind: 'pause', target: parseTarget(raw.pause, `${where}.pause`, ['isolated']) };
  if ('resume' in raw) return { kind: 'resume', target: parseTarget(raw.resume, `${where}.resume`, ['paused']) };
  if ('partition' in raw) {
    const shapes = ['isolate-leader', 'majority-minority', 'bridge', 'ring'] as const;
    const shape = shapes.find((s) => s === raw.partition);
    if (shape === undefined) fail(`${where}.partition`, `must be one of ${shapes.join(', ')}`);
    return { kind: 'partition', shape };
  }
  if ('links' in raw) {
    const links = raw.links;
    if (typeof links !== 'object' || links === null) fail(`${where}.links`, 'must be a map like { drop: 0.4 }');
    const l = links as Record<string, unknown>;
    let delayMs: [number, number] = [0, 0];
    if (l.delayMs !== undefined) {
      const d = l.delayMs;
      if (
        !Array.isArray(d) ||
        d.length !== 2 ||
        !d.every((v) => typeof v === 'number' && v >= 0 && v <= 60_000) ||
        (d[0] as number) > (d[1] as number)
      ) {
        fail(`${where}.links.delayMs`, 'must be [min, max] milliseconds');
      }
      delayMs = [d[0] as number, d[1] as number];
    }
    return {
      kind: 'links',
      drop: probability(l.drop, `${where}.links.drop`),
      duplicate: probability(l.duplicate, `${where}.links.duplicate`),
      delayMs,
    };
  }
  if ('heal' in raw) return { kind: 'heal' };
  if ('transfer' in raw) return { kind: 'transfer' };
  if ('crash' in raw) return { kind: 'crash', target: parseTarget(raw.crash, `${where}.crash`) };
  if ('hang' in raw) return { kind: 'hang', target: parseTarget(raw.hang, `${where}.hang`) };
  if ('slow' in raw)
    return {
      kind: 'slow',
      target: parseTarget(raw.slow, `${where}.slow`),
      ms: integerIn(raw.ms, `${where}.ms`, 1, LIMITS_DEFAULTS.slowTurnMsMax),
    };
  if ('flood' in raw) {
    return {
      kind: 'flood',
      target: parseTarget(raw.flood, `${where}.flood`),
      messages: integerIn(raw.messages, `${where}.messages`, 1, LIMITS_DEFAULTS.floodMessagesMax),
    };
  }
  return fail(where, 'a fault needs one of kill, restart, pause, resume, partition, links, heal, transfer, crash, hang, slow, flood');
}

/** Parses and validates a scenario (YAML text). Every mistake is a ScenarioError naming where it is. */
export function parseScenario(text: string, name = 'scenario'): Scenario {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    return fail(name, `not valid YAML: ${(error as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(name, 'a scenario is a YAML map');
  const r = raw as Record<string, unknown>;
  const known = new Set(['name', 'description', 'nodes', 'storage', 'duration', 'workload', 'faults', 'checks']);
  for (const key of Object.keys(r)) if (!known.has(key)) fail(name, `unknown field ${key}`);
  const nodes = r.nodes ?? 3;
  if (typeof nodes !== 'number' || !Number.isInteger(nodes) || nodes < 1 || nodes > CLUSTER_NODES_MAX)
    fail(`${name}.nodes`, `must be 1 to ${CLUSTER_NODES_MAX}`);
  const storage = r.storage ?? 'disk';
  if (storage !== 'disk' && storage !== 'memory') fail(`${name}.storage`, 'must be disk or memory');
  const durationMs = parseDuration(r.duration ?? '30s', `${name}.duration`);
  if (durationMs <= 0 || durationMs > SCENARIO_DURATION_MS_MAX) fail(`${name}.duration`, 'must be above 0 and at most 1h');
  const workload = parseWorkload(r.workload ?? {}, `${name}.workload`);
  const rawFaults = r.faults ?? [];
  if (!Array.isArray(rawFaults) || rawFaults.length > SCENARIO_FAULTS_MAX)
    fail(`${name}.faults`, `must be a list of at most ${SCENARIO_FAULTS_MAX} faults`);
  const faults = rawFaults
    .map((f: unknown, i: number): FaultEvent => {
      const where = `${name}.faults[${i}]`;
      if (typeof f !== 'object' || f === null) fail(where, 'a fault is a map like { at: 5s, kill: leader }');
      const fr = f as Record<string, unknown>;
      const atMs = parseDuration(fr.at, `${where}.at`);
      if (atMs > durationMs) fail(`${where}.at`, 'is after the end of the scenario');
      return { atMs, action: parseAction(fr, where), forMs: fr.for === undefined ? null : parseDuration(fr.for, `${where}.for`) };
    })
    .sort((a, b) => a.atMs - b.atMs);
  const defaultChecks: Record<WorkloadType, CheckName[]> = {
    register: ['linearizable'],
    counter: ['exactly-once'],
    set: ['no-lost-writes'],
  };
  const rawChecks = r.checks ?? defaultChecks[workload.type];
  const allChecks: readonly CheckName[] = ['linearizable', 'no-lost-writes', 'exactly-once'];
  if (!Array.isArray(rawChecks) || !rawChecks.every((c) => allChecks.includes(c as CheckName)))
    fail(`${name}.checks`, `must be a list of ${allChecks.join(', ')}`);
  return {
    name: typeof r.name === 'string' ? r.name : name,
    description: typeof r.description === 'string' ? r.description : '',
    nodes,
    storage,
    durationMs,
    workload,
    faults,
    checks: rawChecks as CheckName[],
  };
}

function parseWorkload(raw: unknown, where: string): Workload {
  if (typeof raw !== 'object' || raw === null) fail(where, 'must be a map');
  const w = raw as Record<string, unknown>;
  const type = w.type ?? 'register';
  if (type !== 'register' && type !== 'counter' && type !== 'set') fail(`${where}.type`, 'must be register, counter or set');
  const keys = w.keys ?? 8;
  if (typeof keys !== 'number' || !Number.isInteger(keys) || keys < 1 || keys > 100_000) fail(`${where}.keys`, 'must be 1 to 100000');
  const clients = w.clients ?? 8;
  if (typeof clients !== 'number' || !Number.isInteger(clients) || clients < 1 || clients > SCENARIO_CLIENTS_MAX)
    fail(`${where}.clients`, `must be 1 to ${SCENARIO_CLIENTS_MAX}`);
  const mixRaw = (w.mix ?? { read: 0.5, write: 0.3, cas: 0.2 }) as Record<string, unknown>;
  const mix = {
    read: probability(mixRaw.read, `${where}.mix.read`),
    write: probability(mixRaw.write, `${where}.mix.write`),
    cas: probability(mixRaw.cas, `${where}.mix.cas`),
  };
  if (mix.read + mix.write + mix.cas <= 0) fail(`${where}.mix`, 'needs some reads, writes or cas');
  const api = w.api ?? (type === 'counter' ? 'resp' : 'http');
  if (api !== 'http' && api !== 'resp') fail(`${where}.api`, 'must be http or resp');
  // Each workload runs over the API it names; a pair raftkv cannot run is refused, not quietly swapped.
  if (type === 'register' && api !== 'http')
    fail(`${where}.api`, 'the register workload needs http: its compare-and-set by index has no Redis-protocol command');
  if (type === 'counter' && api !== 'resp') fail(`${where}.api`, 'the counter workload needs resp: the HTTP API has no increment');
  const reads = READ_ROUTINGS.find((r) => r === (w.reads ?? 'router'));
  if (reads === undefined) fail(`${where}.reads`, `must be one of ${READ_ROUTINGS.join(', ')}, got ${JSON.stringify(w.reads)}`);
  if (reads !== 'router' && type !== 'register') fail(`${where}.reads`, `${reads} needs the register workload: only it reads`);
  return { type, keys, clients, ratePerSecond: parseRate(w.rate ?? '200/s', `${where}.rate`), mix, api, reads };
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
