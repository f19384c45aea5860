// OCI runtime spec generation as containerd 1.6's `oci` package does it: the default Unix
// spec (populateDefaultUnixSpec), the options ctr applies (env, cwd, mounts, TTY, read-only,
// host network, cgroup limits, capabilities, …), and Go's encoding of the result (the
// runtime-spec structs' field order and omitempty rules, Go's HTML escaping) so the bytes
// are those containerd's client writes.

export interface User {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
  username?: string;
}

export interface Capabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

export interface Process {
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  user: User;
  args?: string[];
  commandLine?: string;
  env?: string[];
  cwd: string;
  capabilities?: Capabilities;
  rlimits?: Array<{ type: string; hard: number; soft: number }>;
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
  selinuxLabel?: string;
}

export interface Mount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export interface DeviceCgroup {
  allow: boolean;
  type?: string;
  major?: number;
  minor?: number;
  access?: string;
}

export interface Resources {
  devices?: DeviceCgroup[];
  memory?: { limit?: number; reservation?: number; swap?: number; kernel?: number; kernelTCP?: number; swappiness?: number; disableOOMKiller?: boolean };
  cpu?: { shares?: number; quota?: number; burst?: number; period?: number; realtimeRuntime?: number; realtimePeriod?: number; cpus?: string; mems?: string };
  pids?: { limit: number };
  [key: string]: unknown;
}

export interface Namespace {
  type: string;
  path?: string;
}

export interface Linux {
  uidMappings?: Array<{ containerID: number; hostID: number; size: number }>;
  gidMappings?: Array<{ containerID: number; hostID: number; size: number }>;
  sysctl?: Record<string, string>;
  resources?: Resources;
  cgroupsPath?: string;
  namespaces?: Namespace[];
  devices?: unknown[];
  seccomp?: unknown;
  rootfsPropagation?: string;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  mountLabel?: string;
  [key: string]: unknown;
}

/** An OCI runtime spec (the fields containerd's Linux client writes). */
export interface Spec {
  ociVersion: string;
  process?: Process;
  root?: { path: string; readonly?: boolean };
  hostname?: string;
  domainname?: string;
  mounts?: Mount[];
  hooks?: unknown;
  annotations?: Record<string, string>;
  linux?: Linux;
  [key: string]: unknown;
}

/** The runtime-spec version containerd 1.6 writes. */
export const OCI_VERSION = '1.0.2-dev';
/** The type URL of a spec in a container record's Any. */
export const SPEC_TYPE_URL = 'types.containerd.io/opencontainers/runtime-spec/1/Spec';
export const DEFAULT_UNIX_ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];

const defaultCaps = () => [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** oci's defaultMounts on Linux. */
export function defaultMounts(): Mount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
  ];
}

/** path.Join("/", namespace, id). */
function joinCgroup(namespace: string, id: string): string {
  const parts = ['', namespace, id].join('/').split('/').filter((p) => p !== '' && p !== '.');
  const out: string[] = [];
  for (const p of parts) {
    if (p === '..') out.pop();
    else out.push(p);
  }
  return `/${out.join('/')}`;
}

