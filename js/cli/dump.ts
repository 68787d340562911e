/**
 * dump.ts — the LightningDB dump format (JSON Lines, version 1), written by
 * `lightningdb dump` and read by `lightningdb load`. Documented in
 * docs/operations.md:
 *
 *   line 1      {"lightningdb":"dump","version":1,"created":ISO-8601,"source":PATH}
 *   each entry  {"k":TEXT,"v":TEXT} — "k"/"v" hold the exact bytes when they
 *               are valid UTF-8; otherwise "k64"/"v64" hold them in base64
 *               (RFC 4648, padded). Entries are in key order.
 *   last line   {"end":true,"entries":N}
 *
 * Every byte string round-trips exactly: valid UTF-8 decodes to a string
 * that re-encodes to the same bytes (no BOM stripping, no replacement), and
 * everything else is base64. A dump without its end line is truncated.
 */

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The bytes decoded as UTF-8, or null when they are not valid UTF-8
 * (a byte-order mark is kept; nothing is replaced). */
function utf8Text(b: Uint8Array): string | null {
  try {
    return utf8.decode(b);
  } catch {
    return null;
  }
}

/** True when b is valid UTF-8, so that its text re-encodes to exactly b. */
export function isUtf8(b: Uint8Array): boolean {
  return utf8Text(b) !== null;
}

/** The JSON fragment of one byte string under field name `f` ("k"/"v"). */
function field(f: 'k' | 'v', b: Uint8Array): string {
  const text = utf8Text(b);
  if (text !== null) return `"${f}":${JSON.stringify(text)}`;
  return `"${f}64":"${Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64')}"`;
}

export function headerLine(source: string, created = new Date()): string {
  return `${JSON.stringify({ lightningdb: 'dump', version: 1, created: created.toISOString(), source })}\n`;
}

export function entryLine(key: Uint8Array, value: Uint8Array): string {
  return `{${field('k', key)},${field('v', value)}}\n`;
}

export function endLine(entries: number): string {
  return `${JSON.stringify({ end: true, entries })}\n`;
}

/** A malformed dump: the message names the line. */
export class DumpFormatError extends Error {
  constructor(line: number, message: string) {
    super(`dump line ${line}: ${message}`);
    this.name = 'DumpFormatError';
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function bytesOf(o: Record<string, unknown>, f: 'k' | 'v', line: number): Buffer {
  const text = o[f];
  const b64 = o[`${f}64`];
  const what = f === 'k' ? 'key' : 'value';
  if ((text === undefined) === (b64 === undefined)) {
    throw new DumpFormatError(line, `an entry needs exactly one of "${f}" and "${f}64" (the ${what})`);
  }
  if (text !== undefined) {
    if (typeof text !== 'string') throw new DumpFormatError(line, `"${f}" must be a string`);
    return Buffer.from(text, 'utf8');
  }
  if (typeof b64 !== 'string' || !BASE64.test(b64)) throw new DumpFormatError(line, `"${f}64" must be padded base64`);
  return Buffer.from(b64, 'base64');
}

/** Parses one line of a dump; `line` is 1-based. */
export function parseLine(text: string, line: number):
  | { kind: 'header'; version: number; source: string }
  | { kind: 'entry'; key: Buffer; value: Buffer }
  | { kind: 'end'; entries: number } {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    throw new DumpFormatError(line, 'not valid JSON');
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new DumpFormatError(line, 'not a JSON object');
  const r = o as Record<string, unknown>;
  if (line === 1) {
    if (r.lightningdb !== 'dump') throw new DumpFormatError(line, 'not a LightningDB dump (the first line must be its header)');
    if (r.version !== 1) throw new DumpFormatError(line, `unsupported dump version ${JSON.stringify(r.version)} (this tool reads 1)`);
    return { kind: 'header', version: 1, source: typeof r.source === 'string' ? r.source : '' };
  }
  if (r.end === true) {
    if (typeof r.entries !== 'number' || !Number.isInteger(r.entries) || r.entries < 0) {
      throw new DumpFormatError(line, '"entries" of the end line must be a count');
    }
    return { kind: 'end', entries: r.entries };
  }
  for (const k of Object.keys(r)) {
    if (!['k', 'k64', 'v', 'v64'].includes(k)) throw new DumpFormatError(line, `unknown field "${k}"`);
  }
  return { kind: 'entry', key: bytesOf(r, 'k', line), value: bytesOf(r, 'v', line) };
}
