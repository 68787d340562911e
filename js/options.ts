/**
 * options.ts — the check that refuses option keys a function does not
 * take. Without it a misspelled option was ignored without a word:
 * `open(path, { cachesize: 1e9 })` opened with the default cache. Every
 * function of the public API that takes an options object names its keys
 * once, as a list beside its options type, and calls checkOptionKeys():
 *   - open() / Database.create() / new Database(): DATABASE_OPTION_KEYS,
 *     below: the core's options (contract.ts, generated from
 *     core/src/options.def: not copied) and the encodings;
 *   - the front ends add their own keys to that list where they are
 *     declared: the browser's open() and openInWorker() (js/browser/),
 *     openWasm() (js/wasm/node.ts), new LightningLevel() (js/level/:
 *     only misspellings, see othersPass), the
 *     replication Publisher and Follower (js/replication/), db.serve()
 *     (js/ops/server.ts), sub() (SUB_OPTION_KEYS, database.ts).
 * An unknown key is INVALID_ARGUMENT, naming it and the closest known key:
 * "unknown option 'cachesize' (did you mean 'cacheSize'?)". A key whose
 * value is undefined is checked too (it is still a misspelling). Only own
 * enumerable string keys count (what an object literal or a spread makes).
 *
 * This file runs in Node and in browsers (no Node modules).
 */
import { OPTIONS, type OptionInfo } from './contract.js';
import { invalid } from './errors.js';

/** T without an index signature (`[option: string]: unknown`). */
type Named<T> = { [K in keyof T as string extends K ? never : number extends K ? never : K]: T[K] };

/** The keys of an options type T that its base type Base lacks, as an
 * object { key: true }: written as a literal of this type, the compiler
 * refuses a key T lacks and a key of T left out, so a list and its type
 * cannot drift apart. */
export type KeysOf<T, Base = {}> = { [K in keyof Omit<Named<T>, keyof Base>]-?: true };

/** The names of a KeysOf object, as a list: keyList<ServeOptions>({ host:
 * true, ... }), or a front end's own keys, added to open()'s:
 * keyList<BrowserOpenOptions, OpenOptions>({ store: true, ... }). */
export function keyList<T, Base = {}>(keys: KeysOf<T, Base>): readonly string[] {
  return Object.freeze(Object.keys(keys));
}

/** The options of open(), Database.create() and new Database(): the
 * core's options (the contract table) and the encodings. */
export const DATABASE_OPTION_KEYS: readonly string[] = Object.freeze([
  ...OPTIONS.map((o) => o.jsName),
  'keyEncoding',
  'valueEncoding',
]);

/** Damerau-Levenshtein (optimal string alignment) distance of a and b. */
function distance(a: string, b: string): number {
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) d.push([i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 0; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The known key closest to `key`, when one is close enough to be what
 * was meant: compared without case (cachesize: cacheSize) and without
 * '_' / '-' (cache_size: cacheSize), then within a few edits (one per
 * three letters, at least two). undefined when none is. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[_-]/g, '');
  const k = norm(key);
  let best: string | undefined;
  let bestD = Math.max(2, Math.floor(k.length / 3)) + 1;
  for (const c of known) {
    const dist = distance(k, norm(c));
    if (dist < bestD) {
      best = c;
      bestD = dist;
    }
  }
  return best;
}

/** Throws INVALID_ARGUMENT for the first own key of `options` that is not
 * in `known`: "unknown option 'x' (did you mean 'y'?)", or, when no known
 * key is close, "unknown option 'x' (<what> takes: a, b, ...)". `what`
 * names the function ("open()"). Does nothing for undefined / null and
 * for non-objects (the caller reports those with their own TypeError).
 * With `othersPass` (options that also carry other libraries' keys: Level
 * hands its constructor's options to hooks and plugins), only a key close
 * to a known one is refused, as its misspelling; the rest pass. */
export function checkOptionKeys(options: unknown, known: readonly string[], what: string, othersPass = false): void {
  if (options === null || typeof options !== 'object') return;
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const near = closestKey(key, known);
    if (othersPass && near === undefined) continue;
    throw invalid(near !== undefined
      ? `unknown option '${key}' (did you mean '${near}'?)`
      : `unknown option '${key}' (${what} takes: ${known.join(', ')})`);
  }
}

/** The options a second open of a database already open may give freely
 * (each open's own): the rest are the engine's, which every handle of one
 * database shares, so an open that asks for other values is refused. The
 * same list as the core's opt_per_open (core/src/options.c), where native
 * and WebAssembly opens in one process are checked (options_match);
 * tests/node/options.test.ts checks that the engine refuses exactly the
 * others. The browser's shared mode checks a client tab's open against
 * its owner with it (js/browser/worker.ts). */
export const PER_OPEN_OPTIONS: readonly string[] = Object.freeze(['pageSize', 'createIfMissing', 'errorIfExists', 'readOnly', 'salvage']);

/** An engine option's value as the core's messages show it (opt_text):
 * an enum's name quoted ('off'), true/false, a number. */
function optionText(row: OptionInfo, v: number | boolean | string): string {
  return row.type === 'enum' ? `'${String(v)}'` : String(v);
}

/** The engine options of an open() options object that a second open
 * must match (every option but PER_OPEN_OPTIONS), with the defaults of the
 * option table for those not given: { cacheSize: 67108864, syncMode:
 * 'normal', ... }. Values are not checked here (open() does that). */
export function engineOptionValues(options: Record<string, unknown>): Record<string, number | boolean | string> {
  const out: Record<string, number | boolean | string> = {};
  for (const row of OPTIONS) {
    if (PER_OPEN_OPTIONS.includes(row.jsName)) continue;
    const v = options[row.jsName];
    out[row.jsName] = v === undefined
      ? (row.type === 'bool' ? row.default === 1 : row.type === 'enum' ? row.values[row.default]! : row.default)
      : (v as number | boolean | string);
  }
  return out;
}

/** The first engine option whose value differs between `have` (the
 * database's, as engineOptionValues gives them) and `want` (this open's),
 * described as the core describes it: "option syncMode 'off', and this
 * open asks for 'full'"; null when they match. An option `have` lacks (an
 * owner of an older version) is not compared. */
export function engineOptionMismatch(have: Record<string, unknown>, want: Record<string, unknown>): string | null {
  const w = engineOptionValues(want);
  for (const row of OPTIONS) {
    const name = row.jsName;
    if (!(name in w) || !(name in have) || have[name] === w[name]) continue;
    return `option ${name} ${optionText(row, have[name] as number)}, and this open asks for ${optionText(row, w[name]!)}`;
  }
  return null;
}
