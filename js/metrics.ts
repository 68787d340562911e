/**
 * metrics.ts — turns the engine's raw counters (EngineStats) into the public
 * metrics object, the Prometheus text exposition and the health check.
 * Pure arithmetic: no engine calls, no Node modules (also runs in browsers).
 */
import type { EngineStats } from './engine.js';

export interface LatencySummary {
  /** microseconds */
  p50: number;
  /** microseconds */
  p99: number;
}

export interface Metrics {
  engine: 'native' | 'wasm';
  uptimeSeconds: number;
  /** gets + puts + deletes per second: since the engine opened, and since
   * the previous metrics() call on this handle (or since open). */
  opsPerSec: { sinceOpen: number; lastInterval: number };
  gets: number;
  puts: number;
  deletes: number;
  batches: number;
  commits: number;
  conflicts: number;
  aborts: number;
  cacheHits: number;
  cacheMisses: number;
  cacheEvictions: number;
  /** hits / (hits + misses); 1 before any page was looked up */
  cacheHitRate: number;
  cacheBytes: number;
  cacheCapacity: number;
  activeTransactions: number;
  activeSnapshots: number;
  latency: { get: LatencySummary; commit: LatencySummary };
  memtableBytes: number;
  dataFileSize: number;
  logFileSize: number;
  pageSize: number;
  pageCount: number;
  freePages: number;
  bytesRead: number;
  bytesWritten: number;
  syncs: number;
  checkpoints: number;
  lastSeq: number;
  checkpointSeq: number;
  /** 'OK', or the error code that stopped background work (it is retried) */
  backgroundError: string;
}

export interface HealthReport {
  healthy: boolean;
  issues: string[];
  closed: boolean;
  backgroundError: string;
  cacheHitRate: number | null;
  activeTransactions: number;
  memtableBytes: number;
  checkedAt: string;
}

/** The p-th percentile (0 < p <= 100) of a log2 histogram in ns, bucket i
 * = [2^i, 2^(i+1)) (bucket 0 from 0), interpolated within the bucket; 0 for
 * an empty histogram. Same rule as the core's ldb_hist_percentile. */
export function histPercentile(hist: readonly number[], p: number): number {
  let total = 0;
  for (const c of hist) total += c;
  if (total === 0) return 0;
  const target = (p / 100) * total;
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    const c = hist[i]!;
    if (c === 0) continue;
    if (seen + c >= target) {
      const lo = i === 0 ? 0 : 2 ** i;
      const hi = 2 ** (i + 1);
      return lo + ((hi - lo) * Math.max(0, target - seen)) / c;
    }
    seen += c;
  }
  return 2 ** hist.length;
}

export interface IntervalMark {
  ops: number;
  uptimeNs: number;
}

const round = (x: number, digits = 3) => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

export function computeMetrics(
  s: EngineStats,
  engine: 'native' | 'wasm',
  prev: IntervalMark,
): { metrics: Metrics; mark: IntervalMark } {
  const ops = s.gets + s.puts + s.deletes;
  const up = s.uptimeNs / 1e9;
  const dt = (s.uptimeNs - prev.uptimeNs) / 1e9;
  const lookups = s.cacheHits + s.cacheMisses;
  const us = (h: number[], p: number) => round(histPercentile(h, p) / 1000);
  const metrics: Metrics = {
    engine,
    uptimeSeconds: round(up),
    opsPerSec: {
      sinceOpen: up > 0 ? round(ops / up, 1) : 0,
      lastInterval: dt > 0 ? round(Math.max(0, ops - prev.ops) / dt, 1) : 0,
    },
    gets: s.gets, puts: s.puts, deletes: s.deletes, batches: s.batches,
    commits: s.commits, conflicts: s.conflicts, aborts: s.aborts,
    cacheHits: s.cacheHits, cacheMisses: s.cacheMisses, cacheEvictions: s.cacheEvictions,
    cacheHitRate: lookups > 0 ? round(s.cacheHits / lookups, 4) : 1,
    cacheBytes: s.cacheBytes, cacheCapacity: s.cacheCapacity,
    activeTransactions: s.activeTxns, activeSnapshots: s.activeSnapshots,
    latency: {
      get: { p50: us(s.getLatency, 50), p99: us(s.getLatency, 99) },
      commit: { p50: us(s.commitLatency, 50), p99: us(s.commitLatency, 99) },
    },
    memtableBytes: s.memtableBytes, dataFileSize: s.dataFileSize, logFileSize: s.logFileSize,
    pageSize: s.pageSize, pageCount: s.pageCount, freePages: s.freePages,
    bytesRead: s.bytesRead, bytesWritten: s.bytesWritten, syncs: s.syncs,
    checkpoints: s.checkpoints, lastSeq: s.lastSeq, checkpointSeq: s.checkpointSeq,
    backgroundError: s.backgroundError,
  };
  return { metrics, mark: { ops, uptimeNs: s.uptimeNs } };
}

