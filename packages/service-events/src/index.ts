// Registration: io.containerd.grpc.v1 events, the gRPC API of the io.containerd.event.v1
// exchange (containerd registers no local service for events), which also offers the
// ttrpc events service shims forward to, on the daemon's ttrpc socket (as containerd's).
import type {} from '@containerd-ts/events-exchange';
import { definePlugin } from '@containerd-ts/plugin';
import { EventsService } from './events.js';
import { eventsGrpcService } from './grpc.js';
import { eventsTtrpcService } from './ttrpc.js';

export { type EnvelopeSink, EventsService, toApiEnvelope } from './events.js';
export { eventsGrpcService } from './grpc.js';
export { eventsTtrpcService } from './ttrpc.js';

export const eventsGrpcPlugin = definePlugin({
  type: 'io.containerd.grpc.v1',
  id: 'events',
  requires: ['io.containerd.event.v1'],
  init: (ctx) => {
    const local = new EventsService(ctx.getByID('io.containerd.event.v1', 'exchange'));
    return { services: [eventsGrpcService(local)], ttrpcServices: [eventsTtrpcService(local)] };
  },
});
