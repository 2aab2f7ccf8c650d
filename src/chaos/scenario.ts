import { formatIssue, locateIssues, readYaml, type FileIssue } from '../util/yaml-validation.js';
import type { NodeClock } from '../protocol/clock.js';
import type { DiskFaults } from '../protocol/disk-faults.js';
import type { NodeId } from '../raft/types.js';
import { CLUSTER_NODES_MAX } from '../actor/supervisor.js';
import {
  addedMembersOf,
  durationMsOf,
  nodesSchema,
  READ_ROUTINGS as ROUTINGS,
  SCENARIO_DURATION_MS_MAX,
  scenarioDurationSchema,
  scenarioSchema,
} from './scenario-schema.js';

export { formatIssue };
export { leaseClockRatio, scenarioClockRates } from './scenario-schema.js';
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
  | { readonly kind: 'flood'; readonly target: Target; readonly messages: number }
  /**
   * The target's clock from now on (Supervisor.setClock): its tick rate and wall-time skew; null keeps what it
   * was. Undone (back to the scenario's start clocks) after `for`, and at the end.
   */
  | { readonly kind: 'clock'; readonly target: Target; readonly rate: number | null; readonly skewMs: number | null }
  /**
   * The target's disk faults (Supervisor.setDiskFaults): a stall, EIO on the next fsyncs or writes (the node
   * crashes and the supervisor restarts it), a full disk, lost renames. The lasting ones (stall, full disk, lost
   * renames) are undone after `for`, and at the end.
   */
  | { readonly kind: 'disk'; readonly target: Target; readonly faults: Partial<DiskFaults> }
  /** The target snapshots its state machine now and compacts its log (a kill in the same `at` lands mid-way). */
  | { readonly kind: 'snapshot'; readonly target: Target }
  /**
   * Membership changes through Supervisor.changeMembership, one server at a time: a new node (an id past the
   * scenario's nodes) joins as a learner or a voter, a learner is promoted, a member leaves. Retried while the
   * cluster answers "not now" (no leader, another change in progress, the learner still catching up), until
   * the fault's `for` runs out (the end of the run without it); never undone.
   */
  | { readonly kind: 'add-learner'; readonly id: `n${number}` }
  | { readonly kind: 'add-voter'; readonly id: `n${number}` }
  | { readonly kind: 'promote'; readonly id: `n${number}` }
  | { readonly kind: 'remove-member'; readonly target: RemoveTarget };

/** The member a remove-member takes out, chosen when it fires. */
export type RemoveTarget = 'leader' | 'follower' | 'random' | `n${number}`;

/** The fault kinds that change the membership. */
export const MEMBERSHIP_FAULTS = ['add-learner', 'add-voter', 'promote', 'remove-member'] as const satisfies readonly FaultAction['kind'][];

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
  /** How the cluster's leaders confirm reads: 'safe' (a ReadIndex round each, the default) or 'lease' (thesis 6.4.1). */
  readonly readMode: 'safe' | 'lease';
  /** Each listed node's clock from the start of the run (the others keep the true clock). */
  readonly clocks: Readonly<Record<NodeId, NodeClock>>;
  /**
   * The router's admission bound for the run (Router.setPendingRequestsMax), put back at the end: an overload
   * scenario offers many times that, and the excess is shed with OVERLOADED. Absent: the router's own.
   */
  readonly admission?: { readonly pendingRequestsMax: number };
}

/** One mistake in a scenario file: where it is (file, 1-based line, the key's path) and what is wrong. */
export type ScenarioIssue = FileIssue;

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
  const read = readYaml(text, file);
  if (!read.ok) throw new ScenarioError(read.issues);
  const { raw } = read.source;
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
    added: addedMembersOf(fields.faults),
  };
  const schema = scenarioSchema(bounds, name);
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  throw new ScenarioError(locateIssues(result.error.issues, read.source, schema));
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
