// What the gRPC fuzzer sends: for every method of the storage, metadata, events and
// introspection services, an arbitrary of valid requests typed by the generated message
// (so a field added to the API is a compile error here until it is fuzzed), and the
// mutations applied to their encodings (bit flips, truncation, duplicated, dropped and
// re-typed fields, overlong varints, inserted and spliced bytes).
import { createHash } from 'node:crypto';
import { ContentService, WriteAction, type WriteContentRequest } from '@containerd-ts/api/services/content';
import { ContainersService } from '@containerd-ts/api/services/containers';
import { DiffService } from '@containerd-ts/api/services/diff';
import { EventsService } from '@containerd-ts/api/services/events';
import { HealthService } from '@containerd-ts/api/services/health';
import { ImagesService, type Image } from '@containerd-ts/api/services/images';
import { IntrospectionService } from '@containerd-ts/api/services/introspection';
import { LeasesService } from '@containerd-ts/api/services/leases';
import { NamespacesService } from '@containerd-ts/api/services/namespaces';
import { TasksService } from '@containerd-ts/api/services/tasks';
import { Kind, SnapshotsService, type Info as SnapshotInfo } from '@containerd-ts/api/services/snapshots';
import { VersionService } from '@containerd-ts/api/services/version';
import type { Descriptor } from '@containerd-ts/api/types/descriptor';
import type { Mount } from '@containerd-ts/api/types/mount';
import type { Any } from '@containerd-ts/api/types/any';
import fc from 'fast-check';

/** A name that must never show up outside the daemon's directories (checked after the run). */
export const ESCAPE_MARKER = 'fzesc';

export type CallKind = 'unary' | 'server-stream' | 'bidi' | 'endless';

/** One method under fuzz: its path, how it is called, and arbitraries of request bodies. */
export interface Target {
  path: string;
  kind: CallKind;
  /** Encoded valid requests; absent for methods fuzzed with malformed messages only. */
  valid?: fc.Arbitrary<Buffer>;
}

interface MethodLike<Req> {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestSerialize: (value: Req) => Buffer;
}

function target<Req>(def: MethodLike<Req>, valid: fc.Arbitrary<Req>, endless = false): Target {
  const kind: CallKind = endless ? 'endless' : def.requestStream ? 'bidi' : def.responseStream ? 'server-stream' : 'unary';
  return { path: def.path, kind, valid: valid.map((v) => def.requestSerialize(v)) };
}

/** Every method of a service, fuzzed with malformed and random messages only. */
function malformedOnly(service: Record<string, Omit<MethodLike<never>, 'requestSerialize'>>): Target[] {
  return Object.values(service).map((def) => ({ path: def.path, kind: def.requestStream ? 'bidi' : def.responseStream ? 'server-stream' : 'unary' }));
}

export const sha256 = (data: Uint8Array | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** Pools of names shared by all methods, so that fuzzed calls act on each other's objects. */
export interface Pools {
  /** Digests of blobs written before the run (layers, configs, random bytes). */
  digests: readonly string[];
  /** Directories under the fuzzer's sandbox that Diff requests may mount. */
  sandboxDirs: readonly string[];
}

export const NAMESPACES = ['fz', 'fz2', 'default'] as const;
const pathy = fc.constantFrom('..', '../..', `../${ESCAPE_MARKER}`, `/${ESCAPE_MARKER}`, `a/../../${ESCAPE_MARKER}`, '.', '/', '', ' ', '\u0000', 'a/b');
const text = fc.oneof({ weight: 3, arbitrary: fc.string({ maxLength: 16 }) }, { weight: 1, arbitrary: pathy }, { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) });
const name = (pool: readonly string[]) => fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...pool) }, { weight: 1, arbitrary: text });

