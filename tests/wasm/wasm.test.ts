/**
 * wasm.test.ts — what only the WebAssembly build has, tested in Node:
 * the JS store bridge (error mapping, quota -> FULL, I/O errors -> IO),
 * heap growth with large values, the Node file store's lock, crash images,
 * and portability of database files between the native and the wasm build.
 * (The shared API suite runs on the wasm backends via npm run test:wasm.)
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { Database } from '../../js/database.js';
import { LightningDbError } from '../../js/errors.js';
import { WasmEngine } from '../../js/wasm/engine.js';
import { loadNodeModule, openWasm, wasmDir } from '../../js/wasm/node.js';
import { loadModule } from '../../js/wasm/module.js';
import { MemoryStore } from '../../js/wasm/stores/memory.js';
import { StoreError, type PageStore } from '../../js/wasm/stores/types.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ldb-wasm-test-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const dir = () => path.join(tmp, `db-${++n}`);
const enc = new TextEncoder();
const b = (s: string) => enc.encode(s);

function value(i: number, len: number): Uint8Array {
  const v = new Uint8Array(len);
  for (let j = 0; j < len; j++) v[j] = (i * 31 + j * 7) & 0xff;
  return v;
}

/** A store that fails writes once a byte budget is spent (a quota), or
 * fails every operation of a kind with an I/O error on demand. */
class FaultStore extends MemoryStore {
  budget = Infinity;
  failSync = false;
  override write(fid: number, off: number, src: Uint8Array): void {
    if (src.length > this.budget) {
      const e = new Error('The quota has been exceeded.');
      e.name = 'QuotaExceededError';
      throw e;
    }
    this.budget -= src.length;
    super.write(fid, off, src);
  }
  override sync(fid: number): void {
    if (this.failSync) throw new StoreError('IO', 'injected sync failure');
    super.sync(fid);
  }
}

async function faultEngine(store: PageStore): Promise<WasmEngine> {
  return new WasmEngine(await loadNodeModule(), () => store);
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof LightningDbError, `expected LightningDbError, got ${String(e)}`);
    return e.code;
  }
  return undefined;
}

describe('wasm: store bridge', () => {
  it('a quota error from the store surfaces as FULL; committed data survives and the db recovers', async () => {
    const store = new FaultStore('memory:quota');
    const db = new Database(await faultEngine(store), 'quota', { syncMode: 'full' });
    const committed: number[] = [];
    store.budget = 256 * 1024;
    let got: string | undefined;
    for (let i = 0; i < 1000 && !got; i++) {
      got = code(() => db.put(b(`k${i}`), value(i, 4000)));
      if (!got) committed.push(i);
    }
    assert.equal(got, 'FULL');
    assert.ok(committed.length > 10, `only ${committed.length} puts before FULL`);
    for (const i of committed) assert.deepEqual(new Uint8Array(db.get(b(`k${i}`))!), value(i, 4000));
    store.budget = Infinity; // space returns
    db.put(b('after'), b('ok'));
    assert.equal(new TextDecoder().decode(db.get(b('after'))), 'ok');
    db.close();
    const again = new Database(await faultEngine(store), 'quota', {});
    for (const i of committed) assert.deepEqual(new Uint8Array(again.get(b(`k${i}`))!), value(i, 4000));
    again.check();
    again.close();
  });

  it('an I/O error from the store surfaces as IO and the db recovers', async () => {
    const store = new FaultStore('memory:io');
    const db = new Database(await faultEngine(store), 'io', { syncMode: 'full' });
    db.put(b('a'), b('1'));
    store.failSync = true;
    let err: unknown;
    try {
      db.put(b('b'), b('2'));
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof LightningDbError);
    assert.equal(err.code, 'IO');
    assert.ok(err.message.length > 0);
    store.failSync = false;
    db.put(b('c'), b('3'));
    assert.equal(new TextDecoder().decode(db.get(b('a'))), '1');
    db.close();
  });

  it('values of several MiB round-trip (heap growth) and scans return copies', async () => {
    const db = await openWasm(dir());
    const big = value(7, 12 << 20);
    db.put(b('big'), big);
    db.put(b('small'), b('x'));
    const got = db.get(b('big'))!;
    assert.equal(got.length, big.length);
    assert.ok(Buffer.compare(Buffer.from(got), Buffer.from(big)) === 0);
    const entries = [...db.scan()];
    assert.equal(entries.length, 2);
    assert.equal(entries[0]![1].length, big.length);
    db.close();
  });

  it('keys and values come back as Buffers in Node, as from the native engine', async () => {
    const db = await openWasm(dir(), { store: 'memory' });
    db.put('k', 'v');
    assert.ok(Buffer.isBuffer(db.get('k')));
    db.close();
  });
});

