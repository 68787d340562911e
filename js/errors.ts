/**
 * errors.ts — LightningDbError and the stable error codes of the public API.
 *
 * Engines (js/engine.ts) throw plain Errors with a `code`; database.ts turns
 * them into LightningDbError with toLightningDbError(). Wrong argument types
 * are reported as TypeError (not LightningDbError), as the platform does.
 */

import { ERROR_CODES, type ErrorCode } from './contract.js';

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

/** Converts an engine error (an Error with a code from the core) into a
 * LightningDbError; TypeErrors and other foreign errors pass through. */
export function toLightningDbError(e: unknown): unknown {
  if (e instanceof LightningDbError || e instanceof TypeError) return e;
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && KNOWN.has(code)) {
      return new LightningDbError(code as ErrorCode, e.message);
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
