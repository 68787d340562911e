/**
 * loadmix.ts — the load test's read/write mix, independent of where the
 * scratch database lives: js/ops/loadtest.ts runs it on a Database in a
 * temporary directory (db.serve(), `lightningdb bench`), and the browser
 * panel (js/ops/panel-remote.ts) on a scratch RemoteDatabase in a Worker.
 * Options, bounds, points and percentiles are defined once, here. No I/O.
 */
import type { SyncMode } from '../database.js';
import { invalidType, typeError, invalid } from '../errors.js';
import { checkOptionKeys, keyList } from '../options.js';

/** Options of runLoadTest(); every field is optional. */
export interface LoadTestOptions {
  /** how long the mix runs, ms; default 5000 */
  durationMs?: number;
  /** share of operations that are gets (0..1); the rest are puts; default 0.8 */
  readRatio?: number;
  /** distinct keys, all written before the mix starts; default 10000 */
  keys?: number;
  /** bytes per value; default 100 */
  valueSize?: number;
  /** the scratch database's page cache, bytes; default 8 MiB */
  cacheSize?: number;
  /** the scratch database's sync mode; default 'normal' */
  syncMode?: SyncMode;
  /** one plotted point per this many ms; default 250 */
  pointMs?: number;
  /** directory of the scratch database (must not hold one); default a new
   * temporary directory, deleted afterwards */
  dir?: string;
}

/** The keys runLoadTest() takes; any other is INVALID_ARGUMENT. */
const LOAD_TEST_KEYS = keyList<LoadTestOptions>({
  durationMs: true, readRatio: true, keys: true, valueSize: true, cacheSize: true, syncMode: true, pointMs: true, dir: true,
});

/** Upper bounds of LoadTestOptions (bad values are INVALID_ARGUMENT). */
export const LOAD_TEST_LIMITS = {
  durationMs: 60000,
  keys: 1_000_000,
  valueSize: 65536,
  /** keys * valueSize */
  preloadBytes: 256 * 1024 * 1024,
  cacheSize: 1024 * 1024 * 1024,
} as const;

/** One plotted point: the operations of the pointMs before `tMs`. */
export interface LoadTestPoint {
  /** ms since the mix started */
  tMs: number;
  opsPerSec: number;
  /** µs; null when the interval had no such operation */
  getP50: number | null;
  getP99: number | null;
  putP50: number | null;
  putP99: number | null;
}

export interface LoadTestResult {
  options: Required<Omit<LoadTestOptions, 'dir'>> & { dir: string };
  preloadMs: number;
  durationMs: number;
  gets: number;
  puts: number;
  opsPerSec: number;
  /** µs over the whole mix */
  getP50: number | null;
  getP99: number | null;
  putP50: number | null;
  putP99: number | null;
  points: LoadTestPoint[];
}

function num(v: unknown, name: string, min: number, max: number, integer: boolean): number {
  if (typeof v !== 'number' || Number.isNaN(v)) throw typeError(`${name} must be a number`);
  if (v < min || v > max || (integer && !Number.isInteger(v))) {
    throw invalid(`${name} must be ${integer ? 'an integer' : 'a number'} in ${min}..${max}, got ${v}`);
  }
  return v;
}

/** Validates and completes options (throws TypeError / INVALID_ARGUMENT). */
export function loadTestOptions(o: LoadTestOptions = {}): Required<Omit<LoadTestOptions, 'dir'>> & { dir?: string } {
  if (o === null || typeof o !== 'object') throw invalidType('load test options', 'an object', o);
  checkOptionKeys(o, LOAD_TEST_KEYS, 'runLoadTest()');
  const L = LOAD_TEST_LIMITS;
  const r = {
    durationMs: num(o.durationMs ?? 5000, 'durationMs', 100, L.durationMs, true),
    readRatio: num(o.readRatio ?? 0.8, 'readRatio', 0, 1, false),
    keys: num(o.keys ?? 10000, 'keys', 1, L.keys, true),
    valueSize: num(o.valueSize ?? 100, 'valueSize', 0, L.valueSize, true),
    cacheSize: num(o.cacheSize ?? 8 * 1024 * 1024, 'cacheSize', 65536, L.cacheSize, true),
    syncMode: o.syncMode ?? 'normal',
    pointMs: num(o.pointMs ?? 250, 'pointMs', 50, 10000, true),
    dir: o.dir,
  };
  if (!['full', 'normal', 'off'].includes(r.syncMode)) throw invalid(`syncMode must be 'full', 'normal' or 'off', got '${r.syncMode}'`);
  if (r.keys * r.valueSize > L.preloadBytes) {
    throw invalid(`keys * valueSize must be at most ${L.preloadBytes} bytes, got ${r.keys * r.valueSize}`);
  }
  if (r.dir !== undefined && (typeof r.dir !== 'string' || r.dir === '')) throw typeError('dir must be a non-empty string');
  return r;
}

function quantile(sorted: Float64Array, q: number): number | null {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.floor(q * sorted.length));
  return Math.round(sorted[i]! * 1000) / 1000;
}

function sortedOf(xs: number[]): Float64Array {
  return Float64Array.from(xs).sort();
}

