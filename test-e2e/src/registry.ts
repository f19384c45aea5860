// A loopback registry for pull tests: Debian's docker-registry (distribution 2.8) on a free
// 127.0.0.1 port with its storage in a temp dir, and a push over the registry HTTP API.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTools, spawnService } from './harness.js';
import type { Blob, FixtureImage } from './image-fixture.js';

export interface Registry {
  /** `127.0.0.1:PORT`, the registry part of an image reference. */
  host: string;
  dir: string;
  logs(): string;
  stop(): Promise<void>;
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

export async function startRegistry(): Promise<Registry> {
  requireTools('the loopback registry', 'docker-registry');
  const dir = await mkdtemp(join(tmpdir(), 'registry-'));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const config = join(dir, 'config.yml');
  await writeFile(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: warn',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'data')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: ${host}`,
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
      const res = await fetch(`http://${host}/v2/`);
      if (res.status === 200) return { host, dir, logs: service.logs, stop };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error(`docker-registry did not answer on ${host}: ${service.logs()}`);
}

async function pushBlob(host: string, repo: string, b: Blob): Promise<void> {
  const head = await fetch(`http://${host}/v2/${repo}/blobs/${b.digest}`, { method: 'HEAD' });
  if (head.status === 200) return;
  const start = await fetch(`http://${host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  if (start.status !== 202) throw new Error(`registry: starting upload of ${b.digest}: ${start.status} ${await start.text()}`);
  const location = new URL(start.headers.get('location') ?? '', `http://${host}`);
  location.searchParams.set('digest', b.digest);
  const put = await fetch(location, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(b.size) },
    body: b.data,
  });
  if (put.status !== 201) throw new Error(`registry: uploading ${b.digest}: ${put.status} ${await put.text()}`);
}

/** Pushes the image's blobs and manifest; returns the reference `host/repo:tag`. */
export async function pushImage(registry: Registry, repo: string, tag: string, image: FixtureImage): Promise<string> {
  for (const b of [...image.layers, image.config]) await pushBlob(registry.host, repo, b);
  const res = await fetch(`http://${registry.host}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    headers: { 'content-type': image.manifest.mediaType },
    body: image.manifest.data,
  });
  if (res.status !== 201) throw new Error(`registry: putting manifest ${repo}:${tag}: ${res.status} ${await res.text()}`);
  return `${registry.host}/${repo}:${tag}`;
}
