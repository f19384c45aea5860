// The Write stream of the content API: a client drives one ingest with stat, write and
// commit actions and gets the ingest's state back for each, as containerd's content
// server answers them (which fields, which codes, which messages).
//
// Flow: one request is handled at a time, its bytes go straight to the writer (no
// copy: the decoded data is a view of the received message), and the next request is
// pulled only when the response was accepted by the transport. Request buffering in the
// stream is capped at a couple of messages, so a client that pipelines requests is
// held back by HTTP/2 flow control instead of filling the daemon's memory.
import {
  WriteAction,
  type WriteContentRequest,
  type WriteContentResponse,
} from '@containerd-ts/api/services/content';
import type { CommitOptions, ContentStore, Writer } from '@containerd-ts/content';
import { GrpcCode, canceled } from '@containerd-ts/errdefs';
import { MalformedRequest, malformedDetails, requestContext } from '@containerd-ts/grpc-server';
import type { Logger } from '@containerd-ts/plugin';
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { GO_ZERO_TIME, GrpcStatusError, cancellationSignal, messageOf, toStatus } from './status.js';

type WriteCall = ServerDuplexStream<WriteContentRequest, WriteContentResponse>;

/** Requests the stream may hold before the handler asks for them. */
const BUFFERED_REQUESTS = 2;

/**
 * HTTP/2 receive windows for connections that carry a Write stream. Node's default
 * (64 KiB) makes a client stop every 32-64 KiB until a WINDOW_UPDATE comes back, which
 * caps an ingest at ~100 MB/s; with room for a few 1 MiB messages the client sends each
 * message in one go. Unread data per connection stays bounded by the connection window.
 */
export const WRITE_STREAM_WINDOW = 4 << 20;
export const WRITE_CONNECTION_WINDOW = 16 << 20;

/** Serves one Write stream until it commits, ends, fails or the client goes away. */
export async function serveWrite(store: ContentStore, call: WriteCall, log?: Logger): Promise<void> {
  const ctx = { ...requestContext(call), signal: cancellationSignal(call) };
  const io = new StreamIO(call);
  widenReceiveWindow(call);
  let writer: Writer | undefined;
  let ref = '';
  // One response object for the whole session: fields a request does not touch keep
  // their last value, as in containerd (a write after a stat still carries its times).
  const msg: WriteContentResponse = {
    action: WriteAction.STAT,
    startedAt: GO_ZERO_TIME,
    updatedAt: GO_ZERO_TIME,
    offset: 0,
    total: 0,
    digest: '',
  };
  let failure: unknown;
  try {
    let req = await io.next();
    // A stream closed before its first message ends as containerd's does: with io.EOF.
    if (req === null) throw new GrpcStatusError(GrpcCode.UNKNOWN, 'EOF');
    ref = req.ref;
    if (!ref) throw new GrpcStatusError(GrpcCode.INVALID_ARGUMENT, 'first message must have a reference');
    let total = req.total;
    let expected = req.expected;
    writer = await store.writer(ctx, { ref, total, expected });

    for (;;) {
      msg.action = req.action;
      const ws = await writer.status();
      msg.offset = ws.offset;

      if (req.expected) {
        expected = req.expected;
        if (await blobExists(store, ctx, req.expected)) {
          const w = writer;
          writer = undefined;
          await w.close().catch((err: unknown) => log?.error({ ref, error: messageOf(err) }, 'failed to close writer'));
          await store.abort(ctx, ref).catch((err: unknown) => log?.error({ ref, error: messageOf(err) }, 'failed to abort write'));
          throw new GrpcStatusError(GrpcCode.ALREADY_EXISTS, `blob with expected digest ${req.expected} exists`);
        }
      }
      if (req.total > 0) total = req.total;

      if (req.action === WriteAction.STAT) {
        msg.digest = writer.digest();
        msg.startedAt = ws.startedAt;
        msg.updatedAt = ws.updatedAt;
        msg.total = total;
      } else if (req.action === WriteAction.WRITE || req.action === WriteAction.COMMIT) {
        if (req.offset > 0 && req.offset !== ws.offset) {
          throw new GrpcStatusError(GrpcCode.OUT_OF_RANGE, `write @${req.offset} must occur at current offset ${ws.offset}`);
        }
        // Offset 0 on a started ingest means "start again".
        if (req.offset === 0 && ws.offset > 0) {
          try {
            await writer.truncate(0);
          } catch (err) {
            throw new GrpcStatusError(GrpcCode.UNKNOWN, `truncate failed: ${messageOf(err)}`);
          }
          msg.offset = 0;
        }
        if (req.data.length > 0) {
          await writer.write(req.data);
          msg.offset += req.data.length;
        }
        if (req.action === WriteAction.COMMIT) {
          const options: CommitOptions = Object.keys(req.labels).length > 0 ? { labels: req.labels } : {};
          await writer.commit(total, expected, options);
        }
        msg.digest = writer.digest();
      }

      await io.send(msg);
      if (req.action === WriteAction.COMMIT) break;
      const next = await io.next();
      if (next === null) break;
      req = next;
    }
  } catch (err) {
    failure = err;
  }

  // The ref is released before the client learns the outcome, so it can reopen it at once.
  if (writer) {
    await writer.close().catch((err: unknown) => {
      log?.warn({ ref, error: messageOf(err) }, 'failed to close writer');
    });
  }
  if (call.cancelled) return;
  if (failure !== undefined) {
    const status = toStatus(failure);
    if (status.code !== GrpcCode.ALREADY_EXISTS) log?.error({ ref, error: status.details }, 'Write failed');
    call.emit('error', status);
    return;
  }
  // containerd sends the last response once more before closing a successful stream.
  await io.send(msg).catch(() => undefined);
  if (!call.cancelled) call.end();
}

