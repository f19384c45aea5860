// createDaemon: the whole daemon from a list of plugin definitions and a config —
// directories, plugin graph, gRPC server on the unix socket (and TCP when set), ttrpc
// server on `[ttrpc] address` (where shims forward events), and an orderly stop. The containerd-ts app and custom minimal runtimes are thin shells on it.
import { readFileSync, writeFileSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { type DaemonConfig, daemonConfigSchema, PARSE_ONCE } from '@containerd-ts/config';
import { activityInterceptor, answerMalformed, type GrpcServicePlugin, strictRequests } from '@containerd-ts/grpc-server';
import { type AnyPluginDefinition, type Logger, PluginRegistry, PluginType } from '@containerd-ts/plugin';
import { withProxyPlugins } from '@containerd-ts/proxy';
import { TtrpcServer, type TtrpcServiceRegistration, hasTtrpcServices } from '@containerd-ts/ttrpc';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { type GrpcUnixListener, KEEPALIVE, listenGrpcUnix } from './connections.js';
import { prepareTopDirectories } from './directories.js';
import { IdleMemory, MemoryRelease } from './idle-memory.js';
import { createLogger } from './logger.js';
// the metrics and debug endpoints load their libraries (prom-client, @datadog/pprof) only when configured
import type { DebugEndpoint } from './debug.js';
import type { MetricsEndpoint } from './metrics.js';
import { lockRoot, type RootLock } from './root-lock.js';
import { prepareSocket, secureSocket } from './socket.js';
import { answerUnknownMethodsAsGo, serviceNames } from './unknown-service.js';

export interface DaemonOptions {
  /**
   * Every plugin this daemon is made of, in registration order. The config's
   * `[proxy_plugins.<name>]` entries are added to them (content proxies first, so they
   * replace the local content store; the others last).
   */
  plugins: readonly AnyPluginDefinition[];
  /** The loaded config (defaults for anything absent). */
  config?: DaemonConfig;
  log?: Logger;
  /** What `ctr version` shows for the server. */
  version?: { version: string; revision: string };
}

export interface Daemon {
  readonly config: DaemonConfig;
  readonly registry: PluginRegistry;
  readonly log: Logger;
  /** The gRPC unix socket path. */
  readonly address: string;
  /** The ttrpc unix socket path (`[ttrpc] address`, default `<address>.ttrpc`). */
  readonly ttrpcAddress: string;
  /** Where `/v1/metrics` is served once started (`[metrics] address`, the port resolved); undefined when off. */
  readonly metricsAddress: string | undefined;
  /** Initialises plugins and starts serving. Rejects with a one-line error on any start problem. */
  start(): Promise<void>;
  /** Stops serving, closes plugins in reverse order, removes the socket. Idempotent. */
  stop(): Promise<void>;
}

function setOOMScore(score: number): void {
  if (score === 0) return;
  try {
    const current = Number(readFileSync('/proc/self/oom_score_adj', 'utf8'));
    // containerd never lowers the score below what it was started with
    if (score < current) return;
    writeFileSync('/proc/self/oom_score_adj', String(score));
  } catch {
    // not on Linux or not permitted: containerd ignores it too
  }
}

/** `process` as the event emitter it is (its typings list node's own events only). */
const processEvents: NodeJS.EventEmitter = process;

/** Quiet time after the last call before memory is given back. */
const IDLE_RELEASE_MS = 2000;
/** Further quiet time after a release before the young generation is shrunk. */
const IDLE_SETTLE_MS = 5000;
/** Quiet time after start-up before what starting left behind is given back (~2.5 MB). */
const IDLE_AFTER_START_MS = 300;

export function createDaemon(options: DaemonOptions): Daemon {
  const config = options.config ?? daemonConfigSchema.parse({}, PARSE_ONCE);
  const log = options.log ?? createLogger(config.debug.level, { format: config.debug.format });
  const address = config.grpc.address;
  const ttrpcAddress = config.ttrpc.address || `${address}.ttrpc`;
  const registry = new PluginRegistry({
    definitions: withProxyPlugins(options.plugins, config.proxy_plugins),
    configFor: (uri) => config.plugins[uri],
    disabled: config.disabled_plugins,
    required: config.required_plugins,
    daemon: {
      root: config.root,
      state: config.state,
      address,
      ttrpcAddress,
      version: options.version?.version ?? 'v0.1.0',
      revision: options.version?.revision ?? 'containerd-ts',
      timeouts: config.timeouts,
      debugLevel: config.debug.level,
    },
    log,
  });
  let server: Server | undefined;
  let ttrpcServer: TtrpcServer | undefined;
  let listener: GrpcUnixListener | undefined;
  let metricsEndpoint: MetricsEndpoint | undefined;
  let debugEndpoint: DebugEndpoint | undefined;
  let rootLock: RootLock | undefined;
  let stopping: Promise<void> | undefined;
  let bound = false;
  let ttrpcBound = false;
  // Memory taken by a burst of calls goes back once they have stopped for a moment.
  const memory = new MemoryRelease();
  const idleMemory = new IdleMemory({
    quietMs: IDLE_RELEASE_MS,
    release: (afterStart) => {
      const t0 = performance.now();
      const before = process.memoryUsage.rss();
      const collected = memory.release(afterStart);
      log.debug(
        { ms: Math.round(performance.now() - t0), rssBefore: before, rssAfter: process.memoryUsage.rss(), collected, afterStart },
        'released memory after going idle',
      );
    },
    settle: { afterMs: IDLE_SETTLE_MS, run: () => memory.settle() },
    busy: () => (listener?.activeCalls() ?? 0) > 0,
  });
  const touch = () => idleMemory.touch();

  /**
   * The ttrpc services plugins offer: every io.containerd.ttrpc.v1 plugin, and any
   * io.containerd.grpc.v1 plugin whose instance also has `ttrpcServices` (as containerd's
   * events plugin serves both APIs).
   */
  const ttrpcServices = (): Array<{ uri: string; service: TtrpcServiceRegistration }> => {
    const out: Array<{ uri: string; service: TtrpcServiceRegistration }> = [];
    for (const type of [PluginType.grpc, PluginType.ttrpc] as const) {
      for (const [id, instance] of registry.getAll(type)) {
        if (!hasTtrpcServices(instance)) continue;
        for (const service of instance.ttrpcServices) out.push({ uri: `${type}.${id}`, service });
      }
    }
    return out;
  };

  const bind = (srv: Server, target: string, creds: ServerCredentials) =>
    new Promise<void>((resolve, reject) => {
      srv.bindAsync(target, creds, (err) => (err ? reject(new Error(`failed to serve on ${target}: ${err.message}`)) : resolve()));
    });

  return {
    config,
    registry,
    log,
    address,
    ttrpcAddress,
    get metricsAddress() {
      return metricsEndpoint?.address;
    },
    async start() {
      const started = performance.now();
      await prepareTopDirectories(config.root, config.state, log, () => {
        rootLock = lockRoot(config.root);
      });
      await prepareSocket(address);
      await prepareSocket(ttrpcAddress);
      setOOMScore(config.oom_score);
      await registry.initAll();
      // [metrics] address: the gRPC metrics, Node's process metrics and what plugins add
      const metrics = config.metrics.address ? { ...(await import('./metrics.js')), ...(await import('prom-client')) } : undefined;
      const metricsRegistry = metrics ? new metrics.Registry() : undefined;
      const grpcMetrics = metrics ? new metrics.GrpcServerMetrics(config.metrics.grpc_histogram) : undefined;
      const metricsSources: Array<() => Promise<string | readonly string[]>> = grpcMetrics ? [async () => grpcMetrics.render()] : [];
      if (metrics && metricsRegistry) {
        metrics.registerProcessMetrics(metricsRegistry);
        for (const record of registry.list()) {
          if (record.status !== 'ok' || !metrics.hasMetrics(record.instance)) continue;
          try {
            await record.instance.registerMetrics?.(metricsRegistry);
            const render = record.instance.renderMetrics?.bind(record.instance);
            if (render) metricsSources.push(render);
          } catch (err) {
            log.warn({ id: `${record.type}.${record.id}`, error: (err as Error).message }, 'failed to register metrics');
          }
        }
      }
      const srv = new Server({
        'grpc.max_receive_message_length': config.grpc.max_recv_message_size,
        'grpc.max_send_message_length': config.grpc.max_send_message_size,
        // Nothing reads channelz (containerd serves none), and its per-call bookkeeping
        // (counters, timestamps, closures per call) is on every request's path.
        'grpc.enable_channelz': 0,
        // Dead peers and peers stopped in the middle of a frame are found by pinging.
        ...KEEPALIVE,
        // Calls on the unix socket are seen by its listener (listenGrpcUnix below):
        // an interceptor on every call costs far more. Calls over TCP come through grpc-js's
        // own listener, so with a TCP address the interceptor watches them.
        interceptors: [...(config.grpc.tcp_address ? [activityInterceptor(touch)] : []), ...(grpcMetrics ? [grpcMetrics.interceptor] : [])],
      });
      const served = new Set<string>();
      for (const [id, plugin] of registry.getAll(PluginType.grpc)) {
        for (const s of (plugin as GrpcServicePlugin).services) {
          try {
            srv.addService(strictRequests(s.definition), answerMalformed(s.definition, s.implementation));
            grpcMetrics?.preRegister(Object.values(s.definition));
            for (const name of serviceNames(Object.values(s.definition).map((m) => m.path))) served.add(name);
          } catch (err) {
            log.warn({ id: `${PluginType.grpc}.${id}`, error: (err as Error).message }, 'failed to register gRPC service');
          }
        }
      }
      answerUnknownMethodsAsGo(srv, served);
      const tsrv = new TtrpcServer({ onError: (err) => log.warn({ error: err.message }, 'ttrpc connection error') });
      for (const { uri, service } of ttrpcServices()) {
        try {
          tsrv.register(service.name, service.methods);
        } catch (err) {
          log.warn({ id: uri, error: (err as Error).message }, 'failed to register ttrpc service');
        }
      }
      ttrpcServer = tsrv;
      server = srv;
      listener = await listenGrpcUnix(srv, address, { log, onActivity: touch });
      bound = true;
      await secureSocket(address, config.grpc.uid, config.grpc.gid);
      await tsrv.listen(ttrpcAddress).catch((err: Error) => {
        throw new Error(`failed to serve ttrpc on ${ttrpcAddress}: ${err.message.replace(/^ttrpc: failed to listen on \S+: /, '')}`);
      });
      ttrpcBound = true;
      await secureSocket(ttrpcAddress, config.ttrpc.uid, config.ttrpc.gid);
      if (config.grpc.tcp_address) {
        const { tcp_tls_cert: cert, tcp_tls_key: key, tcp_tls_ca: ca } = config.grpc;
        const creds =
          cert && key
            ? ServerCredentials.createSsl(ca ? readFileSync(ca) : null, [{ cert_chain: readFileSync(cert), private_key: readFileSync(key) }], Boolean(ca))
            : ServerCredentials.createInsecure();
        await bind(srv, config.grpc.tcp_address, creds);
        log.info({ address: config.grpc.tcp_address }, 'serving on TCP');
      }
      if (metrics && metricsRegistry) {
        metricsEndpoint = await metrics.serveMetrics(config.metrics.address, metricsRegistry, { log, sources: metricsSources });
        log.info({ address: metricsEndpoint.address }, 'serving metrics');
      }
      if (config.debug.address) {
        const { serveDebug } = await import('./debug.js').catch((err: NodeJS.ErrnoException) => {
          // A daemon built without the profiler (e.g. a minimal runtime) says what it lacks.
          if (err.code === 'MODULE_NOT_FOUND' || err.code === 'ERR_MODULE_NOT_FOUND') {
            throw new Error(`[debug] address needs the @datadog/pprof package, which this daemon does not install: ${err.message}`);
          }
          throw err;
        });
        debugEndpoint = await serveDebug({ address: config.debug.address, uid: config.debug.uid, gid: config.debug.gid, plugins: () => registry.list(), log });
        log.info({ address: config.debug.address }, 'serving debug');
      }
      log.info({ address }, 'serving');
      log.info({ address: ttrpcAddress }, 'serving ttrpc');
      log.info(
        { seconds: ((performance.now() - started) / 1000).toFixed(3), uptime: process.uptime().toFixed(3) },
        'containerd-ts successfully booted',
      );
      // For the launcher of a bundled daemon (@containerd-ts/daemon-bundle): writes its code
      // cache and lets V8 optimise from now on.
      processEvents.emit('daemon:serving');
      idleMemory.started(IDLE_AFTER_START_MS);
    },
    stop() {
      stopping ??= (async () => {
        const srv = server;
        void listener?.close();
        if (srv) {
          await new Promise<void>((resolve) => {
            const force = setTimeout(() => {
              srv.forceShutdown();
              resolve();
            }, 500);
            srv.tryShutdown(() => {
              clearTimeout(force);
              resolve();
            });
          });
        }
        await metricsEndpoint?.close();
        await debugEndpoint?.close();
        // ttrpc first: shims forwarding events get a closed connection, not a stopped exchange
        await ttrpcServer?.close();
        if (ttrpcBound) await unlink(ttrpcAddress).catch(() => {});
        await registry.close();
        if (bound) {
          await unlink(address).catch(() => {});
          log.info({}, 'stopped');
        }
        idleMemory.close();
        rootLock?.release();
      })();
      return stopping;
    },
  };
}
