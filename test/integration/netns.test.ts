// Issue 16: five `raftkv node` processes on five "hosts" (Linux network namespaces) form a cluster, survive the
// kill and the partition of any two, grow to six with a learner and shrink back, with every history
// linearizable. Needs root, iproute2 and nftables; it fails (never skips) without them.
//
// Topology (one /24 of 10.231.0.0/16 picked from the pid, here written 10.231.X):
//
//   root namespace (this test process: its clients, `raftkv member` run in-process)
//     bridge rkvbr<pid%100000> 10.231.X.254/24
//       ├── veth rkv<pid>h1 ══ eth0 10.231.X.1  namespace rkv<pid>-n1: raftkv node n1
//       ├── veth rkv<pid>h2 ══ eth0 10.231.X.2  namespace rkv<pid>-n2: raftkv node n2
//       ├── ...                                  ... n3, n4, n5
//       └── veth rkv<pid>h6 ══ eth0 10.231.X.6  namespace rkv<pid>-n6: raftkv node n6 (the learner, phase d)
//
// Every node listens on its own address: peers on :7001 (authenticated by a pre-shared key file: plaintext
// peer links are refused off loopback), HTTP on :8080 (with an admin token: required off loopback), the Redis
// protocol on :6380. The test reaches the nodes through the bridge's address. Faults: `kill -9` of a node's
// process (restarted on the same data); a partition by bringing two hosts' veths down on the bridge side (they hear nobody); a partition by
// nft drop rules inside two namespaces against the other three's addresses (the test still reaches them).
// Everything is torn down in afterAll (test/support/netns.ts), on failure too: processes, namespaces, bridge.
//
// Each phase runs its own register workload (a few clients in this process doing reads, writes and CASes on
// the phase's own keys through random serving members, every value unique), ends with a linearizable read of
// every key, and checks the phase's history with the linearizability checker and for lost acknowledged writes.
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { checkHistorySync } from '../../src/chaos/checker/check.js';
import { HistoryRecorder, type Operation } from '../../src/chaos/checker/history.js';
import { registerModel } from '../../src/chaos/checker/models.js';
import { KvHttpClient } from '../../src/chaos/clients.js';
import { runMemberCommand } from '../../src/cli/member-command.js';
import { NetnsLab, netnsProblem } from '../support/netns.js';
import { waitFor } from './cluster-harness.js';

const ENTRY = path.resolve('src/cli/run.ts');
const PEER_PORT = 7001;
const HTTP_PORT = 8080;
const RESP_PORT = 6380;
const ADMIN_TOKEN = 'netns-test-admin-token';
const WAIT_MS = 60_000;
/** The first start of five members at once. */
const START_WAIT_MS = 90_000;
const CLIENTS = 4;
const KEYS = 3;
/** A client's pause between two operations: at most 4 × 25 operations a second in all. */
const CLIENT_PAUSE_MS = 40;
const REQUEST_TIMEOUT_MS = 3_000;
const STATUS_TIMEOUT_MS = 5_000;
const PROMOTE_RETRY_MS = 200;
const FIRST_FIVE = ['n1', 'n2', 'n3', 'n4', 'n5'] as const;

interface Member {
  readonly id: string;
  readonly address: string;
  readonly child: ChildProcess;
  output: string;
  http: string | null;
  readonly exited: Promise<void>;
}

let lab: NetnsLab | null = null;
let dataDir = '';
let keyFile = '';
const members = new Map<string, Member>();
/** The members the workload's clients talk to: alive and on the majority side. */
const serving = new Set<string>();
let workload: RegisterWorkload | null = null;

function member(id: string): Member {
  const found = members.get(id);
  if (found === undefined) throw new Error(`no member ${id}`);
  return found;
}

function peersOf(ids: readonly string[]): string {
  return ids.map((id) => `${id}=${(lab as NetnsLab).host(id).address}:${PEER_PORT}`).join(',');
}

