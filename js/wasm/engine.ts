/**
 * engine.ts — the WebAssembly engine: js/engine.ts implemented over the
 * Emscripten module, with JS page stores behind the C store seam.
 *
 * Memory: keys and values cross into the wasm heap through scratch buffers
 * owned by the engine (grown on demand, freed when the last database
 * closes... never shrunk); the C API copies what it keeps (batches, bounds),
 * so no JS-visible pointer outlives a call. Values come back through
 * ldb_get_buf into a scratch buffer and are copied out (slice), so returned
 * Uint8Arrays never alias the heap, which may move when it grows.
 *
 * Threads: there are none; the C engine runs with background_checkpoint = 0.
 * Checkpoints run in bounded steps inside commits; additionally, after
 * writes, a timer (syncIntervalMs, default 100 ms) syncs the log in
 * NORMAL mode and runs pending checkpoint steps a slice at a time, so
 * an idle database still becomes durable and compact.
 */
import type {
  Engine, EngineChange, EngineChanges, EngineChangesOptions, EngineCommitListener, EngineDb, EngineIterator,
  EngineIterOptions, EngineOp, EngineOpenOptions, EngineStats, EngineTxn,
} from '../engine.js';
import { decodeChanges } from '../feed.js';
import { HIST_BUCKETS, LdbModule, OPT, OPT_COUNT, STATS_FIELDS } from './module.js';
import type { PageStore } from './stores/types.js';

const CODE_NAMES = ['OK', 'NOT_FOUND', 'CONFLICT', 'BUSY', 'CORRUPT', 'IO', 'FULL', 'NO_MEMORY',
  'INVALID_ARGUMENT', 'CLOSED', 'READ_ONLY', 'INTERNAL', 'TIMEOUT', 'ABORTED', 'SETUP', 'COMPACTED'];
const LDB_NOTFOUND = 1;
const LDB_BUSY = 3;

/** The error every engine method throws: `code` is the stable name. */
export class WasmEngineError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'LightningDbError';
    this.code = code;
  }
}

/** Resolves a database path to its page store. `purpose` tells a resolver
 * whether the store is for opening a database or a backup target. */
export type StoreResolver = (path: string, purpose: 'open' | 'backup') => PageStore;

const utf8 = new TextDecoder();
const utf8enc = new TextEncoder();

/** Heap access and scratch buffers of one module instance. */
class Heap {
  readonly outs: number;
  /** Wraps bytes copied out of the heap (Node: as Buffer). */
  wrap: (b: Uint8Array) => Uint8Array = (b) => b;
  private bufs: Array<{ ptr: number; cap: number }> = [];
  constructor(readonly m: LdbModule) {
    this.outs = this.alloc(64);
    for (let i = 0; i < 3; i++) this.bufs.push({ ptr: this.alloc(4096), cap: 4096 });
  }
  alloc(n: number): number {
    const p = this.m._malloc(Math.max(n, 1));
    if (!p) throw new WasmEngineError('NO_MEMORY', `cannot allocate ${n} bytes in the WebAssembly heap`);
    return p;
  }
  /** Scratch buffer i (0: keys, 1: values, 2: reads) of at least n bytes. */
  private buf(i: number): { ptr: number; cap: number } {
    const b = this.bufs[i];
    if (!b) throw new WasmEngineError('INTERNAL', `no scratch buffer ${i}`);
    return b;
  }
  scratch(i: number, n: number): number {
    const b = this.buf(i);
    if (n > b.cap) {
      let cap = b.cap;
      while (cap < n) cap *= 2;
      const p = this.alloc(cap);
      this.m._free(b.ptr);
      b.ptr = p;
      b.cap = cap;
    }
    return b.ptr;
  }
  cap(i: number): number {
    return this.buf(i).cap;
  }
  /** Copies bytes into scratch buffer i; returns the pointer. */
  put(i: number, bytes: Uint8Array): number {
    const p = this.scratch(i, bytes.length);
    this.m.HEAPU8.set(bytes, p);
    return p;
  }
  u32(p: number): number {
    const h = this.m.HEAPU8;
    return (h[p]! | (h[p + 1]! << 8) | (h[p + 2]! << 16) | (h[p + 3]! << 24)) >>> 0;
  }
  cstr(p: number): string {
    const h = this.m.HEAPU8;
    let e = p;
    while (h[e]) e++;
    return utf8.decode(h.subarray(p, e));
  }
  /** A NUL-terminated copy of s, malloc'd (caller frees). */
  newCStr(s: string): number {
    const b = utf8enc.encode(s);
    const p = this.alloc(b.length + 1);
    this.m.HEAPU8.set(b, p);
    this.m.HEAPU8[p + b.length] = 0;
    return p;
  }
  error(rc: number): WasmEngineError {
    const code = CODE_NAMES[rc] ?? 'INTERNAL';
    const msg = this.cstr(this.m._ldb_errmsg(0)) || this.cstr(this.m._ldb_strerror(rc));
    return new WasmEngineError(code, msg);
  }
  check(rc: number): void {
    if (rc !== 0) throw this.error(rc);
  }
}

