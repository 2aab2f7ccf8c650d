// Every refusal that can reach a client, or an operator, is registered in src/protocol/errors.ts. The rooms
// below the protocol (the core, storage, the KV store, the transport) cannot import the registry, so each
// exports the list of its codes and this test holds them to it; the node and the router use registry codes
// by type. Then the paths that carry a refusal to a client are driven, to see the registered code arrive.
import { describe, expect, it } from 'vitest';
import { KV_RESULT_CODES, type KvCommand } from '../../src/kv/commands.js';
import { KvStateMachine } from '../../src/kv/kv-state-machine.js';
import { RaftNode, type NodeRuntime } from '../../src/node/raft-node.js';
import { ERRORS, isErrorCode } from '../../src/protocol/errors.js';
import {
  CORE_REFUSAL_CODES,
  NODE_REFUSAL_CODES,
  coreRefusalCode,
  type NodeRefusal,
  type ProposeOutcome,
  type RaftNodeLimits,
  type ReadOutcome,
} from '../../src/protocol/node.js';
import type { StateMachine } from '../../src/raft/state-machine.js';
import type { Supervisor } from '../../src/actor/supervisor.js';
import { SeededRandom } from '../../src/raft/random.js';
import { REFUSAL_REASONS } from '../../src/raft/types.js';
import { Router } from '../../src/router/router.js';
import { MemoryStorage } from '../../src/storage/memory-storage.js';
import { STORAGE_ERROR_CODES } from '../../src/storage/errors.js';
import { FrameError } from '../../src/transport/codec.js';
import { TRANSPORT_ERROR_CODES } from '../../src/transport/tcp/errors.js';
import { CounterStateMachine } from '../support/counter-state-machine.js';
import type { ClientPortClient } from '../../src/transport/client-port.js';

describe('every code a room can produce is registered', () => {
  it.each(REFUSAL_REASONS)('core refusal %s maps to a registered node refusal code', (reason) => {
    const code = coreRefusalCode(reason);
    expect(code).toBe(CORE_REFUSAL_CODES[reason]);
    expect(isErrorCode(code)).toBe(true);
    expect(NODE_REFUSAL_CODES).toContain(code);
  });

  it('an unknown core refusal reason is a bug: it throws instead of falling back to some code', () => {
    expect(() => coreRefusalCode('disk-on-fire')).toThrow(/unregistered core refusal reason 'disk-on-fire'/);
    expect(() => coreRefusalCode('toString')).toThrow(/unregistered/); // not fooled by the prototype
  });

  it.each([...NODE_REFUSAL_CODES, ...STORAGE_ERROR_CODES, ...KV_RESULT_CODES, ...TRANSPORT_ERROR_CODES])('%s is registered', (code) => {
    expect(isErrorCode(code)).toBe(true);
  });

  it('the transport refuses malformed frames under a registered code', () => {
    const code = new FrameError('x').code;
    expect(isErrorCode(code)).toBe(true);
  });

  it('a full leader is QUEUE_FULL, retryable, not a leadership error', () => {
    expect(CORE_REFUSAL_CODES['proposal-queue-full']).toBe('QUEUE_FULL');
    expect(CORE_REFUSAL_CODES['read-queue-full']).toBe('QUEUE_FULL');
    expect(ERRORS.QUEUE_FULL).toMatchObject({ definite: true, redis: 'TRYAGAIN', status: 429 });
  });
});

/** A stand-in for one node's client port: each call gets the next scripted outcome, or never answers (null). */
class ScriptedNode {
  calls = 0;
  constructor(private readonly script: (ProposeOutcome | ReadOutcome | null)[]) {}
  private next<T>(): Promise<T> {
    const outcome = this.script[Math.min(this.calls++, this.script.length - 1)] ?? null;
    return outcome === null ? new Promise<T>(() => {}) : Promise.resolve(outcome as T);
  }
  propose(): Promise<ProposeOutcome> {
    return this.next();
  }
  read(): Promise<ReadOutcome> {
    return this.next();
  }
}

function routerOver(node: ScriptedNode, limits: Partial<Router['limits']> = {}): Router {
  const supervisor = {
    ids: ['n1'],
    leaderId: 'n1',
    stateOf: () => 'running',
    client: () => node as unknown as ClientPortClient,
  } as unknown as Supervisor;
  return new Router(supervisor, { retryDelayMs: 1, attemptTimeoutMs: 50, requestTimeoutMs: 2_000, ...limits });
}

const refusal = (code: NodeRefusal['code']): NodeRefusal => ({
  ok: false,
  code,
  message: ERRORS[code].message,
  leaderId: 'n1',
  definite: true,
});
const put: KvCommand = { op: 'put', key: Buffer.from('k'), value: Buffer.from('v') };

