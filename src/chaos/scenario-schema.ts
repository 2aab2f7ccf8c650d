// The shape of a scenario file, as a zod schema. Every map is strict (an unknown key is an error, not silently
// ignored), every value is checked against what the runner can do, and the checks that need the scenario's own
// size and length (a node n4 in a 3-node scenario, a fault after the end) are built from them. The schema's
// output is the Scenario the runner takes; scenario.ts parses the YAML and turns zod's issues into lines.
import { z } from 'zod';
import { CLUSTER_NODES_MAX, SUPERVISOR_DEFAULTS } from '../actor/supervisor.js';
import { CLOCK_RATE_MAX, CLOCK_RATE_MIN, CLOCK_SKEW_MS_MAX } from '../protocol/clock.js';
import { DISK_ERRORS_MAX, DISK_SYNC_DELAY_MS_MAX } from '../protocol/disk-faults.js';
import { RAFT_DEFAULTS } from '../raft/config.js';
import { leaseClockRateRatioMax } from '../raft/raft.js';
import { LIMITS_DEFAULTS } from '../router/limits.js';

/** Limits on what a scenario may ask for. */
export const SCENARIO_DURATION_MS_MAX = 60 * 60_000;
export const SCENARIO_CLIENTS_MAX = 1024;
export const SCENARIO_RATE_MAX = 100_000;
/** The most requests a scenario may let its router hold at once (`admission.pendingRequestsMax`). */
export const SCENARIO_ADMISSION_MAX = 100_000;
export const SCENARIO_FAULTS_MAX = 10_000;
export const SCENARIO_KEYS_MAX = 100_000;
/** A link delay above a minute is no longer a slow network but a partition; `partition` says that better. */
export const LINK_DELAY_MS_MAX = 60_000;

export const READ_ROUTINGS = ['router', 'every-node'] as const;
export const WORKLOAD_TYPES = ['register', 'counter', 'set'] as const;
export const CHECK_NAMES = ['linearizable', 'no-lost-writes', 'exactly-once'] as const;
export const PARTITION_SHAPES = ['isolate-leader', 'majority-minority', 'bridge', 'ring'] as const;
export const READ_MODES = ['safe', 'lease'] as const;
const GROUP_TARGETS = ['leader', 'random', 'follower', 'minority', 'majority', 'all'] as const;
/** The members a `remove-member` may pick when it fires: one node, never a group (one change at a time). */
export const REMOVE_TARGETS = ['leader', 'follower', 'random'] as const;

/** A member a scenario's `add-learner` or `add-voter` brings in, and when. */
export interface AddedMember {
  readonly id: string;
  readonly atMs: number;
}

/**
 * What the schema checks times and node names against: the scenario's own size and length, and the members its
 * add faults bring in (a fault may name one of those only after its add).
 */
export interface ScenarioBounds {
  readonly nodes: number;
  readonly durationMs: number;
  readonly added?: readonly AddedMember[];
}

const MEMBERSHIP_ADDS = ['add-learner', 'add-voter'] as const;

/**
 * The members the add faults of a raw (unchecked) fault list bring in, read before the schema runs so that
 * every fault can be checked against them; an add whose time is itself wrong (and reported) counts from the
 * start, so the faults after it draw no errors that are not theirs.
 */
export function addedMembersOf(faults: unknown): AddedMember[] {
  if (!Array.isArray(faults)) return [];
  const added: AddedMember[] = [];
  for (const fault of faults as unknown[]) {
    if (typeof fault !== 'object' || fault === null) continue;
    const fields = fault as Record<string, unknown>;
    for (const key of MEMBERSHIP_ADDS) {
      const id = fields[key];
      if (typeof id !== 'string') continue;
      const atMs = durationMsOf(fields.at);
      added.push({ id, atMs: typeof atMs === 'number' ? atMs : Number.NEGATIVE_INFINITY });
    }
  }
  return added;
}

/** The number of node id `value` (`n4` -> 4), or null. */
const nodeNumber = (value: string): number | null => {
  const match = /^n(\d+)$/.exec(value);
  return match === null ? null : Number(match[1]);
};

/** The adds that bring in a new node (an id past the scenario's nodes, up to CLUSTER_NODES_MAX). */
function newMembers(bounds: ScenarioBounds): AddedMember[] {
  return (bounds.added ?? []).filter((a) => {
    const n = nodeNumber(a.id);
    return n !== null && n > bounds.nodes && n <= CLUSTER_NODES_MAX;
  });
}

