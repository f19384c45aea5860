// The full containerd-ts plugin set, in registration order. The daemon gets this
// explicit list: nothing registers itself by being imported.
import type { AnyPluginDefinition } from '@containerd-ts/plugin';

export function allPlugins(): AnyPluginDefinition[] {
  return [];
}
