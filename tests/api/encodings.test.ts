/* encodings.test.ts — binary, utf8 and json key/value encodings. */
import {
  backendName, bytes, cleanup, deepEqual, equal, ok, openDb, reopen, text, throwsType,
} from './backend.js';

describe(`encodings [${backendName}]`, () => {
  afterEach(cleanup);

  it('binary (default): bytes in and out, strings accepted as UTF-8', () => {
    const db = openDb();
    db.put('k', 'v');
    const v = db.get(bytes('k'));
    ok(v instanceof Uint8Array);
    equal(text(v), 'v');
    const [k] = [...db.keys()];
    ok(k instanceof Uint8Array);
  });

  it('utf8: strings in and out, including non-ASCII', () => {
    const db = openDb(undefined, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    db.put('ключ', 'значение 🎉');
    equal(db.get('ключ'), 'значение 🎉');
    deepEqual([...db.scan()], [['ключ', 'значение 🎉']]);
    deepEqual(db.getBatch(['ключ', 'none']), ['значение 🎉', undefined]);
  });

  it('json values: objects, arrays, numbers, null, strings round-trip', () => {
    let db = openDb(undefined, { keyEncoding: 'utf8', valueEncoding: 'json' });
    const values: unknown[] = [{ a: 1, b: [true, null, 'x'] }, [1, 2, 3], 42, -1.5, null, 'str', false, { nested: { deep: 'yes' } }];
    values.forEach((v, i) => db.put(`k${i}`, v));
    db = reopen(db);
    values.forEach((v, i) => deepEqual(db.get(`k${i}`), v, `k${i}`));
    deepEqual([...db.values({ prefix: 'k0' })], [values[0]]);
  });

  it('json keys: any JSON value is a key (ordered by its JSON text)', () => {
    const db = openDb(undefined, { keyEncoding: 'json', valueEncoding: 'json' });
    db.put(['user', 1], { name: 'a' });
    db.put(['user', 2], { name: 'b' });
    db.put(7, 'seven');
    deepEqual(db.get(['user', 2]), { name: 'b' });
    equal(db.get(7), 'seven');
    deepEqual([...db.keys()], [7, ['user', 1], ['user', 2]]);
    deepEqual([...db.scan({ gte: ['user', 2] })], [[['user', 2], { name: 'b' }]]);
  });

  it('json rejects values it cannot encode with TypeError', () => {
    const db = openDb(undefined, { valueEncoding: 'json' });
    throwsType(() => db.put('k', undefined));
    throwsType(() => db.put('k', () => 1));
    throwsType(() => db.put('k', 10n));
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    throwsType(() => db.put('k', cyclic));
    equal(db.get('k'), undefined);
  });

  it('binary and utf8 reject non-string non-byte input with TypeError', () => {
    const db = openDb(undefined, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    throwsType(() => db.put(1, 'v'));
    throwsType(() => db.put('k', 1));
    throwsType(() => db.put('k', { a: 1 }));
    throwsType(() => db.get(true));
  });

  it('a database written with one encoding reads as bytes with another', () => {
    let db = openDb(undefined, { valueEncoding: 'json' });
    db.put('k', { x: 1 });
    db = reopen(db, { valueEncoding: 'binary' });
    equal(text(db.get('k')), '{"x":1}');
    db = reopen(db, { valueEncoding: 'utf8' });
    equal(db.get('k'), '{"x":1}');
  });
});
