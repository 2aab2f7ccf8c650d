// A router in 'probe' discovery finds the leader as an outside client must: it tries the nodes in turn and
// follows the hints of their refusals, skipping a node whose worker is gone, and never asks the supervisor
// who leads (the failover bench relies on it: raftkv's figure then includes finding the new leader).
import { describe, expect, it } from 'vitest';
import type { Supervisor } from '../../src/actor/supervisor.js';
import type { KvCommand } from '../../src/kv/commands.js';
import { ERRORS } from '../../src/protocol/errors.js';
import type { ProposeOutcome } from '../../src/protocol/node.js';
import type { NodeId } from '../../src/raft/types.js';
import { Router } from '../../src/router/router.js';
import type { ClientPortClient } from '../../src/transport/client-port.js';

const put: KvCommand = { op: 'put', key: Buffer.from('k'), value: Buffer.from('v') };

describe("the router's probe discovery", () => {
  it("skips a dead node, follows a follower's hint to the leader, and never reads the supervisor's leader", async () => {
    const asked: NodeId[] = [];
    const answers: Record<NodeId, ProposeOutcome> = {
      n2: { ok: false, code: 'NOT_LEADER', message: ERRORS.NOT_LEADER.message, leaderId: 'n3', definite: true },
      n3: { ok: true, index: 9, results: [[{ ok: true, index: 9 }]] },
    };
    const client = (id: NodeId): ClientPortClient | null => {
      if (id === 'n1') return null; // killed: its worker and client port are gone
      return {
        propose: () => {
          asked.push(id);
          return Promise.resolve(answers[id]);
        },
      } as unknown as ClientPortClient;
    };
    const supervisor = {
      ids: ['n1', 'n2', 'n3'],
      client,
      get leaderId(): never {
        throw new Error('probe discovery must not ask the supervisor who leads');
      },
      stateOf(): never {
        throw new Error('probe discovery must not ask the supervisor for node states');
      },
    } as unknown as Supervisor;
    const router = new Router(supervisor, { retryDelayMs: 1, requestTimeoutMs: 2_000 }, 'probe');
    expect(await router.write(put)).toEqual({ ok: true, result: { ok: true, index: 9 } });
    expect(asked).toEqual(['n2', 'n3']);
    // The lane keeps the leader it found.
    expect(await router.write(put)).toEqual({ ok: true, result: { ok: true, index: 9 } });
    expect(asked).toEqual(['n2', 'n3', 'n3']);
  });
});
