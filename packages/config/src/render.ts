// Renders a config as a complete version 2 TOML file: `config default` and `config dump`.
import { type AnyPluginDefinition, pluginURI } from '@containerd-ts/plugin';
import { stringify } from 'smol-toml';
import { type DaemonConfig, daemonConfigSchema, PARSE_ONCE } from './schema.js';

function withoutUndefined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutUndefined);
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, withoutUndefined(v)]),
    );
  }
  return value;
}

/** Every plugin's effective section: its schema's defaults overridden by the config. */
export function effectivePluginSections(config: DaemonConfig, plugins: readonly AnyPluginDefinition[]): Record<string, unknown> {
  const sections: Record<string, unknown> = {};
  const uris = new Set(plugins.map(pluginURI));
  for (const p of [...plugins].sort((a, b) => pluginURI(a).localeCompare(pluginURI(b)))) {
    if (!p.config) continue;
    sections[pluginURI(p)] = p.config.parse(config.plugins[pluginURI(p)] ?? {}, PARSE_ONCE);
  }
  // Sections for containerd plugins this daemon does not provide are kept as given.
  for (const [uri, section] of Object.entries(config.plugins)) if (!uris.has(uri)) sections[uri] = section;
  return sections;
}

/** The config as TOML, with every plugin's section filled in. */
export function renderConfig(config: DaemonConfig, plugins: readonly AnyPluginDefinition[], header?: string): string {
  const doc = { ...config, imports: [], plugins: effectivePluginSections(config, plugins) };
  const text = stringify(withoutUndefined(doc) as Record<string, unknown>);
  return header ? `${header.replace(/^/gm, '# ')}\n${text}` : text;
}

/** `config default`: built-in defaults of the daemon and of every plugin. */
export function renderDefaultConfig(plugins: readonly AnyPluginDefinition[]): string {
  return renderConfig(daemonConfigSchema.parse({}, PARSE_ONCE), plugins);
}
