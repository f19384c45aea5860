// Image and container records: create, get, list with filters, update by field path,
// delete, and the events containerd publishes for them.
import { Image as ApiImage } from '@containerd-ts/api/services/images';
import { WireWriter } from '@containerd-ts/api/wire';
import { describe, expect, it } from 'vitest';
import { createEnv, take } from './testing/env.js';

const ctx = { namespace: 'default' };
const target = { mediaType: 'application/vnd.oci.image.index.v1+json', digest: `sha256:${'b'.repeat(64)}`, size: 100 };

describe('images', () => {
  it('creates, lists, updates and deletes images with events', async () => {
    const env = await createEnv();
    try {
      const sub = env.exchange.subscribe(['topic~="^/images/"']);
      const images = env.db.images;
      const created = await images.create(ctx, { name: 'docker.io/library/alpine:3', target, labels: { a: '1' } });
      expect(created.createdAt).toEqual(created.updatedAt);
      await expect(images.create(ctx, { name: 'docker.io/library/alpine:3', target })).rejects.toThrow(
        'image "docker.io/library/alpine:3": already exists',
      );
      await expect(images.create(ctx, { name: 'x', target: { ...target, digest: 'nope' } })).rejects.toThrow(
        'Target.Digest "nope" invalid: invalid checksum digest format: invalid argument',
      );
      await expect(images.create(ctx, { name: 'x', target: { ...target, size: 0 } })).rejects.toThrow(
        'Target.Size must be greater than zero: invalid argument',
      );
      await images.create(ctx, { name: 'docker.io/library/busybox:1', target });
      expect((await images.list(ctx, ['name~=alpine'])).map((i) => i.name)).toEqual(['docker.io/library/alpine:3']);
      expect((await images.list(ctx, ['labels.a==1'])).map((i) => i.name)).toEqual(['docker.io/library/alpine:3']);
      const updated = await images.update(ctx, { name: 'docker.io/library/alpine:3', target, labels: { b: '2' } }, ['labels.b']);
      expect(updated.labels).toEqual({ a: '1', b: '2' });
      await expect(images.update(ctx, { name: 'docker.io/library/alpine:3', target }, ['name'])).rejects.toThrow(
        'cannot update "name" field on image "docker.io/library/alpine:3": invalid argument',
      );
      await images.delete(ctx, 'docker.io/library/busybox:1');
      await expect(images.get(ctx, 'docker.io/library/busybox:1')).rejects.toThrow(
        'image "docker.io/library/busybox:1": not found',
      );
      const events = await take(sub, 4);
      expect(events.map((e) => e.topic)).toEqual(['/images/create', '/images/create', '/images/update', '/images/delete']);
      expect(events.map((e) => e.event.typeUrl)).toEqual([
        'containerd.services.images.v1.ImageCreate',
        'containerd.services.images.v1.ImageCreate',
        'containerd.services.images.v1.ImageUpdate',
        'containerd.services.images.v1.ImageDelete',
      ]);
      sub.close();
    } finally {
      await env.cleanup();
    }
  });
});

describe('image filters', () => {
  it('match by name, target, labels (dotted keys) and annotations; several filters are or-ed, the parts of one and-ed', async () => {
    const env = await createEnv();
    try {
      const images = env.db.images;
      const manifest = 'application/vnd.oci.image.manifest.v1+json';
      await images.create(ctx, { name: 'example.com/a:1', target, labels: { 'team.name': 'x', tier: 'web' } });
      await images.create(ctx, { name: 'example.com/b:1', target: { ...target, mediaType: manifest, annotations: { 'org.opencontainers.image.ref.name': '1' } } });
      await images.create(ctx, { name: 'example.com/c:2', target: { ...target, digest: `sha256:${'c'.repeat(64)}` }, labels: { tier: 'db' } });
      const names = async (...filters: string[]) => (await images.list(ctx, filters)).map((i) => i.name);
      expect(await names()).toEqual(['example.com/a:1', 'example.com/b:1', 'example.com/c:2']);
      expect(await names('name==example.com/b:1')).toEqual(['example.com/b:1']);
      expect(await names('name~=":1$"')).toEqual(['example.com/a:1', 'example.com/b:1']);
      expect(await names('labels."team.name"==x')).toEqual(['example.com/a:1']);
      expect(await names('labels.tier')).toEqual(['example.com/a:1', 'example.com/c:2']);
      expect(await names('labels.tier!=web')).toEqual(['example.com/b:1', 'example.com/c:2']);
      expect(await names(`target.mediatype==${manifest}`)).toEqual(['example.com/b:1']);
      expect(await names(`target.digest==sha256:${'c'.repeat(64)}`)).toEqual(['example.com/c:2']);
      expect(await names('annotations."org.opencontainers.image.ref.name"==1')).toEqual(['example.com/b:1']);
      expect(await names('labels.tier==web', 'name==example.com/c:2')).toEqual(['example.com/a:1', 'example.com/c:2']);
      expect(await names('labels.tier==web,name==example.com/c:2')).toEqual([]);
      expect(await names('name~=example,labels.tier==db')).toEqual(['example.com/c:2']);
      expect(await names('unknown==x')).toEqual([]);
      // what a filtered list returns is the whole image
      expect(await images.list(ctx, ['labels.tier==db'])).toEqual([await images.get(ctx, 'example.com/c:2')]);
    } finally {
      await env.cleanup();
    }
  });

  it('match label equalities with quotes, backslashes, dots and non-ASCII, and not a label that stands only in an annotation', async () => {
    const env = await createEnv();
    try {
      const images = env.db.images;
      const odd = { 'a.b"c': 'x\\y "z" \u00e9\u2028', 'k\\': '\t' };
      await images.create(ctx, { name: 'odd', target, labels: odd });
      // the label, as the record's JSON spells it, in an annotation instead
      await images.create(ctx, { name: 'decoy', target: { ...target, annotations: { ...odd, tier: 'web' } }, labels: { other: 'x' } });
      await images.create(ctx, { name: 'plain', target, labels: { tier: 'web' } });
      const names = async (...filters: string[]) => (await images.list(ctx, filters)).map((i) => i.name);
      expect(await names('labels."a.b\\"c"=="x\\\\y \\"z\\" \u00e9\u2028"')).toEqual(['odd']);
      expect(await names('labels."k\\\\"=="\t"')).toEqual(['odd']);
      expect(await names('labels."a.b\\"c"=="x\\\\y"')).toEqual([]);
      expect(await names('labels.tier==web')).toEqual(['plain']);
      expect(await names('annotations.tier==web')).toEqual(['decoy']);
      // or-ed with a filter that needs no label: every record is read
      expect(await names('labels.tier==web', 'name==odd')).toEqual(['odd', 'plain']);
      expect(await names('labels.tier==web', 'labels.other==x')).toEqual(['decoy', 'plain']);
    } finally {
      await env.cleanup();
    }
  });
});

