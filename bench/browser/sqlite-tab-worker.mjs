/**
 * sqlite-tab-worker.mjs — SQLite WASM (opfs-sahpool VFS) in a dedicated
 * Worker, called from a page one awaited message at a time: the SQLite row
 * of the multi-tab benchmark (tabs.mjs), the way a page would use it
 * (sahpool's synchronous access handles exist only in Workers). Same table
 * and settings as worker.mjs's sqlite-wasm-sahpool store with
 * synchronous=NORMAL: a WITHOUT ROWID table, prepared statements, a single
 * put in its own autocommit transaction, a batch in BEGIN/COMMIT.
 * Messages: { id, op: 'open' | 'put' | 'get' | 'putBatch' | 'close', ... }
 * answered { id, v } or { id, error }.
 */
import sqlite3InitModule from '@sqlite.org/sqlite-wasm';

let s = null;
let pool = null;

async function handle(m) {
  switch (m.op) {
    case 'open': {
      const sqlite3 = await sqlite3InitModule({ print: () => {}, printErr: (e) => console.error(e) });
      pool = await sqlite3.installOpfsSAHPoolVfs({ name: 'bench-tabs-sahpool', clearOnInit: true, initialCapacity: 6 });
      const db = new pool.OpfsSAHPoolDb('/bench-tabs.sqlite3');
      db.exec('PRAGMA locking_mode=EXCLUSIVE');
      db.selectValue('PRAGMA journal_mode=WAL');
      db.exec('PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536;');
      db.exec('CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID');
      s = { db, put: db.prepare('INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)'), get: db.prepare('SELECT v FROM kv WHERE k = ?') };
      return sqlite3.version.libVersion;
    }
    case 'put':
      s.put.bind([m.k, m.v]).stepReset();
      return undefined;
    case 'get': {
      s.get.bind([m.k]);
      const v = s.get.step() ? s.get.get(0) : undefined;
      s.get.reset();
      return v;
    }
    case 'putBatch':
      s.db.exec('BEGIN');
      try {
        for (const [k, v] of m.pairs) s.put.bind([k, v]).stepReset();
        s.db.exec('COMMIT');
      } catch (e) {
        s.db.exec('ROLLBACK');
        throw e;
      }
      return undefined;
    case 'close':
      s.put.finalize();
      s.get.finalize();
      s.db.close();
      pool.unlink('/bench-tabs.sqlite3');
      s = null;
      return undefined;
    default:
      throw new Error(`unknown op ${m.op}`);
  }
}

self.onmessage = async (ev) => {
  const m = ev.data;
  try {
    self.postMessage({ id: m.id, v: await handle(m) });
  } catch (e) {
    self.postMessage({ id: m.id, error: String(e?.stack ?? e) });
  }
};
