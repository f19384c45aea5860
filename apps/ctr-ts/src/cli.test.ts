// The command framework: help text in urfave/cli v1's layout (strings taken from Debian's
// ctr 1.6.20), Go's flag parsing and its messages, urfave's reordering of a leaf's flags.
import { describe, expect, it } from 'vitest';
import { type App, type Command, ExitError, UsageError, commandHelp, goDuration, groupHelp, parseFlags, parseGoDuration, reorderArgs, runApp } from './cli.js';

const ingest: Command = {
  name: 'ingest',
  usage: 'accept content into the store',
  argsUsage: '[flags] <key>',
  description: 'ingest objects into the local content store',
  flags: [
    { name: 'expected-size', type: 'int', usage: 'validate against provided size' },
    { name: 'expected-digest', type: 'string', usage: 'verify content against expected digest' },
  ],
};

describe('help', () => {
  it('renders a command as ctr does', () => {
    expect(commandHelp(ingest, 'ctr content ingest')).toBe(
      [
        'NAME:',
        '   ctr content ingest - accept content into the store',
        '',
        'USAGE:',
        '   ctr content ingest [command options] [flags] <key>',
        '',
        'DESCRIPTION:',
        '   ingest objects into the local content store',
        '',
        'OPTIONS:',
        '   --expected-size value    validate against provided size (default: 0)',
        '   --expected-digest value  verify content against expected digest',
        '   ',
        '',
      ].join('\n'),
    );
    // No flags: no "[command options]", no OPTIONS; a tab in the description is aligned.
    expect(
      commandHelp(
        { name: 'delete', usage: 'permanently delete one or more blobs', argsUsage: '[<digest>, ...]', description: 'Delete one or more blobs permanently. Successfully deleted\n\tblobs are printed to stdout.' },
        'ctr content delete',
      ),
    ).toBe(
      'NAME:\n   ctr content delete - permanently delete one or more blobs\n\nUSAGE:\n   ctr content delete [<digest>, ...]\n\nDESCRIPTION:\n   Delete one or more blobs permanently. Successfully deleted\n  blobs are printed to stdout.\n',
    );
  });

  it('renders a group with its commands, flags, defaults and env vars', () => {
    const group: Command = {
      name: 'snapshots',
      usage: 'manage snapshots',
      flags: [{ name: 'snapshotter', type: 'string', usage: 'snapshotter name. Empty value stands for the default value.', env: 'CONTAINERD_SNAPSHOTTER' }],
      subcommands: [
        { name: 'list', aliases: ['ls'], usage: 'list snapshots' },
        { name: 'delete', aliases: ['del', 'remove', 'rm'], usage: 'remove snapshots' },
      ],
    };
    expect(groupHelp(group, 'ctr snapshots')).toBe(
      [
        'NAME:',
        '   ctr snapshots - manage snapshots',
        '',
        'USAGE:',
        '   ctr snapshots command [command options] [arguments...]',
        '',
        'COMMANDS:',
        '   list, ls                 list snapshots',
        '   delete, del, remove, rm  remove snapshots',
        '',
        'OPTIONS:',
        '   --snapshotter value  snapshotter name. Empty value stands for the default value. [$CONTAINERD_SNAPSHOTTER]',
        '   --help, -h           show help',
        '   ',
        '',
      ].join('\n'),
    );
    const leases: Command = {
      name: 'create',
      usage: 'create lease',
      flags: [{ name: 'expires', aliases: ['x'], type: 'duration', usage: 'expiration of lease (0 value will not expire)', value: 24 * 3600_000 }],
    };
    expect(commandHelp(leases, 'ctr leases create')).toContain('   --expires value, -x value  expiration of lease (0 value will not expire) (default: 24h0m0s)\n');
  });
});

