// What the content benches share: a file of random bytes and `ctr content ingest` from it.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';

/** Writes `size` random bytes to `path` and returns their digest. */
export async function randomFile(path: string, size: number): Promise<string> {
  const fh = await open(path, 'w');
  const hash = createHash('sha256');
  try {
    for (let done = 0; done < size; ) {
      const chunk = randomBytes(Math.min(8 << 20, size - done));
      hash.update(chunk);
      await fh.write(chunk);
      done += chunk.length;
    }
  } finally {
    await fh.close();
  }
  return `sha256:${hash.digest('hex')}`;
}

/** Runs `ctr content ingest` with stdin redirected from `file`; resolves with the wall time in ms. */
export async function ingest(socket: string, ref: string, file: string): Promise<number> {
  const fh = await open(file, 'r');
  try {
    const started = performance.now();
    const child = spawn('ctr', ['-a', socket, 'content', 'ingest', ref], { stdio: [fh.fd, 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    const ms = performance.now() - started;
    if (code !== 0) throw new Error(`ctr content ingest failed (${code}): ${stderr}`);
    return ms;
  } finally {
    await fh.close();
  }
}
