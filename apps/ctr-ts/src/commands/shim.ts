// ctr-ts shim: ttrpc straight to a task's shim as `ctr shim --id … state` does (the v2 socket
// under /run/containerd/s named by the daemon address, namespace and ID, else a v1 shim's
// abstract socket), printing the shim's answer as ctr's PrintAsJSON.
import { createHash } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { DeleteRequest, DeleteResponse, StartRequest, StartResponse, StateRequest, StateResponse } from '@containerd-ts/api/runtime/task';
import { TtrpcClient } from '@containerd-ts/ttrpc';
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

export const shimCommand: Command = {
  name: 'shim',
  usage: 'interact with a shim directly',
  flags: [{ name: 'id', type: 'string', usage: 'container id' }],
  subcommands: [deleteCommand, startCommand, stateCommand],
};
