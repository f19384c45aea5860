// A Docker Registry HTTP API v2 client in the manner of containerd's docker resolver:
// resolve a reference to a descriptor (HEAD on the manifest with containerd's Accept
// header, GET when the registry gives no digest or length), fetch manifests and blobs by
// digest, and push blobs (monolithic upload, existing blobs skipped) and manifests. The
// endpoints come from configureHosts (hosts.toml mirrors, TLS); a 401 is answered as its
// `WWW-Authenticate` asks (Basic or Bearer, see auth.ts) and the request retried once.
// Errors read as containerd's do.
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { alreadyExists, notFound } from '@containerd-ts/errdefs';
import { type AnsweredRequest, type Credentials, InvalidAuthorizationError, UnexpectedStatusError, UnsupportedAuthError, repositoryScope } from './auth.js';
import { type HostCapability, type RegistryHost, configureHosts } from './hosts.js';
import { type Descriptor, MediaType, isIndexType, isManifestType, sha256 } from './images.js';
import { type ReferenceSpec, InvalidReferenceError, parseReference, referenceDigest, referenceHost, referenceRepository } from './reference.js';
import { type ConnectionInfo, type HttpResponse, type TlsOptions, readBody } from './transport.js';

export { isLocalhost } from './hosts.js';

/** The Accept header containerd's resolver sends when resolving a reference. */
export const RESOLVE_ACCEPT = [MediaType.dockerManifest, MediaType.dockerManifestList, MediaType.ociManifest, MediaType.ociIndex, '*/*'].join(', ');

/** docker.MaxManifestSize. */
export const MAX_MANIFEST_SIZE = 4 << 20;

const USER_AGENT = 'containerd-ts/1.6';

export interface RegistryOptions {
  /** Talk HTTP instead of HTTPS to the registry itself (ctr's --plain-http). */
  plainHttp?: boolean;
  /** containerd's config_path: `<dir>/<host>/hosts.toml` (ctr's --hosts-dir). */
  hostsDir?: string;
  /** User and secret for a host that asks (ctr's --user; a secret without a user is a refresh token). */
  credentials?: Credentials;
  /** TLS settings of hosts that have none of their own (--skip-verify, --tlscacert, --tlscert/--tlskey). */
  tls?: TlsOptions;
  /**
   * The endpoints to use instead of configureHosts' (for callers with their own
   * configuration; `httpDump` is then theirs to give configureHosts).
   */
  hosts?: RegistryHost[];
  /** Extra headers (User-Agent defaults to containerd-ts's). */
  headers?: Record<string, string>;
  /**
   * Receives each request and response as Go's httputil.DumpRequest/DumpResponse write them,
   * bodies included, token requests too (ctr's --http-dump; the bodies are read whole before
   * they are used), with the use whose hosts sent it (ctr's DebugTransport has a log writer of
   * its own per configuration of the hosts: one for a resolve, one for the fetches, one for a
   * push).
   */
  httpDump?: (dump: Buffer, use: RegistryUse) => void;
  /**
   * Receives the resolver's info lines (`trying next host` when a host fails or has not the
   * object, with its `host` and the `error`), which containerd logs.
   */
  log?: (msg: string, fields: Record<string, string>) => void;
  /** Receives each request's connection (ctr's --http-trace: httptrace's GotConn). */
  httpTrace?: (info: ConnectionInfo) => void;
  signal?: AbortSignal;
}

/** What a Registry's hosts are configured for, once each (containerd's Resolve, Fetcher, Pusher). */
export type RegistryUse = 'resolve' | 'fetch' | 'push';

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

interface Request {
  method: string;
  url: string;
  headers?: Record<string, string>;
  /** Opened again for a retry. */
  body?: () => Buffer | Readable;
  /** The token scopes the request needs. */
  scopes: string[];
}

export class Registry {
  readonly spec: ReferenceSpec;
  readonly host: string;
  readonly repository: string;
  private readonly configured = new Map<RegistryUse, Promise<RegistryHost[]>>();

  constructor(
    readonly ref: string,
    private readonly options: RegistryOptions = {},
  ) {
    this.spec = parseReference(ref);
    this.host = referenceHost(this.spec);
    this.repository = referenceRepository(this.spec);
  }

  /**
   * The endpoints for this registry with every capability in `caps`, configured once per
   * `use`: as containerd's resolver configures its hosts anew for each Resolve, Fetcher and
   * Pusher, each use has its own authorizer (tokens fetched for the resolve are not reused
   * by the fetches: the first fetch is answered 401 and asks the token server again, as
   * ctr's does).
   */
  async hosts(use: RegistryUse, ...caps: HostCapability[]): Promise<RegistryHost[]> {
    let configured = this.configured.get(use);
    if (!configured) {
      const dump = this.options.httpDump;
      configured = this.options.hosts
        ? Promise.resolve(this.options.hosts)
        : configureHosts(this.host, {
            hostsDir: this.options.hostsDir,
            credentials: this.options.credentials,
            defaultScheme: this.options.plainHttp ? 'http' : undefined,
            defaultTls: this.options.tls,
            userAgent: USER_AGENT,
            httpDump: dump && ((data) => dump(data, use)),
          });
      this.configured.set(use, configured);
    }
    const all = await configured;
    return all.filter((h) => caps.every((c) => h.capabilities.includes(c)));
  }

