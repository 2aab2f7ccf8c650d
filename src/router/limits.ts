/** The size limits every front door enforces, each refused with its own error code. */
export interface Limits {
  readonly keyBytesMax: number;
  readonly valueBytesMax: number;
  readonly bodyBytesMax: number;
  /** Most items one scan returns. */
  readonly scanItemsMax: number;
  /** Redis protocol: most arguments in one command, and most unanswered commands pipelined on one connection. */
  readonly respArgumentsMax: number;
  readonly respPipelineMax: number;
  /** Redis protocol: longest inline command line. */
  readonly respInlineBytesMax: number;
  /** Most open client connections (HTTP and Redis protocol each). */
  readonly connectionsMax: number;
}

export const LIMITS_DEFAULTS: Limits = {
  keyBytesMax: 4 * 1024,
  valueBytesMax: 1024 * 1024,
  bodyBytesMax: 2 * 1024 * 1024,
  scanItemsMax: 10_000,
  respArgumentsMax: 1024 * 1024,
  respPipelineMax: 1024,
  respInlineBytesMax: 64 * 1024,
  connectionsMax: 10_000,
};