function closedError(what: string): WasmEngineError {
  return new WasmEngineError('CLOSED', `${what} is closed`);
}

interface StoreSlot {
  store: PageStore;
  cstore: number;
  refs: number;
}

export class WasmEngine implements Engine {
  readonly kind = 'wasm' as const;
  readonly heap: Heap;
  private nextSid = 1;
  private readonly slots = new Map<string, StoreSlot>();

  /** wrap: applied to every key/value returned (Node passes a Buffer view
   * maker so values are Buffers, as from the native engine). */
  constructor(readonly module: LdbModule, private readonly resolve: StoreResolver, wrap?: (b: Uint8Array) => Uint8Array) {
    this.heap = new Heap(module);
    if (wrap) this.heap.wrap = wrap;
  }

  version(): string {
    return this.heap.cstr(this.module._ldb_version());
  }

  /** Registers a JS store with the module and wraps it in a C store. */
  private cstoreFor(store: PageStore): number {
    const sid = this.nextSid++;
    this.module.ldbStores.set(sid, store);
    const id = this.heap.newCStr(store.id);
    const cs = this.module._ldbw_store_js_new(sid, id);
    this.module._free(id);
    if (!cs) {
      this.module.ldbStores.delete(sid);
      throw new WasmEngineError('NO_MEMORY', 'cannot allocate a store in the WebAssembly heap');
    }
    return cs;
  }

  /** The store slot of `path`, shared by every handle open on it. */
  private acquire(path: string): StoreSlot {
    let slot = this.slots.get(path);
    if (!slot) {
      const store = this.resolve(path, 'open');
      slot = { store, cstore: this.cstoreFor(store), refs: 0 };
      this.slots.set(path, slot);
    }
    slot.refs++;
    return slot;
  }

  /** Drops one reference; the last one destroys the C store, which
   * releases the JS store (closing OPFS handles, the IDB connection). */
  releaseSlot(path: string): void {
    const slot = this.slots.get(path);
    if (!slot || --slot.refs > 0) return;
    this.slots.delete(path);
    this.module._ldbw_store_destroy(slot.cstore);
  }

  open(path: string, options: EngineOpenOptions): EngineDb {
    const m = this.module;
    const h = this.heap;
    const slot = this.acquire(path);
    const opts = h.alloc(8 * OPT_COUNT);
    const pathPtr = h.newCStr(path);
    try {
      const f64 = new Float64Array(m.HEAPU8.buffer, opts, OPT_COUNT);
      f64.fill(NaN);
      const set = (k: keyof typeof OPT, v: number | boolean | undefined) => {
        if (v !== undefined) f64[OPT[k]] = typeof v === 'boolean' ? Number(v) : v;
      };
      set('pageSize', options.pageSize);
      set('cacheSize', options.cacheSize);
      set('compression', options.compression);
      set('compressionLevel', options.compressionLevel);
      set('syncMode', options.syncMode);
      set('syncIntervalMs', options.syncIntervalMs);
      set('createIfMissing', options.createIfMissing);
      set('errorIfExists', options.errorIfExists);
      set('readOnly', options.readOnly);
      set('memtableSize', options.memtableSize);
      set('maxActiveTransactions', options.maxActiveTransactions);
      const rc = m._ldbw_open(pathPtr, slot.cstore, opts, h.outs);
      if (rc !== 0) throw h.error(rc);
      return new WasmDb(this, path, slot.store, h.u32(h.outs), options);
    } catch (e) {
      this.releaseSlot(path);
      throw e;
    } finally {
      m._free(opts);
      m._free(pathPtr);
    }
  }

