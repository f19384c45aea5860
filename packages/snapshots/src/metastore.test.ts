import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAlreadyExists, isFailedPrecondition, isInvalidArgument, isNotFound } from '@containerd-ts/errdefs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MetaStore } from './metastore.js';
import { Kind } from './types.js';

describe('MetaStore', () => {
  let dir: string;
  let file: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'metastore-'));
    file = join(dir, 'metadata.json');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps records, labels, times and usage across a reopen', async () => {
    const ms = await MetaStore.open(file);
    const a = await ms.update((tx) => tx.createSnapshot(Kind.Active, 'a', '', { labels: { x: '1', empty: '' } }));
    expect(a).toEqual({ id: '1', kind: Kind.Active, parentIds: [] });
    await ms.update((tx) => tx.commitActive('a', 'c', { size: 10, inodes: 2 }, { labels: { y: '2' } }));
    const b = await ms.update((tx) => tx.createSnapshot(Kind.View, 'v', 'c'));
    expect(b).toEqual({ id: '2', kind: Kind.View, parentIds: ['1'] });
    const before = await ms.view((tx) => [tx.getInfo('c'), tx.getInfo('v')]);
    await ms.close();

    const again = await MetaStore.open(file);
    const after = await again.view((tx) => [tx.getInfo('c'), tx.getInfo('v')]);
    expect(after).toEqual(before);
    expect(after[0]).toMatchObject({ id: '1', usage: { size: 10, inodes: 2 }, info: { labels: { y: '2' }, kind: 'Committed' } });
    // IDs keep counting from where they were: a removed snapshot's ID is never handed out again.
    await again.update((tx) => tx.remove('v'));
    expect((await again.update((tx) => tx.createSnapshot(Kind.Active, 'n', ''))).id).toBe('3');
  });

  it('knows which snapshots have children across commits, removals, a failed transaction and reopens', async () => {
    const ms = await MetaStore.open(file);
    await ms.update((tx) => tx.createSnapshot(Kind.Active, 'base-a', ''));
    await ms.update((tx) => tx.commitActive('base-a', 'base', undefined));
    await ms.update((tx) => tx.createSnapshot(Kind.Active, 'mid-a', 'base'));
    await ms.update((tx) => tx.commitActive('mid-a', 'mid', undefined));
    await ms.update((tx) => tx.createSnapshot(Kind.Active, 'top', 'mid'));
    await ms.update((tx) => tx.createSnapshot(Kind.View, 'view', 'base'));
    const refused = async (key: string) => isFailedPrecondition(await ms.update((tx) => tx.remove(key)).catch((err: unknown) => err));
    expect(await refused('base')).toBe(true);
    expect(await refused('mid')).toBe(true);
    // a transaction that removes a child and then fails leaves the count as it was
    await expect(
      ms.update((tx) => {
        tx.remove('top');
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    expect(await refused('mid')).toBe(true);
    await ms.close();

    const again = await MetaStore.open(file);
    const refusedAgain = async (key: string) => isFailedPrecondition(await again.update((tx) => tx.remove(key)).catch((err: unknown) => err));
    expect(await refusedAgain('mid')).toBe(true);
    await again.update((tx) => tx.remove('top'));
    await again.update((tx) => tx.remove('mid'));
    expect(await refusedAgain('base')).toBe(true);
    await again.update((tx) => tx.remove('view'));
    await again.update((tx) => tx.remove('base'));
    expect(await again.view((tx) => ['base', 'mid', 'top', 'view'].filter((k) => tx.has(k)))).toEqual([]);
    await again.close();
  });

  it('changes nothing when the transaction throws', async () => {
    const ms = await MetaStore.open(file);
    await ms.update((tx) => tx.createSnapshot(Kind.Active, 'a', ''));
    await expect(
      ms.update((tx) => {
        tx.createSnapshot(Kind.Active, 'b', '');
        tx.updateInfo({ name: 'a', labels: { l: 'v' } });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    await ms.view((tx) => {
      expect(tx.has('b')).toBe(false);
      expect(tx.getInfo('a').info.labels).toEqual({});
    });
    expect((await ms.update((tx) => tx.createSnapshot(Kind.Active, 'b', ''))).id).toBe('2');
    await ms.close();
    // what is on disk: a store opened on the same files
    const onDisk = await MetaStore.open(file);
    expect(await onDisk.view((tx) => [tx.has('a'), tx.has('b'), tx.getInfo('a').info.labels])).toEqual([true, true, {}]);
  });

  it('appends each change to a journal, replays it at open and drops a line a crash cut short', async () => {
    const ms = await MetaStore.open(file);
    await ms.update((tx) => tx.createSnapshot(Kind.Active, 'a', '', { labels: { x: '1' } }));
    await ms.update((tx) => tx.commitActive('a', 'c', { size: 1, inodes: 1 }));
    await ms.update((tx) => tx.createSnapshot(Kind.Active, 'b', 'c'));
    const before = await ms.view((tx) => [tx.getInfo('c'), tx.getInfo('b')]);
    await ms.close();
    // one line per transaction, no full rewrite
    expect((await readFile(`${file}.log`, 'utf8')).split('\n')).toHaveLength(4);
    await expect(readFile(file, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });

    await writeFile(`${file}.log`, `${await readFile(`${file}.log`, 'utf8')}{"nextId":9,"set":{"b":nu`);
    const again = await MetaStore.open(file);
    expect(await again.view((tx) => [tx.getInfo('c'), tx.getInfo('b')])).toEqual(before);
    // the torn line is gone: what follows it is read back whole
    expect((await again.update((tx) => tx.createSnapshot(Kind.View, 'v', 'c'))).id).toBe('3');
    await again.update((tx) => tx.remove('b'));
    await again.close();
    const third = await MetaStore.open(file);
    expect(await third.view((tx) => [tx.has('a'), tx.has('b'), tx.has('c'), tx.getInfo('v').id])).toEqual([false, false, true, '3']);
  });

  it('writes the records out and empties the journal once it has grown; a journal left beside them replays to the same state', async () => {
    const ms = await MetaStore.open(file);
    const labels = { big: 'x'.repeat(2000) };
    for (let i = 0; i < 40; i++) await ms.update((tx) => tx.createSnapshot(Kind.Active, `s${i}`, '', { labels }));
    for (let i = 0; i < 40; i += 2) await ms.update((tx) => tx.remove(`s${i}`));
    const keys = await ms.view(async (tx) => {
      const out: string[] = [];
      await tx.walk((info) => {
        out.push(info.name);
      });
      return out;
    });
    expect(keys).toHaveLength(20);
    const records = JSON.parse(await readFile(file, 'utf8')) as { snapshots: Record<string, unknown> };
    expect(Object.keys(records.snapshots).length).toBeGreaterThan(0);
    const journal = await readFile(`${file}.log`, 'utf8').catch(() => '');
    expect(journal.length).toBeLessThan(64 * 1024 + 4096);
    await ms.close();
    // a crash after the records were written but before the journal was removed
    await writeFile(`${file}.log`, `${journal}${journal}`);
    const again = await MetaStore.open(file);
    const after = await again.view((tx) => keys.map((k) => tx.has(k)));
    expect(after.every(Boolean)).toBe(true);
    expect(await again.view((tx) => tx.has('s0'))).toBe(false);
    expect((await again.update((tx) => tx.createSnapshot(Kind.Active, 'n', ''))).id).toBe('41');
  });

  it('a crash after the records are written out but before the journal is removed replays to the state before the transaction', async () => {
    const ms = await MetaStore.open(file);
    const labels = { big: 'x'.repeat(4000) };
    await ms.update((tx) => tx.createSnapshot(Kind.Active, 's0', '', { labels }));
    // each transaction replaces the one snapshot by the next, until one writes the records out
    let i = 1;
    let journalBefore = '';
    for (; ; i++) {
      journalBefore = await readFile(`${file}.log`, 'utf8');
      await ms.update((tx) => {
        tx.remove(`s${i - 1}`);
        return tx.createSnapshot(Kind.Active, `s${i}`, '', { labels });
      });
      if ((await readFile(`${file}.log`, 'utf8').catch(() => '')).length < journalBefore.length) break;
      expect(i).toBeLessThan(100);
    }
    await ms.close();
    await writeFile(`${file}.log`, journalBefore);
    const again = await MetaStore.open(file);
    const keys = await again.view(async (tx) => {
      const out: string[] = [];
      await tx.walk((info) => {
        out.push(info.name);
      });
      return out;
    });
    // that transaction never returned: neither it nor a mix of it and the journal
    expect(keys).toEqual([`s${i - 1}`]);
    await again.close();
  });

  it('ignores a temporary file a crash left and reads the last complete state', async () => {
    const ms = await MetaStore.open(file);
    await ms.update((tx) => tx.createSnapshot(Kind.Active, 'a', ''));
    await ms.close();
    await writeFile(`${file}.tmp`, '{"version":1,"nextId":'); // a write cut short
    const again = await MetaStore.open(file);
    expect(await again.view((tx) => tx.has('a'))).toBe(true);
  });

  it('runs writers one at a time; readers see only committed states', async () => {
    const ms = await MetaStore.open(file);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow = ms.update(async (tx) => {
      tx.createSnapshot(Kind.Active, 'slow', '');
      await gate;
    });
    const fast = ms.update((tx) => tx.createSnapshot(Kind.Active, 'fast', ''));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await ms.view((tx) => [tx.has('slow'), tx.has('fast')])).toEqual([false, false]);
    release();
    await slow;
    expect((await fast).id).toBe('2');
  });

  it('classifies failures as containerd does', async () => {
    const ms = await MetaStore.open(file);
    await ms.update((tx) => tx.createSnapshot(Kind.Active, 'a', ''));
    const fail = (fn: Parameters<MetaStore['update']>[0]) => ms.update(fn).then(() => undefined, (err: unknown) => err);
    let err = await fail((tx) => tx.createSnapshot(Kind.Active, 'b', 'a'));
    expect(isInvalidArgument(err) && String(err)).toBe('ContainerdError: parent "a" is not committed snapshot: invalid argument');
    err = await fail((tx) => tx.createSnapshot(Kind.Active, 'b', 'nope'));
    expect(isNotFound(err) && String(err)).toBe('ContainerdError: missing parent "nope" bucket: not found');
    err = await fail((tx) => tx.createSnapshot(Kind.View, 'a', ''));
    expect(isAlreadyExists(err) && String(err)).toBe('ContainerdError: snapshot a: already exists');
    err = await fail((tx) => tx.createSnapshot(Kind.Committed, 'z', ''));
    expect(isInvalidArgument(err)).toBe(true);
    await ms.update((tx) => tx.commitActive('a', 'c', undefined));
    await ms.update((tx) => tx.createSnapshot(Kind.View, 'v', 'c'));
    err = await fail((tx) => tx.commitActive('v', 'c2', undefined));
    expect(isFailedPrecondition(err) && String(err)).toBe('ContainerdError: snapshot "v" is not active: failed precondition');
    err = await fail((tx) => tx.commitActive('v', 'c', undefined));
    expect(isAlreadyExists(err) && String(err)).toBe('ContainerdError: committed snapshot c: already exists');
    err = await fail((tx) => tx.remove('c'));
    expect(isFailedPrecondition(err) && String(err)).toBe('ContainerdError: cannot remove snapshot with child: failed precondition');
    err = await ms.view((tx) => tx.getSnapshot('c')).catch((e: unknown) => e);
    expect(isFailedPrecondition(err) && String(err)).toBe(
      'ContainerdError: requested snapshot c not active or view: failed precondition',
    );
    err = await fail((tx) => tx.updateInfo({ name: 'c' }, ['kind']));
    expect(isInvalidArgument(err) && String(err)).toBe('ContainerdError: cannot update "kind" field on snapshot "c": invalid argument');
  });

  it('walks in key order and refuses use after close', async () => {
    const ms = await MetaStore.open(file);
    for (const key of ['b', 'a', 'c']) await ms.update((tx) => tx.createSnapshot(Kind.Active, key, ''));
    const keys: string[] = [];
    await ms.view((tx) => tx.walk((info) => void keys.push(info.name)));
    expect(keys).toEqual(['a', 'b', 'c']);
    await ms.close();
    await ms.close();
    await expect(ms.view((tx) => tx.has('a'))).rejects.toThrow('closed');
  });

  describe('group commit', () => {
    it('answers each of 16 concurrent writers only after the fsync that covers its change, sharing fsyncs', async () => {
      const events: string[] = [];
      const batches: string[][] = [];
      const ms = await MetaStore.open(file, {
        onSync: (keys) => {
          batches.push([...keys]);
          for (const k of keys) events.push(`synced ${k}`);
        },
      });
      const keys = Array.from({ length: 16 }, (_, i) => `s${i}`);
      await Promise.all(
        keys.map(async (key) => {
          await ms.update((tx) => tx.createSnapshot(Kind.Active, key, ''));
          events.push(`answered ${key}`);
          // acknowledged means visible to readers
          expect(await ms.view((tx) => tx.has(key))).toBe(true);
        }),
      );
      for (const key of keys) {
        const synced = events.indexOf(`synced ${key}`);
        expect(synced, `${key} was synced`).toBeGreaterThanOrEqual(0);
        expect(events.indexOf(`answered ${key}`), `${key} answered after its sync`).toBeGreaterThan(synced);
      }
      // writers arriving while a batch is being written join the next one
      expect(batches.length).toBeLessThan(keys.length);
      expect(Math.max(...batches.map((b) => b.length))).toBeGreaterThan(1);
      // one journal line per transaction, every acknowledged change there after a reopen
      await ms.close();
      expect((await readFile(`${file}.log`, 'utf8')).split('\n').filter(Boolean)).toHaveLength(16);
      const again = await MetaStore.open(file);
      expect(await again.view((tx) => keys.map((k) => tx.has(k)))).toEqual(keys.map(() => true));
      expect(new Set(await again.view((tx) => keys.map((k) => tx.getInfo(k).id))).size).toBe(16);
      await again.close();
    });

    it('lets a writer build on a change not yet on disk; readers see it only once it is', async () => {
      const events: string[] = [];
      const ms = await MetaStore.open(file, {
        onSync: (keys) => events.push(`synced ${keys.join(',')}`),
      });
      const readerSaw: boolean[] = [];
      const parent = ms.update((tx) => {
        tx.createSnapshot(Kind.Active, 'a', '');
        tx.commitActive('a', 'p', undefined);
      });
      const child = ms.update(async (tx) => {
        // the parent's batch may still be in flight: writers see it, readers not yet
        readerSaw.push(await ms.view((r) => r.has('p')));
        return tx.createSnapshot(Kind.Active, 'c', 'p');
      });
      const [, c] = await Promise.all([parent, child]);
      expect(c.parentIds).toEqual(['1']);
      expect(events.join(' ')).toContain('synced');
      await ms.close();
      const again = await MetaStore.open(file);
      expect(await again.view((tx) => tx.getSnapshot('c').parentIds)).toEqual(['1']);
      await again.close();
      expect(readerSaw).toHaveLength(1);
    });

    it('fails a batch that cannot be written and the writers built on it, and goes on from what is on disk', async () => {
      const ms = await MetaStore.open(file);
      await ms.update((tx) => tx.createSnapshot(Kind.Active, 'kept', ''));
      await ms.close();
      const store = await MetaStore.open(file);
      // the journal cannot be opened for appending: every batch fails until it can
      await rename(`${file}.log`, `${file}.saved`);
      await mkdir(`${file}.log`);
      const first = store.update((tx) => tx.createSnapshot(Kind.Active, 'lost1', ''));
      const second = store.update((tx) => tx.createSnapshot(Kind.Active, 'lost2', ''));
      const results = await Promise.allSettled([first, second]);
      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
      expect(await store.view((tx) => [tx.has('kept'), tx.has('lost1'), tx.has('lost2')])).toEqual([true, false, false]);
      await rm(`${file}.log`, { recursive: true });
      await rename(`${file}.saved`, `${file}.log`);
      // writers start again from the state on disk: the lost IDs are free again
      expect((await store.update((tx) => tx.createSnapshot(Kind.Active, 'next', ''))).id).toBe('2');
      await store.close();
      const again = await MetaStore.open(file);
      expect(await again.view((tx) => [tx.has('kept'), tx.has('lost1'), tx.has('lost2'), tx.has('next')])).toEqual([true, false, false, true]);
      await again.close();
    });
  });
});
