// The daemon's Prometheus endpoint (`[metrics] address`, `/v1/metrics`) as containerd
// serves it: the gRPC server metrics of go-grpc-prometheus (`grpc_server_*`, with the
// handling-time histogram when `grpc_histogram` is set), Node's process metrics, and
// what plugins contribute (the cgroups monitor's `container_*` families).
import { type Server as HttpServer, createServer } from 'node:http';
import type { ServerMethodDefinition } from '@grpc/grpc-js';
import { type ServerInterceptingCallInterface, type ServerInterceptor, ServerInterceptingCall, status as grpcStatus } from '@grpc/grpc-js';
import { grpcCodeName } from '@containerd-ts/errdefs';
import type { Logger } from '@containerd-ts/plugin';
import { type Registry, collectDefaultMetrics } from 'prom-client';

/**
 * A plugin instance that contributes families to `/v1/metrics`: through prom-client metrics
 * it registers in the daemon's registry, or as text it renders at each scrape (families in
 * the Prometheus text format, apart by blank lines) — the way for many samples, which
 * prom-client would hash and format one by one (the cgroups monitor's `container_*`). A
 * large text may come in parts (each whole lines, in order): they are written to the
 * scraper as they are, never joined into one string.
 */
export interface MetricsProvider {
  registerMetrics?(registry: Registry): void | Promise<void>;
  renderMetrics?(): Promise<string | readonly string[]>;
}

/** What one rendering source gives at a scrape. */
export type MetricsSource = () => Promise<string | readonly string[]>;

export const hasMetrics = (instance: unknown): instance is MetricsProvider =>
  typeof instance === 'object' &&
  instance !== null &&
  (typeof (instance as MetricsProvider).registerMetrics === 'function' || typeof (instance as MetricsProvider).renderMetrics === 'function');

const NOT_BLANK = /\S/;

/**
 * The registry's families, then each rendered source's, as the parts of one exposition (a
 * blank line between sources; a source with nothing to show is left out). Written out part
 * by part: with 50 containers the text is ~600 kB, and a string that large — joined,
 * trimmed, then encoded — lands in V8's large-object space, fresh pages each time.
 */
export async function exposition(registry: Registry, sources: ReadonlyArray<MetricsSource>): Promise<string[]> {
  const rendered = await Promise.all([registry.metrics(), ...sources.map((render) => render())]);
  const out: string[] = [];
  for (const source of rendered) {
    const parts = typeof source === 'string' ? [source] : source;
    if (!parts.some((p) => NOT_BLANK.test(p))) continue;
    if (out.length > 0) out.push('\n');
    out.push(...parts);
  }
  return out.length > 0 ? out : ['\n'];
}


type MethodType = 'unary' | 'client_stream' | 'server_stream' | 'bidi_stream';
const methodType = (m: { requestStream: boolean; responseStream: boolean }): MethodType =>
  m.requestStream ? (m.responseStream ? 'bidi_stream' : 'client_stream') : m.responseStream ? 'server_stream' : 'unary';

const splitPath = (path: string): [service: string, method: string] => {
  const [, service = 'unknown', method = 'unknown'] = path.split('/');
  return [service, method];
};

/** One method's counts (go-grpc-prometheus's series for one grpc_type/service/method). */
interface MethodSeries {
  /** `grpc_type="…",grpc_service="…",grpc_method="…"` */
  readonly labels: string;
  started: number;
  received: number;
  sent: number;
  /** Completed calls by code name, in the order the codes were first counted. */
  readonly handled: Map<string, number>;
  /** Handling-time histogram (with `grpc_histogram`): calls per bucket (not cumulative), sum, count. */
  readonly buckets: number[] | undefined;
  sum: number;
  count: number;
  /**
   * This series' lines of each family as last rendered (started, handled, received, sent,
   * histogram), dropped when a count changes: a scrape re-renders only the methods called
   * since the last one (every served method is preregistered with 17 codes: ~2,500 lines).
   */
  rendered: readonly string[] | undefined;
}

