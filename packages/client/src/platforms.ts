// containerd's platforms package, as far as pull needs it: the host's default platform,
// Format, Normalize and the default matcher (the same OS and architecture, variants as
// containerd's normalisation gives them).

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  osVersion?: string;
  osFeatures?: string[];
}

/** GOARCH of Node's process.arch. */
export function goArch(arch: string = process.arch): string {
  switch (arch) {
    case 'x64':
      return 'amd64';
    case 'ia32':
      return '386';
    case 'ppc64':
      return 'ppc64le';
    default:
      return arch;
  }
}

/** platforms.DefaultSpec() of this host. */
export function defaultPlatform(): Platform {
  const architecture = goArch();
  return architecture === 'arm64' ? { os: 'linux', architecture, variant: 'v8' } : { os: 'linux', architecture };
}

/** platforms.Normalize: lower-case OS, canonical architecture and variant. */
export function normalizePlatform(p: Platform): Platform {
  const os = p.os.toLowerCase() === 'macos' ? 'darwin' : p.os.toLowerCase();
  let architecture = p.architecture.toLowerCase();
  let variant = p.variant?.toLowerCase() ?? '';
  switch (architecture) {
    case 'i386':
      architecture = '386';
      variant = '';
      break;
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      architecture = 'amd64';
      if (variant === 'v1') variant = '';
      break;
    case 'aarch64':
    case 'arm64':
      architecture = 'arm64';
      if (variant === '8' || variant === 'v8') variant = '';
      break;
    case 'armhf':
      architecture = 'arm';
      variant = 'v7';
      break;
    case 'armel':
      architecture = 'arm';
      variant = 'v6';
      break;
    case 'arm':
      if (variant === '' || variant === '7') variant = 'v7';
      else if (variant === '5' || variant === '6' || variant === '8') variant = `v${variant}`;
      break;
  }
  return { ...p, os, architecture, ...(variant ? { variant } : { variant: undefined }) };
}

/** platforms.Format: os/arch[/variant], or "unknown". */
export function formatPlatform(p: Platform): string {
  if (p.os === '') return 'unknown';
  return [p.os, p.architecture, p.variant].filter((x) => x !== undefined && x !== '').join('/');
}

/** platforms.Only(p) without its compatible fallbacks beyond arm variants: same normalized OS/arch/variant. */
export function matchPlatform(want: Platform, have: Platform): boolean {
  const a = normalizePlatform(want);
  const b = normalizePlatform(have);
  if (a.os !== b.os || a.architecture !== b.architecture) return false;
  if ((a.variant ?? '') === (b.variant ?? '')) return true;
  // arm: a v7 host runs v6 and v5 images, as platforms.Only allows.
  if (a.architecture === 'arm') {
    const order = ['v5', 'v6', 'v7', 'v8'];
    return order.indexOf(b.variant ?? '') >= 0 && order.indexOf(b.variant ?? '') <= order.indexOf(a.variant ?? '');
  }
  return false;
}

/** platforms.Parse for the forms a --platform flag takes (os, os/arch, os/arch/variant). */
export function parsePlatform(s: string): Platform {
  if (s.includes('*')) throw new Error(`${JSON.stringify(s)}: wildcards not yet supported: invalid argument`);
  const parts = s.split('/');
  const bad = parts.find((p) => !/^[A-Za-z0-9_-]+$/.test(p));
  if (bad !== undefined) {
    throw new Error(`${JSON.stringify(bad)} is an invalid component of ${JSON.stringify(s)}: platform specifier component must match "^[A-Za-z0-9_-]+$": invalid argument`);
  }
  if (parts.length > 3) throw new Error(`${JSON.stringify(s)}: cannot parse platform specifier: invalid argument`);
  if (parts.length === 1) return normalizePlatform({ os: parts[0]!, architecture: goArch() });
  return normalizePlatform({ os: parts[0]!, architecture: parts[1]!, ...(parts[2] ? { variant: parts[2] } : {}) });
}
