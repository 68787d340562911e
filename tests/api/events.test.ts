/* events.test.ts — db.events(): the engine's event ring on every backend
 * (checkpoints, CONFLICT bursts folded into one event, BUSY at
 * maxActiveTransactions), wall-clock times, paging with `after`, argument
 * checks, a closed database. The C side is tests/c/test_events.c. */
import { backendName, cleanup, deepEqual, equal, ok, openDb, throwsCode, throwsType } from './backend.js';

describe(`db.events() [${backendName}]`, () => {
  afterEach(cleanup);

  it('checkpoints, a CONFLICT burst and BUSY, oldest first, with wall-clock times', () => {
    const db = openDb(undefined, { maxActiveTransactions: 2 });
    const before = Date.now();
    deepEqual(db.events(), []);
    db.put('a', '1');
    db.checkpoint();
    for (let i = 0; i < 4; i++) {
      const x = db.beginTransaction();
      const y = db.beginTransaction();
      x.get('k');
      y.get('k');
      x.put('k', 'x');
      y.put('k', 'y');
      x.commit();
      throwsCode(() => y.commit(), 'CONFLICT');
    }
    const t1 = db.beginTransaction();
    const t2 = db.beginTransaction();
    throwsCode(() => db.beginTransaction(), 'BUSY');
    t1.abort();
    t2.abort();
    const ev = db.events();
    deepEqual(ev.map((e) => [e.seq, e.type, e.code, e.count]),
      [[1, 'checkpoint', 'OK', 1], [2, 'conflict', 'CONFLICT', 4], [3, 'busy', 'BUSY', 1]]);
    equal(ev[0]!.value, db.metrics().checkpointSeq);
    equal(ev[2]!.value, 2);
    for (const e of ev) {
      ok(e.time >= before - 1000 && e.time <= Date.now() + 1000, `time ${e.time}`);
      ok(e.lastTime >= e.time);
    }
    deepEqual(db.events(2).map((e) => e.seq), [3]);
    deepEqual(db.events(3), []);
    throwsType(() => db.events(-1));
    throwsType(() => db.events(1.5));
    throwsType(() => db.events('1' as never));
    db.close();
    throwsCode(() => db.events(), 'CLOSED');
  });
});
