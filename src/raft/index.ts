export { RaftCore, type ProgressView, type RaftStatus } from './raft.js';
export { RAFT_DEFAULTS, resolveOptions, type RaftOptions, type RaftOptionsInput, type RaftBootState } from './config.js';
export { RaftLog, entrySizeBytes } from './log.js';
export { Progress, type ProgressState } from './progress.js';
export { SeededRandom, type Random } from './random.js';
export { memorySnapshotSource } from './snapshot-source.js';
export { InvariantError, invariant } from './invariant.js';
export type * from './types.js';
