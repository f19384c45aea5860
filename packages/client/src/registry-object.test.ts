// Registry.pushObject (ctr's content push-object), the per-use authorizers and --http-dump of
// token requests, against a small registry of the test's own on loopback: Bearer auth with
// a token endpoint, blobs and manifests kept in memory. A real docker-registry is used by
// test-e2e's ctr-ts-content-objects and ctr-ts-registry-auth tests.
import { createHash } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { isAlreadyExists } from '@containerd-ts/errdefs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dumpingSend } from './http-dump.js';
import { Registry } from './registry.js';
import { readBody, send } from './transport.js';

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

describe('Registry objects and tokens', () => {
  let server: Server;
  let host = '';
  /** Every request: `METHOD path` (token requests too). */
  const seen: string[] = [];
  const blobs = new Map<string, Buffer>();
  const manifests = new Map<string, { type: string; data: Buffer }>();
  /** A digest the registry answers a PUT with instead of the right one. */
  let wrongDigest = '';

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      void readBody(req).then((body) => {
        const url = new URL(req.url ?? '', 'http://x');
        seen.push(`${req.method} ${url.pathname}`);
        if (url.pathname === '/token') {
          return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: `t${seen.length}` }));
        }
        if (!String(req.headers.authorization ?? '').startsWith('Bearer t')) {
          return res
            .writeHead(401, 'Unauthorized', { 'www-authenticate': `Bearer realm="http://${host}/token",service="test",scope="repository:r:pull"` })
            .end();
        }
        const m = /^\/v2\/r\/(blobs|manifests)\/(.+)$/.exec(url.pathname);
        if (req.method === 'HEAD' && m) {
          const found = m[1] === 'blobs' ? blobs.get(m[2]!) : manifests.get(m[2]!)?.data;
          if (!found) return res.writeHead(404).end();
          return res.writeHead(200, { 'content-length': found.length, 'docker-content-digest': sha256(found) }).end();
        }
        if (req.method === 'GET' && m) {
          const found = m[1] === 'blobs' ? blobs.get(m[2]!) : manifests.get(m[2]!)?.data;
          return found ? res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(found) : res.writeHead(404).end();
        }
        if (req.method === 'POST' && url.pathname === '/v2/r/blobs/uploads/') return res.writeHead(202, { location: '/v2/r/blobs/uploads/u1?_state=s' }).end();
        if (req.method === 'PUT' && url.pathname === '/v2/r/blobs/uploads/u1') {
          const digest = url.searchParams.get('digest') ?? '';
          if (url.searchParams.get('_state') !== 's' || digest !== sha256(body)) return res.writeHead(400, 'Bad Request').end('{"errors":[]}');
          blobs.set(digest, body);
          return res.writeHead(201, { 'docker-content-digest': wrongDigest || digest }).end();
        }
        if (req.method === 'PUT' && m?.[1] === 'manifests') {
          manifests.set(m[2]!, { type: String(req.headers['content-type']), data: body });
          manifests.set(sha256(body), { type: String(req.headers['content-type']), data: body });
          return res.writeHead(201, { 'docker-content-digest': sha256(body) }).end();
        }
        res.writeHead(404).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });
  beforeEach(() => {
    seen.length = 0;
    wrongDigest = '';
  });

  const blob = Buffer.from('{"a":1}');
  const desc = { mediaType: 'application/octet-stream', digest: sha256(blob), size: blob.length };

  it('pushObject uploads a blob (HEAD, POST, PUT with ?digest=), then finds it there: already exists', async () => {
    const registry = new Registry(`${host}/r:1`);
    await registry.pushObject(desc, () => Readable.from([blob]));
    expect(blobs.get(desc.digest)?.equals(blob)).toBe(true);
    // The 401 is answered with a token; the token is kept for the rest of the push.
    // An anonymous token (no credentials): a GET.
    expect(seen).toEqual([`HEAD /v2/r/blobs/${desc.digest}`, 'GET /token', `HEAD /v2/r/blobs/${desc.digest}`, 'POST /v2/r/blobs/uploads/', 'PUT /v2/r/blobs/uploads/u1']);
    const again = new Registry(`${host}/r:1`).pushObject(desc, () => Readable.from([blob]));
    await expect(again).rejects.toThrow(`content ${desc.digest} on remote: already exists`);
    await again.catch((err: unknown) => expect(isAlreadyExists(err)).toBe(true));
  });

  it('pushObject: a registry answering with another digest is an error, as containerd’s pushWriter.Commit', async () => {
    const other = Buffer.from('other');
    wrongDigest = sha256(Buffer.from('x'));
    await expect(new Registry(`${host}/r:1`).pushObject({ ...desc, digest: sha256(other), size: other.length }, () => other)).rejects.toThrow(
      `got digest ${wrongDigest}, expected ${sha256(other)}`,
    );
  });

  it('pushObject puts a manifest type under the reference’s tag, or under its digest when the reference names another', async () => {
    const manifest = Buffer.from('{"schemaVersion":2}');
    const m = { mediaType: MANIFEST, digest: sha256(manifest), size: manifest.length };
    await new Registry(`${host}/r:v1`).pushObject(m, () => manifest);
    expect(manifests.get('v1')).toEqual({ type: MANIFEST, data: manifest });
    expect(seen.filter((s) => !s.includes('token'))).toEqual(['HEAD /v2/r/manifests/v1', 'HEAD /v2/r/manifests/v1', 'PUT /v2/r/manifests/v1']);
    // Under the tag already, with that digest: there.
    await expect(new Registry(`${host}/r:v1`).pushObject(m, () => manifest)).rejects.toThrow(`content ${m.digest} on remote: already exists`);
    seen.length = 0;
    const other = Buffer.from('{"schemaVersion":2,"x":1}');
    await new Registry(`${host}/r:v2@${m.digest}`).pushObject({ ...m, digest: sha256(other), size: other.length }, () => other);
    expect(seen.at(-1)).toBe(`PUT /v2/r/manifests/${sha256(other)}`);
  });

  it('resolve and fetch each have their own authorizer (a token each), as containerd’s Resolve and Fetcher', async () => {
    blobs.set(desc.digest, blob);
    const registry = new Registry(`${host}/r@${desc.digest}`);
    const resolved = await registry.resolve();
    expect(resolved.digest).toBe(desc.digest);
    expect((await readBody(await registry.fetch(resolved))).equals(blob)).toBe(true);
    expect(seen.filter((s) => s === 'GET /token')).toHaveLength(2);
    // The same use keeps its token.
    seen.length = 0;
    await readBody(await registry.fetch(resolved));
    expect(seen).toEqual([`GET /v2/r/blobs/${desc.digest}`]);
  });

  it('httpDump receives the token requests and answers too, in order, bodies included', async () => {
    const dumps: string[] = [];
    blobs.set(desc.digest, blob);
    const credentials = () => ({ username: 'alice', secret: 'pw' });
    await new Registry(`${host}/r@${desc.digest}`, { credentials, httpDump: (d) => dumps.push(d.toString()) }).resolve();
    const lines = dumps.map((d) => d.split('\r\n')[0]);
    expect(lines.slice(0, 5)).toEqual([`HEAD /v2/r/manifests/${desc.digest} HTTP/1.1`, 'HTTP/1.1 401 Unauthorized', 'POST /token HTTP/1.1', 'HTTP/1.1 200 OK', `HEAD /v2/r/manifests/${desc.digest} HTTP/1.1`]);
    expect(dumps[2]).toContain('Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n');
    expect(dumps[2]).toMatch(/\r\n\r\nclient_id=containerd-client&grant_type=password&password=pw&scope=repository%3Ar%3Apull&service=test&username=alice$/);
    // Node's server sends it chunked: the dump shows the chunks, as Go's DumpResponse.
    expect(dumps[3]).toMatch(/^HTTP\/1\.1 200 OK\r\nTransfer-Encoding: chunked\r\n[\s\S]*\r\n\r\n[0-9a-f]+\r\n\{"access_token":"t\d+"\}\r\n0\r\n\r\n$/);
  });

  it('dumpingSend dumps a request and its answer and hands the body on', async () => {
    const dumps: Buffer[] = [];
    blobs.set(desc.digest, blob);
    const dumped = dumpingSend(send, (d) => dumps.push(d));
    const res = await dumped('GET', `http://${host}/v2/r/blobs/${desc.digest}`, { headers: { authorization: 'Bearer t1' }, body: Readable.from([]) });
    expect(res.status).toBe(200);
    expect((await readBody(res.body)).equals(blob)).toBe(true);
    expect(dumps.map((d) => d.toString())).toEqual([
      `GET /v2/r/blobs/${desc.digest} HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer t1\r\n\r\n`,
      expect.stringMatching(/^HTTP\/1\.1 200 OK\r\nTransfer-Encoding: chunked\r\n[\s\S]*\r\n\r\n7\r\n\{"a":1\}\r\n0\r\n\r\n$/),
    ]);
  });
});
