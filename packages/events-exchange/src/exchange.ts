// The event exchange: publishers and forwarders put envelopes on it, every subscriber
// whose filters match gets them, in order, through its own unbounded queue (a slow
// subscriber never holds up a publisher, as with containerd's broadcaster and queues).
import { type Any, packFields, unpackFields } from '@containerd-ts/api';
import { ContainerdError, invalidArgument } from '@containerd-ts/errdefs';
import { type Adaptor, type Filter, objectAdaptor, parseAll } from '@containerd-ts/filters';
import { type RequestContext, namespaceRequired, validateIdentifier } from '@containerd-ts/namespaces';
import type { Logger } from '@containerd-ts/plugin';
import { type Timestamp, isGoZeroTime, now } from '@containerd-ts/timestamp';

/** An event to publish: packed already, or a message by protobuf full name with its fields by .proto field name. */
export type EventInput = Any | { readonly type: string; readonly fields: Readonly<Record<string, unknown>> };

export interface Envelope {
  /** When it was published, to the nanosecond. */
  timestamp: Timestamp;
  namespace: string;
  topic: string;
  /** The event, packed with containerd's type URL (the message's full name). */
  event: Any;
}

/** An envelope from another publisher, before validation: its timestamp may be missing. */
export type ForwardedEnvelope = Omit<Envelope, 'timestamp'> & { timestamp: Timestamp | undefined };

export interface Subscription extends AsyncIterable<Envelope> {
  /** Ends the subscription; the iterator finishes after what is already queued is dropped. */
  close(): void;
}

function prefixed(prefix: string, err: unknown): unknown {
  if (!(err instanceof ContainerdError)) return err;
  const wrapped = new ContainerdError(err.kind, undefined, { cause: err });
  wrapped.message = `${prefix}: ${err.message}`;
  return wrapped;
}

/** containerd's topic rules: non-empty, starts with '/', each component an identifier. */
export function validateTopic(topic: string): void {
  if (topic === '') throw invalidArgument('must not be empty');
  if (topic[0] !== '/') throw invalidArgument("must start with '/'");
  if (topic.length === 1) throw invalidArgument('must have at least one component');
  for (const component of topic.slice(1).split('/')) {
    try {
      validateIdentifier(component);
    } catch (err) {
      throw prefixed(`failed validation on component ${JSON.stringify(component)}`, err);
    }
  }
}

function validateEnvelope(envelope: ForwardedEnvelope): asserts envelope is Envelope {
  try {
    validateIdentifier(envelope.namespace);
  } catch (err) {
    throw prefixed('event envelope has invalid namespace', err);
  }
  try {
    validateTopic(envelope.topic);
  } catch (err) {
    throw prefixed(`envelope topic ${JSON.stringify(envelope.topic)}`, err);
  }
  // Unset: absent, Go's zero time (what a Go client sends for it) or the Unix epoch.
  const t = envelope.timestamp;
  if (!t || isGoZeroTime(t) || (t.seconds === 0 && t.nanos === 0) || !Number.isFinite(t.seconds) || !Number.isFinite(t.nanos)) {
    throw invalidArgument('timestamp must be set on forwarded event');
  }
}

/** An Adaptor over an event's decoded fields: strings, nested messages, maps (by joined key). */
function fieldsAdaptor(fields: Readonly<Record<string, unknown>>): Adaptor {
  return {
    field(path) {
      let value: unknown = fields;
      for (let i = 0; i < path.length; i++) {
        if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return undefined;
        const container = value as Record<string, unknown>;
        const name = path[i]!;
        if (!Object.hasOwn(container, name)) {
          // A map field: the rest of the path, joined with '.', is the key.
          const joined = path.slice(i).join('.');
          return Object.hasOwn(container, joined) && typeof container[joined] === 'string' ? (container[joined] as string) || undefined : undefined;
        }
        value = container[name];
      }
      if (typeof value === 'string') return value === '' ? undefined : value;
      if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
      return undefined;
    },
  };
}

