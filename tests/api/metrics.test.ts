/* metrics.test.ts — metrics() counts every operation the same way on every
 * path (issue 9, item 3): single operations, their async forms, batches,
 * transactions (sync and async), getBatch, get/has, scans, conflicts and
 * aborts, each checked against the exact change of every counter; and
 * opsPerSec counts batched operations. Definitions: core/src/stats.def. */
import { backendName, cleanup, deepEqual, ok, openDb, rejectsCode, throwsCode, type Database } from './backend.js';
import { metricFields } from './metric-fields.js';

const COUNTERS = ['gets', 'puts', 'deletes', 'batches', 'commits', 'conflicts', 'aborts'] as const;
type Counts = Partial<Record<(typeof COUNTERS)[number], number>>;

/** The change of every counter across fn (absent = 0). */
async function delta(db: Database, fn: () => unknown): Promise<Counts> {
  const before = db.metrics();
  await fn();
  const after = db.metrics();
  const d: Counts = {};
  for (const c of COUNTERS) if (after[c] !== before[c]) d[c] = after[c] - before[c];
  return d;
}

describe(`metrics count every operation on every path [${backendName}]`, function () {
  this.timeout(60_000);
  afterEach(cleanup);

  const keys = (n: number, p = 'k') => Array.from({ length: n }, (_, i) => `${p}${String(i).padStart(5, '0')}`);

  const cases: Array<[string, (db: Database) => unknown, Counts]> = [
    ['put', (db) => db.put('x', '1'), { puts: 1, commits: 1 }],
    ['delete', (db) => db.delete('a0'), { deletes: 1, commits: 1 }],
    ['delete of an absent key', (db) => db.delete('absent'), { deletes: 1, commits: 1 }],
    ['get (present)', (db) => db.get('a0'), { gets: 1 }],
    ['get (absent)', (db) => db.get('absent'), { gets: 1 }],
    ['has', (db) => db.has('a1'), { gets: 1 }],
    ['getBatch of 3 keys', (db) => db.getBatch(['a0', 'absent', 'a2']), { gets: 3 }],
    ['putBatch of 1,000 entries', (db) => db.putBatch(keys(1000).map((k) => [k, 'v'])), { puts: 1000, batches: 1, commits: 1 }],
    ['deleteBatch of 3 keys', (db) => db.deleteBatch(['a0', 'a1', 'absent']), { deletes: 3, batches: 1, commits: 1 }],
    ['batch of 2 puts and a delete', (db) => db.batch([
      { type: 'put', key: 'x', value: '1' }, { type: 'put', key: 'y', value: '2' }, { type: 'del', key: 'a0' },
    ]), { puts: 2, deletes: 1, batches: 1, commits: 1 }],
    ['empty batches', (db) => { db.putBatch([]); db.deleteBatch([]); db.batch([]); }, {}],
    ['transaction: 2 puts, a delete, a get', (db) => db.transaction((tx) => {
      tx.put('x', '1');
      tx.put('y', '2');
      tx.delete('a0');
      tx.get('a1');
    }), { puts: 2, deletes: 1, gets: 1, commits: 1 }],
    ['transaction that only reads', (db) => db.transaction((tx) => tx.get('a1')), { gets: 1 }],
    ['beginTransaction, put, commit', (db) => {
      const tx = db.beginTransaction();
      tx.put('x', '1');
      tx.commit();
    }, { puts: 1, commits: 1 }],
    ['beginTransaction, put, abort', (db) => {
      const tx = db.beginTransaction();
      tx.put('x', '1');
      tx.abort();
    }, { aborts: 1 }],
    ['read-only transaction, get, abort', (db) => {
      const tx = db.beginTransaction({ readOnly: true });
      tx.get('a0');
      tx.abort();
    }, { gets: 1, aborts: 1 }],
    ['transaction whose fn throws', (db) => {
      try {
        db.transaction((tx) => {
          tx.put('x', '1');
          throw new Error('no');
        });
      } catch {
        /* expected */
      }
    }, { aborts: 1 }],
    ['scans', (db) => {
      [...db.scan()];
      [...db.keys({ reverse: true })];
      const tx = db.beginTransaction({ readOnly: true });
      [...tx.scan({ limit: 2 })];
      tx.commit();
    }, {}],
    ['a conflicting commit', (db) => {
      const tx = db.beginTransaction();
      tx.get('a0');
      db.put('a0', 'other');
      tx.put('a0', 'mine');
      throwsCode(() => tx.commit(), 'CONFLICT');
    }, { gets: 1, puts: 1, commits: 1, conflicts: 1 }],
    // async forms go through one atomic batch each: counted as a batch of one
    ['putAsync', (db) => db.putAsync('x', '1'), { puts: 1, batches: 1, commits: 1 }],
    ['deleteAsync', (db) => db.deleteAsync('a0'), { deletes: 1, batches: 1, commits: 1 }],
    ['putBatchAsync of 5', (db) => db.putBatchAsync(keys(5).map((k) => [k, 'v'])), { puts: 5, batches: 1, commits: 1 }],
    ['deleteBatchAsync of 2', (db) => db.deleteBatchAsync(['a0', 'a1']), { deletes: 2, batches: 1, commits: 1 }],
    ['batchAsync', (db) => db.batchAsync([{ type: 'put', key: 'x', value: '1' }, { type: 'del', key: 'a1' }]),
      { puts: 1, deletes: 1, batches: 1, commits: 1 }],
    ['transactionAsync: a put and a delete', (db) => db.transactionAsync(async (tx) => {
      tx.put('x', '1');
      tx.delete('a1');
    }), { puts: 1, deletes: 1, commits: 1 }],
    ['commitAsync', async (db) => {
      const tx = db.beginTransaction();
      tx.put('x', '1');
      await tx.commitAsync();
    }, { puts: 1, commits: 1 }],
  ];

  for (const [name, fn, want] of cases) {
    it(name, async () => {
      const db = openDb(undefined, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
      db.putBatch([['a0', '0'], ['a1', '1'], ['a2', '2']]);
      deepEqual(await delta(db, () => fn(db)), want);
    });
  }

  it('a failed async write counts nothing', async () => {
    const db = openDb();
    deepEqual(await delta(db, () => rejectsCode(db.putAsync(new Uint8Array(2000), 'v'), 'INVALID_ARGUMENT')), {});
  });

  it('opsPerSec counts batched operations', async () => {
    const db = openDb();
    db.putBatch(keys(1000).map((k) => [k, 'v']));
    db.batch([{ type: 'put', key: 'x', value: '1' }]);
    await new Promise((r) => setTimeout(r, 100));
    const m = db.metrics();
    ok(m.puts >= 1001, `puts ${m.puts}`);
    ok(m.opsPerSec.sinceOpen > 0, `opsPerSec.sinceOpen ${m.opsPerSec.sinceOpen}`);
    ok(m.opsPerSec.lastInterval > 0, `opsPerSec.lastInterval ${m.opsPerSec.lastInterval}`);
    const expect = (m.gets + m.puts + m.deletes) / m.uptimeSeconds;
    // uptimeSeconds is rounded to the millisecond
    ok(Math.abs(m.opsPerSec.sinceOpen - expect) <= 0.02 * expect + 1, `sinceOpen ${m.opsPerSec.sinceOpen}, ops/uptime ${expect}`);
  });

  it('returns every documented field (heapBytes under WebAssembly), and no other', () => {
    const m = openDb().metrics();
    ok(m.engine === (backendName === 'native' ? 'native' : 'wasm'), `engine ${m.engine} on ${backendName}`);
    deepEqual(Object.keys(m).sort(), metricFields(m.engine));
    for (const [k, v] of Object.entries(m)) {
      if (['engine', 'cacheHitRateSource', 'backgroundError'].includes(k)) ok(typeof v === 'string', `${k}: ${v}`);
      else if (['opsPerSec', 'latency', 'compression'].includes(k)) ok(typeof v === 'object' && v !== null, `${k}: ${v}`);
      else ok(typeof v === 'number' && Number.isFinite(v) && v >= 0, `${k}: ${v}`);
    }
  });

  it('heapBytes: under WebAssembly what the heap holds, and it comes back after close', () => {
    const m = openDb().metrics();
    if (m.engine === 'native') {
      ok(m.heapBytes === undefined, `native heapBytes ${m.heapBytes}`);
      return;
    }
    const before = m.heapBytes!;
    ok(before > 0, `heapBytes ${before}`);
    const big = openDb(undefined, { cacheSize: 4 << 20 });
    big.putBatch(keys(2000).map((k) => [k, 'v'.repeat(500)]));
    for (const k of keys(2000)) big.get(k);
    const during = big.metrics().heapBytes!;
    ok(during > before + (512 << 10), `heapBytes ${before} -> ${during} with a second database holding 1 MB`);
    big.close();
    const after = openDb().metrics().heapBytes!;
    ok(after < during, `heapBytes ${during} -> ${after} after closing it`);
  });

  it('metricsText carries the same counts', () => {
    const db = openDb();
    db.putBatch(keys(10).map((k) => [k, 'v']));
    db.get('k00000');
    const m = db.metrics();
    const t = db.metricsText();
    for (const [family, value] of [['lightningdb_puts_total', m.puts], ['lightningdb_gets_total', m.gets],
      ['lightningdb_batches_total', m.batches], ['lightningdb_commits_total', m.commits]] as const) {
      ok(new RegExp(`^${family} ${value}$`, 'm').test(t), `${family} ${value} in\n${t.slice(0, 400)}`);
    }
    const labelled = db.metricsText('db="main"');
    ok(new RegExp(`^lightningdb_puts_total\\{db="main"\\} ${m.puts}$`, 'm').test(labelled), 'labels on every sample');
    throwsCode(() => db.metricsText('not a label'), 'INVALID_ARGUMENT');
  });
});
