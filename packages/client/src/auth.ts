// Registry authentication as containerd's docker authorizer does it: `WWW-Authenticate`
// challenges parsed (auth.ParseAuthHeader), one handler per registry host once it has
// answered 401 — Basic with the user's credentials, or Bearer with tokens fetched from the
// challenge's realm (OAuth POST with credentials, GET otherwise or when the POST is refused)
// and cached per scope set.
import { type HttpResponse, type HttpSend, readBody } from './transport.js';

export type AuthScheme = 'basic' | 'digest' | 'bearer';

/** One challenge of a `WWW-Authenticate` header: the scheme and its (lower-cased) parameters. */
export interface Challenge {
  scheme: AuthScheme;
  parameters: Record<string, string>;
}

const SEPARATORS = ' \t"(),/:;<=>?@[]\\{}';
const isTokenChar = (c: number) => c > 31 && c < 127 && !SEPARATORS.includes(String.fromCharCode(c));
const isSpace = (ch: string | undefined) => ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n';

function expectToken(s: string): [string, string] {
  let i = 0;
  while (i < s.length && isTokenChar(s.charCodeAt(i))) i++;
  return [s.slice(0, i), s.slice(i)];
}

function expectTokenOrQuoted(s: string): [string, string] {
  if (!s.startsWith('"')) return expectToken(s);
  let out = '';
  for (let i = 1; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '"') return [out, s.slice(i + 1)];
    if (ch === '\\') {
      i++;
      if (i >= s.length) break;
      out += s[i];
      continue;
    }
    out += ch;
  }
  // An unterminated quoted string: containerd drops the value and the rest.
  return ['', ''];
}

const skipSpace = (s: string) => {
  let i = 0;
  while (i < s.length && isSpace(s[i])) i++;
  return s.slice(i);
};

/**
 * parseValueAndParams, extended to RFC 7235's lists: `Bearer realm="…",service="…", Basic
 * realm="…"` → the two challenges (a token not followed by `=` starts the next one).
 */
function parseChallenges(header: string): Array<[string, Record<string, string>]> {
  const out: Array<[string, Record<string, string>]> = [];
  let s = header;
  for (;;) {
    s = skipSpace(s);
    while (s.startsWith(',')) s = skipSpace(s.slice(1));
    let scheme: string;
    [scheme, s] = expectToken(s);
    if (scheme === '') return out;
    const params: Record<string, string> = {};
    out.push([scheme.toLowerCase(), params]);
    for (;;) {
      const at = skipSpace(s);
      const [key, rest] = expectToken(at);
      if (key === '') return out;
      if (!rest.startsWith('=')) {
        // The next challenge's scheme.
        s = at;
        break;
      }
      let v: string;
      [v, s] = expectTokenOrQuoted(rest.slice(1));
      params[key.toLowerCase()] = v;
      s = skipSpace(s);
      if (!s.startsWith(',')) return out;
      s = s.slice(1);
    }
  }
}

const PRIORITY: Record<AuthScheme, number> = { bearer: 3, digest: 2, basic: 1 };

/**
 * auth.ParseAuthHeader: the challenges of every `WWW-Authenticate` header (several headers,
 * or several challenges in one), unknown schemes dropped, Bearer before Digest before Basic.
 */
export function parseAuthHeader(values: string | string[] | undefined): Challenge[] {
  const list = values === undefined ? [] : Array.isArray(values) ? values : [values];
  const out: Challenge[] = [];
  for (const h of list) {
    for (const [scheme, parameters] of parseChallenges(h)) {
      if (scheme === 'basic' || scheme === 'digest' || scheme === 'bearer') out.push({ scheme, parameters });
    }
  }
  // A stable sort, as sort.Stable.
  return out.map((c, i) => ({ c, i })).sort((a, b) => PRIORITY[b.c.scheme] - PRIORITY[a.c.scheme] || a.i - b.i).map((x) => x.c);
}

/** `repository:<repo>:pull` (`:pull,push` for a push), as docker.RepositoryScope. */
export function repositoryScope(repository: string, push = false): string {
  return `repository:${repository}:pull${push ? ',push' : ''}`;
}

