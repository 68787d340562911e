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
import { destroy, openInWorker, resolveStoreKind, backupInWorker } from '../../js/browser/host.js';
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
  const db = await new Promise<IDBDatabase>((res, rej) => {
    req.onsuccess = () => res(req.result);
    req.onerror = () => rej(req.error);
  });
  const tx = db.transaction(['files', 'chunks'], 'readonly');
  const get = <T>(r: IDBRequest<T>) => new Promise<T>((res, rej) => {
    r.onsuccess = () => res(r.result);
    r.onerror = () => rej(r.error);
  });
  const keys = (await get(tx.objectStore('files').getAllKeys())) as string[];
  const vals = (await get(tx.objectStore('files').getAll())) as Array<{ size: number }>;
  const chunks = await get(tx.objectStore('chunks').count());
  db.close();
  const files: Record<string, number> = {};
  keys.forEach((k, i) => (files[k] = vals[i].size));
  return { files, chunks };
}

function define(): void {
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
        assert(raw.files['data.ldb'] !== undefined || raw.files['wal-0.log'] !== undefined,
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

    it('an IndexedDB quota failure is reported as FULL by the next sync and by flushAsync', async () => {
      await IdbStore.destroy('idb-quota');
      const store = await IdbStore.open('idb-quota');
      // Make the next IndexedDB transaction fail as a quota error would.
      const realTx = (store as unknown as { db: IDBDatabase }).db.transaction.bind((store as unknown as { db: IDBDatabase }).db);
      let failNext = false;
      (store as unknown as { db: { transaction: unknown } }).db.transaction = ((...a: Parameters<IDBDatabase['transaction']>) => {
        const tx = realTx(...a);
        if (failNext) {
          failNext = false;
          // Abort once the puts are queued; report a quota error.
          queueMicrotask(() => {
            Object.defineProperty(tx, 'error', { value: new DOMException('injected quota', 'QuotaExceededError') });
            tx.abort();
          });
        }
        return tx;
      }) as never;
      const engine = new WasmEngine(await loadModule({ factory: createLightningDbModule }), () => store);
      const db = new Database(engine, 'idb-quota', { syncMode: 'full' });
      db.put(b('a'), b('1'));
      await db.flushAsync();
      failNext = true;
      db.put(b('b'), b('2'));
      await rejects(db.flushAsync(), 'FULL');
      // The failed chunks were kept dirty: the next sync persists them.
      db.put(b('c'), b('3'));
      await db.flushAsync();
      db.close();
      const reopened = await IdbStore.open('idb-quota');
      const e2 = new WasmEngine(await loadModule({ factory: createLightningDbModule }), () => reopened);
      const db2 = new Database(e2, 'idb-quota', {});
      assert(s(db2.get(b('a')) as Uint8Array) === '1' && s(db2.get(b('b')) as Uint8Array) === '2' && s(db2.get(b('c')) as Uint8Array) === '3',
        'data missing after the retried sync');
      db2.close();
    });
  });

  describe('IndexedDB durability', () => {
    it('when putAsync / flushAsync resolve, the bytes are in IndexedDB', async () => {
      await destroy('idb-durable', { store: 'indexeddb' });
      const db = await openInWorker('idb-durable', { store: 'indexeddb', syncMode: 'full' });
      const before = await idbRaw('idb-durable');
      await db.putAsync(b('key'), new Uint8Array(10000).fill(7));
      const after = await idbRaw('idb-durable');
      const logBytes = (f: Record<string, number>) => (f['wal-0.log'] ?? 0) + (f['wal-1.log'] ?? 0);
      assert(logBytes(after.files) > logBytes(before.files) + 10000, `log did not grow in IndexedDB: ${JSON.stringify(before)} -> ${JSON.stringify(after)}`);
      db.close();
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

install();
define();
run({ timeout: 30000 }).then(
  (results) => postMessage({ type: 'done', results }),
  (e) => postMessage({ type: 'done', results: { passed: 0, failed: 1, skipped: 0, failures: [{ title: 'runner', error: String(e) }] } }),
);
