// The daemon's Prometheus endpoint (`[metrics] address`, `/v1/metrics`) as containerd
// serves it: the gRPC server metrics of go-grpc-prometheus (`grpc_server_*`, with the
// handling-time histogram when `grpc_histogram` is set), Node's process metrics, and
// what plugins contribute (the cgroups monitor's `container_*` families).
import { type Server as HttpServer, createServer } from 'node:http';
import type { ServerMethodDefinition } from '@grpc/grpc-js';
import { type ServerInterceptingCallInterface, type ServerInterceptor, ServerInterceptingCall, status as grpcStatus } from '@grpc/grpc-js';
import { grpcCodeName } from '@containerd-ts/errdefs';
import type { Logger } from '@containerd-ts/plugin';
import { Counter, Histogram, type Registry, collectDefaultMetrics } from 'prom-client';

/**
 * A plugin instance that contributes families to `/v1/metrics`: through prom-client metrics
 * it registers in the daemon's registry, or as text it renders at each scrape (families in
 * the Prometheus text format, apart by blank lines) — the way for many samples, which
 * prom-client would hash and format one by one (the cgroups monitor's `container_*`).
 */
export interface MetricsProvider {
  registerMetrics?(registry: Registry): void | Promise<void>;
  renderMetrics?(): Promise<string>;
}

export const hasMetrics = (instance: unknown): instance is MetricsProvider =>
  typeof instance === 'object' &&
  instance !== null &&
  (typeof (instance as MetricsProvider).registerMetrics === 'function' || typeof (instance as MetricsProvider).renderMetrics === 'function');

/** The registry's families, then each rendered source's, as one exposition. */
export async function exposition(registry: Registry, sources: ReadonlyArray<() => Promise<string>>): Promise<string> {
  const parts = await Promise.all([registry.metrics(), ...sources.map((render) => render())]);
  return parts.filter((p) => p.trim() !== '').join('\n') || '\n';
}


type MethodType = 'unary' | 'client_stream' | 'server_stream' | 'bidi_stream';
const methodType = (m: { requestStream: boolean; responseStream: boolean }): MethodType =>
  m.requestStream ? (m.responseStream ? 'bidi_stream' : 'client_stream') : m.responseStream ? 'server_stream' : 'unary';

const splitPath = (path: string): [service: string, method: string] => {
  const [, service = 'unknown', method = 'unknown'] = path.split('/');
  return [service, method];
};

/** go-grpc-prometheus's server metrics, fed by a grpc-js server interceptor. */
export class GrpcServerMetrics {
  private readonly started: Counter<string>;
  private readonly handled: Counter<string>;
  private readonly received: Counter<string>;
  private readonly sent: Counter<string>;
  private readonly handling: Histogram<string> | undefined;

  constructor(registry: Registry, histogram: boolean) {
    const base = ['grpc_type', 'grpc_service', 'grpc_method'];
    this.started = new Counter({ name: 'grpc_server_started_total', help: 'Total number of RPCs started on the server.', labelNames: base, registers: [registry] });
    this.handled = new Counter({
      name: 'grpc_server_handled_total',
      help: 'Total number of RPCs completed on the server, regardless of success or failure.',
      labelNames: [...base, 'grpc_code'],
      registers: [registry],
    });
    this.received = new Counter({ name: 'grpc_server_msg_received_total', help: 'Total number of RPC stream messages received on the server.', labelNames: base, registers: [registry] });
    this.sent = new Counter({ name: 'grpc_server_msg_sent_total', help: 'Total number of gRPC stream messages sent by the server.', labelNames: base, registers: [registry] });
    if (histogram) {
      this.handling = new Histogram({
        name: 'grpc_server_handling_seconds',
        help: 'Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.',
        labelNames: base,
        // prometheus.DefBuckets
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers: [registry],
      });
    }
  }

  /** Every served method starts at zero, as grpc_prometheus.Register does. */
  preRegister(methods: Iterable<{ path: string; requestStream: boolean; responseStream: boolean }>): void {
    for (const m of methods) {
      const [service, method] = splitPath(m.path);
      const labels = { grpc_type: methodType(m), grpc_service: service, grpc_method: method };
      this.started.inc(labels, 0);
      this.received.inc(labels, 0);
      this.sent.inc(labels, 0);
      for (const code of Object.values(grpcCodeName)) this.handled.inc({ ...labels, grpc_code: code }, 0);
      if (this.handling) this.handling.zero(labels);
    }
  }

  readonly interceptor: ServerInterceptor = (method: ServerMethodDefinition<unknown, unknown>, call: ServerInterceptingCallInterface) => {
    const [service, name] = splitPath(method.path);
    const labels = { grpc_type: methodType(method), grpc_service: service, grpc_method: name };
    const startedAt = performance.now();
    this.started.inc(labels);
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMessage: (message, forward) => {
            this.received.inc(labels);
            forward(message);
          },
        }),
      sendMessage: (message, next) => {
        this.sent.inc(labels);
        next(message);
      },
      sendStatus: (status, next) => {
        const code = status.code ?? grpcStatus.UNKNOWN;
        this.handled.inc({ ...labels, grpc_code: grpcCodeName[code] ?? `Code(${code})` });
        this.handling?.observe(labels, (performance.now() - startedAt) / 1000);
        next(status);
      },
    });
  };
}

/** Node's process metrics (`process_*`, `nodejs_*`), the counterpart of Go's `process_*` and `go_*`. */
export function registerProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
}

export interface MetricsEndpoint {
  readonly address: string;
  close(): Promise<void>;
}

/** `host:port` (`:port` for every interface), as Go's net.Listen("tcp") takes it. */
export function parseTcpAddress(address: string): { host: string | undefined; port: number } {
  const i = address.lastIndexOf(':');
  const port = Number(address.slice(i + 1));
  if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid metrics address ${JSON.stringify(address)}: want host:port`);
  const host = address.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return { host: host || undefined, port };
}

/**
 * Serves `registry` at `http://<address>/v1/metrics`. At most `maxInFlight` scrapes are
 * rendered at once (the others get 503 at once, they never queue on the event loop).
 */
export async function serveMetrics(
  address: string,
  registry: Registry,
  options: { log?: Logger; maxInFlight?: number; sources?: ReadonlyArray<() => Promise<string>> } = {},
): Promise<MetricsEndpoint> {
  const { host, port } = parseTcpAddress(address);
  const maxInFlight = options.maxInFlight ?? 4;
  let inFlight = 0;
  const server: HttpServer = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/v1/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' }).end('404 page not found\n');
      return;
    }
    if (inFlight >= maxInFlight) {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' }).end('too many concurrent scrapes\n');
      return;
    }
    inFlight++;
    exposition(registry, options.sources ?? [])
      .then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: Error) => {
          options.log?.warn({ error: err.message }, 'metrics scrape failed');
          res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`${err.message}\n`);
        },
      )
      .finally(() => {
        inFlight--;
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`failed to get listener for metrics endpoint: ${err.message}`)));
    server.listen({ host, port }, () => resolve());
  });
  const bound = server.address();
  const shown = typeof bound === 'object' && bound ? `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}` : address;
  return {
    address: shown,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
