/**
 * subscope.ts — the key scope of a named sub-database (db.sub(name)):
 * its name checked and its prefix built, once, for Database (database.ts)
 * and for the browser's main-thread proxy (browser/index.ts), which
 * checks sub() on the page without loading the encodings or the engine.
 *
 * A sub-database's keys are stored in its parent under 0x00 name 0x00
 * (nested: the parent's scope first), so sub-databases never overlap one
 * another, and a scan of the parent shows them at the start (keys
 * beginning with 0x00).
 */
import type { SubOptions } from './database.js';
import { invalid, invalidType } from './errors.js';
import { checkOptionKeys, keyList } from './options.js';

/** The keys sub() takes (SubOptions); any other is INVALID_ARGUMENT. */
export const SUB_OPTION_KEYS = keyList<SubOptions>({ keyEncoding: true, valueEncoding: true });

const utf8 = new TextEncoder();

/** The longest scope (nested names and their separators), in bytes. */
export const MAX_SCOPE_BYTES = 512;

/** The scope of sub-database `name` under a parent with scope `outer`
 * (undefined: the database itself). LightningDbTypeError (invalidType) for
 * a name that is not a string or options that are not an object; INVALID_ARGUMENT for an empty
 * name, a NUL character, a scope over MAX_SCOPE_BYTES, or an option key
 * sub() does not take. */
export function subScope(outer: Uint8Array | undefined, name: unknown, opts: unknown): Uint8Array {
  if (typeof name !== 'string') throw invalidType('sub-database name', 'a string', name);
  if (name.length === 0 || name.includes('\0')) throw invalid('sub-database name must be non-empty and hold no NUL character');
  if (opts !== undefined && opts !== null && (typeof opts !== 'object' || Array.isArray(opts))) throw invalidType('sub options', 'an object', opts);
  checkOptionKeys(opts, SUB_OPTION_KEYS, 'sub()');
  const n = utf8.encode(name);
  const o = outer ?? new Uint8Array(0);
  const scope = new Uint8Array(o.length + n.length + 2);
  scope.set(o, 0);
  scope[o.length] = 0;
  scope.set(n, o.length + 1);
  scope[scope.length - 1] = 0;
  if (scope.length > MAX_SCOPE_BYTES) throw invalid(`sub-database names (nested) exceed ${MAX_SCOPE_BYTES} bytes`);
  return scope;
}