/** populateDefaultUnixSpec: the spec every Linux container starts from. */
export function defaultSpec(namespace: string, id: string): Spec {
  return {
    ociVersion: OCI_VERSION,
    process: {
      user: { uid: 0, gid: 0 },
      cwd: '/',
      capabilities: { bounding: defaultCaps(), effective: defaultCaps(), permitted: defaultCaps() },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs' },
    mounts: defaultMounts(),
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      cgroupsPath: joinCgroup(namespace, id),
      namespaces: ['pid', 'ipc', 'uts', 'mount', 'network'].map((type) => ({ type })),
      maskedPaths: [
        '/proc/acpi',
        '/proc/asound',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/sys/firmware',
        '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

const processOf = (s: Spec): Process => {
  s.process ??= { user: { uid: 0, gid: 0 }, cwd: '' };
  return s.process;
};
const linuxOf = (s: Spec): Linux => {
  s.linux ??= {};
  return s.linux;
};
const resourcesOf = (s: Spec): Resources => {
  const l = linuxOf(s);
  l.resources ??= {};
  return l.resources;
};

/** replaceOrAppendEnvValues: overrides replace a default of the same key or are appended; `KEY` alone unsets. */
export function replaceOrAppendEnv(defaults: readonly string[], overrides: readonly string[]): string[] {
  const results = [...defaults];
  const index = new Map<string, number>();
  for (const [i, e] of defaults.entries()) index.set(e.split('=')[0]!, i);
  for (const v of overrides) {
    if (!v.includes('=')) {
      const i = index.get(v);
      if (i !== undefined) results[i] = '';
      continue;
    }
    const i = index.get(v.split('=')[0]!);
    if (i !== undefined) results[i] = v;
    else results.push(v);
  }
  return results.filter((e) => e !== '');
}

/** WithEnv. */
export function withEnv(s: Spec, env: readonly string[]): void {
  if (env.length === 0) return;
  const p = processOf(s);
  p.env = replaceOrAppendEnv(p.env ?? [], env);
}

/** WithDefaultUnixDevices: the device cgroup rules for null, random, full, tty, zero, urandom, console, pts, ptmx. */
export function withDefaultUnixDevices(s: Spec): void {
  const r = resourcesOf(s);
  const dev = (major: number, minor?: number): DeviceCgroup =>
    minor === undefined ? { allow: true, type: 'c', major, access: 'rwm' } : { allow: true, type: 'c', major, minor, access: 'rwm' };
  r.devices = [...(r.devices ?? []), dev(1, 3), dev(1, 8), dev(1, 7), dev(5, 0), dev(1, 5), dev(1, 9), dev(5, 1), dev(136), dev(5, 2)];
}

/** WithTTY: a terminal, and TERM=xterm appended. */
export function withTTY(s: Spec): void {
  const p = processOf(s);
  p.terminal = true;
  if (s.linux) p.env = [...(p.env ?? []), 'TERM=xterm'];
}

/** WithHostNamespace: leaves the namespace of `type` to the host. */
export function withHostNamespace(s: Spec, type: string): void {
  const l = linuxOf(s);
  const i = (l.namespaces ?? []).findIndex((n) => n.type === type);
  if (i >= 0) l.namespaces!.splice(i, 1);
}

/** WithLinuxNamespace: joins (or replaces) a namespace of the type. */
export function withLinuxNamespace(s: Spec, ns: Namespace): void {
  const l = linuxOf(s);
  l.namespaces ??= [];
  const i = l.namespaces.findIndex((n) => n.type === ns.type);
  if (i >= 0) l.namespaces[i] = ns;
  else l.namespaces.push(ns);
}

/** WithUserNamespace: a new user namespace (unless there is one) and the ID mappings appended. */
export function withUserNamespace(
  s: Spec,
  uidMap: ReadonlyArray<{ containerID: number; hostID: number; size: number }>,
  gidMap: ReadonlyArray<{ containerID: number; hostID: number; size: number }>,
): void {
  const l = linuxOf(s);
  l.namespaces ??= [];
  if (!l.namespaces.some((n) => n.type === 'user')) l.namespaces.push({ type: 'user' });
  l.uidMappings = [...(l.uidMappings ?? []), ...uidMap];
  l.gidMappings = [...(l.gidMappings ?? []), ...gidMap];
}

/** WithHostHostsFile and WithHostResolvconf. */
export function withHostFiles(s: Spec): void {
  s.mounts = [
    ...(s.mounts ?? []),
    { destination: '/etc/hosts', type: 'bind', source: '/etc/hosts', options: ['rbind', 'ro'] },
    { destination: '/etc/resolv.conf', type: 'bind', source: '/etc/resolv.conf', options: ['rbind', 'ro'] },
  ];
}

export function withMemoryLimit(s: Spec, limit: number): void {
  if (!s.linux) return;
  const r = resourcesOf(s);
  r.memory ??= {};
  r.memory.limit = limit;
}

export function withCPUShares(s: Spec, shares: number): void {
  const r = resourcesOf(s);
  r.cpu ??= {};
  r.cpu.shares = shares;
}

export function withCPUCFS(s: Spec, quota: number, period: number): void {
  const r = resourcesOf(s);
  r.cpu ??= {};
  r.cpu.quota = quota;
  r.cpu.period = period;
}

export function withAnnotations(s: Spec, annotations: Record<string, string>): void {
  s.annotations = { ...(s.annotations ?? {}), ...annotations };
}

export function withAddedCapabilities(s: Spec, caps: readonly string[]): void {
  const p = processOf(s);
  p.capabilities ??= {};
  for (const c of caps) {
    for (const k of ['bounding', 'effective', 'permitted'] as const) {
      const list = p.capabilities[k] ?? [];
      if (!list.includes(c)) list.push(c);
      p.capabilities[k] = list;
    }
  }
}

export function withDroppedCapabilities(s: Spec, caps: readonly string[]): void {
  const p = processOf(s);
  p.capabilities ??= {};
  for (const k of ['bounding', 'effective', 'permitted'] as const) {
    const kept = (p.capabilities[k] ?? []).filter((c) => !caps.includes(c));
    p.capabilities[k] = kept.length > 0 ? kept : undefined;
  }
}

/** ensureAdditionalGids: the primary GID is listed among the additional ones. */
function ensureAdditionalGids(p: Process): void {
  const gids = p.user.additionalGids ?? [];
  if (!gids.includes(p.user.gid)) p.user.additionalGids = [p.user.gid, ...gids];
}

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}
export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** moby/sys/user's passwd parsing (lines `name:pass:uid:gid:gecos:home:shell`, comments skipped). */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    out.push({ name: f[0] ?? '', uid: Number.parseInt(f[2] ?? '0', 10) || 0, gid: Number.parseInt(f[3] ?? '0', 10) || 0 });
  }
  return out;
}

/** moby/sys/user's group parsing (lines `name:pass:gid:member,member`). */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    out.push({ name: f[0] ?? '', gid: Number.parseInt(f[2] ?? '0', 10) || 0, members: (f[3] ?? '').split(',').filter((m) => m !== '') });
  }
  return out;
}

