/**
 * module.ts — loading the Emscripten module (build/wasm/lightningdb.mjs +
 * lightningdb.wasm), the typed view of its exports (the names wasm/wasm.cmake
 * exports) and what the engine reads of the core's contract tables: error
 * names from ldb_error_table(), the statistics layout from ldb_stat_table()
 * (through wasm/exports.c). No option, statistic or code is named here.
 */
import { LightningDbError } from '../errors.js';
import type { PageStore } from './stores/types.js';

export interface LdbModule {
  HEAPU8: Uint8Array;
  /** JS page stores by registry id (wasm/library_store.js looks them up). */
  ldbStores: Map<number, PageStore>;
  /** The message of the last failed store call (js_store_errmsg). */
  ldbLastStoreError: string;
  /** Error code numbers by name, from ldb_error_table() (set by
   * loadModule; library_store.js maps a store's Error.code with it). */
  ldbCodes: Record<string, number>;
  _malloc(n: number): number;
  _free(p: number): void;
  _ldb_strerror(code: number): number;
  _ldb_code_name(code: number): number;
  _ldb_error_table(countOut: number): number;
  _ldb_errmsg(db: number): number;
  _ldb_version(): number;
  _ldb_options_set_string(opts: number, name: number, value: number): number;
  _ldb_close(db: number): number;
  _ldb_get_buf(db: number, k: number, kl: number, buf: number, cap: number, vlenOut: number): number;
  _ldb_put(db: number, k: number, kl: number, v: number, vl: number): number;
  _ldb_delete(db: number, k: number, kl: number): number;
  _ldb_batch_create(db: number, out: number): number;
  _ldb_batch_put(b: number, k: number, kl: number, v: number, vl: number): number;
  _ldb_batch_delete(b: number, k: number, kl: number): number;
  _ldb_write(db: number, b: number): number;
  _ldb_batch_destroy(b: number): void;
  _ldb_txn_begin(db: number, flags: number, out: number): number;
  _ldb_txn_get_buf(t: number, k: number, kl: number, buf: number, cap: number, vlenOut: number): number;
  _ldb_txn_put(t: number, k: number, kl: number, v: number, vl: number): number;
  _ldb_txn_delete(t: number, k: number, kl: number): number;
  _ldb_txn_commit(t: number): number;
  _ldb_txn_abort(t: number): void;
  _ldb_iter_first(it: number): number;
  _ldb_iter_seek(it: number, k: number, kl: number): number;
  _ldb_iter_read(it: number, buf: number, cap: number, max: number, countOut: number, usedOut: number): number;
  _ldb_iter_destroy(it: number): void;
  _ldb_flush(db: number): number;
  _ldb_checkpoint(db: number): number;
  _ldb_maintain(db: number, budget: number, nextMsOut: number): number;
  /** ldb_check_report: 4 + 16 doubles at out (wasm/exports.c). */
  _ldbw_check(db: number, out: number): number;
  _ldb_backup_to_store(db: number, store: number): number;
  _ldb_store_destroy(store: number): void;
  _ldbw_options_new(): number;
  _ldbw_open(path: number, store: number, opts: number, out: number): number;
  _ldbw_store_js_new(sid: number, id: number): number;
  _ldbw_iter_create(db: number, txn: number, lo: number, lol: number, loEx: number, up: number, upl: number,
    upEx: number, pre: number, prel: number, reverse: number, out: number): number;
  /** op 0: ldb_count, 1: ldb_delete_range (limit < 0: none); the number
   * as a double at out. */
  _ldbw_range(db: number, txn: number, lo: number, lol: number, loEx: number, up: number, upl: number,
    upEx: number, pre: number, prel: number, reverse: number, op: number, limit: number, out: number): number;
  _ldbw_stats_layout(): number;
  _ldbw_stats(db: number, out: number, cap: number): number;
  _ldbw_stats_prometheus(db: number, labels: number, buf: number, cap: number, lenOut: number): number;
  _ldbw_heap_bytes(): number;
  _ldbw_changes_open(db: number, since: number, lo: number, lol: number, loEx: number, up: number, upl: number,
    upEx: number, pre: number, prel: number, out: number): number;
  _ldb_changes_read(c: number, buf: number, cap: number, max: number, countOut: number, usedOut: number): number;
  _ldb_changes_close(c: number): void;
  _ldbw_events_read(db: number, after: number, out: number, cap: number, countOut: number): number;
  _ldb_event_name(type: number): number;
}

