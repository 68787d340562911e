/**
 * engine.ts — the WebAssembly engine: js/engine.ts implemented over the
 * Emscripten module, with JS page stores behind the C store seam.
 *
 * Memory: keys and values cross into the wasm heap through scratch buffers
 * owned by the engine (grown on demand, freed when the last database
 * closes... never shrunk); the C API copies what it keeps (batches, bounds),
 * so no JS-visible pointer outlives a call. Values come back through
 * ldb_get_buf into a scratch buffer and are copied out (slice), scans
 * through js/chunk.ts, which copies too: returned Uint8Arrays never alias
 * the heap, which may move when it grows.
 *
 * Threads: there are none; the C engine runs with background_checkpoint = 0.
 * Checkpoints run in bounded steps inside commits; idle maintenance (the
 * NORMAL-mode log sync that falls due, pending checkpoint steps, retries
 * after a failure) is one core call, ldb_maintain(), and this file owns
 * only its timer: after a write it calls ldb_maintain and sleeps for as
 * long as the core says.
 *
 * The contract (option names, statistics, error codes) is the core's:
 * options are set by name with ldb_options_set_string, statistics and error
 * names come from the core's tables (module.ts: contractOf).
 */
import type {
  Engine, EngineChange, EngineChanges, EngineEvent, EngineChangesOptions, EngineCommitListener, EngineDb, EngineIterator,
  EngineCheckResult, EngineIterOptions, EngineOp, EngineOpenOptions, EngineStats, EngineTxn,
} from '../engine.js';
import { decodeChanges } from '../feed.js';
import { type ByteView, ChunkDecoder } from '../chunk.js';
import { apiMessage, ERROR_CODES, type ErrorCode, LightningDbError } from '../errors.js';
import { type Contract, contractOf, cstr, type LdbModule } from './module.js';
import type { PageStore } from './stores/types.js';

/** ldb_maintain's "nothing pending" (UINT32_MAX). */
const MAINTAIN_IDLE = 0xffffffff;

/** The error every engine method throws: a LightningDbError whose code is
 * a name of the core's error table (`fallback` for any other), its message
 * in this API's names (apiMessage). */
function engineError(code: string, message: string, fallback: ErrorCode = 'INTERNAL'): LightningDbError {
  return new LightningDbError(ERROR_CODES.includes(code as ErrorCode) ? (code as ErrorCode) : fallback, apiMessage(message));
}

/** Resolves a database path to its page store. `purpose` tells a resolver
 * whether the store is for opening a database or a backup target. */
export type StoreResolver = (path: string, purpose: 'open' | 'backup') => PageStore;

const utf8 = new TextDecoder();
const utf8enc = new TextEncoder();

