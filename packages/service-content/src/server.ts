// containerd.services.content.v1.Content over a ContentStore: request validation, the
// messages and batching containerd's content server uses, and its error codes.
import type {
  ContentServer,
  Info as InfoMessage,
  ListContentRequest,
  ListContentResponse,
  ReadContentRequest,
  ReadContentResponse,
  Status as StatusMessage,
} from '@containerd-ts/api/services/content';
import { type ContentStore, type Info, type Status, digestProblem } from '@containerd-ts/content';
import { GrpcCode, fromGrpcStatus } from '@containerd-ts/errdefs';
import { requestContext, unary } from '@containerd-ts/grpc-server';
import type { RequestContext } from '@containerd-ts/namespaces';
import type { Logger } from '@containerd-ts/plugin';
import type { ServerWritableStream } from '@grpc/grpc-js';
import { GO_ZERO_TIME, GrpcStatusError, cancellationSignal, goQuote, messageOf, toStatus, withPrefix } from './status.js';
import { ReaderCache } from './reader-cache.js';
import { serveWrite } from './write.js';

/** Infos per List response, as containerd batches them. */
export const LIST_BATCH = 100;
/** Bytes per Read response (containerd copies through a 1 MiB buffer). */
export const READ_CHUNK = 1 << 20;

export interface ContentServerOptions {
  log?: Logger;
  /** Open readers shared by Read calls; the owner closes it. Default: one of this server's own. */
  readers?: ReaderCache;
}

const infoMessage = (info: Info): InfoMessage => ({
  digest: info.digest,
  size: info.size,
  createdAt: info.createdAt,
  updatedAt: info.updatedAt,
  labels: info.labels,
});

const statusMessage = (st: Status): StatusMessage => ({
  startedAt: st.startedAt,
  updatedAt: st.updatedAt,
  ref: st.ref,
  offset: st.offset,
  total: st.total,
  expected: st.expected,
});

/** Refuses an invalid digest with InvalidArgument and the message `describe` builds from go-digest's reason. */
function validateDigest(digest: string, describe: (problem: string) => string): void {
  const problem = digestProblem(digest);
  if (problem) throw fromGrpcStatus(GrpcCode.INVALID_ARGUMENT, describe(problem));
}

type StreamCall<Req, Res> = ServerWritableStream<Req, Res>;

/**
 * Runs a server-streaming handler: the call ends when `fn` resolves, or with the status
 * of what it throws (nothing is sent once the client is gone). Handlers whose store calls
 * never wait on anything cancellable go without an abort signal (`withSignal` false):
 * creating one per call is a measurable part of a small Read.
 */
function serverStreaming<Req, Res>(
  fn: (req: Req, ctx: RequestContext, call: StreamCall<Req, Res>) => Promise<void>,
  withSignal = true,
): (call: StreamCall<Req, Res>) => void {
  return (call) => {
    let ctx: RequestContext;
    try {
      ctx = withSignal ? { ...requestContext(call), signal: cancellationSignal(call) } : requestContext(call);
    } catch (err) {
      call.emit('error', toStatus(err));
      return;
    }
    fn(call.request, ctx, call).then(
      () => {
        if (!call.cancelled) call.end();
      },
      (err: unknown) => {
        if (!call.cancelled) call.emit('error', toStatus(err));
      },
    );
  };
}

/** Writes one response, waiting while the transport is full; fails once the client is gone. */
function send<Res>(call: StreamCall<unknown, Res>, msg: Res): Promise<void> | undefined {
  if (call.cancelled || call.destroyed) throw new GrpcStatusError(GrpcCode.CANCELLED, 'context canceled');
  if (call.write(msg)) return undefined;
  return new Promise<void>((resolve, reject) => {
    const done = () => {
      call.off('drain', done);
      call.off('close', done);
      if (call.cancelled || call.destroyed) reject(new GrpcStatusError(GrpcCode.CANCELLED, 'context canceled'));
      else resolve();
    };
    call.on('drain', done);
    call.on('close', done);
  });
}

