// Containers from images as containerd's client creates them (client.NewContainer with ctr's
// options): the image unpacked if it is not, a writable snapshot on its top layer, labels
// from the image and the caller, the runtime and its options, and the OCI spec generated
// from the defaults, the image config and the caller's options.
import { readFile, lstat } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import type { Any } from '@containerd-ts/api';
import { type Container, ContainersService } from '@containerd-ts/api/services/containers';
import { ImagesService } from '@containerd-ts/api/services/images';
import { NamespacesService } from '@containerd-ts/api/services/namespaces';
import { Options as RuncOptions } from '@containerd-ts/api/runtime/runc-options';
import { SnapshotsService } from '@containerd-ts/api/services/snapshots';
import { failedPrecondition, isNotFound } from '@containerd-ts/errdefs';
import { TasksService } from '@containerd-ts/api/services/tasks';
import type { CallContext, Connection } from './connection.js';
import { readContent } from './content.js';
import { type Descriptor, chainId } from './images.js';
import { withLease } from './lease.js';
import { type LinuxDevice, currentCapabilities, getDevices } from './host-linux.js';
import { type Platform, defaultPlatform } from './platforms.js';
import { defaultSeccompProfile } from './seccomp.js';
import { resolveManifest, unpackImage } from './pull.js';
import {
  type ImageRuntimeConfig,
  type Mount,
  type Namespace,
  type RootfsReader,
  SPEC_TYPE_URL,
  type Spec,
  defaultSpec,
  marshalSpec,
  replaceOrAppendEnv,
  withAddedCapabilities,
  withAnnotations,
  withCPUCFS,
  withCPUShares,
  withDefaultUnixDevices,
  withDroppedCapabilities,
  withEnv,
  withHostFiles,
  withHostNamespace,
  withImageConfig,
  withLinuxNamespace,
  withMemoryLimit,
  withTTY,
  withUser,
  withUserNamespace,
} from './spec.js';
import { type IDMapping, prepareRemappedSnapshot, remapperLabels } from './remap.js';

export const DEFAULT_RUNTIME = 'io.containerd.runc.v2';
export const DEFAULT_SNAPSHOTTER = 'overlayfs';
/** The namespace label naming its default snapshotter. */
export const DEFAULT_SNAPSHOTTER_LABEL = 'containerd.io/defaults/snapshotter';
export const STOP_SIGNAL_LABEL = 'io.containerd.image.config.stop-signal';
const RUNC_OPTIONS_TYPE_URL = 'containerd.runc.v1.Options';

