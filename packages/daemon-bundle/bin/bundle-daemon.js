#!/usr/bin/env node
// bundle-daemon --entry dist/main.js --out dist --name NAME [--launcher FILE] [--external MOD]...
import { parseArgs } from 'node:util';
import { bundleDaemon } from '../dist/index.js';

const { values } = parseArgs({
  options: {
    entry: { type: 'string' },
    out: { type: 'string' },
    name: { type: 'string' },
    launcher: { type: 'string' },
    external: { type: 'string', multiple: true },
  },
});
if (!values.entry || !values.out || !values.name) {
  process.stderr.write('usage: bundle-daemon --entry dist/main.js --out dist --name NAME [--launcher FILE] [--external MODULE]...\n');
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
  });
} catch (err) {
  process.stderr.write(`bundle-daemon: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
process.stdout.write(`bundled ${result.bundle} (run ${result.launcher}${result.workers.length ? `; workers: ${result.workers.join(', ')}` : ''})\n`);
