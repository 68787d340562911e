/* batch.test.ts — putBatch, deleteBatch, batch: atomic, ordered, validated
 * before anything is applied. */
import {
  backendName, bytes, cleanup, deepEqual, equal, openDb, reopen, text, throwsCode, throwsType,
} from './backend.js';

describe(`batches [${backendName}]`, () => {
  afterEach(cleanup);

  it('putBatch and deleteBatch', () => {
    let db = openDb();
    db.putBatch([['a', '1'], ['b', '2'], ['c', '3']]);
    db.deleteBatch(['a', 'c', 'missing']);
    db = reopen(db);
    deepEqual([...db.scan()].map(([k, v]) => [text(k), text(v)]), [['b', '2']]);
  });

  it('batch applies puts and deletes in order; later operations win', () => {
    const db = openDb();
    db.put('x', 'old');
    db.batch([
      { type: 'put', key: 'a', value: '1' },
      { type: 'del', key: 'x' },
      { type: 'put', key: 'b', value: '2' },
      { type: 'del', key: 'b' },
      { type: 'put', key: 'a', value: '3' },
      { type: 'put', key: 'x', value: 'again' },
    ]);
    equal(text(db.get('a')), '3');
    equal(db.get('b'), undefined);
    equal(text(db.get('x')), 'again');
  });

  it('empty batches are no-ops', () => {
    const db = openDb();
    db.batch([]);
    db.putBatch([]);
    db.deleteBatch([]);
    deepEqual([...db.scan()], []);
  });

  it('a batch is one snapshot-atomic commit (a scan sees all or none)', () => {
    const db = openDb();
    const ops = [];
    for (let i = 0; i < 1000; i++) ops.push({ type: 'put' as const, key: `k${String(i).padStart(4, '0')}`, value: 'v' });
    const before = db.scan();
    db.batch(ops);
    equal([...before].length, 0);
    equal([...db.scan()].length, 1000);
  });

  it('an invalid operation anywhere rejects the whole batch (nothing applied)', () => {
    const db = openDb();
    db.put('keep', 'me');
    const longKey = new Uint8Array(2000).fill(0x61);
    throwsCode(() => db.batch([
      { type: 'put', key: 'a', value: '1' },
      { type: 'put', key: longKey, value: '2' },
      { type: 'del', key: 'keep' },
    ]), 'INVALID_ARGUMENT');
    throwsCode(() => db.putBatch([['b', '1'], [longKey, '2']]), 'INVALID_ARGUMENT');
    throwsType(() => db.batch([{ type: 'put', key: 'c', value: '1' }, { type: 'upsert', key: 'keep' } as never]));
    throwsType(() => db.batch([{ type: 'put', key: 'c', value: '1' }, { type: 'del', key: 42 } as never]));
    throwsType(() => db.putBatch([['d', '1'], ['e'] as never]));
    throwsType(() => db.putBatch([['d', '1'], ['e', undefined]]));
    throwsType(() => db.deleteBatch(['keep', null as never]));
    deepEqual([...db.scan()].map(([k]) => text(k)), ['keep']);
  });

  it('bad batch arguments are TypeErrors', () => {
    const db = openDb();
    throwsType(() => db.batch('ops' as never));
    throwsType(() => db.batch([null as never]));
    throwsType(() => db.putBatch({} as never));
    throwsType(() => db.deleteBatch('k' as never));
    throwsType(() => db.getBatch('k' as never));
  });

  it('batches of binary data', () => {
    const db = openDb();
    const entries: Array<[Uint8Array, Uint8Array]> = [];
    for (let i = 0; i < 256; i++) entries.push([new Uint8Array([i, 0, i]), bytes(`v${i}`)]);
    db.putBatch(entries);
    for (const [k, v] of entries) deepEqual(db.get(k), v);
  });
});
