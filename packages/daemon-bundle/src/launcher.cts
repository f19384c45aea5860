// Starts a bundled daemon through vm.Script with V8's code cache: the cache is made once
// after a start (in the background), kept beside the bundle and reused while the bundle,
// node and its flags are unchanged. Where the cache cannot be written (read-only install)
// the daemon simply starts without it. bundleDaemon copies this file beside each bundle
// (as daemon-launcher.cjs) so an installed daemon needs nothing else to start.
//
// A command-line program (one that runs and exits, such as ctr-ts) is launched with
// `cacheOnExit`: its cache is written as it exits, after its first run, and covers every
// function that run compiled.
//
// The bundle holds its own module wrapper (bundleDaemon writes it so), and where the
// launcher's addon was built (`daemon-launcher-native.node` beside it) the bundle and its code
// cache are mapped into memory rather than read: the source V8 compiles is the mapped file
// itself. Each page of a 2 MB copy is a page fault on fresh memory, which on the virtual
// machines this runs on costs ~11 µs: mapping instead took ~20 ms off a start (the idle
// daemon's RSS is the same: the mapped pages are resident where V8's copy was).
// `DAEMON_LAUNCHER_NATIVE=0` reads the files instead, as where the addon is missing.
//
// V8 flags in DAEMON_LAUNCHER_START_FLAGS are set by the launcher before it runs the bundle,
// not on node's command line. Almost any V8 flag there (`--no-sparkplug`, `--expose-gc`,
// `--max-semi-space-size`, …) changes V8's flag hash, and V8 then rejects node's own code
// cache of its built-in modules: every one the daemon loads (tls, http2, net, crypto, …) is
// compiled from source, ~40 ms of every start here. So the launcher loads the built-in
// modules the program loaded by the time it served last time (recorded with the code cache)
// under node's default flags, and only then sets the start flags.
//
// V8 flags in DAEMON_LAUNCHER_SERVING_FLAGS are set once the daemon says it serves
// (`process.emit('daemon:serving')`, as @containerd-ts/daemon does). containerd-ts starts
// with `--no-sparkplug --no-turbofan` and sets them back there: the start-up path runs
// once, and optimising its loops touched ~4 MB more of node's own code pages, which then
// stayed resident in an idle daemon; requests after the start get both compilers.
import buffer = require('node:buffer');
import fs = require('node:fs');
import Module = require('node:module');
import path = require('node:path');
import vm = require('node:vm');

const { isAscii } = buffer;
const { readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } = fs;
const { basename, dirname, join } = path;
const { Script, constants } = vm;

/** Maps files into memory (native/launcher.c); each returns undefined where it cannot. */
interface Mapper {
  /** The file as a Latin-1 string backed by a mapping of it. */
  mapLatin1(file: string): string | undefined;
  /** The file as a read-only Buffer over a mapping of it. */
  mapBuffer(file: string): Buffer | undefined;
}

/** The launcher's addon, beside it; undefined where it was not built or is turned off. */
function loadMapper(): Mapper | undefined {
  if (process.env.DAEMON_LAUNCHER_NATIVE === '0') return undefined;
  const mod = { exports: {} as Partial<Mapper> };
  try {
    process.dlopen(mod, join(__dirname, 'daemon-launcher-native.node'));
  } catch {
    return undefined; // not built (no C compiler), or for another machine: read the files
  }
  const m = mod.exports;
  return typeof m.mapLatin1 === 'function' && typeof m.mapBuffer === 'function' ? (m as Mapper) : undefined;
}

/** The event a daemon emits once it serves: the launcher then writes the code cache and lets V8 optimise. */
const SERVING_EVENT = 'daemon:serving';
/** When a program never says it serves (another command, a daemon that does not emit it). */
const FALLBACK_MS = 10_000;

/** The V8 flags in environment variable `name`, which is removed: not for the processes the daemon starts (shims, plugins). */
function takeFlags(name: 'DAEMON_LAUNCHER_START_FLAGS' | 'DAEMON_LAUNCHER_SERVING_FLAGS'): string[] {
  const flags = (process.env[name] ?? '').split(/\s+/).filter(Boolean);
  delete process.env[name];
  return flags;
}

