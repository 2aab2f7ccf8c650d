// The seed families CI runs, and the one command line that replays any run of any of them exactly.
import { parseArgs } from 'node:util';
import { deriveOptions, type ScheduleOptions } from './simulator.js';

export type Overrides = Partial<Omit<ScheduleOptions, 'seed'>>;

export const FAMILY_NAMES = ['mixed', 'lossy', 'lossy-everywhere', 'readers', 'membership', 'elections', 'clocks', 'disks'] as const;
export type FamilyName = (typeof FAMILY_NAMES)[number];

export interface Family {
  /** The first seed CI runs; the family owns the million seeds from here (mixed also owns every seed past them). */
  readonly firstSeed: number;
  /** Options pinned on top of what the seed derives. */
  readonly overrides: Overrides;
}

const SEEDS_PER_FAMILY = 1_000_000;

export const FAMILIES: Readonly<Record<FamilyName, Family>> = {
  // Every option drawn from the seed.
  mixed: { firstSeed: 1, overrides: {} },
  // 5 nodes where some or all links drop 40% of messages, on top of the seed's other faults.
  lossy: { firstSeed: 1_000_001, overrides: { nodeCount: 5, lossyLinkShare: 0.5, lossyDrop: 0.4 } },
  // 40% loss on every link and nothing else going wrong.
  'lossy-everywhere': {
    firstSeed: 2_000_001,
    overrides: {
      nodeCount: 5,
      lossyLinkShare: 1,
      lossyDrop: 0.4,
      crashRate: 0,
      pauseRate: 0,
      partitionRate: 0,
      transferRate: 0,
      diskFaultRate: 0,
    },
  },
  // Built to catch stale reads: many readers, frequent partitions and pauses, no CheckQuorum.
  readers: {
    firstSeed: 3_000_001,
    overrides: {
      checkQuorum: false,
      partitionRate: 4,
      crashRate: 0.5,
      pauseRate: 1,
      readShare: 0.6,
      clients: 5,
      clientThinkUnits: 5,
      diskFaultRate: 0,
    },
  },
  // Built to catch unsafe membership changes: four voters (an even count, where a change and a concurrent one
  // from another leader can have disjoint majorities), frequent changes, lossy links, and no PreVote or
  // CheckQuorum, so that a cut-off leader's term climbs and its stale configuration can win an election.
  membership: {
    firstSeed: 4_000_001,
    overrides: {
      nodeCount: 4,
      membershipRate: 20,
      membershipAtElection: 1,
      preVote: false,
      checkQuorum: false,
      readMode: 'safe',
      partitionRate: 1,
      crashRate: 1,
      pauseRate: 0,
      transferRate: 0,
      lossyLinkShare: 0.5,
      lossyDrop: 0.4,
      chaosTicks: 800,
      diskFaultRate: 0,
    },
  },
  // Built to catch forgotten votes: every voter crashes right after granting and is back within a message
  // delay; no PreVote, short election timeouts and long delays, so candidates often share a term.
  elections: {
    firstSeed: 5_000_001,
    overrides: { voteCrash: 1, preVote: false, electionTicks: 6, delayMaxUnits: 25, crashRate: 4, diskFaultRate: 0 },
  },
  // Built to test lease reads against drifting clocks: every read may be a lease read, the nodes' clock rates
  // spread exactly as far as the lease bound allows (leaseClockRateRatioMax: the fastest node's rate over the
  // slowest's), each clock skewed by up to 5 ticks, frequent partitions cut leaders off while readers keep
  // asking them, transfers hand leadership to slow clocks too (a fast clock usually wins elections), and clock
  // faults change which node is slow. No pauses: a paused node's clock stops, which no rate bound covers.
  clocks: {
    firstSeed: 6_000_001,
    overrides: {
      readMode: 'lease',
      checkQuorum: true,
      pauseRate: 0,
      clockDrift: 1,
      clockSkewUnitsMax: 50,
      partitionRate: 4,
      transferRate: 1,
      clockFaultRate: 1,
      readShare: 0.8,
      clients: 5,
      clientThinkUnits: 5,
      diskFaultRate: 0,
    },
  },
  // Built to test sick disks (issue 18): disk faults four times as often as crashes, on top of the seed's other
  // faults: stalls past persistStallTicks (the leader must step down), fsyncs that fail (the node crashes, and
  // nothing it failed to sync may count as acknowledged), full disks (DISK_FULL; an ENOSPC crashes the node),
  // and rot at rest on one node (found at its restart, and the node stops for good).
  disks: {
    firstSeed: 7_000_001,
    overrides: { diskFaultRate: 6, crashRate: 1.5, nodeCount: 5, clients: 4 },
  },
};

