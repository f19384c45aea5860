// containerd's reference.Parse (the `reference` package the docker resolver uses): a
// locator (host/path) and an object (tag, `@digest` or `tag@digest`), with its errors.

export interface ReferenceSpec {
  /** host[:port]/path */
  locator: string;
  /** `tag`, `@sha256:…` or `tag@sha256:…`; empty when the reference names none. */
  object: string;
}

export class InvalidReferenceError extends Error {
  override name = 'InvalidReferenceError';
}

// Characters Go's net/url accepts in a host (RFC 3986 reg-name, sub-delims, ':' and brackets).
const HOST_CHAR = /[A-Za-z0-9\-._~!$&'()*+,;=:[\]%]/;

/** reference.Parse: throws with containerd's (or Go url.Parse's) message. */
export function parseReference(s: string): ReferenceSpec {
  if (s.includes('://')) throw new InvalidReferenceError('invalid reference');
  const rest = s;
  const slash = rest.search(/[/?#]/);
  const host = slash < 0 ? rest : rest.slice(0, slash);
  let path = slash < 0 ? '' : rest.slice(slash);
  for (const ch of host) {
    if (!HOST_CHAR.test(ch)) throw new InvalidReferenceError(`parse "dummy://${s}": invalid character ${JSON.stringify(ch)} in host name`);
  }
  if (host === '') throw new InvalidReferenceError('hostname required');
  // Query and fragment are not part of the path url.Parse gives.
  const q = path.search(/[?#]/);
  if (q >= 0) path = path.slice(0, q);
  let object = '';
  const idx = path.search(/[:@]/);
  if (idx >= 0) {
    object = path.slice(idx);
    if (object.startsWith(':')) object = object.slice(1);
    path = path.slice(0, idx);
  }
  return { locator: joinPath(host, path), object };
}

/** path.Join(host, p) for the paths a reference has. */
function joinPath(host: string, p: string): string {
  const parts = [host, ...p.split('/')].filter((x) => x !== '' && x !== '.');
  return parts.join('/');
}

/** The digest of the object (`tag@digest` or `@digest`), or ''. */
export function referenceDigest(spec: ReferenceSpec): string {
  const at = spec.object.indexOf('@');
  return at < 0 ? '' : spec.object.slice(at + 1);
}

/** The host part (with port) of the locator. */
export function referenceHost(spec: ReferenceSpec): string {
  return spec.locator.split('/')[0]!;
}

/** The repository path inside the registry (the locator without its host). */
export function referenceRepository(spec: ReferenceSpec): string {
  return spec.locator.split('/').slice(1).join('/');
}

/** The host without its port (Go's url.Hostname). */
export function hostname(host: string): string {
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']'));
  const colon = host.lastIndexOf(':');
  return colon < 0 ? host : host.slice(0, colon);
}

/** spec.String(): the reference as given back. */
export function formatReference(spec: ReferenceSpec): string {
  if (spec.object === '') return spec.locator;
  if (spec.object.startsWith('@')) return `${spec.locator}${spec.object}`;
  return `${spec.locator}:${spec.object}`;
}
