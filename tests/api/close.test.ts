/* close.test.ts — close semantics of databases, scans and transactions. */
import {
  backendName, cleanup, deepEqual, equal, ok, openDb, rejectsCode, reopen, text, throwsCode, tmpName, type Database,
} from './backend.js';

const afterClose: Array<[string, (db: Database) => unknown]> = [
  ['get', (db) => db.get('a')],
  ['has', (db) => db.has('a')],
  ['getBatch', (db) => db.getBatch(['a'])],
  ['put', (db) => db.put('a', 'b')],
  ['delete', (db) => db.delete('a')],
  ['putBatch', (db) => db.putBatch([['a', 'b']])],
  ['deleteBatch', (db) => db.deleteBatch(['a'])],
  ['batch', (db) => db.batch([{ type: 'del', key: 'a' }])],
  ['scan', (db) => db.scan()],
  ['scanPrefix', (db) => db.scanPrefix('a')],
  ['scanReverse', (db) => db.scanReverse()],
  ['keys', (db) => db.keys()],
  ['values', (db) => db.values()],
  ['beginTransaction', (db) => db.beginTransaction()],
  ['transaction', (db) => db.transaction(() => 1)],
  ['flush', (db) => db.flush()],
  ['checkpoint', (db) => db.checkpoint()],
  ['check', (db) => db.check()],
  ['backup', (db) => db.backup(tmpName())],
  ['metrics', (db) => db.metrics()],
  ['metricsText', (db) => db.metricsText()],
];