type Family = { name: string; type: 'counter' | 'gauge'; help: string; value: number };

/** Prometheus text exposition format (version 0.0.4) of the statistics.
 * Latencies are histograms in seconds with the engine's power-of-two
 * buckets; their _sum is estimated from bucket midpoints (the engine keeps
 * counts, not sums). */
export function prometheusText(s: EngineStats, m: Metrics): string {
  const families: Family[] = [
    { name: 'up', type: 'gauge', help: 'Whether the database handle is open (1).', value: 1 },
    { name: 'uptime_seconds', type: 'gauge', help: 'Seconds since the engine was opened.', value: s.uptimeNs / 1e9 },
    { name: 'gets_total', type: 'counter', help: 'Key lookups.', value: s.gets },
    { name: 'puts_total', type: 'counter', help: 'Keys written.', value: s.puts },
    { name: 'deletes_total', type: 'counter', help: 'Keys deleted.', value: s.deletes },
    { name: 'batches_total', type: 'counter', help: 'Atomic write batches committed.', value: s.batches },
    { name: 'commits_total', type: 'counter', help: 'Commits applied (single operations, batches and transactions).', value: s.commits },
    { name: 'conflicts_total', type: 'counter', help: 'Transaction commits refused with CONFLICT.', value: s.conflicts },
    { name: 'aborts_total', type: 'counter', help: 'Transactions aborted.', value: s.aborts },
    { name: 'cache_hits_total', type: 'counter', help: 'Page cache hits.', value: s.cacheHits },
    { name: 'cache_misses_total', type: 'counter', help: 'Page cache misses.', value: s.cacheMisses },
    { name: 'cache_evictions_total', type: 'counter', help: 'Pages evicted from the cache.', value: s.cacheEvictions },
    { name: 'cache_hit_ratio', type: 'gauge', help: 'Page cache hits / lookups since open (1 before any lookup).', value: m.cacheHitRate },
    { name: 'cache_bytes', type: 'gauge', help: 'Bytes held in the page cache.', value: s.cacheBytes },
    { name: 'cache_capacity_bytes', type: 'gauge', help: 'Page cache byte budget.', value: s.cacheCapacity },
    { name: 'read_bytes_total', type: 'counter', help: 'Bytes read through the store.', value: s.bytesRead },
    { name: 'written_bytes_total', type: 'counter', help: 'Bytes written through the store.', value: s.bytesWritten },
    { name: 'syncs_total', type: 'counter', help: 'Store syncs (fsync or equivalent).', value: s.syncs },
    { name: 'checkpoints_total', type: 'counter', help: 'Checkpoints completed.', value: s.checkpoints },
    { name: 'active_transactions', type: 'gauge', help: 'Open transactions.', value: s.activeTxns },
    { name: 'active_snapshots', type: 'gauge', help: 'Open snapshots (transactions and iterators).', value: s.activeSnapshots },
    { name: 'memtable_bytes', type: 'gauge', help: 'Committed bytes not yet checkpointed into the B+tree.', value: s.memtableBytes },
    { name: 'data_file_bytes', type: 'gauge', help: 'Size of the data file.', value: s.dataFileSize },
    { name: 'log_file_bytes', type: 'gauge', help: 'Size of the write-ahead log files.', value: s.logFileSize },
    { name: 'page_size_bytes', type: 'gauge', help: 'Page size of the data file.', value: s.pageSize },
    { name: 'pages', type: 'gauge', help: 'Pages in the data file.', value: s.pageCount },
    { name: 'free_pages', type: 'gauge', help: 'Free pages in the data file.', value: s.freePages },
    { name: 'last_seq', type: 'gauge', help: 'Sequence number of the last commit.', value: s.lastSeq },
    { name: 'checkpoint_seq', type: 'gauge', help: 'Last sequence number merged into the B+tree.', value: s.checkpointSeq },
    { name: 'ops_per_second', type: 'gauge', help: 'Gets, puts and deletes per second since open.', value: m.opsPerSec.sinceOpen },
    { name: 'background_error', type: 'gauge', help: 'Whether background work (checkpoint, sync) is failing (1) or not (0).', value: s.backgroundError === 'OK' ? 0 : 1 },
  ];
  const lines: string[] = [];
  for (const f of families) {
    const name = `lightningdb_${f.name}`;
    lines.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`, `${name} ${fmt(f.value)}`);
  }
  histogram(lines, 'lightningdb_get_latency_seconds', 'Latency of sampled gets.', s.getLatency);
  histogram(lines, 'lightningdb_commit_latency_seconds', 'Latency of sampled commits.', s.commitLatency);
  return lines.join('\n') + '\n';
}

function fmt(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  return String(v);
}

function histogram(lines: string[], name: string, help: string, hist: number[]) {
  lines.push(`# HELP ${name} ${help} Buckets are powers of two nanoseconds; _sum is estimated.`);
  lines.push(`# TYPE ${name} histogram`);
  let last = 0;
  for (let i = 0; i < hist.length; i++) if (hist[i]! > 0) last = i;
  let cum = 0;
  let sum = 0;
  for (let i = 0; i <= last; i++) {
    const c = hist[i]!;
    cum += c;
    sum += c * ((i === 0 ? 1 : 1.5 * 2 ** i) / 1e9);
    lines.push(`${name}_bucket{le="${fmt(2 ** (i + 1) / 1e9)}"} ${cum}`);
  }
  lines.push(`${name}_bucket{le="+Inf"} ${cum}`);
  lines.push(`${name}_sum ${fmt(sum)}`);
  lines.push(`${name}_count ${cum}`);
}

/** Health rules; thresholds are documented in the README. */
export function healthReport(
  m: Metrics | null,
  limits: { memtableSize: number; maxActiveTransactions: number },
): HealthReport {
  const checkedAt = new Date().toISOString();
  if (m === null) {
    return {
      healthy: false, issues: ['the database is closed'], closed: true, backgroundError: 'CLOSED',
      cacheHitRate: null, activeTransactions: 0, memtableBytes: 0, checkedAt,
    };
  }
  const issues: string[] = [];
  if (m.backgroundError !== 'OK') {
    const hint = m.backgroundError === 'FULL' ? ' (disk full: free space)'
      : m.backgroundError === 'IO' ? ' (disk I/O errors: check the device)' : '';
    issues.push(`background checkpoint/sync is failing with ${m.backgroundError}${hint}; it is retried`);
  }
  const lookups = m.cacheHits + m.cacheMisses;
  if (lookups >= 10000 && m.cacheHitRate < 0.5) {
    issues.push(`page cache hit rate is ${(m.cacheHitRate * 100).toFixed(1)}%: consider a larger cacheSize`);
  }
  if (limits.memtableSize > 0 && m.memtableBytes > 4 * limits.memtableSize) {
    issues.push(`memtable holds ${m.memtableBytes} bytes, over 4x memtableSize: checkpoints are falling behind`);
  }
  if (limits.maxActiveTransactions > 0 && m.activeTransactions >= 0.9 * limits.maxActiveTransactions) {
    issues.push(`${m.activeTransactions} open transactions, near maxActiveTransactions (${limits.maxActiveTransactions})`);
  }
  return {
    healthy: issues.length === 0, issues, closed: false, backgroundError: m.backgroundError,
    cacheHitRate: m.cacheHitRate, activeTransactions: m.activeTransactions,
    memtableBytes: m.memtableBytes, checkedAt,
  };
}
