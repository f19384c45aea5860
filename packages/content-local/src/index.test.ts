import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Logger, PluginRegistry } from '@containerd-ts/plugin';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import contentPlugin, { LocalContentStore } from './index.js';

const log: Logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, child: () => log };
let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'content-plugin-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});
const daemon = () => ({ root, state: join(root, 'state'), address: '/x.sock', ttrpcAddress: '/x.sock.ttrpc', version: 'test', revision: 'test' });

describe('content plugin', () => {
  it('registers io.containerd.content.v1 content on <root>/io.containerd.content.v1.content and exports root', async () => {
    const reg = new PluginRegistry({ definitions: [contentPlugin], daemon: daemon(), log });
    await reg.initAll();
    const [record] = reg.list();
    const pluginRoot = join(root, 'io.containerd.content.v1.content');
    expect(record).toMatchObject({ type: 'io.containerd.content.v1', id: 'content', status: 'ok' });
    expect(record?.meta.exports).toEqual({ root: pluginRoot });
    const store = reg.get('io.containerd.content.v1');
    expect(store).toBeInstanceOf(LocalContentStore);
    expect(await readdir(pluginRoot)).toEqual(['ingest']);
    await reg.close();
  });

  it('accepts no configuration keys', async () => {
    const reg = new PluginRegistry({ definitions: [contentPlugin], configFor: () => ({ root_path: '/x' }), daemon: daemon(), log });
    await reg.initAll();
    expect(reg.list()[0]?.status).toBe('error');
  });
});