describe(`closing [${backendName}]`, () => {
  afterEach(cleanup);

  it('close is idempotent and every later call throws CLOSED', () => {
    const db = openDb();
    db.put('a', '1');
    db.close();
    db.close();
    equal(db.closed, true);
    for (const [name, fn] of afterClose) throwsCode(() => fn(db), 'CLOSED', name);
  });

  it('healthCheck on a closed database reports it instead of throwing', () => {
    const db = openDb();
    equal(db.healthCheck().healthy, true);
    db.close();
    const h = db.healthCheck();
    equal(h.healthy, false);
    equal(h.closed, true);
    ok(h.issues.length > 0);
  });

  it('closing the database ends open scans and transactions', () => {
    let db = openDb();
    db.putBatch([['a', '1'], ['b', '2'], ['c', '3']]);
    const it = db.scan();
    equal(text(it.next().value[0]), 'a');
    const tx = db.beginTransaction();
    tx.put('z', 'uncommitted');
    const txScan = tx.scan();
    db.close();
    const e = throwsCode(() => it.next(), 'CLOSED');
    ok(/database was closed while the scan was open/.test(e.message), e.message);
    throwsCode(() => it.next(), 'CLOSED', 'it keeps throwing');
    throwsCode(() => it.seek('a'), 'CLOSED');
    equal(tx.closed, true);
    throwsCode(() => tx.get('a'), 'CLOSED');
    throwsCode(() => tx.commit(), 'CLOSED');
    tx.abort();
    throwsCode(() => txScan.next(), 'CLOSED');
    // return()/close() still end it quietly; then it is done
    deepEqual(it.return(), { done: true, value: undefined });
    deepEqual(it.next(), { done: true, value: undefined });
    txScan.close();
    deepEqual(txScan.next(), { done: true, value: undefined });
    db = reopen(db);
    equal(db.get('z'), undefined, 'the open transaction was aborted');
    equal(text(db.get('c')), '3');
  });

  it('closing the database inside transaction(fn) aborts it: nothing is committed', () => {
    let db = openDb();
    throwsCode(() => db.transaction((tx) => {
      tx.put('a', '1');
      db.close();
    }), 'CLOSED');
    db = reopen(db);
    equal(db.get('a'), undefined);
  });

  it('ending a transaction ends its scans; scans of the database stay open', () => {
    const db = openDb();
    db.putBatch([['a', '1'], ['b', '2'], ['c', '3']]);
    for (const end of ['commit', 'abort'] as const) {
      const tx = db.beginTransaction();
      const txScan = tx.scan();
      const dbScan = db.scan();
      equal(text(txScan.next().value[0]), 'a');
      equal(text(dbScan.next().value[0]), 'a');
      tx[end]();
      const e = throwsCode(() => txScan.next(), 'CLOSED', end);
      ok(/transaction was committed or aborted while the scan was open/.test(e.message), e.message);
      throwsCode(() => txScan.seek('a'), 'CLOSED', end);
      equal(text(dbScan.next().value[0]), 'b', `${end}: the database's scan goes on`);
      dbScan.close();
    }
  });

  it("closing a handle releases its scans' and transactions' snapshots at once; the other handle is unaffected", () => {
    const name = tmpName();
    const a = openDb(name);
    const b = openDb(name);
    a.putBatch([['a', '1'], ['b', '2']]);
    const scans = [a.scan(), a.scan({ reverse: true }), a.keys()];
    scans.forEach((s) => s.next());
    const txs = [a.beginTransaction(), a.beginTransaction({ readOnly: true })];
    txs[0]!.put('x', 'never');
    const txScan = txs[0]!.scan();
    txScan.next();
    const bScan = b.scan();
    bScan.next();
    equal(b.metrics().activeTransactions, 2);
    a.close();
    const m = b.metrics();
    equal(m.activeTransactions, 0, 'the closed handle\'s transactions ended');
    equal(m.activeSnapshots, 1, 'only the other handle\'s scan holds a snapshot');
    for (const s of [...scans, txScan]) throwsCode(() => s.next(), 'CLOSED');
    for (const tx of txs) {
      equal(tx.closed, true);
      throwsCode(() => tx.put('y', '1'), 'CLOSED');
      tx.abort();
    }
    equal(text(bScan.next().value[0]), 'b');
    equal(b.get('x'), undefined);
  });

  it('closing the database inside transactionAsync(fn): nothing is committed', async () => {
    let db = openDb();
    await rejectsCode(db.transactionAsync(async (tx) => {
      tx.put('a', '1');
      await Promise.resolve();
      db.close();
    }), 'CLOSED');
    db = reopen(db);
    equal(db.get('a'), undefined);
  });

  it('a commitAsync started before close() completes; its scans end at once', async () => {
    let db = openDb();
    db.put('a', '0');
    const tx = db.beginTransaction();
    tx.put('b', '1');
    const scan = tx.scan();
    equal(text(scan.next().value[0]), 'a');
    const done = tx.commitAsync();
    throwsCode(() => scan.next(), 'CLOSED');
    scan.close();
    const write = db.putAsync('c', '2');
    db.close();
    await done;
    await write;
    db = reopen(db);
    deepEqual([...db.keys()].map((k) => text(k)), ['a', 'b', 'c']);
  });

  it('a for...of loop over a scan open at close() throws CLOSED instead of stopping early', () => {
    const db = openDb();
    db.putBatch([['a', '1'], ['b', '2'], ['c', '3']]);
    const kinds = [db.scan(), db.keys(), db.values(), db.scan({ retain: true }), db.beginTransaction().scan()];
    for (const s of kinds) s.next();
    const retained = db.scan({ retain: true });
    deepEqual([...retained].length, 3, 'a retained scan at its end still holds its snapshot');
    const finished = db.scan();
    deepEqual([...finished].length, 3, 'a scan that reached its end');
    const returned = db.scan();
    returned.next();
    returned.return();
    db.close();
    for (const s of [...kinds, retained]) {
      let n = 0;
      throwsCode(() => {
        for (const _ of s) n++;
      }, 'CLOSED');
      equal(n, 0);
    }
    throwsCode(() => retained.seek('a'), 'CLOSED');
    // ended by their own end or return(): done, as before the close
    deepEqual(finished.next(), { done: true, value: undefined });
    deepEqual(returned.next(), { done: true, value: undefined });
  });

  it('scan return() is idempotent; a finished scan stays done', () => {
    const db = openDb();
    db.put('a', '1');
    const it = db.scan();
    deepEqual([...it].length, 1);
    deepEqual(it.next(), { done: true, value: undefined });
    it.return();
    it.close();
    deepEqual(it.next(), { done: true, value: undefined });
  });

  it('many open and closed handles in a row (no leak of locks)', () => {
    const name = tmpName();
    for (let i = 0; i < 20; i++) {
      const db = openDb(name);
      db.put(`k${i}`, 'v');
      const it = db.scan();
      it.next();
      db.beginTransaction().put('x', 'y');
      db.close();
    }
    const db = openDb(name);
    equal([...db.keys()].length, 20);
  });

  it('two handles on one database share data; closing one keeps the other', () => {
    const name = tmpName();
    const a = openDb(name);
    const b = openDb(name);
    a.put('k', 'from a');
    equal(text(b.get('k')), 'from a');
    a.close();
    b.put('k2', 'from b');
    equal(text(b.get('k')), 'from a');
  });
});
