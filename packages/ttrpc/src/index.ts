// ttrpc, containerd's lightweight RPC for shims: client, server, typed services from
// @containerd-ts/api definitions, and the io.containerd.ttrpc.v1 plugin type.
export { type CallOptions, type ConnectOptions, type MessageCodec, type TtrpcMetadata, TtrpcClient, socketPathOf } from './client.js';
export { CLOSED_MESSAGE, TtrpcClosedError, TtrpcStatusError, isTtrpcClosed, statusFromError } from './errors.js';
export { type TtrpcServicePlugin, hasTtrpcServices, ttrpcRequestContext } from './plugin-type.js';
export { type TtrpcCallContext, type TtrpcHandler, TtrpcServer, type TtrpcServerOptions } from './server.js';
export {
  type TtrpcServiceClient,
  type TtrpcServiceImplementation,
  type TtrpcServiceRegistration,
  type UnaryMethodDefinition,
  type UnaryServiceDefinition,
  registerService,
  serviceClient,
  serviceNameOf,
  splitMethodPath,
  ttrpcService,
} from './service.js';
export { MESSAGE_HEADER_LENGTH, MESSAGE_LENGTH_MAX, MessageType } from './wire.js';
