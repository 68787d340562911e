/* retention.test.ts — what a Buffer/Uint8Array handed out by a scan keeps
 * alive and exposes (issue 9, item 2): never bytes of another entry's large
 * value, and keeping the keys of a scan keeps only small pools of keys alive,
 * not the values scanned. Measured structurally (the distinct ArrayBuffers
 * behind what the test keeps), so it runs on every backend; the Node-only
 * test with process.memoryUsage() is tests/node/retention.test.ts. */
import { backendName, cleanup, equal, ok, openDb, pattern, text } from './backend.js';

/** Whether `hay` holds the bytes `needle` anywhere. */
function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  const first = needle[0];
  outer: for (let i = hay.indexOf(first!); i >= 0 && i + needle.length <= hay.length; i = hay.indexOf(first!, i + 1)) {
    for (let j = 1; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/** The bytes of u's ArrayBuffer outside u itself. */
function around(u: Uint8Array): Uint8Array[] {
  const all = new Uint8Array(u.buffer, 0, u.buffer.byteLength);
  return [all.subarray(0, u.byteOffset), all.subarray(u.byteOffset + u.length)];
}

/** Total bytes of the distinct ArrayBuffers behind items. */
function retained(items: Uint8Array[]): number {
  const seen = new Set<ArrayBufferLike>();
  let n = 0;
  for (const u of items) {
    if (seen.has(u.buffer)) continue;
    seen.add(u.buffer);
    n += u.buffer.byteLength;
  }
  return n;
}

describe(`scan results keep nothing else alive [${backendName}]`, function () {
  this.timeout(120_000);
  afterEach(cleanup);

  it("a key or value never exposes another entry's value bytes", () => {
    const db = openDb();
    const big = pattern(60_000, 7);
    db.put('a', 'x');
    db.put('b', big);
    db.put('c', 'y');
    const window = big.subarray(1000, 1032);
    const key = [...db.keys()][0] as Uint8Array;
    equal(text(key), 'a');
    ok(key.buffer.byteLength <= 8192, `the key's buffer is small (${key.buffer.byteLength} bytes)`);
    ok(!contains(new Uint8Array(key.buffer), window), "the key's buffer holds b's value");
    const tx = db.beginTransaction({ readOnly: true });
    const lists: Array<Array<[Uint8Array, Uint8Array]>> = [
      [...db.scan()], [...db.scan({ reverse: true })], [...tx.scan()], [...db.scan({ gte: 'b', limit: 1 })],
    ];
    tx.abort();
    for (const entries of lists) {
      for (const [k, v] of entries) {
        const name = text(k);
        // b's value is itself; everything else must not hold a byte of it
        for (const part of [...around(k), ...(name === 'b' ? around(v) : [new Uint8Array(v.buffer)])]) {
          ok(!contains(part, window), `an ArrayBuffer behind entry ${name} holds b's value`);
        }
        if (name === 'b') equal(v.length, big.length);
      }
    }
    for (const v of [...db.values()] as Uint8Array[]) {
      if (v.length !== big.length) ok(!contains(new Uint8Array(v.buffer), window), "a small value's buffer holds b's value");
    }
  });

  for (const size of [4096, 4000, 1000]) {
    it(`keeping the keys of a scan over ${size}-byte values keeps the values collectable`, () => {
      const db = openDb();
      const n = 3000;
      for (let start = 0; start < n; start += 500) {
        const batch: Array<[string, Uint8Array]> = [];
        for (let i = start; i < start + 500; i++) batch.push([`key:${String(i).padStart(6, '0')}`, pattern(size, i)]);
        db.putBatch(batch);
      }
      const keys = [...db.keys()] as Uint8Array[];
      equal(keys.length, n);
      const bytes = retained(keys);
      // 3,000 keys of 10 bytes are 30 KB; the values scanned are 3,000 x size
      ok(bytes < 256 * 1024, `keeping ${n} keys retains ${bytes} bytes of ArrayBuffers`);
      const viaScan = [...db.scan()].map(([k]) => k as Uint8Array);
      const bytes2 = retained(viaScan);
      ok(bytes2 < 256 * 1024, `keeping ${n} keys of scan() entries retains ${bytes2} bytes of ArrayBuffers`);
    });
  }
});
