// WWW-Authenticate parsing (containerd's parse_test cases and lists of challenges) and the
// authorizer's handling of Basic and Bearer challenges against a token server on loopback.
import { type IncomingMessage, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AnsweredRequest, Authorizer, InvalidAuthorizationError, UnsupportedAuthError, parseAuthHeader, repositoryScope, tokenScopes } from './auth.js';
import { send } from './transport.js';

describe('parseAuthHeader', () => {
  it('reads Bearer realm, service and one or several scopes', () => {
    for (const scope of ['repository:foo/bar:pull,push', 'repository:foo/bar:pull,push repository:foo/baz:pull repository:foo/foo:push']) {
      expect(parseAuthHeader(`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="${scope}"`)).toEqual([
        { scheme: 'bearer', parameters: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope } },
      ]);
    }
  });

  it('keeps empty values, lower-cases names, unescapes quoted strings, takes bare tokens', () => {
    const [c] = parseAuthHeader('Bearer realm="https://auth.example.io/token",empty="",Service="registry.example.io",x="a\\"b", y=tok');
    expect(c?.parameters).toEqual({ realm: 'https://auth.example.io/token', empty: '', service: 'registry.example.io', x: 'a"b', y: 'tok' });
    expect(parseAuthHeader('BASIC realm="Registry Realm"')).toEqual([{ scheme: 'basic', parameters: { realm: 'Registry Realm' } }]);
    // An unterminated quoted string ends the parameters, as in containerd.
    expect(parseAuthHeader('Bearer realm="x')).toEqual([{ scheme: 'bearer', parameters: { realm: '' } }]);
  });

  it('several challenges, in several headers or one list: unknown schemes dropped, Bearer > Digest > Basic', () => {
    expect(parseAuthHeader(['Basic realm="r"', 'Negotiate', 'Bearer realm="https://t/token",service="s"']).map((c) => c.scheme)).toEqual(['bearer', 'basic']);
    expect(parseAuthHeader('Basic realm="r", Digest realm="d", nonce="n", Bearer realm="https://t/token"')).toEqual([
      { scheme: 'bearer', parameters: { realm: 'https://t/token' } },
      { scheme: 'digest', parameters: { realm: 'd', nonce: 'n' } },
      { scheme: 'basic', parameters: { realm: 'r' } },
    ]);
    expect(parseAuthHeader(undefined)).toEqual([]);
    expect(parseAuthHeader('')).toEqual([]);
  });

  it('scopes: pull, pull,push; sorted and deduplicated', () => {
    expect(repositoryScope('a/b')).toBe('repository:a/b:pull');
    expect(repositoryScope('a/b', true)).toBe('repository:a/b:pull,push');
    expect(tokenScopes(['repository:b:pull', 'repository:a:pull'], ['repository:b:pull'])).toEqual(['repository:a:pull', 'repository:b:pull']);
  });
});

interface Seen {
  method: string;
  url: string;
  authorization: string;
  body: string;
}

const unauthorized = (url: string, header: string): AnsweredRequest => ({
  method: 'GET',
  url,
  response: { status: 401, headersDistinct: { 'www-authenticate': [header] } },
});

