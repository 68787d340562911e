/**
 * page-tests.ts — the main-thread promise API (js/browser/index.ts): every
 * call crosses to the database Worker and back. Runs in the test page;
 * results are returned to the runner (run.mjs).
 */
import { install, run, type Results } from './harness.js';
import { destroy, LightningDbError, open, type RemoteDatabase } from '../../js/browser/index.js';
import { SCAN_BYTES } from '../../js/browser/protocol.js';
import { metricFields } from '../api/metric-fields.js';

declare const describe: (t: string, f: () => void) => void;
declare const it: (t: string, f: () => unknown) => void;
declare const afterEach: (f: () => unknown) => void;

const enc = new TextEncoder();
const dec = new TextDecoder();
const b = (s: string) => enc.encode(s);

function assert(c: unknown, msg: string): asserts c {
  if (!c) throw new Error(msg);
}
function eq(a: unknown, e: unknown, msg = ''): void {
  if (JSON.stringify(a) !== JSON.stringify(e)) throw new Error(`${msg} expected ${JSON.stringify(e)}, got ${JSON.stringify(a)}`);
}
async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof TypeError) return 'TypeError';
    assert(e instanceof LightningDbError, `not a LightningDbError: ${String(e)}`);
    return e.code;
  }
  return 'OK';
}

let n = 0;
const open_: RemoteDatabase[] = [];
async function fresh(options: Record<string, unknown> = {}): Promise<RemoteDatabase> {
  const name = `page-test-${Date.now()}-${++n}`;
  const db = await open(name, options);
  open_.push(db);
  return db;
}