  /** Commit listeners per database path: every handle on a path shares
   * one C engine, so a commit through any of them signals all. */
  private readonly listeners = new Map<string, Set<() => void>>();
  private readonly signalled = new Set<string>();

  listen(path: string, fn: () => void): EngineCommitListener {
    let set = this.listeners.get(path);
    if (!set) this.listeners.set(path, (set = new Set()));
    const entry = () => fn();
    set.add(entry);
    return {
      off: () => {
        set!.delete(entry);
      },
      // No thread signals here: a wait is kept alive by whatever writes.
      ref: () => {},
    };
  }

  /** After a commit on path: the listeners run in a microtask (never
   * inside the committing call), once for commits made meanwhile. */
  committed(path: string): void {
    if (this.signalled.has(path) || !this.listeners.get(path)?.size) return;
    this.signalled.add(path);
    queueMicrotask(() => {
      this.signalled.delete(path);
      for (const fn of [...(this.listeners.get(path) ?? [])]) fn();
    });
  }

  /** Backup target stores are made on demand and destroyed after use. */
  backupTo(db: number, path: string): void {
    const store = this.resolve(path, 'backup');
    // As ldb_backup on a path: a target holding a database is INVALID (even
    // while that database is open, which ldb_backup_to_store reports as BUSY).
    let holds = false;
    try {
      const fid = store.open('data.ldb', false);
      holds = store.size(fid) > 0;
      store.close(fid);
    } catch {
      /* missing: a fresh target */
    }
    if (holds) {
      if (!this.slots.has(path)) store.release();
      throw new WasmEngineError('INVALID_ARGUMENT', `backup: ${path} already holds a database`);
    }
    const cs = this.cstoreFor(store);
    try {
      this.heap.check(this.module._ldb_backup_to_store(db, cs));
    } finally {
      this.module._ldbw_store_destroy(cs);
    }
  }
}

/** Initial size of the iterator read buffer (scratch 2). */
const ITER_BUF = 64 << 10;

class WasmIter implements EngineIterator {
  private positioned = false;
  private done = false;
  constructor(
    private readonly h: Heap,
    public ptr: number,
    private readonly onClose: (it: WasmIter) => void,
  ) {}

  seek(key?: Uint8Array): void {
    if (!this.ptr) throw closedError('iterator');
    const m = this.h.m;
    const rc = key === undefined ? m._ldb_iter_first(this.ptr) : m._ldb_iter_seek(this.ptr, this.h.put(0, key), key.length);
    this.positioned = true;
    this.done = rc === LDB_NOTFOUND;
    if (rc !== 0 && rc !== LDB_NOTFOUND) throw this.h.error(rc);
  }

  /** One ldb_iter_read into the heap read buffer per chunk, then ONE copy
   * of the used bytes out of the heap (the heap may move on the next
   * allocation, so nothing returned may alias it); entries are subarray
   * views of that copy (wrapped once, so in Node they are Buffers). No
   * per-entry call crosses the wasm boundary and no per-entry copy is made. */
  next(max: number): Array<[Uint8Array, Uint8Array]> {
    if (!this.ptr) throw closedError('iterator');
    if (!this.positioned) this.seek();
    if (this.done || max <= 0) return [];
    const h = this.h;
    const m = h.m;
    // Large enough that a whole chunk of small entries is one call.
    if (h.cap(2) < ITER_BUF) h.scratch(2, ITER_BUF);
    for (;;) {
      const cap = h.cap(2);
      const buf = h.scratch(2, cap);
      const rc = m._ldb_iter_read(this.ptr, buf, cap, max, h.outs, h.outs + 4);
      if (rc === LDB_NOTFOUND) {
        this.done = true;
        return [];
      }
      if (rc !== 0) throw h.error(rc);
      const count = h.u32(h.outs);
      const used = h.u32(h.outs + 4);
      if (count === 0) {
        if (used <= cap) {
          this.done = true;
          return [];
        }
        h.scratch(2, used);
        continue;
      }
      if (used > cap) throw new WasmEngineError('INTERNAL', 'iterator chunk exceeds its buffer');
      // Re-read HEAPU8 after the call: it may have grown the memory.
      const chunk = h.wrap(m.HEAPU8.slice(buf, buf + used));
      const out: Array<[Uint8Array, Uint8Array]> = new Array(count);
      let off = 0;
      for (let i = 0; i < count; i++) {
        // lengths read byte by byte: cheaper than a DataView per chunk here
        const kl = (chunk[off]! | (chunk[off + 1]! << 8) | (chunk[off + 2]! << 16) | (chunk[off + 3]! << 24)) >>> 0;
        const vl = (chunk[off + 4]! | (chunk[off + 5]! << 8) | (chunk[off + 6]! << 16) | (chunk[off + 7]! << 24)) >>> 0;
        const k0 = off + 8;
        const v0 = k0 + kl;
        off = v0 + vl;
        if (off > used) throw new WasmEngineError('INTERNAL', 'iterator chunk is truncated');
        out[i] = [chunk.subarray(k0, v0), chunk.subarray(v0, off)];
      }
      return out;
    }
  }

