// A Docker Registry HTTP API v2 client in the manner of containerd's docker resolver:
// resolve a reference to a descriptor (HEAD on the manifest with containerd's Accept
// header, GET when the registry gives no digest or length), fetch manifests and blobs by
// digest, and push blobs (monolithic upload, existing blobs skipped) and manifests.
// Errors read as containerd's do.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { notFound } from '@containerd-ts/errdefs';
import { type Descriptor, MediaType, isIndexType, isManifestType, sha256 } from './images.js';
import { type ReferenceSpec, InvalidReferenceError, hostname, parseReference, referenceDigest, referenceHost, referenceRepository } from './reference.js';

/** The Accept header containerd's resolver sends when resolving a reference. */
export const RESOLVE_ACCEPT = [MediaType.dockerManifest, MediaType.dockerManifestList, MediaType.ociManifest, MediaType.ociIndex, '*/*'].join(', ');

/** docker.MaxManifestSize. */
export const MAX_MANIFEST_SIZE = 4 << 20;

/** docker.IsLocalhost: localhost or a loopback address, with or without a port. */
export function isLocalhost(host: string): boolean {
  const h = hostname(host);
  if (h === 'localhost' || h === '::1') return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

export interface RegistryOptions {
  /** Talk HTTP instead of HTTPS (ctr's --plain-http). */
  plainHttp?: boolean;
  /** Extra headers (User-Agent defaults to containerd-ts's). */
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

const DIGEST_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

/** go-digest's Validate, with its messages. */
export function validateDigest(d: string): void {
  const i = d.indexOf(':');
  if (i <= 0 || i + 1 === d.length) throw new Error('invalid checksum digest format');
  const length = DIGEST_LENGTH[d.slice(0, i)];
  if (length === undefined) throw new Error('unsupported digest algorithm');
  if (d.length - i - 1 !== length) throw new Error('invalid checksum digest length');
  if (!/^[a-f0-9]+$/.test(d.slice(i + 1))) throw new Error('invalid checksum digest format');
}

interface Response {
  status: number;
  statusText: string;
  headers: IncomingMessage['headers'];
  body: IncomingMessage;
}

/** What Go's net/http says for a dial error of Node's. */
function dialError(err: NodeJS.ErrnoException, host: string): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return `dial tcp ${host}: connect: connection refused`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `dial tcp: lookup ${host.replace(/:\d+$/, '')}: no such host`;
    case 'ETIMEDOUT':
      return `dial tcp ${host}: i/o timeout`;
    case 'ECONNRESET':
      return 'EOF';
    default:
      return err.message;
  }
}

export class Registry {
  readonly spec: ReferenceSpec;
  readonly host: string;
  readonly repository: string;
  private readonly scheme: 'http' | 'https';

  constructor(
    readonly ref: string,
    private readonly options: RegistryOptions = {},
  ) {
    this.spec = parseReference(ref);
    this.host = referenceHost(this.spec);
    this.repository = referenceRepository(this.spec);
    // containerd's default host configuration speaks plain HTTP to a loopback registry.
    this.scheme = options.plainHttp || isLocalhost(this.host) ? 'http' : 'https';
  }

  private url(...parts: string[]): string {
    return `${this.scheme}://${this.host}/v2/${this.repository}/${parts.join('/')}`;
  }

