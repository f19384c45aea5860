// The C allocator's side of the process's memory. Node's buffers, zlib and zstd state and
// LevelDB allocate with malloc; glibc keeps what they free in its arenas (one per thread that
// allocated, up to 8 per core) instead of handing it back, so a daemon that served a burst of
// pulls holds hundreds of MB it no longer uses. malloc_trim(0) returns the free pages of every
// arena to the kernel; fewer arenas mean less of that memory in the first place.
import { libc } from './libc.js';
import { nativeSys } from './native.js';

/** mallopt's M_ARENA_MAX (glibc malloc.h). */
const M_ARENA_MAX = -8;

/**
 * Returns the C allocator's free memory to the kernel (glibc `malloc_trim(0)`). False when
 * the C library has no malloc_trim (musl, which keeps little anyway).
 */
export function mallocTrim(): boolean {
  if (process.platform !== 'linux') return false;
  const native = nativeSys();
  if (native) {
    native.mallocTrim(0);
    return true;
  }
  const trim = libc().mallocTrim;
  if (!trim) return false;
  trim(0);
  return true;
}

/**
 * Caps the number of malloc arenas (glibc `mallopt(M_ARENA_MAX, n)`): threads share arenas
 * beyond that instead of each keeping free memory of its own. Takes effect for arenas not yet
 * created, so call it early. False when not supported.
 */
export function setMallocArenaMax(arenas: number): boolean {
  if (process.platform !== 'linux' || !Number.isInteger(arenas) || arenas < 1) return false;
  const mallopt = libc().mallopt;
  return mallopt !== undefined && mallopt(M_ARENA_MAX, arenas) === 1;
}
