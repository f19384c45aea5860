// Typed ttrpc services from the service definitions @containerd-ts/api generates (the
// grpc-js shape: `path: '/pkg.Service/Method'` with (de)serializers per method): a
// typed client over a TtrpcClient, and typed handlers registered on a TtrpcServer.
import { GrpcCode } from '@containerd-ts/errdefs';
import type { CallOptions, TtrpcClient } from './client.js';
import { TtrpcStatusError } from './errors.js';
import type { TtrpcCallContext, TtrpcHandler, TtrpcServer } from './server.js';

/** One unary method of a generated service definition (e.g. `TaskService.state`). */
export interface UnaryMethodDefinition<Req, Res> {
  readonly path: string;
  readonly requestStream: false;
  readonly responseStream: false;
  requestSerialize(value: Req): Buffer;
  requestDeserialize(bytes: Buffer): Req;
  responseSerialize(value: Res): Buffer;
  responseDeserialize(bytes: Buffer): Res;
}

/** A generated service definition whose methods are all unary (ttrpc has no streams here). */
export type UnaryServiceDefinition = Readonly<Record<string, UnaryMethodDefinition<unknown, unknown>>>;

type RequestOf<M> = M extends UnaryMethodDefinition<infer Req, unknown> ? Req : never;
type ResponseOf<M> = M extends UnaryMethodDefinition<unknown, infer Res> ? Res : never;

/** The typed client of a service: one `(request, options?) => Promise<response>` per method. */
export type TtrpcServiceClient<D extends UnaryServiceDefinition> = {
  readonly [K in keyof D]: (request: RequestOf<D[K]>, options?: CallOptions) => Promise<ResponseOf<D[K]>>;
};

/**
 * The implementation of a service: a handler per method, resolving to the response
 * message. A method left out is answered `Unimplemented` `method <name>`, as ttrpc does.
 */
export type TtrpcServiceImplementation<D extends UnaryServiceDefinition> = {
  readonly [K in keyof D]?: (request: RequestOf<D[K]>, ctx: TtrpcCallContext) => ResponseOf<D[K]> | Promise<ResponseOf<D[K]>>;
};

/** `/containerd.task.v2.Task/State` → `['containerd.task.v2.Task', 'State']`. */
export function splitMethodPath(path: string): [service: string, method: string] {
  const slash = path.lastIndexOf('/');
  if (!path.startsWith('/') || slash <= 0 || slash === path.length - 1) throw new Error(`not a method path: ${JSON.stringify(path)}`);
  return [path.slice(1, slash), path.slice(slash + 1)];
}

const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** The service name every method of `definition` belongs to. */
export function serviceNameOf(definition: UnaryServiceDefinition): string {
  const names = new Set(Object.values(definition).map((m) => splitMethodPath(m.path)[0]));
  if (names.size !== 1) throw new Error(`a service definition must hold the methods of one service, got ${[...names].join(', ') || 'none'}`);
  return [...names][0]!;
}

/**
 * A typed client for `definition` over `client`, e.g.
 * `serviceClient(client, TaskService).state({ id: 'x', execId: '' }, { timeoutMs: 2000 })`.
 */
export function serviceClient<D extends UnaryServiceDefinition>(client: TtrpcClient, definition: D): TtrpcServiceClient<D> {
  const out: Record<string, (request: unknown, options?: CallOptions) => Promise<unknown>> = {};
  for (const [name, m] of Object.entries(definition)) {
    const [service, method] = splitMethodPath(m.path);
    out[name] = async (request, options) => {
      const payload = await client.call(service, method, m.requestSerialize(request), options);
      try {
        return m.responseDeserialize(asBuffer(payload));
      } catch (err) {
        throw new TtrpcStatusError(GrpcCode.INTERNAL, `ttrpc: error unmarshalling response of ${service}/${method}: ${(err as Error).message}`);
      }
    };
  }
  return out as TtrpcServiceClient<D>;
}

/** One ttrpc service ready to register: its name and its handlers by method name. */
export interface TtrpcServiceRegistration {
  readonly name: string;
  readonly methods: Readonly<Record<string, TtrpcHandler>>;
}

/**
 * Builds a registration from a generated definition and typed handlers. A request that
 * does not decode is answered `Internal` `ttrpc: error unmarshalling payload: …`, as ttrpc does.
 */
export function ttrpcService<D extends UnaryServiceDefinition>(definition: D, implementation: TtrpcServiceImplementation<D>): TtrpcServiceRegistration {
  const name = serviceNameOf(definition);
  const methods: Record<string, TtrpcHandler> = {};
  for (const [key, m] of Object.entries(definition)) {
    const [, method] = splitMethodPath(m.path);
    const impl = (implementation as Record<string, ((request: unknown, ctx: TtrpcCallContext) => unknown) | undefined>)[key];
    if (impl === undefined) continue;
    if (typeof impl !== 'function') throw new Error(`ttrpc service ${name}: the handler for ${method} is not a function`);
    methods[method] = async (payload, ctx) => {
      let request: unknown;
      try {
        request = m.requestDeserialize(asBuffer(payload));
      } catch (err) {
        throw new TtrpcStatusError(GrpcCode.INTERNAL, `ttrpc: error unmarshalling payload: ${(err as Error).message}`);
      }
      return m.responseSerialize(await impl(request, ctx));
    };
  }
  return { name, methods };
}

/** Registers a registration built by `ttrpcService` on `server`. */
export function registerService(server: TtrpcServer, registration: TtrpcServiceRegistration): void {
  server.register(registration.name, registration.methods);
}
