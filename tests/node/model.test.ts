/* model.test.ts — random operations through the Node API against a Map,
 * on a key space large enough for a multi-level tree (5,000 keys, 1 KiB
 * pages), with the mapping bounded by the smallest cache: puts, deletes,
 * get/has/getBatch, putBatch and batch (sorted appends past the largest
 * key among them), transactions, scans with random bounds, prefix,
 * direction and limit compared entry by entry, scans left open across
 * writes and checkpoints (each must go on serving its snapshot), seek on
 * an open scan, checkpoints and close/reopen. Replay a failure with
 * LDB_SEED=<seed>. */
import assert from 'node:assert/strict';
import { open, type Database } from '../../js/index.js';
import { tempDir } from './helpers.js';

const NK = 5000;

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/** Key i: its index as two big-endian bytes (byte order = index order),
 * then 0..30 bytes of padding; key 0 is the empty key. */
function keyOf(i: number): Buffer {
  if (i === 0) return Buffer.alloc(0);
  const pad = (i * 2654435761) % 31;
  const k = Buffer.alloc(2 + pad, 0x61 + (i % 26));
  k.writeUInt16BE(i, 0);
  return k;
}

function valueOf(r: () => number): Buffer {
  const x = r();
  const len = x < 0.05 ? 0 : x < 0.75 ? Math.floor(r() * 100) : x < 0.95 ? Math.floor(r() * 700) : 1500 + Math.floor(r() * 20000);
  const v = Buffer.alloc(len);
  for (let j = 0; j < len; j++) v[j] = (j * 31 + len) & 255;
  if (len >= 4) v.writeUInt32LE(Math.floor(r() * 4294967295), 0);
  return v;
}

type Model = Map<number, Buffer>;

/** The model's entries in [lo, hi] (indexes), optionally by first byte,
 * in iteration order, at most limit. */
function expected(m: Model, lo: number, hi: number, prefix: number | undefined, reverse: boolean, limit: number): number[] {
  const out: number[] = [];
  for (let j = 0; j <= hi - lo && out.length < limit; j++) {
    const i = reverse ? hi - j : lo + j;
    if (!m.has(i)) continue;
    if (prefix !== undefined && (i === 0 || i >> 8 !== prefix)) continue;
    out.push(i);
  }
  return out;
}

interface OpenScan {
  it: Iterator<[Buffer, Buffer]> & { seek(k: Buffer): void; return?(): unknown };
  want: Array<[number, Buffer]>;
  pos: number;
}

function openDb(dir: string): Database {
  return open(dir, { syncMode: 'off', pageSize: 1024, cacheSize: 0, mmapBounded: true, memtableSize: 64 * 1024 });
}

