// Issue 11: `run --uidmap/--gidmap` — a user namespace in the spec and the image's files
// remapped into the shared snapshot `<chainID>-<uid>-<gid>` — with Debian's ctr and with
// ctr-ts, each in a namespace of its own, on containerd-ts and on Debian's containerd: the
// same `containers info` and `snapshots ls`, the container sees the mapping, its files
// belong to the mapped IDs on the host, a second container reuses the remapped snapshot,
// bad mappings read as ctr's errors, and after removal and a synchronous GC nothing is left.
//
// The daemons' directories are made by mkdtemp (0700); the mapped root (uid 100000) must
// traverse the state directory down to the bundle's rootfs, as it can under /run/containerd
// (0711). The test opens only the temp directories above the daemon's own root and state.
import { chmod, lstat, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leftovers } from './containers-run.js';
import { CLIENTS, type Client, type SessionDaemon, type Sessions, startSessions } from './ctr-sessions.js';

const NAMES = ['um1', 'um2', 'bad1', 'bad2', 'bad3', 'rl'];
const MAP = '0:100000:65536';
const USERNS = ['--uidmap', MAP, '--gidmap', MAP];

describe('ctr-ts run --uidmap/--gidmap: the same user namespace and remapped snapshot as ctr on containerd-ts and containerd', () => {
  let sessions: Sessions | undefined;
  /** Each daemon's directory (the parent of its root and state). */
  const dirs = new Map<string, string>();

  beforeAll(async () => {
    sessions = await startSessions({ namespace: 'uidm', tag: 'u' });
    dirs.set('containerd-ts', dirname(sessions.ts.state));
    dirs.set('containerd', sessions.ref.dir);
    // The daemon's directory and the test file's temp root above it (both mkdtemp's, 0700).
    for (const dir of dirs.values()) {
      for (let p = dir; p.startsWith(tmpdir()) && p !== dirname(p); p = dirname(p)) await chmod(p, 0o711);
    }
  }, 180_000);

  afterAll(async () => {
    await sessions?.stop(NAMES);
  }, 300_000);

  /** `snapshots ls` keys of a client's namespace. */
  const snapshotKeys = async (client: Client, d: SessionDaemon): Promise<string[]> => {
    const r = await sessions!.run(client, d, ['snapshots', 'ls']);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout
      .split('\n')
      .slice(1)
      .filter(Boolean)
      .map((l) => l.split(/\s+/)[0]!);
  };

  /** Mounts (targets or options) that name the daemon's directory. */
  const mountsOf = async (d: SessionDaemon): Promise<string[]> =>
    (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(dirs.get(d.name)!));

  it('runs in a user namespace on a remapped snapshot, as ctr does, and leaves nothing', async () => {
    const { daemons, image, tag } = sessions!;
    const vars = { img: image.ref };
    for (const d of daemons) {
      // A running container with the mapping: its record, the snapshots, what it sees.
      const created = [
        ['run', '-d', ...USERNS, '{img}', 'um1-{id}', 'sleep', '600'],
        ['containers', 'info', 'um1-{id}'],
        ['snapshots', 'ls'],
        ['tasks', 'exec', '--exec-id', 'e1', 'um1-{id}', 'cat', '/proc/self/uid_map', '/proc/self/gid_map'],
        ['tasks', 'exec', '--exec-id', 'e2', 'um1-{id}', 'stat', '-c', '%u:%g %n', '/', '/bin/busybox', '/etc/passwd'],
      ];
      expect(await sessions!.compare(d, created, vars)).toEqual([]);

      const remapped: Record<string, string> = {};
      for (const client of CLIENTS) {
        const who = `${d.name} ${client}`;
        const keys = await snapshotKeys(client, d);
        const key = keys.find((k) => k.endsWith('-100000-100000'));
        expect(key, `${who}: ${keys.join(' ')}`).toMatch(/^sha256:[0-9a-f]{64}-100000-100000$/);
        expect(keys.filter((k) => k.endsWith('-remap')), who).toEqual([]);
        remapped[client] = key!;
        const exec = await sessions!.run(client, d, ['tasks', 'exec', '--exec-id', 'e3', 'um1-{id}', 'cat', '/proc/self/uid_map']);
        expect(exec.stdout.trim().split(/\s+/), who).toEqual(['0', '100000', '65536']);
        // On the host: the task's root and the remapped snapshot's files belong to 100000.
        const tasks = await sessions!.run(client, d, ['tasks', 'ls']);
        const pid = tasks.stdout.split('\n').find((l) => l.startsWith(`um1-${tag(client)}`))?.split(/\s+/)[1];
        expect(pid, `${who}: ${tasks.stdout}`).toMatch(/^\d+$/);
        for (const p of ['', 'bin/busybox', 'etc/passwd']) {
          const st = await lstat(join(`/proc/${pid}/root`, p));
          expect([p, st.uid, st.gid], who).toEqual([p, 100000, 100000]);
        }
        const mounts = await sessions!.run(client, d, ['snapshots', 'mounts', '/mnt', 'um1-{id}']);
        const lower = /lowerdir=([^:,\s]+)/.exec(mounts.stdout)?.[1];
        expect(lower, `${who}: ${mounts.stdout}`).toBeDefined();
        const st = await lstat(join(lower!, 'bin/busybox'));
        expect([st.uid, st.gid], who).toEqual([100000, 100000]);
      }
      const info = async (client: Client) => (await sessions!.run(client, d, ['snapshots', 'info', remapped[client]!])).stdout;
      const before = await Promise.all(CLIENTS.map(info));

      // A second container with the same mapping runs on the same remapped snapshot.
      const second = [
        ['run', '--rm', ...USERNS, '{img}', 'um2-{id}', 'cat', '/proc/self/uid_map'],
        ['snapshots', 'ls'],
      ];
      expect(await sessions!.compare(d, second, vars)).toEqual([]);
      expect(await Promise.all(CLIENTS.map(info))).toEqual(before);
      expect(before[1]).toContain(`"Name": "${remapped['ctr-ts']}"`);
      const removed = [
        ['tasks', 'rm', '-f', 'um1-{id}'],
        ['containers', 'rm', 'um1-{id}'],
      ];
      expect(await sessions!.compare(d, removed, vars)).toEqual([]);

      // Unreferenced once the containers are gone: a synchronous GC collects it.
      const gc = [
        ['leases', 'create', '--id', 'gc-{id}'],
        ['leases', 'rm', '--sync', 'gc-{id}'],
        ['snapshots', 'ls'],
        ['containers', 'ls'],
        ['leases', 'ls'],
      ];
      expect(await sessions!.compare(d, gc, vars)).toEqual([]);
      for (const client of CLIENTS) {
        const keys = await snapshotKeys(client, d);
        expect(
          keys.filter((k) => k.includes('-100000-')),
          `${d.name} ${client}`,
        ).toEqual([]);
      }
      expect(await mountsOf(d), d.name).toEqual([]);
    }
    const ts = sessions!.ts;
    expect(await leftovers(ts, daemons[0]!.namespaces['ctr-ts'], NAMES.map((n) => `${n}-${tag('ctr-ts')}`))).toEqual([]);
  }, 600_000);

  it('reads bad mappings as ctr does: one line and exit 1; one map alone is ignored', async () => {
    const { daemons, image } = sessions!;
    const steps = [
      ['run', '--rm', '--uidmap', MAP, '{img}', 'bad1-{id}', 'cat', '/proc/self/uid_map'],
      ['run', '--rm', '--gidmap', MAP, '{img}', 'bad1-{id}', 'cat', '/proc/self/gid_map'],
      ['run', '--rm', '--uidmap', '0:100000', '--gidmap', MAP, '{img}', 'bad2-{id}', 'true'],
      ['run', '--rm', '--uidmap', 'x:100000:65536', '--gidmap', MAP, '{img}', 'bad2-{id}', 'true'],
      ['run', '--rm', '--uidmap', MAP, '--gidmap', '0:-1:65536', '{img}', 'bad2-{id}', 'true'],
      ['run', '--rm', '--uidmap', MAP, '--gidmap', '0:0x186a0:4294967296', '{img}', 'bad2-{id}', 'true'],
      // The image is looked up first.
      ['run', '--rm', '--uidmap', 'x:1:1', '--gidmap', MAP, 'example.com/missing:1', 'bad2-{id}', 'true'],
      ['containers', 'ls'],
      ['snapshots', 'ls'],
    ];
    for (const d of daemons) {
      expect(await sessions!.compare(d, steps, { img: image.ref })).toEqual([]);
      const r = await sessions!.run('ctr-ts', d, steps[3]!, { img: image.ref });
      expect({ code: r.code, stderr: r.stderr }).toEqual({
        code: 1,
        stderr: 'ctr-ts: invalid container id for user namespace remapping: strconv.ParseUint: parsing "x": invalid syntax\n',
      });
      // `containers create` has no such flags in ctr 1.6.20: its usage error (the program named).
      const create = ['containers', 'create', ...USERNS, '{img}', 'bad3-{id}'];
      const [theirs, ours] = [await sessions!.run('ctr', d, create, { img: image.ref }), await sessions!.run('ctr-ts', d, create, { img: image.ref })];
      expect(ours.stderr).toContain('flag provided but not defined: -uidmap');
      expect({ ...ours, stdout: ours.stdout.replaceAll('ctr-ts ', 'ctr '), stderr: ours.stderr.replace('ctr-ts: ', 'ctr: ') }).toEqual(theirs);
      const alone = await sessions!.run('ctr-ts', d, steps[0]!, { img: image.ref });
      expect(alone.stdout.trim().split(/\s+/)).toEqual(['0', '0', '4294967295']);
    }
  }, 300_000);

  it('with --remap-labels, labels the container snapshot with the mapping instead of remapping', async () => {
    // overlayfs does not read the labels: the rootfs keeps the host's owners, which the
    // mapped root cannot write, and runc's rootfs preparation fails — for ctr as for ctr-ts.
    const { daemons, image } = sessions!;
    const steps = [
      ['run', '-d', ...USERNS, '--remap-labels', '{img}', 'rl-{id}', 'sleep', '600'],
      ['containers', 'info', 'rl-{id}'],
      ['snapshots', 'info', 'rl-{id}'],
      ['snapshots', 'ls'],
      ['containers', 'rm', 'rl-{id}'],
      ['snapshots', 'ls'],
    ];
    for (const d of daemons) {
      expect(await sessions!.compare(d, steps, { img: image.ref })).toEqual([]);
    }
    const d = daemons[0]!;
    const r = await sessions!.run('ctr-ts', d, steps[0]!, { img: image.ref });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^ctr-ts: failed to create shim task: OCI runtime create failed: .*permission denied: unknown\n$/);
    const info = JSON.parse((await sessions!.run('ctr-ts', d, ['snapshots', 'info', 'rl-{id}'])).stdout) as { Labels?: Record<string, string> };
    expect(info.Labels).toEqual({ 'containerd.io/snapshot/uidmapping': MAP, 'containerd.io/snapshot/gidmapping': MAP });
    const keys = await snapshotKeys('ctr-ts', d);
    expect(keys.filter((k) => k.includes('-100000-'))).toEqual([]);
    expect((await sessions!.run('ctr-ts', d, ['containers', 'rm', 'rl-{id}'])).code).toBe(0);
  }, 300_000);
});
