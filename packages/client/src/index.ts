// Typed client for containerd's v1 gRPC API.
export {
  type CallContext,
  type ChannelState,
  Connection,
  type ConnectionOptions,
  errorOf,
  targetOf,
} from './connection.js';