const keys = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5'];
const leases = ['l0', 'l1', 'l2', 'l3'];
const refs = ['r0', 'r1', 'r2', 'r3'];
const images = ['img/a:1', 'img/b:2', 'docker.io/library/x:latest'];
const snapshotter = fc.oneof({ weight: 6, arbitrary: fc.constantFrom('native', 'overlayfs') }, { weight: 1, arbitrary: fc.constantFrom('btrfs', 'zfs', '') }, { weight: 1, arbitrary: text });
const smallInt = fc.oneof(fc.integer({ min: -2, max: 4096 }), fc.constantFrom(0, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER));
const fieldMask = fc.option(fc.array(fc.oneof(fc.constantFrom('labels', 'labels.a', 'labels.containerd.io/gc.root', 'target', 'annotations', 'parent', 'name', 'kind'), text), { maxLength: 3 }), { nil: undefined });
// google.protobuf.Timestamp as the API carries it: seconds and nanoseconds (1970–2100).
const date = fc.option(fc.record({ seconds: fc.integer({ min: 0, max: 4102444800 }), nanos: fc.integer({ min: 0, max: 999_999_999 }) }), { nil: undefined });

export function arbitraries(pools: Pools) {
  const digest = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...pools.digests) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 8 }).map(sha256) },
    { weight: 1, arbitrary: fc.constantFrom('sha256:', 'sha256:abc', 'sha512:00', 'md5:x', '') },
    { weight: 1, arbitrary: text },
  );
  const labelKey = fc.oneof(
    fc.constantFrom('a', 'containerd.io/gc.root', 'containerd.io/gc.ref.content.l0', 'containerd.io/gc.ref.snapshot.native', 'containerd.io/gc.ref.snapshot.overlayfs', 'containerd.io/gc.expire', 'containerd.io/gc.flat', 'containerd.io/uncompressed'),
    text,
  );
  const labelValue = fc.oneof(digest, name(keys), fc.constantFrom('2000-01-01T00:00:00Z', '2999-01-01T00:00:00Z', 'true'), fc.string({ maxLength: 64 }));
  const labels = fc.dictionary(labelKey, labelValue, { maxKeys: 3 });
  const filters = fc.array(
    fc.oneof(
      fc.constantFrom('', 'labels.a', 'name==img/a:1', 'kind==active', 'parent==k0', 'id==l0', 'labels."containerd.io/gc.root"', 'digest~=^sha256', 'name~=(?i)IMG', 'type==io.containerd.snapshotter.v1', 'topic~=/images/', 'namespace==fz'),
      text,
    ),
    { maxLength: 2 },
  );
  const descriptor: fc.Arbitrary<Descriptor> = fc.record({
    mediaType: fc.oneof(fc.constantFrom('application/vnd.oci.image.layer.v1.tar', 'application/vnd.oci.image.layer.v1.tar+gzip', 'application/vnd.oci.image.layer.v1.tar+zstd', 'application/vnd.docker.image.rootfs.diff.tar.gzip', 'application/vnd.oci.image.manifest.v1+json'), text),
    digest,
    size: smallInt,
    annotations: fc.dictionary(text, text, { maxKeys: 2 }),
  });
  // Mounts stay inside the sandbox: a bind mount of a host path is written through by Apply.
  const sandbox = fc.constantFrom(...pools.sandboxDirs);
  const mount: fc.Arbitrary<Mount> = fc.oneof(
    fc.record({ type: fc.constant('bind'), source: sandbox, target: fc.constant(''), options: fc.subarray(['rbind', 'ro', 'rw', 'bind']) }),
    fc.tuple(sandbox, sandbox, sandbox).map(([u, w, l]) => ({ type: 'overlay', source: 'overlay', target: '', options: [`upperdir=${u}`, `workdir=${w}`, `lowerdir=${l}`] })),
    fc.record({ type: fc.constantFrom('tmpfs', 'no-such-fs', ''), source: fc.constantFrom('tmpfs', ''), target: fc.constantFrom('', 'x'), options: fc.subarray(['size=1m', 'ro', 'nosuid', 'bogus=1']) }),
  );
  const mounts = fc.array(mount, { maxLength: 2 });
  const any: fc.Arbitrary<Any | undefined> = fc.option(
    fc.record({
      typeUrl: fc.oneof(fc.constantFrom('containerd.events.ImageCreate', 'containerd.events.ContentDelete', 'types.containerd.io/opencontainers/runtime-spec/1/Spec', 'google.protobuf.Empty'), text),
      value: fc.uint8Array({ maxLength: 32 }),
    }),
    { nil: undefined },
  );
  const topic = fc.oneof(fc.constantFrom('/images/create', '/content/delete', '/fz/x', '/', ''), text);
  const snapshotInfo: fc.Arbitrary<SnapshotInfo | undefined> = fc.option(
    fc.record({ name: name(keys), parent: name(keys), kind: fc.constantFrom(Kind.UNKNOWN, Kind.VIEW, Kind.ACTIVE, Kind.COMMITTED), createdAt: date, updatedAt: date, labels }),
    { nil: undefined },
  );
  const image: fc.Arbitrary<Image | undefined> = fc.option(
    fc.record({ name: name(images), labels, target: fc.option(descriptor, { nil: undefined }), createdAt: date, updatedAt: date }),
    { nil: undefined },
  );
  const namespace = fc.option(fc.record({ name: name([...NAMESPACES, 'fz3']), labels }), { nil: undefined });
  const snap = { snapshotter, key: name(keys) };
  const resource = fc.option(fc.record({ id: fc.oneof(digest, name(keys), name(refs)), type: fc.oneof(fc.constantFrom('content', 'snapshots/native', 'snapshots/overlayfs', 'ingests', 'bogus'), text) }), { nil: undefined });

  // A Write stream: a well-formed ingest (write, commit) or a random sequence of actions.
  const writeMessage: fc.Arbitrary<WriteContentRequest> = fc.record({
    action: fc.constantFrom(WriteAction.STAT, WriteAction.WRITE, WriteAction.COMMIT, 3 as WriteAction),
    ref: name(refs),
    total: smallInt,
    expected: digest,
    offset: smallInt,
    data: fc.uint8Array({ maxLength: 64 }),
    labels,
  });
  const wellFormedWrite = fc.tuple(name(refs), fc.uint8Array({ maxLength: 256 }), labels).map(([ref, data, l]): WriteContentRequest[] => {
    const base = { ref, total: data.length, expected: sha256(data), labels: l };
    return [
      { ...base, action: WriteAction.WRITE, offset: 0, data },
      { ...base, action: WriteAction.COMMIT, offset: data.length, data: new Uint8Array() },
    ];
  });
  const writeStream = fc.oneof(wellFormedWrite, fc.array(writeMessage, { minLength: 1, maxLength: 4 }));
  const encodeWrite = (m: WriteContentRequest) => ContentService.write.requestSerialize(m);

  const targets: Target[] = [
    target(ContentService.info, fc.record({ digest })),
    target(ContentService.update, fc.record({ info: fc.option(fc.record({ digest, size: smallInt, createdAt: date, updatedAt: date, labels }), { nil: undefined }), updateMask: fieldMask })),
    target(ContentService.list, fc.record({ filters })),
    target(ContentService.delete, fc.record({ digest })),
    target(ContentService.read, fc.record({ digest, offset: smallInt, size: smallInt })),
    target(ContentService.status, fc.record({ ref: name(refs) })),
    target(ContentService.listStatuses, fc.record({ filters })),
    { path: ContentService.write.path, kind: 'bidi', valid: writeStream.map((ms) => Buffer.concat(ms.map((m) => frame(encodeWrite(m))))) },
    target(ContentService.abort, fc.record({ ref: name(refs) })),
    target(SnapshotsService.prepare, fc.record({ ...snap, parent: name(keys), labels })),
    target(SnapshotsService.view, fc.record({ ...snap, parent: name(keys), labels })),
    target(SnapshotsService.mounts, fc.record(snap)),
    target(SnapshotsService.commit, fc.record({ snapshotter, name: name(keys), key: name(keys), labels })),
    target(SnapshotsService.remove, fc.record(snap)),
    target(SnapshotsService.stat, fc.record(snap)),
    target(SnapshotsService.update, fc.record({ snapshotter, info: snapshotInfo, updateMask: fieldMask })),
    target(SnapshotsService.list, fc.record({ snapshotter, filters })),
    target(SnapshotsService.usage, fc.record(snap)),
    target(SnapshotsService.cleanup, fc.record({ snapshotter })),
    target(ImagesService.get, fc.record({ name: name(images) })),
    target(ImagesService.list, fc.record({ filters })),
    target(ImagesService.create, fc.record({ image })),
    target(ImagesService.update, fc.record({ image, updateMask: fieldMask })),
    target(ImagesService.delete, fc.record({ name: name(images), sync: fc.boolean() })),
    target(LeasesService.create, fc.record({ id: name(leases), labels })),
    target(LeasesService.delete, fc.record({ id: name(leases), sync: fc.boolean() })),
    target(LeasesService.list, fc.record({ filters })),
    target(LeasesService.addResource, fc.record({ id: name(leases), resource })),
    target(LeasesService.deleteResource, fc.record({ id: name(leases), resource })),
    target(LeasesService.listResources, fc.record({ id: name(leases) })),
    target(NamespacesService.get, fc.record({ name: name([...NAMESPACES]) })),
    target(NamespacesService.list, fc.record({ filter: fc.oneof(fc.constant(''), text) })),
    target(NamespacesService.create, fc.record({ namespace })),
    target(NamespacesService.update, fc.record({ namespace, updateMask: fieldMask })),
    target(NamespacesService.delete, fc.record({ name: name(['fz3', 'fz2']) })),
    target(DiffService.apply, fc.record({ diff: fc.option(descriptor, { nil: undefined }), mounts, payloads: fc.dictionary(text, any.map((a) => a ?? { typeUrl: '', value: new Uint8Array() }), { maxKeys: 1 }) })),
    target(DiffService.diff, fc.record({ left: mounts, right: mounts, mediaType: fc.oneof(fc.constantFrom('', 'application/vnd.oci.image.layer.v1.tar', 'application/vnd.oci.image.layer.v1.tar+gzip'), text), ref: name(refs), labels })),
    target(EventsService.publish, fc.record({ topic, event: any })),
    target(EventsService.forward, fc.record({ envelope: fc.option(fc.record({ timestamp: date, namespace: name([...NAMESPACES]), topic, event: any }), { nil: undefined }) })),
    target(EventsService.subscribe, fc.record({ filters }), true),
    target(IntrospectionService.plugins, fc.record({ filters })),
    target(IntrospectionService.server, fc.constant({})),
    target(VersionService.version, fc.constant({})),
    target(HealthService.check, fc.record({ service: fc.oneof(fc.constant(''), text) })),
    target(HealthService.watch, fc.record({ service: fc.oneof(fc.constant(''), text) }), true),
    // Random valid container specs could mount host paths: malformed messages only.
    ...malformedOnly(ContainersService),
    ...malformedOnly(TasksService),
  ];
  return { targets, digest };
}

