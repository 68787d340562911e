/**
 * workloads.mjs — the benchmark workloads, written once for every store and
 * for both hosts (Node child processes and the browser Worker). No Node
 * imports here: the host passes a clock, a progress callback and a directory
 * sizer in `host`.
 *
 * A store is an adapter object (see bench/node/stores/*.mjs and
 * bench/browser/worker.mjs) with:
 *   open(kind)            kind: 'seq' | 'main' | 'sync' | 'big'; a fresh, empty
 *                         database per kind except 'main' which is reused.
 *   close(kind)           close the handle of that kind.
 *   putBatch(kind, pairs) atomic batch of [key, value] pairs.
 *   put(kind, k, v)       one non-batched put (durable per the kind's mode:
 *                         'sync' = durable before returning, else the store's
 *                         crash-consistent default).
 *   get(kind, k)          value (any byte container) or undefined.
 *   getBatch(kind, keys)  array of values.
 *   scan(kind, reverse)   number of entries visited in a full scan.
 *   seek(kind, k, n)      number of entries visited reading n from k onward.
 *   checkpoint(kind)      optional: moves what the store holds in memory to
 *                         its on-disk structure (LightningDB: checkpoint()),
 *                         called untimed between fill64k and read64k so that
 *                         the reads hit the store's read path for large values.
 * Any of them may return a promise (classic-level, IndexedDB); the loops only
 * await when they get one, so synchronous stores pay no microtask per op.
 *
 * Optional host hooks (Node only; the browser host has none, and then the
 * rows they feed are left out):
 *   cpuMs()                 CPU time of the whole process so far (all threads),
 *                           in ms: each result then also has cpuMs and
 *                           opsPerCpuSec (the steadier rate on a shared machine).
 *   baseline()              called once the key and value material exists and
 *                           before any store is opened: the Node child takes
 *                           its RSS baseline there (peak RSS is reported above it).
 *   readers(kind, threads, perThread)  random gets of present keys from
 *                           `threads` worker_threads, each opening the same
 *                           database (kind 'main', loaded and open in this
 *                           thread too) and doing `perThread` gets; resolves
 *                           to { ops, ms } over all threads (ms from the start
 *                           signal to the last thread's end), or null when the
 *                           store cannot be shared between threads.
 *
 * Keys are 16 bytes: an 8-byte ASCII prefix and a big-endian 64-bit id.
 * Existing keys have even ids, "missing" keys odd ids, so a missing key sorts
 * between two present ones and a lookup walks the whole tree path. Values are
 * slices of a random (incompressible) pool, so compression cannot flatter
 * anyone.
 */

export const KEY_BYTES = 16;
export const VALUE_BYTES = 100;
export const BIG_VALUE_BYTES = 64 * 1024;
export const BATCH = 1000;

/** Counts of every workload for a given N (documented in bench/README.md). */
export function plan(n) {
  const small = (d, lo, hi) => Math.max(lo, Math.min(hi, Math.floor(n / d)));
  return {
    fillseq: n,
    fillrandom: n,
    overwrite: n,
    readrandom: n,
    readmissing: n,
    readseq: n,
    readreverse: n,
    seekrandom: small(20, 20, 10000), // seeks, each followed by 100 nexts
    batchget: Math.max(1, Math.floor(n / 100)) * 100, // keys, in getBatch(100)
    readrandom_1w: Math.min(n, 1000000), // gets in one worker_thread
    readrandom_2w: 2 * Math.min(n, 1000000), // gets, half in each of 2 worker_threads
    mixed: n,
    fillsync: small(100, 50, 2000), // durable single puts: fsync each
    fillasync: n, // async single puts, ASYNC_WINDOW in flight
    fill64k: small(100, 20, 2000), // 64 KiB values, batches of 10
    read64k: small(10, 20, 20000), // random gets of them, after a checkpoint
  };
}

