/* events.test.ts — db.events() over the WebAssembly engine: the same
 * event ring as natively (ldbw_events_read in wasm/exports.c):
 * checkpoints, a CONFLICT burst folded into one event, paging. */
import assert from 'node:assert/strict';
import { LightningDbError } from '../../js/errors.js';
import { openWasm } from '../../js/wasm/node.js';

describe('db.events() with the WebAssembly engine', () => {
  it('checkpoints and a CONFLICT burst, oldest first', async () => {
    const db = await openWasm(`events-${process.pid}`, { store: 'memory' });
    try {
      assert.deepEqual(db.events(), []);
      db.put('a', '1');
      db.checkpoint();
      for (let i = 0; i < 3; i++) {
        const x = db.beginTransaction();
        const y = db.beginTransaction();
        x.get('k');
        y.get('k');
        x.put('k', 'x');
        y.put('k', 'y');
        x.commit();
        assert.throws(() => y.commit(), (e: unknown) => e instanceof LightningDbError && e.code === 'CONFLICT');
      }
      const ev = db.events();
      assert.deepEqual(ev.map((e) => [e.seq, e.type, e.code, e.count]), [[1, 'checkpoint', 'OK', 1], [2, 'conflict', 'CONFLICT', 3]]);
      assert.equal(ev[0]!.value, db.metrics().checkpointSeq);
      assert.ok(Math.abs(ev[0]!.time - Date.now()) < 60_000);
      assert.deepEqual(db.events(1).map((e) => e.seq), [2]);
    } finally {
      db.close();
    }
  });
});
