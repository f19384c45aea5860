import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { PluginGraphError, RequiredPluginError, SkipPluginError } from './errors.js';
import { buildPluginGraph } from './graph.js';
import { PluginRegistry } from './registry.js';
import { type AnyPluginDefinition, type Logger, definePlugin, pluginURI } from './types.js';

const lines: string[] = [];
const log: Logger = {
  trace: () => {},
  debug: () => {},
  info: (o, m) => lines.push(`info ${m ?? ''} ${JSON.stringify(o)}`),
  warn: (o, m) => lines.push(`warn ${m ?? ''} ${JSON.stringify(o)}`),
  error: () => {},
  child: () => log,
};
const daemon = { root: '/r', state: '/s', address: '/a.sock', ttrpcAddress: '/a.sock.ttrpc', version: 'v0', revision: 'r' };
const simple = (type: string, id: string, requires: string[] = []) =>
  definePlugin({ type, id, requires, init: () => `${type}.${id}` });

describe('plugin graph', () => {
  it('orders dependencies first, otherwise registration order', () => {
    const defs = [
      simple('svc', 'a', ['store']),
      simple('store', 'x'),
      simple('grpc', 'g', ['svc']),
      simple('store', 'y'),
      simple('intro', 'i', ['*']),
      simple('other', 'o'),
    ];
    const { ordered, invalid } = buildPluginGraph(defs, new Set());
    expect(invalid.size).toBe(0);
    expect(ordered.map(pluginURI)).toEqual(['store.x', 'store.y', 'svc.a', 'grpc.g', 'other.o', 'intro.i']);
  });

  it('reports a cycle on the plugins in it without hanging', () => {
    const defs = [simple('a', '1', ['b']), simple('b', '1', ['c']), simple('c', '1', ['a']), simple('d', '1')];
    const { ordered, invalid } = buildPluginGraph(defs, new Set());
    expect(ordered).toHaveLength(4);
    const err = invalid.get(defs[0] as AnyPluginDefinition);
    expect(err).toBeInstanceOf(PluginGraphError);
    expect(err?.message).toBe('plugin dependency cycle: a.1 -> b.1 -> c.1 -> a.1');
    expect(invalid.has(defs[3] as AnyPluginDefinition)).toBe(false);
  });

  it('rejects an unknown required type and duplicate IDs', () => {
    const defs = [simple('a', '1', ['nope']), simple('b', '1'), simple('b', '1')];
    const { invalid } = buildPluginGraph(defs, new Set());
    expect(invalid.get(defs[0] as AnyPluginDefinition)?.message).toBe('plugin a.1 requires unknown plugin type "nope"');
    expect(invalid.get(defs[2] as AnyPluginDefinition)?.message).toBe('plugin: id already registered: b.1');
  });

  it('removes disabled plugins; a type left without providers is not a graph error', () => {
    const defs = [simple('store', 'x'), simple('svc', 'a', ['store'])];
    const { ordered, invalid } = buildPluginGraph(defs, new Set(['store.x']));
    expect(ordered.map(pluginURI)).toEqual(['svc.a']);
    expect(invalid.size).toBe(0);
  });
});