export const WORKLOADS = [
  { name: 'fillseq', unit: 'puts', desc: 'sequential keys, batches of 1,000 (fresh store)' },
  { name: 'fillrandom', unit: 'puts', desc: 'random keys, batches of 1,000 (fresh store)' },
  { name: 'overwrite', unit: 'puts', desc: 'random existing keys, batches of 1,000' },
  { name: 'readrandom', unit: 'gets', desc: 'random existing keys, single gets' },
  { name: 'readmissing', unit: 'gets', desc: 'random absent keys, single gets' },
  { name: 'readseq', unit: 'entries', desc: 'full forward scan' },
  { name: 'readreverse', unit: 'entries', desc: 'full reverse scan' },
  { name: 'seekrandom', unit: 'seeks', desc: 'seek to a random key, then 100 next' },
  { name: 'batchget', unit: 'keys', desc: 'getBatch of 100 random existing keys' },
  { name: 'readrandom_1w', unit: 'gets', desc: 'random gets from 1 worker_thread on the same database' },
  { name: 'readrandom_2w', unit: 'gets', desc: 'random gets from 2 worker_threads at once on the same database (total)' },
  { name: 'mixed', unit: 'ops', desc: '80% random gets / 20% single puts' },
  { name: 'fillsync', unit: 'puts', desc: 'durable single puts (fsync each; smaller count)' },
  { name: 'fillasync', unit: 'puts', desc: 'random keys, single async puts, 10,000 issued before awaiting them (fresh store; stores with an async put)' },
  { name: 'fill64k', unit: 'puts', desc: '64 KiB values, batches of 10 (fresh store)' },
  { name: 'read64k', unit: 'gets', desc: 'random gets of 64 KiB values (after a checkpoint)' },
];

/** xorshift32: deterministic, so every store sees the same key order. */
export function rng(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x;
  };
}

function permutation(n, seed) {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  const r = rng(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = r() % (i + 1);
    const t = p[i]; p[i] = p[j]; p[j] = t;
  }
  return p;
}

const KEY_PREFIX = [0x62, 0x65, 0x6e, 0x63, 0x68, 0x6b, 0x65, 0x79]; // "benchkey"

/** Writes the key of `id` at buf[o..o+16) (buf zero-filled: ids < 2^32 here,
 * so the high 4 bytes of the id stay zero). Key i of the data set is id 2i. */
export function writeKey(buf, o, id) {
  for (let b = 0; b < 8; b++) buf[o + b] = KEY_PREFIX[b];
  buf[o + 12] = (id >>> 24) & 0xff; buf[o + 13] = (id >>> 16) & 0xff;
  buf[o + 14] = (id >>> 8) & 0xff; buf[o + 15] = id & 0xff;
}

/**
 * Key and value material, allocated once so that allocation is not part of
 * any store's time. `makeBytes(len)` returns a Uint8Array-compatible buffer
 * (Buffer in Node, so peers that want Buffers get them).
 */
export function makeData(n, makeBytes) {
  const keys = makeBytes(n * KEY_BYTES); // key i = id 2i (present)
  const missing = makeBytes(n * KEY_BYTES); // id 2i+1 (absent)
  const put = (buf, i, id) => writeKey(buf, i * KEY_BYTES, id);
  for (let i = 0; i < n; i++) { put(keys, i, 2 * i); put(missing, i, 2 * i + 1); }
  const poolLen = 1 << 20;
  const pool = makeBytes(poolLen + BIG_VALUE_BYTES);
  const r = rng(0x9e3779b9);
  for (let i = 0; i < pool.length; i += 4) {
    const x = r();
    pool[i] = x & 0xff; pool[i + 1] = (x >>> 8) & 0xff;
    pool[i + 2] = (x >>> 16) & 0xff; pool[i + 3] = x >>> 24;
  }
  const keyViews = new Array(n);
  const missViews = new Array(n);
  for (let i = 0; i < n; i++) {
    keyViews[i] = keys.subarray(i * KEY_BYTES, (i + 1) * KEY_BYTES);
    missViews[i] = missing.subarray(i * KEY_BYTES, (i + 1) * KEY_BYTES);
  }
  return {
    n,
    key: (i) => keyViews[i],
    missingKey: (i) => missViews[i],
    value: (i) => {
      const o = (i * 97) % (poolLen - VALUE_BYTES);
      return pool.subarray(o, o + VALUE_BYTES);
    },
    bigValue: (i) => {
      const o = (i * 4099) % poolLen;
      return pool.subarray(o, o + BIG_VALUE_BYTES);
    },
    order: permutation(n, 12345),
    order2: permutation(n, 67890),
  };
}

