// Checks the .proto files and generated code of this package against containerd's own
// .proto files (Debian's golang-github-containerd-containerd-dev) when they and protoc
// are on the machine: same messages, fields, enums and services, and identical bytes.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DescEnum, type DescField, type DescMessage, type FileRegistry, createFileRegistry, fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { afterAll, describe, expect, it } from 'vitest';
import { Metrics as CgroupsV1Metrics } from './gen/github.com/containerd/cgroups/stats/v1/metrics.js';
import { TaskExit } from './gen/github.com/containerd/containerd/api/events/task.js';
import { Container } from './gen/github.com/containerd/containerd/api/services/containers/v1/containers.js';
import {
  ReadContentRequest,
  WriteAction,
  WriteContentRequest,
} from './gen/github.com/containerd/containerd/api/services/content/v1/content.js';
import { Plugin } from './gen/github.com/containerd/containerd/api/services/introspection/v1/introspection.js';
import { Info as SnapshotInfo, Kind } from './gen/github.com/containerd/containerd/api/services/snapshots/v1/snapshots.js';
import { StateResponse } from './gen/github.com/containerd/containerd/runtime/v2/task/shim.js';
import { Status } from './gen/github.com/containerd/containerd/api/types/task/task.js';
import { CreateOptions as V1CreateOptions } from './gen/github.com/containerd/containerd/runtime/linux/runctypes/runc.js';
import { StateResponse as V1StateResponse } from './gen/github.com/containerd/containerd/runtime/v1/shim/v1/shim.js';
import { Options as RuncOptions } from './gen/github.com/containerd/containerd/runtime/v2/runc/options/oci.js';
import { MAP_FIELD_NAMES, generatedModules, packAny } from './index.js';

const gocode = '/usr/share/gocode/src';
const containerdSrc = join(gocode, 'github.com/containerd/containerd');
const grpcProtoRoot = join(gocode, 'google.golang.org/grpc/debian/missing-sources/grpc/grpc-proto/master');
const healthProto = join(grpcProtoRoot, 'grpc/health/v1/health.proto');
const ourProtoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', 'proto');

