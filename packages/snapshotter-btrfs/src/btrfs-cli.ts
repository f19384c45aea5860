// The btrfs operations the snapshotter needs, through the btrfs(8) CLI: one command per
// snapshot operation (never per file), errors carrying the command's own message.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function exec(what: string, file: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run(file, args, { env: { ...process.env, LC_ALL: 'C' } });
    return stdout;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error(`${file}: executable file not found in $PATH`, { cause: err });
    const detail = (e.stderr ?? '').trim().replace(/^ERROR: /gm, '') || e.message;
    throw new Error(`${what}: ${detail}`, { cause: err });
  }
}

const btrfs = (...args: string[]): Promise<string> => exec(`btrfs ${args.join(' ')}`, 'btrfs', args);

function parseID(path: string, out: string): number {
  const id = Number(out.trim().split('\n').pop());
  if (!Number.isSafeInteger(id) || id <= 0) {
    throw new Error(`btrfs inspect-internal rootid ${path}: unexpected output ${JSON.stringify(out)}`);
  }
  return id;
}

/**
 * Runs `btrfs <args>` and then prints the subvolume ID of `path`, in one child process
 * (a shell running both): creating a subvolume and learning its ID cost one spawn.
 */
async function btrfsThenID(path: string, ...args: string[]): Promise<number> {
  const script = 'btrfs "$@" >/dev/null && exec btrfs inspect-internal rootid "$0"';
  return parseID(path, await exec(`btrfs ${args.join(' ')}`, '/bin/sh', ['-c', script, path, ...args]));
}

/** Creates an empty subvolume at `path`; returns its ID. */
export function subvolCreate(path: string): Promise<number> {
  return btrfsThenID(path, 'subvolume', 'create', path);
}

/** Snapshots subvolume `source` to `target`, read-only when asked; returns the new subvolume's ID. */
export function subvolSnapshot(target: string, source: string, readonly: boolean): Promise<number> {
  return btrfsThenID(target, 'subvolume', 'snapshot', ...(readonly ? ['-r'] : []), source, target);
}

/** Deletes the subvolumes at `paths` (one command). */
export async function subvolDelete(...paths: string[]): Promise<void> {
  if (paths.length > 0) await btrfs('subvolume', 'delete', ...paths);
}

/** Marks subvolume `path` read-only or writable. */
export async function subvolSetReadonly(path: string, readonly: boolean): Promise<void> {
  await btrfs('property', 'set', '-t', 'subvol', path, 'ro', readonly ? 'true' : 'false');
}

/** The ID of the subvolume `path` is in (what `subvolid=` mounts). */
export async function subvolID(path: string): Promise<number> {
  return parseID(path, await btrfs('inspect-internal', 'rootid', path));
}