  close(): void {
    if (!this.ptr) return;
    this.h.m._ldb_iter_destroy(this.ptr);
    this.ptr = 0;
    this.onClose(this);
  }
}

function iterCreate(h: Heap, db: number, txn: number, o: EngineIterOptions, onClose: (it: WasmIter) => void): WasmIter {
  const m = h.m;
  // Bounds go through the scratch buffers (0, 1, 2): ldb_iter_create copies
  // what it keeps, so no malloc/free per iterator (seek-heavy scans).
  const lo = o.lower ? h.put(0, o.lower) : 0;
  const up = o.upper ? h.put(1, o.upper) : 0;
  const pre = o.prefix ? h.put(2, o.prefix) : 0;
  const rc = m._ldbw_iter_create(db, txn, lo, o.lower?.length ?? 0, o.lowerExclusive ? 1 : 0,
    up, o.upper?.length ?? 0, o.upperExclusive ? 1 : 0, pre, o.prefix?.length ?? 0,
    o.reverse ? 1 : 0, h.outs);
  h.check(rc);
  return new WasmIter(h, h.u32(h.outs), onClose);
}

class WasmChanges implements EngineChanges {
  constructor(private readonly h: Heap, private ptr: number) {}

  next(max: number): EngineChange[] {
    if (!this.ptr) throw closedError('change feed');
    const h = this.h;
    const m = h.m;
    if (h.cap(2) < ITER_BUF) h.scratch(2, ITER_BUF);
    for (;;) {
      const cap = h.cap(2);
      const buf = h.scratch(2, cap);
      const rc = m._ldb_changes_read(this.ptr, buf, cap, max, h.outs, h.outs + 4);
      if (rc === LDB_NOTFOUND) return [];
      if (rc !== 0) throw h.error(rc);
      const count = h.u32(h.outs);
      const used = h.u32(h.outs + 4);
      if (count === 0) {
        h.scratch(2, used);
        continue;
      }
      // Re-read HEAPU8 after the call: it may have grown the memory.
      const chunk = m.HEAPU8.subarray(buf, buf + used);
      return decodeChanges(chunk, 0, used, (ab, off, n) => h.wrap(new Uint8Array(ab, off, n)));
    }
  }

  close(): void {
    if (!this.ptr) return;
    this.h.m._ldb_changes_close(this.ptr);
    this.ptr = 0;
  }
}

/** Reads a value through get_buf into scratch 1, growing it when needed. */
function readValue(h: Heap, call: (buf: number, cap: number) => number): Uint8Array | undefined {
  for (;;) {
    const cap = h.cap(1);
    const buf = h.scratch(1, cap);
    const rc = call(buf, cap);
    if (rc === LDB_NOTFOUND) return undefined;
    if (rc !== 0) throw h.error(rc);
    const len = h.u32(h.outs + 8);
    if (len <= cap) return h.wrap(h.m.HEAPU8.slice(buf, buf + len));
    h.scratch(1, len);
  }
}

class WasmTxn implements EngineTxn {
  private readonly iters = new Set<WasmIter>();
  constructor(
    private readonly db: WasmDb,
    public ptr: number,
    readonly readOnly: boolean,
  ) {}

