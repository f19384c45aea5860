// Reading layer tars with tar-stream, completed with what Go's archive/tar (and so
// containerd) takes from PAX records: uid/gid, mtime/atime to the nanosecond, and
// SCHILY.xattr.* values as raw bytes (tar-stream decodes PAX values as UTF-8, which
// would corrupt binary values such as security.capability).
import tarStream from 'tar-stream';

export type EntryType =
  | 'file'
  | 'link'
  | 'symlink'
  | 'directory'
  | 'block-device'
  | 'character-device'
  | 'fifo'
  | 'contiguous-file'
  | 'unknown';

/** One tar entry's header, as the applier needs it. */
export interface TarHeader {
  /** The name as stored (not cleaned). */
  name: string;
  type: EntryType;
  linkname: string;
  /** Permission bits with setuid/setgid/sticky (the header's mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  devmajor: number;
  devminor: number;
  /** Modification time, nanoseconds since the epoch. */
  mtimeNs: bigint;
  /** Access time from a PAX record, when there is one. */
  atimeNs: bigint | undefined;
  /** Extended attributes from `SCHILY.xattr.<name>` PAX records, in record order. */
  xattrs: Array<[name: string, value: Buffer]>;
  /** PAX record keys present on this entry (for diagnostics and sparse detection). */
  paxKeys: string[];
}

const XATTR_PREFIX = 'SCHILY.xattr.';
const NS = 1_000_000_000n;

/** Parses the records of a PAX extended header (`<len> <key>=<value>\n`…), values as bytes. */
export function parsePaxRecords(buf: Buffer): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let rest = buf;
  while (rest.length > 0) {
    const sp = rest.indexOf(0x20);
    if (sp <= 0) throw new TarFormatError('invalid PAX record length');
    const lenText = rest.subarray(0, sp).toString('latin1');
    if (!/^[0-9]+$/.test(lenText)) throw new TarFormatError('invalid PAX record length');
    const len = Number.parseInt(lenText, 10);
    if (len <= sp + 1 || len > rest.length) throw new TarFormatError('invalid PAX record length');
    const record = rest.subarray(sp + 1, len);
    if (record[record.length - 1] !== 0x0a) throw new TarFormatError('invalid PAX record: missing newline');
    const eq = record.indexOf(0x3d);
    if (eq <= 0) throw new TarFormatError('invalid PAX record: missing key');
    const key = record.subarray(0, eq).toString('utf8');
    if (key.includes('\0')) throw new TarFormatError('invalid PAX record key');
    records.set(key, Buffer.from(record.subarray(eq + 1, record.length - 1)));
    rest = rest.subarray(len);
  }
  return records;
}

/** Go's parsePAXTime: decimal seconds with an optional fraction, to nanoseconds. */
export function parsePaxTime(text: string): bigint {
  const m = /^(-?)([0-9]+)(?:\.([0-9]*))?$/.exec(text);
  if (!m) throw new TarFormatError(`invalid PAX time ${JSON.stringify(text)}`);
  const negative = m[1] === '-';
  const secs = BigInt(m[2]!);
  const frac = BigInt(((m[3] ?? '') + '000000000').slice(0, 9));
  return negative ? -(secs * NS) - frac : secs * NS + frac;
}

/** A malformed tar stream. */
export class TarFormatError extends Error {
  constructor(message: string) {
    super(`archive/tar: ${message}`);
    this.name = 'TarFormatError';
  }
}

type RawHeader = tarStream.Header & { type: string | null };

// The piece of tar-stream's Extract the PAX capture hooks into (see createTarReader).
interface ExtractInternals {
  _header: { type: string | null } | null;
  _decodeLongHeader: (buf: Buffer) => void;
}

/** The data of one entry, as tar-stream hands it out (a streamx Readable). */
export interface EntryStream {
  on(event: 'data', fn: (chunk: Buffer) => void): unknown;
  on(event: 'end', fn: () => void): unknown;
  on(event: 'error', fn: (err: Error) => void): unknown;
  resume(): unknown;
}

export type EntryHandler = (header: TarHeader, stream: EntryStream, next: (err?: Error | null) => void) => void;

