// client.WithLease: a lease with a random ID and a 24 h expiry for the duration of a flow,
// deleted when it ends (whatever way it ends).
import { randomBytes } from 'node:crypto';
import { LeasesService } from '@containerd-ts/api/services/leases';
import type { CallContext, Connection } from './connection.js';

/**
 * The nanoseconds of now and 3 random bytes in URL base64: how containerd makes a name
 * unique (leases.WithRandomID, rootfs's uniquePart for temporary snapshot keys).
 */
export const uniquePart = () => `${(Date.now() % 1000) * 1_000_000 + Math.floor(Math.random() * 1_000_000)}-${randomBytes(3).toString('base64url')}`;

/** leases.WithRandomID. */
export const randomLeaseId = uniquePart;

/** time.Time.Format(time.RFC3339) in the local zone. */
export function formatRFC3339(d: Date): string {
  const offset = -d.getTimezoneOffset();
  const local = new Date(d.getTime() + offset * 60_000);
  const base = local.toISOString().replace(/\.\d{3}Z$/, '');
  if (offset === 0) return `${base}Z`;
  const sign = offset > 0 ? '+' : '-';
  const abs = Math.abs(offset);
  return `${base}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/**
 * Runs `f` under a lease: an existing `ctx.lease` is used as is; otherwise a new lease
 * (random ID, `containerd.io/gc.expire` in 24 h) is created and deleted afterwards.
 */
export async function withLease<T>(conn: Connection, ctx: CallContext, f: (ctx: CallContext) => Promise<T>): Promise<T> {
  if (ctx.lease) return f(ctx);
  const expire = formatRFC3339(new Date(Date.now() + 24 * 3600_000));
  const { namespace } = ctx;
  const created = await conn.unary(LeasesService.create, { id: randomLeaseId(), labels: { 'containerd.io/gc.expire': expire } }, { namespace });
  const id = created.lease?.id ?? '';
  try {
    return await f({ ...ctx, lease: id });
  } finally {
    // Deleted even when the flow was cancelled: the signal is not passed on.
    await conn.unary(LeasesService.delete, { id, sync: false }, { namespace });
  }
}