/** What a container is created with; every field is optional except the image. */
export interface ContainerOptions {
  /** The image record's name. */
  image: string;
  /** Empty: the namespace's default snapshotter label, else overlayfs. */
  snapshotter?: string;
  snapshotterLabels?: Record<string, string>;
  /** Container labels (over the image's); also the spec's annotations, as ctr writes them. */
  labels?: Record<string, string>;
  runtime?: string;
  /** runc options (for io.containerd.runc.v2): binary, root, systemd cgroups. */
  runc?: { binaryName?: string; root?: string; systemdCgroup?: boolean };
  platform?: Platform;
  /** Process arguments instead of the image's entrypoint and cmd. */
  args?: string[];
  env?: string[];
  /** Lines of a file of environment variables (applied before `env`). */
  envFile?: string[];
  cwd?: string;
  mounts?: Mount[];
  tty?: boolean;
  readOnly?: boolean;
  /** The host's network namespace, /etc/hosts, /etc/resolv.conf and HOSTNAME. */
  netHost?: { hostname: string };
  /** A user (`name`, `uid`, `name:group`, `uid:gid`) looked up in the image's /etc/passwd. */
  user?: string;
  memoryLimit?: number;
  /** CFS quota in CPUs (period 100000). */
  cpus?: number;
  cpuShares?: number;
  cpuQuota?: number;
  cpuPeriod?: number;
  capAdd?: string[];
  capDrop?: string[];
  annotations?: Record<string, string>;
  allowNewPrivileges?: boolean;
  /** The cgroup path (default `/<namespace>/<id>`; '' for none). */
  cgroup?: string;
  joinNamespaces?: Namespace[];
  rootfsPropagation?: string;
  /**
   * A directory as the container's root instead of an image (ctr's `--rootfs`): no image,
   * no snapshot, no image config; `image` is not read.
   */
  rootfs?: string;
  /**
   * A complete spec (ctr's `--config`, oci.WithSpecFromFile): used as it is, with `labels`
   * as its annotations; no image or snapshot, and every other spec option is ignored.
   */
  spec?: Spec;
  /** oci.WithPrivileged, WithAllDevicesAllowed, WithHostDevices: this process's capabilities and every device of /dev. */
  privileged?: boolean;
  /** Device nodes or directories of them (oci.WithDevices(path, "", "rwm")). */
  devices?: string[];
  /** A seccomp profile: `true` for containerd's default one, else the profile (specs.LinuxSeccomp as decoded JSON). */
  seccomp?: true | Record<string, unknown>;
  /**
   * A user namespace (ctr's `--uidmap`/`--gidmap`, oci.WithUserNamespace): the mappings in
   * the spec and, for an image, a snapshot whose files belong to the mapped IDs — the
   * shared remapped snapshot `<chainID>-<uid>-<gid>` (WithRemappedSnapshot; a view with
   * `readOnlySnapshot`), or with `remapLabels` a plain snapshot labelled with the mapping
   * for a snapshotter that shifts ownership itself (WithRemapperLabels). Ignored with
   * `rootfs` or `spec`, as ctr ignores it.
   */
  userNamespace?: { uidMap: IDMapping; gidMap: IDMapping; remapLabels?: boolean; readOnlySnapshot?: boolean };
  /** A last change to the spec. */
  specOpt?: (spec: Spec) => void | Promise<void>;
}

/** The runtime options Any ctr sends for runc v2 (an empty Options message unless set). */
export function runcOptionsAny(o: ContainerOptions['runc'] = {}): Any {
  const msg = RuncOptions.fromPartial({ binaryName: o.binaryName ?? '', root: o.root ?? '', systemdCgroup: o.systemdCgroup ?? false });
  return { typeUrl: RUNC_OPTIONS_TYPE_URL, value: Buffer.from(RuncOptions.encode(msg).finish()) };
}

/** The snapshotter a container gets when none is named: the namespace's label, else overlayfs. */
export async function resolveSnapshotter(conn: Connection, namespace: string, name = '', ctx: CallContext = {}): Promise<string> {
  if (name) return name;
  try {
    const ns = await conn.unary(NamespacesService.get, { name: namespace }, ctx);
    return ns.namespace?.labels[DEFAULT_SNAPSHOTTER_LABEL] || DEFAULT_SNAPSHOTTER;
  } catch {
    return DEFAULT_SNAPSHOTTER;
  }
}

/** An image's platform manifest, config descriptor and parsed config. */
export async function imageConfig(
  conn: Connection,
  target: Descriptor,
  platform: Platform,
  ctx: CallContext = {},
): Promise<{ config: Descriptor; diffIds: string[]; runtime: ImageRuntimeConfig }> {
  const { manifest } = await resolveManifest(conn, target, platform, ctx);
  const raw = JSON.parse((await readContent(conn, manifest.config.digest, ctx)).toString()) as {
    config?: ImageRuntimeConfig;
    rootfs?: { diff_ids?: string[] };
  };
  return { config: manifest.config, diffIds: raw.rootfs?.diff_ids ?? [], runtime: raw.config ?? {} };
}

/**
 * Reads files of a snapshot's tree without mounting it where the mounts allow (a bind mount's
 * source; an overlay's upper then lower directories, a whiteout hiding a file).
 */
