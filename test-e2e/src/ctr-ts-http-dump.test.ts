// Issue 11: `--http-dump` and `--http-trace` of the registry commands, with Debian's ctr and
// with ctr-ts, each in a namespace of its own, on containerd-ts and on Debian's containerd,
// against the loopback registry. --http-dump writes every request and response as Go's
// httputil.DumpRequest/DumpResponse (bodies included) through logrus's Writer: one info line
// per line of the dump, an unfinished line (a body without a newline at its end) joined to the
// next dump's first line. --http-trace logs httptrace's GotConn at debug level: nothing
// without --debug. Compared: the lines, their order and their text, with times, the `Date`
// header and the User-Agent value (ctr-ts sends its own) made neutral.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENTS, type Sessions, expectSameDump, httpDumpLines as dumpLines, startSessions } from './ctr-sessions.js';

describe('ctr-ts --http-dump and --http-trace print what ctr prints, on containerd-ts and containerd', () => {
  let sessions: Sessions | undefined;

  beforeAll(async () => {
    sessions = await startSessions({ namespace: 'hd', tag: 'h' });
  }, 180_000);

  afterAll(async () => {
    await sessions?.stop([]);
  }, 300_000);

  it('--http-dump: the same dump lines for a resolve (HEAD) and for a whole pull (manifest, config and layer bodies)', async () => {
    const s = sessions!;
    for (const d of s.daemons) {
      const dumps: Record<string, string[][]> = { ctr: [], 'ctr-ts': [] };
      for (const c of CLIENTS) {
        // The image is there: the pull only resolves.
        const resolved = await s.run(c, d, ['images', 'pull', '--plain-http', '--http-dump', s.image.ref]);
        expect(resolved.code, `${d.name} ${c}: ${resolved.stderr}`).toBe(0);
        dumps[c]!.push(dumpLines(resolved.stderr));
        // Debian's ctr removes the image from both clients' namespaces (its --sync collects the
        // blobs at once): containerd shares a blob another namespace has without fetching it.
        for (const ns of Object.values(d.namespaces)) {
          const removed = await s.run('ctr', d, ['-n', ns, 'images', 'rm', '--sync', s.image.ref]);
          expect(removed.code, removed.stderr).toBe(0);
        }
        // Nothing is there: manifest, config and layer are fetched one after the other.
        const pulled = await s.run(c, d, ['images', 'pull', '--plain-http', '--max-concurrent-downloads', '1', '--http-dump', s.image.ref]);
        expect(pulled.code, `${d.name} ${c}: ${pulled.stderr.slice(-2000)}`).toBe(0);
        dumps[c]!.push(dumpLines(pulled.stderr));
      }
      expect(dumps['ctr-ts']![0], d.name).toEqual(dumps.ctr![0]);
      expect(dumps['ctr-ts']![0]!.slice(0, 5), d.name).toEqual([
        'time=<time> level=info msg="HEAD /v2/busybox/manifests/1 HTTP/1.1"',
        `time=<time> level=info msg="Host: ${s.image.registry.host}"`,
        'time=<time> level=info msg="Accept: application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, */*"',
        'time=<time> level=info msg="User-Agent: <agent>"',
        'time=<time> level=info',
      ]);
      const [theirs, ours] = [dumps.ctr![1]!, dumps['ctr-ts']![1]!];
      // The layer's bytes are in the dump too: thousands of lines, each quoted as Go quotes it.
      expect(ours.length, d.name).toBeGreaterThan(1000);
      expectSameDump(ours, theirs, d.name);
      expect(ours.filter((l) => / HTTP\/1\.1"$/.test(l)).map((l) => l.replace(/^.*msg=".*?(HEAD|GET) /, '$1 ')), d.name).toEqual([
        'HEAD /v2/busybox/manifests/1 HTTP/1.1"',
        expect.stringMatching(/^GET \/v2\/busybox\/manifests\/sha256:[0-9a-f]{64} HTTP\/1\.1"$/),
        expect.stringMatching(/^GET \/v2\/busybox\/blobs\/sha256:[0-9a-f]{64} HTTP\/1\.1"$/),
        expect.stringMatching(/^GET \/v2\/busybox\/blobs\/sha256:[0-9a-f]{64} HTTP\/1\.1"$/),
      ]);
    }
  }, 600_000);

  it('--http-trace: nothing without --debug; with it, the same connection lines (GotConn) as ctr', async () => {
    const s = sessions!;
    for (const d of s.daemons) {
      const quiet = await Promise.all(CLIENTS.map((c) => s.run(c, d, ['images', 'pull', '--plain-http', '--http-trace', s.image.ref])));
      for (const r of quiet) expect({ code: r.code, stderr: dumpLines(r.stderr) }, d.name).toEqual({ code: 0, stderr: [] });
      const traced: Record<string, string[]> = {};
      for (const c of CLIENTS) {
        const r = await s.run(c, d, ['--debug', 'images', 'pull', '--plain-http', '--http-trace', s.image.ref]);
        expect(r.code, r.stderr).toBe(0);
        traced[c] = dumpLines(r.stderr).filter((l) => l.includes('msg="Connection successful"'));
      }
      expect(traced['ctr-ts'], d.name).toEqual(traced.ctr);
      expect(traced['ctr-ts'], d.name).toEqual([`time=<time> level=debug msg="Connection successful" remote_addr="${s.image.registry.host}" reused=false`]);
    }
  }, 600_000);
});
