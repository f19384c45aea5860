// The containerd.services.events.v1.Events gRPC service over the event exchange.
import { EventsService as EventsDefinition, type Envelope, type SubscribeRequest } from '@containerd-ts/api/services/events';
import { type GrpcServiceRegistration, grpcService, serverStream, toServiceError, unary } from '@containerd-ts/grpc-server';
import type { ServerWritableStream } from '@grpc/grpc-js';
import type { EventsService } from './events.js';

/** Resolves on 'drain', or when the call ends first (a cancelled client never drains). */
function drained(call: ServerWritableStream<SubscribeRequest, Envelope>): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      call.off('drain', done);
      call.off('cancelled', done);
      call.off('close', done);
      resolve();
    };
    call.once('drain', done);
    call.once('cancelled', done);
    call.once('close', done);
  });
}

export function eventsGrpcService(local: EventsService): GrpcServiceRegistration {
  return grpcService(EventsDefinition, {
    publish: unary(async (req, ctx) => {
      await local.publish(ctx, req);
      return {};
    }),
    forward: unary(async (req, ctx) => {
      await local.forward(ctx, req);
      return {};
    }),
    subscribe: serverStream<SubscribeRequest, Envelope>(async (req, ctx, call) => {
      try {
        await local.subscribe(req, ctx.signal, { write: (e) => call.write(e), drained: () => drained(call) });
      } catch (err) {
        // An 'error' event is what makes grpc-js end a server stream with a status;
        // destroying the stream would leave the client waiting for one.
        if (!call.cancelled) call.emit('error', toServiceError(err));
      }
    }),
  });
}
