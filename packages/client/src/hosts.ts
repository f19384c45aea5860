// Registry hosts in containerd's `config_path` layout (remotes/docker/config): for a
// registry `host[:port]`, `<dir>/<host>_<port>_/`, `<dir>/<host:port>/` or `<dir>/_default/`
// holds a `hosts.toml` — `[host."…"]` mirrors tried in order, then `server` (or the
// registry itself) — or, without one, Docker's certs.d files (`*.crt` CAs, `*.cert`/`*.key`
// client pairs). Each host gets its TLS settings and its own authorizer.
import { readFile, readdir, stat } from 'node:fs/promises';
import { isAbsolute, join, posix } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { Authorizer, type Credentials } from './auth.js';
import { dumpingSend } from './http-dump.js';
import { hostname } from './reference.js';
import { defaultRoots } from './tls-roots.js';
import { type HttpSend, type TlsOptions, send } from './transport.js';

export type HostCapability = 'pull' | 'resolve' | 'push';

/** One host entry of a hosts.toml (hostConfig), paths made absolute. */
export interface HostConfig {
  /** '' for the registry's own default (filled in by configureHosts). */
  scheme: string;
  host: string;
  path: string;
  capabilities: HostCapability[];
  caCerts?: string[];
  /** [cert, key] file pairs; key '' when the cert file holds both. */
  clientPairs?: Array<[string, string]>;
  skipVerify?: boolean;
  header?: Record<string, string[]>;
}

/** A registry endpoint to talk to (docker.RegistryHost). */
export interface RegistryHost {
  scheme: 'http' | 'https';
  host: string;
  /** API root, `/v2` unless override_path. */
  path: string;
  capabilities: HostCapability[];
  header: Record<string, string[]>;
  tls: TlsOptions;
  authorizer: Authorizer;
  /** Sends a request with this host's TLS settings. */
  send: HttpSend;
}

export interface HostOptions {
  /** The config_path root (ctr's --hosts-dir). */
  hostsDir?: string;
  credentials?: Credentials;
  /** 'http' for --plain-http. */
  defaultScheme?: 'http' | 'https';
  /** --skip-verify, --tlscacert, --tlscert/--tlskey. */
  defaultTls?: TlsOptions;
  userAgent?: string;
  /**
   * Receives every request and response of the hosts, the authorizer's token requests
   * included, as Go's httputil dumps them (ctr's --http-dump: its DebugTransport wraps the
   * one http.Client that both use).
   */
  httpDump?: (dump: Buffer) => void;
}