/** Reads a file of the container's root file system (undefined when it does not exist). */
export type RootfsReader = (path: string) => Promise<string | undefined>;

const MAX_ID = 2 ** 31 - 1;
const asId = (v: string): number | undefined => (/^[+-]?\d+$/.test(v) && Number(v) >= 0 && Number(v) <= MAX_ID ? Number(v) : undefined);

/**
 * WithUser: `user`, `uid`, `user:group`, `uid:gid`, `uid:group` or `user:gid`, names looked up
 * in the root file system's /etc/passwd and /etc/group as containerd does.
 */
export async function withUser(s: Spec, userstr: string, read: RootfsReader): Promise<void> {
  const p = processOf(s);
  p.user.additionalGids = undefined;
  try {
    const parts = userstr.split(':');
    if (parts.length === 1) {
      const uid = asId(parts[0]!);
      if (uid === undefined) return await withUsername(s, userstr, read);
      return await withUserId(s, uid, read);
    }
    if (parts.length !== 2) throw new Error(`invalid USER value ${userstr}`);
    let uid = asId(parts[0]!) ?? 0;
    let gid = asId(parts[1]!) ?? 0;
    const username = asId(parts[0]!) === undefined ? parts[0]! : '';
    const groupname = asId(parts[1]!) === undefined ? parts[1]! : '';
    if (username !== '') {
      const text = await read('/etc/passwd');
      if (text === undefined) throw new Error('open /etc/passwd: no such file or directory');
      const u = parsePasswd(text).find((e) => e.name === username);
      if (!u) throw new Error('no users found');
      uid = u.uid;
    }
    if (groupname !== '') {
      const text = await read('/etc/group');
      if (text === undefined) throw new Error('open /etc/group: no such file or directory');
      const g = parseGroup(text).find((e) => e.name === groupname);
      if (!g) throw new Error('no groups found');
      gid = g.gid;
    }
    p.user.uid = uid;
    p.user.gid = gid;
  } finally {
    ensureAdditionalGids(p);
  }
}

