// What an io.containerd.grpc.v1 plugin provides: gRPC services to add to the daemon's
// server. Handlers are wrapped so a thrown error becomes containerd's gRPC status and
// a failing handler never takes the daemon down.
import type {
  Metadata,
  ServerDuplexStream,
  ServerReadableStream,
  ServerUnaryCall,
  ServerWritableStream,
  ServiceDefinition,
  ServiceError,
  UntypedServiceImplementation,
  handleBidiStreamingCall,
  handleClientStreamingCall,
  handleServerStreamingCall,
  handleUnaryCall,
  sendUnaryData,
} from '@grpc/grpc-js';
import { toGrpcStatus } from '@containerd-ts/errdefs';
import { LEASE_HEADER, NAMESPACE_HEADER, type RequestContext } from '@containerd-ts/namespaces';
import type {} from '@containerd-ts/plugin';

/** One gRPC service: its definition (generated) and implementation. */
export interface GrpcServiceRegistration {
  definition: ServiceDefinition;
  implementation: UntypedServiceImplementation;
}

/** The instance of an `io.containerd.grpc.v1` plugin. */
export interface GrpcServicePlugin {
  services: GrpcServiceRegistration[];
}

declare module '@containerd-ts/plugin' {
  interface PluginTypeMap {
    'io.containerd.grpc.v1': GrpcServicePlugin;
  }
}

/** Typed helper to build a registration from a generated definition and a matching implementation. */
export function grpcService<D extends ServiceDefinition, I extends UntypedServiceImplementation>(
  definition: D,
  implementation: I,
): GrpcServiceRegistration {
  return { definition, implementation };
}

const first = (md: Metadata, key: string): string | undefined => {
  const v = md.get(key)[0];
  return v === undefined ? undefined : String(v);
};

/** The request context a containerd client sends in metadata (namespace, lease). */
export function requestContext(call: { metadata: Metadata; cancelled?: boolean; on?: unknown }): RequestContext {
  const namespace = first(call.metadata, NAMESPACE_HEADER);
  const lease = first(call.metadata, LEASE_HEADER);
  return { ...(namespace ? { namespace } : {}), ...(lease ? { lease } : {}) };
}

/** Converts anything thrown into a gRPC error with containerd's code and message. */
export function toServiceError(err: unknown): Partial<ServiceError> {
  const { code, details } = toGrpcStatus(err);
  return { code, details, message: details };
}

type Ctx = RequestContext & { signal: AbortSignal };

const clientCancelled = new Error('client cancelled the call');

/**
 * The request context with an abort signal that fires when the call ends. The signal is
 * made only when a handler reads it: most handlers never wait on anything cancellable, and
 * an AbortController made and aborted per call (grpc-js reports 'cancelled' at the end of
 * every call) was a measurable part of a small call. Read after the call ended, it is
 * aborted already; spreading the context (`{ ...ctx }`) reads it.
 */
function withSignal(call: { metadata: Metadata; on(event: 'cancelled', fn: () => void): unknown }): Ctx {
  const ctx = requestContext(call) as Ctx;
  let controller: AbortController | undefined;
  let cancelled = false;
  call.on('cancelled', () => {
    cancelled = true;
    // A shared reason avoids building a fresh AbortError (with its stack) per request.
    controller?.abort(clientCancelled);
  });
  Object.defineProperty(ctx, 'signal', {
    enumerable: true,
    configurable: true,
    get(): AbortSignal {
      if (controller === undefined) {
        controller = new AbortController();
        if (cancelled) controller.abort(clientCancelled);
      }
      return controller.signal;
    },
  });
  return ctx;
}

/** Wraps a unary handler: `fn(request, ctx)` resolves to the response or throws an errdefs error. */
export function unary<Req, Res>(fn: (req: Req, ctx: Ctx, call: ServerUnaryCall<Req, Res>) => Promise<Res> | Res): handleUnaryCall<Req, Res> {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    let ctx: Ctx;
    try {
      ctx = withSignal(call);
    } catch (err) {
      callback(toServiceError(err));
      return;
    }
    Promise.resolve()
      .then(() => fn(call.request, ctx, call))
      .then(
        (res) => callback(null, res),
        (err: unknown) => callback(toServiceError(err)),
      );
  };
}

/** Wraps a server-streaming handler; the stream ends when `fn` resolves, or with the error it throws. */
export function serverStream<Req, Res>(
  fn: (req: Req, ctx: Ctx, call: ServerWritableStream<Req, Res>) => Promise<void>,
): handleServerStreamingCall<Req, Res> {
  return (call: ServerWritableStream<Req, Res>) => {
    const ctx = withSignal(call);
    Promise.resolve()
      .then(() => fn(call.request, ctx, call))
      .then(
        () => call.end(),
        (err: unknown) => {
          // grpc-js sends a server stream's status when 'error' is emitted on it; a destroyed
          // stream would leave the client waiting.
          if (!call.cancelled) call.emit('error', toServiceError(err));
        },
      );
  };
}

/** Wraps a bidirectional-streaming handler. */
export function bidiStream<Req, Res>(fn: (ctx: Ctx, call: ServerDuplexStream<Req, Res>) => Promise<void>): handleBidiStreamingCall<Req, Res> {
  return (call: ServerDuplexStream<Req, Res>) => {
    const ctx = withSignal(call);
    Promise.resolve()
      .then(() => fn(ctx, call))
      .then(
        () => call.end(),
        (err: unknown) => {
          // grpc-js sends a server stream's status when 'error' is emitted on it; a destroyed
          // stream would leave the client waiting.
          if (!call.cancelled) call.emit('error', toServiceError(err));
        },
      );
  };
}

/** Wraps a client-streaming handler. */
export function clientStream<Req, Res>(
  fn: (ctx: Ctx, call: ServerReadableStream<Req, Res>) => Promise<Res>,
): handleClientStreamingCall<Req, Res> {
  return (call: ServerReadableStream<Req, Res>, callback: sendUnaryData<Res>) => {
    const ctx = withSignal(call);
    Promise.resolve()
      .then(() => fn(ctx, call))
      .then(
        (res) => callback(null, res),
        (err: unknown) => callback(toServiceError(err)),
      );
  };
}
