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
 * name from the C core's error table (ERRORS in contract.ts: "NOT_FOUND",
 * "CONFLICT", "BUSY", ...) and whose message is ldb_errmsg() (or
 * ldb_strerror() when that is empty). A missing key is not an error: get()
 * returns undefined.
 *
 * Options and statistics are the core's tables (contract.ts, generated from
 * core/src/*.def): an engine walks ldb_option_table / ldb_stat_table by
 * their js_name, never by a list of its own.
 */
import type { CoreOptions, CoreStats } from './contract.js';

/** Options passed to the C core's ldb_open: every row of ldb_option_table
 * by its js_name (numbers, booleans, enum options by name); absent ones
 * keep the core's default. An engine sets strings with
 * ldb_options_set_string and numbers/booleans with ldb_options_set, so the
 * core checks every value. */
export type EngineOpenOptions = CoreOptions;

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

/** ldb_stats as the core fills it: every row of ldb_stat_table by its
 * js_name, numbers in the field's own unit (ns for times; backgroundError
 * is an LDB_* code, 0 when none), histograms as HIST_BUCKETS counts. */
export type EngineStats = CoreStats;

/** What check() found besides its verdict (ldb_check_result). */
export interface EngineCheckResult {
  /** pages in the data file */
  pages: number;
  /** free pages that no meta page reaches whose checksum was verified */
  freeChecked: number;
  /** of them, damaged (torn by a crash, or never completely written):
   * harmless, no version of the data reads them */
  freeDamaged: number;
  /** the lowest page numbers of the damaged ones (at most 16) */
  freeDamagedPages: number[];
  /** a checkpoint wrote pages during the check, so the free pages were not
   * verified (freeChecked and freeDamaged are 0): check again later */
  freeSkipped: boolean;
  /** leaf pages of the current tree */
  leafPages: number;
  /** bytes of their entries (cells and slots): leafBytes / (leafPages *
   * (pageSize - 16)) is how full the leaves are */
  leafBytes: number;
  /** branch pages of the current tree */
  branchPages: number;
  /** overflow pages (large values and long keys) of the current tree */
  overflowPages: number;
}

export interface EngineIterator {
  /** Position at the first entry (in iteration order) >= key, or at the
   * start of the range when key is undefined. */
  seek(key?: Uint8Array): void;
  /** Up to max entries from the current position onward, advancing past
   * them; an empty array at the end. Keys and values are copies made by
   * js/chunk.ts (ChunkDecoder): none keeps another entry's bytes alive. */
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
  /** Keys in the range in this transaction's view (ldb_count). */
  count(opts: EngineIterOptions): number;
  /** Buffers deletes of at most limit (Infinity: every) keys of the range
   * in iteration order (ldb_delete_range); returns how many. */
  deleteRange(opts: EngineIterOptions, limit: number): number;
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
  /** Keys in the range in a fresh snapshot, counted in the core
   * (ldb_count): no key or value crosses into JavaScript. */
  count(opts: EngineIterOptions): number;
  /** Deletes at most limit (Infinity: every) keys of the range in
   * iteration order, in one atomic commit done in the core
   * (ldb_delete_range); returns how many. */
  deleteRange(opts: EngineIterOptions, limit: number): number;
  flush(): void;
  flushAsync(): Promise<void>;
  checkpoint(): void;
  /** Throws CORRUPT with the first problem (ldb_check_report); else what
   * the check found besides its verdict. */
  check(): EngineCheckResult;
  backup(path: string): void;
  stats(): EngineStats;
  /** The core's Prometheus text exposition of stats() (ldb_stats_prometheus);
   * labels, e.g. 'db="main"' (name="value" pairs, comma-separated), are
   * added to every sample; INVALID_ARGUMENT when malformed. */
  prometheus(labels?: string): string;
  /** The engine's event ring (ldb_events_read): kept events with seq >
   * after, oldest first. Optional: engines without it have no timeline. */
  events?(after: number): EngineEvent[];
  /** A change feed cursor returning the commits with seq > since
   * (ldb_changes_open); throws COMPACTED, INVALID_ARGUMENT (since after the
   * last commit, or the feed is off). */
  changes(since: number, opts: EngineChangesOptions): EngineChanges;
  /** Calls fn on this thread, later (never inside the committing call),
   * after commits of the engine become visible — by any handle on it, and
   * natively by any thread; several commits may share one call. */
  onCommit(fn: () => void): EngineCommitListener;
  /** Idempotent. */
  close(): void;
}

/** One entry of the engine's event ring (struct ldb_event). */
export interface EngineEvent {
  seq: number;
  /** ldb_event_name(): 'checkpoint', 'slow_commit', 'slow_read',
   * 'sync_stall', 'error', 'disk_full', 'recovered', 'conflict', 'busy' */
  type: string;
  /** ldb_code_name() of the event's code ('OK' when none) */
  code: string;
  /** when, and the latest occurrence folded in, on the uptimeNs clock */
  timeNs: number;
  lastNs: number;
  count: number;
  value: number;
}

/** Bounds of a change feed, as ldb_changes_options. */
export interface EngineChangesOptions {
  lower?: Uint8Array;
  lowerExclusive?: boolean;
  upper?: Uint8Array;
  upperExclusive?: boolean;
  prefix?: Uint8Array;
}

/** One committed transaction: its ops in range, in commit order. */
export interface EngineChange {
  seq: number;
  /** commit time, ms since the Unix epoch (the committing host's clock) */
  timeMs: number;
  ops: EngineOp[];
}

export interface EngineChanges {
  /** Up to max commits (fresh copies), [] when caught up. Throws
   * COMPACTED when retention dropped the cursor's position, CLOSED after
   * the database closed. */
  next(max: number): EngineChange[];
  /** Idempotent. */
  close(): void;
}

export interface EngineCommitListener {
  /** Idempotent. */
  off(): void;
  /** Whether the listener keeps the host's event loop alive (a consumer
   * awaiting the next commit); off by default. */
  ref(keepAlive: boolean): void;
}

export interface Engine {
  /** Which engine this is, for metrics and error messages. */
  readonly kind: 'native' | 'wasm';
  open(path: string, options: EngineOpenOptions): EngineDb;
  /** ldb_version() */
  version(): string;
  /** WebAssembly only: bytes of the module's heap allocated now, for every
   * database of the engine (metrics().heapBytes). */
  heapBytes?(): number;
}