/**
 * Bidi bodies are several messages: each is framed with a 4-byte length here and split
 * again by the caller (mutations of the whole then also cut and merge messages).
 */
export function frame(msg: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(msg.length);
  return Buffer.concat([len, msg]);
}

export function unframe(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  while (pos + 4 <= body.length) {
    const len = Math.min(body.readUInt32BE(pos), body.length - pos - 4);
    out.push(body.subarray(pos + 4, pos + 4 + len));
    pos += 4 + len;
  }
  if (pos < body.length || out.length === 0) out.push(body.subarray(pos));
  return out;
}

// ---- mutations of encoded messages ----

export type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'duplicate-field'; field: number }
  | { kind: 'drop-field'; field: number }
  | { kind: 'wire-type'; field: number; wire: number }
  | { kind: 'overlong-varint'; field: number; extra: number }
  | { kind: 'splice'; at: number; with: Uint8Array };

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('duplicate-field' as const), field: fc.nat() }),
  fc.record({ kind: fc.constant('drop-field' as const), field: fc.nat() }),
  fc.record({ kind: fc.constant('wire-type' as const), field: fc.nat(), wire: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('overlong-varint' as const), field: fc.nat(), extra: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ kind: fc.constant('splice' as const), at: fc.nat(), with: fc.uint8Array({ maxLength: 24 }) }),
);

