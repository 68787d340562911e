/**
 * metrics.ts — turns the engine's statistics (EngineStats, the core's
 * ldb_stats) into the public metrics object and the health check: unit
 * conversions, rates between two samples and the health rules. Percentiles
 * come from the core (ldb_hist_percentile), and so does the Prometheus text
 * (EngineDb.prometheus). No engine calls, no Node modules (also runs in
 * browsers).
 */
import { ERRORS } from './contract.js';
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
  /** gets + puts + deletes per second (every path: single operations,
   * batches, transactions, getBatch keys): since the engine opened, and
   * since the previous metrics() call on this handle (or since open). */
  opsPerSec: { sinceOpen: number; lastInterval: number };
  gets: number;
  puts: number;
  deletes: number;
  batches: number;
  commits: number;
  conflicts: number;
  aborts: number;
  /** the page cache's lookups (reads through the mapping are not among
   * them) */
  cacheHits: number;
  cacheMisses: number;
  cacheEvictions: number;
  /** The share of page reads that found their page in memory, from the
   * source `cacheHitRateSource` names: with the mapping off ('cache'),
   * cacheHits / (cacheHits + cacheMisses); with it on ('mapping': natively
   * by default, `mmapSize`), the sampled residency of reads through the
   * mapping, mmapSampledResident / (mmapSampledResident +
   * mmapSampledFaults). 1 before anything was measured. */
  cacheHitRate: number;
  cacheHitRateSource: HitRateSource;
  /** bytes of the data file read through the memory mapping; 0 when it is
   * off (`mmapSize: 0`, the browser, or stopped after a failed read) */
  mmapBytes: number;
  /** a sample of the reads through the mapping (1 in 1024 per thread), by
   * whether their page was resident in memory or had to be read from the
   * file (a page fault) */
  mmapSampledResident: number;
  mmapSampledFaults: number;
  /** bytes of the mapping this process keeps resident (64 KiB chunks read
   * since their last release), held within `cacheSize` less `cacheBytes`
   * while `mmapBounded` is on (off by default); 0 when unbounded or unmapped */
  mmapResidentBytes: number;
  /** bytes of mapped chunks released so far to stay within that budget
   * (their bytes stay in the OS page cache; a later read maps them again) */
  mmapReleasedBytes: number;
  cacheBytes: number;
  cacheCapacity: number;
  activeTransactions: number;
  activeSnapshots: number;
  latency: { get: LatencySummary; commit: LatencySummary };
  memtableBytes: number;
  /** heap bytes the active memtable may reach before a checkpoint starts:
   * `memtableSize` plus what it borrowed of the `cacheSize` budget the
   * page cache does not use (at most `memtableSize` more); until that
   * memtable is checkpointed the cache holds at most `cacheSize` less the
   * loan */
  memtableLimit: number;
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
  /** the change feed's retained log: bytes, segment files, and the oldest
   * `since` db.changes() accepts (logRetentionBytes / logRetentionMs) */
  logRetainedBytes: number;
  logRetainedSegments: number;
  logRetainedSince: number;
  /** clear() calls that deleted keys and count() calls, both done by the
   * engine (each key cleared also counts in deletes) */
  rangeDeletes: number;
  counts: number;
  /** values of 64 bytes or more written to the B+tree (at checkpoints)
   * while compression was on, by how they were stored: raw (no codec
   * saved 1/8), or the codec used; with compression 'auto', what it
   * picked per value */
  compression: { raw: number; lz4: number; zstd: number; snappy: number };
  /** present while a replication publisher or follower runs on this
   * handle (lightningdb/replication) */
  replication?: ReplicationStats;
  /** WebAssembly only: bytes of the module's heap allocated now (page
   * caches, memtables and buffers of every database the module has open);
   * the heap itself only grows, so this is what shows memory coming back */
  heapBytes?: number;
  /** reads (gets, scans and iterator steps, count(), backup()) that threw
   * CORRUPT since the engine opened: a damaged page of the data file that
   * only reads reach (no checkpoint needs it, so backgroundError stays
   * 'OK'); check() names it. Makes healthCheck() unhealthy. */
  corruptReads: number;
  /** 'OK', or the error code that stopped background work (it is retried) */
  backgroundError: string;
}

