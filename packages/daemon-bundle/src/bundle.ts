// Bundles a daemon's entry module into one minified CommonJS file plus a launcher that
// keeps V8's code cache beside it. Start-up of a plain ES-module daemon is dominated by
// loading hundreds of small modules (grpc-js, zod, the generated API); one file with
// cached bytecode starts in a fraction of the time and idles in less memory.
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Plugin, build } from 'esbuild';

/** Native addons left out of every bundle: they load from node_modules beside it. */
export const DEFAULT_EXTERNALS: readonly string[] = ['koffi', 'zstd-napi', '@datadog/pprof'];
/**
 * Native addons whose JavaScript is bundled and only the module that finds and loads the
 * compiled binding is left out (as `<package>/<file>`): classic-level's JavaScript is
 * abstract-level and a dozen small packages, ~25 ms of module resolution and compilation at
 * every start when loaded from node_modules.
 */
export const NATIVE_BINDINGS: Readonly<Record<string, string>> = { 'classic-level': 'binding.js' };

/** The package a bare import names (`@scope/name/sub` → `@scope/name`). */
const packageOf = (path: string) => path.split('/').slice(0, path.startsWith('@') ? 2 : 1).join('/');

/** Resolves a native addon's binding loader (`./binding` inside the package) to an external `<package>/<file>`. */
const nativeBindings: Plugin = {
  name: 'native-bindings',
  setup(b) {
    for (const [pkg, file] of Object.entries(NATIVE_BINDINGS)) {
      const stem = file.replace(/\.js$/, '');
      const inPackage = new RegExp(`[\\\\/]node_modules[\\\\/]${pkg.replace('/', '[\\\\/]')}[\\\\/][^\\\\/]+$`);
      b.onResolve({ filter: new RegExp(`^\\./${stem}(\\.js)?$`) }, (args) =>
        inPackage.test(args.importer) ? { path: `${pkg}/${file}`, external: true } : undefined,
      );
    }
  },
};
/**
 * zod's namespace object (`z`) re-exports every locale (`z.locales`), and the daemon imports
 * `z` as a whole, so no bundler can tree-shake them: 64 modules, 270 KB (13 % of the
 * daemon's bundle) read, held as source and kept in memory by every daemon that never
 * formats a message in another language. The bundle keeps English only, the locale zod sets
 * itself; `z.locales.en` still works and other locales are absent from the bundle.
 */
const zodEnglishOnly: Plugin = {
  name: 'zod-english-only',
  setup(b) {
    const inZod = /[\\/]node_modules[\\/]zod[\\/]/;
    b.onResolve({ filter: /^\.\.?\/(\.\.\/)?locales\/index\.js$/ }, (args) =>
      inZod.test(args.importer) ? { path: join(dirname(args.importer), args.path), namespace: 'zod-english-only' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-english-only' }, (args) => ({
      contents: 'export { default as en } from "./en.js";\n',
      resolveDir: dirname(args.path),
      loader: 'js',
    }));
  },
};
/**
 * Left out, and loaded only for a feature that is configured (the debug endpoint's
 * profiler): a daemon that does not install them builds, and says what is missing when the
 * feature is asked for.
 */
export const OPTIONAL_EXTERNALS: readonly string[] = ['@datadog/pprof'];
/** Left out too, and never loaded by a daemon (grpc-js needs it only for channelz/admin). */
const UNUSED_EXTERNALS: readonly string[] = ['@grpc/proto-loader'];

/**
 * The first line of every bundle: the module wrapper Node would put around it, already in
 * the file, so the launcher compiles the file's text as it is (mapped into memory by its
 * addon) instead of building a wrapped copy of its 2 MB that V8 then copies again. The
 * script's value is the wrapper function, which the launcher calls. Run directly
 * (`node bundle.cjs`, no code cache), the same line runs the function itself.
 */
export const WRAPPER_HEAD =
  '((run) => typeof module === "object" && this === module.exports ? run.call(this, exports, require, module, __filename, __dirname) : run)(function (exports, require, module, __filename, __dirname) {';