/** Heap access and scratch buffers of one module instance. */
class Heap {
  readonly outs: number;
  readonly contract: Contract;
  /** The codes this file branches on, by their names in the core table. */
  readonly NOTFOUND: number;
  readonly CLOSED: number;
  /** Makes the Uint8Array handed to users (Node: a Buffer). */
  view: ByteView = (ab, off, n) => new Uint8Array(ab, off, n);
  /** The iterator-chunk decoder (js/chunk.ts), over `view`. */
  chunks = new ChunkDecoder();
  private bufs: Array<{ ptr: number; cap: number }> = [];
  constructor(readonly m: LdbModule) {
    this.contract = contractOf(m);
    this.NOTFOUND = this.contract.codeNames.indexOf('NOT_FOUND');
    this.CLOSED = this.contract.codeNames.indexOf('CLOSED');
    this.outs = this.alloc(64);
    for (let i = 0; i < 3; i++) this.bufs.push({ ptr: this.alloc(4096), cap: 4096 });
  }
  alloc(n: number): number {
    const p = this.m._malloc(Math.max(n, 1));
    if (!p) throw engineError('NO_MEMORY', `cannot allocate ${n} bytes in the WebAssembly heap`);
    return p;
  }
  /** Scratch buffer i (0: keys, 1: values, 2: reads) of at least n bytes. */
  private buf(i: number): { ptr: number; cap: number } {
    const b = this.bufs[i];
    if (!b) throw engineError('INTERNAL', `no scratch buffer ${i}`);
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
  /** One chunked read of the ldb_iter_read / ldb_changes_read protocol
   * into scratch buffer 2 (at least ITER_BUF, so a chunk of small entries
   * is one call): read(buf, cap) writes the entry count and the bytes used
   * at outs and outs + 4; a count of 0 with more bytes used than cap means
   * the next entry needs that many, so the buffer grows and the read is
   * repeated. rc is read's result (the others are meaningful when it is 0);
   * the chunk is HEAPU8[buf, buf + used), read after the call (the memory
   * may have grown). */
  readChunk(read: (buf: number, cap: number) => number): { rc: number; count: number; used: number; buf: number; cap: number } {
    if (this.cap(2) < ITER_BUF) this.scratch(2, ITER_BUF);
    for (;;) {
      const cap = this.cap(2);
      const buf = this.scratch(2, cap);
      const rc = read(buf, cap);
      if (rc !== 0) return { rc, count: 0, used: 0, buf, cap };
      const count = this.u32(this.outs);
      const used = this.u32(this.outs + 4);
      if (count === 0 && used > cap) {
        this.scratch(2, used);
        continue;
      }
      return { rc, count, used, buf, cap };
    }
  }
  u32(p: number): number {
    const h = this.m.HEAPU8;
    return (h[p]! | (h[p + 1]! << 8) | (h[p + 2]! << 16) | (h[p + 3]! << 24)) >>> 0;
  }
  cstr(p: number): string {
    return cstr(this.m, p);
  }
  /** A NUL-terminated copy of s, malloc'd (caller frees). */
  newCStr(s: string): number {
    const b = utf8enc.encode(s);
    const p = this.alloc(b.length + 1);
    this.m.HEAPU8.set(b, p);
    this.m.HEAPU8[p + b.length] = 0;
    return p;
  }
  codeName(rc: number): string {
    return this.contract.codeNames[rc] ?? 'INTERNAL';
  }
  error(rc: number): LightningDbError {
    const code = this.codeName(rc);
    const msg = this.cstr(this.m._ldb_errmsg(0)) || this.cstr(this.m._ldb_strerror(rc));
    return engineError(code, msg);
  }
  check(rc: number): void {
    if (rc !== 0) throw this.error(rc);
  }
}

function closedError(what: string): LightningDbError {
  return engineError('CLOSED', `${what} is closed`);
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

  /** view: makes every key/value returned over its bytes, copied out of
   * the heap (Node passes a Buffer maker so they are Buffers, as from the
   * native engine); default: a Uint8Array. */
  constructor(readonly module: LdbModule, private readonly resolve: StoreResolver, view?: ByteView) {
    this.heap = new Heap(module);
    if (view) {
      this.heap.view = view;
      this.heap.chunks = new ChunkDecoder(view);
    }
  }

  version(): string {
    return this.heap.cstr(this.module._ldb_version());
  }

  /** Bytes of this engine's WebAssembly heap allocated now (page caches,
   * memtables, scratch buffers of every database it opened): metrics()
   * reports it as heapBytes. The heap itself (module.HEAPU8.length) only
   * ever grows. */
  heapBytes(): number {
    return this.module._ldbw_heap_bytes();
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
      throw engineError('NO_MEMORY', 'cannot allocate a store in the WebAssembly heap');
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
    this.module._ldb_store_destroy(slot.cstore);
  }

  /** Opens `path` with every option given set by its name in the core's
   * option table (ldb_options_set_string: an unknown name or a value out of
   * range is INVALID_ARGUMENT with the allowed range). */
  open(path: string, options: EngineOpenOptions): EngineDb {
    const m = this.module;
    const h = this.heap;
    const slot = this.acquire(path);
    const opts = m._ldbw_options_new();
    const pathPtr = h.newCStr(path);
    try {
      if (!opts) throw engineError('NO_MEMORY', 'cannot allocate options in the WebAssembly heap');
      for (const [name, value] of Object.entries(options)) {
        if (value === undefined) continue;
        const n = h.newCStr(name);
        const v = h.newCStr(String(value));
        const rc = m._ldb_options_set_string(opts, n, v);
        m._free(n);
        m._free(v);
        h.check(rc);
      }
      h.check(m._ldbw_open(pathPtr, slot.cstore, opts, h.outs));
      return new WasmDb(this, path, slot.store, h.u32(h.outs));
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
    // The core decides whether the target may be written (an engine file
    // with bytes in it: INVALID_ARGUMENT naming it; locked: BUSY).
    const cs = this.cstoreFor(this.resolve(path, 'backup'));
    try {
      this.heap.check(this.module._ldb_backup_to_store(db, cs));
    } finally {
      this.module._ldb_store_destroy(cs);
    }
  }
}

/** Initial size of the iterator read buffer (scratch 2). */
const ITER_BUF = 64 << 10;

/** Frees the C handle of an iterator or transaction the program dropped
 * without closing it. Safe whether or not its database is still open:
 * ldb_close never refuses and keeps what a child needs until it is freed. */
const dropped = new FinalizationRegistry<() => void>((free) => free());

class WasmIter implements EngineIterator {
  private positioned = false;
  private done = false;
  constructor(
    private readonly h: Heap,
    public ptr: number,
  ) {
    const m = h.m;
    dropped.register(this, () => m._ldb_iter_destroy(ptr), this);
  }

  private live(): number {
    if (!this.ptr) throw closedError('iterator');
    return this.ptr;
  }

  /** An error of a call on this iterator. CLOSED means the core
   * invalidated it (its database closed or its transaction ended): it can
   * never work again, so it is freed now. */
  private fail(rc: number): LightningDbError {
    const e = this.h.error(rc);
    if (rc === this.h.CLOSED) this.close();
    return e;
  }

  seek(key?: Uint8Array): void {
    const it = this.live();
    const m = this.h.m;
    const rc = key === undefined ? m._ldb_iter_first(it) : m._ldb_iter_seek(it, this.h.put(0, key), key.length);
    this.positioned = true;
    this.done = rc === this.h.NOTFOUND;
    if (rc !== 0 && rc !== this.h.NOTFOUND) throw this.fail(rc);
  }

  /** One ldb_iter_read into the heap read buffer per chunk (no per-entry
   * call crosses the wasm boundary), decoded by js/chunk.ts, which copies
   * every key and value out of the heap (it moves when it grows) so that no
   * entry keeps another's bytes alive or visible through its .buffer. */
  next(max: number): Array<[Uint8Array, Uint8Array]> {
    const it = this.live();
    if (!this.positioned) this.seek();
    if (this.done || max <= 0) return [];
    const h = this.h;
    const m = h.m;
    const { rc, count, used, buf, cap } = h.readChunk((b, c) => m._ldb_iter_read(it, b, c, max, h.outs, h.outs + 4));
    if (rc === h.NOTFOUND || (rc === 0 && count === 0)) {
      this.done = true;
      return [];
    }
    if (rc !== 0) throw this.fail(rc);
    if (used > cap) throw engineError('INTERNAL', 'iterator chunk exceeds its buffer');
    const entries = h.chunks.decode(m.HEAPU8, buf, buf + used);
    if (entries.length !== count) throw engineError('INTERNAL', `iterator chunk holds ${entries.length} entries, not ${count}`);
    return entries;
  }

  close(): void {
    if (!this.ptr) return;
    dropped.unregister(this);
    this.h.m._ldb_iter_destroy(this.ptr);
    this.ptr = 0;
  }
}

function iterCreate(h: Heap, db: number, txn: number, o: EngineIterOptions): WasmIter {
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
  return new WasmIter(h, h.u32(h.outs));
}

class WasmChanges implements EngineChanges {
  constructor(private readonly h: Heap, private ptr: number) {}

  next(max: number): EngineChange[] {
    if (!this.ptr) throw closedError('change feed');
    const h = this.h;
    const m = h.m;
    const ptr = this.ptr;
    const { rc, used, buf } = h.readChunk((b, c) => m._ldb_changes_read(ptr, b, c, max, h.outs, h.outs + 4));
    if (rc === h.NOTFOUND) return [];
    if (rc !== 0) throw h.error(rc);
    return decodeChanges(m.HEAPU8.subarray(buf, buf + used), 0, used, h.view);
  }

  close(): void {
    if (!this.ptr) return;
    this.h.m._ldb_changes_close(this.ptr);
    this.ptr = 0;
  }
}

/** ldb_count (op 0) or ldb_delete_range (op 1) through ldbw_range. */
function rangeOp(h: Heap, db: number, txn: number, o: EngineIterOptions, op: number, limit: number): number {
  const m = h.m;
  const lo = o.lower ? h.put(0, o.lower) : 0;
  const up = o.upper ? h.put(1, o.upper) : 0;
  const pre = o.prefix ? h.put(2, o.prefix) : 0;
  const out = h.outs + 16; // 8-aligned double
  h.check(m._ldbw_range(db, txn, lo, o.lower?.length ?? 0, o.lowerExclusive ? 1 : 0,
    up, o.upper?.length ?? 0, o.upperExclusive ? 1 : 0, pre, o.prefix?.length ?? 0,
    o.reverse ? 1 : 0, op, limit === Infinity ? -1 : limit, out));
  return new Float64Array(m.HEAPU8.buffer, out, 1)[0]!;
}

/** Reads a value through get_buf into scratch 1, growing it when needed. */
function readValue(h: Heap, call: (buf: number, cap: number) => number): Uint8Array | undefined {
  for (;;) {
    const cap = h.cap(1);
    const buf = h.scratch(1, cap);
    const rc = call(buf, cap);
    if (rc === h.NOTFOUND) return undefined;
    if (rc !== 0) throw h.error(rc);
    const len = h.u32(h.outs + 8);
    if (len <= cap) return h.view(h.m.HEAPU8.slice(buf, buf + len).buffer, 0, len);
    h.scratch(1, len);
  }
}

class WasmTxn implements EngineTxn {
  constructor(
    private readonly db: WasmDb,
    public ptr: number,
    readonly readOnly: boolean,
  ) {
    const m = db.h.m;
    dropped.register(this, () => m._ldb_txn_abort(ptr), this);
  }

  private live(): number {
    if (!this.ptr) throw closedError('transaction');
    return this.ptr;
  }
  /** As WasmIter.fail: a transaction the core invalidated is freed now. */
  private check(rc: number): void {
    if (rc === 0) return;
    const e = this.db.h.error(rc);
    if (rc === this.db.h.CLOSED) this.abort();
    throw e;
  }
  get(key: Uint8Array): Uint8Array | undefined {
    const t = this.live();
    const h = this.db.h;
    const k = h.put(0, key);
    try {
      return readValue(h, (buf, cap) => h.m._ldb_txn_get_buf(t, k, key.length, buf, cap, h.outs + 8));
    } catch (e) {
      if ((e as LightningDbError).code === 'CLOSED') this.abort();
      throw e;
    }
  }
  put(key: Uint8Array, value: Uint8Array): void {
    const t = this.live();
    const h = this.db.h;
    this.check(h.m._ldb_txn_put(t, h.put(0, key), key.length, h.put(1, value), value.length));
  }
  del(key: Uint8Array): void {
    const t = this.live();
    const h = this.db.h;
    this.check(h.m._ldb_txn_delete(t, h.put(0, key), key.length));
  }
  iterate(opts: EngineIterOptions): EngineIterator {
    return iterCreate(this.db.h, this.db.live(), this.live(), opts);
  }
  count(opts: EngineIterOptions): number {
    return rangeOp(this.db.h, this.db.live(), this.live(), opts, 0, 0);
  }
  deleteRange(opts: EngineIterOptions, limit: number): number {
    return rangeOp(this.db.h, this.db.live(), this.live(), opts, 1, limit);
  }
  /** The C transaction, no longer this object's: ldb_txn_commit and
   * ldb_txn_abort free it in every case. */
  private take(): number {
    const t = this.live();
    dropped.unregister(this);
    this.ptr = 0;
    return t;
  }
  commit(): void {
    const h = this.db.h;
    h.check(h.m._ldb_txn_commit(this.take()));
    if (!this.readOnly) this.db.wrote();
  }
  async commitAsync(): Promise<void> {
    this.commit();
    if (!this.readOnly) await this.db.store.durable().catch(mapStoreError);
  }
  abort(): void {
    if (this.ptr) this.db.h.m._ldb_txn_abort(this.take());
  }
}

function mapStoreError(e: unknown): never {
  const err = e as { code?: string; message?: string };
  throw engineError(String(err?.code), String(err?.message ?? e), 'IO');
}

class WasmDb implements EngineDb {
  readonly h: Heap;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly engine: WasmEngine,
    private readonly path: string,
    readonly store: PageStore,
    public ptr: number,
  ) {
    this.h = engine.heap;
  }

  live(): number {
    if (!this.ptr) throw closedError('database');
    return this.ptr;
  }

  /** After a write: idle maintenance is due soon (ldb_maintain says when). */
  wrote(): void {
    this.engine.committed(this.path);
    if (!this.timer && this.ptr) this.schedule(0);
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => this.maintain(), ms);
    (this.timer as { unref?: () => void }).unref?.();
  }

