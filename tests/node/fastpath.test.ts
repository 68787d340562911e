/* fastpath.test.ts — the addon's allocation-free read path (readBuffer;
 * get/txnGet with a Uint8Array key, or with the length of a key copied into
 * the read buffer's last KEY_AREA bytes) that js/native/ uses for get():
 * lengths in the shared buffer for values that fit, a Buffer for larger
 * ones, -1 when absent, handle checks and CLOSED errors, and values
 * returned by the public API that are independent copies. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadAddon } from '../../js/native/addon.js';
import { open } from '../../js/index.js';
import { toBytes } from '../../js/encodings.js';
import { errorCode, tempDir } from './helpers.js';

const { addon } = loadAddon();
const KEY_AREA = 1024;
const b = (s: string) => Buffer.from(s);
const code = errorCode;

describe('fast read path', function () {
  this.timeout(60_000);
  const tmp = tempDir('fastpath');
  let n = 0;
  const fresh = () => addon.open(join(tmp.dir, `db${++n}`), {});
  after(() => tmp.remove());

  it('readBuffer is one Buffer per addon instance', () => {
    const rb = addon.readBuffer();
    assert.ok(Buffer.isBuffer(rb));
    assert.ok(rb.length >= 4096);
    assert.equal(addon.readBuffer(), rb);
  });

  it('get/txnGet by key and by key length: length in the read buffer, a Buffer past it, -1 when absent', () => {
    const db = fresh();
    const rb = addon.readBuffer();
    const valCap = 16 * 1024; // READ_INLINE_MAX: larger values come back as Buffers
    const keyArea = rb.subarray(rb.length - KEY_AREA);
    const viaShared = (k: Buffer, get: (len: number) => number | Buffer) => {
      k.copy(keyArea);
      return get(k.length);
    };
    const inTxn = <T>(fn: (txn: object) => T): T => {
      const txn = addon.begin(db, true);
      try {
        return fn(txn);
      } finally {
        addon.txnAbort(txn);
      }
    };
    for (const size of [0, 1, 100, valCap - 1, valCap, valCap + 1, rb.length - KEY_AREA, rb.length, 1 << 20]) {
      const v = Buffer.alloc(size, (size % 251) + 1);
      const k = b(`v${size}`);
      addon.put(db, k, v);
      for (const r of [
        addon.get(db, k),
        viaShared(k, (n) => addon.get(db, n)),
        inTxn((t) => addon.txnGet(t, k)),
        inTxn((t) => viaShared(k, (n) => addon.txnGet(t, n))),
      ]) {
        if (size <= valCap) {
          assert.equal(r, size);
          assert.ok(rb.subarray(0, size).equals(v), `size ${size}`);
        } else {
          assert.ok(Buffer.isBuffer(r) && r.equals(v), `size ${size}`);
        }
      }
    }
    assert.equal(addon.get(db, b('absent')), -1);
    assert.equal(viaShared(b('absent'), (n) => addon.get(db, n)), -1);
    // the longest key the engine takes goes through the key area
    const longKey = Buffer.alloc(KEY_AREA, 'k');
    addon.put(db, longKey, b('long'));
    assert.equal(viaShared(longKey, (n) => addon.get(db, n)), 4);
    assert.equal(rb.subarray(0, 4).toString(), 'long');
    const txn = addon.begin(db, false);
    addon.txnPut(txn, b('own'), b('write'));
    assert.equal(addon.txnGet(txn, b('own')), 5);
    assert.equal(rb.subarray(0, 5).toString(), 'write');
    assert.equal(viaShared(b('own'), (n) => addon.txnGet(txn, n)), 5);
    addon.txnDel(txn, b('v1'));
    assert.equal(addon.txnGet(txn, b('v1')), -1);
    assert.equal(viaShared(b('v1'), (n) => addon.txnGet(txn, n)), -1);
    addon.txnAbort(txn);
    addon.close(db);
  });

  it('argument checks and CLOSED errors of get/txnGet', () => {
    const db = fresh();
    const txn = addon.begin(db, false);
    for (const bad of [{}, null, undefined, 42, 'db', Buffer.alloc(8), txn]) {
      assert.equal(code(() => addon.get(bad as never, b('k'))), 'ERR_INVALID_ARG_TYPE');
    }
    assert.equal(code(() => addon.txnGet(db, b('k'))), 'ERR_INVALID_ARG_TYPE');
    assert.equal(code(() => addon.get(db, 'k' as never)), 'ERR_INVALID_ARG_TYPE');
    assert.equal(code(() => addon.get(db, new Int32Array(2) as never)), 'ERR_INVALID_ARG_TYPE');
    assert.equal(code(() => addon.get(db, Buffer.alloc(1025))), 'INVALID_ARGUMENT');
    assert.equal(code(() => addon.get(db, 0)), 'no error'); // 0 bytes in the key area: the empty key
    for (const bad of [KEY_AREA + 1, -1, 1.5, NaN, 'x', undefined, 2 ** 32 + 1, 2 ** 40]) {
      assert.equal(code(() => addon.get(db, bad as never)), 'ERR_INVALID_ARG_TYPE', String(bad));
      assert.equal(code(() => addon.txnGet(txn, bad as never)), 'ERR_INVALID_ARG_TYPE', String(bad));
    }
    for (const bad of [{}, null, 42, db]) {
      assert.equal(code(() => addon.txnGet(bad as never, 1)), 'ERR_INVALID_ARG_TYPE');
    }
    addon.txnCommit(txn);
    assert.equal(code(() => addon.txnGet(txn, b('k'))), 'CLOSED');
    assert.equal(code(() => addon.txnGet(txn, 1)), 'CLOSED');
    addon.close(db);
    assert.equal(code(() => addon.get(db, b('k'))), 'CLOSED');
    assert.equal(code(() => addon.get(db, 1)), 'CLOSED');
  });

  it('getMany packs values, spills what does not fit, reads one snapshot', () => {
    const db = fresh();
    const rb = addon.readBuffer();
    const valCap = rb.length - KEY_AREA;
    const big = Buffer.alloc(valCap + 10, 5);
    addon.put(db, b('big'), big);
    addon.put(db, b('a'), b('1'));
    addon.put(db, b('e'), Buffer.alloc(0));
    // everything fits: a count, then [len][bytes] per key
    assert.equal(addon.getMany(db, [b('a'), b('zz'), b('e')]), 3);
    const view = new DataView(rb.buffer, rb.byteOffset);
    assert.equal(view.getInt32(0, true), 3);
    assert.equal(view.getInt32(4, true), 1);
    assert.equal(rb[8], '1'.charCodeAt(0));
    assert.equal(view.getInt32(9, true), -1);
    assert.equal(view.getInt32(13, true), 0);
    // a value larger than the area spills; so does everything after the area fills
    const r = addon.getMany(db, [b('a'), b('big'), b('zz')]);
    assert.ok(Array.isArray(r));
    assert.equal(view.getInt32(0, true), 3);
    assert.equal(view.getInt32(9, true), -2);
    assert.ok((r as Buffer[])[1]!.equals(big));
    assert.equal(code(() => addon.getMany(db, 'x' as never)), 'ERR_INVALID_ARG_TYPE');
    assert.equal(code(() => addon.getMany(db, [b('a'), 'no' as never])), 'ERR_INVALID_ARG_TYPE');
    assert.equal(addon.stats(db).activeSnapshots, 0);
    addon.close(db);
    assert.equal(code(() => addon.getMany(db, [b('a')])), 'CLOSED');
  });

  it('getBatch through the API matches single gets, across the read buffer boundary', () => {
    const db = open(join(tmp.dir, `api${++n}`));
    const keys: Buffer[] = [];
    for (let i = 0; i < 1500; i++) {
      const k = b(`k${String(i).padStart(5, '0')}`);
      keys.push(k);
      if (i % 7 !== 3) db.put(k, Buffer.alloc(i % 5 === 0 ? 3000 : 100, i % 251));
    }
    db.put(keys[10]!, Buffer.alloc(100 * 1024, 1)); // larger than the whole area
    const want = keys.map((k) => db.get(k) as Buffer | undefined);
    const got = db.getBatch(keys) as Array<Buffer | undefined>;
    assert.equal(got.length, keys.length);
    for (let i = 0; i < keys.length; i++) {
      if (want[i] === undefined) assert.equal(got[i], undefined, `key ${i}`);
      else assert.ok(Buffer.isBuffer(got[i]) && got[i]!.equals(want[i]!), `key ${i}`);
    }
    assert.deepEqual(db.getBatch([]), []);
    db.close();
  });

  it('string keys and values encode to the same UTF-8 as TextEncoder on every path', () => {
    const te = new TextEncoder();
    const cases = ['', 'a', 'key:0001', 'héllo', '日本語', '😀', 'x'.repeat(63) + 'é',
      'y'.repeat(64), 'z'.repeat(65), 'é'.repeat(64), '\u007f\u0080', String.fromCharCode(0), '\ufffd'];
    for (const str of cases) {
      const got = toBytes(str, 'key');
      assert.ok(got instanceof Uint8Array);
      assert.deepEqual([...got], [...te.encode(str)], JSON.stringify(str));
    }
    // lone surrogates have no UTF-8 (TextEncoder writes U+FFFD): refused on
    // the short (byte loop) and long paths alike
    for (const str of ['a\uD800b', '\uDC00', 'x'.repeat(63) + '\uD800', 'z'.repeat(65) + '\uDC00']) {
      assert.throws(() => toBytes(str, 'key'), (e: any) => e.code === 'INVALID_ARGUMENT' && /lone surrogate/.test(e.message), JSON.stringify(str));
    }
    const db = open(join(tmp.dir, `api${++n}`), { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    for (const str of cases.filter((c) => c !== '')) db.put(str, str);
    for (const str of cases.filter((c) => c !== '')) assert.equal(db.get(str), new TextDecoder().decode(te.encode(str)));
    db.close();
  });

  it('iterCreate (positional options) reads each bound combination; bad arguments are TypeErrors', () => {
    const db = fresh();
    for (const k of ['a', 'ab', 'b', 'c', 'd']) addon.put(db, b(k), b(k.toUpperCase()));
    const keysOf = (it: object) => {
      const out: string[] = [];
      const rb = addon.readBuffer();
      for (let r = addon.iterNext(it, 2); r !== null; r = addon.iterNext(it, 2)) {
        const c = typeof r === 'number' ? rb.subarray(0, r) : r;
        for (let off = 0; off < c.length;) {
          const kl = c.readUInt32LE(off);
          const vl = c.readUInt32LE(off + 4);
          out.push(c.subarray(off + 8, off + 8 + kl).toString());
          off += 8 + kl + vl;
        }
      }
      addon.iterClose(it);
      return out;
    };
    const cases: Array<[string[], [Buffer | undefined, Buffer | undefined, Buffer | undefined, number]]> = [
      [['a', 'ab', 'b', 'c', 'd'], [undefined, undefined, undefined, 0]],
      [['b', 'c', 'd'], [b('ab'), undefined, undefined, 1]],
      [['b', 'ab', 'a'], [undefined, b('c'), undefined, 6]],
      [['ab', 'b', 'c'], [b('ab'), b('c'), undefined, 0]],
      [['ab', 'a'], [undefined, undefined, b('a'), 4]],
    ];
    for (const [want, [lo, up, pre, flags]] of cases) {
      assert.deepEqual(keysOf(addon.iterCreate(db, null, lo, up, pre, flags)), want, JSON.stringify([lo, up, pre, flags]));
    }
    const txn = addon.begin(db, false);
    addon.txnPut(txn, b('aa'), b('x'));
    assert.deepEqual(keysOf(addon.iterCreate(db, txn, undefined, undefined, b('a'), 0)), ['a', 'aa', 'ab']);
    for (const bad of [8, -1, 1.5, NaN, 2 ** 32 + 1, 'x', undefined]) {
      assert.equal(code(() => addon.iterCreate(db, null, undefined, undefined, undefined, bad as never)), 'ERR_INVALID_ARG_TYPE', String(bad));
    }
    assert.equal(code(() => addon.iterCreate(db, null, 'a' as never, undefined, undefined, 0)), 'ERR_INVALID_ARG_TYPE');
    assert.equal(code(() => addon.iterCreate(db, null, undefined, 5 as never, undefined, 0)), 'ERR_INVALID_ARG_TYPE');
    assert.equal(code(() => addon.iterCreate(db, null, undefined, undefined, {} as never, 0)), 'ERR_INVALID_ARG_TYPE');
    assert.equal(code(() => addon.iterCreate({} as never, null, undefined, undefined, undefined, 0)), 'ERR_INVALID_ARG_TYPE');
    assert.equal(code(() => addon.iterCreate(db, db as never, undefined, undefined, undefined, 0)), 'ERR_INVALID_ARG_TYPE');
    addon.txnAbort(txn);
    assert.equal(code(() => addon.iterCreate(db, txn, undefined, undefined, undefined, 0)), 'CLOSED');
    // many short scans through the shared read buffer, all correct
    for (let i = 0; i < 200; i++) assert.deepEqual(keysOf(addon.iterCreate(db, null, b('c'), undefined, undefined, 0)), ['c', 'd']);
    const open1 = addon.iterCreate(db, null, undefined, undefined, undefined, 0);
    addon.iterNext(open1, 1);
    addon.close(db);
    assert.equal(code(() => addon.iterCreate(db, null, undefined, undefined, undefined, 0)), 'CLOSED');
    assert.equal(code(() => addon.iterNext(open1, 1)), 'CLOSED');
    addon.iterClose(open1);
  });

  it('iterNext: chunk length in the read buffer, a Buffer for an entry larger than it, null at the end', () => {
    const db = fresh();
    const rb = addon.readBuffer();
    const big = Buffer.alloc(rb.length + 100, 3);
    addon.put(db, b('a'), b('1'));
    addon.put(db, b('b'), big);
    addon.put(db, b('c'), b('3'));
    const it = addon.iterCreate(db, null, undefined, undefined, undefined, 0);
    const r1 = addon.iterNext(it, 10);
    assert.equal(typeof r1, 'number');
    assert.equal(r1, 8 + 1 + 1, 'the chunk stops before the entry that does not fit');
    assert.equal(rb.readUInt32LE(0), 1);
    assert.equal(rb.subarray(8, 10).toString(), 'a1');
    const r2 = addon.iterNext(it, 10);
    assert.ok(Buffer.isBuffer(r2));
    assert.equal((r2 as Buffer).readUInt32LE(4), big.length);
    const r3 = addon.iterNext(it, 10);
    assert.equal(r3, 10);
    assert.equal(rb.subarray(8, 10).toString(), 'c3');
    assert.equal(addon.iterNext(it, 10), null);
    for (const bad of [0, -1, 'x']) assert.equal(code(() => addon.iterNext(it, bad as never)), 'ERR_INVALID_ARG_TYPE');
    addon.iterClose(it);
    assert.equal(code(() => addon.iterNext(it, 1)), 'CLOSED');
    // through the API: entries are independent of later reads
    const api = open(join(tmp.dir, `api${++n}`));
    for (let i = 0; i < 50; i++) api.put(`k${String(i).padStart(2, '0')}`, Buffer.alloc(10, i));
    api.put('k10', big);
    const first = [...api.scan({ limit: 3 })] as Array<[Buffer, Buffer]>;
    api.get('k20');
    const all = [...api.scan()] as Array<[Buffer, Buffer]>;
    assert.equal(all.length, 50);
    assert.deepEqual(first.map(([k]) => k.toString()), ['k00', 'k01', 'k02']);
    assert.ok(first[1]![1].equals(Buffer.alloc(10, 1)));
    assert.ok(all[10]![1].equals(big));
    all.forEach(([k, v], i) => {
      assert.equal(k.toString(), `k${String(i).padStart(2, '0')}`);
      if (i !== 10) assert.ok(v.equals(Buffer.alloc(10, i)), `entry ${i}`);
    });
    api.close();
  });

  it('values from the public API are independent copies', () => {
    const db = open(join(tmp.dir, `api${++n}`));
    db.put('a', b('first'));
    db.put('b', b('second!'));
    const a = db.get('a') as Buffer;
    const bv = db.get('b') as Buffer;
    assert.equal(a.toString(), 'first');
    assert.equal(bv.toString(), 'second!');
    a.fill(0);
    assert.equal((db.get('a') as Buffer).toString(), 'first');
    const big = Buffer.alloc(200 * 1024, 9);
    db.put('big', big);
    assert.ok((db.get('big') as Buffer).equals(big));
    const tx = db.beginTransaction();
    tx.put('c', b('mine'));
    const c = tx.get('c') as Buffer;
    assert.equal((tx.get('a') as Buffer).toString(), 'first');
    assert.equal(c.toString(), 'mine');
    tx.abort();
    // keys longer than the key area take the argument path: same error
    for (const fn of [() => db.get(Buffer.alloc(KEY_AREA + 1)), () => db.beginTransaction().get(Buffer.alloc(KEY_AREA + 1))]) {
      assert.throws(fn, (e: { code?: string }) => e.code === 'INVALID_ARGUMENT');
    }
    assert.equal(db.get(Buffer.alloc(0)), undefined); // the empty key is a key (absent here)
    db.close();
  });
});