/** Per-op latency: one op in SAMPLE_EVERY is timed (single gets, mixed). */
export const SAMPLE_EVERY = 8;

/** The most latency samples any workload of plan `counts` records (its
 * workloads sample per batch, per seek, per getBatch, per durable put, per
 * 64 KiB get, or one op in SAMPLE_EVERY). */
export function sampleCapacity(counts) {
  return Math.max(
    16,
    Math.ceil(counts.fillseq / BATCH), Math.ceil(counts.fillrandom / BATCH), Math.ceil(counts.overwrite / BATCH),
    Math.ceil(counts.readrandom / SAMPLE_EVERY), Math.ceil(counts.readmissing / SAMPLE_EVERY),
    Math.ceil(counts.mixed / SAMPLE_EVERY), counts.seekrandom, Math.ceil(counts.batchget / 100),
    counts.fillsync, Math.ceil(counts.fillasync / ASYNC_WINDOW), Math.ceil(counts.fill64k / 10), counts.read64k,
  );
}

/** p50/p99 of the first count samples (microseconds); sorts them in place. */
function percentiles(samples, count) {
  if (count === 0) return null;
  const s = samples.subarray(0, count).sort();
  const at = (q) => s[Math.min(count - 1, Math.floor(q * count))];
  return { p50: round(at(0.5)), p99: round(at(0.99)), samples: count };
}
const round = (x) => Math.round(x * 100) / 100;

/** Async puts issued before awaiting them (fillasync). */
const ASYNC_WINDOW = 10000;

const isP = (r) => r !== null && typeof r === 'object' && typeof r.then === 'function';

/**
 * Runs the selected workloads in order on `store`. host = { now() (ms, high
 * resolution), progress(name, done, total), sizeOf(kind) -> bytes | null,
 * only: Set of workload names or null }. Returns one result per workload.
 */
