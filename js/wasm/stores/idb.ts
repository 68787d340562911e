/**
 * idb.ts — a page store over IndexedDB, for browsers (or contexts) without
 * working OPFS sync access handles.
 *
 * IndexedDB is asynchronous and the engine's store calls are synchronous, so
 * the whole image of every file is held in memory (loaded when the store is
 * opened) and persisted in the background:
 *   - files are cut into CHUNK-byte chunks; write()/truncate()/remove() mark
 *     chunks (and sizes) dirty;
 *   - sync() asks for persistence. At most ONE readwrite IndexedDB
 *     transaction (durability 'strict') is in flight: when none is, sync()
 *     starts one carrying a copy of every dirty chunk of every file, taken
 *     at that instant; syncs that arrive while one is in flight are served
 *     together by the next transaction, started when it completes. So the
 *     backlog is bounded — one transaction in flight and one dirty set (at
 *     most the database's size) — however many commits arrive (group
 *     commit), and flushAsync() after many writes waits for at most two
 *     transactions.
 *   - each transaction stores the image of one instant and commits
 *     atomically, so what IndexedDB holds is always the in-memory image at
 *     some instant (a prefix of the writes, never a mixture) — what the
 *     engine's recovery needs from a disk after a crash.
 *
 * What is durable when: sync() returns before its transaction commits;
 * durable() resolves once everything written so far (synced or not) is
 * covered by a committed transaction. The engine awaits it in putAsync / batchAsync /
 * commitAsync / flushAsync, and the main-thread proxy awaits it before
 * acknowledging a write with syncMode 'full' (js/browser/worker.ts). The
 * synchronous Worker API refuses syncMode 'full' on this store
 * (js/browser/host.ts): a synchronous commit cannot be durable when it
 * returns.
 *
 * Failures are fail-stop: when a transaction fails (QuotaExceededError,
 * or any other error), nothing of it is stored, the store never persists
 * again, durable() rejects (FULL for quota, IO otherwise) for every sync
 * not yet covered, sync() throws the same from then on, and onFailure is
 * called. What IndexedDB holds stays the state of the last committed
 * transaction, so reopening gives exactly the acknowledged data and nothing
 * of the calls that were rejected; the host closes (in-Worker API) or
 * reopens (proxy) the database. A failed transaction is never retried
 * later: that would make a rejected call take effect after all.
 *
 * Memory: the database's size in the JS heap. For large databases use OPFS.
 * The pages are not loaded on demand (the engine reads its store
 * synchronously, IndexedDB answers asynchronously): instead the limit is
 * stated. `maxBytes` (the idbMaxBytes option, default DEFAULT_MAX_BYTES)
 * bounds the sum of the files: a write that would pass it throws FULL with
 * a message naming the limit and the option (the commit fails, nothing of
 * it is applied, the database stays usable), and opening a database whose
 * stored files already pass it is refused the same way.
 */
import { MemoryStore } from './memory.js';
import { MemFile, StoreError, storeErrorFrom } from './types.js';

const CHUNK = 64 * 1024;

/** Default bound of the files held in memory (idbMaxBytes): 512 MiB. */
export const DEFAULT_MAX_BYTES = 512 * 1024 * 1024;
const FILES = 'files';
const CHUNKS = 'chunks';

interface Dirty {
  chunks: Set<number>;
  sizeDirty: boolean;
  /** Chunks at or beyond this index must be deleted (shrunk or removed
   * file). */
  dropFrom: number;
}

function req<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
  });
}

