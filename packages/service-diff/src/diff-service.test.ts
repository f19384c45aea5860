import type { Descriptor, Differ } from '@containerd-ts/diff';
import { notImplemented } from '@containerd-ts/errdefs';
import { describe, expect, it } from 'vitest';
import { DiffService } from './diff-service.js';

const desc: Descriptor = { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: 'sha256:00', size: 0 };
const differ = (name: string, implemented: boolean): Differ => ({
  async apply() {
    if (!implemented) throw notImplemented(`${name} cannot`);
    return { ...desc, annotations: { by: name } };
  },
  async compare() {
    if (!implemented) throw notImplemented(`${name} cannot`);
    return { ...desc, annotations: { by: name } };
  },
});

describe('DiffService', () => {
  it('uses the first differ that implements the request, in configured order', async () => {
    const svc = new DiffService([
      { id: 'a', differ: differ('a', false) },
      { id: 'b', differ: differ('b', true) },
    ]);
    expect((await svc.apply({}, desc, [])).annotations).toEqual({ by: 'b' });
    expect((await svc.compare({}, [], [])).annotations).toEqual({ by: 'b' });
  });
  it('answers not implemented when no differ can, and passes other errors through', async () => {
    await expect(new DiffService([{ id: 'a', differ: differ('a', false) }]).apply({}, desc, [])).rejects.toThrow('not implemented');
    const failing: Differ = { apply: async () => Promise.reject(new Error('disk full')), compare: async () => desc };
    await expect(new DiffService([{ id: 'f', differ: failing }, { id: 'b', differ: differ('b', true) }]).apply({}, desc, [])).rejects.toThrow('disk full');
  });
});
