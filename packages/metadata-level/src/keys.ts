// The key layout of the metadata database (schema v1). One LevelDB key per object,
// its value a JSON record (an image's and a lease's: the wire bytes of their API messages,
// image-record.ts and lease-record.ts);
// every namespaced object lives under `v1/<namespace>/`.
//
//   version                                          {schema, version}: see migrations.ts
//   sequence                                         last ingest sequence number
//   snapshot-sequence/<ns>/<snapshotter>             last backend key sequence of a namespace's
//                                                    snapshots (outside v1/<ns>/, so it survives
//                                                    the namespace and backend keys stay unique)
//   v1/<ns>                                          namespace record {labels}
//   v1/<ns>/content/blob/<digest>                    BlobRecord
//   v1/<ns>/content/ingests/<ref>                    IngestRecord
//   v1/<ns>/leases/<id>                              LeaseRecord (wire bytes, lease-record.ts)
//   v1/<ns>/leased/<eid>/content/<digest>            ''  (resources held by a lease;
//   v1/<ns>/leased/<eid>/ingests/<ref>               ''   <eid> is the lease ID with '%'
//   v1/<ns>/leased/<eid>/snapshots/<snapshotter>/<key> '' and '/' escaped: see leaseIdSegment)
//   v1/<ns>/images/<name>                            ImageRecord (wire bytes, image-record.ts)
//   v1/<ns>/containers                               ''  (set by the first container create: containerd's
//                                                    containers bucket, which outlives its containers)
//   v1/<ns>/containers/<id>                          ContainerRecord
//   v1/<ns>/snapshots/<snapshotter>/<key>            SnapshotRecord
//
// Namespaces, container IDs and snapshotter names are identifiers (no '/'), digests contain
// no '/', and lease IDs (any string in containerd: `ctr images mount` uses the target
// path) are escaped where they are not the last component, so every collection is the
// key range of a fixed prefix even where the last component (ingest ref, image name,
// snapshot key, lease ID) contains '/'.

export const SCHEMA = 'v1';
export const VERSION_KEY = 'version';
export const SEQUENCE_KEY = 'sequence';
export const snapshotSequenceKey = (ns: string, snapshotter: string) => `snapshot-sequence/${ns}/${snapshotter}`;

const root = `${SCHEMA}/`;

export const namespaceKey = (ns: string) => `${root}${ns}`;
/** Every object of a namespace (not its namespace record). */
export const namespacePrefix = (ns: string) => `${root}${ns}/`;

export const blobsPrefix = (ns: string) => `${root}${ns}/content/blob/`;
export const blobKey = (ns: string, digest: string) => blobsPrefix(ns) + digest;
export const ingestsPrefix = (ns: string) => `${root}${ns}/content/ingests/`;
export const ingestKey = (ns: string, ref: string) => ingestsPrefix(ns) + ref;

export const leasesPrefix = (ns: string) => `${root}${ns}/leases/`;
export const leaseKey = (ns: string, id: string) => leasesPrefix(ns) + id;
/** A lease ID as one key segment: '%' and '/' percent-escaped (schema v1.2 on). */
export const leaseIdSegment = (id: string) => id.replaceAll('%', '%25').replaceAll('/', '%2F');
/** The lease ID of a key segment written by leaseIdSegment. */
export const leaseIdFromSegment = (segment: string) => segment.replaceAll('%2F', '/').replaceAll('%25', '%');
export const leasedPrefix = (ns: string, id: string) => `${root}${ns}/leased/${leaseIdSegment(id)}/`;
export const allLeasedPrefix = (ns: string) => `${root}${ns}/leased/`;

export const imagesPrefix = (ns: string) => `${root}${ns}/images/`;
export const imageKey = (ns: string, name: string) => imagesPrefix(ns) + name;

export const containersPrefix = (ns: string) => `${root}${ns}/containers/`;
export const containerKey = (ns: string, id: string) => containersPrefix(ns) + id;
/** Marks that the namespace has had containers (containerd's answers for update and delete differ). */
export const containersBucketKey = (ns: string) => `${root}${ns}/containers`;

export const snapshotsPrefix = (ns: string) => `${root}${ns}/snapshots/`;
export const snapshotterPrefix = (ns: string, snapshotter: string) => `${snapshotsPrefix(ns)}${snapshotter}/`;
export const snapshotKey = (ns: string, snapshotter: string, key: string) => snapshotterPrefix(ns, snapshotter) + key;

/** Lease resource types as containerd names them in the leases API. */
export type LeaseResourceKind = 'content' | 'ingests' | `snapshots/${string}`;
export const leasedKey = (ns: string, lease: string, kind: LeaseResourceKind, id: string) =>
  `${leasedPrefix(ns, lease)}${kind}/${id}`;

/**
 * The first key after every key that starts with `prefix` (LevelDB orders keys bytewise).
 * Prefixes here end in an ASCII character, so bumping it is exact.
 */
export function prefixEnd(prefix: string): string {
  const last = prefix.charCodeAt(prefix.length - 1);
  return prefix.slice(0, -1) + String.fromCharCode(last + 1);
}

/** Splits a `v1/…` key into its namespace and the rest (undefined for the namespace record itself). */
export function splitNamespaced(key: string): { ns: string; rest: string | undefined } | undefined {
  if (!key.startsWith(root)) return undefined;
  const tail = key.slice(root.length);
  const slash = tail.indexOf('/');
  if (slash < 0) return { ns: tail, rest: undefined };
  return { ns: tail.slice(0, slash), rest: tail.slice(slash + 1) };
}

export const schemaRoot = root;
