// What a registry with TLS and auth needs in a test: a CA made with openssl that signs the
// servers' certificates, an htpasswd file (bcrypt through bcryptjs), and a token server for
// docker-registry's `auth.token` — JWTs signed with a key whose certificate is in the
// registry's rootcertbundle, named in the `kid` header by its libtrust key ID. (docker-registry
// 2.8 takes an `x5c` chain as well — verified against the bundle, which may then hold only the
// CA — but `kid` needs the signing certificate itself in the bundle.)
import { createHash, createPrivateKey, createPublicKey, randomBytes, sign } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { type Server, createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { requireTools, run } from './harness.js';

export interface Ca {
  /** The CA's certificate (PEM file). */
  cert: string;
  /** A certificate and key signed by the CA for `name`, valid for `sans` (`IP:127.0.0.1`, `DNS:localhost`). */
  issue(name: string, sans: string[]): Promise<{ cert: string; key: string }>;
}

async function openssl(...args: string[]): Promise<void> {
  requireTools('a test CA', 'openssl');
  const r = await run('openssl', args);
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

/** A fresh CA in `dir` (RSA 2048, one day). */
export async function makeCa(dir: string, name = 'ctr-ts test CA'): Promise<Ca> {
  const cert = join(dir, `${name.replace(/\W+/g, '-')}.pem`);
  const key = join(dir, `${name.replace(/\W+/g, '-')}.key`);
  await openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-keyout', key, '-out', cert);
  return {
    cert,
    async issue(cn: string, sans: string[]) {
      const base = join(dir, cn.replace(/\W+/g, '-'));
      await openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', `${base}.key`, '-out', `${base}.csr`);
      await writeFile(`${base}.ext`, `subjectAltName=${sans.join(',') || `DNS:${cn}`}\n`);
      await openssl('x509', '-req', '-in', `${base}.csr`, '-CA', cert, '-CAkey', key, '-CAcreateserial', '-days', '1', '-extfile', `${base}.ext`, '-out', `${base}.pem`);
      return { cert: `${base}.pem`, key: `${base}.key` };
    },
  };
}

/** An htpasswd file with bcrypt hashes, as docker-registry's htpasswd auth reads it. */
export async function writeHtpasswd(file: string, users: Record<string, string>): Promise<void> {
  await writeFile(file, Object.entries(users).map(([u, p]) => `${u}:${bcrypt.hashSync(p, 8)}\n`).join(''));
}

/** libtrust's key ID: the SHA-256 of the key's DER SubjectPublicKeyInfo, 240 bits of it in base32, in groups of 4. */
export function libtrustKeyId(publicKeyDer: Buffer): string {
  const bytes = createHash('sha256').update(publicKeyDer).digest().subarray(0, 30);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const b of bytes) bits += b.toString(2).padStart(8, '0');
  let out = '';
  for (let i = 0; i < bits.length; i += 5) out += alphabet[Number.parseInt(bits.slice(i, i + 5).padEnd(5, '0'), 2)];
  return out.match(/.{4}/g)!.join(':');
}

export interface TokenRequest {
  method: 'GET' | 'POST';
  /** The user the credentials named ('' when anonymous). */
  user: string;
  scopes: string[];
  /** The status the token server answered. */
  status: number;
}

export interface TokenServer {
  /** `https://127.0.0.1:PORT/token`. */
  realm: string;
  service: string;
  issuer: string;
  /** The signing key's certificate: the registry's rootcertbundle. */
  rootCertBundle: string;
  /** What was asked, in order. */
  requests: TokenRequest[];
  /** A token for `user` with the actions of `scope`s (`repository:NAME:ACTIONS`), as the server issues them. */
  mint(user: string, scopes: string[]): string;
  stop(): Promise<void>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/**
 * A token server as docker's auth spec has it: GET `?service=&scope=` with Basic credentials
 * (or none: an anonymous token without access), and the OAuth POST form
 * (`grant_type=password`). Wrong credentials get 401. Served over HTTPS with `tls`.
 */
export async function startTokenServer(opts: { tls: { cert: string; key: string }; signer: { cert: string; key: string }; users: Record<string, string> }): Promise<TokenServer> {
  const service = 'ctr-ts-test-registry';
  const issuer = 'ctr-ts-test-issuer';
  const signingKey = createPrivateKey(await readFile(opts.signer.key));
  const kid = libtrustKeyId(createPublicKey(signingKey).export({ type: 'spki', format: 'der' }));
  const requests: TokenRequest[] = [];
  const mint = (user: string, scopes: string[]) => {
    const now = Math.floor(Date.now() / 1000);
    const access = scopes.flatMap((s) => {
      const [type, name, actions] = [s.slice(0, s.indexOf(':')), s.slice(s.indexOf(':') + 1, s.lastIndexOf(':')), s.slice(s.lastIndexOf(':') + 1)];
      return user === '' ? [] : [{ type, name, actions: actions.split(',') }];
    });
    const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', kid }));
    const claims = b64url(JSON.stringify({ iss: issuer, sub: user, aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access }));
    const signature = sign('sha256', Buffer.from(`${header}.${claims}`), signingKey);
    return `${header}.${claims}.${b64url(signature)}`;
  };
  const check = (user: string, password: string) => opts.users[user] !== undefined && opts.users[user] === password;
  const server: Server = createServer({ cert: await readFile(opts.tls.cert), key: await readFile(opts.tls.key) }, (req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'https://x');
      const answer = (method: 'GET' | 'POST', user: string, scopes: string[], ok: boolean, field: 'token' | 'access_token') => {
        requests.push({ method, user, scopes, status: ok ? 200 : 401 });
        if (!ok) {
          res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"incorrect username or password"}');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ [field]: mint(user, scopes), expires_in: 300, issued_at: new Date().toISOString() }));
      };
      if (url.pathname !== '/token') {
        res.writeHead(404).end();
        return;
      }
      if (req.method === 'POST') {
        const form = new URLSearchParams(body);
        const scopes = (form.get('scope') ?? '').split(' ').filter((s) => s !== '');
        const user = form.get('username') ?? '';
        answer('POST', user, scopes, form.get('grant_type') === 'password' && check(user, form.get('password') ?? ''), 'access_token');
        return;
      }
      const scopes = url.searchParams.getAll('scope');
      const basic = /^Basic (.*)$/.exec(req.headers.authorization ?? '');
      if (!basic) {
        answer('GET', '', scopes, true, 'token');
        return;
      }
      const decoded = Buffer.from(basic[1]!, 'base64').toString();
      const user = decoded.slice(0, decoded.indexOf(':'));
      answer('GET', user, scopes, check(user, decoded.slice(decoded.indexOf(':') + 1)), 'token');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    realm: `https://127.0.0.1:${port}/token`,
    service,
    issuer,
    rootCertBundle: opts.signer.cert,
    requests,
    mint,
    stop: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
