// Issue 11: `content edit`, `content fetch-object` and `content push-object` with Debian's ctr
// and with ctr-ts, each client in a namespace of its own, on containerd-ts and on Debian's
// containerd, against the loopback registry serving busybox. Each step runs with both
// clients and must print the same (stdout, stderr and exit code, with times, namespaces and
// names made neutral); then what the step left is checked: the edited blob in the store, the
// fetched bytes, the pushed object in the registry.
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxImage } from './busybox-image.js';
import { CLIENTS, type Client, type SessionDaemon, type Sessions, neutralDump, startSessions } from './ctr-sessions.js';
import { type RunResult, ctrTs, run } from './harness.js';
import { registryRequest } from './registry.js';

const image = busyboxImage();
const missing = `sha256:${'0'.repeat(64)}`;
const sha256 = (data: string | Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

describe('ctr-ts content edit/fetch-object/push-object print and store what ctr does, on containerd-ts and containerd', () => {
  let sessions: Sessions | undefined;
  let work: string;
  /** XDG_RUNTIME_DIR of each client: where the editor's temp file goes. */
  const xdg: Record<Client, string> = { ctr: '', 'ctr-ts': '' };
  /** Scripted editors: one that writes in place, one that puts a new file in the file's place. */
  let editor: string;
  let replacingEditor: string;

  beforeAll(async () => {
    sessions = await startSessions({ namespace: 'co', tag: 'co' });
    work = await mkdtemp(join(tmpdir(), 'ctr-ts-content-objects-'));
    for (const c of CLIENTS) {
      xdg[c] = join(work, `xdg-${c}`);
      await mkdir(xdg[c]);
    }
    // The scripted editors: one line added at the end of the file they are given.
    editor = join(work, 'edit.sh');
    await writeFile(editor, "#!/bin/sh\nsed -e '$a edited by the test' \"$1\" > \"$1.new\" && cat \"$1.new\" > \"$1\" && rm \"$1.new\"\n");
    replacingEditor = join(work, 'edit-replacing.sh');
    await writeFile(replacingEditor, "#!/bin/sh\nexec sed -i -e '$a edited by the test' \"$1\"\n");
    await Promise.all([chmod(editor, 0o755), chmod(replacingEditor, 0o755)]);
  }, 180_000);

  afterAll(async () => {
    await sessions?.stop([]);
    if (work) await rm(work, { recursive: true, force: true });
  }, 300_000);

  /** Runs `args` as `client` on `d` in its namespace, with `env` over a base without EDITOR. */
  function runAs(client: Client, d: SessionDaemon, args: readonly string[], env: Record<string, string> = {}): Promise<RunResult> {
    const { EDITOR: _, ...base } = process.env;
    return run(client === 'ctr' ? 'ctr' : ctrTs, ['-a', d.socket, '-n', d.namespaces[client], ...args.map((a) => a.replaceAll('{id}', sessions!.tag(client)))], {
      input: '',
      env: { ...base, XDG_RUNTIME_DIR: xdg[client], ...env },
    });
  }

  /** Runs each step with ctr, then ctr-ts; expects the same normalised results; gives ctr-ts's results by step. */
  async function compare(d: SessionDaemon, steps: Array<{ args: string[]; env?: Record<string, string> }>, normalize = (s: string) => s) {
    const results: RunResult[] = [];
    const differing: string[] = [];
    for (const step of steps) {
      const theirs = await runAs('ctr', d, step.args, step.env);
      const ours = await runAs('ctr-ts', d, step.args, step.env);
      const comparable = (t: string) => normalize(t.replace(/Less than a second|About a minute|\d+ (?:seconds?|minutes?)/g, '<age>'));
      const [a, b] = [comparable(sessions!.normalize(theirs, 'ctr', d)), comparable(sessions!.normalize(ours, 'ctr-ts', d).replace(/\bctr-ts content\b/g, 'ctr content'))];
      if (a !== b) differing.push(`${d.name}: ${step.args.join(' ')}\n${a}\n≠\n${b}`);
      results.push(ours);
    }
    expect(differing).toEqual([]);
    return results;
  }

  /**
   * Whether `a` is an interleaving of a beginning of `r` and a beginning of `f`: ctr writes a
   * resolve's dump and the fetches' dump through two loggers (a pipe and a goroutine each),
   * whose lines may cross on stderr; what each writes is in its order.
   */
  function interleaves(a: string[], r: string[], f: string[]): boolean {
    for (let nr = Math.max(0, a.length - f.length); nr <= Math.min(r.length, a.length); nr++) {
      const nf = a.length - nr;
      // ok[j]: a[0..i+j) is an interleaving of r[0..i) and f[0..j), row by row over i.
      let ok = Array.from({ length: nf + 1 }, (_, j) => j === 0 || f.slice(0, j).every((l, k) => l === a[k]));
      for (let i = 1; i <= nr; i++) {
        const next: boolean[] = [];
        for (let j = 0; j <= nf; j++) next[j] = (ok[j]! && r[i - 1] === a[i + j - 1]) || (j > 0 && next[j - 1]! && f[j - 1] === a[i + j - 1]);
        ok = next;
      }
      if (ok[nf]) return true;
    }
    return false;
  }

  /**
   * Runs `args` (with --http-dump) with both clients; expects `last` among ctr's dump lines,
   * and ctr's lines to be the first of ctr-ts's — or, with `second` (the first line of the
   * dump of ctr's second logger), an interleaving of the first lines of each of ctr-ts's two
   * parts. ctr exits as soon as its work is done: the pipes behind its loggers may not have
   * written the last lines by then (a body without a newline at its end waits for the next
   * dump), so ctr's dump ends early by a varying number of lines; `last` is an earlier line
   * ctr has always written. Gives ctr-ts's result and dump lines.
   */
  async function compareDumps(d: SessionDaemon, args: string[], last: RegExp, neutral = (t: string) => t, second?: RegExp) {
    const lines = (t: string, client: Client) =>
      neutral(neutralDump(t.replaceAll(sessions!.tag(client), '<id>')))
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => l.replace(/^time="[^"]*"/, 'time=<time>'));
    const theirs = await runAs('ctr', d, args);
    const ours = await runAs('ctr-ts', d, args);
    expect({ code: ours.code, stdout: ours.stdout }, d.name).toEqual({ code: theirs.code, stdout: theirs.stdout });
    const [a, b] = [lines(theirs.stderr, 'ctr'), lines(ours.stderr, 'ctr-ts')];
    expect(a.some((l) => last.test(l)), theirs.stderr).toBe(true);
    if (second) {
      const at = b.findIndex((l) => second.test(l));
      expect(at, ours.stderr).toBeGreaterThan(0);
      expect(interleaves(a, b.slice(0, at), b.slice(at)), `${d.name}\n${a.join('\n')}\n≠\n${b.join('\n')}`).toBe(true);
    } else expect(b.slice(0, a.length), d.name).toEqual(a);
    return { result: ours, lines: b };
  }

  it('content edit: the scripted editor’s bytes stored under their digest; edit errors as ctr’s', async () => {
    const config = image.config.digest;
    for (const d of sessions!.daemons) {
      const c = (...args: string[]) => ['content', ...args];
      const results = await compare(d, [
        { args: c('edit', '--editor', editor, config) },
        // $EDITOR; the same bytes again: the blob is there.
        { args: c('edit', config), env: { EDITOR: editor } },
        { args: c('edit', '--validate', 'json', config) },
        { args: c('edit', '--editor', editor, missing) },
        { args: c('edit', '--editor', editor, 'bad') },
        { args: c('edit') },
        { args: c('edit', config) },
        { args: c('edit', '--editor', 'false', config) },
        { args: c('edit', '--editor', 'exit 3;', config) },
        // ctr reads the file back through the descriptor it wrote it with: an editor that
        // replaces the file leaves the blob as it was, which is there.
        { args: c('edit', '--editor', replacingEditor, config) },
        { args: c('edit', '--editor', editor, '-h') },
      ]);
      const [edited, again, validate, unknown, bad, none, noEditor, failing, failing3, replaced] = results as RunResult[] & { length: 11 };
      // What ctr printed too (compared above), so that two equally wrong answers cannot pass.
      const expected = Buffer.concat([image.config.data, Buffer.from(image.config.data.at(-1) === 0x0a ? '' : '\n'), Buffer.from('edited by the test\n')]);
      expect(edited, d.name).toEqual({ code: 0, stdout: `${sha256(expected)}\n`, stderr: '' });
      expect(again!.code, d.name).toBe(1);
      expect(again!.stderr, d.name).toBe(`ctr-ts: commit failed: blob with expected digest ${sha256(expected)} exists: already exists\n`);
      expect(validate, d.name).toEqual({ code: 1, stdout: '', stderr: 'ctr-ts: validating the edit result not supported\n' });
      expect(unknown, d.name).toEqual({ code: 1, stdout: '', stderr: `ctr-ts: content digest ${missing}: not found\n` });
      expect(bad, d.name).toEqual({ code: 1, stdout: '', stderr: 'ctr-ts: invalid checksum digest format\n' });
      expect(none!.code, d.name).toBe(1);
      expect(noEditor, d.name).toEqual({ code: 1, stdout: '', stderr: 'ctr-ts: editor is required\n' });
      // urfave's exit error: the editor's status, no program name.
      expect(failing, d.name).toEqual({ code: 1, stdout: '', stderr: 'exit status 1\n' });
      expect(failing3, d.name).toEqual({ code: 3, stdout: '', stderr: 'exit status 3\n' });
      expect(replaced, d.name).toEqual({ code: 1, stdout: '', stderr: `ctr-ts: commit failed: blob with expected digest ${config} exists: already exists\n` });
      // The new blob holds the edited bytes, for both clients.
      for (const client of CLIENTS) {
        const got = await runAs(client, d, ['content', 'get', sha256(expected)]);
        expect(got, `${d.name} ${client}`).toEqual({ code: 0, stdout: expected.toString(), stderr: '' });
      }
      // No ingest left behind; ctr-ts leaves no temp file (ctr leaves the failed edit's).
      await compare(d, [{ args: c('active') }, { args: c('ls', `digest==${sha256(expected)}`) }]);
      expect(await readdir(xdg['ctr-ts']), d.name).toEqual([]);
    }
  }, 600_000);

  it('content fetch-object prints the manifest or blob a reference names; errors as ctr’s', async () => {
    const host = sessions!.image.registry.host;
    for (const d of sessions!.daemons) {
      const f = (...args: string[]) => ({ args: ['content', 'fetch-object', ...args] });
      const [manifest, config, layer, unknownDigest, unknownTag, noObject, refused, badRef] = await compare(d, [
        f('--plain-http', sessions!.image.ref, 'ignored'),
        // A digest names a manifest or a blob: ctr asks /manifests first, then /blobs.
        f('--plain-http', `${host}/busybox@${image.config.digest}`),
        f('--plain-http', `${host}/busybox@${image.layers[0]!.digest}`),
        f('--plain-http', `${host}/busybox@${missing}`),
        f('--plain-http', `${host}/busybox:nope`),
        f('--plain-http', `${host}/busybox`),
        f('--plain-http', '127.0.0.1:9/x:1'),
        f('http://x/y:1'),
      ]);
      expect(manifest, d.name).toEqual({ code: 0, stdout: image.manifest.data.toString(), stderr: '' });
      // docker-registry answers the /manifests try 500 (the blob is no manifest): /blobs is asked next.
      expect(config, d.name).toEqual({ code: 0, stdout: image.config.data.toString(), stderr: '' });
      expect(layer!.code, d.name).toBe(0);
      expect(layer!.stdout, d.name).toBe(image.layers[0]!.data.toString());
      expect(unknownDigest!.stderr.split('\n').at(-2), d.name).toBe(`ctr-ts: ${host}/busybox@${missing}: not found`);
      expect(unknownTag, d.name).toEqual({ code: 1, stdout: '', stderr: expect.stringMatching(new RegExp(`ctr-ts: ${host}/busybox:nope: not found\\n$`)) });
      expect(noObject, d.name).toEqual({ code: 1, stdout: '', stderr: 'ctr-ts: object required\n' });
      expect(refused!.code, d.name).toBe(1);
      expect(refused!.stderr, d.name).toContain('level=info msg="trying next host" error="failed to do request: Head \\"http://127.0.0.1:9/v2/x/manifests/1\\": dial tcp 127.0.0.1:9: connect: connection refused" host="127.0.0.1:9" ref="127.0.0.1:9/x:1"\n');
      expect(refused!.stderr.split('\n').at(-2), d.name).toBe('ctr-ts: failed to do request: Head "http://127.0.0.1:9/v2/x/manifests/1": dial tcp 127.0.0.1:9: connect: connection refused');
      expect(badRef, d.name).toEqual({ code: 1, stdout: '', stderr: 'ctr-ts: invalid reference\n' });
      // --http-dump: the same requests and responses.
      const dumped = await compareDumps(
        d,
        ['content', 'fetch-object', '--plain-http', '--http-dump', `${host}/busybox@${image.config.digest}`],
        /msg="HEAD \/v2\/busybox\/blobs\//,
        undefined,
        /msg="GET \/v2\/busybox\/blobs\//,
      );
      expect(dumped.result.stdout, d.name).toBe(image.config.data.toString());
      expect(dumped.lines.filter((l) => / HTTP\/1\.1"$/.test(l)).map((l) => l.replace(/^.*msg="/, '')), d.name).toEqual([
        `HEAD /v2/busybox/manifests/${image.config.digest} HTTP/1.1"`,
        `HEAD /v2/busybox/blobs/${image.config.digest} HTTP/1.1"`,
        `GET /v2/busybox/blobs/${image.config.digest} HTTP/1.1"`,
      ]);
    }
  }, 600_000);

  it('content push-object puts a blob of the store into the registry (a manifest under the tag); errors as ctr’s', async () => {
    const s = sessions!;
    const host = s.image.registry.host;
    for (const d of s.daemons) {
      const short = d.name === 'containerd' ? 'ref' : 'ts';
      const target = `${host}/pushed-{id}-${short}:1`;
      const p = (...args: string[]) => ({ args: ['content', 'push-object', ...args] });
      const layer = image.layers[0]!;
      const results = await compare(d, [
        p('--plain-http', target, image.config.digest, image.config.mediaType),
        p('--plain-http', target, image.config.digest, image.config.mediaType),
        p('--plain-http', target, layer.digest, layer.mediaType),
        p('--plain-http', target, image.manifest.digest, image.manifest.mediaType),
        p('--plain-http', target, image.manifest.digest, image.manifest.mediaType),
        p('--plain-http', target, missing, 'application/octet-stream'),
        p('--plain-http', target, 'bad', 'application/octet-stream'),
        p('--plain-http', '127.0.0.1:9/x:1', image.config.digest, image.config.mediaType),
        p('http://x/y:1', image.config.digest, image.config.mediaType),
      ]);
      const [pushed, again, pushedLayer, pushedManifest, manifestAgain, unknown, bad, refused, badRef] = results as RunResult[] & { length: 9 };
      expect(pushed, d.name).toEqual({ code: 0, stdout: `Pushed ${image.config.digest} ${image.config.mediaType}\n`, stderr: '' });
      expect(again, d.name).toEqual({ code: 1, stdout: '', stderr: `ctr-ts: content ${image.config.digest} on remote: already exists\n` });
      expect(pushedLayer, d.name).toEqual({ code: 0, stdout: `Pushed ${layer.digest} ${layer.mediaType}\n`, stderr: '' });
      expect(pushedManifest, d.name).toEqual({ code: 0, stdout: `Pushed ${image.manifest.digest} ${image.manifest.mediaType}\n`, stderr: '' });
      expect(manifestAgain, d.name).toEqual({ code: 1, stdout: '', stderr: `ctr-ts: content ${image.manifest.digest} on remote: already exists\n` });
      expect(unknown, d.name).toEqual({ code: 1, stdout: '', stderr: `ctr-ts: content digest ${missing}: not found\n` });
      expect(bad, d.name).toEqual({ code: 1, stdout: '', stderr: 'ctr-ts: invalid checksum digest format\n' });
      expect(refused, d.name).toEqual({
        code: 1,
        stdout: '',
        stderr: `ctr-ts: failed to do request: Head "http://127.0.0.1:9/v2/x/blobs/${image.config.digest}": dial tcp 127.0.0.1:9: connect: connection refused\n`,
      });
      expect(badRef, d.name).toEqual({ code: 1, stdout: '', stderr: 'ctr-ts: invalid reference\n' });
      // The registry has what each client pushed: the blobs, and the manifest under the tag.
      for (const client of CLIENTS) {
        const repo = `pushed-${s.tag(client)}-${short}`;
        const blob = await registryRequest(s.image.registry, 'GET', `/v2/${repo}/blobs/${image.config.digest}`);
        expect({ status: blob.status, digest: sha256(blob.body) }, `${d.name} ${client}`).toEqual({ status: 200, digest: image.config.digest });
        const manifest = await registryRequest(s.image.registry, 'GET', `/v2/${repo}/manifests/1`, { headers: { accept: image.manifest.mediaType } });
        expect({ status: manifest.status, digest: manifest.headers['docker-content-digest'], body: manifest.body.toString() }, `${d.name} ${client}`).toEqual({
          status: 200,
          digest: image.manifest.digest,
          body: image.manifest.data.toString(),
        });
      }
      // --http-dump: the same requests and responses (an upload's location made neutral).
      const neutral = (t: string) =>
        t.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>').replace(/_state=[^&"\\]+/g, '_state=<state>');
      const dumpArgs = ['content', 'push-object', '--plain-http', '--http-dump', `${host}/dumped-{id}-${short}:1`, image.config.digest, image.config.mediaType];
      const { result, lines } = await compareDumps(d, dumpArgs, /msg="POST \/v2\/dumped-/, neutral);
      expect(result.stdout, d.name).toBe(`Pushed ${image.config.digest} ${image.config.mediaType}\n`);
      expect(lines.filter((l) => / HTTP\/1\.1"$/.test(l)).map((l) => l.replace(/^.*msg="/, '')), d.name).toEqual([
        `HEAD /v2/dumped-<id>-${short}/blobs/${image.config.digest} HTTP/1.1"`,
        `POST /v2/dumped-<id>-${short}/blobs/uploads/ HTTP/1.1"`,
        `PUT /v2/dumped-<id>-${short}/blobs/uploads/<uuid>?_state=<state>&digest=${encodeURIComponent(image.config.digest)} HTTP/1.1"`,
      ]);
      expect(lines.at(-2), d.name).toBe(`time=<time> level=info msg="Location: http://${host}/v2/dumped-<id>-${short}/blobs/${image.config.digest}"`);
    }
  }, 600_000);
});
