/**
 * native/addon.ts — the functions the N-API addon (node/*.c) exports, and
 * finding and loading it. Node only.
 *
 * Addon lookup, first that loads wins:
 *   1. $LIGHTNINGDB_ADDON (an explicit path): when set, it is the only
 *      candidate: a missing file, or one that does not load, is a SETUP
 *      error naming the path (the user asked for that file; falling back
 *      to another addon would hide the mistake),
 *   2. prebuilds/<platform>-<arch>/lightningdb.node (shipped in the package),
 *   3. build/node/lightningdb.node (the local CMake build, `npm run build`,
 *      or the installed package's source build, scripts/install.mjs).
 * An addon whose contract tables (contract()) differ from js/contract.ts
 * was built from other sources and is passed over (contractDrift).
 */
import { createRequire } from 'node:module';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERRORS, OPTIONS, STATS } from '../contract.js';
import { LightningDbError } from '../errors.js';
import type { EngineCheckResult, EngineEvent, EngineOpenOptions, EngineStats } from '../engine.js';

/** An opaque, type-tagged addon handle (database, transaction, iterator). */
export type Handle = object;

/** A point read's result: the value's length in readBuffer() (a value of
 * up to 16 KiB), -1 when absent, or a Buffer holding a larger value. */
export type ReadResult = number | Buffer;

/** The contract tables compiled into the addon, as contract() returns them
 * (types are the LDB_OPT_* / LDB_METRIC_* numbers; an option's values is
 * the '|'-separated C string or null). */
export interface AddonContract {
  options: Array<{ name: string; jsName: string; type: number; default: number; min: number; max: number;
    values: string | null; unit: string; doc: string }>;
  stats: Array<{ name: string; jsName: string; metric: string; type: number; scale: number; help: string }>;
  errors: Array<{ code: number; name: string; message: string }>;
}

/** The functions exported by node/module.c. Every function throws an Error
 * whose code is the core's ldb_code_name() (TypeError with code
 * ERR_INVALID_ARG_TYPE for a wrong argument type); a handle used after it
 * ended throws CLOSED. */
