// The overlayfs plugin in a chroot whose root directory is not a mount point (a
// debootstrap'd tree entered without bind-mounting it onto itself): mountinfo then lists
// only the mounts made inside the tree, so no entry covers the snapshotter's root. The
// plugin must still load, as containerd's does, and its overlay mounts must work. The
// child runs the built plugin (dist/), which `turbo run test` builds first.
import { execFile } from 'node:child_process';
import { existsSync, lstatSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { readMountInfo } from '@containerd-ts/snapshots';
import { MNT_DETACH, MS_BIND, MS_REC, mount, umount2 } from '@containerd-ts/sys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const here = fileURLToPath(new URL('.', import.meta.url));
const repo = resolve(here, '..', '..', '..');
const run = promisify(execFile);

let chroot = '';
const mounted: string[] = [];

function bind(source: string, target: string): void {
  mount(source, target, null, MS_BIND | MS_REC);
  mounted.push(target);
}

beforeAll(async () => {
  const built = await stat(join(here, '..', 'dist', 'check.js')).catch(() => undefined);
  if (!built) throw new Error('dist/ is missing: build the package before running the chroot test');
  for (const name of ['check.ts', 'overlay.ts', 'index.ts']) {
    if ((await stat(join(here, name))).mtimeMs > built.mtimeMs) {
      throw new Error(`dist/ is older than src/${name}: build the package before running the chroot test`);
    }
  }
  chroot = await mkdtemp(join(tmpdir(), 'overlay-chroot-'));
  // The host's system directories (symlinks stay symlinks, as on a merged-/usr Debian),
  // /proc, and the repository at its own path so the child's imports resolve.
  for (const d of ['usr', 'bin', 'sbin', 'lib', 'lib64', 'etc', 'dev']) {
    const host = `/${d}`;
    if (!existsSync(host)) continue;
    if (lstatSync(host).isSymbolicLink()) {
      await symlink(readlinkSync(host), join(chroot, d));
    } else {
      await mkdir(join(chroot, d));
      bind(host, join(chroot, d));
    }
  }
  const node = dirname(process.execPath);
  if (!existsSync(join(chroot, node))) {
    await mkdir(join(chroot, node), { recursive: true });
    bind(node, join(chroot, node));
  }
  await mkdir(join(chroot, repo), { recursive: true });
  bind(repo, join(chroot, repo));
  await mkdir(join(chroot, 'proc'));
  mount('proc', join(chroot, 'proc'), 'proc', 0);
  mounted.push(join(chroot, 'proc'));
  await mkdir(join(chroot, 'tmp'), { mode: 0o1777 });
  await mkdir(join(chroot, 'var', 'lib'), { recursive: true });
});

afterAll(async () => {
  if (!chroot) return;
  for (const target of mounted.reverse()) umount2(target, MNT_DETACH);
  // Never remove the tree while anything (a bound /usr above all) is still mounted in it.
  const left = (await readMountInfo()).filter((m) => m.mountpoint === chroot || m.mountpoint.startsWith(`${chroot}/`));
  if (left.length > 0) throw new Error(`mounts left in ${chroot}: ${left.map((m) => m.mountpoint).join(', ')}`);
  await rm(chroot, { recursive: true, force: true });
});

describe('overlayfs plugin in a chroot', () => {
  it('loads and mounts overlays though no mountinfo entry covers its root', async () => {
    const dir = '/var/lib/overlay-chroot-test';
    const { stdout } = await run('chroot', [chroot, process.execPath, join(here, 'testdata', 'chroot-check.mjs'), dir], {
      cwd: '/',
      timeout: 60_000,
    });
    expect(JSON.parse(stdout)).toEqual({
      // The premise: containerd's mount.Lookup finds nothing for this path here.
      lookup: `failed to find the mount info for "${dir}"`,
      status: 'ok',
      mountType: 'overlay',
      read: 'from the lower layer',
    });
    const upper = join(chroot, dir, 'root', 'io.containerd.snapshotter.v1.overlayfs', 'snapshots', '2', 'fs');
    expect(await readFile(join(upper, 'new'), 'utf8')).toBe('in the upper layer');
    // Nothing the child mounted is left behind.
    expect((await readMountInfo()).filter((m) => m.mountpoint.startsWith(join(chroot, dir)))).toEqual([]);
  });
});
