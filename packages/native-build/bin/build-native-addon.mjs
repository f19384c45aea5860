#!/usr/bin/env node
// build-native-addon SOURCE.c OUT.node [--without "what happens without it"]
//
// Builds one C file into a Node-API addon with the C compiler ($CC, else cc), against the
// declarations in this package's include/ (no node headers needed: a C compiler and libc
// headers are enough). The addons this builds are optional: where there is no compiler the
// package works without its addon, so a missing compiler prints a note (with --without) and
// exits 0. A compiler that fails on the file is a failure (exit 1). Off Linux, nothing is built.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { without: { type: 'string' } } });
if (positionals.length !== 2) {
  process.stderr.write('usage: build-native-addon SOURCE.c OUT.node [--without "what happens without it"]\n');
  process.exit(2);
}
const [source, out] = positionals.map((p) => resolve(p));
const name = out.split('/').pop();
if (process.platform !== 'linux') process.exit(0);
const include = join(dirname(fileURLToPath(import.meta.url)), '..', 'include');
const cc = process.env.CC || 'cc';
mkdirSync(dirname(out), { recursive: true });
const args = ['-O2', '-shared', '-fPIC', '-fvisibility=hidden', '-Wall', '-Wextra', '-Werror', '-I', include, '-o', out, source];
const r = spawnSync(cc, args, { stdio: 'inherit' });
if (r.error && r.error.code === 'ENOENT') {
  console.log(`${name}: no C compiler (${cc}): not built${values.without ? `; ${values.without}` : ''}`);
  process.exit(0);
}
if (r.status !== 0) {
  console.error(`${name}: ${cc} ${args.join(' ')} failed`);
  process.exit(1);
}