function define(): void {
  afterEach(async () => {
    for (const db of open_.splice(0)) await db.close();
  });

  describe('main-thread API', () => {
    it('put/get/has/delete return promises with Uint8Array values', async () => {
      const db = await fresh();
      await db.put(b('a'), b('1'));
      const v = await db.get(b('a'));
      assert(v instanceof Uint8Array, 'value should be a Uint8Array');
      eq(dec.decode(v as Uint8Array), '1');
      eq(await db.has(b('a')), true);
      await db.delete(b('a'));
      eq(await db.get(b('a')), undefined);
      eq(await db.has(b('a')), false);
    });

    it('utf8 and json encodings, batches and getBatch', async () => {
      const db = await fresh({ keyEncoding: 'utf8', valueEncoding: 'json' });
      await db.putBatch([['x', { n: 1 }], ['y', [1, 2]]]);
      await db.batch([{ type: 'put', key: 'z', value: 'zz' }, { type: 'del', key: 'x' }]);
      eq(await db.getBatch(['x', 'y', 'z']), [undefined, [1, 2], 'zz']);
      await db.putAsync('w', true);
      await db.flushAsync();
      eq(await db.get('w'), true);
    });

    it('scans stream as async iterables in chunks (forward, reverse, limit, prefix, early exit)', async () => {
      const db = await fresh({ keyEncoding: 'utf8', valueEncoding: 'utf8' });
      const pairs: Array<[string, string]> = [];
      for (let i = 0; i < 1500; i++) pairs.push([`k${String(i).padStart(5, '0')}`, `v${i}`]);
      await db.putBatch(pairs);
      await db.put('other', 'o');
      let count = 0;
      let last = '';
      for await (const [k] of db.scan({ prefix: 'k' })) {
        assert((k as string) > last, 'keys out of order');
        last = k as string;
        count++;
      }
      eq(count, 1500);
      const rev: string[] = [];
      for await (const [k] of db.scan({ reverse: true, limit: 3 })) rev.push(k as string);
      eq(rev, ['other', 'k01499', 'k01498']);
      let seen = 0;
      for await (const _ of db.scan()) if (++seen === 10) break; // early exit closes the worker iterator
      eq(seen, 10);
      const keys: string[] = [];
      for await (const k of db.keys({ gte: 'k00010', lt: 'k00013' })) keys.push(k as string);
      eq(keys, ['k00010', 'k00011', 'k00012']);
      const m = await db.metrics();
      eq(m.activeSnapshots, 0, 'snapshots left open:');
    });

    it('transactions commit, abort on throw, and retry on conflict', async () => {
      const db = await fresh({ keyEncoding: 'utf8', valueEncoding: 'json' });
      await db.put('n', 0);
      await db.transaction(async (tx) => {
        const v = (await tx.get('n')) as number;
        await tx.put('n', v + 1);
      });
      eq(await db.get('n'), 1);
      let thrown: unknown;
      try {
        await db.transaction(async (tx) => {
          await tx.put('n', 100);
          throw new Error('no');
        });
      } catch (e) {
        thrown = e;
      }
      assert(thrown instanceof Error && thrown.message === 'no', `fn's error should be rethrown, got ${String(thrown)}`);
      eq(await db.get('n'), 1);
      // Conflict: a write between this transaction's read and its commit.
      let attempts = 0;
      await db.transaction(async (tx) => {
        attempts++;
        const v = (await tx.get('n')) as number;
        if (attempts === 1) await db.put('n', 10);
        await tx.put('n', v + 1);
      }, { retries: 2 });
      eq(attempts, 2);
      eq(await db.get('n'), 11);
      // transactionAsync + a scan inside the transaction sees its own writes.
      const seen = await db.transactionAsync(async (tx) => {
        await tx.put('m1', 'x');
        await tx.delete('n');
        const keys: string[] = [];
        for await (const [k] of tx.scan()) keys.push(k as string);
        return keys;
      });
      eq(seen, ['m1']);
      eq(await db.get('n'), undefined);
      await db.put('n', 11);
      const t1 = await db.beginTransaction();
      await t1.get('n');
      await db.put('n', 50);
      await t1.put('n', 0);
      eq(await code(t1.commit()), 'CONFLICT');
    });

    it('IndexedDB past idbMaxBytes: FULL naming the option, the database stays usable', async () => {
      const name = `page-idbcap-${Date.now()}`;
      await destroy(name, { store: 'indexeddb' });
      const db = await open(name, { store: 'indexeddb', idbMaxBytes: 256 * 1024, memtableSize: 64 * 1024 });
      let err: LightningDbError | undefined;
      for (let i = 0; i < 1000 && !err; i++) {
        try {
          await db.putAsync(b(`k${i}`), new Uint8Array(4000));
        } catch (e) {
          err = e as LightningDbError;
        }
      }
      eq(err?.code, 'FULL');
      assert(/idbMaxBytes/.test(err!.message), `the message names idbMaxBytes: ${err!.message}`);
      assert((await db.get(b('k0')))?.length === 4000, 'earlier writes stay');
      // The close's final checkpoint meets the same limit: close may report
      // FULL, and closes all the same (the log holds every commit).
      await db.close().catch((e) => eq((e as LightningDbError).code, 'FULL'));
      await destroy(name, { store: 'indexeddb' });
    });

    it('count(range) and clear(range) run in the Worker, on the database and in transactions', async () => {
      const db = await fresh({ keyEncoding: 'utf8', valueEncoding: 'utf8' });
      const pairs: Array<[string, string]> = [];
      for (let i = 0; i < 50; i++) pairs.push([`user:${String(i).padStart(2, '0')}`, `u${i}`]);
      await db.putBatch([...pairs, ['zz', 'z']]);
      eq(await db.count(), 51);
      eq(await db.count({ prefix: 'user:' }), 50);
      eq(await db.count({ gte: 'user:10', lt: 'user:20' }), 10);
      eq(await db.clear({ gte: 'user:10', lt: 'user:20' }), 10);
      eq(await db.count({ prefix: 'user:' }), 40);
      eq(await db.get('user:15'), undefined);
      eq(await db.get('user:09'), 'u9');
      // limit + reverse: the last 5 keys of the prefix.
      eq(await db.clear({ prefix: 'user:', limit: 5, reverse: true }), 5);
      eq(await db.get('user:45'), undefined);
      eq(await db.get('user:44'), 'u44');
      eq(await code(db.count({ gt: 5 as unknown as string })), 'TypeError');
      // In a transaction: its own writes count, its clear waits for commit.
      await db.transaction(async (tx) => {
        await tx.put('user:99', 'x');
        eq(await tx.count({ prefix: 'user:' }), 36);
        eq(await tx.clear({ prefix: 'user:0' }), 10);
        eq(await tx.count({ prefix: 'user:' }), 26);
        eq(await db.count({ prefix: 'user:' }), 35, 'not visible before commit:');
      });
      eq(await db.count({ prefix: 'user:' }), 26);
      const ro = await db.beginTransaction({ readOnly: true });
      eq(await code(ro.clear()), 'READ_ONLY');
      await ro.abort();
      eq(await db.clear(), 27);
      eq(await db.count(), 0);
    });

    it('scan({ retain: true }) keeps its snapshot at the end: seek() works until return()', async () => {
      const db = await fresh({ keyEncoding: 'utf8', valueEncoding: 'utf8' });
      await db.putBatch([['a', '1'], ['b', '2'], ['c', '3']]);
      const it = db.scan({ retain: true });
      const first: unknown[] = [];
      for (let r = await it.next(); !r.done; r = await it.next()) first.push(r.value[0]);
      eq(first, ['a', 'b', 'c']);
      await db.put('b', 'changed'); // after the snapshot
      await it.seek('b');
      eq((await it.next()).value, ['b', '2']);
      eq((await it.next()).value, ['c', '3']);
      eq((await it.next()).done, true);
      await it.seek('a');
      eq((await it.next()).value, ['a', '1']);
      await it.return();
      eq(await code(it.seek('a')), 'CLOSED');
      // without retain, the end releases the snapshot (seek is CLOSED)
      const plain = db.scan();
      for await (const _ of plain) { /* to the end */ }
      eq(await code(plain.seek('a')), 'CLOSED');
      // keys() and a transaction's scan take retain too
      const keys = db.keys({ retain: true, gte: 'b' });
      const ks: unknown[] = [];
      for (let r = await keys.next(); !r.done; r = await keys.next()) ks.push(r.value);
      await keys.seek('c');
      eq([...ks, (await keys.next()).value], ['b', 'c', 'c']);
      await keys.return();
      await db.transaction(async (tx) => {
        const t = tx.scan({ retain: true });
        while (!(await t.next()).done) { /* to the end */ }
        await t.seek('c');
        eq((await t.next()).value, ['c', '3']);
        await t.return();
      });
      eq(await code(db.scan({ retain: 1 as never }).next()), 'TypeError');
    });

    it('sub-databases: separate key spaces, each with the whole API, run in the Worker', async () => {
      const db = await fresh({ keyEncoding: 'utf8', valueEncoding: 'utf8' });
      const users = db.sub<string, { age: number }>('users', { valueEncoding: 'json' });
      const posts = db.sub('posts');
      await users.put('alice', { age: 30 });
      await users.put('bob', { age: 40 });
      await posts.put('alice', 'hello');
      await db.put('alice', 'root');
      eq(await users.get('alice'), { age: 30 });
      eq(await posts.get('alice'), 'hello');
      eq(await db.get('alice'), 'root');
      const all = async <T>(it: AsyncIterable<T>): Promise<T[]> => { const out: T[] = []; for await (const x of it) out.push(x); return out; };
      eq(await all(users.keys()), ['alice', 'bob']);
      eq(await all(users.scan({ gt: 'alice' })), [['bob', { age: 40 }]]);
      eq((await all(users.scan({ reverse: true, limit: 1 }))).map(([k]) => k), ['bob']);
      eq((await all(users.scanPrefix('b'))).map(([k]) => k), ['bob']);
      eq(await users.count(), 2);
      eq(await posts.count(), 1);
      eq(await db.count({ prefix: 'alice' }), 1);
      eq(await posts.clear(), 1);
      eq(await users.count(), 2);
      eq(await db.get('alice'), 'root');
      // nested, batches, getBatch, has; its keys lie in its parent's range
      const admins = users.sub('admins');
      await admins.putBatch([['root', { age: 1 }]]);
      eq(await admins.has('root'), true);
      eq(await admins.getBatch(['root', 'x']), [{ age: 1 }, undefined]);
      eq(await all(users.keys({ lt: 'a' })), ['\0admins\0root']);
      // the same name again reaches the same keys (after a reopen too)
      eq(await db.sub('users', { valueEncoding: 'json' }).get('bob'), { age: 40 });
      // a custom encoding of a sub-database runs on this page
      const u32 = {
        encode: (n: number) => { const x = new Uint8Array(4); new DataView(x.buffer).setUint32(0, n); return x; },
        decode: (x: Uint8Array) => new DataView(x.buffer, x.byteOffset, 4).getUint32(0),
      };
      const nums = db.sub<number, string>('nums', { keyEncoding: u32 });
      await nums.putBatch([[300, 'c'], [2, 'a'], [70000, 'd']]);
      eq(await all(nums.keys({ gt: 2 })), [300, 70000]);
      // change events of a sub-database: its keys only, without its prefix
      const seen: unknown[] = [];
      const unsub = users.subscribe(undefined, (c) => seen.push(...c.ops.map((o) => o.key)));
      await db.put('zz', 'not in users');
      await users.put('carol', { age: 5 });
      for (let i = 0; i < 100 && seen.length < 1; i++) await new Promise((r) => setTimeout(r, 20));
      unsub();
      eq(seen, ['carol']);
      // names are checked at once, as Database.sub
      let e: unknown = null;
      try { db.sub(''); } catch (x) { e = x; }
      assert(e instanceof LightningDbError && e.code === 'INVALID_ARGUMENT', `empty name: ${String(e)}`);
      e = null;
      try { db.sub('a\0b'); } catch (x) { e = x; }
      assert(e instanceof LightningDbError && e.code === 'INVALID_ARGUMENT', `NUL in a name: ${String(e)}`);
      e = null;
      try { db.sub(5 as never); } catch (x) { e = x; }
      assert(e instanceof TypeError, `a number as name: ${String(e)}`);
      eq(await code(db.sub('bad', { valueEncoding: 'nope' as never }).get('x')), 'INVALID_ARGUMENT');
      // closing a sub-database closes only it (its scans end); closing the
      // database closes every sub-database
      const scan = posts.scan({ retain: true });
      await scan.next();
      await posts.close();
      assert(posts.closed && !db.closed, 'only the sub-database is closed');
      eq(await code(posts.get('a')), 'CLOSED');
      eq(await code(posts.scan().next()), 'CLOSED');
      eq(await code(scan.seek('a')), 'CLOSED');
      eq(await db.get('alice'), 'root');
      await db.close();
      assert(users.closed, 'a sub-database is closed with its database');
      eq(await code(users.get('bob')), 'CLOSED');
      e = null;
      try { db.sub('x'); } catch (x) { e = x; }
      assert(e instanceof LightningDbError && e.code === 'CLOSED', `sub() of a closed database: ${String(e)}`);
    });

    it('transactions across sub-databases: tx.sub(name) commits and aborts with tx', async () => {
      const db = await fresh({ keyEncoding: 'utf8', valueEncoding: 'json' });
      const accounts = db.sub<string, number>('accounts');
      const log = db.sub('log');
      await accounts.putBatch([['a', 100], ['b', 0]]);
      await db.transaction(async (tx) => {
        const acc = tx.sub<string, number>('accounts');
        const lg = tx.sub('log');
        await acc.put('a', (await acc.get('a'))! - 30);
        await acc.put('b', (await acc.get('b'))! + 30);
        await lg.put('1', { from: 'a', to: 'b', amount: 30 });
        eq(await acc.count(), 2);
        const ks: unknown[] = [];
        for await (const [k] of acc.scan()) ks.push(k);
        eq(ks, ['a', 'b']);
        eq(await accounts.get('a'), 100, 'not visible before commit:');
      });
      eq(await accounts.get('a'), 70);
      eq(await accounts.get('b'), 30);
      eq(await log.get('1'), { from: 'a', to: 'b', amount: 30 });
      // a throw aborts every sub-database's writes
      let e: unknown = null;
      try {
        await db.transaction(async (tx) => {
          await tx.sub('accounts').put('a', 0);
          await tx.sub('log').put('2', 'x');
          throw new Error('boom');
        });
      } catch (x) { e = x; }
      eq((e as Error).message, 'boom');
      eq(await accounts.get('a'), 70);
      eq(await log.get('2'), undefined);
      // tx.sub(subDatabase) uses that sub-database's encodings
      const tags = db.sub('tags', { valueEncoding: 'msgpack' });
      await db.transaction(async (tx) => tx.sub(tags).put('t', new Set(['x'])));
      eq([...((await tags.get('t')) as Set<string>)], ['x']);
      // a sub-database's own transaction sees only its keys
      await accounts.transaction(async (tx) => {
        const ks: unknown[] = [];
        for await (const [k] of tx.scan()) ks.push(k);
        eq(ks, ['a', 'b']);
        await tx.delete('b');
      });
      eq(await accounts.get('b'), undefined);
      // commit through a view commits the whole transaction
      const tx = await db.beginTransaction();
      const v = tx.sub('log');
      await v.put('3', 'y');
      await tx.put('top', 1);
      await v.commit();
      eq(await log.get('3'), 'y');
      eq(await db.get('top'), 1);
      e = null;
      try { tx.sub('log'); } catch (x) { e = x; }
      assert(e instanceof LightningDbError && e.code === 'CLOSED', `tx.sub() after commit: ${String(e)}`);
      // a conflict across sub-databases
      const t1 = await db.beginTransaction();
      await t1.sub('accounts').get('a');
      await accounts.put('a', 1);
      await t1.sub('log').put('4', 'z');
      eq(await code(t1.commit()), 'CONFLICT');
      eq(await log.get('4'), undefined);
    });

    it('Symbol.asyncDispose closes a database, aborts an uncommitted transaction, closes a scan', async () => {
      const sym = (Symbol as { asyncDispose?: symbol }).asyncDispose;
      assert(sym !== undefined, 'this Chromium has Symbol.asyncDispose');
      const db = await fresh({ keyEncoding: 'utf8', valueEncoding: 'utf8' });
      type D = { [k: symbol]: () => Promise<void> };
      await db.putBatch([['a', '1'], ['b', '2'], ['c', '3']]);
      const tx = await db.beginTransaction();
      await tx.put('d', '4');
      await (tx as unknown as D)[sym]();
      eq(await db.get('d'), undefined, 'the disposed transaction was aborted:');
      eq(await code(tx.get('a')), 'CLOSED');
      const done = await db.beginTransaction();
      await done.put('e', '5');
      await done.commit();
      await (done as unknown as D)[sym](); // committed: disposal leaves it
      eq(await db.get('e'), '5');
      const it = db.scan();
      eq((await it.next()).value, ['a', '1']);
      await (it as unknown as D)[sym]();
      eq(await it.next(), { value: undefined, done: true });
      await (db as unknown as D)[sym]();
      eq(await code(db.get('a')), 'CLOSED');
    });

    it("the 'msgpack' value encoding through the proxy", async () => {
      const db = await fresh({ keyEncoding: 'utf8', valueEncoding: 'msgpack' });
      const when = new Date(1700000000000);
      await db.put('m', { n: 1, when, tags: new Set(['x']), big: 2n ** 60n });
      const v = (await db.get('m')) as { n: number; when: Date; tags: Set<string>; big: bigint };
      assert(v.when instanceof Date && v.when.getTime() === when.getTime(), `a Date survives: ${String(v.when)}`);
      assert(v.tags instanceof Set && v.tags.has('x'), 'a Set survives');
      assert(v.big === 2n ** 60n, `a BigInt survives: ${String(v.big)}`);
      await db.batch([{ type: 'put', key: 'n', value: [1, 'two'] }]);
      const all: unknown[] = [];
      for await (const [k, val] of db.scan()) all.push([k, Array.isArray(val) ? val : (val as { n: number }).n]);
      eq(all, [['m', 1], ['n', [1, 'two']]]);
    });

    it('custom { encode, decode } encodings run on the page: keys, values, ranges, scans, transactions, changes', async () => {
      // Keys: unsigned 32-bit big-endian numbers (byte order = numeric order).
      const u32 = {
        name: 'u32',
        encode: (n: number) => { const x = new Uint8Array(4); new DataView(x.buffer).setUint32(0, n); return x; },
        decode: (x: Uint8Array) => new DataView(x.buffer, x.byteOffset, 4).getUint32(0),
      };
      // Values: a string reversed (proves decode ran on this side).
      const rev = {
        encode: (s: string) => enc.encode([...s].reverse().join('')),
        decode: (x: Uint8Array) => [...dec.decode(x)].reverse().join(''),
      };
      const db = (await fresh({ keyEncoding: u32, valueEncoding: rev })) as unknown as RemoteDatabase<number, string>;
      const seen: unknown[] = [];
      const unsub = db.subscribe({ gte: 300 }, (c) => seen.push(...c.ops.map((o) => [o.type, o.key, 'value' in o ? o.value : null])));
      await db.putBatch([[1, 'one'], [2, 'two'], [256, 'big'], [300, 'last']]);
      await db.put(70000, 'far');
      eq(await db.get(256), 'big');
      eq(await db.getBatch([1, 5, 70000]), ['one', undefined, 'far']);
      const keys: number[] = [];
      for await (const k of db.keys({ gt: 1, lt: 70000 })) keys.push(k as number);
      eq(keys, [2, 256, 300], 'numeric order and bounds through the custom key encoding:');
      const back: unknown[] = [];
      for await (const e of db.scanReverse(300, 2)) back.push(e);
      eq(back, [[300, 'last'], [256, 'big'], [2, 'two']]);
      eq(await db.count({ gte: 256 }), 3);
      await db.batch([{ type: 'del', key: 1 }, { type: 'put', key: 3, value: 'three' }]);
      eq(await db.has(1), false);
      await db.transaction(async (tx) => {
        eq(await tx.get(3), 'three');
        await tx.put(4, 'four');
        eq(await tx.count({ lt: 256 }), 3);
        const inTx: unknown[] = [];
        for await (const e of tx.scan({ gte: 3, lt: 5 })) inTx.push(e);
        eq(inTx, [[3, 'three'], [4, 'four']]);
      });
      const it = db.scan();
      await it.seek(256);
      eq((await it.next()).value, [256, 'big']);
      await it.return();
      eq(await db.clear({ gte: 300 }), 2);
      eq(await db.count(), 4);
      for (let i = 0; i < 100 && seen.length < 4; i++) await new Promise((r) => setTimeout(r, 50));
      unsub();
      eq(seen, [['put', 300, 'last'], ['put', 70000, 'far'], ['del', 300, null], ['del', 70000, null]], 'changes decoded on the page:');
      // A bad custom encoding: encode returning a non-Uint8Array is TypeError.
      const bad = (await fresh({ valueEncoding: { encode: () => 'no', decode: (x: Uint8Array) => x } })) as unknown as RemoteDatabase<Uint8Array, unknown>;
      eq(await code(bad.put(b('k'), 1)), 'TypeError');
      eq(await code(open('page-test-bad-enc', { keyEncoding: { encode: 1 } as never })), 'TypeError');
    });

    it('DECODE: a stored value the encoding cannot decode, in the Worker (json) or on the page (custom), names the key and keeps the cause', async () => {
      const db = await fresh({ keyEncoding: 'utf8' });
      const raw = db.sub('s', { valueEncoding: 'utf8' });
      await raw.put('good', '{"a":1}');
      await raw.put('user:1', 'not json');
      const failed = async (p: Promise<unknown>, what: string): Promise<LightningDbError> => {
        try {
          await p;
        } catch (e) {
          assert(e instanceof LightningDbError && e.code === 'DECODE', `${what}: not DECODE: ${String(e)}`);
          assert(e.message.includes('the value of key "user:1"'), `${what}: the key is not named: ${e.message}`);
          return e;
        }
        throw new Error(`${what}: no error`);
      };
      const all = async (it: AsyncIterable<unknown>) => { for await (const x of it) void x; };
      // json: decoded in the Worker; the error and its cause cross postMessage
      const json = db.sub('s', { valueEncoding: 'json' });
      eq(await json.get('good'), { a: 1 });
      let e = await failed(json.get('user:1'), 'json get');
      assert(e.message.includes("valueEncoding 'json'"), e.message);
      assert(e.cause instanceof Error && e.cause.name === 'SyntaxError', `json cause: ${String(e.cause)}`);
      await failed(json.getBatch(['good', 'user:1']), 'json getBatch');
      await failed(all(json.values()), 'json values');
      // custom: decoded on this page
      const failure = new RangeError('not an object');
      const obj = {
        name: 'obj',
        encode: (v: unknown) => enc.encode(JSON.stringify(v)),
        decode: (x: Uint8Array) => { const t = dec.decode(x); if (!t.startsWith('{')) throw failure; return JSON.parse(t); },
      };
      const custom = db.sub('s', { valueEncoding: obj });
      eq(await custom.get('good'), { a: 1 });
      for (const [what, p] of [
        ['custom get', custom.get('user:1')], ['custom getBatch', custom.getBatch(['good', 'user:1'])],
        ['custom scan', all(custom.scan())], ['custom values', all(custom.values())],
        ['custom tx.get', custom.transaction((tx) => tx.get('user:1'))],
      ] as const) {
        e = await failed(p, what);
        assert(e.message.includes("valueEncoding 'obj'"), `${what}: ${e.message}`);
        assert(e.cause === failure, `${what}: the cause is the decoder's error`);
      }
      const keys: unknown[] = [];
      for await (const k of custom.keys()) keys.push(k);
      eq(keys, ['good', 'user:1'], 'keys() decodes no value:');
    });

    it('open() refuses unknown option keys on the page, naming the closest; the known ones open', async () => {
      const msg = async (p: Promise<unknown>): Promise<string> => {
        try {
          await p;
        } catch (e) {
          assert(e instanceof LightningDbError && e.code === 'INVALID_ARGUMENT', `not INVALID_ARGUMENT: ${String(e)}`);
          return e.message;
        }
        return 'opened';
      };
      const name = `page-test-unknown-${n}`;
      eq(await msg(open(name, { cachesize: 1e9 })), "unknown option 'cachesize' (did you mean 'cacheSize'?)");
      eq(await msg(open(name, { ownertimeout: 5000 })), "unknown option 'ownertimeout' (did you mean 'ownerTimeout'?)");
      eq(await msg(open(name, { waitforLock: true })), "unknown option 'waitforLock' (did you mean 'waitForLock'?)");
      eq(await msg(open(name, { stor: 'memory' })), "unknown option 'stor' (did you mean 'store'?)");
      eq(await msg(open(name, { idbMaxByte: 1 })), "unknown option 'idbMaxByte' (did you mean 'idbMaxBytes'?)");
      // The Worker's wasmBinary is not an option of the page's open().
      assert(/^unknown option 'wasmBinary' /.test(await msg(open(name, { wasmBinary: new Uint8Array(1) }))), 'wasmBinary refused');
      eq(await msg(destroy(name, { stroe: 'memory' } as never)), "unknown option 'stroe' (did you mean 'store'?)");
      const db = await fresh({ store: 'memory', exclusive: true, timeout: 1000, handoffTimeout: 1000, ownerTimeout: 10000, cacheSize: 1 << 20, valueEncoding: 'utf8' });
      await db.put(b('k'), 'v');
      eq(await db.get(b('k')), 'v');
      const sub = await code(Promise.resolve().then(() => db.sub('s', { valueEncodng: 'utf8' } as never)));
      eq(sub, 'INVALID_ARGUMENT', 'sub() on the page:');
      // Per-call options ({ signal, timeout }, transaction's retries,
      // beginTransaction's readOnly) go through the same check.
      const ac = new AbortController();
      eq(await msg(db.get(b('k'), { signl: ac.signal } as never)), "unknown option 'signl' (did you mean 'signal'?)");
      eq(await msg(db.put(b('k'), 'w', { timout: 10 } as never)), "unknown option 'timout' (did you mean 'timeout'?)");
      eq(await msg(db.count(undefined, { timeout: 10, deadline: 5 } as never)), "unknown option 'deadline' (count() takes: signal, timeout)");
      eq(await msg(db.backup('page-test-backup-x', { signals: ac.signal } as never)), "unknown option 'signals' (did you mean 'signal'?)");
      eq(await msg(db.transaction(async () => 1, { retires: 2 } as never)), "unknown option 'retires' (did you mean 'retries'?)");
      eq(await msg(db.beginTransaction({ readonly: true } as never)), "unknown option 'readonly' (did you mean 'readOnly'?)");
      eq(await db.get(b('k'), { signal: ac.signal, timeout: 5000 }), 'v', 'the known keys still work:');
      eq(await db.transaction(async () => 7, { retries: 1, timeout: 5000 }), 7);
      eq(await db.get(b('k')), 'v', 'nothing was written by the refused put:');
    });

    it('errors cross with their codes', async () => {
      const db = await fresh();
      eq(await code(db.put(new Uint8Array(2000), b('x'))), 'INVALID_ARGUMENT'); // a key over 1024 bytes
      eq(await code(db.put(123 as unknown as Uint8Array, b('x'))), 'TypeError');
      // A wrong argument type crosses from the Worker as what it was there:
      // a TypeError with code INVALID_ARGUMENT that is a LightningDbError.
      const te = await db.put(123 as unknown as Uint8Array, b('x')).then(() => null, (e: unknown) => e);
      assert(te instanceof TypeError && te instanceof LightningDbError && te.code === 'INVALID_ARGUMENT', `not an argument error: ${String(te)}`);
      eq(te.message, 'key must be a Uint8Array, Buffer or string, got number');
      const local = await db.get(b('k'), 5 as never).then(() => null, (e: unknown) => e);
      assert(local instanceof TypeError && local instanceof LightningDbError && local.code === 'INVALID_ARGUMENT', `call options: ${String(local)}`);
      eq(local.message, 'call options must be an object, got number');
      const other = await code(open(`page-test-busy-${n}`, { exclusive: true }).then(async (d) => {
        open_.push(d);
        return open(`page-test-busy-${n}`, {}); // held exclusively by another worker: BUSY
      }));
      eq(other, 'BUSY');
      await db.close();
      eq(await code(db.get(b('a'))), 'CLOSED');
    });

    it('metrics, metricsText and healthCheck', async () => {
      const db = await fresh();
      for (let i = 0; i < 20; i++) await db.put(b(`k${i}`), b('v'));
      await db.get(b('k1'));
      const m = await db.metrics();
      assert((m.puts as number) >= 20, `puts ${m.puts}`);
      assert((m.gets as number) >= 1, `gets ${m.gets}`);
      const text = await db.metricsText();
      assert(/lightningdb_/.test(text) && /# TYPE/.test(text), 'prometheus text');
      const h = await db.healthCheck();
      eq(h.healthy, true);
    });

    it('metrics() of a database shared by tabs (this tab owns it) and of an exclusive one: every documented field, heapBytes too', async () => {
      for (const db of [await fresh(), await fresh({ exclusive: true })]) {
        const m = await db.metrics();
        eq(Object.keys(m).sort(), metricFields('wasm', ['store']), `fields (isOwner ${db.isOwner}):`);
        assert(typeof m.heapBytes === 'number' && m.heapBytes > 0, `heapBytes ${m.heapBytes}`);
      }
    });

    it("metrics() of a database shared by tabs (this tab owns it) count this tab's calls, not the owner's request records and epochs", async () => {
      const db = await fresh({ keyEncoding: 'utf8', valueEncoding: 'utf8' });
      eq(db.isOwner, true, 'isOwner:');
      const COUNTERS = ['gets', 'puts', 'deletes', 'batches', 'commits'] as const;
      const counts = async () => {
        const m = await db.metrics();
        return Object.fromEntries(COUNTERS.map((c) => [c, m[c]]));
      };
      eq(await counts(), { gets: 0, puts: 0, deletes: 0, batches: 0, commits: 0 }, 'after open:');
      await db.put('a', '1');
      await db.put('b', '2');
      eq(await counts(), { gets: 0, puts: 2, deletes: 0, batches: 0, commits: 2 }, 'after two puts:');
      await db.putBatch([['c', '3'], ['d', '4']]);
      await db.delete('a');
      await db.transaction(async (tx) => {
        await tx.put('e', (await tx.get('b')) ?? '');
      });
      await db.transaction(async (tx) => void (await tx.get('a')));
      await db.putBatch([]);
      await db.get('c');
      const want = { gets: 3, puts: 5, deletes: 1, batches: 1, commits: 5 };
      eq(await counts(), want, 'after a batch, a delete, two transactions (one only reads), an empty batch and a get:');
      // The records of acknowledged writes are deleted in writes of their
      // own (forget): not the tabs' deletes or commits either.
      await new Promise((r) => setTimeout(r, 300));
      await db.has('zz');
      eq(await counts(), { ...want, gets: 4 }, 'after the records were dropped:');
      const text = await db.metricsText('db="shared"');
      for (const [family, value] of [['puts', 5], ['deletes', 1], ['commits', 5], ['batches', 1], ['gets', 4]] as const)
        assert(new RegExp(`^lightningdb_${family}_total\\{db="shared"\\} ${value}$`, 'm').test(text), `lightningdb_${family}_total ${value} in ${text.slice(0, 600)}`);
    });

    it('events() and metricsText(labels) reach the Worker', async () => {
      const db = await fresh();
      await db.put(b('k'), b('v'));
      await db.checkpoint();
      const events = await db.events();
      const cp = events.find((e) => e.type === 'checkpoint');
      assert(cp !== undefined, `no checkpoint event in ${JSON.stringify(events)}`);
      assert(cp.seq >= 1 && cp.code === 'OK' && cp.count === 1, `checkpoint event ${JSON.stringify(cp)}`);
      assert(Math.abs(cp.time - Date.now()) < 60_000, `event time ${cp.time} is not wall-clock ms`);
      eq(await db.events(events[events.length - 1]!.seq), []);
      eq(await code(db.events(-1)), 'TypeError');
      const text = await db.metricsText('db="panel"');
      assert(/lightningdb_puts_total\{db="panel"\} \d+/.test(text), `labels not applied: ${text.slice(0, 300)}`);
      eq(await code(db.metricsText('db=')), 'INVALID_ARGUMENT');
    });

    it('destroy removes a closed database', async () => {
      const name = `page-test-destroy-${n}`;
      const db = await open(name, { store: 'opfs' });
      await db.put(b('k'), b('v'));
      await db.close();
      await destroy(name, { store: 'opfs' });
      const again = await open(name, { store: 'opfs' });
      eq(await again.get(b('k')), undefined);
      await again.close();
      await destroy(name, { store: 'opfs' });
    });
  });
}

/** Switches a fault of tests/browser/test-worker.ts (over its channel). */
async function setFault(ch: string, fault: { quotaCut: boolean }): Promise<void> {
  const bc = new BroadcastChannel(ch);
  const seq = Math.random();
  const acked = new Promise<void>((resolve) => {
    bc.onmessage = (ev) => {
      if (ev.data?.ack === seq) resolve();
    };
  });
  bc.postMessage({ ...fault, seq });
  await acked;
  bc.close();
}

/** Rejects with 'HUNG' after ms. */
function within<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`HUNG: no answer within ${ms} ms`)), ms))]);
}

