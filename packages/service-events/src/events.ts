// The gRPC face of the event exchange: Publish stamps an event with the request's
// namespace and the time, Forward passes a stamped envelope on as is, Subscribe streams
// every matching envelope until the client goes away, respecting back-pressure.
import type { Any } from '@containerd-ts/api';
import type { Envelope as ApiEnvelope, ForwardRequest, PublishRequest, SubscribeRequest } from '@containerd-ts/api/services/events';
import { invalidArgument } from '@containerd-ts/errdefs';
import type { Envelope, Exchange, ForwardedEnvelope } from '@containerd-ts/events-exchange';
import type { RequestContext } from '@containerd-ts/namespaces';


/** Where subscribed envelopes go: `write` returns false when the consumer is full. */
export interface EnvelopeSink {
  write(envelope: ApiEnvelope): boolean;
  /** Resolves when the consumer can take more (or the subscription ended). */
  drained(): Promise<void>;
}

export const toApiEnvelope = (e: Envelope): ApiEnvelope => ({
  timestamp: e.timestamp,
  namespace: e.namespace,
  topic: e.topic,
  event: e.event,
});

export class EventsService {
  constructor(private readonly exchange: Exchange) {}

  /** Publishes a packed event on a topic in the request's namespace. */
  async publish(ctx: RequestContext, req: PublishRequest): Promise<void> {
    // containerd dereferences the event unconditionally; answer instead of failing later.
    if (!req.event) throw invalidArgument('event must be set');
    await this.exchange.publish(ctx, req.topic, req.event);
  }

  /** Puts an envelope stamped elsewhere (a shim, another daemon) on the exchange. */
  async forward(ctx: RequestContext, req: ForwardRequest): Promise<void> {
    const e = req.envelope;
    if (!e) throw invalidArgument('envelope must be set');
    // An unset timestamp, or Go's zero time (what a Go client sends for one), is refused by
    // the exchange's validation.
    const timestamp = e.timestamp;
    const event: Any | undefined = e.event;
    const envelope: ForwardedEnvelope = { timestamp, namespace: e.namespace, topic: e.topic, event: event ?? { typeUrl: '', value: new Uint8Array() } };
    await this.exchange.forward(ctx, envelope);
  }

  /**
   * Streams envelopes matching any of the filters (`topic`, `namespace`, `event.<field>`)
   * into `sink` until `signal` aborts. A malformed filter fails the call as containerd's
   * does: code Unknown, message `subscription error: …`.
   */
  async subscribe(req: SubscribeRequest, signal: AbortSignal, sink: EnvelopeSink): Promise<void> {
    let subscription: ReturnType<Exchange['subscribe']>;
    try {
      subscription = this.exchange.subscribe(req.filters, signal);
    } catch (err) {
      throw new Error(`subscription error: ${(err as Error).message}`);
    }
    for await (const envelope of subscription) {
      if (!sink.write(toApiEnvelope(envelope))) await sink.drained();
      if (signal.aborted) break;
    }
  }
}