export async function runWorkloads(store, n, host) {
  const counts = plan(n);
  const data = makeData(n, host.makeBytes);
  // One buffer for every workload's latency samples, made with the data and
  // before the baseline. (A Float64Array of one slot per op, made per
  // workload, was 80 MB of ArrayBuffer per workload at N = 10M, dead but
  // counted as V8 external memory until the next full GC: past V8's
  // external-memory limit it started incremental marking of the harness's
  // 2 GB heap of key views in the middle of the next workload; issue 14.)
  const lat = new Float64Array(sampleCapacity(counts));
  if (host.baseline) await host.baseline();
  const results = [];
  const extra = {};
  const want = (w) => !host.only || host.only.has(w);
  const now = host.now;

  // Timing helper: fn(rec, prog) runs the workload and returns the op
  // count; rec(us) records one latency sample.
  async function measure(name, fn) {
    if (!want(name)) return;
    const total = counts[name];
    let nlat = 0;
    const rec = (us) => { if (nlat < lat.length) lat[nlat++] = us; };
    host.progress(name, 0, total);
    const c0 = host.cpuMs ? host.cpuMs() : null;
    const t0 = now();
    const ops = await fn(rec, (done) => host.progress(name, done, total));
    const ms = now() - t0;
    const cpuMs = c0 != null ? host.cpuMs() - c0 : null;
    host.progress(name, total, total);
    const r = {
      workload: name,
      ops,
      ms: round(ms),
      opsPerSec: Math.round(ops / (ms / 1000)),
      ...(cpuMs ? { cpuMs: round(cpuMs), opsPerCpuSec: Math.round(ops / (cpuMs / 1000)) } : {}),
      latencyUs: percentiles(lat, nlat),
    };
    results.push(r);
    return r;
  }

  // Progress is reported every 1/50 of the work; cheap enough to ignore.
  const step = (total) => Math.max(1, Math.floor(total / 50));

  // Batched fill of `count` items in `order`, batches of `bs`; latency per batch.
  async function fill(kind, count, bs, keyOf, valOf, rec, prog) {
    const st = step(count);
    let nextProg = st;
    for (let i = 0; i < count; i += bs) {
      const end = Math.min(count, i + bs);
      const pairs = new Array(end - i);
      for (let j = i; j < end; j++) pairs[j - i] = [keyOf(j), valOf(j)];
      const t = now();
      const r = store.putBatch(kind, pairs);
      if (isP(r)) await r;
      rec((now() - t) * 1000);
      if (end >= nextProg) { prog(end); nextProg = end + st; }
    }
    return count;
  }

  const nothingMissing = (v, what) => {
    if (v === undefined || v === null) throw new Error(`${what}: expected a value, got none`);
  };

  // --- fillseq: its own fresh store, closed afterwards
  if (want('fillseq')) {
    await store.open('seq');
    await measure('fillseq', (rec, prog) => fill('seq', counts.fillseq, BATCH, data.key, data.value, rec, prog));
    await store.close('seq');
  }

  // --- the main store: fillrandom loads it; later workloads read it
  await store.open('main');
  await measure('fillrandom', (rec, prog) =>
    fill('main', n, BATCH, (j) => data.key(data.order[j]), (j) => data.value(data.order[j]), rec, prog));
  if (!want('fillrandom')) {
    // later workloads need data: load it untimed
    await fill('main', n, BATCH, (j) => data.key(data.order[j]), (j) => data.value(data.order[j]), () => {}, () => {});
  }
  if (host.sizeOf) extra.sizeAfterLoad = await host.sizeOf('main');

  await measure('overwrite', (rec, prog) =>
    fill('main', n, BATCH, (j) => data.key(data.order2[j]), (j) => data.value(j + 1), rec, prog));
  if (host.sizeOf && want('overwrite')) extra.sizeAfterOverwrite = await host.sizeOf('main');

  async function reads(name, keyOf, expectHit) {
    return measure(name, async (rec, prog) => {
      const total = counts[name];
      const st = step(total);
      let hits = 0;
      for (let i = 0; i < total; i++) {
        const k = keyOf(i);
        let v;
        if (i % SAMPLE_EVERY === 0) {
          const t = now();
          v = store.get('main', k);
          if (isP(v)) v = await v;
          rec((now() - t) * 1000);
        } else {
          v = store.get('main', k);
          if (isP(v)) v = await v;
        }
        if (v !== undefined && v !== null) hits++;
        if (i % st === 0) prog(i);
      }
      if (expectHit && hits !== total) throw new Error(`${name}: ${total - hits} of ${total} keys not found`);
      if (!expectHit && hits !== 0) throw new Error(`${name}: ${hits} absent keys were found`);
      return total;
    });
  }
  await reads('readrandom', (i) => data.key(data.order2[i]), true);
  await reads('readmissing', (i) => data.missingKey(data.order[i]), false);

  for (const [name, reverse] of [['readseq', false], ['readreverse', true]]) {
    await measure(name, async () => {
      let c = store.scan('main', reverse);
      if (isP(c)) c = await c;
      if (c !== n) throw new Error(`${name}: scanned ${c} entries, expected ${n}`);
      return c;
    });
  }

  await measure('seekrandom', async (rec, prog) => {
    const total = counts.seekrandom;
    const st = step(total);
    let entries = 0;
    for (let i = 0; i < total; i++) {
      const k = data.key(data.order[i]);
      const t = now();
      let c = store.seek('main', k, 100);
      if (isP(c)) c = await c;
      rec((now() - t) * 1000);
      entries += c;
      if (i % st === 0) prog(i);
    }
    if (entries === 0) throw new Error('seekrandom: no entries');
    return total;
  });

  await measure('batchget', async (rec, prog) => {
    const total = counts.batchget;
    const st = step(total);
    const keys = new Array(100);
    for (let i = 0; i < total; i += 100) {
      for (let j = 0; j < 100; j++) keys[j] = data.key(data.order2[(i + j) % n]);
      const t = now();
      let vs = store.getBatch('main', keys);
      if (isP(vs)) vs = await vs;
      rec((now() - t) * 1000);
      if (vs.length !== 100) throw new Error('batchget: wrong result count');
      nothingMissing(vs[0], 'batchget'); nothingMissing(vs[99], 'batchget');
      if (i % st < 100) prog(i);
    }
    return total;
  });

  // Thread scaling: the same random gets from 1, then 2 worker_threads at
  // once, each with its own handle on the database this thread loaded.
  // Timed by the host from the start signal (sent once every worker has
  // opened the store and made its keys) to the last worker's end.
  if (host.readers) {
    for (const [name, threads] of [['readrandom_1w', 1], ['readrandom_2w', 2]]) {
      if (!want(name)) continue;
      host.progress(name, 0, counts[name]);
      const c0 = host.cpuMs ? host.cpuMs() : null;
      const r = await host.readers('main', threads, counts[name] / threads);
      const cpuMs = c0 != null ? host.cpuMs() - c0 : null; // includes the workers' start-up
      host.progress(name, counts[name], counts[name]);
      if (r) results.push({ workload: name, ops: r.ops, ms: round(r.ms), opsPerSec: Math.round(r.ops / (r.ms / 1000)), ...(cpuMs ? { cpuMs: round(cpuMs) } : {}), latencyUs: null, threads });
    }
  }

  await measure('mixed', async (rec, prog) => {
    const total = counts.mixed;
    const st = step(total);
    const r = rng(424242);
    for (let i = 0; i < total; i++) {
      const x = r();
      const id = x % n;
      const t = i % SAMPLE_EVERY === 0 ? now() : 0;
      if ((x >>> 24) % 5 === 0) { // 20% single puts
        const w = store.put('main', data.key(id), data.value(i));
        if (isP(w)) await w;
      } else {
        let v = store.get('main', data.key(id));
        if (isP(v)) v = await v;
        nothingMissing(v, 'mixed');
      }
      if (t) rec((now() - t) * 1000);
      if (i % st === 0) prog(i);
    }
    return total;
  });
  await store.close('main');

  // --- durable single puts: own fresh store in the store's full-sync mode
  if (want('fillsync')) {
    await store.open('sync');
    await measure('fillsync', async (rec, prog) => {
      const total = counts.fillsync;
      for (let i = 0; i < total; i++) {
        const id = data.order[i];
        const t = now();
        const w = store.put('sync', data.key(id), data.value(id));
        if (isP(w)) await w;
        rec((now() - t) * 1000);
        if (i % 10 === 0) prog(i);
      }
      return total;
    });
    await store.close('sync');
  }

  // --- async single puts, ASYNC_WINDOW issued before awaiting them (the
  // `for (...) promises.push(db.put(k, v)); await Promise.all(promises)`
  // of JS scripts): own fresh store, only stores with an async put (the
  // store's non-durable mode); latency per window
  if (want('fillasync') && typeof store.putAsync === 'function') {
    await store.open('async');
    await measure('fillasync', async (rec, prog) => {
      const total = counts.fillasync;
      for (let i = 0; i < total; i += ASYNC_WINDOW) {
        const end = Math.min(total, i + ASYNC_WINDOW);
        const t = now();
        const ps = new Array(end - i);
        for (let j = i; j < end; j++) {
          const id = data.order[j];
          ps[j - i] = store.putAsync('async', data.key(id), data.value(id));
        }
        await Promise.all(ps);
        rec((now() - t) * 1000);
        prog(end);
      }
      return total;
    });
    await store.close('async');
  }

  // --- 64 KiB values: own fresh store
  if (want('fill64k') || want('read64k')) {
    await store.open('big');
    const cnt = counts.fill64k;
    const r1 = await measure('fill64k', (rec, prog) => fill('big', cnt, 10, data.key, data.bigValue, rec, prog));
    if (!r1) await fill('big', cnt, 10, data.key, data.bigValue, () => {}, () => {});
    // Untimed: the values leave the store's write buffers (LightningDB's
    // memtable) for its on-disk structure, where reads of large values go.
    if (want('read64k') && typeof store.checkpoint === 'function') {
      const c = store.checkpoint('big');
      if (isP(c)) await c;
    }
    await measure('read64k', async (rec, prog) => {
      const total = counts.read64k;
      const r = rng(777);
      for (let i = 0; i < total; i++) {
        const k = data.key(r() % cnt);
        const t = now();
        let v = store.get('big', k);
        if (isP(v)) v = await v;
        rec((now() - t) * 1000);
        nothingMissing(v, 'read64k');
        if (v.length !== BIG_VALUE_BYTES) throw new Error(`read64k: value of ${v.length} bytes`);
        if (i % 10 === 0) prog(i);
      }
      return total;
    });
    await store.close('big');
  }
  return { results, ...extra };
}
