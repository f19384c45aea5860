// posix_spawn through koffi: the program runs with its argv, environment, working
// directory and descriptors, in a process group of its own, with default signal
// actions; its exit code or signal is reaped; a missing program is ENOENT.
import { closeSync, readFileSync, writeSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { pipe, posixSpawn, waitpidNoHang } from './spawn.js';
import { isSysError } from './errors.js';

async function reap(pid: number) {
  for (;;) {
    const s = waitpidNoHang(pid);
    if (s.exited) return s;
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('posixSpawn', () => {
  it('runs a program with argv, env, cwd, stdio and its own process group', async () => {
    const [inR, inW] = pipe();
    const [outR, outW] = pipe();
    writeSync(inW, 'from stdin\n');
    closeSync(inW);
    const script = 'echo "$X"; pwd; cat; cut -d " " -f5 /proc/$$/stat; echo $$; grep SigIgn /proc/$$/status; exit 3';
    const pid = posixSpawn({ path: '/bin/sh', argv: ['sh', '-c', script], env: ['X=hello', 'PATH=/usr/bin:/bin'], cwd: '/tmp', stdio: [inR, outW, outW], newProcessGroup: true });
    closeSync(inR);
    closeSync(outW);
    const out = readFileSync(outR, 'utf8').split('\n');
    closeSync(outR);
    expect(out.slice(0, 3)).toEqual(['hello', '/tmp', 'from stdin']);
    expect(out[3]).toBe(String(pid));
    expect(out[4]).toBe(String(pid));
    // Node ignores SIGPIPE (13); the program does not inherit that.
    const ignored = BigInt(`0x${out[5]!.split('\t')[1]}`);
    expect(ignored & (1n << 12n)).toBe(0n);
    expect(await reap(pid)).toEqual({ exited: true, code: 3, signal: null });
  });

  it('reports the signal that ended a program, and ENOENT for a missing one', async () => {
    const pid = posixSpawn({ path: '/bin/sleep', argv: ['sleep', '10'], env: [], stdio: [0, 1, 2] });
    expect(waitpidNoHang(pid)).toEqual({ exited: false });
    process.kill(pid, 'SIGKILL');
    expect(await reap(pid)).toEqual({ exited: true, code: null, signal: 'SIGKILL' });
    let thrown: unknown;
    try {
      posixSpawn({ path: '/no/such/program', argv: ['x'], env: [], stdio: [0, 1, 2] });
    } catch (err) {
      thrown = err;
    }
    expect(isSysError(thrown, 'ENOENT')).toBe(true);
  });
});
