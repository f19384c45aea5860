// Content digests (`<algorithm>:<hex>`) as the OCI go-digest package defines them:
// which algorithms are known, how a digest is validated and the errors it reports.
import { createHash } from 'node:crypto';

/** The algorithm new content is hashed with. */
export const CANONICAL_ALGORITHM = 'sha256';

/** Algorithms a digest may name, with the length of their hex encoding. */
export const DIGEST_ALGORITHMS: Readonly<Record<string, number>> = Object.freeze({
  sha256: 64,
  sha384: 96,
  sha512: 128,
});

/** Digest of zero bytes. */
export const EMPTY_DIGEST = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

// The general digest grammar, used to tell a malformed digest from an unknown algorithm.
const digestGrammar = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const hexPattern = /^[a-f0-9]+$/;

/**
 * Why `digest` is not a usable digest, in go-digest's words (`invalid checksum digest
 * format`, `invalid checksum digest length`, `unsupported digest algorithm`), or
 * undefined when it is valid.
 */
export function digestProblem(digest: string): string | undefined {
  const i = digest.indexOf(':');
  if (i <= 0 || i + 1 === digest.length) return 'invalid checksum digest format';
  const algorithm = digest.slice(0, i);
  const encoded = digest.slice(i + 1);
  const length = DIGEST_ALGORITHMS[algorithm];
  if (length === undefined) {
    return digestGrammar.test(digest) ? 'unsupported digest algorithm' : 'invalid checksum digest format';
  }
  if (encoded.length !== length) return 'invalid checksum digest length';
  if (!hexPattern.test(encoded)) return 'invalid checksum digest format';
  return undefined;
}

/** True when `digest` names a known algorithm and a well-formed hex value. */
export const isValidDigest = (digest: string): boolean => digestProblem(digest) === undefined;

/** Splits a valid digest into algorithm and hex (no validation). */
export function splitDigest(digest: string): { algorithm: string; hex: string } {
  const i = digest.indexOf(':');
  return { algorithm: digest.slice(0, i), hex: digest.slice(i + 1) };
}

/** The canonical digest of some bytes. */
export const digestOf = (data: Uint8Array | string): string =>
  `${CANONICAL_ALGORITHM}:${createHash(CANONICAL_ALGORITHM).update(data).digest('hex')}`;
