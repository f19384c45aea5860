// What the aufs snapshotter checks before it can work, as containerd's aufs plugin: load
// the module with `modprobe aufs`, then find aufs in /proc/filesystems. Failures are
// reported with containerd's wording, quoting modprobe's output as Go's %q does.
import { readFile } from 'node:fs/promises';
import { runCombined } from '@containerd-ts/snapshots';

/** The kernel cannot mount aufs: the plugin reports this as a skip. */
export class AufsUnsupportedError extends Error {
  override name = 'AufsUnsupportedError';
}

/** A string quoted as Go's strconv.Quote (`%q`) writes it. */
export function goQuote(text: string): string {
  let out = '"';
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    switch (ch) {
      case '"':
        out += '\\"';
        continue;
      case '\\':
        out += '\\\\';
        continue;
      case '\x07':
        out += '\\a';
        continue;
      case '\b':
        out += '\\b';
        continue;
      case '\f':
        out += '\\f';
        continue;
      case '\n':
        out += '\\n';
        continue;
      case '\r':
        out += '\\r';
        continue;
      case '\t':
        out += '\\t';
        continue;
      case '\v':
        out += '\\v';
        continue;
    }
    if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (cp === 0xfffd) out += '\\ufffd';
    else if ((cp >= 0x80 && cp < 0xa0) || cp === 0xad || cp === 0x2028 || cp === 0x2029) {
      out += `\\u${cp.toString(16).padStart(4, '0')}`;
    } else out += ch;
  }
  return `${out}"`;
}

/** Throws AufsUnsupportedError, with containerd's reason, unless the kernel has aufs. */
export async function checkAufsSupported(options: { path?: string } = {}): Promise<void> {
  const { output, error } = await runCombined('modprobe', ['aufs'], options);
  if (error !== undefined) {
    throw new AufsUnsupportedError(`aufs is not supported (modprobe aufs failed: ${error} ${goQuote(output.toString('utf8'))})`);
  }
  const filesystems = await readFile('/proc/filesystems', 'utf8');
  if (!filesystems.split('\n').some((line) => line.includes('aufs'))) {
    throw new AufsUnsupportedError('aufs is not supported (AUFS was not found in /proc/filesystems)');
  }
}
