// A small declarative command framework with the behaviour of urfave/cli v1 as ctr uses it:
// help in its exact format (NAME/USAGE/DESCRIPTION/COMMANDS/OPTIONS through a tabwriter),
// flags parsed as Go's flag package parses them (`-flag`/`--flag`, `=value` or the next
// argument, bool flags, parsing stops at the first positional or `--`), flags moved before
// the positionals of a leaf command as urfave does, and its error messages and exit codes.
import { TabWriter } from './tabwriter.js';

export type FlagType = 'bool' | 'string' | 'int' | 'float' | 'duration' | 'string-slice';
export type FlagValue = boolean | string | number | string[];

export interface Flag {
  name: string;
  aliases?: string[];
  type: FlagType;
  usage: string;
  /** Default: a string, a number (int; milliseconds for a duration) or a list of strings. */
  value?: string | number | string[];
  /** Environment variable that sets the default. */
  env?: string;
  /** The command fails with its help and `Required flag "<name>" not set` without it. */
  required?: boolean;
}

export interface Command {
  name: string;
  aliases?: string[];
  /** One line, shown in the parent's COMMANDS list and after the name. */
  usage: string;
  argsUsage?: string;
  description?: string;
  flags?: Flag[];
  subcommands?: Command[];
  /** Flags after the first positional are arguments, not flags (urfave's SkipArgReorder). */
  skipArgReorder?: boolean;
  /** The command prints a table: it gets `--format table|json` and prints through `ctx.table`. */
  table?: boolean;
  action?: (ctx: Context) => Promise<void> | void;
}

export interface App extends Command {
  version: string;
  /** Printed by --version. */
  versionLine: string;
}

/** A usage error: `Incorrect Usage…` and the help on stdout, `<app>: <message>` on stderr, exit 1. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** An error with its own exit status, printed as is on stderr (urfave's ExitError). */
export class ExitError extends Error {
  override name = 'ExitError';
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export const HELP_FLAG: Flag = { name: 'help', aliases: ['h'], type: 'bool', usage: 'show help' };
const VERSION_FLAG: Flag = { name: 'version', aliases: ['v'], type: 'bool', usage: 'print the version' };
export const FORMAT_FLAG: Flag = { name: 'format', type: 'string', usage: 'output format: table or json', value: 'table' };
const HELP_COMMAND: Command = { name: 'help', aliases: ['h'], usage: 'Shows a list of commands or help for one command', argsUsage: '[command]' };

const namesOf = (c: { name: string; aliases?: string[] }) => [c.name, ...(c.aliases ?? [])];

/** time.Duration.String() of a duration in milliseconds. */
export function goDuration(ms: number): string {
  let ns = Math.round(ms * 1e6);
  const sign = ns < 0 ? '-' : '';
  ns = Math.abs(ns);
  if (ns === 0) return '0s';
  const trim = (v: number) => String(Number(v.toFixed(9)));
  if (ns < 1e3) return `${sign}${ns}ns`;
  if (ns < 1e6) return `${sign}${trim(ns / 1e3)}µs`;
  if (ns < 1e9) return `${sign}${trim(ns / 1e6)}ms`;
  const h = Math.floor(ns / 3.6e12);
  const m = Math.floor((ns % 3.6e12) / 6e10);
  const s = `${trim((ns % 6e10) / 1e9)}s`;
  if (h > 0) return `${sign}${h}h${m}m${s}`;
  if (m > 0) return `${sign}${m}m${s}`;
  return `${sign}${s}`;
}

/** time.ParseDuration, in milliseconds; throws on bad syntax. */
export function parseGoDuration(text: string): number {
  const m = /^([-+]?)(.*)$/.exec(text)!;
  const body = m[2]!;
  if (body === '0') return 0;
  if (body === '') throw new Error(`time: invalid duration ${JSON.stringify(text)}`);
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, μs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let total = 0;
  let at = 0;
  while (at < body.length) {
    re.lastIndex = at;
    const part = re.exec(body);
    if (!part) throw new Error(`time: invalid duration ${JSON.stringify(text)}`);
    total += Number(part[1]) * units[part[2]!]!;
    at = re.lastIndex;
  }
  return m[1] === '-' ? -total : total;
}

const parseGoBool = (v: string): boolean | undefined =>
  ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v) ? true : ['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v) ? false : undefined;

/** strconv.ParseInt(v, 0, 64) for the values a flag takes (decimal, 0x, 0o, 0b, leading 0 octal). */
function parseGoInt(v: string): number | undefined {
  const m = /^([+-]?)(0[xX][0-9a-fA-F_]+|0[oO]?[0-7_]+|0[bB][01_]+|[1-9][0-9_]*|0)$/.exec(v);
  if (!m) return undefined;
  let digits = m[2]!.replaceAll('_', '');
  if (/^0[0-7]+$/.test(digits)) digits = `0o${digits.slice(1)}`;
  const n = Number(digits);
  if (!Number.isSafeInteger(n)) return undefined;
  return m[1] === '-' ? -n : n;
}

/** One flag as urfave prints it in OPTIONS: names, placeholder, usage, default, env var. */
export function flagHelpLine(f: Flag): string {
  // urfave's unquoteUsage: a `name` in backquotes is the placeholder, printed without them.
  const quoted = /`([^`]*)`/.exec(f.usage);
  const usage = quoted ? f.usage.replace(/`/g, '') : f.usage;
  const placeholder = f.type === 'bool' ? '' : ` ${quoted ? quoted[1] : 'value'}`;
  const names = namesOf(f)
    .map((n) => `${n.length === 1 ? '-' : '--'}${n}${placeholder}`)
    .join(', ');
  let def = '';
  if (f.type === 'string-slice') {
    const vals = ((f.value as string[] | undefined) ?? []).filter((s) => s !== '');
    if (vals.length > 0) def = ` (default: ${vals.map((s) => JSON.stringify(s)).join(', ')})`;
  } else if (f.type === 'string') {
    if (f.value !== undefined && f.value !== '') def = ` (default: ${JSON.stringify(f.value)})`;
  } else if (f.type === 'int' || f.type === 'float') def = ` (default: ${(f.value as number | undefined) ?? 0})`;
  else if (f.type === 'duration') def = ` (default: ${goDuration((f.value as number | undefined) ?? 0)})`;
  const env = f.env ? ` [$${f.env}]` : '';
  return `${names}\t${`${usage}${def}`.trim()}${env}`;
}

