/**
 * native-side.ts — the native half of the browser portability test, run by
 * run.mjs with tsx: `write <dir>` creates a database with the native addon
 * (zstd values, a checkpointed part and a log-only tail); `verify <dir>`
 * opens what the browser wrote back and checks both halves. Prints one JSON
 * line; exits non-zero on failure.
 */
import { open } from '../../js/index.js';

const [mode, dir] = process.argv.slice(2);
const val = (i: number) => Buffer.from(`native-value-${i}-`.repeat(1 + (i % 13)));

try {
  if (mode === 'write') {
    const db = open(dir!, { compression: 'zstd' });
    for (let i = 0; i < 1000; i++) db.put(`n${String(i).padStart(4, '0')}`, val(i));
    db.checkpoint();
    for (let i = 1000; i < 1100; i++) db.put(`n${String(i).padStart(4, '0')}`, val(i));
    db.close();
    console.log(JSON.stringify({ ok: true }));
  } else if (mode === 'verify') {
    const db = open(dir!);
    db.check();
    for (let i = 1; i < 1100; i++) {
      const v = db.get(`n${String(i).padStart(4, '0')}`);
      if (!v || !Buffer.from(v).equals(val(i))) throw new Error(`native key n${i} wrong after the browser round trip`);
    }
    if (db.get('n0000') !== undefined) throw new Error('n0000 was deleted in the browser but is present');
    let browser = 0;
    for (const [k, v] of db.scan({ prefix: 'b' })) {
      if (String(v) !== `browser-${String(k).slice(1)}`) throw new Error(`browser key ${String(k)} wrong`);
      browser++;
    }
    if (browser !== 500) throw new Error(`expected 500 browser keys, found ${browser}`);
    db.close();
    console.log(JSON.stringify({ ok: true }));
  } else {
    throw new Error('usage: native-side.ts write|verify <dir>');
  }
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String((e as Error).stack ?? e) }));
  process.exit(1);
}
