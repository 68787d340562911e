/**
 * host.ts — the database inside a Worker: loads the WebAssembly module once
 * per Worker, picks and opens the page store, takes the tab lock, and
 * returns an ordinary Database (js/database.ts) with the synchronous API.
 * The main-thread proxy (index.ts / worker.ts) is built on it; code that
 * already runs in a dedicated Worker can use openInWorker() directly.
 *
 * Stores: 'opfs' (default where FileSystemSyncAccessHandle exists, i.e.
 * dedicated Workers of current browsers), 'indexeddb' (fallback; whole
 * database held in memory, persisted per sync — see js/wasm/stores/idb.ts),
 * 'memory' (nothing persists). 'auto' (default) picks OPFS when available.
 */
/// <reference path="../wasm/lightningdb-module.d.ts" />
import createLightningDbModule from '../../build/wasm/lightningdb.mjs';
import { Database } from '../database.js';
import { LightningDbError } from '../errors.js';
import { WasmEngine } from '../wasm/engine.js';
import { loadModule } from '../wasm/module.js';
import { IdbStore } from '../wasm/stores/idb.js';
import { MemoryStore } from '../wasm/stores/memory.js';
import { OpfsStore, opfsAvailable } from '../wasm/stores/opfs.js';
import type { PageStore } from '../wasm/stores/types.js';
import { acquireTabLock } from './tabs.js';

export type StoreKind = 'opfs' | 'indexeddb' | 'memory';
export type StoreChoice = StoreKind | 'auto' | 'idb';

type DatabaseOptions = NonNullable<ConstructorParameters<typeof Database>[2]>;
export type BrowserOpenOptions = DatabaseOptions & {
  /** Where pages live; default 'auto' (OPFS when available, else IndexedDB). */
  store?: StoreChoice;
  /** Wait for another tab holding the database instead of failing with
   * BUSY. Default false. */
  waitForLock?: boolean;
  /** URL of lightningdb.wasm; default next to the bundled module. */
  wasmUrl?: string;
};

let enginePromise: Promise<WasmEngine> | null = null;
/** Stores opened asynchronously, waiting for the engine to ask for them. */
const ready = new Map<string, PageStore>();
const memory = new Map<string, MemoryStore>();
/** Open databases of this worker per key: the tab lock is taken once. */
const openCount = new Map<string, { count: number; releaseLock: () => void }>();

export function resolveStoreKind(choice: StoreChoice | undefined): StoreKind {
  switch (choice ?? 'auto') {
    case 'auto':
      return opfsAvailable() ? 'opfs' : 'indexeddb';
    case 'opfs':
      return 'opfs';
    case 'idb':
    case 'indexeddb':
      return 'indexeddb';
    case 'memory':
      return 'memory';
    default:
      throw new TypeError(`store must be 'auto', 'opfs', 'indexeddb' or 'memory', got ${String(choice)}`);
  }
}

function keyOf(kind: StoreKind, name: string): string {
  return `${kind}:${name}`;
}

export function engine(wasmUrl?: string): Promise<WasmEngine> {
  enginePromise ??= loadModule({ factory: createLightningDbModule, wasmUrl }).then(
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
  );
  return enginePromise;
}

async function openStore(kind: StoreKind, name: string): Promise<PageStore | null> {
  if (kind === 'memory') return null;
  try {
    return kind === 'opfs' ? await OpfsStore.open(name) : await IdbStore.open(name);
  } catch (e) {
    const err = e as { code?: string; name?: string; message?: string };
    if (err.code === 'BUSY') throw new LightningDbError('BUSY', String(err.message));
    if (err.name === 'QuotaExceededError') throw new LightningDbError('FULL', `cannot open ${kind} store "${name}": ${err.message}`);
    throw new LightningDbError('IO', `cannot open ${kind} store "${name}": ${String(err.message ?? e)}`);
  }
}

/** Opens (creating by default) the database `name` in this Worker. */
export async function openInWorker(name: string, options: BrowserOpenOptions = {}): Promise<Database> {
  if (typeof name !== 'string' || !name) throw new TypeError('database name must be a non-empty string');
  const { store, waitForLock, wasmUrl, ...dbOptions } = options;
  const kind = resolveStoreKind(store);
  const key = keyOf(kind, name);
  const eng = await engine(wasmUrl);
  let entry = openCount.get(key);
  if (!entry) {
    const releaseLock = await acquireTabLock(kind, name, { waitForLock });
    try {
      const s = await openStore(kind, name);
      if (s) ready.set(key, s);
    } catch (e) {
      releaseLock();
      throw e;
    }
    entry = { count: 0, releaseLock };
    openCount.set(key, entry);
  }
  entry.count++;
  let db: Database;
  try {
    db = new Database(eng, key, dbOptions);
  } catch (e) {
    dropRef(key);
    throw e;
  }
  const close = db.close.bind(db);
  let closed = false;
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
  return db;
}

function dropRef(key: string): void {
  const e = openCount.get(key);
  if (!e || --e.count > 0) return;
  openCount.delete(key);
  const s = ready.get(key);
  if (s) {
    // Opened but never handed to the engine (the open failed).
    ready.delete(key);
    s.release();
  }
  e.releaseLock();
}

/** Writes a backup of db (opened with openInWorker on `store`) as the new
 * database `target` of the same store kind. */
export async function backupInWorker(db: Database, target: string, store?: StoreChoice): Promise<void> {
  const kind = resolveStoreKind(store);
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
    if (s?.releaseAsync) await s.releaseAsync();
  }
}

/** Deletes the database `name` (which must not be open in any tab). */
export async function destroy(name: string, options: { store?: StoreChoice } = {}): Promise<void> {
  const kind = resolveStoreKind(options.store);
  const key = keyOf(kind, name);
  if (openCount.has(key)) throw new LightningDbError('BUSY', `database "${name}" is open; close it first`);
  if (kind === 'memory') memory.delete(key);
  else if (kind === 'opfs') await OpfsStore.destroy(name);
  else await IdbStore.destroy(name);
}

export { opfsAvailable };
