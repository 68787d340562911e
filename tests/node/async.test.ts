/* async.test.ts — the async forms (durable waits on the thread pool):
 * results, errors as rejections, concurrency, close while in flight. */
import assert from 'node:assert/strict';
import { LightningDbError, open, type Database } from '../../js/index.js';
import { tempDir } from './helpers.js';

describe('async forms', function () {
  this.timeout(60_000);
  const tmp = tempDir('async');
  let n = 0;
  let db: Database<string, string>;
  beforeEach(() => {
    db = open(`${tmp.dir}/db${++n}`, { syncMode: 'full', keyEncoding: 'utf8', valueEncoding: 'utf8' });
  });
  afterEach(() => db.close());
  after(() => tmp.remove());

  it('putAsync, deleteAsync, putBatchAsync, deleteBatchAsync, batchAsync, flushAsync', async () => {
    await db.putAsync('a', '1');
    assert.equal(db.get('a'), '1');
    await db.putBatchAsync([['b', '2'], ['c', '3'], ['d', '4']]);
    await db.deleteAsync('a');
    await db.deleteBatchAsync(['b']);
    await db.batchAsync([{ type: 'put', key: 'e', value: '5' }, { type: 'del', key: 'c' }]);
    await db.flushAsync();
    assert.deepEqual([...db.scan()], [['d', '4'], ['e', '5']]);
  });

  it('errors reject with LightningDbError or TypeError (never throw synchronously)', async () => {
    const long = 'k'.repeat(2000);
    const p = db.putAsync(long, 'v');
    assert.ok(p instanceof Promise);
    await assert.rejects(p, (e: unknown) => e instanceof LightningDbError && e.code === 'INVALID_ARGUMENT');
    await assert.rejects(db.putAsync(42 as never, 'v'), TypeError);
    await assert.rejects(db.batchAsync([{ type: 'nope' } as never]), TypeError);
    await assert.rejects(db.putBatchAsync([['ok', 'v'], [long, 'v']]), (e: unknown) => (e as LightningDbError).code === 'INVALID_ARGUMENT');
    assert.equal(db.get('ok'), undefined, 'the failed batch applied nothing');
  });

  it('many concurrent async commits all land (group commit)', async () => {
    const ps = [];
    for (let i = 0; i < 500; i++) ps.push(db.putAsync(`k${String(i).padStart(4, '0')}`, `v${i}`));
    await Promise.all(ps);
    assert.equal([...db.keys()].length, 500);
    assert.equal(db.get('k0499'), 'v499');
  });

  it('transactionAsync and commitAsync; conflicts reject and retry', async () => {
    db.put('n', '0');
    const r = await db.transactionAsync(async (tx) => {
      const v = Number(tx.get('n'));
      await new Promise((res) => setTimeout(res, 5));
      tx.put('n', String(v + 1));
      return v;
    });
    assert.equal(r, 0);
    assert.equal(db.get('n'), '1');

    const t1 = db.beginTransaction();
    const t2 = db.beginTransaction();
    t1.put('n', String(Number(t1.get('n')) + 1));
    t2.put('n', String(Number(t2.get('n')) + 10));
    await t1.commitAsync();
    await assert.rejects(t2.commitAsync(), (e: unknown) => e instanceof LightningDbError && e.code === 'CONFLICT');
    assert.equal(db.get('n'), '2');
    await assert.rejects(t2.commitAsync(), (e: unknown) => (e as LightningDbError).code === 'CLOSED');

    let attempts = 0;
    await db.transactionAsync(async (tx) => {
      attempts++;
      const v = Number(tx.get('n'));
      if (attempts === 1) await db.putAsync('n', '100');
      tx.put('n', String(v + 1));
    }, { retries: 2 });
    assert.equal(attempts, 2);
    assert.equal(db.get('n'), '101');

    await assert.rejects(db.transactionAsync(async () => {
      throw new Error('inner');
    }), /inner/);
  });

  it('close while async work is in flight: the work completes, the handle closes', async () => {
    const ps = [];
    for (let i = 0; i < 50; i++) ps.push(db.putAsync(`x${i}`, 'v'));
    const f = db.flushAsync();
    db.close();
    await Promise.all(ps);
    await f;
    await assert.rejects(db.putAsync('late', 'v'), (e: unknown) => (e as LightningDbError).code === 'CLOSED');
    db = open(`${tmp.dir}/db${n}`, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    assert.equal([...db.keys({ prefix: 'x' })].length, 50);
  });
});
