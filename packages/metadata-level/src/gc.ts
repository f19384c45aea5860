// containerd's tricolor mark over the metadata records: roots (unexpired leases,
// images, containers, `gc.root` labels, unexpired ingests), references (`gc.ref.*`
// labels, snapshot parents, lease resources, an ingest's expected blob), and what each
// kept record is held by, for `explain`.
import { GCLabel } from './labels.js';
import { parseExpire } from './leases.js';
import { schemaRoot, splitNamespaced, leaseIdFromSegment } from './keys.js';
import { decodeImageRecord } from './image-record.js';
import { decodeLeaseRecord } from './lease-record.js';
import type { BlobRecord, ContainerRecord, IngestRecord, SnapshotRecord } from './records.js';

export type GCResourceType = 'content' | 'ingest' | 'snapshot' | 'lease' | 'image' | 'container';

/** One object in the metadata; snapshot keys are `<snapshotter>/<key>`. */
export interface GCNode {
  type: GCResourceType;
  namespace: string;
  key: string;
}

/** Why an object is kept. `by` is the object holding it (absent when it is a root by itself). */
export type Hold =
  | { kind: 'lease'; by: GCNode; flat: boolean }
  | { kind: 'image-target'; by: GCNode }
  | { kind: 'container-snapshot'; by: GCNode }
  | { kind: 'label'; by: GCNode; label: string }
  | { kind: 'parent'; by: GCNode }
  | { kind: 'ingest-expected'; by: GCNode }
  | { kind: 'root-label' }
  | { kind: 'unexpired-ingest'; until: Date }
  | { kind: 'unexpired-lease'; until?: Date };

type EdgeHold = Exclude<Hold, { kind: 'root-label' | 'unexpired-ingest' | 'unexpired-lease' }>;
interface Edge {
  target: string;
  flat: boolean;
  hold: DistributiveOmit<EdgeHold, 'by'>;
}
type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

interface Entry {
  node: GCNode;
  edges: Edge[];
  /** Edges followed when the node is reached through a flat lease (snapshot parents only). */
  flatEdges: Edge[];
  /** Why this node is a root, when it is. */
  rootHolds: Hold[];
}

export interface MarkResult {
  /** Every collectable record (content, ingest, snapshot, lease) and every image and container. */
  entries: Map<string, Entry>;
  reachable: Set<string>;
  holds: Map<string, Hold[]>;
  /** Collectable records nothing holds. */
  unreachable: GCNode[];
  /** Earliest future time a lease or ingest stops being a root. */
  nextExpiry: Date | undefined;
}

export const nodeID = (n: GCNode) => `${n.type}\0${n.namespace}\0${n.key}`;
const collectable = new Set<GCResourceType>(['content', 'ingest', 'snapshot', 'lease']);

/** Edges for the `gc.ref.*` labels of an object, in label-key order as containerd reads them. */
function labelEdges(ns: string, labels: Record<string, string> | undefined): Edge[] {
  const out: Edge[] = [];
  if (!labels) return out;
  const keys = Object.keys(labels).sort();
  const contentRef = GCLabel.contentRef;
  for (const k of keys) {
    const v = labels[k]!;
    if (k.startsWith(contentRef) && (k.length === contentRef.length || k[contentRef.length] === '.' || k[contentRef.length] === '/')) {
      out.push({ target: nodeID({ type: 'content', namespace: ns, key: v }), flat: false, hold: { kind: 'label', label: k } });
    } else if (k.startsWith(GCLabel.snapshotRefPrefix)) {
      let snapshotter = k.slice(GCLabel.snapshotRefPrefix.length);
      const slash = snapshotter.indexOf('/');
      if (slash >= 0) snapshotter = snapshotter.slice(0, slash);
      out.push({
        target: nodeID({ type: 'snapshot', namespace: ns, key: `${snapshotter}/${v}` }),
        flat: false,
        hold: { kind: 'label', label: k },
      });
    }
  }
  return out;
}

const hasRootLabel = (labels: Record<string, string> | undefined) => labels !== undefined && GCLabel.root in labels;

