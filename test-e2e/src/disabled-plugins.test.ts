// disabled_plugins, one plugin at a time, for every plugin of the full containerd-ts: the
// daemon starts and answers, and every other plugin reports the status Debian's containerd
// 1.6 reports with the same plugin disabled. Then what a user sees when overlayfs, the
// walking differ or the gc scheduler is disabled, against containerd.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allPluginURIs } from '@containerd-ts/containerd-ts/plugins';
import { socketAnswers } from '@containerd-ts/daemon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunResult, containerdTs, ctr, ctrTs, run, spawnService } from './harness.js';
import { buildImageArchive } from './oci-archive.js';

type Kind = 'containerd-ts' | 'containerd';

interface Daemon {
  kind: Kind;
  socket: string;
  /** Exit code when the daemon exited during start; undefined while it serves. */
  exited: number | null | undefined;
  logs(): string;
  stop(): Promise<void>;
}

/** containerd's CRI plugin is disabled on the reference everywhere: it is not part of this comparison. */
const CRI = 'io.containerd.grpc.v1.cri';

/**
 * Starts one daemon with `disabled_plugins`; ready once its socket accepts (both daemons
 * bind only after every plugin was initialised). Not `ctr version`: with the version
 * service disabled it never answers.
 */
async function start(kind: Kind, disabled: readonly string[], extra = ''): Promise<Daemon> {
  const dir = await mkdtemp(join(tmpdir(), kind === 'containerd' ? 'refdis-' : 'tsdis-'));
  const socket = join(dir, 'containerd.sock');
  const list = kind === 'containerd' ? [CRI, ...disabled] : [...disabled];
  const config = join(dir, 'config.toml');
  await writeFile(
    config,
    `version = 2\nroot = "${dir}/root"\nstate = "${dir}/state"\ndisabled_plugins = ${JSON.stringify(list)}\n` +
      `[grpc]\n  address = "${socket}"\n[ttrpc]\n  address = "${socket}.ttrpc"\n${extra}`,
  );
  const service = spawnService(kind === 'containerd' ? 'containerd' : containerdTs, ['--config', config]);
  const { child } = service;
  const daemon: Daemon = {
    kind,
    socket,
    exited: undefined,
    logs: service.logs,
    async stop() {
      await service.kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
  const deadline = performance.now() + 30_000;
  while (performance.now() < deadline) {
    if (child.exitCode !== null) {
      daemon.exited = child.exitCode;
      return daemon;
    }
    if (await socketAnswers(socket, 200)) return daemon;
    await new Promise((r) => setTimeout(r, 20));
  }
  await daemon.stop();
  throw new Error(`${kind} with disabled_plugins ${JSON.stringify(list)} did not serve: ${service.logs()}`);
}

/** `ctr plugins ls` as URI → status. */
function statuses(r: RunResult): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of r.stdout.trim().split('\n').slice(1)) {
    const [type, id, , status] = line.trim().split(/\s+/);
    if (type && id && status) out.set(`${type}.${id}`, status);
  }
  return out;
}

interface Observation {
  started: boolean;
  version: RunResult;
  plugins: RunResult;
  statuses: Map<string, string>;
  /** URI → the `Error:` block of `ctr plugins ls -d` (code and message), for plugins that failed. */
  errors: Map<string, string>;
}

/** `ctr plugins ls -d` → the error code and message of each failed or skipped plugin. */
function errorBlocks(r: RunResult): Map<string, string> {
  const out = new Map<string, string>();
  for (const block of r.stdout.split(/\n(?=Type:)/)) {
    const type = /^Type: +(\S+)/m.exec(block)?.[1];
    const id = /^ID: +(\S+)/m.exec(block)?.[1];
    const error = /^Error: *\n +Code: +(\S+)\n +Message: +(.*)$/m.exec(block);
    if (type && id && error) out.set(`${type}.${id}`, `${error[1]}: ${error[2]!.replace(/(?:\/[\w.-]+)*\/(refdis|tsdis)-[^/\s]+/g, '<dir>')}`);
  }
  return out;
}

async function observe(d: Daemon): Promise<Observation> {
  if (d.exited !== undefined) {
    const none: RunResult = { code: -1, stdout: '', stderr: d.logs() };
    return { started: false, version: none, plugins: none, statuses: new Map(), errors: new Map() };
  }
  const [version, plugins, detail] = await Promise.all([ctr(d.socket, 'version'), ctr(d.socket, 'plugins', 'ls'), ctr(d.socket, 'plugins', 'ls', '-d')]);
  return { started: true, version, plugins, statuses: statuses(plugins), errors: errorBlocks(detail) };
}

/** Runs `jobs` with at most `limit` at once (the machine has two cores). */
async function pool<T>(jobs: Array<() => Promise<T>>, limit: number): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]!();
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
  return results;
}

