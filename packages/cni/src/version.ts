// CNI spec versions as libcni compares them (pkg/version ParseVersion): "" is 0.1.0.

/** [major, minor, micro] of a spec version, or an Error in libcni's words. */
export function parseVersion(version: string): [number, number, number] {
  if (version === '') return [0, 1, 0];
  const parts = version.split('.');
  if (parts.length >= 4) throw new Error(`invalid version ${JSON.stringify(version)}: too many parts`);
  const names = ['major', 'minor', 'micro'];
  const out: [number, number, number] = [0, 0, 0];
  parts.forEach((p, i) => {
    // strconv.Atoi: an optional sign and decimal digits
    if (!/^[+-]?\d+$/.test(p)) throw new Error(`failed to convert ${names[i]} version part ${JSON.stringify(p)}: strconv.Atoi: parsing ${JSON.stringify(p)}: invalid syntax`);
    out[i] = Number.parseInt(p, 10);
  });
  return out;
}

/** version >= other (both parsed as libcni parses them). */
export function versionAtLeast(version: string, other: string): boolean {
  const a = parseVersion(version);
  const b = parseVersion(other);
  for (let i = 0; i < 3; i++) if (a[i]! !== b[i]!) return a[i]! > b[i]!;
  return true;
}
