// User namespaces as ctr sets them up (`--uidmap`/`--gidmap`): the ID mappings parsed as
// ctr's parseIDMapping, and the remapped snapshot of containerd's WithRemappedSnapshot — the
// image's chain remapped once into a committed snapshot `<chainID>-<uid>-<gid>` (every file
// lchown'ed by the host offsets through a temporary mount) that containers with the same
// mapping share as their parent.
import { lchown, lstat, mkdtemp, readdir, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SnapshotsService } from '@containerd-ts/api/services/snapshots';
import { isNotFound } from '@containerd-ts/errdefs';
import { mountAll, unmountAll } from '@containerd-ts/snapshots';
import type { CallContext, Connection } from './connection.js';

/** A mount as the Snapshots service returns it. */
export interface SnapshotMount {
  type: string;
  source: string;
  target: string;
  options: string[];
}

/** One range of a user namespace mapping (specs.LinuxIDMapping). */
export interface IDMapping {
  containerID: number;
  hostID: number;
  size: number;
}

/** The snapshot labels a remapping snapshotter (fuse-overlayfs) reads (WithRemapperLabels). */
export const UID_MAPPING_LABEL = 'containerd.io/snapshot/uidmapping';
export const GID_MAPPING_LABEL = 'containerd.io/snapshot/gidmapping';

const MAX_UINT32 = 0xffffffff;

/** Go's strconv.Quote for the ASCII a flag value holds. */
const goQuote = (s: string): string => JSON.stringify(s);

/** Go's underscoreOK: underscores only between digits (after a base prefix). */
function underscoreOK(s0: string): boolean {
  let s = s0;
  let saw = '^';
  let i = 0;
  if (s.length >= 1 && (s[0] === '-' || s[0] === '+')) s = s.slice(1);
  let hex = false;
  const lower1 = s[1]?.toLowerCase();
  if (s.length >= 2 && s[0] === '0' && (lower1 === 'b' || lower1 === 'o' || lower1 === 'x')) {
    i = 2;
    saw = '0';
    hex = lower1 === 'x';
  }
  for (; i < s.length; i++) {
    const c = s[i]!;
    const l = c.toLowerCase();
    if ((c >= '0' && c <= '9') || (hex && l >= 'a' && l <= 'f')) {
      saw = '0';
      continue;
    }
    if (c === '_') {
      if (saw !== '0') return false;
      saw = '_';
      continue;
    }
    if (saw === '_') return false;
    saw = '!';
  }
  return saw !== '_';
}

/** strconv.ParseUint(s, 0, 32): base prefixes 0x, 0o, 0b, 0 and underscores as Go reads them. */
export function parseUint32(s0: string): number {
  const fail = (what: string) => new Error(`strconv.ParseUint: parsing ${goQuote(s0)}: ${what}`);
  if (s0 === '') throw fail('invalid syntax');
  let s = s0;
  let base = 10;
  if (s[0] === '0') {
    const p = s[1]?.toLowerCase();
    if (s.length >= 3 && p === 'b') [base, s] = [2, s.slice(2)];
    else if (s.length >= 3 && p === 'o') [base, s] = [8, s.slice(2)];
    else if (s.length >= 3 && p === 'x') [base, s] = [16, s.slice(2)];
    else [base, s] = [8, s.slice(1)];
  }
  let n = 0;
  let underscores = false;
  for (const c of s) {
    if (c === '_') {
      underscores = true;
      continue;
    }
    const l = c.toLowerCase();
    let d: number;
    if (c >= '0' && c <= '9') d = c.charCodeAt(0) - 48;
    else if (l >= 'a' && l <= 'z') d = l.charCodeAt(0) - 97 + 10;
    else throw fail('invalid syntax');
    if (d >= base) throw fail('invalid syntax');
    n = n * base + d;
    if (n > MAX_UINT32) throw fail('value out of range');
  }
  if (underscores && !underscoreOK(s0)) throw fail('invalid syntax');
  return n;
}

/** ctr's parseIDMapping: `container-id:host-id:size`, each a uint32. */
export function parseIDMapping(mapping: string): IDMapping {
  const parts = mapping.split(':');
  if (parts.length !== 3) throw new Error('user namespace mappings require the format `container-id:host-id:size`');
  const field = (s: string, what: string) => {
    try {
      return parseUint32(s);
    } catch (err) {
      throw new Error(`invalid ${what} for user namespace remapping: ${(err as Error).message}`);
    }
  };
  return { containerID: field(parts[0]!, 'container id'), hostID: field(parts[1]!, 'host id'), size: field(parts[2]!, 'size') };
}

