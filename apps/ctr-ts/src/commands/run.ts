// ctr-ts run (and the container flags `containers create` shares with it): a container from
// an image with ctr's options, its task with stdio over fifos or a pty, the exit status
// passed through, and with --rm the task and container removed afterwards.
import { readFileSync } from 'node:fs';
import { writeFile, rename } from 'node:fs/promises';
import { hostname, constants as osConstants } from 'node:os';
import { dirname, basename, join, resolve } from 'node:path';
import { ImagesService } from '@containerd-ts/api/services/images';
import { Cni } from '@containerd-ts/cni';
import {
  type Connection,
  type ContainerOptions,
  FifoIO,
  Task,
  createContainer,
  deleteContainer,
  OCI_VERSION,
  type Spec,
  goPathError,
  parseMountFlag,
  parseIDMapping,
  parsePlatform,
  type Streams,
} from '@containerd-ts/client';
import { type Command, type Context, ExitError, type Flag } from '../cli.js';
import { CommandError, withConnection } from '../context.js';
import { logLine } from '../log.js';
import { SNAPSHOTTER_FLAG } from './snapshots.js';

export const SNAPSHOTTER_FLAGS: Flag[] = [
  SNAPSHOTTER_FLAG,
  { name: 'snapshotter-label', type: 'string-slice', usage: 'labels added to the new snapshot for this container.' },
];

/** ctr's ContainerFlags, with the Unix ones its init appends. */
export const CONTAINER_FLAGS: Flag[] = [
  { name: 'config', aliases: ['c'], type: 'string', usage: 'path to the runtime-specific spec config file' },
  { name: 'cwd', type: 'string', usage: 'specify the working directory of the process' },
  { name: 'env', type: 'string-slice', usage: 'specify additional container environment variables (e.g. FOO=bar)' },
  { name: 'env-file', type: 'string', usage: 'specify additional container environment variables in a file(e.g. FOO=bar, one per line)' },
  { name: 'label', type: 'string-slice', usage: 'specify additional labels (e.g. foo=bar)' },
  { name: 'annotation', type: 'string-slice', usage: 'specify additional OCI annotations (e.g. foo=bar)' },
  { name: 'mount', type: 'string-slice', usage: 'specify additional container mount (e.g. type=bind,src=/tmp,dst=/host,options=rbind:ro)' },
  { name: 'net-host', type: 'bool', usage: 'enable host networking for the container' },
  { name: 'privileged', type: 'bool', usage: 'run privileged container' },
  { name: 'read-only', type: 'bool', usage: 'set the containers filesystem as readonly' },
  { name: 'runtime', type: 'string', usage: 'runtime name', value: 'io.containerd.runc.v2' },
  { name: 'runtime-config-path', type: 'string', usage: 'optional runtime config path' },
  { name: 'tty', aliases: ['t'], type: 'bool', usage: 'allocate a TTY for the container' },
  { name: 'with-ns', type: 'string-slice', usage: "specify existing Linux namespaces to join at container runtime (format '<nstype>:<path>')" },
  { name: 'pid-file', type: 'string', usage: "file path to write the task's pid" },
  { name: 'gpus', type: 'string-slice', usage: 'add gpus to the container' },
  { name: 'allow-new-privs', type: 'bool', usage: "turn off OCI spec's NoNewPrivileges feature flag" },
  { name: 'memory-limit', type: 'int', usage: 'memory limit (in bytes) for the container' },
  {
    name: 'device',
    type: 'string-slice',
    usage: 'file path to a device to add to the container; or a path to a directory tree of devices to add to the container',
  },
  { name: 'cap-add', type: 'string-slice', usage: "add Linux capabilities (Set capabilities with 'CAP_' prefix)" },
  { name: 'cap-drop', type: 'string-slice', usage: "drop Linux capabilities (Set capabilities with 'CAP_' prefix)" },
  { name: 'seccomp', type: 'bool', usage: 'enable the default seccomp profile' },
  { name: 'seccomp-profile', type: 'string', usage: 'file path to custom seccomp profile. seccomp must be set to true, before using seccomp-profile' },
  { name: 'apparmor-default-profile', type: 'string', usage: 'enable AppArmor with the default profile with the specified name, e.g. "cri-containerd.apparmor.d"' },
  { name: 'apparmor-profile', type: 'string', usage: 'enable AppArmor with an existing custom profile' },
  {
    name: 'rdt-class',
    type: 'string',
    usage: 'name of the RDT class to associate the container with. Specifies a Class of Service (CLOS) for cache and memory bandwidth management.',
  },
  { name: 'rootfs', type: 'bool', usage: 'use custom rootfs that is not managed by containerd snapshotter' },
  { name: 'no-pivot', type: 'bool', usage: 'disable use of pivot-root (linux only)' },
  { name: 'cpu-quota', type: 'int', usage: 'Limit CPU CFS quota', value: -1 },
  { name: 'cpu-period', type: 'int', usage: 'Limit CPU CFS period' },
  { name: 'rootfs-propagation', type: 'string', usage: 'set the propagation of the container rootfs' },
];

