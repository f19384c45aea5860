// bundleDaemon: one CommonJS file that runs through the launcher (with a V8 code cache
// written beside it), worker programs shipped beside it, and a clear build error for a
// native addon the bundle leaves out but nothing beside it can load.
import { isAscii } from 'node:buffer';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WRAPPER_HEAD, WRAPPER_TAIL, bundleDaemon, wrapBundle } from './bundle.js';

const run = promisify(execFile);
/** The launcher's addon is built where a C compiler is (setup installs one). */
const hasCompiler = spawnSync(process.env.CC || 'cc', ['--version'], { stdio: 'ignore' }).status === 0;
const addons = hasCompiler ? ['daemon-launcher-native.node'] : [];

describe('bundleDaemon', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'daemon-bundle-'));
    await mkdir(join(dir, 'lib'));
    await writeFile(join(dir, 'lib', 'work.js'), "export const workerFile = new URL('./work-worker-main.cjs', import.meta.url);\n");
    await writeFile(join(dir, 'lib', 'work-worker-main.cjs'), 'module.exports = 1;\n');
    // A native addon's file (only its copy is checked here, it is never loaded).
    await writeFile(join(dir, 'lib', 'work-native.node'), '');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('bundles an ES module entry; the launcher runs it, ships its workers and addons and keeps a code cache', async () => {
    await writeFile(
      join(dir, 'main.js'),
      [
        "import { existsSync } from 'node:fs';",
        "import { fileURLToPath } from 'node:url';",
        "import { workerFile } from './lib/work.js';",
        "console.log('args=' + process.argv.slice(2).join(',') + ' worker=' + existsSync(fileURLToPath(workerFile)));",
        // Says it serves, as a daemon does: the launcher then writes its code cache.
        "process.emit('daemon:serving');",
        'setTimeout(() => {}, 300);',
      ].join('\n'),
    );
    const out = join(dir, 'out');
    const result = await bundleDaemon({ entry: join(dir, 'main.js'), outDir: out, name: 'toy', launcher: 'launch.cjs' });
    expect(result.workers).toEqual([...addons, 'work-native.node', 'work-worker-main.cjs']);
    expect(readdirSync(out).sort()).toEqual(
      ['daemon-launcher.cjs', ...addons, 'launch.cjs', 'toy.cjs', 'toy.cjs.map', 'work-native.node', 'work-worker-main.cjs'].sort(),
    );
    const first = await run('node', [join(out, 'launch.cjs'), 'a', 'b']);
    expect(first.stdout).toBe('args=a,b worker=true\n');
    expect(readdirSync(out).filter((f) => f.endsWith('.v8cache'))).toHaveLength(1);
    // Runs again from the cache.
    expect((await run('node', [join(out, 'launch.cjs')])).stdout).toBe('args= worker=true\n');
  }, 20_000);

  it('runs a bundle whose entry has a #! line, read as ASCII or, when it holds other bytes, as UTF-8; and run directly', async () => {
    await writeFile(join(dir, 'main.js'), "#!/usr/bin/env node\nconsole.log('caf\u00e9 \u2713 ' + __filename.endsWith('toy.cjs'));\n");
    const out = join(dir, 'out');
    await bundleDaemon({ entry: join(dir, 'main.js'), outDir: out, name: 'toy', launcher: 'launch.cjs' });
    const bundle = join(out, 'toy.cjs');
    const text = await readFile(bundle, 'utf8');
    // The #! line became the module wrapper's head, and the source map's lines still match.
    expect(text.startsWith(`${WRAPPER_HEAD}\n`)).toBe(true);
    expect(text.endsWith(`\n${WRAPPER_TAIL}\n`)).toBe(true);
    expect(isAscii(await readFile(bundle))).toBe(true); // esbuild escapes what is not ASCII
    expect((await run('node', [join(out, 'launch.cjs')])).stdout).toBe('caf\u00e9 \u2713 true\n');
    expect((await run('node', [join(out, 'launch.cjs')])).stdout).toBe('caf\u00e9 \u2713 true\n'); // from the cache
    // `node toy.cjs`, without the launcher, runs it too.
    expect((await run('node', [bundle])).stdout).toBe('caf\u00e9 \u2713 true\n');
    // the same program with its characters written out in UTF-8
    await writeFile(bundle, text.replace(/\\u00E9/gi, '\u00e9').replace(/\\u2713/gi, '\u2713'));
    expect(isAscii(await readFile(bundle))).toBe(false);
    expect((await run('node', [join(out, 'launch.cjs')])).stdout).toBe('caf\u00e9 \u2713 true\n');
    expect((await run('node', [join(out, 'launch.cjs')])).stdout).toBe('caf\u00e9 \u2713 true\n');
  }, 20_000);

  it('wraps without a #! line by moving the source map one line down', () => {
    expect(wrapBundle('a();\n//# sourceMappingURL=x.map\n', { mappings: 'AAAA' })).toEqual({
      code: `${WRAPPER_HEAD}\na();\n//# sourceMappingURL=x.map\n${WRAPPER_TAIL}\n`,
      map: { mappings: ';AAAA' },
    });
    expect(wrapBundle('#!/usr/bin/env node\na();', { mappings: ';AAAA' })).toEqual({
      code: `${WRAPPER_HEAD}\na();\n${WRAPPER_TAIL}\n`,
      map: { mappings: ';AAAA' },
    });
  });

  /** What of the bundle and its cache the program finds mapped into its memory as its first line runs. */
  const mapsProbe = [
    "const maps = require('node:fs').readFileSync('/proc/self/maps', 'utf8');",
    "console.log('bundle=' + maps.includes('/toy.cjs\\n') + ' cache=' + maps.includes('.v8cache\\n'));",
    "process.emit('daemon:serving');",
  ].join('\n');

  it.runIf(hasCompiler)('maps the bundle and its code cache once there is a cache, and reads them with DAEMON_LAUNCHER_NATIVE=0', async () => {
    await writeFile(join(dir, 'main.js'), mapsProbe);
    const out = join(dir, 'out');
    await bundleDaemon({ entry: join(dir, 'main.js'), outDir: out, name: 'toy', launcher: 'launch.cjs' });
    // The first run checks that the file is ASCII (reading it), and writes the cache.
    expect((await run('node', [join(out, 'launch.cjs')])).stdout).toBe('bundle=false cache=false\n');
    expect((await run('node', [join(out, 'launch.cjs')])).stdout).toBe('bundle=true cache=true\n');
    const env = { ...process.env, DAEMON_LAUNCHER_NATIVE: '0' };
    expect((await run('node', [join(out, 'launch.cjs')], { env })).stdout).toBe('bundle=false cache=false\n');
  }, 20_000);

  it.runIf(hasCompiler)('rebuilds by replacing the files: a program running from the mapped bundle goes on with its own code', async () => {
    const program = (version: string) =>
      [
        `function version() { return ${JSON.stringify(version)}; }`,
        "process.emit('daemon:serving');",
        "process.stdin.once('data', () => { console.log(version() + ' ' + version.toString()); process.exit(0); });",
        "console.log('ready');",
      ].join('\n');
    await writeFile(join(dir, 'main.js'), program('first build, long enough that the second is shorter'));
    const out = join(dir, 'out');
    await bundleDaemon({ entry: join(dir, 'main.js'), outDir: out, name: 'toy', launcher: 'launch.cjs' });
    await run('sh', ['-c', `node ${join(out, 'launch.cjs')} </dev/null`]); // writes the cache
    const child = spawn('node', [join(out, 'launch.cjs')], { stdio: ['pipe', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    expect((await readFile(`/proc/${child.pid}/maps`, 'utf8')).includes('/toy.cjs\n')).toBe(true);
    await writeFile(join(dir, 'main.js'), program('second'));
    await bundleDaemon({ entry: join(dir, 'main.js'), outDir: out, name: 'toy', launcher: 'launch.cjs' });
    child.stdin.end('go\n');
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
    // (the function's text comes from the bundle's source, which V8 reads when asked)
    expect(stdout).toMatch(/^ready\nfirst build, long enough that the second is shorter function \w+\(\)\{return"first build, long enough that the second is shorter"\}\n$/);
  }, 20_000);

  it('with cacheOnExit (a command-line program), writes the code cache as the first run exits, also through process.exit', async () => {
    // A program that never says it serves and exits at once, with a status of its own.
    await writeFile(join(dir, 'main.js'), "console.log('ran ' + process.argv[2]);\nif (process.argv[2] === 'fail') process.exit(3);\n");
    const out = join(dir, 'out');
    await bundleDaemon({ entry: join(dir, 'main.js'), outDir: out, name: 'cli', launcher: 'run.cjs', cacheOnExit: true });
    const caches = () => readdirSync(out).filter((f) => f.endsWith('.v8cache'));
    const failed = await run('node', [join(out, 'run.cjs'), 'fail']).catch((err: { code: number; stdout: string }) => err);
    expect(failed).toMatchObject({ code: 3, stdout: 'ran fail\n' });
    expect(caches()).toHaveLength(1);
    const cache = caches()[0];
    // Later runs read it and leave it as it is.
    expect((await run('node', [join(out, 'run.cjs'), 'ok'])).stdout).toBe('ran ok\n');
    expect(caches()).toEqual([cache]);
  }, 20_000);

  it('without cacheOnExit, a program that exits before it serves writes no cache', async () => {
    await writeFile(join(dir, 'main.js'), "console.log('ran');\n");
    const out = join(dir, 'out');
    await bundleDaemon({ entry: join(dir, 'main.js'), outDir: out, name: 'short', launcher: 'run.cjs' });
    expect((await run('node', [join(out, 'run.cjs')])).stdout).toBe('ran\n');
    expect(readdirSync(out).filter((f) => f.endsWith('.v8cache'))).toEqual([]);
  }, 20_000);

  it('sets DAEMON_LAUNCHER_SERVING_FLAGS once the program serves, and not for its children', async () => {
    await writeFile(
      join(dir, 'main.js'),
      [
        "const status = new Function('f', 'return %GetOptimizationStatus(f)');",
        'const optimised = (f) => (status(f) & 16) !== 0;',
        'function hot(n) { let s = 0; for (let i = 0; i < n; i++) s += i % 7; return s; }',
        'const heat = () => { for (let i = 0; i < 20000; i++) hot(100); };',
        'heat();',
        "console.log('before=' + optimised(hot) + ' env=' + (process.env.DAEMON_LAUNCHER_SERVING_FLAGS ?? 'unset'));",
        "process.emit('daemon:serving');",
        // TurboFan compiles on another thread: heat until it is done (or give up after ~4 s)
        "const after = (tries) => { heat(); if (optimised(hot) || tries === 0) console.log('after=' + optimised(hot)); else setTimeout(after, 20, tries - 1); };",
        'setTimeout(after, 0, 200);',
      ].join('\n'),
    );
    const out = join(dir, 'out');
    await bundleDaemon({ entry: join(dir, 'main.js'), outDir: out, name: 'toy', launcher: 'launch.cjs' });
    const { stdout } = await run('node', ['--allow-natives-syntax', '--no-turbofan', join(out, 'launch.cjs')], {
      env: { ...process.env, DAEMON_LAUNCHER_SERVING_FLAGS: '--turbofan' },
    });
    expect(stdout).toBe('before=false env=unset\nafter=true\n');
  });

  it('sets DAEMON_LAUNCHER_START_FLAGS before the bundle runs, once the built-in modules it loaded last time are loaded', async () => {
    await writeFile(
      join(dir, 'main.js'),
      [
        // What was loaded before this program's own first line ran; zlib is loaded only by it.
        "const early = (process.moduleLoadList ?? []).includes('NativeModule zlib');",
        "let natives = 'no';",
        "try { new Function('return %IsBeingInterpreted()'); natives = 'yes'; } catch {}",
        "require('node:zlib');",
        "console.log('zlib-early=' + early + ' natives=' + natives + ' env=' + (process.env.DAEMON_LAUNCHER_START_FLAGS ?? 'unset'));",
        "process.emit('daemon:serving');",
        'setTimeout(() => {}, 300);',
      ].join('\n'),
    );
    const out = join(dir, 'out');
    await bundleDaemon({ entry: join(dir, 'main.js'), outDir: out, name: 'toy', launcher: 'launch.cjs' });
    const env = { ...process.env, DAEMON_LAUNCHER_START_FLAGS: '--allow-natives-syntax' };
    const caches = () => readdirSync(out).filter((f) => f.endsWith('.v8cache'));
    // The first run has no record of what it loads: the flags are set at once.
    expect((await run('node', [join(out, 'launch.cjs')], { env })).stdout).toBe('zlib-early=false natives=yes env=unset\n');
    expect(caches()).toHaveLength(1);
    const header = (await readFile(join(out, caches()[0]!), 'latin1')).split('\n')[0]!;
    expect(JSON.parse(header).builtins).toContain('zlib');
    // Later runs load zlib before the program, and read the cache made under the same flags.
    expect((await run('node', [join(out, 'launch.cjs')], { env })).stdout).toBe('zlib-early=true natives=yes env=unset\n');
    // Other start flags are another cache; a run without them loads nothing early.
    expect((await run('node', [join(out, 'launch.cjs')])).stdout).toBe('zlib-early=false natives=no env=unset\n');
    expect(caches()).toHaveLength(1);
  }, 20_000);

  it('runs without a cache whose file is damaged, and writes a good one', async () => {
    await writeFile(join(dir, 'main.js'), "console.log('ran');\nprocess.emit('daemon:serving');\nsetTimeout(() => {}, 300);\n");
    const out = join(dir, 'out');
    await bundleDaemon({ entry: join(dir, 'main.js'), outDir: out, name: 'toy', launcher: 'launch.cjs' });
    // With start flags: the launcher then loads the modules the cache file lists.
    const env = { ...process.env, DAEMON_LAUNCHER_START_FLAGS: '--no-turbofan' };
    expect((await run('node', [join(out, 'launch.cjs')], { env })).stdout).toBe('ran\n');
    const [cache] = readdirSync(out).filter((f) => f.endsWith('.v8cache'));
    const damagedFiles = ['no header line at all', '{"builtins": [\n', 'null\n\u0000\u0001', '{"builtins":["no-such-module","zlib"]}\nnot a cache'];
    for (const damaged of damagedFiles) {
      await writeFile(join(out, cache!), damaged, 'latin1');
      expect((await run('node', [join(out, 'launch.cjs')], { env })).stdout).toBe('ran\n');
      const header = JSON.parse((await readFile(join(out, cache!), 'latin1')).split('\n')[0]!) as { builtins: string[]; ascii: boolean };
      expect(header.ascii).toBe(true);
      expect(header.builtins).not.toContain('no-such-module');
    }
  }, 20_000);

  it("keeps zod's English locale only: the others are left out of the bundle, and messages are English", async () => {
    // Resolves zod from this package (a dev dependency), as a daemon's entry resolves it from its own.
    const src = await mkdtemp(join(fileURLToPath(new URL('..', import.meta.url)), 'node_modules', '.test-zod-'));
    try {
      await writeFile(
        join(src, 'main.js'),
        [
          "import { z } from 'zod';",
          'console.log(Object.keys(z.locales).join(",") + " " + typeof z.locales.en);',
          'console.log(z.object({ a: z.string() }).safeParse({ a: 1 }).error.issues[0].message);',
        ].join('\n'),
      );
      const out = join(dir, 'out');
      await bundleDaemon({ entry: join(src, 'main.js'), outDir: out, name: 'toy', launcher: 'launch.cjs' });
      const { stdout } = await run('node', [join(out, 'launch.cjs')]);
      expect(stdout).toBe('en function\nInvalid input: expected string, received number\n');
      // German's message for the same issue is not in the bundle.
      expect(await readFile(join(out, 'toy.cjs'), 'latin1')).not.toContain('Eingabe: erwartet');
    } finally {
      await rm(src, { recursive: true, force: true });
    }
  }, 20_000);

  it('refuses to leave out a native addon nothing beside the bundle can load', async () => {
    await writeFile(join(dir, 'main.js'), "import 'zstd-napi';\n");
    await expect(bundleDaemon({ entry: join(dir, 'main.js'), outDir: join(dir, 'out'), name: 'toy' })).rejects.toThrow(
      `zstd-napi is left out of the bundle but cannot be loaded from ${join(dir, 'out')}: add it to the dependencies of the package that runs the bundle`,
    );
    expect(existsSync(join(dir, 'out', 'toy.launch.cjs'))).toBe(false);
  });
});
