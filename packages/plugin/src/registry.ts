// Initialises plugins in graph order, records each one's status for introspection,
// enforces required_plugins, and closes them in reverse order.
import { notFound } from '@containerd-ts/errdefs';
import { RequiredPluginError, isSkipPlugin } from './errors.js';
import { buildPluginGraph } from './graph.js';
import {
  type AnyPluginDefinition,
  type DaemonInfo,
  type InitContext,
  type InstanceByID,
  type InstanceOf,
  type Logger,
  PLUGIN_API_VERSION,
  type PluginMeta,
  type PluginRecord,
  pluginURI,
} from './types.js';

export interface PluginRegistryOptions {
  definitions: readonly AnyPluginDefinition[];
  /** Raw `[plugins."<type>.<id>"]` section for a plugin URI (undefined when absent). */
  configFor?: (uri: string) => unknown;
  /** `disabled_plugins`: URIs (`<type>.<id>`). */
  disabled?: readonly string[];
  /** `required_plugins`: URIs that must initialise, or the start fails. */
  required?: readonly string[];
  daemon: DaemonInfo;
  log: Logger;
}

interface MutableRecord extends PluginRecord {
  status: PluginRecord['status'];
  error: Error | undefined;
  instance: unknown;
}

export class PluginRegistry {
  private readonly records: MutableRecord[] = [];
  private readonly closers: Array<{ uri: string; fn: () => void | Promise<void> }> = [];
  private readonly options: PluginRegistryOptions;

  constructor(options: PluginRegistryOptions) {
    this.options = options;
  }

  /**
   * Initialises every enabled plugin. Throws RequiredPluginError (after closing what was
   * started) when a required plugin is absent, skipped or failed.
   */
  async initAll(): Promise<void> {
    const { definitions, disabled = [], required = [], log } = this.options;
    const disabledSet = new Set(disabled);
    const requiredSet = new Set(required);
    for (const uri of required) {
      if (disabledSet.has(uri)) throw new RequiredPluginError(`required plugin ${uri} is disabled by disabled_plugins`);
      if (!definitions.some((d) => pluginURI(d) === uri)) {
        throw new RequiredPluginError(`required plugin ${uri} is not registered in this daemon`);
      }
    }
    const graph = buildPluginGraph(definitions, disabledSet);
    for (const def of graph.ordered) {
      const record = await this.initOne(def, graph.invalid.get(def));
      const uri = pluginURI(def);
      if (record.status === 'ok') log.debug({ id: uri }, 'loaded plugin');
      else if (record.status === 'skip') log.info({ id: uri, error: record.error?.message }, 'skip loading plugin');
      else log.warn({ id: uri, error: record.error?.message }, 'failed to load plugin');
      if (record.status !== 'ok' && requiredSet.has(uri)) {
        await this.close();
        throw new RequiredPluginError(`load required plugin ${uri}: ${record.error?.message ?? record.status}`);
      }
    }
  }

  private async initOne(def: AnyPluginDefinition, graphError: Error | undefined): Promise<MutableRecord> {
    const uri = pluginURI(def);
    const { daemon, configFor, log } = this.options;
    const meta: PluginMeta = { exports: {}, capabilities: [], platforms: [...def.platforms] };
    const record: MutableRecord = {
      type: def.type,
      id: def.id,
      requires: def.requires,
      meta,
      status: 'ok',
      error: undefined,
      instance: undefined,
    };
    this.records.push(record);
    try {
      if (graphError) throw graphError;
      if (Math.trunc(def.apiVersion) !== PLUGIN_API_VERSION) {
        throw new Error(
          `plugin ${uri} was built for plugin contract version ${def.apiVersion}; this daemon loads plugins for version ${PLUGIN_API_VERSION} (@containerd-ts/plugin ${PLUGIN_API_VERSION}.x)`,
        );
      }
      const raw = configFor?.(uri);
      const config = def.config ? def.config.parse(raw ?? {}, { jitless: true }) : {}; // parsed once: zod's JIT costs more than it saves
      const ctx: InitContext<unknown> = {
        type: def.type,
        id: def.id,
        rootDir: `${daemon.root}/${uri}`,
        stateDir: `${daemon.state}/${uri}`,
        config,
        meta,
        log: log.child({ plugin: uri }),
        daemon,
        get: (type) => this.get(type),
        getByID: (type, id) => this.getByID(type, id),
        getAll: (type) => this.getAll(type),
        plugins: () => this.list(),
        onClose: (fn) => {
          this.closers.push({ uri, fn });
        },
      };
      record.instance = await def.init(ctx);
    } catch (err) {
      record.error = err instanceof Error ? err : new Error(String(err));
      record.status = isSkipPlugin(err) ? 'skip' : 'error';
    }
    return record;
  }

  /** Loaded plugins in init order (what introspection lists). */
  list(): readonly PluginRecord[] {
    return this.records;
  }

  get<T extends string>(type: T): InstanceOf<T> {
    const ofType = this.records.filter((r) => r.type === type);
    const ok = ofType.find((r) => r.status === 'ok');
    if (ok) return ok.instance as InstanceOf<T>;
    const failed = ofType[0];
    if (failed?.error) throw failed.error;
    throw notFound(`no plugins registered for ${type}`);
  }

  getByID<T extends string, ID extends string>(type: T, id: ID): InstanceByID<T, ID> {
    // containerd's answers: no plugin of the type at all, none with the ID, or its init error.
    if (!this.records.some((r) => r.type === type)) throw notFound(`no plugins registered for ${type}`);
    const record = this.records.find((r) => r.type === type && r.id === id);
    if (!record) throw notFound(`no ${type} plugins with id ${id}`);
    if (record.status !== 'ok') throw record.error ?? new Error(`plugin ${type}.${id} is not loaded`);
    return record.instance as InstanceByID<T, ID>;
  }

  getAll<T extends string>(type: T): Map<string, InstanceOf<T>> {
    const out = new Map<string, InstanceOf<T>>();
    for (const r of this.records) if (r.type === type && r.status === 'ok') out.set(r.id, r.instance as InstanceOf<T>);
    return out;
  }

  /** Runs close hooks in reverse init order; a failing hook is logged and the rest still run. */
  async close(): Promise<void> {
    while (this.closers.length > 0) {
      const { uri, fn } = this.closers.pop()!;
      try {
        await fn();
      } catch (err) {
        this.options.log.warn({ id: uri, error: (err as Error).message }, 'failed to close plugin');
      }
    }
  }
}
