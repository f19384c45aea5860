import { type Image, ListImagesResponse } from '@containerd-ts/api/services/images';
import { EncodedMessage, WireWriter } from '@containerd-ts/api/wire';
import { writeImageFields } from '@containerd-ts/metadata-level';
import { describe, expect, it } from 'vitest';
import { imagesServiceDefinition, listStoredImagesWriter } from './codec.js';

const image = (i: number, extra: Partial<{ name: string; label: string; annotation: string; seconds: number }> = {}): Image => ({
  name: extra.name ?? `registry.example.com/app-${i}:v${i}`,
  labels: { 'bench.index': String(i), ...(extra.label !== undefined ? { [`k${i}`]: extra.label } : {}), '': 'empty key' },
  target: {
    mediaType: i % 2 ? 'application/vnd.oci.image.index.v1+json' : '',
    digest: `sha256:${i.toString(16).padStart(64, '0')}`,
    size: i === 3 ? 2 ** 40 + 7 : i,
    annotations: extra.annotation !== undefined ? { 'org.opencontainers.image.ref.name': extra.annotation, empty: '' } : ({} as Record<string, string>),
  },
  createdAt: { seconds: extra.seconds ?? 1_733_335_403 + i, nanos: i * 1_000_003 },
  updatedAt: i === 2 ? undefined : { seconds: 1_733_335_403, nanos: 0 },
});

/** An image's record as the metadata store keeps it. */
function stored(i: Image): string {
  const w = new WireWriter(64);
  writeImageFields(w, i);
  return w.finish().toString('latin1');
}

describe('images list encoder', () => {
  it('writes the bytes the generated encoder writes', () => {
    const images = [
      image(0),
      image(1, { label: 'é∂ – unicode ☃'.repeat(5), annotation: 'x'.repeat(200) }),
      image(2, { name: '', seconds: -62_135_596_800 }),
      image(3, { label: 'y'.repeat(20_000) }),
      image(4, { annotation: 'z'.repeat(130), label: '🙂'.repeat(42) }),
      ...Array.from({ length: 300 }, (_, i) => image(i + 5)),
    ];
    const want = Buffer.from(ListImagesResponse.encode({ images }).finish());
    const got = imagesServiceDefinition.list.responseSerialize({ images });
    expect(got.equals(want)).toBe(true);
    expect(ListImagesResponse.decode(got).images.map((i) => i.name)).toEqual(images.map((i) => i.name));
    expect(imagesServiceDefinition.list.responseSerialize({ images: [] }).length).toBe(0);
  });

  it('writes the same bytes from stored records (the name, then the record as stored)', () => {
    const images = [
      image(0),
      image(1, { label: 'é∂ – unicode ☃'.repeat(5), annotation: 'x'.repeat(200) }),
      image(2, { name: '' }),
      image(3, { label: 'y'.repeat(20_000) }),
      image(4, { annotation: 'z'.repeat(130), label: '🙂'.repeat(42) }),
    ];
    const list = listStoredImagesWriter();
    for (const i of images) list.add(i.name, stored(i));
    const want = Buffer.from(ListImagesResponse.encode({ images }).finish());
    expect(Buffer.from(list.take().bytes).equals(want)).toBe(true);
  });

  it('answers an already encoded list as it is', () => {
    const list = listStoredImagesWriter();
    list.add(image(9).name, stored(image(9)));
    const encoded = list.take();
    expect(encoded).toBeInstanceOf(EncodedMessage);
    expect(imagesServiceDefinition.list.responseSerialize(encoded)).toBe(encoded.bytes);
    expect(ListImagesResponse.decode(encoded.bytes).images[0]?.labels['bench.index']).toBe('9');
  });
});
