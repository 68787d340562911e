/* async-writes.test.ts — the async write forms (putAsync, deleteAsync,
 * putBatchAsync, deleteBatchAsync, batchAsync): the calls of one turn of
 * the event loop gather into one engine batch (js/database.ts,
 * writeGathered), each call's promise settling with it. */
import {
  backendName, cleanup, equal, ok, openDb, rejectsCode, reopen, text, tmpName,
} from './backend.js';

describe(`async writes [${backendName}]`, () => {
  afterEach(cleanup);

  it('the calls of one turn commit as one batch, applied in call order', async () => {
    let db = openDb();
    const before = db.metrics().commits;
    const ps: Promise<void>[] = [];
    for (let i = 0; i < 3000; i++) {
      ps.push(db.putAsync(`k${String(i).padStart(5, '0')}`, `v${i}`));
      ps.push(db.putAsync('same', String(i)));
    }
    ps.push(db.deleteAsync('k00007'));
    ps.push(db.putBatchAsync([['b1', 'x'], ['b2', 'y']]));
    ps.push(db.deleteBatchAsync(['b2']));
    ps.push(db.batchAsync([{ type: 'put', key: 'c', value: '1' }, { type: 'del', key: 'k00008' }]));
    await Promise.all(ps);
    const commits = db.metrics().commits - before;
    ok(commits >= 1 && commits <= 2, `6,004 async calls of one turn made ${commits} commits (one batch expected)`);
    equal(text(db.get('same')), '2999', 'the last call of the turn wins');
    equal(db.get('k00007'), undefined);
    equal(db.get('k00008'), undefined);
    equal(text(db.get('k02999')), 'v2999');
    equal(text(db.get('b1')), 'x');
    equal(db.get('b2'), undefined);
    equal(text(db.get('c')), '1');
    equal(db.count(), 3000 - 2 + 3);
    db = reopen(db);
    equal(text(db.get('same')), '2999');
    equal(db.count(), 3001);
  });

  it('awaited one at a time, each call commits on its own', async () => {
    const db = openDb();
    const before = db.metrics().commits;
    for (let i = 0; i < 20; i++) await db.putAsync(`k${i}`, `v${i}`);
    equal(db.metrics().commits - before, 20);
    equal(db.count(), 20);
  });

  it('more than one batch holds (8,192 operations or 4 MiB) goes in several', async () => {
    const db = openDb();
    const before = db.metrics().commits;
    const ps: Promise<void>[] = [];
    for (let i = 0; i < 20_000; i++) ps.push(db.putAsync(`k${String(i).padStart(6, '0')}`, 'v'));
    const big = new Uint8Array(3 << 20).fill(7);
    ps.push(db.putAsync('big1', big), db.putAsync('big2', big));
    await Promise.all(ps);
    const commits = db.metrics().commits - before;
    ok(commits >= 3 && commits <= 8, `${commits} commits for 20,002 calls`);
    equal(db.count(), 20_002);
    equal(db.get('big2')!.length, 3 << 20);
  });

  it('a call over the engine limits rejects alone; the others of its turn commit', async () => {
    const db = openDb();
    const long = 'k'.repeat(5000);
    const results = await Promise.allSettled([
      db.putAsync('a', '1'),
      db.putAsync(long, 'x'),
      db.putBatchAsync([['b', '2'], [long, 'y']]),
      db.deleteAsync(long),
      db.putAsync('c', '3'),
    ]);
    equal(results.map((r) => r.status).join(), 'fulfilled,rejected,rejected,rejected,fulfilled');
    for (const r of results) {
      if (r.status === 'rejected') equal((r.reason as { code?: string }).code, 'INVALID_ARGUMENT');
    }
    equal(text(db.get('a')), '1');
    equal(db.get('b'), undefined, 'a rejected batch applies nothing of itself');
    equal(text(db.get('c')), '3');
  });

  it('wrong types reject the call at once; the others of its turn commit', async () => {
    const db = openDb();
    const p1 = db.putAsync('a', '1');
    const bad = db.putAsync(42 as never, 'v');
    const p2 = db.putAsync('b', '2');
    await rejectsCode(bad, 'INVALID_ARGUMENT');
    await p1;
    await p2;
    equal(db.count(), 2);
  });

  it('a batch the engine refuses as a whole rejects every call in it with that code', async () => {
    const name = tmpName();
    const w = openDb(name);
    w.put('a', 'b');
    w.close();
    const db = openDb(name, { readOnly: true });
    const ps = [db.putAsync('x', '1'), db.deleteAsync('a'), db.batchAsync([{ type: 'put', key: 'y', value: '2' }])];
    for (const p of ps) await rejectsCode(p, 'READ_ONLY');
    equal(text(db.get('a')), 'b');
    equal(db.get('x'), undefined);
  });

  it('close() right after async calls: each completes, and a reopen sees them', async () => {
    let db = openDb();
    const ps: Promise<void>[] = [];
    for (let i = 0; i < 500; i++) ps.push(db.putAsync(`k${i}`, `v${i}`));
    db.close();
    await Promise.all(ps);
    await rejectsCode(db.putAsync('late', 'v'), 'CLOSED');
    db = reopen(db);
    equal(db.count(), 500);
    equal(text(db.get('k499')), 'v499');
  });

  it('a database and its sub-databases gather together; each key keeps its scope', async () => {
    const db = openDb();
    const s = db.sub('s');
    const before = db.metrics().commits;
    const ps = [db.putAsync('x', 'root'), s.putAsync('x', 'sub'), s.deleteAsync('gone'), db.putAsync('y', '1')];
    await Promise.all(ps);
    ok(db.metrics().commits - before <= 2);
    equal(text(db.get('x')), 'root');
    equal(text(s.get('x')), 'sub');
    equal(s.count(), 1);
  });
});
