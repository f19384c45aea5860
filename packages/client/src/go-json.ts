// encoding/json as Go 1.19 writes it, for documents whose digest must equal what a Go
// program (containerd's image converter) writes: structs in field order with omitempty,
// maps with sorted keys, json.RawMessage compacted as is, and Go's string escaping.
import { compareUtf8 } from '@containerd-ts/string-order';
import type { Descriptor, Index, Manifest } from './images.js';
import type { Platform } from './platforms.js';

/**
 * JSON.stringify's text with Go's escapes: <, >, & and U+2028/U+2029 as \u00XX, and \b, \f
 * as \u0008, \u000c (Go 1.19 has no short forms for them).
 */
export function goEscape(json: string): string {
  return json.replace(/\\([\s\S])|[<>&\u2028\u2029]/g, (m, escaped: string | undefined) => {
    if (escaped === undefined) return `\\u${m.charCodeAt(0).toString(16).padStart(4, '0')}`;
    if (escaped === 'b') return '\\u0008';
    if (escaped === 'f') return '\\u000c';
    return m;
  });
}

/** A value that is written as these bytes (json.RawMessage). */
export class RawJSON {
  constructor(readonly text: string) {}
}

/**
 * json.Marshal of a value built in Go's field order: objects keep their key order (build
 * structs with their fields in order, leave omitted fields undefined), `sortedKeys` maps
 * sort theirs, RawJSON is compacted.
 */
export function goMarshal(value: unknown): string {
  if (value instanceof RawJSON) return compactJSON(value.text);
  if (value instanceof GoMap) {
    const keys = [...value.entries.keys()].sort(compareUtf8);
    return `{${keys.map((k) => `${goEscape(JSON.stringify(k))}:${goMarshal(value.entries.get(k))}`).join(',')}}`;
  }
  if (Array.isArray(value)) return `[${value.map(goMarshal).join(',')}]`;
  if (value === null) return 'null';
  if (typeof value === 'object') {
    const parts: string[] = [];
    for (const [k, v] of Object.entries(value)) if (v !== undefined) parts.push(`${goEscape(JSON.stringify(k))}:${goMarshal(v)}`);
    return `{${parts.join(',')}}`;
  }
  return goEscape(JSON.stringify(value));
}

/** A Go map: its keys are written sorted (by bytes, as Go sorts strings). */
export class GoMap {
  readonly entries: Map<string, unknown>;
  constructor(entries: Iterable<[string, unknown]> | Record<string, unknown>) {
    this.entries = new Map(Symbol.iterator in entries ? (entries as Iterable<[string, unknown]>) : Object.entries(entries));
  }
}

/** json.Compact with HTML escaping, as json.Marshal writes a RawMessage: whitespace out, nothing else changed. */
export function compactJSON(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      if (c === '\\') {
        out += c + (text[i + 1] ?? '');
        i++;
      } else {
        if (c === '"') inString = false;
        out += c === '<' || c === '>' || c === '&' || c === '\u2028' || c === '\u2029' ? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}` : c;
      }
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c !== ' ' && c !== '\t' && c !== '\n' && c !== '\r') {
      out += c;
    }
  }
  return out;
}

const stringMap = (m: Record<string, string> | undefined) => (m === undefined || Object.keys(m).length === 0 ? undefined : new GoMap(m));
const nonEmpty = <T>(a: T[] | undefined) => (a === undefined || a.length === 0 ? undefined : a);

/** A decoded descriptor as image-spec 1.1.0-rc2's Descriptor (Debian's containerd 1.6.20) writes it. */
export interface GoDescriptor extends Descriptor {
  data?: string;
  artifactType?: string;
}

function platformStruct(p: Platform & { 'os.version'?: string; 'os.features'?: string[] }) {
  return {
    architecture: p.architecture ?? '',
    os: p.os ?? '',
    'os.version': p['os.version'] || undefined,
    'os.features': nonEmpty(p['os.features']),
    variant: p.variant || undefined,
  };
}

export function descriptorStruct(d: GoDescriptor) {
  return {
    mediaType: d.mediaType || undefined,
    digest: d.digest ?? '',
    size: d.size ?? 0,
    urls: nonEmpty(d.urls),
    annotations: stringMap(d.annotations),
    data: d.data || undefined,
    platform: d.platform ? platformStruct(d.platform) : undefined,
    artifactType: d.artifactType || undefined,
  };
}

/** ocispec.Manifest (1.1.0-rc2): schemaVersion, mediaType, config, layers, subject, annotations. */
export function marshalManifest(m: Manifest & { subject?: GoDescriptor; annotations?: Record<string, string> }): string {
  return goMarshal({
    schemaVersion: m.schemaVersion ?? 0,
    mediaType: m.mediaType || undefined,
    config: descriptorStruct(m.config ?? { mediaType: '', digest: '', size: 0 }),
    layers: m.layers ? m.layers.map(descriptorStruct) : null,
    subject: m.subject ? descriptorStruct(m.subject) : undefined,
    annotations: stringMap(m.annotations),
  });
}

/** ocispec.Index (1.1.0-rc2): schemaVersion, mediaType, manifests, annotations. */
export function marshalIndex(i: Index & { annotations?: Record<string, string> }): string {
  return goMarshal({
    schemaVersion: i.schemaVersion ?? 0,
    mediaType: i.mediaType || undefined,
    manifests: i.manifests ? i.manifests.map(descriptorStruct) : null,
    annotations: stringMap(i.annotations),
  });
}

/**
 * Splits a JSON object's text into its members' raw texts (as json.Unmarshal into
 * map[string]*json.RawMessage: a repeated key keeps its last value).
 */
export function rawMembers(text: string): Map<string, string> {
  const parsed: unknown = JSON.parse(text);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('json: cannot unmarshal non-object into Go value of type map[string]*json.RawMessage');
  const members = new Map<string, string>();
  let i = skipSpace(text, 0) + 1;
  for (;;) {
    i = skipSpace(text, i);
    if (text[i] === '}') break;
    const keyEnd = endOfValue(text, i);
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipSpace(text, keyEnd) + 1; // ':'
    i = skipSpace(text, i);
    const end = endOfValue(text, i);
    members.set(key, text.slice(i, end));
    i = skipSpace(text, end);
    if (text[i] === ',') i++;
  }
  return members;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  return i;
}

/** The index just past the JSON value starting at `i` (the text is known to be valid JSON). */
function endOfValue(text: string, i: number): number {
  const c = text[i];
  if (c === '"') {
    for (let j = i + 1; ; j++) {
      if (text[j] === '\\') j++;
      else if (text[j] === '"') return j + 1;
    }
  }
  if (c === '{' || c === '[') {
    let depth = 0;
    for (let j = i; ; j++) {
      const d = text[j];
      if (d === '"') j = endOfValue(text, j) - 1;
      else if (d === '{' || d === '[') depth++;
      else if (d === '}' || d === ']') {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
  }
  let j = i;
  while (j < text.length && !' \t\n\r,}]'.includes(text[j]!)) j++;
  return j;
}
