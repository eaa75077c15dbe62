// Topology and lock files are UTF-8 text. Anything else is named for what it is (UTF-16, a
// binary file, a stray Latin-1 byte at line N) instead of being shown as mojibake or as a
// parser's complaint about a null byte.
import { TopologyError } from '../errors.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes of a topology (or lock) file as text; throws a TopologyError saying what the file is when it is not UTF-8 text. */
export function decodeText(bytes: Uint8Array, file: string): string {
  const utf16 = utf16Kind(bytes);
  if (utf16) throw new TopologyError([{ file, line: 1, col: 1, message: `the file is ${utf16}, not UTF-8: save it as UTF-8` }]);
  const nul = bytes.indexOf(0);
  if (nul < 0) {
    try {
      return utf8.decode(bytes);
    } catch {
      // fall through: say where
    }
  }
  const bad = firstInvalidUtf8(bytes);
  const at = nul >= 0 && (bad < 0 || nul < bad) ? nul : bad;
  const { line, col } = lineColOfByte(bytes, at);
  const what = at === nul ? 'a NUL byte' : `byte 0x${bytes[at]!.toString(16).toUpperCase().padStart(2, '0')}`;
  throw new TopologyError([{ file, line, col, message: `the file is not UTF-8 text (line ${line}: ${what}): save it as UTF-8` }]);
}

/** "UTF-16 (little-endian)" and the like when the bytes look like UTF-16 or UTF-32 (by BOM, or by NULs in every other byte). */
function utf16Kind(b: Uint8Array): string | undefined {
  if (b[0] === 0xff && b[1] === 0xfe) return b[2] === 0 && b[3] === 0 ? 'UTF-32 (little-endian)' : 'UTF-16 (little-endian)';
  if (b[0] === 0xfe && b[1] === 0xff) return 'UTF-16 (big-endian)';
  if (b[0] === 0 && b[1] === 0 && b[2] === 0xfe && b[3] === 0xff) return 'UTF-32 (big-endian)';
  // No BOM: ASCII text in UTF-16 has a NUL in every other byte.
  const n = Math.min(b.length, 64) & ~1;
  if (n < 4) return undefined;
  let even = 0;
  let odd = 0;
  for (let i = 0; i < n; i += 2) {
    if (b[i] === 0) even++;
    if (b[i + 1] === 0) odd++;
  }
  if (odd >= (n / 2) * 0.75 && even === 0) return 'UTF-16 (little-endian)';
  if (even >= (n / 2) * 0.75 && odd === 0) return 'UTF-16 (big-endian)';
  return undefined;
}

/** Offset of the first byte that does not start or continue a valid UTF-8 sequence (-1: none). */
function firstInvalidUtf8(b: Uint8Array): number {
  for (let i = 0; i < b.length; ) {
    const c = b[i]!;
    let n: number;
    let min: number;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) [n, min] = [1, 0x80];
    else if (c >= 0xe0 && c <= 0xef) [n, min] = [2, 0x800];
    else if (c >= 0xf0 && c <= 0xf4) [n, min] = [3, 0x10000];
    else return i;
    let cp = c & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const cc = b[i + k];
      if (cc === undefined || (cc & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8 either.
    if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return i;
    i += n + 1;
  }
  return -1;
}

/** 1-based line and column (in characters of the valid text before it) of a byte offset. */
function lineColOfByte(b: Uint8Array, at: number): { line: number; col: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < at; i++) {
    if (b[i] === 0x0a) {
      line++;
      start = i + 1;
    }
  }
  let col = 1;
  for (let i = start; i < at; i++) if ((b[i]! & 0xc0) !== 0x80) col++;
  return { line, col };
}
