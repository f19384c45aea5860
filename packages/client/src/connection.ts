// One gRPC connection to a containerd-compatible daemon, with calls typed by the
// generated method definitions and containerd's namespace/lease metadata attached.
import { canceled, fromGrpcStatus } from '@containerd-ts/errdefs';
import { LEASE_HEADER, NAMESPACE_HEADER } from '@containerd-ts/namespaces';
import {
  type CallOptions,
  type ChannelOptions,
  Client,
  type ClientDuplexStream,
  connectivityState,
  Metadata,
  type MethodDefinition,
  type ServiceError,
  credentials,
} from '@grpc/grpc-js';

export interface ConnectionOptions {
  /** Namespace sent with every call (`containerd-namespace`) unless the call names its own. */
  namespace?: string;
  /** Lease sent with every call (`containerd-lease`) unless the call names its own. */
  lease?: string;
  /** Per-call deadline in milliseconds (0 = none). */
  timeoutMs?: number;
  /** How long to wait for the socket to accept the connection. */
  connectTimeoutMs?: number;
  maxMessageSize?: number;
  /** Extra grpc-js channel options (reconnect backoff, subchannel pool, …). */
  channelOptions?: ChannelOptions;
}

/**
 * What one call carries besides its request: the namespace and lease of the request it
 * serves (as containerd forwards them from its context), and a signal that cancels it.
 */
export interface CallContext {
  namespace?: string;
  lease?: string;
  signal?: AbortSignal;
}

/** A channel's connectivity, as grpc-js reports it. */
export type ChannelState = 'idle' | 'connecting' | 'ready' | 'transient-failure' | 'shutdown';

const channelStates: Record<number, ChannelState> = {
  [connectivityState.IDLE]: 'idle',
  [connectivityState.CONNECTING]: 'connecting',
  [connectivityState.READY]: 'ready',
  [connectivityState.TRANSIENT_FAILURE]: 'transient-failure',
  [connectivityState.SHUTDOWN]: 'shutdown',
};

/** A unix socket path or a `host:port` / `unix://…` target. */
export const targetOf = (address: string) => (address.startsWith('/') ? `unix://${address}` : address);

const toError = (err: ServiceError) => fromGrpcStatus(err.code, err.details || err.message);

/** True for an error a grpc-js call failed with (it carries a numeric status code). */
const isServiceError = (err: unknown): err is ServiceError =>
  err instanceof Error && typeof (err as Partial<ServiceError>).code === 'number';

/** Cancels `cancel()` when `signal` aborts; returns the function that stops listening. */
function onAbort(signal: AbortSignal | undefined, cancel: () => void): () => void {
  if (!signal) return () => {};
  if (signal.aborted) {
    cancel();
    return () => {};
  }
  signal.addEventListener('abort', cancel, { once: true });
  return () => signal.removeEventListener('abort', cancel);
}

export class Connection {
  readonly client: Client;
  private readonly options: ConnectionOptions;

  constructor(address: string, options: ConnectionOptions = {}) {
    const max = options.maxMessageSize ?? 16 << 20;
    this.client = new Client(targetOf(address), credentials.createInsecure(), {
      'grpc.max_receive_message_length': max,
      'grpc.max_send_message_length': max,
      ...options.channelOptions,
    });
    this.options = options;
  }

  /**
   * Waits until the daemon accepts the connection. Rejects after `timeoutMs` (default
   * connectTimeoutMs, 10 s) with the channel's state, or with `canceled` when `signal` aborts.
   */
  ready(opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    const deadline = Date.now() + (opts.timeoutMs ?? this.options.connectTimeoutMs ?? 10_000);
    const channel = this.client.getChannel();
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (err?: Error) => {
        if (settled) return;
        settled = true;
        stop();
        if (err) reject(err);
        else resolve();
      };
      const stop = onAbort(opts.signal, () => finish(canceled()));
      const check = () => {
        if (settled) return;
        const state = channel.getConnectivityState(true);
        if (state === connectivityState.READY) return finish();
        if (state === connectivityState.SHUTDOWN) return finish(new Error('connection closed'));
        if (Date.now() >= deadline) return finish(new Error(`timed out waiting for the connection (${channelStates[state]})`));
        channel.watchConnectivityState(state, deadline, check);
      };
      check();
    });
  }

  /** The channel's connectivity now; `connect` starts connecting an idle channel. */
  state(connect = false): ChannelState {
    return channelStates[this.client.getChannel().getConnectivityState(connect)] ?? 'idle';
  }

  private metadata(call: CallContext | undefined): Metadata {
    const md = new Metadata();
    const namespace = call?.namespace ?? this.options.namespace;
    const lease = call?.lease ?? this.options.lease;
    if (namespace) md.set(NAMESPACE_HEADER, namespace);
    if (lease) md.set(LEASE_HEADER, lease);
    return md;
  }

  private callOptions(): CallOptions {
    return this.options.timeoutMs ? { deadline: Date.now() + this.options.timeoutMs } : {};
  }

  unary<Req, Res>(method: MethodDefinition<Req, Res>, request: Req, ctx?: CallContext): Promise<Res> {
    const signal = ctx?.signal;
    if (signal?.aborted) return Promise.reject(canceled());
    return new Promise((resolve, reject) => {
      const call = this.client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        this.metadata(ctx),
        this.callOptions(),
        (err, res) => {
          stop();
          if (!err) resolve(res as Res);
          else reject(signal?.aborted ? canceled() : toError(err));
        },
      );
      const stop = onAbort(signal, () => call.cancel());
    });
  }

  async *serverStream<Req, Res>(method: MethodDefinition<Req, Res>, request: Req, ctx?: CallContext): AsyncGenerator<Res> {
    const signal = ctx?.signal;
    if (signal?.aborted) throw canceled();
    const call = this.client.makeServerStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      request,
      this.metadata(ctx),
      this.callOptions(),
    );
    const stop = onAbort(signal, () => call.cancel());
    try {
      for await (const msg of call) yield msg as Res;
    } catch (err) {
      if (signal?.aborted) throw canceled();
      throw isServiceError(err) ? toError(err) : err;
    } finally {
      stop();
      call.cancel();
    }
  }

  /** A bidirectional stream; `ctx.signal` cancels it. Errors it emits are grpc-js ServiceErrors (see `errorOf`). */
  bidiStream<Req, Res>(method: MethodDefinition<Req, Res>, ctx?: CallContext): ClientDuplexStream<Req, Res> {
    const call = this.client.makeBidiStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      this.metadata(ctx),
      this.callOptions(),
    );
    const stop = onAbort(ctx?.signal, () => call.cancel());
    call.once('status', stop);
    return call;
  }

  close(): void {
    this.client.close();
  }
}

/** The errdefs error for anything a call or stream failed with (grpc status → containerd's class). */
export function errorOf(err: unknown): Error {
  if (isServiceError(err)) return toError(err);
  return err instanceof Error ? err : new Error(String(err));
}
