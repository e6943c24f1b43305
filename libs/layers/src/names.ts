/**
 * File names as bytes, carried in JS strings. A Linux file name is any bytes but '/' and
 * NUL; tar keeps them as they are (Go's archive/tar and GNU tar write and read them
 * unchanged, UTF-8 or not), and so must a layer, or extracting and re-archiving an image
 * would change its files' names and its digests.
 *
 * Decoding is UTF-8 with Python's "surrogateescape" (PEP 383): a byte that is not part of
 * a valid UTF-8 sequence becomes the lone surrogate U+DC80 + (byte - 0x80), which valid
 * UTF-8 can never produce, so `encodeName(decodeName(b))` is `b` exactly. Everything that
 * reasons about names ('/', '.', '..', prefixes, whiteouts) works on the string unchanged;
 * only the file-system calls need the bytes back, through `fsPath`, which returns the very
 * string it was given in the common case (no surrogate at all), so the cost is one test.
 */
import { isUtf8 } from 'node:buffer';

const SURROGATE = /[\uD800-\uDFFF]/;

/** The name `bytes[start, end)` holds, undecodable bytes escaped (see above). */
export function decodeName(bytes: Buffer, start = 0, end = bytes.length): string {
  // The common case costs one decode and one scan: no U+FFFD, nothing was replaced.
  const text = bytes.toString('utf8', start, end);
  if (!text.includes('\uFFFD')) return text;
  return decodeEscaped(bytes.subarray(start, end));
}

function decodeEscaped(bytes: Buffer): string {
  if (isUtf8(bytes)) return bytes.toString('utf8');
  let out = '';
  let run = 0; // start of the current run of valid sequences
  let i = 0;
  while (i < bytes.length) {
    const n = sequenceLength(bytes, i);
    if (n > 0) {
      i += n;
      continue;
    }
    out += bytes.toString('utf8', run, i) + String.fromCharCode(0xdc00 + (bytes[i] as number));
    i++;
    run = i;
  }
  return out + bytes.toString('utf8', run, i);
}

/** The bytes of a name from `decodeName` (or any JS string: then plain UTF-8). */
export function encodeName(name: string): Buffer {
  if (!SURROGATE.test(name)) return Buffer.from(name);
  const parts: Buffer[] = [];
  let run = 0;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = name.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++; // a pair: a valid code point
    } else if (c >= 0xdc80 && c <= 0xdcff) {
      parts.push(Buffer.from(name.slice(run, i)), Buffer.of(c - 0xdc00));
      run = i + 1;
    }
  }
  parts.push(Buffer.from(name.slice(run)));
  return Buffer.concat(parts);
}

/** What to hand to `node:fs` for a host path built from decoded names. */
export function fsPath(path: string): string | Buffer {
  return SURROGATE.test(path) && hasEscape(path) ? encodeName(path) : path;
}

/** Whether `name` holds an escaped byte (a lone low surrogate from `decodeName`). */
function hasEscape(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = name.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    } else if (c >= 0xdc80 && c <= 0xdcff) return true;
  }
  return false;
}

/** Length of the valid UTF-8 sequence at `i` (RFC 3629: no overlongs, surrogates or > U+10FFFF), or 0. */
function sequenceLength(b: Buffer, i: number): number {
  const lead = b[i] as number;
  if (lead < 0x80) return 1;
  const cont = (at: number, lo = 0x80, hi = 0xbf): boolean => {
    const x = b[at];
    return x !== undefined && x >= lo && x <= hi;
  };
  if (lead >= 0xc2 && lead <= 0xdf) return cont(i + 1) ? 2 : 0;
  if (lead >= 0xe0 && lead <= 0xef) {
    const lo = lead === 0xe0 ? 0xa0 : 0x80;
    const hi = lead === 0xed ? 0x9f : 0xbf;
    return cont(i + 1, lo, hi) && cont(i + 2) ? 3 : 0;
  }
  if (lead >= 0xf0 && lead <= 0xf4) {
    const lo = lead === 0xf0 ? 0x90 : 0x80;
    const hi = lead === 0xf4 ? 0x8f : 0xbf;
    return cont(i + 1, lo, hi) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  }
  return 0;
}