const hasProtoc = (() => {
  try {
    execFileSync('protoc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const hasUpstream = existsSync(join(containerdSrc, 'api/services/content/v1/content.proto')) && existsSync(healthProto);
// scripts/setup.sh installs both; a missing tool is a failure here, never a silent skip.
if (!hasProtoc) throw new Error('protoc is not installed (Debian protobuf-compiler and libprotobuf-dev; scripts/setup.sh installs them)');
if (!hasUpstream) {
  throw new Error(
    `containerd's .proto files are missing under ${gocode} (Debian golang-github-containerd-containerd-dev and golang-google-grpc-dev; scripts/setup.sh installs them)`,
  );
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.proto') ? [join(dir, e.name)] : [],
  );
}

// Our files that mirror an upstream file at the same import path (the rest, like
// google/rpc/status.proto and grpc/health/v1/health.proto, are checked by name below).
const ourFiles = walk(ourProtoRoot).map((f) => relative(ourProtoRoot, f)).sort();
const mirrored = ourFiles.filter((f) => f.startsWith('github.com/'));

const upstreamIncludes = [
  gocode,
  join(gocode, 'github.com/gogo/protobuf'),
  join(gocode, 'github.com/gogo/googleapis'),
  grpcProtoRoot,
  '/usr/include',
];

describe('.proto sources', () => {
  it('keep every map field under a name the field-name helpers treat as a map', () => {
    for (const file of ourFiles) {
      const text = readFileSync(join(ourProtoRoot, file), 'utf8');
      for (const m of text.matchAll(/map<[^>]+>\s+(\w+)\s*=/g)) expect(MAP_FIELD_NAMES.has(m[1] ?? '')).toBe(true);
    }
  });

  it('carry no gogoproto options or imports', () => {
    for (const file of ourFiles) expect(readFileSync(join(ourProtoRoot, file), 'utf8')).not.toMatch(/gogo|fieldpath/);
  });
});

describe('wire identity with containerd 1.6', () => {
  const work = mkdtempSync(join(tmpdir(), 'api-wire-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const upstreamFile = (f: string): string => join(gocode, f);
  const upstreamFiles = mirrored.map(upstreamFile);

  function descriptorSet(includes: string[], files: string[], name: string): FileRegistry {
    const out = join(work, name);
    execFileSync('protoc', [...includes.map((i) => `-I${i}`), '--include_imports', `-o${out}`, ...files], { stdio: 'pipe' });
    return createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(out)));
  }

  const theirs = descriptorSet(upstreamIncludes, [...upstreamFiles, 'grpc/health/v1/health.proto'], 'theirs.pb');
  const ours = descriptorSet([ourProtoRoot, '/usr/include'], ourFiles.map((f) => join(ourProtoRoot, f)), 'ours.pb');

  const fieldShape = (f: DescField) => {
    const base = { no: f.number, name: f.name, kind: f.fieldKind, oneof: f.oneof?.name };
    switch (f.fieldKind) {
      case 'scalar':
        return { ...base, scalar: f.scalar };
      case 'enum':
        return { ...base, type: f.enum.typeName };
      case 'message':
        return { ...base, type: f.message.typeName };
      case 'list':
        return { ...base, list: f.listKind, packed: f.packed, scalar: f.scalar, type: f.message?.typeName ?? f.enum?.typeName };
      case 'map':
        return { ...base, key: f.mapKey, value: f.mapKind, scalar: f.scalar, type: f.message?.typeName ?? f.enum?.typeName };
    }
  };
  const messageShape = (m: DescMessage) => m.fields.map(fieldShape).sort((a, b) => a.no - b.no);
  const enumShape = (e: DescEnum) => e.values.map((v) => ({ name: v.name, no: v.number }));

  const typesIn = (registry: FileRegistry, files: string[]) => {
    const wanted = new Set(files);
    const messages = new Map<string, DescMessage>();
    const enums = new Map<string, DescEnum>();
    const services = new Map<string, ReturnType<FileRegistry['getService']>>();
    for (const file of registry.files) {
      if (!wanted.has(file.name + '.proto')) continue;
      const visit = (m: DescMessage) => {
        messages.set(m.typeName, m);
        for (const e of m.nestedEnums) enums.set(e.typeName, e);
        for (const nested of m.nestedMessages) visit(nested);
      };
      for (const m of file.messages) visit(m);
      for (const e of file.enums) enums.set(e.typeName, e);
      for (const s of file.services) services.set(s.typeName, s);
    }
    return { messages, enums, services };
  };

  const fileNames = [...mirrored, 'grpc/health/v1/health.proto'];
  const upstreamTypes = typesIn(theirs, fileNames);
  const ourTypes = typesIn(ours, fileNames);

  it('declares the same messages with the same fields, numbers and types', () => {
    expect([...ourTypes.messages.keys()].sort()).toEqual([...upstreamTypes.messages.keys()].sort());
    expect(upstreamTypes.messages.size).toBeGreaterThan(200);
    for (const [name, theirMessage] of upstreamTypes.messages) {
      const ourMessage = ourTypes.messages.get(name);
      expect(ourMessage, name).toBeDefined();
      if (ourMessage) expect({ name, fields: messageShape(ourMessage) }).toEqual({ name, fields: messageShape(theirMessage) });
    }
  });

  it('declares the same enums', () => {
    expect([...ourTypes.enums.keys()].sort()).toEqual([...upstreamTypes.enums.keys()].sort());
    for (const [name, theirEnum] of upstreamTypes.enums) {
      const ourEnum = ourTypes.enums.get(name);
      if (ourEnum) expect({ name, values: enumShape(ourEnum) }).toEqual({ name, values: enumShape(theirEnum) });
    }
  });

  it('declares the same services and methods with the same streaming', () => {
    const shape = (s: ReturnType<FileRegistry['getService']>) =>
      s?.methods.map((m) => ({ name: m.name, kind: m.methodKind, input: m.input.typeName, output: m.output.typeName }));
    expect([...ourTypes.services.keys()].sort()).toEqual([...upstreamTypes.services.keys()].sort());
    for (const [name, theirService] of upstreamTypes.services) {
      expect({ name, methods: shape(ourTypes.services.get(name)) }).toEqual({ name, methods: shape(theirService) });
    }
  });

  it('declares google.rpc.Status like googleapis', () => {
    const theirStatus = theirs.getMessage('google.rpc.Status');
    const ourStatus = ours.getMessage('google.rpc.Status');
    expect(theirStatus && ourStatus && messageShape(ourStatus)).toEqual(theirStatus && messageShape(theirStatus));
  });

  // protoc --encode with containerd's own .proto gives the reference bytes for a value in
  // text format; our generated encoder must produce the same bytes for the same value.
  const protocEncode = (typeName: string, protoFile: string, text: string): string =>
    execFileSync('protoc', [...upstreamIncludes.map((i) => `-I${i}`), `--encode=${typeName}`, protoFile], { input: text })
      .toString('hex');
  const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

  it('encodes the same bytes as protoc with the upstream .proto files', () => {
    const cases: Array<{ type: string; file: string; text: string; ours: Uint8Array }> = [
      {
        type: 'containerd.events.TaskExit',
        file: 'github.com/containerd/containerd/api/events/task.proto',
        text: 'container_id: "c1" id: "exec-1" pid: 4242 exit_status: 137 exited_at { seconds: 1700000000 nanos: 123000000 }',
        ours: TaskExit.encode(
          TaskExit.fromPartial({ containerId: 'c1', id: 'exec-1', pid: 4242, exitStatus: 137, exitedAt: { seconds: 1700000000, nanos: 123_000_000 } }),
        ).finish(),
      },
      {
        type: 'containerd.services.content.v1.WriteContentRequest',
        file: 'github.com/containerd/containerd/api/services/content/v1/content.proto',
        text: 'action: WRITE ref: "r" total: 5000000000 offset: 4096 data: "\\000\\001\\377" labels { key: "k" value: "v" }',
        ours: WriteContentRequest.encode(
          WriteContentRequest.fromPartial({
            action: WriteAction.WRITE,
            ref: 'r',
            total: 5_000_000_000,
            offset: 4096,
            data: new Uint8Array([0, 1, 255]),
            labels: { k: 'v' },
          }),
        ).finish(),
      },
      {
        type: 'containerd.services.content.v1.ReadContentRequest',
        file: 'github.com/containerd/containerd/api/services/content/v1/content.proto',
        text: 'digest: "sha256:abc" offset: 10 size: -1',
        ours: ReadContentRequest.encode(ReadContentRequest.fromPartial({ digest: 'sha256:abc', offset: 10, size: -1 })).finish(),
      },
      {
        type: 'containerd.services.containers.v1.Container',
        file: 'github.com/containerd/containerd/api/services/containers/v1/containers.proto',
        text:
          'id: "redis" labels { key: "env" value: "prod" } image: "redis:7" ' +
          'runtime { name: "io.containerd.runc.v2" options { type_url: "containerd.runc.v1.Options" value: "H\\001" } } ' +
          'snapshotter: "overlayfs" snapshot_key: "redis" created_at { seconds: 1714521600 } ' +
          'extensions { key: "x" value { type_url: "t" value: "\\001" } }',
        ours: Container.encode(
          Container.fromPartial({
            id: 'redis',
            labels: { env: 'prod' },
            image: 'redis:7',
            runtime: { name: 'io.containerd.runc.v2', options: packAny(RuncOptions, RuncOptions.fromPartial({ systemdCgroup: true })) },
            snapshotter: 'overlayfs',
            snapshotKey: 'redis',
            createdAt: { seconds: 1714521600, nanos: 0 },
            extensions: { x: { typeUrl: 't', value: new Uint8Array([1]) } },
          }),
        ).finish(),
      },
      {
        type: 'containerd.services.introspection.v1.Plugin',
        file: 'github.com/containerd/containerd/api/services/introspection/v1/introspection.proto',
        text:
          'type: "io.containerd.snapshotter.v1" id: "btrfs" platforms { os: "linux" architecture: "amd64" } ' +
          'init_err { code: 2 message: "skip plugin" }',
        ours: Plugin.encode(
          Plugin.fromPartial({
            type: 'io.containerd.snapshotter.v1',
            id: 'btrfs',
            platforms: [{ os: 'linux', architecture: 'amd64' }],
            initErr: { code: 2, message: 'skip plugin' },
          }),
        ).finish(),
      },
      {
        type: 'containerd.services.snapshots.v1.Info',
        file: 'github.com/containerd/containerd/api/services/snapshots/v1/snapshots.proto',
        text: 'name: "k" kind: COMMITTED',
        ours: SnapshotInfo.encode(SnapshotInfo.fromPartial({ name: 'k', kind: Kind.COMMITTED })).finish(),
      },
      {
        type: 'containerd.task.v2.StateResponse',
        file: 'github.com/containerd/containerd/runtime/v2/task/shim.proto',
        text: 'id: "c" pid: 7 status: PAUSED exec_id: "e"',
        ours: StateResponse.encode(StateResponse.fromPartial({ id: 'c', pid: 7, status: Status.PAUSED, execId: 'e' })).finish(),
      },
      {
        type: 'containerd.runtime.linux.shim.v1.StateResponse',
        file: 'github.com/containerd/containerd/runtime/v1/shim/v1/shim.proto',
        text: 'id: "c" bundle: "/b" pid: 7 status: STOPPED exit_status: 137 exited_at { seconds: 5 nanos: 6 }',
        ours: V1StateResponse.encode(
          V1StateResponse.fromPartial({ id: 'c', bundle: '/b', pid: 7, status: Status.STOPPED, exitStatus: 137, exitedAt: { seconds: 5, nanos: 6 } }),
        ).finish(),
      },
      {
        type: 'containerd.linux.runc.CreateOptions',
        file: 'github.com/containerd/containerd/runtime/linux/runctypes/runc.proto',
        text: 'no_pivot_root: true empty_namespaces: ["network"] shim_cgroup: "/x" io_uid: 1000 criu_image_path: "/i"',
        ours: V1CreateOptions.encode(
          V1CreateOptions.fromPartial({ noPivotRoot: true, emptyNamespaces: ['network'], shimCgroup: '/x', ioUid: 1000, criuImagePath: '/i' }),
        ).finish(),
      },
      {
        type: 'io.containerd.cgroups.v1.Metrics',
        file: 'github.com/containerd/cgroups/stats/v1/metrics.proto',
        text:
          'cpu { usage { total: 1099511627776 per_cpu: [1, 2, 300] } } pids { current: 3 } ' +
          'memory { hierarchical_memory_limit: 9223372036854771712 usage { limit: 18446744073709551615 } }',
        ours: CgroupsV1Metrics.encode(
          CgroupsV1Metrics.fromPartial({
            cpu: { usage: { total: 2n ** 40n, perCpu: [1n, 2n, 300n] } },
            pids: { current: 3n },
            memory: { hierarchicalMemoryLimit: 9223372036854771712n, usage: { limit: 2n ** 64n - 1n } },
          }),
        ).finish(),
      },
    ];
    for (const c of cases) expect({ type: c.type, hex: hex(c.ours) }).toEqual({ type: c.type, hex: protocEncode(c.type, c.file, c.text) });
  }, 30_000);
});

// Service paths: parsed straight from containerd's .proto text, so this does not depend
// on our .proto files at all.
describe('generated service definitions', () => {
  type MethodDef = { path: string; requestStream: boolean; responseStream: boolean };
  const isMethodDef = (v: unknown): v is MethodDef =>
    typeof v === 'object' && v !== null && typeof (v as Partial<MethodDef>).path === 'string';

  const generated = new Map<string, { requestStream: boolean; responseStream: boolean }>();
  for (const mod of Object.values(generatedModules)) {
    for (const [exportName, value] of Object.entries(mod)) {
      if (!exportName.endsWith('Service') || typeof value !== 'object' || value === null) continue;
      for (const method of Object.values(value)) {
        if (isMethodDef(method)) generated.set(method.path, { requestStream: method.requestStream, responseStream: method.responseStream });
      }
    }
  }

  const upstream = new Map<string, { requestStream: boolean; responseStream: boolean }>();
  const upstreamProtos = [
    ...walk(join(containerdSrc, 'api/services')),
    join(containerdSrc, 'runtime/v2/task/shim.proto'),
    join(containerdSrc, 'runtime/v1/shim/v1/shim.proto'),
    ...(existsSync(healthProto) ? [healthProto] : []),
  ];
  for (const file of upstreamProtos) {
    const text = readFileSync(file, 'utf8').replace(/\/\/.*$/gm, '');
    const pkg = /^\s*package\s+([\w.]+)\s*;/m.exec(text)?.[1];
    for (const svc of text.matchAll(/service\s+(\w+)\s*\{([\s\S]*?)\n\}/g)) {
      for (const rpc of (svc[2] ?? '').matchAll(/rpc\s+(\w+)\s*\(\s*(stream\s+)?[\w.]+\s*\)\s*returns\s*\(\s*(stream\s+)?[\w.]+\s*\)/g)) {
        upstream.set(`/${pkg}.${svc[1]}/${rpc[1]}`, { requestStream: Boolean(rpc[2]), responseStream: Boolean(rpc[3]) });
      }
    }
  }

  it('has every containerd method path, with the same streaming, and no others', () => {
    expect(upstream.size).toBeGreaterThanOrEqual(86);
    expect([...generated.keys()].sort()).toEqual([...upstream.keys()].sort());
    for (const [path, stream] of upstream) expect({ path, ...generated.get(path) }).toEqual({ path, ...stream });
  });

  it('names the paths containerd clients call', () => {
    for (const path of [
      '/containerd.services.content.v1.Content/Write',
      '/containerd.services.introspection.v1.Introspection/Plugins',
      '/containerd.services.version.v1.Version/Version',
      '/grpc.health.v1.Health/Check',
      '/containerd.services.events.ttrpc.v1.Events/Forward',
      '/containerd.task.v2.Task/Create',
    ]) {
      expect(generated.has(path), path).toBe(true);
    }
    expect(generated.get('/containerd.services.content.v1.Content/Write')).toEqual({ requestStream: true, responseStream: true });
  });
});
