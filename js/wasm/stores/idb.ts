/**
 * idb.ts — a page store over IndexedDB, for browsers (or contexts) without
 * OPFS sync access handles.
 *
 * IndexedDB is asynchronous and the engine's store calls are synchronous, so
 * the whole image of every file is held in memory (loaded when the store is
 * opened) and persisted at sync():
 *   - files are cut into CHUNK-byte chunks; write()/truncate() mark chunks
 *     dirty; sync(file) copies that file's dirty chunks and its size and
 *     queues ONE readwrite IndexedDB transaction (durability 'strict') that
 *     stores them. remove() queues a transaction deleting the file.
 *   - IndexedDB runs readwrite transactions over the same object stores in
 *     the order they were created, and each is atomic, so the stored image is
 *     always the image at some sequence of completed syncs — the same
 *     guarantee a disk gives after fsync, which is what the engine's
 *     recovery relies on.
 *
 * What is durable when: a sync() returns before its transaction commits.
 * durable() resolves once every transaction queued so far has committed;
 * the engine awaits it in putAsync/batchAsync/commitAsync/flushAsync, so
 * those promises resolve only when the data is on disk. Synchronous writes
 * (put, commit) are durable shortly after (normally milliseconds); a crash
 * or tab close before that loses them — never corrupting, since the image
 * stays a whole prefix of syncs. A failed transaction (e.g. quota exceeded)
 * keeps its chunks dirty, and the next sync() throws FULL (quota) or IO, so
 * the failure surfaces as an engine error; a later sync retries them.
 *
 * Memory: the database's size in the JS heap. For large databases use OPFS.
 */
import { MemoryStore } from './memory.js';
import { MemFile, StoreError } from './types.js';

const CHUNK = 64 * 1024;
const FILES = 'files';
const CHUNKS = 'chunks';

interface Dirty {
  chunks: Set<number>;
  sizeDirty: boolean;
  /** Chunks at or beyond this index must be deleted (shrunk file). */
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

export class IdbStore extends MemoryStore {
  override readonly kind = 'indexeddb' as const;
  private readonly dirty = new Map<string, Dirty>();
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown = null;

  private constructor(
    private readonly db: IDBDatabase,
    readonly dbName: string,
  ) {
    super(`indexeddb:${dbName}`);
  }

  /** Opens (creating when missing) the IndexedDB database `lightningdb:<name>`
   * and loads every file into memory. */
  static async open(name: string): Promise<IdbStore> {
    if (typeof indexedDB === 'undefined') throw new StoreError('IO', 'IndexedDB is not available in this context');
    const dbName = `lightningdb:${name}`;
    const open = indexedDB.open(dbName, 1);
    open.onupgradeneeded = () => {
      const db = open.result;
      if (!db.objectStoreNames.contains(FILES)) db.createObjectStore(FILES);
      if (!db.objectStoreNames.contains(CHUNKS)) db.createObjectStore(CHUNKS);
    };
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
      open.onblocked = () => reject(new StoreError('BUSY', `IndexedDB database ${dbName} is blocked by another connection`));
    });
    const store = new IdbStore(db, name);
    try {
      await store.load();
    } catch (e) {
      db.close();
      throw e;
    }
    return store;
  }

  /** Deletes the IndexedDB database of `name` (every file). */
  static async destroy(name: string): Promise<void> {
    await req(indexedDB.deleteDatabase(`lightningdb:${name}`) as unknown as IDBRequest<unknown>);
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
    }
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
    super.write(fid, off, src);
    if (src.length === 0) return;
    const d = this.mark(this.open_.get(fid).name);
    for (let c = Math.floor(off / CHUNK); c <= Math.floor((off + src.length - 1) / CHUNK); c++) d.chunks.add(c);
    d.sizeDirty = true;
  }

  override truncate(fid: number, size: number): void {
    const { name, file } = this.open_.get(fid);
    const old = file.size;
    super.truncate(fid, size);
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

  override sync(fid: number): void {
    const { name, file } = this.open_.get(fid);
    this.raiseFailure();
    if (!this.files.has(name)) return; // removed while open: nothing to keep
    const d = this.dirty.get(name);
    if (!d || (!d.sizeDirty && d.chunks.size === 0 && d.dropFrom === Infinity)) return;
    this.dirty.delete(name);
    // Copy now: later writes must not leak into this sync's image.
    const puts: Array<[number, Uint8Array]> = [];
    for (const c of d.chunks) {
      const start = c * CHUNK;
      if (start >= file.size) continue;
      puts.push([c, file.data.slice(start, Math.min(file.size, start + CHUNK))]);
    }
    const size = file.size;
    const dropFrom = d.dropFrom;
    this.enqueue(async (tx) => {
      const chunks = tx.objectStore(CHUNKS);
      if (dropFrom !== Infinity)
        chunks.delete(IDBKeyRange.bound([name, dropFrom], [name, Number.MAX_SAFE_INTEGER]));
      for (const [c, bytes] of puts) chunks.put(bytes, [name, c]);
      tx.objectStore(FILES).put({ size }, name);
    }, () => {
      // Failed: everything this sync carried is dirty again.
      const again = this.mark(name);
      for (const [c] of puts) again.chunks.add(c);
      again.sizeDirty = true;
      again.dropFrom = Math.min(again.dropFrom, dropFrom);
    });
  }

  override remove(name: string): void {
    super.remove(name);
    this.dirty.delete(name);
    this.enqueue(async (tx) => {
      tx.objectStore(CHUNKS).delete(IDBKeyRange.bound([name, 0], [name, Number.MAX_SAFE_INTEGER]));
      tx.objectStore(FILES).delete(name);
    }, () => {});
  }

  /** Queues one readwrite transaction; failures are remembered and thrown
   * by the next sync() (and rejected by durable()). */
  private enqueue(fill: (tx: IDBTransaction) => Promise<void>, onFail: () => void): void {
    let tx: IDBTransaction;
    try {
      tx = this.db.transaction([FILES, CHUNKS], 'readwrite', { durability: 'strict' });
    } catch (e) {
      onFail();
      this.failure = e;
      throw new StoreError('IO', `IndexedDB: cannot start a transaction: ${String((e as Error)?.message ?? e)}`);
    }
    const finished = done(tx);
    void fill(tx);
    this.chain = this.chain.then(
      () => finished.catch((e) => { onFail(); this.failure ??= e; }),
      () => finished.catch((e) => { onFail(); this.failure ??= e; }),
    );
  }

  private raiseFailure(): void {
    const e = this.failure as { name?: string; message?: string } | null;
    if (!e) return;
    this.failure = null;
    const quota = e.name === 'QuotaExceededError';
    throw new StoreError(quota ? 'FULL' : 'IO',
      `IndexedDB could not persist an earlier sync (${e.name ?? 'Error'}: ${e.message ?? ''}); it will be retried`);
  }

  override async durable(): Promise<void> {
    await this.chain;
    const e = this.failure as { name?: string; message?: string } | null;
    if (e) {
      this.failure = null;
      throw new StoreError(e.name === 'QuotaExceededError' ? 'FULL' : 'IO',
        `IndexedDB could not persist data (${e.name ?? 'Error'}: ${e.message ?? ''})`);
    }
  }

  override release(): void {
    super.release();
    // close() lets queued transactions finish before the connection closes;
    // settled() lets a host wait for them (a Worker about to be terminated).
    const p = this.chain.catch(() => {});
    IdbStore.pending.add(p);
    void p.then(() => IdbStore.pending.delete(p));
    this.db.close();
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
