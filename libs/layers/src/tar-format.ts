/**
 * The tar format as image layers use it: POSIX ustar headers, pax extended headers for
 * what ustar cannot hold (long or non-ASCII names, large numbers, xattrs), and, when
 * reading, GNU long names and base-256 numbers as other tools write them.
 *
 * Our own codec rather than tar-stream or node-tar: xattr values are binary
 * (`security.capability` is a struct), and both libraries carry pax values as JS strings
 * (tar-stream decodes them as UTF-8; node-tar drops SCHILY.xattr records altogether).
 * Reading is strict on purpose: a number field with garbage in it, a bad checksum or an
 * unbounded meta header is an error, never a guess.
 */
import { LayerError } from './errors';
import { decodeName, encodeName } from './names';

export const BLOCK = 512;

export type EntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

/** One archive member, with pax and GNU long-name records already applied. */
export interface TarHeader {
  /**
   * The name as written (not cleaned; see paths.ts). Directories may end in '/'. Bytes that
   * are not UTF-8 are kept as escapes (names.ts), as are those of `linkname`.
   */
  readonly name: string;
  readonly type: EntryType;
  /** Permission, set-id and sticky bits (07777). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Body length in bytes. */
  readonly size: number;
  /** Modification time, seconds since the epoch (pax may give a fraction). */
  readonly mtime: number;
  /** Symlink target, or the member a hardlink points to. */
  readonly linkname: string;
  readonly devmajor: number;
  readonly devminor: number;
  readonly xattrs: ReadonlyMap<string, Buffer>;
}

/** Longest pax or GNU long-name body we accept; real ones are a few hundred bytes. */
export const MAX_META_SIZE = 1024 * 1024;

const TYPEFLAG: Record<EntryType, number> = {
  file: 0x30,
  hardlink: 0x31,
  symlink: 0x32,
  char: 0x33,
  block: 0x34,
  dir: 0x35,
  fifo: 0x36,
};

const PAX_XATTR = 'SCHILY.xattr.';
const OCTAL_7 = 0o7777777;
const OCTAL_11 = 0o77777777777;

// --- writing ------------------------------------------------------------------------

/**
 * The header blocks for one entry: a pax header first when ustar cannot hold everything,
 * then the ustar header. The output depends only on the header (determinism).
 */
export function encodeHeader(h: TarHeader): Buffer {
  const name = h.type === 'dir' && !h.name.endsWith('/') ? `${h.name}/` : h.name;
  const records: Array<[string, Buffer]> = [];
  const split = splitUstarName(name);
  if (!split) records.push(['path', encodeName(name)]);
  const linkFits = isAscii(h.linkname) && h.linkname.length <= 100;
  if (!linkFits) records.push(['linkpath', encodeName(h.linkname)]);
  for (const [key, value, limit] of [
    ['uid', h.uid, OCTAL_7],
    ['gid', h.gid, OCTAL_7],
    ['size', h.size, OCTAL_11],
  ] as const) {
    if (value > limit) records.push([key, Buffer.from(String(value))]);
  }
  const mtime = Math.floor(h.mtime);
  if (mtime < 0 || mtime > OCTAL_11) records.push(['mtime', Buffer.from(String(mtime))]);
  for (const [key, value] of [...h.xattrs].sort(([a], [b]) => compareBytes(a, b))) {
    records.push([PAX_XATTR + key, value]);
  }

  const ustar = ustarBlock({
    name: split?.name ?? asciiFallback(name, 100),
    prefix: split?.prefix ?? '',
    mode: h.mode & 0o7777,
    uid: h.uid > OCTAL_7 ? 0 : h.uid,
    gid: h.gid > OCTAL_7 ? 0 : h.gid,
    size: h.size > OCTAL_11 ? 0 : h.size,
    mtime: mtime < 0 || mtime > OCTAL_11 ? 0 : mtime,
    typeflag: TYPEFLAG[h.type],
    linkname: linkFits ? h.linkname : asciiFallback(h.linkname, 100),
    devmajor: h.devmajor,
    devminor: h.devminor,
  });
  if (records.length === 0) return ustar;

  const body = encodePaxRecords(records);
  const paxHeader = ustarBlock({
    name: asciiFallback(`PaxHeaders/${name.replace(/\/+$/, '').split('/').pop() ?? ''}`, 100),
    prefix: '',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: body.length,
    mtime: 0,
    typeflag: 0x78, // 'x'
    linkname: '',
    devmajor: 0,
    devminor: 0,
  });
  return Buffer.concat([paxHeader, body, Buffer.alloc(padding(body.length)), ustar]);
}