/** The same error from both daemons, apart from the daemon-specific parts of a message. */
const sameAnswer = (r: RunResult) => ({
  code: r.code,
  // ctr warns that the server's version is not its own: true of containerd-ts only.
  // Times and the random keys ctr gives temporary snapshots differ from run to run.
  stderr: r.stderr
    .replace(/^WARNING: (version|revision) mismatch\n/gm, '')
    .replace(/(?:\/[\w.-]+)*\/(refdis|tsdis)-[^/\s]+/g, '<dir>')
    .replace(/time="[^"]+"/g, 'time=<t>')
    .replace(/extract-\d+-[A-Za-z0-9_-]+/g, 'extract-<n>'),
});

/**
 * containerd's restart monitor checks the services it needs in Go map order (random from
 * run to run) and names the first failed one: its message is compared as "a service that
 * failed, with that service's own code and error" (the service named must have failed so).
 */
function restartError(o: Observation, message: string, uri: string): string {
  if (uri !== 'io.containerd.internal.v1.restart') return message;
  const m = /^(\w+): failed to get instance of service "([\w-]+)": (.*)$/.exec(message);
  if (!m) return message;
  const own = o.errors.get(`io.containerd.service.v1.${m[2]}`);
  // The code is the named service's own (Unknown for tasks-service, NotFound for others), so it
  // varies with containerd's map order too: it is checked against that service, not compared.
  return own === `${m[1]}: ${m[3]}` ? 'failed to get instance of a failed service, with its code and error' : message;
}

const uris = allPluginURIs();

describe('disabled_plugins: every plugin of containerd-ts, one at a time, against containerd', () => {
  const ts = new Map<string, Observation>();
  const ref = new Map<string, Observation>();
  let refURIs = new Set<string>();
  beforeAll(async () => {
    // What containerd has at all (with only CRI disabled): the URIs worth comparing.
    const base = await start('containerd', []);
    refURIs = new Set((await observe(base)).statuses.keys());
    await base.stop();
    await pool(
      uris.map((uri) => async () => {
        const both = await Promise.all([start('containerd-ts', [uri]), refURIs.has(uri) ? start('containerd', [uri]) : undefined]);
        try {
          const [a, b] = await Promise.all(both.map((d) => (d ? observe(d) : undefined)));
          ts.set(uri, a!);
          if (b) ref.set(uri, b);
        } finally {
          await Promise.all(both.map((d) => d?.stop()));
        }
      }),
      3,
    );
  }, 120_000);

  it('covers every plugin, and containerd has most of them', () => {
    expect(uris.length).toBeGreaterThanOrEqual(29);
    expect(ts.size).toBe(uris.length);
    // containerd 1.6 has no gc gRPC API; everything else containerd-ts registers, it has too.
    expect(uris.filter((u) => !refURIs.has(u))).toEqual(['io.containerd.grpc.v1.gc']);
  });

  for (const uri of uris) {
    it(`${uri} disabled: starts, answers, and the others report containerd's statuses and errors`, () => {
      const a = ts.get(uri)!;
      expect(a.started, a.version.stderr).toBe(true);
      // A disabled plugin is not registered at all: not listed.
      if (a.plugins.code === 0) expect(a.statuses.has(uri)).toBe(false);
      const b = ref.get(uri);
      if (b) {
        expect(b.started, b.version.stderr).toBe(true);
        // `ctr version` and `ctr plugins ls` answer as on containerd: both work, or both fail
        // with the same message (the version or introspection API is gone, or ctr version's
        // server UUID comes from introspection).
        expect(sameAnswer(a.version)).toEqual(sameAnswer(b.version));
        expect(sameAnswer(a.plugins)).toEqual(sameAnswer(b.plugins));
      } else {
        expect(a.version.code, a.version.stderr).toBe(0);
      }
      if (uri.startsWith('io.containerd.grpc.v1.version') || uri.includes('introspection')) {
        expect(a[uri.endsWith('version') ? 'version' : 'plugins'].code).not.toBe(0);
      } else {
        expect(a.version.code, a.version.stderr).toBe(0);
      }
      if (!b || a.plugins.code !== 0) return;
      const common = [...a.statuses.keys()].filter((u) => b.statuses.has(u));
      const ours = Object.fromEntries(common.map((u) => [u, a.statuses.get(u)]));
      const theirs = Object.fromEntries(common.map((u) => [u, b.statuses.get(u)]));
      expect(ours).toEqual(theirs);
      // And with the same error code and message (`ctr plugins ls -d`).
      const errorsOf = (o: Observation) => Object.fromEntries(common.filter((u) => o.errors.has(u)).map((u) => [u, restartError(o, o.errors.get(u) ?? '', u)]));
      expect(errorsOf(a)).toEqual(errorsOf(b));
    });
  }
});