/** What the engine reads of the core's contract tables, once per module. */
export interface Contract {
  /** ldb_code_name(code) for every code of ldb_error_table(). */
  codeNames: string[];
  /** ldbw_stats()'s output: [jsName, doubles] per row of ldb_stat_table(). */
  stats: Array<[string, number]>;
  /** The sum of the widths in `stats`. */
  statsDoubles: number;
}

const contracts = new WeakMap<LdbModule, Contract>();

const utf8 = new TextDecoder();

/** The NUL-terminated UTF-8 string at p in m's heap. */
export function cstr(m: LdbModule, p: number): string {
  const h = m.HEAPU8;
  let e = p;
  while (h[e]) e++;
  return utf8.decode(h.subarray(p, e));
}

/** The contract tables of module `m` (read on first use, then cached). */
export function contractOf(m: LdbModule): Contract {
  let c = contracts.get(m);
  if (c) return c;
  const out = m._malloc(4);
  let n: number;
  try {
    m._ldb_error_table(out);
    n = new DataView(m.HEAPU8.buffer).getUint32(out, true);
  } finally {
    m._free(out);
  }
  const codeNames = Array.from({ length: n }, (_, code) => cstr(m, m._ldb_code_name(code)));
  const layout = m._ldbw_stats_layout();
  if (!layout) throw new LightningDbError('NO_MEMORY', 'cannot allocate the statistics layout in the WebAssembly heap');
  const stats = cstr(m, layout).split(' ').map((f): [string, number] => {
    const i = f.lastIndexOf(':');
    return [f.slice(0, i), Number(f.slice(i + 1))];
  });
  c = { codeNames, stats, statsDoubles: stats.reduce((a, [, w]) => a + w, 0) };
  contracts.set(m, c);
  return c;
}

export interface LoadOptions {
  /** The module's bytes (Node: read from disk). */
  wasmBinary?: ArrayBuffer | Uint8Array;
  /** Where to fetch lightningdb.wasm (browsers); default: next to this
   * module, new URL('./lightningdb.wasm', import.meta.url). */
  wasmUrl?: string | URL;
  /** The Emscripten factory (the default export of lightningdb.mjs). */
  factory: (opts: object) => Promise<LdbModule>;
}

type Factory = (opts: object) => Promise<LdbModule>;

/** The error for a part of LightningDB that could not be loaded (code
 * SETUP, LDB_SETUP in the core's table); the message names the file and
 * the option that fixes it. */
export function setupError(message: string, cause?: unknown): LightningDbError {
  return new LightningDbError('SETUP', message, { cause });
}

/** Instantiates a fresh module. Fails with code SETUP when the module
 * cannot be fetched or compiled. Each instance has its own heap and engines. */
export async function loadModule(opts: LoadOptions): Promise<LdbModule> {
  const factory: Factory = opts.factory;
  const moduleOpts: Record<string, unknown> = {
    ldbStores: new Map<number, PageStore>(),
    ldbLastStoreError: '',
    ldbCodes: {},
    // The runtime prints nothing we want on the console by default.
    print: () => {},
    printErr: (s: string) => console.warn('[lightningdb.wasm]', s),
  };
  let from = 'the bytes given as wasmBinary';
  if (opts.wasmBinary) {
    moduleOpts.wasmBinary = opts.wasmBinary;
    // Keeps the glue from resolving the file against import.meta.url,
    // which throws in a Worker started from a blob: URL.
    moduleOpts.locateFile = (file: string) => file;
  } else {
    const url = opts.wasmUrl ?? new URL('./lightningdb.wasm', import.meta.url);
    from = String(url);
    moduleOpts.locateFile = (file: string) => (file.endsWith('.wasm') ? String(url) : file);
  }
  let m: LdbModule;
  try {
    m = await factory(moduleOpts);
  } catch (e) {
    // A missing file, HTML served for it, or a wrong MIME type: Emscripten
    // aborts with a bare RuntimeError; say what and where instead.
    throw setupError(`cannot load the LightningDB WebAssembly module from ${from} ` +
      `(${String((e as Error)?.message ?? e)}); serve lightningdb.wasm there, or pass its URL as the wasmUrl option`, e);
  }
  m.ldbCodes = Object.fromEntries(contractOf(m).codeNames.map((name, code) => [name, code]));
  return m;
}
