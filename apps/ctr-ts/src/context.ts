// Global flags shared by every ctr-ts command, and the connection they describe.
import { Connection } from '@containerd-ts/client';

export const DEFAULT_ADDRESS = '/run/containerd-ts/containerd-ts.sock';

export interface GlobalOptions {
  address: string;
  namespace: string;
  timeoutMs: number;
  connectTimeoutMs: number;
  debug: boolean;
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

/** Parses a Go duration as ctr's flags take them ("10s", "1m30s", "500ms"); 0 when empty. */
export function parseDurationMs(text: string): number {
  if (!text || text === '0') return 0;
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let consumed = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    total += Number(m[1]) * units[m[2]!]!;
    consumed = re.lastIndex;
  }
  if (consumed !== text.length) throw new CommandError(`invalid duration "${text}"`);
  return total;
}