export function snapshotReader(mounts: ReadonlyArray<{ type: string; source: string; options: string[] }>): RootfsReader {
  const dirs: string[] = [];
  for (const m of mounts) {
    if (m.type === 'bind' || m.type === 'rbind') dirs.push(m.source);
    else if (m.type === 'overlay') {
      for (const o of m.options) if (o.startsWith('upperdir=')) dirs.push(o.slice(9));
      for (const o of m.options) if (o.startsWith('lowerdir=')) dirs.push(...o.slice(9).split(':'));
    }
  }
  return async (path) => {
    const rel = normalize(`/${path}`);
    for (const d of dirs) {
      const p = join(d, rel);
      const st = await lstat(p).catch(() => undefined);
      if (!st) continue;
      if (st.isCharacterDevice() && st.rdev === 0) return undefined;
      return readFile(p, 'utf8');
    }
    return undefined;
  };
}

/** The spec ctr generates for a container from an image (oci.GenerateSpec with ctr's options). */
export async function generateContainerSpec(
  namespace: string,
  id: string,
  image: { runtime: ImageRuntimeConfig },
  opts: Omit<ContainerOptions, 'image'>,
  read: RootfsReader,
): Promise<Spec> {
  const s = defaultSpec(namespace, id);
  withDefaultUnixDevices(s);
  if (opts.envFile) withEnv(s, opts.envFile);
  withEnv(s, opts.env ?? []);
  s.mounts = [...(s.mounts ?? []), ...(opts.mounts ?? [])];
  if (opts.rootfs !== undefined) s.root = { ...s.root, path: opts.rootfs };
  else {
    await withImageConfig(s, image.runtime, read);
    if (opts.userNamespace) withUserNamespace(s, [opts.userNamespace.uidMap], [opts.userNamespace.gidMap]);
  }
  if (opts.readOnly) s.root = { path: s.root?.path ?? '', readonly: true };
  if (opts.args && opts.args.length > 0) s.process!.args = [...opts.args];
  if (opts.cwd) s.process!.cwd = opts.cwd;
  if (opts.tty) withTTY(s);
  if (opts.privileged) withPrivileged(s);
  if (opts.netHost) {
    withHostNamespace(s, 'network');
    withHostFiles(s);
    withEnv(s, [`HOSTNAME=${opts.netHost.hostname}`]);
  }
  if (opts.annotations && Object.keys(opts.annotations).length > 0) withAnnotations(s, opts.annotations);
  if (opts.capAdd && opts.capAdd.length > 0) withAddedCapabilities(s, opts.capAdd);
  if (opts.capDrop && opts.capDrop.length > 0) withDroppedCapabilities(s, opts.capDrop);
  if (opts.seccomp === true) s.linux = { ...s.linux, seccomp: defaultSeccompProfile(s) };
  else if (opts.seccomp) s.linux = { ...s.linux, seccomp: opts.seccomp };
  if (opts.cpus && opts.cpus > 0) withCPUCFS(s, Math.trunc(opts.cpus * 100000), 100000);
  if (opts.cpuShares && opts.cpuShares > 0) withCPUShares(s, opts.cpuShares);
  if ((opts.cpuQuota !== undefined && opts.cpuQuota !== -1) || (opts.cpuPeriod !== undefined && opts.cpuPeriod !== 0)) {
    withCPUCFS(s, opts.cpuQuota ?? -1, opts.cpuPeriod ?? 0);
  }
  for (const ns of opts.joinNamespaces ?? []) withLinuxNamespace(s, ns);
  if (opts.allowNewPrivileges) s.process!.noNewPrivileges = false;
  if (opts.cgroup !== undefined) s.linux = { ...s.linux, cgroupsPath: opts.cgroup };
  if (opts.memoryLimit) withMemoryLimit(s, opts.memoryLimit);
  for (const path of opts.devices ?? []) withDevices(s, getDevices(path), 'rwm');
  if (opts.rootfsPropagation && s.linux) s.linux.rootfsPropagation = opts.rootfsPropagation;
  if (opts.user) await withUser(s, opts.user, read);
  withAnnotations(s, opts.labels ?? {});
  await opts.specOpt?.(s);
  return s;
}

