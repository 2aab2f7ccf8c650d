import type { MessagePort } from 'node:worker_threads';
import type { NodeEvent, NodeRefusal, NodeStatus, ProposeOutcome, RaftNodeLimits, ReadOutcome } from '../node/raft-node.js';
import type { RaftOptions } from '../raft/config.js';
import type { NodeId } from '../raft/types.js';
import type { LinkFaults } from '../transport/link-faults.js';

/** The tunables of the core that cross to a worker (plain data: no PRNG object). */
export type CoreSettings = Partial<Omit<RaftOptions, 'id' | 'random'>>;

/** The typed start-up message of a node worker (its workerData). The ports are transferred. */
export interface NodeStartup {
  readonly id: NodeId;
  readonly voters: readonly NodeId[];
  readonly dataDir: string;
  /** False for --memory clusters: files in /dev/shm, no fsync. */
  readonly durable: boolean;
  /** Writes stay in the worker until synced, so a kill loses them (chaos: loss of unsynced writes). */
  readonly bufferUnsynced: boolean;
  readonly tickMs: number;
  readonly core: CoreSettings;
  readonly limits: Partial<RaftNodeLimits>;
  /** One MessagePort per running peer: the data plane. */
  readonly peers: Readonly<Record<NodeId, MessagePort>>;
  /** The control plane (comlink). */
  readonly control: MessagePort;
  /** The client data plane: the router's numbered, batched requests (src/transport/client-port.ts). */
  readonly client: MessagePort;
  readonly faults: Readonly<Record<NodeId, LinkFaults>>;
  /** What the nodes replicate: the KV store, or a bare command counter (actor tests and benchmarks). */
  readonly stateMachine: 'kv' | 'counter';
  /** Test hook: the node throws this at start, to exercise the restart policy. */
  readonly crashOnStart: string | null;
}

/** Messages a node worker posts on its parentPort. */
export type WorkerReport =
  | { readonly type: 'ready' }
  | { readonly type: 'event'; readonly event: NodeEvent }
  | { readonly type: 'start-failed'; readonly code: string; readonly message: string };

/** The control plane of one node, called through comlink. */
export interface NodeControl {
  status(): NodeStatus;
  propose(commands: Uint8Array[]): Promise<ProposeOutcome>;
  read(query: unknown): Promise<ReadOutcome>;
  readStale(query: unknown): ReadOutcome;
  transferLeadership(to: NodeId): { ok: true } | NodeRefusal;
  pause(): void;
  resume(): void;
  setLinkFaults(peer: NodeId, faults: LinkFaults): void;
  connectPeer(peer: NodeId, port: MessagePort): void;
  snapshotNow(): number;
  /** Test hook: an uncaught exception in the node's event loop. */
  crash(reason: string): void;
  /** Clean stop: sync and close the log. */
  shutdown(): void;
}
