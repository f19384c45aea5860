// The containerd.services.events.ttrpc.v1.Events ttrpc service: where shims (TTRPC_ADDRESS)
// forward the envelopes they publish; each goes on the exchange as it came, so gRPC
// subscribers (`ctr events`) see the shim's namespace, topic, timestamp and event.
import { EventsService as TtrpcEventsDefinition } from '@containerd-ts/api/services/ttrpc-events';
import { type TtrpcServiceRegistration, ttrpcRequestContext, ttrpcService } from '@containerd-ts/ttrpc';
import type { EventsService } from './events.js';

export function eventsTtrpcService(local: EventsService): TtrpcServiceRegistration {
  return ttrpcService(TtrpcEventsDefinition, {
    forward: async (req, ctx) => {
      await local.forward(ttrpcRequestContext(ctx), req);
      return {};
    },
  });
}
