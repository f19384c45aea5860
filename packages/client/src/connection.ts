// One gRPC connection to a containerd-compatible daemon, with calls typed by the
// generated method definitions and containerd's namespace/lease metadata attached.
import { fromGrpcStatus } from '@containerd-ts/errdefs';
import { LEASE_HEADER, NAMESPACE_HEADER } from '@containerd-ts/namespaces';
import {
  type CallOptions,
  Client,
  type ClientDuplexStream,
  Metadata,
  type MethodDefinition,
  type ServiceError,
  credentials,
} from '@grpc/grpc-js';

export interface ConnectionOptions {
  /** Namespace sent with every call (`containerd-namespace`). */
  namespace?: string;
  /** Lease sent with every call (`containerd-lease`). */
  lease?: string;
  /** Per-call deadline in milliseconds (0 = none). */
  timeoutMs?: number;
  /** How long to wait for the socket to accept the connection. */
  connectTimeoutMs?: number;
  maxMessageSize?: number;
}

/** A unix socket path or a `host:port` / `unix://…` target. */
const targetOf = (address: string) => (address.startsWith('/') ? `unix://${address}` : address);

const toError = (err: ServiceError) => fromGrpcStatus(err.code, err.details || err.message);

export class Connection {
  readonly client: Client;
  private readonly options: ConnectionOptions;

  constructor(address: string, options: ConnectionOptions = {}) {
    const max = options.maxMessageSize ?? 16 << 20;
    this.client = new Client(targetOf(address), credentials.createInsecure(), {
      'grpc.max_receive_message_length': max,
      'grpc.max_send_message_length': max,
    });
    this.options = options;
  }

  /** Waits until the daemon accepts the connection, or rejects after connectTimeoutMs. */
  ready(): Promise<void> {
    const ms = this.options.connectTimeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      this.client.waitForReady(Date.now() + ms, (err) => (err ? reject(err) : resolve()));
    });
  }

  private metadata(): Metadata {
    const md = new Metadata();
    if (this.options.namespace) md.set(NAMESPACE_HEADER, this.options.namespace);
    if (this.options.lease) md.set(LEASE_HEADER, this.options.lease);
    return md;
  }

  private callOptions(): CallOptions {
    return this.options.timeoutMs ? { deadline: Date.now() + this.options.timeoutMs } : {};
  }

  unary<Req, Res>(method: MethodDefinition<Req, Res>, request: Req): Promise<Res> {
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        this.metadata(),
        this.callOptions(),
        (err, res) => (err ? reject(toError(err)) : resolve(res as Res)),
      );
    });
  }

  async *serverStream<Req, Res>(method: MethodDefinition<Req, Res>, request: Req): AsyncGenerator<Res> {
    const call = this.client.makeServerStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      request,
      this.metadata(),
      this.callOptions(),
    );
    try {
      for await (const msg of call) yield msg as Res;
    } catch (err) {
      throw typeof (err as ServiceError).code === 'number' ? toError(err as ServiceError) : err;
    } finally {
      call.cancel();
    }
  }

  bidiStream<Req, Res>(method: MethodDefinition<Req, Res>): ClientDuplexStream<Req, Res> {
    return this.client.makeBidiStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      this.metadata(),
      this.callOptions(),
    );
  }

  close(): void {
    this.client.close();
  }
}
