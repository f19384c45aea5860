// A call to a method the server does not serve gets grpc-go's answer, as from containerd:
// `unknown service <pkg.Service>` (or `unknown method <M> for service <pkg.Service>` when the
// service is served), code Unimplemented. grpc-js would say "The server does not implement
// the method /pkg.Service/M", and ctr prints that text to the user (for example for a
// service whose plugin is disabled).
import { type Server, type ServerDuplexStream, status } from '@grpc/grpc-js';

/** grpc-go's text for an unserved path, given the names of the services that are served. */
export function unknownMethodMessage(path: string, served: ReadonlySet<string>): string {
  const slash = path.lastIndexOf('/');
  if (!path.startsWith('/') || slash <= 0) return `malformed method name: ${JSON.stringify(path)}`;
  const service = path.slice(1, slash);
  const method = path.slice(slash + 1);
  return served.has(service) ? `unknown method ${method} for service ${service}` : `unknown service ${service}`;
}

/** The service names (`pkg.Service`) of gRPC method paths (`/pkg.Service/Method`). */
export function serviceNames(paths: Iterable<string>): Set<string> {
  const names = new Set<string>();
  for (const p of paths) {
    const slash = p.lastIndexOf('/');
    if (p.startsWith('/') && slash > 0) names.add(p.slice(1, slash));
  }
  return names;
}

/**
 * Installs grpc-go's answer for unserved methods on `server`. grpc-js has no public hook
 * for this: the handler lookup is wrapped, and left alone (grpc-js's text is kept) when a
 * future grpc-js no longer has it.
 */
export function answerUnknownMethodsAsGo(server: Server, served: ReadonlySet<string>): void {
  const internals = server as unknown as { _retrieveHandler?: (path: string) => unknown };
  const lookup = internals._retrieveHandler;
  if (typeof lookup !== 'function') return;
  internals._retrieveHandler = function retrieveHandler(this: unknown, path: string) {
    const handler = lookup.call(this, path);
    if (handler) return handler;
    // Bidi: the status goes out as soon as the call starts, whatever the method's kind.
    return {
      type: 'bidi',
      path,
      serialize: (value: Buffer) => value,
      deserialize: (bytes: Buffer) => bytes,
      func: (call: ServerDuplexStream<Buffer, Buffer>) => {
        call.emit('error', { code: status.UNIMPLEMENTED, details: unknownMethodMessage(path, served) });
      },
    };
  };
}