/** The user name and secret for a registry host ('' when there are none). */
export type Credentials = (host: string) => { username: string; secret: string } | Promise<{ username: string; secret: string }>;

/** docker.ErrInvalidAuthorization: the registry refused credentials it was sent. */
export class InvalidAuthorizationError extends Error {
  override name = 'InvalidAuthorizationError';
  constructor(serverMessage: string) {
    super(`server message: ${serverMessage}: authorization failed`);
  }
}

/** No handler for any of the challenges (errdefs.ErrNotImplemented in containerd). */
export class UnsupportedAuthError extends Error {
  override name = 'UnsupportedAuthError';
  constructor() {
    super('failed to find supported auth scheme: not implemented');
  }
}

/** remotes/errors.ErrUnexpectedStatus. */
export class UnexpectedStatusError extends Error {
  override name = 'UnexpectedStatusError';
  constructor(
    readonly status: number,
    statusText: string,
    readonly body: string,
  ) {
    super(`unexpected status: ${statusText}`);
  }
}

/** What the authorizer needs to know of a request that was answered. */
export interface AnsweredRequest {
  method: string;
  url: string;
  response: Pick<HttpResponse, 'status' | 'headersDistinct'>;
}

interface BearerOptions {
  realm: string;
  service: string;
  scopes: string[];
  username: string;
  secret: string;
}

type Handler = { scheme: 'basic'; username: string; secret: string } | { scheme: 'bearer'; common: BearerOptions; tokens: Map<string, Promise<string>> };

/** docker.GetTokenScopes: the request's and the challenge's scopes, sorted, without duplicates. */
export function tokenScopes(request: string[], common: string[]): string[] {
  return [...new Set([...request, ...common])].sort();
}

/**
 * dockerAuthorizer: per registry host, the handler its last 401 called for. Credentials are
 * only ever sent to the host that asked for them (a redirect elsewhere goes without).
 */
export class Authorizer {
  private readonly handlers = new Map<string, Handler>();

  constructor(
    /** Sends token requests (to the realm), with the registry host's TLS settings. */
    private readonly send: HttpSend,
    private readonly credentials?: Credentials,
    private readonly userAgent = 'containerd-ts/1.6',
  ) {}

  /** The Authorization header for a request to `url` needing `scopes`, or undefined. */
  async authorize(url: string, scopes: string[]): Promise<string | undefined> {
    const h = this.handlers.get(new URL(url).host);
    if (!h) return undefined;
    if (h.scheme === 'basic') return `Basic ${Buffer.from(`${h.username}:${h.secret}`).toString('base64')}`;
    const all = tokenScopes(scopes, h.common.scopes);
    const key = all.join(' ');
    let token = h.tokens.get(key);
    if (!token) {
      token = this.fetchToken({ ...h.common, scopes: all });
      // A failure is kept too, as containerd keeps it: the same scopes are not asked again.
      token.catch(() => {});
      h.tokens.set(key, token);
    }
    return `Bearer ${await token}`;
  }

  /**
   * AddResponses: takes the last 401 of `responses` (the requests of one operation so far).
   * Throws InvalidAuthorizationError when a token was refused for the same request twice,
   * UnsupportedAuthError when no challenge can be answered.
   */
  async addResponses(responses: AnsweredRequest[]): Promise<void> {
    const last = responses.at(-1);
    if (!last) return;
    const host = new URL(last.url).host;
    for (const c of parseAuthHeader(last.response.headersDistinct['www-authenticate'])) {
      if (c.scheme === 'bearer') {
        const error = c.parameters.error ?? '';
        const prev = responses.at(-2);
        if (error !== '' && prev && prev.method === last.method && prev.url === last.url) {
          this.handlers.delete(host);
          throw new InvalidAuthorizationError(error);
        }
        // One registry gives one realm and service; only the scope changes per request.
        if (this.handlers.has(host)) return;
        const { username, secret } = (await this.credentials?.(host)) ?? { username: '', secret: '' };
        const realm = c.parameters.realm;
        if (realm === undefined) throw new Error('no realm specified for token auth challenge');
        let realmUrl: string;
        try {
          realmUrl = new URL(realm).toString();
        } catch (err) {
          throw new Error(`invalid token auth challenge realm: ${(err as Error).message}`);
        }
        const scopes = c.parameters.scope === undefined ? [] : c.parameters.scope.split(' ');
        this.handlers.set(host, { scheme: 'bearer', common: { realm: realmUrl, service: c.parameters.service ?? '', scopes, username, secret }, tokens: new Map() });
        return;
      }
      if (c.scheme === 'basic' && this.credentials) {
        const { username, secret } = await this.credentials(host);
        if (username !== '' && secret !== '') {
          this.handlers.set(host, { scheme: 'basic', username, secret });
          return;
        }
      }
    }
    throw new UnsupportedAuthError();
  }

