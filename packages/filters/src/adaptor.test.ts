import { describe, expect, it } from 'vitest';
import { adapt, mapAdaptor, objectAdaptor } from './adaptor.js';
import { parse, parseAll } from './parser.js';

describe('objectAdaptor', () => {
  // Shaped like containerd's image adaptor: name, target.digest/mediatype, labels, annotations.
  const image = objectAdaptor(
    {
      name: 'docker.io/library/alpine:3.19',
      target: { digest: 'sha256:abc', mediatype: 'application/vnd.oci.image.index.v1+json' },
    },
    {
      maps: {
        labels: { 'containerd.io/gc.ref.content': 'sha256:def', env: '' },
        annotations: new Map([['org.opencontainers.image.ref.name', '3.19']]),
      },
    },
  );

  it('resolves top-level and nested fields', () => {
    expect(image.field(['name'])).toBe('docker.io/library/alpine:3.19');
    expect(image.field(['target', 'digest'])).toBe('sha256:abc');
    expect(image.field(['target'])).toBeUndefined();
    expect(image.field(['target', 'digest', 'more'])).toBeUndefined();
    expect(image.field(['target', 'size'])).toBeUndefined();
    expect(image.field(['size'])).toBeUndefined();
    expect(image.field([])).toBeUndefined();
  });

  it('looks map keys up by the rest of the path joined with dots', () => {
    expect(image.field(['labels', 'containerd', 'io/gc', 'ref', 'content'])).toBe('sha256:def');
    expect(image.field(['labels', 'containerd.io/gc.ref.content'])).toBe('sha256:def');
    expect(image.field(['annotations', 'org.opencontainers.image.ref.name'])).toBe('3.19');
    expect(image.field(['labels'])).toBeUndefined();
    expect(image.field(['labels', 'nope'])).toBeUndefined();
  });

  it('keeps an empty label value present, as containerd does', () => {
    expect(image.field(['labels', 'env'])).toBe('');
    expect(parse('labels.env').match(image)).toBe(true);
  });

  it('treats empty string fields as absent by default, present when asked', () => {
    const fields = { id: 'c1', image: '' };
    expect(objectAdaptor(fields).field(['image'])).toBeUndefined();
    expect(parse('image').match(objectAdaptor(fields))).toBe(false);
    // Snapshots: parent is always present, '' for a root snapshot.
    const snapshot = objectAdaptor({ name: 'base', parent: '', kind: 'committed' }, { emptyIsAbsent: false });
    expect(parse('parent').match(snapshot)).toBe(true);
    expect(parse('parent==""').match(snapshot)).toBe(true);
  });

  it('never resolves inherited properties', () => {
    const a = objectAdaptor({ id: 'x' }, { maps: { labels: { a: 'b' } } });
    expect(a.field(['constructor'])).toBeUndefined();
    expect(a.field(['toString'])).toBeUndefined();
    expect(a.field(['__proto__'])).toBeUndefined();
    expect(a.field(['labels', 'constructor'])).toBeUndefined();
    expect(a.field(['labels', 'hasOwnProperty'])).toBeUndefined();
    expect(parse('labels.constructor').match(a)).toBe(false);
  });

  it('treats null and undefined fields and maps as absent', () => {
    const a = objectAdaptor({ id: null, runtime: undefined }, { maps: { labels: undefined, more: null } });
    for (const path of [['id'], ['runtime', 'name'], ['labels', 'x'], ['more', 'y']]) {
      expect(a.field(path)).toBeUndefined();
    }
    expect(parse('labels.x!=v').match(a)).toBe(true);
  });

  it('hands the rest of the path to a nested adaptor', () => {
    // An event envelope: namespace and topic, with event.* answered by the event itself.
    const event = objectAdaptor({ id: 'c1', image: 'alpine' }, { maps: { labels: { a: '1' } } });
    const envelope = objectAdaptor({ namespace: 'default', topic: '/containers/create', event });
    expect(envelope.field(['event', 'id'])).toBe('c1');
    expect(envelope.field(['event', 'labels', 'a'])).toBe('1');
    expect(parse('topic~=^/containers/,event.image==alpine').match(envelope)).toBe(true);
    expect(parse('event.id==c2').match(envelope)).toBe(false);
  });

  it('lets a map shadow a field of the same name', () => {
    const a = objectAdaptor({ labels: 'not a map' }, { maps: { labels: { k: 'v' } } });
    expect(a.field(['labels', 'k'])).toBe('v');
  });
});

describe('mapAdaptor and adapt', () => {
  it('mapAdaptor joins the whole path into one key', () => {
    const m = mapAdaptor({ 'a.b': '1', a: '2' });
    expect(m.field(['a', 'b'])).toBe('1');
    expect(m.field(['a'])).toBe('2');
    expect(m.field(['b'])).toBeUndefined();
    expect(mapAdaptor(undefined).field(['a'])).toBeUndefined();
  });

  it('adapt wraps a lookup function', () => {
    const seen: string[] = [];
    const a = adapt((path) => {
      seen.push(path.join('/'));
      return path[0] === 'id' ? 'task-1' : undefined;
    });
    expect(parse('id==task-1,namespace').match(a)).toBe(false);
    expect(seen).toEqual(['id', 'namespace']);
    expect(parseAll(['id==nope', 'id~=^task-']).match(a)).toBe(true);
  });

  it('stops at the first failing selector and the first matching filter', () => {
    const seen: string[] = [];
    const a = adapt((path) => {
      seen.push(path.join('.'));
      return undefined;
    });
    parse('x==1,y==2').match(a);
    expect(seen).toEqual(['x']);
    seen.length = 0;
    parseAll(['x!=1', 'y']).match(a);
    expect(seen).toEqual(['x']);
  });
});
