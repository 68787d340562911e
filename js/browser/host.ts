/**
 * host.ts — the database inside a Worker: loads the WebAssembly module once
 * per Worker, picks and opens the page store, takes the tab lock, and
 * returns an ordinary Database (js/database.ts) with the synchronous API.
 * The main-thread proxy (index.ts / worker.ts) is built on it; code that
 * already runs in a dedicated Worker can use openInWorker() directly.
 *
 * Stores: 'opfs' (FileSystemSyncAccessHandle; dedicated Workers of current
 * browsers), 'indexeddb' (whole database held in memory, persisted per
 * sync — see js/wasm/stores/idb.ts), 'memory' (nothing persists). 'auto'
 * (default) opens OPFS when it works here and falls back to IndexedDB when
 * the browser refuses OPFS (no sync access handles; getDirectory() or
 * createSyncAccessHandle() rejected with SecurityError, NotAllowedError or
 * NotSupportedError, as in private windows). `db.store` and
 * `db.metrics().store` say which store was chosen.
 *
 * Errors: every failure reaches the caller as a LightningDbError with a
 * stable code; browser DOMExceptions are mapped by storeErrorFrom()
 * (stores/types.ts). A module that cannot be loaded is SETUP.
 */
/// <reference path="../wasm/lightningdb-module.d.ts" />
import createLightningDbModule from '../../build/wasm/lightningdb.mjs';
import { Database } from '../database.js';
import type { Engine } from '../engine.js';
import { invalidType, typeError, LightningDbError, type ErrorCode } from '../errors.js';
import { WasmEngine } from '../wasm/engine.js';
import { loadModule } from '../wasm/module.js';
import { IdbStore } from '../wasm/stores/idb.js';
import { MemoryStore } from '../wasm/stores/memory.js';
import { OpfsStore, opfsAvailable } from '../wasm/stores/opfs.js';
import { storeErrorFrom, type PageStore } from '../wasm/stores/types.js';
import { abortedError, acquireTabLock, checkTimeout } from './tabs.js';
import { checkOptionKeys, DATABASE_OPTION_KEYS, keyList } from '../options.js';

export type StoreKind = 'opfs' | 'indexeddb' | 'memory';
export type StoreChoice = StoreKind | 'auto' | 'idb';

type DatabaseOptions = NonNullable<ConstructorParameters<typeof Database>[2]>;
export type BrowserOpenOptions = DatabaseOptions & {
  /** Where pages live; default 'auto': OPFS when it works in this context,
   * else IndexedDB (see the file comment). */
  store?: StoreChoice;
  /** Wait for another tab holding the database instead of failing with
   * BUSY. Default false. */
  waitForLock?: boolean;
  /** With waitForLock: longest wait for the other tab, in ms; TIMEOUT after
   * it. Default 30000 (DEFAULT_LOCK_TIMEOUT_MS); Infinity: no bound. */
  timeout?: number;
  /** Cancels the open while it waits (for the lock or the store): it
   * rejects with ABORTED and holds nothing afterwards. */
  signal?: AbortSignal;
  /** URL of lightningdb.wasm; default next to the bundled module. */
  wasmUrl?: string;
  /** The bytes of lightningdb.wasm, instead of fetching wasmUrl (the
   * main thread passes them to its self-contained fallback Worker). */
  wasmBinary?: ArrayBuffer | Uint8Array;
  /** The IndexedDB store holds the whole database in memory: the most
   * bytes its files may reach (default 512 MiB, DEFAULT_MAX_BYTES in
   * stores/idb.ts); a write past it fails with FULL naming this option,
   * and a larger stored database is refused at open (FULL). */
  idbMaxBytes?: number;
};

/** The keys openInWorker() takes: open()'s and the Worker's own above;
 * any other is INVALID_ARGUMENT, naming the closest known one. */
const WORKER_OPEN_KEYS = [...DATABASE_OPTION_KEYS, ...keyList<BrowserOpenOptions, DatabaseOptions>({
  store: true, waitForLock: true, timeout: true, signal: true, wasmUrl: true, wasmBinary: true, idbMaxBytes: true,
})];
/** The keys destroy() takes. */
const DESTROY_KEYS = keyList<{ store?: StoreChoice }>({ store: true });

/** A Database opened in a Worker; `store` is the store it lives in. */
export type BrowserDatabase = Database & { readonly store: StoreKind };

