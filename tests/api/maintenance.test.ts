/* maintenance.test.ts — flush, checkpoint, check, backup, metrics,
 * metricsText and healthCheck. */
import {
  backendName, cleanup, deepEqual, equal, ok, openDb, pattern, text, thrown, throwsCode, tmpName,
} from './backend.js';

describe(`maintenance and monitoring [${backendName}]`, () => {
  afterEach(cleanup);

  it('flush, checkpoint and check succeed on a busy database', () => {
    const db = openDb(undefined, { syncMode: 'normal' });
    for (let i = 0; i < 500; i++) db.put(`k${i}`, pattern(300, i));
    db.flush();
    db.checkpoint();
    const m = db.metrics();
    ok(m.checkpoints >= 1, 'a checkpoint was counted');
    equal(m.checkpointSeq, m.lastSeq, 'everything merged');
    db.check();
    for (let i = 0; i < 500; i += 2) db.delete(`k${i}`);
    db.checkpoint();
    // one more version: the pages the deletes freed are reached by neither
    db.put('last', 'x');
    db.checkpoint();
    // every page of the file: the free pages' checksums too, none damaged
    const r = db.check();
    equal(r.ok, true);
    ok(r.pages > 2, `pages: ${r.pages}`);
    ok(r.freeSkipped || r.freeChecked > 0, `the free pages of the deletes were verified: ${JSON.stringify(r)}`);
    equal(r.freeDamaged, 0);
    deepEqual(r.freeDamagedPages, []);
    equal([...db.keys()].length, 251);
    // the tree's shape: 251 entries of about 310 bytes in leaves that
    // hold at most a page each, and no value large enough for overflow
    const cap = db.metrics().pageSize - 16;
    ok(r.leafBytes > 251 * 300 && r.leafBytes <= r.leafPages * cap, `leaves: ${JSON.stringify(r)}`);
    ok(r.branchPages >= 1 && r.leafPages + r.branchPages + 2 <= r.pages, `pages: ${JSON.stringify(r)}`);
    equal(r.overflowPages, 0);
    db.put('big', pattern(20000, 1));
    db.checkpoint();
    ok(db.check().overflowPages >= 4, 'a 20,000-byte value takes overflow pages');
  });

  it('backup writes a consistent copy that opens on its own', () => {
    const db = openDb();
    db.putBatch([['a', '1'], ['b', '2']]);
    const dest = tmpName();
    db.backup(dest);
    db.put('c', 'after backup');
    const copy = openDb(dest);
    deepEqual([...copy.scan()].map(([k, v]) => [text(k), text(v)]), [['a', '1'], ['b', '2']]);
    copy.check();
    // a target that holds a database is refused: INVALID_ARGUMENT, or BUSY
    // while it is open where the store locks (the core checks under the
    // target's lock)
    const e = thrown(() => db.backup(dest)) as { code?: string };
    ok(e.code === 'BUSY' || e.code === 'INVALID_ARGUMENT', `backup onto an open database: ${e.code}`);
    copy.close();
    throwsCode(() => db.backup(dest), 'INVALID_ARGUMENT');
  });

  it('metrics count operations and report sizes, cache and latency', () => {
    const db = openDb();
    const m0 = db.metrics();
    for (let i = 0; i < 100; i++) db.put(`k${i}`, 'v');
    for (let i = 0; i < 50; i++) db.get(`k${i}`);
    db.delete('k0');
    db.transaction((tx) => tx.put('t', 'x'));
    const tx = db.beginTransaction();
    tx.abort();
    const m = db.metrics();
    ok(m.puts - m0.puts >= 101, `puts ${m.puts}`);
    ok(m.gets - m0.gets >= 50, `gets ${m.gets}`);
    ok(m.deletes - m0.deletes >= 1);
    ok(m.commits - m0.commits >= 102);
    ok(m.aborts - m0.aborts >= 1);
    ok(m.cacheHitRate >= 0 && m.cacheHitRate <= 1);
    ok(m.cacheCapacity > 0);
    ok(m.pageSize >= 512);
    ok(m.opsPerSec.sinceOpen >= 0 && m.opsPerSec.lastInterval >= 0);
    ok(m.latency.get.p50 >= 0 && m.latency.get.p99 >= m.latency.get.p50);
    ok(m.latency.commit.p99 >= m.latency.commit.p50);
    equal(m.activeTransactions, 0);
    equal(m.backgroundError, 'OK');
    equal(typeof m.dataFileSize, 'number');
    equal(typeof m.logFileSize, 'number');
    equal(typeof m.memtableBytes, 'number');
    const open = db.beginTransaction();
    equal(db.metrics().activeTransactions, 1);
    open.abort();
  });

  it('the memtable grows into the cache budget the cache does not use (memtableLimit)', () => {
    const size = 64 << 10;
    const db = openDb(undefined, { memtableSize: size, cacheSize: 1 << 20 });
    equal(db.metrics().memtableLimit, size);
    const value = 'v'.repeat(100);
    let m = db.metrics();
    for (let i = 0; i < 100 && m.memtableLimit === size; i++) {
      db.putBatch(Array.from({ length: 50 }, (_, j): [string, string] => [`k${i}-${j}`, value]));
      m = db.metrics();
    }
    ok(m.memtableLimit > size && m.memtableLimit <= 2 * size, `memtableLimit ${m.memtableLimit}`);
    // it borrows once it reaches memtableSize less the eighth it leaves the next memtable
    ok(m.memtableBytes >= size * 0.875, `memtableBytes ${m.memtableBytes}: the memtable grew past memtableSize less its headroom`);
    ok(m.memtableBytes <= m.memtableLimit, `memtableBytes ${m.memtableBytes} within memtableLimit ${m.memtableLimit}`);
    equal(m.checkpoints, 0);
    // a checkpoint gives the loan back
    db.checkpoint();
    equal(db.metrics().memtableLimit, size);
  });

  it('metricsText is Prometheus text exposition', () => {
    const db = openDb();
    db.put('a', '1');
    db.get('a');
    const t = db.metricsText();
    ok(t.endsWith('\n'));
    for (const name of ['lightningdb_gets_total', 'lightningdb_puts_total', 'lightningdb_commits_total',
      'lightningdb_cache_hits_total', 'lightningdb_cache_misses_total', 'lightningdb_active_transactions', 'lightningdb_data_file_bytes',
      'lightningdb_get_latency_seconds', 'lightningdb_commit_latency_seconds']) {
      ok(t.includes(`# HELP ${name} `), `HELP for ${name}`);
      ok(t.includes(`# TYPE ${name} `), `TYPE for ${name}`);
    }
    // every sample line is `name{labels} value`
    for (const line of t.trim().split('\n')) {
      if (line.startsWith('#')) continue;
      ok(/^lightningdb_[a-z0-9_]+(\{le="[^"]+"\})? [-+0-9.eInfa]+$/.test(line), `sample line: ${line}`);
    }
    ok(/lightningdb_gets_total [1-9]/.test(t), 'counts the get');
    ok(t.includes('lightningdb_get_latency_seconds_bucket{le="+Inf"}'));
  });

  it('healthCheck reports a healthy open database', () => {
    const db = openDb();
    const h = db.healthCheck();
    equal(h.healthy, true);
    deepEqual(h.issues, []);
    equal(h.closed, false);
    equal(h.backgroundError, 'OK');
    equal(typeof h.checkedAt, 'string');
  });
});
