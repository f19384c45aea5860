// The daemon's top-level directories, as containerd creates them: root 0700 (image blobs
// and the metadata database are private), state 0711 (plugins make their own directories
// beneath it, some reachable by remapped container users). An existing directory that is
// more open than that is tightened with a warning; one that is already tighter is left so.
import { chmod, mkdir, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Logger } from '@containerd-ts/plugin';

/** containerd's modes for the root and state directories. */
export const ROOT_MODE = 0o700;
export const STATE_MODE = 0o711;

/** mkdir -p one level at a time with `mode` (as Go's MkdirAll), so the real error (EROFS, EACCES, ENOTDIR) surfaces. */
async function mkdirs(dir: string, mode: number): Promise<void> {
  const missing: string[] = [];
  let at = resolve(dir);
  while (!(await stat(at).then(() => true, () => false))) {
    missing.unshift(at);
    const up = dirname(at);
    if (up === at) break;
    at = up;
  }
  for (const d of missing) {
    await mkdir(d, { mode }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  }
}

const octal = (mode: number) => `0${(mode & 0o7777).toString(8)}`;

/**
 * Creates `dir` with at most `mode`, removes any permission bit beyond `mode` from an
 * existing one (logging a warning), and checks the daemon can write in it.
 * Rejects with a one-line error naming the directory.
 */
export async function preparePrivateDir(kind: 'root' | 'state', dir: string, mode: number, log: Logger): Promise<void> {
  try {
    await mkdirs(dir, mode);
    const st = await stat(dir);
    if (!st.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    const current = st.mode & 0o7777;
    // only the rwx bits are tightened; setgid or sticky bits an operator set are kept
    const tightened = (current & ~0o777) | (current & mode);
    if (tightened !== current) {
      await chmod(dir, tightened);
      log.warn({ path: dir, from: octal(current), to: octal(tightened) }, `${kind} directory was more open than ${octal(mode)}: permissions tightened`);
    }
    const probe = `${dir}/.containerd-ts-probe-${process.pid}`;
    await writeFile(probe, '');
    await unlink(probe);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new Error(`${kind} directory ${dir} is not writable: ${code}`);
  }
}

/**
 * Creates (or tightens) the root and state directories as containerd does; `onRoot` runs
 * once root is ready, before state is touched (the daemon takes its root lock there).
 */
export async function prepareTopDirectories(root: string, state: string, log: Logger, onRoot: () => void = () => {}): Promise<void> {
  if (resolve(root) === resolve(state)) throw new Error('root and state must be different paths');
  await preparePrivateDir('root', root, ROOT_MODE, log);
  onRoot();
  await preparePrivateDir('state', state, STATE_MODE, log);
}
