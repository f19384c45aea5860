// runDaemonCommand as a process: flags, config subcommands, start and stop on SIGTERM.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { socketAnswers } from './socket.js';

const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
// The script lives in a temp dir: name this package's own copy of the contract by its path.
const pluginModule = pathToFileURL(createRequire(import.meta.url).resolve('@containerd-ts/plugin')).href;

// some cases load every plugin package (default config): seconds on a loaded machine
describe('runDaemonCommand', { timeout: 60_000 }, () => {
  let dir = '';
  let script = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'daemon-command-'));
    script = join(dir, 'mini.mjs');
    // A daemon with one plugin of its own, as a user's runtime would be.
    await writeFile(
      script,
      `import { runDaemonCommand } from ${JSON.stringify(dist)};
import { definePlugin } from ${JSON.stringify(pluginModule)};
const hello = definePlugin({ type: 'io.example.hello.v1', id: 'hello', init: () => ({}) });
await runDaemonCommand({ name: 'mini', plugins: [hello], version: { version: 'v9.9.9', revision: 'abc' }, defaultConfigPath: ${JSON.stringify(join(dir, 'none.toml'))} });
`,
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const start = (args: string[]): { child: ChildProcess; output: () => string; exited: Promise<number | null> } => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    return { child, output: () => out, exited: new Promise((r) => child.once('exit', (code) => r(code))) };
  };

  it('prints usage, version and the default config of its own plugins', async () => {
    const help = start(['--help']);
    expect(await help.exited).toBe(0);
    expect(help.output()).toContain('mini [flags] config default');
    const version = start(['--version']);
    expect(await version.exited).toBe(0);
    expect(version.output()).toBe('mini v9.9.9 abc\n');
    const bad = start(['--bogus']);
    expect(await bad.exited).toBe(1);
    expect(bad.output()).toMatch(/^mini: Unknown option '--bogus'/);
  });

  it('refuses a config with an unknown plugin section, naming it', async () => {
    const file = join(dir, 'bad.toml');
    await writeFile(file, 'version = 2\n[plugins."io.example.nope.v1.nope"]\n  x = 1\n');
    const r = start(['--config', file]);
    expect(await r.exited).toBe(1);
    expect(r.output()).toContain('io.example.nope.v1.nope');
  });

  it('serves on --address until SIGTERM, then removes its socket and exits 0', async () => {
    const socket = join(dir, 'mini.sock');
    const r = start(['--root', join(dir, 'root'), '--state', join(dir, 'state'), '--address', socket]);
    for (let i = 0; i < 200 && !(await socketAnswers(socket, 100)); i++) await new Promise((res) => setTimeout(res, 25));
    expect(await socketAnswers(socket, 100)).toBe(true);
    r.child.kill('SIGTERM');
    expect(await r.exited).toBe(0);
    expect(existsSync(socket)).toBe(false);
    expect(r.output()).toContain('received signal, stopping');
  }, 20_000);
});
