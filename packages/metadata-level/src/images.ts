// Image records: a name, a target descriptor and labels. Images are GC roots: their
// target and the content or snapshots their labels reference are kept. Records are stored
// in their API message's wire form (image-record.ts): a list hands them on undecoded.
import { digestProblem } from '@containerd-ts/content';
import { alreadyExists, invalidArgument, notFound } from '@containerd-ts/errdefs';
import { parseAll } from '@containerd-ts/filters';
import { type RequestContext, namespaceRequired } from '@containerd-ts/namespaces';
import { type Timestamp, now } from '@containerd-ts/timestamp';
import type { DBCore } from './core.js';
import { imageEvent } from './events.js';
import { imageKey, imagesPrefix } from './keys.js';
import { applyLabelPath, labelKeyOf, labelValue, storedLabels, validateLabels } from './labels.js';
import { decodeImageRecord, encodeImageRecord, type ImageRecord, imageLabelBytes } from './image-record.js';
import type { DescriptorRecord } from './records.js';
import { eachMatching, type RecordField, type RecordFormat } from './scan.js';

export interface ImageTarget {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface Image {
  name: string;
  target: ImageTarget;
  labels: Record<string, string>;
  createdAt: Timestamp;
  updatedAt: Timestamp;
}

export type ImageInput = Pick<Image, 'name' | 'target'> & { labels?: Record<string, string> };

export interface ImageDeleteOptions {
  /** Wait until a garbage collection has removed what only this image held. */
  sync?: boolean;
}

/** An image from a record just decoded for it alone (no copies needed). */
const ownImage = (name: string, rec: ImageRecord): Image => {
  const target = rec.target as ImageTarget;
  target.annotations ??= {};
  return { name, target, labels: rec.labels, createdAt: rec.createdAt, updatedAt: rec.updatedAt };
};

/** An image from a record kept by the caller (its own copies of the maps). */
const toImage = (name: string, rec: ImageRecord): Image => ({
  name,
  target: { ...rec.target, annotations: { ...(rec.target.annotations ?? {}) } },
  labels: { ...rec.labels },
  createdAt: rec.createdAt,
  updatedAt: rec.updatedAt,
});

const imageRecords: RecordFormat<ImageRecord> = { decode: decodeImageRecord, labelBytes: imageLabelBytes };

/** Filter fields of an image: `name`, `target.digest`, `target.mediatype`, `labels.*`, `annotations.*`. */
const imageField: RecordField<ImageRecord> = (path, name, record) => {
  const head = path[0];
  if (head === 'name') return path.length === 1 && name !== '' ? name : undefined;
  if (head === 'target') {
    if (path.length !== 2) return undefined;
    const r = record();
    const v = path[1] === 'digest' ? r.target.digest : path[1] === 'mediatype' ? r.target.mediaType : undefined;
    return v === '' ? undefined : v;
  }
  if (head === 'labels') return labelValue(record().labels, labelKeyOf(path));
  if (head === 'annotations') return labelValue(record().target.annotations, labelKeyOf(path));
  return undefined;
};

function validateImage(name: string, labels: Record<string, string>, target: ImageTarget): void {
  if (!name) throw invalidArgument('image name must not be empty');
  validateLabels(labels, 'image.Labels');
  const problem = digestProblem(target.digest);
  if (problem) throw invalidArgument(`Target.Digest ${JSON.stringify(target.digest)} invalid: ${problem}`);
  if (!(target.size > 0)) throw invalidArgument('Target.Size must be greater than zero');
  if (!target.mediaType) throw invalidArgument('Target.MediaType must be set');
}

const storedTarget = (t: ImageTarget): DescriptorRecord => {
  const out: DescriptorRecord = { mediaType: t.mediaType, digest: t.digest, size: t.size };
  const annotations = storedLabels(t.annotations);
  if (Object.keys(annotations).length > 0) out.annotations = annotations;
  return out;
};

export class ImageStore {
  constructor(private readonly core: DBCore) {}

  async get(ctx: RequestContext, name: string): Promise<Image> {
    const ns = namespaceRequired(ctx);
    const stored = await this.core.store.get(imageKey(ns, name));
    if (stored === undefined) throw notFound(`image ${JSON.stringify(name)}`);
    return ownImage(name, decodeImageRecord(stored));
  }

  /** Images matching any filter (fields `name`, `target.digest`, `target.mediatype`, `labels.*`, `annotations.*`). */
  async list(ctx: RequestContext, filters: readonly string[] = []): Promise<Image[]> {
    const out: Image[] = [];
    await this.each(ctx, filters, (image) => out.push(image));
    return out;
  }