const flagsOf = (c: Command): Flag[] => [...(c.flags ?? []), ...(c.table ? [FORMAT_FLAG] : [])];

/** The help of a command with subcommands (urfave's SubcommandHelpTemplate). */
export function groupHelp(c: Command, helpName: string): string {
  const w = new TabWriter(1, 2);
  w.write(`NAME:\n   ${helpName} - ${c.description || c.usage}\n\nUSAGE:\n   ${helpName} command [command options] ${c.argsUsage || '[arguments...]'}\n\nCOMMANDS:`);
  for (const s of c.subcommands ?? []) w.write(`\n   ${namesOf(s).join(', ')}\t${s.usage}`);
  w.write('\n\nOPTIONS:\n   ');
  for (const f of [...flagsOf(c), HELP_FLAG]) w.write(`${flagHelpLine(f)}\n   `);
  w.write('\n');
  return w.flush();
}

/** The help of one command (urfave's CommandHelpTemplate). */
export function commandHelp(c: Command, helpName: string): string {
  const flags = flagsOf(c);
  const w = new TabWriter(1, 2);
  w.write(`NAME:\n   ${helpName} - ${c.usage}\n\nUSAGE:\n   ${helpName}${flags.length > 0 ? ' [command options]' : ''} ${c.argsUsage || '[arguments...]'}`);
  if (c.description) w.write(`\n\nDESCRIPTION:\n   ${c.description}`);
  if (flags.length > 0) {
    w.write('\n\nOPTIONS:\n   ');
    for (const f of flags) w.write(`${flagHelpLine(f)}\n   `);
  }
  w.write('\n');
  return w.flush();
}

