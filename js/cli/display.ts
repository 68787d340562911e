/**
 * display.ts — keys and values as `lightningdb scan` prints them by default:
 * text that is safe on a terminal and keeps one entry per line, and that
 * still says exactly which bytes are stored (the quoting git uses for
 * unusual file names).
 *
 *   - Bytes that are valid UTF-8 made of printable characters, and do not
 *     start with a double quote, are printed as they are.
 *   - Anything else is printed in double quotes with escapes: \t \n \r,
 *     \" and \\, and \xNN for every other byte that is not part of a
 *     printable UTF-8 character (control characters, DEL, C1 controls,
 *     U+2028/U+2029, invalid UTF-8).
 *
 * So `"` starts a quoted form and nothing else does; a reader can undo the
 * escapes to get the bytes back. `--raw` prints the bytes themselves and
 * `-e hex|base64` encodes them (docs/operations.md).
 */

/** Length of the valid UTF-8 sequence starting at b[i], 0 when invalid
 * (bad lead or continuation byte, overlong form, surrogate, > U+10FFFF). */
function seqLen(b: Uint8Array, i: number): { n: number; cp: number } {
  const c = b[i]!;
  if (c < 0x80) return { n: 1, cp: c };
  let n: number;
  let cp: number;
  if (c >= 0xc2 && c <= 0xdf) { n = 2; cp = c & 0x1f; }
  else if (c >= 0xe0 && c <= 0xef) { n = 3; cp = c & 0x0f; }
  else if (c >= 0xf0 && c <= 0xf4) { n = 4; cp = c & 0x07; }
  else return { n: 0, cp: 0 };
  if (i + n > b.length) return { n: 0, cp: 0 };
  for (let k = 1; k < n; k++) {
    const x = b[i + k]!;
    if ((x & 0xc0) !== 0x80) return { n: 0, cp: 0 };
    cp = (cp << 6) | (x & 0x3f);
  }
  if ((n === 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n === 4 && (cp < 0x10000 || cp > 0x10ffff))) {
    return { n: 0, cp: 0 };
  }
  return { n, cp };
}

function printable(cp: number): boolean {
  return cp >= 0x20 && cp !== 0x7f && !(cp >= 0x80 && cp < 0xa0) && cp !== 0x2028 && cp !== 0x2029;
}

const ESCAPES: Record<number, string> = { 0x09: '\\t', 0x0a: '\\n', 0x0d: '\\r', 0x22: '\\"', 0x5c: '\\\\' };

const hex2 = (x: number) => `\\x${x.toString(16).padStart(2, '0')}`;

/** The display form of a key or value (see the file comment). */
export function displayBytes(b: Uint8Array): string {
  let plain = b.length === 0 || b[0] !== 0x22;
  for (let i = 0; plain && i < b.length;) {
    const { n, cp } = seqLen(b, i);
    if (n === 0 || !printable(cp)) plain = false;
    i += n || 1;
  }
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (plain) return buf.toString('utf8');
  let out = '"';
  for (let i = 0; i < b.length;) {
    const { n, cp } = seqLen(b, i);
    if (n === 0) {
      out += hex2(b[i]!);
      i += 1;
    } else if (ESCAPES[cp] !== undefined) {
      out += ESCAPES[cp];
      i += n;
    } else if (!printable(cp)) {
      for (let k = 0; k < n; k++) out += hex2(b[i + k]!);
      i += n;
    } else {
      out += buf.toString('utf8', i, i + n);
      i += n;
    }
  }
  return `${out}"`;
}
