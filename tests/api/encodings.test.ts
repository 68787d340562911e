/* encodings.test.ts — binary, utf8 and json key/value encodings. */
import {
  backendName, bytes, cleanup, deepEqual, equal, LightningDbError, ok, openDb, reopen, text, throwsCode, throwsType,
} from './backend.js';

/** e is DECODE naming the encoding option and name, and the key as
 * shown; its cause is the decoder's error (`cause`, when given: that very
 * object). */
function isDecode(e: LightningDbError, option: string, encoding: string, shown: string, cause?: unknown): void {
  equal(e.code, 'DECODE');
  ok(e.message.includes(`${option} '${encoding}'`), `names ${option} '${encoding}': ${e.message}`);
  ok(e.message.includes(option === 'keyEncoding' ? `the key ${shown}` : `the value of key ${shown}`), `names the key ${shown}: ${e.message}`);
  ok(e.cause instanceof Error || cause !== undefined, `keeps the decoder's error as cause: ${String(e.cause)}`);
  if (cause !== undefined) equal(e.cause, cause);
  else ok(e.message.includes((e.cause as Error).message), 'says what the decoder said');
}

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

  it("keyEncoding 'utf8' refuses byte keys that are not UTF-8 (INVALID_ARGUMENT naming the byte); bounds may be any bytes", async () => {
    const db = openDb(undefined, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    const bad = new Uint8Array([0x61, 0xff]);
    const e = throwsCode(() => db.put(bad, 'A'), 'INVALID_ARGUMENT');
    ok(/not valid UTF-8 \(byte 0xff at index 1\)/.test(e.message), e.message);
    throwsCode(() => db.putBatch([['ok', 'v'], [bad, 'v']]), 'INVALID_ARGUMENT');
    throwsCode(() => db.batch([{ type: 'put', key: bad, value: 'v' }]), 'INVALID_ARGUMENT');
    throwsCode(() => db.transaction((tx) => tx.put(bad, 'v')), 'INVALID_ARGUMENT');
    throwsCode(() => db.get(bad), 'INVALID_ARGUMENT');
    let rejected: unknown;
    try {
      await db.putAsync(bad, 'v');
    } catch (err) {
      rejected = err;
    }
    ok(rejected instanceof LightningDbError && rejected.code === 'INVALID_ARGUMENT', String(rejected));
    for (const b of [[0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80], [0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]]) {
      throwsCode(() => db.put(new Uint8Array(b), 'v'), 'INVALID_ARGUMENT', b.join(','));
    }
    equal(db.count(), 0, 'nothing was stored');
    // well-formed UTF-8 bytes are keys like their strings
    db.put(bytes('ключ 🎉'), 'v');
    equal(db.get('ключ 🎉'), 'v');
    // a scan bound is not a key: 0xff as an upper bound is fine
    deepEqual([...db.keys({ lt: new Uint8Array([0xff]), gte: 'ключ' })], ['ключ 🎉']);
    // the refusal agrees with a strict decoder on random bytes
    const strict = new TextDecoder('utf-8', { fatal: true });
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let i = 0; i < 400; i++) {
      const b = new Uint8Array(1 + (rnd() % 6)).map(() => (rnd() % 4 === 0 ? rnd() & 0x7f : 0x80 | rnd()));
      let valid = true;
      try {
        strict.decode(b);
      } catch {
        valid = false;
      }
      if (valid) db.put(b, 'v');
      else throwsCode(() => db.put(b, 'v'), 'INVALID_ARGUMENT', Array.from(b).join(','));
    }
    // a binary database keeps taking any bytes
    const bin = openDb();
    bin.put(bad, bad);
    equal(bin.count(), 1);
  });

  it('strings with a lone surrogate are refused as keys and values (INVALID_ARGUMENT naming the index)', () => {
    for (const enc of ['utf8', 'binary'] as const) {
      const db = openDb(undefined, { keyEncoding: enc, valueEncoding: enc });
      for (const [s, at] of [['\ud800', 0], ['\udc00', 0], ['a\udc00b', 1], ['ab\ud83c', 2], ['\udf89\ud83c', 0], ['x'.repeat(100) + '\ud800y', 100]] as const) {
        const e = throwsCode(() => db.put(s, 'v'), 'INVALID_ARGUMENT', `${enc} key ${JSON.stringify(s)}`);
        ok(e.message.includes(`lone surrogate U+${s.charCodeAt(at).toString(16).toUpperCase()} at index ${at}`), e.message);
        throwsCode(() => db.put('k', s), 'INVALID_ARGUMENT', `${enc} value ${JSON.stringify(s)}`);
        throwsCode(() => db.get(s), 'INVALID_ARGUMENT');
        throwsCode(() => db.delete(s), 'INVALID_ARGUMENT');
      }
      equal(db.count(), 0);
      // pairs, and U+FFFD itself, are fine
      db.put('\ud83c\udf89', '\ufffd');
      db.put('\ufffd', '\ud83c\udf89');
      const str = (v: string | Uint8Array) => (typeof v === 'string' ? v : text(v));
      equal(str(db.get('\ud83c\udf89')), '\ufffd');
      equal(str(db.get('\ufffd')), '\ud83c\udf89');
      equal(db.count(), 2);
    }
  });

  it('binary and utf8 reject non-string non-byte input with TypeError', () => {
    const db = openDb(undefined, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    throwsType(() => db.put(1, 'v'));
    throwsType(() => db.put('k', 1));
    throwsType(() => db.put('k', { a: 1 }));
    throwsType(() => db.get(true));
  });

  it('a custom encoding without encode() or decode() is a TypeError naming what is missing', () => {
    const noDecode = throwsType(() => openDb(undefined, { valueEncoding: { encode: (v: unknown) => bytes(String(v)) } as never }));
    ok(/valueEncoding .*custom encoding.*no decode\(\)/.test(noDecode.message), noDecode.message);
    const neither = throwsType(() => openDb(undefined, { keyEncoding: {} as never }));
    ok(/keyEncoding .*no encode\(\) and no decode\(\)/.test(neither.message), neither.message);
  });

  it('a database written with one encoding reads as bytes with another', () => {
    let db = openDb(undefined, { valueEncoding: 'json' });
    db.put('k', { x: 1 });
    db = reopen(db, { valueEncoding: 'binary' });
    equal(text(db.get('k')), '{"x":1}');
    db = reopen(db, { valueEncoding: 'utf8' });
    equal(db.get('k'), '{"x":1}');
  });

  it('a stored value json cannot decode is DECODE on every read path, naming the key', async () => {
    let db = openDb(undefined, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    db.put('good', '{"ok":true}');
    db.put('user:1', 'not json');
    db = reopen(db, { keyEncoding: 'utf8', valueEncoding: 'json' });
    const check = (fn: () => unknown, what: string) => {
      const e = throwsCode(fn, 'DECODE', what);
      isDecode(e, 'valueEncoding', 'json', '"user:1"');
      equal((e.cause as Error).name, 'SyntaxError', what);
    };
    deepEqual(db.get('good'), { ok: true });
    check(() => db.get('user:1'), 'get');
    check(() => db.getBatch(['good', 'user:1']), 'getBatch');
    check(() => [...db.scan()], 'scan');
    check(() => [...db.values()], 'values');
    deepEqual([...db.keys()], ['good', 'user:1'], 'keys() does not decode values');
    deepEqual([...db.scan({ lt: 'user:1' })], [['good', { ok: true }]], 'entries before it read');
    const tx = db.beginTransaction({ readOnly: true });
    check(() => tx.get('user:1'), 'tx.get');
    check(() => [...tx.scan()], 'tx.scan');
    tx.abort();
    const feed = db.changes({ since: 0 });
    try {
      let got: unknown;
      try {
        for await (const c of feed) deepEqual(c.ops, [{ type: 'put', key: 'good', value: { ok: true } }], 'first commit decodes');
      } catch (e) {
        got = e;
      }
      ok(got instanceof LightningDbError, `changes(): ${String(got)}`);
      isDecode(got, 'valueEncoding', 'json', '"user:1"');
    } finally {
      await feed.return();
    }
  });

  it('a stored key the key encoding cannot decode is DECODE (binary keys shown in hex)', () => {
    let db = openDb();
    db.put(new Uint8Array([0xff, 0x00, 0x01]), 'v');
    db = reopen(db, { keyEncoding: 'json' });
    const e = throwsCode(() => [...db.keys()], 'DECODE');
    isDecode(e, 'keyEncoding', 'json', 'ff0001 (hex)');
    isDecode(throwsCode(() => [...db.scan()], 'DECODE'), 'keyEncoding', 'json', 'ff0001 (hex)');
  });

  it("a custom decode() that throws is DECODE with the encoding's name and the thrown error as cause", () => {
    const failure = new RangeError('not a point');
    const point = {
      name: 'point',
      encode: (p: { x: number }) => bytes(`P${p.x}`),
      decode: (b: Uint8Array) => {
        const t = text(b);
        if (!t.startsWith('P')) throw failure;
        return { x: Number(t.slice(1)) };
      },
    };
    let db = openDb(undefined, { keyEncoding: 'utf8', valueEncoding: point });
    db.put('a', { x: 1 });
    db = reopen(db, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    db.put('b', 'plain text');
    db = reopen(db, { keyEncoding: 'utf8', valueEncoding: point });
    deepEqual(db.get('a'), { x: 1 });
    isDecode(throwsCode(() => db.get('b'), 'DECODE'), 'valueEncoding', 'point', '"b"', failure);
    isDecode(throwsCode(() => [...db.values()], 'DECODE'), 'valueEncoding', 'point', '"b"', failure);
    const nameless = { encode: point.encode, decode: point.decode };
    db = reopen(db, { keyEncoding: nameless, valueEncoding: 'utf8' });
    isDecode(throwsCode(() => [...db.keys()], 'DECODE'), 'keyEncoding', 'custom', '"a"', failure);
  });

  it('msgpack values and sub-databases: DECODE names the key within the sub-database', () => {
    const db = openDb(undefined, { keyEncoding: 'utf8' });
    const raw = db.sub('users', { valueEncoding: 'utf8' });
    raw.put('u1', '{broken');
    const users = db.sub('users', { valueEncoding: 'json' });
    isDecode(throwsCode(() => users.get('u1'), 'DECODE'), 'valueEncoding', 'json', '"u1"');
    const packed = db.sub('packed', { valueEncoding: 'binary' });
    packed.put('m', new Uint8Array([0x92, 0x01])); // an array of 2 holding 1 item
    const mp = db.sub('packed', { valueEncoding: 'msgpack' });
    isDecode(throwsCode(() => mp.get('m'), 'DECODE'), 'valueEncoding', 'msgpack', '"m"');
    isDecode(throwsCode(() => [...mp.scan()], 'DECODE'), 'valueEncoding', 'msgpack', '"m"');
  });
});
