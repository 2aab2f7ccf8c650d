// The peer data plane between node workers: frames of the core's messages. The messages are the core's own
// discriminated union (`Message` in src/raft/types.ts: votes, appends, snapshots, TimeoutNow), so that the
// simulator and the workers speak the same; src/transport/codec.ts encodes a frame (msgpack, entries as one
// binary block). The frame's shape is versioned with the rest of src/protocol (PROTOCOL_VERSION in node.ts).
import type { Message } from '../raft/types.js';

/** One postMessage between two nodes: at most frameMessagesMax messages (src/config/limits.ts). */
export type PeerFrame = readonly Message[];
