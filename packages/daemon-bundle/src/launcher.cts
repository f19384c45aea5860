// Starts a bundled daemon through vm.Script with V8's code cache: the cache is made once
// after a start (in the background), kept beside the bundle and reused while the bundle,
// node and its flags are unchanged. Where the cache cannot be written (read-only install)
// the daemon simply starts without it. bundleDaemon copies this file beside each bundle
// (as daemon-launcher.cjs) so an installed daemon needs nothing else to start.
import fs = require('node:fs');
import Module = require('node:module');
import path = require('node:path');
import vm = require('node:vm');

const { readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } = fs;
const { basename, dirname, join } = path;
const { Script, constants } = vm;

/** Runs the CommonJS bundle `file` as the main program. */
function launch(file: string): void {
  const dir = dirname(file);
  const st = statSync(file);
  // V8 rejects a cache made under other flags, so the flags are part of the key.
  const flagsKey = Buffer.from(process.execArgv.join(' ')).toString('base64url').slice(0, 40);
  const prefix = `.${basename(file, '.cjs')}.`;
  const cacheFile = join(dir, `${prefix}${process.version}.${st.size}.${Math.trunc(st.mtimeMs)}.${flagsKey}.v8cache`);
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
  // Dynamic import() inside a script compiled from a code cache has no loader: lend ours
  // (plugin_dir modules are loaded through it).
  (globalThis as { __containerdTsImport?: (u: string) => Promise<unknown> }).__containerdTsImport = (u) => import(u);
  const mod = { exports: {} };
  const fn = script.runInThisContext() as (e: object, r: NodeJS.Require, m: object, f: string, d: string) => void;
  fn.call(mod.exports, mod.exports, Module.createRequire(file), mod, file, dir);
  if (hadCache) return;
  // After start-up more functions are compiled, so the cache covers the boot path.
  setTimeout(() => {
    try {
      const tmp = `${cacheFile}.${process.pid}`;
      writeFileSync(tmp, script.createCachedData());
      renameSync(tmp, cacheFile);
      // Caches of earlier bundles, node versions or flags are never read again.
      for (const name of readdirSync(dir)) {
        if (name.startsWith(prefix) && name.endsWith('.v8cache') && join(dir, name) !== cacheFile) unlinkSync(join(dir, name));
      }
    } catch {
      // read-only install: run without a cache
    }
  }, 1500).unref();
}

export = { launch };