function readVarint(buf: Uint8Array, pos: number): [number, number] | null {
  let value = 0;
  for (let i = 0; i < 10; i++) {
    const b = buf[pos + i];
    if (b === undefined) return null;
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return [value, pos + i + 1];
  }
  return null;
}

interface Field {
  start: number;
  tagEnd: number;
  end: number;
  tag: number;
}

/** The top-level fields of a protobuf message, or null when it does not parse. */
function topLevelFields(buf: Uint8Array): Field[] | null {
  const fields: Field[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const tag = readVarint(buf, pos);
    if (!tag) return null;
    const [t, afterTag] = tag;
    let end: number;
    switch (t & 7) {
      case 0: {
        const v = readVarint(buf, afterTag);
        if (!v) return null;
        end = v[1];
        break;
      }
      case 1:
        end = afterTag + 8;
        break;
      case 2: {
        const len = readVarint(buf, afterTag);
        if (!len) return null;
        end = len[1] + len[0];
        break;
      }
      case 5:
        end = afterTag + 4;
        break;
      default:
        return null;
    }
    if (end > buf.length) return null;
    fields.push({ start: pos, tagEnd: afterTag, end, tag: t });
    pos = end;
  }
  return fields;
}

function encodeVarint(value: number, extra = 0): Buffer {
  const out: number[] = [];
  let v = value;
  do {
    out.push(v % 128);
    v = Math.floor(v / 128);
  } while (v > 0);
  for (let i = 0; i < extra; i++) out.push(0);
  // Every byte but the last has the continuation bit.
  return Buffer.from(out.map((b, i) => (i < out.length - 1 ? b | 0x80 : b)));
}

