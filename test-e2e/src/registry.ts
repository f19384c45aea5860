// A loopback registry for pull tests: Debian's docker-registry (distribution 2.8) on a free
// 127.0.0.1 port with its storage in a temp dir — optionally with TLS, an htpasswd file or
// token auth — and a push over the registry HTTP API.
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTools, spawnService } from './harness.js';
import type { Blob, FixtureImage } from './image-fixture.js';

export interface Registry {
  /** `127.0.0.1:PORT`, the registry part of an image reference. */
  host: string;
  dir: string;
  /** `https` when started with TLS. */
  scheme: 'http' | 'https';
  /** The CA the registry's certificate is checked against (TLS only). */
  ca?: Buffer;
  /** The client certificate the helpers here present (when the registry asks for one). */
  client?: { cert: Buffer; key: Buffer };
  /** The Authorization header the helpers here send for a scope (auth only). */
  authorization?: (scope: string) => string;
  logs(): string;
  stop(): Promise<void>;
}

export interface RegistryOptions {
  /**
   * Serve HTTPS with this certificate and key (PEM files); `ca` is the CA that signed it.
   * With `client`, clients must present a certificate signed by `ca` (the helpers here present `client`).
   */
  tls?: { cert: string; key: string; ca: string; client?: { cert: string; key: string } };
  /** Basic auth with this htpasswd file (bcrypt hashes). */
  htpasswd?: string;
  /** Token auth: the registry's `auth.token` section. */
  token?: { realm: string; service: string; issuer: string; rootCertBundle: string };
  /** The Authorization header the helpers send (see Registry.authorization). */
  authorization?: (scope: string) => string;
  /** Log every request (the access log, in logs()). */
  accessLog?: boolean;
  /**
   * Accept manifests whose layers have `urls` matching one of these regular expressions
   * (`validation.manifests.urls.allow`; without it the registry refuses every such URL,
   * so a non-distributable layer cannot be named).
   */
  manifestUrlsAllow?: string[];
}

/** A request to the registry over its scheme, trusting its CA. */
export function registryRequest(
  registry: Pick<Registry, 'host' | 'scheme' | 'ca' | 'client'>,
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: Buffer } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  const url = path.startsWith('http') ? path : `${registry.scheme}://${registry.host}${path}`;
  const request = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: opts.headers, ca: registry.ca, cert: registry.client?.cert, key: registry.client?.key }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startRegistry(options: RegistryOptions = {}): Promise<Registry> {
  requireTools('the loopback registry', 'docker-registry');
  const dir = await mkdtemp(join(tmpdir(), 'registry-'));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const config = join(dir, 'config.yml');
  const scheme = options.tls ? 'https' : 'http';
  const ca = options.tls ? await readFile(options.tls.ca) : undefined;
  const client = options.tls?.client ? { cert: await readFile(options.tls.client.cert), key: await readFile(options.tls.client.key) } : undefined;
  const auth: string[] = [];
  if (options.htpasswd) auth.push('auth:', '  htpasswd:', '    realm: Registry Realm', `    path: ${options.htpasswd}`);
  if (options.token) {
    const t = options.token;
    auth.push('auth:', '  token:', `    realm: ${t.realm}`, `    service: ${t.service}`, `    issuer: ${t.issuer}`, `    rootcertbundle: ${t.rootCertBundle}`);
  }
  await writeFile(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: warn',
      '  accesslog:',
      `    disabled: ${options.accessLog ? 'false' : 'true'}`,
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'data')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: ${host}`,
      ...(options.tls ? ['  tls:', `    certificate: ${options.tls.cert}`, `    key: ${options.tls.key}`] : []),
      ...(options.tls?.client ? ['    clientcas:', `      - ${options.tls.ca}`] : []),
      ...auth,
      ...(options.manifestUrlsAllow ? ['validation:', '  manifests:', '    urls:', '      allow:', ...options.manifestUrlsAllow.map((r) => `        - ${JSON.stringify(r)}`)] : []),
      '',
    ].join('\n'),
  );
  const service = spawnService('docker-registry', ['serve', config]);
  const stop = async () => {
    await service.stop();
    await rm(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 200; i++) {
    if (service.child.exitCode !== null) break;
    try {
      // 401: it is up and wants credentials.
      const res = await registryRequest({ host, scheme, ca, client }, 'GET', '/v2/');
      if (res.status === 200 || res.status === 401) return { host, dir, scheme, ca, client, authorization: options.authorization, logs: service.logs, stop };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error(`docker-registry did not answer on ${host}: ${service.logs()}`);
}

async function pushBlob(registry: Registry, repo: string, b: Blob): Promise<void> {
  const headers: Record<string, string> = {};
  const scope = `repository:${repo}:pull,push`;
  if (registry.authorization) headers.authorization = registry.authorization(scope);
  const head = await registryRequest(registry, 'HEAD', `/v2/${repo}/blobs/${b.digest}`, { headers });
  if (head.status === 200) return;
  const start = await registryRequest(registry, 'POST', `/v2/${repo}/blobs/uploads/`, { headers });
  if (start.status !== 202) throw new Error(`registry: starting upload of ${b.digest}: ${start.status} ${start.body.toString()}`);
  const location = new URL(String(start.headers.location ?? ''), `${registry.scheme}://${registry.host}`);
  location.searchParams.set('digest', b.digest);
  const put = await registryRequest(registry, 'PUT', location.toString(), {
    headers: { ...headers, 'content-type': 'application/octet-stream', 'content-length': String(b.size) },
    body: b.data,
  });
  if (put.status !== 201) throw new Error(`registry: uploading ${b.digest}: ${put.status} ${put.body.toString()}`);
}

/** Pushes the image's blobs and manifest; returns the reference `host/repo:tag`. */
export async function pushImage(registry: Registry, repo: string, tag: string, image: FixtureImage): Promise<string> {
  for (const b of [...image.layers, image.config]) await pushBlob(registry, repo, b);
  const headers: Record<string, string> = { 'content-type': image.manifest.mediaType };
  if (registry.authorization) headers.authorization = registry.authorization(`repository:${repo}:pull,push`);
  const res = await registryRequest(registry, 'PUT', `/v2/${repo}/manifests/${tag}`, { headers, body: image.manifest.data });
  if (res.status !== 201) throw new Error(`registry: putting manifest ${repo}:${tag}: ${res.status} ${res.body.toString()}`);
  return `${registry.host}/${repo}:${tag}`;
}