let enginePromise: Promise<WasmEngine> | null = null;
/** Stores opened asynchronously, waiting for the engine to ask for them. */
const ready = new Map<string, PageStore>();
const memory = new Map<string, MemoryStore>();
/** Open databases of this worker per key: the tab lock is taken once. */
const openCount = new Map<string, { count: number; releaseLock: () => void }>();
/** The page store under each open key (shared by every handle on it). */
const storeByKey = new Map<string, PageStore>();
/** What each open database runs on (for the proxy and for recovery). */
const hosted = new WeakMap<Database, { kind: StoreKind; name: string; key: string; store: PageStore | null; options: BrowserOpenOptions; host: HostOptions }>();
/** Set once OPFS was refused in this context: 'auto' then means IndexedDB. */
let opfsRefused = false;

/** Errors with which a browser refuses OPFS in a context (as opposed to
 * failures of a working OPFS, which must not silently switch stores). */
function isRefusal(e: unknown): boolean {
  const n = (e as { name?: string })?.name;
  return n === 'SecurityError' || n === 'NotAllowedError' || n === 'NotSupportedError' || n === 'TypeError';
}

export function resolveStoreKind(choice: StoreChoice | undefined): StoreKind {
  switch (choice ?? 'auto') {
    case 'auto':
      return opfsAvailable() && !opfsRefused ? 'opfs' : 'indexeddb';
    case 'opfs':
      return 'opfs';
    case 'idb':
    case 'indexeddb':
      return 'indexeddb';
    case 'memory':
      return 'memory';
    default:
      throw typeError(`store must be 'auto', 'opfs', 'indexeddb' or 'memory', got ${String(choice)}`);
  }
}

function keyOf(kind: StoreKind, name: string): string {
  return `${kind}:${name}`;
}

/** The URL the module loader fetches the .wasm from (for messages). */
function wasmLocation(wasmUrl?: string): string {
  return String(wasmUrl ?? new URL('./lightningdb.wasm', import.meta.url));
}

export function engine(wasmUrl?: string, wasmBinary?: ArrayBuffer | Uint8Array): Promise<WasmEngine> {
  enginePromise ??= loadModule({ factory: createLightningDbModule, wasmUrl, wasmBinary }).then(
    (m) =>
      new WasmEngine(m, (key) => {
        const s = ready.get(key);
        if (s) {
          ready.delete(key);
          return s;
        }
        if (key.startsWith('memory:')) {
          let ms = memory.get(key);
          if (!ms) memory.set(key, (ms = new MemoryStore(key)));
          return ms;
        }
        throw new LightningDbError('IO', `store ${key} was not opened; use openInWorker()/backupInWorker()`);
      }),
    (e) => {
      // Not cached: a later open with a corrected wasmUrl tries again.
      enginePromise = null;
      const why = String((e as Error)?.message ?? e).replace(/^Aborted\((.*)\)[^]*$/s, '$1');
      throw new LightningDbError('SETUP',
        `cannot load the LightningDB WebAssembly module from ${wasmLocation(wasmUrl)}: ${why}. ` +
        'Serve lightningdb.wasm (Content-Type application/wasm) next to the LightningDB worker script, ' +
        'or pass its URL as the wasmUrl option');
    },
  );
  return enginePromise;
}

function asLightningDbError(e: unknown, what: string): LightningDbError {
  if (e instanceof LightningDbError) return e;
  const se = storeErrorFrom(e, what);
  return new LightningDbError(se.code as ErrorCode, se.message);
}

async function openStore(kind: StoreKind, name: string, idbMaxBytes?: number): Promise<PageStore | null> {
  if (kind === 'memory') return null;
  try {
    return kind === 'opfs' ? await OpfsStore.open(name) : await IdbStore.open(name, idbMaxBytes);
  } catch (e) {
    throw asLightningDbError(e, `cannot open ${kind} store "${name}"`);
  }
}

/** How long an open that holds the tab lock retries while the OPFS files
 * are still held (BUSY) by the tab's previous holder, in ms. */
const HANDLES_RELEASE_MS = 5000;

function locksPresent(): boolean {
  return (globalThis as { navigator?: { locks?: unknown } }).navigator?.locks !== undefined;
}

/** Takes the tab lock and opens the store of `kind`; for 'auto', falls
 * back from a refused OPFS to IndexedDB. */
