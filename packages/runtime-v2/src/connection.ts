// What the runtime needs of a ttrpc client: unary calls by service and method on one
// connection to a shim, and a notice when that connection closes. @containerd-ts/ttrpc
// provides it (see index.ts); tests of this package use the same real client.
export interface CallOptions {
  /** The namespace, sent as containerd's ttrpc metadata. */
  namespace: string;
  /** Deadline of the call (sent to the peer as timeout_nano). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ShimConnection {
  /**
   * One unary request. Resolves with the response payload; rejects with an errdefs
   * error carrying the status the shim answered, or with a closed-connection error.
   */
  call(service: string, method: string, payload: Uint8Array, options: CallOptions): Promise<Uint8Array>;
  /** Closes the connection; pending calls fail. */
  close(): void;
  /** Resolves once the connection has closed, whoever closed it. */
  readonly closed: Promise<void>;
}

/** Connects to a shim's address (`unix:///run/containerd/s/<hash>` or a socket path). */
export type ShimDialer = (address: string) => Promise<ShimConnection>;

/** Whether an error means the connection to the shim is gone (ttrpc.ErrClosed in Go). */
export type ClosedErrorTest = (err: unknown) => boolean;
