/** The size limits every front door enforces, each refused with its own error code. */
export interface Limits {
  readonly keyBytesMax: number;
  readonly valueBytesMax: number;
  readonly bodyBytesMax: number;
  /** Redis protocol: the largest command, all its arguments with their framing (what one log entry may carry). */
  readonly commandBytesMax: number;
  /** Most items one scan returns. */
  readonly scanItemsMax: number;
  /** Redis protocol: most arguments in one command, and most unanswered commands pipelined on one connection. */
  readonly respArgumentsMax: number;
  readonly respPipelineCommandsMax: number;
  /** Redis protocol: longest inline command line. */
  readonly respInlineBytesMax: number;
  /** Most open client connections (HTTP and Redis protocol each). */
  readonly connectionsMax: number;
  /** The explorer (src/router/explorer.ts): events kept for replay, subscribers, bytes queued to one subscriber. */
  readonly explorerEventsMax: number;
  readonly explorerSubscribersMax: number;
  readonly explorerSubscriberBufferBytes: number;
  /** The actor faults of the admin API: most messages one flood sends, longest turn delay one slow fault sets. */
  readonly floodMessagesMax: number;
  readonly slowTurnMsMax: number;
  /** The explorer's load generator: the highest rate it may be set to, and operations it keeps in flight at most. */
  readonly explorerLoadRequestsPerSecondMax: number;
  readonly explorerLoadInFlightRequestsMax: number;
}

export const LIMITS_DEFAULTS: Limits = {
  keyBytesMax: 4 * 1024,
  valueBytesMax: 1024 * 1024,
  bodyBytesMax: 2 * 1024 * 1024,
  commandBytesMax: 4 * 1024 * 1024,
  scanItemsMax: 10_000,
  respArgumentsMax: 1024 * 1024,
  respPipelineCommandsMax: 1024,
  respInlineBytesMax: 64 * 1024,
  connectionsMax: 10_000,
  explorerEventsMax: 10_000,
  explorerSubscribersMax: 16,
  explorerSubscriberBufferBytes: 1024 * 1024,
  floodMessagesMax: 1_000_000,
  slowTurnMsMax: 10_000,
  explorerLoadRequestsPerSecondMax: 5_000,
  explorerLoadInFlightRequestsMax: 1_000,
};
