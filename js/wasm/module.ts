/**
 * module.ts — loading the Emscripten module (build/wasm/lightningdb.mjs +
 * lightningdb.wasm) and the typed view of its exports. The names here are
 * the ones wasm/wasm.cmake exports; the option and statistics orders match
 * wasm/exports.c.
 */
import type { PageStore } from './stores/types.js';

export interface LdbModule {
  HEAPU8: Uint8Array;
  ldbStores: Map<number, PageStore>;
  ldbLastStoreError: string;
  _malloc(n: number): number;
  _free(p: number): void;
  _ldb_strerror(code: number): number;
  _ldb_code_name(code: number): number;
  _ldb_errmsg(db: number): number;
  _ldb_version(): number;
  _ldb_close(db: number): number;
  _ldb_free(db: number, p: number): void;
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
  _ldb_iter_next(it: number): number;
  _ldb_iter_read(it: number, buf: number, cap: number, max: number, countOut: number, usedOut: number): number;
  _ldb_iter_destroy(it: number): void;
  _ldb_flush(db: number): number;
  _ldb_checkpoint(db: number): number;
  _ldb_check(db: number): number;
  _ldb_backup_to_store(db: number, store: number): number;
  _ldbw_open(path: number, store: number, opts: number, out: number): number;
  _ldbw_store_js_new(sid: number, id: number): number;
  _ldbw_store_destroy(store: number): void;
  _ldbw_iter_create(db: number, txn: number, lo: number, lol: number, loEx: number, up: number, upl: number,
    upEx: number, pre: number, prel: number, reverse: number, out: number): number;
  _ldbw_checkpoint_step(db: number, budget: number, moreOut: number): number;
  _ldbw_stats(db: number, out: number): number;
  _ldbw_stats_count(): number;
  _ldbw_heap_used(): number;
  _ldbw_changes_open(db: number, since: number, lo: number, lol: number, loEx: number, up: number, upl: number,
    upEx: number, pre: number, prel: number, out: number): number;
  _ldb_changes_read(c: number, buf: number, cap: number, max: number, countOut: number, usedOut: number): number;
  _ldb_changes_close(c: number): void;
}

/** Order of the options array of ldbw_open (wasm/exports.c). */
export const OPT = {
  pageSize: 0, cacheSize: 1, compression: 2, compressionLevel: 3, syncMode: 4, syncIntervalMs: 5,
  createIfMissing: 6, errorIfExists: 7, readOnly: 8, memtableSize: 9, maxActiveTransactions: 10,
} as const;
export const OPT_COUNT = 11;

/** Order of the scalar statistics of ldbw_stats (wasm/exports.c). */
export const STATS_FIELDS = [
  'gets', 'puts', 'deletes', 'batches', 'commits', 'conflicts', 'aborts', 'cacheHits', 'cacheMisses',
  'cacheEvictions', 'cacheBytes', 'cacheCapacity', 'bytesRead', 'bytesWritten', 'syncs', 'checkpoints',
  'activeTxns', 'activeSnapshots', 'memtableBytes', 'dataFileSize', 'logFileSize', 'pageSize', 'pageCount',
  'freePages', 'lastSeq', 'checkpointSeq', 'uptimeNs', 'backgroundError',
] as const;
export const HIST_BUCKETS = 48;

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

/** Instantiates a fresh module. Each instance has its own heap and engines. */
export async function loadModule(opts: LoadOptions): Promise<LdbModule> {
  const factory: Factory = opts.factory;
  const moduleOpts: Record<string, unknown> = {
    ldbStores: new Map<number, PageStore>(),
    ldbLastStoreError: '',
    // The runtime prints nothing we want on the console by default.
    print: () => {},
    printErr: (s: string) => console.warn('[lightningdb.wasm]', s),
  };
  if (opts.wasmBinary) moduleOpts.wasmBinary = opts.wasmBinary;
  else {
    const url = opts.wasmUrl ?? new URL('./lightningdb.wasm', import.meta.url);
    moduleOpts.locateFile = (file: string) => (file.endsWith('.wasm') ? String(url) : file);
  }
  return factory(moduleOpts);
}
