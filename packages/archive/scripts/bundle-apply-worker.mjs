// Bundles the apply worker's program (src/apply-worker.ts and what it imports: the applier,
// the tar reader, @containerd-ts/sys, tar-stream) into one CommonJS file,
// dist/apply-worker-main.cjs, that runs from dist and from beside a daemon bundle (which
// copies every `*-worker-main.cjs` next to itself). Native addons load from node_modules.
// Run by `pnpm build` and, for tests that run from src, by vitest's global setup.
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function bundleApplyWorker() {
  const dist = join(pkg, 'dist');
  mkdirSync(dist, { recursive: true });
  await build({
    entryPoints: [join(pkg, 'src', 'apply-worker.ts')],
    outfile: join(dist, 'apply-worker-main.cjs'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    keepNames: true,
    sourcemap: 'linked',
    external: ['koffi', 'zstd-napi'],
    // CommonJS has no import.meta: modules that resolve from their own URL (koffi,
    // zstd-napi, the decompression worker's program) resolve from this file's.
    banner: { js: "const __importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
    define: { 'import.meta.url': '__importMetaUrl' },
    logLevel: 'warning',
    legalComments: 'none',
  });
  // The decompression worker it starts, beside it (tsc copies it too; tests may run unbuilt).
  copyFileSync(join(pkg, 'src', 'decompress-worker-main.cjs'), join(dist, 'decompress-worker-main.cjs'));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await bundleApplyWorker();