// prometheus.DefBuckets
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const escapeLabel = (v: string): string => (/[\\\n"]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : v);

/**
 * go-grpc-prometheus's server metrics, fed by a grpc-js server interceptor: counted in plain
 * fields per method (no label hashing per call) and rendered as text at each scrape.
 */
export class GrpcServerMetrics {
  private readonly methods = new Map<string, MethodSeries>();

  constructor(private readonly histogram: boolean) {}

  private series(m: { path: string; requestStream: boolean; responseStream: boolean }): MethodSeries {
    let s = this.methods.get(m.path);
    if (!s) {
      const [service, method] = splitPath(m.path);
      s = {
        labels: `grpc_type="${methodType(m)}",grpc_service="${escapeLabel(service)}",grpc_method="${escapeLabel(method)}"`,
        started: 0,
        received: 0,
        sent: 0,
        handled: new Map(),
        buckets: this.histogram ? BUCKETS.map(() => 0) : undefined,
        sum: 0,
        count: 0,
        rendered: undefined,
      };
      this.methods.set(m.path, s);
    }
    return s;
  }

  /** Every served method starts at zero, as grpc_prometheus.Register does. */
  preRegister(methods: Iterable<{ path: string; requestStream: boolean; responseStream: boolean }>): void {
    for (const m of methods) {
      const s = this.series(m);
      for (const code of Object.values(grpcCodeName)) if (!s.handled.has(code)) s.handled.set(code, 0);
      s.rendered = undefined;
    }
  }

  readonly interceptor: ServerInterceptor = (method: ServerMethodDefinition<unknown, unknown>, call: ServerInterceptingCallInterface) => {
    const s = this.series(method);
    const startedAt = performance.now();
    s.started++;
    s.rendered = undefined;
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMessage: (message, forward) => {
            s.received++;
            s.rendered = undefined;
            forward(message);
          },
        }),
      sendMessage: (message, next) => {
        s.sent++;
        s.rendered = undefined;
        next(message);
      },
      sendStatus: (status, next) => {
        const code = status.code ?? grpcStatus.UNKNOWN;
        const name = grpcCodeName[code] ?? `Code(${code})`;
        s.handled.set(name, (s.handled.get(name) ?? 0) + 1);
        s.rendered = undefined;
        if (s.buckets) {
          const seconds = (performance.now() - startedAt) / 1000;
          const i = BUCKETS.findIndex((le) => seconds <= le);
          if (i >= 0) s.buckets[i] = (s.buckets[i] ?? 0) + 1;
          s.sum += seconds;
          s.count++;
        }
        next(status);
      },
    });
  };

  /** The families in the Prometheus text format, as prom-client printed them before. */
  render(): string {
    const all = [...this.methods.values()];
    for (const s of all) s.rendered ??= this.renderSeries(s);
    const family = (i: number, header: string): string => {
      let text = header;
      for (const s of all) if (s.rendered?.[i]) text += `\n${s.rendered[i]}`;
      return text;
    };
    const counter = (name: string, help: string) => `# HELP ${name} ${help}\n# TYPE ${name} counter`;
    const families = [
      family(0, counter('grpc_server_started_total', 'Total number of RPCs started on the server.')),
      family(1, counter('grpc_server_handled_total', 'Total number of RPCs completed on the server, regardless of success or failure.')),
      family(2, counter('grpc_server_msg_received_total', 'Total number of RPC stream messages received on the server.')),
      family(3, counter('grpc_server_msg_sent_total', 'Total number of gRPC stream messages sent by the server.')),
    ];
    if (this.histogram) {
      const name = 'grpc_server_handling_seconds';
      families.push(family(4, `# HELP ${name} Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.\n# TYPE ${name} histogram`));
    }
    return `${families.join('\n\n')}\n`;
  }

  /** One method's lines of each family, in the order `render` prints the families. */
  private renderSeries(s: MethodSeries): string[] {
    const out = [
      `grpc_server_started_total{${s.labels}} ${s.started}`,
      [...s.handled].map(([code, n]) => `grpc_server_handled_total{${s.labels},grpc_code="${code}"} ${n}`).join('\n'),
      `grpc_server_msg_received_total{${s.labels}} ${s.received}`,
      `grpc_server_msg_sent_total{${s.labels}} ${s.sent}`,
    ];
    if (this.histogram) {
      const name = 'grpc_server_handling_seconds';
      const lines: string[] = [];
      let cumulative = 0;
      BUCKETS.forEach((le, i) => {
        cumulative += s.buckets?.[i] ?? 0;
        lines.push(`${name}_bucket{le="${le}",${s.labels}} ${cumulative}`);
      });
      lines.push(`${name}_bucket{le="+Inf",${s.labels}} ${s.count}`, `${name}_sum{${s.labels}} ${s.sum}`, `${name}_count{${s.labels}} ${s.count}`);
      out.push(lines.join('\n'));
    }
    return out;
  }
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
  options: { log?: Logger; maxInFlight?: number; sources?: ReadonlyArray<MetricsSource> } = {},
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
        (parts) => {
          let length = 0;
          for (const p of parts) length += Buffer.byteLength(p);
          res.writeHead(200, { 'content-type': registry.contentType, 'content-length': length });
          // one writev for all parts (end uncorks)
          res.cork();
          for (const p of parts) res.write(p);
          res.end();
        },
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
