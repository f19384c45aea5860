// Loads config.toml as containerd does: the file, then its imports (files and globs,
// breadth first, each once), merged with containerd's rules; every file validated
// strictly on its own so an error names the file it is in.
import { access, readFile, readdir } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, resolve } from 'node:path';
import { type AnyPluginDefinition, pluginURI } from '@containerd-ts/plugin';
import { TomlError, parse as parseToml } from 'smol-toml';
import { containerdPluginURIs } from './known-plugins.js';
import { type DaemonConfig, daemonConfigSchema, PARSE_ONCE } from './schema.js';
import { ConfigError, formatKeyPath, suggestKey, validateWith } from './validate.js';

type Table = Record<string, unknown>;

export interface LoadOptions {
  /** Every plugin the daemon can load: their schemas validate `[plugins."<type>.<id>"]`. */
  plugins: readonly AnyPluginDefinition[];
  /** A missing file means built-in defaults instead of an error (the default config path). */
  optional?: boolean;
  /**
   * Loads third-party plugins from `plugin_dir` once the merged config names it, so their
   * sections validate with their own schemas. Returns the extra definitions.
   */
  loadPluginDir?: (dir: string, config: DaemonConfig) => Promise<readonly AnyPluginDefinition[]>;
}

export interface LoadedConfig {
  config: DaemonConfig;
  /** Files read, the main one first. */
  files: string[];
  /** Things worth a log line that do not stop the start. */
  warnings: string[];
  /** Every plugin definition: the given ones, then those loaded from plugin_dir. */
  plugins: readonly AnyPluginDefinition[];
}

const isTable = (v: unknown): v is Table => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

// Sections whose entries an imported file replaces whole (containerd's mergeConfig).
const replacedPerKey = new Set(['plugins', 'proxy_plugins', 'timeouts', 'stream_processors']);
const isZero = (v: unknown) => v === 0 || v === '' || v === false;

/** Merges `from` into `to` as containerd's mergo(WithOverride, WithAppendSlice) + section replacement. */
export function mergeConfigTables(to: Table, from: Table, depth = 0): Table {
  for (const [key, value] of Object.entries(from)) {
    const current = to[key];
    if (depth === 0 && replacedPerKey.has(key) && isTable(value)) {
      to[key] = { ...(isTable(current) ? current : {}), ...value };
    } else if (Array.isArray(value)) {
      to[key] = Array.isArray(current) ? [...current, ...value] : [...value];
    } else if (isTable(value)) {
      to[key] = mergeConfigTables(isTable(current) ? { ...current } : {}, value, depth + 1);
    } else if (!isZero(value) || current === undefined) {
      to[key] = value;
    }
  }
  return to;
}

async function readToml(file: string): Promise<Table> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(`${file}: cannot read config file: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  try {
    return parseToml(text) as Table;
  } catch (err) {
    if (err instanceof TomlError) {
      const first = err.message.split('\n')[0] ?? err.message;
      throw new ConfigError(`${file}: invalid TOML at line ${err.line}, column ${err.column}: ${first}`);
    }
    throw err;
  }
}

function globSegmentRegExp(segment: string): RegExp {
  let re = '';
  for (const ch of segment) {
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else re += ch.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Expands a glob with `*`, `?` and `[...]` per path segment, sorted as Go's filepath.Glob. */
async function glob(pattern: string): Promise<string[]> {
  const segments = pattern.split('/');
  let bases = [pattern.startsWith('/') ? '/' : '.'];
  for (const seg of segments) {
    if (seg === '') continue;
    const next: string[] = [];
    if (!/[*?[]/.test(seg)) {
      for (const b of bases) next.push(join(b, seg));
    } else {
      const re = globSegmentRegExp(seg);
      for (const b of bases) {
        const names = await readdir(b).catch(() => [] as string[]);
        for (const n of names.sort()) if (re.test(n) && !(n.startsWith('.') && !seg.startsWith('.'))) next.push(join(b, n));
      }
    }
    bases = next;
  }
  const existing: string[] = [];
  for (const b of bases) if (await access(b).then(() => true, () => false)) existing.push(b);
  return existing;
}

async function resolveImports(parent: string, imports: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const entry of imports) {
    const path = isAbsolute(entry) ? normalize(entry) : join(dirname(parent), entry);
    if (/[*?[]/.test(entry)) out.push(...(await glob(path)));
    else out.push(path);
  }
  return out;
}

/** Maps a version 1 plugin key (a bare ID) to its URI, as containerd 1.x looked plugins up by ID. */
function v1URI(id: string, plugins: readonly AnyPluginDefinition[]): string | undefined {
  const registered = plugins.filter((p) => p.id === id).map(pluginURI);
  if (registered.length === 1) return registered[0];
  const known = containerdPluginURIs.filter((u) => u.endsWith(`.${id}`));
  return registered.length === 0 && known.length === 1 ? known[0] : undefined;
}

function migrateV1(raw: Table, file: string, plugins: readonly AnyPluginDefinition[], warnings: string[]): Table {
  const how = `convert it to version 2: add \`version = 2\` and name sections [plugins."<type>.<id>"] (\`containerd-ts --config ${file} config dump\` prints the converted file)`;
  const toURI = (id: string, key: string) => {
    const uri = v1URI(id, plugins);
    if (!uri) throw new ConfigError(`${file}: version 1 config: ${key} "${id}" does not name exactly one plugin; ${how}`);
    return uri;
  };
  const out: Table = { ...raw, version: 2 };
  if (isTable(raw.plugins)) {
    out.plugins = Object.fromEntries(Object.entries(raw.plugins).map(([id, section]) => [toURI(id, 'plugins'), section]));
  }
  for (const key of ['disabled_plugins', 'required_plugins'] as const) {
    const list = raw[key];
    if (Array.isArray(list)) out[key] = list.map((id) => (typeof id === 'string' ? toURI(id, key) : id));
  }
  warnings.push(`${file}: config version 1 is deprecated and was migrated in memory; ${how}`);
  return out;
}