const TEST_WORKER = '/build/browser-tests/test-worker.js';

function defineFaults(): void {
  describe('issue 9 faults', () => {
    it('item 4: syncMode full on IndexedDB: many concurrent puts are all acknowledged, flushAsync resolves, all present after reopen', async () => {
      const name = `conc-${Date.now()}`;
      await destroy(name, { store: 'indexeddb' });
      const db = await open(name, { store: 'indexeddb', syncMode: 'full', keyEncoding: 'utf8' });
      const value = new Uint8Array(600).fill(3);
      const puts: Array<Promise<void>> = [];
      for (let i = 0; i < 3000; i++) puts.push(db.put(`k${i}`, value));
      await Promise.all(puts);
      await db.flushAsync();
      await db.close();
      const again = await open(name, { store: 'indexeddb', keyEncoding: 'utf8' });
      let n = 0;
      for await (const [, v] of again.scan()) {
        assert((v as Uint8Array).length === 600, 'value size');
        n++;
      }
      eq(n, 3000, 'entries after reopen');
      await again.close();
      await destroy(name, { store: 'indexeddb' });
    });

    for (const store of ['opfs', 'indexeddb'] as const) {
      it(`item 5: a put / counter transaction rejected with FULL leaves nothing, now and after reopen (${store})`, async () => {
        const name = `full-${store}-${Date.now()}`;
        const ch = `faults-${name}`;
        await destroy(name, { store });
        const opts = { store, syncMode: 'full', keyEncoding: 'utf8', valueEncoding: 'json' };
        const db = await open(name, { ...opts, workerUrl: `${TEST_WORKER}?ch=${ch}` });
        await db.put('counter', 0);
        await db.put('a', 'kept');
        await setFault(ch, { quotaCut: true });
        eq(await code(db.putAsync('big', 'x'.repeat(70000))), 'FULL', 'putAsync under a cut quota');
        eq(await code(db.transactionAsync(async (tx) => {
          await tx.put('counter', ((await tx.get('counter')) as number) + 1);
        })), 'FULL', 'counter transaction under a cut quota');
        await setFault(ch, { quotaCut: false });
        eq(await db.get('big'), undefined, 'rejected put visible now:');
        eq(await db.get('counter'), 0, 'rejected increment visible now:');
        eq(await db.get('a'), 'kept', 'acknowledged put:');
        await db.put('later', 1);
        await db.close();
        const again = await open(name, opts);
        eq(await again.get('big'), undefined, 'rejected put present after reopen:');
        eq(await again.get('counter'), 0, 'rejected increment present after reopen:');
        eq(await again.get('a'), 'kept', 'acknowledged put after reopen:');
        eq(await again.get('later'), 1, 'put after space returned:');
        await again.check();
        await again.close();
        await destroy(name, { store });
      });
    }

    it("item 6: store 'auto' opens IndexedDB when OPFS is refused (SecurityError) and says so", async () => {
      const name = `auto-${Date.now()}`;
      await destroy(name, { store: 'indexeddb' });
      const plain = await open(`${name}-opfs`);
      eq(plain.store, 'opfs', 'auto with a working OPFS:');
      eq((await plain.metrics()).store, 'opfs', 'metrics().store:');
      await plain.close();
      await destroy(`${name}-opfs`, { store: 'opfs' });
      const db = await open(name, { workerUrl: `${TEST_WORKER}?refuseOpfs=1` });
      eq(db.store, 'indexeddb', 'db.store:');
      eq((await db.metrics()).store, 'indexeddb', 'metrics().store:');
      await db.putAsync(b('k'), b('v'));
      await db.close();
      const check = await open(name, { store: 'indexeddb' });
      eq(dec.decode((await check.get(b('k'))) as Uint8Array), 'v');
      await check.close();
      await destroy(name, { store: 'indexeddb' });
    });

    for (const store of ['opfs', 'indexeddb'] as const) {
      it(`item 7: destroy() of a database open elsewhere is BUSY at once and deletes nothing later (${store})`, async () => {
        const name = `destroy-busy-${store}-${Date.now()}`;
        const db = await open(name, { store });
        await db.putAsync(b('k'), b('before'));
        let err: unknown;
        try {
          await within(destroy(name, { store }), 3000);
        } catch (e) {
          err = e;
        }
        assert(err instanceof LightningDbError, `expected LightningDbError BUSY, got ${String(err)}`);
        eq(err.code, 'BUSY');
        assert(/open in another tab/.test(err.message), `unclear message: ${err.message}`);
        await db.putAsync(b('k2'), b('after'));
        await db.close();
        await new Promise((r) => setTimeout(r, 300));
        const again = await open(name, { store, createIfMissing: false });
        eq(dec.decode((await again.get(b('k'))) as Uint8Array), 'before', 'deleted later:');
        eq(dec.decode((await again.get(b('k2'))) as Uint8Array), 'after', 'deleted later:');
        await again.close();
        await within(destroy(name, { store }), 3000);
        eq(await code(open(name, { store, createIfMissing: false })), 'NOT_FOUND');
      });
    }

    it('item 8: a call waiting its turn is cancelled by its AbortSignal (ABORTED, nothing applied); an aborted signal rejects at once', async () => {
      const name = `abort-${Date.now()}`;
      await destroy(name, { store: 'indexeddb' });
      const db = await open(name, { store: 'indexeddb', syncMode: 'full', keyEncoding: 'utf8', valueEncoding: 'utf8' });
      const gone = new AbortController();
      gone.abort();
      eq(await code(db.put('x', 'y', { signal: gone.signal })), 'ABORTED');
      // The get waits for the durable put before it; the put behind it waits its turn.
      const first = db.put('a', '1');
      const read = db.get('a');
      const ac = new AbortController();
      const cancelled = db.put('b', '2', { signal: ac.signal });
      ac.abort();
      eq(await code(cancelled), 'ABORTED');
      await first;
      eq(await read, '1');
      eq(await db.get('b'), undefined, 'the cancelled put was applied:');
      eq(await db.get('x'), undefined, 'the put with an aborted signal was applied:');
      await db.close();
      await destroy(name, { store: 'indexeddb' });
    });

    it('item 8: a call timeout: TIMEOUT before it started applies nothing; TIMEOUT while it runs says it may still complete', async () => {
      const name = `timeout-${Date.now()}`;
      await destroy(name, { store: 'indexeddb' });
      const db = await open(name, { store: 'indexeddb', syncMode: 'full', keyEncoding: 'utf8', valueEncoding: 'utf8' });
      const first = db.put('a', '1');
      const read = db.get('a');
      const queued = db.put('c', '3', { timeout: 0 });
      const e1 = await queued.then(() => null, (e) => e);
      assert(e1 instanceof LightningDbError && e1.code === 'TIMEOUT' && /nothing of it was applied/.test(e1.message), `queued call: ${String(e1)}`);
      await first;
      eq(await read, '1');
      eq(await db.get('c'), undefined, 'the call that timed out before it started was applied:');
      // Started at once (nothing before it), then waits for IndexedDB to
      // store 8 MB — much longer than the cancel message takes.
      const big = 'x'.repeat(8 << 20);
      const e2 = await db.put('d', big, { timeout: 0 }).then(() => null, (e) => e);
      assert(e2 instanceof LightningDbError && e2.code === 'TIMEOUT' && /may still complete/.test(e2.message), `running call: ${String(e2)}`);
      eq(((await db.get('d')) as string).length, big.length, 'the running call completed:');
      await db.close();
      await destroy(name, { store: 'indexeddb' });
    });

    it('item 9: a scan of 30 values of 2 MB streams them in small messages (the first entry comes alone)', async () => {
      const name = `bigscan-${Date.now()}`;
      const RealWorker = window.Worker;
      const replies: Array<{ items: number; bytes: number }> = [];
      // Registered before the proxy's own handler, so a reply is counted
      // before the entries it carries are handed out.
      window.Worker = class extends RealWorker {
        constructor(url: string | URL, opts?: WorkerOptions) {
          super(url, opts);
          this.addEventListener('message', (ev: MessageEvent) => {
            const v = ev.data?.value;
            if (ev.data?.ok && v && Array.isArray(v.items)) {
              let bytes = 0;
              for (const [, val] of v.items as Array<[string, Uint8Array]>) bytes += val.byteLength;
              replies.push({ items: v.items.length, bytes });
            }
          });
        }
      };
      let db: RemoteDatabase;
      try {
        db = await open(name, { store: 'opfs', keyEncoding: 'utf8' });
      } finally {
        window.Worker = RealWorker;
      }
      const MB2 = 2 << 20;
      for (let i = 0; i < 30; i += 5) {
        const pairs: Array<[string, Uint8Array]> = [];
        for (let j = i; j < i + 5; j++) pairs.push([`v${String(j).padStart(2, '0')}`, new Uint8Array(MB2).fill(j)]);
        await db.putBatch(pairs);
      }
      let n = 0;
      let firstAfter = -1;
      for await (const [k, v] of db.scan()) {
        if (n === 0) firstAfter = replies.length;
        eq(k, `v${String(n).padStart(2, '0')}`);
        assert((v as Uint8Array).length === MB2 && (v as Uint8Array)[0] === n, `value ${n}`);
        n++;
      }
      eq(n, 30, 'entries');
      eq(firstAfter, 1, 'messages before the first entry:');
      assert(replies[0]!.items === 1, `first message carries ${replies[0]!.items} entries (${replies[0]!.bytes} bytes)`);
      for (const r of replies) assert(r.bytes <= SCAN_BYTES + MB2, `a message of ${r.items} entries, ${r.bytes} bytes`);
      await db.close();
      await destroy(name, { store: 'opfs' });
    });

    it('item 10: a missing worker script is SETUP naming the URL and workerUrl', async () => {
      let err: unknown;
      try {
        await within(open(`setup-${Date.now()}`, { workerUrl: '/nowhere/worker.js' }), 10000);
      } catch (e) {
        err = e;
      }
      assert(err instanceof LightningDbError, `expected LightningDbError SETUP, got ${String(err)}`);
      eq(err.code, 'SETUP');
      assert(err.message.includes('/nowhere/worker.js') && err.message.includes('workerUrl') && /404/.test(err.message),
        `message should name the URL, the answer and workerUrl: ${err.message}`);
    });

    it('item 10: a .wasm served as HTML is SETUP naming the URL and wasmUrl', async () => {
      let err: unknown;
      try {
        await within(open(`setup-${Date.now()}`, { store: 'memory', wasmUrl: '/tests/browser/index.html' }), 10000);
      } catch (e) {
        err = e;
      }
      assert(err instanceof LightningDbError, `expected LightningDbError SETUP, got ${String(err)}`);
      eq(err.code, 'SETUP');
      assert(err.message.includes('/tests/browser/index.html') && err.message.includes('wasmUrl'),
        `message should name the URL and wasmUrl: ${err.message}`);
    });
  });
}

export default async function main(): Promise<Results> {
  install();
  define();
  defineFaults();
  return run({ timeout: 30000 });
}
