// Generates docs/config-reference.md from the zod schemas: the daemon's own keys and
// every plugin's section, with types, defaults and descriptions.
import { daemonConfigSchema } from '@containerd-ts/config';
import { type AnyPluginDefinition, pluginURI } from '@containerd-ts/plugin';
import { toJSONSchema, type z } from 'zod';
import { allPlugins } from '../plugins.js';

interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  default?: unknown;
  description?: string;
  anyOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
}

function typeName(s: JsonSchema): string {
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  if (s.anyOf) return s.anyOf.map(typeName).join(' \\| ');
  if (s.type === 'array') return `array of ${s.items ? typeName(s.items) : 'any'}`;
  if (s.type === 'object' && !s.properties && typeof s.additionalProperties === 'object') {
    return `table of ${typeName(s.additionalProperties)}`;
  }
  if (s.type === 'object') return 'table';
  return Array.isArray(s.type) ? s.type.join(' \\| ') : (s.type ?? 'any');
}

const fmt = (v: unknown) => (v === undefined ? '' : `\`${JSON.stringify(v)}\``);

function rows(schema: JsonSchema, prefix: string): string[] {
  const out: string[] = [];
  for (const [key, prop] of Object.entries(schema.properties ?? {})) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (prop.type === 'object' && prop.properties) {
      out.push(...rows(prop, path));
      continue;
    }
    out.push(`| \`${path}\` | ${typeName(prop)} | ${fmt(prop.default)} | ${(prop.description ?? '').replace(/\n/g, ' ')} |`);
  }
  return out;
}

const header = ['| key | type | default | description |', '| --- | --- | --- | --- |'];
const jsonSchema = (s: z.ZodType) => toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) as JsonSchema;

export function configReference(plugins: readonly AnyPluginDefinition[]): string {
  const parts = [
    '# Config reference',
    '',
    'Generated from the zod schemas by `pnpm docs:config`; do not edit by hand.',
    '',
    'containerd-ts reads containerd\'s `config.toml` version 2. Unknown keys and wrong types stop the',
    'daemon with the file, the full key path and a suggestion for a close key. `containerd-ts config default`',
    'prints all of this as a file; `containerd-ts --config FILE config dump` prints the effective config.',
    '',
    '## Daemon',
    '',
    ...header,
    ...rows(jsonSchema(daemonConfigSchema.omit({ plugins: true, proxy_plugins: true, stream_processors: true })), ''),
    '',
    '`[proxy_plugins.<name>]`: `type` = `"snapshot"` | `"content"` | `"diff"`, `address` (unix socket), optional `platform`, `exports`, `capabilities`.',
    '',
    '## Plugins',
    '',
  ];
  for (const p of [...plugins].sort((a, b) => pluginURI(a).localeCompare(pluginURI(b)))) {
    parts.push(`### \`[plugins."${pluginURI(p)}"]\``, '');
    if (p.requires.length > 0) parts.push(`Requires: ${p.requires.map((r) => `\`${r}\``).join(', ')}`, '');
    if (!p.config) {
      parts.push('No configuration.', '');
      continue;
    }
    const r = rows(jsonSchema(p.config), '');
    parts.push(...(r.length > 0 ? [...header, ...r] : ['No configuration.']), '');
  }
  return `${parts.join('\n')}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(configReference(allPlugins()));
