// ctr-ts shim: ttrpc straight to a task's shim as `ctr shim --id … state` does (the v2 socket
// under /run/containerd/s named by the daemon address, namespace and ID, else a v1 shim's
// abstract socket), printing the shim's answer as ctr's PrintAsJSON.
import { createHash } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { readFile, unlink } from 'node:fs/promises';
import {
  DeleteRequest,
  DeleteResponse,
  ExecProcessRequest,
  ExecProcessResponse,
  ResizePtyRequest,
  StartRequest,
  StartResponse,
  StateRequest,
  StateResponse,
} from '@containerd-ts/api/runtime/task';
import { Empty } from '@containerd-ts/api/types/empty';
import { type FifoIO, PROCESS_TYPE_URL, attachFifos, goPathError, makeFifo } from '@containerd-ts/client';
import { TtrpcClient, TtrpcStatusError } from '@containerd-ts/ttrpc';
import { formatRFC3339Nano, GO_ZERO_TIME } from '@containerd-ts/timestamp';
import type { Command, Context } from '../cli.js';
import { CommandError, globalOptions } from '../context.js';

/** shim.SocketAddress: unix:///run/containerd/s/<sha256(address/namespace/id)>. */
export const shimSocketPath = (address: string, namespace: string, id: string) =>
  `/run/containerd/s/${createHash('sha256').update(join(address, namespace, id)).digest('hex')}`;

