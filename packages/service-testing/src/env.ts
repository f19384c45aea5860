// A service under test on a unix socket, over the real stores it runs on in the daemon:
// a local content store, a LevelDB metadata database publishing to an event exchange,
// and, when asked for, a GC scheduler and a native snapshotter — all in one temporary
// directory that cleanup() removes.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection, type ConnectionOptions } from '@containerd-ts/client';
import { LocalContentStore } from '@containerd-ts/content-local';
import { Exchange } from '@containerd-ts/events-exchange';
import { GCScheduler, type SchedulerConfig } from '@containerd-ts/gc-scheduler';
import type { GrpcServiceRegistration } from '@containerd-ts/grpc-server';
import { type GCStats, MetadataDB } from '@containerd-ts/metadata-level';
import { NativeSnapshotter } from '@containerd-ts/snapshotter-native';
import { Server, ServerCredentials } from '@grpc/grpc-js';

/** The stores a service is built on. */
export interface ServiceParts {
  dir: string;
  db: MetadataDB;
  backend: LocalContentStore;
  exchange: Exchange;
  /** Present when the options asked for `gc`. */
  scheduler: GCScheduler<GCStats> | undefined;
  /** Present when the options asked for `native` (registered as snapshotter `native`). */
  native: NativeSnapshotter | undefined;
  /** The unix socket the services will be served on (as a shim's `-address`). */
  socket: string;
  /** Runs `close` at cleanup, before the stores close (what services started beside them). */
  defer(close: () => Promise<void> | void): void;
}

export interface ServiceEnvOptions {
  /** Prefix of the temporary directory (the package's name). */
  name: string;
  /** A GC scheduler on the database, started, with these settings. */
  gc?: SchedulerConfig;
  /** A native snapshotter in the directory, known to the database as `native`. */
  native?: boolean;
  /** Whether the database publishes its events to the exchange (default true). */
  publish?: boolean;
  /** The services to serve, built from the parts. */
  services(parts: ServiceParts): GrpcServiceRegistration[] | Promise<GrpcServiceRegistration[]>;
}

export interface ServiceEnv extends Omit<ServiceParts, 'defer'> {
  /** A client connection to the socket (namespace `default` unless given), closed by cleanup. */
  connect(options?: ConnectionOptions): Connection;
  cleanup(): Promise<void>;
}

/** GC settings under which only what a test asks for (a `sync` delete, scheduleAndWait) collects. */
export const manualGC: SchedulerConfig = {
  pauseThreshold: 0.02,
  deletionThreshold: 0,
  mutationThreshold: 1_000_000,
  scheduleDelayMs: 0,
  startupDelayMs: 3_600_000,
};

/** A ServiceEnv with its GC scheduler (the options asked for `gc`). */
export type ServiceEnvWithGC = ServiceEnv & { scheduler: GCScheduler<GCStats> };

export function createServiceEnv(options: ServiceEnvOptions & { gc: SchedulerConfig }): Promise<ServiceEnvWithGC>;
export function createServiceEnv(options: ServiceEnvOptions): Promise<ServiceEnv>;
export async function createServiceEnv(options: ServiceEnvOptions): Promise<ServiceEnv> {
  const dir = await mkdtemp(join(tmpdir(), `${options.name}-`));
  const closers: Array<() => Promise<void> | void> = [() => rm(dir, { recursive: true, force: true })];
  const cleanup = async () => {
    for (const close of closers.splice(0).reverse()) await close();
  };
  try {
    const backend = await LocalContentStore.open(join(dir, 'content'));
    const exchange = new Exchange();
    const native = options.native ? await NativeSnapshotter.open(join(dir, 'native')) : undefined;
    if (native) closers.push(() => native.close());
    const db = await MetadataDB.open({
      path: join(dir, 'meta.leveldb'),
      content: backend,
      ...(native ? { snapshotters: new Map([['native', native]]) } : {}),
      ...(options.publish === false ? {} : { publisher: exchange }),
      sync: false,
    });
    closers.push(() => db.close());
    let scheduler: GCScheduler<GCStats> | undefined;
    if (options.gc) {
      const s = new GCScheduler<GCStats>(db, options.gc);
      scheduler = s;
      db.setScheduler(s);
      s.start();
      closers.push(() => s.stop());
    }
    const socket = join(dir, 'grpc.sock');
    const parts: ServiceParts = { dir, db, backend, exchange, scheduler, native, socket, defer: (close) => closers.push(close) };
    const server = new Server();
    for (const { definition, implementation } of await options.services(parts)) server.addService(definition, implementation);
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix://${socket}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
    closers.push(() => server.forceShutdown());
    const conns: Connection[] = [];
    closers.push(() => {
      for (const c of conns.splice(0)) c.close();
    });
    const { defer: _defer, ...env } = parts;
    return {
      ...env,
      connect(connOptions = { namespace: 'default' }) {
        const c = new Connection(socket, connOptions);
        conns.push(c);
        return c;
      },
      cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
