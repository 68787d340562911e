/**
 * exposition.ts — reads the Prometheus text exposition (format 0.0.4) that
 * the engine writes (db.metricsText()) back into metric families.
 *
 * The engine's exposition is the one list of LightningDB metrics (names,
 * types, help, units); the prom-client collector and the diagnostics page
 * read it through this parser instead of keeping a second list. Only what
 * the format allows is accepted: a malformed line throws with its number.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

/** One sample line: `metricName{labels} value`. */
export interface Sample {
  /** the sample's own name, e.g. lightningdb_get_latency_seconds_bucket */
  metricName: string;
  labels: Record<string, string>;
  value: number;
}

/** A metric family: its # HELP, # TYPE and samples, in input order. */
export interface Family {
  name: string;
  help: string;
  type: MetricType;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const TYPES = new Set<MetricType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const SUFFIXES: Record<string, readonly string[]> = {
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['_sum', '_count'],
};

function unescapeHelp(s: string): string {
  return s.replace(/\\(\\|n)/g, (_m, c: string) => (c === 'n' ? '\n' : '\\'));
}

function parseValue(s: string, line: number): number {
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  const v = Number(s);
  if (s === '' || Number.isNaN(v)) throw new Error(`exposition line ${line}: bad value '${s}'`);
  return v;
}

/** Parses `{a="x",b="y"}` starting at text[i] === '{'; returns the labels
 * and the index after '}'. */
function parseLabels(text: string, i: number, line: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  i++;
  for (;;) {
    while (text[i] === ' ' || text[i] === ',') i++;
    if (text[i] === '}') return { labels, end: i + 1 };
    const eq = text.indexOf('=', i);
    if (eq < 0 || text[eq + 1] !== '"') throw new Error(`exposition line ${line}: bad label set`);
    const key = text.slice(i, eq).trim();
    if (!NAME.test(key)) throw new Error(`exposition line ${line}: bad label name '${key}'`);
    let j = eq + 2;
    let value = '';
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === '\\') {
        const c = text[++j];
        value += c === 'n' ? '\n' : c;
      } else {
        value += text[j];
      }
    }
    if (j >= text.length) throw new Error(`exposition line ${line}: unterminated label value`);
    labels[key] = value;
    i = j + 1;
  }
}

/** The families of an exposition text, keyed by family name, in order. */
export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string): Family => {
    let f = families.get(name);
    if (!f) {
      f = { name, help: '', type: 'untyped', samples: [] };
      families.set(name, f);
    }
    return f;
  };
  /** The family a sample belongs to: histogram/summary suffixes are folded. */
  const owner = (metricName: string): Family => {
    for (const [base, f] of families) {
      const sfx = SUFFIXES[f.type];
      if (sfx && metricName.startsWith(base) && sfx.includes(metricName.slice(base.length))) return f;
    }
    return family(metricName);
  };
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n]!.trim();
    if (raw === '') continue;
    if (raw.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)\s?(.*)$/.exec(raw);
      if (!m) continue; // other comments are allowed and ignored
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`exposition line ${n + 1}: bad metric name '${name}'`);
      if (kind === 'HELP') family(name).help = unescapeHelp(rest);
      else {
        if (!TYPES.has(rest as MetricType)) throw new Error(`exposition line ${n + 1}: bad type '${rest}'`);
        family(name).type = rest as MetricType;
      }
      continue;
    }
    const nameEnd = raw.search(/[{\s]/);
    if (nameEnd <= 0) throw new Error(`exposition line ${n + 1}: no value`);
    const metricName = raw.slice(0, nameEnd);
    if (!NAME.test(metricName)) throw new Error(`exposition line ${n + 1}: bad metric name '${metricName}'`);
    let labels: Record<string, string> = {};
    let i = nameEnd;
    if (raw[i] === '{') ({ labels, end: i } = parseLabels(raw, i, n + 1));
    const fields = raw.slice(i).trim().split(/\s+/);
    owner(metricName).samples.push({ metricName, labels, value: parseValue(fields[0] ?? '', n + 1) });
  }
  return families;
}

/** The value of a family's first sample whose labels include `match`, or
 * undefined. */
export function sampleValue(families: Map<string, Family>, name: string, match: Record<string, string> = {}): number | undefined {
  const f = families.get(name);
  if (!f) return undefined;
  const s = f.samples.find((x) => x.metricName === name && Object.entries(match).every(([k, v]) => x.labels[k] === v));
  return s?.value;
}

/** The one metric the operations layer adds to the engine's exposition:
 * whether db.healthCheck() passes (its rules are in js/metrics.ts). */
export const HEALTHY_METRIC = {
  name: 'lightningdb_healthy',
  help: 'Whether healthCheck() passes (1) or reports issues (0); the issues are at /health.',
  type: 'gauge' as const,
};

/** The exposition lines of HEALTHY_METRIC for one database. */
export function healthyText(healthy: boolean): string {
  const m = HEALTHY_METRIC;
  return `# HELP ${m.name} ${m.help}\n# TYPE ${m.name} ${m.type}\n${m.name} ${healthy ? 1 : 0}\n`;
}