/** oci.WithPrivileged + WithAllDevicesAllowed + WithHostDevices. */
function withPrivileged(s: Spec): void {
  const caps = currentCapabilities();
  s.process!.capabilities = { ...s.process!.capabilities, bounding: caps, effective: [...caps], permitted: [...caps] };
  s.linux ??= {};
  const linux = s.linux;
  linux.maskedPaths = undefined;
  linux.readonlyPaths = undefined;
  for (const m of s.mounts ?? []) {
    if (m.type === 'sysfs' || m.type === 'cgroup') m.options = m.options?.map((o) => (o === 'ro' ? 'rw' : o));
  }
  s.process!.selinuxLabel = '';
  s.process!.apparmorProfile = '';
  linux.seccomp = undefined;
  linux.resources = { ...linux.resources, devices: [{ allow: true, access: 'rwm' }] };
  linux.devices = [...(linux.devices ?? []), ...getDevices('/dev')];
}

/** oci.WithDevices: the devices and a cgroup rule allowing each. */
function withDevices(s: Spec, devices: LinuxDevice[], access: string): void {
  s.linux ??= {};
  const linux = s.linux;
  linux.devices = [...(linux.devices ?? []), ...devices];
  linux.resources = {
    ...linux.resources,
    devices: [...(linux.resources?.devices ?? []), ...devices.map((d) => ({ allow: true, type: d.type, major: d.major, minor: d.minor, access }))],
  };
}

/**
 * A container whose spec does not come from an image (`--rootfs` or `--config`): no
 * snapshot, the caller's labels only. The spec is `opts.spec` (with the labels as
 * annotations) or generated for a rootfs directory.
 */
async function createImagelessContainer(conn: Connection, namespace: string, id: string, opts: ContainerOptions, call: CallContext): Promise<Container> {
  let spec: Spec;
  if (opts.spec) {
    spec = opts.spec;
    withAnnotations(spec, opts.labels ?? {});
  } else {
    spec = await generateContainerSpec(namespace, id, { runtime: {} }, opts, async () => undefined);
  }
  const runtime = opts.runtime || DEFAULT_RUNTIME;
  const container: Container = {
    id,
    labels: { ...(opts.labels ?? {}) },
    image: '',
    runtime: { name: runtime, options: runtime === DEFAULT_RUNTIME ? runcOptionsAny(opts.runc) : undefined },
    spec: { typeUrl: SPEC_TYPE_URL, value: marshalSpec(spec) },
    snapshotter: '',
    snapshotKey: '',
    createdAt: undefined,
    updatedAt: undefined,
    extensions: {},
  };
  const created = await conn.unary(ContainersService.create, { container }, call);
  return created.container ?? container;
}

/**
 * client.NewContainer as ctr calls it: under a lease, the image unpacked into the
 * snapshotter if it is not, a snapshot `id` prepared on its top layer, the spec generated,
 * and the container record created. Returns the record.
 */
