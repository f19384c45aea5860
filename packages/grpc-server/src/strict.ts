// Strict request decoding for every served method: a body containerd's (gogo) decoder
// would refuse is answered INTERNAL with grpc-go's text, instead of running as a request
// of defaults. The deserializers report the problem as a value (grpc-js would answer a
// throw with its own text); an interceptor turns it into the status.
import { requestTypeOf, wireProblem } from '@containerd-ts/api';
import {
  Metadata,
  type ServerInterceptingCallInterface,
  ServerInterceptingCall,
  type ServerInterceptor,
  type ServiceDefinition,
  status,
} from '@grpc/grpc-js';

/** A request body that does not decode as its message; what gogo would say about it. */
export class MalformedRequest {
  constructor(readonly problem: string) {}
}

/** `definition` with each method's request deserializer checking the wire format first. */
export function strictRequests<D extends ServiceDefinition>(definition: D): D {
  const out: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(definition)) {
    const type = requestTypeOf(method.path);
    if (!type) {
      out[name] = method;
      continue;
    }
    const decode = method.requestDeserialize;
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        const problem = wireProblem(type, bytes);
        return problem === undefined ? decode(bytes) : new MalformedRequest(problem);
      },
    };
  }
  return out as D;
}

/** grpc-go's status text for a request it could not decode: per call, or on a stream. */
export function malformedDetails(message: MalformedRequest, streaming: boolean): string {
  return streaming ? `grpc: failed to unmarshal the received message ${message.problem}` : `grpc: error unmarshalling request: ${message.problem}`;
}

/**
 * Answers a MalformedRequest as grpc-go does: INTERNAL, `grpc: error unmarshalling request: …`
 * for a unary call, `grpc: failed to unmarshal the received message …` on a stream.
 *
 * On a request stream the message is passed on in its place instead: the handler may still
 * be working on the requests before it (grpc-js reads ahead of it), and in grpc-go those are
 * answered first; the error is what the handler's next read returns. A status sent from here
 * would race the handler's own writes (grpc-js then never sends the trailers, and the
 * client waits for its deadline). Such handlers check what they read with `MalformedRequest`.
 */
export const malformedRequestInterceptor: ServerInterceptor = (method, call: ServerInterceptingCallInterface) => {
  const streaming = method.requestStream || method.responseStream;
  const intercepting: ServerInterceptingCall = new ServerInterceptingCall(call, {
    start: (next) =>
      next({
        onReceiveMessage: (message: unknown, forward: (message: unknown) => void) => {
          if (!(message instanceof MalformedRequest) || method.requestStream) {
            forward(message);
            return;
          }
          intercepting.sendStatus({ code: status.INTERNAL, details: malformedDetails(message, streaming), metadata: new Metadata() });
        },
      }),
  });
  return intercepting;
};
