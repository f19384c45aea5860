// Issue 11, registries with TLS and auth: Debian's docker-registry on loopback with a
// certificate from a CA this test makes, trusted through hosts.toml under a temp
// --hosts-dir — one registry with htpasswd (bcrypt) Basic auth, one with token auth and a
// token server of the test's own. `ctr-ts images pull/push --user` run beside Debian's
// `ctr images pull/push --user`, on containerd-ts and on Debian containerd (one namespace
// each), and must store the same image; wrong or missing credentials and an untrusted
// certificate give ctr's error on one line; a mirror in hosts.toml serves a registry that
// is not there.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trackProcess } from './cleanup.js';
import { expectSameDump, httpDumpLines } from './ctr-sessions.js';
import { type RunResult, type StartedDaemon, ctr, ctrTs, run, startDaemon, startReference } from './harness.js';
import { fixtureImage } from './image-fixture.js';
import { type Ca, type TokenServer, makeCa, startTokenServer, writeHtpasswd } from './registry-auth.js';
import { type Registry, pushImage, registryRequest, startRegistry } from './registry.js';

type Reference = Awaited<ReturnType<typeof startReference>>;

interface Daemon {
  name: string;
  socket: string;
  dir: string;
}

const USER = 'alice';
const PASSWORD = 's3cret';

/** Times, ages and tab runs made comparable; label lists sorted. */
function comparable(text: string): string {
  return text
    .split('\n')
    .map((line) => line.replace(/([\w./-]+=[^\s,]*(?:,[\w./-]+=[^\s,]*)+)/g, (m) => m.split(',').sort().join(',')))
    .join('\n')
    .replace(/Less than a second|About a minute|\d+ (?:seconds?|minutes?)/g, '<age>')
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})/g, '<time>')
    .replace(/[\t ]+/g, ' ');
}

/** What Debian's ctr reads back from a namespace: images, content, snapshots, leases. */
async function stored(socket: string, ns: string): Promise<string> {
  const parts: string[] = [];
  for (const args of [['images', 'ls'], ['images', 'check'], ['content', 'ls'], ['snapshots', 'ls'], ['leases', 'ls']]) {
    const r = await ctr(socket, '-n', ns, ...args);
    parts.push(`$ ctr ${args.join(' ')}\n${r.stdout}--stderr--\n${r.stderr}--exit ${r.code}`);
  }
  return comparable(parts.join('\n'));
}

/** ctr logs its tries before the error; the error is its last line. */
const lastLine = (s: string) => s.trim().split('\n').at(-1) ?? '';

/** ctr's progress loop may log its own cancellation when the fetch ends: those lines are not the pull's. */
const pullStderr = (stderr: string) => stderr.replace(/^.*msg="(failed to get content info|active check failed)" error="context canceled"\n/gm, '');

/**
 * Runs `script ARGS` (a command in a pty) and types `input` once `prompt` is on its output
 * (typed earlier, the terminal would still echo it).
 */
