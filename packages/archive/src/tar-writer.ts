// Tar headers encoded byte for byte as Go's archive/tar writes them for containerd's
// diffs: USTAR when the header fits (long names split into prefix/name), PAX records
// otherwise; octal fields zero-padded and NUL-terminated, checksum as "%06o\0 ".
// Deterministic: the same header always gives the same bytes.

import { compareUtf8 } from '@containerd-ts/string-order';
import { joinPath, splitPath } from './root-path.js';

export const BLOCK = 512;

/** Typeflags (the byte values). */
export const TypeFlag = {
  reg: 0x30, // '0'
  link: 0x31, // '1'
  symlink: 0x32, // '2'
  char: 0x33, // '3'
  block: 0x34, // '4'
  dir: 0x35, // '5'
  fifo: 0x36, // '6'
  paxHeader: 0x78, // 'x'
} as const;

export interface WriteHeader {
  name: string;
  typeflag: number;
  linkname?: string;
  /** Permission bits with setuid/setgid/sticky. */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch (already truncated or rounded by the caller). */
  mtime: number;
  devmajor?: number;
  devminor?: number;
  /** PAX records to carry in any case (e.g. SCHILY.xattr.security.capability). */
  paxRecords?: Map<string, Buffer>;
}

const NAME_SIZE = 100;
const PREFIX_SIZE = 155;

function isASCII(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80 || c === 0) return false;
  }
  return true;
}

function toASCII(s: string): string {
  if (isASCII(s)) return s;
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c < 0x80 && c !== 0) out += ch;
  }
  return out;
}

function fitsInOctal(width: number, x: number): boolean {
  const bits = (width - 1) * 3;
  return x >= 0 && (width >= 22 || x < 2 ** bits);
}

/** Go's splitUSTARPath: a prefix (≤155) and a name (≤100) split at a slash, or null. */
function splitUSTARPath(name: string): [string, string] | null {
  let length = Buffer.byteLength(name);
  if (length <= NAME_SIZE || !isASCII(name)) return null;
  if (length > PREFIX_SIZE + 1) length = PREFIX_SIZE + 1;
  else if (name[length - 1] === '/') length--;
  const i = name.slice(0, length).lastIndexOf('/');
  const nlen = name.length - i - 1;
  const plen = i;
  if (i <= 0 || nlen > NAME_SIZE || nlen === 0 || plen > PREFIX_SIZE) return null;
  return [name.slice(0, i), name.slice(i + 1)];
}

function writeString(block: Buffer, offset: number, width: number, s: string | Buffer): void {
  const bytes = typeof s === 'string' ? Buffer.from(s) : s;
  bytes.copy(block, offset, 0, Math.min(bytes.length, width));
  if (bytes.length < width) block[offset + bytes.length] = 0;
  // A truncated name must not end in a slash (readers would take it for a directory).
  if (bytes.length > width && block[offset + width - 1] === 0x2f) {
    let n = width;
    while (n > 0 && block[offset + n - 1] === 0x2f) n--;
    block[offset + n] = 0;
  }
}

function writeOctal(block: Buffer, offset: number, width: number, x: number): void {
  const value = fitsInOctal(width, x) ? x : 0;
  const digits = value.toString(8).padStart(width - 1, '0');
  writeString(block, offset, width, digits);
}

function setFormatAndChecksum(block: Buffer): void {
  block.write('ustar\0', 257, 'latin1');
  block.write('00', 263, 'latin1');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += block[i]!;
  writeOctal(block, 148, 7, sum);
  block[155] = 0x20;
}

/** The V7+USTAR fields of a header block (name/prefix handled by the caller). */
function template(h: WriteHeader, name: string, linkname: string, asciiOnly: boolean): Buffer {
  const block = Buffer.alloc(BLOCK);
  const str = (s: string) => (asciiOnly ? toASCII(s) : s);
  block[156] = h.typeflag;
  writeString(block, 0, 100, str(name));
  writeString(block, 157, 100, str(linkname));
  writeOctal(block, 100, 8, h.mode);
  writeOctal(block, 108, 8, h.uid);
  writeOctal(block, 116, 8, h.gid);
  writeOctal(block, 124, 12, h.size);
  writeOctal(block, 136, 12, h.mtime);
  // uname and gname stay empty (containerd writes no user or group names).
  writeOctal(block, 329, 8, h.devmajor ?? 0);
  writeOctal(block, 337, 8, h.devminor ?? 0);
  return block;
}

