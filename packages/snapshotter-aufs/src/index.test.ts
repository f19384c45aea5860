import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostPlatform } from '@containerd-ts/plugin';
import { hasExecutable, loadPlugin } from '@containerd-ts/snapshots/testsuite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkAufsSupported, goQuote } from './aufs.js';
import plugin from './index.js';

describe('aufs plugin', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aufs-plugin-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.skipIf(hasExecutable('modprobe'))("skips with containerd's message on this host (no modprobe on PATH)", async () => {
    const { record } = await loadPlugin(plugin, { root: dir });
    expect(record.status).toBe('skip');
    expect(record.error?.message).toBe(
      'aufs is not supported (modprobe aufs failed: exec: "modprobe": executable file not found in $PATH ""): skip plugin',
    );
    expect(record.meta.exports).toEqual({ root: join(dir, 'root', 'io.containerd.snapshotter.v1.aufs') });
    expect(record.meta.platforms).toEqual([hostPlatform()]);
  });

  // Host commands standing in for modprobe, to reach the other branches of the check.
  async function modprobe(script: string): Promise<string> {
    const bin = join(dir, 'bin');
    await rm(bin, { recursive: true, force: true });
    await mkdir(bin);
    await writeFile(join(bin, 'modprobe'), `#!/bin/sh\n${script}\n`);
    await chmod(join(bin, 'modprobe'), 0o755);
    return `${bin}:/usr/bin:/bin`;
  }

  it('quotes a failing modprobe as containerd does', async () => {
    const path = await modprobe('echo "modprobe: FATAL: Module aufs not found in directory /lib/modules/x" >&2; exit 1');
    await expect(checkAufsSupported({ path })).rejects.toThrow(
      'aufs is not supported (modprobe aufs failed: exit status 1 "modprobe: FATAL: Module aufs not found in directory /lib/modules/x\\n")',
    );
  });

  it('looks in /proc/filesystems once the module loads', async () => {
    const path = await modprobe('exit 0');
    const has = (await readFile('/proc/filesystems', 'utf8')).includes('aufs');
    if (has) await expect(checkAufsSupported({ path })).resolves.toBeUndefined();
    else await expect(checkAufsSupported({ path })).rejects.toThrow('aufs is not supported (AUFS was not found in /proc/filesystems)');
  });

  it("quotes like Go's %q", () => {
    expect(goQuote('')).toBe('""');
    expect(goQuote('a "b"\\\n\t\x01é\u2028')).toBe('"a \\"b\\"\\\\\\n\\t\\x01é\\u2028"');
  });
});