/** WithUserID: the uid, and its gid from /etc/passwd (0 when it is not listed). */
export async function withUserId(s: Spec, uid: number, read: RootfsReader): Promise<void> {
  const p = processOf(s);
  p.user.additionalGids = undefined;
  const text = await read('/etc/passwd');
  const u = text === undefined ? undefined : parsePasswd(text).find((e) => e.uid === uid);
  p.user.uid = uid;
  p.user.gid = u ? u.gid : 0;
  ensureAdditionalGids(p);
}

/** WithUsername: uid and gid of a user of /etc/passwd; an error when it is not there. */
export async function withUsername(s: Spec, username: string, read: RootfsReader): Promise<void> {
  const p = processOf(s);
  p.user.additionalGids = undefined;
  try {
    const text = await read('/etc/passwd');
    if (text === undefined) throw new Error('open /etc/passwd: no such file or directory');
    const u = parsePasswd(text).find((e) => e.name === username);
    if (!u) throw new Error('no users found');
    p.user.uid = u.uid;
    p.user.gid = u.gid;
  } finally {
    ensureAdditionalGids(p);
  }
}

/** WithAdditionalGIDs: the groups of /etc/group that list the user (a name or a uid). */
export async function withAdditionalGids(s: Spec, userstr: string, read: RootfsReader): Promise<void> {
  const p = processOf(s);
  p.user.additionalGids = undefined;
  let username = userstr;
  const uid = /^[+-]?\d+$/.test(userstr) ? Number(userstr) : undefined;
  if (uid !== undefined) {
    const text = await read('/etc/passwd');
    const u = text === undefined ? undefined : parsePasswd(text).find((e) => e.uid === uid);
    if (!u) {
      ensureAdditionalGids(p);
      return;
    }
    username = u.name;
  }
  const groups = await read('/etc/group');
  if (groups !== undefined) {
    p.user.additionalGids = parseGroup(groups)
      .filter((g) => g.name !== username && g.members.includes(username))
      .map((g) => g.gid);
  }
  ensureAdditionalGids(p);
}

/** The `config` object of an OCI or Docker image config. */
export interface ImageRuntimeConfig {
  User?: string;
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
}

/** WithImageConfigArgs on Linux: env, args (entrypoint + cmd or `args`), cwd and user from the image. */
export async function withImageConfig(s: Spec, config: ImageRuntimeConfig, read: RootfsReader, args: readonly string[] = []): Promise<void> {
  const p = processOf(s);
  if (!s.linux) throw new Error('spec does not contain Linux or Windows section');
  const defaults = config.Env && config.Env.length > 0 ? config.Env : DEFAULT_UNIX_ENV;
  p.env = replaceOrAppendEnv(defaults, p.env ?? []);
  const cmd = args.length > 0 ? args : (config.Cmd ?? []);
  p.args = [...(config.Entrypoint ?? []), ...cmd];
  p.cwd = config.WorkingDir || '/';
  if (config.User) {
    await withUser(s, config.User, read);
    await withAdditionalGids(s, String(p.user.uid), read);
    return;
  }
  await withAdditionalGids(s, 'root', read);
}

/** ctr's --mount value: `type=bind,src=/a,dst=/b,options=rbind:ro` (a CSV record). */
export function parseMountFlag(value: string): Mount {
  const m: Mount = { destination: '' };
  for (const field of parseCsvRecord(value)) {
    const at = field.indexOf('=');
    if (at < 0) throw new Error('invalid mount specification: expected key=val');
    const key = field.slice(0, at);
    const val = field.slice(at + 1);
    switch (key) {
      case 'type':
        m.type = val;
        break;
      case 'source':
      case 'src':
        m.source = val;
        break;
      case 'destination':
      case 'dst':
        m.destination = val;
        break;
      case 'options':
        m.options = val.split(':');
        break;
      default:
        throw new Error(`mount option ${JSON.stringify(key)} not supported`);
    }
  }
  return { destination: m.destination, type: m.type, source: m.source, options: m.options };
}

