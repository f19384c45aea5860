import { describe, expect, it } from 'vitest';
import { Metrics as CgroupsV1Metrics } from './gen/github.com/containerd/cgroups/stats/v1/metrics.js';
import { Metrics as CgroupsV2Metrics } from './gen/github.com/containerd/cgroups/v2/stats/metrics.js';
import { Container } from './gen/github.com/containerd/containerd/api/services/containers/v1/containers.js';
import {
  ReadContentRequest,
  WriteAction,
  WriteContentRequest,
  WriteContentResponse,
} from './gen/github.com/containerd/containerd/api/services/content/v1/content.js';
import { Plugin } from './gen/github.com/containerd/containerd/api/services/introspection/v1/introspection.js';
import { Info as SnapshotInfo, Kind } from './gen/github.com/containerd/containerd/api/services/snapshots/v1/snapshots.js';
import { Options as RuncOptions } from './gen/github.com/containerd/containerd/runtime/v2/runc/options/oci.js';
import { RUNTIME_SPEC_TYPE_URLS, packAny, packJson } from './index.js';

// Go's zero time.Time, which containerd sends for unset non-nullable timestamps.
const GO_ZERO_TIME = { seconds: -62135596800, nanos: 0 };

describe('generated messages', () => {
  it('round-trips a content write with 64-bit sizes, bytes and labels', () => {
    const req = WriteContentRequest.fromPartial({
      action: WriteAction.COMMIT,
      ref: 'ref-1',
      total: 5_000_000_000,
      expected: 'sha256:abc',
      offset: 4096,
      data: new Uint8Array([0, 1, 255]),
      labels: { 'containerd.io/gc.root': '2023' },
    });
    const bytes = WriteContentRequest.encode(req).finish();
    // The bytes protoc --encode produces from containerd's own content.proto for the same value.
    expect(Buffer.from(bytes).toString('hex')).toBe(
      '080212057265662d311880e497d012220a7368613235363a61626328802032030001ff3a1d0a15636f6e7461696e6572642e696f2f67632e726f6f74120432303233',
    );
    expect(WriteContentRequest.decode(bytes)).toEqual(req);
  });

  it('keeps negative int64 values', () => {
    const req = ReadContentRequest.fromPartial({ digest: 'sha256:abc', offset: 10, size: -1 });
    const decoded = ReadContentRequest.decode(ReadContentRequest.encode(req).finish());
    expect(decoded.size).toBe(-1);
  });

  it('round-trips timestamps to the nanosecond, including Go zero time', () => {
    const res = WriteContentResponse.fromPartial({
      action: WriteAction.STAT,
      startedAt: { seconds: 1704164645, nanos: 678_901_234 },
      updatedAt: GO_ZERO_TIME,
      offset: 1,
      total: 2,
    });
    const decoded = WriteContentResponse.decode(WriteContentResponse.encode(res).finish());
    expect(decoded.startedAt).toEqual({ seconds: 1704164645, nanos: 678_901_234 });
    expect(decoded.updatedAt).toEqual(GO_ZERO_TIME);
  });

  it('round-trips a container with Any fields and an Any map', () => {
    const container = Container.fromPartial({
      id: 'redis',
      labels: { env: 'prod' },
      image: 'docker.io/library/redis:7',
      runtime: { name: 'io.containerd.runc.v2', options: packAny(RuncOptions, RuncOptions.fromPartial({ systemdCgroup: true })) },
      spec: packJson(RUNTIME_SPEC_TYPE_URLS.Spec, { ociVersion: '1.0.2' }),
      snapshotter: 'overlayfs',
      snapshotKey: 'redis',
      createdAt: { seconds: 1714521600, nanos: 1 },
      updatedAt: { seconds: 1714521601, nanos: 999_999_999 },
      extensions: { 'example.com/ext': packAny(RuncOptions, RuncOptions.fromPartial({ root: '/run/x' })) },
    });
    expect(Container.decode(Container.encode(container).finish())).toEqual(container);
  });

  it('round-trips enums, nested status and packed repeated fields', () => {
    const info = SnapshotInfo.fromPartial({ name: 'sha256:1', parent: '', kind: Kind.COMMITTED, labels: { a: 'b' } });
    expect(SnapshotInfo.decode(SnapshotInfo.encode(info).finish())).toEqual(info);

    const plugin = Plugin.fromPartial({
      type: 'io.containerd.snapshotter.v1',
      id: 'btrfs',
      platforms: [{ os: 'linux', architecture: 'amd64' }],
      exports: { root: '/var/lib/containerd/io.containerd.snapshotter.v1.btrfs' },
      initErr: { code: 2, message: 'skip plugin: not a btrfs filesystem' },
    });
    expect(Plugin.decode(Plugin.encode(plugin).finish())).toEqual(plugin);

    const metrics = CgroupsV1Metrics.fromPartial({ cpu: { usage: { total: 2n ** 40n, perCpu: [1n, 2n, 3n] } } });
    expect(CgroupsV1Metrics.decode(CgroupsV1Metrics.encode(metrics).finish())).toEqual(metrics);
  });

  it('keeps cgroup "no limit" counters exact (they do not fit a JavaScript number)', () => {
    const v1 = CgroupsV1Metrics.fromPartial({ memory: { hierarchicalMemoryLimit: 9223372036854771712n } });
    expect(CgroupsV1Metrics.decode(CgroupsV1Metrics.encode(v1).finish()).memory?.hierarchicalMemoryLimit).toBe(9223372036854771712n);
    const v2 = CgroupsV2Metrics.fromPartial({ memory: { usageLimit: 2n ** 64n - 1n, swapLimit: 2n ** 64n - 1n } });
    expect(CgroupsV2Metrics.decode(CgroupsV2Metrics.encode(v2).finish()).memory?.usageLimit).toBe(18446744073709551615n);
  });
});
