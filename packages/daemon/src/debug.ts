// The debug endpoint at `[debug] address` (a unix socket, off by default), as containerd's
// ServeDebug: `/debug/vars` (expvar-style JSON: the daemon's and every plugin's state) and
// `/debug/pprof/heap`, `/debug/pprof/profile?seconds=N` answering in the pprof format, so
// `ctr pprof` and `go tool pprof` read them. Heap sampling runs while the endpoint does.
import { type Server as HttpServer, createServer } from 'node:http';
import { unlink } from 'node:fs/promises';
import { heap, encode, time } from '@datadog/pprof';
import type { Logger, PluginRecord } from '@containerd-ts/plugin';
import { prepareSocket, secureSocket } from './socket.js';

export interface DebugEndpoint {
  readonly address: string;
  close(): Promise<void>;
}

export interface DebugOptions {
  address: string;
  uid: number;
  gid: number;
  /** Every plugin the daemon loaded, for /debug/vars. */
  plugins(): readonly PluginRecord[];
  log?: Logger;
}

/** Sampling interval of the heap profiler (bytes between samples, Go's MemProfileRate is 512 KiB). */
const HEAP_INTERVAL = 512 * 1024;
const STACK_DEPTH = 64;
/** Go's net/http/pprof default when `seconds` is absent. */
const DEFAULT_PROFILE_SECONDS = 30;

/** `/debug/vars`: Go's expvar `cmdline` and `memstats`, and the plugins as introspection shows them. */
export function debugVars(plugins: readonly PluginRecord[]): Record<string, unknown> {
  const mem = process.memoryUsage();
  return {
    cmdline: process.argv,
    memstats: { rss: mem.rss, heapTotal: mem.heapTotal, heapUsed: mem.heapUsed, external: mem.external, arrayBuffers: mem.arrayBuffers },
    uptime: process.uptime(),
    plugins: plugins.map((p) => ({
      type: p.type,
      id: p.id,
      status: p.status,
      requires: p.requires,
      exports: p.meta.exports,
      capabilities: p.meta.capabilities,
      platforms: p.meta.platforms,
      ...(p.error ? { error: p.error.message } : {}),
    })),
  };
}

export async function serveDebug(options: DebugOptions): Promise<DebugEndpoint> {
  const { address } = options;
  await prepareSocket(address);
  heap.start(HEAP_INTERVAL, STACK_DEPTH);
  let profiling = false;
  const server: HttpServer = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://debug');
    const fail = (code: number, text: string) => res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' }).end(`${text}\n`);
    const sendProfile = (data: Buffer, name: string) =>
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-disposition': `attachment; filename="${name}"` }).end(data);
    switch (url.pathname) {
      case '/debug/vars':
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(`${JSON.stringify(debugVars(options.plugins()), null, 1)}\n`);
        return;
      case '/debug/pprof/':
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('Types of profiles available:\nheap\nprofile\n');
        return;
      case '/debug/pprof/heap':
        encode(heap.profile()).then(
          (data) => sendProfile(data, 'heap'),
          (err: Error) => fail(500, `Could not write heap profile: ${err.message}`),
        );
        return;
      case '/debug/pprof/profile': {
        const raw = url.searchParams.get('seconds');
        const seconds = raw === null || raw === '' ? DEFAULT_PROFILE_SECONDS : Number(raw);
        if (!Number.isFinite(seconds) || seconds <= 0) {
          fail(400, 'Bad Request: invalid value for "seconds"');
          return;
        }
        if (profiling) {
          fail(500, 'Could not enable CPU profiling: cpu profiling already in use');
          return;
        }
        profiling = true;
        time
          .profile({ durationMillis: seconds * 1000 })
          .then((profile) => encode(profile))
          .then(
            (data) => sendProfile(data, 'profile'),
            (err: Error) => fail(500, `Could not enable CPU profiling: ${err.message}`),
          )
          .finally(() => {
            profiling = false;
          });
        return;
      }
      default:
        if (url.pathname.startsWith('/debug/pprof/')) {
          fail(404, 'Unknown profile');
          return;
        }
        fail(404, '404 page not found');
    }
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(address, () => resolve());
    });
    await secureSocket(address, options.uid, options.gid);
  } catch (err) {
    heap.stop();
    server.close();
    throw new Error(`failed to get listener for debug endpoint: ${(err as Error).message}`);
  }
  return {
    address,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      heap.stop();
      await unlink(address).catch(() => {});
    },
  };
}