interface Waiter {
  gen: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class IdbStore extends MemoryStore {
  override readonly kind = 'indexeddb' as const;
  /** Changes not yet carried by a transaction, per file name. */
  private readonly dirty = new Map<string, Dirty>();
  /** sync() calls so far, and how many of them a committed transaction
   * covers. */
  private requested = 0;
  private persisted = 0;
  private inflight: Promise<void> | null = null;
  private waiters: Waiter[] = [];
  private failure: StoreError | null = null;
  private closing = false;
  private drainedResolve: (() => void) | null = null;
  private readonly drainedP: Promise<void>;
  /** Called once when a transaction fails (the store is then fail-stop). */
  onFailure: ((e: StoreError) => void) | null = null;

  /** Sum of the files' sizes. */
  private bytes = 0;

  private constructor(
    private readonly db: IDBDatabase,
    readonly dbName: string,
    readonly maxBytes: number,
  ) {
    super(`indexeddb:${dbName}`);
    this.drainedP = new Promise((r) => (this.drainedResolve = r));
  }

  /** Opens (creating when missing) the IndexedDB database `lightningdb:<name>`
   * and loads every file into memory (FULL when they pass maxBytes). */
  static async open(name: string, maxBytes = DEFAULT_MAX_BYTES): Promise<IdbStore> {
    if (typeof indexedDB === 'undefined') throw new StoreError('IO', 'IndexedDB is not available in this context');
    const dbName = `lightningdb:${name}`;
    let db: IDBDatabase;
    try {
      const open = indexedDB.open(dbName, 1);
      open.onupgradeneeded = () => {
        const d = open.result;
        if (!d.objectStoreNames.contains(FILES)) d.createObjectStore(FILES);
        if (!d.objectStoreNames.contains(CHUNKS)) d.createObjectStore(CHUNKS);
      };
      db = await new Promise<IDBDatabase>((resolve, reject) => {
        open.onsuccess = () => resolve(open.result);
        open.onerror = () => reject(open.error);
        open.onblocked = () => reject(new StoreError('BUSY', `IndexedDB database ${dbName} is blocked by another connection`));
      });
    } catch (e) {
      throw storeErrorFrom(e, `cannot open IndexedDB database ${dbName}`);
    }
    const store = new IdbStore(db, name, maxBytes);
    try {
      await store.load();
    } catch (e) {
      db.close();
      throw storeErrorFrom(e, `cannot read IndexedDB database ${dbName}`);
    }
    if (store.bytes > maxBytes) {
      db.close();
      throw store.tooBig(store.bytes);
    }
    return store;
  }

  /** Deletes the IndexedDB database of `name` (every file). BUSY at once
   * when a connection to it is open (in any tab or Worker): IndexedDB would
   * otherwise wait for that connection to close and delete the database
   * then, with whatever was written meanwhile. */
  static async destroy(name: string): Promise<void> {
    const dbName = `lightningdb:${name}`;
    const busy = () => new StoreError('BUSY',
      `cannot destroy IndexedDB database ${dbName}: it is open in another tab, window or Worker of this site; close it there first`);
    // Probe: a version change is blocked by open connections and reports
    // it at once (onblocked). Its upgrade is always aborted, so the probe
    // changes nothing, even when it runs later after the holder closes.
    await new Promise<void>((resolve, reject) => {
      const probe = indexedDB.open(dbName, 2);
      let blocked = false;
      probe.onblocked = () => {
        blocked = true;
        reject(busy());
      };
      probe.onupgradeneeded = () => probe.transaction?.abort();
      probe.onsuccess = () => {
        probe.result.close();
        if (!blocked) resolve();
      };
      probe.onerror = (ev) => {
        ev.preventDefault();
        if (!blocked) resolve();
      };
    });
    await new Promise<void>((resolve, reject) => {
      const del = indexedDB.deleteDatabase(dbName);
      del.onsuccess = () => resolve();
      del.onerror = () => reject(storeErrorFrom(del.error, `cannot destroy IndexedDB database ${dbName}`));
      del.onblocked = () => reject(busy());
    });
  }

  private async load(): Promise<void> {
    const tx = this.db.transaction([FILES, CHUNKS], 'readonly');
    const files = tx.objectStore(FILES);
    const chunks = tx.objectStore(CHUNKS);
    const names = (await req(files.getAllKeys())) as string[];
    const sizes = (await req(files.getAll())) as Array<{ size: number }>;
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      const size = sizes[i]?.size ?? 0;
      const range = IDBKeyRange.bound([name, 0], [name, Number.MAX_SAFE_INTEGER]);
      const keys = (await req(chunks.getAllKeys(range))) as Array<[string, number]>;
      const vals = (await req(chunks.getAll(range))) as Uint8Array[];
      const data = new Uint8Array(size);
      for (let j = 0; j < keys.length; j++) {
        const off = keys[j]![1] * CHUNK;
        const raw = vals[j];
        if (off >= size || !raw) continue;
        const v = new Uint8Array(raw);
        data.set(v.subarray(0, Math.min(v.length, size - off)), off);
      }
      this.files.set(name, new MemFile(data));
      this.bytes += size;
    }
  }

