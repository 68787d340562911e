/**
 * errors.ts — LightningDbError and the stable error codes of the public API.
 *
 * Engines (js/engine.ts) throw plain Errors with a `code`; database.ts turns
 * them into LightningDbError with toLightningDbError().
 *
 * Argument validation: every public function of js/ (Node and browser)
 * reports an argument of the wrong type or shape with the one helper
 * below, invalidType() ("key must be a Uint8Array, Buffer or string, got
 * number"; typeError() for a message of another form). What it throws,
 * LightningDbTypeError, is a TypeError, as the platform's own argument
 * errors are (existing `instanceof TypeError` checks keep working), with
 * the stable code INVALID_ARGUMENT, and `instanceof LightningDbError` too:
 * one catch clause and one code for every bad argument. A value of the
 * right type that is out of range is a plain LightningDbError
 * INVALID_ARGUMENT (invalid()).
 */

import { ERROR_CODES, OPTIONS, type ErrorCode } from './contract.js';

/** Every stable error code (the core's error table, core/src/errors.def,
 * through the generated contract.ts); ErrorCode is their union. */
export { ERROR_CODES, type ErrorCode };

const KNOWN = new Set<string>(ERROR_CODES);

/** Marks every LightningDbError, whichever copy of this module made it. */
const BRAND = Symbol.for('lightningdb.LightningDbError');

/** An error reported by LightningDB; `code` never changes meaning.
 *
 * One class per process: the ESM and the CommonJS builds (and a bundle
 * holding another copy) each define this class, so `instanceof` checks a
 * brand (a registered symbol) instead of the prototype chain: an error
 * thrown through `require('lightningdb')` is `instanceof` the class
 * imported with `import`, and the reverse. */
export class LightningDbError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options as ErrorOptions | undefined);
    this.name = 'LightningDbError';
    this.code = code;
    Object.defineProperty(this, BRAND, { value: true });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    // A subclass keeps the ordinary prototype check.
    if (this !== LightningDbError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
  }
}
// The class's own name, whatever a bundler does to the binding: esbuild
// renames a class that refers to itself (`class _LightningDbError`, in the
// CommonJS build) and minifiers shorten it, so `e.constructor.name` would
// differ between builds.
Object.defineProperty(LightningDbError, 'name', { value: 'LightningDbError' });

/** Marks every LightningDbTypeError, whichever copy of this module made it. */
const TYPE_BRAND = Symbol.for('lightningdb.LightningDbTypeError');

/** An argument of the wrong type or shape given to a public function:
 * `code` is always INVALID_ARGUMENT; the message names the argument and
 * what it must be. A TypeError (its `name` is 'TypeError', as the
 * platform's), and `instanceof LightningDbError` as well (the brand above):
 * `catch (e) { if (e instanceof LightningDbError && e.code ===
 * 'INVALID_ARGUMENT') ... }` sees every bad argument. Made by
 * invalidType() / typeError(). */
export class LightningDbTypeError extends TypeError {
  readonly code: 'INVALID_ARGUMENT' = 'INVALID_ARGUMENT';

  constructor(message: string) {
    super(message);
    Object.defineProperty(this, BRAND, { value: true });
    Object.defineProperty(this, TYPE_BRAND, { value: true });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== LightningDbTypeError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as { [TYPE_BRAND]?: unknown })[TYPE_BRAND] === true;
  }
}
Object.defineProperty(LightningDbTypeError, 'name', { value: 'LightningDbTypeError' });

/** What a value is, for messages: 'null', 'undefined', 'an array', a
 * class name ('Object', 'Map', 'Uint16Array') or typeof ('number'). */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'an object';
  return typeof v;
}

/** The argument error of every public function: "`name` must be
 * `expected`, got <what value is>", e.g. invalidType('key', 'a Uint8Array,
 * Buffer or string', 123): "key must be a Uint8Array, Buffer or string,
 * got number". */
export function invalidType(name: string, expected: string, value: unknown): LightningDbTypeError {
  return new LightningDbTypeError(`${name} must be ${expected}, got ${describeValue(value)}`);
}

/** An argument error whose message is not of invalidType's form ("scan:
 * give gt or gte, not both"); the message still names the argument. */
export function typeError(message: string): LightningDbTypeError {
  return new LightningDbTypeError(message);
}

