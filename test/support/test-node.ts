// Spawns nodes through test/support/test-node.worker.ts (see there): Supervisor's `worker` option.
import type { WorkerEntry } from '../../src/actor/supervisor.js';
import type { NodeId } from '../../src/raft/types.js';

/** The extra workerData the test worker reads. */
export interface TestNodeData {
  readonly testStateMachine: 'kv' | 'counter';
  /** The worker throws this at start, to exercise the restart policy; null: start normally. */
  readonly testCrashOnStart: string | null;
}

export interface TestNodeHooks {
  readonly stateMachine: 'kv' | 'counter';
  /** Nodes whose next starts throw, with the reason; change it at any time. */
  readonly crashOnStart: Map<NodeId, string>;
}

export function testNodeWorker(hooks: TestNodeHooks): WorkerEntry {
  return {
    module: new URL('./test-node.worker.ts', import.meta.url),
    data: (id): TestNodeData => ({ testStateMachine: hooks.stateMachine, testCrashOnStart: hooks.crashOnStart.get(id) ?? null }),
  };
}
