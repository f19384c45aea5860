import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TRAILER, encodeHeader, padding } from './archive-tar.js';

describe('archive tar headers', () => {
  it('are USTAR headers GNU tar reads back: names, modes, sizes, the epoch as mtime', () => {
    const body = Buffer.from('{"imageLayoutVersion":"1.0.0"}');
    const long = `${'d'.repeat(60)}/${'e'.repeat(60)}`;
    const tar = Buffer.concat([
      encodeHeader({ name: 'blobs/', type: 'directory', mode: 0o755, size: 0 }),
      encodeHeader({ name: 'oci-layout', type: 'file', mode: 0o444, size: body.length }),
      body,
      padding(body.length),
      encodeHeader({ name: long, type: 'file', mode: 0o444, size: 0 }),
      TRAILER,
    ]);
    expect(tar.length % 512).toBe(0);
    // The checksum field as Go writes it: six octal digits, NUL, space.
    expect(tar.subarray(512 + 148, 512 + 156).toString('latin1')).toMatch(/^[0-7]{6}\0 $/);
    const dir = mkdtempSync(join(tmpdir(), 'archive-tar-'));
    try {
      writeFileSync(join(dir, 'a.tar'), tar);
      const listed = execFileSync('tar', ['--numeric-owner', '--full-time', '-tvf', join(dir, 'a.tar')], { env: { ...process.env, TZ: 'UTC' } }).toString();
      expect(listed.split('\n').map((l) => l.split(/ +/))).toEqual([
        ['drwxr-xr-x', '0/0', '0', '1970-01-01', '00:00:00', 'blobs/'],
        ['-r--r--r--', '0/0', String(body.length), '1970-01-01', '00:00:00', 'oci-layout'],
        ['-r--r--r--', '0/0', '0', '1970-01-01', '00:00:00', long],
        [''],
      ]);
      expect(execFileSync('tar', ['-xOf', join(dir, 'a.tar'), 'oci-layout']).equals(body)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
