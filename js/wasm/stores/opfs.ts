/**
 * opfs.ts — a page store over the Origin Private File System with
 * FileSystemSyncAccessHandle: synchronous reads and writes straight to disk,
 * available only in dedicated Workers. The default browser store.
 *
 * A database is one OPFS directory (`name`); its files are the engine's
 * ("data.ldb", the log's "feed.head" and "feed-NN.log" segments, and the
 * previous version's "wal-0.log"/"wal-1.log", read once when such a
 * database is opened). Creating a sync access handle is
 * asynchronous while the engine's open() is synchronous, so OpfsStore.open()
 * opens a handle for every engine file (and any other file present) up
 * front. A handle is exclusive: another tab or worker holding the database
 * makes OpfsStore.open() fail with BUSY.
 *
 * Existence: a file the engine has not created yet still needs a handle, so
 * it exists in OPFS as a placeholder that the store reports as missing
 * (open without create -> NOT_FOUND) until the engine creates it;
 * placeholders are removed when the store is released. A zero-length
 * data.ldb left by a crash before its first write also counts as missing.
 *
 * Durability: write() reaches the OPFS file immediately; sync() calls
 * flush() on the handle, after which the bytes survive a crash of the tab
 * or the browser. Quota errors (QuotaExceededError) surface as FULL.
 */
import { checkName, dropLock, FileTable, PageStore, StoreError, storeErrorFrom, takeLock } from './types.js';

/** The files the engine opens (core/src: btree.h; feed.c: the log's head
 * and its 16 segment names; wal.h: the previous version's log, which a
 * migration reads and removes). */
export const ENGINE_FILES = [
  'data.ldb',
  'wal-0.log',
  'wal-1.log',
  'feed.head',
  ...Array.from({ length: 16 }, (_, i) => `feed-${String(i).padStart(2, '0')}.log`),
];

/** The part of FileSystemSyncAccessHandle used here (declared locally so
 * this file type-checks under both the dom and the webworker libs). */
interface SyncHandle {
  read(buffer: Uint8Array, options: { at: number }): number;
  write(buffer: Uint8Array, options: { at: number }): number;
  flush(): void;
  getSize(): number;
  truncate(size: number): void;
  close(): void;
}

interface Entry {
  handle: SyncHandle;
  exists: boolean;
  /** Written or truncated since the last flush. */
  unflushed: boolean;
}

function isBusy(e: unknown): boolean {
  const n = (e as { name?: string })?.name;
  return n === 'NoModificationAllowedError' || n === 'InvalidStateError';
}

export function opfsAvailable(): boolean {
  const g = globalThis as unknown as {
    navigator?: { storage?: { getDirectory?: unknown } };
    FileSystemFileHandle?: { prototype: object };
  };
  const fh = g.FileSystemFileHandle;
  return (
    typeof g.navigator?.storage?.getDirectory === 'function' &&
    fh !== undefined &&
    'createSyncAccessHandle' in fh.prototype
  );
}

export class OpfsStore implements PageStore {
  readonly id: string;
  readonly kind = 'opfs' as const;
  private readonly open_ = new FileTable<{ name: string; entry: Entry }>();
  private locked = false;
  private released = false;

  private constructor(
    readonly name: string,
    private readonly dir: FileSystemDirectoryHandle,
    private readonly entries: Map<string, Entry>,
  ) {
    this.id = `opfs:/${name}`;
  }

  /** Opens the OPFS directory `name` (a path of '/'-separated segments,
   * created when missing) and a sync access handle for each engine file. */
  static async open(name: string, extraFiles: string[] = []): Promise<OpfsStore> {
    if (!opfsAvailable()) throw new StoreError('IO', 'OPFS sync access handles are not available here (they exist only in dedicated Workers)');
    let dir = await navigator.storage.getDirectory();
    for (const seg of name.split('/').filter(Boolean)) {
      if (seg === '.' || seg === '..') throw new StoreError('INVALID_ARGUMENT', `invalid database name "${name}"`);
      dir = await dir.getDirectoryHandle(seg, { create: true });
    }
    const names = new Set([...ENGINE_FILES, ...extraFiles]);
    const present = new Set<string>();
    for await (const [n, h] of (dir as unknown as { entries(): AsyncIterable<[string, FileSystemHandle]> }).entries())
      if (h.kind === 'file') {
        present.add(n);
        names.add(n);
      }
    const entries = new Map<string, Entry>();
    try {
      for (const n of names) {
        const fh = await dir.getFileHandle(n, { create: true });
        let handle: SyncHandle;
        try {
          handle = await (fh as unknown as { createSyncAccessHandle(): Promise<SyncHandle> }).createSyncAccessHandle();
        } catch (e) {
          if (isBusy(e))
            throw new StoreError('BUSY', `database "${name}" is open in another tab or worker (OPFS file ${n} is locked)`);
          throw e;
        }
        let exists = present.has(n);
        if (exists && n === 'data.ldb' && handle.getSize() === 0) exists = false;
        entries.set(n, { handle, exists, unflushed: false });
      }
    } catch (e) {
      for (const en of entries.values()) en.handle.close();
      throw e;
    }
    return new OpfsStore(name, dir, entries);
  }

