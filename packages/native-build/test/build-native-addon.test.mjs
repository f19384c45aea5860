// build-native-addon: an addon built from one C file loads in node; no compiler is a note
// (exit 0, nothing built); a compiler that fails is a failure.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const tool = fileURLToPath(new URL('../bin/build-native-addon.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'native-build-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const hasCompiler = spawnSync(process.env.CC || 'cc', ['--version'], { stdio: 'ignore' }).status === 0;

const build = (source, out, env = {}) =>
  spawnSync(process.execPath, [tool, source, out, '--without', 'the package does it another way'], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });

const addon = `#include "node-api-min.h"
static napi_value twice(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1]; int32_t n = 0; napi_value result = NULL;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_get_value_int32(env, argv[0], &n);
  napi_create_int32(env, 2 * n, &result);
  return result;
}
static napi_value init(napi_env env, napi_value exports) { napi_min_export(env, exports, "twice", twice); return exports; }
NAPI_MIN_MODULE(init)
`;

describe.runIf(process.platform === 'linux')('build-native-addon', () => {
  it.runIf(hasCompiler)('builds an addon from one C file against include/node-api-min.h, which node loads', () => {
    writeFileSync(join(dir, 'twice.c'), addon);
    const r = build(join(dir, 'twice.c'), join(dir, 'out', 'twice.node'));
    expect(r.status).toBe(0);
    const mod = { exports: {} };
    process.dlopen(mod, join(dir, 'out', 'twice.node'));
    expect(mod.exports.twice(21)).toBe(42);
  });

  it('without a C compiler, says what happens instead, builds nothing and succeeds', () => {
    writeFileSync(join(dir, 'none.c'), addon);
    const r = build(join(dir, 'none.c'), join(dir, 'none.node'), { CC: 'no-such-cc' });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('none.node: no C compiler (no-such-cc): not built; the package does it another way\n');
    expect(existsSync(join(dir, 'none.node'))).toBe(false);
  });

  it.runIf(hasCompiler)('fails when the compiler fails on the file (warnings are errors)', () => {
    writeFileSync(join(dir, 'bad.c'), `${addon}static int unused;\n`);
    const r = build(join(dir, 'bad.c'), join(dir, 'bad.node'));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`bad.node: ${process.env.CC || 'cc'} `);
    expect(r.stderr).toContain(' failed');
  });

  it('refuses a call without a source and an output', () => {
    const r = spawnSync(process.execPath, [tool, 'only-one.c'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^usage: build-native-addon SOURCE\.c OUT\.node/);
  });
});
