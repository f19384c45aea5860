// Starts the bundled daemon through vm.Script with V8's code cache: the cache is made
// once after a start (in the background) and reused while the bundle is unchanged.
// Where the cache cannot be written (read-only install) the daemon simply starts
// without it.
import fs = require('node:fs');
import Module = require('node:module');
import path = require('node:path');
import vm = require('node:vm');

const { readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } = fs;
const { join } = path;
const { Script, constants } = vm;

const file = join(__dirname, 'containerd-ts.cjs');
const st = statSync(file);
// V8 rejects a cache made under other flags, so the flags are part of the key.
const flagsKey = Buffer.from(process.execArgv.join(' ')).toString('base64url').slice(0, 40);
const cacheFile = join(__dirname, `.containerd-ts.${process.version}.${st.size}.${Math.trunc(st.mtimeMs)}.${flagsKey}.v8cache`);
const source = readFileSync(file, 'utf8').replace(/^#!.*/, '');
let cachedData: Buffer | undefined;
try {
  cachedData = readFileSync(cacheFile);
} catch {
  cachedData = undefined;
}
const script = new Script(Module.wrap(source), {
  filename: file,
  cachedData,
  importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
});
const hadCache = cachedData !== undefined && !script.cachedDataRejected;
cachedData = undefined; // V8 has copied what it needs
// Dynamic import() inside a script compiled from a code cache has no loader: lend ours.
(globalThis as { __containerdTsImport?: (u: string) => Promise<unknown> }).__containerdTsImport = (u) => import(u);
const mod = { exports: {} };
const fn = script.runInThisContext() as (e: object, r: NodeJS.Require, m: object, f: string, d: string) => void;
fn.call(mod.exports, mod.exports, Module.createRequire(file), mod, file, __dirname);
if (!hadCache) {
  // After start-up more functions are compiled, so the cache covers the boot path.
  setTimeout(() => {
    try {
      const tmp = `${cacheFile}.${process.pid}`;
      writeFileSync(tmp, script.createCachedData());
      renameSync(tmp, cacheFile);
      // Caches of earlier bundles, node versions or flags are never read again.
      for (const name of readdirSync(__dirname)) {
        if (name.startsWith('.containerd-ts.') && name.endsWith('.v8cache') && join(__dirname, name) !== cacheFile) unlinkSync(join(__dirname, name));
      }
    } catch {
      // read-only install: run without a cache
    }
  }, 1500).unref();
}