/** The core names an option by both its names, "option page_size
 * (pageSize)" (the C API's, then this API's: core/src/options.def). */
const CORE_OPTION = /\boption ([a-z0-9_]+) \((\w+)\)/g;

/** A message of the core as this API says it: an option by its API name
 * alone ("option pageSize: 1000 is invalid ..."). Only a pair of names
 * the option table has is rewritten. */
export function apiMessage(message: string): string {
  return message.replace(CORE_OPTION, (all, c: string, js: string) =>
    OPTIONS.some((o) => o.name === c && o.jsName === js) ? `option ${js}` : all);
}

/** Converts an engine error (an Error with a code from the core) into a
 * LightningDbError with the message in this API's names (apiMessage);
 * TypeErrors (ours included) and other foreign errors pass through. */
export function toLightningDbError(e: unknown): unknown {
  if (e instanceof LightningDbError || e instanceof TypeError) return e;
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && KNOWN.has(code)) {
      return new LightningDbError(code as ErrorCode, apiMessage(e.message));
    }
  }
  return e;
}

/** Runs fn, rethrowing engine errors as LightningDbError. */
export function mapErrors<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw toLightningDbError(e);
  }
}

export function closedError(what: string): LightningDbError {
  return new LightningDbError('CLOSED', `the ${what} is closed`);
}

export function invalid(message: string): LightningDbError {
  return new LightningDbError('INVALID_ARGUMENT', message);
}

/** Length of the printable UTF-8 character at b[i] (no C0, DEL or C1
 * control, no surrogate, no overlong form), 0 when there is none. */
function printableChar(b: Uint8Array, i: number): number {
  let c = b[i]!;
  if (c < 0x80) return c >= 0x20 && c !== 0x7f ? 1 : 0;
  if (c < 0xc2 || c > 0xf4) return 0;
  const len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
  if (b.length - i < len) return 0;
  c &= 0x7f >> len;
  for (let j = 1; j < len; j++) {
    const x = b[i + j]!;
    if ((x & 0xc0) !== 0x80) return 0;
    c = (c << 6) | (x & 0x3f);
  }
  const least = len === 2 ? 0x80 : len === 3 ? 0x800 : 0x10000;
  if (c < least || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff) || (c >= 0x80 && c <= 0x9f)) return 0;
  return len;
}

const keyTextDecoder = new TextDecoder();

/** A key as error messages show it, the same way the core's messages do
 * (a CONFLICT names its key so): printable UTF-8 in double quotes with '"'
 * and '\' escaped ("user:1"), anything else in hexadecimal and saying so
 * (00ff01 (hex)); text over 48 bytes is cut at a character boundary and
 * hex after 24 bytes, followed by "... (N bytes)". */
export function keyText(key: Uint8Array): string {
  let i = 0;
  while (i < key.length) {
    const n = printableChar(key, i);
    if (n === 0) break;
    i += n;
  }
  if (i === key.length) {
    let end = 0;
    while (end < key.length) {
      const n = printableChar(key, end);
      if (end + n > 48) break;
      end += n;
    }
    const s = keyTextDecoder.decode(key.subarray(0, end)).replace(/["\\]/g, '\\$&');
    return end < key.length ? `"${s}"... (${key.length} bytes)` : `"${s}"`;
  }
  let h = '';
  const n = Math.min(key.length, 24);
  for (let j = 0; j < n; j++) h += key[j]!.toString(16).padStart(2, '0');
  return n < key.length ? `${h}... (hex, ${key.length} bytes)` : `${h} (hex)`;
}

/** DECODE: a stored key or value that the chosen encoding could not decode
 * (bytes written with another encoding, or a custom decode() that threw).
 * `option` says which encoding ('keyEncoding' or 'valueEncoding'),
 * `encoding` its name, `key` the key the bytes belong to (shown by
 * keyText); the decoder's own error is the `cause`. */
export function decodeError(option: 'keyEncoding' | 'valueEncoding', encoding: string, key: Uint8Array, cause: unknown): LightningDbError {
  const what = option === 'keyEncoding' ? `the key ${keyText(key)}` : `the value of key ${keyText(key)}`;
  const why = cause instanceof Error ? cause.message : String(cause);
  return new LightningDbError('DECODE',
    `${what} cannot be decoded with ${option} '${encoding}' (${why}); was it written with another encoding? ` +
    `${option} 'binary' reads its bytes`, { cause });
}