/** The gRPC implementation of the content API over `store` (the namespaced store in the daemon). */
export function contentServer(store: ContentStore, options: ContentServerOptions = {}): ContentServer {
  const { log } = options;
  const readers = options.readers ?? new ReaderCache(store);
  return {
    info: unary(async (req, ctx) => {
      validateDigest(req.digest, () => `${goQuote(req.digest)} failed validation`);
      return { info: infoMessage(await store.info(ctx, req.digest)) };
    }),

    update: unary(async (req, ctx) => {
      const digest = req.info?.digest ?? '';
      validateDigest(digest, () => `${goQuote(digest)} failed validation`);
      const info = await store.update(ctx, { digest, labels: req.info?.labels ?? {} }, req.updateMask ?? []);
      return { info: infoMessage(info) };
    }),

    list: serverStreaming<ListContentRequest, ListContentResponse>(async (req, ctx, call) => {
      let batch: InfoMessage[] = [];
      await store.walk(
        ctx,
        async (info) => {
          // containerd's List leaves out the update time (Go's zero time on the wire).
          batch.push({ ...infoMessage(info), updatedAt: GO_ZERO_TIME });
          if (batch.length >= LIST_BATCH) {
            const full = batch;
            batch = [];
            await send(call, { info: full });
          }
        },
        req.filters,
      );
      if (batch.length > 0) await send(call, { info: batch });
    }, false),

    delete: unary(async (req, ctx) => {
      validateDigest(req.digest, (problem) => problem);
      await store.delete(ctx, req.digest);
      return {};
    }),

    read: serverStreaming<ReadContentRequest, ReadContentResponse>(async (req, ctx, call) => {
      validateDigest(req.digest, (problem) => `${req.digest}: ${problem}`);
      // The reader knows the blob's size; the namespaced store checks the record first, so
      // a blob outside the namespace fails exactly as Info would.
      const { reader: ra, release } = await readers.acquire(ctx, req.digest);
      try {
        const blobSize = ra.size;
        const offset = Math.max(0, req.offset);
        if (offset > blobSize) throw new GrpcStatusError(GrpcCode.OUT_OF_RANGE, `read past object length ${blobSize} bytes`);
        // size is how much to read, not the blob's size; 0 (or too much) means "to the end".
        const size = req.size <= 0 || offset + req.size > blobSize ? blobSize - offset : req.size;
        const end = offset + size;
        // Response offsets count from the start of this read, as containerd's do.
        let sent = 0;
        let pending = offset < end ? ra.readAt(offset, Math.min(READ_CHUNK, end - offset)) : undefined;
        while (pending) {
          const data = await pending;
          if (data.length === 0) break;
          const pos = offset + sent + data.length;
          // Read the next chunk while this one is on its way.
          pending = pos < end ? ra.readAt(pos, Math.min(READ_CHUNK, end - pos)) : undefined;
          try {
            await send(call, { offset: sent, data });
          } catch (err) {
            pending?.catch(() => undefined);
            throw err;
          }
          sent += data.length;
        }
      } finally {
        release();
      }
    }, false),

    status: unary(async (req, ctx) => {
      try {
        return { status: statusMessage(await store.status(ctx, req.ref)) };
      } catch (err) {
        throw withPrefix(`could not get status for ref ${goQuote(req.ref)}`, err);
      }
    }),

    listStatuses: unary(async (req, ctx) => ({
      statuses: (await store.listStatuses(ctx, req.filters)).map(statusMessage),
    })),

    write: (call) => {
      serveWrite(store, call, log).catch((err: unknown) => {
        log?.error({ error: messageOf(err) }, 'Write stream failed');
        if (!call.cancelled) call.emit('error', toStatus(err));
      });
    },

    abort: unary(async (req, ctx) => {
      await store.abort(ctx, req.ref);
      return {};
    }),
  };
}