async function lockAndOpen(choice: StoreChoice | undefined, name: string, options: BrowserOpenOptions):
  Promise<{ kind: StoreKind; releaseLock: () => void; store: PageStore | null }> {
  const auto = (choice ?? 'auto') === 'auto';
  let kind = resolveStoreKind(choice);
  for (;;) {
    const releaseLock = await acquireTabLock(kind, name, options);
    try {
      if (options.signal?.aborted) throw abortedError(`opening database "${name}"`);
      if (kind === 'memory') return { kind, releaseLock, store: null };
      let store: PageStore | null = null;
      const deadline = Date.now() + HANDLES_RELEASE_MS;
      for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
        try {
          store = kind === 'opfs' ? await OpfsStore.open(name) : await IdbStore.open(name, options.idbMaxBytes);
          break;
        } catch (e) {
          if (auto && kind === 'opfs' && isRefusal(e)) {
            opfsRefused = true;
            releaseLock();
            kind = 'indexeddb';
            break;
          }
          const err = asLightningDbError(e, `cannot open ${kind} store "${name}"`);
          // The tab lock is ours, yet the files are held: the previous
          // holder has just ended (a terminated Worker releases its OPFS
          // handles a moment after its locks).
          if (err.code !== 'BUSY' || kind !== 'opfs' || !locksPresent() || Date.now() + delay > deadline) throw err;
          await new Promise((r) => setTimeout(r, delay));
          if (options.signal?.aborted) throw abortedError(`opening database "${name}"`);
        }
      }
      // (null: OPFS refused, IndexedDB instead.)
      if (store === null) continue;
      if (options.signal?.aborted) {
        store.release();
        throw abortedError(`opening database "${name}"`);
      }
      return { kind, releaseLock, store };
    } catch (e) {
      releaseLock();
      throw e;
    }
  }
}

const SYNC_FULL_REFUSED =
  "syncMode 'full' is refused on the IndexedDB store in the synchronous Worker API: IndexedDB commits " +
  'asynchronously, so a synchronous put/commit cannot be durable when it returns. Use syncMode ' +
  "'normal' with the ...Async forms (putAsync, commitAsync, flushAsync: durable when they resolve), " +
  "the OPFS store, or open() from the main thread (its promises honour syncMode 'full')";

export interface HostOptions {
  /** The main-thread proxy: it awaits IndexedDB durability before it
   * acknowledges a write, so syncMode 'full' is honoured there. */
  acknowledgesDurably?: boolean;
  /** The owner of a shared database: the caller holds the tab lock
   * already (worker.ts), so it is not taken here; `kind` is decided. */
  lockHeld?: { kind: StoreKind };
  /** Wraps the engine the Database is made with (owner.ts SharedEngine). */
  wrapEngine?: (e: WasmEngine) => Engine;
}

/** Opens (creating by default) the database `name` in this Worker, for
 * this Worker alone (owner-only: BUSY while other tabs have it open, with
 * the advice to use open() to join tabs that share it). */
export async function openInWorker(name: string, options: BrowserOpenOptions = {}): Promise<BrowserDatabase> {
  try {
    return await openHosted(name, options, {});
  } catch (e) {
    if (!(e instanceof LightningDbError) || e.code !== 'BUSY') throw e;
    throw new LightningDbError('BUSY', `${e.message}. If the other tabs share it (open() from a page, the default), ` +
      'openInWorker cannot join them: it opens a database for this Worker alone, and its synchronous calls cannot wait ' +
      "for another tab's answer; use open() in this Worker to join them as a client (promises)");
  }
}

/** openInWorker for the main-thread proxy (worker.ts). */
export async function openForProxy(name: string, options: BrowserOpenOptions = {}, host: HostOptions = {}): Promise<BrowserDatabase> {
  return openHosted(name, options, { ...host, acknowledgesDurably: true });
}

/** The store kind a shared open() uses: its lock and channel names depend
 * on it, so 'auto' is decided before the lock is asked for — OPFS unless
 * it is missing or the browser refuses getDirectory() here. */
export async function resolveSharedKind(choice: StoreChoice | undefined): Promise<StoreKind> {
  const kind = resolveStoreKind(choice);
  if ((choice ?? 'auto') !== 'auto' || kind !== 'opfs') return kind;
  try {
    await navigator.storage.getDirectory();
    return 'opfs';
  } catch (e) {
    if (!isRefusal(e)) throw asLightningDbError(e, 'cannot reach the origin private file system');
    opfsRefused = true;
    return 'indexeddb';
  }
}

