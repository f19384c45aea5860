// Task bundles as containerd 1.6 lays them out: `<state>/<namespace>/<id>` holds
// config.json, rootfs/ (the shim mounts the root file system there), the shim's files
// (address, log fifo, shim-binary-path, runc's options.json) and a `work` symlink to the
// persistent work dir `<root>/<namespace>/<id>`.
import { constants } from 'node:fs';
import { chmod, chown, lstat, mkdir, readlink, rename, rm, rmdir, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { invalidArgument, isContainerdError } from '@containerd-ts/errdefs';
import { validateIdentifier } from '@containerd-ts/namespaces';
import { unmountAll } from '@containerd-ts/snapshots';
import { mknod } from '@containerd-ts/sys';

export const CONFIG_FILENAME = 'config.json';

export class Bundle {
  constructor(
    readonly id: string,
    readonly namespace: string,
    /** `<state>/<namespace>/<id>`. */
    readonly path: string,
    /** The work dir when the bundle has no `work` symlink to it (runtime v1's layout). */
    readonly workDir?: string,
  ) {}

  get rootfs(): string {
    return join(this.path, 'rootfs');
  }

  /** The shim's log fifo. */
  get logPath(): string {
    return join(this.path, 'log');
  }

  /**
   * Unmounts whatever is left on rootfs/, then removes the bundle and its work dir, each
   * renamed to a hidden name first so a crash never leaves a half-removed bundle that
   * looks like a live one.
   */
  async delete(): Promise<void> {
    const work = this.workDir ?? (await readlink(join(this.path, 'work')).catch(() => undefined));
    try {
      await unmountAll(this.rootfs);
    } catch (err) {
      throw new Error(`unmount rootfs ${this.rootfs}: ${(err as Error).message}`, { cause: err });
    }
    await rmdir(this.rootfs).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw new Error(`failed to remove bundle rootfs: ${err.message}`, { cause: err });
    });
    let bundleError: unknown;
    try {
      await atomicDelete(this.path);
    } catch (err) {
      bundleError = err;
    }
    if (work !== undefined) await atomicDelete(work);
    if (bundleError !== undefined) throw bundleError;
  }
}

/** Removes `path` after renaming it to `.<name>` beside it. */
async function atomicDelete(path: string): Promise<void> {
  const hidden = join(dirname(path), `.${basename(path)}`);
  try {
    await rename(path, hidden);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  await rm(hidden, { recursive: true, force: true });
}

/** The bundle of an existing task (nothing is read). */
export function loadBundle(state: string, namespace: string, id: string): Bundle {
  return new Bundle(id, namespace, join(state, namespace, id));
}

/**
 * The text Go's encoding/json gives for a spec that is not JSON, for the common cases
 * (input cut short, a bad first character); otherwise V8's own message.
 */
function goJsonError(text: string, err: Error): string {
  const at = /at position (\d+)/.exec(err.message);
  const position = at ? Number(at[1]) : undefined;
  if (/Unexpected end of JSON input/.test(err.message) || (position !== undefined && position >= text.trimEnd().length)) {
    return 'unexpected end of JSON input';
  }
  const first = text.trimStart()[0];
  if (first !== undefined && !'{["-0123456789tfn'.includes(first)) return `invalid character '${first}' looking for beginning of value`;
  return err.message;
}

/** The host GID that container GID 0 maps to in the spec's user namespace, 0 when none. */
function remappedGID(spec: Uint8Array): number {
  let parsed: { linux?: { gidMappings?: { containerID?: number; hostID?: number }[] } };
  const text = Buffer.from(spec).toString('utf8');
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch (err) {
    throw new Error(goJsonError(text, err as Error), { cause: err });
  }
  for (const m of parsed?.linux?.gidMappings ?? []) {
    if ((m.containerID ?? 0) === 0) return m.hostID ?? 0;
  }
  return 0;
}

/**
 * Creates a bundle for a new task; on any failure, removes what it created. With
 * `workLink: false` (runtime v1's layout) the bundle has no `work` symlink and keeps the
 * work dir's path itself.
 */
export async function newBundle(
  root: string,
  state: string,
  namespace: string,
  id: string,
  spec: Uint8Array,
  options: { workLink?: boolean } = {},
): Promise<Bundle> {
  const workLink = options.workLink ?? true;
  try {
    validateIdentifier(id);
  } catch (err) {
    const message = isContainerdError(err) ? err.message : String(err);
    throw invalidArgument(`invalid task id ${id}: ${message.replace(/: invalid argument$/, '')}`, err);
  }
  const work = join(root, namespace, id);
  const bundle = new Bundle(id, namespace, join(state, namespace, id), workLink ? undefined : work);
  const created: string[] = [];
  try {
    await mkdir(dirname(bundle.path), { recursive: true, mode: 0o711 });
    await mkdir(bundle.path, { mode: 0o700 });
    created.push(bundle.path);
    const gid = remappedGID(spec);
    if (gid !== 0) {
      await chown(bundle.path, -1, gid);
      await chmod(bundle.path, 0o710);
    }
    await mkdir(dirname(work), { recursive: true, mode: 0o711 });
    await mkdir(bundle.rootfs, { mode: 0o711 });
    try {
      await mkdir(work, { mode: 0o711 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      await rm(work, { recursive: true, force: true });
      await mkdir(work, { mode: 0o711 });
    }
    created.push(work);
    if (workLink) await symlink(work, join(bundle.path, 'work'));
    await writeFile(join(bundle.path, CONFIG_FILENAME), spec, { mode: 0o666 });
    return bundle;
  } catch (err) {
    for (const dir of created) await rm(dir, { recursive: true, force: true }).catch(() => {});
    throw err;
  }
}

/** Creates the bundle's log fifo (the shim opens it for writing and blocks until a reader is there). */
export async function createLogFifo(bundle: Bundle): Promise<void> {
  await createFifo(bundle.logPath);
}

/** Creates a fifo at `path` (mode 0700) unless one is there. */
export async function createFifo(path: string): Promise<void> {
  const exists = await lstat(path).then(
    (s) => s.isFIFO(),
    () => false,
  );
  if (!exists) mknod(path, constants.S_IFIFO | 0o700, 0);
}
