// Test fixtures that need the host: loop-device file systems (btrfs, ext4 variants) and
// loading a plugin definition through the real plugin registry.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { type AnyPluginDefinition, type Logger, type PluginRecord, PluginRegistry } from '@containerd-ts/plugin';
import { MNT_DETACH, mount, umount2 } from '@containerd-ts/sys';

const run = promisify(execFile);

/** Whether an executable is on PATH. */
export function hasExecutable(name: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, name)));
}

export interface LoopFilesystem {
  /** Where the file system is mounted. */
  mountpoint: string;
  /** The loop device (`/dev/loopN`). */
  device: string;
  /** Unmounts, detaches the loop device and removes the image. */
  close(): Promise<void>;
}

/**
 * Makes a file system of `fstype` in a sparse image file, attaches it to a loop device
 * (losetup) and mounts it (mount(2)). Needs root, losetup and mkfs.<fstype>.
 */
export async function createLoopFilesystem(options: {
  fstype: string;
  sizeMiB?: number;
  mkfsOptions?: readonly string[];
  /** Where the image file and mount point go (default: the OS temp dir). */
  dir?: string;
}): Promise<LoopFilesystem> {
  const dir = await mkdtemp(join(options.dir ?? tmpdir(), `loopfs-${options.fstype}-`));
  const image = join(dir, 'image');
  const mountpoint = join(dir, 'mnt');
  await writeFile(image, '');
  await truncate(image, (options.sizeMiB ?? 256) * 1024 * 1024);
  await mkdir(mountpoint);
  let device = '';
  try {
    await run(`mkfs.${options.fstype}`, [...(options.mkfsOptions ?? []), image]);
    device = (await run('losetup', ['--find', '--show', image])).stdout.trim();
    mount(device, mountpoint, options.fstype, 0);
  } catch (err) {
    if (device) await run('losetup', ['-d', device]).catch(() => {});
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    mountpoint,
    device,
    async close() {
      try {
        umount2(mountpoint, MNT_DETACH);
      } finally {
        await run('losetup', ['-d', device]).catch(() => {});
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

const quietLog: Logger = {
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => quietLog,
};

/**
 * Initialises one plugin definition through the daemon's plugin registry, with daemon
 * root and state under `root`, and returns its record (status, error, exports, instance).
 */
export async function loadPlugin(
  definition: AnyPluginDefinition,
  options: { root: string; config?: unknown },
): Promise<{ record: PluginRecord; close: () => Promise<void> }> {
  // The daemon creates its root and state directories before any plugin starts.
  await mkdir(join(options.root, 'root'), { recursive: true, mode: 0o711 });
  await mkdir(join(options.root, 'state'), { recursive: true, mode: 0o711 });
  const registry = new PluginRegistry({
    definitions: [definition],
    configFor: () => options.config,
    daemon: {
      root: join(options.root, 'root'),
      state: join(options.root, 'state'),
      address: join(options.root, 'containerd.sock'),
      ttrpcAddress: join(options.root, 'containerd.sock.ttrpc'),
      version: 'test',
      revision: 'test',
    },
    log: quietLog,
  });
  await registry.initAll();
  const record = registry.list()[0];
  if (!record) throw new Error(`plugin ${definition.type}.${definition.id} was not loaded`);
  return { record, close: () => registry.close() };
}
