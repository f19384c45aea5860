// ctr's registry flags (commands.RegistryFlags) and GetResolver: credentials from --user
// (the password asked for when it is missing) or --refresh, --plain-http, the default TLS
// settings (--skip-verify, --tlscacert, --tlscert/--tlskey) and --hosts-dir.
import { readFile } from 'node:fs/promises';
import type { ConnectionInfo, RegistryOptions, RegistryUse, TlsOptions } from '@containerd-ts/client';
import type { Context, Flag } from './cli.js';
import { CommandError, globalOptions } from './context.js';
import { LogrusWriter, logLine } from './log.js';

/**
 * ctr's log.G(ctx).Writer() behind each DebugTransport: one per configuration of the hosts
 * (a resolve, the fetches, a push), kept for the process (a line can span two dumps of one
 * writer; what is left unfinished at the end is never written, as in ctr).
 */
const writers = new Map<RegistryUse, LogrusWriter>();
const dumpWriter = () => (dump: Buffer, use: RegistryUse) => {
  let w = writers.get(use);
  if (!w) {
    w = new LogrusWriter();
    writers.set(use, w);
  }
  w.write(dump);
};

/** ctr 1.6's RegistryFlags, in its order and words. */
export const REGISTRY_FLAGS: Flag[] = [
  { name: 'skip-verify', aliases: ['k'], type: 'bool', usage: 'skip SSL certificate validation' },
  { name: 'plain-http', type: 'bool', usage: 'allow connections using plain HTTP' },
  { name: 'user', aliases: ['u'], type: 'string', usage: 'user[:password] Registry user and password' },
  { name: 'refresh', type: 'string', usage: 'refresh token for authorization server' },
  { name: 'hosts-dir', type: 'string', usage: 'Custom hosts configuration directory' },
  { name: 'tlscacert', type: 'string', usage: 'path to TLS root CA' },
  { name: 'tlscert', type: 'string', usage: 'path to TLS client certificate' },
  { name: 'tlskey', type: 'string', usage: 'path to TLS client key' },
  { name: 'http-dump', type: 'bool', usage: 'dump all HTTP request/responses when interacting with container registry' },
  { name: 'http-trace', type: 'bool', usage: 'enable HTTP tracing for registry interactions' },
];

/** Go's os error text for a failed read (`open <path>: no such file or directory`). */
function goOpenError(path: string, err: NodeJS.ErrnoException): string {
  const text: Record<string, string> = { ENOENT: 'no such file or directory', EACCES: 'permission denied', EISDIR: 'is a directory' };
  return `open ${path}: ${text[err.code ?? ''] ?? err.message}`;
}

/**
 * Writes `prompt`, then reads one line from the terminal without echo (console.DisableEcho;
 * echo is off before the prompt shows), or from stdin when it is no terminal.
 */
async function readPassword(prompt: string): Promise<string> {
  const stdin = process.stdin;
  const tty = stdin.isTTY === true;
  if (tty) stdin.setRawMode(true);
  process.stdout.write(prompt);
  stdin.resume();
  try {
    return await new Promise<string>((resolve, reject) => {
      let line = '';
      const done = (err?: Error) => {
        stdin.off('data', onData);
        stdin.off('end', onEnd);
        if (err) reject(err);
        else resolve(line);
      };
      const onData = (chunk: Buffer) => {
        for (const ch of chunk.toString('utf8')) {
          if (ch === '\r' || ch === '\n') return done();
          if (tty && ch === '\u0003') return done(new Error('failed to read line: interrupted'));
          if (tty && (ch === '\u007f' || ch === '\b')) {
            line = line.slice(0, -1);
            continue;
          }
          line += ch;
        }
      };
      const onEnd = () => (line === '' ? done(new Error('failed to read line: EOF')) : done());
      stdin.on('data', onData);
      stdin.on('end', onEnd);
    });
  } finally {
    if (tty) stdin.setRawMode(false);
    stdin.pause();
  }
}

/** ctr's resolverDefaultTLS: the TLS settings of hosts without their own. */
async function defaultTls(ctx: Context): Promise<TlsOptions> {
  const tls: TlsOptions = {};
  if (ctx.bool('skip-verify')) tls.insecureSkipVerify = true;
  const caPath = ctx.string('tlscacert');
  if (caPath !== '') {
    let data: Buffer;
    try {
      data = await readFile(caPath);
    } catch (err) {
      throw new CommandError(`failed to read ${JSON.stringify(caPath)}: ${goOpenError(caPath, err as NodeJS.ErrnoException)}`);
    }
    if (!data.includes('-----BEGIN CERTIFICATE-----')) throw new CommandError(`failed to load TLS CAs from ${JSON.stringify(caPath)}: invalid data`);
    // A new pool with this CA only, as ctr makes it.
    tls.ca = [data];
  }
  const certPath = ctx.string('tlscert');
  const keyPath = ctx.string('tlskey');
  if (certPath !== '' || keyPath !== '') {
    if (certPath === '' || keyPath === '') throw new CommandError('flags --tlscert and --tlskey must be set together');
    const failed = (why: string) => new CommandError(`failed to load TLS client credentials (cert=${JSON.stringify(certPath)}, key=${JSON.stringify(keyPath)}): ${why}`);
    let cert: Buffer;
    let key: Buffer;
    try {
      cert = await readFile(certPath);
    } catch (err) {
      throw failed(goOpenError(certPath, err as NodeJS.ErrnoException));
    }
    try {
      key = await readFile(keyPath);
    } catch (err) {
      throw failed(goOpenError(keyPath, err as NodeJS.ErrnoException));
    }
    if (!cert.includes('CERTIFICATE-----')) throw failed('tls: failed to find any PEM data in certificate input');
    if (!key.includes('PRIVATE KEY-----')) throw failed('tls: failed to find any PEM data in key input');
    tls.certs = [{ cert, key }];
  }
  return tls;
}

/**
 * GetResolver: the registry options of `images pull/push`. `--user name` without a password
 * asks for it (`Password: ` on stdout, read without echo on a terminal, else a line of stdin).
 * `trace: false` for commands whose context has no client trace (content fetch-object and
 * push-object ignore --http-trace).
 */
export async function registryOptions(ctx: Context, { trace = true } = {}): Promise<Omit<RegistryOptions, 'signal'>> {
  let username = ctx.string('user');
  let secret = '';
  const colon = username.indexOf(':');
  if (colon > 0) {
    secret = username.slice(colon + 1);
    username = username.slice(0, colon);
  }
  if (username !== '') {
    if (secret === '') {
      try {
        secret = await readPassword('Password: ');
      } catch (err) {
        throw new CommandError((err as Error).message);
      }
      process.stdout.write('\n');
    }
  } else secret = ctx.string('refresh');
  const hostsDir = ctx.string('hosts-dir');
  return {
    plainHttp: ctx.bool('plain-http'),
    // One set of credentials, whichever host asks (ctr's "Only one host").
    credentials: () => ({ username, secret }),
    tls: await defaultTls(ctx),
    hostsDir: hostsDir === '' ? undefined : hostsDir,
    ...(ctx.bool('http-dump') ? { httpDump: dumpWriter() } : {}),
    // httptrace's GotConn line is logged at debug level: seen with --debug only, as in ctr.
    ...(trace && ctx.bool('http-trace') && globalOptions(ctx).debug
      ? { httpTrace: (c: ConnectionInfo) => logLine('debug', 'Connection successful', { remote_addr: c.remoteAddr, reused: String(c.reused) }) }
      : {}),
  };
}
