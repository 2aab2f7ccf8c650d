// A failed fsync is never retried as if the data were safe (issue 18, item 1; PostgreSQL's "fsyncgate"): the
// page cache may already have dropped the dirty pages, so a second fsync that succeeds proves nothing. The node
// crashes at its next turn instead (the supervisor restarts it from what is on disk), and nothing whose sync
// failed is acknowledged, even though the next sync would succeed.
import { describe, expect, it } from 'vitest';
import { RaftNode, type NodeRuntime } from '../../src/node/raft-node.js';
import type { ProposeOutcome } from '../../src/protocol/node.js';
import { SeededRandom } from '../../src/raft/random.js';
import { MemoryStorage } from '../../src/storage/memory-storage.js';
import { CounterStateMachine } from '../support/counter-state-machine.js';

/** A single-voter node whose turns and syncs run by hand; `failNextSync` makes the next sync report EIO once. */
function nodeWithFailingDisk(): { node: RaftNode; run: () => void; failNextSync: () => void; syncs: () => number } {
  const tasks: (() => void)[] = [];
  let failNext = false;
  let syncs = 0;
  const runtime: NodeRuntime = {
    schedule: (task) => void tasks.push(task),
    sync: (_storage, done) => {
      syncs++;
      const error = failNext ? Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }) : null;
      failNext = false;
      tasks.push(() => done(error));
    },
  };
  const node = new RaftNode(
    { core: { id: 'n1', random: new SeededRandom(7), electionTicks: 3, heartbeatTicks: 1 }, limits: {} },
    new MemoryStorage({ voters: ['n1'], learners: [] }),
    new CounterStateMachine(),
    { send: () => {}, flush: () => {}, emit: () => {} },
    runtime,
  );
  const run = (): void => {
    for (let turns = 0; turns < 1000 && tasks.length > 0; turns++) (tasks.shift() as () => void)();
  };
  return { node, run, failNextSync: () => void (failNext = true), syncs: () => syncs };
}

describe('a failed fsync', () => {
  it('crashes the node at its next turn and acknowledges nothing whose sync failed, though the next sync would succeed', () => {
    const { node, run, failNextSync, syncs } = nodeWithFailingDisk();
    for (let i = 0; i < 20 && node.status().role !== 'leader'; i++) {
      node.tick();
      run();
    }
    expect(node.status().role).toBe('leader');
    const outcomes: ProposeOutcome[] = [];
    node.submit([new Uint8Array([1])], (outcome) => void outcomes.push(outcome));
    run();
    expect(outcomes).toMatchObject([{ ok: true }]);
    // The disk fails the next sync once; every later sync would succeed.
    failNextSync();
    const before = syncs();
    node.submit([new Uint8Array([2])], (outcome) => void outcomes.push(outcome));
    expect(run).toThrow(/EIO/);
    expect(syncs()).toBe(before + 1);
    // Nothing more was acknowledged, and the node stays down: every later turn throws the same error, so no retry
    // of the sync can turn the lost write into an acknowledged one.
    expect(outcomes).toHaveLength(1);
    node.tick();
    expect(run).toThrow(/EIO/);
    expect(outcomes).toHaveLength(1);
    expect(node.status().commitIndex).toBeLessThan(node.status().lastIndex);
  });
});
