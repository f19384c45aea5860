import { type Lease, ListResponse } from '@containerd-ts/api/services/leases';
import { WireWriter } from '@containerd-ts/api/wire';
import { writeLeaseFields } from '@containerd-ts/metadata-level';
import { describe, expect, it } from 'vitest';
import { leasesServiceDefinition, listStoredLeasesWriter } from './codec.js';

const lease = (i: number): Lease => ({
  id: i === 1 ? '' : `lease-${i}-${'é'.repeat(i % 5)}`,
  createdAt: i === 2 ? undefined : { seconds: i === 3 ? -62_135_596_800 : 1_733_335_403 + i, nanos: (i * 7_919) % 1_000_000_000 },
  labels: i % 3 ? { 'containerd.io/gc.expire': '2026-12-05T00:00:00Z', [`k${i}`]: 'v'.repeat(i * 3), '': '' } : ({} as Record<string, string>),
});

describe('leases list encoder', () => {
  it('writes the bytes the generated encoder writes', () => {
    const leases = Array.from({ length: 200 }, (_, i) => lease(i));
    const want = Buffer.from(ListResponse.encode({ leases }).finish());
    expect(leasesServiceDefinition.list.responseSerialize({ leases }).equals(want)).toBe(true);
    // from the records as the metadata store keeps them
    const list = listStoredLeasesWriter();
    for (const l of leases) {
      const w = new WireWriter(64);
      writeLeaseFields(w, l);
      list.add(l.id, w.finish().toString('latin1'));
    }
    const encoded = list.take();
    expect(encoded.bytes.equals(want)).toBe(true);
    expect(leasesServiceDefinition.list.responseSerialize(encoded)).toBe(encoded.bytes);
  });
});