describe('wasm: heap', () => {
  it('repeated operations do not leak wasm heap (scratch buffers, iterators, transactions, batches)', async () => {
    const store = new MemoryStore('memory:leak');
    const engine = await faultEngine(store);
    // The smallest cache (16 pages), full after the warm-up: it grows with
    // the data file until then, and the file's size depends on free-page reuse.
    const db = new Database(engine, 'leak', { syncMode: 'off', cacheSize: 64 << 10, memtableSize: 1 << 20 });
    const round = (r: number) => {
      for (let i = 0; i < 2000; i++) {
        db.put(b(`k${i % 500}`), value(i + r, 200));
        db.get(b(`k${(i * 7) % 500}`));
        if (i % 50 === 0) {
          let n = 0;
          for (const _ of db.scan({ gte: b('k1'), limit: 20 })) n++;
          db.transaction((tx) => {
            tx.get(b('k1'));
            tx.put(b('t'), b(String(n)));
          });
          db.batch([{ type: 'put', key: b('x'), value: b('y') }, { type: 'del', key: b('x') }]);
          try {
            db.put(new Uint8Array(2000), b('too long key')); // an error path
          } catch {
            /* INVALID_ARGUMENT */
          }
        }
      }
    };
    for (let r = 0; r < 3; r++) round(r); // warm up: cache, memtable, scratch
    // Measured with the memtable merged away (it is bounded, but its size
    // at any moment depends on where the checkpoint cycle is).
    const used = () => {
      db.checkpoint();
      return engine.heapBytes();
    };
    const before = used();
    for (let r = 3; r < 13; r++) round(r);
    // The cache and memtable are bounded and warm; what remains allocated
    // must not grow with the number of operations.
    const after = used();
    assert.ok(after <= before + 4096, `malloc'd bytes grew from ${before} to ${after}`);
    db.close();
  });
});

describe('wasm: idle maintenance', () => {
  it("'normal' mode: the log is synced within syncIntervalMs without another commit", async () => {
    class Counting extends MemoryStore {
      syncs = 0;
      override sync(fid: number): void {
        this.syncs++;
        super.sync(fid);
      }
    }
    const store = new Counting('memory:idle');
    const db = new Database(await faultEngine(store), 'idle', { syncMode: 'normal', syncIntervalMs: 50 });
    db.put(b('warm'), b('up'));
    await new Promise((r) => setTimeout(r, 200));
    const before = store.syncs;
    db.put(b('k'), b('v'));
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(store.syncs > before, `no sync after an idle interval (${before} -> ${store.syncs})`);
    db.close();
  });
});

describe('wasm: idle maintenance (ldb_maintain)', () => {
  it('a checkpoint started by a commit finishes while the database is idle', async () => {
    const engine = await faultEngine(new MemoryStore('memory:idle-ckpt'));
    const db = engine.open('idle-ckpt', { syncMode: 'off', memtableSize: 64 << 10 });
    db.write(Array.from({ length: 400 }, (_, i) => ({ type: 'put' as const, key: b(`k${String(i).padStart(4, '0')}`), value: value(i, 1000) })));
    const started = db.stats();
    assert.ok(started.memtableBytes >= 64 << 10 || started.checkpoints > 0, 'the batch did not start a checkpoint');
    for (let i = 0; i < 50 && db.stats().memtableBytes > 0; i++) await new Promise((r) => setTimeout(r, 20));
    const s = db.stats();
    assert.ok(s.checkpoints >= 1, `no checkpoint completed (${s.checkpoints})`);
    assert.equal(s.memtableBytes, 0, 'the memtable was merged without another call');
    db.close();
  });
});