function startMember(id: string, peerIds: readonly string[], extra: readonly string[] = []): Member {
  const host = (lab as NetnsLab).host(id);
  const child = (lab as NetnsLab).spawn(
    id,
    process.execPath,
    [
      '--import',
      'tsx',
      ENTRY,
      'node',
      '--id',
      id,
      '--peers',
      peersOf(peerIds),
      '--data-dir',
      dataDir,
      '--host',
      host.address,
      '--http-port',
      String(HTTP_PORT),
      '--resp-port',
      String(RESP_PORT),
      '--admin-token',
      ADMIN_TOKEN,
      '--peer-key-file',
      keyFile,
      ...extra,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: process.cwd() },
  );
  const started: Member = {
    id,
    address: host.address,
    child,
    output: '',
    http: null,
    exited: new Promise((resolve) => child.once('exit', () => resolve())),
  };
  const take = (chunk: Buffer): void => {
    started.output += chunk.toString();
    started.http ??= /^HTTP API: (http:\/\/\S+)$/m.exec(started.output)?.[1] ?? null;
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  members.set(id, started);
  return started;
}

async function killMember(id: string): Promise<void> {
  const victim = member(id);
  if (victim.child.exitCode === null && victim.child.signalCode === null) victim.child.kill('SIGKILL');
  await victim.exited;
}

async function getJson<T>(url: string): Promise<T | null> {
  try {
    // A member's status asks every other member for theirs, waiting up to 2 s for each that is down or cut off.
    const response = await fetch(url, { signal: AbortSignal.timeout(STATUS_TIMEOUT_MS) });
    return response.ok ? ((await response.json()) as T) : null;
  } catch {
    return null;
  }
}

interface StatusView {
  readonly leader: string | null;
  readonly nodes: readonly { readonly id: string; readonly commitIndex: number | null; readonly appliedIndex: number | null }[];
}

interface MembersView {
  readonly leader: string | null;
  readonly members: readonly { readonly id: string; readonly role: string; readonly address: string | null }[];
}

const statusOf = (id: string): Promise<StatusView | null> => getJson<StatusView>(`http://${member(id).address}:${HTTP_PORT}/v1/status`);

/** The leader every one of `ids` names (and which is one of them), or null. */
async function agreedLeader(ids: readonly string[]): Promise<string | null> {
  const views = await Promise.all(
    ids.map((id) => getJson<{ leader: string | null }>(`http://${member(id).address}:${HTTP_PORT}/v1/cluster`)),
  );
  const leaders = new Set(views.map((view) => view?.leader ?? null));
  const [leader] = [...leaders];
  return leaders.size === 1 && leader != null && ids.includes(leader) ? leader : null;
}

async function waitForLeader(ids: readonly string[], what = `one leader seen by ${ids.join(', ')}`): Promise<string> {
  return waitFor(what, () => agreedLeader(ids), WAIT_MS);
}

/** Waits until each of `ids` has applied everything the leader had committed when this was called. */
async function waitCaughtUp(ids: readonly string[], leader: string): Promise<void> {
  const target = await waitFor(
    `${leader}'s commit index`,
    async () => (await statusOf(leader))?.nodes.find((node) => node.id === leader)?.commitIndex ?? null,
    WAIT_MS,
  );
  for (const id of ids) {
    await waitFor(
      `${id} to apply up to index ${target}`,
      async () => {
        const applied = (await statusOf(id))?.nodes.find((node) => node.id === id)?.appliedIndex ?? null;
        return applied !== null && applied >= target;
      },
      WAIT_MS,
    );
  }
}

/**
 * Runs `raftkv member ...` against `endpointId`'s HTTP API from the root namespace: the command's own code, in this
 * process (test/integration/node-command.test.ts spawns it; here a spawn would cost seconds per promote attempt).
 */
async function memberCli(endpointId: string, args: readonly string[]): Promise<{ code: number; output: string }> {
  const lines: string[] = [];
  const endpoint = `http://${member(endpointId).address}:${HTTP_PORT}`;
  const code = await runMemberCommand([...args, '--endpoint', endpoint, '--admin-token', ADMIN_TOKEN], (line) => lines.push(line));
  return { code, output: lines.join('\n') };
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T;

/**
 * A register workload against the serving members, recorded as the chaos runner's register workload records
 * (src/chaos/workloads.ts): a definite error is `fail`, a timeout or an indefinite error `info`; a CAS is a PUT
 * with ifIndex, the index under which the client last saw the key's value (values are unique, so an index names
 * a value).
 */
class RegisterWorkload {
  readonly recorder = new HistoryRecorder();
  private readonly clients = new Map<string, KvHttpClient>();
  private readonly okWriteTimes: number[] = [];
  private stopped = false;
  private readonly running: Promise<void>;

  constructor(private readonly prefix: string) {
    this.running = Promise.all(Array.from({ length: CLIENTS }, (_, process) => this.loop(process))).then(() => undefined);
  }

  key(k: number): string {
    return `${this.prefix}-r${k}`;
  }

  /** Writes and CASes acknowledged among those invoked at or after `since` (performance.now()). */
  okWritesSince(since: number): number {
    return this.okWriteTimes.filter((time) => time >= since).length;
  }

  async waitForWrites(count: number, what: string): Promise<void> {
    const since = performance.now();
    await waitFor(`${count} acknowledged writes ${what}`, () => this.okWritesSince(since) >= count, WAIT_MS);
  }

  private client(process: number, id: string): KvHttpClient {
    const name = `${process}/${id}`;
    let client = this.clients.get(name);
    if (client === undefined) {
      client = new KvHttpClient(HTTP_PORT, member(id).address, REQUEST_TIMEOUT_MS);
      this.clients.set(name, client);
    }
    return client;
  }

  private async loop(process: number): Promise<void> {
    const seen = new Map<string, { value: string | null; index: number }>();
    let seq = 0;
    while (!this.stopped) {
      const targets = [...serving];
      if (targets.length > 0) {
        const http = this.client(process, pick(targets));
        const key = this.key(Math.floor(Math.random() * KEYS));
        const keyPath = `/v1/kv/${key}`;
        const roll = Math.random();
        if (roll < 0.4) {
          const op = this.recorder.invoke({ process, f: 'read', key, input: null });
          const outcome = await http.request('GET', keyPath);
          if (outcome.status !== 'ok') this.recorder.complete(op, { status: outcome.status });
          else {
            const found = outcome.value.status === 200;
            const value = found ? String(outcome.value.json.value) : null;
            seen.set(key, { value, index: found ? Number(outcome.value.json.index) : 0 });
            this.recorder.complete(op, { status: 'ok', output: value });
          }
        } else {
          const value = `${process}.${++seq}`;
          const cas = roll >= 0.8;
          const before = seen.get(key) ?? { value: null, index: 0 };
          const invokedAt = performance.now();
          const op = cas
            ? this.recorder.invoke({ process, f: 'cas', key, input: [before.value, value] })
            : this.recorder.invoke({ process, f: 'write', key, input: value });
          const outcome = await http.request('PUT', cas ? `${keyPath}?ifIndex=${before.index}` : keyPath, value);
          if (outcome.status === 'ok') {
            seen.set(key, { value, index: Number(outcome.value.json.index) });
            this.okWriteTimes.push(invokedAt);
            this.recorder.complete(op, { status: 'ok' });
          } else this.recorder.complete(op, cas ? { status: outcome.status, output: outcome.code } : { status: outcome.status });
        }
      }
      await new Promise((resolve) => setTimeout(resolve, CLIENT_PAUSE_MS));
    }
  }

  /** Stops the clients (each finishes its operation), then reads every key linearizably through a serving member. */
  async finish(): Promise<{ history: Operation[]; finals: Map<string, string | null> }> {
    this.stopped = true;
    await this.running;
    const finals = new Map<string, string | null>();
    for (let k = 0; k < KEYS; k++) {
      const key = this.key(k);
      const op = this.recorder.invoke({ process: CLIENTS, f: 'read', key, input: null });
      const value = await waitFor(
        `a final read of ${key}`,
        async () => {
          const outcome = await this.client(CLIENTS, pick([...serving])).request('GET', `/v1/kv/${key}`);
          if (outcome.status !== 'ok') return null;
          return { value: outcome.value.status === 200 ? String(outcome.value.json.value) : null };
        },
        WAIT_MS,
      );
      this.recorder.complete(op, { status: 'ok', output: value.value });
      finals.set(key, value.value);
    }
    for (const client of this.clients.values()) client.close();
    return { history: this.recorder.operations(), finals };
  }

  /** Stops without reading back (a failed test's teardown). */
  async abandon(): Promise<void> {
    this.stopped = true;
    await this.running;
    for (const client of this.clients.values()) client.close();
  }
}

/**
 * Acknowledged writes that are gone: per key, an `ok` write that is not the one the final read saw and was
 * invoked after that one had completed (so it came later in real time and should have overwritten it), or any
 * `ok` write when the final read found nothing.
 */
function lostWrites(history: readonly Operation[], finals: ReadonlyMap<string, string | null>): string[] {
  const lost: string[] = [];
  for (const [key, final] of finals) {
    const writes = history.filter((op) => op.key === key && (op.f === 'write' || op.f === 'cas') && op.status !== 'fail');
    const written = (op: Operation): string => (op.f === 'cas' ? ((op.input as readonly string[])[1] as string) : (op.input as string));
    const source = writes.find((op) => written(op) === final);
    for (const op of writes.filter((candidate) => candidate.status === 'ok')) {
      if (source === undefined) lost.push(`${key}: ${written(op)} acknowledged, final read ${String(final)}`);
      else if (op !== source && op.invokeTime > source.completeTime)
        lost.push(`${key}: ${written(op)} acknowledged after ${written(source)}, which the final read saw`);
    }
  }
  return lost;
}

/** Ends the phase's workload and checks its history. */
async function endPhase(): Promise<void> {
  const current = workload as RegisterWorkload;
  workload = null;
  const { history, finals } = await current.finish();
  const acknowledged = history.filter((op) => op.status === 'ok' && op.f !== 'read').length;
  expect(acknowledged, 'acknowledged writes in the phase').toBeGreaterThan(0);
  expect(lostWrites(history, finals)).toEqual([]);
  const result = checkHistorySync(history, registerModel, { partitioned: true, timeLimitMs: 30_000 });
  expect(result.verdict, result.explanation).toBe('ok');
}

/** The end of every member's output, for a failure's message. */
function membersOutput(): string {
  return [...members.values()]
    .map((m) => `--- ${m.id} (exit ${m.child.exitCode ?? m.child.signalCode ?? 'running'}):\n${m.output.split('\n').slice(-25).join('\n')}`)
    .join('\n');
}

beforeAll(async () => {
  const problem = netnsProblem();
  if (problem !== null) throw new Error(problem);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftkv-netns-'));
  keyFile = path.join(dataDir, 'peer.key');
  fs.writeFileSync(keyFile, `netns-${process.pid}-${Date.now()}-pre-shared-key\n`, { mode: 0o600 });
  lab = new NetnsLab();
  await lab.start();
  for (const [i, id] of FIRST_FIVE.entries()) await lab.addHost(id, i + 1);
  for (const id of FIRST_FIVE) startMember(id, FIRST_FIVE);
  // Five processes loading TypeScript at once: the one wait here a little longer than the others.
  await Promise.all(FIRST_FIVE.map((id) => waitFor(`${id} serving HTTP`, () => member(id).http, START_WAIT_MS))).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}\n${membersOutput()}`);
  });
  for (const id of FIRST_FIVE) serving.add(id);
}, START_WAIT_MS + 30_000);

afterAll(async () => {
  await workload?.abandon();
  const problems = (await lab?.destroy()) ?? [];
  if (dataDir !== '') fs.rmSync(dataDir, { recursive: true, force: true });
  expect(problems, 'what the lab could not remove').toEqual([]);
}, 60_000);

beforeEach(({ onTestFailed }) => {
  onTestFailed(() => console.error(membersOutput()));
});

describe('raftkv node on five hosts (network namespaces)', () => {
  it('a. five nodes form one cluster: one leader seen by all, serving a linearizable register', async () => {
    workload = new RegisterWorkload('a');
    await waitForLeader(FIRST_FIVE);
    await workload.waitForWrites(30, 'on five hosts');
    await endPhase();
  });

  it('b. survives kill -9 of two nodes (the leader among them); they restart from their data and catch up', async () => {
    workload = new RegisterWorkload('b');
    const leader = await waitForLeader(FIRST_FIVE);
    const follower = FIRST_FIVE.find((id) => id !== leader) as string;
    await workload.waitForWrites(10, 'before the kill');
    serving.delete(leader);
    serving.delete(follower);
    await Promise.all([killMember(leader), killMember(follower)]);
    const survivors = FIRST_FIVE.filter((id) => id !== leader && id !== follower);
    const next = await waitForLeader(survivors, 'a new leader among the three survivors');
    expect(next).not.toBe(leader);
    await workload.waitForWrites(20, 'with two hosts dead');
    for (const id of [leader, follower]) startMember(id, FIRST_FIVE);
    for (const id of [leader, follower]) await waitFor(`${id} serving HTTP again`, () => member(id).http, WAIT_MS);
    const now = await waitForLeader(FIRST_FIVE);
    await waitCaughtUp([leader, follower], now);
    serving.add(leader);
    serving.add(follower);
    await workload.waitForWrites(10, 'with all five back');
    await endPhase();
  });

  it('c1. a partition of two (the leader among them) by their veths going down: the three serve; healed, the two catch up', async () => {
    workload = new RegisterWorkload('c1');
    const l = lab as NetnsLab;
    const leader = await waitForLeader(FIRST_FIVE);
    const follower = FIRST_FIVE.find((id) => id !== leader) as string;
    const majority = FIRST_FIVE.filter((id) => id !== leader && id !== follower);
    await workload.waitForWrites(10, 'before the partition');
    serving.delete(leader);
    serving.delete(follower);
    try {
      await l.linkDown(leader);
      await l.linkDown(follower);
      const next = await waitForLeader(majority, 'a leader on the majority side');
      expect(majority).toContain(next);
      await workload.waitForWrites(20, 'on the majority side');
    } finally {
      await l.linkUp(leader);
      await l.linkUp(follower);
    }
    const healed = await waitForLeader(FIRST_FIVE, 'one leader seen by all five after healing');
    await waitCaughtUp([leader, follower], healed);
    serving.add(leader);
    serving.add(follower);
    await workload.waitForWrites(10, 'after healing');
    await endPhase();
  });

  it('c2. a partition of two followers by nft drop rules in their namespaces: the three serve; healed, the two catch up', async () => {
    workload = new RegisterWorkload('c2');
    const l = lab as NetnsLab;
    const leader = await waitForLeader(FIRST_FIVE);
    const minority = FIRST_FIVE.filter((id) => id !== leader).slice(0, 2);
    const majority = FIRST_FIVE.filter((id) => !minority.includes(id));
    await workload.waitForWrites(10, 'before the partition');
    for (const id of minority) serving.delete(id);
    for (const id of minority)
      await l.block(
        id,
        majority.map((other) => l.host(other).address),
      );
    await workload.waitForWrites(20, 'on the majority side');
    expect(majority).toContain(await waitForLeader(majority, 'a leader on the majority side'));
    for (const id of minority) await l.unblock(id);
    const healed = await waitForLeader(FIRST_FIVE, 'one leader seen by all five after healing');
    await waitCaughtUp(minority, healed);
    for (const id of minority) serving.add(id);
    await workload.waitForWrites(10, 'after healing');
    await endPhase();
  });

  it('d. grows to six with a learner on a sixth host, promotes it once caught up, and shrinks back to five', async () => {
    workload = new RegisterWorkload('d');
    const l = lab as NetnsLab;
    const six = [...FIRST_FIVE, 'n6'];
    const n6 = await l.addHost('n6', 6);
    const added = await memberCli('n1', ['add', 'n6', '--learner', '--address', `${n6.address}:${PEER_PORT}`]);
    expect(added.code, added.output).toBe(0);
    const clusterId = /--cluster-id (\S+)/.exec(added.output)?.[1] as string;
    expect(clusterId).toMatch(/^[0-9a-f]{16}$/);
    startMember('n6', six, ['--join', '--cluster-id', clusterId]);
    await waitFor('n6 serving HTTP', () => member('n6').http, WAIT_MS);
    await waitCaughtUp(['n6'], await waitForLeader(FIRST_FIVE));
    await waitFor(
      'n6 promoted once caught up',
      async () => {
        if ((await memberCli('n1', ['promote', 'n6'])).code === 0) return true;
        await new Promise((resolve) => setTimeout(resolve, PROMOTE_RETRY_MS)); // LEARNER_NOT_CAUGHT_UP: not yet
        return null;
      },
      WAIT_MS,
    );
    const grown = await getJson<MembersView>(`http://${member('n2').address}:${HTTP_PORT}/v1/members`);
    expect(grown?.members.map((m) => [m.id, m.role])).toEqual(six.map((id) => [id, 'voter']));
    expect(grown?.members.find((m) => m.id === 'n6')?.address).toBe(`${n6.address}:${PEER_PORT}`);
    serving.add('n6');
    await waitForLeader(six);
    await workload.waitForWrites(20, 'on six hosts');
    serving.delete('n6');
    const removed = await memberCli('n1', ['remove', 'n6']);
    expect(removed.code, removed.output).toBe(0);
    await killMember('n6');
    const shrunk = await getJson<MembersView>(`http://${member('n3').address}:${HTTP_PORT}/v1/members`);
    expect(shrunk?.members.map((m) => [m.id, m.role])).toEqual(FIRST_FIVE.map((id) => [id, 'voter']));
    await waitForLeader(FIRST_FIVE);
    await workload.waitForWrites(10, 'back on five hosts');
    await endPhase();
  });
});