export async function createContainer(conn: Connection, namespace: string, id: string, opts: ContainerOptions, ctx: CallContext = {}): Promise<Container> {
  const call: CallContext = { ...ctx, namespace };
  if (opts.spec || opts.rootfs !== undefined) return createImagelessContainer(conn, namespace, id, opts, call);
  const { image } = await conn.unary(ImagesService.get, { name: opts.image }, call);
  if (!image?.target) throw new Error(`image "${opts.image}": not found`);
  const target: Descriptor = { mediaType: image.target.mediaType, digest: image.target.digest, size: image.target.size, annotations: image.target.annotations };
  const platform = opts.platform ?? defaultPlatform();
  const snapshotter = await resolveSnapshotter(conn, namespace, opts.snapshotter, call);
  return withLease(conn, call, async (lctx) => {
    const cfg = await imageConfig(conn, target, platform, lctx);
    const parent = chainId(cfg.diffIds);
    const unpacked = await conn.unary(SnapshotsService.stat, { snapshotter, key: parent }, lctx).then(
      () => true,
      (err: unknown) => {
        if (isNotFound(err)) return false;
        throw err;
      },
    );
    if (!unpacked) await unpackImage(conn, target, { snapshotter, platform }, lctx);
    const userns = opts.userNamespace;
    let mounts: Array<{ type: string; source: string; options: string[] }>;
    if (userns && !userns.remapLabels) {
      mounts = await prepareRemappedSnapshot(
        conn,
        { snapshotter, key: id, parent, uid: userns.uidMap.hostID, gid: userns.gidMap.hostID, readOnly: userns.readOnlySnapshot },
        lctx,
      );
    } else {
      const labels = userns ? remapperLabels(0, userns.uidMap.hostID, 0, userns.gidMap.hostID, userns.uidMap.size) : (opts.snapshotterLabels ?? {});
      mounts = (await conn.unary(SnapshotsService.prepare, { snapshotter, key: id, parent, labels }, lctx)).mounts;
    }
    try {
      const spec = await generateContainerSpec(namespace, id, cfg, opts, snapshotReader(mounts));
      // WithImageConfigLabels, then the image record's labels and the caller's over them.
      const labels: Record<string, string> = { ...(cfg.runtime.Labels ?? {}), ...image.labels, ...(opts.labels ?? {}) };
      labels[STOP_SIGNAL_LABEL] = cfg.runtime.StopSignal || 'SIGTERM';
      const runtime = opts.runtime || DEFAULT_RUNTIME;
      const container: Container = {
        id,
        labels,
        image: image.name,
        runtime: { name: runtime, options: runtime === DEFAULT_RUNTIME ? runcOptionsAny(opts.runc) : undefined },
        spec: { typeUrl: SPEC_TYPE_URL, value: marshalSpec(spec) },
        snapshotter,
        snapshotKey: id,
        createdAt: undefined,
        updatedAt: undefined,
        extensions: {},
      };
      const created = await conn.unary(ContainersService.create, { container }, lctx);
      return created.container ?? container;
    } catch (err) {
      await conn.unary(SnapshotsService.remove, { snapshotter, key: id }, lctx).catch(() => {});
      throw err;
    }
  });
}

/** A container record, or errdefs `not found`. */
export async function getContainer(conn: Connection, id: string, ctx: CallContext = {}): Promise<Container> {
  const { container } = await conn.unary(ContainersService.get, { id }, ctx);
  if (!container) throw new Error(`container "${id}" in namespace: not found`);
  return container;
}

/** The container's spec decoded from its Any. */
export function containerSpec(c: Container): Spec | undefined {
  if (!c.spec?.value || c.spec.value.length === 0) return undefined;
  return JSON.parse(Buffer.from(c.spec.value).toString()) as Spec;
}

/**
 * container.Delete with WithSnapshotCleanup: refused while the container has a task
 * (`cannot delete running task <id>: failed precondition`); its snapshot is removed (unless
 * `keepSnapshot`), then the record.
 */
export async function deleteContainer(conn: Connection, id: string, opts: { keepSnapshot?: boolean } = {}, ctx: CallContext = {}): Promise<void> {
  const hasTask = await conn.unary(TasksService.get, { containerId: id, execId: '' }, ctx).then(
    () => true,
    () => false,
  );
  if (hasTask) throw failedPrecondition(`cannot delete running task ${id}`);
  const c = await getContainer(conn, id, ctx);
  if (!opts.keepSnapshot && c.snapshotter && c.snapshotKey) {
    await conn.unary(SnapshotsService.remove, { snapshotter: c.snapshotter, key: c.snapshotKey }, ctx).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  }
  await conn.unary(ContainersService.delete, { id }, ctx);
}

export { replaceOrAppendEnv };
