// The roots a registry's certificate is checked against when nothing else is configured:
// Node's bundled roots and the PEM file NODE_EXTRA_CA_CERTS names. Node reads that file as
// it starts (~40 ms for a system bundle of ~140 certificates), whether or not the program
// ever opens a TLS connection; `ctr-ts`'s launcher therefore hands the file on in
// CONTAINERD_TS_EXTRA_CA_CERTS instead, and it is read here, once, when a connection needs
// it. A program that sets neither gets Node's defaults unchanged.
import { readFileSync } from 'node:fs';
import { type SecureContext, createSecureContext, rootCertificates } from 'node:tls';

/** Where a launcher puts NODE_EXTRA_CA_CERTS's value so that Node does not load it at start. */
export const EXTRA_CA_CERTS_ENV = 'CONTAINERD_TS_EXTRA_CA_CERTS';

/** Node's roots and one extra file's certificates, with the secure context made of them once asked for. */
interface Roots {
  file: string;
  roots: string[];
  context?: SecureContext;
}

let cached: Roots | undefined;

/** The certificates of `file` (none, with Node's own warning, when it cannot be read or holds none). */
function readExtra(file: string): string[] {
  try {
    const text = readFileSync(file, 'utf8');
    if (text.includes('-----BEGIN CERTIFICATE-----')) return [text];
    process.emitWarning(`Ignoring extra certs from \`${file}\`, load failed: no certificate in it`);
  } catch (err) {
    process.emitWarning(`Ignoring extra certs from \`${file}\`, load failed: ${(err as Error).message}`);
  }
  return [];
}

/** Node's roots and `file`'s certificates, read once (shared: callers copy before adding to it). */
function rootsWith(file: string): Roots {
  if (cached?.file !== file) cached = { file, roots: [...rootCertificates, ...readExtra(file)] };
  return cached;
}

/** The extra file a launcher set aside, if any. */
const setAsideFile = (): string | undefined => process.env[EXTRA_CA_CERTS_ENV] || undefined;

/**
 * The CA list for a connection without one of its own: undefined (Node's default store, with
 * NODE_EXTRA_CA_CERTS if Node loaded it) unless a launcher set the extra file aside — then
 * Node's roots and that file.
 */
export function setAsideRoots(): string[] | undefined {
  const file = setAsideFile();
  return file === undefined ? undefined : rootsWith(file).roots;
}

/**
 * For a connection with no TLS settings of its own, when a launcher set the extra file aside:
 * one secure context with Node's roots and that file, made once (a `ca` list of ~140
 * certificates would be parsed again for every connection). Undefined otherwise.
 */
export function setAsideContext(): SecureContext | undefined {
  const file = setAsideFile();
  if (file === undefined) return undefined;
  const entry = rootsWith(file);
  entry.context ??= createSecureContext({ ca: entry.roots });
  return entry.context;
}

/**
 * Node's roots and the extra file (set aside, or NODE_EXTRA_CA_CERTS): what a host's own CAs
 * are added to. A `ca` option replaces Node's default store, extra certificates included.
 */
export function defaultRoots(): readonly string[] {
  const file = setAsideFile() ?? (process.env.NODE_EXTRA_CA_CERTS || undefined);
  return file === undefined ? rootCertificates : rootsWith(file).roots;
}
