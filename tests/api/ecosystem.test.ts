/* ecosystem.test.ts — what users of our peers reach for (issue 15): empty
 * keys, scans that keep their snapshot at the end (retain), named
 * sub-databases with transactions across them, count() and clear() done in
 * the engine, Symbol.dispose / Symbol.asyncDispose, the msgpack and custom
 * encodings, and the snappy / auto codecs. */
import {
  backendName, bytes, cleanup, deepEqual, equal, ok, openDb, reopen, text, throwsCode, throwsType,
} from './backend.js';

describe(`ecosystem [${backendName}]`, () => {
  afterEach(cleanup);

  it('the empty key is a key: first in order, in scans, batches and transactions', () => {
    let db = openDb(undefined, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    db.put('', 'empty');
    db.put('a', '1');
    equal(db.get(''), 'empty');
    ok(db.has(''));
    deepEqual([...db.scan()], [['', 'empty'], ['a', '1']]);
    deepEqual([...db.scan({ gt: '' })], [['a', '1']]);
    deepEqual([...db.scan({ lte: '' })], [['', 'empty']]);
    deepEqual([...db.scan({ reverse: true })].map(([k]) => k), ['a', '']);
    db.checkpoint();
    db = reopen(db);
    equal(db.get(''), 'empty');
    db.batch([{ type: 'del', key: '' }]);
    equal(db.get(''), undefined);
    db.transaction((tx) => tx.put('', 'again'));
    equal(db.get(''), 'again');
    db.delete('');
    equal(db.count(), 1);
    const b = openDb();
    b.put(new Uint8Array(0), new Uint8Array(0));
    equal(b.get(new Uint8Array(0))?.length, 0);
  });

  it('scan({ retain: true }) keeps its snapshot at the end: seek() works until close()', () => {
    const db = openDb(undefined, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    db.putBatch([['a', '1'], ['b', '2'], ['c', '3']]);
    const it = db.scan({ retain: true });
    deepEqual([...it].map(([k]) => k), ['a', 'b', 'c']);
    db.put('b', 'changed'); // after the snapshot
    it.seek('b');
    deepEqual(it.next().value, ['b', '2']);
    deepEqual(it.next().value, ['c', '3']);
    ok(it.next().done);
    it.seek('a');
    deepEqual(it.next().value, ['a', '1']);
    it.close();
    throwsCode(() => it.seek('a'), 'CLOSED');
    // without retain, the end releases the snapshot (seek is CLOSED)
    const plain = db.scan();
    [...plain];
    throwsCode(() => plain.seek('a'), 'CLOSED');
  });

  it('count() and clear() over ranges, in the engine', () => {
    const db = openDb(undefined, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    const entries: Array<[string, string]> = [];
    for (let i = 0; i < 500; i++) entries.push([`k${String(i).padStart(3, '0')}`, 'v']);
    db.putBatch(entries);
    db.put('other', 'x');
    const before = db.metrics();
    equal(db.count(), 501);
    equal(db.count({ prefix: 'k' }), 500);
    equal(db.count({ gte: 'k100', lt: 'k200' }), 100);
    equal(db.count({ gt: 'k100', lte: 'k200' }), 100);
    equal(db.clear({ gte: 'k100', lt: 'k200', limit: 10, reverse: true }), 10);
    equal(db.get('k199'), undefined);
    equal(db.get('k189'), 'v');
    equal(db.clear({ gte: 'k100', lt: 'k200' }), 90);
    equal(db.count({ prefix: 'k' }), 400);
    equal(db.clear({ prefix: 'k' }), 400);
    deepEqual([...db.keys()], ['other']);
    equal(db.clear(), 1);
    equal(db.count(), 0);
    const after = db.metrics();
    equal(after.rangeDeletes - before.rangeDeletes, 4);
    equal(after.counts - before.counts, 6);
    throwsType(() => db.count({ limit: 3 } as never));
    throwsType(() => db.clear(5 as never));
  });

  it('count() and clear() inside a transaction see and buffer its writes', () => {
    const db = openDb(undefined, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    db.putBatch([['a', '1'], ['b', '2'], ['c', '3']]);
    db.transaction((tx) => {
      tx.put('d', '4');
      equal(tx.count(), 4);
      equal(tx.clear({ gte: 'b' }), 3);
      equal(tx.count(), 1);
      equal(db.count(), 3); // not committed yet
    });
    deepEqual([...db.keys()], ['a']);
    const tx = db.beginTransaction();
    tx.clear();
    tx.abort();
    equal(db.count(), 1);
    const ro = db.beginTransaction({ readOnly: true });
    throwsCode(() => ro.clear(), 'READ_ONLY');
    ro.abort();
  });

  it('sub-databases: separate key spaces in one file, each with the whole API', () => {
    let db = openDb(undefined, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    let users = db.sub('users', { valueEncoding: 'json' });
    let posts = db.sub('posts');
    users.put('alice', { age: 30 });
    users.put('bob', { age: 40 });
    posts.put('alice', 'hello');
    db.put('alice', 'root');
    deepEqual(users.get('alice'), { age: 30 });
    equal(posts.get('alice'), 'hello');
    equal(db.get('alice'), 'root');
    deepEqual([...users.keys()], ['alice', 'bob']);
    deepEqual([...users.scan({ gt: 'alice' })], [['bob', { age: 40 }]]);
    deepEqual([...users.scan({ reverse: true, limit: 1 })].map(([k]) => k), ['bob']);
    deepEqual([...users.scan({ prefix: 'b' })].map(([k]) => k), ['bob']);
    equal(users.count(), 2);
    equal(posts.count(), 1);
    equal(db.count({ prefix: 'alice' }), 1);
    equal(users.keyEncoding, 'utf8');
    equal(users.valueEncoding, 'json');
    // clear() of a sub-database leaves the others alone
    equal(posts.clear(), 1);
    equal(posts.count(), 0);
    equal(users.count(), 2);
    equal(db.get('alice'), 'root');
    // survives reopen
    db = reopen(db);
    users = db.sub('users', { valueEncoding: 'json' });
    posts = db.sub('posts');
    deepEqual(users.get('bob'), { age: 40 });
    equal(posts.get('alice'), undefined);
    // nested: batches, getBatch, has; its keys are inside its parent's
    // range under 0x00 admins 0x00, as the parent's are in the root's
    const admins = users.sub('admins');
    admins.putBatch([['root', { age: 1 }]]);
    ok(admins.has('root'));
    deepEqual(admins.getBatch(['root', 'x']), [{ age: 1 }, undefined]);
    equal(admins.count(), 1);
    deepEqual([...users.keys({ lt: 'a' })], ['\0admins\0root']);
    equal(users.count({ gte: 'a' }), 2);
    // closing a sub-database closes only it; closing the root closes all
    posts.close();
    throwsCode(() => posts.get('a'), 'CLOSED');
    equal(db.get('alice'), 'root');
    db.close();
    throwsCode(() => users.get('bob'), 'CLOSED');
    throwsCode(() => db.sub(''), 'CLOSED');
  });

  it('sub-databases: names are checked', () => {
    const db = openDb();
    throwsCode(() => db.sub(''), 'INVALID_ARGUMENT');
    throwsCode(() => db.sub('a\0b'), 'INVALID_ARGUMENT');
    throwsType(() => db.sub(5 as never));
  });

  it('transactions across sub-databases: tx.sub(name) commits and aborts with tx', () => {
    const db = openDb(undefined, { keyEncoding: 'utf8', valueEncoding: 'json' });
    const accounts = db.sub('accounts');
    const log = db.sub('log');
    accounts.put('a', 100);
    accounts.put('b', 0);
    db.transaction((tx) => {
      const acc = tx.sub('accounts');
      const lg = tx.sub('log');
      acc.put('a', acc.get('a') - 30);
      acc.put('b', acc.get('b') + 30);
      lg.put('1', { from: 'a', to: 'b', amount: 30 });
      equal(acc.count(), 2);
      deepEqual([...acc.scan()].map(([k]) => k), ['a', 'b']);
    });
    equal(accounts.get('a'), 70);
    equal(accounts.get('b'), 30);
    deepEqual(log.get('1'), { from: 'a', to: 'b', amount: 30 });
    // a throw aborts every sub-database's writes
    try {
      db.transaction((tx) => {
        tx.sub('accounts').put('a', 0);
        tx.sub('log').put('2', 'x');
        throw new Error('boom');
      });
    } catch (e) {
      equal((e as Error).message, 'boom');
    }
    equal(accounts.get('a'), 70);
    equal(log.get('2'), undefined);
    // tx.sub(subDatabase) uses that sub-database's encodings
    const tags = db.sub('tags', { valueEncoding: 'msgpack' });
    db.transaction((tx) => tx.sub(tags).put('t', new Set(['x'])));
    deepEqual([...(tags.get('t') as Set<string>)], ['x']);
    // a sub-database's own transaction sees only its keys
    accounts.transaction((tx) => {
      deepEqual([...tx.scan()].map(([k]) => k), ['a', 'b']);
      tx.delete('b');
    });
    equal(accounts.get('b'), undefined);
    // commit through a view commits the whole transaction
    const tx = db.beginTransaction();
    const v = tx.sub('log');
    v.put('3', 'y');
    tx.put('top', 1);
    v.commit();
    ok(tx.closed);
    equal(log.get('3'), 'y');
    equal(db.get('top'), 1);
  });

  it('Symbol.dispose / Symbol.asyncDispose: databases, transactions, scans', async () => {
    const db = openDb(undefined, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    db.put('a', '1');
    const s = db.scan();
    s[Symbol.dispose]();
    throwsCode(() => s.seek('a'), 'CLOSED');
    const tx = db.beginTransaction();
    tx.put('b', '2');
    tx[Symbol.dispose]();
    ok(tx.closed);
    equal(db.get('b'), undefined);
    const tx2 = db.beginTransaction();
    tx2.put('c', '3');
    tx2.commit();
    tx2[Symbol.dispose](); // after commit: nothing to undo
    equal(db.get('c'), '3');
    const tx3 = db.beginTransaction();
    await tx3[Symbol.asyncDispose]();
    ok(tx3.closed);
    const sub = db.sub('s');
    sub[Symbol.dispose]();
    ok(sub.closed);
    ok(!db.closed);
    await db[Symbol.asyncDispose]();
    ok(db.closed);
    db[Symbol.dispose](); // idempotent
  });

  it('msgpack values: Dates, Sets, typed arrays, BigInt round-trip (Maps come back as objects)', () => {
    let db = openDb(undefined, { keyEncoding: 'utf8', valueEncoding: 'msgpack' });
    const when = new Date(1700000000000);
    db.put('d', when);
    db.put('m', new Map([['x', 1]]));
    db.put('s', new Set([1, 2]));
    db.put('o', { a: [1, 'two', null, true], n: 1.5 });
    db.put('big', 2n ** 70n);
    db.put('bytes', new Uint8Array([1, 2, 3]));
    db = reopen(db);
    equal((db.get('d') as Date).getTime(), when.getTime());
    deepEqual(db.get('m'), { x: 1 });
    deepEqual([...(db.get('s') as Set<number>)], [1, 2]);
    deepEqual(db.get('o'), { a: [1, 'two', null, true], n: 1.5 });
    equal(db.get('big'), 2n ** 70n);
    deepEqual([...(db.get('bytes') as Uint8Array)], [1, 2, 3]);
    equal(db.valueEncoding, 'msgpack');
    throwsType(() => db.put('u', undefined));
  });

  it('custom encodings: { encode, decode } objects for keys and values', () => {
    const u32 = {
      name: 'u32be',
      encode: (n: number) => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n); return b; },
      decode: (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0),
    };
    const upper = { encode: (s: string) => bytes(s.toUpperCase()), decode: (b: Uint8Array) => text(b).toLowerCase() };
    const db = openDb(undefined, { keyEncoding: u32, valueEncoding: upper });
    for (const n of [300, 2, 70000]) db.put(n, `v${n}`);
    deepEqual([...db.keys()], [2, 300, 70000]);
    equal(db.get(300), 'v300');
    deepEqual([...db.scan({ gte: 100, lt: 1000 })], [[300, 'v300']]);
    equal(db.keyEncoding, 'u32be');
    equal(db.valueEncoding, 'custom');
    const bad = openDb(undefined, { valueEncoding: { encode: () => 'nope' as never, decode: (b: Uint8Array) => b } });
    throwsType(() => bad.put('k', 1));
    throwsCode(() => openDb(undefined, { keyEncoding: 'yaml' as never }), 'INVALID_ARGUMENT');
  });

  for (const compression of ['snappy', 'auto'] as const) {
    it(`compression: '${compression}' round-trips and reports what it stored`, () => {
      let db = openDb(undefined, { compression, keyEncoding: 'utf8' });
      const text16k = 'lightning fast values compress well; '.repeat(400);
      const random = new Uint8Array(3000);
      for (let i = 0; i < random.length; i++) random[i] = (i * 2654435761) >>> 24 ^ (i * 40503) & 0xff;
      for (let i = 0; i < 20; i++) {
        db.put(`t${i}`, text16k + i);
        db.put(`r${i}`, random);
      }
      db.checkpoint();
      const m = db.metrics().compression;
      if (compression === 'snappy') equal(m.snappy, 20);
      else equal(m.lz4 + m.zstd + m.snappy, 20);
      equal(m.raw, 20);
      db = reopen(db, { compression: 'none', keyEncoding: 'utf8' });
      equal(text(db.get('t7')), text16k + 7);
      deepEqual([...db.get('r3')], [...random]);
      db.check();
    });
  }
});