  /** doBearerAuth: OAuth POST when there is a secret (GET if the server will not), anonymous GET otherwise. */
  private async fetchToken(to: BearerOptions): Promise<string> {
    if (to.secret === '') {
      try {
        return await this.fetchTokenGet(to);
      } catch (err) {
        throw new Error(`failed to fetch anonymous token: ${(err as Error).message}`, { cause: err });
      }
    }
    try {
      try {
        return await this.fetchTokenOAuth(to);
      } catch (err) {
        // Registries without POST support answer 404, 401, 400 (or 405).
        if (err instanceof UnexpectedStatusError && ((err.status === 405 && to.username !== '') || [404, 401, 400].includes(err.status))) {
          return await this.fetchTokenGet(to);
        }
        throw err;
      }
    } catch (err) {
      throw new Error(`failed to fetch oauth token: ${(err as Error).message}`, { cause: err });
    }
  }

  private async fetchTokenOAuth(to: BearerOptions): Promise<string> {
    const form = new URLSearchParams();
    if (to.scopes.length > 0) form.set('scope', to.scopes.join(' '));
    form.set('service', to.service);
    form.set('client_id', 'containerd-client');
    if (to.username === '') {
      form.set('grant_type', 'refresh_token');
      form.set('refresh_token', to.secret);
    } else {
      form.set('grant_type', 'password');
      form.set('username', to.username);
      form.set('password', to.secret);
    }
    form.sort();
    const res = await this.send('POST', to.realm, {
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', 'user-agent': this.userAgent },
      body: Buffer.from(form.toString()),
    });
    const json = await tokenJson(res);
    const token = typeof json.access_token === 'string' ? json.access_token : '';
    if (token === '') throw new Error('authorization server did not include a token in the response');
    return token;
  }

  private async fetchTokenGet(to: BearerOptions): Promise<string> {
    const url = new URL(to.realm);
    if (to.service !== '') url.searchParams.append('service', to.service);
    for (const s of to.scopes) url.searchParams.append('scope', s);
    url.searchParams.sort();
    const headers: Record<string, string> = { 'user-agent': this.userAgent };
    if (to.secret !== '') headers.authorization = `Basic ${Buffer.from(`${to.username}:${to.secret}`).toString('base64')}`;
    const res = await this.send('GET', url.toString(), { headers });
    const json = await tokenJson(res);
    // `access_token` is the same as `token`; containerd prefers it when both are there.
    const token = typeof json.access_token === 'string' && json.access_token !== '' ? json.access_token : typeof json.token === 'string' ? json.token : '';
    if (token === '') throw new Error('authorization server did not include a token in the response');
    return token;
  }
}

async function tokenJson(res: HttpResponse): Promise<Record<string, unknown>> {
  const text = (await readBody(res.body, 1 << 20)).toString();
  if (res.status < 200 || res.status >= 400) throw new UnexpectedStatusError(res.status, res.statusText, text);
  try {
    const json: unknown = JSON.parse(text);
    if (typeof json !== 'object' || json === null) throw new Error(`cannot unmarshal ${typeof json} into a token response`);
    return json as Record<string, unknown>;
  } catch (err) {
    throw new Error(`unable to decode token response: ${(err as Error).message}`);
  }
}
