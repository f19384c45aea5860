// Reads every workspace package's vitest JSON report (.test-results/vitest.json, written by
// scripts/test.sh) plus the failed steps test.sh recorded, lists what failed by name and
// ends with one line for the whole run: `tests: N passed, N failed, N skipped`. Exits 1 when
// anything failed. A package whose test run left no report, and a test file that crashed
// before running its tests, count as failures. Each failed test is followed by the first
// lines of its failure message, so the end of a CI log alone says why it failed.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { stripVTControlCharacters } from 'node:util';

const repo = process.argv[2] ?? process.cwd();
const stepFailures = existsSync(join(repo, '.test-results/steps.txt'))
  ? readFileSync(join(repo, '.test-results/steps.txt'), 'utf8').split('\n').filter(Boolean)
  : [];

function workspacePackages() {
  const yaml = readFileSync(join(repo, 'pnpm-workspace.yaml'), 'utf8');
  const globs = [];
  for (const line of yaml.split('\n')) {
    if (/^\S/.test(line) && !line.startsWith('packages:')) {
      if (globs.length > 0 || line.trim()) break;
    }
    const m = /^\s+-\s+['"]?([^'"\s]+)['"]?\s*$/.exec(line);
    if (m) globs.push(m[1]);
  }
  const dirs = [];
  for (const g of globs) {
    if (g.endsWith('/*')) {
      const parent = join(repo, g.slice(0, -2));
      if (!existsSync(parent)) continue;
      for (const e of readdirSync(parent, { withFileTypes: true })) if (e.isDirectory()) dirs.push(join(parent, e.name));
    } else dirs.push(join(repo, g));
  }
  return dirs.filter((d) => {
    const file = join(d, 'package.json');
    return existsSync(file) && JSON.parse(readFileSync(file, 'utf8')).scripts?.test;
  });
}

const MESSAGE_LINES = 12;
// The head of a failure message, indented under the test's name, without colours.
function messageHead(messages) {
  const text = stripVTControlCharacters((messages ?? []).join('\n'));
  const lines = text.split('\n').filter((l) => l.trim());
  const head = lines.slice(0, MESSAGE_LINES).map((l) => `      ${l.length > 300 ? `${l.slice(0, 300)}…` : l}`);
  if (lines.length > MESSAGE_LINES) head.push(`      … ${lines.length - MESSAGE_LINES} more lines in the report`);
  return head.length > 0 ? `\n${head.join('\n')}` : '';
}

let passed = 0;
let skipped = 0;
const failed = [];
for (const dir of workspacePackages()) {
  const name = relative(repo, dir);
  const report = join(dir, '.test-results/vitest.json');
  if (!existsSync(report)) {
    failed.push(`${name}: no test report (its test run crashed or did not run; see its output above)`);
    continue;
  }
  const data = JSON.parse(readFileSync(report, 'utf8'));
  const before = failed.length;
  for (const file of data.testResults ?? []) {
    const fileName = relative(repo, file.name);
    const results = file.assertionResults ?? [];
    if (file.status === 'failed' && !results.some((r) => r.status === 'failed')) {
      const why = String(file.message ?? '').split('\n').find((l) => l.trim()) ?? 'failed';
      failed.push(`${fileName}: ${why.trim()}`);
    }
    for (const r of results) {
      if (r.status === 'passed') passed++;
      else if (r.status === 'failed') failed.push(`${fileName} > ${r.fullName}${messageHead(r.failureMessages)}`);
      else skipped++;
    }
  }
  // vitest failed the run without a failing test: no test files, an unhandled error, …
  if (data.success === false && failed.length === before) failed.push(`${name}: vitest failed outside any test (see its output above)`);
}
for (const step of stepFailures) failed.push(`${step} failed (see its output above)`);

if (failed.length > 0) {
  console.log(`\nFailed (${failed.length}):`);
  for (const f of failed) console.log(`  ${f}`);
}
console.log(`tests: ${passed} passed, ${failed.length} failed, ${skipped} skipped`);
process.exit(failed.length > 0 ? 1 : 0);
