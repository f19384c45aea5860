// Test set-up: the tasks gRPC service over the real v2 runtime — Debian's
// containerd-shim-runc-v2 and runc — with a real metadata database for the container
// records, an event exchange the shims forward their events to over a real ttrpc socket,
// and a busybox root file system (Debian's busybox-static) for the containers to run.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync } from 'node:fs';
import { readFile, readdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { RUNTIME_SPEC_TYPE_URLS } from '@containerd-ts/api';
import type { Connection } from '@containerd-ts/client';
import type { Container } from '@containerd-ts/metadata-level';
import type { Logger } from '@containerd-ts/plugin';
import { RuntimeResolver, TaskManager, dialShim, runtimeTimeouts } from '@containerd-ts/runtime-v2';
import { EventsService, eventsTtrpcService } from '@containerd-ts/service-events';
import { type ServiceEnv, createServiceEnv } from '@containerd-ts/service-testing';
import { TtrpcServer, isTtrpcClosed, registerService } from '@containerd-ts/ttrpc';
import { tasksGrpcService } from '../grpc.js';
import { TasksService } from '../tasks.js';

/** Where Debian's busybox-static installs its binary. */
const BUSYBOX = '/bin/busybox';
const APPLETS = ['sh', 'sleep', 'true', 'echo', 'cat', 'id'];

export interface TestEnv extends Omit<ServiceEnv, 'connect'> {
  manager: TaskManager;
  /** The tasks service's state directory (its restore records). */
  serviceState: string;
  /** Another tasks service over the same runtime, stores and state directory (a restarted daemon's). */
  newService(): TasksService;
  /** A gRPC connection to the tasks service in `namespace`. */
  connect(namespace: string): Connection;
  /**
   * A container record running `args` on the busybox root (read-only), with runc's
   * default spec otherwise and the cgroup `/<namespace>/<id>` as ctr gives it.
   */
  createContainer(namespace: string, id: string, args: string[], fields?: Partial<Container>): Promise<void>;
  /** runc's default spec (`runc spec`) for `args` in `namespace`/`id`. */
  spec(namespace: string, id: string, args: string[]): Record<string, unknown> & { process: Record<string, unknown> };
  /** What is left of `namespace`'s tasks: bundles, work dirs, runc state, shim processes. */
  leftovers(namespace: string): Promise<string[]>;
}

const silent: Logger = {
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silent,
};

function requireHostTools(): void {
  for (const [tool, pkg] of [
    [BUSYBOX, 'busybox-static'],
    ['/usr/bin/containerd-shim-runc-v2', 'containerd'],
    ['/usr/sbin/runc', 'runc'],
  ] as const) {
    if (!existsSync(tool)) throw new Error(`the tasks service tests need ${tool} (Debian package ${pkg})`);
  }
}

/** A root file system with busybox and its applets, and the directories runc mounts over. */
function busyboxRoot(dir: string): string {
  const root = join(dir, 'rootfs');
  for (const d of ['bin', 'proc', 'dev', 'sys', 'tmp', 'etc']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync(BUSYBOX, join(root, 'bin', 'busybox'));
  for (const a of APPLETS) symlinkSync('busybox', join(root, 'bin', a));
  return root;
}

export async function createEnv(): Promise<TestEnv> {
  requireHostTools();
  let manager: TaskManager | undefined;
  let baseSpec: (Record<string, unknown> & { process: Record<string, unknown>; linux: Record<string, unknown> }) | undefined;
  let rootfs = '';
  let newService: (() => TasksService) | undefined;
  const env = await createServiceEnv({
    name: 'service-tasks',
    async services({ dir, db, exchange, socket, defer }) {
      rootfs = busyboxRoot(dir);
      execFileSync('runc', ['spec', '--bundle', dir]);
      baseSpec = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
      const ttrpcSocket = join(dir, 'ttrpc.sock');
      const ttrpc = new TtrpcServer();
      registerService(ttrpc, eventsTtrpcService(new EventsService(exchange)));
      await ttrpc.listen(ttrpcSocket);
      defer(() => ttrpc.close());
      const m = new TaskManager({
        root: join(dir, 'root'),
        state: join(dir, 'state'),
        shim: { address: socket, ttrpcAddress: ttrpcSocket, publishBinary: process.execPath, schedCore: false, debug: false },
        runcRoot: join(dir, 'runc'),
        timeouts: runtimeTimeouts(),
        resolver: new RuntimeResolver(),
        dial: dialShim,
        isClosedError: isTtrpcClosed,
        events: exchange,
        containers: db.containers,
        log: silent,
      });
      manager = m;
      defer(() => stopAll(m, join(dir, 'state')));
      newService = () =>
        new TasksService({ containers: db.containers, runtime: m, content: db.contentStore(), stateDir: join(dir, 'tasks-service'), stateTimeoutMs: 2000, log: silent });
      return [tasksGrpcService(newService())];
    },
  });
  const { dir, db, socket } = env;
  const state = join(dir, 'state');
  const spec = (namespace: string, id: string, args: string[]) => ({
    ...baseSpec!,
    process: { ...baseSpec!.process, terminal: false, args },
    root: { path: rootfs, readonly: true },
    linux: { ...baseSpec!.linux, cgroupsPath: `/${namespace}/${id}` },
  });
  // The shims serving this environment: their command lines name its socket.
  const shimPids = (): number[] => {
    const out: number[] = [];
    for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
      let args: string[];
      try {
        args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      } catch {
        continue; // gone meanwhile
      }
      if (args[0]?.includes('containerd-shim') && args.includes(socket)) out.push(Number(pid));
    }
    return out;
  };
  return {
    ...env,
    manager: manager!,
    serviceState: join(dir, 'tasks-service'),
    newService: newService!,
    connect: (namespace) => env.connect({ namespace }),
    spec,
    async createContainer(namespace, id, args, fields = {}) {
      await db.containers.create(
        { namespace },
        {
          id,
          runtime: { name: 'io.containerd.runc.v2' },
          spec: { typeUrl: RUNTIME_SPEC_TYPE_URLS.Spec, value: Buffer.from(JSON.stringify(spec(namespace, id, args))) },
          ...fields,
        },
      );
    },
    async leftovers(namespace) {
      const out: string[] = [];
      for (let i = 0; i < 50 && shimPids().length > 0; i++) await new Promise((r) => setTimeout(r, 100));
      for (const pid of shimPids()) out.push(`shim process ${pid}`);
      for (const e of await list(join(state, namespace))) out.push(`bundle ${e}`);
      for (const e of await list(join(dir, 'root', namespace))) out.push(`work dir ${e}`);
      for (const e of await list(join(dir, 'runc', namespace))) out.push(`runc state ${e}`);
      for (const hierarchy of await list('/sys/fs/cgroup')) {
        for (const e of await list(join('/sys/fs/cgroup', hierarchy, namespace))) {
          if (!e.includes('.') && !['tasks', 'notify_on_release'].includes(e)) out.push(`cgroup ${hierarchy}/${namespace}/${e}`);
        }
      }
      return out;
    },
  };
}

const list = (d: string) => readdir(d).catch(() => [] as string[]);

/** Whatever a failed test left running goes with its shim; then the namespaces' parent cgroups. */
async function stopAll(manager: TaskManager, state: string): Promise<void> {
  const namespaces = await list(state);
  for (const ns of namespaces) {
    for (const t of manager.list({ namespace: ns })) {
      await t.kill(9, true).catch(() => {});
      await Promise.race([t.wait().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
      await manager.delete({ namespace: ns }, t.id).catch(() => {});
    }
  }
  await manager.close();
  // runc removes a container's cgroup; the namespace's parent cgroup is the test's own.
  for (const ns of namespaces) {
    for (const hierarchy of await list('/sys/fs/cgroup')) await rmdir(join('/sys/fs/cgroup', hierarchy, ns)).catch(() => {});
  }
}
