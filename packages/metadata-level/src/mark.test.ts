// The mark phase against the data of containerd's own TestGCRoots and TestGCRefs
// (metadata/gc_test.go): the same records, the same set of marked objects.
import { digestOf } from '@containerd-ts/content';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeImageRecord } from './image-record.js';
import { encodeLeaseRecord } from './lease-record.js';
import { type GCNode, mark, nodeID } from './gc.js';
import { keys } from './index.js';
import { readRecordTime } from './records.js';
import type { LevelStore, Txn } from './store.js';
import { type TestEnv, createEnv } from './testing/env.js';

let env: TestEnv;
let store: LevelStore;
beforeEach(async () => {
  env = await createEnv();
  store = env.db.store;
});
afterEach(() => env.cleanup());

const dgst = (i: number) => digestOf(`blob-${i}`);
const at = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString();
const rfc3339 = (offsetMs: number) => at(offsetMs).replace(/\.\d+Z$/, 'Z');
const t = '2024-01-01T00:00:00.000Z';

type Alter = (tx: Txn) => void;
const image = (ns: string, name: string, target: string, labels?: Record<string, string>): Alter => (tx) =>
  tx.put(keys.imageKey(ns, name), encodeImageRecord({ target: { mediaType: 'x', digest: target, size: 1 }, labels: labels ?? {}, createdAt: readRecordTime(t), updatedAt: readRecordTime(t) }));
const container = (ns: string, id: string, snapshotter: string, snapshotKey: string, labels?: Record<string, string>): Alter => (tx) =>
  tx.putJSON(keys.containerKey(ns, id), { runtime: { name: 'r' }, snapshotter, snapshotKey, labels, createdAt: t, updatedAt: t });
const content = (ns: string, digest: string, labels?: Record<string, string>): Alter => (tx) =>
  tx.putJSON(keys.blobKey(ns, digest), { size: 1, labels, createdAt: t, updatedAt: t });
const ingest = (ns: string, ref: string, expected: string, expireAt?: string): Alter => (tx) =>
  tx.putJSON(keys.ingestKey(ns, ref), { ref: `${ns}/1/${ref}`, ...(expected ? { expected } : {}), ...(expireAt ? { expireAt } : {}) });
const snapshot = (ns: string, snapshotter: string, key: string, parent: string, labels?: Record<string, string>): Alter => (tx) =>
  tx.putJSON(keys.snapshotKey(ns, snapshotter, key), { name: `${ns}/${key}`, ...(parent ? { parent } : {}), labels, createdAt: t, updatedAt: t });
const lease = (ns: string, id: string, labels?: Record<string, string>): Alter => (tx) =>
  tx.put(keys.leaseKey(ns, id), encodeLeaseRecord({ createdAt: readRecordTime(t), labels: labels ?? {} }));
const leased = (ns: string, id: string, kind: keys.LeaseResourceKind, res: string): Alter => (tx) =>
  tx.put(keys.leasedKey(ns, id, kind, res), '');
// containerd's helpers create the lease when a resource is added to an unknown one.
const leaseContent = (ns: string, id: string, d: string): Alter[] => [lease(ns, id), leased(ns, id, 'content', d)];
const leaseSnapshot = (ns: string, id: string, sn: string, key: string): Alter[] => [lease(ns, id), leased(ns, id, `snapshots/${sn}`, key)];
const leaseIngest = (ns: string, id: string, ref: string): Alter[] => [leased(ns, id, 'ingests', ref)];

async function apply(alters: Array<Alter | Alter[]>): Promise<void> {
  await store.write(async (tx) => {
    for (const a of alters.flat()) a(tx);
  });
}

const node = (type: GCNode['type'], namespace: string, key: string) => nodeID({ type, namespace, key });

async function marked(): Promise<string[]> {
  const m = await mark(store.entries('v1/'));
  return [...m.reachable].filter((id) => !id.startsWith('image\0') && !id.startsWith('container\0')).sort();
}

