import { ContentService, type Info, ListContentResponse, ReadContentResponse } from '@containerd-ts/api/services/content';
import { describe, expect, it } from 'vitest';
import { contentServiceDefinition, encodeListContentResponse, encodeReadResponse } from './codec.js';

describe('Read response encoder', () => {
  it('produces the generated encoder bytes', () => {
    const cases = [
      { offset: 0, data: new Uint8Array() },
      { offset: 0, data: Buffer.from('x') },
      { offset: 127, data: Buffer.alloc(127, 1) },
      { offset: 128, data: Buffer.alloc(128, 2) },
      { offset: 1 << 20, data: Buffer.alloc(1 << 20, 3) },
      { offset: 2 ** 32 + 5, data: Buffer.alloc(300, 4) },
      { offset: Number.MAX_SAFE_INTEGER, data: Buffer.alloc(16385, 5) },
    ];
    for (const msg of cases) {
      const ours = encodeReadResponse(msg);
      expect(Buffer.from(ReadContentResponse.encode(msg).finish()).equals(ours)).toBe(true);
      const decoded = ReadContentResponse.decode(ours);
      expect(decoded.offset).toBe(msg.offset);
      expect(Buffer.from(decoded.data).equals(Buffer.from(msg.data))).toBe(true);
    }
    expect(() => encodeReadResponse({ offset: -1, data: new Uint8Array() })).toThrow(RangeError);
  });

  it('and the List encoder are the only changes to the generated definition', () => {
    expect(contentServiceDefinition.read.responseSerialize).toBe(encodeReadResponse);
    expect(contentServiceDefinition.list.responseSerialize).toBe(encodeListContentResponse);
    expect(contentServiceDefinition.list.requestDeserialize).toBe(ContentService.list.requestDeserialize);
    expect(contentServiceDefinition.write).toBe(ContentService.write);
    expect(Object.keys(contentServiceDefinition).sort()).toEqual(
      ['abort', 'delete', 'info', 'list', 'listStatuses', 'read', 'status', 'update', 'write'].sort(),
    );
  });
});

describe('List response encoder', () => {
  it('produces the generated encoder bytes', () => {
    const info: Info[] = Array.from({ length: 100 }, (_, i) => ({
      digest: i === 7 ? '' : `sha256:${i.toString(16).padStart(64, '0')}`,
      size: i === 3 ? 0 : i * 1_000_003,
      createdAt: { seconds: 1_733_335_403 + i, nanos: i * 13 },
      updatedAt: { seconds: -62_135_596_800, nanos: 0 },
      labels: i % 2 ? ({ 'containerd.io/gc.ref.content.l.0': `sha256:${'a'.repeat(64)}`, empty: '', ü: 'ß'.repeat(i) } as Record<string, string>) : {},
    }));
    for (const msg of [{ info }, { info: [] }]) {
      const ours = encodeListContentResponse(msg);
      expect(Buffer.from(ListContentResponse.encode(msg).finish()).equals(ours)).toBe(true);
    }
  });
});
