// Strict request decoding for every served method: a body containerd's (gogo) decoder
// would refuse is answered INTERNAL with grpc-go's text, instead of running as a request
// of defaults. The deserializers report the problem as a value (grpc-js would answer a
// throw with its own text); `answerMalformed` turns it into the status.
import { requestTypeOf, wireProblem } from '@containerd-ts/api';
import {
  Metadata,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type UntypedServiceImplementation,
  type sendUnaryData,
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
 * `implementation` with each handler of a method with one request (unary and server
 * streaming) answering a MalformedRequest as grpc-go does: INTERNAL, `grpc: error
 * unmarshalling request: …` for a unary call, `grpc: failed to unmarshal the received
 * message …` on a server stream, without running the handler. (A grpc-js interceptor did
 * this for every call and cost a tenth of the daemon's CPU in a run of small server-streaming
 * calls; this is one check per call.)
 *
 * On a request stream the message is passed on in its place instead: the handler may still
 * be working on the requests before it (grpc-js reads ahead of it), and in grpc-go those are
 * answered first; the error is what the handler's next read returns. A status sent from
 * outside would race the handler's own writes (grpc-js then never sends the trailers, and
 * the client waits for its deadline). Such handlers check what they read with
 * `MalformedRequest`.
 */
export function answerMalformed<I extends UntypedServiceImplementation>(definition: ServiceDefinition, implementation: I): I {
  const out: Record<string, unknown> = { ...implementation };
  for (const [name, method] of Object.entries(definition)) {
    // grpc-js finds a handler under the method's name, or else its original (proto) name
    const key = typeof implementation[name] === 'function' ? name : (method.originalName ?? name);
    const handler = implementation[key];
    if (typeof handler !== 'function') continue;
    if (method.requestStream) {
      // unchanged (also when it is a method of the implementation's prototype, which the
      // spread above does not copy)
      out[key] = handler;
      continue;
    }
    const streaming = method.responseStream;
    const fail = (message: MalformedRequest) => ({ code: status.INTERNAL, details: malformedDetails(message, streaming), metadata: new Metadata() });
    out[key] = streaming
      ? (call: ServerWritableStream<unknown, unknown>) => {
          if (call.request instanceof MalformedRequest) call.emit('error', fail(call.request));
          else (handler as (call: ServerWritableStream<unknown, unknown>) => void)(call);
        }
      : (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
          if (call.request instanceof MalformedRequest) callback(fail(call.request));
          else (handler as (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => void)(call, callback);
        };
  }
  return out as I;
}