describe('mark (containerd gc_test.go data)', () => {
  it('TestGCRoots: marks what the roots hold', async () => {
    const ref = 'containerd.io/gc.ref.content';
    const snapRef = 'containerd.io/gc.ref.snapshot.';
    await apply([
      image('ns1', 'image1', dgst(1)),
      image('ns1', 'image2', dgst(2), { [`${snapRef}overlay`]: 'sn2' }),
      image('ns2', 'image3', dgst(10), { [ref]: dgst(11) }),
      container('ns1', 'container1', 'overlay', 'sn4'),
      container('ns1', 'container2', 'overlay', 'sn5', { [`${snapRef}overlay`]: 'sn6' }),
      container('ns1', 'container3', 'overlay', 'sn7', {
        [`${snapRef}overlay/anything-1`]: 'sn8',
        [`${snapRef}overlay/anything-2`]: 'sn9',
        [ref]: dgst(7),
      }),
      container('ns1', 'container4', '', '', { [`${ref}.0`]: dgst(8), [`${ref}.1`]: dgst(9) }),
      content('ns1', dgst(1)),
      content('ns1', dgst(2)),
      content('ns1', dgst(3)),
      content('ns2', dgst(1)),
      content('ns2', dgst(2), { 'containerd.io/gc.root': 'always' }),
      content('ns2', dgst(8)),
      content('ns2', dgst(9)),
      ingest('ns1', 'ingest-1', ''),
      ingest('ns1', 'ingest-2', '', at(-1)),
      ingest('ns1', 'ingest-3', '', at(3600_000)),
      ingest('ns2', 'ingest-4', ''),
      ingest('ns2', 'ingest-5', dgst(8)),
      ingest('ns2', 'ingest-6', ''),
      ingest('ns2', 'ingest-7', dgst(9)),
      ...['sn1', 'sn2', 'sn4', 'sn5', 'sn6', 'sn7', 'sn8', 'sn9'].map((k) => snapshot('ns1', 'overlay', k, '')),
      snapshot('ns1', 'overlay', 'sn3', '', { 'containerd.io/gc.root': 'always' }),
      leaseSnapshot('ns2', 'l1', 'overlay', 'sn5'),
      leaseSnapshot('ns2', 'l2', 'overlay', 'sn6'),
      leaseContent('ns2', 'l1', dgst(4)),
      leaseContent('ns2', 'l2', dgst(5)),
      lease('ns2', 'l3', { 'containerd.io/gc.expire': rfc3339(3600_000) }),
      leased('ns2', 'l3', 'content', dgst(6)),
      leased('ns2', 'l3', 'snapshots/overlay', 'sn7'),
      leaseIngest('ns2', 'l3', 'ingest-4'),
      leaseIngest('ns2', 'l3', 'ingest-5'),
      lease('ns2', 'l4', { 'containerd.io/gc.expire': rfc3339(-1000) }),
      leased('ns2', 'l4', 'content', dgst(7)),
      leased('ns2', 'l4', 'snapshots/overlay', 'sn8'),
      leaseIngest('ns2', 'l4', 'ingest-6'),
      leaseIngest('ns2', 'l4', 'ingest-7'),
      lease('ns3', 'l1', { 'containerd.io/gc.flat': rfc3339(3600_000) }),
      leased('ns3', 'l1', 'content', dgst(1)),
      leased('ns3', 'l1', 'snapshots/overlay', 'sn1'),
      leaseIngest('ns3', 'l1', 'ingest-1'),
    ]);
    const expected = [
      node('content', 'ns1', dgst(1)),
      node('content', 'ns1', dgst(2)),
      node('content', 'ns1', dgst(7)),
      node('content', 'ns1', dgst(8)),
      node('content', 'ns1', dgst(9)),
      node('content', 'ns2', dgst(2)),
      node('content', 'ns2', dgst(4)),
      node('content', 'ns2', dgst(5)),
      node('content', 'ns2', dgst(6)),
      node('content', 'ns2', dgst(10)),
      node('content', 'ns2', dgst(11)),
      node('snapshot', 'ns1', 'overlay/sn2'),
      node('snapshot', 'ns1', 'overlay/sn3'),
      node('snapshot', 'ns1', 'overlay/sn4'),
      node('snapshot', 'ns1', 'overlay/sn5'),
      node('snapshot', 'ns1', 'overlay/sn6'),
      node('snapshot', 'ns1', 'overlay/sn7'),
      node('snapshot', 'ns1', 'overlay/sn8'),
      node('snapshot', 'ns1', 'overlay/sn9'),
      node('snapshot', 'ns2', 'overlay/sn5'),
      node('snapshot', 'ns2', 'overlay/sn6'),
      node('snapshot', 'ns2', 'overlay/sn7'),
      node('lease', 'ns2', 'l1'),
      node('lease', 'ns2', 'l2'),
      node('lease', 'ns2', 'l3'),
      node('ingest', 'ns1', 'ingest-3'),
      node('ingest', 'ns2', 'ingest-4'),
      node('ingest', 'ns2', 'ingest-5'),
      node('lease', 'ns3', 'l1'),
      node('ingest', 'ns3', 'ingest-1'),
      node('content', 'ns3', dgst(1)),
      node('snapshot', 'ns3', 'overlay/sn1'),
      // one step beyond the roots: the blob ingest-5 expects
      node('content', 'ns2', dgst(8)),
    ];
    expect(await marked()).toEqual(expected.sort());
  });

  it('TestGCRefs: follows content and snapshot label references and parents, not malformed names', async () => {
    const ref = 'containerd.io/gc.ref.content';
    const snapRef = 'containerd.io/gc.ref.snapshot.';
    const root = { 'containerd.io/gc.root': 'always' };
    await apply([
      content('ns1', dgst(1)),
      content('ns1', dgst(2)),
      content('ns1', dgst(3)),
      content('ns1', dgst(4), { ...root, [ref]: dgst(1) }),
      content('ns1', dgst(6), { ...root, [`${ref}bad`]: dgst(2) }),
      content('ns1', dgst(7), { ...root, [`${ref}/anything-1`]: dgst(3) }),
      snapshot('ns1', 'overlay', 'sn1', ''),
      snapshot('ns1', 'overlay', 'sn2', 'sn1'),
      snapshot('ns1', 'overlay', 'sn3', 'sn2', root),
      snapshot('ns1', 'overlay', 'sn4', '', { ...root, [`${snapRef}btrfs`]: 'sn1' }),
      snapshot('ns1', 'btrfs', 'sn1', ''),
      snapshot('ns1', 'btrfs', 'sn2', ''),
      snapshot('ns2', 'overlay', 'sn3', '', { ...root, [`${ref}.keep-me`]: dgst(6) }),
      content('ns2', dgst(6)),
      content('ns2', dgst(5)),
      // a flat lease holds a snapshot and its parents, but not what labels reference
      content('ns3', dgst(1)),
      content('ns3', dgst(2), { [`${ref}.0`]: dgst(1) }),
      snapshot('ns3', 'overlay', 'sn1', ''),
      snapshot('ns3', 'overlay', 'sn2', 'sn1', { [`${ref}.0`]: dgst(1) }),
      lease('ns3', 'flat', { 'containerd.io/gc.flat': 'yes' }),
      leased('ns3', 'flat', 'content', dgst(2)),
      leased('ns3', 'flat', 'snapshots/overlay', 'sn2'),
    ]);
    const m = await mark(store.entries('v1/'));
    const removed = m.unreachable.map((n) => `${n.namespace}/${n.type}/${n.key}`).sort();
    expect(removed).toEqual(
      [`ns1/content/${dgst(2)}`, 'ns1/snapshot/btrfs/sn2', `ns2/content/${dgst(5)}`, `ns3/content/${dgst(1)}`].sort(),
    );
  });
});