  /** One ldb_maintain call (a due NORMAL-mode sync, a step of pending
   * checkpoint work), then sleep for as long as the core says. */
  private maintain(): void {
    this.timer = null;
    if (!this.ptr) return;
    const h = this.h;
    // Errors here have no caller; the next operation meets the same store
    // condition and reports it, and stats().backgroundError shows it.
    if (h.m._ldb_maintain(this.ptr, 0, h.outs + 16) !== 0) return;
    const next = h.u32(h.outs + 16);
    if (next !== MAINTAIN_IDLE) this.schedule(next);
  }

  get(key: Uint8Array): Uint8Array | undefined {
    const db = this.live();
    const h = this.h;
    const k = h.put(0, key);
    return readValue(h, (buf, cap) => h.m._ldb_get_buf(db, k, key.length, buf, cap, h.outs + 8));
  }
  /** One read-only snapshot, ended by a commit (as natively: counted
   * neither as a commit nor as an abort; the gets count one each). */
  getMany(keys: Uint8Array[]): Array<Uint8Array | undefined> {
    const t = this.begin(true);
    let values: Array<Uint8Array | undefined>;
    try {
      values = keys.map((k) => t.get(k));
    } catch (e) {
      t.abort();
      throw e;
    }
    t.commit();
    return values;
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
    return new WasmTxn(this, h.u32(h.outs), readOnly);
  }
  iterate(opts: EngineIterOptions): EngineIterator {
    return iterCreate(this.h, this.live(), 0, opts);
  }
  count(opts: EngineIterOptions): number {
    return rangeOp(this.h, this.live(), 0, opts, 0, 0);
  }
  deleteRange(opts: EngineIterOptions, limit: number): number {
    return rangeOp(this.h, this.live(), 0, opts, 1, limit);
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
  check(): EngineCheckResult {
    const h = this.h;
    const listed = 16; // LDB_CHECK_LISTED
    const p = h.alloc(8 * (8 + listed));
    try {
      h.check(h.m._ldbw_check(this.live(), p));
      const f = new Float64Array(h.m.HEAPU8.buffer, p, 8 + listed);
      return {
        pages: f[0]!, freeChecked: f[1]!, freeDamaged: f[2]!, freeSkipped: f[3] !== 0,
        freeDamagedPages: Array.from(f.subarray(4, 4 + Math.min(f[2]!, listed))),
        leafPages: f[4 + listed]!, leafBytes: f[5 + listed]!,
        branchPages: f[6 + listed]!, overflowPages: f[7 + listed]!,
      };
    } finally {
      h.m._free(p);
    }
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
  /** Every row of the core's statistics table, by its JS name: a number per
   * counter, gauge or sum, an array of bucket counts per histogram. */
  stats(): EngineStats {
    const h = this.h;
    const m = h.m;
    const { stats: layout, statsDoubles: n } = h.contract;
    const p = h.alloc(8 * n);
    try {
      h.check(m._ldbw_stats(this.live(), p, n));
      const f = new Float64Array(m.HEAPU8.buffer, p, n).slice();
      const s: Record<string, unknown> = {};
      let at = 0;
      for (const [name, width] of layout) {
        s[name] = width === 1 ? f[at] : Array.from(f.subarray(at, at + width));
        at += width;
      }
      return s as unknown as EngineStats;
    } finally {
      m._free(p);
    }
  }
  /** The Prometheus text exposition of the statistics, by the core
   * (ldb_stats_prometheus); `labels` is added to every sample. */
  prometheus(labels = ''): string {
    const h = this.h;
    const m = h.m;
    const db = this.live();
    const l = h.newCStr(labels);
    try {
      for (;;) {
        const cap = h.cap(2);
        const buf = h.scratch(2, cap);
        h.check(m._ldbw_stats_prometheus(db, l, buf, cap, h.outs + 16));
        const len = h.u32(h.outs + 16);
        if (len < cap) return utf8.decode(m.HEAPU8.subarray(buf, buf + len));
        h.scratch(2, len + 1);
      }
    } finally {
      m._free(l);
    }
  }
  /** The engine's event ring (ldb_events_read): kept events with seq >
   * after, oldest first. */
  events(after: number): EngineEvent[] {
    const h = this.h;
    const m = h.m;
    const db = this.live();
    const cap = 256; // LDB_EVENT_RING
    const p = h.alloc(8 * 7 * cap);
    try {
      h.check(m._ldbw_events_read(db, after, p, cap, h.outs + 16));
      const n = h.u32(h.outs + 16);
      const f = new Float64Array(m.HEAPU8.buffer, p, 7 * n).slice();
      const out: EngineEvent[] = [];
      for (let i = 0; i < n; i++) {
        const o = f.subarray(7 * i, 7 * i + 7);
        out.push({
          seq: o[0]!, timeNs: o[1]!, lastNs: o[2]!, count: o[3]!, value: o[4]!,
          type: h.cstr(m._ldb_event_name(o[5]!)), code: h.contract.codeNames[o[6]!] ?? `code ${o[6]}`,
        });
      }
      return out;
    } finally {
      m._free(p);
    }
  }
  /** Never refuses (ldb_close): transactions and iterators still open are
   * invalidated by the core; their later calls throw CLOSED. */
  close(): void {
    if (!this.ptr) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const db = this.ptr;
    this.ptr = 0;
    const rc = this.h.m._ldb_close(db);
    // The handle is closed in every case; release the store even when
    // closing reported an error.
    const err = rc !== 0 ? this.h.error(rc) : null;
    this.engine.releaseSlot(this.path);
    if (err) throw err;
  }
}