/** Applies a mutation; positions wrap around the message's length. */
export function mutate(msg: Buffer, m: Mutation): Buffer {
  const n = msg.length;
  switch (m.kind) {
    case 'flip': {
      if (n === 0) return Buffer.from([1 << m.bit]);
      const out = Buffer.from(msg);
      const at = m.at % n;
      out[at] = (out[at] ?? 0) ^ (1 << m.bit);
      return out;
    }
    case 'truncate':
      return n === 0 ? msg : msg.subarray(0, m.at % n);
    case 'insert': {
      const at = m.at % (n + 1);
      return Buffer.concat([msg.subarray(0, at), m.bytes, msg.subarray(at)]);
    }
    case 'splice': {
      const at = m.at % (n + 1);
      return Buffer.concat([msg.subarray(0, at), m.with]);
    }
  }
  const fields = topLevelFields(msg);
  if (!fields || fields.length === 0) return Buffer.concat([msg, msg]);
  const f = fields[m.field % fields.length] as Field;
  const before = msg.subarray(0, f.start);
  const whole = msg.subarray(f.start, f.end);
  const after = msg.subarray(f.end);
  switch (m.kind) {
    case 'duplicate-field':
      return Buffer.concat([msg.subarray(0, f.end), whole, after]);
    case 'drop-field':
      return Buffer.concat([before, after]);
    case 'wire-type': {
      const tag = encodeVarint(Math.floor(f.tag / 8) * 8 + m.wire);
      return Buffer.concat([before, tag, msg.subarray(f.tagEnd, f.end), after]);
    }
    case 'overlong-varint':
      return Buffer.concat([before, encodeVarint(f.tag, m.extra), msg.subarray(f.tagEnd, f.end), after]);
  }
}

/**
 * Request bodies for a target: valid encodings, mutated ones and random bytes; methods
 * fuzzed with malformed messages only get the last two (mutations of an empty message
 * are random bytes).
 */
export function bodies(t: Target): fc.Arbitrary<Buffer> {
  const random = fc.uint8Array({ maxLength: 96 }).map((b) => Buffer.from(b));
  if (!t.valid) return fc.oneof(random, fc.tuple(random, fc.array(mutationArb, { minLength: 1, maxLength: 3 })).map(([b, ms]) => ms.reduce(mutate, b)));
  const mutated = fc.tuple(t.valid, fc.array(mutationArb, { minLength: 1, maxLength: 3 })).map(([b, ms]) => ms.reduce(mutate, b));
  return fc.oneof({ weight: 4, arbitrary: t.valid }, { weight: 4, arbitrary: mutated }, { weight: 1, arbitrary: random });
}