/** The application's help (urfave's AppHelpTemplate), with the help command and flags. */
export function appHelp(app: App): string {
  const w = new TabWriter(1, 2);
  w.write(`NAME:\n   ${app.name}${app.usage ? ` - ${app.usage}` : ''}\n\nUSAGE:\n   ${app.name} [global options] command [command options] ${app.argsUsage || '[arguments...]'}`);
  w.write(`\n\nVERSION:\n   ${app.version}`);
  if (app.description) w.write(`\n\nDESCRIPTION:\n   ${app.description}`);
  w.write('\n\nCOMMANDS:');
  for (const s of [...(app.subcommands ?? []), HELP_COMMAND]) w.write(`\n   ${namesOf(s).join(', ')}\t${s.usage}`);
  w.write('\n\nGLOBAL OPTIONS:\n   ');
  w.write([...flagsOf(app), HELP_FLAG, VERSION_FLAG].map(flagHelpLine).join('\n   '));
  w.write('\n');
  return w.flush();
}

interface Parsed {
  values: Map<string, FlagValue>;
  args: string[];
  /** Names (and aliases) of the flags given on the command line. */
  given?: Set<string>;
}

/** urfave's reorderArgs: the command's own flags (and the value after each) go first. */
export function reorderArgs(flags: readonly Flag[], args: readonly string[]): string[] {
  const isFlag = (arg: string) => {
    if (arg === '-' || arg === '--' || !arg.startsWith('-')) return false;
    let name = arg.startsWith('--') ? arg.replace('-', '').replace('-', '') : arg;
    if (name.startsWith('-')) name = name.replace('-', '');
    name = name.split('=')[0]!;
    return flags.some((f) => namesOf(f).includes(name));
  };
  const reordered: string[] = [];
  let remaining: string[] = [];
  let nextMayBeValue = false;
  for (const [i, arg] of args.entries()) {
    if (nextMayBeValue && !isFlag(arg)) {
      nextMayBeValue = false;
      reordered.push(arg);
    } else if (arg === '--') {
      remaining = ['--', ...remaining, ...args.slice(i + 1)];
      break;
    } else if (isFlag(arg)) {
      reordered.push(arg);
      nextMayBeValue = !arg.includes('=');
    } else remaining.push(arg);
  }
  return [...reordered, ...remaining];
}

