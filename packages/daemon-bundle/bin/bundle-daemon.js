#!/usr/bin/env node
// bundle-daemon --entry dist/main.js --out dist --name NAME [--launcher FILE] [--external MOD]... [--cache-on-exit]
import { parseArgs } from 'node:util';
import { bundleDaemon } from '../dist/index.js';

const { values } = parseArgs({
  options: {
    entry: { type: 'string' },
    out: { type: 'string' },
    name: { type: 'string' },
    launcher: { type: 'string' },
    external: { type: 'string', multiple: true },
    'cache-on-exit': { type: 'boolean' },
  },
});
if (!values.entry || !values.out || !values.name) {
  process.stderr.write('usage: bundle-daemon --entry dist/main.js --out dist --name NAME [--launcher FILE] [--external MODULE]... [--cache-on-exit]\n');
  process.exit(2);
}
let result;
try {
  result = await bundleDaemon({
    entry: values.entry,
    outDir: values.out,
    name: values.name,
    ...(values.launcher ? { launcher: values.launcher } : {}),
    ...(values.external ? { external: values.external } : {}),
    ...(values['cache-on-exit'] ? { cacheOnExit: true } : {}),
  });
} catch (err) {
  process.stderr.write(`bundle-daemon: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
process.stdout.write(`bundled ${result.bundle} (run ${result.launcher}${result.workers.length ? `; workers: ${result.workers.join(', ')}` : ''})\n`);