describe('wasm: Node file store', () => {
  it('a LOCK held by another live process gives BUSY naming its pid', async function () {
    const d = dir();
    const db = await openWasm(d);
    db.put('a', 'b');
    db.close();
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    try {
      fs.writeFileSync(path.join(d, 'LOCK'), `${child.pid}\n`);
      let err: unknown;
      try {
        await openWasm(d);
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof LightningDbError, String(err));
      assert.equal(err.code, 'BUSY');
      assert.match(err.message, new RegExp(String(child.pid)));
    } finally {
      child.kill();
    }
    await new Promise((r) => child.once('exit', r));
    const db2 = await openWasm(d); // holder gone: stale LOCK is taken over
    assert.equal(String(db2.get('a')), 'b');
    db2.close();
  });

  it('a second open of an open database in the same process shares the engine', async () => {
    const d = dir();
    const a = await openWasm(d);
    const c = await openWasm(d);
    a.put('x', '1');
    assert.equal(String(c.get('x')), '1');
    a.close();
    assert.equal(String(c.get('x')), '1');
    c.close();
  });

  it('the files of an open database (a crash image) recover every synced commit', async () => {
    const d = dir();
    const db = await openWasm(d, { syncMode: 'full' });
    for (let i = 0; i < 200; i++) db.put(`k${i}`, `v${i}`);
    const image = dir();
    fs.cpSync(d, image, { recursive: true });
    fs.rmSync(path.join(image, 'LOCK'), { force: true });
    db.close();
    const r = await openWasm(image);
    for (let i = 0; i < 200; i++) assert.equal(String(r.get(`k${i}`)), `v${i}`);
    r.check();
    r.close();
  });
});

describe('wasm: portability with the native build', () => {
  let native: typeof import('../../js/index.js') | null = null;
  before(async function () {
    try {
      native = await import('../../js/index.js');
      native.version(); // loads the addon
    } catch (e) {
      if (process.env.LDB_SKIP_NATIVE === '1') this.skip();
      throw new Error(`the native addon is needed for the portability test (build it with npm run build, or set LDB_SKIP_NATIVE=1): ${(e as Error).message}`);
    }
  });

  for (const compression of ['none', 'lz4', 'zstd'] as const) {
    it(`a database written natively opens in wasm and back (compression ${compression})`, async () => {
      const d = dir();
      const nat = native!.open(d, { compression, pageSize: 4096 });
      for (let i = 0; i < 2000; i++) nat.put(`key-${String(i).padStart(5, '0')}`, Buffer.from(value(i, 100 + (i % 7) * 300)));
      nat.put('big', Buffer.from(value(1, 300000)));
      nat.checkpoint();
      for (let i = 2000; i < 2100; i++) nat.put(`key-${String(i).padStart(5, '0')}`, Buffer.from(value(i, 50))); // in the log only
      nat.close();

      const w = await openWasm(d, { compression });
      w.check();
      for (let i = 0; i < 2100; i++) {
        const v = w.get(`key-${String(i).padStart(5, '0')}`);
        assert.ok(v, `key ${i} missing in wasm`);
        assert.deepEqual(new Uint8Array(v), value(i, i < 2000 ? 100 + (i % 7) * 300 : 50));
      }
      assert.equal(w.get('big')!.length, 300000);
      w.delete('key-00000');
      for (let i = 0; i < 500; i++) w.put(`wasm-${i}`, Buffer.from(value(i, 700)));
      w.checkpoint();
      w.put('wasm-log-only', 'yes');
      w.close();

      const back = native!.open(d);
      back.check();
      assert.equal(back.get('key-00000'), undefined);
      assert.deepEqual(new Uint8Array(back.get('key-01999')!), value(1999, 100 + (1999 % 7) * 300));
      for (let i = 0; i < 500; i++) assert.deepEqual(new Uint8Array(back.get(`wasm-${i}`)!), value(i, 700));
      assert.equal(String(back.get('wasm-log-only')), 'yes');
      assert.equal([...back.keys({ prefix: 'wasm-' })].length, 501);
      back.close();
    });
  }
});