/** Where cacheHitRate comes from: the page cache's lookups, or the
 * sampled residency of reads through the memory mapping. */
export type HitRateSource = 'cache' | 'mapping';

/** The hit rate of the source the engine reads through: 'mapping' while
 * the mapping is on (mmapBytes > 0), else 'cache'; null without a
 * lookup (cache) or a sample (mapping). Takes counters or their
 * differences over an interval. */
export function hitRate(c: {
  cacheHits: number; cacheMisses: number; mmapBytes: number; mmapSampledResident: number; mmapSampledFaults: number;
}): { rate: number | null; source: HitRateSource; lookups: number } {
  if (c.mmapBytes > 0) {
    const n = c.mmapSampledResident + c.mmapSampledFaults;
    return { rate: n > 0 ? c.mmapSampledResident / n : null, source: 'mapping', lookups: n };
  }
  const n = c.cacheHits + c.cacheMisses;
  return { rate: n > 0 ? c.cacheHits / n : null, source: 'cache', lookups: n };
}

/** Sampled mapped reads a residency judgement needs (1 in 1024 reads is
 * sampled: 100 samples are about 100,000 reads; fewer say too little). */
export const MIN_MAPPED_SAMPLES = 100;

export interface HealthReport {
  healthy: boolean;
  issues: string[];
  closed: boolean;
  backgroundError: string;
  cacheHitRate: number | null;
  /** what cacheHitRate measures (Metrics.cacheHitRateSource); null when closed */
  cacheHitRateSource: HitRateSource | null;
  activeTransactions: number;
  memtableBytes: number;
  checkedAt: string;
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
  const mapped = {
    mmapBytes: s.mmapBytes ?? 0, mmapSampledResident: s.mmapSampledResident ?? 0, mmapSampledFaults: s.mmapSampledFaults ?? 0,
    mmapResidentBytes: s.mmapResidentBytes ?? 0, mmapReleasedBytes: s.mmapReleasedBytes ?? 0,
  };
  const hit = hitRate({ cacheHits: s.cacheHits, cacheMisses: s.cacheMisses, ...mapped });
  const us = (ns: number) => round(ns / 1000);
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
    cacheHitRate: hit.rate === null ? 1 : round(hit.rate, 4),
    cacheHitRateSource: hit.source,
    ...mapped,
    cacheBytes: s.cacheBytes, cacheCapacity: s.cacheCapacity,
    activeTransactions: s.activeTransactions, activeSnapshots: s.activeSnapshots,
    latency: {
      get: { p50: us(s.getP50Ns), p99: us(s.getP99Ns) },
      commit: { p50: us(s.commitP50Ns), p99: us(s.commitP99Ns) },
    },
    memtableBytes: s.memtableBytes, memtableLimit: s.memtableLimit ?? 0, dataFileSize: s.dataFileSize, logFileSize: s.logFileSize,
    pageSize: s.pageSize, pageCount: s.pageCount, freePages: s.freePages,
    bytesRead: s.bytesRead, bytesWritten: s.bytesWritten, syncs: s.syncs,
    checkpoints: s.checkpoints, lastSeq: s.lastSeq, checkpointSeq: s.checkpointSeq,
    logRetainedBytes: s.logRetainedBytes ?? 0, logRetainedSegments: s.logRetainedSegments ?? 0,
    logRetainedSince: s.logRetainedSince ?? 0,
    rangeDeletes: s.rangeDeletes ?? 0, counts: s.counts ?? 0,
    compression: { raw: s.valuesRaw ?? 0, lz4: s.valuesLz4 ?? 0, zstd: s.valuesZstd ?? 0, snappy: s.valuesSnappy ?? 0 },
    corruptReads: s.corruptReads ?? 0,
    backgroundError: ERRORS[s.backgroundError]?.name ?? 'INTERNAL',
  };
  return { metrics, mark: { ops, uptimeNs: s.uptimeNs } };
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
      cacheHitRate: null, cacheHitRateSource: null, activeTransactions: 0, memtableBytes: 0, checkedAt,
    };
  }
  const issues: string[] = [];
  if (m.backgroundError !== 'OK') {
    const hint = m.backgroundError === 'FULL' ? ' (disk full: free space)'
      : m.backgroundError === 'IO' ? ' (disk I/O errors: check the device)' : '';
    issues.push(`writes or background checkpoints/syncs are failing with ${m.backgroundError}${hint}; `
      + 'checkpoints are retried, and the next write or checkpoint that succeeds clears this');
  }
  if (m.corruptReads > 0) {
    const n = m.corruptReads === 1 ? '1 read' : `${m.corruptReads} reads`;
    issues.push(`${n} failed with CORRUPT since the database was opened: a page of the data file is damaged; `
      + 'run db.check() (or `lightningdb check <path>`) to name it, then restore from a backup or copy what still reads into a new database');
  }
  const pct = `${(m.cacheHitRate * 100).toFixed(1)}%`;
  if (m.cacheHitRateSource === 'cache' && m.cacheHits + m.cacheMisses >= 10000 && m.cacheHitRate < 0.5) {
    issues.push(`page cache hit rate is ${pct}: consider a larger cacheSize`);
  }
  const samples = m.mmapSampledResident + m.mmapSampledFaults;
  if (m.cacheHitRateSource === 'mapping' && samples >= MIN_MAPPED_SAMPLES && m.cacheHitRate < 0.5) {
    issues.push(`only ${pct} of ${samples} sampled reads through the memory mapping found their page in memory: `
      + `the data file (${m.dataFileSize} bytes) does not stay resident; add memory, or open with mmapSize: 0 and a cacheSize that holds the working set`);
  }
  if (limits.memtableSize > 0 && m.memtableBytes > 4 * limits.memtableSize) {
    issues.push(`memtable holds ${m.memtableBytes} bytes, over 4x memtableSize: checkpoints are falling behind`);
  }
  if (limits.maxActiveTransactions > 0 && m.activeTransactions >= 0.9 * limits.maxActiveTransactions) {
    issues.push(`${m.activeTransactions} open transactions, near maxActiveTransactions (${limits.maxActiveTransactions})`);
  }
  return {
    healthy: issues.length === 0, issues, closed: false, backgroundError: m.backgroundError,
    cacheHitRate: m.cacheHitRate, cacheHitRateSource: m.cacheHitRateSource, activeTransactions: m.activeTransactions,
    memtableBytes: m.memtableBytes, checkedAt,
  };
}

