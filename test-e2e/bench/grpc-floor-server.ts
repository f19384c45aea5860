// The smallest gRPC server grpc-js allows for `grpc-floor.ts`: Images.Get and Images.List
// answered from a Map in memory, with the same generated codecs containerd-ts uses, on a
// unix socket. No metadata store, no namespaces, no validation, no events: whatever it
// costs per call is grpc-js's and Node's own, the floor under any daemon built on them.
// Started by the bench as `node <flags> grpc-floor-server.js <socket> <images>`; prints
// `ready` once it serves.
import { type Image, ImagesService } from '@containerd-ts/api/services/images';
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall, status } from '@grpc/grpc-js';
import { benchImage } from './api-images.js';

const [socket, countArg] = process.argv.slice(2);
if (!socket) throw new Error('usage: grpc-floor-server.js <socket> [images]');
const images = new Map<string, Image>();
for (let i = 0; i < Number(countArg ?? 5000); i++) {
  // with times, as a daemon answers
  const image: Image = { ...benchImage(i), createdAt: { seconds: 1_764_979_200, nanos: 0 }, updatedAt: { seconds: 1_764_979_200, nanos: 0 } };
  images.set(image.name, image);
}

const server = new Server({ 'grpc.enable_channelz': 0 });
server.addService(
  { get: ImagesService.get, list: ImagesService.list },
  {
    get: (call: ServerUnaryCall<{ name: string }, unknown>, done: sendUnaryData<unknown>) => {
      const image = images.get(call.request.name);
      if (image) done(null, { image });
      else done({ code: status.NOT_FOUND, details: `image "${call.request.name}": not found` });
    },
    list: (_call: ServerUnaryCall<unknown, unknown>, done: sendUnaryData<unknown>) => done(null, { images: [...images.values()] }),
  },
);
server.bindAsync(`unix://${socket}`, ServerCredentials.createInsecure(), (err) => {
  if (err) throw err;
  process.stdout.write('ready\n');
});
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
