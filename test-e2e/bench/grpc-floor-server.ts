// The smallest servers for `grpc-floor.ts`: Images.Get and Images.List answered from a Map in
// memory, with the same generated codecs containerd-ts uses, on a unix socket. No metadata
// store, no namespaces, no validation, no events: whatever they cost per call is the floor
// under any daemon built on them.
// - `grpc-js`: a grpc-js Server, as the daemon serves;
// - `http2`: Node's own HTTP/2 server, answering the two methods' gRPC frames by hand (no
//   grpc-js at all): the floor under grpc-js itself. A measuring tool, not a gRPC server:
//   one message per call, no deadlines, no compression, no flow-control tuning.
// Started by the bench as `node <flags> grpc-floor-server.js <grpc-js|http2> <socket> <images>`;
// prints `ready` once it serves.
import { rmSync } from 'node:fs';
import { constants as h2, createServer } from 'node:http2';
import { type Image, ImagesService } from '@containerd-ts/api/services/images';
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall, status } from '@grpc/grpc-js';
import { benchImage } from './api-images.js';

const [mode, socket, countArg] = process.argv.slice(2);
if ((mode !== 'grpc-js' && mode !== 'http2') || !socket) throw new Error('usage: grpc-floor-server.js <grpc-js|http2> <socket> [images]');
const images = new Map<string, Image>();
for (let i = 0; i < Number(countArg ?? 5000); i++) {
  // with times, as a daemon answers
  const image: Image = { ...benchImage(i), createdAt: { seconds: 1_764_979_200, nanos: 0 }, updatedAt: { seconds: 1_764_979_200, nanos: 0 } };
  images.set(image.name, image);
}
const notFound = (name: string) => `image "${name}": not found`;
const ready = () => process.stdout.write('ready\n');

if (mode === 'grpc-js') {
  const server = new Server({ 'grpc.enable_channelz': 0 });
  server.addService(
    { get: ImagesService.get, list: ImagesService.list },
    {
      get: (call: ServerUnaryCall<{ name: string }, unknown>, done: sendUnaryData<unknown>) => {
        const image = images.get(call.request.name);
        if (image) done(null, { image });
        else done({ code: status.NOT_FOUND, details: notFound(call.request.name) });
      },
      list: (_call: ServerUnaryCall<unknown, unknown>, done: sendUnaryData<unknown>) => done(null, { images: [...images.values()] }),
    },
  );
  server.bindAsync(`unix://${socket}`, ServerCredentials.createInsecure(), (err) => {
    if (err) throw err;
    ready();
  });
  process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
} else {
  /** Path → the reply to a request's bytes: [grpc-status, message bytes or error text]. */
  const methods = new Map<string, (request: Buffer) => [number, Buffer | string]>([
    [
      '/containerd.services.images.v1.Images/Get',
      (bytes) => {
        const { name } = ImagesService.get.requestDeserialize(bytes);
        const image = images.get(name);
        return image ? [status.OK, ImagesService.get.responseSerialize({ image })] : [status.NOT_FOUND, notFound(name)];
      },
    ],
    ['/containerd.services.images.v1.Images/List', () => [status.OK, ImagesService.list.responseSerialize({ images: [...images.values()] })]],
  ]);
  const server = createServer();
  server.on('stream', (stream, headers) => {
    const method = methods.get(String(headers[h2.HTTP2_HEADER_PATH]));
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      // one length-prefixed message: flag byte, 4-byte length, bytes
      const [code, reply] = method ? method(Buffer.concat(chunks).subarray(5)) : [status.UNIMPLEMENTED, 'unknown method'];
      if (typeof reply === 'string') {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(code), 'grpc-message': reply }, { endStream: true });
        return;
      }
      const frame = Buffer.allocUnsafe(5 + reply.length);
      frame[0] = 0;
      frame.writeUInt32BE(reply.length, 1);
      reply.copy(frame, 5);
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(frame);
    });
  });
  rmSync(socket, { force: true });
  server.listen(socket, ready);
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}
