import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { definePlugin } from '@containerd-ts/plugin';
import { parse } from 'smol-toml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadConfig } from './load.js';
import { renderConfig, renderDefaultConfig } from './render.js';

const gc = definePlugin({
  type: 'io.containerd.gc.v1',
  id: 'scheduler',
  config: z
    .object({
      pause_threshold: z.number().default(0.02),
      deletion_threshold: z.number().int().default(0),
      mutation_threshold: z.number().int().default(100),
      schedule_delay: z.string().default('0s'),
      startup_delay: z.string().default('100ms'),
    })
    .strict(),
  init: () => ({}),
});
const native = definePlugin({ type: 'io.containerd.snapshotter.v1', id: 'native', config: z.object({ root_path: z.string().default('') }).strict(), init: () => ({}) });
const version = definePlugin({ type: 'io.containerd.grpc.v1', id: 'version', init: () => ({}) });
const plugins = [gc, native, version];

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cfg-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});
const write = async (name: string, text: string) => {
  const file = join(dir, name);
  await mkdir(join(file, '..'), { recursive: true });
  await writeFile(file, text);
  return file;
};

describe('loadConfig', () => {
  it('gives built-in defaults for a missing optional file', async () => {
    const { config, files } = await loadConfig(join(dir, 'nope.toml'), { plugins, optional: true });
    expect(files).toEqual([]);
    expect(config.root).toBe('/var/lib/containerd-ts');
    expect(config.grpc.address).toBe('/run/containerd-ts/containerd-ts.sock');
    expect(config.grpc.max_recv_message_size).toBe(16777216);
  });

  it('refuses a missing explicit file naming it', async () => {
    await expect(loadConfig(join(dir, 'nope.toml'), { plugins })).rejects.toThrow(`${join(dir, 'nope.toml')}: cannot read config file: no such file`);
  });

  it('names the key path and suggests the close key for a misspelling', async () => {
    const file = await write('c.toml', 'version = 2\n[plugins."io.containerd.gc.v1.scheduler"]\n  pause_treshold = 0.1\n');
    await expect(loadConfig(file, { plugins })).rejects.toThrow(
      `${file}: unknown key plugins."io.containerd.gc.v1.scheduler".pause_treshold (did you mean "pause_threshold"?)`,
    );
  });

  it('names the key and expected type for a wrong type', async () => {
    const file = await write('c.toml', 'version = 2\n[plugins."io.containerd.gc.v1.scheduler"]\n  mutation_threshold = "many"\n');
    await expect(loadConfig(file, { plugins })).rejects.toThrow(
      `${file}: plugins."io.containerd.gc.v1.scheduler".mutation_threshold: expected number, got string`,
    );
    const top = await write('d.toml', 'version = 2\n[grpc]\nuid = "root"\n');
    await expect(loadConfig(top, { plugins })).rejects.toThrow(`${top}: grpc.uid: expected number, got string`);
  });

  it('rejects unknown top-level keys and unknown plugins with suggestions', async () => {
    const a = await write('a.toml', 'version = 2\nrot = "/x"\n');
    await expect(loadConfig(a, { plugins })).rejects.toThrow(`${a}: unknown key rot (did you mean "root"?)`);
    const b = await write('b.toml', 'version = 2\n[plugins."io.containerd.gc.v1.schedular"]\n');
    await expect(loadConfig(b, { plugins })).rejects.toThrow(
      `${b}: unknown plugin plugins."io.containerd.gc.v1.schedular" (did you mean "io.containerd.gc.v1.scheduler"?)`,
    );
  });

  it('accepts sections of containerd plugins this daemon lacks, with a warning', async () => {
    const file = await write('c.toml', 'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "pause"\n');
    const { warnings, config } = await loadConfig(file, { plugins });
    expect(warnings[0]).toContain('io.containerd.grpc.v1.cri');
    expect(config.plugins['io.containerd.grpc.v1.cri']).toEqual({ sandbox_image: 'pause' });
  });

  it('reports TOML syntax errors with the position', async () => {
    const file = await write('c.toml', 'version = 2\nroot = \n');
    await expect(loadConfig(file, { plugins })).rejects.toThrow(new RegExp(`^${file}: invalid TOML at line 2, column`));
  });

  it('merges imports (files and globs) as containerd does', async () => {
    await write('conf.d/10-gc.toml', 'version = 2\ndisabled_plugins = ["io.containerd.snapshotter.v1.native"]\n[plugins."io.containerd.gc.v1.scheduler"]\n  pause_threshold = 0.5\n');
    await write('conf.d/20-grpc.toml', 'version = 2\n[grpc]\n  uid = 0\n  max_recv_message_size = 1024\n');
    await write('extra.toml', 'version = 2\nroot = "/from/extra"\n');
    const main = await write(
      'config.toml',
      'version = 2\nroot = "/main"\nimports = ["conf.d/*.toml", "extra.toml"]\ndisabled_plugins = ["io.containerd.grpc.v1.version"]\n[grpc]\n  uid = 5\n[plugins."io.containerd.gc.v1.scheduler"]\n  mutation_threshold = 7\n',
    );
    const { config, files } = await loadConfig(main, { plugins });
    expect(files).toEqual([main, join(dir, 'conf.d/10-gc.toml'), join(dir, 'conf.d/20-grpc.toml'), join(dir, 'extra.toml')]);
    expect(config.root).toBe('/from/extra');
    expect(config.grpc.uid).toBe(5); // zero values do not override (mergo)
    expect(config.grpc.max_recv_message_size).toBe(1024);
    expect(config.disabled_plugins).toEqual(['io.containerd.grpc.v1.version', 'io.containerd.snapshotter.v1.native']);
    // a plugin section from an import replaces the whole section
    expect(config.plugins['io.containerd.gc.v1.scheduler']).toEqual({ pause_threshold: 0.5 });
  });

  it('migrates a version 1 file (plugin keys by ID) with a warning', async () => {
    const file = await write('v1.toml', 'disabled_plugins = ["native"]\n[plugins.scheduler]\n  pause_threshold = 0.3\n');
    const { config, warnings } = await loadConfig(file, { plugins });
    expect(config.version).toBe(2);
    expect(config.disabled_plugins).toEqual(['io.containerd.snapshotter.v1.native']);
    expect(config.plugins['io.containerd.gc.v1.scheduler']).toEqual({ pause_threshold: 0.3 });
    expect(warnings[0]).toContain('version 1 is deprecated');
    const bad = await write('v1bad.toml', '[plugins.nosuch]\n  a = 1\n');
    await expect(loadConfig(bad, { plugins })).rejects.toThrow('version 1 config: plugins "nosuch" does not name exactly one plugin; convert it to version 2');
  });
});

