// Issue 10: the debug endpoint at `[debug] address`. Debian's `ctr pprof` and Go's
// `go tool pprof` read containerd-ts's heap and CPU (wall-time) profiles as they read
// containerd's; `/debug/vars` is JSON with the daemon's state and every plugin's.
import { stat } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedDaemon, ctr, referenceConfig, requireTools, run, startDaemon, startReference } from './harness.js';

type Reference = Awaited<ReturnType<typeof startReference>>;

function getUnix(socketPath: string, path: string): Promise<{ status: number; body: string; type: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: res.headers['content-type'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** `ctr pprof -d SOCK <args>` written to a file, then `go tool pprof -top` of it. */
async function pprofTop(dir: string, socket: string, name: string, ...args: string[]): Promise<string> {
  // through the shell: the profile is binary, ctr writes it to stdout
  const file = join(dir, `${name}.pb.gz`);
  const out = await run('sh', ['-c', 'ctr pprof -d "$0" "$@" > "$OUT"', socket, ...args], { env: { ...process.env, OUT: file }, timeoutMs: 60_000 });
  expect(out.code, out.stderr).toBe(0);
  expect((await stat(file)).size).toBeGreaterThan(0);
  const top = await run('go', ['tool', 'pprof', '-top', file], { timeoutMs: 120_000 });
  expect(top.code, top.stderr).toBe(0);
  return top.stdout + top.stderr;
}

describe('[debug] address on containerd-ts and containerd', () => {
  let ts: StartedDaemon;
  let ref: Reference;
  const debugOf = (dir: string) => join(dir, 'debug.sock');

  beforeAll(async () => {
    requireTools('the debug endpoint test', 'go', 'ctr');
    [ts, ref] = await Promise.all([
      startDaemon({ config: 'version = 2\n[debug]\n  address = "{{dir}}/debug.sock"\n' }),
      startReference({ config: referenceConfig('[debug]', '  address = "{{dir}}/debug.sock"') }),
    ]);
  }, 120_000);

  afterAll(async () => {
    await ts?.cleanup();
    await ref?.stop();
  }, 60_000);

  it('serves on a unix socket with containerd\'s mode', async () => {
    for (const dir of [ts.dir, ref.dir]) expect((await stat(debugOf(dir))).mode & 0o777).toBe(0o660);
  });

  it('/debug/vars is JSON with the command line, memory and every plugin\'s state', async () => {
    const r = await getUnix(debugOf(ts.dir), '/debug/vars');
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^application\/json/);
    const vars = JSON.parse(r.body) as { cmdline: string[]; memstats: { rss: number }; plugins: Array<{ type: string; id: string; status: string; exports: Record<string, string> }> };
    expect(vars.cmdline).toContain(ts.socket);
    expect(vars.memstats.rss).toBeGreaterThan(0);
    const listed = (await ctr(ts.socket, 'plugins', 'ls')).stdout.split('\n').slice(1).filter(Boolean);
    expect(vars.plugins.length).toBe(listed.length);
    expect(vars.plugins.find((p) => p.id === 'content')).toMatchObject({ type: 'io.containerd.content.v1', status: 'ok', exports: { root: join(ts.root, 'io.containerd.content.v1.content') } });
    expect(vars.plugins.find((p) => p.id === 'zfs')?.status).toBe('skip');
    // containerd's is expvar JSON with the same two standard keys
    const theirs = await getUnix(debugOf(ref.dir), '/debug/vars');
    expect(Object.keys(JSON.parse(theirs.body) as object)).toEqual(expect.arrayContaining(['cmdline', 'memstats']));
  });

  it('ctr pprof heap: go tool pprof lists the daemon\'s allocating functions', async () => {
    // some work for the daemon to allocate on
    for (let i = 0; i < 20; i++) await ctr(ts.socket, 'plugins', 'ls');
    const ours = await pprofTop(ts.dir, debugOf(ts.dir), 'heap', 'heap');
    expect(ours).toMatch(/Type: inuse_space/);
    // the top entry's size, in whatever unit pprof picks for it (kB, or MB when a large allocation was sampled)
    expect(ours).toMatch(/flat%\s+sum%\s+cum\s+cum%\n\s+[\d.]+(?:B|kB|MB|GB)\s/);
    const theirs = await pprofTop(ref.dir, debugOf(ref.dir), 'heap-ref', 'heap');
    expect(theirs).toMatch(/Type: inuse_space/);
  }, 120_000);

  it('ctr pprof profile --seconds 2s: a 2 s profile go tool pprof reads', async () => {
    const busy = (async () => {
      const end = Date.now() + 1500;
      while (Date.now() < end) await ctr(ts.socket, 'plugins', 'ls');
    })();
    const ours = await pprofTop(ts.dir, debugOf(ts.dir), 'cpu', 'profile', '--seconds', '2s');
    await busy;
    expect(ours).toMatch(/Duration: 2(\.\d+)?s/);
    expect(ours).toMatch(/Total samples = \d+/);
    const theirs = await pprofTop(ref.dir, debugOf(ref.dir), 'cpu-ref', 'profile', '--seconds', '2s');
    expect(theirs).toMatch(/Duration: 2(\.\d+)?s/);
  }, 120_000);

  it('answers bad requests as net/http/pprof does, and is gone once the daemon stops', async () => {
    expect(await getUnix(debugOf(ts.dir), '/debug/pprof/profile?seconds=x')).toMatchObject({ status: 400 });
    expect(await getUnix(debugOf(ts.dir), '/debug/pprof/nope')).toMatchObject({ status: 404, body: 'Unknown profile\n' });
    expect(await getUnix(debugOf(ref.dir), '/debug/pprof/nope')).toMatchObject({ status: 404, body: 'Unknown profile\n' });
    await ts.stop();
    await expect(stat(debugOf(ts.dir))).rejects.toMatchObject({ code: 'ENOENT' });
  }, 60_000);
});