async function openHosted(name: string, options: BrowserOpenOptions, host: HostOptions): Promise<BrowserDatabase> {
  if (typeof name !== 'string' || !name) throw typeError('database name must be a non-empty string');
  if (options === null || typeof options !== 'object') throw invalidType('options', 'an object', options);
  checkOptionKeys(options, WORKER_OPEN_KEYS, 'openInWorker()');
  const { store, waitForLock, wasmUrl, wasmBinary, timeout, signal, idbMaxBytes, ...dbOptions } = options;
  if (idbMaxBytes !== undefined && (typeof idbMaxBytes !== 'number' || !Number.isSafeInteger(idbMaxBytes) || idbMaxBytes <= 0))
    throw typeError('idbMaxBytes must be a positive integer number of bytes');
  checkTimeout(timeout);
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidType('signal', 'an AbortSignal', signal);
  if (signal?.aborted) throw abortedError(`opening database "${name}"`);
  let kind = resolveStoreKind(store);
  const eng = await engine(wasmUrl, wasmBinary);
  if (host.lockHeld) kind = host.lockHeld.kind;
  let entry = openCount.get(keyOf(kind, name));
  let s: PageStore | null = null;
  if (!entry) {
    const got = host.lockHeld
      ? { kind, releaseLock: () => {}, store: await openStore(kind, name, idbMaxBytes) }
      : await lockAndOpen(store, name, { waitForLock, timeout, signal, idbMaxBytes });
    kind = got.kind;
    entry = openCount.get(keyOf(kind, name));
    if (entry) {
      // Opened meanwhile by another call in this Worker: share its engine.
      got.releaseLock();
      got.store?.release();
    } else {
      s = got.store;
      if (s) ready.set(keyOf(kind, name), s);
      entry = { count: 0, releaseLock: got.releaseLock };
      openCount.set(keyOf(kind, name), entry);
    }
  }
  const key = keyOf(kind, name);
  entry.count++;
  let db: Database;
  try {
    if (kind === 'indexeddb' && dbOptions.syncMode === 'full' && !host.acknowledgesDurably)
      throw new LightningDbError('INVALID_ARGUMENT', SYNC_FULL_REFUSED);
    db = new Database(host.wrapEngine ? host.wrapEngine(eng) : eng, key, dbOptions);
  } catch (e) {
    dropRef(key);
    throw e;
  }
  if (s) storeByKey.set(key, s);
  else s = storeByKey.get(key) ?? null;
  hosted.set(db, { kind, name, key, store: s, options, host });
  return wrap(db, kind, key, s, host);
}

/** Adds `store`, the store to metrics(), and the lock bookkeeping to close(). */
function wrap(db: Database, kind: StoreKind, key: string, store: PageStore | null, host: HostOptions): BrowserDatabase {
  const close = db.close.bind(db);
  const metrics = db.metrics.bind(db);
  let closed = false;
  Object.defineProperty(db, 'store', { value: kind, enumerable: true });
  (db as { metrics: () => unknown }).metrics = () => ({ ...metrics(), store: kind });
  (db as { close: () => void }).close = () => {
    try {
      close();
    } finally {
      if (!closed) {
        closed = true;
        dropRef(key);
      }
    }
  };
  // In the synchronous Worker API an IndexedDB persistence failure closes
  // the database: the store stops persisting (idb.ts), so what the engine
  // holds in memory is no longer what a reopen will find. Reopening gives
  // the last persisted state. (The proxy reopens by itself: worker.ts.)
  if (store instanceof IdbStore && !host.acknowledgesDurably) {
    // Every handle on the store (a database opened twice in this Worker).
    const previous = store.onFailure;
    store.onFailure = (e) => {
      previous?.(e);
      try {
        db.close();
      } catch {
        /* the store refuses to persist: close reports that, nobody to tell */
      }
    };
  }
  return db as BrowserDatabase;
}

function dropRef(key: string): void {
  const e = openCount.get(key);
  if (!e || --e.count > 0) return;
  openCount.delete(key);
  storeByKey.delete(key);
  const s = ready.get(key);
  if (s) {
    // Opened but never handed to the engine (the open failed).
    ready.delete(key);
    s.release();
  }
  e.releaseLock();
}

