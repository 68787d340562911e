/**
 * assert.ts — a small assertion library for the shared API suite. It has no
 * Node dependencies so the same test files run in a browser Worker; tests
 * reach it through backend.ts only.
 */
import { LightningDbError } from '../../js/errors.js';

export class AssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AssertionError';
  }
}

/** Stable printable form: byte arrays as hex, others as JSON. */
export function show(v: unknown): string {
  if (v instanceof Uint8Array) return `bytes(${hex(v)})`;
  if (v === undefined) return 'undefined';
  try {
    return JSON.stringify(v, (_k, x) => (x instanceof Uint8Array ? `bytes(${hex(x)})` : x === undefined ? '<undefined>' : x));
  } catch {
    return String(v);
  }
}

export function hex(b: Uint8Array): string {
  let s = '';
  const n = Math.min(b.length, 64);
  for (let i = 0; i < n; i++) s += b[i]!.toString(16).padStart(2, '0');
  return b.length > n ? `${s}...(${b.length} bytes)` : s;
}

export function ok(cond: unknown, msg = 'expected a truthy value'): asserts cond {
  if (!cond) throw new AssertionError(msg);
}

export function equal(actual: unknown, expected: unknown, msg?: string): void {
  if (!Object.is(actual, expected)) {
    throw new AssertionError(`${msg ? msg + ': ' : ''}expected ${show(expected)}, got ${show(actual)}`);
  }
}

/** Byte-wise equality of two byte arrays (Buffer and Uint8Array alike). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function deepEq(a: unknown, b: unknown): boolean {
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && bytesEqual(a, b);
  }
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEq((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** Structural equality where byte arrays compare by content (a Buffer
 * equals a Uint8Array with the same bytes). */
export function deepEqual(actual: unknown, expected: unknown, msg?: string): void {
  if (!deepEq(actual, expected)) {
    throw new AssertionError(`${msg ? msg + ': ' : ''}expected ${show(expected)}, got ${show(actual)}`);
  }
}

/** Runs fn and returns what it threw (fails when it did not throw). */
export function thrown(fn: () => unknown, msg?: string): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new AssertionError(`${msg ? msg + ': ' : ''}expected an exception, none was thrown`);
}

/** fn must throw a LightningDbError with this code and a message. */
export function throwsCode(fn: () => unknown, code: string, msg?: string): LightningDbError {
  const e = thrown(fn, msg);
  return checkCode(e, code, msg);
}

export async function rejectsCode(p: Promise<unknown> | (() => Promise<unknown>), code: string, msg?: string): Promise<LightningDbError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return checkCode(e, code, msg);
  }
  throw new AssertionError(`${msg ? msg + ': ' : ''}expected a rejection with ${code}, none happened`);
}

function checkCode(e: unknown, code: string, msg?: string): LightningDbError {
  const pre = msg ? msg + ': ' : '';
  if (!(e instanceof LightningDbError)) {
    throw new AssertionError(`${pre}expected LightningDbError ${code}, got ${(e as Error)?.name}: ${(e as Error)?.message}`);
  }
  if (e.code !== code) throw new AssertionError(`${pre}expected code ${code}, got ${e.code}: ${e.message}`);
  if (typeof e.message !== 'string' || e.message.length === 0) throw new AssertionError(`${pre}error has no message`);
  return e;
}

/** fn must throw an argument error: a TypeError (wrong argument type or
 * shape) that is also a LightningDbError with code INVALID_ARGUMENT and a
 * message naming what was wrong. */
export function throwsType(fn: () => unknown, msg?: string): TypeError {
  const e = thrown(fn, msg);
  const pre = msg ? msg + ': ' : '';
  if (!(e instanceof TypeError)) {
    throw new AssertionError(`${pre}expected TypeError, got ${(e as Error)?.name}: ${(e as Error)?.message}`);
  }
  if (!(e instanceof LightningDbError) || (e as { code?: unknown }).code !== 'INVALID_ARGUMENT') {
    throw new AssertionError(`${pre}expected a TypeError with code INVALID_ARGUMENT that is a LightningDbError, got code ${String((e as { code?: unknown }).code)}: ${e.message}`);
  }
  if (!/ must |not both|is not an option|cannot be encoded|returned a Promise/.test(e.message)) {
    throw new AssertionError(`${pre}the message does not say what was expected: ${e.message}`);
  }
  return e;
}
