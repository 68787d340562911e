/**
 * recommend.ts — tuning advice computed from the diagnostics samples and
 * the latest metrics. Each recommendation carries the number behind it, so
 * an operator can judge it; the thresholds are documented in
 * docs/operations.md. Pure arithmetic: no I/O.
 */
import { MIN_MAPPED_SAMPLES } from '../metrics.js';
import type { Sample } from './sampler.js';

/** The current statistics recommend() reads (metrics() has them all). */
export interface RecommendInput {
  cacheCapacity: number;
  dataFileSize: number;
  logFileSize: number;
  memtableBytes: number;
  pageCount: number;
  freePages: number;
  activeTransactions: number;
  /** 'OK' or the error code name */
  backgroundError: string;
  /** bytes read through the memory mapping (0 or absent: off) */
  mmapBytes?: number;
}

export interface Recommendation {
  id: 'cache_size' | 'page_residency' | 'conflicts' | 'commit_latency' | 'log_size' | 'background_error' | 'free_pages' | 'transactions';
  severity: 'info' | 'warning' | 'critical';
  /** what to do, with the suggested value */
  title: string;
  /** why: the measurement and the threshold */
  detail: string;
  /** the number behind the advice, in `unit` */
  value: number;
  unit: 'ratio' | 'bytes' | 'microseconds' | 'count';
}

const MiB = 1024 * 1024;

