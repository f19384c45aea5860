import { describe, expect, it } from 'vitest';
import * as sys from './index.js';
import { libcLoaded } from './libc.js';

describe('@containerd-ts/sys', () => {
  it('loads koffi and glibc only on the first call', () => {
    expect(libcLoaded()).toBe(false);
    expect(sys.fsTypeName(sys.TMPFS_MAGIC)).toBe('tmpfs');
    expect(sys.makedev(1, 3)).toBe(259);
    expect(libcLoaded()).toBe(false);
    expect(sys.statfs('/proc').type).toBe(sys.PROC_SUPER_MAGIC);
    expect(libcLoaded()).toBe(true);
  });

  it('names errno values as Node does', () => {
    expect(sys.errnoName(2)).toBe('ENOENT');
    expect(sys.errnoName(61)).toBe('ENODATA');
    const err = new sys.SysError(30, 'mount', { path: '/x' });
    expect(err).toBeInstanceOf(Error);
    expect(sys.isSysError(err)).toBe(true);
    expect(sys.isSysError(err, 'EROFS')).toBe(true);
    expect(sys.isSysError(err, 'ENOENT')).toBe(false);
    expect(sys.isSysError(new Error('x'))).toBe(false);
    expect(err.message).toBe("EROFS: read-only file system, mount '/x'");
    expect('dest' in err).toBe(false);
  });
});
