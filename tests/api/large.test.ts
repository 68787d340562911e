/* large.test.ts — several-MiB values and 100,000 keys across reopen. */
import {
  backendName, bytesEqual, cleanup, deepEqual, equal, ok, openDb, pattern, reopen, text,
} from './backend.js';

describe(`large data [${backendName}]`, function () {
  this.timeout(300_000);
  afterEach(cleanup);

  it('values of several MiB round-trip (get, scan, transaction, reopen)', () => {
    let db = openDb();
    const sizes = [1 << 20, 3 * (1 << 20) + 17, 8 << 20];
    sizes.forEach((n, i) => db.put(`big${i}`, pattern(n, i + 1)));
    db.transaction((tx) => tx.put('bigtx', pattern(5 << 20, 99)));
    sizes.forEach((n, i) => ok(bytesEqual(db.get(`big${i}`), pattern(n, i + 1)), `big${i}`));
    db = reopen(db);
    sizes.forEach((n, i) => ok(bytesEqual(db.get(`big${i}`), pattern(n, i + 1)), `big${i} after reopen`));
    ok(bytesEqual(db.get('bigtx'), pattern(5 << 20, 99)));
    const seen = [...db.scan({ prefix: 'big' })];
    equal(seen.length, 4);
    ok(bytesEqual(seen[3]![1], pattern(5 << 20, 99)));
    db.checkpoint();
    db.check();
    db.put('big1', 'small now');
    equal(text(db.get('big1')), 'small now');
    db.delete('big2');
    db.checkpoint();
    db.check();
  });

  it('100,000 keys persist across reopen', () => {
    let db = openDb(undefined, { syncMode: 'normal' });
    const n = 100_000;
    const key = (i: number) => `key:${String(i).padStart(7, '0')}`;
    const value = (i: number) => `value-${i}-${'x'.repeat(i % 50)}`;
    for (let start = 0; start < n; start += 10_000) {
      const entries: Array<[string, string]> = [];
      for (let i = start; i < start + 10_000; i++) entries.push([key(i), value(i)]);
      db.putBatch(entries);
    }
    db = reopen(db);
    let i = 0;
    for (const [k, v] of db.scan()) {
      if (text(k) !== key(i) || text(v) !== value(i)) {
        throw new Error(`entry ${i}: got ${text(k)}=${text(v).slice(0, 20)}`);
      }
      i++;
    }
    equal(i, n);
    const probe = [0, 1, 4242, 50_000, 99_999].map(key);
    deepEqual(db.getBatch(probe).map((v) => text(v)), [0, 1, 4242, 50_000, 99_999].map(value));
    equal(db.get(key(n)), undefined);
    db.checkpoint();
    db = reopen(db);
    equal([...db.keys({ gte: key(99_990) })].length, 10);
    db.check();
  });
});
