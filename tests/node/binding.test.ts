/* binding.test.ts — the addon's own contract, below the TypeScript API:
 * handle type checks, use after close/commit, bulk iterator reads that must
 * grow their buffer, one-snapshot getMany, and error objects. Every misuse
 * must be an exception, never a crash. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadAddon } from '../../js/native/addon.js';
import { errorCode, tempDir } from './helpers.js';

const { addon } = loadAddon();
const b = (s: string) => Buffer.from(s);
const code = errorCode;

const rb = addon.readBuffer();
/** An iterNext result (a length in the read buffer, or a Buffer) as a chunk. */
const chunkOf = (r: number | Buffer | null): Buffer | null => (typeof r === 'number' ? rb.subarray(0, r) : r);
/** A get/txnGet result (a length in the read buffer, -1, or a Buffer) as the value. */
const valueOf = (r: number | Buffer): Buffer | undefined =>
  typeof r !== 'number' ? r : r < 0 ? undefined : Buffer.from(rb.subarray(0, r));
/** A getMany result (see js_get_many in node/reads.c) as the values. */
function manyOf(n: number, r: number | Array<Buffer | undefined>): Array<Buffer | undefined> {
  const out: Array<Buffer | undefined> = [];
  const m = rb.readInt32LE(0);
  let pos = 4;
  for (let i = 0; i < n; i++) {
    if (i >= m) {
      out.push(typeof r === 'number' ? undefined : r[i]);
      continue;
    }
    const len = rb.readInt32LE(pos);
    pos += 4;
    out.push(len >= 0 ? Buffer.from(rb.subarray(pos, pos + len)) : len === -2 && typeof r !== 'number' ? r[i] : undefined);
    if (len > 0) pos += len;
  }
  return out;
}
const iterAll = (db: object, txn: object | null = null) => addon.iterCreate(db, txn, undefined, undefined, undefined, 0);

/** Splits an iterNext result into [key, value length] pairs. */
function entries(r: number | Buffer | null): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  const chunk = chunkOf(r);
  if (chunk === null) return out;
  let off = 0;
  while (off < chunk.length) {
    const kl = chunk.readUInt32LE(off);
    const vl = chunk.readUInt32LE(off + 4);
    out.push([chunk.subarray(off + 8, off + 8 + kl).toString(), vl]);
    off += 8 + kl + vl;
  }
  return out;
}

