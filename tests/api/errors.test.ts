/* errors.test.ts — every bad input maps to its documented error: for wrong
 * types a TypeError that is also a LightningDbError INVALID_ARGUMENT
 * (LightningDbTypeError), for bad values a LightningDbError
 * INVALID_ARGUMENT. */
import {
  backendName, cleanup, deepEqual, equal, ok, openDb, thrown, throwsCode, throwsType, tmpName, LightningDbError,
  type Database,
} from './backend.js';

type Case = [name: string, fn: (db: Database) => unknown, expect: 'TypeError' | string];

const KEY_1024 = new Uint8Array(1024).fill(0x6b);
const KEY_1025 = new Uint8Array(1025).fill(0x6b);
const KEY_2000 = new Uint8Array(2000).fill(0x6b);

const cases: Case[] = [
  ['get(undefined)', (db) => db.get(undefined), 'TypeError'],
  ['get(null)', (db) => db.get(null), 'TypeError'],
  ['get(123)', (db) => db.get(123), 'TypeError'],
  ['get({})', (db) => db.get({}), 'TypeError'],
  ['get([1])', (db) => db.get([1]), 'TypeError'],
  ['get(new Uint16Array(2))', (db) => db.get(new Uint16Array(2)), 'TypeError'],
  ['get(ArrayBuffer)', (db) => db.get(new ArrayBuffer(2)), 'TypeError'],
  ['has(true)', (db) => db.has(true), 'TypeError'],
  ['put(key, undefined)', (db) => db.put('k', undefined), 'TypeError'],
  ['put(key, 5)', (db) => db.put('k', 5), 'TypeError'],
  ['put(key, null)', (db) => db.put('k', null), 'TypeError'],
  ['put(5, value)', (db) => db.put(5, 'v'), 'TypeError'],
  ['delete(undefined)', (db) => db.delete(undefined), 'TypeError'],
  ['put(1025-byte key)', (db) => db.put(KEY_1025, 'v'), 'INVALID_ARGUMENT'],
  ['put(2000-byte key)', (db) => db.put(KEY_2000, 'v'), 'INVALID_ARGUMENT'],
  ['get(2000-byte key)', (db) => db.get(KEY_2000), 'INVALID_ARGUMENT'],
  ['delete(2000-byte key)', (db) => db.delete(KEY_2000), 'INVALID_ARGUMENT'],
  ['tx.put(2000-byte key)', (db) => db.transaction((tx) => tx.put(KEY_2000, 'v')), 'INVALID_ARGUMENT'],
  ['put(value of 64 MiB + 1)', (db) => db.put('k', new Uint8Array(64 * 1024 * 1024 + 1)), 'INVALID_ARGUMENT'],
  ['backup(42)', (db) => db.backup(42 as never), 'TypeError'],
  ['backup("")', (db) => db.backup(''), 'INVALID_ARGUMENT'],
];