function typeAfterPrompt(args: string[], prompt: string, input: string): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn('script', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    trackProcess(child, false);
    let stdout = '';
    let stderr = '';
    let typed = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (!typed && stdout.includes(prompt)) {
        typed = true;
        child.stdin.write(input);
      }
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdin.on('error', () => {});
    child.on('close', (code) => {
      clearTimeout(timer);
      child.stdin.destroy();
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

const text = (r: RunResult) => `${r.stdout}--stderr--\n${r.stderr}--exit ${r.code}`;

describe('ctr-ts images pull/push --user against TLS registries with Basic and token auth, beside ctr', () => {
  let work: string;
  let ca: Ca;
  let tokens: TokenServer;
  let basic: Registry;
  let bearer: Registry;
  let ts: StartedDaemon;
  let ref: Reference;
  let daemons: Daemon[] = [];
  /** Trusts the test's CA for both registries; holds the mirror's configuration. */
  let hostsDir: string;
  /** The same hosts without the CA. */
  let untrustedDir: string;
  const image = fixtureImage({ compression: 'gzip' });
  const refs = { basic: '', bearer: '' };
  /** A registry nothing listens on, mirrored by the Basic-auth registry. */
  const upstream = '127.0.0.1:9';
  const ns = { ctr: `auth-ctr-${process.pid}`, ctrTs: `auth-ctrts-${process.pid}` };

  const hostsToml = (host: string, withCa: boolean) =>
    [`server = "https://${host}"`, withCa ? `ca = "${ca.cert}"` : '', '', `[host."https://${host}"]`, '  capabilities = ["pull", "resolve", "push"]', withCa ? `  ca = "${ca.cert}"` : '', ''].join('\n');

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'ctr-ts-auth-'));
    ca = await makeCa(work);
    const server = await ca.issue('registry', ['IP:127.0.0.1', 'DNS:localhost']);
    const signer = await ca.issue('token-signer', ['DNS:token-signer']);
    const htpasswd = join(work, 'htpasswd');
    await writeHtpasswd(htpasswd, { [USER]: PASSWORD });
    tokens = await startTokenServer({ tls: server, signer, users: { [USER]: PASSWORD } });
    const tls = { ...server, ca: ca.cert };
    [basic, bearer] = await Promise.all([
      startRegistry({ tls, htpasswd, accessLog: true, authorization: () => `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` }),
      startRegistry({
        tls,
        token: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootCertBundle: tokens.rootCertBundle },
        authorization: (scope) => `Bearer ${tokens.mint(USER, [scope])}`,
      }),
    ]);
    refs.basic = await pushImage(basic, 'fixture', 'gzip', image);
    refs.bearer = await pushImage(bearer, 'fixture', 'gzip', image);
    hostsDir = join(work, 'hosts');
    untrustedDir = join(work, 'untrusted');
    for (const r of [basic, bearer]) {
      await mkdir(join(hostsDir, r.host), { recursive: true });
      await writeFile(join(hostsDir, r.host, 'hosts.toml'), hostsToml(r.host, true));
      await mkdir(join(untrustedDir, r.host), { recursive: true });
      await writeFile(join(untrustedDir, r.host, 'hosts.toml'), hostsToml(r.host, false));
    }
    // The mirror is tried first for pulls and resolves; the upstream itself is not there.
    await mkdir(join(hostsDir, upstream), { recursive: true });
    await writeFile(
      join(hostsDir, upstream, 'hosts.toml'),
      [`server = "https://${upstream}"`, '', `[host."https://${basic.host}"]`, '  capabilities = ["pull", "resolve"]', `  ca = "${ca.cert}"`, ''].join('\n'),
    );
    [ts, ref] = await Promise.all([startDaemon(), startReference()]);
    daemons = [
      { name: 'containerd-ts', socket: ts.socket, dir: ts.dir },
      { name: 'containerd', socket: ref.socket, dir: ref.dir },
    ];
  }, 120_000);

  afterAll(async () => {
    await Promise.all([ts?.cleanup(), ref?.stop(), basic?.stop(), bearer?.stop(), tokens?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** Pulls `reference` with ctr into one namespace and with ctr-ts into the other, with the same flags. */
  async function pullBoth(d: Daemon, reference: string, flags: string[], input?: string): Promise<[RunResult, RunResult]> {
    return Promise.all([
      ctr(d.socket, '-n', ns.ctr, 'images', 'pull', ...flags, reference),
      run(ctrTs, ['-a', d.socket, '-n', ns.ctrTs, 'images', 'pull', ...flags, reference], input === undefined ? {} : { input }),
    ]);
  }

  async function removeBoth(d: Daemon, reference: string): Promise<void> {
    for (const n of [ns.ctr, ns.ctrTs]) await ctr(d.socket, '-n', n, 'images', 'rm', '--sync', reference);
  }

  for (const kind of ['basic', 'bearer'] as const) {
    it(`${kind}: pull --user --hosts-dir stores what ctr's pull stores`, async () => {
      const registry = () => (kind === 'basic' ? basic : bearer);
      for (const d of daemons) {
        const what = `${d.name} ${kind}`;
        tokens.requests.length = 0;
        try {
          const [theirs, ours] = await pullBoth(d, refs[kind], ['--hosts-dir', hostsDir, '--user', `${USER}:${PASSWORD}`]);
          expect({ code: theirs.code, stderr: pullStderr(theirs.stderr) }, what).toEqual({ code: 0, stderr: '' });
          expect({ code: ours.code, stderr: ours.stderr }, what).toEqual({ code: 0, stderr: '' });
          expect(ours.stdout, what).toContain(`manifest-${image.manifest.digest}: done`);
          const [a, b] = await Promise.all([stored(d.socket, ns.ctr), stored(d.socket, ns.ctrTs)]);
          expect(b, what).toBe(a);
          expect(b, what).toContain(`${refs[kind]} application/vnd.docker.distribution.manifest.v2+json ${image.manifest.digest}`);
          expect(b, what).toContain('complete (4/4)');
          if (kind === 'bearer') {
            // Both asked the token server as containerd does: an OAuth POST for the pull scope.
            const asked = tokens.requests.filter((r) => r.method === 'POST' && r.user === USER && r.status === 200);
            expect(asked.map((r) => r.scopes.join(' ')), what).toContain('repository:fixture:pull');
            expect(asked.length, what).toBeGreaterThanOrEqual(2);
          }
        } finally {
          await removeBoth(d, refs[kind]);
        }
      }
      expect(registry().host).toMatch(/^127\.0\.0\.1:\d+$/);
    }, 300_000);

    it(`${kind}: push --user puts the image back; ctr pulls the same manifest from it`, async () => {
      const registry = kind === 'basic' ? basic : bearer;
      for (const d of daemons) {
        const what = `${d.name} ${kind}`;
        const auth = ['--hosts-dir', hostsDir, '--user', `${USER}:${PASSWORD}`];
        const target = `${registry.host}/pushed-${d.name}:1`;
        try {
          const pulled = await run(ctrTs, ['-a', d.socket, '-n', ns.ctrTs, 'images', 'pull', ...auth, refs[kind]]);
          expect(pulled.code, pulled.stderr).toBe(0);
          tokens.requests.length = 0;
          const pushed = await run(ctrTs, ['-a', d.socket, '-n', ns.ctrTs, 'images', 'push', ...auth, target, refs[kind]]);
          expect({ code: pushed.code, stderr: pushed.stderr }, what).toEqual({ code: 0, stderr: '' });
          expect(pushed.stdout, what).toContain(`manifest-${image.manifest.digest}: done`);
          if (kind === 'bearer') {
            expect(tokens.requests.filter((r) => r.status === 200).flatMap((r) => r.scopes), what).toContain(`repository:pushed-${d.name}:pull,push`);
          }
          const manifest = await registryRequest(registry, 'GET', `/v2/pushed-${d.name}/manifests/1`, {
            headers: { accept: image.manifest.mediaType, authorization: registry.authorization!(`repository:pushed-${d.name}:pull`) },
          });
          expect(manifest.status, what).toBe(200);
          expect(manifest.headers['docker-content-digest'], what).toBe(image.manifest.digest);
          // Debian's ctr reads it back into its own namespace.
          const back = await ctr(d.socket, '-n', ns.ctr, 'images', 'pull', ...auth, target);
          expect(back.code, back.stderr).toBe(0);
          expect(comparable((await ctr(d.socket, '-n', ns.ctr, 'images', 'ls')).stdout), what).toContain(`${target} application/vnd.docker.distribution.manifest.v2+json ${image.manifest.digest}`);
        } finally {
          await removeBoth(d, target);
          await removeBoth(d, refs[kind]);
        }
      }
    }, 300_000);

    it(`${kind}: a wrong password or none is ctr's error on one line, exit 1, no lease left`, async () => {
      for (const d of daemons) {
        for (const flags of [['--user', `${USER}:wrong`], ['--user', `nobody:${PASSWORD}`], []]) {
          const what = `${d.name} ${kind} ${flags.join(' ') || 'no credentials'}`;
          const [theirs, ours] = await pullBoth(d, refs[kind], ['--hosts-dir', hostsDir, ...flags]);
          expect(theirs.code, what).toBe(1);
          expect(ours.code, what).toBe(1);
          expect(ours.stderr.trim().split('\n'), what).toHaveLength(1);
          expect(ours.stderr.replace('ctr-ts: ', 'ctr: ').trim(), what).toBe(lastLine(theirs.stderr));
          // What ctr says, so that two equally wrong answers cannot pass.
          const why =
            kind === 'basic'
              ? 'pulling from host [^ ]+ failed with status code \\[manifests gzip\\]: 401 Unauthorized'
              : flags.length > 0
                ? 'failed to authorize: failed to fetch oauth token: unexpected status: 401 Unauthorized'
                : 'pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed';
          expect(ours.stderr, what).toMatch(new RegExp(`^ctr-ts: failed to resolve reference "${refs[kind]}": ${why}\\n$`));
        }
        expect((await ctr(d.socket, '-n', ns.ctrTs, 'leases', 'ls', '-q')).stdout, d.name).toBe('');
        expect((await ctr(d.socket, '-n', ns.ctrTs, 'images', 'ls', '-q')).stdout, d.name).toBe('');
      }
    }, 300_000);
  }

  it('bearer: --http-dump of a pull has the token requests too, as ctr’s (its token fetch goes through the dumped client)', async () => {
    for (const d of daemons) {
      const dumps: string[][] = [];
      for (const [client, n] of [['ctr', ns.ctr], ['ctr-ts', ns.ctrTs]] as const) {
        const args = ['-n', n, 'images', 'pull', '--hosts-dir', hostsDir, '--user', `${USER}:${PASSWORD}`, '--max-concurrent-downloads', '1', '--http-dump', refs.bearer];
        try {
          const r = client === 'ctr' ? await ctr(d.socket, ...args) : await run(ctrTs, ['-a', d.socket, ...args]);
          expect(r.code, `${d.name} ${client}: ${r.stderr.slice(-2000)}`).toBe(0);
          dumps.push(httpDumpLines(r.stderr));
        } finally {
          await ctr(d.socket, '-n', n, 'images', 'rm', '--sync', refs.bearer);
        }
      }
      const [theirs, ours] = dumps as [string[], string[]];
      expectSameDump(ours, theirs, d.name);
      // The registry's 401, the OAuth POST to the token server and its answer, the HEAD again
      // with the token; the fetches have an authorizer of their own (containerd configures the
      // hosts anew for its Fetcher): the first is answered 401 too and a token is asked again.
      const exchanges = ours
        // A body without a newline at its end shares its last line with the next request or status line.
        .map((l) => (/(HEAD|GET|POST) \S+(?= HTTP\/1\.1"$)/.exec(l) ?? /HTTP\/1\.1 \d+(?= [^"]*"$)/.exec(l))?.[0].replace(/sha256:[0-9a-f]{64}/, '<digest>'))
        .filter((e) => e !== undefined);
      expect(exchanges.slice(0, 14), d.name).toEqual([
        'HEAD /v2/fixture/manifests/gzip',
        'HTTP/1.1 401',
        'POST /token',
        'HTTP/1.1 200',
        'HEAD /v2/fixture/manifests/gzip',
        'HTTP/1.1 200',
        'GET /v2/fixture/manifests/<digest>',
        'HTTP/1.1 401',
        'POST /token',
        'HTTP/1.1 200',
        'GET /v2/fixture/manifests/<digest>',
        'HTTP/1.1 200',
        'GET /v2/fixture/blobs/<digest>',
        'HTTP/1.1 200',
      ]);
      expect(ours, d.name).toContain('time=<time> level=info msg="Content-Type: application/x-www-form-urlencoded; charset=utf-8"');
      expect(ours, d.name).toContain('time=<time> level=info msg="Authorization: Bearer <token>"');
    }
  }, 300_000);

  it('push with a wrong password or none: ctr’s error on one line', async () => {
    const d = daemons[0]!;
    const auth = ['--hosts-dir', hostsDir, '--user', `${USER}:${PASSWORD}`];
    for (const n of [ns.ctr, ns.ctrTs]) {
      const pulled = await run(ctrTs, ['-a', d.socket, '-n', n, 'images', 'pull', ...auth, refs.basic]);
      expect(pulled.code, pulled.stderr).toBe(0);
    }
    try {
      for (const registry of [basic, bearer]) {
        for (const flags of [['--user', `${USER}:wrong`], []]) {
          const target = `${registry.host}/refused:1`;
          const what = `${registry === basic ? 'basic' : 'bearer'} ${flags.join(' ') || 'no credentials'}`;
          const [theirs, ours] = await Promise.all([
            ctr(d.socket, '-n', ns.ctr, 'images', 'push', '--hosts-dir', hostsDir, ...flags, target, refs.basic),
            run(ctrTs, ['-a', d.socket, '-n', ns.ctrTs, 'images', 'push', '--hosts-dir', hostsDir, ...flags, target, refs.basic]),
          ]);
          expect(theirs.code, what).toBe(1);
          expect(ours.code, what).toBe(1);
          expect(ours.stderr.trim().split('\n'), what).toHaveLength(1);
          expect(ours.stderr.replace('ctr-ts: ', 'ctr: ').trim(), what).toBe(lastLine(theirs.stderr));
          expect(ours.stderr, what).toBe(
            `ctr-ts: ${
              registry === basic
                ? 'unexpected status: 401 Unauthorized'
                : flags.length > 0
                  ? 'failed to authorize: failed to fetch oauth token: unexpected status: 401 Unauthorized'
                  : 'server message: insufficient_scope: authorization failed'
            }\n`,
          );
        }
      }
    } finally {
      await removeBoth(d, refs.basic);
    }
  }, 300_000);

  it('a certificate from a CA the hosts do not trust: one line naming the problem, as ctr', async () => {
    for (const d of daemons) {
      const [theirs, ours] = await pullBoth(d, refs.basic, ['--hosts-dir', untrustedDir, '--user', `${USER}:${PASSWORD}`]);
      expect(theirs.code).toBe(1);
      expect(ours.code).toBe(1);
      expect(ours.stderr.trim().split('\n'), d.name).toHaveLength(1);
      expect(ours.stderr, d.name).toContain('x509: certificate signed by unknown authority');
      expect(ours.stderr.replace('ctr-ts: ', 'ctr: ').trim(), d.name).toBe(lastLine(theirs.stderr));
      // --tlscacert and -k set the TLS of hosts that have no settings of their own.
      for (const flags of [['--tlscacert', ca.cert], ['-k']]) {
        const [a, b] = await pullBoth(d, refs.basic, ['--hosts-dir', untrustedDir, '--user', `${USER}:${PASSWORD}`, ...flags]);
        expect({ code: a.code, stderr: pullStderr(a.stderr) }, `${d.name} ${flags[0]}`).toEqual({ code: 0, stderr: '' });
        expect({ code: b.code, stderr: b.stderr }, `${d.name} ${flags[0]}`).toEqual({ code: 0, stderr: '' });
        await removeBoth(d, refs.basic);
      }
    }
  }, 300_000);

  it('NODE_EXTRA_CA_CERTS is trusted as Node trusts it, also beside a host’s own CA', async () => {
    // bin/ctr-ts hands the file on so that Node does not load it at every start; the client
    // reads it when a registry connection needs it.
    const d = daemons[0]!;
    const env = (extra?: string): NodeJS.ProcessEnv => {
      const e = { ...process.env };
      delete e.NODE_EXTRA_CA_CERTS;
      delete e.CONTAINERD_TS_EXTRA_CA_CERTS;
      return extra ? { ...e, NODE_EXTRA_CA_CERTS: extra } : e;
    };
    const other = await makeCa(work, 'another CA');
    const otherDir = join(work, 'other-ca');
    await mkdir(join(otherDir, basic.host), { recursive: true });
    await writeFile(join(otherDir, basic.host, 'hosts.toml'), `[host."https://${basic.host}"]\n  capabilities = ["pull", "resolve"]\n  ca = "${other.cert}"\n`);
    const pull = (hosts: string, extra?: string) =>
      run(ctrTs, ['-a', d.socket, '-n', ns.ctrTs, 'images', 'pull', '--hosts-dir', hosts, '--user', `${USER}:${PASSWORD}`, refs.basic], { env: env(extra) });
    for (const hosts of [untrustedDir, otherDir]) {
      const without = await pull(hosts);
      expect(without.code, hosts).toBe(1);
      expect(without.stderr, hosts).toContain('x509: certificate signed by unknown authority');
      const trusted = await pull(hosts, ca.cert);
      expect({ code: trusted.code, stderr: trusted.stderr }, hosts).toEqual({ code: 0, stderr: '' });
      await ctr(d.socket, '-n', ns.ctrTs, 'images', 'rm', '--sync', refs.basic);
    }
    // An unreadable file is ignored with Node's warning, as Node ignores it.
    const missing = await pull(untrustedDir, join(work, 'no-such-ca.pem'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('x509: certificate signed by unknown authority');
  }, 300_000);

  it('a registry that wants a client certificate: from hosts.toml `client` or --tlscert/--tlskey, as ctr', async () => {
    const server = await ca.issue('registry-mtls', ['IP:127.0.0.1']);
    const client = await ca.issue('registry-client', ['DNS:registry-client']);
    const mtls = await startRegistry({ tls: { ...server, ca: ca.cert, client } });
    try {
      const reference = await pushImage(mtls, 'fixture', 'gzip', image);
      const withClient = join(work, 'mtls-client');
      const caOnly = join(work, 'mtls-ca');
      await mkdir(join(withClient, mtls.host), { recursive: true });
      await writeFile(join(withClient, mtls.host, 'hosts.toml'), `[host."https://${mtls.host}"]\n  ca = "${ca.cert}"\n  client = [["${client.cert}", "${client.key}"]]\n`);
      await mkdir(join(caOnly, mtls.host), { recursive: true });
      await writeFile(join(caOnly, mtls.host, 'hosts.toml'), `[host."https://${mtls.host}"]\n  ca = "${ca.cert}"\n`);
      // The certificate names 127.0.0.1 only: as `localhost` the name does not match.
      const byName = mtls.host.replace('127.0.0.1', 'localhost');
      await mkdir(join(withClient, byName), { recursive: true });
      await writeFile(join(withClient, byName, 'hosts.toml'), `[host."https://${byName}"]\n  ca = "${ca.cert}"\n  client = [["${client.cert}", "${client.key}"]]\n`);
      for (const d of daemons) {
        for (const flags of [['--hosts-dir', withClient], ['--hosts-dir', caOnly, '--tlscert', client.cert, '--tlskey', client.key]]) {
          const what = `${d.name} ${flags.join(' ')}`;
          try {
            const [theirs, ours] = await pullBoth(d, reference, flags);
            expect({ code: theirs.code, stderr: pullStderr(theirs.stderr) }, what).toEqual({ code: 0, stderr: '' });
            expect({ code: ours.code, stderr: ours.stderr }, what).toEqual({ code: 0, stderr: '' });
            const [a, b] = await Promise.all([stored(d.socket, ns.ctr), stored(d.socket, ns.ctrTs)]);
            expect(b, what).toBe(a);
            expect(b, what).toContain(`${reference} application/vnd.docker.distribution.manifest.v2+json ${image.manifest.digest}`);
          } finally {
            await removeBoth(d, reference);
          }
        }
        // Without one the server ends the handshake; under another name the certificate does not match.
        for (const [what, reference2, dir, why] of [
          ['no client certificate', reference, caOnly, 'remote error: tls: bad certificate'],
          ['name mismatch', reference.replace('127.0.0.1', 'localhost'), withClient, 'x509: certificate is not valid for any names, but wanted to match localhost'],
        ]) {
          const [theirs, ours] = await pullBoth(d, reference2!, ['--hosts-dir', dir!]);
          expect(theirs.code, `${d.name} ${what}`).toBe(1);
          expect(ours.code, `${d.name} ${what}`).toBe(1);
          expect(ours.stderr.trim().split('\n'), `${d.name} ${what}`).toHaveLength(1);
          // Go's transport reports the server's alert either from the request or from its read
          // loop, which adds `readLoopPeekFailLocked: `; which one ctr prints is a race.
          const theirsLine = lastLine(theirs.stderr).replace(': readLoopPeekFailLocked: ', ': ');
          expect(ours.stderr.replace('ctr-ts: ', 'ctr: ').trim(), `${d.name} ${what}`).toBe(theirsLine);
          expect(ours.stderr, `${d.name} ${what}`).toContain(`: ${why}\n`);
        }
      }
    } finally {
      await mtls.stop();
    }
  }, 300_000);

  it('a mirror in hosts.toml serves an upstream that is not there; the mirror got the requests', async () => {
    const reference = `${upstream}/fixture:gzip`;
    const mirrored = () => basic.logs().split('\n').filter((l) => l.includes(`ns=${encodeURIComponent(upstream)}`)).length;
    for (const d of daemons) {
      const before = mirrored();
      try {
        const [theirs, ours] = await pullBoth(d, reference, ['--hosts-dir', hostsDir, '--user', `${USER}:${PASSWORD}`]);
        expect({ code: theirs.code, stderr: pullStderr(theirs.stderr) }, d.name).toEqual({ code: 0, stderr: '' });
        expect({ code: ours.code, stderr: ours.stderr }, d.name).toEqual({ code: 0, stderr: '' });
        const [a, b] = await Promise.all([stored(d.socket, ns.ctr), stored(d.socket, ns.ctrTs)]);
        expect(b, d.name).toBe(a);
        expect(b, d.name).toContain(`${reference} application/vnd.docker.distribution.manifest.v2+json ${image.manifest.digest}`);
        // Manifest and blobs of both pulls came from the mirror, asked with ?ns=<upstream>.
        expect(mirrored() - before, d.name).toBeGreaterThanOrEqual(2 * (2 + image.layers.length));
      } finally {
        await removeBoth(d, reference);
      }
      // Without the hosts directory the upstream is tried, and it is not there.
      const direct = await run(ctrTs, ['-a', d.socket, '-n', ns.ctrTs, 'images', 'pull', reference]);
      expect(direct.stderr).toContain(`dial tcp ${upstream}: connect: connection refused`);
    }
  }, 300_000);

  it('--user without a password reads it (stdin when it is no terminal); --help lists ctr’s registry flags', async () => {
    const d = daemons[0]!;
    const r = await run(ctrTs, ['-a', d.socket, '-n', ns.ctrTs, 'images', 'pull', '--hosts-dir', hostsDir, '--user', USER, refs.basic], { input: `${PASSWORD}\n` });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout.startsWith('Password: \n')).toBe(true);
    await removeBoth(d, refs.basic);
    // On a terminal (a pty) it is asked for and read without echo.
    const command = `exec ${ctrTs} -a ${d.socket} -n ${ns.ctrTs} images pull --hosts-dir ${hostsDir} --user ${USER} ${refs.basic}`;
    const tty = await typeAfterPrompt(['-qfec', command, '/dev/null'], 'Password: ', `${PASSWORD}\r`);
    expect(tty.code, tty.stdout).toBe(0);
    expect(tty.stdout.replaceAll('\r\n', '\n').startsWith('Password: \n'), tty.stdout).toBe(true);
    expect(tty.stdout).not.toContain(PASSWORD);
    expect((await ctr(d.socket, '-n', ns.ctrTs, 'images', 'ls', '-q')).stdout).toBe(`${refs.basic}\n`);
    await removeBoth(d, refs.basic);
    for (const args of [['images', 'pull'], ['images', 'push']]) {
      const [a, b] = await Promise.all([ctr(d.socket, ...args, '--help'), run(ctrTs, ['-a', d.socket, ...args, '--help'])]);
      const flags = (t: string) => (t.split('OPTIONS:\n')[1] ?? '').split('\n').filter((l) => l.trim() !== '').map((l) => l.trim().replace(/ {2,}/g, '  '));
      for (const name of ['--skip-verify, -k', '--user value, -u value', '--hosts-dir value', '--tlscacert value', '--tlscert value', '--tlskey value', '--refresh value']) {
        expect(flags(b.stdout).find((l) => l.startsWith(name)), `${args.join(' ')} ${name}`).toBe(flags(a.stdout).find((l) => l.startsWith(name)));
        expect(flags(b.stdout).some((l) => l.startsWith(name)), name).toBe(true);
      }
    }
    expect(text(await run(ctrTs, ['-a', d.socket, 'images', 'pull', '--tlscert', '/x', refs.basic]))).toBe('--stderr--\nctr-ts: flags --tlscert and --tlskey must be set together\n--exit 1');
  }, 120_000);
});
