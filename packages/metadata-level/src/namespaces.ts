// Namespaces: created explicitly or on first use, labelled, and deleted only when empty.
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from '@containerd-ts/errdefs';
import { type RequestContext, validateIdentifier } from '@containerd-ts/namespaces';
import type { DBCore } from './core.js';
import { namespaceEvent } from './events.js';
import {
  blobsPrefix,
  containersPrefix,
  imagesPrefix,
  ingestsPrefix,
  leasesPrefix,
  namespaceKey,
  namespacePrefix,
  schemaRoot,
  snapshotsPrefix,
  prefixEnd,
  splitNamespaced,
} from './keys.js';
import { storedLabels, validateLabels } from './labels.js';
import type { NamespaceRecord } from './records.js';
import type { LevelStore, Txn } from './store.js';

export interface Namespace {
  name: string;
  labels: Record<string, string>;
}

export class NamespaceStore {
  constructor(private readonly core: DBCore) {}

  /** Creates a namespace; `already-exists` when it exists (also when created by first use). */
  async create(ctx: RequestContext, name: string, labels: Record<string, string> = {}): Promise<Namespace> {
    validateIdentifier(name);
    validateLabels(labels, 'namespace.Labels');
    const stored = storedLabels(labels);
    await this.core.update(async (tx) => {
      if ((await tx.get(namespaceKey(name))) !== undefined) throw alreadyExists(`namespace ${JSON.stringify(name)}`);
      tx.putJSON(namespaceKey(name), { labels: stored } satisfies NamespaceRecord);
      await this.core.touchNamespace(tx, name);
    });
    // Published in the request's namespace, as containerd does (only delete uses the deleted one).
    await this.core.publish(ctx, '/namespaces/create', namespaceEvent('NamespaceCreate', name, labels));
    return { name, labels: stored };
  }

  /**
   * A namespace's labels. As containerd, an unknown namespace is not an error: it reads
   * as a namespace without labels. Use `exists` to tell the two apart.
   */
  async get(name: string): Promise<Namespace> {
    const rec = await this.core.store.getJSON<NamespaceRecord>(namespaceKey(name));
    return { name, labels: { ...(rec?.labels ?? {}) } };
  }

  async exists(name: string): Promise<boolean> {
    return (await this.core.store.get(namespaceKey(name))) !== undefined;
  }

  /** Every namespace, in name order. */
  async list(): Promise<Namespace[]> {
    const out: Namespace[] = [];
    for (const { name, record } of await scanNamespaces(this.core.store)) {
      if (record) out.push({ name, labels: { ...(record.labels ?? {}) } });
    }
    return out;
  }

  /**
   * Updates labels: with `fieldpaths` only `labels.<key>` entries (an empty value removes
   * the label); without, the labels are replaced. Creates the namespace when a label is
   * set on an unknown one, as containerd does.
   */
  async update(ctx: RequestContext, ns: Namespace, fieldpaths: readonly string[] = []): Promise<Namespace> {
    // containerd validates the name only where it sets a label: replacing no labels with
    // none (an empty request) succeeds whatever the name.
    if (fieldpaths.length > 0 || Object.keys(ns.labels).length > 0) validateIdentifier(ns.name);
    validateLabels(ns.labels, 'namespace.Labels');
    for (const path of fieldpaths) {
      if (!path.startsWith('labels.')) throw invalidArgument(`cannot update ${JSON.stringify(path)} field`);
    }
    const updated = await this.core.update(async (tx) => {
      const rec = await tx.getJSON<NamespaceRecord>(namespaceKey(ns.name));
      let labels: Record<string, string>;
      if (fieldpaths.length > 0) {
        labels = { ...(rec?.labels ?? {}) };
        for (const path of fieldpaths) {
          const key = path.slice('labels.'.length);
          const value = ns.labels[key] ?? '';
          if (value === '') delete labels[key];
          else labels[key] = value;
        }
      } else {
        labels = storedLabels(ns.labels);
      }
      // Replacing the labels of an unknown namespace with none leaves it unknown.
      if (rec || Object.keys(labels).length > 0) {
        tx.putJSON(namespaceKey(ns.name), { labels } satisfies NamespaceRecord);
        await this.core.touchNamespace(tx, ns.name);
      }
      return { name: ns.name, labels };
    });
    await this.core.publish(ctx, '/namespaces/update', namespaceEvent('NamespaceUpdate', ns.name, ns.labels));
    return updated;
  }