describe('addon contract', function () {
  this.timeout(60_000);
  const tmp = tempDir('binding');
  let n = 0;
  const fresh = () => addon.open(join(tmp.dir, `db${++n}`), {});
  after(() => tmp.remove());

  it('handles are type-checked: a wrong handle is a TypeError, not a crash', () => {
    const db = fresh();
    const txn = addon.begin(db, false);
    const it = iterAll(db);
    for (const bad of [{}, null, undefined, 42, 'db', Buffer.alloc(8), txn, it]) {
      assert.equal(code(() => addon.get(bad as never, b('k'))), 'ERR_INVALID_ARG_TYPE');
    }
    assert.equal(code(() => addon.txnGet(db, b('k'))), 'ERR_INVALID_ARG_TYPE');
    assert.equal(code(() => addon.iterNext(txn, 1)), 'ERR_INVALID_ARG_TYPE');
    assert.equal(code(() => addon.iterNext(it, 0)), 'ERR_INVALID_ARG_TYPE');
    assert.equal(code(() => addon.put(db, b('k'), 'v' as never)), 'ERR_INVALID_ARG_TYPE');
    assert.equal(code(() => addon.put(db, new Int32Array(2) as never, b('v'))), 'ERR_INVALID_ARG_TYPE');
    assert.equal(code(() => addon.open(7 as never, {})), 'ERR_INVALID_ARG_TYPE');
    // strings go to ldb_options_set_string, which refuses a non-number for a size
    assert.equal(code(() => addon.open(join(tmp.dir, 'x'), { pageSize: 'big' } as never)), 'INVALID_ARGUMENT');
    assert.equal(code(() => addon.open(join(tmp.dir, 'x'), { pageSize: {} } as never)), 'ERR_INVALID_ARG_TYPE');
    assert.equal(code(() => addon.open(join(tmp.dir, 'x'), { syncMode: 'always' } as never)), 'INVALID_ARGUMENT');
    // every option value the core cannot hold is refused before it, never truncated
    for (const v of [2 ** 64, -1, 1.5, NaN, Infinity]) {
      assert.equal(code(() => addon.open(join(tmp.dir, 'x'), { cacheSize: v })), 'INVALID_ARGUMENT', String(v));
    }
    assert.equal(code(() => addon.open(join(tmp.dir, 'x'), { cacheSize: 10n } as never)), 'ERR_INVALID_ARG_TYPE');
    assert.equal(code(() => addon.open(join(tmp.dir, 'x'), { syncMode: 3 } as never)), 'INVALID_ARGUMENT');
    assert.equal(code(() => addon.open(join(tmp.dir, 'x'), { pageSize: 'a\0b' } as never)), 'INVALID_ARGUMENT');
    const throwing = { get pageSize(): number { throw new Error('getter threw'); } };
    assert.throws(() => addon.open(join(tmp.dir, 'x'), throwing), /getter threw/);
    assert.equal(code(() => addon.open(join(tmp.dir, 'x'), { cacheSize: -1 })), 'INVALID_ARGUMENT');
    assert.equal(code(() => addon.open('a\0b', {})), 'INVALID_ARGUMENT');
    assert.equal(code(() => addon.write(db, [b('a')], [])), 'INVALID_ARGUMENT');
    assert.equal(code(() => addon.write(db, 'x' as never, [])), 'ERR_INVALID_ARG_TYPE');
    addon.iterClose(it);
    addon.txnAbort(txn);
    addon.close(db);
  });

  it('use after close, commit or abort is CLOSED; closing twice is fine', () => {
    const db = fresh();
    addon.put(db, b('a'), b('1'));
    const txn = addon.begin(db, false);
    const txnIt = iterAll(db, txn);
    const it = iterAll(db);
    addon.txnCommit(txn);
    assert.equal(code(() => addon.txnGet(txn, b('a'))), 'CLOSED');
    assert.equal(code(() => addon.txnCommit(txn)), 'CLOSED');
    assert.equal(code(() => addon.iterNext(txnIt, 10)), 'CLOSED', 'an iterator of a committed transaction');
    addon.txnAbort(txn);
    const txn2 = addon.begin(db, true);
    addon.close(db);
    addon.close(db);
    for (const fn of [
      () => addon.get(db, b('a')), () => addon.put(db, b('a'), b('2')), () => addon.begin(db, false),
      () => iterAll(db), () => addon.stats(db), () => addon.flush(db),
      () => addon.txnGet(txn2, b('a')), () => addon.iterNext(it, 1), () => addon.iterSeek(it, b('a')),
      () => addon.getMany(db, [b('a')]), () => addon.write(db, [b('a')], [undefined]), () => addon.check(db),
    ]) assert.equal(code(fn), 'CLOSED');
    addon.iterClose(it);
    addon.txnAbort(txn2);
  });

  it('iterator bulk reads grow for entries larger than the buffer', () => {
    const db = fresh();
    const big = Buffer.alloc(300 * 1024, 7); // larger than the 64 KiB first buffer
    addon.put(db, b('a'), b('small'));
    addon.put(db, b('b'), big);
    addon.put(db, b('c'), b('small'));
    const it = iterAll(db);
    const got: Array<[string, number]> = [];
    for (let chunk = addon.iterNext(it, 100); chunk !== null; chunk = addon.iterNext(it, 100)) got.push(...entries(chunk));
    assert.deepEqual(got, [['a', 5], ['b', big.length], ['c', 5]]);
    assert.equal(addon.iterNext(it, 1), null, 'stays at the end');
    addon.iterSeek(it, b('b'));
    assert.deepEqual(entries(addon.iterNext(it, 1)), [['b', big.length]]);
    addon.iterSeek(it);
    // a chunk holds as many entries as fit (at least one): collect two
    const two: string[] = [];
    while (two.length < 2) two.push(...entries(addon.iterNext(it, 2 - two.length)).map(([k]) => k));
    assert.deepEqual(two, ['a', 'b']);
    addon.iterClose(it);
    const rev = addon.iterCreate(db, null, undefined, b('b'), undefined, 4);
    const keys: string[] = [];
    for (let c = addon.iterNext(rev, 10); c !== null; c = addon.iterNext(rev, 10)) keys.push(...entries(c).map(([k]) => k));
    assert.deepEqual(keys, ['b', 'a']);
    addon.iterClose(rev);
    addon.close(db);
  });

  it('get reads values of every size through the read buffer and the direct path', () => {
    const db = fresh();
    for (const size of [0, 1, 16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1, 1 << 20]) {
      const v = Buffer.alloc(size, size % 251);
      addon.put(db, b(`v${size}`), v);
      const got = valueOf(addon.get(db, b(`v${size}`)))!;
      assert.ok(Buffer.isBuffer(got));
      assert.ok(got.equals(v), `size ${size}`);
      const txn = addon.begin(db, true);
      assert.ok(valueOf(addon.txnGet(txn, b(`v${size}`)))!.equals(v));
      addon.txnAbort(txn);
    }
    addon.close(db);
  });

  it('getMany reads one snapshot and leaves no transaction open on a bad key', () => {
    const db = fresh();
    addon.put(db, b('a'), b('1'));
    assert.deepEqual(manyOf(2, addon.getMany(db, [b('a'), b('zz')])).map((v) => v?.toString()), ['1', undefined]);
    assert.equal(code(() => addon.getMany(db, [b('a'), 'no' as never])), 'ERR_INVALID_ARG_TYPE');
    assert.equal(code(() => addon.getMany(db, [b('a'), Buffer.alloc(1025)])), 'INVALID_ARGUMENT');
    assert.equal(addon.stats(db).activeTransactions, 0);
    assert.equal(addon.stats(db).activeSnapshots, 0);
    addon.close(db);
  });

  it('the 65th commit listener of a database: BUSY with the cause, not the cleanup\'s error', () => {
    const db = fresh();
    const ls = Array.from({ length: 64 }, () => addon.onCommit(db, () => {}));
    let err: { code?: string; message?: string } = {};
    try {
      addon.onCommit(db, () => {});
    } catch (e) {
      err = e as typeof err;
    }
    assert.equal(err.code, 'BUSY');
    assert.match(err.message ?? '', /64 commit hooks are already registered.*free a place/);
    assert.doesNotMatch(err.message ?? '', /no such hook/);
    addon.offCommit(ls[0]!);
    ls[0] = addon.onCommit(db, () => {});
    for (const l of ls) addon.offCommit(l);
    addon.close(db);
  });

  it('errors carry the code name and the core message', () => {
    const db = fresh();
    let err: (Error & { code?: string }) | undefined;
    try {
      addon.put(db, Buffer.alloc(2000, 1), b('v'));
    } catch (e) {
      err = e as Error & { code?: string };
    }
    assert.ok(err instanceof Error);
    assert.equal(err.code, 'INVALID_ARGUMENT');
    assert.match(err.message, /2000/);
    addon.close(db);
  });

  it('stats has every row of the core statistics table, histograms with 48 buckets', () => {
    const db = fresh();
    addon.put(db, b('a'), b('1'));
    addon.get(db, b('a'));
    const s = addon.stats(db) as unknown as Record<string, unknown>;
    const rows = addon.contract().stats;
    assert.ok(rows.length >= 27);
    for (const row of rows) {
      if (row.type === 3) assert.equal((s[row.jsName] as number[]).length, 48, row.jsName);
      else assert.equal(typeof s[row.jsName], 'number', row.jsName);
    }
    assert.deepEqual(Object.keys(s), rows.map((r) => r.jsName), 'nothing but the table');
    for (const f of ['gets', 'puts', 'deletes', 'batches', 'commits', 'conflicts', 'aborts', 'cacheHits', 'cacheMisses',
      'cacheEvictions', 'cacheBytes', 'cacheCapacity', 'bytesRead', 'bytesWritten', 'syncs', 'checkpoints',
      'activeTransactions', 'activeSnapshots', 'memtableBytes', 'dataFileSize', 'logFileSize', 'pageSize', 'pageCount',
      'freePages', 'lastSeq', 'checkpointSeq', 'uptimeNs']) {
      assert.equal(typeof s[f], 'number', f);
    }
    assert.equal(s.backgroundError, 0, 'LDB_OK');
    assert.ok((s.puts as number) >= 1 && (s.gets as number) >= 1);
    addon.close(db);
  });

  it('backup and prometheus through the addon', () => {
    const db = fresh();
    for (let i = 0; i < 100; i++) addon.put(db, b(`k${i}`), b('v'));
    addon.checkpoint(db);
    addon.backup(db, join(tmp.dir, `backup${n}`));
    assert.equal(code(() => addon.backup(db, 5 as never)), 'ERR_INVALID_ARG_TYPE');
    const text = addon.prometheus(db, 'db="x"');
    assert.match(text, /^lightningdb_puts_total\{db="x"\} 100$/m);
    assert.equal(code(() => addon.prometheus(db, 'not a label' as never)), 'INVALID_ARGUMENT');
    assert.equal(code(() => addon.prometheus(db, 5 as never)), 'ERR_INVALID_ARG_TYPE');
    addon.close(db);
    assert.equal(code(() => addon.prometheus(db)), 'CLOSED');
  });
});
