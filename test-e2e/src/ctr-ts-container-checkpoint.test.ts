// Issue 11: `ctr-ts containers checkpoint` and `containers restore` (container.Checkpoint and
// Client.Restore as ctr 1.6 runs them) with Debian's ctr and with ctr-ts, each in a namespace
// of its own, on containerd-ts and on Debian's containerd.
//
// Without --task a checkpoint needs no criu: an OCI index (runtime options, with --image the
// image's target, with --rw the diff of the writable snapshot) stored as an image. Such a
// checkpoint has no spec, so ctr's restore of it fails ("media type not found"). With --task
// criu is needed and absent here: the shim's error reaches the user as ctr's line, the task
// runs on, no lease or image is left. A restorable checkpoint (the layout a --task checkpoint
// has: spec config, runtime options, image, rw layer and a criu tar) is imported with ctr
// for both clients; restoring it (plain, --rw, --live) is compared: `containers info`, the
// task running, the rw layer's file. --live restores the task from the criu tar (unpacked
// into $XDG_RUNTIME_DIR/ctrd-checkpoint*, each daemon given a directory of its own here):
// criu is absent, so both daemons give the shim's same criu error line, through ctr and
// through the Tasks API (with the API's errors for a wrong media type and an unknown
// digest), and containerd-ts leaves no directory, task or lease behind (containerd 1.6 never
// removes its directories). Then containerd-ts alone is killed (-9) after a restore's Create
// and during another one: after the restart the directory of the created task stays until
// the task is deleted, the other is removed. (ctr 1.6 has no `tasks start --checkpoint`: `containers
// restore --live` is its only way to restore a task.)
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { TasksService } from '@containerd-ts/api/services/tasks';
import { Connection } from '@containerd-ts/client';
import type { ContainerdError } from '@containerd-ts/errdefs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxImage } from './busybox-image.js';
import { CLIENTS, type SessionDaemon, type Sessions, startSessions } from './ctr-sessions.js';
import { leftovers, restartDaemon } from './containers-run.js';
import { type Service, ctr, run } from './harness.js';

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** gogo proto of a types.Any: type_url (1) and value (2). */
function anyProto(typeUrl: string, value: Buffer): Buffer {
  const varint = (n: number) => {
    const out: number[] = [];
    while (n > 0x7f) {
      out.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    out.push(n);
    return Buffer.from(out);
  };
  const url = Buffer.from(typeUrl);
  const parts: Buffer[] = [Buffer.from([0x0a]), varint(url.length), url];
  if (value.length > 0) parts.push(Buffer.from([0x12]), varint(value.length), value);
  return Buffer.concat(parts);
}

/** A checkpoint image's OCI archive as a --task checkpoint lays it out, for `ctr images import`. */
async function checkpointArchive(dir: string, name: string, specJson: string, imageName: string): Promise<string> {
  const layout = join(dir, 'layout');
  const blobsDir = join(layout, 'blobs', 'sha256');
  await mkdir(blobsDir, { recursive: true });
  const put = async (mediaType: string, data: Buffer, platform = true) => {
    await writeFile(join(blobsDir, sha256(data).slice(7)), data);
    return { mediaType, digest: sha256(data), size: data.length, ...(platform ? { platform: { architecture: 'amd64', os: 'linux' } } : {}) };
  };
  const tarOf = async (sub: string, file: string, content: string) => {
    const src = join(dir, sub);
    await mkdir(src, { recursive: true });
    await writeFile(join(src, file), content);
    const out = join(dir, `${sub}.tar`);
    const r = await run('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '-cf', out, '-C', src, file]);
    if (r.code !== 0) throw new Error(r.stderr);
    return readFile(out);
  };
  const bb = busyboxImage().manifest;
  const manifests = [
    await put('application/vnd.containerd.container.criu.checkpoint.criu.tar', await tarOf('criu', 'inventory.img', 'not a criu image\n')),
    await put('application/vnd.containerd.container.checkpoint.config.v1+proto', anyProto('types.containerd.io/opencontainers/runtime-spec/1/Spec', Buffer.from(specJson))),
    await put('application/vnd.containerd.container.checkpoint.runtime.options+proto', anyProto('containerd.runc.v1.Options', Buffer.alloc(0))),
    { mediaType: bb.mediaType, digest: bb.digest, size: bb.size },
    await put('application/vnd.oci.image.layer.v1.tar+gzip', gzipSync(await tarOf('rw', 'marker', 'from the rw layer\n'))),
  ];
  const index = await put(
    'application/vnd.oci.image.index.v1+json',
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        manifests,
        annotations: { 'io.containerd.checkpoint.runtime': 'io.containerd.runc.v2', 'io.containerd.checkpoint.snapshotter': 'overlayfs', 'org.opencontainers.image.ref.name': imageName },
      }),
    ),
    false,
  );
  await writeFile(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ ...index, annotations: { 'io.containerd.image.name': name } }] }));
  await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const file = join(dir, 'checkpoint.tar');
  const r = await run('tar', ['-cf', file, '-C', layout, 'oci-layout', 'index.json', 'blobs']);
  if (r.code !== 0) throw new Error(r.stderr);
  return file;
}

