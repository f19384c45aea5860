// Blobs through the namespaced content store, and what is left in the backend.
import { digestOf, writeBlob } from '@containerd-ts/content';
import type { LocalContentStore } from '@containerd-ts/content-local';
import type { MetadataDB } from '@containerd-ts/metadata-level';
import type { RequestContext } from '@containerd-ts/namespaces';

/**
 * Writes a blob through the namespaced store with content.writeBlob (under the context's
 * lease if it has one) and returns its digest; a blob the namespace has is left as it is.
 */
export async function putBlob(db: MetadataDB, ctx: RequestContext, data: string | Buffer, labels?: Record<string, string>): Promise<string> {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  const digest = digestOf(bytes);
  await writeBlob(db.contentStore(), ctx, `ref-${digest}`, [bytes], { digest, size: bytes.length }, labels ? { labels } : {});
  return digest;
}

/** Digests in the backend store (what survives a collection on disk), sorted. */
export async function backendDigests(backend: LocalContentStore): Promise<string[]> {
  const out: string[] = [];
  await backend.walk({}, (info) => {
    out.push(info.digest);
  });
  return out.sort();
}