/** The store kind and page store of a database opened here. */
export function storeOf(db: Database): { kind: StoreKind; store: PageStore | null } | undefined {
  const h = hosted.get(db);
  return h && { kind: h.kind, store: h.store };
}

/** After the store of `db` failed to persist (IndexedDB, see idb.ts):
 * closes it and opens it again from what is persisted, keeping the tab
 * lock. Returns the new database. */
export async function reopenAfterFailure(db: Database): Promise<BrowserDatabase> {
  const h = hosted.get(db);
  if (!h) throw new LightningDbError('INTERNAL', 'reopenAfterFailure: not a database of this Worker');
  const entry = openCount.get(h.key);
  if (!entry) throw new LightningDbError('CLOSED', `database "${h.name}" is closed`);
  entry.count++; // keeps the tab lock across the close
  try {
    try {
      db.close();
    } catch {
      /* the failed store refuses the final sync: expected */
    }
    await IdbStore.settled();
    const s = await openStore(h.kind, h.name, h.options.idbMaxBytes);
    if (s) {
      ready.set(h.key, s);
      storeByKey.set(h.key, s);
    }
    const { store: _s, waitForLock: _w, wasmUrl, wasmBinary, timeout: _t, signal: _g, idbMaxBytes: _m, ...dbOptions } = h.options;
    const eng = await engine(wasmUrl, wasmBinary);
    const fresh = new Database(h.host.wrapEngine ? h.host.wrapEngine(eng) : eng, h.key, dbOptions);
    hosted.set(fresh, { ...h, store: s });
    return wrap(fresh, h.kind, h.key, s, h.host);
  } catch (e) {
    dropRef(h.key);
    throw e;
  }
}

/** Writes a backup of db (opened with openInWorker on `store`) as the new
 * database `target` of the same store kind. */
export async function backupInWorker(db: Database, target: string, store?: StoreChoice): Promise<void> {
  const kind = storeOf(db)?.kind ?? resolveStoreKind(store);
  const key = keyOf(kind, target);
  if (openCount.has(key)) throw new LightningDbError('BUSY', `backup target "${target}" is open`);
  const s = await openStore(kind, target);
  if (s) ready.set(key, s);
  try {
    db.backup(key);
  } finally {
    const left = ready.get(key);
    if (left) {
      ready.delete(key);
      left.release();
    }
    if (s?.releaseAsync) await s.releaseAsync().catch((e) => { throw asLightningDbError(e, `backup to "${target}"`); });
  }
}

/** Deletes the database `name`. BUSY at once when it is open in this or
 * another tab or Worker (never a wait, never a deletion deferred until the
 * holder closes it). */
export async function destroy(name: string, options: { store?: StoreChoice } = {}): Promise<void> {
  if (typeof name !== 'string' || !name) throw typeError('database name must be a non-empty string');
  if (options === null || typeof options !== 'object') throw invalidType('options', 'an object', options);
  checkOptionKeys(options, DESTROY_KEYS, 'destroy()');
  const auto = (options.store ?? 'auto') === 'auto';
  let kind = resolveStoreKind(options.store);
  for (;;) {
    const key = keyOf(kind, name);
    if (openCount.has(key)) throw new LightningDbError('BUSY', `cannot destroy database "${name}": it is open in this Worker; close it first`);
    if (kind === 'memory') {
      memory.delete(key);
      return;
    }
    // The tab lock, without waiting: held elsewhere means open elsewhere.
    const releaseLock = await acquireTabLock(kind, name, {}).catch((e) => {
      if (e instanceof LightningDbError && e.code === 'BUSY')
        throw new LightningDbError('BUSY', `cannot destroy database "${name}": it is open in another tab, window or Worker of this site; close it there first`);
      throw e;
    });
    try {
      if (kind === 'opfs') await OpfsStore.destroy(name);
      else await IdbStore.destroy(name);
      return;
    } catch (e) {
      // As open(): 'auto' means IndexedDB where the browser refuses OPFS.
      if (!(auto && kind === 'opfs' && isRefusal(e))) throw asLightningDbError(e, `cannot destroy ${kind} database "${name}"`);
      opfsRefused = true;
      kind = 'indexeddb';
    } finally {
      releaseLock();
    }
  }
}

export { opfsAvailable };
