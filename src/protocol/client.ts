// The client data plane between the router (main thread) and one node worker: numbered requests and their
// answers, batched per turn into one msgpack frame each way (src/transport/client-port.ts carries them).
import type { MembershipChange } from '../raft/types.js';
import type { NodeRefusal, NodeStatus, ProposeOutcome, ReadOutcome } from './node.js';

export type ClientRequest =
  | { readonly id: number; readonly kind: 'propose'; readonly commands: Uint8Array[] }
  | { readonly id: number; readonly kind: 'read'; readonly query: unknown }
  | { readonly id: number; readonly kind: 'stale'; readonly query: unknown }
  /** One membership change at the node (it must lead); answered once committed. */
  | { readonly id: number; readonly kind: 'member'; readonly change: MembershipChange }
  /** The node's status: how a router in another process shows a node it does not host (raftkv node). */
  | { readonly id: number; readonly kind: 'status' };

export interface ClientAnswer {
  readonly id: number;
  readonly outcome: ProposeOutcome | ReadOutcome | StatusOutcome;
}

export type StatusOutcome = { readonly ok: true; readonly status: NodeStatus } | NodeRefusal;
