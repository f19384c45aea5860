// Global flags shared by every ctr-ts command, and the connection they describe.
import { Connection } from '@containerd-ts/client';
import type { Context } from './cli.js';

export const DEFAULT_ADDRESS = '/run/containerd-ts/containerd-ts.sock';

export interface GlobalOptions {
  address: string;
  namespace: string;
  timeoutMs: number;
  connectTimeoutMs: number;
  debug: boolean;
}

/** The global flags as the command's context has them. */
export function globalOptions(ctx: Context): GlobalOptions {
  let root = ctx;
  while (root.parent) root = root.parent;
  return {
    address: root.string('address'),
    namespace: root.string('namespace'),
    timeoutMs: root.number('timeout'),
    connectTimeoutMs: root.number('connect-timeout'),
    debug: root.bool('debug'),
  };
}

/** A user-facing failure: printed as `ctr-ts: <message>`, exit status 1. */
export class CommandError extends Error {
  override name = 'CommandError';
}

export async function connect(opts: GlobalOptions): Promise<Connection> {
  const conn = new Connection(opts.address, {
    namespace: opts.namespace,
    timeoutMs: opts.timeoutMs,
    connectTimeoutMs: opts.connectTimeoutMs || 10_000,
  });
  try {
    await conn.ready();
  } catch {
    conn.close();
    throw new CommandError(`failed to dial "${opts.address}": context deadline exceeded`);
  }
  return conn;
}


/** Runs `f` on a connection made from the command's global flags (and their namespace), closed when `f` ends. */
export async function withConnection<T>(ctx: Context, f: (conn: Connection, namespace: string) => Promise<T>): Promise<T> {
  const g = globalOptions(ctx);
  const conn = await connect(g);
  try {
    return await f(conn, g.namespace);
  } finally {
    conn.close();
  }
}