const digestOf = (ls: string, ref: string) => ls.split('\n').find((l) => l.startsWith(`${ref} `))?.split(/\s+/)[2] ?? '';

describe('ctr-ts containers checkpoint/restore: what ctr makes and restores, on containerd-ts and containerd', () => {
  let sessions: Sessions | undefined;
  let work: string;
  /** Each daemon's $XDG_RUNTIME_DIR, where a restore unpacks its checkpoint. */
  const runtimeDirs: Record<SessionDaemon['name'], string> = { 'containerd-ts': '', containerd: '' };
  const unpacked = (d: SessionDaemon) => readdirSync(runtimeDirs[d.name]).filter((e) => e.startsWith('ctrd-checkpoint'));
  const inTmp = () => readdirSync(tmpdir()).filter((e) => e.startsWith('ctrd-checkpoint'));
  let tmpBefore: string[] = [];
  /** containerd-ts restarted by the last test (on the first one's root, state and socket). */
  let restarted: Service | undefined;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'ctr-ts-ctr-ckpt-'));
    for (const name of ['containerd-ts', 'containerd'] as const) {
      runtimeDirs[name] = join(work, `xdg-${name}`);
      await mkdir(runtimeDirs[name], { mode: 0o700 });
    }
    tmpBefore = inTmp();
    sessions = await startSessions({
      namespace: 'cck',
      tag: 'k',
      pids: true,
      env: {
        'containerd-ts': { ...process.env, XDG_RUNTIME_DIR: runtimeDirs['containerd-ts'] },
        containerd: { ...process.env, XDG_RUNTIME_DIR: runtimeDirs.containerd },
      },
    });
  }, 180_000);

  afterAll(async () => {
    await sessions?.stop(['a', 'r', 'r2', 'r3', 'r4', 'r5', 's']);
    await restarted?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  }, 300_000);

  it('checkpoints without criu as ctr does: the same index, images and errors; --task fails with the shim line and leaves nothing', async () => {
    const s = sessions!;
    const steps: string[][] = [
      ['run', '-d', '{img}', 'a-{id}', 'sleep', '1000'],
      ['containers', 'checkpoint'],
      ['containers', 'checkpoint', 'a-{id}'],
      ['containers', 'checkpoint', 'nope-{id}', 'ck'],
      ['containers', 'checkpoint', 'a-{id}', 'ck1'],
      ['containers', 'checkpoint', 'a-{id}', 'ck1'],
      ['containers', 'checkpoint', '--rw', '--image', 'a-{id}', 'ck2'],
      ['containers', 'checkpoint', '--task', 'a-{id}', 'ck3'],
      ['containers', 'checkpoint', '--task', '--rw', '--image', 'a-{id}', 'ck4'],
      ['tasks', 'ls', '-q'],
      ['leases', 'ls'],
      ['images', 'ls', '-q'],
      ['containers', 'restore', 'r-{id}'],
      ['containers', 'restore', 'r-{id}', 'ck2'],
      ['containers', 'restore', '--live', 'r-{id}', 'ck1'],
      ['containers', 'restore', 'r-{id}', 'nope'],
      ['containers', 'ls'],
      ['snapshots', 'ls'],
      ['leases', 'ls'],
    ];
    for (const d of s.daemons) {
      const differing = await s.compare(d, steps, { img: s.image.ref }, (args, b) => {
        if (args.includes('--task')) {
          expect(b.stderr, `${d.name}: ${args.join(' ')}`).toMatch(/^ctr-ts: runc did not terminate successfully: exit status 1: CRIU version check failed: .*criu-dump\.log: unknown\n$/);
          expect(b.code).toBe(1);
        }
      });
      expect(differing).toEqual([]);
      // The checkpoint images: the same index for ck1 (byte for byte); for ck2 the same but the
      // rw layer (a diff of another container's snapshot: its times differ), whose entries match.
      const ls = Object.fromEntries(await Promise.all(CLIENTS.map(async (c) => [c, (await s.run(c, d, ['images', 'ls'])).stdout] as const)));
      const neutral = (t: string) => t.replace(/sha256:[0-9a-f]{64}/g, '<digest>');
      expect(neutral(ls['ctr-ts']!), d.name).toBe(neutral(ls.ctr!));
      expect(ls['ctr-ts']).toMatch(/^ck1 +application\/vnd\.oci\.image\.index\.v1\+json +sha256:[0-9a-f]{64} 479\.0 B +linux\/amd64 +- +$/m);
      expect(digestOf(ls['ctr-ts']!, 'ck1'), d.name).toBe(digestOf(ls.ctr!, 'ck1'));
      const index = async (c: (typeof CLIENTS)[number]) => {
        const r = await s.run(c, d, ['content', 'get', digestOf(ls[c]!, 'ck2')]);
        expect(r.code, r.stderr).toBe(0);
        return JSON.parse(r.stdout) as { manifests: Array<{ mediaType: string; digest: string; size: number }>; annotations: Record<string, string> };
      };
      const [theirs, ours] = [await index('ctr'), await index('ctr-ts')];
      expect(ours.manifests.map((m) => m.mediaType)).toEqual([
        'application/vnd.containerd.container.checkpoint.runtime.options+proto',
        'application/vnd.oci.image.manifest.v1+json',
        'application/vnd.oci.image.layer.v1.tar+gzip',
      ]);
      expect({ ...ours, manifests: ours.manifests.slice(0, 2) }).toEqual({ ...theirs, manifests: theirs.manifests.slice(0, 2) });
      expect(ours.annotations['org.opencontainers.image.ref.name']).toBe(s.image.ref);
      const entries = async (c: (typeof CLIENTS)[number], digest: string) => {
        const blob = await s.run(c, d, ['content', 'get', digest]);
        const file = join(work, `rw-${c}-${d.name}.tgz`);
        await writeFile(file, blob.stdout, 'latin1');
        return (await run('tar', ['-tzf', file])).stdout;
      };
      expect(await entries('ctr-ts', ours.manifests[2]!.digest)).toBe(await entries('ctr', theirs.manifests[2]!.digest));
      // ctr-ts left the task running (resumed), no lease, no half-made image.
      const tasks = await s.run('ctr-ts', d, ['tasks', 'ls']);
      expect(tasks.stdout).toMatch(new RegExp(`a-${s.tag('ctr-ts')} +\\d+ +RUNNING`));
      expect((await s.run('ctr-ts', d, ['leases', 'ls', '-q'])).stdout).toBe('');
      expect((await s.run('ctr-ts', d, ['images', 'ls', '-q'])).stdout.split('\n').filter((l) => l.startsWith('ck'))).toEqual(['ck1', 'ck2']);
    }
  }, 600_000);

  it('restores a checkpoint with a spec as ctr does: the same container, a running task, the rw layer with --rw, the criu error with --live', async () => {
    const s = sessions!;
    /** The --live line per daemon and client, and the Tasks API's answers per daemon, made comparable. */
    const live: Record<string, string> = {};
    const api: Record<string, string[]> = {};
    // Paths of the daemons' directories and the checkpoint directory differ from run to run.
    const neutral = (t: string) =>
      t
        .replace(/\/\S*\/(refcd|ctdts)-[^/\s]+\//g, '<daemon dir>/')
        .replace(/\/\S*\/ctrd-checkpoint\d*/g, '<checkpoint>')
        .replace(/\b(cck(?:ts|ref)-(?:go|ts)-\d+)\b/g, '<ns>')
        .replace(/\bk(?:go|ts)\d+\b/g, '<id>');
    for (const d of s.daemons) {
      // A container whose spec the checkpoint carries, then the checkpoint image, imported by ctr.
      for (const c of CLIENTS) {
        const ns = d.namespaces[c];
        const created = await ctr(d.socket, '-n', ns, 'containers', 'create', s.image.ref, `s-${s.tag(c)}`, 'sleep', '1000');
        expect(created.code, created.stderr).toBe(0);
        const spec = await ctr(d.socket, '-n', ns, 'containers', 'info', '--spec', `s-${s.tag(c)}`);
        expect(spec.code, spec.stderr).toBe(0);
        const dir = join(work, `${d.name}-${c}`);
        const file = await checkpointArchive(dir, 'ckspec', spec.stdout, s.image.ref);
        const imported = await ctr(d.socket, '-n', ns, 'images', 'import', '--no-unpack', file);
        expect(imported.code, imported.stderr).toBe(0);
        expect((await ctr(d.socket, '-n', ns, 'containers', 'rm', `s-${s.tag(c)}`)).code).toBe(0);
      }
      const steps: string[][] = [
        ['containers', 'restore', 'r-{id}', 'ckspec'],
        ['containers', 'info', 'r-{id}'],
        ['tasks', 'exec', '--exec-id', 'e1', 'r-{id}', 'cat', '/marker'],
        ['containers', 'restore', '--rw', 'r2-{id}', 'ckspec'],
        ['tasks', 'exec', '--exec-id', 'e1', 'r2-{id}', 'cat', '/marker'],
        ['containers', 'restore', 'r-{id}', 'ckspec'],
        ['containers', 'restore', '--live', 'r3-{id}', 'ckspec'],
        ['containers', 'ls'],
        ['snapshots', 'ls'],
        ['leases', 'ls'],
      ];
      const differing = await s.compare(d, steps, {}, (args, b) => {
        if (args[1] === 'exec' && args.includes('r2-{id}')) expect(b.stdout, d.name).toBe('from the rw layer\n');
        if (args[1] === 'exec' && args.includes('r-{id}')) expect(b.stderr, d.name).toBe("cat: can't open '/marker': No such file or directory\n");
        // Both daemons unpack the criu tar and have the shim restore from it; runc's restore
        // fails (no criu here) and ctr prints the shim's line (compared between the daemons below).
        if (args.includes('--live')) {
          expect(b.stderr, d.name).toMatch(/^ctr-ts: OCI runtime restore failed: .*criu.*\n$/i);
          expect(b.code, d.name).toBe(1);
          live[d.name] = neutral(b.stderr);
        }
      });
      expect(differing).toEqual([]);
      // The same tasks for both clients (containerd lists them in no fixed order): the first test's
      // `a`, the restored ones and r3, created by the failed --live restore.
      const taskIds = async (c: (typeof CLIENTS)[number]) => (await s.run(c, d, ['tasks', 'ls', '-q'])).stdout.split('\n').filter((l) => l !== '').map((l) => l.replace(s.tag(c), '<id>')).sort();
      expect(await taskIds('ctr-ts'), d.name).toEqual(await taskIds('ctr'));
      expect(await taskIds('ctr-ts'), d.name).toEqual(['a-<id>', 'r-<id>', 'r2-<id>', 'r3-<id>']);
      // The failed restore leaves the task created, as on containerd; deleting it removes the
      // unpacked checkpoint on containerd-ts (containerd 1.6 never removes its directory).
      expect((await s.run('ctr-ts', d, ['tasks', 'ls', '-q'])).stdout.split('\n')).toContain(`r3-${s.tag('ctr-ts')}`);
      for (const c of CLIENTS) {
        const del = await s.run(c, d, ['tasks', 'delete', 'r3-{id}']);
        expect(del.code, `${d.name} ${c}: ${del.stderr}`).toBe(0);
      }
      if (d.name === 'containerd-ts') expect(unpacked(d)).toEqual([]);
      // The same restore through the Tasks API: Create with the checkpoint descriptor, then
      // Start; and Create with a wrong media type and with a digest the namespace lacks.
      const ns = d.namespaces['ctr-ts'];
      const index = JSON.parse((await s.run('ctr-ts', d, ['content', 'get', digestOf((await s.run('ctr-ts', d, ['images', 'ls'])).stdout, 'ckspec')])).stdout) as {
        manifests: Array<{ mediaType: string; digest: string; size: number }>;
      };
      const criu = index.manifests.find((m) => m.mediaType === 'application/vnd.containerd.container.criu.checkpoint.criu.tar')!;
      const conn = new Connection(d.socket, { namespace: ns });
      const answer = async (call: Promise<unknown>) => {
        try {
          await call;
          return 'ok';
        } catch (err) {
          const e = err as ContainerdError;
          return `${e.code} ${neutral(e.message)}`;
        }
      };
      const containerId = `r3-${s.tag('ctr-ts')}`;
      const create = (checkpoint: { mediaType: string; digest: string; size: number }) =>
        conn.unary(TasksService.create, { containerId, rootfs: [], stdin: '', stdout: '', stderr: '', terminal: false, checkpoint: { ...checkpoint, annotations: {} }, options: undefined, runtimePath: '' });
      try {
        api[d.name] = [
          await answer(create({ ...criu, mediaType: 'application/vnd.oci.image.layer.v1.tar' })),
          await answer(create({ ...criu, digest: `sha256:${'0'.repeat(64)}` })),
          await answer(create(criu)),
        ];
        // Unpacked for the shim until the task starts: the criu tar's one file.
        if (d.name === 'containerd-ts') {
          expect(unpacked(d)).toHaveLength(1);
          expect(readdirSync(join(runtimeDirs[d.name], unpacked(d)[0]!))).toEqual(['inventory.img']);
        }
        api[d.name]!.push(
          await answer(conn.unary(TasksService.start, { containerId, execId: '' })),
          await answer(conn.unary(TasksService.delete, { containerId })),
        );
      } finally {
        conn.close();
      }
      if (d.name === 'containerd-ts') expect(unpacked(d)).toEqual([]);
      for (const c of CLIENTS) {
        const rm3 = await s.run(c, d, ['containers', 'rm', 'r3-{id}']);
        expect(rm3.code, `${d.name} ${c}: ${rm3.stderr}`).toBe(0);
      }
      const leases = await s.run('ctr-ts', d, ['leases', 'ls', '-q']);
      expect(leases.stdout, d.name).toBe('');
      expect((await s.run('ctr-ts', d, ['tasks', 'ls', '-q'])).stdout.split('\n'), d.name).not.toContain(containerId);
      // No bundle, work dir, runc state, mount, cgroup or shim of r3 on containerd-ts.
      if (d.name === 'containerd-ts') {
        for (const c of CLIENTS) {
          const id = `r3-${s.tag(c)}`;
          expect((await leftovers(s.ts, d.namespaces[c], [id])).filter((l) => l.includes(id))).toEqual([]);
        }
      }
      const tasks = (await s.run('ctr-ts', d, ['tasks', 'ls'])).stdout;
      for (const id of ['r', 'r2']) expect(tasks, d.name).toMatch(new RegExp(`^${id}-${s.tag('ctr-ts')} +\\d+ +RUNNING$`, 'm'));
      const info = JSON.parse((await s.run('ctr-ts', d, ['containers', 'info', 'r-{id}'])).stdout) as { Image: string; SnapshotKey: string; Runtime: { Name: string } };
      expect({ image: info.Image, key: info.SnapshotKey, runtime: info.Runtime.Name }).toEqual({ image: s.image.ref, key: `r-${s.tag('ctr-ts')}`, runtime: 'io.containerd.runc.v2' });
    }
    // The same criu line from both daemons, and the same API answers.
    expect(live['containerd-ts']).toBe(live.containerd);
    expect(api['containerd-ts']).toEqual(api.containerd);
    // Unknown (2) for all of them, as containerd returns these errors unclassified.
    expect(api['containerd-ts']).toEqual([
      '2 unsupported checkpoint type "application/vnd.oci.image.layer.v1.tar"',
      `2 content digest sha256:${'0'.repeat(64)}: not found`,
      'ok',
      expect.stringMatching(/^2 OCI runtime restore failed: CRIU version check failed: .*: unknown$/),
      'ok',
    ]);
    // Nothing of containerd-ts's restores is left: no checkpoint directory (in its
    // $XDG_RUNTIME_DIR, nor in /tmp), the tasks and leases checked above.
    expect(unpacked(s.daemons[0]!)).toEqual([]);
    expect(inTmp().filter((e) => !tmpBefore.includes(e))).toEqual([]);
  }, 600_000);
  it('containerd-ts killed after a restore\'s Create, and killed during one: at the restart the checkpoint of the created task is kept until delete, the other removed', async () => {
    const s = sessions!;
    const d = s.daemons[0]!;
    const ns = d.namespaces['ctr-ts'];
    const ls = (await s.run('ctr-ts', d, ['images', 'ls'])).stdout;
    const index = JSON.parse((await s.run('ctr-ts', d, ['content', 'get', digestOf(ls, 'ckspec')])).stdout) as { manifests: Array<{ mediaType: string; digest: string; size: number }> };
    const criu = index.manifests.find((m) => m.mediaType === 'application/vnd.containerd.container.criu.checkpoint.criu.tar')!;
    const ids = ['r4', 'r5'].map((n) => `${n}-${s.tag('ctr-ts')}`) as [string, string];
    const create = async (id: string) => {
      const conn = new Connection(d.socket, { namespace: ns });
      try {
        await conn.unary(TasksService.create, { containerId: id, rootfs: [], stdin: '', stdout: '', stderr: '', terminal: false, checkpoint: { ...criu, annotations: {} }, options: undefined, runtimePath: '' });
      } finally {
        conn.close();
      }
    };
    for (const id of ids) expect((await s.run('ctr-ts', d, ['containers', 'create', s.image.ref, id, 'sleep', '1000'])).code).toBe(0);
    const env = { XDG_RUNTIME_DIR: runtimeDirs['containerd-ts'] };
    // r4 created from the checkpoint (unpacked, not restored yet), then kill -9 of the daemon.
    await create(ids[0]);
    expect(unpacked(d)).toHaveLength(1);
    await s.ts.stop('SIGKILL');
    // Restarted, it dies (SIGKILLs itself) in r5's Create, with the shim started.
    restarted = await restartDaemon(s.ts, { ...env, CONTAINERD_TS_RUNTIME_CRASH_AT: 'create:shim-started' });
    await expect(create(ids[1])).rejects.toThrow();
    await restarted.exited;
    expect(unpacked(d)).toHaveLength(2);
    restarted = await restartDaemon(s.ts, env);
    const tasks = (await s.run('ctr-ts', d, ['tasks', 'ls'])).stdout;
    expect(tasks).toMatch(new RegExp(`^${ids[0]} +\\d+ +CREATED$`, 'm'));
    expect(tasks).not.toContain(ids[1]);
    // r4's checkpoint is there for its Start; r5's went with the task that never was.
    expect(unpacked(d)).toHaveLength(1);
    expect(readdirSync(join(runtimeDirs['containerd-ts'], unpacked(d)[0]!))).toEqual(['inventory.img']);
    expect((await s.run('ctr-ts', d, ['tasks', 'delete', ids[0]])).code).toBe(0);
    expect(unpacked(d)).toEqual([]);
    for (const id of ids) expect((await s.run('ctr-ts', d, ['containers', 'rm', id])).code).toBe(0);
    expect((await s.run('ctr-ts', d, ['leases', 'ls', '-q'])).stdout).toBe('');
    expect((await leftovers(s.ts, ns, ids)).filter((l) => ids.some((id) => l.includes(id)))).toEqual([]);
    expect(inTmp().filter((e) => !tmpBefore.includes(e))).toEqual([]);
  }, 300_000);
});
