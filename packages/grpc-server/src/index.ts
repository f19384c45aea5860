// The io.containerd.grpc.v1 plugin type and handler wrappers.
export {
  bidiStream,
  clientStream,
  type GrpcServicePlugin,
  type GrpcServiceRegistration,
  grpcService,
  requestContext,
  serverStream,
  toServiceError,
  unary,
} from './service.js';
export { MalformedRequest, answerMalformed, malformedDetails, strictRequests } from './strict.js';
export { activityInterceptor } from './activity.js';
