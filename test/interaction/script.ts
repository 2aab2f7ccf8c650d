// The interaction script format (etcd's datadriven testdata): a file is a sequence of blocks, each a
// command line, a `----` line, and the expected output, ended by a blank line. Lines starting with `#`
// and blank lines between blocks are kept verbatim. Output never contains a blank line.
//
// Commands (one small handler each, in HANDLERS below):
//   add-nodes N [spares=M] [preVote=..] [checkQuorum=..] [electionTicks=..] [readMode=safe|lease] [seed=N] [<any numeric RaftOptions>=..]
//                                       N voters n1..nN, then M spares outside the configuration (for membership changes)
//   campaign n1                         tick n1 until its election timer fires
//   tick n1 [count] / tick-all [count]  logical time; prints role changes
//   propose n1 data...                  one batch; `x1..x30` expands to x1 x2 ... x30
//   read-index n1 ctx / transfer-leadership n1 to=n3
//   add-learner n1 n4 [address=..] / add-voter n1 n4 [address=..] / promote n1 n4 / remove n1 n4
//                                       a membership change proposed to n1 (RaftCore.changeMembership)
//   process-ready [n1 ...]              take ready(), persist at once, apply, queue messages, report persisted()
//   deliver-msgs [n1 ...] [drop=(n2,n3)] [type=AppendRequest]
//   stabilize [n1 ...]                  process-ready + deliver-msgs until nothing changes
//   cut n1 n2 / cut n1,n2 n3,n4,n5 / cut n3 (from everyone) / heal
//   compact n1 index / restart n2
//   status [n1 ...] / log n1 / raft-state / state-machine n1
import assert from 'node:assert/strict';
import { decodeCommand, encodeCommand, InteractionCluster, type CoreOptions, type Delivery } from './harness.js';
import { InvariantError, RAFT_DEFAULTS } from '../../src/raft/index.js';
import { MESSAGE_TYPES } from '../../src/raft/types.js';
import type { Entry, Membership, MembershipChange, Message, MessageType, NodeId, Ready, RefusalReason } from '../../src/raft/index.js';

// ---------------------------------------------------------------------------
// Parsing and rendering.

interface TextSegment {
  readonly kind: 'text';
  readonly line: string;
}

interface BlockSegment {
  readonly kind: 'block';
  readonly lineNumber: number;
  readonly command: string;
  readonly expected: readonly string[];
}

type Segment = TextSegment | BlockSegment;

const SEPARATOR = '----';

function parseScript(text: string): Segment[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const segments: Segment[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] as string;
    if (line.trim() === '' || line.startsWith('#')) {
      segments.push({ kind: 'text', line });
      i++;
      continue;
    }
    if (lines[i + 1] !== SEPARATOR) throw new Error(`line ${i + 2}: expected '${SEPARATOR}' after the command '${line}'`);
    const expected: string[] = [];
    let j = i + 2;
    while (j < lines.length && (lines[j] as string).trim() !== '') expected.push(lines[j++] as string);
    segments.push({ kind: 'block', lineNumber: i + 1, command: line, expected });
    i = j;
  }
  return segments;
}

function renderScript(segments: readonly Segment[], outputs: ReadonlyMap<BlockSegment, readonly string[]>): string {
  const lines: string[] = [];
  for (const segment of segments) {
    if (segment.kind === 'text') {
      lines.push(segment.line);
      continue;
    }
    lines.push(segment.command, SEPARATOR, ...(outputs.get(segment) ?? segment.expected));
  }
  return lines.join('\n') + '\n';
}

/** Runs a script and returns it with every block's expected output replaced by the actual output. */
export function runScript(text: string): string {
  const segments = parseScript(text);
  const context: ScriptContext = { cluster: null };
  const outputs = new Map<BlockSegment, readonly string[]>();
  for (const segment of segments) {
    if (segment.kind !== 'block') continue;
    const output = runCommand(context, segment);
    for (const line of output) assert.ok(line.trim() !== '', `line ${segment.lineNumber}: output must not contain blank lines`);
    outputs.set(segment, output.length > 0 ? output : ['ok']);
  }
  return renderScript(segments, outputs);
}

interface Command {
  readonly name: string;
  readonly positional: readonly string[];
  readonly named: ReadonlyMap<string, string>;
  /** The named arguments a handler has read: any other one is a typo in the script. */
  readonly namedRead: Set<string>;
}

