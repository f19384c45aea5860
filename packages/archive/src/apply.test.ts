import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { isNotImplemented } from '@containerd-ts/errdefs';
import { lgetxattr, lsetxattr, major, minor, MNT_DETACH, mount, umount2 } from '@containerd-ts/sys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyLayer } from './apply.js';
import { activeApplyWorkers, idleApplyWorkers, terminateApplyWorkers, waitingApplies } from './apply-in-worker.js';
import { activeDecompressionWorkers, idleDecompressionWorkers } from './decompress-worker.js';
import { InvalidArchiveError } from './errors.js';
import { TarFormatError } from './tar-reader.js';
import { MediaType } from './media-types.js';
import { buildLayer, gzipLayer, type LayerEntry, sha256, snapshotTree, type TreeEntry, zstdLayer } from './testing.js';

let base: string;
beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'archive-apply-'));
});
afterAll(() => {
  rmSync(base, { recursive: true, force: true });
});

let counter = 0;
function freshDir(name = 'root'): string {
  const dir = join(base, `${name}-${++counter}`);
  mkdirSync(dir);
  return dir;
}

const apply = (root: string, blob: Buffer, options: Parameters<typeof applyLayer>[2] = {}) =>
  applyLayer(root, Readable.from([blob]), options);

// A capability set (cap_setuid+ep): binary, with bytes ≥ 0x80 that UTF-8 decoding would break.
const capSetuid = Buffer.from('0100000280000000000000000000000000000000', 'hex');
const random = (n: number, seed: number) => {
  const out = Buffer.allocUnsafe(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
};

/** The bottom layer of the image: every entry type and attribute. */
const baseLayer: LayerEntry[] = [
  { name: 'bin/', mode: 0o755 },
  { name: 'bin/sh', data: '#!/bin/true\n', mode: 0o755 },
  { name: 'bin/su', data: 'setuid binary', mode: 0o4755 },
  { name: 'bin/wall', data: 'setgid binary', mode: 0o2755, gid: 5 },
  { name: 'bin/ping', data: 'ping', mode: 0o755, xattrs: { 'security.capability': capSetuid } },
  { name: 'etc/', mode: 0o755 },
  { name: 'etc/passwd', data: 'root:x:0:0::/root:/bin/sh\n' },
  { name: 'etc/shadow', data: 'secret', mode: 0o640, gid: 42 },
  { name: 'etc/alt', type: 'symlink', linkname: '/etc/passwd' },
  { name: 'etc/rel', type: 'symlink', linkname: '../bin/sh' },
  { name: 'etc/hard', type: 'link', linkname: 'etc/passwd' },
  { name: 'tmp/', mode: 0o1777 },
  { name: 'home/', mode: 0o755 },
  { name: 'home/user/', mode: 0o700, uid: 1000, gid: 1000 },
  { name: 'home/user/notes', data: 'mine', uid: 1000, gid: 1000, mode: 0o600 },
  { name: 'home/user/tagged', data: 'x', xattrs: { 'user.comment': 'hello', 'user.bin': Buffer.from([0, 0xff, 1]) } },
  { name: 'dev/', mode: 0o755 },
  { name: 'dev/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 },
  { name: 'dev/loop9', type: 'block', devmajor: 7, devminor: 9, mode: 0o660, gid: 6 },
  { name: 'run/', mode: 0o755 },
  { name: 'run/initctl', type: 'fifo', mode: 0o600 },
  { name: 'var/', mode: 0o755 },
  { name: 'var/lib/', mode: 0o755, mtime: 1_600_000_000n * 1_000_000_000n + 123_456_789n },
  { name: 'var/lib/precise', data: 'ns', mtime: 1_650_000_000n * 1_000_000_000n + 987_654_321n },
  { name: 'var/lib/dir-to-file/', mode: 0o755 },
  { name: 'var/lib/dir-to-file/inner', data: 'old' },
  { name: 'var/lib/file-to-dir', data: 'was a file' },
  { name: 'var/lib/gone', data: 'deleted by the top layer' },
  { name: 'var/lib/gone-dir/', mode: 0o755 },
  { name: 'var/lib/gone-dir/a', data: 'a' },
  { name: 'var/lib/opaque/', mode: 0o755 },
  { name: 'var/lib/opaque/old', data: 'hidden by the opaque marker' },
  { name: 'opt/', mode: 0o755 },
  { name: 'opt/text', data: 'compressible '.repeat(200_000) },
  { name: 'opt/random', data: random(3 << 20, 7) },
];

/** The top layer: deletes, replaces, opaque directory, hard links and links through dirs. */
const topLayer: LayerEntry[] = [
  { name: 'var/', mode: 0o755 },
  { name: 'var/lib/', mode: 0o755, mtime: 1_610_000_000 },
  { name: 'var/lib/.wh.gone' },
  { name: 'var/lib/.wh.gone-dir' },
  { name: 'var/lib/.wh.dir-to-file' },
  { name: 'var/lib/dir-to-file', data: 'now a file' },
  { name: 'var/lib/file-to-dir/', mode: 0o750 },
  { name: 'var/lib/file-to-dir/inside', data: 'in the new dir' },
  { name: 'var/lib/opaque/', mode: 0o755 },
  { name: 'var/lib/opaque/new', data: 'written before the marker' },
  { name: 'var/lib/opaque/.wh..wh..opq' },
  { name: 'var/lib/linked', data: 'linked', mode: 0o644 },
  { name: 'var/lib/linked2', type: 'link', linkname: 'var/lib/linked' },
  { name: 'etc/', mode: 0o755 },
  { name: 'etc/passwd', data: 'root:x:0:0::/root:/bin/bash\n' },
  { name: 'etc/sub/deeper/file', data: 'parents created implicitly' },
];

function entry(tree: ReturnType<typeof snapshotTree>, path: string) {
  const e = tree.find((x) => x.path === path);
  if (!e) throw new Error(`${path} missing from tree`);
  return e;
}

describe('applyLayer', () => {
  it('writes every entry type with owners, modes, devices, xattrs and times', async () => {
    const root = freshDir();
    const tar = buildLayer(baseLayer);
    const res = await apply(root, tar);
    expect(res).toMatchObject({ digest: sha256(tar), size: tar.length, compression: 'none', entries: baseLayer.length });
    const tree = snapshotTree(root);

    expect(entry(tree, '/bin/su')).toMatchObject({ type: 'file', mode: 0o4755, uid: 0 });
    expect(entry(tree, '/bin/wall')).toMatchObject({ mode: 0o2755, gid: 5 });
    expect(entry(tree, '/tmp')).toMatchObject({ type: 'dir', mode: 0o1777 });
    expect(entry(tree, '/home/user')).toMatchObject({ mode: 0o700, uid: 1000, gid: 1000 });
    expect(entry(tree, '/home/user/notes')).toMatchObject({ uid: 1000, gid: 1000, mode: 0o600 });
    expect(entry(tree, '/etc/alt')).toMatchObject({ type: 'symlink', linkname: '/etc/passwd' });
    expect(entry(tree, '/etc/rel')).toMatchObject({ type: 'symlink', linkname: '../bin/sh' });
    expect(entry(tree, '/etc/hard').hardlinks).toEqual(['/etc/passwd']);
    expect(entry(tree, '/dev/null')).toMatchObject({ type: 'char', rdev: '1:3', mode: 0o666 });
    expect(entry(tree, '/dev/loop9')).toMatchObject({ type: 'block', rdev: '7:9', mode: 0o660, gid: 6 });
    expect(entry(tree, '/run/initctl')).toMatchObject({ type: 'fifo', mode: 0o600 });
    expect(lgetxattr(join(root, 'bin/ping'), 'security.capability')).toEqual(capSetuid);
    expect(lgetxattr(join(root, 'home/user/tagged'), 'user.comment')?.toString()).toBe('hello');
    expect(lgetxattr(join(root, 'home/user/tagged'), 'user.bin')).toEqual(Buffer.from([0, 0xff, 1]));
    expect(entry(tree, '/var/lib/precise').mtimeNs).toBe('1650000000987654321');
    // Directory times are set after the files inside them are written.
    expect(entry(tree, '/var/lib').mtimeNs).toBe('1600000000123456789');
    expect(entry(tree, '/etc').mtimeNs).toBe('1700000000000000000');
    expect(entry(tree, '/etc/alt').mtimeNs).toBe('1700000000000000000');
    expect(entry(tree, '/opt/random').content).toBe(
      createHash('sha256').update(random(3 << 20, 7)).digest('hex'),
    );
  });

  it('applies whiteouts, opaque directories, replacements and hard links of a top layer', async () => {
    const root = freshDir();
    await apply(root, buildLayer(baseLayer));
    await apply(root, buildLayer(topLayer));
    const tree = snapshotTree(root);
    const paths = tree.map((e) => e.path);
    expect(paths).not.toContain('/var/lib/gone');
    expect(paths).not.toContain('/var/lib/gone-dir');
    expect(paths).not.toContain('/var/lib/gone-dir/a');
    expect(paths).not.toContain('/var/lib/opaque/old');
    expect(paths).not.toContain('/var/lib/dir-to-file/inner');
    expect(entry(tree, '/var/lib/opaque/new').type).toBe('file');
    expect(entry(tree, '/var/lib/dir-to-file')).toMatchObject({ type: 'file', size: 10 });
    expect(entry(tree, '/var/lib/file-to-dir')).toMatchObject({ type: 'dir', mode: 0o750 });
    expect(entry(tree, '/var/lib/linked2').hardlinks).toEqual(['/var/lib/linked']);
    expect(entry(tree, '/etc/sub')).toMatchObject({ type: 'dir', mode: 0o755 });
    expect(readFileSync(join(root, 'etc/passwd'), 'utf8')).toContain('/bin/bash');
    // The old hard link keeps the old content (the top layer replaced etc/passwd's name only).
    expect(readFileSync(join(root, 'etc/hard'), 'utf8')).toContain('/bin/sh');
    expect(entry(tree, '/var/lib').mtimeNs).toBe('1610000000000000000');
  });

  it('applies gzip, zstd and plain layers by media type and by magic', async () => {
    const tar = buildLayer(baseLayer.slice(0, 8));
    const cases: Array<[Buffer, string | undefined, string]> = [
      [gzipLayer(tar), MediaType.ociLayerGzip, 'gzip'],
      [zstdLayer(tar), MediaType.ociLayerZstd, 'zstd'],
      [tar, MediaType.ociLayer, 'none'],
      [gzipLayer(tar), MediaType.dockerLayerGzip, 'gzip'],
      [zstdLayer(tar), MediaType.dockerLayer, 'zstd'], // Docker's plain type is sniffed
      [zstdLayer(tar), MediaType.ociLayerGzip, 'zstd'], // the magic wins over the suffix
      [gzipLayer(tar), MediaType.ociLayerNonDistributableGzip, 'gzip'],
      [tar, undefined, 'none'],
      [gzipLayer(tar), undefined, 'gzip'],
    ];
    for (const [blob, mediaType, compression] of cases) {
      const root = freshDir();
      const res = await apply(root, blob, mediaType === undefined ? {} : { mediaType });
      expect(res).toMatchObject({ digest: sha256(tar), size: tar.length, compression });
      expect(readFileSync(join(root, 'etc/passwd'), 'utf8')).toContain('root');
    }
  });

  it('streams a layer in small pieces', async () => {
    const tar = buildLayer(baseLayer);
    const gz = gzipLayer(tar);
    const pieces: Buffer[] = [];
    for (let i = 0; i < gz.length; i += 1000) pieces.push(gz.subarray(i, i + 1000));
    const root = freshDir();
    const res = await applyLayer(root, Readable.from(pieces));
    expect(res.digest).toBe(sha256(tar));
    const whole = freshDir();
    await apply(whole, tar);
    expect(snapshotTree(root)).toEqual(snapshotTree(whole));
  });

  it('hashes trailing bytes after the end of the archive', async () => {
    const tar = Buffer.concat([buildLayer([{ name: 'a', data: 'a' }]), Buffer.alloc(8192)]);
    const res = await apply(freshDir(), gzipLayer(tar));
    expect(res).toMatchObject({ digest: sha256(tar), size: tar.length });
  });

  it('reads a plain OCI layer as is, and refuses unknown media types', async () => {
    const tar = buildLayer([{ name: 'a', data: 'a' }]);
    await expect(apply(freshDir(), gzipLayer(tar), { mediaType: MediaType.ociLayer })).rejects.toThrow();
    const err = await apply(freshDir(), tar, { mediaType: 'application/octet-stream' }).catch((e) => e);
    expect(isNotImplemented(err)).toBe(true);
    expect(String(err.message)).toBe('unrecognised mediatype application/octet-stream: not implemented');
  });

  it('fails on a truncated or corrupt stream', async () => {
    const tar = buildLayer(baseLayer);
    await expect(apply(freshDir(), tar.subarray(0, 5000))).rejects.toThrow();
    const gz = gzipLayer(tar);
    await expect(apply(freshDir(), gz.subarray(0, gz.length - 100))).rejects.toThrow();
    const bad = Buffer.from(tar);
    bad.fill(0x41, 512 * 3, 512 * 4); // garbage where a header is expected
    await expect(apply(freshDir(), bad)).rejects.toThrow();
  });

  it('refuses whiteouts that name something outside their directory', async () => {
    for (const name of ['a/.wh..', 'a/.wh.']) {
      await expect(apply(freshDir(), buildLayer([{ name }]))).rejects.toThrow(/invalid whiteout name.*invalid archive/);
    }
  });

  it('rejects an entry refused before its data is read without throwing the error again (found by fuzzing)', async () => {
    const uncaught: Error[] = [];
    const onUncaught = (err: Error) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      const cases: Array<[LayerEntry[], RegExp]> = [
        [[{ name: 'b', data: 'xyz', pax: { gid: 'x' } }], /invalid PAX gid "x"/],
        [[{ name: 'b2', data: 'xyz', pax: { gid: '99999999999999999999' } }], /invalid PAX gid "99999999999999999999"/],
        [[{ name: 'b3', data: 'xyz', pax: { uid: '-2' } }], /invalid PAX uid "-2"/],
        [[{ name: 'c', data: 'xyz', pax: { mtime: '/etc' } }], /invalid PAX time "\/etc"/],
        [[{ name: 'a/.wh..', data: 'xyz' }], /invalid whiteout name.*invalid archive/],
      ];
      for (const [entries, message] of cases) {
        for (const worker of [false, true]) {
          await expect(applyLayer(freshDir(), Readable.from([buildLayer(entries)]), { worker })).rejects.toThrow(message);
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(uncaught.map(String)).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });

  it('gives the same tree and digest with and without the decompression worker, also concurrently', async () => {
    const tar = buildLayer(baseLayer);
    const gz = gzipLayer(tar);
    const zst = zstdLayer(tar);
    const roots = [freshDir(), freshDir(), freshDir(), freshDir()];
    const results = await Promise.all([
      apply(roots[0]!, gz),
      apply(roots[1]!, zst),
      apply(roots[2]!, gz, { worker: false }),
      apply(roots[3]!, zst, { worker: false }),
    ]);
    for (const r of results) expect(r).toMatchObject({ digest: sha256(tar), size: tar.length });
    const first = snapshotTree(roots[0]!);
    for (const root of roots.slice(1)) expect(snapshotTree(root)).toEqual(first);
  });

  it('hands owned chunks that fill their memory to the apply worker by transfer, and copies the others', async () => {
    const tar = buildLayer([
      { name: 'etc/', mode: 0o755 },
      { name: 'etc/passwd', data: 'root:x:0:0::/root:/bin/sh\n' },
      { name: 'data', data: Buffer.from(Array.from({ length: 64 * 1024 }, (_, i) => (i * 7919) % 251)) },
    ]);
    const gz = gzipLayer(tar);
    const piece = Math.ceil(gz.length / 4);
    // Two whole buffers of their own, then two slices of one shared buffer.
    const own = (b: Buffer) => {
      const o = Buffer.allocUnsafeSlow(b.length);
      o.set(b);
      return o;
    };
    const whole = [own(gz.subarray(0, piece)), own(gz.subarray(piece, 2 * piece))];
    const shared = Buffer.from(gz.subarray(2 * piece));
    const slices = [shared.subarray(0, piece), shared.subarray(piece)];
    const chunks = [...whole, ...slices];
    const roots = [freshDir(), freshDir()];
    const owned = await applyLayer(roots[0]!, Readable.from(chunks), { mediaType: MediaType.dockerLayerGzip, ownedChunks: true });
    expect(owned).toMatchObject({ digest: sha256(tar), size: tar.length });
    // Transferred: detached here. Slices of a shared buffer were copied and are intact.
    for (const c of whole) expect(c.byteLength).toBe(0);
    expect(Buffer.concat(slices)).toEqual(gz.subarray(2 * piece));
    // Without the option nothing is transferred.
    const kept = [own(gz.subarray(0, piece)), own(gz.subarray(piece))];
    await applyLayer(roots[1]!, Readable.from(kept), { mediaType: MediaType.dockerLayerGzip });
    expect(Buffer.concat(kept)).toEqual(gz);
    expect(snapshotTree(roots[1]!)).toEqual(snapshotTree(roots[0]!));
  });

  it('decompresses in at most as many workers as cores (more applies run in-thread, same result), and idle workers end', async () => {
    const tar = buildLayer(baseLayer);
    const gz = gzipLayer(tar);
    const many = Math.max(2, availableParallelism()) + 3;
    let peak = 0;
    const watch = setInterval(() => (peak = Math.max(peak, activeDecompressionWorkers())), 1);
    try {
      const results = await Promise.all(Array.from({ length: many }, () => apply(freshDir(), gz, { worker: 'decompress' })));
      for (const r of results) expect(r).toMatchObject({ digest: sha256(tar), size: tar.length });
    } finally {
      clearInterval(watch);
    }
    expect(peak).toBeLessThanOrEqual(Math.max(2, availableParallelism()));
    expect(activeDecompressionWorkers()).toBe(0);
    // Kept for the next apply for a moment, then ended: none stays with the daemon idle.
    expect(idleDecompressionWorkers()).toBeGreaterThan(0);
    const deadline = Date.now() + 10_000;
    while (idleDecompressionWorkers() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(idleDecompressionWorkers()).toBe(0);
  });

  it('stops in the middle of a layer when aborted, and the next apply works', async () => {
    const tar = buildLayer(baseLayer);
    const gz = gzipLayer(tar);
    for (const worker of [true, false]) {
      const controller = new AbortController();
      async function* slow() {
        for (let i = 0; i < gz.length; i += 4096) {
          if (i === 4096 * 8) controller.abort(new Error('aborted midway'));
          yield gz.subarray(i, i + 4096);
          await new Promise((r) => setImmediate(r));
        }
      }
      const outcome = await applyLayer(freshDir(), slow(), { signal: controller.signal, worker }).then(
        (r) => `resolved ${JSON.stringify(r)}`,
        (e: Error) => e.message,
      );
      expect(outcome, `worker: ${worker}`).toBe('aborted midway');
    }
    const res = await apply(freshDir(), gz);
    expect(res.digest).toBe(sha256(tar));
  });

  it('applies in at most as many workers as cores (more applies wait for one), to the trees of the calling thread, and idle workers end', async () => {
    const tar = buildLayer(baseLayer);
    const gz = gzipLayer(tar);
    const max = Math.max(2, availableParallelism());
    const many = max + 4;
    let peak = 0;
    let queued = 0;
    const watch = setInterval(() => {
      peak = Math.max(peak, activeApplyWorkers());
      queued = Math.max(queued, waitingApplies());
    }, 1);
    const roots = Array.from({ length: many }, () => freshDir());
    try {
      const results = await Promise.all(roots.map((root, i) => apply(root, i % 2 ? zstdLayer(tar) : gz)));
      for (const r of results) expect(r).toMatchObject({ digest: sha256(tar), size: tar.length });
    } finally {
      clearInterval(watch);
    }
    expect(peak).toBe(max);
    expect(queued).toBeGreaterThan(0);
    expect(activeApplyWorkers()).toBe(0);
    expect(waitingApplies()).toBe(0);
    const here = freshDir();
    await apply(here, gz, { worker: false });
    for (const root of roots) expect(snapshotTree(root)).toEqual(snapshotTree(here));
    // Kept for the next apply for a moment, then ended: none stays with the daemon idle.
    expect(idleApplyWorkers()).toBeGreaterThan(0);
    const deadline = Date.now() + 10_000;
    while (idleApplyWorkers() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(idleApplyWorkers()).toBe(0);
  });

  it('gives errors from the apply worker with the class, message, code and cause of an apply on the calling thread', async () => {
    // The baseline decompresses in a worker too (as applyLayer did before the apply
    // worker), so a decompression error is a plain Error with zlib's message in both.
    const cases: Array<[string, Buffer, (new (...args: never[]) => Error) | null]> = [
      ['invalid whiteout', buildLayer([{ name: 'a/.wh..' }]), InvalidArchiveError],
      ['bad PAX', buildLayer([{ name: 'b', data: 'xyz', pax: { uid: '-2' } }]), TarFormatError],
      ['corrupt gzip', (() => {
        const gz = Buffer.from(gzipLayer(buildLayer(baseLayer)));
        gz.fill(0x41, 40, 80);
        return gz;
      })(), null],
      ['hard link to nothing', buildLayer([{ name: 'l', type: 'link', linkname: 'missing' }]), null],
      ['entry below a file', buildLayer([{ name: 'f', data: 'x' }, { name: 'f/g', data: 'y' }]), null],
    ];
    for (const [what, blob, cls] of cases) {
      const root = freshDir();
      const describe = (e: NodeJS.ErrnoException) => ({
        cls: e.constructor.name,
        name: e.name,
        message: e.message,
        code: e.code,
        errno: e.errno,
        syscall: e.syscall,
        path: e.path,
        cause: e.cause === undefined ? undefined : String(e.cause),
      });
      const here = await apply(root, blob, { worker: 'decompress' }).then(() => null, describe);
      rmSync(root, { recursive: true });
      mkdirSync(root);
      const worker = await apply(root, blob).then(() => null, (e: NodeJS.ErrnoException) => {
        if (cls) expect(e, what).toBeInstanceOf(cls);
        return describe(e);
      });
      expect(here, what).not.toBeNull();
      expect(worker, what).toEqual(here);
    }
  });

  it('stops the apply worker in the middle of a layer when aborted: nothing is written after the rejection', async () => {
    const tar = buildLayer(Array.from({ length: 3000 }, (_, i) => ({ name: `f${i}`, data: `file ${i}` })));
    const gz = gzipLayer(tar);
    const controller = new AbortController();
    async function* slow() {
      for (let i = 0; i < gz.length; i += 1024) {
        if (i === 1024 * 4) controller.abort(new Error('aborted midway'));
        yield gz.subarray(i, i + 1024);
        await new Promise((r) => setImmediate(r));
      }
    }
    const root = freshDir();
    const outcome = await applyLayer(root, slow(), { signal: controller.signal }).then(
      () => 'resolved',
      (e: Error) => e.message,
    );
    expect(outcome).toBe('aborted midway');
    expect(activeApplyWorkers()).toBe(0);
    const after = snapshotTree(root);
    expect(after.length).toBeLessThan(3000);
    await new Promise((r) => setTimeout(r, 200));
    expect(snapshotTree(root)).toEqual(after);
  });

  it('fails an apply whose worker dies with a clear error, and the next apply works', async () => {
    const tar = buildLayer(baseLayer);
    const gz = gzipLayer(tar);
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    async function* slow() {
      for (let i = 0; i < gz.length; i += 1024) {
        if (i === 1024 * 2) started();
        yield gz.subarray(i, i + 1024);
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    const applying = applyLayer(freshDir(), slow()).then(
      () => 'resolved',
      (e: Error) => e.message,
    );
    await running;
    await terminateApplyWorkers();
    expect(await applying).toBe('layer apply worker exited unexpectedly (code 1)');
    expect(activeApplyWorkers()).toBe(0);
    expect((await apply(freshDir(), gz)).digest).toBe(sha256(tar));
  });

  it('stops when aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stop now'));
    await expect(apply(freshDir(), buildLayer(baseLayer), { signal: controller.signal })).rejects.toThrow('stop now');
  });
});

describe('applyLayer with tars from GNU tar', () => {
  it('reads gnu, posix (PAX, xattrs, nanosecond times) and v7 archives like the tree they came from', async () => {
    const src = freshDir('src');
    const long = `${'deep-directory-name/'.repeat(8)}${'f'.repeat(120)}`;
    mkdirSync(join(src, dirname(long)), { recursive: true });
    writeFileSync(join(src, long), 'long name');
    writeFileSync(join(src, 'plain'), 'plain');
    writeFileSync(join(src, 'tagged'), 'x');
    lsetxattr(join(src, 'tagged'), 'user.note', 'from gnu tar');
    symlinkSync('plain', join(src, 'link'));
    linkSync(join(src, 'plain'), join(src, 'hard'));
    chmodSync(join(src, 'plain'), 0o4750);
    utimesSync(join(src, 'plain'), 1_600_000_000.5, 1_600_000_000.25);
    const snap = (root: string, format: string) =>
      snapshotTree(root, { ignoreDirMtimes: true }).map((e) => ({
        ...e,
        // v7 and gnu headers hold whole seconds; v7 has no room for long names either.
        mtimeNs: format === 'posix' ? e.mtimeNs : e.mtimeNs.slice(0, -9),
        xattrs: format === 'posix' ? e.xattrs : {},
      }));
    for (const format of ['gnu', 'posix', 'v7']) {
      const args = ['-C', src, '-c', `--format=${format}`, ...(format === 'posix' ? ['--xattrs', '--xattrs-include=user.*'] : [])];
      const names = format === 'v7' ? ['plain', 'tagged', 'link', 'hard'] : ['.'];
      const tar = execFileSync('tar', [...args, ...names], { maxBuffer: 64 << 20 });
      const root = freshDir(format);
      await apply(root, tar);
      const expected = snap(src, format).filter((e) => format !== 'v7' || names.includes(e.path.slice(1)));
      expect(snap(root, format), format).toEqual(expected);
    }
  });
});

describe('applyLayer confinement', () => {
  /** A sandbox: the root to apply into, and an outside directory that must stay untouched. */
  function sandbox() {
    const dir = freshDir('sandbox');
    const root = join(dir, 'root');
    const outside = join(dir, 'outside');
    mkdirSync(root);
    mkdirSync(outside);
    writeFileSync(join(outside, 'keep'), 'outside data');
    return { dir, root, outside };
  }
  /** Everything in the sandbox except the root, plus the host files a layer could aim at. */
  function outsideState(dir: string) {
    const tree = snapshotTree(dir).filter((e) => !e.path.startsWith('/root/') && e.path !== '/root');
    const host = ['/etc/passwd', '/etc/x', '/abs', '/x', '/evil'].map((p) => {
      const st = lstatSync(p, { throwIfNoEntry: false });
      return st ? `${p}:${st.ino}:${st.mtimeMs}:${st.size}` : `${p}:absent`;
    });
    return { tree, host, hostPasswd: readFileSync('/etc/passwd') };
  }

  it('keeps .., absolute paths, symlinks and hard links inside the root', async () => {
    const { dir, root, outside } = sandbox();
    const before = outsideState(dir);
    const layer = buildLayer([
      { name: '../../etc/x', data: 'dotdot' },
      { name: '/abs/path', data: 'absolute' },
      { name: 'rootlink', type: 'symlink', linkname: '/' },
      { name: 'rootlink/x', data: 'through a link to /' },
      { name: 'up', type: 'symlink', linkname: '../../../../../../..' },
      { name: 'up/etc/passwd', data: 'through a link going up' },
      { name: 'out', type: 'symlink', linkname: outside },
      { name: 'out/keep', data: 'overwrite attempt' },
      { name: 'out/new', data: 'new file attempt' },
      { name: 'evil', type: 'symlink', linkname: '../outside/keep' },
      { name: 'hostpasswd', type: 'link', linkname: '../../../../etc/passwd' },
      { name: 'viaLink', type: 'link', linkname: 'rootlink/x' },
    ]);
    await apply(root, layer);
    expect(outsideState(dir)).toEqual(before);

    expect(readFileSync(join(root, 'etc/x'), 'utf8')).toBe('dotdot');
    expect(readFileSync(join(root, 'abs/path'), 'utf8')).toBe('absolute');
    expect(readFileSync(join(root, 'x'), 'utf8')).toBe('through a link to /');
    expect(readFileSync(join(root, 'etc/passwd'), 'utf8')).toBe('through a link going up');
    expect(readFileSync(join(root, outside, 'keep'), 'utf8')).toBe('overwrite attempt');
    expect(readFileSync(join(root, outside, 'new'), 'utf8')).toBe('new file attempt');
    // Escaping targets stay as written: symlinks are kept, never followed on write.
    expect(readlinkSync(join(root, 'rootlink'))).toBe('/');
    expect(readlinkSync(join(root, 'evil'))).toBe('../outside/keep');
    // The hard link resolved to the root's own etc/passwd (written above), not the host's.
    expect(statSync(join(root, 'hostpasswd')).ino).toBe(statSync(join(root, 'etc/passwd')).ino);
    expect(statSync(join(root, 'viaLink')).ino).toBe(statSync(join(root, 'x')).ino);
  });

  it('fails a hard link to a host file that the root does not have, touching nothing', async () => {
    const { dir, root } = sandbox();
    const before = outsideState(dir);
    await expect(apply(root, buildLayer([{ name: 'pw', type: 'link', linkname: '/etc/passwd' }]))).rejects.toThrow(
      /ENOENT/,
    );
    expect(outsideState(dir)).toEqual(before);
  });

  it('follows a lower layer symlink pointing outside only inside the root', async () => {
    const { dir, root, outside } = sandbox();
    await apply(root, buildLayer([{ name: 'lib', type: 'symlink', linkname: outside }]));
    const before = outsideState(dir);
    await apply(
      root,
      buildLayer([
        { name: 'lib/keep', data: 'replaced inside the root' },
        { name: 'lib/.wh.keep2' },
        { name: 'lib/dir/', mode: 0o700 },
      ]),
    );
    expect(outsideState(dir)).toEqual(before);
    expect(readFileSync(join(root, outside, 'keep'), 'utf8')).toBe('replaced inside the root');
    expect(lstatSync(join(root, outside, 'dir')).mode & 0o777).toBe(0o700);
  });

  it('replaces a symlink by a directory instead of writing through it', async () => {
    const { dir, root, outside } = sandbox();
    await apply(root, buildLayer([{ name: 'd', type: 'symlink', linkname: outside }]));
    const before = outsideState(dir);
    await apply(root, buildLayer([{ name: 'd/', mode: 0o700 }, { name: 'keep', type: 'symlink', linkname: outside }]));
    expect(outsideState(dir)).toEqual(before);
    expect(lstatSync(join(root, 'd')).isDirectory()).toBe(true);
  });

  it('removes whiteouts and opaque contents only inside the root', async () => {
    const { dir, root, outside } = sandbox();
    await apply(root, buildLayer([{ name: 'o', type: 'symlink', linkname: outside }]));
    const before = outsideState(dir);
    await apply(root, buildLayer([{ name: 'o/.wh.keep' }, { name: 'o/.wh..wh..opq' }, { name: '.wh.o' }]));
    expect(outsideState(dir)).toEqual(before);
    expect(lstatSync(join(root, 'o'), { throwIfNoEntry: false })).toBeUndefined();
  });
});

describe('applyLayer overlay mode', () => {
  it('writes overlay whiteouts and opaque markers into an upper dir; the mount matches a plain apply', async () => {
    const lower = freshDir('lower');
    await apply(lower, buildLayer(baseLayer));
    const upper = freshDir('upper');
    const res = await apply(upper, gzipLayer(buildLayer(topLayer)), { whiteouts: 'overlay', parents: [lower] });
    expect(res.compression).toBe('gzip');

    const gone = lstatSync(join(upper, 'var/lib/gone'));
    expect(gone.isCharacterDevice() && major(gone.rdev) === 0 && minor(gone.rdev) === 0).toBe(true);
    expect(lgetxattr(join(upper, 'var/lib/opaque'), 'trusted.overlay.opaque')?.toString()).toBe('y');
    // The implicit parent etc/sub is new; etc itself was listed by the layer.
    expect(lstatSync(join(upper, 'etc/sub')).mode & 0o7777).toBe(0o755);

    const merged = freshDir('merged');
    const work = freshDir('work');
    mount('overlay', merged, 'overlay', 0, `lowerdir=${lower},upperdir=${upper},workdir=${work}`);
    try {
      const plain = freshDir('plain');
      await apply(plain, buildLayer(baseLayer));
      await apply(plain, buildLayer(topLayer));
      // Directories the layer did not list get the time they were created at.
      const implicit = (e: TreeEntry) => (e.path.startsWith('/etc/sub') && e.type === 'dir' ? { ...e, mtimeNs: '-' } : e);
      expect(snapshotTree(merged).map(implicit)).toEqual(snapshotTree(plain).map(implicit));
    } finally {
      umount2(merged, MNT_DETACH);
    }
  });

  it('refuses a hard link to a file of a lower layer, as containerd (links resolve in the upper dir)', async () => {
    const lower = freshDir('lower');
    await apply(lower, buildLayer(baseLayer.slice(0, 2)));
    const upper = freshDir('upper');
    const layer = buildLayer([{ name: 'bin/sh2', type: 'link', linkname: 'bin/sh' }]);
    await expect(apply(upper, layer, { whiteouts: 'overlay', parents: [lower] })).rejects.toThrow(/ENOENT/);
    // Applied to the merged tree (remove mode), the same link works.
    await apply(lower, layer);
    expect(statSync(join(lower, 'bin/sh2')).ino).toBe(statSync(join(lower, 'bin/sh')).ino);
  });

  it('copies owner, mode, times and xattrs of implicit parents from the lowers', async () => {
    const lower = freshDir('lower');
    await apply(
      lower,
      buildLayer([
        { name: 'srv/', mode: 0o2750, uid: 1000, gid: 1000, mtime: 1_500_000_000, xattrs: { 'user.k': 'v' } },
        { name: 'srv/data/', mode: 0o700, uid: 33, gid: 33 },
      ]),
    );
    const upper = freshDir('upper');
    await apply(upper, buildLayer([{ name: 'srv/data/new', data: 'x' }]), { whiteouts: 'overlay', parents: [lower] });
    const srv = lstatSync(join(upper, 'srv'), { bigint: true });
    expect({ mode: Number(srv.mode & 0o7777n), uid: Number(srv.uid), gid: Number(srv.gid) }).toEqual({
      mode: 0o2750,
      uid: 1000,
      gid: 1000,
    });
    expect(lgetxattr(join(upper, 'srv'), 'user.k')?.toString()).toBe('v');
    const data = lstatSync(join(upper, 'srv/data'));
    expect([data.mode & 0o7777, data.uid, data.gid]).toEqual([0o700, 33, 33]);
  });
});
