/**
 * sampler.ts — the diagnostics page's data: every interval it reads the
 * engine's exposition (db.metricsText()) and event ring (db.events()) and
 * keeps a bounded history of per-interval rates, interval latency
 * percentiles and sizes, and a bounded timeline of the engine's events.
 *
 * It reads only the exposition (the statistics through js/contract.ts),
 * never db.metrics(), whose opsPerSec.lastInterval belongs to the
 * application: rates come from the cumulative counters of consecutive
 * samples.
 */
import type { Database, DatabaseEvent } from '../database.js';
import { hitRate, type HitRateSource } from '../metrics.js';
import { parseExposition, type Family } from './exposition.js';
import type { RecommendInput } from './recommend.js';
import { statsFromExposition, type StatsView } from './stats.js';

/** One point of the diagnostics charts. Rates are per second over the
 * interval that ends at `t`; latencies in microseconds. */
export interface Sample {
  /** milliseconds since the epoch */
  t: number;
  opsPerSec: number;
  getsPerSec: number;
  writesPerSec: number;
  commitsPerSec: number;
  /** interval hit rate of the source the engine reads pages through
   * (metrics().cacheHitRate's rule), null when the interval measured none */
  cacheHitRate: number | null;
  /** 'cache': the page cache's hits / lookups; 'mapping': reads through
   * the memory mapping (natively by default), the share of sampled ones
   * (1 in 1024) whose page was resident in memory */
  cacheHitSource: HitRateSource;
  /** what the rate was computed from: cache lookups, or mapped-read
   * samples */
  cacheLookups: number;
  /** p50/p99 per latency histogram family of the exposition, by family
   * name; null when the interval had no samples */
  latency: Record<string, { p50: number | null; p99: number | null }>;
  memtableBytes: number;
  logFileSize: number;
  dataFileSize: number;
  cacheBytes: number;
  cacheCapacity: number;
  checkpoints: number;
  conflicts: number;
  commits: number;
  backgroundError: string;
}

/** A timeline entry. */
export interface TimelineEvent {
  /** milliseconds since the epoch */
  t: number;
  /** 'checkpoint' | 'slow_ops' | 'conflict_burst' | 'busy' | 'error' | 'disk_full' | 'sync_stall' */
  type: string;
  message: string;
  /** the number behind the event (count, microseconds, bytes) */
  value: number;
  /** where it came from: the core's event ring */
  source: 'engine';
  /** engine events: their seq, and occurrences folded in (bursts) */
  seq?: number;
  count?: number;
}

/** The fields of a DatabaseEvent the timeline uses. */
export type DatabaseEventLike = Pick<DatabaseEvent, 'seq' | 'type' | 'code' | 'time' | 'count' | 'value'>;

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** A sentence for an engine event. */
export function describeEvent(e: DatabaseEventLike): string {
  const ms = (ns: number) => `${(ns / 1e6).toFixed(1)} ms`;
  switch (e.type) {
    case 'checkpoint': return `checkpoint completed (checkpoint seq ${e.value})`;
    case 'slow_commit': return `${plural(e.count, 'commit')} over 100 ms (slowest ${ms(e.value)})`;
    case 'slow_read': return `${plural(e.count, 'timed read')} over 100 ms (slowest ${ms(e.value)}; one read in 8 is timed)`;
    case 'sync_stall': return `${plural(e.count, 'log sync', 'log syncs')} over 500 ms (slowest ${ms(e.value)})`;
    case 'error': return `background checkpoint/sync failing with ${e.code}; it is retried`;
    case 'disk_full': return 'disk full (FULL): commits or background work cannot write';
    case 'recovered': return `background work succeeds again (was ${e.code})`;
    case 'conflict': return `${plural(e.count, 'commit')} refused with CONFLICT`;
    case 'busy': return `${plural(e.count, 'transaction')} refused with BUSY: maxActiveTransactions (${e.value}) reached`;
    default: return `${e.type} (${e.code})`;
  }
}

interface Raw {
  t: number;
  s: StatsView;
  hist: Map<string, number[]>; // cumulative bucket counts per histogram family
  bounds: Map<string, number[]>; // le bounds (seconds) per family
}

