// ctr-ts events [filters...]: streams the daemon's events, one line each, as ctr prints
// them: Go's time format, the namespace, the topic and the event as Go's JSON.
import { MAP_FIELD_NAMES, unpackFields } from '@containerd-ts/api';
import { EventsService } from '@containerd-ts/api/services/events';
import { GO_ZERO_TIME, type Timestamp, formatRFC3339Nano, goFraction } from '@containerd-ts/timestamp';
import type { Command } from '../cli.js';
import { connect, globalOptions } from '../context.js';
import { logLine } from '../log.js';

/** time.Time.String() of a UTC time: `2006-01-02 15:04:05.999999999 +0000 UTC`. */
export function goTimeString(t: Timestamp): string {
  const text = formatRFC3339Nano({ seconds: t.seconds, nanos: 0 });
  return `${text.slice(0, 10)} ${text.slice(11, 19)}${goFraction(t.nanos)} +0000 UTC`;
}

/** A decoded google.protobuf.Timestamp: an object of exactly `seconds` and `nanos`. */
const isTimestamp = (v: unknown): v is Timestamp => {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) return false;
  const keys = Object.keys(v);
  return keys.length === 2 && typeof (v as Timestamp).seconds === 'number' && typeof (v as Timestamp).nanos === 'number';
};

const isEmpty = (v: unknown): boolean =>
  v === undefined ||
  v === null ||
  v === '' ||
  v === 0 ||
  v === false ||
  (Array.isArray(v) && v.length === 0) ||
  (v instanceof Uint8Array && v.length === 0) ||
  (typeof v === 'object' && !(v instanceof Uint8Array) && Object.keys(v).length === 0);

/**
 * A decoded event (fields by .proto name) as Go's json.Marshal writes the generated
 * struct: fields in declaration order, empty ones left out (omitempty), map keys sorted,
 * bytes in base64, times in RFC 3339 (always written, as non-nullable Go times are).
 */
export function goJson(value: unknown, isMap = false): string {
  // Go's encoding/json writes a time as RFC 3339 with trimmed nanoseconds.
  if (isTimestamp(value)) return JSON.stringify(formatRFC3339Nano(value));
  if (value instanceof Uint8Array) return JSON.stringify(Buffer.from(value).toString('base64'));
  if (Array.isArray(value)) return `[${value.map((v) => goJson(v)).join(',')}]`;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'object' || value === null) return JSON.stringify(value ?? null);
  const entries = Object.entries(value as Record<string, unknown>);
  const parts = isMap
    ? entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${JSON.stringify(k)}:${goJson(v)}`)
    : entries
        .filter(([, v]) => isTimestamp(v) || !isEmpty(v))
        .map(([k, v]) => `${JSON.stringify(k)}:${goJson(v, MAP_FIELD_NAMES.has(k))}`);
  return `{${parts.join(',')}}`;
}

export const eventsCommand: Command = {
  name: 'events',
  aliases: ['event'],
  usage: 'display containerd events',
  async action(ctx) {
    const conn = await connect(globalOptions(ctx));
    try {
      for await (const e of conn.serverStream(EventsService.subscribe, { filters: ctx.args })) {
        let json = '';
        if (e.event) {
          try {
            json = goJson(unpackFields(e.event).fields);
          } catch (err) {
            logLine('warning', 'cannot unmarshal an event from Any', { error: (err as Error).message });
            continue;
          }
        }
        ctx.out(`${goTimeString(e.timestamp ?? GO_ZERO_TIME)} ${e.namespace} ${e.topic} ${json}\n`);
      }
    } finally {
      conn.close();
    }
  },
};