  /** FULL: the files would pass maxBytes. */
  private tooBig(total: number): StoreError {
    const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
    return new StoreError('FULL',
      `the IndexedDB store holds the whole database "${this.dbName}" in memory, and it would grow to ${mib(total)}, ` +
      `past its limit of ${mib(this.maxBytes)} (the idbMaxBytes option); raise idbMaxBytes if the tab has the memory, ` +
      'or use the OPFS store (store: \'opfs\'), which reads pages on demand');
  }

  /** The last write refused for passing maxBytes (the engine reports it
   * as FULL with its own message; hosts add this one). */
  limitError: StoreError | null = null;

  /** Checks that a file growing from `from` to `to` bytes stays within maxBytes. */
  private grow(from: number, to: number): void {
    if (to <= from) return;
    const total = this.bytes + (to - from);
    if (total > this.maxBytes) throw (this.limitError = this.tooBig(total));
  }

  private fileSize(fid: number): number {
    return this.open_.get(fid).file.size;
  }

  private mark(name: string): Dirty {
    let d = this.dirty.get(name);
    if (!d) {
      d = { chunks: new Set(), sizeDirty: false, dropFrom: Infinity };
      this.dirty.set(name, d);
    }
    return d;
  }

  protected override created(name: string): void {
    this.mark(name).sizeDirty = true;
  }

  override write(fid: number, off: number, src: Uint8Array): void {
    const before = this.fileSize(fid);
    this.grow(before, off + src.length);
    super.write(fid, off, src);
    this.bytes += this.fileSize(fid) - before;
    if (src.length === 0) return;
    const d = this.mark(this.open_.get(fid).name);
    for (let c = Math.floor(off / CHUNK); c <= Math.floor((off + src.length - 1) / CHUNK); c++) d.chunks.add(c);
    d.sizeDirty = true;
  }

  override truncate(fid: number, size: number): void {
    const { name, file } = this.open_.get(fid);
    const old = file.size;
    this.grow(old, size);
    super.truncate(fid, size);
    this.bytes += file.size - old;
    const d = this.mark(name);
    d.sizeDirty = true;
    if (size < old) {
      const keep = Math.ceil(size / CHUNK);
      d.dropFrom = Math.min(d.dropFrom, keep);
      for (const c of [...d.chunks]) if (c >= keep) d.chunks.delete(c);
      if (size % CHUNK) d.chunks.add(keep - 1);
    } else {
      for (let c = Math.floor(old / CHUNK); c < Math.ceil(size / CHUNK); c++) d.chunks.add(c);
    }
  }

  /** True once a transaction failed: nothing is persisted any more. */
  get failed(): boolean {
    return this.failure !== null;
  }

  override sync(fid: number): void {
    this.open_.get(fid);
    if (this.failure) throw new StoreError(this.failure.code, this.failure.message);
    this.requested++;
    this.kick();
  }

  override remove(name: string): void {
    this.bytes -= this.files.get(name)?.size ?? 0;
    super.remove(name);
    const d = this.mark(name);
    d.chunks.clear();
    d.sizeDirty = true;
    d.dropFrom = 0;
    if (this.failure) return;
    this.requested++;
    this.kick();
  }