  private live(): number {
    if (!this.ptr) throw closedError('transaction');
    return this.ptr;
  }
  get(key: Uint8Array): Uint8Array | undefined {
    const t = this.live();
    const h = this.db.h;
    const k = h.put(0, key);
    return readValue(h, (buf, cap) => h.m._ldb_txn_get_buf(t, k, key.length, buf, cap, h.outs + 8));
  }
  put(key: Uint8Array, value: Uint8Array): void {
    const t = this.live();
    const h = this.db.h;
    h.check(h.m._ldb_txn_put(t, h.put(0, key), key.length, h.put(1, value), value.length));
  }
  del(key: Uint8Array): void {
    const t = this.live();
    const h = this.db.h;
    h.check(h.m._ldb_txn_delete(t, h.put(0, key), key.length));
  }
  iterate(opts: EngineIterOptions): EngineIterator {
    const t = this.live();
    const it = iterCreate(this.db.h, this.db.live(), t, opts, (x) => this.iters.delete(x));
    this.iters.add(it);
    return it;
  }
  private end(): number {
    const t = this.live();
    for (const it of [...this.iters]) it.close();
    this.ptr = 0;
    this.db.txns.delete(this);
    return t;
  }
  commit(): void {
    const t = this.end();
    const rc = this.db.h.m._ldb_txn_commit(t);
    if (rc === LDB_BUSY) {
      // Cannot happen: our iterators were closed first. Free it anyway.
      this.db.h.m._ldb_txn_abort(t);
    }
    this.db.h.check(rc);
    if (!this.readOnly) this.db.wrote();
  }
  async commitAsync(): Promise<void> {
    this.commit();
    if (!this.readOnly) await this.db.store.durable().catch(mapStoreError);
  }
  abort(): void {
    if (!this.ptr) return;
    const t = this.end();
    this.db.h.m._ldb_txn_abort(t);
  }
}

function mapStoreError(e: unknown): never {
  const err = e as { code?: string; message?: string };
  throw new WasmEngineError(typeof err?.code === 'string' ? err.code : 'IO', String(err?.message ?? e));
}

class WasmDb implements EngineDb {
  readonly h: Heap;
  readonly txns = new Set<WasmTxn>();
  private readonly iters = new Set<WasmIter>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly interval: number;
  private readonly normal: boolean;

  constructor(
    private readonly engine: WasmEngine,
    private readonly path: string,
    readonly store: PageStore,
    public ptr: number,
    options: EngineOpenOptions,
  ) {
    this.h = engine.heap;
    this.interval = options.syncIntervalMs ?? 100;
    this.normal = (options.syncMode ?? 1) === 1;
  }

  live(): number {
    if (!this.ptr) throw closedError('database');
    return this.ptr;
  }

  /** After a write: schedule the idle-time log sync / checkpoint steps. */
  wrote(): void {
    this.engine.committed(this.path);
    if (this.timer || !this.ptr) return;
    this.timer = setTimeout(() => this.maintain(), this.interval);
    (this.timer as { unref?: () => void }).unref?.();
  }

  private maintain(): void {
    this.timer = null;
    if (!this.ptr) return;
    const m = this.h.m;
    // Errors here have no caller; the next operation meets the same store
    // condition and reports it, and stats().backgroundError shows it.
    if (this.normal) m._ldb_flush(this.ptr);
    const rc = m._ldbw_checkpoint_step(this.ptr, 512, this.h.outs + 16);
    if (rc === 0 && this.h.u32(this.h.outs + 16)) {
      this.timer = setTimeout(() => this.maintain(), 0);
      (this.timer as { unref?: () => void }).unref?.();
    }
  }

