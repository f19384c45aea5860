// The GC API of containerd-ts (not part of containerd): service
// `containerdts.services.gc.v1.GC` with unary methods `Collect` and `Explain` whose
// requests and responses are JSON documents (UTF-8) instead of protobuf messages.
// This module only describes the wire, so clients import it without the server side.
import type { MethodDefinition } from '@grpc/grpc-js';

export const GC_SERVICE_NAME = 'containerdts.services.gc.v1.GC';

/** Collect: run a collection now (through the GC scheduler when loaded) and wait for it. */
export type CollectRequest = Record<string, never>;

export interface CollectResponse {
  /** Wall time of the call, ms (includes the scheduler's `schedule_delay`). */
  durationMs: number;
  /** Time the metadata was locked for mark and sweep, ms. */
  pauseMs: number;
  /** Time spent cleaning the content backend, ms, when it was cleaned. */
  contentMs?: number;
  /** Time spent cleaning each snapshotter that was cleaned, ms. */
  snapshotMs: Record<string, number>;
  /** Metadata records removed. */
  removed: { content: number; ingests: number; snapshots: number; leases: number };
  /** Objects removed from the backends (blobs, ingest directories, snapshots). */
  backend: { blobs: number; ingests: number; snapshots: number };
}

/** Explain: what a collection would do now (a dry run; nothing changes). */
export interface ExplainRequest {
  /** Only records of this namespace; every namespace when absent or empty. */
  namespace?: string;
}

export type GCObjectType = 'content' | 'ingest' | 'snapshot' | 'lease' | 'image' | 'container';

/** One metadata object. Snapshot keys are `<snapshotter>/<key>`, content keys digests. */
export interface GCObject {
  type: GCObjectType;
  namespace: string;
  key: string;
}

/** Why an object is kept. `by` is the object that holds it; times are RFC 3339. */
export type GCHold =
  | { kind: 'lease'; by: GCObject; flat: boolean }
  | { kind: 'image-target'; by: GCObject }
  | { kind: 'container-snapshot'; by: GCObject }
  | { kind: 'label'; by: GCObject; label: string }
  | { kind: 'parent'; by: GCObject }
  | { kind: 'ingest-expected'; by: GCObject }
  | { kind: 'root-label' }
  | { kind: 'unexpired-ingest'; until: string }
  | { kind: 'unexpired-lease'; until?: string };

export interface ExplainResponse {
  /** Records the next collection would remove. */
  remove: GCObject[];
  /** Every collectable record that stays (content, ingests, snapshots, leases), with what holds it. */
  keep: Array<{ object: GCObject; holds: GCHold[] }>;
  /** Backend objects no record references once `remove` is gone (every namespace). */
  backend: { blobs: string[]; ingests: string[]; snapshots: Record<string, string[]> };
}

const encode = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
/** What a body that is not JSON decodes to; the server refuses it with invalid-argument. */
export class InvalidJsonBody {
  constructor(readonly reason: string) {}
}

// An empty body is an empty request (as an empty protobuf message). The server validates
// what it decodes.
const decode = <T>(bytes: Buffer): T => {
  if (bytes.length === 0) return {} as T;
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch (err) {
    return new InvalidJsonBody((err as Error).message) as T;
  }
};

function method<Req, Res>(name: string): MethodDefinition<Req, Res> {
  return {
    path: `/${GC_SERVICE_NAME}/${name}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: encode,
    requestDeserialize: decode<Req>,
    responseSerialize: encode,
    responseDeserialize: decode<Res>,
  };
}

/** The service definition, usable with `server.addService` and with a client's `makeUnaryRequest`. */
export const GCService = {
  collect: method<CollectRequest, CollectResponse>('Collect'),
  explain: method<ExplainRequest, ExplainResponse>('Explain'),
} as const;
