// The full containerd-ts plugin set, in registration order (containerd's order where it
// matters for `ctr plugins ls`). The daemon gets this explicit list: nothing registers
// itself by being imported.
import type { AnyPluginDefinition } from '@containerd-ts/plugin';
import { healthcheckPlugin } from '@containerd-ts/service-healthcheck';
import { introspectionGrpcPlugin, introspectionServicePlugin } from '@containerd-ts/service-introspection';
import { versionPlugin } from '@containerd-ts/service-version';

export function allPlugins(): AnyPluginDefinition[] {
  return [introspectionServicePlugin, introspectionGrpcPlugin, healthcheckPlugin, versionPlugin];
}