describe('stored image records', () => {
  it('eachStored gives the records a list encodes: the name then the record decode to the image each gives, filters applied alike', async () => {
    const env = await createEnv();
    try {
      const images = env.db.images;
      const long = 'v'.repeat(300);
      await images.create(ctx, { name: 'example.com/a:1', target: { ...target, size: 2 ** 40 + 3 }, labels: { tier: 'web', 'ü.ñ': '✓', long } });
      await images.create(ctx, { name: 'example.com/b:1', target: { ...target, annotations: { tier: 'web', 'org.opencontainers.image.ref.name': '1' } } });
      await images.create(ctx, { name: 'example.com/c:1', target, labels: { tier: 'db' } });
      await images.update(ctx, { name: 'example.com/c:1', target, labels: { extra: 'x' } }, ['labels.extra']);
      for (const filters of [[], ['labels.tier==web'], ['labels."ü.ñ"==✓'], [`labels.long==${long}`], ['annotations.tier==web'], ['name~=c', 'labels.tier==web'], ['labels.tier==none']]) {
        const fromEach: ApiImage[] = [];
        await images.each(ctx, filters, (image) => fromEach.push({ ...image, target: { ...image.target, annotations: image.target.annotations ?? {} } }));
        const fromStored: ApiImage[] = [];
        await images.eachStored(ctx, filters, (name, stored) => {
          const w = new WireWriter(64);
          w.string(1, name);
          w.latin1(stored);
          fromStored.push(ApiImage.decode(w.finish()));
        });
        expect(fromStored).toEqual(fromEach);
      }
      const names = async (...filters: string[]) => {
        const out: string[] = [];
        await images.eachStored(ctx, filters, (name) => out.push(name));
        return out;
      };
      expect(await names('labels.tier==web')).toEqual(['example.com/a:1']);
      expect(await names(`labels.long==${long}`)).toEqual(['example.com/a:1']);
      expect(await names('labels.extra==x')).toEqual(['example.com/c:1']);
      expect(await names('annotations.tier==web')).toEqual(['example.com/b:1']);
      expect((await images.get(ctx, 'example.com/a:1')).target.size).toBe(2 ** 40 + 3);
    } finally {
      await env.cleanup();
    }
  });
});

describe('containers', () => {
  it('validates, updates by field path and keeps immutable fields', async () => {
    const env = await createEnv();
    try {
      const containers = env.db.containers;
      const spec = { typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/Spec', value: new Uint8Array([1, 2, 3]) };
      await expect(containers.create(ctx, { id: 'c 1', runtime: { name: 'r' }, spec })).rejects.toThrow(
        'create container failed validation: container.ID: identifier "c 1" must match',
      );
      await expect(containers.create(ctx, { id: 'c1', runtime: { name: 'r' } })).rejects.toThrow(
        'create container failed validation: container.Spec must be set: invalid argument',
      );
      await containers.create(ctx, { id: 'c1', runtime: { name: 'io.containerd.runc.v2' }, spec, image: 'img', labels: { x: '1' } });
      const got = await containers.get(ctx, 'c1');
      expect(got.spec?.value).toEqual(new Uint8Array([1, 2, 3]));
      expect(got.image).toBe('img');
      expect((await containers.list(ctx, ['runtime.name==io.containerd.runc.v2'])).map((c) => c.id)).toEqual(['c1']);
      const u = await containers.update(ctx, { id: 'c1', runtime: { name: 'ignored' }, labels: { y: '2' } }, ['labels.y']);
      expect(u.labels).toEqual({ x: '1', y: '2' });
      await expect(containers.update(ctx, { id: 'c1', runtime: { name: 'other' }, spec })).rejects.toThrow(
        'container.Runtime.Name field is immutable: invalid argument',
      );
      await containers.delete(ctx, 'c1');
      await expect(containers.get(ctx, 'c1')).rejects.toThrow('container "c1" in namespace "default": not found');
    } finally {
      await env.cleanup();
    }
  });
});