const PLATFORM_RUN_FLAGS: Flag[] = [
  { name: 'runc-binary', type: 'string', usage: 'specify runc-compatible binary' },
  { name: 'runc-root', type: 'string', usage: 'specify runc-compatible root' },
  { name: 'runc-systemd-cgroup', type: 'bool', usage: 'start runc with systemd cgroup manager' },
  {
    name: 'uidmap',
    type: 'string',
    usage: 'run inside a user namespace with the specified UID mapping range; specified with the format `container-uid:host-uid:length`',
  },
  {
    name: 'gidmap',
    type: 'string',
    usage: 'run inside a user namespace with the specified GID mapping range; specified with the format `container-gid:host-gid:length`',
  },
  { name: 'remap-labels', type: 'bool', usage: 'provide the user namespace ID remapping to the snapshotter via label options; requires snapshotter support' },
  { name: 'cpus', type: 'float', usage: 'set the CFS cpu quota', value: 0 },
  { name: 'cpu-shares', type: 'int', usage: 'set the cpu shares', value: 1024 },
];

/** commands.LabelArgs: `k=v`, or `k` meaning `k=true`. */
export function labelArgs(items: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of items) {
    const at = l.indexOf('=');
    if (at < 0) out[l] = 'true';
    else out[l.slice(0, at)] = l.slice(at + 1);
  }
  return out;
}

/** A bad --uidmap/--gidmap of the options: ctr reports it once it has found the image. */
const mappingErrors = new WeakMap<ContainerOptions, string>();

/** Throws the options' mapping error (after the image lookup, ctr's order), if any. */
async function checkMappings(conn: Connection, namespace: string, opts: ContainerOptions): Promise<void> {
  const message = mappingErrors.get(opts);
  if (message === undefined) return;
  await conn.unary(ImagesService.get, { name: opts.image }, { namespace });
  throw new CommandError(message);
}

const NAMESPACE_TYPES = ['pid', 'network', 'uts', 'mount', 'user', 'ipc', 'cgroup'];

