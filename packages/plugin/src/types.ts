// The plugin contract: plugin type constants, the typed instance map, the init
// context a plugin receives and the definition object a plugin module exports.
import type { z } from 'zod';

/** Version of this contract. A plugin built for another major version is refused with status `error`. */
export const PLUGIN_API_VERSION = 1;

/** containerd's plugin types (namespaced and versioned, exactly as containerd spells them). */
export const PluginType = {
  internal: 'io.containerd.internal.v1',
  runtime: 'io.containerd.runtime.v1',
  runtimeV2: 'io.containerd.runtime.v2',
  service: 'io.containerd.service.v1',
  grpc: 'io.containerd.grpc.v1',
  ttrpc: 'io.containerd.ttrpc.v1',
  snapshotter: 'io.containerd.snapshotter.v1',
  monitor: 'io.containerd.monitor.v1',
  differ: 'io.containerd.differ.v1',
  metadata: 'io.containerd.metadata.v1',
  content: 'io.containerd.content.v1',
  gc: 'io.containerd.gc.v1',
  event: 'io.containerd.event.v1',
  lease: 'io.containerd.lease.v1',
  streamProcessor: 'io.containerd.streamprocessor.v1',
} as const;

/**
 * Instance type per plugin type. Packages that define what a plugin type provides
 * extend this map with declaration merging, for example:
 *
 *   declare module '@containerd-ts/plugin' {
 *     interface PluginTypeMap { 'io.containerd.content.v1': ContentStore }
 *   }
 *
 * so `ctx.get('io.containerd.content.v1')` is typed without casts.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by declaration merging
export interface PluginTypeMap {}

/**
 * Instance type per plugin URI (`<type>.<id>`), for plugin types whose instances differ
 * by ID (the `io.containerd.service.v1` services). Takes precedence over PluginTypeMap.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by declaration merging
export interface PluginInstanceMap {}

/** Instance type of a plugin type: from PluginTypeMap when known, `unknown` otherwise. */
export type InstanceOf<T extends string> = T extends keyof PluginTypeMap ? PluginTypeMap[T] : unknown;

/** Instance type of one plugin: from PluginInstanceMap, else from its type. */
export type InstanceByID<T extends string, ID extends string> = `${T}.${ID}` extends keyof PluginInstanceMap
  ? PluginInstanceMap[`${T}.${ID}`]
  : InstanceOf<T>;

/** Fields a plugin publishes through introspection (`ctr plugins ls -d`). */
export interface PluginMeta {
  /**
   * Key/value pairs shown under `Exports` (for example `root`). Introspection reads this
   * object at every request, so a plugin may keep changing it after `init` (add, update,
   * delete keys of `ctx.meta.exports`) to publish values that change at run time, such as
   * a connection state; the change shows in the next `ctr plugins ls -d`.
   */
  exports: Record<string, string>;
  /** Capability strings shown under `Capabilities`. */
  capabilities: string[];
  /** Platforms as `os/arch[/variant]`; empty shows `-`. */
  platforms: string[];
}