interface Subscriber {
  filter: Filter;
  queue: Envelope[];
  wake: (() => void) | undefined;
  closed: boolean;
}

export interface ExchangeOptions {
  log?: Logger;
}

export class Exchange {
  private readonly subscribers = new Set<Subscriber>();
  private readonly log: Logger | undefined;

  constructor(options: ExchangeOptions = {}) {
    this.log = options.log;
  }

  /**
   * Publishes `event` on `topic` in the request's namespace, stamped now. An unknown
   * message type is `not-found` (`type with url …`), as containerd's typeurl says.
   */
  async publish(ctx: RequestContext, topic: string, event: EventInput): Promise<void> {
    let namespace: string;
    try {
      namespace = namespaceRequired(ctx);
    } catch (err) {
      throw prefixed('failed publishing event', err);
    }
    try {
      validateTopic(topic);
    } catch (err) {
      throw prefixed(`envelope topic ${JSON.stringify(topic)}`, err);
    }
    const packed = 'typeUrl' in event ? event : packFields(event.type, event.fields);
    this.broadcast({ timestamp: now(), namespace, topic, event: packed });
  }

  /** Puts an envelope from another publisher (a shim, a client) on the exchange as is. */
  async forward(_ctx: RequestContext, envelope: ForwardedEnvelope): Promise<void> {
    validateEnvelope(envelope);
    this.broadcast(envelope);
  }

  /**
   * Envelopes published from now on that match any of `filters` (fields `topic`,
   * `namespace`, `event.<field>`). Ends when `signal` aborts or `close` is called.
   * A malformed filter throws `invalid-argument`.
   */
  subscribe(filters: readonly string[] = [], signal?: AbortSignal): Subscription {
    let filter: Filter;
    try {
      filter = parseAll(filters);
    } catch (err) {
      throw prefixed('failed parsing subscription filters', err);
    }
    const sub: Subscriber = { filter, queue: [], wake: undefined, closed: false };
    this.subscribers.add(sub);
    const close = () => {
      if (sub.closed) return;
      sub.closed = true;
      sub.queue.length = 0;
      this.subscribers.delete(sub);
      signal?.removeEventListener('abort', close);
      sub.wake?.();
    };
    if (signal?.aborted) close();
    else signal?.addEventListener('abort', close, { once: true });

    const iterator: AsyncIterator<Envelope> = {
      next: async () => {
        for (;;) {
          const next = sub.queue.shift();
          if (next) return { value: next, done: false };
          if (sub.closed) return { value: undefined, done: true };
          await new Promise<void>((resolve) => {
            sub.wake = resolve;
          });
          sub.wake = undefined;
        }
      },
      return: async () => {
        close();
        return { value: undefined, done: true };
      },
    };
    return { close, [Symbol.asyncIterator]: () => iterator };
  }

  /** Number of active subscriptions. */
  get subscriberCount(): number {
    return this.subscribers.size;
  }

  private broadcast(envelope: Envelope): void {
    let adaptor: Adaptor | undefined;
    for (const sub of this.subscribers) {
      adaptor ??= this.adapt(envelope);
      if (!sub.filter.match(adaptor)) continue;
      sub.queue.push(envelope);
      sub.wake?.();
    }
    this.log?.debug({ topic: envelope.topic, ns: envelope.namespace, type: envelope.event.typeUrl }, 'event published');
  }

  private adapt(envelope: Envelope): Adaptor {
    let decoded: Adaptor | null | undefined;
    const event: Adaptor = {
      field: (path) => {
        if (decoded === undefined) {
          let fields: Readonly<Record<string, unknown>> | undefined;
          try {
            fields = unpackFields(envelope.event).fields;
          } catch {
            // An event of a type this daemon does not know has no fields to match.
            fields = undefined;
          }
          decoded = fields ? fieldsAdaptor(fields) : null;
        }
        return decoded ? decoded.field(path) : undefined;
      },
    };
    return objectAdaptor({ namespace: envelope.namespace, topic: envelope.topic, event });
  }
}