function parseCommand(line: string): Command {
  const [name, ...tokens] = line.trim().split(/\s+/);
  const positional: string[] = [];
  const named = new Map<string, string>();
  for (const token of tokens) {
    const eq = token.indexOf('=');
    if (eq > 0) named.set(token.slice(0, eq), token.slice(eq + 1));
    else positional.push(token);
  }
  return { name: name as string, positional, named, namedRead: new Set() };
}

function namedArg(command: Command, key: string): string | undefined {
  command.namedRead.add(key);
  return command.named.get(key);
}

function runCommand(context: ScriptContext, block: BlockSegment): string[] {
  const command = parseCommand(block.command);
  const handler = HANDLERS[command.name];
  const where = `line ${block.lineNumber}: ${block.command}`;
  if (handler === undefined) throw new Error(`${where}: unknown command '${command.name}'`);
  let output: string[];
  try {
    output = handler(context, command);
  } catch (error) {
    // A crash of the core (a broken invariant) is part of what the script shows; a script mistake is not.
    if (error instanceof InvariantError) return [`error: ${error.message}`];
    throw new Error(`${where}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  const unknown = [...command.named.keys()].filter((key) => !command.namedRead.has(key));
  if (unknown.length > 0) throw new Error(`${where}: unknown argument ${unknown.join(', ')}`);
  return output;
}

// ---------------------------------------------------------------------------
// Formatting.

const ENTRIES_SHOWN_MAX = 6;

function describeEntry(entry: Entry): string {
  const at = `${entry.index}/${entry.term}`;
  switch (entry.type) {
    case 'command':
      return `${at} ${JSON.stringify(decodeCommand(entry.data))}`;
    case 'noop':
      return `${at} noop`;
    case 'config':
      return `${at} config ${describeMembership(entry.membership)}`;
  }
}

/** `voters=(n1,n2)`, then learners and addresses only when there are any. */
function describeMembership(membership: Membership): string {
  let text = `voters=(${membership.voters.join(',')})`;
  if (membership.learners.length > 0) text += ` learners=(${membership.learners.join(',')})`;
  const addresses = Object.entries(membership.addresses ?? {});
  if (addresses.length > 0) text += ` addresses=(${addresses.map(([id, address]) => `${id}=${address}`).join(',')})`;
  return text;
}

/** Long runs are cut in the middle so a 50-entry append stays one readable line. */
function describeEntries(entries: readonly Entry[]): string {
  if (entries.length <= ENTRIES_SHOWN_MAX) return entries.map(describeEntry).join(', ');
  const head = entries.slice(0, 3).map(describeEntry);
  const tail = entries.slice(-2).map(describeEntry);
  return [...head, `...${entries.length - 5} more...`, ...tail].join(', ');
}

function describeMessage(message: Message): string {
  const head = `${message.from}->${message.to} ${message.type}`;
  switch (message.type) {
    case 'VoteRequest':
      return `${head}${message.preVote ? ' pre' : ''} term=${message.term} last=${message.lastLogIndex}/${message.lastLogTerm}${message.transfer ? ' transfer' : ''}`;
    case 'VoteResponse':
      return `${head}${message.preVote ? ' pre' : ''} term=${message.term} ${message.granted ? 'granted' : 'rejected'}`;
    case 'AppendRequest':
      return `${head} term=${message.term} prev=${message.prevLogIndex}/${message.prevLogTerm} entries=[${describeEntries(message.entries)}] commit=${message.leaderCommit} round=${message.round}`;
    case 'AppendResponse':
      return message.success
        ? `${head} term=${message.term} ok match=${message.matchIndex} round=${message.round}`
        : `${head} term=${message.term} reject prev=${message.rejectIndex} hint=${message.conflictIndex}/${message.conflictTerm} round=${message.round}`;
    case 'SnapshotRequest': {
      const end = message.offsetBytes + message.data.byteLength;
      return `${head} term=${message.term} snap=${message.meta.index}/${message.meta.term} bytes=[${message.offsetBytes},${end})/${message.totalBytes}${message.done ? ' done' : ''} round=${message.round}`;
    }
    case 'SnapshotResponse':
      return `${head} term=${message.term} snap=${message.snapshotIndex} received=${message.receivedBytes} ${message.success ? 'ok' : 'fail'}${message.done ? ' done' : ''} round=${message.round}`;
    case 'TimeoutNow':
      return `${head} term=${message.term}`;
  }
}

/** Splits a list into maximal runs of consecutive items with the same key. */
function runsOf<T>(items: readonly T[], key: (item: T) => string): T[][] {
  const runs: T[][] = [];
  let last: string | null = null;
  for (const item of items) {
    const k = key(item);
    const run = runs[runs.length - 1];
    if (run !== undefined && k === last) run.push(item);
    else runs.push([item]);
    last = k;
  }
  return runs;
}

function describeReady(ready: Ready, persisted: { index: number; term: number } | null): string[] {
  const lines: string[] = [];
  if (ready.softState !== null) {
    const s = ready.softState;
    lines.push(`soft: ${s.role} term=${s.term} leader=${s.leaderId ?? 'none'}`);
  }
  if (ready.hardState !== null) {
    const h = ready.hardState;
    lines.push(`hard: term=${h.term} vote=${h.votedFor ?? 'none'} commit=${h.commitIndex}`);
  }
  if (ready.snapshot !== null) {
    const m = ready.snapshot.meta;
    lines.push(`snapshot: ${m.index}/${m.term} ${describeMembership(m.membership)} ${ready.snapshot.data.byteLength} bytes`);
  }
  if (ready.entries.length > 0) lines.push(`entries: ${describeEntries(ready.entries)}`);
  if (persisted !== null) lines.push(`persisted: ${persisted.index}/${persisted.term}`);
  if (ready.committedEntries.length > 0) lines.push(`apply: ${describeEntries(ready.committedEntries)}`);
  for (const read of ready.readStates) lines.push(`read-state: ctx=${read.context} index=${read.index}`);
  for (const message of ready.messages) lines.push(`send: ${describeMessage(message)}`);
  for (const message of ready.messagesAfterPersist) lines.push(`send after persist: ${describeMessage(message)}`);
  return lines.length > 0 ? lines : ['(empty)'];
}

function describeDelivery(delivery: Delivery): string {
  return `${describeMessage(delivery.message)}${delivery.dropped ? ' [dropped: link cut]' : ''}`;
}

function roleLine(cluster: InteractionCluster, id: NodeId): string {
  const s = cluster.node(id).core.status();
  return `${s.role} term=${s.term} leader=${s.leaderId ?? 'none'} commit=${s.commitIndex}`;
}

function indent(lines: readonly string[]): string[] {
  return lines.map((line) => `  ${line}`);
}

// ---------------------------------------------------------------------------
// Handlers.

interface ScriptContext {
  cluster: InteractionCluster | null;
}

type Handler = (context: ScriptContext, command: Command) => string[];

function clusterOf(context: ScriptContext): InteractionCluster {
  if (context.cluster === null) throw new Error('no cluster yet: start with add-nodes');
  return context.cluster;
}

function nodeArg(cluster: InteractionCluster, value: string | undefined): NodeId {
  if (value === undefined) throw new Error('a node id is required');
  cluster.node(value); // throws on an unknown id
  return value;
}

/** The positional node ids, or every node when none is given. */
function nodesArg(cluster: InteractionCluster, values: readonly string[]): NodeId[] {
  return values.length === 0 ? [...cluster.ids] : values.map((v) => nodeArg(cluster, v));
}

function intArg(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new Error(`not an integer: ${value}`);
  return n;
}

/** `(n2,n3)` or `n2` */
function listArg(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .replace(/^\(|\)$/g, '')
    .split(',')
    .filter((v) => v !== '');
}

function booleanArg(key: string, value: string): boolean {
  if (value !== 'true' && value !== 'false') throw new Error(`${key} must be true or false, not ${value}`);
  return value === 'true';
}

function typeArg(value: string | undefined): MessageType | undefined {
  if (value === undefined) return undefined;
  const type = MESSAGE_TYPES.find((t) => t === value);
  if (type === undefined) throw new Error(`unknown message type ${value}`);
  return type;
}

/** `x1..x30` is x1 x2 ... x30; anything else is itself. */
function expandData(tokens: readonly string[]): string[] {
  const out: string[] = [];
  for (const token of tokens) {
    const range = /^([a-z]*)(\d+)\.\.\1(\d+)$/i.exec(token);
    if (range === null) {
      out.push(token);
      continue;
    }
    const [, prefix = '', from = '0', to = '0'] = range;
    for (let i = Number(from); i <= Number(to); i++) out.push(`${prefix}${i}`);
  }
  return out;
}

function refusalLine(result: { ok: false; reason: RefusalReason; leaderId: NodeId | null }): string {
  return `refused: ${result.reason} (leader=${result.leaderId ?? 'none'})`;
}

/** Ticks `ids` `count` times each, node by node, and reports whose role, term or leader changed. */
function tickNodes(cluster: InteractionCluster, ids: readonly NodeId[], count: number): string[] {
  const before = new Map(ids.map((id) => [id, roleLine(cluster, id)]));
  for (let i = 0; i < count; i++) for (const id of ids) cluster.node(id).core.tick();
  const lines: string[] = [];
  for (const id of ids) {
    const after = roleLine(cluster, id);
    if (after !== before.get(id)) lines.push(`${id}: ${before.get(id) ?? ''} -> ${after}`);
  }
  return lines;
}

function processReadyLines(cluster: InteractionCluster, id: NodeId): string[] {
  const { ready, persisted } = cluster.processReady(id);
  return [`> ${id} handling Ready`, ...indent(describeReady(ready, persisted))];
}

const STABILIZE_ROUNDS_MAX = 200;

function describeProgress(cluster: InteractionCluster, leader: NodeId, follower: NodeId): string {
  const p = cluster.node(leader).core.progressOf(follower);
  if (p === undefined) return `${follower}: no progress`;
  const extra =
    p.state === 'snapshot'
      ? ` snapshot=${p.snapshotIndex} offset=${p.snapshotOffsetBytes}`
      : p.state === 'probe'
        ? p.probeSent
          ? ' probe-sent'
          : ''
        : ` inflight=${p.inflightCount}`;
  return `${follower}: match=${p.match} next=${p.next} ${p.state}${extra} acked-round=${p.ackedRound}`;
}

/** `add-learner n1 n4 [address=..]` and the like: one membership change proposed to the first node. */
function changeMembership(context: ScriptContext, command: Command, kind: MembershipChange['kind']): string[] {
  const cluster = clusterOf(context);
  const id = nodeArg(cluster, command.positional[0]);
  const member = command.positional[1];
  if (member === undefined) throw new Error('the member to change is required');
  let change: MembershipChange;
  if (kind === 'add-learner' || kind === 'add-voter') {
    const address = namedArg(command, 'address');
    change = address === undefined ? { kind, id: member } : { kind, id: member, address };
  } else change = { kind, id: member };
  const result = cluster.node(id).core.changeMembership(change);
  return [result.ok ? `ok: ${result.firstIndex}/${result.term}` : refusalLine(result)];
}

const HANDLERS: Readonly<Record<string, Handler>> = {
  'add-nodes': (context, command) => {
    if (context.cluster !== null) throw new Error('add-nodes runs once per script');
    const size = intArg(command.positional[0], 0);
    const options: Record<string, boolean | number | string> = {};
    let seed = 1;
    let spares = 0;
    for (const [key, value] of command.named) {
      command.namedRead.add(key);
      if (key === 'seed') seed = intArg(value, 1);
      else if (key === 'spares') spares = intArg(value, 0);
      else if (!(key in RAFT_DEFAULTS)) throw new Error(`unknown Raft option ${key}`);
      else if (key === 'preVote' || key === 'checkQuorum') options[key] = booleanArg(key, value);
      else if (key === 'readMode')
        options[key] = value; // resolveOptions checks it
      else options[key] = intArg(value, 0);
    }
    // The keys are RaftOptions names (checked above) and resolveOptions validates the values.
    context.cluster = new InteractionCluster(size, seed, options as CoreOptions, spares);
    const o = context.cluster.node('n1').core.options;
    const spareIds = context.cluster.ids.slice(size);
    return [
      `${size} nodes (${context.cluster.ids.slice(0, size).join(' ')}) seed=${seed}${spareIds.length > 0 ? `; spares (${spareIds.join(' ')})` : ''}`,
      `preVote=${o.preVote} checkQuorum=${o.checkQuorum} readMode=${o.readMode} electionTicks=${o.electionTicks} heartbeatTicks=${o.heartbeatTicks}`,
    ];
  },

  campaign: (context, command) => {
    const cluster = clusterOf(context);
    const id = nodeArg(cluster, command.positional[0]);
    const core = cluster.node(id).core;
    if (core.isLeader) throw new Error(`${id} is the leader: its election timer does not run`);
    const before = core.status();
    // Tick until the timer fires, and not a tick more (a second timeout would start a second election).
    for (let ticks = 1; ticks <= 2 * core.options.electionTicks; ticks++) {
      core.tick();
      const after = core.status();
      if (after.role !== before.role || after.term !== before.term) {
        return [`${id}: election timer fired after ${ticks} ticks: ${roleLine(cluster, id)}`];
      }
    }
    throw new Error(`${id} did not campaign within ${2 * core.options.electionTicks} ticks`);
  },

  tick: (context, command) => {
    const cluster = clusterOf(context);
    return tickNodes(cluster, [nodeArg(cluster, command.positional[0])], intArg(command.positional[1], 1));
  },

  'tick-all': (context, command) => {
    const cluster = clusterOf(context);
    return tickNodes(cluster, cluster.ids, intArg(command.positional[0], 1));
  },

  propose: (context, command) => {
    const cluster = clusterOf(context);
    const id = nodeArg(cluster, command.positional[0]);
    const data = expandData(command.positional.slice(1));
    const result = cluster.node(id).core.propose(data.map(encodeCommand));
    if (!result.ok) return [refusalLine(result)];
    const last = result.firstIndex + data.length - 1;
    return [`ok: ${result.firstIndex === last ? result.firstIndex : `${result.firstIndex}..${last}`}/${result.term}`];
  },

  'read-index': (context, command) => {
    const cluster = clusterOf(context);
    const id = nodeArg(cluster, command.positional[0]);
    const result = cluster.node(id).core.readIndex(intArg(command.positional[1], 0));
    return [result.ok ? 'ok' : refusalLine(result)];
  },

  'transfer-leadership': (context, command) => {
    const cluster = clusterOf(context);
    const id = nodeArg(cluster, command.positional[0]);
    const result = cluster.node(id).core.transferLeadership(nodeArg(cluster, namedArg(command, 'to')));
    return [result.ok ? 'ok' : refusalLine(result)];
  },

  'add-learner': (context, command) => changeMembership(context, command, 'add-learner'),
  'add-voter': (context, command) => changeMembership(context, command, 'add-voter'),
  promote: (context, command) => changeMembership(context, command, 'promote'),
  remove: (context, command) => changeMembership(context, command, 'remove'),

  'process-ready': (context, command) => {
    const cluster = clusterOf(context);
    return nodesArg(cluster, command.positional).flatMap((id) => processReadyLines(cluster, id));
  },

  'deliver-msgs': (context, command) => {
    const cluster = clusterOf(context);
    const type = typeArg(namedArg(command, 'type'));
    const dropIds = listArg(namedArg(command, 'drop')).map((v) => nodeArg(cluster, v));
    const lines: string[] = [];
    for (const id of dropIds) lines.push(...cluster.drop(id, type).map((m) => `${describeMessage(m)} [dropped]`));
    const deliverTo = command.positional.length > 0 || dropIds.length === 0 ? nodesArg(cluster, command.positional) : [];
    for (const id of deliverTo) lines.push(...cluster.deliver(id, type).map(describeDelivery));
    return lines.length > 0 ? lines : ['no messages'];
  },

  stabilize: (context, command) => {
    const cluster = clusterOf(context);
    const ids = nodesArg(cluster, command.positional);
    const lines: string[] = [];
    for (let round = 0; ; round++) {
      if (round === STABILIZE_ROUNDS_MAX) throw new Error(`not stable after ${STABILIZE_ROUNDS_MAX} rounds`);
      let busy = false;
      for (const id of ids) {
        if (!cluster.node(id).core.hasReady()) continue;
        lines.push(...processReadyLines(cluster, id));
        busy = true;
      }
      for (const id of ids) {
        if (cluster.inbox(id).length === 0) continue;
        lines.push(`> ${id} receiving messages`, ...indent(cluster.deliver(id).map(describeDelivery)));
        busy = true;
      }
      if (!busy) return lines.length > 0 ? lines : ['nothing to do'];
    }
  },

  cut: (context, command) => {
    const cluster = clusterOf(context);
    const sets = command.positional.map((p) => listArg(p).map((v) => nodeArg(cluster, v)));
    const [left = [], ...rest] = sets;
    // `cut n3` isolates n3; `cut a,b c,d` cuts every link between the two sets.
    const right = rest.length === 0 ? cluster.ids.filter((id) => !left.includes(id)) : rest.flat();
    const cut: string[] = [];
    for (const a of left) {
      for (const b of right) {
        cluster.cut(a, b);
        cut.push(`${a}-${b}`);
      }
    }
    return [`cut ${cut.join(' ')}`];
  },

  heal: (context) => {
    clusterOf(context).heal();
    return ['all links up'];
  },

  compact: (context, command) => {
    const cluster = clusterOf(context);
    const id = nodeArg(cluster, command.positional[0]);
    const snapshot = cluster.compact(id, intArg(command.positional[1], 0));
    const core = cluster.node(id).core;
    return [
      `${id}: snapshot ${snapshot.meta.index}/${snapshot.meta.term} (${snapshot.data.byteLength} bytes); log now ${core.log.firstIndex}..${core.log.lastIndex}`,
    ];
  },

  restart: (context, command) => {
    const cluster = clusterOf(context);
    const id = nodeArg(cluster, command.positional[0]);
    cluster.restart(id);
    const s = cluster.node(id).core.status();
    return [
      `${id} restarted from storage: term=${s.term} vote=${s.votedFor ?? 'none'} commit=${s.commitIndex} snapshot=${s.snapshotIndex} last=${s.lastIndex}/${s.lastTerm}`,
    ];
  },

  status: (context, command) => {
    const cluster = clusterOf(context);
    const lines: string[] = [];
    for (const id of nodesArg(cluster, command.positional)) {
      const core = cluster.node(id).core;
      const s = core.status();
      lines.push(
        `${id}: ${s.role} term=${s.term} vote=${s.votedFor ?? 'none'} leader=${s.leaderId ?? 'none'} ` +
          `commit=${s.commitIndex} applied=${s.appliedIndex} stable=${s.stableIndex} ` +
          `log=${s.firstIndex}..${s.lastIndex} last=${s.lastIndex}/${s.lastTerm} snapshot=${s.snapshotIndex}/${core.log.snapshotTerm} ` +
          `${describeMembership(s.membership)}${s.transferTarget === null ? '' : ` transfer-to=${s.transferTarget}`}`,
      );
      if (s.role !== 'leader') continue;
      for (const other of [...s.membership.voters, ...s.membership.learners]) {
        if (other !== id) lines.push(`  ${describeProgress(cluster, id, other)}`);
      }
    }
    return lines;
  },

  log: (context, command) => {
    const cluster = clusterOf(context);
    const id = nodeArg(cluster, command.positional[0]);
    const core = cluster.node(id).core;
    const commit = core.status().commitIndex;
    const lines: string[] = [];
    if (core.log.snapshotIndex > 0) lines.push(`snapshot ${core.log.snapshotIndex}/${core.log.snapshotTerm}`);
    const entries = core.log.slice(core.log.firstIndex, core.log.lastIndex);
    // One line per entry, except that long runs of one term are cut in the middle.
    for (const run of runsOf(entries, (e) => `${e.term}/${e.index > commit}`)) {
      const shown = run.length <= ENTRIES_SHOWN_MAX ? run : [...run.slice(0, 3), null, ...run.slice(-2)];
      for (const entry of shown) {
        if (entry === null) lines.push(`...${run.length - 5} more...`);
        else lines.push(`${describeEntry(entry)}${entry.index > commit ? ' (uncommitted)' : ''}`);
      }
    }
    return lines.length > 0 ? lines : ['(empty log)'];
  },

  'raft-state': (context) => {
    const cluster = clusterOf(context);
    return cluster.ids.map((id) => `${id}: ${roleLine(cluster, id)}`);
  },

  'state-machine': (context, command) => {
    const cluster = clusterOf(context);
    const id = nodeArg(cluster, command.positional[0]);
    const sm = cluster.node(id).stateMachine;
    return [`${id}: applied=${sm.appliedIndex} [${sm.applied.join(' ')}]`];
  },
};
