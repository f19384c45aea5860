// `containerd-ts publish`: what the runtime v1 shim (`containerd-shim`) executes to publish
// an event, as containerd's `publish` command — `<binary> --address ADDR publish --topic T
// --namespace NS` with the event (a protobuf Any) on stdin, sent to the daemon's events
// service. Errors print as containerd's do (`containerd-ts: <message>`, exit status 1).
import { parseArgs } from 'node:util';
import { Any } from '@containerd-ts/api/types/any';
import { EventsClient } from '@containerd-ts/api/services/events';
import { NAMESPACE_HEADER } from '@containerd-ts/namespaces';
import { Metadata, credentials } from '@grpc/grpc-js';

/** containerd's default gRPC address. */
const DEFAULT_ADDRESS = '/run/containerd/containerd.sock';
/** How long the connection may take (containerd's publish dials with a 2 s deadline). */
const DIAL_TIMEOUT_MS = 2000;

/** The daemon's global flags as `publish` sees them (the ones before the command). */
const globalFlags = {
  config: { type: 'string', short: 'c' },
  address: { type: 'string', short: 'a' },
  root: { type: 'string' },
  state: { type: 'string' },
  'log-level': { type: 'string', short: 'l' },
} as const;

/**
 * Whether argv runs `publish`: its first positional argument (after the global flags) is
 * `publish`. Returns the global address and the arguments after `publish`, or undefined.
 */
export function publishInvocation(argv: readonly string[]): { address: string; args: string[] } | undefined {
  const at = argv.indexOf('publish');
  if (at < 0) return undefined;
  let parsed: ReturnType<typeof parseArgs<{ options: typeof globalFlags; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv.slice(0, at), options: globalFlags, allowPositionals: true });
  } catch {
    return undefined;
  }
  if (parsed.positionals.length > 0) return undefined;
  return { address: parsed.values.address ?? DEFAULT_ADDRESS, args: argv.slice(at + 1) };
}

/** The publish command's own flags. */
export function parsePublishArgs(args: readonly string[]): { topic: string; namespace: string } {
  const { values } = parseArgs({ args: [...args], options: { topic: { type: 'string' }, namespace: { type: 'string' } }, allowPositionals: false });
  return { topic: values.topic ?? '', namespace: values.namespace ?? '' };
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** `unix://` for a bare socket path, as containerd's dialer.DialAddress. */
function dialAddress(address: string): string {
  return address.includes('://') ? address : `unix://${address}`;
}

/**
 * Publishes the event on stdin to the daemon at `address`. Rejects with the message to
 * print: a missing topic, an event that does not decode, a daemon that cannot be reached,
 * or the events service's own error.
 */
export async function publish(address: string, args: readonly string[], stdin: NodeJS.ReadableStream = process.stdin): Promise<void> {
  const { topic, namespace } = parsePublishArgs(args);
  if (topic === '') throw new Error('topic required to publish event: invalid argument');
  const payload = await readAll(stdin);
  let event: Any;
  try {
    event = Any.decode(payload);
  } catch (err) {
    throw new Error(`failed to decode event: ${(err as Error).message}`, { cause: err });
  }
  const target = dialAddress(address);
  const client = new EventsClient(target, credentials.createInsecure());
  try {
    await new Promise<void>((resolve, reject) => {
      client.waitForReady(Date.now() + DIAL_TIMEOUT_MS, (err) => (err ? reject(new Error(`failed to dial "${address}": failed to dial "${address}": context deadline exceeded`)) : resolve()));
    });
    const metadata = new Metadata();
    if (namespace !== '') metadata.set(NAMESPACE_HEADER, namespace);
    await new Promise<void>((resolve, reject) => {
      client.publish({ topic, event }, metadata, (err) => (err ? reject(new Error(err.details || err.message)) : resolve()));
    });
  } finally {
    client.close();
  }
}

/** Runs `publish` as a command: exit status 0, or 1 with `<name>: <message>` on stderr. */
export async function runPublish(address: string, args: readonly string[]): Promise<void> {
  try {
    await publish(address, args);
  } catch (err) {
    process.stderr.write(`containerd-ts: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
