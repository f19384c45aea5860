// ctr-ts images mount/unmount: an image's rootfs (unpacked if need be) as a view (or, with
// --rw, an active snapshot) keyed by the target path, mounted there on this host, and held
// by a lease named after the target, as ctr images mount does; unmount [--rm] undoes it.
import { LeasesService } from '@containerd-ts/api/services/leases';
import { SnapshotsService } from '@containerd-ts/api/services/snapshots';
import type { Mount } from '@containerd-ts/api/types/mount';
import {
  type CallContext,
  type Descriptor,
  type ImageConfig,
  chainId,
  defaultPlatform,
  formatPlatform,
  formatRFC3339,
  parsePlatform,
  readContent,
  resolveManifest,
  unpackImage,
} from '@containerd-ts/client';
import { isAlreadyExists, isNotFound } from '@containerd-ts/errdefs';
import { ImagesService } from '@containerd-ts/api/services/images';
import { mountAll, unmountAll } from '@containerd-ts/snapshots';
import type { Command, Flag } from '../cli.js';
import { REGISTRY_FLAGS } from '../resolver.js';
import { CommandError, connect, globalOptions } from '../context.js';

const DEFAULT_SNAPSHOTTER = 'overlayfs';

// ctr's registry flags, which its mount and unmount commands list (and do not use: nothing is fetched).
const COMMON_FLAGS: Flag[] = [
  ...REGISTRY_FLAGS,
  { name: 'snapshotter', type: 'string', usage: 'snapshotter name. Empty value stands for the default value.', env: 'CONTAINERD_SNAPSHOTTER' },
  { name: 'label', type: 'string-slice', usage: 'labels to attach to the image' },
];

const fail = (err: unknown): never => {
  throw err instanceof CommandError ? err : new CommandError((err as Error).message);
};

const mountCommand: Command = {
  name: 'mount',
  usage: 'mount an image to a target path',
  argsUsage: '[flags] <ref> <target>',
  description: `Mount an image rootfs to a specified path.

When you are done, use the unmount command.
`,
  flags: [
    ...COMMON_FLAGS,
    { name: 'rw', type: 'bool', usage: 'Enable write support on the mount' },
    { name: 'platform', type: 'string', usage: 'Mount the image for the specified platform', value: formatPlatform(defaultPlatform()) },
  ],
  async action(ctx) {
    const [ref = '', target = ''] = ctx.args;
    if (ref === '') throw new CommandError('please provide an image reference to mount');
    if (target === '') throw new CommandError('please provide a target path to mount to');
    const opts = globalOptions(ctx);
    const conn = await connect(opts);
    const snapshotter = ctx.string('snapshotter') || DEFAULT_SNAPSHOTTER;
    const call: CallContext = { namespace: opts.namespace, lease: target };
    let created = false;
    try {
      // The lease is named after the target and holds the snapshot until `unmount --rm`.
      try {
        await conn.unary(
          LeasesService.create,
          {
            id: target,
            labels: {
              'containerd.io/gc.expire': formatRFC3339(new Date(Date.now() + 24 * 3600_000)),
              [`containerd.io/gc.ref.snapshot.${snapshotter}`]: target,
            },
          },
          { namespace: opts.namespace },
        );
        created = true;
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
      let platform: ReturnType<typeof parsePlatform>;
      try {
        platform = parsePlatform(ctx.string('platform'));
      } catch (err) {
        throw new CommandError(`unable to parse platform ${ctx.string('platform')}: ${(err as Error).message}`);
      }
      const image = (await conn.unary(ImagesService.get, { name: ref }, call)).image;
      const t = image?.target;
      const desc: Descriptor = { mediaType: t?.mediaType ?? '', digest: t?.digest ?? '', size: Number(t?.size ?? 0), annotations: t?.annotations };
      await unpackImage(conn, desc, { snapshotter, platform }, call).catch((err: unknown) => {
        throw new CommandError(`error unpacking image: ${(err as Error).message}`);
      });
      const { manifest } = await resolveManifest(conn, desc, platform, call);
      const config = JSON.parse((await readContent(conn, manifest.config.digest, call)).toString()) as ImageConfig;
      const chain = chainId(config.rootfs?.diff_ids ?? []);
      ctx.out(`${chain}\n`);
      let mounts: Mount[];
      try {
        const method = ctx.bool('rw') ? SnapshotsService.prepare : SnapshotsService.view;
        mounts = (await conn.unary(method, { snapshotter, key: target, parent: chain, labels: {} }, call)).mounts;
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        mounts = (await conn.unary(SnapshotsService.mounts, { snapshotter, key: target }, call)).mounts;
      }
      try {
        await mountAll(mounts, target);
      } catch (err) {
        await conn.unary(SnapshotsService.remove, { snapshotter, key: target }, call).catch((e: unknown) => {
          if (!isNotFound(e)) process.stderr.write(`Error cleaning up snapshot after mount error: ${(e as Error).message}\n`);
        });
        throw err;
      }
      ctx.out(`${target}\n`);
    } catch (err) {
      // A failed mount gives its lease back (an existing one stays, as ctr's).
      if (created) await conn.unary(LeasesService.delete, { id: target, sync: false }, { namespace: opts.namespace }).catch(() => {});
      fail(err);
    } finally {
      conn.close();
    }
  },
};

const unmountCommand: Command = {
  name: 'unmount',
  usage: 'unmount the image from the target',
  argsUsage: '[flags] <target>',
  description: 'Unmount the image rootfs from the specified target.',
  flags: [...COMMON_FLAGS, { name: 'rm', type: 'bool', usage: 'remove the snapshot after a successful unmount' }],
  async action(ctx) {
    const target = ctx.args[0] ?? '';
    if (target === '') throw new CommandError('please provide a target path to unmount from');
    const opts = globalOptions(ctx);
    const conn = await connect(opts);
    try {
      await unmountAll(target).catch(fail);
      if (ctx.bool('rm')) {
        const call: CallContext = { namespace: opts.namespace };
        await conn.unary(LeasesService.delete, { id: target, sync: false }, call).catch((err: unknown) => {
          if (!isNotFound(err)) throw new CommandError(`error deleting lease: ${(err as Error).message}`);
        });
        const snapshotter = ctx.string('snapshotter') || DEFAULT_SNAPSHOTTER;
        await conn.unary(SnapshotsService.remove, { snapshotter, key: target }, call).catch((err: unknown) => {
          if (!isNotFound(err)) throw new CommandError(`error removing snapshot: ${(err as Error).message}`);
        });
      }
      ctx.out(`${target}\n`);
    } finally {
      conn.close();
    }
  },
};

export const imagesMountCommands = { mount: mountCommand, unmount: unmountCommand };