async function blobExists(store: ContentStore, ctx: Parameters<ContentStore['info']>[0], digest: string): Promise<boolean> {
  try {
    await store.info(ctx, digest);
    return true;
  } catch {
    return false;
  }
}

interface ReadableInternals {
  _readableState?: { highWaterMark?: number };
}

/**
 * Pull-style access to the request side and back-pressured sends on the response side
 * of a duplex call. A buffered request is returned without waiting.
 */
class StreamIO {
  readonly #call: WriteCall;
  #wake: (() => void) | undefined;

  constructor(call: WriteCall) {
    this.#call = call;
    // grpc-js creates the stream with object mode's default of 16 buffered messages;
    // each may be as large as the receive limit, so keep the buffer short.
    const state = (call as unknown as ReadableInternals)._readableState;
    if (state && typeof state.highWaterMark === 'number') state.highWaterMark = BUFFERED_REQUESTS;
    const wake = () => {
      const fn = this.#wake;
      this.#wake = undefined;
      fn?.();
    };
    call.on('readable', wake);
    call.on('end', wake);
    call.on('close', wake);
    call.on('drain', wake);
  }

  /** The next request, or null when the client half-closed. Throws once the call is gone. */
  async next(): Promise<WriteContentRequest | null> {
    const call = this.#call;
    for (;;) {
      const req = call.read() as WriteContentRequest | MalformedRequest | null;
      // A request that did not decode ends the stream here, after the ones before it.
      if (req instanceof MalformedRequest) throw new GrpcStatusError(GrpcCode.INTERNAL, malformedDetails(req, true));
      if (req !== null) return req;
      if (call.readableEnded) return null;
      if (call.cancelled || call.destroyed) throw canceled();
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  /** Sends a copy of `msg` (later changes must not leak into it); waits while the transport is full. */
  async send(msg: WriteContentResponse): Promise<void> {
    const call = this.#call;
    if (call.cancelled || call.destroyed) throw canceled();
    if (call.write({ ...msg })) return;
    while (call.writableNeedDrain) {
      if (call.cancelled || call.destroyed) throw canceled();
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }
}

interface Http2SessionControl {
  setLocalWindowSize(size: number): void;
  settings(settings: { initialWindowSize: number }): void;
  readonly destroyed: boolean;
}

const widened = new WeakSet<object>();

/** The HTTP/2 session under a grpc-js server call, found through its call chain. */
function sessionOf(call: WriteCall): Http2SessionControl | undefined {
  let link: unknown = (call as unknown as { call?: unknown }).call;
  for (let depth = 0; depth < 8 && typeof link === 'object' && link !== null; depth++) {
    const session = (link as { stream?: { session?: unknown } }).stream?.session;
    if (typeof session === 'object' && session !== null && typeof (session as Partial<Http2SessionControl>).setLocalWindowSize === 'function') {
      return session as Http2SessionControl;
    }
    link = (link as { nextCall?: unknown }).nextCall;
  }
  return undefined;
}

/**
 * Raises the receive windows of the call's connection (once per connection). grpc-js
 * offers no server option for this, so the session is reached through the call; if its
 * internals change, the stream still works at the default window.
 */
function widenReceiveWindow(call: WriteCall): void {
  const session = sessionOf(call);
  if (!session || session.destroyed || widened.has(session)) return;
  widened.add(session);
  try {
    session.setLocalWindowSize(WRITE_CONNECTION_WINDOW);
    session.settings({ initialWindowSize: WRITE_STREAM_WINDOW });
  } catch {
    // A session closing under us: nothing to tune.
  }
}
