// Container records: metadata only (spec, runtime, snapshot, labels). Containers are GC
// roots: their snapshot and whatever their labels reference are kept.
import { alreadyExists, invalidArgument, notFound } from '@containerd-ts/errdefs';
import { objectAdaptor, parseAll } from '@containerd-ts/filters';
import { type RequestContext, namespaceRequired, validateIdentifier } from '@containerd-ts/namespaces';
import { type Timestamp, now } from '@containerd-ts/timestamp';
import type { DBCore } from './core.js';
import { containerCreateEvent, containerDeleteEvent, containerUpdateEvent } from './events.js';
import { containerKey, containersBucketKey, containersPrefix } from './keys.js';
import { applyLabelPath, storedLabels, validateLabels, wrapError } from './labels.js';
import { type AnyRecord, type ContainerRecord, readRecordTime, recordTime } from './records.js';
import type { Txn } from './store.js';

/** A protobuf `Any`. */
export interface AnyValue {
  typeUrl: string;
  value: Uint8Array;
}

export interface Container {
  id: string;
  labels: Record<string, string>;
  image: string;
  runtime: { name: string; options?: AnyValue };
  spec?: AnyValue;
  snapshotter: string;
  snapshotKey: string;
  extensions: Record<string, AnyValue>;
  sandbox: string;
  createdAt: Timestamp;
  updatedAt: Timestamp;
}

export type ContainerInput = Omit<Container, 'createdAt' | 'updatedAt' | 'labels' | 'extensions' | 'image' | 'snapshotter' | 'snapshotKey' | 'sandbox'> &
  Partial<Pick<Container, 'labels' | 'extensions' | 'image' | 'snapshotter' | 'snapshotKey' | 'sandbox'>>;

const anyIn = (a: AnyRecord | undefined): AnyValue | undefined =>
  a ? { typeUrl: a.typeUrl, value: new Uint8Array(Buffer.from(a.value, 'base64')) } : undefined;
const anyOut = (a: AnyValue | undefined): AnyRecord | undefined =>
  a ? { typeUrl: a.typeUrl, value: Buffer.from(a.value).toString('base64') } : undefined;

function toContainer(id: string, rec: ContainerRecord): Container {
  const runtimeOptions = anyIn(rec.runtime.options);
  const spec = anyIn(rec.spec);
  const extensions: Record<string, AnyValue> = {};
  for (const [k, v] of Object.entries(rec.extensions ?? {})) extensions[k] = anyIn(v)!;
  return {
    id,
    labels: { ...(rec.labels ?? {}) },
    image: rec.image ?? '',
    runtime: runtimeOptions ? { name: rec.runtime.name, options: runtimeOptions } : { name: rec.runtime.name },
    ...(spec ? { spec } : {}),
    snapshotter: rec.snapshotter ?? '',
    snapshotKey: rec.snapshotKey ?? '',
    extensions,
    sandbox: rec.sandbox ?? '',
    createdAt: readRecordTime(rec.createdAt),
    updatedAt: readRecordTime(rec.updatedAt),
  };
}

function toRecord(c: Omit<Container, 'id'>): ContainerRecord {
  const extensions: Record<string, AnyRecord> = {};
  for (const [k, v] of Object.entries(c.extensions)) extensions[k] = anyOut(v)!;
  const rec: ContainerRecord = {
    labels: storedLabels(c.labels),
    runtime: { name: c.runtime.name },
    createdAt: recordTime(c.createdAt),
    updatedAt: recordTime(c.updatedAt),
  };
  if (c.runtime.options) rec.runtime.options = anyOut(c.runtime.options);
  if (c.image) rec.image = c.image;
  if (c.spec) rec.spec = anyOut(c.spec);
  if (c.snapshotter) rec.snapshotter = c.snapshotter;
  if (c.snapshotKey) rec.snapshotKey = c.snapshotKey;
  if (Object.keys(extensions).length > 0) rec.extensions = extensions;
  if (c.sandbox) rec.sandbox = c.sandbox;
  return rec;
}

function validateContainer(c: Container): void {
  try {
    validateIdentifier(c.id);
  } catch (err) {
    throw wrapError('container.ID', err);
  }
  for (const k of Object.keys(c.extensions)) {
    if (k === '') throw invalidArgument('container.Extension keys must not be zero-length');
  }
  validateLabels(c.labels, 'containers.Labels');
  if (!c.runtime.name) throw invalidArgument('container.Runtime.Name must be set');
  if (!c.spec) throw invalidArgument('container.Spec must be set');
  if (c.snapshotKey && !c.snapshotter) throw invalidArgument('container.Snapshotter must be set if container.SnapshotKey is set');
}

const complete = (c: ContainerInput, createdAt: Timestamp, updatedAt: Timestamp): Container => ({
  id: c.id,
  labels: { ...(c.labels ?? {}) },
  image: c.image ?? '',
  runtime: { ...c.runtime },
  ...(c.spec ? { spec: c.spec } : {}),
  snapshotter: c.snapshotter ?? '',
  snapshotKey: c.snapshotKey ?? '',
  extensions: { ...(c.extensions ?? {}) },
  sandbox: c.sandbox ?? '',
  createdAt,
  updatedAt,
});

/**
 * Whether containerd would have the namespace's containers bucket: made by the first
 * create and kept (databases from before the marker have one where a container is).
 */
async function hasContainersBucket(tx: Txn, ns: string): Promise<boolean> {
  return (await tx.get(containersBucketKey(ns))) !== undefined || (await tx.hasAny(containersPrefix(ns)));
}

export class ContainerStore {
  constructor(private readonly core: DBCore) {}

