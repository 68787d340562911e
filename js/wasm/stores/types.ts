/**
 * types.ts — the interface every JavaScript page store implements (memory,
 * OPFS, IndexedDB, Node fs), and the shared bookkeeping of open files and
 * in-process locks.
 *
 * The C side (wasm/store_js.c + wasm/library_store.js) calls these methods
 * synchronously from inside the engine. A store holds named byte files
 * ("data.ldb", "feed.head", "feed-00.log", ...); `open` returns a small integer file id
 * that the other file methods take. Failures are thrown as StoreError with
 * an LDB code name ('IO', 'FULL', 'NOT_FOUND', 'BUSY'); a DOMException named
 * QuotaExceededError is also understood (as FULL).
 */

export type StoreErrorCode =
  | 'IO' | 'FULL' | 'NOT_FOUND' | 'BUSY' | 'INVALID_ARGUMENT' | 'CLOSED' | 'ABORTED' | 'TIMEOUT';

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string) {
    super(message);
    this.name = 'StoreError';
    this.code = code;
  }
}

/**
 * The stable code of an error thrown by a browser storage API (a
 * DOMException from OPFS, IndexedDB or Web Locks), so that no raw
 * DOMException reaches the user:
 *   QuotaExceededError                       -> FULL
 *   NoModificationAllowedError, InvalidStateError (a handle or file locked
 *     by another tab or worker)              -> BUSY
 *   NotFoundError                            -> NOT_FOUND
 *   AbortError                               -> ABORTED
 *   TimeoutError                             -> TIMEOUT
 *   SecurityError, NotAllowedError, NotSupportedError, and anything else
 *                                            -> IO
 * Errors that already carry a code name (StoreError, LightningDbError) keep
 * it.
 */
export function storeErrorCode(e: unknown): StoreErrorCode {
  const err = e as { code?: unknown; name?: unknown } | null;
  const known: readonly string[] = ['IO', 'FULL', 'NOT_FOUND', 'BUSY', 'INVALID_ARGUMENT', 'CLOSED', 'ABORTED', 'TIMEOUT'];
  if (typeof err?.code === 'string' && known.includes(err.code)) return err.code as StoreErrorCode;
  switch (err?.name) {
    case 'QuotaExceededError':
      return 'FULL';
    case 'NoModificationAllowedError':
    case 'InvalidStateError':
      return 'BUSY';
    case 'NotFoundError':
      return 'NOT_FOUND';
    case 'AbortError':
      return 'ABORTED';
    case 'TimeoutError':
      return 'TIMEOUT';
    default:
      return 'IO';
  }
}

/** A StoreError for a failed browser storage call: the code of
 * storeErrorCode(e) and a message saying what was being done (`what`),
 * what the browser said, and, for refusals, why that happens. */
export function storeErrorFrom(e: unknown, what: string): StoreError {
  if (e instanceof StoreError) return e;
  const code = storeErrorCode(e);
  const err = e as { name?: string; message?: string } | null;
  const said = `${err?.name ?? 'Error'}: ${err?.message ?? String(e)}`;
  let hint = '';
  if (err?.name === 'SecurityError' || err?.name === 'NotAllowedError')
    hint = ' (the browser refuses this storage here: a private window, blocked site data, or a context without storage access)';
  else if (code === 'BUSY') hint = ' (it is open in another tab or worker; close it there first)';
  else if (code === 'FULL') hint = " (the origin's storage quota is used up; free space, or ask for more with navigator.storage.persist())";
  return new StoreError(code, `${what}: ${said}${hint}`);
}

