/**
 * encodings.ts — how keys and values cross between JavaScript values and the
 * engine's bytes: 'binary' (Uint8Array/Buffer in and out; strings are
 * accepted on input as UTF-8), 'utf8' (strings), 'json' (any
 * JSON-serializable value, stored as UTF-8 JSON text), 'msgpack' (any value
 * msgpackr packs: Date, Map, Set, typed arrays, BigInt... in MessagePack),
 * and custom encodings: an object { encode(v) => Uint8Array, decode(bytes)
 * => v, name? } given as keyEncoding or valueEncoding.
 *
 * Reads decode through decodeValue() / decodeKey(): what a decoder throws
 * (bytes written with another encoding, or a custom decode() that threw)
 * becomes a LightningDbError DECODE naming the encoding and the key, with
 * the decoder's error as its cause.
 *
 * Runs in Node and in browser Workers: no Node modules, no Buffer.
 */
import { Packr } from 'msgpackr';
import { decodeError, describeValue, invalid, invalidType, typeError } from './errors.js';

export type EncodingName = 'binary' | 'utf8' | 'json' | 'msgpack';

/** A user-defined encoding: keyEncoding / valueEncoding may be one of
 * these instead of a name. encode must return a Uint8Array (a Buffer is
 * one); what it throws is passed to the caller unchanged. Key encodings
 * must keep the order you want scans to follow in the encoded bytes. */
export interface CustomEncoding<T = any> {
  /** shown as the database's keyEncoding / valueEncoding; default 'custom' */
  readonly name?: string;
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

export interface Encoding<T = unknown> {
  readonly name: string;
  /** What encode() takes, for messages: "a Uint8Array, Buffer or string" */
  readonly expects: string;
  /** Throws TypeError for a value of the wrong type. */
  encode(v: T, what: string): Uint8Array;
  decode(b: Uint8Array): T;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: false });


/** Longest string encoded by encodeShort (a Uint8Array this small lives on
 * the V8 heap; TextEncoder.encode has a fixed cost of several hundred ns,
 * which dominated a get with a string key). */
const SHORT_STRING = 64;

/** A lone surrogate: a high one not followed by a low one, or a low one
 * not preceded by a high one (code units, no 'u' flag). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** INVALID_ARGUMENT unless s is well-formed UTF-16 (no lone surrogate).
 * A lone surrogate has no UTF-8 encoding: TextEncoder writes U+FFFD (EF BF
 * BD) for it, the same bytes for every lone surrogate and for '\ufffd'
 * itself, so '\ud800' and '\udc00' would be one key and a value would read
 * back changed. String.prototype.isWellFormed where the runtime has it
 * (Node 20+, current browsers), else the regular expression. */
function checkWellFormed(s: string, what: string): void {
  const wf = (s as { isWellFormed?: () => boolean }).isWellFormed;
  if (wf !== undefined ? wf.call(s) : !LONE_SURROGATE.test(s)) return;
  const m = LONE_SURROGATE.exec(s)!;
  const unit = m[0].charCodeAt(0).toString(16).toUpperCase();
  throw invalid(`${what} is not well-formed Unicode: a lone surrogate U+${unit} at index ${m.index} ` +
    'has no UTF-8 encoding (it would be stored as U+FFFD, the same bytes as any other lone surrogate)');
}

/** UTF-8 of a short string: a byte loop while it is ASCII, TextEncoder
 * otherwise (after checkWellFormed). */
function encodeShort(s: string, what: string): Uint8Array {
  const n = s.length;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) {
      checkWellFormed(s, what);
      return textEncoder.encode(s);
    }
    out[i] = c;
  }
  return out;
}

/** What toBytes() takes. */
const BYTES = 'a Uint8Array, Buffer or string';

/** Bytes of a Uint8Array (Buffer included) or a string (UTF-8); TypeError
 * for anything else, INVALID_ARGUMENT for a string with a lone surrogate
 * (see checkWellFormed: it has no UTF-8 form). */
export function toBytes(v: unknown, what: string): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') {
    if (v.length <= SHORT_STRING) return encodeShort(v, what);
    checkWellFormed(v, what);
    return textEncoder.encode(v);
  }
  throw invalidType(what, BYTES, v);
}

/** Index of the first byte of b that does not start a well-formed UTF-8
 * character (RFC 3629: no overlong form, no surrogate, nothing above
 * U+10FFFF, no truncated sequence), or -1 when b is all UTF-8. */
export function utf8ErrorAt(b: Uint8Array): number {
  const n = b.length;
  let i = 0;
  while (i < n) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    const len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (len === 0 || i + len > n) return i;
    const c1 = b[i + 1]!;
    const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
    if (c1 < lo || c1 > hi) return i;
    for (let j = 2; j < len; j++) if ((b[i + j]! & 0xc0) !== 0x80) return i;
    i += len;
  }
  return -1;
}

/** INVALID_ARGUMENT unless the bytes given as a key of a 'utf8' database
 * are UTF-8: other bytes would read back (keys(), scans) as a string with
 * U+FFFD in it that addresses no key, so the entry could never be got or
 * deleted by the key it is listed under. */