/** docker.IsLocalhost: localhost or a loopback address, with or without a port. */
export function isLocalhost(host: string): boolean {
  const h = hostname(host);
  if (h === 'localhost' || h === '::1') return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

const ALL: HostCapability[] = ['pull', 'resolve', 'push'];

/** `host:port` → `host_port_`, as containerd names host directories. */
export function hostDirectory(host: string): string {
  const i = host.lastIndexOf(':');
  return i > 0 ? `${host.slice(0, i)}_${host.slice(i + 1)}_` : host;
}

/** HostDirFromRoot: the first of `<root>/<host>_<port>_`, `<root>/<host:port>`, `<root>/_default` that exists. */
export async function hostDirFromRoot(root: string, host: string): Promise<string | undefined> {
  const candidates = [hostDirectory(host), host, '_default'].filter((p, i, all) => all.indexOf(p) === i);
  for (const p of candidates.map((c) => join(root, c))) {
    try {
      await stat(p);
      return p;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return undefined;
}

const abs = (p: string, base: string) => (p === '' || isAbsolute(p) ? p : join(base, p));

function stringList(v: unknown[], what: string): string[] {
  return v.map((x) => {
    if (typeof x !== 'string') throw new Error(`unable to cast ${JSON.stringify(x)} to string in ${what}`);
    return x;
  });
}

/** parseHostConfig: one `[host."…"]` table (or the file's top level with its `server`). */
function parseHostConfig(server: string, baseDir: string, table: Record<string, unknown>): HostConfig {
  const result: HostConfig = { scheme: '', host: '', path: '', capabilities: [] };
  const overridePath = table.override_path === true;
  if (server !== '') {
    const s = server.startsWith('http') ? server : `https://${server}`;
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      throw new Error(`unable to parse server ${server}`);
    }
    result.scheme = u.protocol.replace(/:$/, '');
    result.host = u.host;
    let path = u.pathname === '/' ? '' : u.pathname;
    if (path.length > 0) {
      path = posix.normalize(path).replace(/(.)\/$/, '$1');
      if (!path.endsWith('/v2') && !overridePath) path += '/v2';
    } else if (!overridePath) path = '/v2';
    result.path = path;
  }
  if (table.skip_verify !== undefined) {
    if (typeof table.skip_verify !== 'boolean') throw new Error('invalid type for "skip_verify"');
    result.skipVerify = table.skip_verify;
  }
  const caps = table.capabilities;
  if (Array.isArray(caps) && caps.length > 0) {
    for (const c of stringList(caps, 'capabilities')) {
      const cap = c.toLowerCase();
      if (cap !== 'pull' && cap !== 'resolve' && cap !== 'push') throw new Error(`unknown capability ${c}`);
      if (!result.capabilities.includes(cap)) result.capabilities.push(cap);
    }
  } else result.capabilities = [...ALL];
  const ca = table.ca;
  if (typeof ca === 'string') result.caCerts = [abs(ca, baseDir)];
  else if (Array.isArray(ca)) result.caCerts = stringList(ca, '"ca"').map((p) => abs(p, baseDir));
  else if (ca !== undefined) throw new Error(`invalid type ${JSON.stringify(ca)} for "ca"`);
  const client = table.client;
  if (typeof client === 'string') result.clientPairs = [[abs(client, baseDir), '']];
  else if (Array.isArray(client)) {
    result.clientPairs = client.map((p): [string, string] => {
      if (typeof p === 'string') return [abs(p, baseDir), ''];
      if (Array.isArray(p)) {
        const pair = stringList(p, '"client"');
        if (pair.length !== 2) throw new Error(`invalid pair ${JSON.stringify(p)} for "client"`);
        return [abs(pair[0]!, baseDir), abs(pair[1]!, baseDir)];
      }
      throw new Error(`invalid type ${JSON.stringify(p)} for "client"`);
    });
  } else if (client !== undefined) throw new Error(`invalid type ${JSON.stringify(client)} for "client"`);
  const header = table.header;
  if (header !== undefined) {
    if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new Error('invalid type for "header"');
    result.header = {};
    for (const [key, value] of Object.entries(header)) {
      if (typeof value === 'string') result.header[key] = [value];
      else if (Array.isArray(value)) result.header[key] = stringList(value, `header ${JSON.stringify(key)}`);
      else throw new Error(`invalid type ${JSON.stringify(value)} for header ${JSON.stringify(key)}`);
    }
  }
  return result;
}

/**
 * parseHostsFile: the `[host."…"]` entries in file order, then the top level (`server`, or
 * '' for the registry itself) last. `baseDir` makes relative `ca`/`client` paths absolute.
 */
export function parseHostsFile(baseDir: string, text: string): HostConfig[] {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`failed to parse TOML: ${(err as Error).message.split('\n')[0]}`);
  }
  const hosts: HostConfig[] = [];
  const tables = doc.host;
  if (tables !== undefined) {
    if (typeof tables !== 'object' || tables === null || Array.isArray(tables)) throw new Error('invalid `host` tree');
    // smol-toml keeps the file's order of the tables, as containerd sorts them by line.
    for (const [name, table] of Object.entries(tables)) {
      if (typeof table !== 'object' || table === null || Array.isArray(table)) throw new Error(`invalid host ${JSON.stringify(name)}`);
      hosts.push(parseHostConfig(name, baseDir, table as Record<string, unknown>));
    }
  }
  const server = doc.server ?? '';
  if (typeof server !== 'string') throw new Error('invalid type for "server"');
  hosts.push(parseHostConfig(server, baseDir, doc));
  return hosts;
}

