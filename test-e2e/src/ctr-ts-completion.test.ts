// Issue 11: `ctr-ts completion bash|zsh`. The bash script is valid (`bash -n`) and, run by
// bash as programmable completion runs it, completes every command and every flag that
// ctr-ts's own --help lists, at every level of the command tree, through aliases and flag
// values typed before the word being completed.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ctrTs, run } from './harness.js';

/** Runs `fn` on every item, at most `limit` at once. */
async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Runs a non-interactive bash. `--norc`: bash sources ~/.bashrc (and /etc/bash.bashrc) for
 * `bash -c` when its stdin is a socket and SHLVL is unset, taking itself to be started by rshd —
 * and Node gives a child's stdin as a socket, while turbo and `env -i` leave SHLVL out. On this
 * machine that rc ran `pyenv rehash`, which waits on a lock the concurrent shells hold: the
 * tests hung for minutes in CI and never in a terminal.
 */
const bash = (args: readonly string[]) => run('bash', ['--norc', '--noprofile', ...args], { input: '' });

/** The names of the COMMANDS and the flags of the OPTIONS of a help text. */
function helpListing(help: string): { commands: string[]; flags: string[] } {
  const section = (title: string) => (help.split(`\n${title}:\n`)[1] ?? '').split('\n\n')[0]!.split('\n').filter((l) => l.trim() !== '');
  const commands = section('COMMANDS').map((l) => l.trim().split(/ {2,}/)[0]!.split(', ')[0]!);
  const options = [...section('OPTIONS'), ...section('GLOBAL OPTIONS')];
  const flags = options.flatMap((l) =>
    l
      .trim()
      .split(/ {2,}/)[0]!
      .split(', ')
      // the name without its placeholder (`value`, or a backquoted one: `--uidmap container-uid:host-uid:length`)
      .map((f) => f.split(' ')[0]!),
  );
  return { commands, flags };
}

describe('ctr-ts completion', () => {
  let dir: string;
  let script: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ctr-ts-completion-'));
    const generated = await run(ctrTs, ['completion', 'bash']);
    expect(generated.code, generated.stderr).toBe(0);
    script = join(dir, 'ctr-ts.bash');
    await writeFile(script, generated.stdout);
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** What the completion function offers for the words (the last one is being completed). */
  async function complete(...words: string[]): Promise<string[]> {
    const r = await bash([
      '-c',
      `source "$0"; COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _ctr_ts; printf "%s\\n" "\${COMPREPLY[@]}"`,
      script,
      'ctr-ts',
      ...words,
    ]);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout.split('\n').filter((l) => l !== '');
  }

  it('the bash script is valid bash and registers the function', async () => {
    const syntax = await bash(['-n', script]);
    expect(syntax, syntax.stderr).toMatchObject({ code: 0, stderr: '' });
    const registered = await bash(['-c', 'source "$0"; complete -p ctr-ts', script]);
    expect(registered.stdout).toBe('complete -o default -F _ctr_ts ctr-ts\n');
  });

  it('completes words as a user types them', async () => {
    expect(await complete('ima')).toEqual(['images']);
    expect(await complete('images', 'ex')).toEqual(['export']);
    expect(await complete('i', 'im')).toEqual(['import']);
    expect(await complete('-n', 'ns1', '--address', '/x.sock', 'image', 'ta')).toEqual(['tag']);
    expect(await complete('images', 'import', '--base-name', 'foo', '--comp')).toEqual(['--compress-blobs']);
    expect(await complete('pprof', '-d', '/run/debug.sock', 'he')).toEqual(['heap']);
    expect(await complete('pprof', 'profile', '--s')).toEqual(['--seconds']);
    expect(await complete('comp')).toEqual(['completion']);
    // After a flag that takes a value, and for a command's arguments: file names.
    expect(await complete('images', 'import', join(dir, 'ctr-ts.b'))).toEqual([script]);
    expect(await complete('--address', join(dir, 'ctr-'))).toEqual([script]);
  });

  it('every command and flag --help lists completes, at every level', async () => {
    let level: string[][] = [[]];
    let checked = 0;
    while (level.length > 0) {
      const next: string[][] = [];
      // One level of the tree at a time, 4 commands at once (a level has ~60: all at once, each
      // a node and two bash processes, starved one another past run()'s 60 s on a busy CI machine).
      await mapLimit(
        level,
        4,
        async (path) => {
          const help = await run(ctrTs, [...path, '--help']);
          expect(help.code, `${path.join(' ')}: ${help.stderr}`).toBe(0);
          const { commands, flags } = helpListing(help.stdout);
          const offered = await complete(...path, '');
          for (const c of commands) expect(offered, `ctr-ts ${path.join(' ')} <TAB>`).toContain(c);
          const offeredFlags = await complete(...path, '-');
          for (const f of flags) expect(offeredFlags, `ctr-ts ${path.join(' ')} -<TAB>`).toContain(f);
          checked += commands.length + flags.length;
          for (const c of commands) if (c !== 'help') next.push([...path, c]);
        },
      );
      level = next;
    }
    expect(checked).toBeGreaterThan(150);
  }, 300_000);

  it('zsh gets the same completion through bashcompinit; other shells are refused in one line', async () => {
    const zsh = await run(ctrTs, ['completion', 'zsh']);
    expect(zsh.code).toBe(0);
    expect(zsh.stdout.split('\n')[0]).toBe('#compdef ctr-ts');
    expect(zsh.stdout).toContain('bashcompinit');
    expect(zsh.stdout).toContain('complete -o default -F _ctr_ts ctr-ts\n');
    expect(await run(ctrTs, ['completion', 'fish'])).toMatchObject({ code: 1, stdout: '', stderr: 'ctr-ts: unsupported shell "fish": bash or zsh\n' });
    expect(await run(ctrTs, ['completion'])).toMatchObject({ code: 1, stdout: '', stderr: 'ctr-ts: please provide a shell: bash or zsh\n' });
  });
});