/** Bytes of zero padding after a body of `size` bytes. */
export function padding(size: number): number {
  const rest = size % BLOCK;
  return rest === 0 ? 0 : BLOCK - rest;
}

/** Byte-wise (UTF-8) order, the order our archives list names in. */
function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

interface UstarFields {
  name: string;
  prefix: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: number;
  linkname: string;
  devmajor: number;
  devminor: number;
}

function ustarBlock(f: UstarFields): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(f.name, 0, 100, 'latin1');
  writeOctal(block, 100, 8, f.mode);
  writeOctal(block, 108, 8, f.uid);
  writeOctal(block, 116, 8, f.gid);
  writeOctal(block, 124, 12, f.size);
  writeOctal(block, 136, 12, f.mtime);
  block.fill(0x20, 148, 156); // checksum counts as spaces while summing
  block[156] = f.typeflag;
  block.write(f.linkname, 157, 100, 'latin1');
  block.write('ustar\u000000', 257, 8, 'latin1');
  writeOctal(block, 329, 8, f.devmajor);
  writeOctal(block, 337, 8, f.devminor);
  block.write(f.prefix, 345, 155, 'latin1');
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'latin1');
  return block;
}

function writeOctal(block: Buffer, at: number, width: number, value: number): void {
  block.write(`${value.toString(8).padStart(width - 1, '0')}\u0000`, at, width, 'latin1');
}

/** ustar's name/prefix split, or null when the name needs a pax `path` record. */
function splitUstarName(name: string): { name: string; prefix: string } | null {
  if (!isAscii(name)) return null;
  if (name.length <= 100) return { name, prefix: '' };
  // The prefix ends at a '/', which the reader puts back; a trailing '/' stays in name.
  for (let i = name.lastIndexOf('/', name.length - 2); i > 0; i = name.lastIndexOf('/', i - 1)) {
    if (name.length - i - 1 > 100) return null;
    if (i <= 155) return { name: name.slice(i + 1), prefix: name.slice(0, i) };
  }
  return null;
}

function isAscii(s: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /^[\x01-\x7f]*$/.test(s);
}

/** What a pax-unaware reader sees when the real value is in a pax record. */
function asciiFallback(s: string, max: number): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[^\x01-\x7f]/g, '_').slice(-max);
}

