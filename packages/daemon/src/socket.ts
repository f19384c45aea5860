// Unix socket handling: never take over a socket a live daemon answers on; remove a
// stale one; set containerd's mode and owner once bound.
import { chmod, chown, lstat, mkdir, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';

/** Resolves true when something accepts connections on the unix socket `path`. */
export function socketAnswers(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ path });
    const done = (answered: boolean) => {
      sock.destroy();
      resolve(answered);
    };
    sock.setTimeout(timeoutMs, () => done(true));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/**
 * Makes `path` ready to bind: creates its directory, refuses when a live daemon
 * answers there, removes a stale socket left by a crash.
 */
export async function prepareSocket(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o711 });
  const st = await lstat(path).catch(() => undefined);
  if (!st) return;
  if (!st.isSocket()) throw new Error(`${path} exists and is not a socket`);
  if (await socketAnswers(path)) throw new Error(`another daemon is already serving on ${path}`);
  await unlink(path);
}

/** Sets containerd's socket permissions: 0660 owned by the configured uid/gid. */
export async function secureSocket(path: string, uid: number, gid: number): Promise<void> {
  await chown(path, uid, gid);
  await chmod(path, 0o660);
}