describe('random operations against a model (Node API)', function () {
  this.timeout(300_000);
  for (const round of [0, 1]) {
    it(`matches a Map (run ${round})`, () => {
      const seed = process.env.LDB_SEED ? Number(process.env.LDB_SEED) + round : (Date.now() + round * 7919) >>> 0;
      const r = rng(seed);
      const t = tempDir('model');
      const m: Model = new Map();
      let db = openDb(t.dir);
      const scans: OpenScan[] = [];
      const ctx = (what: string) => `${what} (seed ${seed}; replay with LDB_SEED=${seed - round})`;
      const closeScans = () => {
        for (const s of scans) s.it.return?.();
        scans.length = 0;
      };
      try {
        const ops = process.env.LDB_TEST_QUICK ? 800 : 2000;
        let maxKey = 0;
        for (let n = 0; n < ops; n++) {
          const x = r();
          const i = Math.floor(r() * NK);
          if (x < 0.2) {
            const v = valueOf(r);
            db.put(keyOf(i), v);
            m.set(i, v);
            maxKey = Math.max(maxKey, i);
          } else if (x < 0.27) {
            db.delete(keyOf(i));
            m.delete(i);
          } else if (x < 0.37) {
            const got = db.get(keyOf(i));
            if (m.has(i)) assert.ok(got && Buffer.compare(got as Buffer, m.get(i)!) === 0, ctx(`get ${i}`));
            else assert.equal(got, undefined, ctx(`get ${i}: absent`));
            assert.equal(db.has(keyOf(i)), m.has(i), ctx(`has ${i}`));
          } else if (x < 0.42) {
            const idx = Array.from({ length: 1 + Math.floor(r() * 30) }, () => Math.floor(r() * NK));
            const got = db.getBatch(idx.map(keyOf));
            idx.forEach((k, j) => {
              const w = m.get(k);
              if (w) assert.ok(got[j] && Buffer.compare(got[j] as Buffer, w) === 0, ctx(`getBatch ${k}`));
              else assert.equal(got[j], undefined, ctx(`getBatch ${k}: absent`));
            });
          } else if (x < 0.52) {
            // sorted appends past the largest key, or a run from anywhere
            const start = r() < 0.7 ? maxKey + 1 : i;
            const cnt = 1 + Math.floor(r() * 200);
            const entries: Array<[Buffer, Buffer]> = [];
            for (let k = start; k < Math.min(NK, start + cnt); k++) {
              const v = valueOf(r);
              entries.push([keyOf(k), v]);
              m.set(k, v);
              maxKey = Math.max(maxKey, k);
            }
            if (entries.length) db.putBatch(entries);
          } else if (x < 0.57) {
            const b: Array<{ type: 'put' | 'del'; key: Buffer; value?: Buffer }> = [];
            for (let j = 0; j < 1 + Math.floor(r() * 20); j++) {
              const k = Math.floor(r() * NK);
              if (r() < 0.3) {
                b.push({ type: 'del', key: keyOf(k) });
                m.delete(k);
              } else {
                const v = valueOf(r);
                b.push({ type: 'put', key: keyOf(k), value: v });
                m.set(k, v);
                maxKey = Math.max(maxKey, k);
              }
            }
            db.batch(b as never);
          } else if (x < 0.62) {
            const view = new Map(m);
            const commit = r() < 0.7;
            try {
              db.transaction((tx) => {
                for (let j = 0; j < 1 + Math.floor(r() * 8); j++) {
                  const k = Math.floor(r() * NK);
                  const y = r();
                  if (y < 0.3) {
                    const got = tx.get(keyOf(k));
                    const w = view.get(k);
                    if (w) assert.ok(got && Buffer.compare(got as Buffer, w) === 0, ctx(`tx.get ${k}`));
                    else assert.equal(got, undefined, ctx(`tx.get ${k}: absent`));
                  } else if (y < 0.5) {
                    tx.delete(keyOf(k));
                    view.delete(k);
                  } else {
                    const v = valueOf(r);
                    tx.put(keyOf(k), v);
                    view.set(k, v);
                  }
                }
                if (!commit) throw new Error('abort');
              });
            } catch (e) {
              if ((e as Error).message !== 'abort') throw e;
            }
            if (commit) {
              m.clear();
              for (const [k, v] of view) m.set(k, v);
              for (const k of view.keys()) maxKey = Math.max(maxKey, k);
            }
          } else if (x < 0.72) {
            // a scan with random bounds, read now or left open
            const reverse = r() < 0.5;
            let lo = 0;
            let hi = NK - 1;
            let prefix: number | undefined;
            const opts: Record<string, unknown> = { reverse };
            const y = r();
            if (y < 0.4) {
              const a = Math.floor(r() * NK);
              const b = Math.floor(r() * NK);
              lo = Math.min(a, b);
              hi = Math.max(a, b);
              if (r() < 0.5) opts.gte = keyOf(lo);
              else {
                opts.gt = keyOf(lo);
                lo++;
              }
              if (r() < 0.5) opts.lte = keyOf(hi);
              else {
                opts.lt = keyOf(hi);
                hi--;
              }
            } else if (y < 0.6) {
              prefix = Math.floor(r() * (NK >> 8));
              opts.prefix = Buffer.from([prefix]);
            }
            const limit = r() < 0.3 ? 1 + Math.floor(r() * 50) : Infinity;
            if (limit !== Infinity) opts.limit = limit;
            const want = expected(m, lo, hi, prefix, reverse, limit).map((k) => [k, m.get(k)!] as [number, Buffer]);
            const it = db.scan(opts as never)[Symbol.iterator]() as unknown as OpenScan['it'];
            const s: OpenScan = { it, want, pos: 0 };
            if (r() < 0.5 || scans.length >= 3) {
              drain(s, Infinity, ctx);
              it.return?.();
            } else {
              scans.push(s);
            }
          } else if (x < 0.8 && scans.length) {
            const s = scans[Math.floor(r() * scans.length)];
            drain(s, 1 + Math.floor(r() * 200), ctx);
            if (s.pos > s.want.length) scans.splice(scans.indexOf(s), 1);
          } else if (x < 0.83) {
            db.checkpoint();
          } else if (x < 0.84) {
            closeScans();
            db.close();
            db = openDb(t.dir);
          } else if (x < 0.86) {
            // seek on a fresh scan (ascending: first key >= target)
            const target = Math.floor(r() * NK);
            const it = db.scan()[Symbol.iterator]() as unknown as OpenScan['it'];
            it.seek(keyOf(target));
            const want = expected(m, target, NK - 1, undefined, false, 20);
            for (const k of want) {
              const n2 = it.next();
              assert.ok(!n2.done, ctx(`seek ${target}: ended before ${k}`));
              assert.ok(n2.value[0].equals(keyOf(k)), ctx(`seek ${target}: key ${n2.value[0].toString('hex')} where ${k}`));
              assert.ok(n2.value[1].equals(m.get(k)!), ctx(`seek ${target}: value of ${k}`));
            }
            if (want.length < 20) assert.ok(it.next().done, ctx(`seek ${target}: extra entries`));
            it.return?.();
          }
        }
        closeScans();
        const all = expected(m, 0, NK - 1, undefined, false, Infinity);
        let j = 0;
        for (const [k, v] of db.scan()) {
          assert.ok(j < all.length, ctx('final scan: extra key'));
          assert.ok(Buffer.from(k).equals(keyOf(all[j])) && Buffer.from(v).equals(m.get(all[j])!), ctx(`final scan at ${all[j]}`));
          j++;
        }
        assert.equal(j, all.length, ctx('final scan: count'));
        db.check();
      } finally {
        closeScans();
        db.close();
        t.remove();
      }
    });
  }
});

/** Reads up to n entries of an open scan; each must be the next of its
 * snapshot's expected entries; at the end, done. pos > want.length marks
 * a scan read to its end. */
function drain(s: OpenScan, n: number, ctx: (w: string) => string): void {
  for (let j = 0; j < n; j++) {
    const nx = s.it.next();
    if (s.pos === s.want.length) {
      assert.ok(nx.done, ctx(`scan: an entry past the snapshot's last (${nx.value?.[0]?.toString('hex')})`));
      s.pos++;
      return;
    }
    assert.ok(!nx.done, ctx(`scan ended at ${s.pos} of ${s.want.length}`));
    const [k, v] = nx.value;
    const [wi, wv] = s.want[s.pos];
    assert.ok(k.equals(keyOf(wi)), ctx(`scan entry ${s.pos}: key ${k.toString('hex')} where ${keyOf(wi).toString('hex')}`));
    assert.ok(v.equals(wv), ctx(`scan entry ${s.pos}: value of ${wi}`));
    s.pos++;
  }
}