function validateFile(raw: Table, file: string): void {
  validateWith(daemonConfigSchema, raw, file);
  for (const key of ['disabled_plugins', 'required_plugins'] as const) {
    for (const uri of (raw[key] as string[] | undefined) ?? []) {
      if (uri.split('.').length < 4) throw new ConfigError(`${file}: ${key}: invalid plugin URI "${uri}", expected io.containerd.<type>.<version>.<id>`);
    }
  }
}

/** Validates every `[plugins."<uri>"]` section with its plugin's schema, naming the file it came from. */
function validatePluginSections(
  merged: Table,
  sectionFiles: ReadonlyMap<string, string>,
  plugins: readonly AnyPluginDefinition[],
  warnings: string[],
): void {
  const byURI = new Map(plugins.map((p) => [pluginURI(p), p]));
  for (const uri of (merged.disabled_plugins as string[] | undefined) ?? []) {
    if (!byURI.has(uri)) warnings.push(`disabled_plugins: "${uri}" is not a plugin of this daemon`);
  }
  const sections = (merged.plugins as Record<string, Table> | undefined) ?? {};
  for (const [uri, section] of Object.entries(sections)) {
    const file = sectionFiles.get(uri) ?? 'config';
    const def = byURI.get(uri);
    const path = ['plugins', uri];
    if (def) {
      if (def.config) validateWith(def.config, section, file, path);
      else if (Object.keys(section).length > 0) {
        throw new ConfigError(`${file}: unknown key ${formatKeyPath([...path, Object.keys(section)[0]!])} (plugin ${uri} takes no configuration)`);
      }
    } else if (containerdPluginURIs.includes(uri)) {
      warnings.push(`${file}: [${formatKeyPath(path)}] configures a containerd plugin this daemon does not provide; the section is kept but not used`);
    } else {
      const suggestion = suggestKey(uri, [...byURI.keys(), ...containerdPluginURIs]);
      const hint = suggestion ? ` (did you mean "${suggestion}"?)` : '';
      throw new ConfigError(`${file}: unknown plugin ${formatKeyPath(path)}${hint}`);
    }
  }
}

/** Reads `path` and its imports, validates and merges them, and applies defaults. */
export async function loadConfig(path: string | undefined, options: LoadOptions): Promise<LoadedConfig> {
  const warnings: string[] = [];
  const withPluginDir = async (config: DaemonConfig) =>
    config.plugin_dir && options.loadPluginDir
      ? [...options.plugins, ...(await options.loadPluginDir(config.plugin_dir, config))]
      : options.plugins;
  const defaults = async (): Promise<LoadedConfig> => {
    const config = daemonConfigSchema.parse({}, PARSE_ONCE);
    return { config, files: [], warnings, plugins: await withPluginDir(config) };
  };
  if (path === undefined) return defaults();
  const root = resolve(path);
  if (options.optional && !(await access(root).then(() => true, () => false))) return defaults();
  const merged: Table = {};
  const loaded: string[] = [];
  const sectionFiles = new Map<string, string>();
  const pending = [root];
  while (pending.length > 0) {
    const file = pending.shift()!;
    if (loaded.includes(file)) continue;
    let raw = await readToml(file);
    if (raw.version === undefined || raw.version === 1) raw = migrateV1(raw, file, options.plugins, warnings);
    validateFile(raw, file);
    for (const uri of Object.keys((raw.plugins as Table | undefined) ?? {})) sectionFiles.set(uri, file);
    const { imports, ...rest } = raw;
    mergeConfigTables(merged, rest);
    loaded.push(file);
    pending.push(...(await resolveImports(file, (imports as string[] | undefined) ?? [])));
  }
  const config = daemonConfigSchema.parse({ ...merged, imports: loaded.slice(1) }, PARSE_ONCE);
  const plugins = await withPluginDir(config);
  validatePluginSections(merged, sectionFiles, plugins, warnings);
  return { config, files: loaded, warnings, plugins };
}
