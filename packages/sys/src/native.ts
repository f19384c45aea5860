// The package's own native addon (native/sys.c, built into dist/ when a C compiler is
// there): flock, getdents64 and malloc_trim, the calls a daemon makes while it starts and
// idles, without loading koffi (~1.8 MB of resident memory and ~10 ms of a start). Where it
// was not built, or with CONTAINERD_TS_SYS_NATIVE=0, those calls go through koffi as the
// rest of the package does.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface NativeSys {
  /** flock(2): 0, or -errno. */
  flock(fd: number, operation: number): number;
  /** getdents64(2) into `buffer`: bytes read (0 at the end), or -errno. */
  getdents64(fd: number, buffer: Buffer): number;
  /** glibc's malloc_trim(3): 1 when memory went back to the kernel, else 0. */
  mallocTrim(pad: number): number;
}

/**
 * The addon's file name, beside this module. bundleDaemon copies files named
 * `*-native.node` beside a bundle, where this module's code then runs.
 */
export const NATIVE_ADDON = 'sys-native.node';

let native: NativeSys | null | undefined;

/** The addon, loaded on first use; undefined where it is not there (or turned off). */
export function nativeSys(): NativeSys | undefined {
  if (native === undefined) native = load();
  return native ?? undefined;
}

function load(): NativeSys | null {
  if (process.platform !== 'linux' || process.env.CONTAINERD_TS_SYS_NATIVE === '0') return null;
  // Beside this module (dist/, or a bundle's directory), else in dist/ when this runs from src/ (tests).
  const file = [`./${NATIVE_ADDON}`, `../dist/${NATIVE_ADDON}`].map((f) => fileURLToPath(new URL(f, import.meta.url))).find((f) => existsSync(f));
  if (file === undefined) return null; // not built here: koffi does these calls
  const mod = { exports: {} as Partial<NativeSys> };
  try {
    process.dlopen(mod, file);
  } catch {
    return null; // built for another machine: koffi still works (the package's test names this case)
  }
  const m = mod.exports;
  return typeof m.flock === 'function' && typeof m.getdents64 === 'function' && typeof m.mallocTrim === 'function' ? (m as NativeSys) : null;
}