/** Histogram families of an exposition: le bounds and cumulative counts. */
function histograms(families: Map<string, Family>): { hist: Map<string, number[]>; bounds: Map<string, number[]> } {
  const hist = new Map<string, number[]>();
  const bounds = new Map<string, number[]>();
  for (const f of families.values()) {
    if (f.type !== 'histogram') continue;
    const b: number[] = [];
    const c: number[] = [];
    for (const s of f.samples) {
      if (s.metricName !== `${f.name}_bucket` || s.labels.le === undefined) continue;
      b.push(s.labels.le === '+Inf' ? Infinity : Number(s.labels.le));
      c.push(s.value);
    }
    hist.set(f.name, c);
    bounds.set(f.name, b);
  }
  return { hist, bounds };
}

/** The cumulative count at bound `b` of an earlier reading of the same
 * histogram. The exposition lists buckets only up to the last non-empty
 * one, so a bound past its last finite bound holds its total. */
function cumulativeAt(bounds: number[], counts: number[], b: number): number {
  const i = bounds.indexOf(b);
  if (i >= 0) return counts[i]!;
  const finite = bounds.filter(Number.isFinite);
  if (finite.length === 0 || b > finite[finite.length - 1]!) return counts[counts.length - 1] ?? 0;
  return 0;
}

/** The q-quantile (0..1) of the samples between two readings of a
 * histogram, in microseconds, interpolated linearly within the bucket;
 * null when the interval had none. */
export function intervalQuantile(
  bounds: number[], now: number[], beforeBounds: number[] | undefined, before: number[] | undefined, q: number,
): number | null {
  const delta = now.map((c, i) => c - (before && beforeBounds ? cumulativeAt(beforeBounds, before, bounds[i]!) : 0));
  const total = delta[delta.length - 1] ?? 0;
  if (total <= 0) return null;
  const target = q * total;
  for (let i = 0; i < delta.length; i++) {
    if (delta[i]! >= target) {
      const lo = i === 0 ? 0 : bounds[i - 1]!;
      let hi = bounds[i]!;
      if (!Number.isFinite(hi)) hi = lo * 2 || 1e-6;
      const below = i === 0 ? 0 : delta[i - 1]!;
      const inBucket = delta[i]! - below;
      const frac = inBucket > 0 ? (target - below) / inBucket : 1;
      return Math.round((lo + (hi - lo) * frac) * 1e9) / 1000;
    }
  }
  return null;
}

/** Options of Sampler. */
export interface SamplerOptions {
  /** sampling period; default 1000 ms, at least 100 */
  intervalMs?: number;
  /** samples kept; default 600 (10 minutes at 1 s) */
  history?: number;
  /** timeline entries kept; default 200 */
  events?: number;
}

/**
 * The history the page draws: samples and the timeline, built from
 * readings fed to ingest(). No I/O and no timer, so the same arithmetic
 * serves db.serve() (Sampler, below, reads a Database synchronously) and
 * the browser panel (js/ops/panel-remote.ts reads a RemoteDatabase through
 * the Worker).
 */
export class SampleHistory {
  readonly samples: Sample[] = [];
  readonly timeline: TimelineEvent[] = [];
  #history: number;
  #maxEvents: number;
  #prev: Raw | null = null;
  #lastEngineEvent = 0;

  constructor(options: Pick<SamplerOptions, 'history' | 'events'> = {}) {
    this.#history = Math.max(2, options.history ?? 600);
    this.#maxEvents = Math.max(1, options.events ?? 200);
  }

  /** The latest statistics read (null before the first reading). */
  get latest(): (RecommendInput & Record<string, number | string>) | null {
    const s = this.#prev?.s;
    if (!s) return null;
    const v = s.values;
    return {
      ...v,
      cacheCapacity: v.cacheCapacity ?? 0, dataFileSize: v.dataFileSize ?? 0, logFileSize: v.logFileSize ?? 0,
      memtableBytes: v.memtableBytes ?? 0, pageCount: v.pageCount ?? 0, freePages: v.freePages ?? 0,
      mmapBytes: v.mmapBytes ?? 0,
      activeTransactions: v.activeTransactions ?? 0, backgroundError: s.backgroundError,
    };
  }

  /** What to pass to db.events(after) for the next reading: the newest
   * event is read again, since a burst (CONFLICT, BUSY, slow commits, sync
   * stalls) keeps growing while it lasts. */
  get eventsAfter(): number {
    return Math.max(0, this.#lastEngineEvent - 1);
  }

  #event(e: TimelineEvent): void {
    this.timeline.push(e);
    if (this.timeline.length > this.#maxEvents) this.timeline.splice(0, this.timeline.length - this.#maxEvents);
  }

  /** The engine's own event ring, copied in order; an event read again
   * (a growing burst) replaces its entry. */
  #engineEvents(list: readonly DatabaseEventLike[]): void {
    for (const e of list) {
      const entry: TimelineEvent = {
        t: e.time, type: e.type, message: describeEvent(e), value: e.value, source: 'engine', seq: e.seq, count: e.count,
      };
      if (e.seq <= this.#lastEngineEvent) {
        const i = this.timeline.findIndex((x) => x.seq === e.seq);
        if (i >= 0) this.timeline[i] = entry;
        continue;
      }
      this.#lastEngineEvent = e.seq;
      this.#event(entry);
    }
  }