/** WithRemapperLabels: the mapping as labels for a snapshotter that shifts ownership itself. */
export function remapperLabels(ctrUID: number, hostUID: number, ctrGID: number, hostGID: number, length: number): Record<string, string> {
  return { [UID_MAPPING_LABEL]: `${ctrUID}:${hostUID}:${length}`, [GID_MAPPING_LABEL]: `${ctrGID}:${hostGID}:${length}` };
}

/** The key of the committed remapped snapshot of a chain: `<chainID>-<uid>-<gid>`. */
export const remappedSnapshotKey = (parent: string, uid: number, gid: number): string => `${parent}-${uid}-${gid}`;

/**
 * incrementFS over a tree: every entry (the root included, symlinks themselves, never their
 * targets) lchown'ed to its owner plus `uid` and its group plus `gid`.
 */
export async function incrementOwnership(root: string, uid: number, gid: number): Promise<void> {
  const visit = async (path: string): Promise<void> => {
    const st = await lstat(path);
    await lchown(path, st.uid + uid, st.gid + gid);
    if (!st.isDirectory()) return;
    const names = (await readdir(path)).sort();
    for (const name of names) await visit(join(path, name));
  };
  await visit(root);
}

/**
 * mount.WithTempMount: the mounts on a fresh directory of the temp dir for `fn`, then
 * unmounted and the directory removed (on every path).
 */
export async function withTempMount<T>(mounts: readonly SnapshotMount[], fn: (root: string) => Promise<T>): Promise<T> {
  const root = await mkdtemp(join(tmpdir(), 'containerd-mount'));
  try {
    await mountAll(
      mounts.map((m) => ({ type: m.type, source: m.source, target: m.target, options: [...m.options] })),
      root,
    );
    return await fn(root);
  } finally {
    await unmountAll(root);
    await rmdir(root);
  }
}

export interface RemappedSnapshotOptions {
  snapshotter: string;
  /** The container's snapshot key. */
  key: string;
  /** The image's chain ID. */
  parent: string;
  /** Host offsets added to every file's owner and group. */
  uid: number;
  gid: number;
  /** A view instead of a writable snapshot (WithRemappedSnapshotView). */
  readOnly?: boolean;
}

/**
 * withRemappedSnapshotBase: when `<parent>-<uid>-<gid>` exists, the container's snapshot is
 * prepared on it; else `<that>-remap` is prepared on the chain, its files lchown'ed by the
 * offsets through a temporary mount, committed as `<parent>-<uid>-<gid>`, and the
 * container's snapshot prepared (or viewed) on it. Call under a lease, as client.NewContainer
 * does: an interrupted remap is then collected. Returns the container snapshot's mounts.
 */
export async function prepareRemappedSnapshot(conn: Connection, o: RemappedSnapshotOptions, ctx: CallContext = {}): Promise<SnapshotMount[]> {
  const { snapshotter, key } = o;
  const usernsID = remappedSnapshotKey(o.parent, o.uid, o.gid);
  const exists = await conn.unary(SnapshotsService.stat, { snapshotter, key: usernsID }, ctx).then(
    () => true,
    () => false,
  );
  if (exists) {
    try {
      return (await conn.unary(SnapshotsService.prepare, { snapshotter, key, parent: usernsID, labels: {} }, ctx)).mounts;
    } catch (err) {
      if (!isNotFound(err)) throw err;
      // Removed meanwhile: remapped again below, as containerd's client does.
    }
  }
  const remapKey = `${usernsID}-remap`;
  const { mounts } = await conn.unary(SnapshotsService.prepare, { snapshotter, key: remapKey, parent: o.parent, labels: {} }, ctx);
  try {
    await withTempMount(mounts, (root) => incrementOwnership(root, o.uid, o.gid));
  } catch (err) {
    await conn.unary(SnapshotsService.remove, { snapshotter, key: remapKey }, ctx).catch(() => {});
    throw err;
  }
  await conn.unary(SnapshotsService.commit, { snapshotter, name: usernsID, key: remapKey, labels: {} }, ctx);
  const method = o.readOnly ? SnapshotsService.view : SnapshotsService.prepare;
  return (await conn.unary(method, { snapshotter, key, parent: usernsID, labels: {} }, ctx)).mounts;
}
