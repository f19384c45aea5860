import { lchown, lstat, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { incrementOwnership, parseIDMapping, parseUint32, remappedSnapshotKey, remapperLabels } from './remap.js';
import { defaultSpec, withUserNamespace } from './spec.js';

describe('user namespace mappings', () => {
  it('reads numbers as Go strconv.ParseUint(s, 0, 32) does (values from Go 1.19)', () => {
    const ok: Array<[string, number]> = [
      ['0', 0],
      ['100000', 100000],
      ['0x186a0', 100000],
      ['0o17', 15],
      ['017', 15],
      ['0b101', 5],
      ['1_000', 1000],
      ['4294967295', 4294967295],
      ['0_1', 1],
      ['0x_1f', 31],
    ];
    for (const [s, n] of ok) expect(parseUint32(s), s).toBe(n);
    const bad: Array<[string, string]> = [
      ['_1', 'invalid syntax'],
      ['1__0', 'invalid syntax'],
      ['0x', 'invalid syntax'],
      ['0b2', 'invalid syntax'],
      ['', 'invalid syntax'],
      ['+1', 'invalid syntax'],
      ['-1', 'invalid syntax'],
      ['a', 'invalid syntax'],
      ['08', 'invalid syntax'],
      ['4294967296', 'value out of range'],
      ['99999999999x', 'value out of range'],
    ];
    for (const [s, why] of bad) expect(() => parseUint32(s), s).toThrow(`strconv.ParseUint: parsing ${JSON.stringify(s)}: ${why}`);
  });

  it('parses container-id:host-id:size with ctr errors', () => {
    expect(parseIDMapping('0:100000:65536')).toEqual({ containerID: 0, hostID: 100000, size: 65536 });
    expect(() => parseIDMapping('0:100000')).toThrow('user namespace mappings require the format `container-id:host-id:size`');
    expect(() => parseIDMapping('x:1:1')).toThrow('invalid container id for user namespace remapping: strconv.ParseUint: parsing "x": invalid syntax');
    expect(() => parseIDMapping('0:-1:1')).toThrow('invalid host id for user namespace remapping: strconv.ParseUint: parsing "-1": invalid syntax');
    expect(() => parseIDMapping('0:1:4294967296')).toThrow('invalid size for user namespace remapping: strconv.ParseUint: parsing "4294967296": value out of range');
  });

  it('adds one user namespace and appends the mappings (oci.WithUserNamespace)', () => {
    const s = defaultSpec('ns', 'id');
    const m = { containerID: 0, hostID: 100000, size: 65536 };
    withUserNamespace(s, [m], [m]);
    withUserNamespace(s, [{ ...m, containerID: 65536, hostID: 300000 }], []);
    expect(s.linux?.namespaces?.filter((n) => n.type === 'user')).toEqual([{ type: 'user' }]);
    expect(s.linux?.namespaces?.at(-1)).toEqual({ type: 'user' });
    expect(s.linux?.uidMappings).toEqual([m, { containerID: 65536, hostID: 300000, size: 65536 }]);
    expect(s.linux?.gidMappings).toEqual([m]);
  });

  it('names the remapped snapshot and the remapper labels as containerd does', () => {
    expect(remappedSnapshotKey('sha256:abc', 100000, 200000)).toBe('sha256:abc-100000-200000');
    expect(remapperLabels(0, 100000, 0, 200000, 65536)).toEqual({
      'containerd.io/snapshot/uidmapping': '0:100000:65536',
      'containerd.io/snapshot/gidmapping': '0:200000:65536',
    });
  });
});

describe.runIf(process.getuid?.() === 0)('incrementOwnership', () => {
  it('adds the offsets to every entry, symlinks themselves and not their targets', async () => {
    const root = await mkdtemp(join(tmpdir(), 'remap-test-'));
    try {
      await mkdir(join(root, 'd/e'), { recursive: true });
      await writeFile(join(root, 'd/e/f'), 'x');
      await writeFile(join(root, 'g'), 'y');
      await lchown(join(root, 'g'), 5, 7);
      await symlink('/etc/passwd', join(root, 'link'));
      await incrementOwnership(root, 100000, 200000);
      for (const p of ['', 'd', 'd/e', 'd/e/f', 'link']) {
        const st = await lstat(join(root, p));
        expect([p, st.uid, st.gid]).toEqual([p, 100000, 200000]);
      }
      const g = await lstat(join(root, 'g'));
      expect([g.uid, g.gid]).toEqual([100005, 200007]);
      expect((await lstat('/etc/passwd')).uid).toBe(0);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