/** One record as Go's encoding/csv reads it (quoted fields with doubled quotes). */
function parseCsvRecord(text: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) throw new Error('parse error on line 1: extraneous or missing " in quoted-field');
        field += text.slice(i, q);
        i = q + 1;
        if (text[i] === '"') {
          field += '"';
          i++;
        } else break;
      }
    } else {
      const c = text.indexOf(',', i);
      field = c < 0 ? text.slice(i) : text.slice(i, c);
      i = c < 0 ? text.length : c;
    }
    fields.push(field);
    if (text[i] !== ',') break;
    i++;
  }
  return fields;
}

// Go's field order of the runtime-spec structs; `o` marks omitempty, `p` an omitempty pointer
// (kept when it is 0 or false).
type FieldRule = [key: string, omit: '' | 'o' | 'p' | 'n', child?: string];
const STRUCTS: Record<string, FieldRule[]> = {
  Spec: [
    ['ociVersion', ''],
    ['process', 'p', 'Process'],
    ['root', 'p', 'Root'],
    ['hostname', 'o'],
    ['domainname', 'o'],
    ['mounts', 'o', 'Mount'],
    ['hooks', 'p'],
    ['annotations', 'o', 'Map'],
    ['linux', 'p', 'Linux'],
    ['solaris', 'p'],
    ['windows', 'p'],
    ['vm', 'p'],
    ['zos', 'p'],
  ],
  Process: [
    ['terminal', 'o'],
    ['consoleSize', 'p', 'Box'],
    ['user', '', 'User'],
    ['args', 'o'],
    ['commandLine', 'o'],
    ['env', 'o'],
    ['cwd', ''],
    ['capabilities', 'p', 'Capabilities'],
    ['rlimits', 'o', 'Rlimit'],
    ['noNewPrivileges', 'o'],
    ['apparmorProfile', 'o'],
    ['oomScoreAdj', 'p'],
    ['selinuxLabel', 'o'],
  ],
  Box: [
    ['height', ''],
    ['width', ''],
  ],
  User: [
    ['uid', ''],
    ['gid', ''],
    ['umask', 'p'],
    ['additionalGids', 'o'],
    ['username', 'o'],
  ],
  Capabilities: [
    ['bounding', 'o'],
    ['effective', 'o'],
    ['inheritable', 'o'],
    ['permitted', 'o'],
    ['ambient', 'o'],
  ],
  Rlimit: [
    ['type', ''],
    ['hard', ''],
    ['soft', ''],
  ],
  Root: [
    ['path', ''],
    ['readonly', 'o'],
  ],
  Mount: [
    ['destination', ''],
    ['type', 'o'],
    ['source', 'o'],
    ['options', 'o'],
    ['uidMappings', 'o', 'IDMapping'],
    ['gidMappings', 'o', 'IDMapping'],
  ],
  IDMapping: [
    ['containerID', ''],
    ['hostID', ''],
    ['size', ''],
  ],
  Linux: [
    ['uidMappings', 'o', 'IDMapping'],
    ['gidMappings', 'o', 'IDMapping'],
    ['sysctl', 'o', 'Map'],
    ['resources', 'p', 'Resources'],
    ['cgroupsPath', 'o'],
    ['namespaces', 'o', 'Namespace'],
    ['devices', 'o', 'Device'],
    ['seccomp', 'p', 'Seccomp'],
    ['rootfsPropagation', 'o'],
    ['maskedPaths', 'o'],
    ['readonlyPaths', 'o'],
    ['mountLabel', 'o'],
    ['intelRdt', 'p'],
    ['personality', 'p'],
  ],
  Seccomp: [
    ['defaultAction', ''],
    ['defaultErrnoRet', 'p'],
    ['architectures', 'o'],
    ['flags', 'o'],
    ['listenerPath', 'o'],
    ['listenerMetadata', 'o'],
    ['syscalls', 'o', 'Syscall'],
  ],
  Syscall: [
    ['names', 'n'],
    ['action', ''],
    ['errnoRet', 'p'],
    ['args', 'o', 'SeccompArg'],
  ],
  SeccompArg: [
    ['index', ''],
    ['value', ''],
    ['valueTwo', 'o'],
    ['op', ''],
  ],
  Namespace: [
    ['type', ''],
    ['path', 'o'],
  ],
  Device: [
    ['path', ''],
    ['type', ''],
    ['major', ''],
    ['minor', ''],
    ['fileMode', 'p'],
    ['uid', 'p'],
    ['gid', 'p'],
  ],
  Resources: [
    ['devices', 'o', 'DeviceCgroup'],
    ['memory', 'p', 'Memory'],
    ['cpu', 'p', 'CPU'],
    ['pids', 'p'],
    ['blockIO', 'p'],
    ['hugepageLimits', 'o'],
    ['network', 'p'],
    ['rdma', 'o'],
    ['unified', 'o', 'Map'],
  ],
  DeviceCgroup: [
    ['allow', ''],
    ['type', 'o'],
    ['major', 'p'],
    ['minor', 'p'],
    ['access', 'o'],
  ],
  Memory: [
    ['limit', 'p'],
    ['reservation', 'p'],
    ['swap', 'p'],
    ['kernel', 'p'],
    ['kernelTCP', 'p'],
    ['swappiness', 'p'],
    ['disableOOMKiller', 'p'],
    ['useHierarchy', 'p'],
    ['checkBeforeUpdate', 'p'],
  ],
  CPU: [
    ['shares', 'p'],
    ['quota', 'p'],
    ['burst', 'p'],
    ['period', 'p'],
    ['realtimeRuntime', 'p'],
    ['realtimePeriod', 'p'],
    ['cpus', 'o'],
    ['mems', 'o'],
    ['idle', 'p'],
  ],
};

