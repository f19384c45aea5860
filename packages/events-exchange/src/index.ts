// Plugin registration of the event exchange: io.containerd.event.v1 "exchange".
import { definePlugin } from '@containerd-ts/plugin';
import { Exchange } from './exchange.js';

export {
  type Envelope,
  type EventInput,
  Exchange,
  type ExchangeOptions,
  type ForwardedEnvelope,
  type Subscription,
  validateTopic,
} from './exchange.js';

declare module '@containerd-ts/plugin' {
  interface PluginTypeMap {
    'io.containerd.event.v1': Exchange;
  }
}

export default definePlugin({
  type: 'io.containerd.event.v1',
  id: 'exchange',
  init(ctx) {
    return new Exchange({ log: ctx.log });
  },
});