describe('the router passes on what a retry cannot cure, under its registered code', () => {
  it('a write refused with QUEUE_FULL is answered QUEUE_FULL at once, not NO_LEADER after the retries', async () => {
    const node = new ScriptedNode([refusal('QUEUE_FULL')]);
    const result = await routerOver(node).write(put);
    expect(result).toMatchObject({ ok: false, error: { code: 'QUEUE_FULL' } });
    expect(node.calls).toBe(1);
  });

  it('a read refused with QUEUE_FULL is answered QUEUE_FULL', async () => {
    const node = new ScriptedNode([refusal('QUEUE_FULL')]);
    expect(await routerOver(node).read({ op: 'get', keys: [Buffer.from('k')] })).toMatchObject({
      ok: false,
      error: { code: 'QUEUE_FULL' },
    });
  });

  it('a proposal too large for the leader is PROPOSAL_TOO_LARGE', async () => {
    const node = new ScriptedNode([refusal('PROPOSAL_TOO_LARGE')]);
    expect(await routerOver(node).write(put)).toMatchObject({ ok: false, error: { code: 'PROPOSAL_TOO_LARGE' } });
  });

  it('once an attempt may have been appended, a later QUEUE_FULL does not claim the write surely failed', async () => {
    // The first attempt gets no answer (it may have been appended), then the leader is full until the deadline.
    const node = new ScriptedNode([null, refusal('QUEUE_FULL')]);
    const result = await routerOver(node, { requestTimeoutMs: 300 }).write(put);
    expect(result).toMatchObject({ ok: false, error: { code: 'TIMEOUT' } });
    expect(ERRORS.TIMEOUT.definite).toBe(false);
    expect(node.calls).toBeGreaterThan(1);
  });

  it('leadership refusals are retried: NOT_LEADER then success answers the write', async () => {
    const node = new ScriptedNode([refusal('NOT_LEADER'), { ok: true, index: 7, results: [[{ ok: true, index: 7 }]] }]);
    expect(await routerOver(node).write(put)).toEqual({ ok: true, result: { ok: true, index: 7 } });
  });
});

/** One single-voter node whose turns run by hand: `run()` runs what is queued, turn by turn. */
function manualNode(limits: Partial<RaftNodeLimits>, stateMachine: StateMachine): { node: RaftNode; run: () => void } {
  const tasks: (() => void)[] = [];
  const runtime: NodeRuntime = { schedule: (task) => void tasks.push(task), sync: (_storage, done) => void tasks.push(() => done(null)) };
  const node = new RaftNode(
    { core: { id: 'n1', random: new SeededRandom(1), electionTicks: 3, heartbeatTicks: 1 }, limits },
    new MemoryStorage({ voters: ['n1'], learners: [] }),
    stateMachine,
    { send: () => {}, flush: () => {}, emit: () => {} },
    runtime,
  );
  const run = (): void => {
    for (let turns = 0; turns < 1000 && tasks.length > 0; turns++) (tasks.shift() as () => void)();
  };
  return { node, run };
}

describe('a paused node holds at most pausedCallsMax client calls', () => {
  it('refuses the next with NODE_PAUSED_BACKLOG, counts it, and runs the held ones on resume', () => {
    const { node, run } = manualNode({ pausedCallsMax: 2 }, new KvStateMachine());
    node.pause();
    const outcomes: ReadOutcome[] = [];
    for (let i = 0; i < 3; i++) node.query({ op: 'size' }, (outcome) => void outcomes.push(outcome));
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({ ok: false, code: 'NODE_PAUSED_BACKLOG', definite: true });
    expect(node.status().pausedCallsRefused).toBe(1);
    node.resume();
    // The two held reads now run: a lone node that has not yet won an election refuses them as not leader.
    run();
    expect(outcomes).toHaveLength(3);
    expect(outcomes.slice(1).map((o) => (o.ok ? 'ok' : o.code))).toEqual(['NOT_LEADER', 'NOT_LEADER']);
  });
});

describe('a node bounds what it accepts between two turns (one WAL record): proposedBytesPerTurnMax', () => {
  it('refuses beyond it with QUEUE_FULL, a single larger proposal with PROPOSAL_TOO_LARGE, and takes more after a turn', () => {
    const { node, run } = manualNode({ proposedBytesPerTurnMax: 100 }, new CounterStateMachine());
    for (let i = 0; i < 20 && node.status().role !== 'leader'; i++) {
      node.tick();
      run();
    }
    expect(node.status().role).toBe('leader');
    const outcomes: ProposeOutcome[] = [];
    const command = (bytes: number): Uint8Array => new Uint8Array(bytes);
    node.submit([command(60)], (outcome) => void outcomes.push(outcome));
    node.submit([command(60)], (outcome) => void outcomes.push(outcome));
    node.submit([command(150)], (outcome) => void outcomes.push(outcome));
    expect(outcomes.map((o) => (o.ok ? 'ok' : o.code))).toEqual(['QUEUE_FULL', 'PROPOSAL_TOO_LARGE']);
    run(); // the first proposal goes into a Ready (and, alone in its cluster, commits): room again
    node.submit([command(60)], (outcome) => void outcomes.push(outcome));
    run();
    expect(outcomes.map((o) => (o.ok ? 'ok' : o.code))).toEqual(['QUEUE_FULL', 'PROPOSAL_TOO_LARGE', 'ok', 'ok']);
  });
});
