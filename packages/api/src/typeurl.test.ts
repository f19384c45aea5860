import { isAlreadyExists, isInvalidArgument, isNotFound } from '@containerd-ts/errdefs';
import { describe, expect, it } from 'vitest';
import { ContainerCreate, ContainerUpdate } from './gen/github.com/containerd/containerd/api/events/container.js';
import { ImageCreate } from './gen/github.com/containerd/containerd/api/events/image.js';
import { TaskCreate, TaskExit } from './gen/github.com/containerd/containerd/api/events/task.js';
import { Options as RuncOptions } from './gen/github.com/containerd/containerd/runtime/v2/runc/options/oci.js';
import {
  EVENT_TOPICS,
  RUNTIME_SPEC_TYPE_URLS,
  TypeRegistry,
  eventCodecs,
  isType,
  packAny,
  packFields,
  packJson,
  typeRegistry,
  typeUrlOf,
  unpackAny,
  unpackAs,
  unpackFields,
} from './index.js';

const exit = TaskExit.fromPartial({
  containerId: 'c1',
  id: 'exec-1',
  pid: 4242,
  exitStatus: 137,
  exitedAt: { seconds: 1700000000, nanos: 123_000_000 },
});

describe('Any type URLs', () => {
  it('packs events under their bare protobuf full name, as containerd does', () => {
    const any = packAny(TaskExit, exit);
    expect(any.typeUrl).toBe('containerd.events.TaskExit');
    expect(Buffer.from(any.value).toString('hex')).toBe('0a0263311206657865632d311892212089012a0b0880e2cfaa0610c0a9d33a');
    expect(typeUrlOf(ImageCreate)).toBe('containerd.services.images.v1.ImageCreate');
  });

  it('unpacks to the decoded message and its type name', () => {
    const unpacked = unpackAny(packAny(TaskExit, exit));
    expect(unpacked.typeName).toBe('containerd.events.TaskExit');
    expect(unpacked.encoding).toBe('protobuf');
    expect(unpacked.value).toEqual(exit);
    expect(unpackAs(packAny(TaskExit, exit), TaskExit)).toEqual(exit);
    expect(isType(packAny(TaskExit, exit), TaskExit)).toBe(true);
    expect(isType(packAny(TaskExit, exit), TaskCreate)).toBe(false);
  });

  it('rejects unknown type URLs with errdefs not found', () => {
    let thrown: unknown;
    try {
      unpackAny({ typeUrl: 'example.com.Unknown', value: new Uint8Array() });
    } catch (err) {
      thrown = err;
    }
    expect(isNotFound(thrown)).toBe(true);
    expect((thrown as Error).message).toBe('type with url example.com.Unknown: not found');
  });

  it('refuses to unpack one type as another', () => {
    expect(() => unpackAs(packAny(TaskExit, exit), TaskCreate)).toThrow(/can't unmarshal type "containerd.events.TaskExit"/);
    try {
      unpackAs(packAny(TaskExit, exit), TaskCreate);
    } catch (err) {
      expect(isInvalidArgument(err)).toBe(true);
    }
  });

  it('accepts a type.googleapis.com/ prefix other clients may send', () => {
    const any = { typeUrl: 'type.googleapis.com/containerd.events.TaskExit', value: TaskExit.encode(exit).finish() };
    expect(unpackAny(any).value).toEqual(exit);
  });

  it('packs runtime-spec types as JSON under types.containerd.io URLs', () => {
    const spec = { ociVersion: '1.0.2-dev', process: { args: ['sh'] } };
    const any = packJson(RUNTIME_SPEC_TYPE_URLS.Spec, spec);
    expect(any.typeUrl).toBe('types.containerd.io/opencontainers/runtime-spec/1/Spec');
    expect(Buffer.from(any.value).toString()).toBe(JSON.stringify(spec));
    expect(unpackAny(any)).toEqual({ typeUrl: any.typeUrl, typeName: any.typeUrl, encoding: 'json', value: spec });
    expect(() => packJson('types.containerd.io/nope', {})).toThrow('type with url types.containerd.io/nope: not found');
  });

  it('has every containerd event message registered with its topic', () => {
    expect(eventCodecs.size).toBe(23);
    for (const [name, codec] of eventCodecs) {
      expect(codec.$type).toBe(name);
      expect(typeRegistry.has(name)).toBe(true);
      expect(EVENT_TOPICS[name]).toMatch(/^\/(containers|content|images|namespaces|snapshot|tasks)\/[a-z-]+$/);
    }
    expect(typeRegistry.has('containerd.runc.v1.Options')).toBe(true);
    expect(typeRegistry.has('io.containerd.cgroups.v1.Metrics')).toBe(true);
    expect(typeRegistry.has('io.containerd.cgroups.v2.Metrics')).toBe(true);
    // Map entries are not messages anyone packs.
    expect(typeRegistry.has('containerd.events.ContainerUpdate.LabelsEntry')).toBe(false);
  });

  it('registers custom types and refuses conflicting registrations', () => {
    const registry = new TypeRegistry();
    registry.registerType('example.com/runc-options', RuncOptions);
    registry.registerType('example.com/runc-options', RuncOptions);
    const any = registry.packAny(RuncOptions, RuncOptions.fromPartial({ binaryName: 'crun' }));
    expect(any.typeUrl).toBe('example.com/runc-options');
    expect(registry.unpackAny(any).value).toEqual(RuncOptions.fromPartial({ binaryName: 'crun' }));
    let thrown: unknown;
    try {
      registry.registerType('example.com/runc-options', TaskExit);
    } catch (err) {
      thrown = err;
    }
    expect(isAlreadyExists(thrown)).toBe(true);
    expect(() => registry.registerType('example.com/other', RuncOptions)).toThrow(/alternate url example.com\/runc-options/);
  });
});

describe('proto field names', () => {
  it('packs fields given by .proto name and unpacks them the same way', () => {
    const any = packFields('containerd.events.ContainerUpdate', {
      id: 'c1',
      image: 'docker.io/library/alpine:latest',
      labels: { some_label: 'x', camelCase: 'y' },
      snapshot_key: 'c1-snap',
    });
    expect(any.typeUrl).toBe('containerd.events.ContainerUpdate');
    expect(ContainerUpdate.decode(any.value)).toEqual({
      id: 'c1',
      image: 'docker.io/library/alpine:latest',
      labels: { some_label: 'x', camelCase: 'y' },
      snapshotKey: 'c1-snap',
    });
    expect(unpackFields(any)).toEqual({
      typeName: 'containerd.events.ContainerUpdate',
      fields: { id: 'c1', image: 'docker.io/library/alpine:latest', labels: { some_label: 'x', camelCase: 'y' }, snapshot_key: 'c1-snap' },
    });
  });

  it('renames nested messages and keeps Any payloads intact', () => {
    const options = packAny(RuncOptions, RuncOptions.fromPartial({ binaryName: 'runc', systemdCgroup: true }));
    const any = packFields('containerd.events.ContainerCreate', { id: 'c2', runtime: { name: 'io.containerd.runc.v2', options } });
    const decoded = ContainerCreate.decode(any.value);
    expect(decoded.runtime?.options?.typeUrl).toBe('containerd.runc.v1.Options');
    const { fields } = unpackFields(any);
    expect(fields).toEqual({
      id: 'c2',
      image: '',
      runtime: { name: 'io.containerd.runc.v2', options: { type_url: 'containerd.runc.v1.Options', value: options.value } },
    });
    expect(unpackFields(packAny(TaskExit, exit)).fields).toMatchObject({ container_id: 'c1', exit_status: 137, exited_at: exit.exitedAt });
  });
});
