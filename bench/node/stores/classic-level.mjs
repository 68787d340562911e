/**
 * stores/classic-level.mjs — classic-level (LevelDB) child. Idiomatic fast
 * paths: db.batch for writes, getSync for single gets, getMany for batch gets,
 * iterators drained with nextv(1000). Writes use {sync:false} (LevelDB's
 * default: survives a process crash) except 'sync', which passes {sync:true}.
 * Cache: 64 MiB, as every other store gets. 'main' opens with
 * multithreading: true, so the reader threads (threads.mjs) can open it too.
 */
import path from 'node:path';
import { ClassicLevel } from 'classic-level';
import { runChild, pkgVersion } from '../child.mjs';

const version = pkgVersion('classic-level');

runChild('classic-level', (dir) => {
  const dbs = {};
  const pathOf = (kind) => path.join(dir, kind);
  const enc = { keyEncoding: 'buffer', valueEncoding: 'buffer' };
  return {
    version,
    describe: 'classic-level: db.batch, getSync, getMany, iterator nextv; sync:true only for fillsync; cacheSize 64 MiB',
    pathOf,
    threadPath: pathOf,
    async open(kind) {
      const db = new ClassicLevel(pathOf(kind), { ...enc, cacheSize: 64 << 20, multithreading: kind === 'main' });
      await db.open();
      dbs[kind] = db;
    },
    async close(kind) { await dbs[kind].close(); delete dbs[kind]; },
    putBatch(kind, pairs) {
      const ops = new Array(pairs.length);
      for (let i = 0; i < pairs.length; i++) ops[i] = { type: 'put', key: pairs[i][0], value: pairs[i][1] };
      return dbs[kind].batch(ops);
    },
    put(kind, k, v) { return dbs[kind].put(k, v, { sync: kind === 'sync' }); },
    putAsync(kind, k, v) { return dbs[kind].put(k, v); },
    get(kind, k) { return dbs[kind].getSync(k); },
    getBatch(kind, keys) { return dbs[kind].getMany(keys); },
    async scan(kind, reverse) {
      const it = dbs[kind].iterator({ reverse });
      let c = 0;
      try {
        for (;;) {
          const entries = await it.nextv(1000);
          if (entries.length === 0) break;
          c += entries.length;
        }
      } finally { await it.close(); }
      return c;
    },
    async seek(kind, k, n) {
      const it = dbs[kind].iterator({ gte: k, limit: n });
      try { return (await it.nextv(n)).length; } finally { await it.close(); }
    },
  };
});
