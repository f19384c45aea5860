import { linkSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { lsetxattr } from '@containerd-ts/sys';
import tarStream from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyLayer } from './apply.js';
import { diffTar, writeDiff } from './diff.js';
import { buildLayer, type LayerEntry, snapshotTree, type TreeEntry } from './testing.js';

let base: string;
beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'archive-diff-'));
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

async function collect(gen: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of gen) parts.push(b);
  return Buffer.concat(parts);
}

interface ListedEntry {
  name: string;
  type: string;
  linkname: string | null;
  size: number;
  pax: Record<string, string> | null;
}

async function list(tar: Buffer): Promise<ListedEntry[]> {
  const out: ListedEntry[] = [];
  const extract = tarStream.extract();
  for await (const entry of Readable.from([tar]).pipe(extract)) {
    const h = entry.header;
    out.push({ name: h.name, type: h.type, linkname: h.linkname ?? null, size: h.size, pax: (h.pax as never) ?? null });
    entry.resume();
  }
  return out;
}

const apply = (root: string, entries: LayerEntry[]) => applyLayer(root, Readable.from([buildLayer(entries)]));

const lowerLayer: LayerEntry[] = [
  { name: 'etc/', mode: 0o755 },
  { name: 'etc/passwd', data: 'root' },
  { name: 'etc/keep', data: 'unchanged' },
  { name: 'etc/single', data: 'one name' },
  { name: 'var/', mode: 0o755 },
  { name: 'var/gone', data: 'x' },
  { name: 'var/gone-dir/', mode: 0o755 },
  { name: 'var/gone-dir/a', data: 'a' },
  { name: 'var/gone-dir/b/', mode: 0o755 },
  { name: 'var/gone-dir/b/c', data: 'c' },
  { name: 'var/dir-to-file/', mode: 0o755 },
  { name: 'var/dir-to-file/x', data: 'x' },
  { name: 'var/same-size', data: 'aaaa' },
  { name: 'usr/', mode: 0o755 },
  { name: 'usr/lib/', mode: 0o755 },
  { name: 'usr/lib/deep/', mode: 0o755 },
  { name: 'usr/lib/deep/file', data: 'deep' },
];

/** Makes `upper` differ from `lower` in every way a diff must notice. */
function mutate(upper: string) {
  writeFileSync(join(upper, 'etc/passwd'), 'root and more');
  rmSync(join(upper, 'var/gone'));
  rmSync(join(upper, 'var/gone-dir'), { recursive: true });
  rmSync(join(upper, 'var/dir-to-file'), { recursive: true });
  writeFileSync(join(upper, 'var/dir-to-file'), 'now a file');
  // Same size and whole-second mtime: only the content tells.
  writeFileSync(join(upper, 'var/same-size'), 'bbbb');
  utimesSync(join(upper, 'var/same-size'), 1_700_000_000, 1_700_000_000);
  writeFileSync(join(upper, 'usr/lib/deep/new'), 'new file deep down');
  writeFileSync(join(upper, 'etc/new-a'), 'linked');
  linkSync(join(upper, 'etc/new-a'), join(upper, 'etc/new-b'));
  // A new name for an unchanged file: the file itself is written, then the old name as a link.
  linkSync(join(upper, 'etc/single'), join(upper, 'etc/two'));
  writeFileSync(join(upper, 'etc/capable'), 'cap');
  lsetxattr(join(upper, 'etc/capable'), 'security.capability', Buffer.from('0100000280000000000000000000000000000000', 'hex'));
}

const seconds = (e: TreeEntry) => ({ ...e, mtimeNs: e.mtimeNs === '-' ? '-' : e.mtimeNs.slice(0, -9) });

