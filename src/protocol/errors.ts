/**
 * Every error a client can see, in one registry (after fastify's lib/errors.js). `definite` says the
 * operation surely did not take effect; an indefinite error (a timeout after the proposal was sent) means
 * it may have. docs/ERRORS.md lists the same codes; test/unit/errors-doc.test.ts keeps the two in step.
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
  SESSION_EXPIRED: { status: 409, definite: false, redis: 'ERR', message: 'the client session expired while a retry was pending: the outcome is unknown' },
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
  UNKNOWN_COMMAND: { status: 400, definite: true, redis: 'ERR', message: 'unknown command' },
  WRONG_ARITY: { status: 400, definite: true, redis: 'ERR', message: 'wrong number of arguments' },
  PROTOCOL_ERROR: { status: 400, definite: true, redis: 'ERR', message: 'malformed request' },
  INTERNAL: { status: 500, definite: false, redis: 'ERR', message: 'internal error' },
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
  return typeof value === 'object' && value !== null && typeof (value as ApiError).code === 'string' && Object.hasOwn(ERRORS, (value as ApiError).code);
}
