import { describe, expect, it } from 'vitest';
import { KNOWN_CAPABILITIES, capabilitiesFromBitmap, currentCapabilities, deviceFromPath, getDevices } from './host-linux.js';

describe('host capabilities and devices', () => {
  it('names the capabilities of a bitmap by number, as pkg/cap', () => {
    expect(capabilitiesFromBitmap(0b101n)).toEqual(['CAP_CHOWN', 'CAP_DAC_READ_SEARCH']);
    expect(capabilitiesFromBitmap((1n << 41n) - 1n)).toEqual([...KNOWN_CAPABILITIES]);
    // Bits beyond the known ones are left out.
    expect(capabilitiesFromBitmap(1n << 50n)).toEqual([]);
    expect(currentCapabilities('Name:\tx\nCapEff:\t0000000000000021\n')).toEqual(['CAP_CHOWN', 'CAP_KILL']);
  });

  it('reads a device node as oci.DeviceFromPath: type, numbers, mode bits, owner', () => {
    expect(deviceFromPath('/dev/null')).toEqual({ path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 });
    expect(() => deviceFromPath('/etc/hostname')).toThrow(/not a device/);
  });

  it('walks a directory as getDevices (sorted, renamed under a container path) and says what it cannot stat', () => {
    const devs = getDevices('/dev');
    const paths = devs.map((d) => d.path);
    expect(paths).toContain('/dev/zero');
    expect(paths).not.toContain('/dev/console');
    expect(paths.some((p) => p.startsWith('/dev/pts/'))).toBe(false);
    expect(getDevices('/dev/null', '/dev/mynull')[0]?.path).toBe('/dev/mynull');
    expect(() => getDevices('/dev/nonexistent')).toThrow('error stating device path: stat /dev/nonexistent: no such file or directory');
  });
});
