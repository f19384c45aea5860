import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { App } from '../cli.js';
import { bashCompletion, zshCompletion } from './completion.js';

const app: App = {
  name: 'tool',
  version: '1',
  versionLine: 'tool 1',
  usage: 'a tool',
  flags: [{ name: 'namespace', aliases: ['n'], type: 'string', usage: 'namespace' }],
  subcommands: [
    {
      name: 'images',
      aliases: ['i'],
      usage: 'images',
      subcommands: [
        { name: 'list', aliases: ['ls'], usage: 'list', table: true, flags: [{ name: 'quiet', aliases: ['q'], type: 'bool', usage: 'quiet' }] },
        { name: 'import', usage: 'import', flags: [{ name: 'base-name', type: 'string', usage: 'base' }] },
      ],
    },
    { name: 'version', usage: 'print the version' },
  ],
};

const dir = mkdtempSync(join(tmpdir(), 'completion-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function complete(script: string, ...words: string[]): string[] {
  const file = join(dir, 'c.bash');
  writeFileSync(file, script);
  const out = execFileSync('bash', ['--norc', '--noprofile', '-c', `source "$0"; COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _tool; printf "%s\\n" "\${COMPREPLY[@]}"`, file, 'tool', ...words], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  return out.toString().split('\n').filter((l) => l !== '');
}

describe('completion scripts from command definitions', () => {
  const script = bashCompletion(app);

  it('is valid bash', () => {
    writeFileSync(join(dir, 'syntax.bash'), script);
    expect(() => execFileSync('bash', ['-n', join(dir, 'syntax.bash')])).not.toThrow();
  });

  it('offers subcommands by name, follows aliases, skips flag values, offers each level’s flags', () => {
    expect(complete(script, '')).toEqual(['images', 'version', 'help']);
    expect(complete(script, 'im')).toEqual(['images']);
    expect(complete(script, '-n', 'images', 'i', 'l')).toEqual(['list']);
    expect(complete(script, 'i', 'ls', '-')).toEqual(['--quiet', '-q', '--format', '--help', '-h']);
    expect(complete(script, 'images', 'import', '--base-name', 'list', '--')).toEqual(['--base-name', '--help']);
    expect(complete(script, '--')).toEqual(['--namespace', '--help', '--version']);
  });

  it('zsh runs the same function through bashcompinit', () => {
    const zsh = zshCompletion(app);
    expect(zsh.startsWith('#compdef tool\n')).toBe(true);
    expect(zsh).toContain(script);
  });
});