/**
 * A tar-stream extractor whose 'entry' events carry a complete TarHeader. The local
 * PAX header is captured as raw bytes when tar-stream consumes it (tar-stream reads it
 * right before the entry it describes), so binary values survive.
 */
export function createTarReader(onEntry: EntryHandler): tarStream.Extract {
  // Old V7 headers (no ustar magic) are valid tar, and Go reads them.
  const extract = tarStream.extract({ allowUnknownFormat: true } as Parameters<typeof tarStream.extract>[0]);
  const internals = extract as unknown as ExtractInternals;
  const decodeLongHeader = internals._decodeLongHeader;
  if (typeof decodeLongHeader !== 'function') {
    throw new Error('tar-stream: unsupported version (no PAX header hook); raw PAX values cannot be read');
  }
  let pending: Map<string, Buffer> | null = null;
  internals._decodeLongHeader = function (this: ExtractInternals, buf: Buffer) {
    // Go applies only the local header (global records are returned as their own entry).
    if (this._header?.type === 'pax-header') pending = parsePaxRecords(buf);
    decodeLongHeader.call(this, buf);
  };
  extract.on('entry', (raw, stream, next) => {
    // An entry given up with next(err) before its data was read is destroyed with that
    // error when the extractor is; the extractor reports it, the entry must not throw it
    // again (an 'error' without a listener is an uncaught exception).
    (stream as unknown as EntryStream).on('error', () => {});
    const pax = pending;
    pending = null;
    let header: TarHeader;
    try {
      header = toTarHeader(raw as RawHeader, pax);
    } catch (err) {
      next(err as Error);
      return;
    }
    onEntry(header, stream as unknown as EntryStream, next);
  });
  return extract;
}

function toTarHeader(raw: RawHeader, pax: Map<string, Buffer> | null): TarHeader {
  const header: TarHeader = {
    name: raw.name,
    type: knownType(raw.type),
    linkname: raw.linkname ?? '',
    mode: raw.mode & 0o7777,
    uid: raw.uid,
    gid: raw.gid,
    size: raw.size,
    devmajor: raw.devmajor,
    devminor: raw.devminor,
    mtimeNs: BigInt(Math.round(raw.mtime.getTime() / 1000)) * NS,
    atimeNs: undefined,
    xattrs: [],
    paxKeys: [],
  };
  if (pax === null) return header;
  for (const [key, value] of pax) {
    header.paxKeys.push(key);
    if (key.startsWith(XATTR_PREFIX)) {
      header.xattrs.push([key.slice(XATTR_PREFIX.length), value]);
      continue;
    }
    if (value.length === 0) continue; // an empty record keeps the header's value, as Go
    const text = value.toString('utf8');
    switch (key) {
      case 'uid':
        header.uid = parsePaxId(key, text);
        break;
      case 'gid':
        header.gid = parsePaxId(key, text);
        break;
      case 'mtime':
        header.mtimeNs = parsePaxTime(text);
        break;
      case 'atime':
        header.atimeNs = parsePaxTime(text);
        break;
      default:
        if (key.startsWith('GNU.sparse.')) throw new TarFormatError(`sparse files are not supported (${raw.name})`);
    }
  }
  return header;
}

function parsePaxInt(key: string, text: string): number {
  if (!/^-?[0-9]+$/.test(text)) throw new TarFormatError(`invalid PAX ${key} ${JSON.stringify(text)}`);
  return Number.parseInt(text, 10);
}

/** A uid or gid: what chown(2) takes (a 32-bit id); anything else is a malformed header. */
function parsePaxId(key: string, text: string): number {
  const id = parsePaxInt(key, text);
  if (id < 0 || id > 0xffff_ffff) throw new TarFormatError(`invalid PAX ${key} ${JSON.stringify(text)}`);
  return id;
}

function knownType(type: string | null): EntryType {
  switch (type) {
    case 'file':
    case 'link':
    case 'symlink':
    case 'directory':
    case 'block-device':
    case 'character-device':
    case 'fifo':
    case 'contiguous-file':
      return type;
    default:
      return 'unknown';
  }
}
