/**
 * collector.ts — LightningDB's statistics in a prom-client registry.
 *
 * Each metric family of the engine's exposition (db.metricsText(): the
 * core's one table of names, types, units and help) becomes one metric
 * object in the registry; every registered database contributes its
 * samples with its own label set (default { db: <path> }). Nothing is
 * copied at registration: each scrape reads the databases' statistics then,
 * once per database per scrape. prom-client is not imported here: a
 * registry accepts any object with name/help/type/get() (prom-client 13 and
 * later), so the application's own prom-client copy is used, whichever
 * version it is.
 */
import type { Database } from '../database.js';
import { checkOptionKeys, keyList } from '../options.js';
import { healthyText, parseExposition, type Family, type MetricType } from './exposition.js';
import { invalidType, typeError } from '../errors.js';

/** The part of a prom-client Registry the collector uses. */
export interface RegistryLike {
  registerMetric(metric: object): void;
  removeSingleMetric(name: string): void;
  getSingleMetric(name: string): unknown;
}

/** Options of registerDatabase(). */
export interface CollectorOptions {
  /** Labels of this database's series; default { db: db.path }. Must differ
   * from every other database's in the same registry. */
  labels?: Record<string, string>;
}

/** The keys registerDatabase() takes; any other is INVALID_ARGUMENT. */
const COLLECTOR_KEYS = keyList<CollectorOptions>({ labels: true });

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/** A family as prom-client's registry reads it. */
class FamilyMetric {
  readonly aggregator = 'sum';
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: MetricType,
    private readonly state: RegistryState,
  ) {}

  get(): { name: string; help: string; type: MetricType; aggregator: string; values: MetricValue[] } {
    const values: MetricValue[] = [];
    for (const snap of this.state.snapshot()) {
      const f = snap.families.get(this.name);
      if (!f) continue;
      for (const s of f.samples) {
        values.push({ value: s.value, labels: { ...s.labels, ...snap.labels }, metricName: s.metricName });
      }
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Counters belong to the engine; prom-client's resetMetrics() cannot
   * reset them. */
  reset(): void {}
}

interface Entry {
  db: Database;
  labels: Record<string, string>;
}

/** The databases registered in one registry and the families it holds. */
class RegistryState {
  readonly entries = new Map<string, Entry>();
  readonly families = new Map<string, FamilyMetric>();
  #cache: Array<{ labels: Record<string, string>; families: Map<string, Family> }> | null = null;

  constructor(readonly registry: RegistryLike) {}

  /** Every open database's parsed exposition, read once per scrape: a
   * registry asks every metric for its values in one synchronous pass,
   * so the snapshot lives until the microtask after it. */
  snapshot(): Array<{ labels: Record<string, string>; families: Map<string, Family> }> {
    if (this.#cache) return this.#cache;
    const out: Array<{ labels: Record<string, string>; families: Map<string, Family> }> = [];
    for (const e of this.entries.values()) {
      if (e.db.closed) continue; // a closed database's series disappear
      try {
        const text = e.db.metricsText() + healthyText(e.db.healthCheck().healthy);
        out.push({ labels: e.labels, families: parseExposition(text) });
      } catch {
        /* closed between the check and the read: no series this scrape */
      }
    }
    this.#cache = out;
    queueMicrotask(() => { this.#cache = null; });
    return out;
  }

  /** Registers the families of `families` not registered yet. */
  addFamilies(families: Map<string, Family>): void {
    for (const f of families.values()) {
      if (this.families.has(f.name)) continue;
      const existing = this.registry.getSingleMetric(f.name);
      if (existing !== undefined) {
        throw new Error(`registerDatabase: the registry already has a metric named ${f.name} that is not LightningDB's`);
      }
      const m = new FamilyMetric(f.name, f.help, f.type, this);
      this.registry.registerMetric(m);
      this.families.set(f.name, m);
    }
  }
}

const states = new WeakMap<RegistryLike, RegistryState>();

function labelKey(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Adds db's counters, gauges and latency histograms to a prom-client
 * registry (e.g. `import { register } from 'prom-client'`), plus
 * lightningdb_healthy (healthCheck() passes), labelled with
 * options.labels (default { db: db.path }). Several databases may share a
 * registry, each with its own label set. Returns a function that removes
 * this database again (and the families, when it was the last one).
 * Throws TypeError for a registry or labels of the wrong shape and Error
 * when the label set is already registered or a metric name is taken.
 */
export function registerDatabase(registry: RegistryLike, db: Database, options: CollectorOptions = {}): () => void {
  if (registry === null || typeof registry !== 'object' || typeof registry.registerMetric !== 'function' ||
      typeof registry.removeSingleMetric !== 'function' || typeof registry.getSingleMetric !== 'function') {
    throw typeError('registerDatabase: registry must be a prom-client Registry');
  }
  if (db === null || typeof db !== 'object' || typeof (db as Database).metricsText !== 'function') {
    throw typeError('registerDatabase: db must be an open LightningDB Database');
  }
  if (options === null || typeof options !== 'object') throw invalidType('registerDatabase: options', 'an object', options);
  checkOptionKeys(options, COLLECTOR_KEYS, 'registerDatabase()');
  const labels = options.labels ?? { db: db.path };
  if (labels === null || typeof labels !== 'object') throw invalidType('registerDatabase: labels', 'an object', labels);
  for (const [k, v] of Object.entries(labels)) {
    if (!LABEL.test(k) || k === 'le') throw typeError(`registerDatabase: '${k}' is not a valid label name`);
    if (typeof v !== 'string') throw invalidType(`registerDatabase: label ${k}`, 'a string', v);
  }
  let state = states.get(registry);
  if (!state) {
    state = new RegistryState(registry);
    states.set(registry, state);
  }
  const key = labelKey(labels);
  if (state.entries.has(key)) {
    throw new Error(`registerDatabase: a database with labels ${JSON.stringify(labels)} is already registered`);
  }
  state.addFamilies(parseExposition(db.metricsText() + healthyText(db.healthCheck().healthy)));
  const entry: Entry = { db, labels: { ...labels } };
  state.entries.set(key, entry);
  const st = state;
  return () => {
    if (st.entries.get(key) !== entry) return;
    st.entries.delete(key);
    if (st.entries.size > 0) return;
    for (const name of st.families.keys()) registry.removeSingleMetric(name);
    st.families.clear();
  };
}
