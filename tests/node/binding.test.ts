/* binding.test.ts — the addon's own contract, below the TypeScript API:
 * handle type checks, use after close/commit, bulk iterator reads that must
 * grow their buffer, one-snapshot getMany, and error objects. Every misuse
 * must be an exception, never a crash. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadAddon } from '../../js/native.js';
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

/** Splits an iterNext chunk into [key, value] strings. */
function entries(chunk: Buffer | null): Array<[string, number]> {
  const out: Array<[string, number]> = [];
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
    const it = addon.iterCreate(db, null, {});
    for (const bad of [{}, null, undefined, 42, 'db', Buffer.alloc(8), txn, it]) {
      assert.equal(code(() => addon.get(bad as never, b('k'))), 'ERR_INVALID_ARG_TYPE');
    }
    assert.equal(code(() => addon.txnGet(db, b('k'))), 'ERR_INVALID_ARG_TYPE');
    assert.equal(code(() => addon.iterNext(txn, 1)), 'ERR_INVALID_ARG_TYPE');
    assert.equal(code(() => addon.iterNext(it, 0)), 'ERR_INVALID_ARG_TYPE');
    assert.equal(code(() => addon.put(db, b('k'), 'v' as never)), 'ERR_INVALID_ARG_TYPE');
    assert.equal(code(() => addon.put(db, new Int32Array(2) as never, b('v'))), 'ERR_INVALID_ARG_TYPE');
    assert.equal(code(() => addon.open(7 as never, {})), 'ERR_INVALID_ARG_TYPE');
    assert.equal(code(() => addon.open(join(tmp.dir, 'x'), { pageSize: 'big' } as never)), 'ERR_INVALID_ARG_TYPE');
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
    const txnIt = addon.iterCreate(db, txn, {});
    const it = addon.iterCreate(db, null, {});
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
      () => addon.iterCreate(db, null, {}), () => addon.stats(db), () => addon.flush(db),
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
    const it = addon.iterCreate(db, null, {});
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
    const rev = addon.iterCreate(db, null, { reverse: true, upper: b('b'), upperExclusive: false });
    const keys: string[] = [];
    for (let c = addon.iterNext(rev, 10); c !== null; c = addon.iterNext(rev, 10)) keys.push(...entries(c).map(([k]) => k));
    assert.deepEqual(keys, ['b', 'a']);
    addon.iterClose(rev);
    addon.close(db);
  });

  it('get reads values of every size through the scratch path and the direct path', () => {
    const db = fresh();
    for (const size of [0, 1, 16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1, 1 << 20]) {
      const v = Buffer.alloc(size, size % 251);
      addon.put(db, b(`v${size}`), v);
      const got = addon.get(db, b(`v${size}`))!;
      assert.ok(Buffer.isBuffer(got));
      assert.ok(got.equals(v), `size ${size}`);
      const txn = addon.begin(db, true);
      assert.ok(addon.txnGet(txn, b(`v${size}`))!.equals(v));
      addon.txnAbort(txn);
    }
    addon.close(db);
  });

  it('getMany reads one snapshot and leaves no transaction open on a bad key', () => {
    const db = fresh();
    addon.put(db, b('a'), b('1'));
    assert.deepEqual(addon.getMany(db, [b('a'), b('zz')]).map((v) => v?.toString()), ['1', undefined]);
    assert.equal(code(() => addon.getMany(db, [b('a'), 'no' as never])), 'ERR_INVALID_ARG_TYPE');
    assert.equal(code(() => addon.getMany(db, [b('a'), Buffer.alloc(0)])), 'INVALID_ARGUMENT');
    assert.equal(addon.stats(db).activeTxns, 0);
    assert.equal(addon.stats(db).activeSnapshots, 0);
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

  it('stats has every EngineStats field with 48-bucket histograms', () => {
    const db = fresh();
    addon.put(db, b('a'), b('1'));
    addon.get(db, b('a'));
    const s = addon.stats(db);
    for (const f of ['gets', 'puts', 'deletes', 'batches', 'commits', 'conflicts', 'aborts', 'cacheHits', 'cacheMisses',
      'cacheEvictions', 'cacheBytes', 'cacheCapacity', 'bytesRead', 'bytesWritten', 'syncs', 'checkpoints', 'activeTxns',
      'activeSnapshots', 'memtableBytes', 'dataFileSize', 'logFileSize', 'pageSize', 'pageCount', 'freePages', 'lastSeq',
      'checkpointSeq', 'uptimeNs'] as const) {
      assert.equal(typeof s[f], 'number', f);
    }
    assert.equal(s.backgroundError, 'OK');
    assert.equal(s.getLatency.length, 48);
    assert.equal(s.commitLatency.length, 48);
    assert.ok(s.puts >= 1 && s.gets >= 1);
    addon.close(db);
  });

  it('checkpointStep and backup through the addon', () => {
    const db = fresh();
    for (let i = 0; i < 100; i++) addon.put(db, b(`k${i}`), b('v'));
    assert.equal(typeof addon.checkpointStep(db, 10), 'boolean');
    addon.checkpoint(db);
    assert.equal(addon.checkpointStep(db, 10), false, 'nothing pending after a checkpoint');
    addon.backup(db, join(tmp.dir, `backup${n}`));
    assert.equal(code(() => addon.backup(db, 5 as never)), 'ERR_INVALID_ARG_TYPE');
    addon.close(db);
  });
});