/** A short, stable key of a string (FNV-1a, 32 bits): cache file names stay short whatever the flags. */
function hashKey(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

let publicBuiltins: Set<string> | undefined;

/**
 * Whether `name` is a node module the launcher may load ahead of the program: one of node's
 * own, and not `_tls_wrap` and the like, parts of other modules that, loaded first on their
 * own, find their parent half-initialised.
 */
function preloadable(name: string): boolean {
  publicBuiltins ??= new Set(Module.builtinModules);
  return publicBuiltins.has(name) && !name.startsWith('_');
}

/** The preloadable built-in modules loaded so far (`node:` names without the prefix). */
function loadedBuiltins(): string[] {
  const out: string[] = [];
  // Undocumented, but in every node version: what the loaders have loaded, in order.
  for (const entry of (process as unknown as { moduleLoadList?: string[] }).moduleLoadList ?? []) {
    if (!entry.startsWith('NativeModule ')) continue;
    const name = entry.slice('NativeModule '.length);
    if (preloadable(name)) out.push(name);
  }
  return out;
}

/**
 * The code cache file: one line of JSON (the built-in modules to load before the start
 * flags are set), then V8's cache. Undefined when absent or not one.
 */
function readCache(file: string, mapper: Mapper | undefined): { builtins: string[]; ascii: boolean; data: Buffer } | undefined {
  let bytes: Buffer;
  try {
    bytes = mapper?.mapBuffer(file) ?? readFileSync(file);
  } catch {
    return undefined;
  }
  const nl = bytes.indexOf(10);
  if (nl < 0) return undefined;
  try {
    const header = JSON.parse(bytes.subarray(0, nl).toString('latin1')) as { builtins?: unknown; ascii?: unknown };
    // Only what the launcher itself would list: a damaged list must not stop the start.
    const builtins = Array.isArray(header.builtins) ? header.builtins.filter((b): b is string => typeof b === 'string' && preloadable(b)) : [];
    return { builtins, ascii: header.ascii === true, data: bytes.subarray(nl + 1) };
  } catch {
    return undefined;
  }
}

interface LaunchOptions {
  /** Write the code cache when the process exits (a command-line program) instead of once it serves. */
  cacheOnExit?: boolean;
}

/**
 * The bundle's source. esbuild writes ASCII (it escapes everything else), which is Latin-1
 * as it is: mapped where the addon is there, else read without a UTF-8 decode.
 * `knownAscii`: the code cache of this very file (same size and time) says it was ASCII, so
 * the check of its 2 MB (~2 ms, and reading it) is skipped.
 */
function readSource(file: string, knownAscii: boolean, mapper: Mapper | undefined): { text: string; ascii: boolean } {
  const mapped = knownAscii ? mapper?.mapLatin1(file) : undefined;
  if (mapped !== undefined) return { text: mapped, ascii: true };
  const bytes = readFileSync(file);
  const ascii = knownAscii || isAscii(bytes);
  return { text: ascii ? bytes.toString('latin1') : bytes.toString('utf8'), ascii };
}

/** Runs the CommonJS bundle `file` as the main program. */
function launch(file: string, options: LaunchOptions = {}): void {
  const dir = dirname(file);
  const st = statSync(file);
  const startFlags = takeFlags('DAEMON_LAUNCHER_START_FLAGS');
  const servingFlags = takeFlags('DAEMON_LAUNCHER_SERVING_FLAGS');
  // V8 rejects a cache made under other flags, so the flags are part of the key.
  const flagsKey = hashKey([...process.execArgv, '|', ...startFlags].join(' '));
  const prefix = `.${basename(file, '.cjs')}.`;
  const cacheFile = join(dir, `${prefix}${process.version}.${st.size}.${Math.trunc(st.mtimeMs)}.${flagsKey}.v8cache`);
  const mapper = loadMapper();
  let cache = readCache(cacheFile, mapper);
  // What node loaded before the program: only needed to record what the program loads.
  const builtinsBefore = startFlags.length > 0 ? new Set(loadedBuiltins()) : undefined;
  if (startFlags.length > 0) {
    // Under node's own flags, node's code cache of these is accepted (see the top of this file).
    for (const name of cache?.builtins ?? []) require(`node:${name}`);
    const v8: typeof import('node:v8') = require('node:v8');
    for (const flag of startFlags) v8.setFlagsFromString(flag);
  }
  const source = readSource(file, cache?.ascii === true, mapper);
  const sourceAscii = source.ascii;
  // The bundle is its own module wrapper (bundleDaemon's WRAPPER_HEAD): its value is the function.
  const script = new Script(source.text, {
    filename: file,
    ...(cache ? { cachedData: cache.data } : {}),
    importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const hadCache = cache !== undefined && !script.cachedDataRejected;
  cache = undefined; // V8 has copied what it needs (a mapping goes with the Buffer's collection)
  // Dynamic import() inside a script compiled from a code cache has no loader: lend ours
  // (plugin_dir modules are loaded through it).
  (globalThis as { __containerdTsImport?: (u: string) => Promise<unknown> }).__containerdTsImport = (u) => import(u);
  const mod = { exports: {} };
  const fn = script.runInThisContext() as (e: object, r: NodeJS.Require, m: object, f: string, d: string) => void;
  let served = false;
  const serving = () => {
    if (served) return;
    served = true;
    clearTimeout(fallback);
    process.removeListener(SERVING_EVENT, serving);
    // After the first answers are out. The cache is made under the flags it is read under
    // (V8 checks them): before the serving flags are set.
    setImmediate(() => {
      if (!hadCache) writeCache();
      if (servingFlags.length > 0) {
        const v8: typeof import('node:v8') = require('node:v8');
        for (const flag of servingFlags) v8.setFlagsFromString(flag);
      }
    });
  };
  const fallback = setTimeout(serving, FALLBACK_MS).unref();
  process.on(SERVING_EVENT, serving);
  if (options.cacheOnExit && !hadCache) {
    // Synchronously, in the exit handler: the process is done, and the functions it ran are compiled.
    process.once('exit', () => {
      if (!served) writeCache();
    });
  }
  fn.call(mod.exports, mod.exports, Module.createRequire(file), mod, file, dir);

  // Once serving, the functions of the whole boot path are compiled, and the cache covers them.
  function writeCache(): void {
    try {
      const tmp = `${cacheFile}.${process.pid}`;
      const builtins = builtinsBefore ? loadedBuiltins().filter((name) => !builtinsBefore.has(name)) : [];
      const header = JSON.stringify({ builtins, ascii: sourceAscii });
      writeFileSync(tmp, Buffer.concat([Buffer.from(`${header}\n`, 'latin1'), script.createCachedData()]));
      renameSync(tmp, cacheFile);
      // Caches of earlier bundles, node versions or flags are never read again.
      for (const name of readdirSync(dir)) {
        if (name.startsWith(prefix) && name.endsWith('.v8cache') && join(dir, name) !== cacheFile) unlinkSync(join(dir, name));
      }
    } catch {
      // read-only install: run without a cache
    }
  }
}

export = { launch };
