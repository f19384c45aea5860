import { describe, expect, it } from 'vitest';
import { ShardedMap } from './sharded-map.js';

const sorted = <V>(it: Iterable<[string, V]>) => [...it].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

describe('ShardedMap', () => {
  it('behaves as a Map through random edits, and every earlier version stays as it was', () => {
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    let map = ShardedMap.empty<number>();
    const reference = new Map<string, number>();
    const versions: Array<{ map: ShardedMap<number>; entries: Array<[string, number]> }> = [];
    for (let round = 0; round < 300; round++) {
      const editor = map.edit();
      for (let op = random(8); op >= 0; op--) {
        const key = `key-${random(200)}`;
        if (random(3) === 0) {
          expect(editor.delete(key)).toBe(reference.delete(key));
        } else {
          editor.set(key, round);
          reference.set(key, round);
        }
        expect(editor.size).toBe(reference.size);
        expect(editor.get(key)).toBe(reference.get(key));
      }
      // the map the editor started from is unchanged until done() and after
      expect(sorted(map.entries())).toEqual(versions.at(-1)?.entries ?? []);
      map = editor.done();
      expect(map.size).toBe(reference.size);
      expect(sorted(map)).toEqual(sorted(reference));
      versions.push({ map, entries: sorted(reference) });
    }
    for (const v of versions) expect(sorted(v.map)).toEqual(v.entries);
    expect([...map.keys()].sort()).toEqual([...reference.keys()].sort());
    expect([...map.values()].sort()).toEqual([...reference.values()].sort());
    for (let i = 0; i < 200; i++) expect(map.has(`key-${i}`)).toBe(reference.has(`key-${i}`));
  });

  it('builds from entries and refuses edits after done()', () => {
    const map = ShardedMap.from([
      ['a', 1],
      ['b', 2],
    ]);
    expect(map.size).toBe(2);
    expect(map.get('b')).toBe(2);
    const editor = map.edit();
    editor.set('c', 3);
    expect(editor.done().size).toBe(3);
    expect(() => editor.set('d', 4)).toThrow(/after done/);
    expect(map.size).toBe(2);
  });
});
