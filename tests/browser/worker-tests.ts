/**
 * worker-tests.ts — browser-only tests that run inside a dedicated Worker
 * (where OPFS sync access handles exist): store choice and the IndexedDB
 * fallback, quota errors, what IndexedDB has durably stored when the async
 * forms resolve, OPFS exclusivity, backups. Results are posted to the page.
 */
/// <reference path="../../js/wasm/lightningdb-module.d.ts" />
import { install, run } from './harness.js';
import createLightningDbModule from '../../build/wasm/lightningdb.mjs';
import { Database } from '../../js/database.js';
import { LightningDbError } from '../../js/errors.js';
import { destroy, openInWorker, resolveStoreKind, backupInWorker, storeOf } from '../../js/browser/host.js';
import { WasmEngine } from '../../js/wasm/engine.js';
import { loadModule } from '../../js/wasm/module.js';
import { IdbStore } from '../../js/wasm/stores/idb.js';
import { MemoryStore } from '../../js/wasm/stores/memory.js';
import { OpfsStore, opfsAvailable } from '../../js/wasm/stores/opfs.js';

declare const describe: (t: string, f: () => void) => void;
declare const it: (t: string, f: () => unknown) => void;

const enc = new TextEncoder();
const dec = new TextDecoder();
const b = (s: string) => enc.encode(s);
const s = (u: Uint8Array | undefined) => (u ? dec.decode(u) : undefined);

function assert(c: unknown, msg: string): asserts c {
  if (!c) throw new Error(msg);
}
async function rejects(p: Promise<unknown>, code: string): Promise<LightningDbError> {
  try {
    await p;
  } catch (e) {
    assert(e instanceof LightningDbError, `expected LightningDbError ${code}, got ${String(e)}`);
    assert(e.code === code, `expected code ${code}, got ${e.code}: ${e.message}`);
    return e;
  }
  throw new Error(`expected ${code}, but it succeeded`);
}

async function idbRaw(name: string): Promise<{ files: Record<string, number>; chunks: number }> {
  const req = indexedDB.open(`lightningdb:${name}`);
  // A missing database reads as empty (and is not created).
  req.onupgradeneeded = () => req.transaction?.abort();
  const db = await new Promise<IDBDatabase | null>((res, rej) => {
    req.onsuccess = () => res(req.result);
    req.onerror = (ev) => {
      if (req.error?.name === 'AbortError') {
        ev.preventDefault();
        res(null);
      } else rej(req.error);
    };
  });
  if (!db) return { files: {}, chunks: 0 };
  const tx = db.transaction(['files', 'chunks'], 'readonly');
  const get = <T>(r: IDBRequest<T>) => new Promise<T>((res, rej) => {
    r.onsuccess = () => res(r.result);
    r.onerror = () => rej(r.error);
  });
  const keys = (await get(tx.objectStore('files').getAllKeys())) as string[];
  const vals = (await get(tx.objectStore('files').getAll())) as Array<{ size: number }>;
  const chunks = await get(tx.objectStore('chunks').count());
  // Closed only once its transaction is done: a closing connection still
  // blocks a version change (destroy would be BUSY).
  await new Promise((r) => (tx.oncomplete = r));
  db.close();
  const files: Record<string, number> = {};
  keys.forEach((k, i) => (files[k] = vals[i].size));
  return { files, chunks };
}

