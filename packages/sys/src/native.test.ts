import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nativeSys } from './native.js';

const dir = mkdtempSync(join(tmpdir(), 'sys-native-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hasCompiler = spawnSync(process.env.CC || 'cc', ['--version'], { stdio: 'ignore' }).status === 0;
const dist = new URL('../dist/index.js', import.meta.url).href;

/** Runs `code` (an ES module importing the built package as `sys`) in a fresh node; its stdout. */
function inChild(code: string, env: NodeJS.ProcessEnv = {}): string {
  return execFileSync(process.execPath, ['--input-type=module', '-e', `import * as sys from ${JSON.stringify(dist)};\n${code}`], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
}

// What a daemon does while it starts and idles: the root lock, the overlay d_type check, a trim.
const startCalls = `
const fd = (await import('node:fs')).openSync(${JSON.stringify(join(dir, 'lock'))}, 'a+');
if (!sys.tryLockExclusive(fd)) throw new Error('not locked');
let types = 0;
sys.readDirents(${JSON.stringify(dir)}, (e) => { types += e.type !== sys.DT_UNKNOWN ? 1 : 0; });
if (types < 3) throw new Error('no d_type');
if (!sys.mallocTrim()) throw new Error('no trim');
sys.unlock(fd);
const maps = (await import('node:fs')).readFileSync('/proc/self/maps', 'utf8');
console.log(maps.includes('koffi') ? 'koffi' : 'no koffi', maps.includes('sys-native.node') ? 'native' : 'no native');
`;

describe.runIf(process.platform === 'linux')('the native addon', () => {
  it.runIf(hasCompiler)('is built where a C compiler is, and loaded', () => {
    expect(nativeSys()).toBeDefined();
  });

  it.runIf(hasCompiler)('makes the calls of a start without loading koffi', () => {
    writeFileSync(join(dir, 'f'), '');
    expect(inChild(startCalls).trim()).toBe('no koffi native');
  });

  it('is left for koffi with CONTAINERD_TS_SYS_NATIVE=0, which does the same calls', () => {
    expect(inChild(startCalls, { CONTAINERD_TS_SYS_NATIVE: '0' }).trim()).toBe('koffi no native');
  });

  it.runIf(hasCompiler)('answers -errno for a failed call and flock conflicts as EWOULDBLOCK', () => {
    const native = nativeSys()!;
    const a = openSync(join(dir, 'l2'), 'a+');
    const b = openSync(join(dir, 'l2'), 'a+');
    try {
      expect(native.flock(a, 2 | 4)).toBe(0);
      expect(native.flock(b, 2 | 4)).toBe(-11);
      expect(native.flock(a, 8)).toBe(0);
      expect(native.flock(b, 2 | 4)).toBe(0);
    } finally {
      closeSync(a);
      closeSync(b);
    }
    expect(native.flock(a, 2)).toBe(-9); // closed: EBADF
    expect(native.getdents64(a, Buffer.alloc(1024))).toBe(-9);
    expect(native.mallocTrim(0)).toBeGreaterThanOrEqual(0);
    // Wrong arguments are EINVAL, not a crash.
    expect((native.flock as (...a: unknown[]) => number)('x')).toBe(-22);
    expect((native.getdents64 as (...a: unknown[]) => number)(0, 'not a buffer')).toBe(-22);
  });
});
