// The committed src/gen must be exactly what scripts/generate.sh produces from proto/.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const hasProtoc = (() => {
  try {
    execFileSync('protoc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
// scripts/setup.sh installs protoc; a missing tool is a failure here, never a silent skip.
if (!hasProtoc) throw new Error('protoc is not installed (Debian protobuf-compiler and libprotobuf-dev; scripts/setup.sh installs them)');

// The header names the protoc and plugin versions; a different protoc build is no drift.
const body = (path: string) => readFileSync(path, 'utf8').replace(/^\/\/ {3}protoc.*$/gm, '');

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]))
    .sort();
}

describe('generated code', () => {
  it('is up to date with proto/', () => {
    const out = mkdtempSync(join(tmpdir(), 'api-gen-'));
    try {
      execFileSync('bash', [join(pkg, 'scripts/generate.sh')], { env: { ...process.env, API_GEN_OUT: out }, stdio: 'pipe' });
      const committed = join(pkg, 'src/gen');
      const fresh = files(out).map((f) => relative(out, f));
      expect(files(committed).map((f) => relative(committed, f))).toEqual(fresh);
      for (const f of fresh) expect({ f, text: body(join(committed, f)) }).toEqual({ f, text: body(join(out, f)) });
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 60_000);
});