function define(): void {
  describe('options', () => {
    it('openInWorker() and destroy() refuse unknown option keys, naming the closest', async () => {
      let e = await rejects(openInWorker('unknown-keys', { store: 'memory', idbMaxByte: 1 } as never), 'INVALID_ARGUMENT');
      assert(e.message === "unknown option 'idbMaxByte' (did you mean 'idbMaxBytes'?)", e.message);
      e = await rejects(openInWorker('unknown-keys', { store: 'memory', cachesize: 1 } as never), 'INVALID_ARGUMENT');
      assert(e.message === "unknown option 'cachesize' (did you mean 'cacheSize'?)", e.message);
      // The page's options are not the Worker's: exclusive is the page's.
      e = await rejects(openInWorker('unknown-keys', { store: 'memory', exclusive: true } as never), 'INVALID_ARGUMENT');
      assert(/^unknown option 'exclusive' \(openInWorker\(\) takes: .*store, waitForLock, timeout, signal, wasmUrl, wasmBinary, idbMaxBytes\)$/.test(e.message), e.message);
      e = await rejects(destroy('unknown-keys', { stor: 'memory' } as never), 'INVALID_ARGUMENT');
      assert(e.message === "unknown option 'stor' (did you mean 'store'?)", e.message);
      const db = await openInWorker('unknown-keys', { store: 'memory', waitForLock: false, cacheSize: 1 << 20, valueEncoding: 'utf8' });
      db.put('k', 'v');
      assert(db.get('k') === 'v', 'known options open');
      db.close();
      await destroy('unknown-keys', { store: 'memory' });
    });
  });

  describe('store choice', () => {
    it('auto picks OPFS in a dedicated worker', () => {
      assert(opfsAvailable(), 'OPFS sync access handles should exist in a dedicated Worker');
      assert(resolveStoreKind('auto') === 'opfs', 'auto should resolve to opfs');
    });

    it('falls back to IndexedDB when OPFS is unavailable (hidden)', async () => {
      const proto = FileSystemFileHandle.prototype as unknown as Record<string, unknown>;
      const desc = Object.getOwnPropertyDescriptor(proto, 'createSyncAccessHandle')!;
      delete proto.createSyncAccessHandle;
      try {
        assert(!opfsAvailable(), 'hiding did not work');
        await destroy('fallback-db', { store: 'indexeddb' });
        const db = await openInWorker('fallback-db');
        db.put(b('k'), b('v'));
        await db.flushAsync();
        db.close();
        const raw = await idbRaw('fallback-db');
        assert(raw.files['data.ldb'] !== undefined || raw.files['feed-00.log'] !== undefined,
          `no engine files in IndexedDB: ${JSON.stringify(raw)}`);
        const again = await openInWorker('fallback-db', { store: 'indexeddb' });
        assert(s(again.get(b('k')) as Uint8Array) === 'v', 'value lost');
        again.close();
      } finally {
        Object.defineProperty(proto, 'createSyncAccessHandle', desc);
      }
      assert(opfsAvailable(), 'restoring OPFS failed');
      // Nothing was written to OPFS under that name.
      const root = await navigator.storage.getDirectory();
      let inOpfs = true;
      try {
        await root.getDirectoryHandle('fallback-db');
      } catch {
        inOpfs = false;
      }
      assert(!inOpfs, 'the fallback database should not be in OPFS');
    });
  });

  describe('IndexedDB memory limit (idbMaxBytes)', () => {
    it('a write past idbMaxBytes is FULL naming the option; earlier data stays; a larger database is refused at open', async () => {
      await destroy('idb-cap', { store: 'indexeddb' });
      const db = await openInWorker('idb-cap', { store: 'indexeddb', idbMaxBytes: 256 * 1024, memtableSize: 64 * 1024 });
      let err: LightningDbError | undefined;
      let n = 0;
      for (; n < 1000 && !err; n++) {
        try {
          await db.putAsync(b(`k${n}`), new Uint8Array(4000).fill(n & 255));
        } catch (e) {
          err = e as LightningDbError;
        }
      }
      assert(err instanceof LightningDbError && err.code === 'FULL', `expected FULL, got ${String(err)}`);
      // (The engine reports the refused write with its own message; the
      // store keeps the one naming the limit for the host: the page's API
      // gives it, see page-tests.ts.)
      const store = storeOf(db)?.store as IdbStore;
      assert(store.limitError && /idbMaxBytes/.test(store.limitError.message) && /OPFS/.test(store.limitError.message),
        `the store's error names the option and OPFS: ${store.limitError?.message}`);
      const last = n - 2;
      assert(last > 10, `only ${last} writes fit`);
      assert(db.get(b('k0'))?.[0] === 0 && db.get(b(`k${last}`))?.length === 4000, 'acknowledged writes stay readable');
      // The close's final checkpoint meets the same limit: close reports FULL
      // and closes all the same (the log holds every commit for the next open).
      let closeErr: unknown;
      try {
        db.close();
      } catch (e) {
        closeErr = e;
      }
      assert(closeErr === undefined || (closeErr instanceof LightningDbError && closeErr.code === 'FULL'),
        `close: ${String(closeErr)}`);
      const refused = await rejects(openInWorker('idb-cap', { store: 'indexeddb', idbMaxBytes: 64 * 1024 }), 'FULL');
      assert(/idbMaxBytes/.test(refused.message), `open names the option: ${refused.message}`);
      const again = await openInWorker('idb-cap', { store: 'indexeddb' });
      assert(again.get(b(`k${last}`))?.length === 4000, 'reopened with the default limit: the data is there');
      again.close();
      await IdbStore.settled();
      await destroy('idb-cap', { store: 'indexeddb' });
    });
  });

  describe('quota', () => {
    it('a QuotaExceededError from a store surfaces as FULL and the database recovers', async () => {
      class QuotaStore extends MemoryStore {
        budget = Infinity;
        override write(fid: number, off: number, src: Uint8Array): void {
          if (src.length > this.budget) throw new DOMException('quota exceeded (injected)', 'QuotaExceededError');
          this.budget -= src.length;
          super.write(fid, off, src);
        }
      }
      const store = new QuotaStore('memory:quota-test');
      const engine = new WasmEngine(await loadModule({ factory: createLightningDbModule }), () => store);
      const db = new Database(engine, 'quota', { syncMode: 'full' });
      store.budget = 200_000;
      const ok: number[] = [];
      let err: unknown;
      for (let i = 0; i < 500 && !err; i++) {
        try {
          db.put(b(`k${i}`), new Uint8Array(3000).fill(i & 255));
          ok.push(i);
        } catch (e) {
          err = e;
        }
      }
      assert(err instanceof LightningDbError && err.code === 'FULL', `expected FULL, got ${String(err)}`);
      for (const i of ok) assert((db.get(b(`k${i}`)) as Uint8Array)[0] === (i & 255), `k${i} lost`);
      store.budget = Infinity;
      db.put(b('later'), b('fine'));
      db.check();
      db.close();
    });

    it('a QuotaExceededError from an OPFS write surfaces as FULL; space returns, the database goes on', async () => {
      await OpfsStore.destroy('opfs-quota');
      const store = await OpfsStore.open('opfs-quota');
      // Fail the OPFS handles' writes past a byte budget, as a full origin quota does.
      let budget = Infinity;
      const entries = (store as unknown as { entries: Map<string, { handle: { write: (b: Uint8Array, o: { at: number }) => number } }> }).entries;
      for (const e of entries.values()) {
        const real = e.handle.write.bind(e.handle);
        e.handle.write = (buf, opts) => {
          if (buf.length > budget) throw new DOMException('quota exceeded (injected)', 'QuotaExceededError');
          budget -= buf.length;
          return real(buf, opts);
        };
      }
      const engine = new WasmEngine(await loadModule({ factory: createLightningDbModule }), () => store);
      const db = new Database(engine, 'opfs-quota', { syncMode: 'full' });
      budget = 300_000;
      const ok: number[] = [];
      let err: unknown;
      for (let i = 0; i < 500 && !err; i++) {
        try {
          db.put(b(`k${i}`), new Uint8Array(4000).fill(i & 255));
          ok.push(i);
        } catch (e) {
          err = e;
        }
      }
      assert(err instanceof LightningDbError && err.code === 'FULL', `expected FULL, got ${String(err)}`);
      budget = Infinity;
      db.put(b('later'), b('fine'));
      db.close();
      const again = await OpfsStore.open('opfs-quota');
      const e2 = new WasmEngine(await loadModule({ factory: createLightningDbModule }), () => again);
      const db2 = new Database(e2, 'opfs-quota', {});
      for (const i of ok) assert((db2.get(b(`k${i}`)) as Uint8Array)?.[0] === (i & 255), `k${i} lost after FULL`);
      assert(s(db2.get(b('later')) as Uint8Array) === 'fine', 'write after space returned lost');
      db2.check();
      db2.close();
    });

    it('an IndexedDB quota failure rejects the call with FULL and applies nothing: the database closes and reopens at the last persisted state', async () => {
      await destroy('idb-quota', { store: 'indexeddb' });
      const db = await openInWorker('idb-quota', { store: 'indexeddb' });
      await db.putAsync(b('a'), b('1'));
      await db.putAsync(b('counter'), b('0'));
      // Every readwrite IndexedDB transaction fails as a full quota does.
      const proto = IDBDatabase.prototype;
      const realTx = proto.transaction;
      proto.transaction = function (this: IDBDatabase, ...a: Parameters<IDBDatabase['transaction']>) {
        const tx = realTx.apply(this, a);
        if (a[1] === 'readwrite')
          queueMicrotask(() => {
            Object.defineProperty(tx, 'error', { value: new DOMException('injected quota', 'QuotaExceededError') });
            tx.abort();
          });
        return tx;
      } as IDBDatabase['transaction'];
      try {
        await rejects(db.putAsync(b('b'), b('2')), 'FULL');
      } finally {
        proto.transaction = realTx;
      }
      // Not applied now: the database was closed rather than keep a state
      // that will never be persisted.
      await rejects(Promise.resolve().then(() => db.get(b('b'))), 'CLOSED');
      const again = await openInWorker('idb-quota', { store: 'indexeddb' });
      assert(s(again.get(b('a')) as Uint8Array) === '1', 'acknowledged put lost');
      assert(again.get(b('b')) === undefined, 'the put rejected with FULL was applied after reopen');
      // A counter transaction rejected with FULL: not applied either.
      proto.transaction = function (this: IDBDatabase, ...a: Parameters<IDBDatabase['transaction']>) {
        const tx = realTx.apply(this, a);
        if (a[1] === 'readwrite')
          queueMicrotask(() => {
            Object.defineProperty(tx, 'error', { value: new DOMException('injected quota', 'QuotaExceededError') });
            tx.abort();
          });
        return tx;
      } as IDBDatabase['transaction'];
      try {
        await rejects(again.transactionAsync((tx) => {
          tx.put(b('counter'), b(String(Number(s(tx.get(b('counter')) as Uint8Array)) + 1)));
        }), 'FULL');
      } finally {
        proto.transaction = realTx;
      }
      const third = await openInWorker('idb-quota', { store: 'indexeddb' });
      assert(s(third.get(b('counter')) as Uint8Array) === '0', `the rejected increment was applied: ${s(third.get(b('counter')) as Uint8Array)}`);
      third.put(b('c'), b('3'));
      await third.flushAsync();
      third.close();
      const last = await openInWorker('idb-quota', { store: 'indexeddb' });
      assert(s(last.get(b('c')) as Uint8Array) === '3' && last.get(b('b')) === undefined, 'after space returned');
      last.check();
      last.close();
    });

    it('a put rejected with FULL by OPFS leaves nothing, now and after reopen', async () => {
      await destroy('opfs-full', { store: 'opfs' });
      const db = await openInWorker('opfs-full', { store: 'opfs', syncMode: 'full' });
      db.put(b('counter'), b('0'));
      const proto = (globalThis as unknown as { FileSystemSyncAccessHandle: { prototype: { write: (b: Uint8Array, o: { at: number }) => number } } })
        .FileSystemSyncAccessHandle.prototype;
      const realWrite = proto.write;
      proto.write = function () {
        throw new DOMException('injected quota', 'QuotaExceededError');
      };
      try {
        await rejects(db.putAsync(b('big'), new Uint8Array(70000)), 'FULL');
        await rejects(db.transactionAsync((tx) => {
          tx.put(b('counter'), b(String(Number(s(tx.get(b('counter')) as Uint8Array)) + 1)));
        }), 'FULL');
      } finally {
        proto.write = realWrite;
      }
      assert(db.get(b('big')) === undefined && s(db.get(b('counter')) as Uint8Array) === '0', 'a rejected call was applied');
      db.close();
      const again = await openInWorker('opfs-full', { store: 'opfs' });
      assert(again.get(b('big')) === undefined && s(again.get(b('counter')) as Uint8Array) === '0', 'a rejected call was applied after reopen');
      again.close();
    });
  });

  describe('IndexedDB durability', () => {
    it('when putAsync / flushAsync resolve, the bytes are in IndexedDB', async () => {
      await destroy('idb-durable', { store: 'indexeddb' });
      const db = await openInWorker('idb-durable', { store: 'indexeddb', syncMode: 'normal' });
      const before = await idbRaw('idb-durable');
      await db.putAsync(b('key'), new Uint8Array(10000).fill(7));
      const after = await idbRaw('idb-durable');
      const logBytes = (f: Record<string, number>) =>
        Object.entries(f).filter(([n]) => /^feed-\d\d\.log$/.test(n)).reduce((a, [, v]) => a + v, 0);
      assert(logBytes(after.files) > logBytes(before.files) + 10000, `log did not grow in IndexedDB: ${JSON.stringify(before)} -> ${JSON.stringify(after)}`);
      db.close();
    });
  });

  describe('IndexedDB: syncMode and backlog', () => {
    it("syncMode 'full' is refused on IndexedDB in the synchronous Worker API, with the reason", async () => {
      await destroy('idb-full', { store: 'indexeddb' });
      const e = await rejects(openInWorker('idb-full', { store: 'indexeddb', syncMode: 'full' }), 'INVALID_ARGUMENT');
      assert(/IndexedDB/.test(e.message) && /durable/.test(e.message), `no reason given: ${e.message}`);
      // The lock and the store were released: it opens without 'full'.
      const db = await openInWorker('idb-full', { store: 'indexeddb' });
      db.close();
    });

    it('many synced commits and concurrent putAsync share IndexedDB transactions (bounded backlog) and are all durable', async () => {
      await destroy('idb-backlog', { store: 'indexeddb' });
      const db = await openInWorker('idb-backlog', { store: 'indexeddb' });
      const proto = IDBDatabase.prototype;
      const realTx = proto.transaction;
      let started = 0;
      let open = 0;
      let maxOpen = 0;
      proto.transaction = function (this: IDBDatabase, ...a: Parameters<IDBDatabase['transaction']>) {
        const tx = realTx.apply(this, a);
        if (a[1] === 'readwrite') {
          started++;
          maxOpen = Math.max(maxOpen, ++open);
          const end = () => open--;
          tx.addEventListener('complete', end);
          tx.addEventListener('abort', end);
        }
        return tx;
      } as IDBDatabase['transaction'];
      const N = 2000;
      try {
        // Each flush() syncs the log: one IndexedDB transaction each would
        // be an unbounded backlog.
        for (let i = 0; i < N; i++) {
          db.put(b(`k${i}`), new Uint8Array(600).fill(i & 255));
          db.flush();
        }
        const all: Array<Promise<void>> = [];
        for (let i = N; i < 2 * N; i++) all.push(db.putAsync(b(`k${i}`), new Uint8Array(600).fill(i & 255)));
        await Promise.all(all);
        await db.flushAsync();
      } finally {
        proto.transaction = realTx;
      }
      assert(maxOpen <= 1, `${maxOpen} IndexedDB transactions were in flight at once`);
      assert(started <= N / 10, `${started} IndexedDB transactions for ${2 * N} commits`);
      db.close();
      await IdbStore.settled();
      const again = await openInWorker('idb-backlog', { store: 'indexeddb' });
      for (let i = 0; i < 2 * N; i++) assert((again.get(b(`k${i}`)) as Uint8Array)?.[0] === (i & 255), `k${i} lost`);
      again.close();
    });
  });

  describe('destroy', () => {
    it('OPFS: destroying a database whose handles are open elsewhere is BUSY (a StoreError, not a raw DOMException)', async () => {
      await OpfsStore.destroy('opfs-held');
      const held = await OpfsStore.open('opfs-held');
      let err: unknown;
      try {
        await OpfsStore.destroy('opfs-held');
      } catch (e) {
        err = e;
      }
      held.release();
      assert((err as { code?: string })?.code === 'BUSY', `expected BUSY, got ${String(err)}`);
      await OpfsStore.destroy('opfs-held');
    });

    it('OPFS: destroy right after release() succeeds (the placeholders release() removes in the background are waited for)', async () => {
      for (let i = 0; i < 5; i++) {
        const s = await OpfsStore.open('opfs-release-destroy');
        // (as the BUSY test above: a refused destroy first)
        await OpfsStore.destroy('opfs-release-destroy').then(() => assert(false, 'destroyed while open'), () => {});
        s.release();
        await OpfsStore.destroy('opfs-release-destroy');
      }
    });

    it('IndexedDB: destroying a database with an open connection is BUSY at once and deletes nothing later', async () => {
      await IdbStore.destroy('idb-held');
      const held = await IdbStore.open('idb-held');
      const fid = held.open('data.ldb', true);
      held.write(fid, 0, b('persisted'));
      held.sync(fid);
      await held.durable();
      const t0 = Date.now();
      let err: unknown;
      try {
        await Promise.race([IdbStore.destroy('idb-held'), new Promise((_, rej) => setTimeout(() => rej(new Error('HUNG')), 3000))]);
      } catch (e) {
        err = e;
      }
      assert((err as { code?: string })?.code === 'BUSY', `expected BUSY, got ${String(err)} after ${Date.now() - t0} ms`);
      held.write(fid, 0, b('written after destroy'));
      held.sync(fid);
      held.close(fid);
      await held.releaseAsync();
      await new Promise((r) => setTimeout(r, 200));
      const raw = await idbRaw('idb-held');
      assert(raw.files['data.ldb'] === 'written after destroy'.length, `deleted later: ${JSON.stringify(raw)}`);
      await IdbStore.destroy('idb-held');
      assert(Object.keys((await idbRaw('idb-held')).files).length === 0, 'not destroyed');
    });
  });

  describe('openInWorker is owner-only', () => {
    it('while other tabs share the database: BUSY, naming open() to join them', async () => {
      await destroy('oiw-shared', { store: 'opfs' });
      // A shared open from this Worker: its own database Worker owns it.
      const { open } = await import('../../js/browser/index.js');
      const shared = await open('oiw-shared', { store: 'opfs' });
      try {
        const e = await rejects(openInWorker('oiw-shared', { store: 'opfs' }), 'BUSY');
        assert(/open\(\) in this Worker/.test(e.message) && /openInWorker cannot join/.test(e.message), `message: ${e.message}`);
      } finally {
        await shared.close();
      }
    });
  });

  describe('OPFS', () => {
    it('a second OPFS store on an open database fails with BUSY (exclusive handles)', async () => {
      await OpfsStore.destroy('opfs-excl');
      const db = await openInWorker('opfs-excl', { store: 'opfs' });
      db.put(b('x'), b('y'));
      let err: unknown;
      try {
        await OpfsStore.open('opfs-excl');
      } catch (e) {
        err = e;
      }
      assert((err as { code?: string })?.code === 'BUSY', `expected BUSY, got ${String(err)}`);
      db.close();
      const again = await OpfsStore.open('opfs-excl');
      again.release();
    });

    it('createIfMissing: false on a missing OPFS database gives NOT_FOUND', async () => {
      await destroy('opfs-missing', { store: 'opfs' });
      await rejects(openInWorker('opfs-missing', { store: 'opfs', createIfMissing: false }), 'NOT_FOUND');
    });

    it('backup writes a new database that opens with the same data', async () => {
      await destroy('opfs-src', { store: 'opfs' });
      await destroy('opfs-copy', { store: 'opfs' });
      const db = await openInWorker('opfs-src', { store: 'opfs' });
      for (let i = 0; i < 300; i++) db.put(b(`k${i}`), b(`v${i}`));
      await backupInWorker(db, 'opfs-copy', 'opfs');
      db.close();
      const copy = await openInWorker('opfs-copy', { store: 'opfs' });
      for (let i = 0; i < 300; i++) assert(s(copy.get(b(`k${i}`)) as Uint8Array) === `v${i}`, `k${i}`);
      copy.check();
      copy.close();
    });
  });
}