/** The bundle's last line, closing WRAPPER_HEAD. */
export const WRAPPER_TAIL = '})';

/**
 * esbuild's output wrapped in WRAPPER_HEAD/TAIL with the line count kept, so that the source
 * map still holds: the `#!` line esbuild keeps from the entry becomes the head line, and
 * where there is none the map's lines move down by one.
 */
export function wrapBundle(code: string, map: { mappings: string }): { code: string; map: { mappings: string } } {
  const body = code.endsWith('\n') ? code : `${code}\n`;
  if (body.startsWith('#!')) return { code: `${WRAPPER_HEAD}${body.slice(body.indexOf('\n'))}${WRAPPER_TAIL}\n`, map };
  return { code: `${WRAPPER_HEAD}\n${body}${WRAPPER_TAIL}\n`, map: { ...map, mappings: `;${map.mappings}` } };
}

/**
 * Writes `file` (`data`, or a copy of file `from`) by renaming a new file over it, never
 * rewriting it in place: a program that runs from the old one (its bundle or addon mapped
 * into memory) keeps running from it.
 */
function replaceFile(file: string, content: { data: string | Uint8Array; mode?: number } | { from: string }): void {
  const tmp = `${file}.${process.pid}.tmp`;
  if ('from' in content) copyFileSync(content.from, tmp);
  else writeFileSync(tmp, content.data, content.mode === undefined ? {} : { mode: content.mode });
  renameSync(tmp, file);
}

export interface BundleOptions {
  /** The daemon's main module (ESM or CJS), e.g. `dist/main.js`. */
  entry: string;
  /** Where the bundle, its launcher and worker programs go. */
  outDir: string;
  /** The bundle is `<outDir>/<name>.cjs` (its code caches `.<name>.*.v8cache`). */
  name: string;
  /** The file to run (`node <outDir>/<launcher>`); default `<name>.launch.cjs`. */
  launcher?: string;
  /** More modules to leave out of the bundle (besides DEFAULT_EXTERNALS). */
  external?: readonly string[];
  /**
   * A command-line program rather than a daemon: the launcher writes the code cache as the
   * process exits (after its first run) instead of once it serves.
   */
  cacheOnExit?: boolean;
}

export interface BundleResult {
  bundle: string;
  launcher: string;
  /** Worker programs and native addons copied beside the bundle. */
  workers: string[];
}

/**
 * Files a module loads by path beside itself, copied beside the bundle: worker programs
 * (`*-worker-main.cjs`) and native addons of the bundled packages (`*-native.node`).
 */
const isShippedBeside = (name: string) => name.endsWith('-worker-main.cjs') || name.endsWith('-native.node');

/** The launcher's addon (native/launcher.c), built into dist/ beside the compiled launcher when a C compiler is there. */
const LAUNCHER_ADDON = 'launcher-native.node';
/** Its name beside a bundle, where the launcher (`daemon-launcher.cjs`) loads it. */
const SHIPPED_LAUNCHER_ADDON = `daemon-${LAUNCHER_ADDON}`;

/** The compiled launcher: beside this module in dist/, or in dist/ when this runs from src/ (tests). */
function launcherSource(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'launcher.cjs'), join(here, '..', 'dist', 'launcher.cjs')];
  const found = candidates.find((file) => existsSync(file));
  if (!found) throw new Error(`daemon launcher not built: none of ${candidates.join(', ')}`);
  return found;
}

function installedAbove(dir: string, name: string): boolean {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, 'node_modules', name, 'package.json'))) return true;
    if (dirname(d) === d) return false;
  }
}