describe('rendering', () => {
  it('config default lists every plugin default and parses back', async () => {
    const text = renderDefaultConfig(plugins);
    const doc = parse(text) as Record<string, Record<string, unknown>>;
    expect(doc.version).toBe(2);
    expect(doc.plugins?.['io.containerd.gc.v1.scheduler']).toEqual({
      pause_threshold: 0.02,
      deletion_threshold: 0,
      mutation_threshold: 100,
      schedule_delay: '0s',
      startup_delay: '100ms',
    });
    const file = await write('default.toml', text);
    const { config } = await loadConfig(file, { plugins });
    expect(config.root).toBe('/var/lib/containerd-ts');
  });

  it('config dump shows merged values and loads again', async () => {
    await write('imp.toml', 'version = 2\n[plugins."io.containerd.snapshotter.v1.native"]\n  root_path = "/fast"\n');
    const main = await write('main.toml', 'version = 2\nimports = ["imp.toml"]\n');
    const { config } = await loadConfig(main, { plugins });
    const dumped = renderConfig(config, plugins);
    expect(dumped).toContain('root_path = "/fast"');
    const again = await loadConfig(await write('dumped.toml', dumped), { plugins });
    expect(again.config.plugins['io.containerd.snapshotter.v1.native']).toEqual({ root_path: '/fast' });
  });
});
