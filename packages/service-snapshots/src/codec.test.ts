import { type Info as ApiInfo, Kind as ApiKind, ListSnapshotsResponse } from '@containerd-ts/api/services/snapshots';
import { EncodedMessage } from '@containerd-ts/api/wire';
import { Kind } from '@containerd-ts/snapshots';
import { describe, expect, it } from 'vitest';
import { listSnapshotsWriter, snapshotsServiceDefinition } from './codec.js';
import { toApiInfo } from './grpc.js';

const info = (i: number, extra: Partial<{ name: string; parent: string; label: string; seconds: number; kind: ApiKind }> = {}): ApiInfo => ({
  name: extra.name ?? `sha256:${i.toString(16).padStart(64, '0')}`,
  parent: extra.parent ?? (i % 3 === 0 ? '' : `parent-${i - 1}`),
  kind: extra.kind ?? ([ApiKind.ACTIVE, ApiKind.VIEW, ApiKind.COMMITTED][i % 3] as ApiKind),
  createdAt: { seconds: extra.seconds ?? 1_733_335_403 + i, nanos: i * 1_000_003 },
  updatedAt: i === 2 ? undefined : { seconds: 1_733_335_403, nanos: 0 },
  labels: { 'containerd.io/gc.root': String(i), ...(extra.label !== undefined ? { [`k${i}`]: extra.label } : {}), '': 'empty key' },
});

describe('snapshots list encoder', () => {
  it('writes the bytes the generated encoder writes', () => {
    const infos = [
      info(0),
      info(1, { label: 'é∂ – unicode ☃'.repeat(5) }),
      info(2, { name: '', seconds: -62_135_596_800, kind: ApiKind.UNKNOWN }),
      info(3, { label: 'y'.repeat(20_000), parent: 'p'.repeat(300) }),
      info(4, { label: '🙂'.repeat(42) }),
      ...Array.from({ length: 300 }, (_, i) => info(i + 5)),
    ];
    const want = Buffer.from(ListSnapshotsResponse.encode({ info: infos }).finish());
    const got = snapshotsServiceDefinition.list.responseSerialize({ info: infos });
    expect(got.equals(want)).toBe(true);
    expect(ListSnapshotsResponse.decode(got).info.map((i) => i.name)).toEqual(infos.map((i) => i.name));
    expect(snapshotsServiceDefinition.list.responseSerialize({ info: [] }).length).toBe(0);
  });

  it("adds a snapshotter's Info as toApiInfo converts it, one page at a time", () => {
    const enc = listSnapshotsWriter();
    const infos = [Kind.Active, Kind.View, Kind.Committed].map((kind, i) => ({
      kind,
      name: `k${i}`,
      parent: i === 0 ? '' : 'base',
      labels: { a: String(i) },
      created: { seconds: 1_700_000_000 + i, nanos: 5 },
      updated: { seconds: 1_700_000_100, nanos: 0 },
    }));
    for (const i of infos) enc.add(i);
    expect(enc.count).toBe(3);
    const page = enc.take();
    expect(page).toBeInstanceOf(EncodedMessage);
    expect(page.bytes.equals(Buffer.from(ListSnapshotsResponse.encode({ info: infos.map(toApiInfo) }).finish()))).toBe(true);
    expect(snapshotsServiceDefinition.list.responseSerialize(page)).toBe(page.bytes);
    // The next page starts empty.
    expect(enc.count).toBe(0);
    enc.add(infos[2]!);
    expect(ListSnapshotsResponse.decode(enc.take().bytes).info.map((i) => i.name)).toEqual(['k2']);
  });
});
