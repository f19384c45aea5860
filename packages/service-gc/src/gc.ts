// The GC service: runs a collection on request (through the scheduler, so its pause
// accounting and `schedule_delay` apply as for a `sync` delete) and explains what a
// collection would remove and what holds everything else.
import { invalidArgument } from '@containerd-ts/errdefs';
import type { GCNode, GCStats, Hold, MetadataDB } from '@containerd-ts/metadata-level';
import { type CollectResponse, InvalidJsonBody, type ExplainRequest, type ExplainResponse, type GCHold, type GCObject } from './api.js';

/** What runs collections on request (the GC scheduler). */
export interface CollectionRequester {
  scheduleAndWait(signal?: AbortSignal): Promise<GCStats>;
}

const typeOrder: Record<GCObject['type'], number> = { content: 0, ingest: 1, snapshot: 2, lease: 3, image: 4, container: 5 };
const compareObjects = (a: GCObject, b: GCObject) =>
  a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : typeOrder[a.type] - typeOrder[b.type] || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

const toObject = (n: GCNode): GCObject => ({ type: n.type, namespace: n.namespace, key: n.key });

function toHold(h: Hold): GCHold {
  switch (h.kind) {
    case 'lease':
      return { kind: 'lease', by: toObject(h.by), flat: h.flat };
    case 'label':
      return { kind: 'label', by: toObject(h.by), label: h.label };
    case 'image-target':
    case 'container-snapshot':
    case 'parent':
    case 'ingest-expected':
      return { kind: h.kind, by: toObject(h.by) };
    case 'root-label':
      return { kind: 'root-label' };
    case 'unexpired-ingest':
      return { kind: 'unexpired-ingest', until: h.until.toISOString() };
    case 'unexpired-lease':
      return h.until ? { kind: 'unexpired-lease', until: h.until.toISOString() } : { kind: 'unexpired-lease' };
  }
}

export class GCController {
  constructor(
    private readonly db: MetadataDB,
    private readonly scheduler?: CollectionRequester,
  ) {}

  /** Runs a collection and waits for it; resolves with what it removed. */
  async collect(signal?: AbortSignal): Promise<CollectResponse> {
    const t0 = performance.now();
    const stats = this.scheduler ? await this.scheduler.scheduleAndWait(signal) : await this.db.garbageCollect();
    return {
      durationMs: performance.now() - t0,
      pauseMs: stats.metaMs,
      ...(stats.contentMs !== undefined ? { contentMs: stats.contentMs } : {}),
      snapshotMs: { ...stats.snapshotMs },
      removed: { ...stats.removed },
      backend: { ...stats.backend },
    };
  }

  /** A dry run of a collection now, limited to one namespace's records when one is given. */
  async explain(req: ExplainRequest): Promise<ExplainResponse> {
    const namespace = req.namespace ?? '';
    const inScope = (o: GCObject) => namespace === '' || o.namespace === namespace;
    const report = await this.db.explain();
    const remove = report.remove.map(toObject).filter(inScope).sort(compareObjects);
    const keep = report.keep
      .map((k) => ({ object: toObject(k.node), holds: k.holds.map(toHold) }))
      .filter((k) => inScope(k.object))
      .sort((a, b) => compareObjects(a.object, b.object));
    const snapshots: Record<string, string[]> = {};
    for (const name of Object.keys(report.backend.snapshots).sort()) snapshots[name] = [...(report.backend.snapshots[name] ?? [])];
    return {
      remove,
      keep,
      backend: { blobs: [...report.backend.blobs].sort(), ingests: [...report.backend.ingests].sort(), snapshots },
    };
  }
}

/** Checks a decoded Explain request (JSON from any client). */
export function parseExplainRequest(value: unknown): ExplainRequest {
  if (value instanceof InvalidJsonBody) throw invalidArgument(`explain request is not JSON: ${value.reason}`);
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw invalidArgument('explain request must be a JSON object');
  const { namespace, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw invalidArgument(`explain request: unknown field ${JSON.stringify(unknown[0])}`);
  if (namespace !== undefined && typeof namespace !== 'string') throw invalidArgument('explain request: namespace must be a string');
  return namespace ? { namespace } : {};
}

/** Checks a decoded Collect request: a JSON object without fields. */
export function parseCollectRequest(value: unknown): void {
  if (value instanceof InvalidJsonBody) throw invalidArgument(`collect request is not JSON: ${value.reason}`);
  if (value === undefined || value === null) return;
  if (typeof value !== 'object' || Array.isArray(value)) throw invalidArgument('collect request must be a JSON object');
  const unknown = Object.keys(value);
  if (unknown.length > 0) throw invalidArgument(`collect request: unknown field ${JSON.stringify(unknown[0])}`);
}
