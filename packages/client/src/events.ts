// client.Subscribe: the daemon's event stream, filtered as containerd filters it
// (`topic==/tasks/exit`, `namespace==…`), each envelope with its payload decoded.
import { unpackAny } from '@containerd-ts/api';
import { EventsService } from '@containerd-ts/api/services/events';
import type { CallContext, Connection } from './connection.js';

export interface Envelope {
  timestamp: Date | undefined;
  namespace: string;
  topic: string;
  /** The event's type URL (`containerd.events.TaskExit`, …). */
  typeUrl: string;
  /** The decoded event message, or undefined when its type is unknown to the registry. */
  event: unknown;
}

/**
 * Yields every event that matches one of `filters` (all when empty) until `ctx.signal`
 * aborts or the caller stops iterating.
 */
export async function* subscribeEvents(conn: Connection, filters: readonly string[] = [], ctx: CallContext = {}): AsyncGenerator<Envelope> {
  for await (const e of conn.serverStream(EventsService.subscribe, { filters: [...filters] }, ctx)) {
    let event: unknown;
    try {
      event = e.event ? unpackAny(e.event).value : undefined;
    } catch {
      event = undefined;
    }
    const t = e.timestamp;
    yield {
      timestamp: t ? new Date(Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6)) : undefined,
      namespace: e.namespace,
      topic: e.topic,
      typeUrl: e.event?.typeUrl ?? '',
      event,
    };
  }
}
