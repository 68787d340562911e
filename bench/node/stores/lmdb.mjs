/**
 * stores/lmdb.mjs — lmdb-js (LMDB) child. Fastest idiomatic API: synchronous
 * reads with getBinary, transactionSync + putSync for batches, getRange for
 * scans. 'main'/'seq'/'big' open with noSync (crash-consistent for a process
 * crash, the last commits may be lost on power loss — the same promise as
 * LightningDB's syncMode 'normal'); 'sync' uses LMDB's default: every commit
 * fsyncs.
 */
import path from 'node:path';
import { open } from 'lmdb';
import { runChild, pkgVersion } from '../child.mjs';

const version = pkgVersion('lmdb');

runChild('lmdb', (dir) => {
  const dbs = {};
  const pathOf = (kind) => path.join(dir, kind);
  return {
    version,
    describe: 'lmdb-js: noSync for batched/non-durable writes, default sync for fillsync; getBinary, transactionSync, getRange',
    pathOf,
    threadPath: pathOf, // reader threads open the same environment (threads.mjs)
    open(kind) {
      dbs[kind] = open({
        path: pathOf(kind),
        keyEncoding: 'binary',
        encoding: 'binary',
        noSync: kind !== 'sync',
        mapSize: 8 * 1024 ** 3,
      });
    },
    async close(kind) { await dbs[kind].close(); delete dbs[kind]; },
    putBatch(kind, pairs) {
      const db = dbs[kind];
      db.transactionSync(() => { for (const [k, v] of pairs) db.putSync(k, v); });
    },
    put(kind, k, v) { dbs[kind].putSync(k, v); },
    putAsync(kind, k, v) { return dbs[kind].put(k, v); },
    get(kind, k) { return dbs[kind].getBinary(k); },
    getBatch(kind, keys) {
      const db = dbs[kind];
      const out = new Array(keys.length);
      for (let i = 0; i < keys.length; i++) out[i] = db.getBinary(keys[i]);
      return out;
    },
    scan(kind, reverse) {
      let c = 0;
      for (const e of dbs[kind].getRange({ reverse })) { if (e.value) c++; }
      return c;
    },
    seek(kind, k, n) {
      let c = 0;
      for (const e of dbs[kind].getRange({ start: k, limit: n })) { if (e.value) c++; }
      return c;
    },
  };
});