/** Reads every record once and marks what is reachable from the roots. */
export async function mark(records: AsyncIterable<[string, string]>, now: Date = new Date()): Promise<MarkResult> {
  const entries = new Map<string, Entry>();
  const leased = new Map<string, Array<{ kind: string; id: string }>>();
  const leaseInfo = new Map<string, { ns: string; id: string; flat: boolean; active: boolean; until?: Date }>();
  let nextExpiry: Date | undefined;
  const noteExpiry = (at: Date) => {
    if (at >= now && (!nextExpiry || at < nextExpiry)) nextExpiry = at;
  };
  const add = (node: GCNode, edges: Edge[] = [], rootHolds: Hold[] = [], flatEdges: Edge[] = []) => {
    entries.set(nodeID(node), { node, edges, flatEdges, rootHolds });
  };

  for await (const [key, value] of records) {
    const parts = splitNamespaced(key);
    if (!parts?.rest) continue;
    const { ns, rest } = parts;
    if (rest.startsWith('content/blob/')) {
      const rec = JSON.parse(value) as BlobRecord;
      const node: GCNode = { type: 'content', namespace: ns, key: rest.slice('content/blob/'.length) };
      add(node, labelEdges(ns, rec.labels), hasRootLabel(rec.labels) ? [{ kind: 'root-label' }] : []);
    } else if (rest.startsWith('content/ingests/')) {
      const rec = JSON.parse(value) as IngestRecord;
      const node: GCNode = { type: 'ingest', namespace: ns, key: rest.slice('content/ingests/'.length) };
      const edges: Edge[] = rec.expected
        ? [{ target: nodeID({ type: 'content', namespace: ns, key: rec.expected }), flat: false, hold: { kind: 'ingest-expected' } }]
        : [];
      const roots: Hold[] = [];
      if (rec.expireAt) {
        const until = new Date(rec.expireAt);
        // Expired only once strictly past, as containerd compares.
        if (until >= now) roots.push({ kind: 'unexpired-ingest', until });
        noteExpiry(until);
      }
      add(node, edges, roots);
    } else if (rest.startsWith('leases/')) {
      const rec = decodeLeaseRecord(value);
      const id = rest.slice('leases/'.length);
      const labels = rec.labels;
      let active = true;
      let until: Date | undefined;
      const expire = labels[GCLabel.expire];
      if (expire !== undefined) {
        // A malformed expiry is ignored (the lease holds), as containerd does.
        until = parseExpire(expire);
        if (until) {
          active = until >= now;
          noteExpiry(until);
        }
      }
      leaseInfo.set(nodeID({ type: 'lease', namespace: ns, key: id }), { ns, id, flat: GCLabel.flat in labels, active, ...(until ? { until } : {}) });
    } else if (rest.startsWith('leased/')) {
      const tail = rest.slice('leased/'.length);
      const slash = tail.indexOf('/');
      const lease = nodeID({ type: 'lease', namespace: ns, key: leaseIdFromSegment(tail.slice(0, slash)) });
      const resource = tail.slice(slash + 1);
      const kindEnd = resource.indexOf('/');
      let list = leased.get(lease);
      if (!list) {
        list = [];
        leased.set(lease, list);
      }
      list.push({ kind: resource.slice(0, kindEnd), id: resource.slice(kindEnd + 1) });
    } else if (rest.startsWith('images/')) {
      const rec = decodeImageRecord(value);
      const node: GCNode = { type: 'image', namespace: ns, key: rest.slice('images/'.length) };
      const edges: Edge[] = [
        { target: nodeID({ type: 'content', namespace: ns, key: rec.target.digest }), flat: false, hold: { kind: 'image-target' } },
        ...labelEdges(ns, rec.labels),
      ];
      add(node, edges);
    } else if (rest.startsWith('containers/')) {
      const rec = JSON.parse(value) as ContainerRecord;
      const node: GCNode = { type: 'container', namespace: ns, key: rest.slice('containers/'.length) };
      const edges: Edge[] = [];
      if (rec.snapshotter) {
        edges.push({
          target: nodeID({ type: 'snapshot', namespace: ns, key: `${rec.snapshotter}/${rec.snapshotKey ?? ''}` }),
          flat: false,
          hold: { kind: 'container-snapshot' },
        });
      }
      edges.push(...labelEdges(ns, rec.labels));
      add(node, edges);
    } else if (rest.startsWith('snapshots/')) {
      const rec = JSON.parse(value) as SnapshotRecord;
      const key = rest.slice('snapshots/'.length);
      const snapshotter = key.slice(0, key.indexOf('/'));
      const node: GCNode = { type: 'snapshot', namespace: ns, key };
      const parentEdges = (flat: boolean): Edge[] =>
        rec.parent
          ? [{ target: nodeID({ type: 'snapshot', namespace: ns, key: `${snapshotter}/${rec.parent}` }), flat, hold: { kind: 'parent' } }]
          : [];
      add(node, [...parentEdges(false), ...labelEdges(ns, rec.labels)], hasRootLabel(rec.labels) ? [{ kind: 'root-label' }] : [], parentEdges(true));
    }
  }

  for (const [id, info] of leaseInfo) {
    const edges: Edge[] = [];
    for (const r of leased.get(id) ?? []) {
      const hold = { kind: 'lease' as const, flat: info.flat };
      if (r.kind === 'content') edges.push({ target: nodeID({ type: 'content', namespace: info.ns, key: r.id }), flat: info.flat, hold });
      else if (r.kind === 'ingests') edges.push({ target: nodeID({ type: 'ingest', namespace: info.ns, key: r.id }), flat: false, hold });
      else if (r.kind === 'snapshots') {
        // r.id is `<snapshotter>/<key>`
        edges.push({ target: nodeID({ type: 'snapshot', namespace: info.ns, key: r.id }), flat: info.flat, hold });
      }
    }
    const roots: Hold[] = info.active ? [info.until ? { kind: 'unexpired-lease', until: info.until } : { kind: 'unexpired-lease' }] : [];
    add({ type: 'lease', namespace: info.ns, key: info.id }, edges, roots);
  }

  // Mark: depth-first from the roots; a node reached both flat and not flat is visited twice.
  const reachable = new Set<string>();
  const holds = new Map<string, Hold[]>();
  const visited = new Set<string>();
  const stack: Array<{ id: string; flat: boolean }> = [];
  const addHold = (id: string, hold: Hold) => {
    let list = holds.get(id);
    if (!list) {
      list = [];
      holds.set(id, list);
    }
    if (!list.some((h) => JSON.stringify(h) === JSON.stringify(hold))) list.push(hold);
  };
  for (const [id, entry] of entries) {
    const isRoot = entry.node.type === 'image' || entry.node.type === 'container' || entry.rootHolds.length > 0;
    if (!isRoot) continue;
    for (const h of entry.rootHolds) addHold(id, h);
    stack.push({ id, flat: false });
  }
  while (stack.length > 0) {
    const { id, flat } = stack.pop()!;
    const visitKey = (flat ? 'f' : 'n') + id;
    if (visited.has(visitKey)) continue;
    visited.add(visitKey);
    reachable.add(id);
    const entry = entries.get(id);
    if (!entry) continue; // a reference to something that does not exist
    for (const edge of flat ? entry.flatEdges : entry.edges) {
      if (entries.has(edge.target)) addHold(edge.target, { ...edge.hold, by: entry.node } as Hold);
      if (!visited.has((edge.flat ? 'f' : 'n') + edge.target)) stack.push({ id: edge.target, flat: edge.flat });
    }
  }

  const unreachable: GCNode[] = [];
  for (const [id, entry] of entries) {
    if (collectable.has(entry.node.type) && !reachable.has(id)) unreachable.push(entry.node);
  }
  return { entries, reachable, holds, unreachable, nextExpiry };
}

/** All records of the schema, for `mark`. */
export const allRecordsPrefix = schemaRoot;