/** Fresh random seeds start here, past every family's range, so they derive as mixed. */
export const FRESH_SEED_MIN = FAMILY_NAMES.length * SEEDS_PER_FAMILY + 1;

/** The family whose range holds the seed (mixed below 1,000,001 and from FRESH_SEED_MIN on). */
export function familyOfSeed(seed: number): FamilyName {
  for (const name of FAMILY_NAMES) {
    const { firstSeed } = FAMILIES[name];
    if (seed >= firstSeed && seed < firstSeed + SEEDS_PER_FAMILY) return name;
  }
  return 'mixed';
}

/** What one run was asked for: the options follow from these three alone. */
export interface RunRequest {
  readonly seed: number;
  readonly family: FamilyName;
  /** Options pinned on top of the family's. */
  readonly overrides: Overrides;
}

export function optionsOf(request: RunRequest): ScheduleOptions {
  return deriveOptions(request.seed, { ...FAMILIES[request.family].overrides, ...request.overrides });
}

/** The command that replays a run exactly: the family is always named, overrides only when there are any. */
export function replayCommand(request: RunRequest): string {
  let command = `npm run sim -- --seed ${request.seed} --family ${request.family}`;
  if (Object.keys(request.overrides).length > 0) command += ` --override ${shellQuote(JSON.stringify(request.overrides))}`;
  return command;
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

export interface CliRequest {
  /** One seed to replay, or null to run `seeds` fresh ones. */
  readonly seed: number | null;
  readonly seeds: number;
  readonly family: FamilyName | null;
  readonly overrides: Overrides;
  readonly verbose: boolean;
  /** With --seed: write the run as an explorer trace to this file. */
  readonly trace: string | null;
}

/** Parses the simulator's arguments; throws a usage message when they are wrong. */
export function parseCliArgs(args: readonly string[]): CliRequest {
  const { values } = parseArgs({
    args: [...args],
    options: {
      seeds: { type: 'string' },
      seed: { type: 'string' },
      family: { type: 'string' },
      override: { type: 'string' },
      verbose: { type: 'boolean', default: false },
      trace: { type: 'string' },
    },
  });
  const family = values.family ?? null;
  if (family !== null && !isFamilyName(family)) throw new Error(`--family must be one of ${FAMILY_NAMES.join(', ')}, got ${family}`);
  const overrides = values.override === undefined ? {} : parseOverrides(values.override);
  let seed: number | null = null;
  if (values.seed !== undefined) {
    seed = Number(values.seed);
    if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`--seed must be a non-negative integer, got ${values.seed}`);
  }
  const seeds = values.seeds === undefined ? 100 : Number(values.seeds);
  if (!Number.isSafeInteger(seeds) || seeds < 1) throw new Error(`--seeds must be a positive integer, got ${values.seeds}`);
  if (values.trace !== undefined && seed === null) throw new Error('--trace needs --seed: it records one run');
  return { seed, seeds, family, overrides, verbose: values.verbose, trace: values.trace ?? null };
}

function isFamilyName(name: string): name is FamilyName {
  return (FAMILY_NAMES as readonly string[]).includes(name);
}

/** Only known option names, with the type the seed would have given them. */
function parseOverrides(json: string): Overrides {
  const parsed: unknown = JSON.parse(json);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error(`--override must be a JSON object, got ${json}`);
  const template = deriveOptions(0);
  for (const [key, value] of Object.entries(parsed)) {
    if (key === 'seed' || !(key in template)) throw new Error(`--override: unknown option ${key}`);
    if (typeof value !== typeof template[key as keyof ScheduleOptions])
      throw new Error(`--override: ${key} must be a ${typeof template[key as keyof ScheduleOptions]}`);
  }
  return parsed as Overrides;
}

/** The run a replay request names: the family from the flag, or else from the seed's range. */
export function requestOf(cli: CliRequest, seed: number): RunRequest {
  return { seed, family: cli.family ?? familyOfSeed(seed), overrides: cli.overrides };
}
