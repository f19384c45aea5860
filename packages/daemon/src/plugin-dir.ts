// Loads third-party plugins from `plugin_dir`: each entry is a package directory (its
// package.json names the module: `containerd-ts.plugin`, else `exports["."]`, else
// `main`) or a `.js`/`.mjs` file. A module exports a plugin definition, or an array of
// them, as its default export or as `plugin`/`plugins`. A module that fails to import is
// logged with its file and skipped: it never takes the daemon down.
import { readFile, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AnyPluginDefinition, Logger } from '@containerd-ts/plugin';

export interface PluginDirFailure {
  file: string;
  error: string;
}

/**
 * `import()` of a plugin module. The bundled daemon runs inside vm.Script with V8's code
 * cache, where a dynamic import has no loader (V8 drops the callback for cached scripts),
 * so its launcher lends one through this global.
 */
const importModule = (url: string): Promise<unknown> => {
  const hook = (globalThis as { __containerdTsImport?: (u: string) => Promise<unknown> }).__containerdTsImport;
  return hook ? hook(url) : import(url);
};

const isDefinition = (v: unknown): v is AnyPluginDefinition =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as AnyPluginDefinition).type === 'string' &&
  typeof (v as AnyPluginDefinition).id === 'string' &&
  typeof (v as AnyPluginDefinition).init === 'function' &&
  typeof (v as AnyPluginDefinition).apiVersion === 'number' &&
  Array.isArray((v as AnyPluginDefinition).requires);

async function entryModule(path: string): Promise<string | undefined> {
  const st = await stat(path);
  if (st.isFile()) return /\.(m?js)$/.test(path) ? path : undefined;
  if (!st.isDirectory()) return undefined;
  const pkgFile = join(path, 'package.json');
  const pkg = JSON.parse(await readFile(pkgFile, 'utf8')) as {
    main?: string;
    exports?: string | Record<string, unknown>;
    'containerd-ts'?: { plugin?: string };
  };
  const fromExports = (): string | undefined => {
    const e = pkg.exports;
    if (typeof e === 'string') return e;
    const dot = e?.['.'];
    if (typeof dot === 'string') return dot;
    if (dot && typeof dot === 'object') {
      const d = dot as Record<string, unknown>;
      for (const k of ['import', 'default', 'node']) if (typeof d[k] === 'string') return d[k] as string;
    }
    return undefined;
  };
  const rel = pkg['containerd-ts']?.plugin ?? fromExports() ?? pkg.main;
  if (!rel) throw new Error(`${pkgFile} names no module (set "containerd-ts": { "plugin": "./dist/index.js" })`);
  return resolve(path, rel);
}

function definitionsOf(mod: Record<string, unknown>, file: string): AnyPluginDefinition[] {
  for (const candidate of [mod.default, mod.plugins, mod.plugin]) {
    const list = Array.isArray(candidate) ? candidate : candidate === undefined ? [] : [candidate];
    if (list.length === 0) continue;
    const bad = list.find((d) => !isDefinition(d));
    if (bad !== undefined) throw new Error(`${file} exports something that is not a plugin definition (use definePlugin from @containerd-ts/plugin)`);
    return list as AnyPluginDefinition[];
  }
  throw new Error(`${file} exports no plugin definition (export default definePlugin({...}))`);
}

/** Every plugin definition found in `dir`, in name order, plus what failed to load. */
export async function loadPluginDir(dir: string, log: Logger): Promise<{ plugins: AnyPluginDefinition[]; failures: PluginDirFailure[] }> {
  const plugins: AnyPluginDefinition[] = [];
  const failures: PluginDirFailure[] = [];
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (err) {
    const error = `cannot read plugin_dir: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
    log.error({ file: dir, error }, 'failed to load plugins');
    return { plugins, failures: [{ file: dir, error }] };
  }
  for (const name of names) {
    if (name.startsWith('.')) continue;
    const path = join(dir, name);
    try {
      const file = await entryModule(path);
      if (!file) continue;
      const mod = (await importModule(pathToFileURL(file).href)) as Record<string, unknown>;
      const defs = definitionsOf(mod, file);
      for (const d of defs) log.info({ file, id: `${d.type}.${d.id}` }, 'loaded plugin module');
      plugins.push(...defs);
    } catch (err) {
      const error = (err as Error).message ?? String(err);
      failures.push({ file: path, error });
      log.error({ file: path, error }, 'failed to load plugin module');
    }
  }
  return { plugins, failures };
}