describe('Authorizer', () => {
  let server: Server;
  let base = '';
  const seen: Seen[] = [];
  /** What the token server does with a POST: 'oauth' answers it, 'refuse' answers 404. */
  let post: 'oauth' | 'refuse' = 'oauth';

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization ?? '', body });
        const good = `Basic ${Buffer.from('alice:s3cret').toString('base64')}`;
        if (req.method === 'POST') {
          if (post === 'refuse') return res.writeHead(404).end();
          const form = new URLSearchParams(body);
          if (form.get('grant_type') === 'refresh_token' && form.get('refresh_token') === 'rt-1') {
            return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: `refreshed:${form.get('scope')}` }));
          }
          if (form.get('password') !== 's3cret') return res.writeHead(401, 'Unauthorized').end('{}');
          return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: `oauth:${form.get('scope')}` }));
        }
        const q = new URL(req.url ?? '', 'http://x').searchParams;
        if (req.headers.authorization !== undefined && req.headers.authorization !== good) return res.writeHead(401, 'Unauthorized').end();
        if (q.get('service') === 'no-token') return res.writeHead(200).end('{}');
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `get:${q.getAll('scope').join('+')}:${req.headers.authorization ? 'alice' : 'anonymous'}` }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });

  const creds = () => ({ username: 'alice', secret: 's3cret' });

  it('Basic: the credentials go to the host that asked, and only to it', async () => {
    const a = new Authorizer(send, creds);
    expect(await a.authorize('https://r.example/v2/x/manifests/1', [])).toBeUndefined();
    await a.addResponses([unauthorized('https://r.example/v2/x/manifests/1', 'Basic realm="Registry Realm"')]);
    expect(await a.authorize('https://r.example/v2/x/blobs/sha256:1', [])).toBe(`Basic ${Buffer.from('alice:s3cret').toString('base64')}`);
    expect(await a.authorize('https://blobs.example/x', [])).toBeUndefined();
    // Without credentials Basic cannot be answered.
    await expect(new Authorizer(send).addResponses([unauthorized('https://r.example/v2/', 'Basic realm="r"')])).rejects.toThrow(UnsupportedAuthError);
    await expect(new Authorizer(send, () => ({ username: '', secret: '' })).addResponses([unauthorized('https://r.example/v2/', 'Basic realm="r"')])).rejects.toThrow(
      'failed to find supported auth scheme: not implemented',
    );
  });

  it('Bearer with credentials: an OAuth POST, one token per scope set, cached', async () => {
    seen.length = 0;
    post = 'oauth';
    const a = new Authorizer(send, creds);
    await a.addResponses([unauthorized('https://r.example/v2/x/manifests/1', `Bearer realm="${base}/token",service="reg",scope="repository:x:pull"`)]);
    expect(await a.authorize('https://r.example/v2/x/manifests/1', ['repository:x:pull'])).toBe('Bearer oauth:repository:x:pull');
    expect(await a.authorize('https://r.example/v2/x/blobs/1', ['repository:x:pull'])).toBe('Bearer oauth:repository:x:pull');
    expect(await a.authorize('https://r.example/v2/x/blobs/1', ['repository:x:pull,push'])).toBe('Bearer oauth:repository:x:pull repository:x:pull,push');
    expect(seen.map((s) => s.method)).toEqual(['POST', 'POST']);
    expect(Object.fromEntries(new URLSearchParams(seen[0]!.body))).toEqual({
      client_id: 'containerd-client',
      grant_type: 'password',
      password: 's3cret',
      scope: 'repository:x:pull',
      service: 'reg',
      username: 'alice',
    });
  });

  it('Bearer with a refresh token and no user (ctr’s --refresh): the OAuth refresh_token grant', async () => {
    seen.length = 0;
    post = 'oauth';
    const a = new Authorizer(send, () => ({ username: '', secret: 'rt-1' }));
    await a.addResponses([unauthorized('https://r.example/v2/x/manifests/1', `Bearer realm="${base}/token",service="reg"`)]);
    expect(await a.authorize('https://r.example/v2/x/manifests/1', ['repository:x:pull'])).toBe('Bearer refreshed:repository:x:pull');
    expect(Object.fromEntries(new URLSearchParams(seen[0]!.body))).toEqual({
      client_id: 'containerd-client',
      grant_type: 'refresh_token',
      refresh_token: 'rt-1',
      scope: 'repository:x:pull',
      service: 'reg',
    });
  });

  it('Bearer: a realm that refuses POST is asked with GET and Basic credentials; anonymous without credentials', async () => {
    seen.length = 0;
    post = 'refuse';
    const a = new Authorizer(send, creds);
    await a.addResponses([unauthorized('https://r.example/v2/x/manifests/1', `Bearer realm="${base}/token?a=1",service="reg",scope="repository:x:pull"`)]);
    expect(await a.authorize('https://r.example/v2/x/manifests/1', ['repository:y:pull'])).toBe('Bearer get:repository:x:pull+repository:y:pull:alice');
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual(['POST /token?a=1', 'GET /token?a=1&scope=repository%3Ax%3Apull&scope=repository%3Ay%3Apull&service=reg']);
    const anon = new Authorizer(send);
    await anon.addResponses([unauthorized('https://r.example/v2/x/manifests/1', `Bearer realm="${base}/token",service="reg"`)]);
    expect(await anon.authorize('https://r.example/v2/x/manifests/1', ['repository:x:pull'])).toBe('Bearer get:repository:x:pull:anonymous');
    const none = new Authorizer(send);
    await none.addResponses([unauthorized('https://r.example/v2/x/manifests/1', `Bearer realm="${base}/token",service="no-token"`)]);
    await expect(none.authorize('https://r.example/v2/x/manifests/1', [])).rejects.toThrow(
      'failed to fetch anonymous token: authorization server did not include a token in the response',
    );
  });

  it('Bearer with a wrong password: containerd’s message, and the failure is kept for the scope', async () => {
    post = 'oauth';
    const a = new Authorizer(send, () => ({ username: 'alice', secret: 'wrong' }));
    await a.addResponses([unauthorized('https://r.example/v2/x/manifests/1', `Bearer realm="${base}/token",service="reg"`)]);
    await expect(a.authorize('https://r.example/v2/x/manifests/1', ['repository:x:pull'])).rejects.toThrow('failed to fetch oauth token: unexpected status: 401 Unauthorized');
    seen.length = 0;
    await expect(a.authorize('https://r.example/v2/x/manifests/1', ['repository:x:pull'])).rejects.toThrow('unexpected status: 401 Unauthorized');
    expect(seen).toEqual([]);
  });

  it('a token refused twice for the same request is an invalid authorization', async () => {
    const a = new Authorizer(send, creds);
    const url = 'https://r.example/v2/x/manifests/1';
    const first = unauthorized(url, `Bearer realm="${base}/token",service="reg",scope="repository:x:pull"`);
    await a.addResponses([first]);
    const again = unauthorized(url, `Bearer realm="${base}/token",service="reg",scope="repository:x:pull",error="insufficient_scope"`);
    await expect(a.addResponses([first, again])).rejects.toThrow(new InvalidAuthorizationError('insufficient_scope'));
    expect(new InvalidAuthorizationError('insufficient_scope').message).toBe('server message: insufficient_scope: authorization failed');
    // The handler is gone: nothing is sent until the host challenges again.
    expect(await a.authorize(url, [])).toBeUndefined();
  });
});
