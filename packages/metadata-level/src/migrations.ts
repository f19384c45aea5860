// Schema versions of the metadata database and the migrations between them. The
// `version` key records {schema, version}; on open, every migration newer than the
// recorded version runs, in order, in one transaction with the version update.
import { encodeImageRecord } from './image-record.js';
import { encodeLeaseRecord } from './lease-record.js';
import { SCHEMA, VERSION_KEY, leaseIdSegment, leasesPrefix, schemaRoot, splitNamespaced } from './keys.js';
import { type DescriptorRecord, readRecordTime } from './records.js';
import type { LevelStore, Txn } from './store.js';

export interface Migration {
  /** Key-layout generation (`v1`); a new generation needs a migration that moves every key. */
  schema: string;
  /** Compatible revision within the schema; migrations are ordered by it. */
  version: number;
  /** Brings the data from the previous version to this one. */
  migrate(tx: Txn): Promise<void>;
}

/** Every migration, oldest first. The last one is the version this code writes. */
export const migrations: readonly Migration[] = [
  {
    // The initial layout (see keys.ts); nothing to convert from.
    schema: 'v1',
    version: 1,
    migrate: async () => {},
  },
  {
    // Lease IDs are escaped in `leased/` keys (they may contain '/'). Resources of leases
    // whose ID holds '/' or '%' move to the escaped prefix; longest IDs first, so a lease
    // `a` never takes the resources of a lease `a/b`.
    schema: 'v1',
    version: 2,
    migrate: async (tx) => {
      const leases: Array<{ ns: string; id: string }> = [];
      for (const [key] of await tx.entries(schemaRoot)) {
        const split = splitNamespaced(key);
        if (!split?.rest?.startsWith('leases/')) continue;
        const id = split.rest.slice('leases/'.length);
        if (id.includes('/') || id.includes('%')) leases.push({ ns: split.ns, id });
      }
      leases.sort((a, b) => b.id.length - a.id.length);
      const moved = new Set<string>();
      for (const { ns, id } of leases) {
        const oldPrefix = `${leasesPrefix(ns).slice(0, -'leases/'.length)}leased/${id}/`;
        const newPrefix = `${leasesPrefix(ns).slice(0, -'leases/'.length)}leased/${leaseIdSegment(id)}/`;
        for (const [key] of await tx.entries(oldPrefix)) {
          if (moved.has(key)) continue;
          moved.add(key);
          tx.del(key);
          tx.put(newPrefix + key.slice(oldPrefix.length), '');
        }
      }
    },
  },
  {
    // Image and lease records are stored in the wire form of their API messages
    // (image-record.ts, lease-record.ts), no longer as JSON: a list hands them on without
    // decoding them.
    schema: 'v1',
    version: 3,
    migrate: async (tx) => {
      for (const [key, value] of await tx.entries(schemaRoot)) {
        // a JSON record starts with '{'; a converted one with a field tag (0x12 or 0x1a)
        const rest = splitNamespaced(key)?.rest;
        if (rest === undefined || !value.startsWith('{')) continue;
        if (rest.startsWith('images/')) {
          const rec = JSON.parse(value) as { target: DescriptorRecord; labels?: Record<string, string>; createdAt: string; updatedAt: string };
          tx.put(
            key,
            encodeImageRecord({
              target: rec.target,
              labels: rec.labels ?? {},
              createdAt: readRecordTime(rec.createdAt),
              updatedAt: readRecordTime(rec.updatedAt),
            }),
          );
        } else if (rest.startsWith('leases/')) {
          const rec = JSON.parse(value) as { createdAt: string; labels?: Record<string, string> };
          tx.put(key, encodeLeaseRecord({ createdAt: readRecordTime(rec.createdAt), labels: rec.labels ?? {} }));
        }
      }
    },
  },
];

export interface VersionRecord {
  schema: string;
  version: number;
}

/**
 * Brings the database at `store` to the newest version in `table`. Refuses a database
 * written by a newer version of this code, so an older daemon never misreads it.
 */
export async function migrate(store: LevelStore, table: readonly Migration[] = migrations): Promise<VersionRecord> {
  const latest = table[table.length - 1];
  if (!latest) throw new Error('metadata: no schema versions defined');
  return store.write(async (tx) => {
    const recorded = await tx.getJSON<VersionRecord>(VERSION_KEY);
    let current = recorded;
    if (!current) {
      // A database without a version key is either new (nothing to migrate) or holds
      // records from before versioning (run every migration).
      current = { schema: SCHEMA, version: (await tx.hasAny(schemaRoot)) ? 0 : latest.version };
    }
    if (current.schema !== latest.schema) {
      throw new Error(`metadata database schema ${current.schema} is not supported (this daemon uses ${latest.schema})`);
    }
    if (current.version > latest.version) {
      throw new Error(
        `metadata database version ${current.schema}.${current.version} is newer than this daemon supports (${latest.schema}.${latest.version})`,
      );
    }
    for (const m of table) {
      if (m.schema !== current.schema || m.version <= current.version) continue;
      try {
        await m.migrate(tx);
      } catch (err) {
        throw new Error(`failed to migrate to ${m.schema}.${m.version}: ${(err as Error).message}`, { cause: err });
      }
    }
    const result = { schema: latest.schema, version: latest.version };
    if (recorded?.version !== result.version) tx.putJSON(VERSION_KEY, result);
    return result;
  });
}