  /** Removes the database directory `name` and everything in it. */
  static async destroy(name: string): Promise<void> {
    // A store of this name released just before: its placeholders are
    // still being removed, and Chromium refuses a recursive removal of
    // their directory meanwhile (NoModificationAllowedError, read as BUSY).
    await OpfsStore.cleanups.get(name);
    const segs = name.split('/').filter(Boolean);
    const leaf = segs[segs.length - 1];
    if (!leaf) throw new StoreError('INVALID_ARGUMENT', `invalid database name "${name}"`);
    let dir = await navigator.storage.getDirectory();
    for (const seg of segs.slice(0, -1)) dir = await dir.getDirectoryHandle(seg);
    // A refusal right after handles were closed in this Worker can be the
    // close still reaching the browser's file system: tried again a few
    // times over ~400 ms before it is reported as BUSY.
    for (let attempt = 0; ; attempt++) {
      try {
        await dir.removeEntry(leaf, { recursive: true });
        return;
      } catch (e) {
        if ((e as { name?: string }).name === 'NotFoundError') return;
        if (!isBusy(e)) throw e;
        // Files of the database have open sync access handles elsewhere.
        if (attempt === 4) throw storeErrorFrom(e, `cannot destroy OPFS database "${name}"`);
        await new Promise((r) => setTimeout(r, 25 << attempt));
      }
    }
  }

  private live(): void {
    if (this.released) throw new StoreError('CLOSED', `OPFS store ${this.name} was released`);
  }

  open(name: string, create: boolean): number {
    checkName(name);
    this.live();
    const entry = this.entries.get(name);
    if (!entry)
      throw new StoreError('IO', `OPFS store: file ${name} was not opened in advance (known: ${[...this.entries.keys()].join(', ')})`);
    if (!entry.exists) {
      if (!create) throw new StoreError('NOT_FOUND', `file ${name} does not exist`);
      entry.handle.truncate(0);
      entry.exists = true;
    }
    return this.open_.add({ name, entry });
  }
  read(fid: number, off: number, dst: Uint8Array): number {
    return this.open_.get(fid).entry.handle.read(dst, { at: off });
  }
  write(fid: number, off: number, src: Uint8Array): void {
    const entry = this.open_.get(fid).entry;
    const h = entry.handle;
    entry.unflushed = true;
    let done = 0;
    while (done < src.length) {
      const n = h.write(src.subarray(done), { at: off + done });
      if (n <= 0) throw new StoreError('FULL', `OPFS write of ${src.length - done} bytes at ${off + done} wrote nothing (quota?)`);
      done += n;
    }
  }
  sync(fid: number): void {
    const entry = this.open_.get(fid).entry;
    entry.handle.flush();
    entry.unflushed = false;
  }
  size(fid: number): number {
    return this.open_.get(fid).entry.handle.getSize();
  }
  truncate(fid: number, size: number): void {
    const entry = this.open_.get(fid).entry;
    entry.handle.truncate(size);
    entry.unflushed = true;
  }
  close(fid: number): void {
    this.open_.delete(fid);
  }
  lock(exclusive: boolean): void {
    takeLock(this.id, exclusive, `database "${this.name}"`);
    this.locked = true;
  }
  unlock(): void {
    if (this.locked) dropLock(this.id);
    this.locked = false;
  }
  remove(name: string): void {
    checkName(name);
    const entry = this.entries.get(name);
    if (!entry || !entry.exists) return;
    entry.handle.truncate(0);
    entry.handle.flush();
    entry.exists = false;
  }
  /** Flushes every handle written since its last flush: what the
   * ...Async forms promise, whatever the syncMode. */
  durable(): Promise<void> {
    try {
      for (const en of this.entries.values()) {
        if (!en.unflushed) continue;
        en.handle.flush();
        en.unflushed = false;
      }
    } catch (e) {
      return Promise.reject(storeErrorFrom(e, `OPFS flush of database "${this.name}"`));
    }
    return Promise.resolve();
  }
  release(): void {
    if (this.released) return;
    this.unlock();
    this.released = true;
    const missing: string[] = [];
    for (const [n, en] of this.entries) {
      try {
        en.handle.flush();
      } finally {
        en.handle.close();
      }
      if (!en.exists) missing.push(n);
    }
    // Placeholders go away in the background; a leftover one reads as an
    // empty file, which the next open treats as described above.
    const cleanup = Promise.all(missing.map((n) => this.dir.removeEntry(n).catch(() => {}))).then(() => {
      if (OpfsStore.cleanups.get(this.name) === cleanup) OpfsStore.cleanups.delete(this.name);
    });
    this.cleanup = cleanup;
    if (missing.length) OpfsStore.cleanups.set(this.name, cleanup);
  }
  private cleanup: Promise<void> = Promise.resolve();
  /** Placeholder removals still running after release(), by database name
   * (destroy waits for them). */
  private static readonly cleanups = new Map<string, Promise<void>>();
  async releaseAsync(): Promise<void> {
    this.release();
    await this.cleanup;
  }
}