  /** Starts the next transaction when none is in flight and a sync()
   * is not yet covered. */
  private kick(): void {
    if (this.failure) {
      this.settle();
      return;
    }
    if (this.inflight) return;
    if (this.persisted >= this.requested) {
      this.settle();
      return;
    }
    const gen = this.requested;
    if (this.dirty.size === 0) {
      this.persisted = gen;
      this.settle();
      return;
    }
    // The image of this instant: later writes go to the next transaction.
    const ops: Array<{ name: string; exists: boolean; size: number; dropFrom: number; puts: Array<[number, Uint8Array]> }> = [];
    for (const [name, d] of this.dirty) {
      const file = this.files.get(name);
      const puts: Array<[number, Uint8Array]> = [];
      if (file) {
        for (const c of d.chunks) {
          const start = c * CHUNK;
          if (start < file.size) puts.push([c, file.data.slice(start, Math.min(file.size, start + CHUNK))]);
        }
      }
      ops.push({ name, exists: file !== undefined, size: file?.size ?? 0, dropFrom: file ? d.dropFrom : 0, puts });
    }
    this.dirty.clear();
    let tx: IDBTransaction;
    try {
      tx = this.db.transaction([FILES, CHUNKS], 'readwrite', { durability: 'strict' });
    } catch (e) {
      this.fail(e);
      return;
    }
    const finished = done(tx);
    try {
      const chunks = tx.objectStore(CHUNKS);
      const files = tx.objectStore(FILES);
      for (const op of ops) {
        if (op.dropFrom !== Infinity)
          chunks.delete(IDBKeyRange.bound([op.name, op.dropFrom], [op.name, Number.MAX_SAFE_INTEGER]));
        for (const [c, bytes] of op.puts) chunks.put(bytes, [op.name, c]);
        if (op.exists) files.put({ size: op.size }, op.name);
        else files.delete(op.name);
      }
    } catch (e) {
      try {
        tx.abort();
      } catch {
        /* already finished */
      }
      finished.catch(() => {});
      this.fail(e);
      return;
    }
    this.inflight = finished.then(
      () => {
        this.inflight = null;
        this.persisted = gen;
        this.kick();
      },
      (e) => {
        this.inflight = null;
        this.fail(e);
      },
    );
  }

  /** Resolves the waiters a committed transaction covers; after a failure
   * or once nothing is pending while closing, finishes the release. */
  private settle(): void {
    const left: Waiter[] = [];
    for (const w of this.waiters) {
      if (this.failure) w.reject(this.failure);
      else if (w.gen <= this.persisted) w.resolve();
      else left.push(w);
    }
    this.waiters = left;
    if (this.closing && !this.inflight && (this.failure || this.persisted >= this.requested)) {
      this.db.close();
      this.drainedResolve?.();
      this.drainedResolve = null;
    }
  }

  private fail(e: unknown): void {
    if (!this.failure) {
      const err = e as { name?: string; message?: string; code?: unknown };
      const code = err?.name === 'QuotaExceededError' || err?.code === 'FULL' ? 'FULL' : 'IO';
      this.failure = new StoreError(code,
        `IndexedDB could not persist the database "${this.dbName}" (${err?.name ?? 'Error'}: ${err?.message ?? String(e)}); ` +
        'nothing since the last persisted state will be stored: close and reopen the database, it reopens at that state' +
        (code === 'FULL' ? " (the origin's storage quota is used up: free space first)" : ''));
      this.dirty.clear();
      try {
        this.onFailure?.(this.failure);
      } catch {
        /* the host's reaction has nobody to report to */
      }
    }
    this.settle();
  }

  /** Resolves once everything written so far is persisted (not only what
   * was synced: the ...Async forms promise durability in every syncMode). */
  override durable(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.dirty.size) this.requested++;
    if (this.persisted >= this.requested) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiters.push({ gen: this.requested, resolve, reject });
      this.kick();
    });
  }

  override release(): void {
    if (this.closing) return;
    super.release();
    // The connection closes once the pending transactions are done;
    // settled() lets a host wait for that (a Worker about to be terminated).
    this.closing = true;
    IdbStore.pending.add(this.drainedP);
    void this.drainedP.then(() => IdbStore.pending.delete(this.drainedP));
    this.kick();
  }

  private static readonly pending = new Set<Promise<void>>();
  /** Resolves when every released store's queued transactions are done. */
  static async settled(): Promise<void> {
    while (IdbStore.pending.size) await Promise.all([...IdbStore.pending]);
  }

  async releaseAsync(): Promise<void> {
    try {
      await this.durable();
    } finally {
      this.release();
    }
  }
}