  /** One reading: the exposition (db.metricsText()) and the events read
   * with db.events(this.eventsAfter) right after it, taken at time t (ms
   * since the epoch). From the second reading on, each adds a Sample.
   * Throws for a malformed exposition (nothing is recorded then). */
  ingest(text: string, events: readonly DatabaseEventLike[], t = Date.now()): void {
    const fam = parseExposition(text);
    const { hist, bounds } = histograms(fam);
    const st = statsFromExposition(fam);
    const m = st.values;
    const raw: Raw = { t, s: st, hist, bounds };
    const prev = this.#prev;
    this.#prev = raw;
    this.#engineEvents(events);
    if (!prev) return;
    const dt = (t - prev.t) / 1000;
    if (dt <= 0) return;
    const d = (k: string) => Math.max(0, (m[k] ?? 0) - (prev.s.values[k] ?? 0));
    const rate = (n: number) => Math.round((n / dt) * 10) / 10;
    // The source is the mapping's while it is on now: its sampled
    // counters then carry the page reads.
    const hit = hitRate({
      cacheHits: d('cacheHits'), cacheMisses: d('cacheMisses'), mmapBytes: m.mmapBytes ?? 0,
      mmapSampledResident: d('mmapSampledResident'), mmapSampledFaults: d('mmapSampledFaults'),
    });
    const latency: Sample['latency'] = {};
    for (const [name, counts] of hist) {
      const b = bounds.get(name)!;
      const before = prev.hist.get(name);
      const beforeBounds = prev.bounds.get(name);
      latency[name] = {
        p50: intervalQuantile(b, counts, beforeBounds, before, 0.5),
        p99: intervalQuantile(b, counts, beforeBounds, before, 0.99),
      };
    }
    const sample: Sample = {
      t,
      opsPerSec: rate(d('gets') + d('puts') + d('deletes')),
      getsPerSec: rate(d('gets')),
      writesPerSec: rate(d('puts') + d('deletes')),
      commitsPerSec: rate(d('commits')),
      cacheHitRate: hit.rate === null ? null : Math.round(hit.rate * 10000) / 10000,
      cacheHitSource: hit.source,
      cacheLookups: hit.lookups,
      latency,
      memtableBytes: m.memtableBytes ?? 0,
      logFileSize: m.logFileSize ?? 0,
      dataFileSize: m.dataFileSize ?? 0,
      cacheBytes: m.cacheBytes ?? 0,
      cacheCapacity: m.cacheCapacity ?? 0,
      checkpoints: m.checkpoints ?? 0,
      conflicts: m.conflicts ?? 0,
      commits: m.commits ?? 0,
      backgroundError: st.backgroundError,
    };
    this.samples.push(sample);
    if (this.samples.length > this.#history) this.samples.splice(0, this.samples.length - this.#history);
  }
}

/** A SampleHistory fed from a Database every intervalMs (db.serve()). */
export class Sampler extends SampleHistory {
  readonly intervalMs: number;
  #db: Database;
  #timer: ReturnType<typeof setInterval> | null = null;

  constructor(db: Database, options: SamplerOptions = {}) {
    super(options);
    this.#db = db;
    this.intervalMs = Math.max(100, options.intervalMs ?? 1000);
  }

  /** Takes the first reading now and one every intervalMs. */
  start(): void {
    if (this.#timer) return;
    this.tick();
    const timer = setInterval(() => this.tick(), this.intervalMs);
    this.#timer = timer;
    // Node: sampling does not keep the process alive. (Also type-checked
    // for the browser, where the handle is a number.)
    (timer as { unref?: () => void }).unref?.();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Reads the database once; a closed database ends sampling. */
  tick(): void {
    if (this.#db.closed) {
      this.stop();
      return;
    }
    try {
      const text = this.#db.metricsText();
      this.ingest(text, this.#db.events(this.eventsAfter));
    } catch {
      return; // closed meanwhile; the next tick stops
    }
  }
}
