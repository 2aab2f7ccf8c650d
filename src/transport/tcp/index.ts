// The TCP transport's public face: see docs/TRANSPORT.md.
export { TcpTransport, TcpLink, type TcpLinkStats, type TcpTransportOptions } from './tcp-transport.js';
export { dialClientLane, type ClientLane, type ClientLaneOptions, type ClientLaneResetReason } from './client-lane.js';
export { TransportError, TRANSPORT_ERROR_CODES, type TransportErrorCode, type TransportLog } from './errors.js';
export { checkPeerSecurity, type HostPort, type PeerSecurity } from './security.js';
export { TCP_TRANSPORT_DEFAULTS, resolveTcpLimits, type TcpTransportLimits } from './limits.js';
export {
  FrameReader,
  FRAME_TYPES,
  PEER_FRAME_BYTES_MAX,
  encodeControlFrame,
  encodeDataFrame,
  encodeDataFrameBytes,
  type Frame,
} from './frame.js';
export { LANES, type Lane, type Hello } from './handshake.js';
