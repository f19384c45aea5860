import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import optPlugin from './index.js';
import { DEFAULT_OPT_PATH, prepareOpt } from './opt.js';

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'opt-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the opt directory', () => {
  it('defaults to containerd-ts\'s own directory', () => {
    expect(optPlugin.config?.parse({})).toEqual({ path: DEFAULT_OPT_PATH });
    expect(DEFAULT_OPT_PATH).toBe('/opt/containerd-ts');
    expect(() => optPlugin.config?.parse({ path: '/x', other: 1 })).toThrow();
  });

  it('creates bin/ and lib/ (0711) and puts them first on PATH and LD_LIBRARY_PATH', async () => {
    const env: NodeJS.ProcessEnv = { PATH: '/usr/bin:/bin' };
    const opt = await prepareOpt(join(dir, 'opt'), env);
    expect(opt.bin).toBe(join(dir, 'opt', 'bin'));
    expect((await stat(opt.bin)).mode & 0o777).toBe(0o711);
    expect((await stat(opt.lib)).mode & 0o777).toBe(0o711);
    expect(env.PATH).toBe(`${opt.bin}:/usr/bin:/bin`);
    expect(env.LD_LIBRARY_PATH).toBe(opt.lib);
  });

  it('fails when the path cannot be created, leaving the environment alone', async () => {
    await writeFile(join(dir, 'file'), '');
    const env: NodeJS.ProcessEnv = { PATH: '/usr/bin' };
    await expect(prepareOpt(join(dir, 'file', 'opt'), env)).rejects.toThrow(/ENOTDIR/);
    expect(env).toEqual({ PATH: '/usr/bin' });
  });
});
