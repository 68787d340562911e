/**
 * worker.mjs — the browser benchmark, run inside a dedicated module Worker
 * (OPFS sync access handles exist only there). One Worker runs one store;
 * the page (index.html) starts it with {store, n, only} and relays the
 * progress/result/error messages to the Node runner (run.mjs).
 *
 * Stores:
 *   lightningdb-opfs     LightningDB WebAssembly on OPFS (browser entry)
 *   lightningdb-idb      LightningDB WebAssembly on IndexedDB pages
 *   indexeddb            IndexedDB used directly: one object store, binary
 *                        keys, batched readwrite transactions, getAllRecords
 *                        (or getAll/cursor) for ranges
 *   sqlite-wasm-sahpool  SQLite WASM, opfs-sahpool VFS, WITHOUT ROWID table,
 *                        prepared statements, BEGIN/COMMIT batches
 * Bundled by esbuild (run.mjs) together with ../node/workloads.mjs.
 */
import { runWorkloads } from '../node/workloads.mjs';
import sqlite3InitModule from '@sqlite.org/sqlite-wasm';
import * as lightning from '../../js/browser/index.ts';

const post = (m) => self.postMessage(m);

// ---------------------------------------------------------------- IndexedDB
function idbStore() {
  const dbs = {};
  const req = (r) => new Promise((res, rej) => { r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
  const done = (tx) => new Promise((res, rej) => { tx.oncomplete = () => res(); tx.onerror = () => rej(tx.error); tx.onabort = () => rej(tx.error || new Error('aborted')); });
  const name = (kind) => `bench-idb-${kind}`;
  const durability = (kind) => (kind === 'sync' ? 'strict' : 'relaxed');
  // Values are copied out of the shared pool: structured clone of a view
  // would clone the view's whole underlying buffer.
  const copy = (v) => v.slice();
  return {
    describe: "IndexedDB directly: one object store, binary keys, a readwrite transaction per batch (durability 'relaxed'; 'strict' for fillsync), getAllRecords/getAll for ranges",
    async open(kind) {
      await req(indexedDB.deleteDatabase(name(kind)));
      const r = indexedDB.open(name(kind), 1);
      r.onupgradeneeded = () => r.result.createObjectStore('kv');
      dbs[kind] = await req(r);
    },
    async close(kind) { dbs[kind].close(); delete dbs[kind]; await req(indexedDB.deleteDatabase(name(kind))); },
    putBatch(kind, pairs) {
      const tx = dbs[kind].transaction('kv', 'readwrite', { durability: durability(kind) });
      const os = tx.objectStore('kv');
      for (const [k, v] of pairs) os.put(copy(v), k);
      return done(tx);
    },
    put(kind, k, v) {
      const tx = dbs[kind].transaction('kv', 'readwrite', { durability: durability(kind) });
      tx.objectStore('kv').put(copy(v), k);
      return done(tx);
    },
    get(kind, k) { return req(dbs[kind].transaction('kv', 'readonly').objectStore('kv').get(k)); },
    getBatch(kind, keys) {
      const os = dbs[kind].transaction('kv', 'readonly').objectStore('kv');
      return Promise.all(keys.map((k) => req(os.get(k))));
    },
    async scan(kind, reverse) {
      const os = dbs[kind].transaction('kv', 'readonly').objectStore('kv');
      let c = 0;
      if (typeof os.getAllRecords === 'function') {
        // chunks of 1,000 records, continuing after the last key seen
        let range = null;
        for (;;) {
          const recs = await req(os.getAllRecords({ query: range, count: 1000, direction: reverse ? 'prev' : 'next' }));
          if (recs.length === 0) break;
          c += recs.length;
          const last = recs[recs.length - 1].key;
          range = reverse ? IDBKeyRange.upperBound(last, true) : IDBKeyRange.lowerBound(last, true);
        }
        return c;
      }
      await new Promise((res, rej) => {
        const r = os.openCursor(null, reverse ? 'prev' : 'next');
        r.onsuccess = () => { const cur = r.result; if (!cur) return res(); c++; cur.continue(); };
        r.onerror = () => rej(r.error);
      });
      return c;
    },
    async seek(kind, k, n) {
      const os = dbs[kind].transaction('kv', 'readonly').objectStore('kv');
      const vs = await req(os.getAll(IDBKeyRange.lowerBound(k), n));
      return vs.length;
    },
  };
}

// ------------------------------------------------------ SQLite WASM sahpool
async function sqliteStore() {
  const sqlite3 = await sqlite3InitModule({ print: () => {}, printErr: (e) => console.error(e) });
  const pool = await sqlite3.installOpfsSAHPoolVfs({ name: 'bench-sahpool', clearOnInit: true, initialCapacity: 12 });
  const s = {};
  const file = (kind) => `/bench-${kind}.sqlite3`;
  let journalMode = '?';
  return {
    version: sqlite3.version.libVersion,
    get describe() { return `SQLite WASM (opfs-sahpool VFS, locking_mode=EXCLUSIVE, journal_mode=${journalMode}), WITHOUT ROWID table, prepared statements, BEGIN/COMMIT per batch; synchronous=NORMAL, FULL for fillsync; cache 64 MiB`; },
    open(kind) {
      const db = new pool.OpfsSAHPoolDb(file(kind));
      // WAL without shared memory works in exclusive locking mode (one
      // connection, as sahpool allows anyway); journalMode records what
      // SQLite actually accepted.
      db.exec('PRAGMA locking_mode=EXCLUSIVE');
      journalMode = db.selectValue('PRAGMA journal_mode=WAL');
      db.exec(`PRAGMA synchronous=${kind === 'sync' ? 'FULL' : 'NORMAL'}; PRAGMA cache_size=-65536;`);
      db.exec('CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID');
      s[kind] = {
        db,
        put: db.prepare('INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)'),
        get: db.prepare('SELECT v FROM kv WHERE k = ?'),
        fwd: db.prepare('SELECT k, v FROM kv ORDER BY k'),
        rev: db.prepare('SELECT k, v FROM kv ORDER BY k DESC'),
        seek: db.prepare('SELECT k, v FROM kv WHERE k >= ? ORDER BY k LIMIT ?'),
      };
    },
    close(kind) {
      const x = s[kind];
      for (const st of [x.put, x.get, x.fwd, x.rev, x.seek]) st.finalize();
      x.db.close();
      pool.unlink(file(kind));
      delete s[kind];
    },
    putBatch(kind, pairs) {
      const x = s[kind];
      x.db.exec('BEGIN');
      try {
        for (const [k, v] of pairs) { x.put.bind([k, v]).stepReset(); }
        x.db.exec('COMMIT');
      } catch (e) { x.db.exec('ROLLBACK'); throw e; }
    },
    put(kind, k, v) { s[kind].put.bind([k, v]).stepReset(); },
    get(kind, k) {
      const st = s[kind].get;
      st.bind([k]);
      const v = st.step() ? st.get(0) : undefined;
      st.reset();
      return v;
    },
    getBatch(kind, keys) {
      const x = s[kind];
      x.db.exec('BEGIN');
      try { return keys.map((k) => this.get(kind, k)); } finally { x.db.exec('COMMIT'); }
    },
    scan(kind, reverse) {
      const st = reverse ? s[kind].rev : s[kind].fwd;
      let c = 0;
      try { while (st.step()) { if (st.get(1)) c++; } } finally { st.reset(); }
      return c;
    },
    seek(kind, k, n) {
      const st = s[kind].seek;
      st.bind([k, n]);
      let c = 0;
      try { while (st.step()) c++; } finally { st.reset(); }
      return c;
    },
  };
}

// ------------------------------------------------------------- LightningDB
async function lightningStore(backend) {
  const dbs = {};
  const name = (kind) => `bench-ldb-${backend}-${kind}`;
  const openFn = lightning.openInWorker || lightning.open;
  if (typeof openFn !== 'function') throw new Error('js/browser/index.ts exports no open function');
  return {
    describe: `LightningDB WebAssembly on ${backend === 'opfs' ? 'OPFS (sync access handles)' : 'IndexedDB pages'} in a Worker; syncMode 'normal', 'full' + putAsync for fillsync; cacheSize 64 MiB`,
    async open(kind) {
      dbs[kind] = await openFn(name(kind), {
        store: backend,
        syncMode: kind === 'sync' ? 'full' : 'normal',
        cacheSize: 64 << 20,
        errorIfExists: false,
      });
    },
    async close(kind) {
      const db = dbs[kind];
      delete dbs[kind];
      if (db.flushAsync) await db.flushAsync();
      await db.close();
      if (lightning.destroy) await lightning.destroy(name(kind), { store: backend });
    },
    putBatch(kind, pairs) { return dbs[kind].putBatch(pairs); },
    // durable single puts: the async form waits for the store's durable
    // write (OPFS flush / IndexedDB commit)
    put(kind, k, v) { return kind === 'sync' ? dbs[kind].putAsync(k, v) : dbs[kind].put(k, v); },
    get(kind, k) { return dbs[kind].get(k); },
    getBatch(kind, keys) { return dbs[kind].getBatch(keys); },
    checkpoint(kind) { return dbs[kind].checkpoint(); },
    scan(kind, reverse) {
      let c = 0;
      for (const [, v] of dbs[kind].scan({ reverse })) { if (v) c++; }
      return c;
    },
    seek(kind, k, n) {
      let c = 0;
      for (const [, v] of dbs[kind].scan({ gte: k, limit: n })) { if (v) c++; }
      return c;
    },
  };
}

async function makeStore(name) {
  if (name === 'indexeddb') return idbStore();
  if (name === 'sqlite-wasm-sahpool') return sqliteStore();
  if (name === 'lightningdb-opfs') return lightningStore('opfs');
  if (name === 'lightningdb-idb') return lightningStore('idb');
  throw new Error(`unknown store ${name}`);
}

self.onmessage = async (ev) => {
  const { store: name, n, only } = ev.data;
  const t0 = performance.now();
  let last = 0;
  try {
    const base = (await navigator.storage.estimate()).usage || 0;
    const store = await makeStore(name);
    const out = await runWorkloads(store, n, {
      now: () => performance.now(),
      makeBytes: (len) => new Uint8Array(len),
      only: only ? new Set(only) : null,
      sizeOf: async () => ((await navigator.storage.estimate()).usage || 0) - base,
      progress: (workload, done, total) => {
        const t = performance.now();
        if (done === 0 || done >= total || t - last > 200) { last = t; post({ type: 'progress', workload, done, total }); }
      },
    });
    post({
      type: 'result',
      store: name,
      version: store.version || null,
      config: store.describe,
      n,
      results: out.results,
      sizeAfterLoad: out.sizeAfterLoad ?? null,
      peakRssBytes: null,
      wallMs: Math.round(performance.now() - t0),
    });
  } catch (e) {
    post({ type: 'error', store: name, error: String((e && e.stack) || e) });
  }
};