  /**
   * Deletes an empty namespace. Refused with `failed-precondition` while it holds images,
   * content, containers, leases or snapshots; `not-found` when it does not exist.
   */
  async delete(ctx: RequestContext, name: string): Promise<void> {
    await this.core.update(async (tx) => {
      const remaining = await nonEmptyKinds(tx, name);
      if (remaining.length > 0) {
        throw failedPrecondition(
          `namespace ${JSON.stringify(name)} must be empty, but it still has ${remaining.join(', ')}`,
        );
      }
      if ((await tx.get(namespaceKey(name))) === undefined) throw notFound(`namespace ${JSON.stringify(name)}`);
      // Ingests do not keep a namespace; their backend data goes with the next content cleanup.
      if (await tx.hasAny(ingestsPrefix(name))) this.core.markDirty(tx, { content: true });
      await tx.delPrefix(namespacePrefix(name));
      tx.del(namespaceKey(name));
      this.core.forgetNamespace(name);
    });
    await this.core.publish({ ...ctx, namespace: name }, '/namespaces/delete', namespaceEvent('NamespaceDelete', name));
  }
}

/** What keeps a namespace from being deleted, in containerd's words and order. */
async function nonEmptyKinds(tx: Txn, ns: string): Promise<string[]> {
  const out: string[] = [];
  if (await tx.hasAny(imagesPrefix(ns))) out.push('images');
  if (await tx.hasAny(blobsPrefix(ns))) out.push('blobs');
  if (await tx.hasAny(containersPrefix(ns))) out.push('containers');
  if (await tx.hasAny(leasesPrefix(ns))) out.push('leases');
  const snapshotters = new Set<string>();
  for (const [key] of await tx.entries(snapshotsPrefix(ns))) {
    const rest = key.slice(snapshotsPrefix(ns).length);
    snapshotters.add(rest.slice(0, rest.indexOf('/')));
  }
  for (const s of snapshotters) out.push(`snapshots on ${JSON.stringify(s)} snapshotter`);
  return out;
}

/**
 * Every namespace that has a record or any object, in name order, with its record when
 * it has one. Skips over each namespace's objects by seeking, so the cost grows with the
 * number of namespaces, not of objects.
 */
export async function scanNamespaces(store: LevelStore): Promise<Array<{ name: string; record?: NamespaceRecord }>> {
  const found = new Map<string, { name: string; record?: NamespaceRecord }>();
  // `v1/<ns>` (the record) sorts first, then names like `<ns>-x` and `<ns>.x`, then
  // `v1/<ns>/…`; seeking to `v1/<ns>0` from inside the last skips exactly those objects.
  const it = store.db.iterator({ gt: schemaRoot, lt: prefixEnd(schemaRoot) });
  try {
    for (;;) {
      const entry = await it.next();
      if (!entry) break;
      const [key, value] = entry;
      const parts = splitNamespaced(key);
      if (!parts) continue;
      if (parts.rest === undefined) {
        found.set(parts.ns, { name: parts.ns, record: JSON.parse(value) as NamespaceRecord });
        continue;
      }
      if (!found.has(parts.ns)) found.set(parts.ns, { name: parts.ns });
      it.seek(prefixEnd(namespacePrefix(parts.ns)));
    }
  } finally {
    await it.close();
  }
  // Insertion order is key order, which is name order.
  return [...found.values()];
}