/** One PAX record, `<len> <key>=<value>\n`, where len counts itself. */
function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let size = body.length + String(body.length).length;
  if (String(size).length + body.length !== size) size = String(size).length + body.length;
  return Buffer.concat([Buffer.from(String(size)), body]);
}

/**
 * Encodes a header (and, when needed, its PAX extended header before it) into tar
 * blocks. Returns the bytes to write before the entry's data.
 */
export function encodeHeader(h: WriteHeader): Buffer {
  const linkname = h.linkname ?? '';
  const pax = new Map<string, Buffer>();
  let ustar = true;

  const verifyString = (s: string, width: number, key: string | null) => {
    const tooLong = Buffer.byteLength(s) > width;
    if (!isASCII(s) || tooLong) {
      if (key !== 'path' || splitUSTARPath(s) === null) ustar = false;
      if (key !== null) pax.set(key, Buffer.from(s));
    }
  };
  const verifyNumber = (n: number, width: number, key: string) => {
    if (!fitsInOctal(width, n)) {
      ustar = false;
      pax.set(key, Buffer.from(String(n)));
    }
  };
  verifyString(h.name, 100, 'path');
  verifyString(linkname, 100, 'linkpath');
  verifyNumber(h.uid, 8, 'uid');
  verifyNumber(h.gid, 8, 'gid');
  verifyNumber(h.size, 12, 'size');
  if (!fitsInOctal(12, h.mtime)) {
    ustar = false;
    pax.set('mtime', Buffer.from(String(h.mtime)));
  }
  if (h.paxRecords && h.paxRecords.size > 0) {
    ustar = false;
    for (const [k, v] of h.paxRecords) if (!pax.has(k)) pax.set(k, v);
  }

  if (ustar) {
    const split = splitUSTARPath(h.name);
    const block = template(h, split ? split[1] : h.name, linkname, false);
    if (split) writeString(block, 345, 155, split[0]);
    setFormatAndChecksum(block);
    return block;
  }

  const parts: Buffer[] = [];
  if (pax.size > 0) {
    const data = Buffer.concat([...pax.keys()].sort(compareUtf8).map((k) => paxRecord(k, pax.get(k)!)));
    const [dir, file] = splitPath(h.name);
    let paxName = toASCII(joinPath(dir, 'PaxHeaders.0', file));
    if (paxName.length > NAME_SIZE) paxName = paxName.slice(0, NAME_SIZE);
    paxName = paxName.replace(/\/+$/, '');
    const xhdr = Buffer.alloc(BLOCK);
    xhdr[156] = TypeFlag.paxHeader;
    writeString(xhdr, 0, 100, paxName);
    writeOctal(xhdr, 100, 8, 0);
    writeOctal(xhdr, 108, 8, 0);
    writeOctal(xhdr, 116, 8, 0);
    writeOctal(xhdr, 124, 12, data.length);
    writeOctal(xhdr, 136, 12, 0);
    setFormatAndChecksum(xhdr);
    parts.push(xhdr, data, padding(data.length));
  }
  const block = template(h, h.name, linkname, true);
  setFormatAndChecksum(block);
  parts.push(block);
  return Buffer.concat(parts);
}

const ZEROS = Buffer.alloc(BLOCK);

/** Zero bytes completing `size` to a whole number of blocks. */
export function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return rest === 0 ? ZEROS.subarray(0, 0) : ZEROS.subarray(0, BLOCK - rest);
}

/** The end-of-archive marker: two zero blocks. */
export function trailer(): Buffer {
  return Buffer.alloc(BLOCK * 2);
}
