import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostPlatform } from '@containerd-ts/plugin';
import { hasExecutable, loadPlugin } from '@containerd-ts/snapshots/testsuite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseDevmapperConfig, ramInBytes } from './config.js';
import { dmsetupErrno } from './dmsetup.js';
import plugin from './index.js';

const base = {
  root_path: '/r',
  pool_name: 'pool',
  base_image_size: '10GB',
  async_remove: false,
  discard_blocks: false,
  fs_type: '',
  fs_options: '',
};

describe('devmapper plugin', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'devmapper-plugin-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const pluginRoot = () => join(dir, 'root', 'io.containerd.snapshotter.v1.devmapper');

  it('fails as containerd does when no pool is configured', async () => {
    const { record } = await loadPlugin(plugin, { root: dir });
    expect(record.status).toBe('error');
    expect(record.error?.message).toBe('devmapper not configured');
    expect(record.meta.exports).toEqual({});
    expect(record.meta.platforms).toEqual([hostPlatform()]);
    expect(existsSync(pluginRoot())).toBe(false);
  });

  it('reports config problems with containerd’s messages', async () => {
    let { record } = await loadPlugin(plugin, { root: dir, config: { pool_name: 'mypool' } });
    expect(record.error?.message).toBe("failed to parse base image size: '': invalid size: ''");
    ({ record } = await loadPlugin(plugin, {
      root: dir,
      config: { pool_name: 'mypool', base_image_size: '10GB', fs_type: 'btrfs' },
    }));
    expect(record.status).toBe('error');
    expect(record.error?.message).toBe('1 error occurred:\n\t* unsupported Filesystem Type: "btrfs"\n\n');
  });

  // dmsetup installed, the kernel without device mapper (it registers a block major when it has it).
  const noDeviceMapper = hasExecutable('dmsetup') && !readFileSync('/proc/devices', 'utf8').includes('device-mapper');
  it.skipIf(!noDeviceMapper)('fails as containerd does on a kernel without device mapper', async () => {
    const { record } = await loadPlugin(plugin, { root: dir, config: { pool_name: 'mypool', base_image_size: '10GB' } });
    expect(record.status).toBe('error');
    expect(record.error?.message).toBe('no such device');
    // containerd creates the root (0750) before it asks dmsetup.
    expect(statSync(pluginRoot()).mode & 0o777).toBe(0o750);
  });

  it('reports a missing dmsetup with Go’s exec error', async () => {
    const { checkDevmapper } = await import('./devmapper.js');
    await expect(checkDevmapper({ ...base, root_path: join(dir, 'r') }, { path: join(dir, 'empty') })).rejects.toThrow(
      'dmsetup version\nerror: \n: exec: "dmsetup": executable file not found in $PATH',
    );
  });
});

describe('devmapper config', () => {
  it('parses sizes as go-units RAMInBytes', () => {
    expect(ramInBytes('10GB')).toBe(10 * 1024 ** 3);
    expect(ramInBytes('512Mi')).toBe(512 * 1024 ** 2);
    expect(ramInBytes('1.5 k')).toBe(1536);
    expect(ramInBytes('100')).toBe(100);
    expect(() => ramInBytes('10 XB')).toThrow("invalid size: '10 XB'");
    expect(() => ramInBytes('1.2.3')).toThrow('strconv.ParseFloat: parsing "1.2.3": invalid syntax');
  });

  it('defaults fs_type to ext4 and lists every problem', () => {
    expect(parseDevmapperConfig(base)).toMatchObject({ fs_type: 'ext4', baseImageSizeBytes: 10 * 1024 ** 3 });
    expect(() => parseDevmapperConfig({ ...base, pool_name: '', root_path: '', fs_type: 'zfs' })).toThrow(
      '3 errors occurred:\n\t* pool_name is required\n\t* root_path is required\n\t* unsupported Filesystem Type: "zfs"\n\n',
    );
  });

  it('turns dmsetup kernel errors into errno texts', () => {
    expect(dmsetupErrno('/dev/mapper/control: open failed: No such device\nFailure to communicate\n')).toBe('no such device');
    expect(dmsetupErrno('Device /dev/mapper/x not found\nCommand failed.\n')).toBe('no such device or address');
    expect(dmsetupErrno('device-mapper: message ioctl on pool failed: File exists\nCommand failed\n')).toBe('file exists');
    expect(dmsetupErrno('something else\n')).toBeUndefined();
  });
});