/** loadCertFiles: Docker's certs.d layout (`*.crt` CAs, `*.cert` + `*.key` client pairs) for the registry itself. */
async function loadCertFiles(dir: string): Promise<HostConfig[]> {
  const host: HostConfig = { scheme: '', host: '', path: '', capabilities: [] };
  const caCerts: string[] = [];
  const clientPairs: Array<[string, string]> = [];
  let entries: string[] = [];
  try {
    entries = (await readdir(dir, { withFileTypes: true })).filter((e) => !e.isDirectory()).map((e) => e.name).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  for (const name of entries) {
    if (name.endsWith('.crt')) caCerts.push(join(dir, name));
    if (name.endsWith('.cert')) {
      const key = `${name.slice(0, -5)}.key`;
      clientPairs.push([join(dir, name), entries.includes(key) ? join(dir, key) : '']);
    }
  }
  if (caCerts.length > 0) host.caCerts = caCerts;
  if (clientPairs.length > 0) host.clientPairs = clientPairs;
  return [host];
}

/** loadHostDir: the directory's hosts.toml, or its certificate files. */
export async function loadHostDir(dir: string): Promise<HostConfig[]> {
  const file = join(dir, 'hosts.toml');
  let text = '';
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (text.length === 0) return loadCertFiles(dir);
  try {
    return parseHostsFile(dir, text);
  } catch (err) {
    // containerd logs this and falls back to the certificate files; a clear error serves better.
    throw new Error(`failed to decode ${file}: ${(err as Error).message}`);
  }
}

const readPem = async (file: string, what: string) => {
  try {
    return await readFile(file);
  } catch (err) {
    throw new Error(`unable to read ${what} ${JSON.stringify(file)}: ${(err as Error).message}`);
  }
};

/** The host's TLS settings over the defaults: its CAs added to the system's roots, its client pairs, its skip_verify. */
async function hostTls(h: HostConfig, defaults: TlsOptions): Promise<TlsOptions> {
  const tls: TlsOptions = { ...defaults };
  if (h.skipVerify !== undefined) tls.insecureSkipVerify = h.skipVerify;
  if (h.caCerts) {
    const ca = [...(tls.ca ?? defaultRoots())];
    for (const f of h.caCerts) {
      const pem = await readPem(f, 'CA cert');
      if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`unable to load CA cert ${JSON.stringify(f)}`);
      ca.push(pem);
    }
    tls.ca = ca;
  }
  if (h.clientPairs) {
    const certs = [...(tls.certs ?? [])];
    for (const [certFile, keyFile] of h.clientPairs) {
      const cert = await readPem(certFile, 'CERT file');
      const key = keyFile === '' ? cert : await readPem(keyFile, 'CERT file');
      if (!cert.includes('CERTIFICATE-----') || !key.includes('PRIVATE KEY-----')) throw new Error('failed to load X509 key pair');
      certs.push({ cert, key });
    }
    tls.certs = certs;
  }
  return tls;
}

/**
 * ConfigureHosts: the endpoints for registry `host`, in the order to try them. Without a
 * hosts directory entry that is the registry itself: `registry-1.docker.io` for docker.io,
 * plain HTTP (certificates unchecked) for a loopback registry unless `defaultScheme` is
 * https, HTTPS otherwise.
 */
export async function configureHosts(host: string, options: HostOptions = {}): Promise<RegistryHost[]> {
  let hosts: HostConfig[] | undefined;
  if (options.hostsDir) {
    const dir = await hostDirFromRoot(options.hostsDir, host);
    if (dir !== undefined) hosts = await loadHostDir(dir);
  }
  hosts ??= [{ scheme: '', host: '', path: '', capabilities: [] }];
  const last = hosts.at(-1);
  if (last && last.host === '') {
    if (host === 'docker.io') {
      last.scheme = 'https';
      last.host = 'registry-1.docker.io';
    } else if (isLocalhost(host)) {
      last.host = host;
      if (options.defaultScheme === undefined || options.defaultScheme === 'http') {
        last.scheme = 'http';
        last.skipVerify = true;
      } else last.scheme = options.defaultScheme;
    } else {
      last.host = host;
      last.scheme = options.defaultScheme ?? 'https';
    }
    last.path = '/v2';
    last.capabilities = [...ALL];
  }
  const defaults = options.defaultTls ?? {};
  const out: RegistryHost[] = [];
  for (const h of hosts) {
    const tls = h.caCerts || h.clientPairs || h.skipVerify !== undefined ? await hostTls(h, defaults) : defaults;
    const tlsSend: HttpSend = (method, url, init = {}) => send(method, url, { ...init, tls });
    const hostSend = options.httpDump ? dumpingSend(tlsSend, options.httpDump) : tlsSend;
    out.push({
      scheme: h.scheme === 'http' ? 'http' : 'https',
      host: h.host,
      path: h.path,
      capabilities: h.capabilities,
      header: h.header ?? {},
      tls,
      authorizer: new Authorizer(hostSend, options.credentials, options.userAgent),
      send: hostSend,
    });
  }
  return out;
}
