// What the start-up benches measure with: whether Debian's ctr gets an answer, and a
// process's resident memory.
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';

/** Whether `ctr version` answers on `socket` (1 s connect timeout). */
export function ctrVersionOk(socket: string): boolean {
  try {
    execFileSync('ctr', ['-a', socket, '--connect-timeout', '1s', 'version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** VmRSS of a process, in KiB. */
export async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN);
}
