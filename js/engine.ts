/**
 * engine.ts — the contract between the TypeScript API (written once, in
 * database.ts) and the two ways of reaching the C core:
 *   - node/: the N-API addon (native), and
 *   - wasm/: the Emscripten module with JavaScript page stores.
 *
 * An engine speaks bytes only (Uint8Array keys and values; Node's Buffer is a
 * Uint8Array). Encodings, argument checking for the public API, iteration
 * helpers, retries and metrics arithmetic live in database.ts, not here.
 *
 * Errors: every method throws an Error whose `code` property is the stable
 * name from the C core's ldb_code_name() ("NOT_FOUND", "CONFLICT", "BUSY",
 * "CORRUPT", "IO", "FULL", "NO_MEMORY", "INVALID_ARGUMENT", "CLOSED",
 * "READ_ONLY", "INTERNAL") and whose message is ldb_errmsg() (or
 * ldb_strerror() when that is empty). A missing key is not an error: get()
 * returns undefined.
 */

/** Options passed to the C core's ldb_open (see core/include/lightningdb.h). */
export interface EngineOpenOptions {
  pageSize?: number;
  cacheSize?: number;
  /** 0 none, 1 lz4, 2 zstd (LDB_COMPRESSION_*) */
  compression?: number;
  compressionLevel?: number;
  /** 0 full, 1 normal, 2 off (LDB_SYNC_*) */
  syncMode?: number;
  syncIntervalMs?: number;
  createIfMissing?: boolean;
  errorIfExists?: boolean;
  readOnly?: boolean;
  memtableSize?: number;
  maxActiveTransactions?: number;
  /** false: no background thread (checkpoints in bounded steps). */
  backgroundCheckpoint?: boolean;
}

/** One operation of an atomic write batch. */
export type EngineOp =
  | { type: 'put'; key: Uint8Array; value: Uint8Array }
  | { type: 'del'; key: Uint8Array };

/** Iterator bounds, as ldb_iter_options. */
export interface EngineIterOptions {
  lower?: Uint8Array;
  lowerExclusive?: boolean;
  upper?: Uint8Array;
  upperExclusive?: boolean;
  prefix?: Uint8Array;
  reverse?: boolean;
}

/** The raw statistics of ldb_stats (counters as numbers; histograms as
 * arrays of LDB_HIST_BUCKETS bucket counts, bucket i = [2^i, 2^(i+1)) ns). */
export interface EngineStats {
  gets: number; puts: number; deletes: number; batches: number;
  commits: number; conflicts: number; aborts: number;
  cacheHits: number; cacheMisses: number; cacheEvictions: number;
  cacheBytes: number; cacheCapacity: number;
  bytesRead: number; bytesWritten: number; syncs: number; checkpoints: number;
  activeTxns: number; activeSnapshots: number; memtableBytes: number;
  dataFileSize: number; logFileSize: number; pageSize: number;
  pageCount: number; freePages: number; lastSeq: number; checkpointSeq: number;
  uptimeNs: number; backgroundError: string; /* code name, "OK" when none */
  getLatency: number[]; commitLatency: number[];
}

export interface EngineIterator {
  /** Position at the first entry (in iteration order) >= key, or at the
   * start of the range when key is undefined. */
  seek(key?: Uint8Array): void;
  /** Up to max entries from the current position onward, advancing past
   * them; an empty array at the end. Keys and values are fresh copies. */
  next(max: number): Array<[Uint8Array, Uint8Array]>;
  /** Idempotent. */
  close(): void;
}

export interface EngineTxn {
  readonly readOnly: boolean;
  get(key: Uint8Array): Uint8Array | undefined;
  put(key: Uint8Array, value: Uint8Array): void;
  del(key: Uint8Array): void;
  iterate(opts: EngineIterOptions): EngineIterator;
  /** Ends the transaction (also on failure). */
  commit(): void;
  /** As commit, with the durable wait off the JS thread where the host
   * has threads (Node); elsewhere the same as commit. */
  commitAsync(): Promise<void>;
  /** Idempotent. */
  abort(): void;
}

export interface EngineDb {
  get(key: Uint8Array): Uint8Array | undefined;
  /** All from one snapshot. */
  getMany(keys: Uint8Array[]): Array<Uint8Array | undefined>;
  put(key: Uint8Array, value: Uint8Array): void;
  del(key: Uint8Array): void;
  /** Atomic. */
  write(ops: EngineOp[]): void;
  /** Atomic; durable wait off the JS thread where possible. */
  writeAsync(ops: EngineOp[]): Promise<void>;
  begin(readOnly: boolean): EngineTxn;
  /** A fresh snapshot of the latest commit. */
  iterate(opts: EngineIterOptions): EngineIterator;
  flush(): void;
  flushAsync(): Promise<void>;
  checkpoint(): void;
  /** Bounded checkpoint work for hosts without threads; true when more
   * remains. */
  checkpointStep(budget: number): boolean;
  /** Throws CORRUPT with the first problem. */
  check(): void;
  backup(path: string): void;
  stats(): EngineStats;
  /** Idempotent. */
  close(): void;
}

export interface Engine {
  /** Which engine this is, for metrics and error messages. */
  readonly kind: 'native' | 'wasm';
  open(path: string, options: EngineOpenOptions): EngineDb;
  /** ldb_version() */
  version(): string;
}
