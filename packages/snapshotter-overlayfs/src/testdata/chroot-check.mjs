// Child of the chroot test, run inside a chroot whose root directory no mountinfo entry
// covers: looks `dir` up in mountinfo as containerd's mount.Lookup would, loads the built
// overlayfs plugin with its daemon root under `dir` as the daemon does, and, when it
// loads, mounts a two-layer overlay for real. Prints one JSON object.
//   node chroot-check.mjs <dir>
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { lookupMount, mountAll, unmountAll } from '@containerd-ts/snapshots';
import { loadPlugin } from '@containerd-ts/snapshots/testing';
import plugin from '../../dist/index.js';

const [dir = ''] = process.argv.slice(2);
const result = {};
try {
  result.lookup = (await lookupMount(dir)).mountpoint;
} catch (err) {
  result.lookup = err.message;
}
const { record, close } = await loadPlugin(plugin, { root: dir });
result.status = record.status;
result.error = record.error?.message;
try {
  if (record.status === 'ok') {
    const sn = record.instance;
    const ctx = { namespace: 'test' };
    const [lower] = await sn.prepare(ctx, 'a1');
    await writeFile(join(lower.source, 'hello'), 'from the lower layer');
    await sn.commit(ctx, 'c1', 'a1');
    const mounts = await sn.prepare(ctx, 'a2', 'c1');
    result.mountType = mounts[0].type;
    const target = join(dir, 'mnt');
    await mkdir(target);
    await mountAll(mounts, target);
    try {
      result.read = await readFile(join(target, 'hello'), 'utf8');
      await writeFile(join(target, 'new'), 'in the upper layer');
    } finally {
      await unmountAll(target);
    }
  }
} finally {
  await close();
}
process.stdout.write(JSON.stringify(result));