export async function bundleDaemon(options: BundleOptions): Promise<BundleResult> {
  const outDir = resolve(options.outDir);
  const bundle = join(outDir, `${options.name}.cjs`);
  const result = await build({
    entryPoints: [resolve(options.entry)],
    outfile: bundle,
    bundle: true,
    minify: true,
    // No keepNames: it wraps every function and class in a call that redefines its `name`,
    // which gives each one a map and a property store of its own (~1.7 MB of the idle
    // daemon's RSS, 80 KB of bundle). Nothing here reads a bundled function's name: errors
    // set `name` themselves.
    keepNames: false,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    sourcemap: 'linked',
    external: [...DEFAULT_EXTERNALS, ...UNUSED_EXTERNALS, ...(options.external ?? [])],
    // CommonJS has no import.meta: modules that resolve from their own URL (createRequire,
    // worker programs) get the bundle's, which is why worker programs are copied beside it.
    banner: { js: "const __importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
    define: { 'import.meta.url': '__importMetaUrl' },
    logLevel: 'warning',
    legalComments: 'none',
    metafile: true,
    write: false,
    plugins: [nativeBindings, zodEnglishOnly],
  });
  // What the bundle leaves out must load from where it runs: fail the build, not the start.
  // (Looked up in node_modules above the bundle only: package-manager shims running this
  // build may set NODE_PATH, which the daemon will not have.)
  const externals = new Set(
    Object.values(result.metafile.outputs)
      .flatMap((o) => o.imports)
      .filter((i) => i.external && !i.path.startsWith('node:') && !builtinModules.includes(i.path) && !UNUSED_EXTERNALS.includes(i.path))
      .map((i) => i.path),
  );
  for (const name of externals) {
    if (!OPTIONAL_EXTERNALS.includes(name) && !installedAbove(outDir, packageOf(name))) {
      throw new Error(`${name} is left out of the bundle but cannot be loaded from ${outDir}: add it to the dependencies of the package that runs the bundle`);
    }
  }
  const code = result.outputFiles.find((f) => f.path === bundle);
  const map = result.outputFiles.find((f) => f.path === `${bundle}.map`);
  if (!code || !map || result.outputFiles.length !== 2) throw new Error(`esbuild made ${result.outputFiles.map((f) => f.path).join(', ')}: expected ${bundle} and its map`);
  const wrapped = wrapBundle(code.text, JSON.parse(map.text) as { mappings: string });
  mkdirSync(outDir, { recursive: true });
  replaceFile(`${bundle}.map`, { data: JSON.stringify(wrapped.map) });
  replaceFile(bundle, { data: wrapped.code, mode: 0o755 });
  const workers = new Set<string>();
  // (Inputs of a plugin's own namespace are named `<namespace>:<path>` and are no files.)
  const dirs = new Set(
    Object.keys(result.metafile.inputs)
      .filter((input) => !/^[a-z-]+:/.test(input))
      .map((input) => dirname(resolve(input))),
  );
  for (const dir of dirs) {
    for (const name of readdirSync(dir).filter(isShippedBeside)) {
      replaceFile(join(outDir, name), { from: join(dir, name) });
      workers.add(name);
    }
  }
  const launcherName = options.launcher ?? `${options.name}.launch.cjs`;
  const launcher = join(outDir, launcherName);
  const compiledLauncher = launcherSource();
  replaceFile(join(outDir, 'daemon-launcher.cjs'), { from: compiledLauncher });
  // The launcher's addon (mapping the bundle and its cache), where it was built.
  const addon = join(dirname(compiledLauncher), LAUNCHER_ADDON);
  if (existsSync(addon)) {
    replaceFile(join(outDir, SHIPPED_LAUNCHER_ADDON), { from: addon });
    workers.add(SHIPPED_LAUNCHER_ADDON);
  }
  replaceFile(launcher, {
    data: `#!/usr/bin/env node\n// Generated by bundleDaemon: runs ${options.name}.cjs with V8's code cache.\nrequire('./daemon-launcher.cjs').launch(require('node:path').join(__dirname, ${JSON.stringify(`${options.name}.cjs`)})${options.cacheOnExit ? ', { cacheOnExit: true }' : ''});\n`,
    mode: 0o755,
  });
  return { bundle, launcher, workers: [...workers].sort() };
}
