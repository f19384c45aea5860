#!/usr/bin/env node
// Builds native/sys.c into dist/sys-native.node with the C compiler ($CC, else cc). The
// addon is optional: without a compiler the package's calls go through koffi, so a missing
// compiler is a note, not a failure. A compiler that fails on this file is a failure.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
if (process.platform !== 'linux') process.exit(0);
const cc = process.env.CC || 'cc';
const out = join(pkg, 'dist', 'sys-native.node');
mkdirSync(dirname(out), { recursive: true });
const args = ['-O2', '-shared', '-fPIC', '-fvisibility=hidden', '-Wall', '-Wextra', '-Werror', '-o', out, join(pkg, 'native', 'sys.c')];
const r = spawnSync(cc, args, { stdio: 'inherit' });
if (r.error && r.error.code === 'ENOENT') {
  console.log(`@containerd-ts/sys: no C compiler (${cc}): sys-native.node not built; flock, getdents64 and malloc_trim go through koffi`);
  process.exit(0);
}
if (r.status !== 0) {
  console.error(`@containerd-ts/sys: ${cc} ${args.join(' ')} failed`);
  process.exit(1);
}