describe('flag parsing', () => {
  const flags = [
    { name: 'quiet', aliases: ['q'], type: 'bool' as const, usage: '' },
    { name: 'id', type: 'string' as const, usage: '' },
    { name: 'size', type: 'int' as const, usage: '' },
    { name: 'expires', aliases: ['x'], type: 'duration' as const, usage: '', value: 1000 },
    { name: 'label', type: 'string-slice' as const, usage: '' },
  ];

  it('takes -flag, --flag, =value or the next argument, and stops at the first positional or --', () => {
    const p = parseFlags(flags, ['-q', '--id', 'a', '-size=0x10', '--label', 'a=1', '-label=b', 'pos', '--id', 'x']);
    expect(p.args).toEqual(['pos', '--id', 'x']);
    expect(p.values.get('quiet')).toBe(true);
    expect(p.values.get('q')).toBe(true);
    expect(p.values.get('id')).toBe('a');
    expect(p.values.get('size')).toBe(16);
    expect(p.values.get('label')).toEqual(['a=1', 'b']);
    expect(p.values.get('expires')).toBe(1000);
    expect(parseFlags(flags, ['--', '-q']).args).toEqual(['-q']);
    expect(parseFlags(flags, ['-', '-q']).args).toEqual(['-', '-q']);
    expect(parseFlags(flags, ['-x', '1m30s']).values.get('x')).toBe(90_000);
  });

  it("fails with Go's messages", () => {
    const fails = (args: string[]) => () => parseFlags(flags, args);
    expect(fails(['-nope'])).toThrow(new UsageError('flag provided but not defined: -nope'));
    expect(fails(['--id'])).toThrow(new UsageError('flag needs an argument: -id'));
    expect(fails(['-q=maybe'])).toThrow(new UsageError('invalid boolean value "maybe" for -q: parse error'));
    expect(fails(['--size', '1.5'])).toThrow(new UsageError('invalid value "1.5" for flag -size: parse error'));
    expect(fails(['--expires', '10'])).toThrow(new UsageError('invalid value "10" for flag -expires: parse error'));
    expect(fails(['---q'])).toThrow(new UsageError('bad flag syntax: ---q'));
  });

  it('applies env vars as defaults', () => {
    const p = parseFlags([{ name: 'snapshotter', type: 'string', usage: '', env: 'SN' }], [], { SN: 'native' });
    expect(p.values.get('snapshotter')).toBe('native');
  });

  it("moves a leaf's own flags before its positionals, as urfave does", () => {
    // As urfave's: an unknown flag right after a known one is taken for its value.
    expect(reorderArgs(flags, ['a', '--id', 'x', 'b', '-q', '-nope', 'c'])).toEqual(['--id', 'x', '-q', '-nope', 'a', 'b', 'c']);
    expect(reorderArgs(flags, ['a', '-nope', 'c'])).toEqual(['a', '-nope', 'c']);
    expect(reorderArgs(flags, ['a', '--', '-q'])).toEqual(['--', 'a', '-q']);
  });
});

describe('durations', () => {
  it("formats and parses as Go's time package", () => {
    expect(goDuration(0)).toBe('0s');
    expect(goDuration(24 * 3600_000)).toBe('24h0m0s');
    expect(goDuration(90_000)).toBe('1m30s');
    expect(goDuration(1500)).toBe('1.5s');
    expect(goDuration(0.5)).toBe('500µs');
    expect(parseGoDuration('1h2m3.5s')).toBe(3_723_500);
    expect(parseGoDuration('-.5s')).toBe(-500);
    expect(() => parseGoDuration('5')).toThrow();
    expect(() => parseGoDuration('')).toThrow();
  });
});

describe('running an app', () => {
  const calls: string[] = [];
  const app: App = {
    name: 'tool',
    usage: 'a tool',
    version: 'v1',
    versionLine: 'tool v1',
    flags: [{ name: 'namespace', aliases: ['n'], type: 'string', usage: 'namespace', value: 'default' }],
    subcommands: [
      {
        name: 'things',
        usage: 'manage things',
        subcommands: [
          {
            name: 'list',
            aliases: ['ls'],
            usage: 'list things',
            flags: [{ name: 'quiet', aliases: ['q'], type: 'bool', usage: 'quiet' }],
            table: true,
            action(ctx) {
              calls.push(`${ctx.string('namespace')} ${ctx.bool('quiet')} ${ctx.args.join(',')}`);
              ctx.table({
                header: ['NAME', 'SIZE'],
                rows: [{ name: 'a', size: 1 }],
                cells: (r) => [r.name, r.size],
                json: (r) => r,
                tabwriter: { minwidth: 1, padding: 1 },
                trailingTab: true,
              });
            },
          },
        ],
      },
    ],
  };
  const runIt = async (...argv: string[]) => {
    let out = '';
    let error: unknown;
    await runApp(app, argv, (s) => (out += s)).catch((err: unknown) => (error = err));
    return { out, error };
  };

  it('dispatches with global and leaf flags and prints tables as text or JSON', async () => {
    expect((await runIt('-n', 'ns1', 'things', 'ls', 'x', '-q')).out).toBe('NAME SIZE \na    1    \n');
    expect(calls.at(-1)).toBe('ns1 true x');
    expect((await runIt('things', 'ls', '--format', 'json')).out).toBe('[\n  {\n    "name": "a",\n    "size": 1\n  }\n]\n');
  });

  it('answers unknown commands and bad flags as urfave does', async () => {
    const unknown = await runIt('things', 'nope');
    expect(unknown.error).toEqual(new ExitError("No help topic for 'nope'", 3));
    expect((unknown.error as ExitError).exitCode).toBe(3);
    const bad = await runIt('things', 'ls', '-x');
    expect(bad.error).toEqual(new UsageError('flag provided but not defined: -x'));
    expect(bad.out).toMatch(/^Incorrect Usage: flag provided but not defined: -x\n\nNAME:\n {3}tool things list - list things\n/);
    expect((await runIt('things', '--bad')).out).toMatch(/^Incorrect Usage\. flag provided but not defined: -bad\n\nNAME:\n {3}tool things - manage things\n/);
    expect((await runIt('things')).out).toMatch(/^NAME:\n {3}tool things - manage things\n/);
    expect((await runIt('things', 'help', 'ls')).out).toMatch(/^NAME:\n {3}tool things list - list things\n/);
    expect((await runIt('--version')).out).toBe('tool v1\n');
  });
});
