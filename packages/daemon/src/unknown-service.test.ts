// Calls to unserved services and methods get grpc-go's answer, as containerd gives it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { daemonConfigSchema } from '@containerd-ts/config';
import { definePlugin } from '@containerd-ts/plugin';
import { Client, credentials, type ServiceError, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDaemon, type Daemon } from './daemon.js';
import { createLogger } from './logger.js';
import { unknownMethodMessage } from './unknown-service.js';

const raw = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b };
const greeter = {
  Hello: {
    path: '/test.v1.Greeter/Hello',
    requestStream: false,
    responseStream: false,
    requestSerialize: raw.serialize,
    requestDeserialize: raw.deserialize,
    responseSerialize: raw.serialize,
    responseDeserialize: raw.deserialize,
  },
};

const greeterPlugin = definePlugin({
  type: 'io.containerd.grpc.v1',
  id: 'greeter',
  init: () => ({
    services: [
      {
        definition: greeter,
        implementation: { Hello: (_call: unknown, cb: (err: null, res: Buffer) => void) => cb(null, Buffer.from('hi')) },
      },
    ],
  }),
});

describe('unserved methods', () => {
  let dir = '';
  let daemon: Daemon;
  let client: Client;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'unknown-service-'));
    const config = daemonConfigSchema.parse({ root: join(dir, 'root'), state: join(dir, 'state'), grpc: { address: join(dir, 'd.sock') } });
    daemon = createDaemon({ plugins: [greeterPlugin], config, log: createLogger('error') });
    await daemon.start();
    client = new Client(`unix://${daemon.address}`, credentials.createInsecure());
  });
  afterAll(async () => {
    client?.close();
    await daemon?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const unary = (path: string) =>
    new Promise<{ err: ServiceError | null; value: Buffer | undefined }>((resolve) => {
      client.makeUnaryRequest(path, raw.serialize, raw.deserialize, Buffer.alloc(0), (err, value) => resolve({ err, value }));
    });

  it('serves what is registered', async () => {
    const { err, value } = await unary('/test.v1.Greeter/Hello');
    expect(err).toBeNull();
    expect(value?.toString()).toBe('hi');
  });

  it('answers an unknown service and an unknown method of a served service as grpc-go', async () => {
    const a = await unary('/containerd.services.version.v1.Version/Version');
    expect(a.err?.code).toBe(status.UNIMPLEMENTED);
    expect(a.err?.details).toBe('unknown service containerd.services.version.v1.Version');
    const b = await unary('/test.v1.Greeter/Bye');
    expect(b.err?.code).toBe(status.UNIMPLEMENTED);
    expect(b.err?.details).toBe('unknown method Bye for service test.v1.Greeter');
  });

  it('answers a streaming call at once', async () => {
    const call = client.makeBidiStreamRequest('/containerd.services.content.v1.Content/Write', raw.serialize, raw.deserialize);
    const err = await new Promise<ServiceError>((resolve) => call.on('error', resolve));
    expect(err.code).toBe(status.UNIMPLEMENTED);
    expect(err.details).toBe('unknown service containerd.services.content.v1.Content');
  });

  it('names a malformed path', () => {
    expect(unknownMethodMessage('nonsense', new Set())).toBe('malformed method name: "nonsense"');
  });
});