/** "n1 to n3", or "n1 to n3, and n4, n5 once added". */
function knownNodes(bounds: ScenarioBounds): string {
  const added = [...new Set(newMembers(bounds).map((a) => a.id))];
  return `n1 to n${bounds.nodes}${added.length === 0 ? '' : `, and ${added.join(', ')} once added`}`;
}

/** Whether `value` is a node of the scenario: one of its first `nodes`, or one an add fault brings in. */
function isKnownNode(bounds: ScenarioBounds, value: string): boolean {
  const n = nodeNumber(value);
  if (n !== null && n >= 1 && n <= bounds.nodes) return true;
  return newMembers(bounds).some((a) => a.id === value);
}

const DURATION_TEXT = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** "30s", "500ms", "2m", "1h", or a number of seconds, in milliseconds; a string saying what is wrong otherwise. */
export function durationMsOf(value: unknown): number | string {
  const negative = (typeof value === 'number' && value < 0) || (typeof value === 'string' && value.trim().startsWith('-'));
  if (negative) return `must not be negative, got ${JSON.stringify(value)}`;
  if (typeof value === 'number' && Number.isFinite(value)) return value * 1000;
  const match = typeof value === 'string' ? DURATION_TEXT.exec(value.trim()) : null;
  if (match === null) return `expected a duration like 30s, 500ms or 2m, got ${JSON.stringify(value)}`;
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/** A duration in milliseconds, no longer than `maxMs` (`what` says what the bound is, for the message). */
const duration = (maxMs: number, what: string) =>
  z
    .union([z.number(), z.string()], {
      error: (issue) => `expected a duration like 30s, 500ms or 2m, got ${JSON.stringify(issue.input) ?? 'nothing'}`,
    })
    .transform((value, ctx) => {
      const ms = durationMsOf(value);
      if (typeof ms === 'string') ctx.addIssue({ code: 'custom', message: ms, input: value });
      else if (ms > maxMs) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} is ${what}`, input: value });
      else return ms;
      return z.NEVER;
    });

const integerIn = (min: number, max: number) => {
  const message = `must be an integer from ${min} to ${max}`;
  return z.int({ error: message }).min(min, { error: message }).max(max, { error: message });
};

const PROBABILITY = { error: 'must be a number from 0 to 1' };
const probability = z.number(PROBABILITY).min(0, PROBABILITY).max(1, PROBABILITY);

/** One of `values`; the message lists them and quotes what was written. */
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: (issue) => `must be one of ${values.join(', ')}, got ${JSON.stringify(issue.input)}` });

/** A map whose unknown keys are errors; scenario.ts names each unknown key (and the nearest known one). */
const strictMap = <S extends z.ZodRawShape>(shape: S) =>
  z.strictObject(shape, { error: (issue) => (issue.code === 'invalid_type' ? 'must be a map' : undefined) });

const RATE = { error: `must be like 500/s, from 1 to ${SCENARIO_RATE_MAX}` };
const rate = z.union([z.number(), z.string()], RATE).transform((value, ctx) => {
  const match = /^(\d+(?:\.\d+)?)\s*(?:\/s)?$/.exec(String(value).trim());
  const perSecond = match === null ? Number.NaN : Number(match[1]);
  if (perSecond > 0 && perSecond <= SCENARIO_RATE_MAX) return perSecond;
  ctx.addIssue({ code: 'custom', message: RATE.error, input: value });
  return z.NEVER;
});

/** A fault's target: one of `named` (groups chosen when it fires), or a node of this scenario. */
const nodeTarget = <const N extends readonly string[]>(bounds: ScenarioBounds, named: N) => {
  const nodes = knownNodes(bounds);
  const expected = named.length === 0 ? `must be a node ${nodes}` : `target must be one of ${named.join(', ')} or a node ${nodes}`;
  return z.string({ error: (issue) => `${expected}, got ${JSON.stringify(issue.input)}` }).transform((value, ctx) => {
    if (named.includes(value)) return value as N[number];
    if (isKnownNode(bounds, value)) return value as `n${number}`;
    const message =
      nodeNumber(value) !== null
        ? `unknown node ${value}: this scenario has ${bounds.nodes} node${bounds.nodes === 1 ? '' : 's'} (${nodes})`
        : `${expected}, got ${JSON.stringify(value)}`;
    ctx.addIssue({ code: 'custom', message, input: value });
    return z.NEVER;
  });
};

/** A fault's target: a group chosen when it fires, one of `extra`, or a node of this scenario. */
const target = <const E extends readonly string[]>(bounds: ScenarioBounds, extra: E) =>
  nodeTarget(bounds, [...GROUP_TARGETS, ...extra] as const);

/** A new member: an id past the scenario's nodes, up to CLUSTER_NODES_MAX, added by one fault only. */
const newMember = (bounds: ScenarioBounds) => {
  const free = bounds.nodes >= CLUSTER_NODES_MAX ? 'none' : `n${bounds.nodes + 1} to n${CLUSTER_NODES_MAX}`;
  const expected = `must be a new node id (${free}: a cluster has at most ${CLUSTER_NODES_MAX} nodes)`;
  return z.string({ error: (issue) => `${expected}, got ${JSON.stringify(issue.input)}` }).transform((value, ctx) => {
    const n = nodeNumber(value);
    const times = (bounds.added ?? []).filter((a) => a.id === value).length;
    const message =
      n === null || n < 1 || n > CLUSTER_NODES_MAX
        ? `${expected}, got ${JSON.stringify(value)}`
        : n <= bounds.nodes
          ? `${value} is a member from the start (n1 to n${bounds.nodes}); a new member is ${free}`
          : times > 1
            ? `${value} is added ${times} times: each new member is added once`
            : null;
    if (message === null) return value as `n${number}`;
    ctx.addIssue({ code: 'custom', message, input: value });
    return z.NEVER;
  });
};

/** `heal` and `transfer` take no argument: `heal: true`, or `heal:` with nothing after it. */
const flag = z.literal(true, { error: 'takes no value: write true' }).nullable();

const DELAY = { error: `must be [min, max] milliseconds, each from 0 to ${LINK_DELAY_MS_MAX}` };
const delay = z.number(DELAY).min(0, DELAY).max(LINK_DELAY_MS_MAX, DELAY);
const links = strictMap({
  drop: probability.default(0),
  delayMs: z
    .tuple([delay, delay], DELAY)
    .refine(([min, max]) => min <= max, { error: 'must be [min, max] milliseconds, min first' })
    .default([0, 0]),
  duplicate: probability.default(0),
});

const CLOCK_RATE = { error: `must be a number from ${CLOCK_RATE_MIN} to ${CLOCK_RATE_MAX} (ticks per tick of a true clock)` };
const clockRate = z.number(CLOCK_RATE).min(CLOCK_RATE_MIN, CLOCK_RATE).max(CLOCK_RATE_MAX, CLOCK_RATE);
const CLOCK_SKEW = { error: `must be an integer of milliseconds from -${CLOCK_SKEW_MS_MAX} to ${CLOCK_SKEW_MS_MAX}` };
const clockSkew = z.int(CLOCK_SKEW).min(-CLOCK_SKEW_MS_MAX, CLOCK_SKEW).max(CLOCK_SKEW_MS_MAX, CLOCK_SKEW);
const startClock = strictMap({ rate: clockRate.default(1), skewMs: clockSkew.default(0) });

/** The start clocks: a map from the scenario's own nodes (n1 to nN) to their clocks. */
const startClocks = (bounds: ScenarioBounds) =>
  z.record(z.string(), startClock, { error: 'must be a map from node ids to { rate, skewMs }' }).superRefine((clocks, ctx) => {
    for (const id of Object.keys(clocks)) {
      const n = nodeNumber(id);
      if (n === null || n < 1 || n > bounds.nodes)
        ctx.addIssue({ code: 'custom', path: [id], message: `unknown node ${id}: start clocks are for n1 to n${bounds.nodes}`, input: id });
    }
  });

/** The keys that name a fault's action; a fault has exactly one. */
export const FAULT_ACTIONS = [
  'kill',
  'restart',
  'pause',
  'resume',
  'partition',
  'links',
  'heal',
  'transfer',
  'crash',
  'hang',
  'slow',
  'flood',
  'clock',
  'disk',
  'snapshot',
  'add-learner',
  'add-voter',
  'promote',
  'remove-member',
] as const;
type ActionKey = (typeof FAULT_ACTIONS)[number];

/** Keys that only mean something next to one action; `neededUpTo`: the action needs it, an integer up to that. */
const ACTION_EXTRAS = [
  { key: 'lose-unsynced', action: 'kill', neededUpTo: null },
  { key: 'ms', action: 'slow', neededUpTo: LIMITS_DEFAULTS.slowTurnMsMax },
  { key: 'messages', action: 'flood', neededUpTo: LIMITS_DEFAULTS.floodMessagesMax },
  { key: 'rate', action: 'clock', neededUpTo: null },
  { key: 'skewMs', action: 'clock', neededUpTo: null },
  { key: 'stallMs', action: 'disk', neededUpTo: null },
  { key: 'fsyncErrors', action: 'disk', neededUpTo: null },
  { key: 'writeErrors', action: 'disk', neededUpTo: null },
  { key: 'spaceBytes', action: 'disk', neededUpTo: null },
  { key: 'loseRenames', action: 'disk', neededUpTo: null },
] as const satisfies readonly { key: string; action: ActionKey; neededUpTo: number | null }[];

const formatMs = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);

function faultSchema(bounds: ScenarioBounds) {
  const end = `after the end of the scenario (${formatMs(bounds.durationMs)})`;
  return strictMap({
    at: duration(bounds.durationMs, end),
    // A fault for 0 ms would heal as it starts (`for: 0s` was accepted; found by the fuzzer, test/fuzz).
    for: duration(SCENARIO_DURATION_MS_MAX, 'longer than 1h')
      .refine((ms) => ms > 0, 'a fault lasts longer than 0 ms')
      .optional(),
    kill: target(bounds, []).optional(),
    'lose-unsynced': z.boolean({ error: 'must be true or false' }).optional(),
    restart: target(bounds, ['killed']).optional(),
    pause: target(bounds, ['isolated']).optional(),
    resume: target(bounds, ['paused']).optional(),
    partition: oneOf(PARTITION_SHAPES).optional(),
    links: links.optional(),
    heal: flag.optional(),
    transfer: flag.optional(),
    crash: target(bounds, []).optional(),
    hang: target(bounds, []).optional(),
    slow: target(bounds, []).optional(),
    ms: integerIn(1, LIMITS_DEFAULTS.slowTurnMsMax).optional(),
    flood: target(bounds, []).optional(),
    messages: integerIn(1, LIMITS_DEFAULTS.floodMessagesMax).optional(),
    clock: target(bounds, []).optional(),
    rate: clockRate.optional(),
    skewMs: clockSkew.optional(),
    disk: target(bounds, []).optional(),
    snapshot: target(bounds, []).optional(),
    stallMs: integerIn(0, DISK_SYNC_DELAY_MS_MAX).optional(),
    fsyncErrors: integerIn(1, DISK_ERRORS_MAX).optional(),
    writeErrors: integerIn(1, DISK_ERRORS_MAX).optional(),
    spaceBytes: integerIn(0, Number.MAX_SAFE_INTEGER).optional(),
    loseRenames: z.boolean({ error: 'must be true or false' }).optional(),
    'add-learner': newMember(bounds).optional(),
    'add-voter': newMember(bounds).optional(),
    promote: nodeTarget(bounds, []).optional(),
    'remove-member': nodeTarget(bounds, REMOVE_TARGETS).optional(),
  }).transform((f, ctx) => {
    const actions = FAULT_ACTIONS.filter((key) => f[key] !== undefined);
    const [action] = actions;
    // A fault with no action but an unknown key most likely misspells its action: the unknown key says so.
    const unknownKey = ctx.issues.some((issue) => issue.code === 'unrecognized_keys');
    if (action === undefined && unknownKey) return z.NEVER;
    if (action === undefined || actions.length > 1) {
      const message =
        action === undefined
          ? `a fault needs one of ${FAULT_ACTIONS.join(', ')}`
          : `a fault does one thing; this one has ${actions.join(' and ')}`;
      ctx.addIssue({ code: 'custom', message, input: f });
      return z.NEVER;
    }
    for (const { key, action: owner, neededUpTo } of ACTION_EXTRAS) {
      if (f[key] !== undefined && action !== owner)
        ctx.addIssue({ code: 'custom', path: [key], message: `goes with ${owner}, not ${action}`, input: f[key] });
      else if (f[key] === undefined && action === owner && neededUpTo !== null)
        ctx.addIssue({ code: 'custom', path: [key], message: `must be an integer from 1 to ${neededUpTo} (${owner} needs it)`, input: f });
    }
    if (action === 'clock' && f.rate === undefined && f.skewMs === undefined)
      ctx.addIssue({ code: 'custom', path: ['clock'], message: 'a clock fault needs a rate, a skewMs or both', input: f });
    if (action === 'disk' && DISK_KEYS.every((key) => f[key] === undefined))
      ctx.addIssue({ code: 'custom', path: ['disk'], message: `a disk fault needs one or more of ${DISK_KEYS.join(', ')}`, input: f });
    if (f.promote !== undefined && !(bounds.added ?? []).some((a) => a.id === f.promote))
      ctx.addIssue({
        code: 'custom',
        path: ['promote'],
        message: `${f.promote} is a voter from the start: only a member added by add-learner can be promoted`,
        input: f.promote,
      });
    // A member an add fault brings in is a target only once added: after its add, not at the same time.
    for (const key of TARGET_KEYS) {
      const value = f[key];
      const n = typeof value === 'string' ? nodeNumber(value) : null;
      if (n === null || n <= bounds.nodes) continue;
      const adds = (bounds.added ?? []).filter((a) => a.id === value);
      if (adds.length > 0 && !adds.some((a) => a.atMs < f.at))
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `${String(value)} is only added at ${formatMs(Math.min(...adds.map((a) => a.atMs)))}: name it in a later fault`,
          input: value,
        });
    }
    // The undo is part of the run: one scheduled past the end would be done by the clean-up, not the scenario.
    if (f.for !== undefined && f.at + f.for > bounds.durationMs)
      ctx.addIssue({
        code: 'custom',
        path: ['for'],
        message: `ends at ${formatMs(f.at + f.for)}, ${end}`,
        input: f.for,
      });
    if (ctx.issues.length > 0) return z.NEVER;
    return { atMs: f.at, action: faultAction(action, f), forMs: f.for ?? null };
  });
}

/** The keys whose value names a node (or a group): each is checked against the members added so far. */
const TARGET_KEYS = [
  'kill',
  'restart',
  'pause',
  'resume',
  'crash',
  'hang',
  'slow',
  'flood',
  'clock',
  'disk',
  'snapshot',
  'promote',
  'remove-member',
] as const;

/** The keys of a disk fault (src/protocol/disk-faults.ts): stallMs is its syncDelayMs, fsyncErrors its syncErrors. */
const DISK_KEYS = ['stallMs', 'fsyncErrors', 'writeErrors', 'spaceBytes', 'loseRenames'] as const;

type FaultFields = Partial<Record<ActionKey, unknown>> & {
  readonly ms?: number;
  readonly messages?: number;
  readonly rate?: number;
  readonly skewMs?: number;
  readonly stallMs?: number;
  readonly fsyncErrors?: number;
  readonly writeErrors?: number;
  readonly spaceBytes?: number;
  readonly loseRenames?: boolean;
};

/** The runner's form of a checked fault: its action key becomes `kind`, its value the target or shape. */
function faultAction(kind: ActionKey, f: FaultFields & { readonly 'lose-unsynced'?: boolean; readonly links?: z.output<typeof links> }) {
  // The schema has checked each key's value; the casts only name the type it checked.
  const targetOf = <T>() => f[kind] as T;
  type Group = (typeof GROUP_TARGETS)[number] | `n${number}`;
  switch (kind) {
    case 'kill':
      return { kind, target: targetOf<Group>(), loseUnsynced: f['lose-unsynced'] === true } as const;
    case 'restart':
      return { kind, target: targetOf<Group | 'killed'>() } as const;
    case 'pause':
      return { kind, target: targetOf<Group | 'isolated'>() } as const;
    case 'resume':
      return { kind, target: targetOf<Group | 'paused'>() } as const;
    case 'partition':
      return { kind, shape: targetOf<(typeof PARTITION_SHAPES)[number]>() } as const;
    case 'links': {
      const l = f.links ?? { drop: 0, delayMs: [0, 0] as const, duplicate: 0 };
      return { kind, drop: l.drop, delayMs: [l.delayMs[0], l.delayMs[1]] as const, duplicate: l.duplicate } as const;
    }
    case 'heal':
    case 'transfer':
      return { kind } as const;
    case 'crash':
    case 'hang':
    case 'snapshot':
      return { kind, target: targetOf<Group>() } as const;
    case 'slow':
      return { kind, target: targetOf<Group>(), ms: f.ms ?? 0 } as const;
    case 'flood':
      return { kind, target: targetOf<Group>(), messages: f.messages ?? 0 } as const;
    case 'clock':
      return { kind, target: targetOf<Group>(), rate: f.rate ?? null, skewMs: f.skewMs ?? null } as const;
    case 'disk':
      return {
        kind,
        target: targetOf<Group>(),
        faults: {
          ...(f.stallMs === undefined ? {} : { syncDelayMs: f.stallMs }),
          ...(f.fsyncErrors === undefined ? {} : { syncErrors: f.fsyncErrors }),
          ...(f.writeErrors === undefined ? {} : { writeErrors: f.writeErrors }),
          ...(f.spaceBytes === undefined ? {} : { spaceBytes: f.spaceBytes }),
          ...(f.loseRenames === undefined ? {} : { loseRenames: f.loseRenames }),
        },
      } as const;
    case 'add-learner':
    case 'add-voter':
    case 'promote':
      return { kind, id: targetOf<`n${number}`>() } as const;
    case 'remove-member':
      return { kind, target: targetOf<(typeof REMOVE_TARGETS)[number] | `n${number}`>() } as const;
  }
}

const workload = strictMap({
  type: oneOf(WORKLOAD_TYPES).default('register'),
  keys: integerIn(1, SCENARIO_KEYS_MAX).default(8),
  clients: integerIn(1, SCENARIO_CLIENTS_MAX).default(8),
  rate: rate.default(200),
  mix: strictMap({ read: probability.default(0), write: probability.default(0), cas: probability.default(0) })
    .refine((m) => m.read + m.write + m.cas > 0, { error: 'needs some reads, writes or cas' })
    .default({ read: 0.5, write: 0.3, cas: 0.2 }),
  api: oneOf(['http', 'resp']).optional(),
  reads: oneOf(READ_ROUTINGS).default('router'),
}).transform((w, ctx) => {
  const api = w.api ?? (w.type === 'counter' ? 'resp' : 'http');
  // Each workload runs over the API it names; a pair raftkv cannot run is refused, not quietly swapped.
  const apiProblem =
    w.type === 'register' && api !== 'http'
      ? 'the register workload needs http: its compare-and-set by index has no Redis-protocol command'
      : w.type === 'counter' && api !== 'resp'
        ? 'the counter workload needs resp: the HTTP API has no increment'
        : null;
  if (apiProblem !== null) ctx.addIssue({ code: 'custom', path: ['api'], message: apiProblem, input: w.api });
  if (w.reads !== 'router' && w.type !== 'register')
    ctx.addIssue({ code: 'custom', path: ['reads'], message: `${w.reads} needs the register workload: only it reads`, input: w.reads });
  if (ctx.issues.length > 0) return z.NEVER;
  const { rate: ratePerSecond, ...rest } = w;
  return { ...rest, api, ratePerSecond };
});

const DEFAULT_CHECKS = {
  register: ['linearizable'],
  counter: ['exactly-once'],
  set: ['no-lost-writes'],
} as const satisfies Record<(typeof WORKLOAD_TYPES)[number], readonly (typeof CHECK_NAMES)[number][]>;

/** The fields the bounds come from; checked again (with their messages) by the whole schema. */
export const nodesSchema = integerIn(1, CLUSTER_NODES_MAX).default(3);
export const scenarioDurationSchema = duration(SCENARIO_DURATION_MS_MAX, 'longer than 1h')
  .refine((ms) => ms > 0, { error: 'must be above 0' })
  .default(30_000);

/** The whole scenario; `name` stands in for a missing `name:` (the file's name). */
export function scenarioSchema(bounds: ScenarioBounds, name: string) {
  return strictMap({
    name: z.string({ error: 'must be a string' }).default(name),
    description: z.string({ error: 'must be a string' }).default(''),
    nodes: nodesSchema,
    storage: oneOf(['disk', 'memory']).default('disk'),
    duration: scenarioDurationSchema,
    workload: workload.prefault({}),
    faults: z
      .array(faultSchema(bounds), { error: 'must be a list of faults like { at: 5s, kill: leader }' })
      .max(SCENARIO_FAULTS_MAX, { error: `must be a list of at most ${SCENARIO_FAULTS_MAX} faults` })
      .default([]),
    checks: z.array(oneOf(CHECK_NAMES), { error: `must be a list of ${CHECK_NAMES.join(', ')}` }).optional(),
    readMode: oneOf(READ_MODES).default('safe'),
    clocks: startClocks(bounds).default({}),
    admission: strictMap({ pendingRequestsMax: integerIn(1, SCENARIO_ADMISSION_MAX) }).optional(),
  }).transform(({ duration: durationMs, checks, faults, ...rest }, ctx) => {
    // zod goes on past an unknown key inside the workload (its transform then gives no workload): the issues
    // are reported, and there is no scenario to build.
    if (ctx.issues.length > 0) return z.NEVER;
    if (rest.readMode === 'lease') {
      // A paused, hung or slowed node's ticks stop or come late: its clock runs slower than any rate says.
      faults.forEach((fault, i) => {
        if (!(LEASE_CLOCK_STOPPERS as readonly string[]).includes(fault.action.kind)) return;
        ctx.addIssue({
          code: 'custom',
          path: ['faults', i, fault.action.kind],
          message: `${fault.action.kind} stops or slows the node's clock, which no lease bound covers: not with readMode lease`,
          input: fault.action.kind,
        });
      });
      if (ctx.issues.length > 0) return z.NEVER;
      const problem = leaseClockProblem({ nodes: rest.nodes, clocks: rest.clocks, faults }, DEFAULT_ELECTION_TICKS);
      if (problem !== null) {
        ctx.addIssue({ code: 'custom', path: ['readMode'], message: problem, input: rest.readMode });
        return z.NEVER;
      }
    }
    return {
      ...rest,
      durationMs,
      faults: [...faults].sort((a, b) => a.atMs - b.atMs),
      checks: checks ?? [...DEFAULT_CHECKS[rest.workload.type]],
    };
  });
}