/** "64 MiB", "1.5 GiB", "512 B" */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${i === 0 ? v : Number(v.toFixed(v < 10 ? 1 : 0))} ${units[i]}`;
}

/** Thresholds of recommend(); the defaults are documented. */
export interface RecommendOptions {
  /** below this interval hit rate (of the page cache, or of the sampled
   * residency of mapped reads) memory is "too small"; default 0.9 */
  minHitRate?: number;
  /** page lookups the window needs before judging the cache; default 1000 */
  minLookups?: number;
  /** sampled mapped reads (1 in 1024 reads) the window needs before judging
   * their residency; default 100 (about 100,000 reads) */
  minMappedSamples?: number;
  /** share of commits refused with CONFLICT worth acting on; default 0.01 */
  maxConflictRate?: number;
  /** commit p99 worth acting on, µs; default 20000 */
  maxCommitP99?: number;
  /** log size worth acting on; default 256 MiB */
  maxLogBytes?: number;
  /** how many recent samples form the window; default 60 */
  window?: number;
}

/** The recommendations for the last `window` samples and metrics m. */
export function recommend(samples: readonly Sample[], m: RecommendInput | null, o: RecommendOptions = {}): Recommendation[] {
  const out: Recommendation[] = [];
  if (m === null) return out;
  const minHit = o.minHitRate ?? 0.9;
  const minLookups = o.minLookups ?? 1000;
  const win = samples.slice(-(o.window ?? 60));

  if (m.backgroundError !== 'OK') {
    out.push({
      id: 'background_error', severity: 'critical', value: 0, unit: 'count',
      title: m.backgroundError === 'FULL' ? 'Free disk space: background checkpoints and syncs fail with FULL'
        : `Background checkpoint/sync fails with ${m.backgroundError}: check the device and the log`,
      detail: `backgroundError is ${m.backgroundError}; the engine retries, but until it succeeds the log grows and, once the memtables reach their limit, writes are refused with ${m.backgroundError} (log ${formatBytes(m.logFileSize)}, memtables ${formatBytes(m.memtableBytes)}).`,
    });
  }

  // Each sample's hit rate comes from one source: the page cache, or the
  // sampled residency of reads through the memory mapping. They are judged
  // apart (a window may span a change, e.g. a mapping stopped by a failed
  // read), and each says what its own remedy is.
  const by = { cache: { hits: 0, n: 0 }, mapping: { hits: 0, n: 0 } };
  for (const s of win) {
    if (s.cacheHitRate === null) continue;
    const b = by[s.cacheHitSource ?? 'cache'];
    b.n += s.cacheLookups;
    b.hits += s.cacheHitRate * s.cacheLookups;
  }
  // The data file bounds the working set: a cache of its size (rounded up
  // to a power of two, at least twice the current budget) holds it.
  const want = Math.max(m.dataFileSize * 1.25, m.cacheCapacity * 2, 8 * MiB);
  const suggest = 2 ** Math.ceil(Math.log2(want));
  const below = `below ${(minHit * 100).toFixed(0)}%`;
  if (by.cache.n >= minLookups && by.cache.hits / by.cache.n < minHit) {
    const rate = by.cache.hits / by.cache.n;
    out.push({
      id: 'cache_size', severity: rate < 0.5 ? 'critical' : 'warning', value: Math.round(rate * 10000) / 10000, unit: 'ratio',
      title: `Raise cacheSize to ${formatBytes(suggest)} (now ${formatBytes(m.cacheCapacity)})`,
      detail: `The page cache answered ${(rate * 100).toFixed(1)}% of ${by.cache.n} lookups over the last ${win.length} samples (${below}); the data file is ${formatBytes(m.dataFileSize)}.`,
    });
  }
  if (by.mapping.n >= (o.minMappedSamples ?? MIN_MAPPED_SAMPLES) && by.mapping.hits / by.mapping.n < minHit) {
    const rate = by.mapping.hits / by.mapping.n;
    out.push({
      id: 'page_residency', severity: rate < 0.5 ? 'critical' : 'warning', value: Math.round(rate * 10000) / 10000, unit: 'ratio',
      title: `Give the data file (${formatBytes(m.dataFileSize)}) more memory: add RAM, or open with mmapSize: 0 and cacheSize ${formatBytes(suggest)}`,
      detail: `Reads go through the memory mapping, and only ${(rate * 100).toFixed(1)}% of ${by.mapping.n} sampled ones (1 in 1024) found their page resident over the last ${win.length} samples (${below}): `
        + 'the operating system keeps less of the file in memory than the reads touch, so the rest are read from disk. cacheSize does not apply while the mapping is on.',
    });
  }

  const first = win[0];
  const last = win[win.length - 1];
  if (first && last && last !== first) {
    const conflicts = last.conflicts - first.conflicts;
    const commits = last.commits - first.commits;
    const rate = conflicts / Math.max(1, conflicts + commits);
    if (conflicts >= 10 && rate >= (o.maxConflictRate ?? 0.01)) {
      out.push({
        id: 'conflicts', severity: rate >= 0.1 ? 'critical' : 'warning', value: Math.round(rate * 10000) / 10000, unit: 'ratio',
        title: 'Retry on CONFLICT (transaction(fn, { retries: 3 })) or shorten transactions',
        detail: `${conflicts} of ${conflicts + commits} commits (${(rate * 100).toFixed(1)}%) were refused with CONFLICT in the window: transactions overlap on the same keys.`,
      });
    }
  }

  const p99s: number[] = [];
  for (const s of win) {
    for (const [name, l] of Object.entries(s.latency)) if (/commit/.test(name) && l.p99 !== null) p99s.push(l.p99);
  }
  if (p99s.length > 0) {
    const worst = Math.max(...p99s);
    if (worst > (o.maxCommitP99 ?? 20000)) {
      out.push({
        id: 'commit_latency', severity: 'warning', value: worst, unit: 'microseconds',
        title: "Batch writes (putBatch / batch) or use syncMode 'normal' for lower commit latency",
        detail: `Commit p99 reached ${(worst / 1000).toFixed(1)} ms in the window: each durable commit waits for a log sync.`,
      });
    }
  }

  if (m.logFileSize > (o.maxLogBytes ?? 256 * MiB)) {
    out.push({
      id: 'log_size', severity: 'warning', value: m.logFileSize, unit: 'bytes',
      title: 'Checkpoints are not keeping up: lower memtableSize or call checkpoint() in quiet periods',
      detail: `The write-ahead log holds ${formatBytes(m.logFileSize)} (memtable ${formatBytes(m.memtableBytes)}); recovery replays all of it after a crash.`,
    });
  }

  if (m.pageCount >= 1000 && m.freePages / m.pageCount > 0.5) {
    out.push({
      id: 'free_pages', severity: 'info', value: m.freePages, unit: 'count',
      title: 'Compact the file with backup() to a new directory',
      detail: `${m.freePages} of ${m.pageCount} pages (${((m.freePages / m.pageCount) * 100).toFixed(0)}%) are free; new writes reuse them.`,
    });
  }

  if (m.activeTransactions >= 1000) {
    out.push({
      id: 'transactions', severity: 'warning', value: m.activeTransactions, unit: 'count',
      title: 'Close transactions promptly: many are open at once',
      detail: `${m.activeTransactions} transactions are open; each pins a snapshot and the memory of the versions it can see.`,
    });
  }
  return out;
}