  /**
   * Calls `fn` with each image `list` would return, in the same order, as it is read: a
   * caller that encodes each one keeps nothing of it (`fn` owns the image it gets).
   */
  async each(ctx: RequestContext, filters: readonly string[], fn: (image: Image) => void): Promise<void> {
    const ns = namespaceRequired(ctx);
    await eachMatching(this.core.store, imagesPrefix(ns), parseAll(filters), imageField, (name, _stored, record) => fn(ownImage(name, record())), imageRecords);
  }

  /**
   * Calls `fn` with the name and the stored record of each image `list` would return, in
   * the same order, as it is read: the record is the wire form of the image's API message
   * without its name (image-record.ts), one Latin-1 character per byte. A list that writes
   * the name and then these bytes answers without decoding any record.
   */
  async eachStored(ctx: RequestContext, filters: readonly string[], fn: (name: string, stored: string) => void): Promise<void> {
    const ns = namespaceRequired(ctx);
    await eachMatching(this.core.store, imagesPrefix(ns), parseAll(filters), imageField, fn, imageRecords);
  }

  async create(ctx: RequestContext, input: ImageInput): Promise<Image> {
    const ns = namespaceRequired(ctx);
    const labels = storedLabels(input.labels);
    validateImage(input.name, labels, input.target);
    const t = now();
    const rec: ImageRecord = { target: storedTarget(input.target), labels, createdAt: t, updatedAt: t };
    await this.core.update(async (tx) => {
      if ((await tx.get(imageKey(ns, input.name))) !== undefined) throw alreadyExists(`image ${JSON.stringify(input.name)}`);
      tx.put(imageKey(ns, input.name), encodeImageRecord(rec));
      await this.core.touchNamespace(tx, ns);
    });
    await this.core.publish(ctx, '/images/create', imageEvent('ImageCreate', input.name, input.labels));
    return toImage(input.name, rec);
  }

  /**
   * Updates `labels`, `labels.<key>`, `target`, `annotations`, `annotations.<key>`; the
   * whole image (except times) when `fieldpaths` is empty.
   */
  async update(ctx: RequestContext, input: ImageInput, fieldpaths: readonly string[] = []): Promise<Image> {
    const ns = namespaceRequired(ctx);
    if (!input.name) throw invalidArgument('image name is required for update');
    const updated = await this.core.update(async (tx) => {
      const stored = await tx.get(imageKey(ns, input.name));
      if (stored === undefined) throw notFound(`image ${JSON.stringify(input.name)}`);
      const rec = decodeImageRecord(stored);
      let labels = { ...rec.labels };
      let target: ImageTarget = { ...rec.target, annotations: { ...(rec.target.annotations ?? {}) } };
      if (fieldpaths.length > 0) {
        for (const path of fieldpaths) {
          const nextLabels = applyLabelPath(labels, path, input.labels);
          if (nextLabels) {
            labels = nextLabels;
          } else if (path.startsWith('annotations.')) {
            const key = path.slice('annotations.'.length);
            target.annotations = { ...target.annotations, [key]: input.target.annotations?.[key] ?? '' };
          } else if (path === 'target') {
            target = { ...input.target };
          } else if (path === 'annotations') {
            target.annotations = { ...(input.target.annotations ?? {}) };
          } else {
            throw invalidArgument(`cannot update ${JSON.stringify(path)} field on image ${JSON.stringify(input.name)}`);
          }
        }
      } else {
        labels = { ...(input.labels ?? {}) };
        target = { ...input.target };
      }
      labels = storedLabels(labels);
      validateImage(input.name, labels, target);
      const next: ImageRecord = { target: storedTarget(target), labels, createdAt: rec.createdAt, updatedAt: now() };
      tx.put(imageKey(ns, input.name), encodeImageRecord(next));
      return toImage(input.name, next);
    });
    await this.core.publish(ctx, '/images/update', imageEvent('ImageUpdate', updated.name, updated.labels));
    return updated;
  }

  /** Deletes an image; with `sync`, waits for the collection that follows. */
  async delete(ctx: RequestContext, name: string, options: ImageDeleteOptions = {}): Promise<void> {
    const ns = namespaceRequired(ctx);
    await this.core.update(async (tx) => {
      if ((await tx.get(imageKey(ns, name))) === undefined) throw notFound(`image ${JSON.stringify(name)}`);
      tx.del(imageKey(ns, name));
      this.core.markDirty(tx, {});
    });
    await this.core.publish(ctx, '/images/delete', imageEvent('ImageDelete', name));
    if (options.sync) await this.core.scheduleAndWait();
  }
}