/** Faults that stop or slow a node's ticks: refused with lease reads, as the simulator never pauses with leases. */
const LEASE_CLOCK_STOPPERS = ['pause', 'hang', 'slow'] as const;

/** The election timeout of the clusters a scenario starts (SUPERVISOR_DEFAULTS), which the lease bound depends on. */
const DEFAULT_ELECTION_TICKS = SUPERVISOR_DEFAULTS.core.electionTicks ?? RAFT_DEFAULTS.electionTicks;

interface ClockPlan {
  readonly nodes: number;
  readonly clocks: Readonly<Record<string, { readonly rate: number }>>;
  readonly faults: readonly { readonly action: { readonly kind: string; readonly rate?: number | null } }[];
}

/**
 * Every clock rate a node of the scenario may have during the run: its start clocks, the true clock (1) of a
 * node without one (and of every member added later), and each clock fault's rate.
 */
export function scenarioClockRates(plan: ClockPlan): number[] {
  const rates = Object.values(plan.clocks).map((clock) => clock.rate);
  if (rates.length < plan.nodes || plan.faults.some((f) => f.action.kind === 'add-learner' || f.action.kind === 'add-voter')) rates.push(1);
  for (const fault of plan.faults)
    if (fault.action.kind === 'clock' && typeof fault.action.rate === 'number') rates.push(fault.action.rate);
  return rates;
}

/** The fastest rate over the slowest: at most leaseClockRateRatioMax(electionTicks) for lease reads to be safe. */
export function leaseClockRatio(plan: ClockPlan): number {
  const rates = scenarioClockRates(plan);
  return Math.max(...rates) / Math.min(...rates);
}

/** Why the scenario's clocks are too far apart for lease reads on a cluster of `electionTicks`; null when they are not. */
export function leaseClockProblem(plan: ClockPlan, electionTicks: number): string | null {
  const ratio = leaseClockRatio(plan);
  const bound = leaseClockRateRatioMax(electionTicks);
  if (ratio <= bound) return null;
  const rates = scenarioClockRates(plan);
  return (
    `lease reads need clocks within ${bound.toFixed(4)} of each other (leaseClockRateRatioMax for electionTicks ${electionTicks}); ` +
    `this scenario's rates run from ${Math.min(...rates)} to ${Math.max(...rates)} (${ratio.toFixed(4)} apart)`
  );
}