/** Go's flag.FlagSet.Parse over `flags` (env vars and defaults applied first). */
export function parseFlags(flags: readonly Flag[], argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Parsed {
  const byName = new Map<string, Flag>();
  for (const f of flags) for (const n of namesOf(f)) byName.set(n, f);
  const values = new Map<string, FlagValue>();
  const setAll = (f: Flag, v: FlagValue) => {
    for (const n of namesOf(f)) values.set(n, v);
  };
  for (const f of flags) {
    const fromEnv = f.env === undefined ? undefined : env[f.env];
    let v: FlagValue;
    switch (f.type) {
      case 'bool':
        v = fromEnv !== undefined && fromEnv !== '' ? (parseGoBool(fromEnv) ?? false) : false;
        break;
      case 'string':
        v = fromEnv ?? (f.value as string | undefined) ?? '';
        break;
      case 'int': {
        const n = fromEnv !== undefined && fromEnv !== '' ? parseGoInt(fromEnv) : undefined;
        if (fromEnv !== undefined && fromEnv !== '' && n === undefined) throw new UsageError(`could not parse ${JSON.stringify(fromEnv)} as int value for flag ${f.name}: parse error`);
        v = n ?? (f.value as number | undefined) ?? 0;
        break;
      }
      case 'float':
        v = fromEnv !== undefined && fromEnv !== '' && Number.isFinite(Number(fromEnv)) ? Number(fromEnv) : ((f.value as number | undefined) ?? 0);
        break;
      case 'duration':
        if (fromEnv !== undefined && fromEnv !== '') {
          try {
            v = parseGoDuration(fromEnv);
          } catch (err) {
            throw new UsageError(`could not parse ${JSON.stringify(fromEnv)} as duration value for flag ${f.name}: ${(err as Error).message}`);
          }
        } else v = (f.value as number | undefined) ?? 0;
        break;
      case 'string-slice':
        v = fromEnv !== undefined && fromEnv !== '' ? fromEnv.split(',').map((s) => s.trim()) : [...((f.value as string[] | undefined) ?? [])];
        break;
    }
    setAll(f, v);
  }
  const given = new Set<Flag>();
  const args = [...argv];
  while (args.length > 0) {
    const s = args[0]!;
    if (s.length < 2 || s[0] !== '-') break;
    let minuses = 1;
    if (s[1] === '-') {
      minuses = 2;
      if (s.length === 2) {
        args.shift();
        break;
      }
    }
    let name = s.slice(minuses);
    if (name.length === 0 || name[0] === '-' || name[0] === '=') throw new UsageError(`bad flag syntax: ${s}`);
    args.shift();
    let value: string | undefined;
    const eq = name.indexOf('=', 1);
    if (eq > 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    const f = byName.get(name);
    if (!f) {
      if (name === 'help' || name === 'h') throw new UsageError('flag: help requested');
      throw new UsageError(`flag provided but not defined: -${name}`);
    }
    if (f.type === 'bool') {
      const b = value === undefined ? true : parseGoBool(value);
      if (b === undefined) throw new UsageError(`invalid boolean value ${JSON.stringify(value)} for -${name}: parse error`);
      setAll(f, b);
      given.add(f);
      continue;
    }
    if (value === undefined) {
      if (args.length === 0) throw new UsageError(`flag needs an argument: -${name}`);
      value = args.shift()!;
    }
    const invalid = () => new UsageError(`invalid value ${JSON.stringify(value)} for flag -${name}: parse error`);
    switch (f.type) {
      case 'string':
        setAll(f, value);
        break;
      case 'int': {
        const n = parseGoInt(value);
        if (n === undefined) throw invalid();
        setAll(f, n);
        break;
      }
      case 'float': {
        const n = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(value) ? Number(value) : Number.NaN;
        if (Number.isNaN(n)) throw invalid();
        setAll(f, n);
        break;
      }
      case 'duration':
        try {
          setAll(f, parseGoDuration(value));
        } catch {
          throw invalid();
        }
        break;
      case 'string-slice': {
        // The first value given replaces the env var's; later ones add to it.
        const prev = given.has(f) ? (values.get(f.name) as string[]) : [];
        setAll(f, [...prev, value]);
        break;
      }
    }
    given.add(f);
  }
  return { values, args, given: new Set([...given].flatMap(namesOf)) };
}

/** A table as ctr prints it, and the rows as JSON objects for `--format json`. */
export interface Table<R> {
  header: string[];
  rows: readonly R[];
  cells: (row: R) => Array<string | number>;
  json: (row: R) => Record<string, unknown>;
  /** text/tabwriter's settings: minwidth, tabwidth, padding, padchar. */
  tabwriter: { minwidth: number; padding: number; padchar?: ' ' | '\t'; tabwidth?: number };
  /** Each line ends with a tab (the last column is aligned too), as most ctr tables do. */
  trailingTab: boolean;
}

export class Context {
  constructor(
    readonly app: App,
    readonly command: Command,
    readonly helpName: string,
    readonly args: string[],
    private readonly values: Map<string, FlagValue>,
    readonly parent: Context | undefined,
    readonly out: (s: string) => void,
    private readonly given: Set<string> = new Set(),
  ) {}

  /** Whether the flag was given on this command's command line (urfave's IsSet). */
  isSet(name: string): boolean {
    return this.given.has(name);
  }

  /** A flag of this command or, failing that, of the nearest enclosing command that has it. */
  private lookup(name: string): FlagValue | undefined {
    return this.values.get(name) ?? this.parent?.lookup(name);
  }

  bool(name: string): boolean {
    return this.lookup(name) === true;
  }
  string(name: string): string {
    const v = this.lookup(name);
    return typeof v === 'string' ? v : '';
  }
  /** An int flag; a duration flag in milliseconds. */
  number(name: string): number {
    const v = this.lookup(name);
    return typeof v === 'number' ? v : 0;
  }
  strings(name: string): string[] {
    const v = this.lookup(name);
    return Array.isArray(v) ? v : [];
  }

  /** The command's help on stdout (urfave's ShowSubcommandHelp from an action). */
  showHelp(): void {
    this.out(this.command.subcommands ? groupHelp(this.command, this.helpName) : commandHelp(this.command, this.helpName));
  }

  /** Prints a table as text, or as a JSON array of one object per row with `--format json`. */
  table<R>(t: Table<R>): void {
    const format = this.string('format') || 'table';
    if (format === 'json') {
      this.out(`${JSON.stringify(t.rows.map(t.json), null, 2)}\n`);
      return;
    }
    const end = t.trailingTab ? '\t\n' : '\n';
    const w = new TabWriter(t.tabwriter.minwidth, t.tabwriter.padding, t.tabwriter.padchar ?? ' ', t.tabwriter.tabwidth ?? 8);
    w.write(`${t.header.join('\t')}${end}`);
    for (const r of t.rows) w.write(`${t.cells(r).join('\t')}${end}`);
    this.out(w.flush());
  }
}

/** Runs `app` on the arguments after the program name, as urfave's App.Run. */
export async function runApp(app: App, argv: readonly string[], out: (s: string) => void): Promise<void> {
  const flags = [...flagsOf(app), HELP_FLAG, VERSION_FLAG];
  let parsed: Parsed;
  try {
    parsed = parseFlags(flags, argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    out(`Incorrect Usage. ${err.message}\n\n${appHelp(app)}`);
    throw err;
  }
  const root = new Context(app, app, app.name, parsed.args, parsed.values, undefined, out);
  if (root.bool('help')) return out(appHelp(app));
  if (root.bool('version')) return out(`${app.versionLine}\n`);
  await dispatch(root, app, parsed.args, app.name, true);
}

function helpTopic(ctx: Context, commands: readonly Command[], name: string | undefined, parentHelp: () => string, helpName: string): void {
  if (name === undefined) {
    ctx.out(parentHelp());
    return;
  }
  const c = commands.find((s) => namesOf(s).includes(name));
  if (!c) throw new ExitError(`No help topic for '${name}'`, 3);
  ctx.out(commandHelp(c, `${helpName} ${c.name}`));
}

/** Runs the subcommand named by args[0] of `group`, or its help. */
async function dispatch(ctx: Context, group: Command, args: string[], helpName: string, isApp: boolean): Promise<void> {
  const subs = group.subcommands ?? [];
  const help = () => (isApp ? appHelp(ctx.app) : groupHelp(group, helpName));
  const [name, ...rest] = args;
  if (name === undefined) return ctx.out(help());
  const c = subs.find((s) => namesOf(s).includes(name));
  if (!c) {
    if (name === 'help' || name === 'h') return helpTopic(ctx, subs, rest[0], help, helpName);
    throw new ExitError(`No help topic for '${name}'`, 3);
  }
  return runCommand(ctx, c, rest, `${helpName} ${c.name}`);
}

async function runCommand(parent: Context, c: Command, argv: string[], helpName: string): Promise<void> {
  const flags = [...flagsOf(c), HELP_FLAG];
  const isGroup = c.subcommands !== undefined;
  const help = () => (isGroup ? groupHelp(c, helpName) : commandHelp(c, helpName));
  let parsed: Parsed;
  try {
    parsed = parseFlags(flags, isGroup || c.skipArgReorder ? argv : reorderArgs(flags, argv));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    parent.out(`${isGroup ? 'Incorrect Usage.' : 'Incorrect Usage:'} ${err.message}\n\n${help()}`);
    throw err;
  }
  const ctx = new Context(parent.app, c, helpName, parsed.args, parsed.values, parent, parent.out, parsed.given);
  if (ctx.bool('help')) return ctx.out(help());
  // urfave's checkRequiredFlags: the help, then the missing flags as the error.
  const missing = flags.filter((f) => f.required && !ctx.isSet(f.name)).map((f) => f.name);
  if (missing.length > 0) {
    ctx.out(help());
    throw new Error(missing.length === 1 ? `Required flag "${missing[0]}" not set` : `Required flags "${missing.join(', ')}" not set`);
  }
  if (c.table) {
    const format = parsed.values.get('format');
    if (format !== 'table' && format !== 'json') throw new UsageError(`unknown format ${JSON.stringify(format)}: table or json`);
  }
  if (isGroup && !c.action) return dispatch(ctx, c, parsed.args, helpName, false);
  if (!c.action) return ctx.out(help());
  await c.action(ctx);
}