function keyOf(i: number): Uint8Array {
  const k = new Uint8Array(12);
  k.set([0x6c, 0x74, 0x3a, 0x00]); // "lt:" and a separator
  new DataView(k.buffer).setBigUint64(4, BigInt(i));
  return k;
}

/** Progress callback: phase 'preload' (done/total keys) or 'run' (a new
 * point, with elapsed/duration ms). */
export type LoadTestProgress =
  | { phase: 'preload'; done: number; total: number }
  | { phase: 'run'; point: LoadTestPoint; elapsedMs: number; durationMs: number };

/** The scratch database the mix runs on: synchronous (Database) or
 * returning promises (a RemoteDatabase); a returned promise is awaited, so
 * its time is part of the latency measured. */
export interface MixTarget {
  get(key: Uint8Array): unknown;
  put(key: Uint8Array, value: Uint8Array): unknown;
  putBatch(entries: Array<[Uint8Array, Uint8Array]>): unknown;
}

/**
 * Writes o.keys keys into `db`, then runs the mix for o.durationMs (less
 * when `signal` aborts), in slices of at most 10 ms with `yieldNow()`
 * awaited between them. Resolves with the result (options as completed by
 * loadTestOptions).
 */
export async function runMix<O extends Required<Omit<LoadTestOptions, 'dir'>>>(
  db: MixTarget, o: O, yieldNow: () => Promise<unknown>, onProgress?: (p: LoadTestProgress) => void, signal?: AbortSignal,
): Promise<Omit<LoadTestResult, 'options'> & { options: O }> {
  const value = new Uint8Array(o.valueSize).fill(0x61);
  const t0 = performance.now();
  const batch = Math.max(1, Math.min(1000, Math.floor((1 << 20) / Math.max(1, o.valueSize + 12))));
  for (let i = 0; i < o.keys; i += batch) {
    const entries: Array<[Uint8Array, Uint8Array]> = [];
    for (let j = i; j < Math.min(o.keys, i + batch); j++) entries.push([keyOf(j), value]);
    const w = db.putBatch(entries);
    if (w instanceof Promise) await w;
    onProgress?.({ phase: 'preload', done: Math.min(o.keys, i + batch), total: o.keys });
    if (signal?.aborted) break;
    await yieldNow();
  }
  const preloadMs = performance.now() - t0;
  const points: LoadTestPoint[] = [];
  const allGets: number[] = [];
  const allPuts: number[] = [];
  let gets: number[] = [];
  let puts: number[] = [];
  const start = performance.now();
  let pointStart = start;
  let rnd = 0x2545f491;
  const next = () => { // xorshift32: the same mix on every run
    rnd ^= rnd << 13; rnd >>>= 0; rnd ^= rnd >>> 17; rnd ^= rnd << 5; rnd >>>= 0;
    return rnd / 0x100000000;
  };
  let now = start;
  while (now - start < o.durationMs && !signal?.aborted) {
    const sliceEnd = Math.min(now + 10, start + o.durationMs, pointStart + o.pointMs);
    while (now < sliceEnd) {
      const k = keyOf(Math.floor(next() * o.keys));
      const before = performance.now();
      if (next() < o.readRatio) {
        // Awaited only when it is a promise: a synchronous target stays
        // synchronous within a slice.
        const r = db.get(k);
        if (r instanceof Promise) await r;
        now = performance.now();
        gets.push((now - before) * 1000);
      } else {
        const r = db.put(k, value);
        if (r instanceof Promise) await r;
        now = performance.now();
        puts.push((now - before) * 1000);
      }
    }
    if (now - pointStart >= o.pointMs || now - start >= o.durationMs) {
      const sg = sortedOf(gets);
      const sp = sortedOf(puts);
      const point: LoadTestPoint = {
        tMs: Math.round(now - start),
        opsPerSec: Math.round(((gets.length + puts.length) / (now - pointStart)) * 1000),
        getP50: quantile(sg, 0.5), getP99: quantile(sg, 0.99),
        putP50: quantile(sp, 0.5), putP99: quantile(sp, 0.99),
      };
      points.push(point);
      for (const x of gets) allGets.push(x);
      for (const x of puts) allPuts.push(x);
      gets = [];
      puts = [];
      pointStart = now;
      onProgress?.({ phase: 'run', point, elapsedMs: Math.min(o.durationMs, now - start), durationMs: o.durationMs });
    }
    await yieldNow();
    now = performance.now();
  }
  for (const x of gets) allGets.push(x);
  for (const x of puts) allPuts.push(x);
  const durationMs = Math.max(1, performance.now() - start);
  const sg = sortedOf(allGets);
  const sp = sortedOf(allPuts);
  return {
    options: o,
    preloadMs: Math.round(preloadMs),
    durationMs: Math.round(durationMs),
    gets: allGets.length,
    puts: allPuts.length,
    opsPerSec: Math.round(((allGets.length + allPuts.length) / durationMs) * 1000),
    getP50: quantile(sg, 0.5), getP99: quantile(sg, 0.99),
    putP50: quantile(sp, 0.5), putP99: quantile(sp, 0.99),
    points,
  };
}
