// Deterministic init order of plugin definitions: registration order, each plugin after
// the plugins of the types it requires. Problems (cycle, unknown type, duplicate ID)
// fail only the plugins involved, never hang and never take the daemon down.
import { PluginGraphError } from './errors.js';
import { type AnyPluginDefinition, pluginURI } from './types.js';

export interface PluginGraph {
  /** Definitions in init order (disabled ones removed). */
  ordered: AnyPluginDefinition[];
  /** Definitions that cannot be initialised, with the reason; they keep their place in `ordered`. */
  invalid: Map<AnyPluginDefinition, Error>;
}

/**
 * Orders `definitions` for init. `disabled` holds URIs (`<type>.<id>`) or bare IDs removed
 * before ordering, as containerd's `disabled_plugins`. Unknown-type checks use the full
 * list, so disabling every provider of a type is not a graph error (its dependents fail
 * at init when they ask for it, as in containerd).
 */
export function buildPluginGraph(definitions: readonly AnyPluginDefinition[], disabled: ReadonlySet<string>): PluginGraph {
  const invalid = new Map<AnyPluginDefinition, Error>();
  const knownTypes = new Set(definitions.map((d) => d.type));
  const seen = new Set<string>();
  const enabled: AnyPluginDefinition[] = [];
  for (const def of definitions) {
    const uri = pluginURI(def);
    if (disabled.has(uri)) continue;
    if (!def.type) invalid.set(def, new PluginGraphError('plugin: no type'));
    else if (!def.id) invalid.set(def, new PluginGraphError(`plugin: no id (type ${def.type})`));
    else if (seen.has(uri)) invalid.set(def, new PluginGraphError(`plugin: id already registered: ${uri}`));
    seen.add(uri);
    for (const t of def.requires) {
      if (t !== '*' && !knownTypes.has(t)) {
        invalid.set(def, new PluginGraphError(`plugin ${uri} requires unknown plugin type "${t}"`));
      }
    }
    enabled.push(def);
  }

  const wildcard = (d: AnyPluginDefinition) => d.requires.includes('*');
  const dependencies = (def: AnyPluginDefinition): AnyPluginDefinition[] => {
    const out: AnyPluginDefinition[] = [];
    for (const t of def.requires) {
      for (const other of enabled) {
        if (other === def) continue;
        // '*' means every other plugin, except other '*' plugins (they would wait on each other).
        if (t === '*' ? !wildcard(other) : other.type === t) out.push(other);
      }
    }
    return out;
  };

  const ordered: AnyPluginDefinition[] = [];
  const done = new Set<AnyPluginDefinition>();
  const onPath: AnyPluginDefinition[] = [];
  const visit = (def: AnyPluginDefinition): void => {
    if (done.has(def)) return;
    const at = onPath.indexOf(def);
    if (at >= 0) {
      const cycle = [...onPath.slice(at), def].map(pluginURI).join(' -> ');
      for (const member of onPath.slice(at)) {
        invalid.set(member, new PluginGraphError(`plugin dependency cycle: ${cycle}`));
      }
      return;
    }
    onPath.push(def);
    for (const dep of dependencies(def)) visit(dep);
    onPath.pop();
    if (!done.has(def)) {
      done.add(def);
      ordered.push(def);
    }
  };
  for (const def of enabled) visit(def);
  return { ordered, invalid };
}