/** pax records: "LEN KEY=VALUE\n", where LEN counts the whole record, itself included. */
function encodePaxRecords(records: Array<[string, Buffer]>): Buffer {
  const parts: Buffer[] = [];
  for (const [key, value] of records) {
    const rest = Buffer.byteLength(key) + value.length + 3; // ' ', '=', '\n'
    let len = rest + String(rest).length;
    if (String(len).length !== String(rest).length) len = rest + String(len).length;
    parts.push(Buffer.from(`${len} ${key}=`), value, Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

// --- reading ------------------------------------------------------------------------

/** A parsed header block; meta types ('x', 'g', 'L', 'K') are handled by the reader. */
export interface RawHeader {
  readonly kind: EntryType | 'pax' | 'pax-global' | 'gnu-longname' | 'gnu-longlink';
  readonly name: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtime: number;
  readonly linkname: string;
  readonly devmajor: number;
  readonly devminor: number;
}

/** True for the all-zero blocks that end an archive. */
export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

/** Parses one 512-byte header block; throws MALFORMED/UNSUPPORTED with the block's offset. */
export function decodeHeader(block: Buffer, offset: number): RawHeader {
  const fail = (reason: string): never => {
    throw new LayerError('MALFORMED', `invalid tar header: ${reason}`, { offset });
  };
  const stored = parseNumber(block, 148, 8, 'chksum', offset);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  // Some old tars summed signed chars; both sums are accepted, as GNU tar and Go do.
  if (stored !== unsigned && stored !== signed) fail('checksum mismatch (not a tar, or corrupt)');

  const magic = block.toString('latin1', 257, 265);
  const posix = magic === 'ustar\u000000';
  // GNU's "ustar  \0" header has no prefix field (those bytes hold atime/ctime).
  const prefix = posix ? cString(block, 345, 155) : '';
  let name = cString(block, 0, 100);
  if (prefix) name = `${prefix}/${name}`;

  const flag = block[156] ?? 0;
  let kind: RawHeader['kind'];
  switch (flag) {
    case 0:
      // Pre-POSIX archives mark directories only by the trailing slash.
      kind = name.endsWith('/') ? 'dir' : 'file';
      break;
    case 0x30: // '0'
    case 0x37: // '7' contiguous file: a plain file everywhere that matters
      kind = 'file';
      break;
    case 0x31:
      kind = 'hardlink';
      break;
    case 0x32:
      kind = 'symlink';
      break;
    case 0x33:
      kind = 'char';
      break;
    case 0x34:
      kind = 'block';
      break;
    case 0x35:
      kind = 'dir';
      break;
    case 0x36:
      kind = 'fifo';
      break;
    case 0x78: // 'x'
      kind = 'pax';
      break;
    case 0x67: // 'g'
      kind = 'pax-global';
      break;
    case 0x4c: // 'L'
      kind = 'gnu-longname';
      break;
    case 0x4b: // 'K'
      kind = 'gnu-longlink';
      break;
    case 0x53: // 'S'
      throw new LayerError('UNSUPPORTED', 'GNU sparse files are not supported in layers', { entry: name, offset });
    default:
      throw new LayerError('UNSUPPORTED', `unsupported tar entry type ${JSON.stringify(String.fromCharCode(flag))}`, {
        entry: name,
        offset,
      });
  }

  return {
    kind,
    name,
    mode: parseNumber(block, 100, 8, 'mode', offset) & 0o7777,
    uid: parseNumber(block, 108, 8, 'uid', offset),
    gid: parseNumber(block, 116, 8, 'gid', offset),
    size: parseNumber(block, 124, 12, 'size', offset),
    mtime: parseNumber(block, 136, 12, 'mtime', offset),
    linkname: cString(block, 157, 100),
    devmajor: kind === 'char' || kind === 'block' ? parseNumber(block, 329, 8, 'devmajor', offset) : 0,
    devminor: kind === 'char' || kind === 'block' ? parseNumber(block, 337, 8, 'devminor', offset) : 0,
  };
}

/**
 * A numeric field: octal digits padded with spaces or NULs, or GNU base-256 (high bit of
 * the first byte set) for values too large for octal. Negative and unsafe-integer values
 * are refused: no field of a layer has a use for them.
 */
export function parseNumber(block: Buffer, at: number, width: number, field: string, offset: number): number {
  const bad = (why: string): never => {
    throw new LayerError('MALFORMED', `invalid tar header: ${field} field ${why}`, { offset });
  };
  const first = block[at] ?? 0;
  if (first & 0x80) {
    if (first === 0xff) bad('is negative');
    let value = first & 0x7f;
    for (let i = at + 1; i < at + width; i++) {
      value = value * 256 + (block[i] ?? 0);
      if (value > Number.MAX_SAFE_INTEGER) bad('is too large');
    }
    return value;
  }
  let i = at;
  const end = at + width;
  while (i < end && block[i] === 0x20) i++;
  let value = 0;
  let digits = 0;
  for (; i < end; i++) {
    const c = block[i] ?? 0;
    if (c < 0x30 || c > 0x37) break;
    value = value * 8 + (c - 0x30);
    digits++;
  }
  for (; i < end; i++) {
    const c = block[i];
    if (c !== 0 && c !== 0x20) bad(`holds ${JSON.stringify(block.toString('latin1', at, end))}`);
  }
  if (value > Number.MAX_SAFE_INTEGER) bad('is too large');
  return digits === 0 ? 0 : value;
}

function cString(block: Buffer, at: number, width: number): string {
  const nul = block.indexOf(0, at);
  const end = nul === -1 || nul > at + width ? at + width : nul;
  return decodeName(block, at, end);
}

/** The records of a pax header we act on; unknown keys are ignored as the spec allows. */
export interface PaxRecords {
  path?: string;
  linkpath?: string;
  size?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  xattrs: Map<string, Buffer>;
}

/** Parses a pax body strictly: every record must be well-formed and exactly as long as it says. */
export function decodePax(body: Buffer, offset: number): PaxRecords {
  const bad = (why: string): never => {
    throw new LayerError('MALFORMED', `invalid pax header: ${why}`, { offset });
  };
  const records: PaxRecords = { xattrs: new Map() };
  let at = 0;
  while (at < body.length) {
    // Some writers pad the body with NULs after the last record.
    if (body[at] === 0) {
      if (body.subarray(at).every((b) => b === 0)) break;
      bad('NUL inside records');
    }
    const space = body.indexOf(0x20, at);
    if (space === -1 || space - at > 20) bad('record without a length');
    const lenText = body.toString('latin1', at, space);
    // Go's parsePAXRecord takes any decimal here (leading zeros too); the shortest record is 5 bytes.
    if (!/^[0-9]+$/.test(lenText) || Number(lenText) < 5) bad(`record length ${JSON.stringify(lenText)}`);
    const len = Number(lenText);
    const end = at + len;
    if (end > body.length || body[end - 1] !== 0x0a) bad('record length does not match its contents');
    const eq = body.indexOf(0x3d, space + 1);
    if (eq === -1 || eq >= end - 1 || eq === space + 1) bad('record without a key');
    const key = body.toString('utf8', space + 1, eq);
    const value = body.subarray(eq + 1, end - 1);
    applyRecord(records, key, value, bad);
    at = end;
  }
  return records;
}

/**
 * A pax decimal as Go's strconv.ParseInt(s, 10, 64) reads it: an optional sign, then
 * digits, leading zeros allowed, nothing else. Negative values and values beyond what a JS
 * number holds exactly are refused too: no field of a layer has a use for them.
 */
function paxInteger(key: string, text: string, bad: (why: string) => never): number {
  const match = /^([+-]?)0*([0-9]+)$/.exec(text);
  if (!match) bad(`${key}=${JSON.stringify(text)} is not a decimal number`);
  const digits = (match as RegExpExecArray)[2] as string;
  const value = digits.length > 16 ? Infinity : Number(digits);
  if (value > Number.MAX_SAFE_INTEGER) bad(`${key}=${JSON.stringify(text)} is too large`);
  if ((match as RegExpExecArray)[1] === '-' && value !== 0) bad(`${key}=${JSON.stringify(text)} is negative`);
  return value;
}

/**
 * A pax time as Go's parsePAXTime reads it: signed seconds (ParseInt), then optionally '.'
 * and digits, of which the first nine (nanoseconds) count. "-1.25" is 1.25 s before the epoch.
 */
function paxTime(text: string, bad: (why: string) => never): number {
  const match = /^([+-]?)0*([0-9]+)(?:\.([0-9]*))?$/.exec(text);
  const digits = match?.[2] ?? '';
  if (!match || digits.length > 16 || Number(digits) > Number.MAX_SAFE_INTEGER) {
    bad(`mtime=${JSON.stringify(text)} is not a time`);
  }
  const fraction = Number(`0.${(match?.[3] ?? '').slice(0, 9)}0`);
  const magnitude = Number(digits) + fraction;
  return match?.[1] === '-' ? -magnitude : magnitude;
}

function applyRecord(records: PaxRecords, key: string, value: Buffer, bad: (why: string) => never): void {
  const integer = (): number => paxInteger(key, value.toString('latin1'), bad);
  switch (key) {
    case 'path':
      records.path = decodeName(value);
      return;
    case 'linkpath':
      records.linkpath = decodeName(value);
      return;
    case 'size':
      records.size = integer();
      return;
    case 'uid':
      records.uid = integer();
      return;
    case 'gid':
      records.gid = integer();
      return;
    case 'mtime':
      records.mtime = paxTime(value.toString('latin1'), bad);
      return;
    default:
      if (key.startsWith(PAX_XATTR) && key.length > PAX_XATTR.length) {
        records.xattrs.set(key.slice(PAX_XATTR.length), Buffer.from(value));
      } else if (key.startsWith('GNU.sparse.')) {
        throw new LayerError('UNSUPPORTED', 'GNU sparse files are not supported in layers');
      }
  }
}