describe('plugin registry', () => {
  it('initialises with typed config defaults and overrides, and records statuses', async () => {
    const seen: unknown[] = [];
    const withConfig = definePlugin({
      type: 'io.containerd.gc.v1',
      id: 'scheduler',
      config: z.object({ pause_threshold: z.number().default(0.02), startup_delay: z.string().default('100ms') }).strict(),
      init(ctx) {
        expectTypeOf(ctx.config.pause_threshold).toEqualTypeOf<number>();
        seen.push(ctx.config, ctx.rootDir, ctx.stateDir);
        ctx.meta.exports.root = ctx.rootDir;
        return { ok: true };
      },
    });
    const skip = definePlugin({
      type: 'io.containerd.snapshotter.v1',
      id: 'btrfs',
      init() {
        throw new SkipPluginError('path /r must be a btrfs filesystem');
      },
    });
    const broken = definePlugin({
      type: 'io.containerd.snapshotter.v1',
      id: 'devmapper',
      init() {
        throw new Error('devmapper not configured');
      },
    });
    const reg = new PluginRegistry({
      definitions: [withConfig, skip, broken],
      configFor: (uri) => (uri === 'io.containerd.gc.v1.scheduler' ? { pause_threshold: 0.5 } : undefined),
      daemon,
      log,
    });
    await reg.initAll();
    expect(seen).toEqual([
      { pause_threshold: 0.5, startup_delay: '100ms' },
      '/r/io.containerd.gc.v1.scheduler',
      '/s/io.containerd.gc.v1.scheduler',
    ]);
    const records = reg.list().map((r) => [r.id, r.status, r.error?.message]);
    expect(records).toEqual([
      ['scheduler', 'ok', undefined],
      ['btrfs', 'skip', 'path /r must be a btrfs filesystem: skip plugin'],
      ['devmapper', 'error', 'devmapper not configured'],
    ]);
    expect(reg.list()[0]?.meta.exports).toEqual({ root: '/r/io.containerd.gc.v1.scheduler' });
    expect(() => reg.getByID('io.containerd.snapshotter.v1', 'devmapper')).toThrow('devmapper not configured');
    expect(() => reg.get('io.containerd.content.v1')).toThrow('no plugins registered for io.containerd.content.v1: not found');
  });

  it('gives plugins typed access to earlier plugins', async () => {
    const store = definePlugin({ type: 'store', id: 'x', init: () => ({ n: 41 }) });
    const user = definePlugin({
      type: 'svc',
      id: 'a',
      requires: ['store'],
      init: (ctx) => (ctx.getByID('store', 'x') as { n: number }).n + 1,
    });
    const reg = new PluginRegistry({ definitions: [user, store], daemon, log });
    await reg.initAll();
    expect(reg.getByID('svc', 'a')).toBe(42);
    expect([...reg.getAll('store').keys()]).toEqual(['x']);
    // containerd's GetByID answers for what is not there (a disabled plugin, say).
    expect(() => reg.getByID('nothing', 'x')).toThrow('no plugins registered for nothing: not found');
    expect(() => reg.getByID('store', 'y')).toThrow('no store plugins with id y: not found');
  });

  it('fails the start naming a required plugin that failed, absent or disabled, and closes what started', async () => {
    const closed: string[] = [];
    const first = definePlugin({ type: 't', id: 'first', init: (ctx) => ctx.onClose(() => void closed.push('first')) });
    const failing = definePlugin({
      type: 't',
      id: 'bad',
      init() {
        throw new SkipPluginError('not here');
      },
    });
    const reg = new PluginRegistry({ definitions: [first, failing], required: ['t.bad'], daemon, log });
    await expect(reg.initAll()).rejects.toThrow(new RequiredPluginError('load required plugin t.bad: not here: skip plugin'));
    expect(closed).toEqual(['first']);
    await expect(
      new PluginRegistry({ definitions: [first], required: ['t.missing'], daemon, log }).initAll(),
    ).rejects.toThrow('required plugin t.missing is not registered in this daemon');
    await expect(
      new PluginRegistry({ definitions: [first], required: ['t.first'], disabled: ['t.first'], daemon, log }).initAll(),
    ).rejects.toThrow('required plugin t.first is disabled by disabled_plugins');
  });

  it('closes in reverse init order and keeps closing after a failing hook', async () => {
    const closed: string[] = [];
    const mk = (id: string, requires: string[] = [], fail = false) =>
      definePlugin({
        type: id,
        id,
        requires,
        init: (ctx) =>
          ctx.onClose(() => {
            closed.push(id);
            if (fail) throw new Error('close failed');
          }),
      });
    const reg = new PluginRegistry({ definitions: [mk('c', ['b']), mk('b', ['a'], true), mk('a')], daemon, log });
    await reg.initAll();
    await reg.close();
    expect(closed).toEqual(['c', 'b', 'a']);
  });

  it('refuses a plugin built for another contract version', async () => {
    const old = { ...simple('t', 'old'), apiVersion: 2 };
    const reg = new PluginRegistry({ definitions: [old], daemon, log });
    await reg.initAll();
    expect(reg.list()[0]?.status).toBe('error');
    expect(reg.list()[0]?.error?.message).toContain('built for plugin contract version 2; this daemon loads plugins for version 1');
  });

  it('reports an invalid config as the plugin error', async () => {
    const def = definePlugin({ type: 't', id: 'c', config: z.object({ n: z.number().default(1) }).strict(), init: () => 1 });
    const reg = new PluginRegistry({ definitions: [def], configFor: () => ({ n: 'x' }), daemon, log });
    await reg.initAll();
    expect(reg.list()[0]?.status).toBe('error');
  });
});