/** Last: it makes this Worker remember that OPFS is refused. */
function defineRefused(): void {
  describe("store 'auto' when OPFS is refused", () => {
    it('navigator.storage.getDirectory() rejecting with SecurityError: auto opens IndexedDB and says so', async () => {
      await destroy('refused-db', { store: 'indexeddb' });
      const storage = navigator.storage as unknown as { getDirectory: () => Promise<unknown> };
      const real = storage.getDirectory;
      storage.getDirectory = () => Promise.reject(new DOMException('The operation is insecure.', 'SecurityError'));
      try {
        assert(opfsAvailable(), 'the API still exists: only its use is refused');
        const db = await openInWorker('refused-db');
        assert(db.store === 'indexeddb', `db.store is ${db.store}`);
        assert((db.metrics() as { store?: string }).store === 'indexeddb', 'metrics().store');
        await db.putAsync(b('k'), b('v'));
        db.close();
        assert(Object.keys((await idbRaw('refused-db')).files).length > 0, 'nothing in IndexedDB');
      } finally {
        storage.getDirectory = real;
      }
    });
  });
}

install();
define();
defineRefused();
run({ timeout: 30000 }).then(
  (results) => postMessage({ type: 'done', results }),
  (e) => postMessage({ type: 'done', results: { passed: 0, failed: 1, skipped: 0, failures: [{ title: 'runner', error: String(e) }] } }),
);
