/**
 * stores/better-sqlite3.mjs — SQLite through better-sqlite3: WAL mode, a
 * WITHOUT ROWID key-value table, prepared statements, db.transaction() for
 * batches. synchronous=NORMAL (WAL: survives a process crash, may lose the
 * last commits on power loss) except 'sync', which runs synchronous=FULL.
 * Page cache 64 MiB, as every other store gets.
 */
import path from 'node:path';
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { runChild, pkgVersion } from '../child.mjs';

const version = pkgVersion('better-sqlite3');

runChild('better-sqlite3', (dir) => {
  const s = {};
  const pathOf = (kind) => path.join(dir, kind);
  return {
    version,
    describe: 'better-sqlite3: WAL, WITHOUT ROWID table, prepared statements, transaction() batches; synchronous=NORMAL, FULL for fillsync; cache 64 MiB',
    pathOf,
    threadPath: (kind) => path.join(pathOf(kind), 'kv.sqlite'),
    open(kind) {
      fs.mkdirSync(pathOf(kind), { recursive: true });
      const db = new Database(path.join(pathOf(kind), 'kv.sqlite'));
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${kind === 'sync' ? 'FULL' : 'NORMAL'}`);
      db.pragma('cache_size = -65536');
      db.exec('CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID');
      const put = db.prepare('INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)');
      const x = {
        db,
        put,
        get: db.prepare('SELECT v FROM kv WHERE k = ?').pluck(),
        fwd: db.prepare('SELECT k, v FROM kv ORDER BY k').raw(),
        rev: db.prepare('SELECT k, v FROM kv ORDER BY k DESC').raw(),
        seek: db.prepare('SELECT k, v FROM kv WHERE k >= ? ORDER BY k LIMIT ?').raw(),
        batch: db.transaction((pairs) => { for (const [k, v] of pairs) put.run(k, v); }),
      };
      x.getMany = db.transaction((keys) => keys.map((k) => x.get.get(k)));
      s[kind] = x;
    },
    close(kind) { s[kind].db.close(); delete s[kind]; },
    putBatch(kind, pairs) { s[kind].batch(pairs); },
    put(kind, k, v) { s[kind].put.run(k, v); },
    get(kind, k) { return s[kind].get.get(k); },
    getBatch(kind, keys) { return s[kind].getMany(keys); },
    scan(kind, reverse) {
      let c = 0;
      for (const row of (reverse ? s[kind].rev : s[kind].fwd).iterate()) { if (row[1]) c++; }
      return c;
    },
    seek(kind, k, n) { return s[kind].seek.all(k, n).length; },
  };
});