describe(`errors [${backendName}]`, () => {
  afterEach(cleanup);

  for (const [name, fn, expect] of cases) {
    it(`${name} -> ${expect}`, () => {
      const db = openDb();
      if (expect === 'TypeError') throwsType(() => fn(db), name);
      else throwsCode(() => fn(db), expect, name);
      // the handle stays usable after any bad input
      db.put('after', 'ok');
      equal(db.has('after'), true);
    });
  }

  it('a 1024-byte key is allowed', () => {
    const db = openDb();
    db.put(KEY_1024, 'v');
    equal(db.has(KEY_1024), true);
  });

  const badOptions: Array<[string, unknown, string]> = [
    ['options "x"', 'x', 'TypeError'],
    ['pageSize "4096"', { pageSize: '4096' }, 'TypeError'],
    ['pageSize 1000', { pageSize: 1000 }, 'INVALID_ARGUMENT'],
    ['pageSize 256', { pageSize: 256 }, 'INVALID_ARGUMENT'],
    ['pageSize 131072', { pageSize: 131072 }, 'INVALID_ARGUMENT'],
    ['pageSize -1', { pageSize: -1 }, 'INVALID_ARGUMENT'],
    ['cacheSize 1.5', { cacheSize: 1.5 }, 'INVALID_ARGUMENT'],
    ['compression "gzip"', { compression: 'gzip' }, 'INVALID_ARGUMENT'],
    ['compression 1', { compression: 1 }, 'TypeError'],
    ['syncMode "always"', { syncMode: 'always' }, 'INVALID_ARGUMENT'],
    ['syncMode true', { syncMode: true }, 'TypeError'],
    ['readOnly "yes"', { readOnly: 'yes' }, 'TypeError'],
    ['createIfMissing 1', { createIfMissing: 1 }, 'TypeError'],
    ['keyEncoding "hex"', { keyEncoding: 'hex' }, 'INVALID_ARGUMENT'],
    ['valueEncoding 0', { valueEncoding: 0 }, 'TypeError'],
  ];
  for (const [name, options, expect] of badOptions) {
    it(`open with ${name} -> ${expect}`, () => {
      const fn = () => openDb(tmpName(), options as never);
      if (expect === 'TypeError') throwsType(fn, name);
      else throwsCode(fn, expect, name);
    });
  }

  // Sizes are numbers of bytes; a size written with a unit, as the CLI's
  // -O takes it, is a TypeError that says what the API takes instead.
  for (const size of ['1GiB', '1gib', '1073741824']) {
    it(`open with cacheSize '${size}' (text) -> TypeError asking for a number of bytes`, () => {
      const e = throwsType(() => openDb(tmpName(), { cacheSize: size } as never), size);
      equal(e.message, 'cacheSize must be a number of bytes (1 GiB: 2 ** 30), got string');
    });
  }

  // A misspelled option was ignored without a word before: open() with
  // { cachesize: 1e9 } opened with the default cache.
  const misspelled: Array<[Record<string, unknown>, string]> = [
    [{ cachesize: 1e9 }, 'cacheSize'],
    [{ cache_size: 1 << 20 }, 'cacheSize'],
    [{ syncmode: 'off' }, 'syncMode'],
    [{ pageSize: 4096, readonly: true }, 'readOnly'],
    [{ createIfMising: false }, 'createIfMissing'],
    [{ valueEncodng: 'json' }, 'valueEncoding'],
    [{ compresion: 'lz4' }, 'compression'],
    [{ cachesize: undefined }, 'cacheSize'], // still a misspelling
  ];
  for (const [options, near] of misspelled) {
    const key = Object.keys(options).find((k) => k !== 'pageSize')!;
    const v = options[key] === undefined ? ' (undefined)' : '';
    it(`open with unknown option ${key}${v} -> INVALID_ARGUMENT naming it and ${near}`, () => {
      const e = throwsCode(() => openDb(tmpName(), options as never), 'INVALID_ARGUMENT', key);
      equal(e.message, `unknown option '${key}' (did you mean '${near}'?)`);
    });
  }

  it('an unknown option with no near one lists the options open() takes', () => {
    const e = throwsCode(() => openDb(tmpName(), { frobnicate: 1 } as never), 'INVALID_ARGUMENT');
    ok(/^unknown option 'frobnicate' \(open\(\) takes: pageSize, cacheSize, .*, keyEncoding, valueEncoding\)$/.test(e.message), e.message);
  });

  it('known options and the encodings still open', () => {
    const db = openDb(tmpName(), { cacheSize: 1 << 20, syncMode: 'off', compression: 'lz4', keyEncoding: 'utf8', valueEncoding: 'json' });
    db.put('k', { v: 1 });
    equal(JSON.stringify(db.get('k')), '{"v":1}');
  });

  it('sub() and tx.sub() refuse unknown option keys', () => {
    const db = openDb();
    let e = throwsCode(() => db.sub('a', { valueEncodng: 'json' } as never), 'INVALID_ARGUMENT');
    equal(e.message, "unknown option 'valueEncodng' (did you mean 'valueEncoding'?)");
    e = throwsCode(() => db.sub('a', { cacheSize: 1 } as never), 'INVALID_ARGUMENT');
    equal(e.message, "unknown option 'cacheSize' (sub() takes: keyEncoding, valueEncoding)");
    e = throwsCode(() => db.transaction((tx) => tx.sub('a', { keyencoding: 'utf8' } as never)), 'INVALID_ARGUMENT');
    equal(e.message, "unknown option 'keyencoding' (did you mean 'keyEncoding'?)");
    db.sub('a', { keyEncoding: 'utf8', valueEncoding: 'json' }).put('x', 1);
    equal(db.sub('a', { keyEncoding: 'utf8', valueEncoding: 'json' }).get('x'), 1);
  });

  it('the options of each call refuse unknown keys, naming the closest', () => {
    const db = openDb(tmpName(), { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    db.put('a', '1');
    const cases: Array<[string, () => unknown, string]> = [
      ['scan', () => db.scan({ revers: true } as never).next(), "unknown option 'revers' (did you mean 'reverse'?)"],
      ['keys', () => db.keys({ limt: 1 } as never).next(), "unknown option 'limt' (did you mean 'limit'?)"],
      ['values', () => db.values({ gte: 'a', lessThan: 'b' } as never).next(), "unknown option 'lessThan' (scan() takes: gt, gte, lt, lte, prefix, reverse, limit, retain)"],
      ['scanPrefix', () => db.scanPrefix('a', { retian: true } as never).next(), "unknown option 'retian' (did you mean 'retain'?)"],
      ['count', () => db.count({ prefx: 'a' } as never), "unknown option 'prefx' (did you mean 'prefix'?)"],
      ['clear', () => db.clear({ limti: 1 } as never), "unknown option 'limti' (did you mean 'limit'?)"],
      ['changes', () => db.changes({ sinse: 0 } as never), "unknown option 'sinse' (did you mean 'since'?)"],
      ['subscribe', () => db.subscribe({ prefixx: 'a' } as never, () => {}), "unknown option 'prefixx' (did you mean 'prefix'?)"],
      ['transaction', () => db.transaction(() => 1, { retrys: 2 } as never), "unknown option 'retrys' (did you mean 'retries'?)"],
      ['beginTransaction', () => db.beginTransaction({ readonly: true } as never), "unknown option 'readonly' (did you mean 'readOnly'?)"],
      ['tx.scan', () => db.transaction((tx) => tx.scan({ revrse: true } as never).next()), "unknown option 'revrse' (did you mean 'reverse'?)"],
      ['tx.count', () => db.transaction((tx) => tx.count({ lte: 'b', gtee: 'a' } as never)), "unknown option 'gtee' (did you mean 'gte'?)"],
    ];
    for (const [name, fn, message] of cases) equal(throwsCode(fn, 'INVALID_ARGUMENT', name).message, message, name);
    // The known keys still work, and a key the call does not take stays a TypeError.
    equal([...db.scan({ gte: 'a', lte: 'a', reverse: false, limit: 1, prefix: 'a', retain: false })].length, 1);
    equal(db.count({ gte: 'a' }), 1);
    throwsType(() => db.count({ reverse: true } as never), 'count({ reverse })');
    equal(db.transaction(() => 7, { retries: 1 }), 7);
    const tx = db.beginTransaction({ readOnly: true });
    equal(tx.get('a'), '1');
    tx.abort();
    equal(db.get('a'), '1', 'nothing was cleared');
  });

  it('a wrong argument type is a TypeError with code INVALID_ARGUMENT, a LightningDbError too, naming the argument and what it must be', () => {
    const db = openDb();
    const cases: Array<[string, () => unknown, string]> = [
      ['put(123, {})', () => db.put(123, {}), 'key must be a Uint8Array, Buffer or string, got number'],
      ['get(null)', () => db.get(null), 'key must be a Uint8Array, Buffer or string (not null or undefined), got null'],
      ['get(undefined)', () => db.get(undefined), 'key must be a Uint8Array, Buffer or string (not null or undefined), got undefined'],
      ['put(k, {})', () => db.put('k', {}), 'value must be a Uint8Array, Buffer or string, got Object'],
      ['put(k, undefined)', () => db.put('k', undefined), 'value must be a Uint8Array, Buffer or string, got undefined'],
      ['open(path, 5)', () => openDb(tmpName(), 5 as never), 'options must be an object, got number'],
      ['open(42)', () => openDb(42 as never), 'path must be a string, got number'],
      ['scan(5)', () => db.scan(5 as never).next(), 'scan options must be an object, got number'],
      ['scan({ reverse: 1 })', () => db.scan({ reverse: 1 } as never).next(), 'reverse must be a boolean, got number'],
      ['putBatch("x")', () => db.putBatch('x' as never), 'entries must be an array of [key, value] pairs, got string'],
      ['getBatch({})', () => db.getBatch({} as never), 'keys must be an array, got Object'],
      ['transaction(7)', () => db.transaction(7 as never), 'fn must be a function, got number'],
      ['sub(1)', () => db.sub(1 as never), 'sub-database name must be a string, got number'],
    ];
    for (const [name, fn, message] of cases) {
      const e = thrown(fn, name) as Error & { code?: string };
      ok(e instanceof TypeError, `${name}: a TypeError (${String(e)})`);
      ok(e instanceof LightningDbError, `${name}: a LightningDbError too`);
      equal(e.code, 'INVALID_ARGUMENT', name);
      equal(e.name, 'TypeError', name);
      equal(e.message, message, name);
    }
    // One catch clause sees wrong types and bad values alike.
    const seen: string[] = [];
    for (const f of [() => db.put(5, 'v'), () => db.put(KEY_2000, 'v')]) {
      try {
        f();
      } catch (e) {
        if (e instanceof LightningDbError && e.code === 'INVALID_ARGUMENT') seen.push(e instanceof TypeError ? 'type' : 'value');
      }
    }
    deepEqual(seen, ['type', 'value']);
  });

  it('open with a path that is not a string is a TypeError', () => {
    throwsType(() => openDb(42 as never));
  });

  it("the engine's messages name this API's options and calls, not the C library's", () => {
    const cases: Array<[string, () => unknown, string, RegExp]> = [
      ['pageSize: 1000', () => openDb(tmpName(), { pageSize: 1000 }), 'INVALID_ARGUMENT',
        // (the wasm engine hands the core the options as text: "1000")
        /^option pageSize: "?1000"? is invalid; allowed: 512\.\.65536 bytes, a power of two$/],
      ["metricsText('db=')", () => openDb().metricsText('db='), 'INVALID_ARGUMENT',
        /^labels must be name="value" pairs separated by commas: db=$/],
      ['changes() with logRetentionBytes: 0', () => openDb(tmpName(), { logRetentionBytes: 0 }).changes({ since: 0 }), 'INVALID_ARGUMENT',
        /^the change feed is off \(option logRetentionBytes is 0\)$/],
      ['a second transaction with maxActiveTransactions: 1', () => {
        const db = openDb(tmpName(), { maxActiveTransactions: 1 });
        db.beginTransaction();
        db.beginTransaction();
      }, 'BUSY', /^too many open transactions \(option maxActiveTransactions is 1\)$/],
      ['clear() in a read-only transaction', () => openDb().beginTransaction({ readOnly: true }).clear(), 'READ_ONLY',
        /^deleting a range in a read-only transaction$/],
    ];
    for (const [name, fn, code, msg] of cases) {
      const e = throwsCode(fn, code, name);
      ok(msg.test(e.message), `${name}: ${e.message}`);
      ok(!/\bldb_|\b[a-z]+_[a-z_]+\b/.test(e.message), `${name}: a C name in ${e.message}`);
    }
  });

  it('every LightningDbError has a stable code, a name and a useful message', () => {
    const db = openDb();
    const e = thrown(() => db.put(KEY_2000, 'v'));
    ok(e instanceof LightningDbError);
    ok(e instanceof Error);
    equal(e.name, 'LightningDbError');
    equal(e.code, 'INVALID_ARGUMENT');
    ok(/key/i.test(e.message), `message mentions the key: ${e.message}`);
  });
});
