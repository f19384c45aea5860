// The framework features `run`, `containers create` and `tasks exec` need: float flags, a
// backquoted placeholder in the usage, flags that must be given, flags after the first
// positional left as arguments (SkipArgReorder), and which flags were given (IsSet).
import { describe, expect, it } from 'vitest';
import { type App, type Command, commandHelp, flagHelpLine, parseFlags, runApp } from './cli.js';

describe('run flags', () => {
  it('prints a float default and a backquoted placeholder as urfave does', () => {
    expect(flagHelpLine({ name: 'cpus', type: 'float', usage: 'set the CFS cpu quota', value: 0 })).toBe('--cpus value\tset the CFS cpu quota (default: 0)');
    expect(
      flagHelpLine({
        name: 'uidmap',
        type: 'string',
        usage: 'run inside a user namespace with the specified UID mapping range; specified with the format `container-uid:host-uid:length`',
      }),
    ).toBe('--uidmap container-uid:host-uid:length\trun inside a user namespace with the specified UID mapping range; specified with the format container-uid:host-uid:length');
  });

  it('parses floats and rejects what is not one', () => {
    const flags = [{ name: 'cpus', type: 'float' as const, usage: '' }];
    expect(parseFlags(flags, ['--cpus', '1.5']).values.get('cpus')).toBe(1.5);
    expect(parseFlags(flags, ['--cpus=.25']).values.get('cpus')).toBe(0.25);
    expect(() => parseFlags(flags, ['--cpus', 'x'])).toThrow('invalid value "x" for flag -cpus: parse error');
  });

  it('knows which flags were given, bool flags included', () => {
    const flags = [
      { name: 'allow-new-privs', type: 'bool' as const, usage: '' },
      { name: 'cgroup', type: 'string' as const, usage: '' },
      { name: 'tty', aliases: ['t'], type: 'bool' as const, usage: '' },
    ];
    const given = parseFlags(flags, ['--allow-new-privs', '-t', 'x']).given;
    expect([...(given ?? [])].sort()).toEqual(['allow-new-privs', 't', 'tty']);
    expect(parseFlags(flags, ['--cgroup=', 'x']).given?.has('cgroup')).toBe(true);
  });

  const seen: string[][] = [];
  const exec: Command = {
    name: 'exec',
    usage: 'execute additional processes in an existing container',
    argsUsage: '[flags] CONTAINER CMD [ARG...]',
    skipArgReorder: true,
    flags: [
      { name: 'exec-id', type: 'string', usage: 'exec specific id for the process', required: true },
      { name: 'tty', aliases: ['t'], type: 'bool', usage: 'allocate a TTY for the container' },
    ],
    action: (ctx) => {
      seen.push([...ctx.args, `tty=${ctx.bool('tty')}`]);
    },
  };
  const app: App = { name: 'ctr', usage: '', version: '1', versionLine: 'ctr 1', subcommands: [exec] };

  it('leaves flags after the first positional to the command it runs', async () => {
    await runApp(app, ['exec', '--exec-id', 'e1', 'c1', 'sh', '-t', '-c', 'true'], () => {});
    expect(seen.at(-1)).toEqual(['c1', 'sh', '-t', '-c', 'true', 'tty=false']);
  });

  it('fails without a required flag after printing the help', async () => {
    let out = '';
    await expect(runApp(app, ['exec', 'c1', 'true'], (s) => (out += s))).rejects.toThrow('Required flag "exec-id" not set');
    expect(out).toBe(commandHelp(exec, 'ctr exec'));
  });
});
