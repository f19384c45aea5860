// ctr-ts pprof: the daemon's profiles from its debug endpoint (`[debug] address`, a unix
// socket serving net/http/pprof's paths), written to stdout as ctr pprof writes them.
import { request } from 'node:http';
import type { Command, Context } from '../cli.js';
import { CommandError } from '../context.js';

export const DEFAULT_DEBUG_ADDRESS = '/run/containerd-ts/debug.sock';

/** Go's %v of a float64 number of seconds (the shortest representation: 30, 1.5). */
const goFloat = (n: number) => String(n);

/** GET `path` on the debug socket; the body is streamed to stdout. */
function get(ctx: Context, path: string): Promise<void> {
  const socketPath = ctx.string('debug-socket');
  const url = `http://.${path}`;
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, host: '.' }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new CommandError(`http get failed with status: ${res.statusCode} ${res.statusMessage ?? ''}`.trimEnd()));
        return;
      }
      res.on('data', (chunk: Buffer) => {
        if (!process.stdout.write(chunk)) {
          res.pause();
          process.stdout.once('drain', () => res.resume());
        }
      });
      res.on('end', () => resolve());
      res.on('error', (err) => reject(new CommandError(`${err.message}`)));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      const why: { [code: string]: string } = { ENOENT: 'no such file or directory', ECONNREFUSED: 'connection refused', EACCES: 'permission denied' };
      reject(new CommandError(`Get ${JSON.stringify(url)}: dial unix ${socketPath}: connect: ${why[err.code ?? ''] ?? err.message}`));
    });
    req.end();
  });
}

const profileCommand = (name: string, usage: string, path: string): Command => ({ name, usage, action: (ctx) => get(ctx, path) });

const timed = (name: string, usage: string, flagUsage: string, defaultMs: number, path: string): Command => ({
  name,
  usage,
  flags: [{ name: 'seconds', aliases: ['s'], type: 'duration', usage: flagUsage, value: defaultMs }],
  action: (ctx) => get(ctx, `${path}?seconds=${goFloat(ctx.number('seconds') / 1000)}`),
});

export const pprofCommand: Command = {
  name: 'pprof',
  usage: 'provide golang pprof outputs for containerd',
  flags: [{ name: 'debug-socket', aliases: ['d'], type: 'string', usage: "socket path for containerd's debug server", value: DEFAULT_DEBUG_ADDRESS }],
  subcommands: [
    profileCommand('block', 'goroutine blocking profile', '/debug/pprof/block'),
    profileCommand('goroutines', 'dump goroutine stack dump', '/debug/pprof/goroutine?debug=2'),
    profileCommand('heap', 'dump heap profile', '/debug/pprof/heap'),
    timed('profile', 'CPU profile', 'duration for collection (seconds)', 30_000, '/debug/pprof/profile'),
    profileCommand('threadcreate', 'goroutine thread creating profile', '/debug/pprof/threadcreate'),
    timed('trace', 'collect execution trace', 'trace time (seconds)', 5_000, '/debug/pprof/trace'),
  ],
};