export interface Addon {
  /** Options are read by the js_name of each row of ldb_option_table:
   * strings (enum names) through ldb_options_set_string, numbers and
   * booleans through ldb_options_set. */
  open(path: string, options: EngineOpenOptions): Handle;
  /** Ends the db's transactions and iterators, then closes. Idempotent. */
  close(db: Handle): void;
  /** The env's shared read buffer: values and iterator chunks are read
   * into its start; its last 1,024 bytes are the key area. */
  readBuffer(): Buffer;
  /** key: a Uint8Array, or the length of a key copied into the key area. */
  get(db: Handle, key: Uint8Array | number): ReadResult;
  /** One snapshot; values packed into the read buffer: see js_get_many in
   * node/reads.c. */
  getMany(db: Handle, keys: Uint8Array[]): number | Array<Buffer | undefined>;
  put(db: Handle, key: Uint8Array, value: Uint8Array): void;
  del(db: Handle, key: Uint8Array): void;
  /** One atomic batch; an undefined value deletes its key. */
  write(db: Handle, keys: Uint8Array[], values: Array<Uint8Array | undefined>): void;
  writeAsync(db: Handle, keys: Uint8Array[], values: Array<Uint8Array | undefined>): Promise<void>;
  begin(db: Handle, readOnly: boolean): Handle;
  txnGet(txn: Handle, key: Uint8Array | number): ReadResult;
  txnPut(txn: Handle, key: Uint8Array, value: Uint8Array): void;
  txnDel(txn: Handle, key: Uint8Array): void;
  /** Ends the transaction whatever the outcome. */
  txnCommit(txn: Handle): void;
  txnCommitAsync(txn: Handle): Promise<void>;
  /** Idempotent. */
  txnAbort(txn: Handle): void;
  /** flags: 1 lowerExclusive, 2 upperExclusive, 4 reverse. */
  iterCreate(
    db: Handle, txn: Handle | null, lower: Uint8Array | undefined, upper: Uint8Array | undefined,
    prefix: Uint8Array | undefined, flags: number,
  ): Handle;
  iterSeek(it: Handle, key?: Uint8Array): void;
  /** Up to max entries as an ldb_iter_read chunk: its length in the read
   * buffer, a Buffer holding one entry larger than the read buffer, or null
   * at the end. */
  iterNext(it: Handle, max: number): number | Buffer | null;
  /** Idempotent. */
  iterClose(it: Handle): void;
  /** ldb_count over the range (flags as iterCreate's); txn null: a fresh
   * snapshot. */
  rangeCount(
    db: Handle, txn: Handle | null, lower: Uint8Array | undefined, upper: Uint8Array | undefined,
    prefix: Uint8Array | undefined, flags: number,
  ): number;
  /** ldb_delete_range: at most limit (Infinity: all) keys; the number
   * deleted. */
  rangeDelete(
    db: Handle, txn: Handle | null, lower: Uint8Array | undefined, upper: Uint8Array | undefined,
    prefix: Uint8Array | undefined, flags: number, limit: number,
  ): number;
  /** A change cursor (node/feed.c): commits with seq > since; flags 1
   * lowerExclusive, 2 upperExclusive. */
  changesOpen(db: Handle, since: number, lower: Uint8Array | undefined, upper: Uint8Array | undefined,
    prefix: Uint8Array | undefined, flags: number): Handle;
  /** Up to max commits in ldb_changes_read's encoding, or null when caught
   * up. */
  changesNext(cursor: Handle, max: number): Buffer | null;
  changesClose(cursor: Handle): void;
  /** fn() after commits of the engine become visible (any thread). */
  onCommit(db: Handle, fn: () => void): Handle;
  offCommit(listener: Handle): void;
  refCommit(listener: Handle, keepAlive: boolean): void;
  flush(db: Handle): void;
  flushAsync(db: Handle): Promise<void>;
  checkpoint(db: Handle): void;
  check(db: Handle): EngineCheckResult;
  backup(db: Handle, path: string): void;
  /** Keyed by the js_name of every row of ldb_stat_table. */
  stats(db: Handle): EngineStats;
  /** ldb_stats_prometheus of the current statistics. */
  prometheus(db: Handle, labels?: string): string;
  /** ldb_events_read: the kept events with seq > after, oldest first. */
  events(db: Handle, after: number): EngineEvent[];
  /** The core's option, statistic and error tables compiled into the
   * addon; the loader compares them with js/contract.ts. */
  contract(): AddonContract;
  version(): string;
}

const OPTION_TYPES = ['', 'uint', 'bool', 'enum'];
const STAT_TYPES = ['', 'counter', 'gauge', 'histogram', 'sum'];

/** The first difference between the tables compiled into an addon and the
 * ones this JavaScript was generated from (js/contract.ts), or undefined
 * when they agree on what the engine relies on: option names, types,
 * defaults, ranges and enum values; statistic names, order and types; error
 * codes and names (documentation strings may differ). An addon built from
 * other sources (a stale local build, a prebuild of another version) would
 * otherwise ignore options or mislabel statistics. */
export function contractDrift(c: AddonContract): string | undefined {
  const first = (what: string, got: string[], want: string[]): string | undefined => {
    for (let i = 0; i < Math.max(got.length, want.length); i++) {
      if (got[i] !== want[i]) return `${what} ${i}: the addon has ${got[i] ?? 'none'}, this JavaScript expects ${want[i] ?? 'none'}`;
    }
    return undefined;
  };
  const option = (jsName: string, type: string, def: number, min: number, max: number, values: string) =>
    `${jsName} (${type}, default ${def}, ${min}..${max}${values ? `, ${values}` : ''})`;
  return (
    first('option', c.options.map((o) => option(o.jsName, OPTION_TYPES[o.type] ?? `type ${o.type}`, o.default, o.min, o.max, o.values ?? '')),
      OPTIONS.map((o) => option(o.jsName, o.type, o.default, o.min, o.max, o.values.join('|')))) ??
    first('statistic', c.stats.map((r) => `${r.jsName} (${STAT_TYPES[r.type] ?? `type ${r.type}`})`),
      STATS.map((r) => `${r.jsName} (${r.type})`)) ??
    first('error code', c.errors.map((e) => `${e.code} ${e.name}`), ERRORS.map((e) => `${e.code} ${e.name}`))
  );
}