  /** The URL of `parts` under the repository on `host`; `?ns=<registry>` when the host is a mirror (addNamespace). */
  private url(host: RegistryHost, parts: string[], ns = false): string {
    // posix.join keeps a trailing slash (`blobs/uploads/`), as containerd re-adds it.
    let p = posix.join('/', host.path, this.repository, ...parts);
    const mirror = host.host !== this.host && !(this.host === 'docker.io' && host.host === 'registry-1.docker.io');
    if (ns && mirror) p += `?${new URLSearchParams({ ns: this.host }).toString()}`;
    return `${host.scheme}://${host.host}${p}`;
  }

  /** One request with its hops: redirects followed (GET and HEAD, up to 10), each hop authorized for its own host. */
  private async sendHops(host: RegistryHost, method: string, url: string, req: Request): Promise<HttpResponse> {
    let current = url;
    for (let i = 0; i <= 10; i++) {
      const headers: Record<string, string | string[]> = { 'user-agent': USER_AGENT, ...this.options.headers, ...host.header, ...req.headers };
      let authorization: string | undefined;
      try {
        authorization = await host.authorizer.authorize(current, req.scopes);
      } catch (err) {
        throw new Error(`failed to authorize: ${(err as Error).message}`, { cause: err });
      }
      if (authorization !== undefined) headers.authorization = authorization;
      let res: HttpResponse;
      try {
        res = await host.send(method, current, { headers, body: req.body?.(), signal: this.options.signal, onConnection: this.options.httpTrace });
      } catch (err) {
        throw new Error(`failed to do request: ${(err as Error).message}`, { cause: err });
      }
      if ((method === 'GET' || method === 'HEAD') && res.status >= 300 && res.status < 400 && res.headers.location) {
        res.body.resume();
        current = new URL(res.headers.location, current).toString();
        continue;
      }
      return res;
    }
    throw new Error('failed to do request: stopped after 10 redirects');
  }

  /**
   * request.doWithRetries: after a 401 the host's authorizer takes the challenge and the
   * request is sent once more; a HEAD on a manifest answered 405 becomes a GET; 408 and 429
   * are retried. Throws InvalidAuthorizationError when a token is refused again.
   */
  private async do(host: RegistryHost, req: Request): Promise<HttpResponse> {
    const answered: AnsweredRequest[] = [];
    let method = req.method;
    let unauthorized = 0;
    for (;;) {
      const res = await this.sendHops(host, method, req.url, req);
      answered.push({ method, url: req.url, response: res });
      if (answered.length > 5) return res;
      if (res.status === 401) {
        try {
          await host.authorizer.addResponses(answered);
        } catch (err) {
          if (err instanceof UnsupportedAuthError) return res;
          res.body.resume();
          throw err;
        }
        if (++unauthorized > 1) return res;
        res.body.resume();
        continue;
      }
      if (res.status === 405 && method === 'HEAD' && req.url.includes('/manifests/')) {
        res.body.resume();
        method = 'GET';
        continue;
      }
      if (res.status === 408 || res.status === 429) {
        res.body.resume();
        continue;
      }
      return res;
    }
  }