export interface PageStore {
  /** Identity of the storage location ("opfs:/name"); two opens of the same
   * id in one engine share one C engine. */
  readonly id: string;
  /** Human-readable kind for messages and metrics. */
  readonly kind: 'memory' | 'opfs' | 'indexeddb' | 'node-fs';
  open(name: string, create: boolean): number;
  /** Reads up to dst.length bytes at off into dst; returns the count (short
   * only at end of file). */
  read(fid: number, off: number, dst: Uint8Array): number;
  write(fid: number, off: number, src: Uint8Array): void;
  /** Makes every completed write of the file durable — or, for stores whose
   * backend is asynchronous (IndexedDB), starts making it durable: see
   * durable(). */
  sync(fid: number): void;
  size(fid: number): number;
  truncate(fid: number, size: number): void;
  close(fid: number): void;
  /** Exclusive (writer) or shared (reader) lock; BUSY when held elsewhere. */
  lock(exclusive: boolean): void;
  unlock(): void;
  /** Removes a file; no error when it does not exist. */
  remove(name: string): void;
  /** Resolves once every write so far is durable (synced or not: the
   * engine's ...Async forms promise durability in every syncMode); rejects
   * with the persistence error otherwise. */
  durable(): Promise<void>;
  /** Called when the C store is destroyed (after the last database on it
   * closed). Releases handles; in-memory stores keep their data. */
  release(): void;
  /** Releases and waits for pending persistence (IndexedDB). */
  releaseAsync?(): Promise<void>;
}

/** Checks a file name the engine passes (a plain name, no slashes). */
export function checkName(name: string): void {
  if (!name || name.includes('/') || name.includes('\\') || name === '.' || name === '..')
    throw new StoreError('INVALID_ARGUMENT', `invalid file name "${name}"`);
}

/** In-process lock table keyed by store id: the engine shares one C engine
 * per id, so a second *engine* (another module instance in the same
 * process/worker) on the same location must see BUSY. */
const locks = new Map<string, { exclusive: boolean; shared: number }>();

export function takeLock(id: string, exclusive: boolean, what: string): void {
  const l = locks.get(id);
  if (l && (l.exclusive || exclusive))
    throw new StoreError('BUSY', `${what} is locked by another open database in this ${'process' in globalThis ? 'process' : 'worker'}`);
  if (!l) locks.set(id, { exclusive, shared: exclusive ? 0 : 1 });
  else l.shared++;
}

export function dropLock(id: string): void {
  const l = locks.get(id);
  if (!l) return;
  if (l.exclusive || --l.shared <= 0) locks.delete(id);
}

/** The table of open files shared by the store implementations: maps file
 * ids to per-file state. */
export class FileTable<F> {
  private next = 1;
  private readonly files = new Map<number, F>();
  add(f: F): number {
    const fid = this.next++;
    this.files.set(fid, f);
    return fid;
  }
  get(fid: number): F {
    const f = this.files.get(fid);
    if (!f) throw new StoreError('CLOSED', `file id ${fid} is not open`);
    return f;
  }
  delete(fid: number): F {
    const f = this.get(fid);
    this.files.delete(fid);
    return f;
  }
  values(): IterableIterator<F> { return this.files.values(); }
  get size(): number { return this.files.size; }
}

/** A growable byte array: the in-memory image of one file. */
export class MemFile {
  data: Uint8Array;
  size: number;
  constructor(initial?: Uint8Array) {
    this.data = initial ?? new Uint8Array(0);
    this.size = initial ? initial.length : 0;
  }
  read(off: number, dst: Uint8Array): number {
    if (off >= this.size) return 0;
    const n = Math.min(dst.length, this.size - off);
    dst.set(this.data.subarray(off, off + n));
    return n;
  }
  private reserve(n: number): void {
    if (n <= this.data.length) return;
    let cap = Math.max(4096, this.data.length);
    while (cap < n) cap *= 2;
    let grown: Uint8Array;
    try {
      grown = new Uint8Array(cap);
    } catch {
      throw new StoreError('FULL', `cannot grow an in-memory file to ${n} bytes`);
    }
    grown.set(this.data.subarray(0, this.size));
    this.data = grown;
  }
  write(off: number, src: Uint8Array): void {
    const end = off + src.length;
    this.reserve(end);
    if (off > this.size) this.data.fill(0, this.size, off);
    this.data.set(src, off);
    if (end > this.size) this.size = end;
  }
  truncate(n: number): void {
    if (n > this.size) {
      this.reserve(n);
      this.data.fill(0, this.size, n);
    }
    this.size = n;
  }
  bytes(): Uint8Array { return this.data.subarray(0, this.size); }
}
