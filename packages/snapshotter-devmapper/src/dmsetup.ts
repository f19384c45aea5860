// dmsetup(8) calls the devmapper snapshotter makes at start, with containerd's error
// handling: a kernel error printed by dmsetup ("…failed: No such device") becomes that
// errno's text; anything else keeps the command, its output and Go's exec error.
import { runCombined } from '@containerd-ts/snapshots';
import { ERRNO_TEXTS } from './errno-texts.js';

/** The errno text in dmsetup's first output line (`… failed: <text>`), if it names one. */
export function dmsetupErrno(output: string): string | undefined {
  const lines = output.split('\n');
  if (lines.length < 2) return undefined;
  const line = lines[0] ?? '';
  if (line.endsWith('not found')) return 'no such device or address';
  const idx = line.lastIndexOf('failed: ');
  if (idx === -1) return undefined;
  const text = line.slice(idx + 'failed: '.length).toLowerCase();
  return ERRNO_TEXTS.has(text) ? text : undefined;
}

/** Runs `dmsetup <args>` and returns its trimmed output. */
export async function dmsetup(args: readonly string[], options: { path?: string } = {}): Promise<string> {
  const { output, error } = await runCombined('dmsetup', args, options);
  const text = output.toString('utf8');
  if (error !== undefined) {
    const errno = dmsetupErrno(text);
    if (errno !== undefined) throw new Error(errno);
    throw new Error(`dmsetup ${args.join(' ')}\nerror: ${text}\n: ${error}`);
  }
  return text.trim();
}

/** `blkdiscard --version`, failing with Go's exec error as containerd's check does. */
export async function blkdiscardVersion(options: { path?: string } = {}): Promise<string> {
  const { output, error } = await runCombined('blkdiscard', ['--version'], options);
  if (error !== undefined) throw new Error(error);
  return output.toString('utf8');
}