/** The daemon's logger as plugins see it (pino's call shape: fields first, then the message). */
export interface Logger {
  trace(obj: object | string, msg?: string): void;
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

/** What the daemon tells every plugin about itself. */
export interface DaemonInfo {
  /** Root directory of the daemon (persistent data). */
  root: string;
  /** State directory of the daemon (runtime data, cleared on reboot). */
  state: string;
  /** gRPC address the daemon serves. */
  address: string;
  /** ttrpc address the daemon serves (shims publish events there). */
  ttrpcAddress: string;
  /** Version and revision the daemon reports (`ctr version`). */
  version: string;
  revision: string;
  /** The config's `[timeouts]`: Go durations by name (`io.containerd.timeout.shim.cleanup`, …). */
  timeouts?: Readonly<Record<string, string>>;
  /** The config's `[debug] level`, for plugins that pass a debug flag on (shims get `-debug`). */
  debugLevel?: string;
}

/** What `init` receives. */
export interface InitContext<C> {
  readonly type: string;
  readonly id: string;
  /** `<root>/<type>.<id>`: the plugin's persistent directory (not created for it). */
  readonly rootDir: string;
  /** `<state>/<type>.<id>`: the plugin's runtime directory (not created for it). */
  readonly stateDir: string;
  /** The plugin's parsed config: defaults from the schema, overridden by `[plugins."<type>.<id>"]`. */
  readonly config: C;
  /** Mutable introspection fields. */
  readonly meta: PluginMeta;
  readonly log: Logger;
  readonly daemon: DaemonInfo;
  /** The first successfully initialised plugin of a type; throws when there is none. */
  get<T extends string>(type: T): InstanceOf<T>;
  /** The plugin of a type with an ID; throws when it is absent or failed. */
  getByID<T extends string, ID extends string>(type: T, id: ID): InstanceByID<T, ID>;
  /** All successfully initialised plugins of a type, by ID, in init order. */
  getAll<T extends string>(type: T): Map<string, InstanceOf<T>>;
  /** Every plugin the daemon loaded so far, with its status (for introspection). */
  plugins(): readonly PluginRecord[];
  /** Registers a function run when the daemon shuts down (plugins close in reverse init order). */
  onClose(fn: () => void | Promise<void>): void;
}

type MaybePromise<T> = T | Promise<T>;

/** A config schema: any zod type that accepts `undefined`/`{}` and yields the plugin's defaults. */
export type ConfigSchema = z.ZodType;

/** The object a plugin module exports; build it with `definePlugin`. */
export interface PluginDefinition<T extends string = string, C = unknown, I = unknown> {
  readonly apiVersion: number;
  readonly type: T;
  readonly id: string;
  /** Plugin types initialised before this one; `'*'` means every other plugin. */
  readonly requires: readonly string[];
  readonly platforms: readonly string[];
  /** zod schema of `[plugins."<type>.<id>"]`; its defaults are the plugin's defaults. */
  readonly config: z.ZodType<C> | undefined;
  init(ctx: InitContext<C>): MaybePromise<I>;
}

/** Any plugin definition, whatever its config and instance types. */
// biome-ignore lint/suspicious/noExplicitAny: variance escape for heterogeneous lists
export type AnyPluginDefinition = PluginDefinition<string, any, unknown>;

type ExpectedInstance<T extends string, ID extends string, I> = `${T}.${ID}` extends keyof PluginInstanceMap
  ? PluginInstanceMap[`${T}.${ID}`]
  : T extends keyof PluginTypeMap
    ? PluginTypeMap[T]
    : I;

/**
 * Declares a plugin. Everything is inferred from the object literal: the config type
 * from the zod schema, the instance type from `init` (checked against PluginTypeMap
 * when the plugin type is a known one).
 */
export function definePlugin<
  const T extends string,
  const ID extends string,
  S extends z.ZodType | undefined = undefined,
  I = unknown,
>(def: {
  type: T;
  id: ID;
  requires?: readonly string[];
  platforms?: readonly string[];
  config?: S;
  init(ctx: InitContext<S extends z.ZodType ? z.output<S> : Record<string, never>>): MaybePromise<ExpectedInstance<T, ID, I>>;
}): PluginDefinition<T, S extends z.ZodType ? z.output<S> : Record<string, never>, ExpectedInstance<T, ID, I>> {
  return Object.freeze({
    apiVersion: PLUGIN_API_VERSION,
    type: def.type,
    id: def.id,
    requires: Object.freeze([...(def.requires ?? [])]),
    platforms: Object.freeze([...(def.platforms ?? [])]),
    config: def.config as z.ZodType<S extends z.ZodType ? z.output<S> : Record<string, never>> | undefined,
    init: def.init,
  });
}

export type PluginStatus = 'ok' | 'skip' | 'error';

/** One loaded plugin as introspection reports it. */
export interface PluginRecord {
  readonly type: string;
  readonly id: string;
  readonly requires: readonly string[];
  readonly meta: PluginMeta;
  readonly status: PluginStatus;
  /** Why init failed or skipped; undefined when `ok`. */
  readonly error: Error | undefined;
  readonly instance: unknown;
}

/** `<type>.<id>`: the key of a plugin in config and on disk. */
export const pluginURI = (p: { type: string; id: string }): string => `${p.type}.${p.id}`;

/** The platform string of this host as containerd prints it. */
export const hostPlatform = (): string => {
  const arch = { x64: 'amd64', arm64: 'arm64/v8', arm: 'arm/v7', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' }[
    process.arch as string
  ];
  return `${process.platform}/${arch ?? process.arch}`;
};
