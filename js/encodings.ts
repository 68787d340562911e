/**
 * encodings.ts — how keys and values cross between JavaScript values and the
 * engine's bytes: 'binary' (Uint8Array/Buffer in and out; strings are
 * accepted on input as UTF-8), 'utf8' (strings) and 'json' (any
 * JSON-serializable value, stored as UTF-8 JSON text).
 *
 * Runs in Node and in browser Workers: no Node modules, no Buffer.
 */

export type EncodingName = 'binary' | 'utf8' | 'json';

export interface Encoding<T = unknown> {
  readonly name: EncodingName;
  /** Throws TypeError for a value of the wrong type. */
  encode(v: T, what: string): Uint8Array;
  decode(b: Uint8Array): T;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: false });

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'an object';
  return typeof v;
}

/** Longest string encoded by encodeShort (a Uint8Array this small lives on
 * the V8 heap; TextEncoder.encode has a fixed cost of several hundred ns,
 * which dominated a get with a string key). */
const SHORT_STRING = 64;

/** UTF-8 of a short string: a byte loop while it is ASCII, TextEncoder
 * otherwise (the same bytes either way, lone surrogates included). */
function encodeShort(s: string): Uint8Array {
  const n = s.length;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return textEncoder.encode(s);
    out[i] = c;
  }
  return out;
}

/** Bytes of a Uint8Array (Buffer included) or a string (UTF-8); TypeError
 * for anything else. */
export function toBytes(v: unknown, what: string): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') return v.length <= SHORT_STRING ? encodeShort(v) : textEncoder.encode(v);
  throw new TypeError(`${what} must be a Uint8Array, Buffer or string, got ${typeName(v)}`);
}

export const binary: Encoding<Uint8Array | string> = {
  name: 'binary',
  encode: (v, what) => toBytes(v, what),
  /* Engines return fresh bytes (a Buffer in Node): hand them out as is. */
  decode: (b) => b as Uint8Array,
};

export const utf8: Encoding<string | Uint8Array> = {
  name: 'utf8',
  encode: (v, what) => toBytes(v, what),
  decode: (b) => textDecoder.decode(b),
};

export const json: Encoding<unknown> = {
  name: 'json',
  encode(v, what) {
    let text: string | undefined;
    try {
      text = JSON.stringify(v);
    } catch (e) {
      throw new TypeError(`${what} cannot be encoded as JSON: ${(e as Error).message}`);
    }
    if (text === undefined) {
      throw new TypeError(`${what} cannot be encoded as JSON (got ${typeName(v)})`);
    }
    return textEncoder.encode(text);
  },
  decode: (b) => JSON.parse(textDecoder.decode(b)),
};

export const encodings: Record<EncodingName, Encoding<any>> = { binary, utf8, json };

export function isEncodingName(v: unknown): v is EncodingName {
  return v === 'binary' || v === 'utf8' || v === 'json';
}