const isEmpty = (v: unknown) =>
  v === undefined ||
  v === null ||
  v === false ||
  v === 0 ||
  v === '' ||
  (Array.isArray(v) && v.length === 0) ||
  (typeof v === 'object' && !Array.isArray(v) && Object.keys(v as object).length === 0);

/** A map with its keys sorted, as encoding/json writes a Go map. */
const sortedMap = (v: Record<string, unknown>) => Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

function canonical(value: unknown, type: string | undefined): unknown {
  if (value === null || value === undefined || type === undefined) return value;
  if (Array.isArray(value)) return value.map((v) => canonical(v, type));
  if (type === 'Map') return sortedMap(value as Record<string, unknown>);
  const rules = STRUCTS[type];
  if (!rules || typeof value !== 'object') return value;
  const src = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, omit, child] of rules) {
    const v = src[key];
    if (omit === 'o' && isEmpty(v)) continue;
    if (omit === 'p' && (v === undefined || v === null)) continue;
    // A slice without omitempty: Go writes a nil one as null.
    if (omit === 'n' && (v === undefined || v === null)) {
      out[key] = null;
      continue;
    }
    if (omit === '' && v === undefined) {
      out[key] = child ? canonical({}, child) : emptyOf(key);
      continue;
    }
    out[key] = canonical(v, child);
  }
  return out;
}

// Zero values of the required fields a spec may lack (Go would print them).
function emptyOf(key: string): unknown {
  return ['uid', 'gid', 'hard', 'soft', 'height', 'width', 'containerID', 'hostID', 'size', 'major', 'minor', 'index', 'value'].includes(key)
    ? 0
    : key === 'allow'
      ? false
      : '';
}

/** The spec with Go's field order and omitempty applied (what a Go program would read and write). */
export function canonicalSpec(spec: Spec): Spec {
  return canonical(spec, 'Spec') as Spec;
}

/** encoding/json's escaping of <, >, & and the line/paragraph separators. */
export const goJsonEscape = (json: string) =>
  json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** json.Marshal of the spec (the bytes of the container record's Any). */
export function marshalSpec(spec: Spec): Buffer {
  return Buffer.from(goJsonEscape(JSON.stringify(canonicalSpec(spec))));
}

/** json.MarshalIndent(spec, "", "    "), as `ctr oci spec` and `ctr containers info --spec` print it. */
export function formatSpec(spec: Spec): string {
  return goJsonEscape(JSON.stringify(canonicalSpec(spec), null, 4));
}