  async get(ctx: RequestContext, id: string): Promise<Container> {
    const ns = namespaceRequired(ctx);
    const rec = await this.core.store.getJSON<ContainerRecord>(containerKey(ns, id));
    if (!rec) throw notFound(`container ${JSON.stringify(id)} in namespace ${JSON.stringify(ns)}`);
    return toContainer(id, rec);
  }

  /** Containers matching any filter (fields `id`, `image`, `runtime.name`, `labels.*`). */
  async list(ctx: RequestContext, filters: readonly string[] = []): Promise<Container[]> {
    const ns = namespaceRequired(ctx);
    let filter: ReturnType<typeof parseAll>;
    try {
      filter = parseAll(filters);
    } catch (err) {
      // containerd's store wraps the parse error in one more invalid-argument.
      throw invalidArgument((err as Error).message, err);
    }
    const prefix = containersPrefix(ns);
    const out: Container[] = [];
    for await (const [key, value] of this.core.store.entries(prefix)) {
      const c = toContainer(key.slice(prefix.length), JSON.parse(value) as ContainerRecord);
      const adaptor = objectAdaptor({ id: c.id, image: c.image, runtime: { name: c.runtime.name } }, { maps: { labels: c.labels } });
      if (filter.match(adaptor)) out.push(c);
    }
    return out;
  }

  async create(ctx: RequestContext, input: ContainerInput): Promise<Container> {
    const ns = namespaceRequired(ctx);
    const t = now();
    const c = complete(input, t, t);
    try {
      validateContainer(c);
    } catch (err) {
      throw wrapError('create container failed validation', err);
    }
    c.labels = storedLabels(c.labels);
    await this.core.update(async (tx) => {
      if ((await tx.get(containerKey(ns, c.id))) !== undefined) throw alreadyExists(`container ${JSON.stringify(c.id)}`);
      if ((await tx.get(containersBucketKey(ns))) === undefined) tx.put(containersBucketKey(ns), '');
      tx.putJSON(containerKey(ns, c.id), toRecord(c));
      await this.core.touchNamespace(tx, ns);
    });
    await this.core.publish(ctx, '/containers/create', containerCreateEvent(c.id, c.image, c.runtime));
    return c;
  }

  /**
   * Updates `labels[.<key>]`, `extensions[.<key>]`, `spec`, `image`, `snapshotkey`; without
   * field paths all of these, refusing a change of the immutable snapshotter or runtime.
   */
  async update(ctx: RequestContext, input: ContainerInput, fieldpaths: readonly string[] = []): Promise<Container> {
    const ns = namespaceRequired(ctx);
    if (!input.id) throw invalidArgument('must specify a container id');
    const updated = await this.core.update(async (tx) => {
      if (!(await hasContainersBucket(tx, ns))) {
        throw notFound(`cannot update container ${JSON.stringify(input.id)} in namespace ${JSON.stringify(ns)}`);
      }
      const rec = await tx.getJSON<ContainerRecord>(containerKey(ns, input.id));
      if (!rec) throw notFound(`container ${JSON.stringify(input.id)}`);
      const current = toContainer(input.id, rec);
      let paths = fieldpaths;
      if (paths.length === 0) {
        paths = ['labels', 'spec', 'extensions', 'image', 'snapshotkey'];
        if (current.snapshotter !== (input.snapshotter ?? '')) throw invalidArgument('container.Snapshotter field is immutable');
        if (current.runtime.name !== input.runtime.name) throw invalidArgument('container.Runtime.Name field is immutable');
      }
      const next = { ...current, labels: { ...current.labels }, extensions: { ...current.extensions } };
      for (const path of paths) {
        const labels = applyLabelPath(next.labels, path, input.labels);
        if (labels) {
          next.labels = labels;
        } else if (path.startsWith('extensions.')) {
          // An extension missing from the request becomes an empty Any, as in containerd.
          const key = path.slice('extensions.'.length);
          next.extensions[key] = input.extensions?.[key] ?? { typeUrl: '', value: new Uint8Array() };
        } else if (path === 'spec') {
          if (input.spec) next.spec = input.spec;
          else delete next.spec;
        } else if (path === 'extensions') next.extensions = { ...(input.extensions ?? {}) };
        else if (path === 'image') next.image = input.image ?? '';
        else if (path === 'snapshotkey') next.snapshotKey = input.snapshotKey ?? '';
        else throw invalidArgument(`cannot update ${JSON.stringify(path)} field on ${JSON.stringify(input.id)}`);
      }
      try {
        validateContainer(next);
      } catch (err) {
        throw wrapError('update failed validation', err);
      }
      next.labels = storedLabels(next.labels);
      next.updatedAt = now();
      // containerd writes extensions over the stored ones without removing any: the reply
      // has the new set, the record (and every later read) keeps the old keys too.
      tx.putJSON(containerKey(ns, input.id), toRecord({ ...next, extensions: { ...current.extensions, ...next.extensions } }));
      return next;
    });
    await this.core.publish(
      ctx,
      '/containers/update',
      containerUpdateEvent(updated.id, updated.image, updated.labels, updated.snapshotKey),
    );
    return updated;
  }

  async delete(ctx: RequestContext, id: string): Promise<void> {
    const ns = namespaceRequired(ctx);
    await this.core.update(async (tx) => {
      if (!(await hasContainersBucket(tx, ns))) {
        throw notFound(`cannot delete container ${JSON.stringify(id)} in namespace ${JSON.stringify(ns)}`);
      }
      if ((await tx.get(containerKey(ns, id))) === undefined) throw notFound(`container ${id}`);
      tx.del(containerKey(ns, id));
      this.core.markDirty(tx, {});
    });
    await this.core.publish(ctx, '/containers/delete', containerDeleteEvent(id));
  }
}
