// Go's httputil.DumpRequest and DumpResponse (with bodies) of a registry exchange, as ctr's
// --http-dump writes them (DebugTransport): the request line, `Host`, the headers in Go's
// canonical form sorted by name, a blank line and the body; the status line, the length, the
// headers, a blank line and the body.
import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { type HttpSend, readBody } from './transport.js';

/** textproto.CanonicalMIMEHeaderKey: `docker-content-digest` → `Docker-Content-Digest`. */
export function canonicalHeaderKey(k: string): string {
  return k
    .split('-')
    .map((p) => (p === '' ? p : p[0]!.toUpperCase() + p.slice(1).toLowerCase()))
    .join('-');
}

const byteOrder = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function headerLines(headers: Record<string, string | string[] | undefined>, exclude: readonly string[]): string {
  const entries = Object.entries(headers)
    .filter((e): e is [string, string | string[]] => e[1] !== undefined)
    .map(([k, v]) => [canonicalHeaderKey(k), Array.isArray(v) ? v : [v]] as const)
    .filter(([k]) => !exclude.includes(k))
    .sort(([a], [b]) => byteOrder(a, b));
  // Header.WriteSubset: a line per value, newlines in values made spaces, values trimmed.
  return entries.map(([k, vs]) => vs.map((v) => `${k}: ${v.replace(/[\r\n]/g, ' ').trim()}\r\n`).join('')).join('');
}

/** httputil.DumpRequest(req, true) of a client request (Go keeps Content-Length out of its headers). */
export function dumpRequest(method: string, url: string, headers: Record<string, string | string[]>, body?: Buffer): Buffer {
  const u = new URL(url);
  const head = `${method} ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\n${headerLines(headers, ['Host', 'Transfer-Encoding', 'Trailer', 'Content-Length'])}\r\n`;
  return Buffer.concat([Buffer.from(head), body ?? Buffer.alloc(0)]);
}

/**
 * httputil.DumpResponse(resp, true): the status line, `Content-Length` (the body's length, or
 * the header's for a body-less HEAD answer), the other headers, a blank line and the body.
 */
export function dumpResponse(res: { statusText: string; headers: IncomingHttpHeaders }, body: Buffer, head = false): Buffer {
  const length = head ? res.headers['content-length'] : String(body.length);
  const chunked = !head && res.headers['content-length'] === undefined && res.headers['transfer-encoding'] === 'chunked';
  let text = `HTTP/1.1 ${res.statusText}\r\n`;
  if (chunked) text += 'Transfer-Encoding: chunked\r\n';
  else if (length !== undefined) text += `Content-Length: ${length}\r\n`;
  text += `${headerLines(res.headers, ['Content-Length', 'Transfer-Encoding', 'Trailer'])}\r\n`;
  if (chunked) {
    const chunk = body.length > 0 ? Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n')]) : Buffer.alloc(0);
    return Buffer.concat([Buffer.from(text), chunk, Buffer.from('0\r\n\r\n')]);
  }
  return Buffer.concat([Buffer.from(text), body]);
}

/**
 * DebugTransport: `send` with each request dumped before it goes and its response dumped when
 * it is answered, the response's body read whole first (and handed on as read). Go's client
 * behind ctr's --http-dump does this for every request of the resolver, the token requests
 * of its authorizer included.
 */
export function dumpingSend(send: HttpSend, dump: (data: Buffer) => void): HttpSend {
  return async (method, url, init = {}) => {
    let body = init.body;
    // DumpRequest reads the body whole and sends what it read.
    if (body !== undefined && !Buffer.isBuffer(body)) body = await readBody(body);
    dump(dumpRequest(method, url, init.headers ?? {}, body));
    const res = await send(method, url, { ...init, body });
    const data = await readBody(res.body);
    dump(dumpResponse(res, data, method === 'HEAD'));
    return { ...res, body: Readable.from(data.length > 0 ? [data] : []) };
  };
}
