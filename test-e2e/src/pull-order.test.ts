// The order in which the client library's pipelined pull downloads a manifest's blobs, seen
// through its events, against containerd-ts and Debian's containerd, from a loopback
// docker-registry: the bottom layer (smaller than HEAD_START) downloads alone and is unpacked
// while the big layer above it downloads; the big layer lets the next blob start once it
// has HEAD_START bytes stored, so the small top layer arrives before it. The pull stores
// the same image as always (checked through the daemon).
import { Connection, HEAD_START, type PullEvent, pullImage } from '@containerd-ts/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedDaemon, ctr, startDaemon, startReference } from './harness.js';
import { type FixtureImage, chainId, diffIdsOf, fixtureImage } from './image-fixture.js';
import { type Registry, pushImage, startRegistry } from './registry.js';

type Reference = Awaited<ReturnType<typeof startReference>>;

describe('pipelined pull: download order', () => {
  let registry: Registry;
  let daemon: StartedDaemon;
  let reference: Reference;
  let image: FixtureImage;
  let ref: string;

  beforeAll(async () => {
    registry = await startRegistry();
    image = fixtureImage({ compression: 'gzip', scale: 'full' });
    ref = await pushImage(registry, 'order', 'gzip', image);
    [daemon, reference] = await Promise.all([startDaemon(), startReference()]);
  }, 180_000);

  afterAll(async () => {
    await daemon?.cleanup();
    await reference?.stop();
    await registry?.stop();
  });

  it('the bottom layer downloads alone and unpacks while the big one downloads; the top one starts once the big one has its head start', async () => {
    const [bottom, big, top] = image.layers;
    // What the fixture must be for this test to say anything.
    expect(bottom!.size).toBeLessThan(HEAD_START);
    expect(big!.size).toBeGreaterThan(2 * HEAD_START);
    for (const socket of [daemon.socket, reference.socket]) {
      const conn = new Connection(socket, { namespace: 'pull-order' });
      try {
        const events: PullEvent[] = [];
        const pulled = await pullImage(conn, ref, { plainHttp: true, onEvent: (e) => events.push(e) }, { namespace: 'pull-order' });
        expect(pulled.chainId, socket).toBe(chainId(diffIdsOf(image)));
        const at = (type: PullEvent['type'], digest: string) =>
          events.findIndex((e) => e.type === type && ('desc' in e ? e.desc.digest : 'layer' in e ? e.layer.digest : '') === digest);
        // Every layer is fetched and unpacked once.
        for (const layer of image.layers) {
          expect(at('fetched', layer.digest), socket).toBeGreaterThanOrEqual(0);
          expect(at('unpacked', layer.digest), socket).toBeGreaterThanOrEqual(0);
        }
        // The big layer's first bytes come after the bottom one is stored…
        expect(at('progress', big!.digest), socket).toBeGreaterThan(at('fetched', bottom!.digest));
        // …whose unpack starts before the big one is stored.
        expect(at('unpacking', bottom!.digest), socket).toBeLessThan(at('fetched', big!.digest));
        // The top layer does not wait for the whole big one.
        expect(at('fetched', top!.digest), socket).toBeLessThan(at('fetched', big!.digest));
        const listed = await ctr(socket, '-n', 'pull-order', 'images', 'ls', '-q');
        expect(listed.stdout.trim(), socket).toBe(ref);
        expect((await ctr(socket, '-n', 'pull-order', 'images', 'rm', '--sync', ref)).code, socket).toBe(0);
      } finally {
        conn.close();
      }
    }
  }, 300_000);
});
