// What `--privileged` and `--device` read from this host, as containerd's oci package reads
// it: the capabilities of this process (pkg/cap.Current) and device nodes (oci.HostDevices,
// getDevices, DeviceFromPath).
import { lstatSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';

/** pkg/cap's known capabilities (kernel 5.9), by number. */
export const KNOWN_CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
] as const;

/** cap.FromBitmap: the names of the known capabilities set in a bitmap, by number. */
export function capabilitiesFromBitmap(bits: bigint): string[] {
  return KNOWN_CAPABILITIES.filter((_, i) => ((bits >> BigInt(i)) & 1n) === 1n);
}

/** cap.Current: this process's effective capabilities (CapEff of /proc/self/status). */
export function currentCapabilities(status = readFileSync('/proc/self/status', 'utf8')): string[] {
  const line = status.split('\n').find((l) => l.startsWith('CapEff:'));
  if (!line) throw new Error('no CapEff in /proc/self/status');
  return capabilitiesFromBitmap(BigInt(`0x${line.slice('CapEff:'.length).trim()}`));
}

/** A device node as the runtime spec lists it (specs.LinuxDevice). */
export interface LinuxDevice {
  path: string;
  type: string;
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
}

class NotADeviceError extends Error {}

const S_IFMT = 0o170000;

/** oci.DeviceFromPath: a block, character or fifo node (lstat: a symlink is no device). */
export function deviceFromPath(path: string): LinuxDevice {
  const st = lstatSync(path, { bigint: true });
  const kind = Number(st.mode) & S_IFMT;
  const type = kind === 0o060000 ? 'b' : kind === 0o020000 ? 'c' : kind === 0o010000 ? 'p' : undefined;
  if (type === undefined) throw new NotADeviceError('not a device node');
  const rdev = st.rdev;
  // unix.Major/Minor of a Linux dev_t.
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & 0xfffff000n));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & 0xffffff00n));
  return { path, type, major, minor, fileMode: Number(st.mode) & ~S_IFMT, uid: Number(st.uid), gid: Number(st.gid) };
}

const SKIPPED_DIRS = ['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev'];

/**
 * oci's getDevices: the device at `path`, or the devices of a directory tree (sorted by
 * name; pts, shm, fd, mqueue and a few others skipped; console, fifos and non-devices left
 * out). `containerPath` renames them under another directory.
 */
export function getDevices(path: string, containerPath = ''): LinuxDevice[] {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (err) {
    throw new Error(`error stating device path: ${goPathError('stat', path, err as NodeJS.ErrnoException)}`, { cause: err });
  }
  if (!isDir) {
    const dev = deviceFromPath(path);
    if (containerPath !== '') dev.path = containerPath;
    return [dev];
  }
  const out: LinuxDevice[] = [];
  const entries = readdirSync(path, { withFileTypes: true }).sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
  for (const f of entries) {
    if (f.isDirectory()) {
      if (SKIPPED_DIRS.includes(f.name)) continue;
      out.push(...getDevices(join(path, f.name), containerPath !== '' ? join(containerPath, basename(f.name)) : ''));
      continue;
    }
    if (f.name === 'console') continue;
    let dev: LinuxDevice;
    try {
      dev = deviceFromPath(join(path, f.name));
    } catch (err) {
      if (err instanceof NotADeviceError || (err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    if (dev.type === 'p') continue;
    if (containerPath !== '') dev.path = join(containerPath, basename(f.name));
    out.push(dev);
  }
  return out;
}

/** Go's *os.PathError text. */
export function goPathError(op: string, path: string, err: NodeJS.ErrnoException): string {
  const text: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    ENOTDIR: 'not a directory',
    EISDIR: 'is a directory',
    ELOOP: 'too many levels of symbolic links',
  };
  return `${op} ${path}: ${text[err.code ?? ''] ?? err.message}`;
}