describe('wasm: loading', () => {
  it('a module that is not WebAssembly (HTML served for it) fails with SETUP naming the source and the option', async () => {
    const { default: factory } = (await import(path.join(wasmDir(), 'lightningdb.mjs'))) as { default: Parameters<typeof loadModule>[0]['factory'] };
    const printed = console.warn;
    console.warn = () => {}; // Emscripten prints its abort too
    let err: unknown;
    try {
      await loadModule({ factory, wasmBinary: enc.encode('<!doctype html><title>404</title>') });
    } catch (e) {
      err = e;
    } finally {
      console.warn = printed;
    }
    assert.equal((err as { code?: string })?.code, 'SETUP', String(err));
    assert.match((err as Error).message, /wasmBinary/);
    assert.match((err as Error).message, /wasmUrl/);
  });
});

describe('wasm: the core contract', () => {
  it('options are set by their names in the core table; a bad one is INVALID_ARGUMENT naming it', async () => {
    const engine = await faultEngine(new MemoryStore('memory:opts'));
    const codeOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return [(e as { code?: string }).code, (e as Error).message] as const;
      }
      return [undefined, ''] as const;
    };
    const [c1, m1] = codeOf(() => engine.open('opts', { pageSize: 1000 }));
    assert.equal(c1, 'INVALID_ARGUMENT');
    assert.match(m1, /page/i);
    const [c2, m2] = codeOf(() => engine.open('opts', { noSuchOption: 1 } as never));
    assert.equal(c2, 'INVALID_ARGUMENT');
    assert.match(m2, /noSuchOption/);
    const db = engine.open('opts', { pageSize: 8192, syncMode: 2, cacheSize: 1 << 20 });
    const s = db.stats() as unknown as Record<string, unknown>;
    assert.equal(s.pageSize, 8192);
    assert.equal(s.cacheCapacity, 1 << 20);
    db.close();
  });

  it('stats() has one entry per row of the core table, histograms as bucket arrays', async () => {
    const engine = await faultEngine(new MemoryStore('memory:stats'));
    const db = engine.open('stats', {});
    db.put(b('k'), b('v'));
    db.get(b('k'));
    db.get(b('missing'));
    const s = db.stats() as unknown as Record<string, unknown>;
    const names = engine.heap.contract.stats.map(([name]) => name);
    assert.deepEqual(Object.keys(s).sort(), [...names].sort());
    assert.equal(s.gets, 2);
    assert.equal(s.puts, 1);
    for (const [name, width] of engine.heap.contract.stats) {
      if (width > 1) assert.ok(Array.isArray(s[name]) && (s[name] as number[]).length === width, name);
      else assert.ok(typeof s[name] === 'number' || typeof s[name] === 'string', name);
    }
    db.close();
  });

  it('the tables in the .wasm are the ones js/contract.ts was generated from (a stale build fails here)', async () => {
    const { ERRORS, STATS, HIST_BUCKETS } = await import('../../js/contract.js');
    const engine = await faultEngine(new MemoryStore('memory:drift'));
    const c = engine.heap.contract;
    assert.deepEqual(c.codeNames, ERRORS.map((e) => e.name));
    assert.deepEqual(c.stats, STATS.map((s) => [s.jsName, s.type === 'histogram' ? HIST_BUCKETS : 1]));
  });

  it('metricsText is the core exposition (ldb_stats_prometheus), with the counters of what ran', async () => {
    const db = await openWasm(dir(), { store: 'memory' });
    db.putBatch(Array.from({ length: 100 }, (_, i): [string, string] => [`k${i}`, 'v']));
    for (let i = 0; i < 7; i++) db.get(`k${i}`);
    const text = db.metricsText();
    assert.match(text, /^# HELP lightningdb_gets_total /m);
    assert.match(text, /^# TYPE lightningdb_gets_total counter$/m);
    assert.match(text, /^lightningdb_gets_total(\{[^}]*\})? 7$/m);
    assert.match(text, /^lightningdb_puts_total(\{[^}]*\})? 100$/m);
    // percentiles are the core's (ldb_stat_table rows), not computed in JS
    assert.match(text, /^# TYPE lightningdb_get_latency_p99_seconds gauge$/m);
    db.close();
  });
});