/** Directory of this module, in the ESM build, the CommonJS build (where
 * the bundler replaces import.meta.url) and under tsx. */
function moduleDir(): string {
  return dirname(fileURLToPath(import.meta.url));
}

/** The package root: the nearest ancestor with lightningdb's package.json. */
export function packageRoot(from = moduleDir()): string {
  let dir = from;
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if (JSON.parse(readFileSync(pj, 'utf8')).name === 'lightningdb') return dir;
      } catch {
        /* keep looking */
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`lightningdb: package root not found above ${from}`);
    dir = up;
  }
}

/** Candidate addon paths in lookup order (those that exist).
 * $LIGHTNINGDB_ADDON comes first; loadAddon() then uses it alone. */
export function addonCandidates(root = packageRoot()): string[] {
  const list: string[] = [];
  const env = process.env.LIGHTNINGDB_ADDON;
  if (env) list.push(env);
  list.push(join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'lightningdb.node'));
  list.push(join(root, 'build', 'node', 'lightningdb.node'));
  return list.filter((p) => existsSync(p));
}

let loaded: { addon: Addon; path: string } | undefined;

/** Loads the first candidate that loads; the error (SETUP) lists every
 * attempt. With $LIGHTNINGDB_ADDON set, that file or a SETUP error naming
 * it: no fallback. */
export function loadAddon(root?: string): { addon: Addon; path: string } {
  if (loaded && root === undefined) return loaded;
  const req = createRequire(import.meta.url);
  const failures: string[] = [];
  const explicit = process.env.LIGHTNINGDB_ADDON;
  if (explicit && !existsSync(explicit)) {
    throw new LightningDbError('SETUP', `lightningdb: LIGHTNINGDB_ADDON is set to ${explicit}, which does not exist. ` +
      "Point it at a lightningdb.node, or unset it to use the package's own addon.");
  }
  const candidates = explicit ? [explicit] : addonCandidates(root ?? packageRoot());
  for (const path of candidates) {
    try {
      const addon = req(path) as Addon;
      if (typeof addon.open !== 'function' || typeof addon.version !== 'function') {
        failures.push(`${path}: not the LightningDB addon`);
        continue;
      }
      const drift = typeof addon.contract === 'function' ? contractDrift(addon.contract()) : 'no contract()';
      if (drift) {
        failures.push(`${path}: built from other sources than this JavaScript (${drift}); rebuild it`);
        continue;
      }
      const result = { addon, path };
      if (root === undefined) loaded = result;
      return result;
    } catch (e) {
      failures.push(`${path}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  if (explicit) {
    throw new LightningDbError('SETUP', `lightningdb: the addon LIGHTNINGDB_ADDON names could not be used: ${failures[0]}. ` +
      "Fix or rebuild that file, or unset LIGHTNINGDB_ADDON to use the package's own addon.");
  }
  const detail = failures.length ? `\n  tried:\n  ${failures.join('\n  ')}` : '';
  const base = root ?? packageRoot();
  const needs = 'needs cmake, a C compiler, pkg-config, libzstd-dev and liblz4-dev';
  const shipped = existsSync(join(base, 'prebuilds'))
    ? readdirSync(join(base, 'prebuilds')).filter((d) => existsSync(join(base, 'prebuilds', d, 'lightningdb.node'))).join(', ')
    : '';
  // A source checkout builds with npm; an installed package compiles from
  // the sources it ships (scripts/install.mjs, its install script, which
  // npm 11 runs only once approved).
  const fix = existsSync(join(base, 'js', 'index.ts'))
    ? `Build it with \`npm run build:addon\` (${needs}).`
    : `This package ships prebuilt addons for ${shipped || 'no platform'}. Compile one from the shipped sources with ` +
      `\`node ${join(base, 'scripts', 'install.mjs')}\` (${needs}), or approve the package's install script ` +
      '(`npm install-scripts approve lightningdb`) and run `npm rebuild lightningdb`.';
  throw new LightningDbError(
    'SETUP',
    `lightningdb: no native addon for ${process.platform}-${process.arch} could be loaded. ${fix}${detail}`,
  );
}


/** Path of the addon the default engine loaded (undefined before use). */
export function loadedAddonPath(): string | undefined {
  return loaded?.path;
}