  private send(method: string, url: string, headers: Record<string, string> = {}, body?: Buffer | Readable): Promise<Response> {
    const req = url.startsWith('https:') ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const r = req(
        url,
        { method, headers: { 'user-agent': 'containerd-ts/1.6', ...this.options.headers, ...headers }, signal: this.options.signal },
        (res) => resolve({ status: res.statusCode ?? 0, statusText: `${res.statusCode} ${res.statusMessage ?? ''}`.trim(), headers: res.headers, body: res }),
      );
      r.on('error', (err: NodeJS.ErrnoException) => {
        const verb = method[0] + method.slice(1).toLowerCase();
        reject(new Error(`failed to do request: ${verb} ${JSON.stringify(url)}: ${dialError(err, this.host)}`));
      });
      if (body === undefined) r.end();
      else if (Buffer.isBuffer(body)) r.end(body);
      else body.pipe(r);
    });
  }

  /** Follows redirects (blob stores may answer with one), up to 10 as Go's client. */
  private async sendFollowing(method: string, url: string, headers: Record<string, string>): Promise<Response> {
    let current = url;
    for (let i = 0; i <= 10; i++) {
      const res = await this.send(method, current, headers);
      if (res.status >= 300 && res.status < 400 && res.headers.location) {
        res.body.resume();
        current = new URL(res.headers.location, current).toString();
        continue;
      }
      return res;
    }
    throw new Error('stopped after 10 redirects');
  }

  /**
   * Resolver.Resolve: the descriptor the reference names. Throws containerd's errors
   * (`object required`, `<ref>: not found`, status codes, digest errors).
   */
  async resolve(): Promise<Descriptor> {
    if (this.spec.object === '') throw new InvalidReferenceError('object required');
    let dgst = referenceDigest(this.spec);
    const paths: string[][] = [];
    if (dgst !== '') {
      validateDigest(dgst);
      paths.push(['manifests', dgst], ['blobs', dgst]);
    } else paths.push(['manifests', this.spec.object]);
    let firstErr: Error | undefined;
    for (const path of paths) {
      const url = this.url(...path);
      let res: Response;
      try {
        res = await this.send('HEAD', url, { accept: RESOLVE_ACCEPT });
      } catch (err) {
        firstErr ??= err as Error;
        continue;
      }
      res.body.resume();
      if (res.status > 299) {
        if (res.status === 404) continue;
        if (res.status > 399) {
          firstErr ??= new Error(`pulling from host ${this.host} failed with status code [${path.join(' ')}]: ${res.statusText}`);
          continue;
        }
        throw new Error(`pulling from host ${this.host} failed with unexpected status code [${path.join(' ')}]: ${res.statusText}`);
      }
      let size = res.headers['content-length'] === undefined ? -1 : Number(res.headers['content-length']);
      let mediaType = (res.headers['content-type'] ?? '').split(';')[0]!.trim();
      if (dgst === '') {
        const header = String(res.headers['docker-content-digest'] ?? '');
        if (header !== '' && size !== -1) {
          try {
            validateDigest(header);
          } catch (err) {
            throw new Error(`${JSON.stringify(header)} in header not a valid digest: ${(err as Error).message}`);
          }
          dgst = header;
        }
      }
      if (dgst === '' || size === -1) {
        const get = await this.send('GET', url, { accept: RESOLVE_ACCEPT });
        const chunks: Buffer[] = [];
        for await (const c of get.body) chunks.push(c as Buffer);
        const data = Buffer.concat(chunks);
        mediaType = (get.headers['content-type'] ?? '').split(';')[0]!.trim();
        if (dgst === '') dgst = sha256(data);
        size = data.length;
      }
      if (size > MAX_MANIFEST_SIZE) {
        firstErr ??= notFound(`rejecting ${size} byte manifest for ${this.ref}`);
        continue;
      }
      return { mediaType, digest: dgst, size };
    }
    throw firstErr ?? notFound(this.ref);
  }

  /**
   * Fetcher.Fetch: the blob or manifest as a stream (manifests from /manifests, then
   * /blobs), from byte `offset` on: asked with a Range header, the bytes before it dropped
   * when the registry sends the whole blob anyway.
   */
  async fetch(desc: Descriptor, offset = 0): Promise<Readable> {
    const headers: Record<string, string> = { accept: `${desc.mediaType}, */*` };
    if (offset > 0) headers.range = `bytes=${offset}-`;
    const paths = isManifestType(desc.mediaType) || isIndexType(desc.mediaType) ? ['manifests', 'blobs'] : ['blobs'];
    let firstErr: Error | undefined;
    for (const kind of paths) {
      const res = await this.sendFollowing('GET', this.url(kind, desc.digest), headers);
      if (res.status === 206 && offset > 0) return res.body;
      if (res.status === 200) return offset > 0 ? Readable.from(skipBytes(res.body, offset)) : res.body;
      res.body.resume();
      if (res.status === 404) {
        firstErr ??= notFound(`content at ${this.url(kind, desc.digest)} not found`);
        continue;
      }
      firstErr ??= new Error(`unexpected status code ${this.url(kind, desc.digest)}: ${res.statusText}`);
    }
    throw firstErr ?? notFound(desc.digest);
  }

  /** Whether the registry has a blob (HEAD on /blobs). */
  async hasBlob(digest: string): Promise<boolean> {
    const res = await this.send('HEAD', this.url('blobs', digest));
    res.body.resume();
    return res.status === 200;
  }

  /**
   * Pushes one blob: skipped when the repository has it, mounted from `mountFrom` (another
   * repository of the same registry) when the registry can, uploaded otherwise. Resolves
   * with what happened.
   */
  async pushBlob(desc: Descriptor, data: () => Readable, mountFrom = ''): Promise<'exists' | 'mounted' | 'uploaded'> {
    if (await this.hasBlob(desc.digest)) return 'exists';
    let start: Response | undefined;
    if (mountFrom !== '' && mountFrom !== this.repository) {
      const url = `${this.url('blobs', 'uploads/')}?mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(mountFrom)}`;
      start = await this.send('POST', url);
      if (start.status === 201) {
        start.body.resume();
        return 'mounted';
      }
      if (start.status === 401) {
        // A private source repository: upload instead.
        start.body.resume();
        start = undefined;
      }
    }
    start ??= await this.send('POST', this.url('blobs', 'uploads/'));
    const text = await readText(start.body);
    if (start.status === 201) return 'mounted';
    if (start.status !== 202 && start.status !== 200 && start.status !== 204) {
      throw new Error(`failed to push ${desc.digest}: unexpected status ${start.statusText}: ${text}`);
    }
    const location = new URL(String(start.headers.location ?? ''), `${this.scheme}://${this.host}`);
    location.searchParams.set('digest', desc.digest);
    const put = await this.send(
      'PUT',
      location.toString(),
      { 'content-type': 'application/octet-stream', 'content-length': String(desc.size) },
      data(),
    );
    const putText = await readText(put.body);
    if (put.status !== 201 && put.status !== 204) throw new Error(`failed to push ${desc.digest}: unexpected status ${put.statusText}: ${putText}`);
    return 'uploaded';
  }

  /** Pushes a manifest or index under `tag` (or its digest). */
  async pushManifest(desc: Descriptor, data: Buffer, tag: string): Promise<void> {
    const put = await this.send('PUT', this.url('manifests', tag || desc.digest), { 'content-type': desc.mediaType, 'content-length': String(data.length) }, data);
    const text = await readText(put.body);
    if (put.status !== 201 && put.status !== 204) throw new Error(`failed to push ${desc.digest}: unexpected status ${put.statusText}: ${text}`);
  }
}

async function readText(body: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString().trim();
}



/** Drops the first `n` bytes of a stream. */
async function* skipBytes(source: AsyncIterable<Buffer>, n: number): AsyncGenerator<Buffer> {
  let skip = n;
  for await (const chunk of source) {
    if (skip >= chunk.length) {
      skip -= chunk.length;
      continue;
    }
    yield skip > 0 ? chunk.subarray(skip) : chunk;
    skip = 0;
  }
}