describe('wasm: scan results own their bytes (issue 9; structure in tests/api/retention.test.ts)', () => {
  it('keeping the keys of a large-value scan keeps little memory alive', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const db = await openWasm(dir(), { store: 'memory', cacheSize: 4 << 20 });
    for (let i = 0; i < 3000; i += 100)
      db.putBatch(Array.from({ length: 100 }, (_, j): [string, Buffer] => [`k${String(i + j).padStart(6, '0')}`, Buffer.from(value(i + j, 4096))]));
    // ArrayBuffers are freed by a concurrent sweeper: collect until settled.
    const settle = async () => {
      for (let i = 0; i < 3; i++) {
        gc();
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    await settle();
    const before = process.memoryUsage().arrayBuffers;
    const kept = [...db.keys()];
    await settle();
    const retained = process.memoryUsage().arrayBuffers - before;
    assert.equal(kept.length, 3000);
    // 3000 keys of 7 bytes; the 12 MB of values scanned must be collectable.
    assert.ok(retained < 2 << 20, `keeping 3000 keys retains ${retained} bytes`);
    db.close();
  });
});

describe('wasm: closing never refuses (issue 8)', () => {
  const closedCode = (fn: () => unknown): string | undefined => {
    try {
      fn();
    } catch (e) {
      return (e as { code?: string }).code;
    }
    return undefined;
  };

  it('closing a database with open iterators and transactions: later calls on them are CLOSED, nothing leaks', async () => {
    const store = new MemoryStore('memory:close');
    const engine = await faultEngine(store);
    const cycle = () => {
      const db = engine.open('close', { syncMode: 'off' });
      db.put(b('a'), b('1'));
      db.put(b('b'), b('2'));
      const it = db.iterate({});
      assert.equal(it.next(1).length, 1);
      const tx = db.begin(false);
      tx.put(b('z'), b('uncommitted'));
      const txIt = tx.iterate({});
      txIt.seek();
      const ro = db.begin(true);
      db.close(); // never refuses
      for (const [name, fn] of [
        ['iterator next', () => it.next(1)],
        ['iterator seek', () => it.seek(b('a'))],
        ['txn get', () => tx.get(b('a'))],
        ['txn put', () => tx.put(b('y'), b('1'))],
        ['txn iterator next', () => txIt.next(1)],
        ['read-only txn get', () => ro.get(b('a'))],
        ['txn commit', () => tx.commit()],
      ] as const) assert.equal(closedCode(fn), 'CLOSED', name);
      it.close();
      txIt.close();
      tx.abort();
      ro.abort();
    };
    cycle();
    const base = engine.heapBytes();
    for (let i = 0; i < 20; i++) cycle();
    assert.ok(engine.heapBytes() <= base + 1024, `heap grew from ${base} to ${engine.heapBytes()}`);
    const db = engine.open('close', {});
    assert.equal(db.get(b('z')), undefined, 'the open transaction was discarded');
    assert.equal(new TextDecoder().decode(db.get(b('b'))), '2');
    db.close();
  });

  it('ending a transaction invalidates its iterators (CLOSED), and the database stays usable', async () => {
    const engine = await faultEngine(new MemoryStore('memory:txend'));
    const db = engine.open('txend', {});
    db.put(b('a'), b('1'));
    for (const end of ['commit', 'abort'] as const) {
      const tx = db.begin(false);
      tx.put(b(end), b('x'));
      const it = tx.iterate({});
      assert.ok(it.next(10).some(([k]) => new TextDecoder().decode(k) === end), `${end}: the iterator sees the write`);
      it.seek();
      tx[end]();
      assert.equal(closedCode(() => it.next(1)), 'CLOSED', end);
      assert.equal(closedCode(() => it.seek()), 'CLOSED', end);
      it.close();
    }
    assert.ok(db.get(b('commit')));
    assert.equal(db.get(b('abort')), undefined);
    assert.equal(db.stats().activeSnapshots, 0);
    db.close();
  });

  it('iterators and transactions dropped without closing are freed by the garbage collector', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const engine = await faultEngine(new MemoryStore('memory:gc'));
    const db = engine.open('gc', {});
    for (let i = 0; i < 100; i++) db.put(b(`k${i}`), value(i, 100));
    const drop = () => {
      for (let i = 0; i < 200; i++) {
        db.iterate({}).next(5);
        db.begin(i % 2 === 0).get(b('k1'));
      }
    };
    drop();
    assert.ok(db.stats().activeSnapshots >= 400);
    for (let i = 0; i < 20 && db.stats().activeSnapshots > 0; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(db.stats().activeSnapshots, 0, 'snapshots of dropped iterators and transactions were released');
    db.close();
  });
});