export function checkUtf8Key(b: Uint8Array, what: string): void {
  const at = utf8ErrorAt(b);
  if (at < 0) return;
  throw invalid(`${what} is not valid UTF-8 (byte 0x${b[at]!.toString(16).padStart(2, '0')} at index ${at}), ` +
    "which keyEncoding 'utf8' requires: it would read back as a different string; use keyEncoding 'binary' for byte keys");
}

export const binary: Encoding<Uint8Array | string> = {
  name: 'binary',
  expects: BYTES,
  encode: (v, what) => toBytes(v, what),
  /* Engines return fresh bytes (a Buffer in Node): hand them out as is. */
  decode: (b) => b as Uint8Array,
};

/** Strings are refused when they hold a lone surrogate (toBytes), keys given
 * as bytes when they are not UTF-8 (checkUtf8Key, in encodeKey: bounds may
 * be any bytes). Values given as bytes are stored as they are. */
export const utf8: Encoding<string | Uint8Array> = {
  name: 'utf8',
  expects: BYTES,
  encode: (v, what) => toBytes(v, what),
  decode: (b) => textDecoder.decode(b),
};

export const json: Encoding<unknown> = {
  name: 'json',
  expects: 'a value JSON.stringify encodes',
  encode(v, what) {
    let text: string | undefined;
    try {
      text = JSON.stringify(v);
    } catch (e) {
      throw typeError(`${what} cannot be encoded as JSON: ${(e as Error).message}`);
    }
    if (text === undefined) {
      throw typeError(`${what} cannot be encoded as JSON (got ${describeValue(v)})`);
    }
    return textEncoder.encode(text);
  },
  decode: (b) => JSON.parse(textDecoder.decode(b)),
};

/* One Packr for every database: structured clones of records are off, so
 * the same value always packs to the same bytes. */
const packr = new Packr({ useRecords: false, moreTypes: true });

export const msgpack: Encoding<unknown> = {
  name: 'msgpack',
  expects: 'a value MessagePack encodes',
  encode(v, what) {
    if (v === undefined) throw typeError(`${what} cannot be encoded as MessagePack (got undefined)`);
    try {
      return packr.pack(v) as Uint8Array;
    } catch (e) {
      throw typeError(`${what} cannot be encoded as MessagePack: ${(e as Error).message}`);
    }
  },
  decode: (b) => packr.unpack(b),
};

export const encodings: Record<EncodingName, Encoding<any>> = { binary, utf8, json, msgpack };

export function isEncodingName(v: unknown): v is EncodingName {
  return v === 'binary' || v === 'utf8' || v === 'json' || v === 'msgpack';
}

/** Whether v has the shape of a CustomEncoding. */
export function isCustomEncoding(v: unknown): v is CustomEncoding {
  return typeof v === 'object' && v !== null && typeof (v as CustomEncoding).encode === 'function' &&
    typeof (v as CustomEncoding).decode === 'function';
}

/** An Encoding over a user's { encode, decode }: checks that encode
 * returned bytes. */
export function customEncoding(c: CustomEncoding, option: string): Encoding<any> {
  const name = c.name === undefined ? 'custom' : String(c.name);
  return {
    name,
    expects: `a value the custom encoding '${name}' encodes`,
    encode(v, what) {
      const b = c.encode(v);
      if (!(b instanceof Uint8Array)) {
        throw typeError(`${option} '${name}': encode() of ${what} must return a Uint8Array, got ${describeValue(b)}`);
      }
      return b;
    },
    decode: (b) => c.decode(b),
  };
}

/** A key encoding whose every key is stored under `scope` (a named
 * sub-database's prefix): encode prepends it, decode strips it. */
export function scopedEncoding(inner: Encoding<any>, scope: Uint8Array): Encoding<any> {
  return {
    name: inner.name,
    expects: inner.expects,
    encode(v, what) {
      const b = inner.encode(v, what);
      const out = new Uint8Array(scope.length + b.length);
      out.set(scope, 0);
      out.set(b, scope.length);
      return out;
    },
    decode: (b) => inner.decode(b.subarray(scope.length)),
  };
}

/** enc.decode(bytes) of the value stored under `key`; what the decoder
 * throws becomes DECODE (decodeError) naming enc and `key` (the key as its
 * database shows it: without a sub-database's scope). */
export function decodeValue(enc: Encoding<any>, bytes: Uint8Array, key: Uint8Array): any {
  try {
    return enc.decode(bytes);
  } catch (e) {
    throw decodeError('valueEncoding', enc.name, key, e);
  }
}

/** enc.decode(bytes) of a stored key; what the decoder throws becomes
 * DECODE naming enc and the key (`shown`: the bytes to name, default
 * bytes). */
export function decodeKey(enc: Encoding<any>, bytes: Uint8Array, shown: Uint8Array = bytes): any {
  try {
    return enc.decode(bytes);
  } catch (e) {
    throw decodeError('keyEncoding', enc.name, shown, e);
  }
}
