/* events.test.ts — db.events(): the engine's event ring through the addon
 * (checkpoints, CONFLICT bursts folded into one event, BUSY at
 * maxActiveTransactions), wall-clock times, paging with `after`, argument
 * checks, a closed database. The C side is tests/c/test_events.c. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { open, LightningDbError } from '../../js/index.js';
import { tempDir } from './helpers.js';

describe('db.events()', function () {
  const tmp = tempDir('events');
  after(() => tmp.remove());

  it('checkpoints, a CONFLICT burst and BUSY, oldest first, with wall-clock times', () => {
    const db = open(join(tmp.dir, 'a'), { maxActiveTransactions: 2 });
    const before = Date.now();
    try {
      assert.deepEqual(db.events(), []);
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
        assert.throws(() => y.commit(), (e: unknown) => e instanceof LightningDbError && e.code === 'CONFLICT');
      }
      const t1 = db.beginTransaction();
      const t2 = db.beginTransaction();
      assert.throws(() => db.beginTransaction(), (e: unknown) => e instanceof LightningDbError && e.code === 'BUSY');
      t1.abort();
      t2.abort();
      const ev = db.events();
      assert.deepEqual(ev.map((e) => [e.seq, e.type, e.code, e.count]),
        [[1, 'checkpoint', 'OK', 1], [2, 'conflict', 'CONFLICT', 4], [3, 'busy', 'BUSY', 1]]);
      assert.equal(ev[0]!.value, db.metrics().checkpointSeq);
      assert.equal(ev[2]!.value, 2);
      for (const e of ev) {
        assert.ok(e.time >= before - 1000 && e.time <= Date.now() + 1000, `time ${e.time}`);
        assert.ok(e.lastTime >= e.time);
      }
      assert.deepEqual(db.events(2).map((e) => e.seq), [3]);
      assert.deepEqual(db.events(3), []);
      assert.throws(() => db.events(-1), TypeError);
      assert.throws(() => db.events(1.5), TypeError);
      assert.throws(() => db.events('1' as never), TypeError);
    } finally {
      db.close();
    }
    assert.throws(() => db.events(), (e: unknown) => e instanceof LightningDbError && e.code === 'CLOSED');
  });
});
