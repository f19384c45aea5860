import { describe, expect, it } from 'vitest';
import { lookupMount, MountNotFoundError, parseMountInfo } from './mountinfo.js';

// /proc/self/mountinfo of a process chrooted into a plain directory (not a mount point)
// with /usr and /etc bound and /proc mounted: nothing covers `/` itself.
const chrootMountInfo = `44 26 254:0 /usr /usr rw,relatime - ext4 /dev/vda rw,discard
45 26 254:0 /etc /etc rw,relatime - ext4 /dev/vda rw,discard
46 26 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,size=12334808k,mode=755
47 26 0:39 / /proc rw,relatime - proc proc rw
`;

const hostMountInfo = `26 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
21 26 0:20 / /proc rw,relatime - proc proc rw
50 26 0:45 / /var/lib/with\\040space rw - tmpfs tmpfs rw,size=1024k
51 26 0:46 / /var/lib/containerd rw - btrfs /dev/sdb rw
`;

describe('parseMountInfo', () => {
  it('reads each field and unescapes octal escapes', () => {
    const [root, , spaced] = parseMountInfo(hostMountInfo);
    expect(root).toEqual({
      id: 26,
      parent: 1,
      major: 254,
      minor: 0,
      root: '/',
      mountpoint: '/',
      options: 'rw,relatime',
      fstype: 'ext4',
      source: '/dev/vda',
      superOptions: 'rw,discard',
    });
    expect(spaced?.mountpoint).toBe('/var/lib/with space');
  });
});

describe('lookupMount', () => {
  it('finds the mount with the longest mount point that prefixes the cleaned path', async () => {
    const mounts = parseMountInfo(hostMountInfo);
    expect((await lookupMount('/var/lib/containerd/io.containerd.snapshotter.v1.btrfs/', mounts)).fstype).toBe('btrfs');
    expect((await lookupMount('/var/lib/with space/x', mounts)).fstype).toBe('tmpfs');
    expect((await lookupMount('/var/lib/other', mounts)).mountpoint).toBe('/');
  });

  it("fails with containerd's message when no entry covers the path (a chroot's root)", async () => {
    const mounts = parseMountInfo(chrootMountInfo);
    expect((await lookupMount('/usr/lib', mounts)).mountpoint).toBe('/usr');
    const lookup = lookupMount('/var/lib/containerd//io.containerd.snapshotter.v1.overlayfs/', mounts);
    await expect(lookup).rejects.toBeInstanceOf(MountNotFoundError);
    await expect(lookup).rejects.toThrow('failed to find the mount info for "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs"');
  });
});
