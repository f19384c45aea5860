// Docker's reference grammar as containerd's archive package uses it for `docker save`
// archives: ParseNormalizedNamed (docker.io/library/ added to short names), ParseDockerRef
// (`:latest` added, a tag dropped beside a digest) and FamiliarString (the short form back),
// plus the translators of `ctr images import` (--base-name, --digests).
import { parseReference } from './reference.js';

const ALNUM = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]*)';
const COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]+)?`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const REFERENCE = new RegExp(`^((?:${DOMAIN}/)?${COMPONENT}(?:/${COMPONENT})*)(?::(${TAG}))?(?:@(${DIGEST}))?$`);

export interface DockerReference {
  /** domain/path, normalized (`docker.io/library/busybox`). */
  name: string;
  tag?: string;
  digest?: string;
}

export class InvalidDockerReferenceError extends Error {
  override name = 'InvalidDockerReferenceError';
}

/** reference/docker.ParseNormalizedNamed. */
export function parseNormalizedNamed(s: string): DockerReference {
  if (/^[a-f0-9]{64}$/.test(s)) throw new InvalidDockerReferenceError(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  let domain: string;
  let remainder: string;
  const i = s.indexOf('/');
  const first = i < 0 ? '' : s.slice(0, i);
  if (i < 0 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = 'docker.io';
    remainder = s;
  } else {
    domain = first;
    remainder = s.slice(i + 1);
  }
  if (domain === 'index.docker.io') domain = 'docker.io';
  if (domain === 'docker.io' && !remainder.includes('/')) remainder = `library/${remainder}`;
  const repoPart = remainder.split(/[:@]/)[0] ?? '';
  if (repoPart.toLowerCase() !== repoPart) throw new InvalidDockerReferenceError('invalid reference format: repository name must be lowercase');
  const m = REFERENCE.exec(`${domain}/${remainder}`);
  if (!m) throw new InvalidDockerReferenceError('invalid reference format');
  if (m[1]!.length > 255) throw new InvalidDockerReferenceError('repository name must not be more than 255 characters');
  return { name: m[1]!, ...(m[2] ? { tag: m[2] } : {}), ...(m[3] ? { digest: m[3] } : {}) };
}

const formatDocker = (r: DockerReference) => `${r.name}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;

/** reference/docker.ParseDockerRef: the normalized reference as containerd stores it. */
export function normalizeDockerReference(s: string): string {
  let r = parseNormalizedNamed(s);
  if (r.digest && r.tag) r = { name: r.name, digest: r.digest };
  if (!r.digest && !r.tag) r = { ...r, tag: 'latest' };
  return formatDocker(r);
}

/** FamiliarString(TagNameOnly(ParseNormalizedNamed(s))): the name `docker save` writes in RepoTags. */
export function familiarizeReference(s: string): string {
  let r = parseNormalizedNamed(s);
  if (!r.digest && !r.tag) r = { ...r, tag: 'latest' };
  let name = r.name;
  if (name.startsWith('docker.io/')) {
    name = name.slice('docker.io/'.length);
    if (name.startsWith('library/') && !name.slice('library/'.length).includes('/')) name = name.slice('library/'.length);
  }
  return formatDocker({ ...r, name });
}

/** The OCI ref name of an image name: the object of the reference (its tag), or the name itself. */
export function ociReferenceName(name: string): string {
  try {
    return parseReference(name).object;
  } catch {
    return name;
  }
}

function isImagePrefix(s: string, prefix: string): boolean {
  if (!s.startsWith(prefix)) return false;
  return s.length === prefix.length || ['/', ':', '@'].includes(s[prefix.length]!);
}

/**
 * archive.AddRefPrefix / FilterRefPrefix: a tag-only ref name gets `image:` in front; a full
 * reference stays, or (filtering) is dropped ('') unless it is under `image`.
 */
export function refTranslator(image: string, checkPrefix: boolean): (ref: string) => string {
  return (ref) => {
    if (/[/:@]/.test(ref)) return checkPrefix && !isImagePrefix(ref, image) ? '' : ref;
    return `${image}:${ref}`;
  };
}
