// Type tests of the Node entry, as a strict TypeScript project that
// installed the package sees them (tests/package/install.test.ts compiles
// this file in that project with tsc --strict). Every `@ts-expect-error`
// line must be an error: tsc fails when one compiles.
import { open, Database, LightningDbError, type Transaction } from 'lightningdb';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
function expectType<T>(_value: T): void {}
const yes = <T extends true>(): T => true as T;

// binary (the default): Buffer values, Buffer keys; keys accept strings too
const bin = open('./types-bin');
const v = bin.get('k');
yes<Equal<typeof v, Buffer | undefined>>();
yes<Equal<typeof bin, Database<Buffer, Buffer>>>();
bin.put('k', new Uint8Array([1]));
bin.put(Buffer.from('k'), 'v');
// @ts-expect-error a number is not a key
bin.put(123, 'x');
// @ts-expect-error get() may return undefined
bin.get('missing').toString();
bin.get('missing')?.toString();
for (const [key, value] of bin.scan({ gte: 'a', lt: 'b' })) {
  yes<Equal<typeof key, Buffer>>();
  yes<Equal<typeof value, Buffer>>();
}

// utf8 keys and values: strings
const text = open('./types-text', { keyEncoding: 'utf8', valueEncoding: 'utf8' });
yes<Equal<ReturnType<typeof text.get>, string | undefined>>();
text.put('a', 'b');
// @ts-expect-error utf8 values are strings
text.put('a', new Uint8Array(1));
expectType<string[]>([...text.keys()]);
text.batch([{ type: 'put', key: 'a', value: 'b' }, { type: 'del', key: 'a' }]);
// @ts-expect-error a utf8 value in a batch is a string
text.batch([{ type: 'put', key: 'a', value: 1 }]);
text.transaction((tx) => {
  yes<Equal<typeof tx, Transaction<string, string, Buffer>>>();
  const got = tx.get('a');
  yes<Equal<typeof got, string | undefined>>();
});

// json values: unknown unless named
const json = open('./types-json', { keyEncoding: 'utf8', valueEncoding: 'json' });
yes<Equal<ReturnType<typeof json.get>, unknown>>();
interface Note { text: string }
const notes = open<string, Note>('./types-notes', { keyEncoding: 'utf8', valueEncoding: 'json' });
notes.put('n1', { text: 'hello' });
// @ts-expect-error a Note has text
notes.put('n2', { body: 'hello' });
const note = notes.get('n1');
yes<Equal<typeof note, Note | undefined>>();
// @ts-expect-error possibly undefined
note.text.toUpperCase();

// msgpack values: unknown unless named, like json
const packed = open('./types-msgpack', { valueEncoding: 'msgpack' });
yes<Equal<ReturnType<typeof packed.get>, unknown>>();
packed.put('a', { when: new Date(), tags: ['x'] });

// a custom encoding: the type its decode() returns
const u32 = {
  encode: (n: number) => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n); return b; },
  decode: (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, 4).getUint32(0),
};
const byNumber = open('./types-u32', { keyEncoding: u32, valueEncoding: 'utf8' });
byNumber.put(5, 'x');
yes<Equal<ReturnType<typeof byNumber.get>, string | undefined>>();
for (const [key] of byNumber.scan({ gte: 1 })) yes<Equal<typeof key, number>>();
// @ts-expect-error a u32 key is a number
byNumber.put('5', 'x');

// sub(name, opts): typed by the encodings passed, else the parent's
const users = bin.sub('users', { keyEncoding: 'utf8', valueEncoding: 'json' });
yes<Equal<typeof users, Database<string, unknown, Buffer>>>();
const inherits = text.sub('more');
yes<Equal<typeof inherits, Database<string, string, Buffer>>>();
const halfText = bin.sub('half', { valueEncoding: 'utf8' });
yes<Equal<typeof halfText, Database<Buffer, string>>>();
// binary in a sub-database of a Node database is Buffer, also when the
// parent's keys and values are text (a database from Node's open() carries
// Buffer as its bytes type, the third type parameter)
const raw = halfText.sub('raw', { valueEncoding: 'binary' });
yes<Equal<ReturnType<typeof raw.get>, Buffer | undefined>>();
const rawUnderText = text.sub('r', { valueEncoding: 'binary' });
yes<Equal<ReturnType<typeof rawUnderText.get>, Buffer | undefined>>();
expectType<string | undefined>(rawUnderText.get('a')?.toString('hex'));
const rawKeysUnderText = text.sub('rk', { keyEncoding: 'binary' }).sub('deeper');
for (const key of rawKeysUnderText.keys()) yes<Equal<typeof key, Buffer>>();
// a Node database named with two type arguments still assigns to one
const plain: Database<string, string> = text;
void plain;
// @ts-expect-error a utf8 value is a string
halfText.put('k', 1);
const counters = text.sub('counters', { valueEncoding: u32 });
yes<Equal<ReturnType<typeof counters.get>, number | undefined>>();
// @ts-expect-error a u32 value is a number
counters.put('c', '1');
const typed = bin.sub<string, Note>('typed', { keyEncoding: 'utf8', valueEncoding: 'json' });
yes<Equal<ReturnType<typeof typed.get>, Note | undefined>>();
text.transaction((tx) => {
  const viaName = tx.sub('counters', { valueEncoding: u32 });
  yes<Equal<typeof viaName, Transaction<string, number, Buffer>>>();
  const viaDb = tx.sub(users);
  yes<Equal<typeof viaDb, Transaction<string, unknown, Buffer>>>();
  const rawInTx = tx.sub('r', { valueEncoding: 'binary' });
  yes<Equal<ReturnType<typeof rawInTx.get>, Buffer | undefined>>();
  const named = tx.sub<string, Note>('typed');
  yes<Equal<typeof named, Transaction<string, Note, Buffer>>>();
});

// errors
try {
  bin.close();
} catch (e) {
  if (e instanceof LightningDbError) {
    const code: 'CLOSED' | 'NOT_FOUND' | string = e.code;
    expectType<string>(code);
    // @ts-expect-error not an error code
    const bad: typeof e.code = 'NOPE';
    void bad;
  }
}
