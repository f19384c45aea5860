// Bundles the built daemon into one minified CommonJS file plus a launcher that keeps
// V8's code cache next to it. Start-up is dominated by loading ~500 small modules
// (grpc-js, zod, pino, generated API code); one file with cached bytecode starts in a
// fraction of the time. Native addons stay external and load from node_modules.
import { copyFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';

await build({
  entryPoints: ['dist/main.js'],
  outfile: 'dist/containerd-ts.cjs',
  bundle: true,
  minify: true,
  keepNames: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: 'linked',
  // native addons, and grpc-js's optional proto loader (only used for channelz/admin)
  external: ['classic-level', 'koffi', 'zstd-napi', '@grpc/proto-loader'],
  // CommonJS has no import.meta: modules that resolve from their own URL (createRequire
  // for koffi in @containerd-ts/sys) get the bundle's.
  banner: { js: "const __importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  define: { 'import.meta.url': '__importMetaUrl' },
  logLevel: 'warning',
  legalComments: 'none',
});

// Worker programs are files loaded by path beside the module that starts them; in the
// bundle that module's URL is the bundle's, so they are shipped next to it.
const archiveDist = dirname(createRequire(import.meta.url).resolve('@containerd-ts/archive'));
copyFileSync(join(archiveDist, 'decompress-worker-main.cjs'), 'dist/decompress-worker-main.cjs');
