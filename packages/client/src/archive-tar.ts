// The tar headers of image archives, encoded as Go's archive/tar writes them for
// containerd's exporter (USTAR, octal fields zero-padded and NUL-terminated, a zero
// ModTime written as the epoch, checksum "%06o\0 "), so that an archive ctr-ts exports
// is byte for byte the one ctr exports of the same image.

export const BLOCK = 512;

export interface ArchiveHeader {
  name: string;
  type: 'file' | 'directory';
  mode: number;
  size: number;
}

function putString(block: Buffer, offset: number, length: number, value: string): void {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > length) throw new Error(`archive/tar: header field too long: ${value}`);
  bytes.copy(block, offset);
}

function putOctal(block: Buffer, offset: number, length: number, value: number): void {
  let s = value.toString(8);
  if (s.length >= length) throw new Error(`archive/tar: header field too long: ${value}`);
  s = s.padStart(length - 1, '0');
  block.write(s, offset, 'ascii');
  block[offset + length - 1] = 0;
}

/** Splits a long name into USTAR's prefix and name, as Go's splitUSTARPath. */
function splitName(name: string): [string, string] {
  if (Buffer.byteLength(name) <= 100) return ['', name];
  let i = Math.min(name.length - 1, 155);
  while (i > 0 && name[i] !== '/') i--;
  const prefix = name.slice(0, i);
  const rest = name.slice(i + 1);
  if (i <= 0 || Buffer.byteLength(prefix) > 155 || Buffer.byteLength(rest) > 100 || rest === '') throw new Error(`archive/tar: name too long: ${name}`);
  return [prefix, rest];
}

/** One 512-byte USTAR header. */
export function encodeHeader(h: ArchiveHeader): Buffer {
  const block = Buffer.alloc(BLOCK);
  const [prefix, name] = splitName(h.name);
  putString(block, 0, 100, name);
  putOctal(block, 100, 8, h.mode);
  putOctal(block, 108, 8, 0);
  putOctal(block, 116, 8, 0);
  putOctal(block, 124, 12, h.size);
  putOctal(block, 136, 12, 0);
  block[156] = h.type === 'directory' ? 0x35 : 0x30;
  block.write('ustar\0', 257, 'ascii');
  block.write('00', 263, 'ascii');
  putOctal(block, 329, 8, 0);
  putOctal(block, 337, 8, 0);
  putString(block, 345, 155, prefix);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of block) sum += b;
  putOctal(block, 148, 7, sum);
  block[155] = 0x20;
  return block;
}

/** Zero bytes that complete an entry of `size` bytes to a whole block. */
export const padding = (size: number): Buffer => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);

/** The end of an archive: two zero blocks. */
export const TRAILER = Buffer.alloc(2 * BLOCK);