/** Replication state (lightningdb/replication re-exports it), also in
 * db.metrics().replication and the Prometheus text
 * (lightningdb_replication_*); see docs/replication.md. */
export interface ReplicationStats {
  role: 'publisher' | 'follower';
  /** publisher: last seq the stream acknowledged; follower: last applied */
  seq: number;
  /** publisher: the primary's last commit; follower: the newest commit
   * known to be in the stream */
  primarySeq: number;
  /** primarySeq - seq */
  lagCommits: number;
  /** 0 when lagCommits is 0; else, publisher: age of the oldest commit not
   * yet acknowledged; follower: time since the commit time of the last
   * applied commit (an upper bound of the oldest unapplied one's age). Ms,
   * across two machines' clocks. */
  lagMs: number;
  /** whether the NATS connection is up and the stream reachable */
  connected: boolean;
}

/** The lightningdb_replication_* families (Prometheus text 0.0.4). */
export function replicationText(r: ReplicationStats, labels?: string): string {
  const l = `role="${r.role}"${labels ? `,${labels}` : ''}`;
  const fam = (name: string, help: string, v: number) =>
    `# HELP ${name} ${help}\n# TYPE ${name} gauge\n${name}{${l}} ${v}\n`;
  return fam('lightningdb_replication_lag_commits', 'Commits of the primary not yet acknowledged by the stream (publisher) or applied (follower)', r.lagCommits)
    + fam('lightningdb_replication_lag_seconds', 'How far replication is behind in time (see docs/replication.md)', r.lagMs / 1000)
    + fam('lightningdb_replication_seq', 'Last commit acknowledged by the stream (publisher) or applied to this replica (follower)', r.seq)
    + fam('lightningdb_replication_connected', '1 while connected to NATS and the stream', r.connected ? 1 : 0);
}
