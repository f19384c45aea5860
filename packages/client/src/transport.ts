// HTTP(S) requests to a registry host with its TLS settings, failures worded as Go's
// net/http words them (`Head "https://…": dial tcp …: connect: connection refused`,
// `x509: certificate signed by unknown authority`), since containerd's errors carry them.
import { type IncomingMessage, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import { hostname } from './reference.js';
import { setAsideContext, setAsideRoots } from './tls-roots.js';

/** TLS settings of one registry host (containerd's tls.Config for it). */
export interface TlsOptions {
  /** Trusted roots (PEM); undefined: Node's default roots and the extra CA file (`tls-roots.ts`). */
  ca?: Array<string | Buffer>;
  /** Client certificate and key pairs (PEM). */
  certs?: Array<{ cert: string | Buffer; key: string | Buffer }>;
  /** Skip verification of the server's certificate chain and name. */
  insecureSkipVerify?: boolean;
}

export interface HttpResponse {
  status: number;
  /** `401 Unauthorized`, as Go's resp.Status. */
  statusText: string;
  headers: IncomingMessage['headers'];
  /** Every value of each header (several `WWW-Authenticate`s stay apart). */
  headersDistinct: IncomingMessage['headersDistinct'];
  body: Readable;
}

/** httptrace's GotConn: the connection a request goes out on. */
export interface ConnectionInfo {
  /** `ip:port` of the registry end. */
  remoteAddr: string;
  /** Whether the connection carried an earlier request. */
  reused: boolean;
}

export interface HttpInit {
  headers?: Record<string, string | string[]>;
  body?: Buffer | Readable;
  tls?: TlsOptions;
  signal?: AbortSignal;
  /** Called once the request has its connection (ctr's --http-trace). */
  onConnection?: (info: ConnectionInfo) => void;
}

export type HttpSend = (method: string, url: string, init?: HttpInit) => Promise<HttpResponse>;

/** crypto/tls's names of the TLS alerts a server may send. */
const TLS_ALERTS: Record<number, string> = {
  10: 'unexpected message',
  20: 'bad record MAC',
  40: 'handshake failure',
  42: 'bad certificate',
  43: 'unsupported certificate',
  44: 'revoked certificate',
  45: 'expired certificate',
  46: 'unknown certificate',
  47: 'illegal parameter',
  48: 'unknown certificate authority',
  49: 'access denied',
  50: 'error decoding message',
  51: 'error decrypting message',
  70: 'protocol version not supported',
  71: 'insufficient security level',
  80: 'internal error',
  112: 'unrecognized name',
  116: 'certificate required',
  120: 'no application protocol',
};

/** Go's x509.HostnameError for a certificate (Node's peer certificate) that does not name `host`. */
function hostnameError(err: { cert?: { subjectaltname?: string } }, host: string): string {
  const sans = (err.cert?.subjectaltname ?? '').split(', ').filter((s) => s !== '');
  let valid: string[];
  if (isIP(host) !== 0) {
    valid = sans.filter((s) => s.startsWith('IP Address:')).map((s) => s.slice('IP Address:'.length));
    if (valid.length === 0) return `x509: cannot validate certificate for ${host} because it doesn't contain any IP SANs`;
  } else valid = sans.filter((s) => s.startsWith('DNS:')).map((s) => s.slice('DNS:'.length));
  if (valid.length === 0) return `x509: certificate is not valid for any names, but wanted to match ${host}`;
  return `x509: certificate is valid for ${valid.join(', ')}, not ${host}`;
}

/** Go's message for a dial or TLS error of Node's, for a request to `host` (host[:port]). */
export function goNetError(err: NodeJS.ErrnoException & { reason?: string }, host: string): string {
  // An alert from the server (a client certificate it wants, say): OpenSSL's text names its number.
  const alert = /SSL alert number (\d+)/.exec(err.message);
  if (alert) return `remote error: tls: ${TLS_ALERTS[Number(alert[1])] ?? `alert(${alert[1]})`}`;
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
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return 'x509: certificate signed by unknown authority';
    case 'CERT_HAS_EXPIRED':
    case 'CERT_NOT_YET_VALID':
      return 'x509: certificate has expired or is not yet valid';
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return hostnameError(err as { cert?: { subjectaltname?: string } }, hostname(host));
    case 'EPROTO':
      return /wrong version number|packet length too long/.test(err.message) ? 'http: server gave HTTP response to HTTPS client' : `remote error: ${err.message}`;
    default:
      return err.message;
  }
}

/** `Head`, as Go names the method in a url.Error. */
const goVerb = (method: string) => method[0] + method.slice(1).toLowerCase();

/** A request; a failure to connect rejects with Go's url.Error text (`Get "url": …`). */
export const send: HttpSend = (method, url, init = {}) => {
  const https = url.startsWith('https:');
  const tls = init.tls ?? {};
  return new Promise((resolve, reject) => {
    const r = (https ? httpsRequest : httpRequest)(
      url,
      {
        method,
        headers: init.headers,
        signal: init.signal,
        ...(https
          ? {
              // Without settings of its own, a connection trusts the process's default roots
              // (the set-aside extra file in one shared context, see tls-roots.ts).
              ...(tls.ca === undefined && tls.certs === undefined
                ? { secureContext: setAsideContext() }
                : { ca: tls.ca ?? setAsideRoots(), cert: tls.certs?.map((c) => c.cert), key: tls.certs?.map((c) => c.key) }),
              rejectUnauthorized: !tls.insecureSkipVerify,
            }
          : {}),
      },
      (res) => resolve({ status: res.statusCode ?? 0, statusText: `${res.statusCode} ${res.statusMessage ?? ''}`.trim(), headers: res.headers, headersDistinct: res.headersDistinct, body: res }),
    );
    if (init.onConnection) {
      const report = init.onConnection;
      r.on('socket', (socket) => {
        const reused = r.reusedSocket;
        const done = () => report({ remoteAddr: `${socket.remoteAddress ?? ''}:${socket.remotePort ?? ''}`, reused });
        if (socket.remoteAddress !== undefined && !(socket as { connecting?: boolean }).connecting) done();
        else socket.once(https ? 'secureConnect' : 'connect', done);
      });
    }
    r.on('error', (err: NodeJS.ErrnoException) => {
      reject(new Error(`${goVerb(method)} ${JSON.stringify(url)}: ${goNetError(err, new URL(url).host)}`, { cause: err }));
    });
    const body = init.body;
    if (body === undefined) r.end();
    else if (Buffer.isBuffer(body)) r.end(body);
    else {
      body.on('error', (err) => r.destroy(err));
      body.pipe(r);
    }
  });
};

/** The body, at most `limit` bytes of it. */
export async function readBody(body: Readable, limit = Number.POSITIVE_INFINITY): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    const chunk = c as Buffer;
    if (n < limit) chunks.push(chunk.subarray(0, limit - n));
    n += chunk.length;
  }
  return Buffer.concat(chunks);
}
