// Running a plugin as libcni's invoke package does: found by its type in the plugin
// directories (a regular file), the CNI_* variables on top of this process's environment,
// the configuration on stdin, the result or the error (types.Error) on stdout.
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';

/** A plugin's error (types.Error): `msg; details` as libcni prints it. */
export class PluginError extends Error {
  constructor(
    readonly code: number,
    readonly msg: string,
    readonly details = '',
  ) {
    super(details === '' ? msg : `${msg}; ${details}`);
  }
}

/** invoke.FindInPath. */
export async function findInPath(plugin: string, dirs: readonly string[]): Promise<string> {
  if (plugin === '') throw new Error('no plugin name provided');
  if (plugin.includes('/')) throw new Error(`invalid plugin name: ${plugin}`);
  if (dirs.length === 0) throw new Error('no paths provided');
  for (const dir of dirs) {
    const full = join(dir, plugin);
    if ((await stat(full).catch(() => undefined))?.isFile()) return full;
  }
  throw new Error(`failed to find plugin ${JSON.stringify(plugin)} in path [${dirs.join(' ')}]`);
}

/** The runtime side of one invocation (invoke.Args). */
export interface PluginArgs {
  command: 'ADD' | 'DEL' | 'CHECK';
  containerId: string;
  netns: string;
  ifName: string;
  /** CNI_ARGS pairs, joined as `K=V;K=V`. */
  args: readonly (readonly [string, string])[];
  /** The plugin directories, as CNI_PATH. */
  path: readonly string[];
}

/** Args.AsEnv: this process's environment with the CNI_* variables set over it. */
export function pluginEnv(a: PluginArgs, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return {
    ...base,
    CNI_COMMAND: a.command,
    CNI_CONTAINERID: a.containerId,
    CNI_NETNS: a.netns,
    CNI_ARGS: a.args.map(([k, v]) => `${k}=${v}`).join(';'),
    CNI_IFNAME: a.ifName,
    CNI_PATH: a.path.join(':'),
  };
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: Buffer;
}

function runOnce(path: string, stdin: string, env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(path, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    // A plugin that exits without reading all of its configuration is not an error here.
    child.stdin.on('error', () => {});
    child.stdin.end(stdin);
    child.on('close', (code, signal) => resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }));
  });
}

/** Go's *exec.ExitError / *exec.Error text for a run that failed. */
function runFailure(r: Run): string {
  return r.signal ? `signal: ${signalText(r.signal)}` : `exit status ${r.code}`;
}

const SIGNAL_TEXT: Record<string, string> = { SIGKILL: 'killed', SIGTERM: 'terminated', SIGSEGV: 'segmentation fault', SIGABRT: 'aborted', SIGINT: 'interrupt' };
const signalText = (s: string) => SIGNAL_TEXT[s] ?? s.toLowerCase();

/**
 * RawExec.ExecPlugin: the plugin's stdout when it succeeds (its stderr copied to `stderr`),
 * otherwise a PluginError — the plugin's own (JSON on stdout), its stderr, or how it ended.
 * A plugin file still being written ("text file busy") is tried again each second, 5 times.
 */
export async function execPlugin(path: string, stdin: string, env: NodeJS.ProcessEnv, stderr?: NodeJS.WritableStream): Promise<Buffer> {
  for (let attempt = 0; ; attempt++) {
    let r: Run;
    try {
      r = await runOnce(path, stdin, env);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ETXTBSY' && attempt < 5) {
        await new Promise((res) => setTimeout(res, 1000));
        continue;
      }
      const text = code === 'EACCES' ? 'permission denied' : code === 'ENOEXEC' ? 'exec format error' : (err as Error).message;
      throw pluginFailure(`fork/exec ${path}: ${text}`, Buffer.alloc(0), Buffer.alloc(0));
    }
    if (r.code !== 0) throw pluginFailure(runFailure(r), r.stdout, r.stderr);
    if (stderr && r.stderr.length > 0) stderr.write(r.stderr);
    return r.stdout;
  }
}

/** RawExec.pluginErr. */
function pluginFailure(how: string, stdout: Buffer, stderr: Buffer): PluginError {
  if (stdout.length === 0) {
    if (stderr.length === 0) return new PluginError(0, `netplugin failed with no error message: ${how}`);
    return new PluginError(0, `netplugin failed: ${JSON.stringify(stderr.toString())}`);
  }
  try {
    const e = JSON.parse(stdout.toString()) as { code?: unknown; msg?: unknown; details?: unknown };
    return new PluginError(typeof e.code === 'number' ? e.code : 0, typeof e.msg === 'string' ? e.msg : '', typeof e.details === 'string' ? e.details : '');
  } catch (err) {
    return new PluginError(0, `netplugin failed but error parsing its diagnostic message ${JSON.stringify(stdout.toString())}: ${(err as Error).message}`);
  }
}