/** What ctr's NewContainer does with the flags, as the client library's options. */
export function containerOptions(ctx: Context, ref: string): ContainerOptions {
  for (const name of ['apparmor-default-profile', 'apparmor-profile', 'gpus', 'rdt-class']) {
    if (ctx.isSet(name)) throw new CommandError(unsupportedFlag(name));
  }
  if (ctx.isSet('config')) {
    const file = ctx.string('config');
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new CommandError(`cannot load spec config file: ${goPathError('open', file, err as NodeJS.ErrnoException)}`);
    }
    let spec: Spec;
    try {
      spec = JSON.parse(text) as Spec;
    } catch (err) {
      throw new CommandError(`decoding spec config file failed, current supported OCI runtime-spec : v${OCI_VERSION}: ${(err as Error).message}`);
    }
    return { image: '', spec, labels: labelArgs(ctx.strings('label')), runtime: ctx.string('runtime'), runc: runcFlags(ctx) };
  }
  const opts: ContainerOptions = { image: ref, snapshotter: ctx.string('snapshotter'), snapshotterLabels: labelArgs(ctx.strings('snapshotter-label')) };
  if (ctx.bool('rootfs')) opts.rootfs = resolve(ref);
  else if (ctx.string('uidmap') !== '' && ctx.string('gidmap') !== '') {
    // Only both together, and only for an image, as ctr reads them.
    try {
      opts.userNamespace = { uidMap: parseIDMapping(ctx.string('uidmap')), gidMap: parseIDMapping(ctx.string('gidmap')), remapLabels: ctx.bool('remap-labels') };
    } catch (err) {
      mappingErrors.set(opts, (err as Error).message);
    }
  }
  const envFile = ctx.string('env-file');
  if (envFile) {
    try {
      opts.envFile = readFileSync(envFile, 'utf8').split('\n');
      if (opts.envFile.at(-1) === '') opts.envFile.pop();
    } catch (err) {
      throw new CommandError(`open ${envFile}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
    }
  }
  opts.env = ctx.strings('env');
  try {
    opts.mounts = ctx.strings('mount').map(parseMountFlag);
  } catch (err) {
    throw new CommandError((err as Error).message);
  }
  opts.labels = labelArgs(ctx.strings('label'));
  const args = ctx.args.slice(2);
  if (args.length > 0) opts.args = args;
  opts.readOnly = ctx.bool('read-only');
  opts.cwd = ctx.string('cwd') || undefined;
  opts.tty = ctx.bool('tty');
  if (ctx.bool('net-host')) opts.netHost = { hostname: hostname() };
  const annotations = ctx.strings('annotation');
  if (annotations.length > 0) {
    opts.annotations = {};
    for (const a of annotations) {
      const at = a.indexOf('=');
      if (at < 0) throw new CommandError(`invalid key=value format annotation: ${a}`);
      opts.annotations[a.slice(0, at)] = a.slice(at + 1);
    }
  }
  for (const flag of ['cap-add', 'cap-drop'] as const) {
    if (ctx.strings(flag).some((c) => !c.startsWith('CAP_'))) throw new CommandError("capabilities must be specified with 'CAP_' prefix");
  }
  opts.capAdd = ctx.strings('cap-add');
  opts.capDrop = ctx.strings('cap-drop');
  opts.privileged = ctx.bool('privileged');
  const seccompProfile = ctx.string('seccomp-profile');
  if (!ctx.bool('seccomp') && seccompProfile !== '') throw new CommandError('seccomp must be set to true, if using a custom seccomp-profile');
  if (ctx.bool('seccomp')) {
    if (seccompProfile === '') opts.seccomp = true;
    else {
      let text: string;
      try {
        text = readFileSync(seccompProfile, 'utf8');
      } catch (err) {
        throw new CommandError(`cannot load seccomp profile ${JSON.stringify(seccompProfile)}: ${goPathError('open', seccompProfile, err as NodeJS.ErrnoException)}`);
      }
      try {
        opts.seccomp = JSON.parse(text) as Record<string, unknown>;
      } catch (err) {
        throw new CommandError(`decoding seccomp profile failed ${JSON.stringify(seccompProfile)}: ${(err as Error).message}`);
      }
    }
  }
  const cpus = ctx.number('cpus');
  if (cpus > 0) opts.cpus = cpus;
  if (ctx.number('cpu-shares') > 0) opts.cpuShares = ctx.number('cpu-shares');
  const quota = ctx.isSet('cpu-quota') ? ctx.number('cpu-quota') : -1;
  const period = ctx.number('cpu-period');
  if (quota !== -1 || period !== 0) {
    if (cpus > 0) throw new CommandError('cpus and quota/period should be used separately');
    opts.cpuQuota = quota;
    opts.cpuPeriod = period;
  }
  opts.joinNamespaces = ctx.strings('with-ns').map((ns) => {
    const parts = ns.split(':');
    if (parts.length !== 2) throw new CommandError("joining a Linux namespace using --with-ns requires the format 'nstype:path'");
    if (!NAMESPACE_TYPES.includes(parts[0]!)) throw new CommandError(`the Linux namespace type specified in --with-ns is not valid: ${parts[0]}`);
    return { type: parts[0]!, path: parts[1]! };
  });
  if (ctx.isSet('allow-new-privs')) opts.allowNewPrivileges = true;
  if (ctx.isSet('cgroup')) opts.cgroup = ctx.string('cgroup');
  if (ctx.number('memory-limit') !== 0) opts.memoryLimit = ctx.number('memory-limit');
  opts.devices = ctx.strings('device');
  opts.rootfsPropagation = ctx.string('rootfs-propagation') || undefined;
  const runtime = ctx.string('runtime');
  if ((ctx.string('runc-binary') !== '' || ctx.bool('runc-systemd-cgroup')) && runtime !== 'io.containerd.runc.v2') {
    throw new CommandError('specifying runc-binary and runc-systemd-cgroup is only supported for "io.containerd.runc.v2" runtime');
  }
  if (ctx.bool('runc-systemd-cgroup') && ctx.string('cgroup') === '') {
    throw new CommandError('option --runc-systemd-cgroup requires --cgroup to be set, e.g. "machine.slice:foo:deadbeef"');
  }
  opts.runtime = runtime;
  opts.runc = runcFlags(ctx);
  const platform = ctx.string('platform');
  if (platform) opts.platform = parsePlatform(platform);
  return opts;
}

const runcFlags = (ctx: Context) => ({ binaryName: ctx.string('runc-binary'), root: ctx.string('runc-root'), systemdCgroup: ctx.bool('runc-systemd-cgroup') });

/** Flags whose feature this host or ctr-ts does not offer: one line saying so. */
export function unsupportedFlag(name: string): string {
  const why: Record<string, string> = {
    'apparmor-default-profile': 'AppArmor profiles are not supported by ctr-ts',
    'apparmor-profile': 'AppArmor profiles are not supported by ctr-ts',
    gpus: 'GPUs (--gpus) are not supported by ctr-ts',
    'rdt-class': 'RDT classes (--rdt-class) are not supported by ctr-ts',
  };
  return why[name] ?? `--${name} is not supported by ctr-ts`;
}

/** The image ref and container ID of `run`/`containers create`, checked as ctr checks them. */
export function refAndId(ctx: Context, suffix = ''): { ref: string; id: string } {
  if (ctx.isSet('config')) {
    if (ctx.args.length > 1) throw new CommandError(`with spec config file, only container id should be provided${suffix}`);
    const id = ctx.args[0] ?? '';
    if (id === '') throw new CommandError(`container id must be provided${suffix}`);
    return { ref: '', id };
  }
  const ref = ctx.args[0] ?? '';
  const id = ctx.args[1] ?? '';
  if (ref === '') throw new CommandError(`image ref must be provided${suffix}`);
  if (id === '') throw new CommandError(`container id must be provided${suffix}`);
  return { ref, id };
}

/** commands.WritePidFile: written to a dot file beside it, then renamed. */
export async function writePidFile(path: string, pid: number): Promise<void> {
  const abs = resolve(path);
  const tmp = join(dirname(abs), `.${basename(abs)}`);
  await writeFile(tmp, String(pid), { flag: 'wx' });
  await rename(tmp, abs);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The signals ctr forwards to a task it runs without a TTY. */
const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGCONT', 'SIGTSTP'] as const;

/**
 * Runs a created process to its end: stdio copied, signals forwarded (or the pty resized),
 * its exit awaited, then its output drained. Used by `run`, `tasks start` and `tasks exec`.
 */
export async function attachAndWait(
  task: Task,
  io: FifoIO | undefined,
  opts: { tty: boolean; execId?: string; start: () => Promise<number>; pidFile?: string },
): Promise<number> {
  const ac = new AbortController();
  const exited = task.wait(opts.execId ?? '', ac.signal);
  exited.catch(() => {});
  const handlers: Array<[string, () => void]> = [];
  try {
    const pid = await opts.start();
    if (opts.pidFile) await writePidFile(opts.pidFile, pid);
    if (opts.tty && process.stdout.isTTY) {
      const resize = () => task.resize(process.stdout.columns, process.stdout.rows, opts.execId).catch(() => {});
      await resize();
      handlers.push(['SIGWINCH', resize]);
    } else if (!opts.tty) {
      for (const sig of FORWARDED) {
        const n = sig as NodeJS.Signals;
        handlers.push([n, () => task.kill(requireSignal(n), opts.execId ? { execId: opts.execId } : {}).catch(() => {})]);
      }
    }
    for (const [s, h] of handlers) process.on(s, h);
    const status = await exited;
    if (io) {
      await Promise.race([io.wait(), sleep(2000)]);
      await io.close();
    }
    return status.code;
  } finally {
    ac.abort();
    for (const [s, h] of handlers) process.off(s, h);
  }
}

const requireSignal = (name: string): number => (osConstants.signals as Record<string, number>)[name] ?? 15;

/** The terminal put into raw mode for a TTY session; returns the function that restores it. */
export function rawTerminal(tty: boolean): () => void {
  if (!tty || !process.stdin.isTTY) return () => {};
  process.stdin.setRawMode(true);
  return () => process.stdin.setRawMode(false);
}

/** This process's streams for a task (no stderr with a TTY: the pty carries both). */
export function processStreams(tty: boolean): Streams {
  return tty ? { stdin: process.stdin, stdout: process.stdout } : { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
}

/** Stops reading this process's stdin so it can exit. */
export function releaseStdin(): void {
  process.stdin.unpipe();
  process.stdin.pause();
  process.stdin.destroy();
}

export const runCommand: Command = {
  name: 'run',
  usage: 'run a container',
  argsUsage: '[flags] Image|RootFS ID [COMMAND] [ARG...]',
  skipArgReorder: true,
  flags: [
    { name: 'rm', type: 'bool', usage: 'remove the container after running, cannot be used with --detach' },
    { name: 'null-io', type: 'bool', usage: 'send all IO to /dev/null' },
    { name: 'log-uri', type: 'string', usage: 'log uri' },
    { name: 'detach', aliases: ['d'], type: 'bool', usage: 'detach from the task after it has started execution, cannot be used with --rm' },
    { name: 'fifo-dir', type: 'string', usage: 'directory used for storing IO FIFOs' },
    { name: 'cgroup', type: 'string', usage: 'cgroup path (To disable use of cgroup, set to "" explicitly)' },
    { name: 'platform', type: 'string', usage: 'run image for specific platform' },
    { name: 'cni', type: 'bool', usage: 'enable cni networking for the container' },
    ...PLATFORM_RUN_FLAGS,
    ...SNAPSHOTTER_FLAGS,
    ...CONTAINER_FLAGS,
  ],
  async action(ctx) {
    const { ref, id } = refAndId(ctx);
    const rm = ctx.bool('rm');
    const detach = ctx.bool('detach');
    const tty = ctx.bool('tty');
    if (rm && detach) throw new CommandError('flags --detach and --rm cannot be specified together');
    const logUri = ctx.string('log-uri');
    if (logUri !== '' && !tty && !ctx.bool('null-io')) checkLogUri(logUri);
    if (tty && ctx.bool('null-io')) throw new CommandError('tty and null-io cannot be used together');
    const opts = containerOptions(ctx, ref);
    let code = 0;
    await withConnection(ctx, async (conn, namespace) => {
      await checkMappings(conn, namespace, opts);
      await createContainer(conn, namespace, id, opts);
      let io: FifoIO | undefined;
      let restore = () => {};
      let network: Cni | undefined;
      try {
        if (ctx.bool('cni')) network = await Cni.load();
        restore = rawTerminal(tty);
        // cio.LogURI: the shim writes stdout and stderr to the URI (file:// or binary://); no stdin.
        const logged = logUri !== '' && !tty && !ctx.bool('null-io');
        if (!ctx.bool('null-io') && !logged) io = await FifoIO.create(id, { fifoDir: ctx.string('fifo-dir'), terminal: tty, streams: processStreams(tty) });
        const paths = logged ? { stdin: '', stdout: logUri, stderr: logUri, terminal: false } : (io?.paths ?? { stdin: '', stdout: '', stderr: '', terminal: false });
        const task = await Task.create(conn, id, paths, {}, noPivotOptions(ctx));
        // --cni: the default CNI network set up in the task's network namespace before it
        // starts, and (when not detached) removed once it has exited, as ctr does.
        const networkId = `${namespace}-${id}`;
        // A failed setup deletes the task (ctr 1.6 leaves it created: its deferred Delete
        // refuses a created task) and removes what the plugins did (attached, the finally
        // below does).
        const setupNetwork = async () => {
          if (!network) return;
          try {
            await network.setup(networkId, `/proc/${task.pid}/ns/net`);
          } catch (err) {
            if (detach) await removeNetwork(network, networkId);
            // A created task's init is waiting to be started: killed, then deleted.
            await task.delete({ force: true }).catch(() => {});
            throw new CommandError((err as Error).message);
          }
        };
        if (detach) {
          await setupNetwork();
          await task.start();
          if (ctx.isSet('pid-file')) await writePidFile(ctx.string('pid-file'), task.pid);
          return;
        }
        io?.start(() => task.closeStdin());
        const start = async () => {
          await setupNetwork();
          return task.start();
        };
        try {
          code = await attachAndWait(task, io, { tty, start, pidFile: ctx.isSet('pid-file') ? ctx.string('pid-file') : undefined });
        } finally {
          if (network) await removeNetwork(network, networkId);
        }
        io = undefined;
        await task.delete();
      } finally {
        restore();
        // Detached, the fifos stay for a later `tasks attach` (as ctr leaves them).
        if (io) await io.close({ keepDir: detach }).catch(() => {});
        releaseStdin();
        if (rm && !detach) await deleteContainer(conn, id).catch(() => {});
      }
    });
    if (code !== 0) throw new ExitError('', code);
  },
};

/** The network removed from a task that has exited (no namespace left to name); a failure is logged, as ctr logs it. */
async function removeNetwork(network: Cni, networkId: string): Promise<void> {
  try {
    await network.remove(networkId, '');
  } catch (err) {
    logLine('error', 'network review', { error: (err as Error).message });
  }
}

/** url.Parse of a --log-uri as ctr checks it (a scheme is what the shim needs). */
function checkLogUri(uri: string): void {
  if ([...uri].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) throw new CommandError(`parse ${JSON.stringify(uri)}: net/url: invalid control character in URL`);
}

/** The task options of `--no-pivot` (runc's NoPivotRoot). */
export function noPivotOptions(ctx: Context): { typeUrl: string; value: Buffer } | undefined {
  if (!ctx.bool('no-pivot')) return undefined;
  // containerd.runc.v1.Options with no_pivot_root (field 1) true.
  return { typeUrl: 'containerd.runc.v1.Options', value: Buffer.from([0x08, 0x01]) };
}