  get(key: Uint8Array): Uint8Array | undefined {
    const db = this.live();
    const h = this.h;
    const k = h.put(0, key);
    return readValue(h, (buf, cap) => h.m._ldb_get_buf(db, k, key.length, buf, cap, h.outs + 8));
  }
  getMany(keys: Uint8Array[]): Array<Uint8Array | undefined> {
    const t = this.begin(true);
    try {
      return keys.map((k) => t.get(k));
    } finally {
      t.abort();
    }
  }
  put(key: Uint8Array, value: Uint8Array): void {
    const db = this.live();
    const h = this.h;
    h.check(h.m._ldb_put(db, h.put(0, key), key.length, h.put(1, value), value.length));
    this.wrote();
  }
  del(key: Uint8Array): void {
    const db = this.live();
    const h = this.h;
    h.check(h.m._ldb_delete(db, h.put(0, key), key.length));
    this.wrote();
  }
  write(ops: EngineOp[]): void {
    const db = this.live();
    const h = this.h;
    const m = h.m;
    h.check(m._ldb_batch_create(db, h.outs));
    const b = h.u32(h.outs);
    try {
      for (const op of ops) {
        const k = h.put(0, op.key);
        if (op.type === 'put') h.check(m._ldb_batch_put(b, k, op.key.length, h.put(1, op.value), op.value.length));
        else h.check(m._ldb_batch_delete(b, k, op.key.length));
      }
      h.check(m._ldb_write(db, b));
    } finally {
      m._ldb_batch_destroy(b);
    }
    this.wrote();
  }
  async writeAsync(ops: EngineOp[]): Promise<void> {
    this.write(ops);
    await this.store.durable().catch(mapStoreError);
  }
  begin(readOnly: boolean): EngineTxn {
    const db = this.live();
    const h = this.h;
    h.check(h.m._ldb_txn_begin(db, readOnly ? 1 : 0, h.outs));
    const t = new WasmTxn(this, h.u32(h.outs), readOnly);
    this.txns.add(t);
    return t;
  }
  iterate(opts: EngineIterOptions): EngineIterator {
    const it = iterCreate(this.h, this.live(), 0, opts, (x) => this.iters.delete(x));
    this.iters.add(it);
    return it;
  }
  flush(): void {
    this.h.check(this.h.m._ldb_flush(this.live()));
  }
  async flushAsync(): Promise<void> {
    this.flush();
    await this.store.durable().catch(mapStoreError);
  }
  checkpoint(): void {
    this.h.check(this.h.m._ldb_checkpoint(this.live()));
  }
  checkpointStep(budget: number): boolean {
    const h = this.h;
    h.check(h.m._ldbw_checkpoint_step(this.live(), budget >>> 0, h.outs + 16));
    return h.u32(h.outs + 16) !== 0;
  }
  check(): void {
    this.h.check(this.h.m._ldb_check(this.live()));
  }
  backup(path: string): void {
    this.engine.backupTo(this.live(), path);
  }
  changes(since: number, o: EngineChangesOptions): EngineChanges {
    const db = this.live();
    const h = this.h;
    const lo = o.lower ? h.put(0, o.lower) : 0;
    const up = o.upper ? h.put(1, o.upper) : 0;
    const pre = o.prefix ? h.put(2, o.prefix) : 0;
    h.check(h.m._ldbw_changes_open(db, since, lo, o.lower?.length ?? 0, o.lowerExclusive ? 1 : 0,
      up, o.upper?.length ?? 0, o.upperExclusive ? 1 : 0, pre, o.prefix?.length ?? 0, h.outs));
    return new WasmChanges(h, h.u32(h.outs));
  }
  onCommit(fn: () => void): EngineCommitListener {
    this.live();
    return this.engine.listen(this.path, fn);
  }
  stats(): EngineStats {
    const h = this.h;
    const m = h.m;
    const n = m._ldbw_stats_count();
    const p = h.alloc(8 * n);
    try {
      h.check(m._ldbw_stats(this.live(), p));
      const f = new Float64Array(m.HEAPU8.buffer, p, n).slice();
      const s: Record<string, unknown> = {};
      STATS_FIELDS.forEach((name, i) => (s[name] = f[i]));
      s.backgroundError = CODE_NAMES[f[STATS_FIELDS.indexOf('backgroundError')] ?? 11] ?? 'INTERNAL';
      const base = STATS_FIELDS.length;
      s.getLatency = Array.from(f.subarray(base, base + HIST_BUCKETS));
      s.commitLatency = Array.from(f.subarray(base + HIST_BUCKETS, base + 2 * HIST_BUCKETS));
      return s as unknown as EngineStats;
    } finally {
      m._free(p);
    }
  }
  close(): void {
    if (!this.ptr) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const it of [...this.iters]) it.close();
    for (const t of [...this.txns]) t.abort();
    const db = this.ptr;
    this.ptr = 0;
    const rc = this.h.m._ldb_close(db);
    // The handle is freed (rc != BUSY, which cannot happen: everything was
    // ended above); release the store even when closing reported an error.
    const err = rc !== 0 ? this.h.error(rc) : null;
    this.engine.releaseSlot(this.path);
    if (err) throw err;
  }
}
