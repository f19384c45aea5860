import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPlugin, snapshotterSuite } from '@containerd-ts/snapshots/testsuite';
import { MNT_DETACH, mount, umount2 } from '@containerd-ts/sys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NativeSnapshotter } from './native.js';
import plugin from './index.js';

// Native copies the whole parent on every prepare; the suite's 128-layer case makes ~16,000
// files. It runs on a tmpfs so that it takes seconds on any disk; native does nothing
// file-system specific (the copy's ext4 paths are covered by @containerd-ts/snapshots' tests).
describe('native on tmpfs', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'native-suite-'));
    mount('tmpfs', dir, 'tmpfs', 0, 'size=1g,mode=0755');
  });
  afterAll(async () => {
    umount2(dir, MNT_DETACH);
    await rm(dir, { recursive: true, force: true });
  });

  snapshotterSuite(
    'Native',
    async ({ root }) => {
      const snapshotter = await NativeSnapshotter.open(root);
      return { snapshotter, cleanup: () => snapshotter.close() };
    },
    { tmpDir: () => dir },
  );
});

snapshotterSuite(
  'NativeOnDisk',
  async ({ root }) => {
    const snapshotter = await NativeSnapshotter.open(root);
    return { snapshotter, cleanup: () => snapshotter.close() };
  },
  { skip: { '128LayersMount': 'run on tmpfs above', LayerFileUpdate: 'run on tmpfs above' } },
);

describe('native plugin', () => {
  it('loads with no exports, as containerd 1.6', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'native-plugin-'));
    try {
      const { record, close } = await loadPlugin(plugin, { root: dir });
      expect(record.status).toBe('ok');
      expect(record.meta.exports).toEqual({});
      expect(record.instance).toBeInstanceOf(NativeSnapshotter);
      await close();
      const other = join(dir, 'elsewhere');
      const again = await loadPlugin(plugin, { root: dir, config: { root_path: other } });
      expect((again.record.instance as NativeSnapshotter).root).toBe(other);
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