describe('writeDiff', () => {
  it('writes additions, modifications, whiteouts and hard links; applying it reproduces the upper tree', async () => {
    const lower = freshDir('lower');
    const upper = freshDir('upper');
    await apply(lower, lowerLayer);
    await apply(upper, lowerLayer);
    mutate(upper);

    const tar = await collect(diffTar(lower, upper));
    const entries = await list(tar);
    expect(entries.map((e) => `${e.type} ${e.name}${e.linkname ? ` -> ${e.linkname}` : ''}`)).toEqual([
      'directory etc/',
      'file etc/capable',
      'file etc/new-a',
      'link etc/new-b -> etc/new-a',
      'file etc/passwd',
      'file etc/two',
      'link etc/single -> etc/two',
      'directory usr/',
      'directory usr/lib/',
      'directory usr/lib/deep/',
      'file usr/lib/deep/new',
      'directory var/',
      'file var/dir-to-file',
      'file var/.wh.gone',
      'file var/.wh.gone-dir',
      'file var/same-size',
    ]);
    expect(entries.find((e) => e.name === 'etc/capable')?.pax).toHaveProperty(['SCHILY.xattr.security.capability']);

    const replay = freshDir('replay');
    await apply(replay, lowerLayer);
    await applyLayer(replay, Readable.from([tar]));
    expect(snapshotTree(replay).map(seconds)).toEqual(snapshotTree(upper).map(seconds));
  });

  it('is deterministic and writes to a stream with back-pressure', async () => {
    const lower = freshDir('lower');
    const upper = freshDir('upper');
    await apply(lower, lowerLayer);
    await apply(upper, lowerLayer);
    mutate(upper);
    const first = await collect(diffTar(lower, upper));
    const out = new PassThrough({ highWaterMark: 1024 });
    const chunks: Buffer[] = [];
    const drained = (async () => {
      for await (const c of out) {
        chunks.push(c as Buffer);
        await new Promise((r) => setImmediate(r));
      }
    })();
    await writeDiff(lower, upper, out);
    out.end();
    await drained;
    expect(Buffer.concat(chunks).equals(first)).toBe(true);
  });

  it('writes the whole tree when there is no lower', async () => {
    const upper = freshDir('upper');
    await apply(upper, lowerLayer);
    const entries = await list(await collect(diffTar('', upper)));
    expect(entries.map((e) => e.name)).toEqual(snapshotTree(upper).map((e) => e.path.slice(1) + (e.type === 'dir' ? '/' : '')));
  });

  it('writes nothing but the trailer for identical trees', async () => {
    const a = freshDir('a');
    const b = freshDir('b');
    await apply(a, lowerLayer);
    await apply(b, lowerLayer);
    const tar = await collect(diffTar(a, b));
    expect(tar).toEqual(Buffer.alloc(1024));
  });

  it('encodes long and non-ASCII names, large ids and whiteout times as Go does', async () => {
    const lower = freshDir('lower');
    const upper = freshDir('upper');
    const long = `${'d'.repeat(120)}/${'f'.repeat(90)}`;
    const longer = 'x'.repeat(180);
    await apply(lower, [{ name: 'old', data: 'o' }]);
    await apply(upper, [
      { name: long, data: 'split into prefix and name' },
      { name: longer, data: 'needs a PAX path' },
      { name: 'naïve', data: 'utf-8 name' },
      { name: 'big-uid', data: 'u', uid: 3_000_000, gid: 3_000_001 },
    ]);
    const tar = await collect(diffTar(lower, upper, { whiteoutTime: new Date(1_234_567_890_400) }));
    const entries = await list(tar);
    expect(entries.map((e) => e.name)).toEqual(['big-uid', `${'d'.repeat(120)}/`, long, 'naïve', '.wh.old', longer]);
    expect(entries[0]?.pax).toMatchObject({ uid: '3000000', gid: '3000001' });
    expect(entries[3]?.pax).toMatchObject({ path: 'naïve' });
    expect(entries[5]?.pax).toMatchObject({ path: longer });
    // The whiteout's header: USTAR, mtime rounded to seconds, mode and owner zero.
    const wh = tar.indexOf('.wh.old');
    const block = tar.subarray(wh, wh + 512);
    expect(block.subarray(100, 108).toString('latin1')).toBe('0000000\0');
    expect(block.subarray(136, 148).toString('latin1')).toBe(`${(1_234_567_890).toString(8).padStart(11, '0')}\0`);
    expect(block.subarray(257, 265).toString('latin1')).toBe('ustar\x0000');
    expect(block.subarray(148, 156).toString('latin1')).toMatch(/^[0-7]{6}\0 $/);
  });
});