  /**
   * Resolver.Resolve: the descriptor the reference names, from the first host (mirrors
   * first) that has it. Throws containerd's errors (`object required`, `<ref>: not found`,
   * status codes, digest errors).
   */
  async resolve(): Promise<Descriptor> {
    if (this.spec.object === '') throw new InvalidReferenceError('object required');
    let dgst = referenceDigest(this.spec);
    const paths: string[][] = [];
    if (dgst !== '') {
      validateDigest(dgst);
      paths.push(['manifests', dgst], ['blobs', dgst]);
    } else paths.push(['manifests', this.spec.object]);
    const hosts = await this.hosts('resolve', ...(dgst === '' ? (['pull', 'resolve'] as const) : (['pull'] as const)));
    if (hosts.length === 0) throw notFound('no resolve hosts');
    const scopes = [repositoryScope(this.repository)];
    let firstErr: Error | undefined;
    for (const path of paths) {
      for (const host of hosts) {
        const url = this.url(host, path, true);
        let res: HttpResponse;
        try {
          res = await this.do(host, { method: 'HEAD', url, headers: { accept: RESOLVE_ACCEPT }, scopes });
        } catch (err) {
          const e =
            err instanceof InvalidAuthorizationError
              ? new Error(`pull access denied, repository does not exist or may require authorization: ${err.message}`, { cause: err })
              : (err as Error);
          firstErr ??= e;
          this.options.log?.('trying next host', { error: e.message, host: host.host });
          continue;
        }
        res.body.resume();
        if (res.status > 299) {
          if (res.status === 404) {
            this.options.log?.('trying next host - response was http.StatusNotFound', { host: host.host });
            continue;
          }
          if (res.status > 399) {
            firstErr ??= new Error(`pulling from host ${host.host} failed with status code [${path.join(' ')}]: ${res.statusText}`);
            continue;
          }
          throw new Error(`pulling from host ${host.host} failed with unexpected status code [${path.join(' ')}]: ${res.statusText}`);
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
          const get = await this.do(host, { method: 'GET', url, headers: { accept: RESOLVE_ACCEPT }, scopes });
          const data = await readBody(get.body);
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
    }
    throw firstErr ?? notFound(this.ref);
  }

  /**
   * Fetcher.Fetch: the blob or manifest as a stream (manifests from /manifests, then
   * /blobs), from the first pull host that gives it, from byte `offset` on: asked with a
   * Range header, the bytes before it dropped when the registry sends the whole blob anyway.
   */
  async fetch(desc: Descriptor, offset = 0): Promise<Readable> {
    const headers: Record<string, string> = { accept: `${desc.mediaType}, */*` };
    if (offset > 0) headers.range = `bytes=${offset}-`;
    const kinds = isManifestType(desc.mediaType) || isIndexType(desc.mediaType) ? ['manifests', 'blobs'] : ['blobs'];
    const hosts = await this.hosts('fetch', 'pull');
    if (hosts.length === 0) throw notFound('no pull hosts');
    const scopes = [repositoryScope(this.repository)];
    let firstErr: Error | undefined;
    for (const kind of kinds) {
      for (const host of hosts) {
        const url = this.url(host, [kind, desc.digest], true);
        let res: HttpResponse;
        try {
          res = await this.do(host, { method: 'GET', url, headers, scopes });
        } catch (err) {
          firstErr ??= err as Error;
          continue;
        }
        if (res.status === 206 && offset > 0) return res.body;
        if (res.status === 200) return offset > 0 ? Readable.from(skipBytes(res.body, offset)) : res.body;
        res.body.resume();
        if (res.status === 404) {
          firstErr ??= notFound(`content at ${url} not found`);
          continue;
        }
        firstErr ??= new Error(`unexpected status code ${url}: ${res.statusText}`);
      }
    }
    throw firstErr ?? notFound(desc.digest);
  }

  /** The host a push goes to: the first with the push capability. */
  private async pushHost(): Promise<RegistryHost> {
    const host = (await this.hosts('push', 'push'))[0];
    if (!host) throw notFound('no push hosts');
    return host;
  }

  /** Whether the registry has a blob (HEAD on /blobs); a refused token counts as no. */
  async hasBlob(digest: string): Promise<boolean> {
    const host = await this.pushHost();
    let res: HttpResponse;
    try {
      res = await this.do(host, { method: 'HEAD', url: this.url(host, ['blobs', digest]), scopes: [repositoryScope(this.repository, true)] });
    } catch (err) {
      // containerd goes on with the push when it may not look.
      if (err instanceof InvalidAuthorizationError) return false;
      throw err;
    }
    res.body.resume();
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw new UnexpectedStatusError(res.status, res.statusText, '');
  }

  /**
   * Pushes one blob: skipped when the repository has it, mounted from `mountFrom` (another
   * repository of the same registry) when the registry can, uploaded otherwise. Resolves
   * with what happened.
   */
  async pushBlob(desc: Descriptor, data: () => Readable, mountFrom = ''): Promise<'exists' | 'mounted' | 'uploaded'> {
    if (await this.hasBlob(desc.digest)) return 'exists';
    const host = await this.pushHost();
    const scopes = [repositoryScope(this.repository, true)];
    let start: HttpResponse | undefined;
    if (mountFrom !== '' && mountFrom !== this.repository) {
      const url = `${this.url(host, ['blobs', 'uploads/'])}?mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(mountFrom)}`;
      start = await this.do(host, { method: 'POST', url, scopes: [...scopes, repositoryScope(mountFrom)] });
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
    start ??= await this.do(host, { method: 'POST', url: this.url(host, ['blobs', 'uploads/']), scopes });
    const text = await readText(start.body);
    if (start.status === 201) return 'mounted';
    if (start.status !== 202 && start.status !== 200 && start.status !== 204) {
      throw new Error(`failed to push ${desc.digest}: unexpected status ${start.statusText}: ${text}`);
    }
    const location = new URL(String(start.headers.location ?? ''), `${host.scheme}://${host.host}`);
    location.searchParams.set('digest', desc.digest);
    const put = await this.do(host, {
      method: 'PUT',
      url: location.toString(),
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(desc.size) },
      body: data,
      scopes,
    });
    const putText = await readText(put.body);
    if (put.status !== 201 && put.status !== 204) throw new Error(`failed to push ${desc.digest}: unexpected status ${put.statusText}: ${putText}`);
    return 'uploaded';
  }

  /** Pushes a manifest or index under `tag` (or its digest). */
  async pushManifest(desc: Descriptor, data: Buffer, tag: string): Promise<void> {
    const host = await this.pushHost();
    const put = await this.do(host, {
      method: 'PUT',
      url: this.url(host, ['manifests', tag || desc.digest]),
      headers: { 'content-type': desc.mediaType, 'content-length': String(data.length) },
      body: () => data,
      scopes: [repositoryScope(this.repository, true)],
    });
    const text = await readText(put.body);
    if (put.status !== 201 && put.status !== 204) throw new Error(`failed to push ${desc.digest}: unexpected status ${put.statusText}: ${text}`);
  }

  /**
   * dockerPusher.Push and content.Copy of one object, as `ctr content push-object` does it:
   * a HEAD on where the object would be (the manifest under the reference's tag, or the blob;
   * `Accept: <type>, *\/*`), `content <digest> on remote: already exists` when it is there, then
   * the manifest put under the tag (or its digest), or the blob uploaded (POST, then PUT to
   * the location with `?digest=`). The registry must answer with the object's digest.
   */
  async pushObject(desc: Descriptor, data: () => Buffer | Readable): Promise<void> {
    const host = await this.pushHost();
    const scopes = [repositoryScope(this.repository, true)];
    const isManifest = isManifestType(desc.mediaType) || isIndexType(desc.mediaType);
    const manifestPath = (): string[] => {
      let object = this.spec.object;
      const at = object.indexOf('@');
      // A reference naming another digest: the object goes under its own.
      if (at >= 0) object = object.slice(at + 1) === desc.digest ? object.slice(0, at) : '';
      return ['manifests', object === '' ? desc.digest : object];
    };
    const existCheck = isManifest ? manifestPath() : ['blobs', desc.digest];
    const size = String(desc.size);
    let head: HttpResponse | undefined;
    try {
      head = await this.do(host, { method: 'HEAD', url: this.url(host, existCheck), headers: { accept: `${desc.mediaType}, */*` }, scopes });
    } catch (err) {
      // "Unable to check existence, continuing with push".
      if (!(err instanceof InvalidAuthorizationError)) throw err;
    }
    if (head) {
      const text = await readText(head.body);
      if (head.status === 200) {
        const exists = !isManifest || existCheck[1] === desc.digest || head.headers['docker-content-digest'] === desc.digest;
        if (exists) throw alreadyExists(`content ${desc.digest} on remote`);
      } else if (head.status !== 404) throw new UnexpectedStatusError(head.status, head.statusText, text);
    }
    let put: Request;
    if (isManifest) {
      put = { method: 'PUT', url: this.url(host, existCheck), headers: { 'content-type': desc.mediaType, 'content-length': size }, body: data, scopes };
    } else {
      const start = await this.do(host, { method: 'POST', url: this.url(host, ['blobs', 'uploads/']), scopes });
      const text = await readText(start.body);
      if (start.status === 201) throw alreadyExists(`content ${desc.digest} on remote`);
      if (start.status !== 200 && start.status !== 202 && start.status !== 204) throw new UnexpectedStatusError(start.status, start.statusText, text);
      let location = String(start.headers.location ?? '');
      if (!location.startsWith('/') && !location.includes('://')) location = `${host.scheme}://${location}`;
      const url = new URL(location, `${host.scheme}://${host.host}`);
      url.searchParams.append('digest', desc.digest);
      put = { method: 'PUT', url: url.toString(), headers: { 'content-type': 'application/octet-stream', 'content-length': size }, body: data, scopes };
    }
    const res = await this.do(host, put);
    const text = await readText(res.body);
    if (![200, 201, 202, 204].includes(res.status)) throw new UnexpectedStatusError(res.status, res.statusText, text);
    const actual = String(res.headers['docker-content-digest'] ?? '');
    try {
      validateDigest(actual);
    } catch (err) {
      throw new Error(`invalid content digest in response: ${actual === '' ? 'invalid checksum digest format' : (err as Error).message}`);
    }
    if (actual !== desc.digest) throw new Error(`got digest ${actual}, expected ${desc.digest}`);
  }
}

async function readText(body: HttpResponse['body']): Promise<string> {
  return (await readBody(body, 64_000)).toString().trim();
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
