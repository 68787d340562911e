/**
 * threads.mjs — the thread-scaling rows (readrandom_1w, readrandom_2w) of
 * the Node benchmark: `readers()` is the host hook the per-store child passes
 * to runWorkloads (see workloads.mjs); run as a worker_thread, this same file
 * is one reader.
 *
 * Each reader opens its own handle on the database the child's main thread
 * loaded and keeps open (the way an application shares one database between
 * worker_threads), makes its keys, reports ready, waits for the start
 * message, does `count` random gets of present keys (every one must be found)
 * and reports done (an untimed warm-up of up to 20,000 of the same gets runs
 * before it reports ready). The main thread times from the start message to the last
 * done, so thread start-up, module loading and opening are not timed. Stores
 * that cannot share a database between threads here (the WebAssembly engine:
 * each worker would load its own engine, which the file lock refuses) give
 * no row.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { KEY_BYTES, writeKey, rng } from './workloads.mjs';

/** Opens a reader's handle: store name -> (dbPath) => { get(key), close() }. */
const OPENERS = {
  async lightningdb(p) {
    const { loadNative } = await import('./lightningdb.mjs');
    const ldb = await loadNative();
    const db = ldb.open(p, { cacheSize: 64 << 20 });
    return { get: (k) => db.get(k), close: () => db.close() };
  },
  async lmdb(p) {
    const { open } = await import('lmdb');
    const db = open({ path: p, keyEncoding: 'binary', encoding: 'binary', noSync: true, mapSize: 8 * 1024 ** 3 });
    return { get: (k) => db.getBinary(k), close: () => db.close() };
  },
  async 'classic-level'(p) {
    const { ClassicLevel } = await import('classic-level');
    const db = new ClassicLevel(p, { keyEncoding: 'buffer', valueEncoding: 'buffer', cacheSize: 64 << 20, multithreading: true });
    await db.open();
    return { get: (k) => db.getSync(k), close: () => db.close() };
  },
  async 'better-sqlite3'(p) {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(p, { readonly: true });
    db.pragma('cache_size = -65536');
    const get = db.prepare('SELECT v FROM kv WHERE k = ?').pluck();
    return { get: (k) => get.get(k), close: () => db.close() };
  },
};

export const canShareBetweenThreads = (store) => Object.hasOwn(OPENERS, store);

/**
 * Runs `threads` readers of `perThread` gets each on the database at dbPath
 * (opened by OPENERS[store]); n = keys in the database. Resolves to
 * { ops, ms }.
 */
export function readers(store, dbPath, n, threads, perThread) {
  return new Promise((resolve, reject) => {
    const ws = [];
    let ready = 0, done = 0, ops = 0, t0 = 0, failed = false;
    const fail = (e) => {
      if (failed) return;
      failed = true;
      for (const w of ws) w.terminate();
      reject(e instanceof Error ? e : new Error(String(e)));
    };
    for (let t = 0; t < threads; t++) {
      const w = new Worker(new URL(import.meta.url), { workerData: { store, dbPath, n, count: perThread, seed: 1000 + t } });
      ws.push(w);
      w.on('error', fail);
      w.on('exit', (code) => { if (code !== 0 && done < threads) fail(new Error(`reader thread exited with ${code}`)); });
      w.on('message', (m) => {
        if (m.type === 'ready' && ++ready === threads) {
          t0 = performance.now();
          for (const x of ws) x.postMessage('go');
        } else if (m.type === 'done') {
          ops += m.ops;
          if (++done === threads) {
            const ms = performance.now() - t0;
            Promise.all(ws.map((x) => new Promise((r) => { x.once('exit', r); x.postMessage('close'); })))
              .then(() => resolve({ ops, ms }), fail);
          }
        } else if (m.type === 'error') fail(new Error(m.error));
      });
    }
  });
}

async function reader() {
  const { store, dbPath, n, count, seed } = workerData;
  try {
    const db = await OPENERS[store](dbPath);
    const keys = Buffer.alloc(count * KEY_BYTES);
    const r = rng(seed);
    for (let i = 0; i < count; i++) writeKey(keys, i * KEY_BYTES, 2 * (r() % n));
    const views = new Array(count);
    for (let i = 0; i < count; i++) views[i] = keys.subarray(i * KEY_BYTES, (i + 1) * KEY_BYTES);
    // Untimed warm-up, so the timed loop runs JIT-compiled in every thread.
    for (let i = 0, w = Math.min(count, 20000); i < w; i++) db.get(views[i]);
    parentPort.on('message', async (m) => {
      if (m === 'go') {
        let hits = 0;
        for (let i = 0; i < count; i++) { const v = db.get(views[i]); if (v !== undefined && v !== null) hits++; }
        if (hits !== count) parentPort.postMessage({ type: 'error', error: `reader: ${count - hits} of ${count} keys not found` });
        else parentPort.postMessage({ type: 'done', ops: count });
      } else if (m === 'close') {
        await db.close();
        parentPort.close();
      }
    });
    parentPort.postMessage({ type: 'ready' });
  } catch (e) {
    parentPort.postMessage({ type: 'error', error: String(e && e.stack || e) });
  }
}

if (!isMainThread && workerData && workerData.dbPath) reader();
