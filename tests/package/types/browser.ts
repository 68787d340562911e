// Type tests of the browser entry, as a strict TypeScript project for the
// browser sees them: lib dom, moduleResolution "bundler", no @types/node
// and no customConditions (tests/package/install.test.ts compiles this file
// with tsc --strict, skipLibCheck off). Every `@ts-expect-error` line must
// be an error.
import { open, destroy, openInWorker, LightningDbError, type RemoteDatabase } from 'lightningdb';
import { open as openAgain } from 'lightningdb';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
const yes = <T extends true>(): T => true as T;

export async function main(): Promise<void> {
  // binary: Uint8Array, never Buffer
  const bin = await open('types-bin', { store: 'memory' });
  yes<Equal<typeof bin, RemoteDatabase<Uint8Array, Uint8Array>>>();
  const v = await bin.get('k');
  yes<Equal<typeof v, Uint8Array | undefined>>();
  // @ts-expect-error a number is not a key
  await bin.put(123, 'x');
  // @ts-expect-error possibly undefined
  (await bin.get('missing')).byteLength;
  // @ts-expect-error Buffer does not exist in a browser project
  Buffer.from('x');
  for await (const [key, value] of bin.scan({ prefix: 'a' })) {
    yes<Equal<typeof key, Uint8Array>>();
    yes<Equal<typeof value, Uint8Array>>();
  }

  const text = await openAgain('types-text', { keyEncoding: 'utf8', valueEncoding: 'utf8', store: 'auto' });
  const s = await text.get('a');
  yes<Equal<typeof s, string | undefined>>();
  await text.transaction(async (tx) => {
    const got = await tx.get('a');
    yes<Equal<typeof got, string | undefined>>();
    // @ts-expect-error utf8 values are strings
    await tx.put('a', 1);
  });

  interface Note { text: string }
  const notes = await open<string, Note>('notes', { keyEncoding: 'utf8', valueEncoding: 'json' });
  const n = await notes.get('n1');
  yes<Equal<typeof n, Note | undefined>>();
  // sub(name, opts): typed by the encodings passed, else the parent's
  const users = bin.sub('users', { keyEncoding: 'utf8', valueEncoding: 'json' });
  yes<Equal<typeof users, RemoteDatabase<string, unknown>>>();
  const same = text.sub('same');
  yes<Equal<typeof same, RemoteDatabase<string, string>>>();
  const raw = text.sub('raw', { valueEncoding: 'binary' });
  const r = await raw.get('k');
  yes<Equal<typeof r, Uint8Array | undefined>>();
  // @ts-expect-error binary values are bytes or strings
  await raw.put('k', 1);
  await text.transaction(async (tx) => {
    const view = tx.sub('raw', { valueEncoding: 'binary' });
    const got = await view.get('k');
    yes<Equal<typeof got, Uint8Array | undefined>>();
    const viaDb = tx.sub(users);
    const u = await viaDb.get('u');
    yes<Equal<typeof u, unknown>>();
  });
  // @ts-expect-error not a store
  await open('x', { store: 'disk' });

  try {
    await destroy('types-bin');
  } catch (e) {
    if (e instanceof LightningDbError) console.log(e.code);
  }
  void openInWorker;
}
