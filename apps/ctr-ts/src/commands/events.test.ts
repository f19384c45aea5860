// The event line format of `ctr events`: Go's time.Time String() and encoding/json of
// the generated event structs (json tags with omitempty, non-nullable times always written).
import { packAny, packFields, unpackFields } from '@containerd-ts/api';
import { TaskCreate, TaskExit } from '@containerd-ts/api/events/task';
import { describe, expect, it } from 'vitest';
import { goJson, goTimeString } from './events.js';

describe('ctr events formatting', () => {
  it("prints the envelope time as Go's time.Time String() in UTC", () => {
    const at = (nanos: number) => ({ seconds: 1795810086, nanos });
    expect(goTimeString(at(369_000_000))).toBe('2026-11-27 20:08:06.369 +0000 UTC');
    expect(goTimeString(at(370_000_000))).toBe('2026-11-27 20:08:06.37 +0000 UTC');
    expect(goTimeString(at(0))).toBe('2026-11-27 20:08:06 +0000 UTC');
    // Nanoseconds, as containerd stamps them.
    expect(goTimeString(at(257_613_003))).toBe('2026-11-27 20:08:06.257613003 +0000 UTC');
    expect(goTimeString(at(467_643_200))).toBe('2026-11-27 20:08:06.4676432 +0000 UTC');
  });

  it('leaves out empty fields but always writes times, sorts map keys and keeps empty map values', () => {
    const exit = packAny(TaskExit, TaskExit.fromPartial({ containerId: 'c1', id: 'c1', pid: 42, exitedAt: { seconds: 1_714_979_289, nanos: 120_000_500 } }));
    expect(goJson(unpackFields(exit).fields)).toBe('{"container_id":"c1","id":"c1","pid":42,"exited_at":"2024-05-06T07:08:09.1200005Z"}');
    const ns = packFields('containerd.events.NamespaceUpdate', { name: 'n', labels: { z: '1', a: '' } });
    expect(goJson(unpackFields(ns).fields)).toBe('{"name":"n","labels":{"a":"","z":"1"}}');
    expect(goJson(unpackFields(packFields('containerd.events.NamespaceCreate', { name: 'n', labels: {} })).fields)).toBe('{"name":"n"}');
  });

  it('writes nested messages, repeated fields and Any values as Go does', () => {
    const create = packFields('containerd.events.ContainerCreate', {
      id: 'x',
      image: 'docker.io/library/busybox:latest',
      runtime: { name: 'io.containerd.runc.v2', options: { type_url: 'containerd.runc.v1.Options', value: new Uint8Array([1, 2]) } },
    });
    expect(goJson(unpackFields(create).fields)).toBe(
      '{"id":"x","image":"docker.io/library/busybox:latest","runtime":{"name":"io.containerd.runc.v2","options":{"type_url":"containerd.runc.v1.Options","value":"AQI="}}}',
    );
    const task = packAny(
      TaskCreate,
      TaskCreate.fromPartial({
        containerId: 'c',
        bundle: '/run/b',
        rootfs: [{ type: 'overlay', source: 'overlay', options: ['ro'] }],
        io: { stdin: '', stdout: '/fifo/out', stderr: '', terminal: false },
        pid: 7,
      }),
    );
    expect(goJson(unpackFields(task).fields)).toBe(
      '{"container_id":"c","bundle":"/run/b","rootfs":[{"type":"overlay","source":"overlay","options":["ro"]}],"io":{"stdout":"/fifo/out"},"pid":7}',
    );
  });
});
