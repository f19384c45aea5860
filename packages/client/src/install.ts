// client.Install (ctr install): the files an image's layers put directly under bin/ (and,
// with `libs`, lib/) extracted on this host into the daemon's opt directory, whose path
// the `opt` plugin exports (or into a path given). Layers are read from the content store
// in order, decompressed (gzip) and applied as containerd's archive.Apply applies the
// entries its filter keeps: files with their mode, owner and mtime, symlinks, hard links,
// whiteouts; an existing file is an error unless `replace`.
import { chmod, chown, lchown, link, lstat, lutimes, mkdir, rm, symlink, utimes } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { ImagesService } from '@containerd-ts/api/services/images';
import { IntrospectionService } from '@containerd-ts/api/services/introspection';
import tarStream from 'tar-stream';
import type { CallContext, Connection } from './connection.js';
import { readContentStream } from './content.js';
import type { Descriptor } from './images.js';
import { type Platform, defaultPlatform } from './platforms.js';
import { resolveManifest } from './pull.js';

export interface InstallOptions {
  /** Also lib/ (ctr install --libs). */
  libs?: boolean;
  /** Replace files that exist (--replace). */
  replace?: boolean;
  /** Install here instead of the opt plugin's path (--path). */
  path?: string;
  platform?: Platform;
}

/** The opt plugin's exported path (client.getInstallPath). */
export async function optPath(conn: Connection, ctx: CallContext = {}): Promise<string> {
  const res = await conn.unary(IntrospectionService.plugins, { filters: ['id==opt'] }, ctx);
  if (res.plugins.length !== 1) throw new Error('opt service not enabled');
  const path = res.plugins[0]!.exports.path ?? '';
  if (path === '') throw new Error('opt path not exported');
  return path;
}

const exists = (p: string) =>
  lstat(p).then(
    () => true,
    () => false,
  );

/** Reads an entry's body to its end (the next entry comes after it). */
async function drain(entry: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of entry) {
    // nothing to keep
  }
}

/** The layer's tar, decompressed as its first bytes say (gzip or none). */
async function* layerTar(conn: Connection, layer: Descriptor, ctx: CallContext): AsyncGenerator<Buffer> {
  const source = readContentStream(conn, layer.digest, ctx);
  const first = await source.next();
  if (first.done) return;
  const head = first.value;
  const rest = (async function* () {
    yield head;
    yield* source;
  })();
  if (head.length >= 3 && head[0] === 0x1f && head[1] === 0x8b && head[2] === 0x08) {
    yield* Readable.from(rest).pipe(createGunzip()) as AsyncIterable<Buffer>;
    return;
  }
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) {
    throw new Error(`layer ${layer.digest}: zstd layers cannot be installed by this client (Node ${process.version} has no zstd)`);
  }
  yield* rest;
}

/** Installs the bin/ (and lib/) files of `image` (an image name). */
export async function installImage(conn: Connection, image: string, opts: InstallOptions = {}, ctx: CallContext = {}): Promise<void> {
  const got = await conn.unary(ImagesService.get, { name: image }, ctx);
  const t = got.image?.target;
  const target: Descriptor = { mediaType: t?.mediaType ?? '', digest: t?.digest ?? '', size: Number(t?.size ?? 0), annotations: t?.annotations };
  const root = opts.path || (await optPath(conn, ctx));
  const { manifest } = await resolveManifest(conn, target, opts.platform ?? defaultPlatform(), ctx);
  for (const layer of manifest.layers) {
    const extract = tarStream.extract();
    const input = Readable.from(layerTar(conn, layer, ctx));
    input.on('error', (err) => extract.destroy(err));
    input.pipe(extract as unknown as NodeJS.WritableStream);
    // Directory times are set once the layer is applied (entries below them change them).
    const dirs: Array<[string, Date]> = [];
    for await (const entry of extract) {
      const hdr = entry.header;
      const name = posix.normalize(hdr.name).replace(/^(\.\/|\/)+/, '').replace(/\/$/, '');
      const dir = posix.dirname(name);
      const wanted = dir === 'bin' || (opts.libs === true && dir === 'lib');
      if (!wanted) {
        await drain(entry);
        continue;
      }
      const dest = join(root, name);
      if (!opts.replace && (await exists(dest))) {
        input.destroy();
        throw new Error(`cannot replace ${name} in ${root}`);
      }
      // The parent (bin/ or lib/) is made below the root; the root itself must exist, as for containerd.
      await mkdir(join(root, dir), { mode: 0o755 }).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'EEXIST') return;
        input.destroy();
        throw new Error(`mkdir ${join(root, dir)}: ${err.code === 'ENOENT' ? 'no such file or directory' : err.message}`);
      });
      const base = posix.basename(name);
      if (base.startsWith('.wh.')) {
        // A whiteout removes what a lower layer installed.
        await rm(join(root, dir, base.slice('.wh.'.length)), { recursive: true, force: true });
        await drain(entry);
        continue;
      }
      if (hdr.type !== 'directory') await rm(dest, { recursive: true, force: true });
      const mtime = hdr.mtime ?? new Date(0);
      switch (hdr.type) {
        case 'file':
        case 'contiguous-file':
          await pipeline(entry, createWriteStream(dest, { mode: (hdr.mode ?? 0o644) & 0o777 }));
          break;
        case 'directory':
          await mkdir(dest, { recursive: true, mode: (hdr.mode ?? 0o755) & 0o777 });
          dirs.push([dest, mtime]);
          break;
        case 'symlink':
          await symlink(hdr.linkname ?? '', dest);
          break;
        case 'link':
          await link(join(root, posix.normalize(hdr.linkname ?? '').replace(/^(\.\.\/|\/)+/, '')), dest);
          break;
        default:
          // Devices and fifos are no binaries or libraries.
          await drain(entry);
          continue;
      }
      // As archive.Apply: owner, then mode (chown clears setuid/setgid; for a hard link the
      // shared inode takes the link entry's), then times.
      if (hdr.type === 'symlink') {
        await lchown(dest, hdr.uid ?? 0, hdr.gid ?? 0).catch(() => {});
        await lutimes(dest, mtime, mtime);
      } else {
        await chown(dest, hdr.uid ?? 0, hdr.gid ?? 0).catch(() => {});
        await chmod(dest, (hdr.mode ?? 0o644) & 0o7777);
        if (hdr.type !== 'directory') await utimes(dest, mtime, mtime);
      }
      await drain(entry);
    }
    for (const [dir, mtime] of dirs) await utimes(dir, mtime, mtime);
  }
}