describe('disabled_plugins: what a user sees, against containerd', () => {
  let work = '';
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'disabled-work-'));
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** Starts both daemons with `uri` disabled, runs `fn`, stops them. */
  async function withBoth(uri: string, fn: (ts: Daemon, ref: Daemon) => Promise<void>): Promise<void> {
    const [a, b] = await Promise.all([start('containerd-ts', [uri]), start('containerd', [uri])]);
    try {
      expect(a.exited).toBeUndefined();
      expect(b.exited).toBeUndefined();
      await fn(a, b);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  }

  it('overlayfs disabled: ctr snapshots ls (default snapshotter overlayfs) fails as on containerd', async () => {
    await withBoth('io.containerd.snapshotter.v1.overlayfs', async (a, b) => {
      const [x, y] = await Promise.all([ctr(a.socket, 'snapshots', 'ls'), ctr(b.socket, 'snapshots', 'ls')]);
      expect(sameAnswer(x)).toEqual(sameAnswer(y));
      expect(x.stderr).toBe('ctr: snapshotter not loaded: overlayfs: invalid argument\n');
      // native still works.
      const n = await ctr(a.socket, 'snapshots', '--snapshotter', 'native', 'prepare', 'k');
      expect(n.code, n.stderr).toBe(0);
    });
  });

  it('walking differ disabled: the diff service fails as on containerd, and an unpack fails the same way', async () => {
    const archive = await buildImageArchive(join(work, 'walking'), 'example.com/disabled/walking:1');
    await withBoth('io.containerd.differ.v1.walking', async (a, b) => {
      const detail = async (d: Daemon) => (await ctr(d.socket, 'plugins', 'ls', '-d', 'id==diff-service')).stdout;
      const [dx, dy] = await Promise.all([detail(a), detail(b)]);
      expect(dx).toBe(dy);
      expect(dx).toMatch(/Error: *\n +Code: +NotFound\n +Message: +no plugins registered for io\.containerd\.differ\.v1: not found\n/);
      const [x, y] = await Promise.all([a, b].map((d) => ctr(d.socket, 'images', 'import', archive.file)));
      expect({ ...sameAnswer(x!), stdout: x!.stdout }).toEqual({ ...sameAnswer(y!), stdout: y!.stdout });
      expect(x!.code).toBe(1);
      expect(x!.stderr).toContain('unknown service containerd.services.diff.v1.Diff');
      // Importing without unpacking needs no differ.
      const [p, q] = await Promise.all([a, b].map((d) => ctr(d.socket, 'images', 'import', '--no-unpack', archive.file)));
      expect(p!.code, p!.stderr).toBe(0);
      expect(p!.stdout).toBe(q!.stdout);
    });
  });

  it('gc scheduler disabled: images and leases fail as on containerd; content removal and ctr-ts gc collect still work', async () => {
    await withBoth('io.containerd.gc.v1.scheduler', async (a, b) => {
      for (const args of [
        ['images', 'ls'],
        ['leases', 'ls'],
      ]) {
        const [x, y] = await Promise.all([ctr(a.socket, ...args), ctr(b.socket, ...args)]);
        expect(sameAnswer(x)).toEqual(sameAnswer(y));
        expect(x.code).toBe(1);
      }
      const blob = 'content without a gc scheduler\n';
      const ingest = async (d: Daemon) => {
        const r = await run('ctr', ['-a', d.socket, 'content', 'ingest', 'blob-ref'], { input: blob });
        expect(r.code, r.stderr).toBe(0);
        return (await ctr(d.socket, 'content', 'ls', '-q')).stdout.trim();
      };
      const [dx, dy] = await Promise.all([ingest(a), ingest(b)]);
      expect(dx).toBe(dy);
      expect(dx).toMatch(/^sha256:[0-9a-f]{64}$/);
      const [rx, ry] = await Promise.all([ctr(a.socket, 'content', 'rm', dx), ctr(b.socket, 'content', 'rm', dy)]);
      expect(sameAnswer(rx)).toEqual(sameAnswer(ry));
      expect(rx.code).toBe(0);
      const [lx, ly] = await Promise.all([ctr(a.socket, 'content', 'ls', '-q'), ctr(b.socket, 'content', 'ls', '-q')]);
      expect(lx.stdout).toBe('');
      expect(ly.stdout).toBe('');
      // The gc API (containerd-ts only) collects without the scheduler.
      expect((await run('ctr', ['-a', a.socket, 'content', 'ingest', 'left-over'], { input: 'unreferenced\n' })).code).toBe(0);
      const collected = await run(ctrTs, ['-a', a.socket, 'gc', 'collect']);
      expect(collected.code, collected.stderr).toBe(0);
      expect((await ctr(a.socket, 'content', 'ls', '-q')).stdout).toBe('');
    });
  });
});
