/* basic.test.ts — get/put/delete/has/getBatch, value types, persistence and
 * every open option. Shared API suite: imports only backend.ts. */
import {
  backendName, bytes, cleanup, deepEqual, equal, ok, openDb, pattern, reopen, text, throwsCode, tmpName,
  type OpenOptions,
} from './backend.js';

describe(`basic operations [${backendName}]`, () => {
  afterEach(cleanup);

  it('put, get, has, delete', () => {
    const db = openDb();
    equal(db.get('a'), undefined);
    equal(db.has('a'), false);
    db.put('a', 'one');
    ok(db.get('a') instanceof Uint8Array, 'binary values come back as bytes');
    equal(text(db.get('a')), 'one');
    equal(db.has('a'), true);
    db.put('a', bytes('two'));
    equal(text(db.get('a')), 'two');
    db.delete('a');
    equal(db.get('a'), undefined);
    equal(db.has('a'), false);
    db.delete('never-existed');
  });

  it('keys and values are arbitrary bytes; string and byte keys are the same key', () => {
    const db = openDb();
    const k = new Uint8Array([0, 255, 0, 1]);
    const v = new Uint8Array([0, 0, 0]);
    db.put(k, v);
    deepEqual(db.get(k), v);
    db.put(bytes('héllo'), 'x');
    equal(text(db.get('héllo')), 'x');
    // a view into a larger buffer uses only its own bytes
    const big = new Uint8Array([9, 1, 2, 3, 9]);
    db.put(big.subarray(1, 4), big.subarray(2, 3));
    deepEqual(db.get(new Uint8Array([1, 2, 3])), new Uint8Array([2]));
  });

  it('empty values are stored and distinct from absent', () => {
    const db = openDb();
    db.put('e', new Uint8Array(0));
    const v = db.get('e');
    ok(v instanceof Uint8Array);
    equal(v.length, 0);
    equal(db.has('e'), true);
  });

  it('returned values are copies, unaffected by later writes', () => {
    const db = openDb();
    db.put('k', 'first');
    const v = db.get('k');
    db.put('k', 'second value');
    equal(text(v), 'first');
    v[0] = 0x41;
    equal(text(db.get('k')), 'second value');
  });

  it('getBatch reads many keys', () => {
    const db = openDb();
    db.putBatch([['a', '1'], ['c', '3']]);
    const r = db.getBatch(['a', 'b', 'c']);
    equal(r.length, 3);
    equal(text(r[0]), '1');
    equal(r[1], undefined);
    equal(text(r[2]), '3');
    deepEqual(db.getBatch([]), []);
  });

  it('data persists across close and reopen', () => {
    let db = openDb();
    for (let i = 0; i < 100; i++) db.put(`k${i}`, pattern(100, i));
    db.delete('k50');
    db = reopen(db);
    for (let i = 0; i < 100; i++) {
      if (i === 50) equal(db.get('k50'), undefined);
      else deepEqual(db.get(`k${i}`), pattern(100, i), `k${i}`);
    }
  });

  it('key order is unsigned bytewise', () => {
    const db = openDb();
    const keys = [new Uint8Array([1]), new Uint8Array([1, 0]), new Uint8Array([0x7f]), new Uint8Array([0x80]), new Uint8Array([0xff]), new Uint8Array([0])];
    for (const k of keys) db.put(k, k);
    const got = [...db.keys()].map((k: Uint8Array) => Array.from(k));
    deepEqual(got, [[0], [1], [1, 0], [0x7f], [0x80], [0xff]]);
  });

  describe('open options', () => {
    it('createIfMissing: false refuses a missing database with NOT_FOUND', () => {
      throwsCode(() => openDb(tmpName(), { createIfMissing: false }), 'NOT_FOUND');
    });

    it('errorIfExists refuses an existing database with INVALID_ARGUMENT', () => {
      const db = openDb();
      const name = tmpName();
      const db2 = openDb(name);
      db2.put('x', 'y');
      db2.close();
      throwsCode(() => openDb(name, { errorIfExists: true }), 'INVALID_ARGUMENT');
      db.close();
    });

    it('a second open of a database open in this process must ask for the same engine options', () => {
      const name = tmpName();
      const a = openDb(name, { syncMode: 'off', cacheSize: 1 << 20 });
      a.put('k', 'v');
      const refused: Array<[OpenOptions, string, string]> = [
        [{ syncMode: 'full', cacheSize: 1 << 20 }, "syncMode 'off'", "'full'"],
        [{ syncMode: 'off', cacheSize: 2 << 20 }, `cacheSize ${1 << 20}`, `${2 << 20}`],
        [{ syncMode: 'off', cacheSize: 1 << 20, compression: 'lz4' }, "compression 'none'", "'lz4'"],
      ];
      for (const [options, have, want] of refused) {
        const e = throwsCode(() => openDb(name, options), 'INVALID_ARGUMENT');
        ok(e.message.includes(`already open in this process with option ${have}`), e.message);
        ok(e.message.includes(`asks for ${want}`), e.message);
      }
      // Per-open options stay free: encodings, readOnly, pageSize (used
      // only when creating), createIfMissing.
      const b = openDb(name, {
        syncMode: 'off', cacheSize: 1 << 20, valueEncoding: 'utf8', readOnly: true, pageSize: 8192,
        createIfMissing: false,
      });
      equal(b.get('k'), 'v');
      b.close();
      a.close();
      // Once every handle is closed the next open sets the engine's options.
      const c = openDb(name, { syncMode: 'full' });
      const before = c.metrics().syncs;
      c.put('k', 'w');
      ok(c.metrics().syncs > before, 'a full-mode put syncs');
    });

    it('readOnly: reads work, every write is READ_ONLY', () => {
      const name = tmpName();
      const w = openDb(name);
      w.put('a', 'b');
      w.close();
      const db = openDb(name, { readOnly: true });
      equal(text(db.get('a')), 'b');
      throwsCode(() => db.put('a', 'c'), 'READ_ONLY');
      throwsCode(() => db.delete('a'), 'READ_ONLY');
      throwsCode(() => db.putBatch([['x', 'y']]), 'READ_ONLY');
      throwsCode(() => db.beginTransaction(), 'READ_ONLY');
      const snap = db.beginTransaction({ readOnly: true });
      equal(text(snap.get('a')), 'b');
      snap.abort();
      equal(text(db.get('a')), 'b');
    });

    for (const pageSize of [512, 4096, 65536]) {
      it(`pageSize ${pageSize}: data round-trips and the page size is kept`, () => {
        let db = openDb(tmpName(), { pageSize });
        for (let i = 0; i < 300; i++) db.put(`key-${i}`, pattern(200, i));
        db.checkpoint();
        equal(db.metrics().pageSize, pageSize);
        db = reopen(db, {});
        equal(db.metrics().pageSize, pageSize, 'an existing database keeps its page size');
        for (let i = 0; i < 300; i++) deepEqual(db.get(`key-${i}`), pattern(200, i));
        db.check();
      });
    }

    for (const compression of ['none', 'lz4', 'zstd'] as const) {
      it(`compression ${compression}: values round-trip, also after a checkpoint and reopen`, () => {
        let db = openDb(tmpName(), { compression, compressionLevel: compression === 'zstd' ? 3 : 0 });
        const compressible = bytes('abcdefgh'.repeat(500));
        const random = pattern(3000, 7);
        db.put('c', compressible);
        db.put('r', random);
        db.checkpoint();
        db = reopen(db);
        deepEqual(db.get('c'), compressible);
        deepEqual(db.get('r'), random);
        db.check();
      });
    }

    for (const syncMode of ['full', 'normal', 'off'] as const) {
      it(`syncMode ${syncMode}: commits survive a clean close`, () => {
        let db = openDb(tmpName(), { syncMode, syncIntervalMs: 10 });
        db.put('a', '1');
        db.putBatch([['b', '2'], ['c', '3']]);
        db.transaction((tx) => tx.put('d', '4'));
        db = reopen(db);
        deepEqual(['a', 'b', 'c', 'd'].map((k) => text(db.get(k))), ['1', '2', '3', '4']);
      });
    }

    it('a small cacheSize and memtableSize still hold all data (checkpoints run)', () => {
      let db = openDb(tmpName(), { cacheSize: 64 * 1024, memtableSize: 32 * 1024 });
      for (let i = 0; i < 2000; i++) db.put(`k${String(i).padStart(5, '0')}`, pattern(100, i));
      db.flush();
      db = reopen(db);
      for (let i = 0; i < 2000; i += 97) deepEqual(db.get(`k${String(i).padStart(5, '0')}`), pattern(100, i));
      db.check();
    });

    it('backgroundCheckpoint: false works (checkpoints in steps)', () => {
      let db = openDb(tmpName(), { backgroundCheckpoint: false, memtableSize: 16 * 1024 });
      for (let i = 0; i < 1000; i++) db.put(`k${i}`, pattern(64, i));
      db.checkpoint();
      db = reopen(db);
      for (let i = 0; i < 1000; i += 50) deepEqual(db.get(`k${i}`), pattern(64, i));
    });

    it('maxActiveTransactions: beyond the limit begin is BUSY', () => {
      const db = openDb(tmpName(), { maxActiveTransactions: 2 });
      const a = db.beginTransaction();
      const b = db.beginTransaction();
      throwsCode(() => db.beginTransaction(), 'BUSY');
      a.abort();
      const c = db.beginTransaction();
      b.abort();
      c.abort();
    });

    it('the database exposes its path and encodings', () => {
      const name = tmpName();
      const db = openDb(name, { keyEncoding: 'utf8', valueEncoding: 'json' });
      equal(db.path, name);
      equal(db.keyEncoding, 'utf8');
      equal(db.valueEncoding, 'json');
      equal(db.closed, false);
    });
  });
});