const canConnect = (path: string) =>
  new Promise<boolean>((resolve) => {
    const s = netConnect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

async function dialShim(ctx: Context): Promise<TtrpcClient> {
  const g = globalOptions(ctx);
  const id = shimId(ctx);
  if (id === '') throw new CommandError('container id must be specified');
  const v2 = shimSocketPath(g.address, g.namespace, id);
  const v1 = `\0${join('/', 'containerd-shim', g.namespace, id, 'shim.sock')}`;
  for (const socket of [v2, v1]) {
    if (await canConnect(socket)) return TtrpcClient.connect(socket);
  }
  throw new CommandError(`fail to connect to container ${id}'s shim`);
}

function shimId(ctx: Context): string {
  let c: Context | undefined = ctx;
  while (c && c.command.name !== 'shim') c = c.parent;
  return c?.string('id') ?? '';
}

const SERVICE = 'containerd.task.v2.Task';

const stateCommand: Command = {
  name: 'state',
  usage: 'get the state of all the processes of the task',
  async action(ctx) {
    const client = await dialShim(ctx);
    try {
      const r = await client.callMessage(SERVICE, 'State', StateRequest.fromPartial({ id: shimId(ctx) }), { request: StateRequest, response: StateResponse });
      // gogo's StateResponse: omitempty everywhere but exited_at.
      const out: Record<string, unknown> = {};
      if (r.id) out.id = r.id;
      if (r.bundle) out.bundle = r.bundle;
      if (r.pid) out.pid = r.pid;
      if (r.status) out.status = r.status;
      if (r.stdin) out.stdin = r.stdin;
      if (r.stdout) out.stdout = r.stdout;
      if (r.stderr) out.stderr = r.stderr;
      if (r.terminal) out.terminal = r.terminal;
      if (r.exitStatus) out.exit_status = r.exitStatus;
      out.exited_at = formatRFC3339Nano(r.exitedAt ?? GO_ZERO_TIME);
      if (r.execId) out.exec_id = r.execId;
      ctx.out(`${JSON.stringify(out, null, 4)}\n`);
    } finally {
      client.close();
    }
  },
};

/** A shim error as ctr prints it (the ttrpc status message). */
async function withShim<T>(ctx: Context, f: (client: TtrpcClient) => Promise<T>): Promise<T> {
  const client = await dialShim(ctx);
  try {
    return await f(client);
  } finally {
    client.close();
  }
}

const startCommand: Command = {
  name: 'start',
  usage: 'start a container with a task',
  async action(ctx) {
    await withShim(ctx, (client) =>
      client.callMessage(SERVICE, 'Start', StartRequest.fromPartial({ id: ctx.args[0] ?? '' }), { request: StartRequest, response: StartResponse }),
    );
  },
};

const deleteCommand: Command = {
  name: 'delete',
  usage: 'delete a container with a task',
  async action(ctx) {
    const r = await withShim(ctx, (client) =>
      client.callMessage(SERVICE, 'Delete', DeleteRequest.fromPartial({ id: ctx.args[0] ?? '' }), { request: DeleteRequest, response: DeleteResponse }),
    );
    ctx.out(`container deleted and returned exit status ${r.exitStatus}\n`);
  },
};

const GRPC_CODES = [
  'OK',
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
];

/** A ttrpc status as ctr prints it when it passes the shim's error on unconverted (grpc's status text). */
function statusText(err: unknown): string {
  if (err instanceof TtrpcStatusError) return `rpc error: code = ${GRPC_CODES[err.grpcCode] ?? `Code(${err.grpcCode})`} desc = ${err.message}`;
  return (err as Error).message;
}

/**
 * The fifos of prepareStdio: each path made a fifo (0700) when missing, as fifo.OpenFifo
 * with O_CREAT does. Returns the paths this call created (removed again if the exec fails).
 */
function makeFifos(paths: string[]): string[] {
  const created: string[] = [];
  for (const p of paths) {
    if (existsSync(p)) continue;
    try {
      makeFifo(p);
    } catch (err) {
      throw new CommandError(`error creating fifo ${p}: ${goPathError('mkfifo', p, err as NodeJS.ErrnoException).replace(/^mkfifo [^:]*: /, '')}`);
    }
    created.push(p);
  }
  return created;
}

const execCommand: Command = {
  name: 'exec',
  usage: "exec a new process in the task's container",
  flags: [
    { name: 'stdin', type: 'string', usage: 'specify the path to the stdin fifo' },
    { name: 'stdout', type: 'string', usage: 'specify the path to the stdout fifo' },
    { name: 'stderr', type: 'string', usage: 'specify the path to the stderr fifo' },
    { name: 'tty', aliases: ['t'], type: 'bool', usage: 'enable tty support' },
    { name: 'attach', aliases: ['a'], type: 'bool', usage: 'stay attached to the container and open the fifos' },
    { name: 'env', aliases: ['e'], type: 'string-slice', usage: 'add environment vars' },
    { name: 'cwd', type: 'string', usage: 'current working directory' },
    { name: 'spec', type: 'string', usage: 'runtime spec' },
  ],
  async action(ctx) {
    const client = await dialShim(ctx);
    let created: string[] = [];
    let io: FifoIO | undefined;
    let started = false;
    try {
      const id = ctx.args[0] ?? '';
      if (id === '') throw new CommandError('exec id must be provided');
      const tty = ctx.bool('tty');
      const paths = { stdin: ctx.string('stdin'), stdout: ctx.string('stdout'), stderr: ctx.string('stderr'), terminal: tty };
      created = makeFifos([paths.stdin, paths.stdout, paths.stderr]);
      io = await attachFifos(paths, tty ? { stdin: process.stdin, stdout: process.stdout } : { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
      const specFile = ctx.string('spec');
      let spec: Buffer;
      try {
        spec = await readFile(specFile);
      } catch (err) {
        throw new CommandError(goPathError('open', specFile, err as NodeJS.ErrnoException));
      }
      // ctr 1.6 puts the exec ID in the container's field and then panics on the spec's type
      // URL before sending anything; the request here is the one the task API means.
      const containerId = shimId(ctx);
      const request = ExecProcessRequest.fromPartial({
        id: containerId,
        execId: id,
        spec: { typeUrl: PROCESS_TYPE_URL, value: spec },
        stdin: paths.stdin,
        stdout: paths.stdout,
        stderr: paths.stderr,
        terminal: tty,
      });
      try {
        await client.callMessage(SERVICE, 'Exec', request, { request: ExecProcessRequest, response: ExecProcessResponse });
        const r = await client.callMessage(SERVICE, 'Start', StartRequest.fromPartial({ id: containerId, execId: id }), { request: StartRequest, response: StartResponse });
        started = true;
        ctx.out(`exec running with pid ${r.pid}\n`);
      } catch (err) {
        throw new CommandError(statusText(err));
      }
      if (ctx.bool('attach')) {
        io.start();
        if (tty && process.stdout.isTTY) {
          await client.callMessage(SERVICE, 'ResizePty', ResizePtyRequest.fromPartial({ id: containerId, execId: id, width: process.stdout.columns, height: process.stdout.rows }), {
            request: ResizePtyRequest,
            response: Empty,
          });
        }
        await io.wait();
      }
    } finally {
      client.close();
      // The fifos belong to the process once it runs; otherwise what this call made goes.
      await io?.close({ keepDir: true });
      if (!started) for (const p of created) await unlink(p).catch(() => {});
      process.stdin.pause();
    }
  },
};

export const shimCommand: Command = {
  name: 'shim',
  usage: 'interact with a shim directly',
  flags: [{ name: 'id', type: 'string', usage: 'container id' }],
  subcommands: [deleteCommand, execCommand, startCommand, stateCommand],
};
