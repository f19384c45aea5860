// Running a host command the way containerd's Go code does for its init checks
// (exec.Command(...).CombinedOutput()), with Go's error strings, so messages that quote
// them (`modprobe aufs failed: exec: "modprobe": executable file not found in $PATH ""`)
// read exactly as containerd's.
import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Finds an executable on `PATH` as Go's exec.LookPath; undefined when there is none. */
export function lookPath(name: string, path: string = process.env.PATH ?? ''): string | undefined {
  if (name.includes('/')) return name;
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface CombinedResult {
  /** stdout and stderr interleaved as they arrived. */
  output: Buffer;
  /** Go's error text when the command could not run or failed (`exit status 1`), else undefined. */
  error: string | undefined;
}

/**
 * Runs a command to completion with stdout and stderr on one pipe, so the output
 * interleaves exactly as the command wrote it (a shell joins the two, then becomes the command).
 */
export function runCombined(file: string, args: readonly string[], options: { path?: string } = {}): Promise<CombinedResult> {
  const resolved = lookPath(file, options.path);
  if (resolved === undefined) {
    return Promise.resolve({
      output: Buffer.alloc(0),
      error: `exec: ${JSON.stringify(file)}: executable file not found in $PATH`,
    });
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const child = spawn('/bin/sh', ['-c', 'exec "$0" "$@" 2>&1', resolved, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: options.path === undefined ? process.env : { ...process.env, PATH: options.path },
    });
    child.stdout.on('data', (b: Buffer) => chunks.push(b));
    child.on('error', (err) => resolve({ output: Buffer.concat(chunks), error: `fork/exec ${resolved}: ${err.message}` }));
    child.on('close', (code, signal) => {
      const output = Buffer.concat(chunks);
      if (signal) resolve({ output, error: `signal: ${signalName(signal)}` });
      else if (code !== 0) resolve({ output, error: `exit status ${code ?? -1}` });
      else resolve({ output, error: undefined });
    });
  });
}

// Go prints signals by their description (`signal: killed`).
function signalName(signal: NodeJS.Signals): string {
  const names: Partial<Record<NodeJS.Signals, string>> = {
    SIGKILL: 'killed',
    SIGTERM: 'terminated',
    SIGINT: 'interrupt',
    SIGSEGV: 'segmentation fault',
    SIGABRT: 'aborted',
    SIGHUP: 'hangup',
    SIGPIPE: 'broken pipe',
  };
  return names[signal] ?? signal;
}
