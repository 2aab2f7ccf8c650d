/**
 * Every error raftkv reports, in one registry (after fastify's lib/errors.js): refusals of the core, the
 * node, storage, the transport and the router. `definite` says the operation surely did not take effect; an
 * indefinite error (a timeout after the proposal was sent) means it may have. docs/ERRORS.md lists the same
 * codes; test/unit/errors-doc.test.ts keeps the two in step, and test/unit/error-registry.test.ts checks
 * that every code another room can produce is registered here.
 */
export interface ErrorSpec {
  readonly status: number;
  readonly definite: boolean;
  /** The Redis-protocol error prefix. */
  readonly redis: string;
  readonly message: string;
}

export const ERRORS = {
  KEY_NOT_FOUND: { status: 404, definite: true, redis: 'ERR', message: 'no such key' },
  CAS_FAILED: { status: 412, definite: true, redis: 'ERR', message: 'the key was modified at another index than ifIndex' },
  CONDITION_NOT_MET: { status: 412, definite: true, redis: 'ERR', message: 'the NX or XX condition did not hold' },
  NOT_AN_INTEGER: { status: 409, definite: true, redis: 'ERR', message: 'value is not an integer or out of range' },
  NO_LEADER: { status: 503, definite: true, redis: 'TRYAGAIN', message: 'no leader (no quorum): nothing was written; retry' },
  TIMEOUT: { status: 504, definite: false, redis: 'TIMEOUT', message: 'timed out after the command was proposed: the outcome is unknown' },
  SESSION_EXPIRED: {
    status: 409,
    definite: false,
    redis: 'ERR',
    message: 'the client session expired while a retry was pending: the outcome is unknown',
  },
  OVERLOADED: { status: 429, definite: true, redis: 'TRYAGAIN', message: 'too many requests in flight; retry' },
  KEY_EMPTY: { status: 400, definite: true, redis: 'ERR', message: 'the key is empty' },
  KEY_TOO_LARGE: { status: 400, definite: true, redis: 'ERR', message: 'the key is larger than the key limit' },
  VALUE_TOO_LARGE: { status: 413, definite: true, redis: 'ERR', message: 'the value is larger than the value limit' },
  BODY_TOO_LARGE: { status: 413, definite: true, redis: 'ERR', message: 'the request body is larger than the body limit' },
  INVALID_JSON: { status: 400, definite: true, redis: 'ERR', message: 'the request body is not valid JSON' },
  INVALID_ARGUMENT: { status: 400, definite: true, redis: 'ERR', message: 'an argument is missing or malformed' },
  VALUE_NOT_UTF8: { status: 406, definite: true, redis: 'ERR', message: 'the value is binary: ask with ?encoding=base64' },
  UNKNOWN_NODE: { status: 404, definite: true, redis: 'ERR', message: 'no node with that id' },
  NOT_FOUND: { status: 404, definite: true, redis: 'ERR', message: 'no such endpoint' },
  METHOD_NOT_ALLOWED: { status: 405, definite: true, redis: 'ERR', message: 'method not allowed on this endpoint' },
  UNAUTHORIZED: { status: 401, definite: true, redis: 'NOAUTH', message: 'admin endpoints need the admin token' },
  FORBIDDEN_ORIGIN: {
    status: 403,
    definite: true,
    redis: 'ERR',
    message: 'a browser page of another origin may not call this server: nothing was done',
  },
  SCENARIO_RUNNING: {
    status: 409,
    definite: true,
    redis: 'ERR',
    message: 'a scenario is already running on this cluster: wait for its verdict',
  },
  UNKNOWN_COMMAND: { status: 400, definite: true, redis: 'ERR', message: 'unknown command' },
  WRONG_ARITY: { status: 400, definite: true, redis: 'ERR', message: 'wrong number of arguments' },
  PROTOCOL_ERROR: { status: 400, definite: true, redis: 'ERR', message: 'malformed request' },
  INTERNAL: { status: 500, definite: false, redis: 'ERR', message: 'internal error' },
  // Refusals of the core and the node actor (src/raft, src/node): the router retries the leadership ones at
  // the leader they name and answers the client only when it gives up or when retrying cannot help.
  NOT_LEADER: { status: 503, definite: true, redis: 'TRYAGAIN', message: 'this node is not the leader; retry at the leader it names' },
  TRANSFER_IN_PROGRESS: { status: 503, definite: true, redis: 'TRYAGAIN', message: 'leadership transfer in progress; retry shortly' },
  QUEUE_FULL: {
    status: 429,
    definite: true,
    redis: 'TRYAGAIN',
    message: "the leader's proposal or read queue is full; retry after a short back-off",
  },
  DISK_FULL: {
    status: 507,
    definite: true,
    redis: 'MISCONF',
    message: "the node's disk is (nearly) full: it refuses writes until space is freed; nothing was written",
  },
  PROPOSAL_TOO_LARGE: {
    status: 413,
    definite: true,
    redis: 'ERR',
    message: 'the proposal has more entries than the leader accepts at once',
  },
  CONFIG_CHANGE_IN_PROGRESS: {
    status: 503,
    definite: true,
    redis: 'TRYAGAIN',
    message: 'a membership change is in progress; retry once it has committed',
  },
  PROPOSAL_DROPPED: {
    status: 503,
    definite: true,
    redis: 'TRYAGAIN',
    message: "another leader's entry took the proposal's place; it was never applied",
  },
  // Membership changes (GET/POST/DELETE /v1/members, raftkv member): refused before anything is proposed.
  MEMBER_EXISTS: { status: 409, definite: true, redis: 'ERR', message: 'that id is already a member of the cluster' },
  MEMBER_NOT_FOUND: { status: 404, definite: true, redis: 'ERR', message: 'no member with that id' },
  MEMBER_NOT_LEARNER: { status: 409, definite: true, redis: 'ERR', message: 'only a learner can be promoted; that member already votes' },
  LEARNER_NOT_CAUGHT_UP: {
    status: 409,
    definite: true,
    redis: 'TRYAGAIN',
    message: "the learner's log is too far behind the leader's to be promoted; retry once it has caught up",
  },
  LAST_VOTER: { status: 409, definite: true, redis: 'ERR', message: 'the last voter cannot be removed: the cluster would have no quorum' },
  NODE_STOPPED: { status: 503, definite: true, redis: 'TRYAGAIN', message: 'the node is not running; nothing was proposed' },
  ANSWER_LOST: { status: 503, definite: false, redis: 'TIMEOUT', message: 'the node stopped before answering: the outcome is unknown' },
  NODE_PAUSED_BACKLOG: {
    status: 503,
    definite: true,
    redis: 'TRYAGAIN',
    message: 'the node is paused and holds as many calls as it may; retry',
  },
  SESSION_LIMIT: {
    status: 503,
    definite: true,
    redis: 'TRYAGAIN',
    message: 'the client session has too many unacknowledged commands; nothing was applied',
  },
  // Failures that stop a node (src/storage, src/transport, the worker): reported as the node's state reason
  // in GET /v1/cluster, in the log and in metrics, never as the answer to one client operation.
  STORAGE_CORRUPT_RECORD: {
    status: 500,
    definite: false,
    redis: 'ERR',
    message: 'a WAL record failed its checksum before the end of the log',
  },
  STORAGE_MISSING_SEGMENT: { status: 500, definite: false, redis: 'ERR', message: 'a WAL segment is missing' },
  STORAGE_LOG_GAP: { status: 500, definite: false, redis: 'ERR', message: 'the log on disk has a gap' },
  STORAGE_SNAPSHOT_CORRUPT: { status: 500, definite: false, redis: 'ERR', message: 'a snapshot file failed its checksum' },
  STORAGE_BAD_PATH: { status: 500, definite: false, redis: 'ERR', message: 'the data folder cannot be used' },
  STORAGE_RECORD_TOO_LARGE: { status: 500, definite: false, redis: 'ERR', message: 'a WAL record is larger than the record limit' },
  STORAGE_CLOSED: { status: 500, definite: false, redis: 'ERR', message: 'the storage was used after it was closed' },
  STORAGE_DIR_LOCKED: {
    status: 500,
    definite: false,
    redis: 'ERR',
    message: 'another process uses this data folder (its lock names the process)',
  },
  STORAGE_DIR_FORMAT: { status: 500, definite: false, redis: 'ERR', message: 'the data folder was written by a newer raftkv' },
  STORAGE_BACKUP_INVALID: {
    status: 500,
    definite: false,
    redis: 'ERR',
    message: 'the backup file is truncated, corrupt, or not a raftkv backup',
  },
  STORAGE_DIR_CLUSTER: {
    status: 500,
    definite: false,
    redis: 'ERR',
    message: 'the data folder holds another cluster, another node, or another node count',
  },
  TRANSPORT_BAD_FRAME: { status: 500, definite: false, redis: 'ERR', message: 'a peer frame is malformed; it was dropped' },
  TRANSPORT_FRAME_TOO_LARGE: {
    status: 500,
    definite: false,
    redis: 'ERR',
    message: "a peer frame's length is above the frame limit; the connection was closed",
  },
  TRANSPORT_VERSION_MISMATCH: {
    status: 500,
    definite: false,
    redis: 'ERR',
    message: 'a peer speaks another protocol version; the connection was refused',
  },
  TRANSPORT_CLUSTER_MISMATCH: {
    status: 500,
    definite: false,
    redis: 'ERR',
    message: 'a peer belongs to another cluster; the connection was refused',
  },
  TRANSPORT_WRONG_PEER: {
    status: 500,
    definite: false,
    redis: 'ERR',
    message: 'a peer is not the member it was dialled as, or is no member; the connection was refused',
  },
  TRANSPORT_AUTH_FAILED: {
    status: 500,
    definite: false,
    redis: 'ERR',
    message: 'a peer failed authentication (certificate or pre-shared key); the connection was refused',
  },
  TRANSPORT_INSECURE: {
    status: 500,
    definite: false,
    redis: 'ERR',
    message: 'peer links off loopback need TLS or a pre-shared key; the node did not start',
  },
  NODE_START_FAILED: { status: 500, definite: false, redis: 'ERR', message: 'the node failed to start' },
  PROTOCOL_VERSION_MISMATCH: {
    status: 500,
    definite: false,
    redis: 'ERR',
    message: 'the worker speaks another protocol version than its supervisor',
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** An error on its way to a client: crosses ports as { code, message }, never as an Error object. */
export interface ApiError {
  readonly code: ErrorCode;
  readonly message: string;
}

export function apiError(code: ErrorCode, message: string = ERRORS[code].message): ApiError {
  return { code, message };
}

export function isApiError(value: unknown): value is ApiError {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as ApiError).code === 'string' &&
    Object.hasOwn(ERRORS, (value as ApiError).code)
  );
}

export function isErrorCode(value: string): value is ErrorCode {
  return Object.hasOwn(ERRORS, value);
}
