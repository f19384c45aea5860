// The on-disk form of an ingest, as containerd lays it out:
//   <root>/ingest/<sha256 hex of ref>/{ref,data,startedat,updatedat,total}
// `data` is created last, so an ingest whose data file exists has its other files.
import { createHash } from 'node:crypto';
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Status } from '@containerd-ts/content';
import { notFound } from '@containerd-ts/errdefs';
import { type Timestamp, formatRFC3339Nano, fromUnixNanos, parseRFC3339, toUnixNanos } from '@containerd-ts/timestamp';

export interface IngestPaths {
  dir: string;
  ref: string;
  data: string;
  startedAt: string;
  updatedAt: string;
  total: string;
}

/** Ingest directories are named by the sha256 of their ref (constant length, any ref text). */
export const ingestDirName = (ref: string): string => createHash('sha256').update(ref).digest('hex');

export function ingestPaths(ingestRoot: string, dirName: string): IngestPaths {
  const dir = join(ingestRoot, dirName);
  return {
    dir,
    ref: join(dir, 'ref'),
    data: join(dir, 'data'),
    startedAt: join(dir, 'startedat'),
    updatedAt: join(dir, 'updatedat'),
    total: join(dir, 'total'),
  };
}

export const isErrno = (err: unknown, code: string): boolean =>
  err instanceof Error && (err as NodeJS.ErrnoException).code === code;

export async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
}

// Timestamps are RFC 3339 text with nanoseconds (Go's time.MarshalText); files written
// with milliseconds (toISOString) read the same.
export const formatTimestamp = (t: Timestamp): string => formatRFC3339Nano(t);

export async function readTimestamp(path: string): Promise<Timestamp> {
  const text = (await readFile(path, 'utf8')).trim();
  const t = parseRFC3339(text);
  if (!t) throw new Error(`could not parse timestamp file ${path}`);
  return t;
}

/** Replaces a timestamp file atomically (temp file + rename), so a crash never leaves half of one. */
export async function replaceTimestamp(path: string, t: Timestamp): Promise<void> {
  const tmp = `${path}.tmp`;
  try {
    await writeFile(tmp, formatTimestamp(t), { mode: 0o666 });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}

/** The expected total size recorded for an ingest; 0 when unknown or unreadable. */
export async function readTotal(path: string): Promise<number> {
  try {
    const n = Number.parseInt(await readFile(path, 'utf8'), 10);
    return Number.isSafeInteger(n) && n > 0 ? n : 0;
  } catch {
    return 0;
  }
}

/** Reads an ingest's status from disk: offset is the data size, times from the timestamp files. */
export async function readIngestStatus(paths: IngestPaths): Promise<Status> {
  let dataStat: import('node:fs').BigIntStats;
  try {
    dataStat = await stat(paths.data, { bigint: true });
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw notFound(`stat ${paths.data}: no such file or directory`);
    throw err;
  }
  let ref: string;
  try {
    ref = await readFile(paths.ref, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw notFound(`open ${paths.ref}: no such file or directory`);
    throw err;
  }
  const startedAt = await readTimestamp(paths.startedAt);
  let updatedAt = await readTimestamp(paths.updatedAt);
  // updatedat is written when a writer closes; the data's mtime is newer while one writes.
  if (dataStat.mtimeNs > toUnixNanos(updatedAt)) updatedAt = fromUnixNanos(dataStat.mtimeNs);
  return {
    ref,
    offset: Number(dataStat.size),
    total: await readTotal(paths.total),
    expected: '',
    startedAt,
    updatedAt,
  };
}
