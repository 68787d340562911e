/* fastpath.test.ts — the addon's allocation-free read path (readBuffer,
 * getInto, txnGetInto) that js/native.ts uses for get(): lengths in the
 * shared buffer for values that fit, a Buffer for larger ones, -1 when
 * absent, the same handle checks and CLOSED errors as get, and values
 * returned by the public API that are independent copies. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadAddon } from '../../js/native.js';
import { open } from '../../js/index.js';
import { tempDir } from './helpers.js';

const { addon } = loadAddon();
const b = (s: string) => Buffer.from(s);
const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code ?? (e as Error).name;
  }
  return 'no error';
};

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

  it('getInto and txnGetInto: length in the read buffer, a Buffer past it, -1 when absent', () => {
    const db = fresh();
    const rb = addon.readBuffer();
    for (const size of [0, 1, 100, rb.length - 1, rb.length, rb.length + 1, 1 << 20]) {
      const v = Buffer.alloc(size, (size % 251) + 1);
      addon.put(db, b(`v${size}`), v);
      for (const r of [addon.getInto(db, b(`v${size}`)), (() => {
        const txn = addon.begin(db, true);
        try {
          return addon.txnGetInto(txn, b(`v${size}`));
        } finally {
          addon.txnAbort(txn);
        }
      })()]) {
        if (size <= rb.length) {
          assert.equal(r, size);
          assert.ok(rb.subarray(0, size).equals(v), `size ${size}`);
        } else {
          assert.ok(Buffer.isBuffer(r) && r.equals(v), `size ${size}`);
        }
      }
    }
    assert.equal(addon.getInto(db, b('absent')), -1);
    const txn = addon.begin(db, false);
    addon.txnPut(txn, b('own'), b('write'));
    assert.equal(addon.txnGetInto(txn, b('own')), 5);
    assert.equal(rb.subarray(0, 5).toString(), 'write');
    addon.txnDel(txn, b('v1'));
    assert.equal(addon.txnGetInto(txn, b('v1')), -1);
    addon.txnAbort(txn);
    addon.close(db);
  });

  it('the same argument checks and CLOSED errors as get', () => {
    const db = fresh();
    const txn = addon.begin(db, false);
    for (const bad of [{}, null, undefined, 42, 'db', Buffer.alloc(8), txn]) {
      assert.equal(code(() => addon.getInto(bad as never, b('k'))), 'ERR_INVALID_ARG_TYPE');
    }
    assert.equal(code(() => addon.txnGetInto(db, b('k'))), 'ERR_INVALID_ARG_TYPE');
    assert.equal(code(() => addon.getInto(db, 'k' as never)), 'ERR_INVALID_ARG_TYPE');
    assert.equal(code(() => addon.getInto(db, new Int32Array(2) as never)), 'ERR_INVALID_ARG_TYPE');
    assert.equal(code(() => addon.getInto(db, Buffer.alloc(0))), 'INVALID_ARGUMENT');
    addon.txnCommit(txn);
    assert.equal(code(() => addon.txnGetInto(txn, b('k'))), 'CLOSED');
    addon.close(db);
    assert.equal(code(() => addon.getInto(db, b('k'))), 'CLOSED');
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
    db.close();
  });
});
