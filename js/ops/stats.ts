/**
 * stats.ts — the engine's statistics read back from its exposition
 * (db.metricsText()) through the generated contract table (js/contract.ts:
 * each statistic's JS name, Prometheus family, type and scale), so the
 * operations layer needs no list of metric names of its own and never
 * calls db.metrics() (whose opsPerSec.lastInterval belongs to the
 * application).
 */
import { ERRORS, STATS } from '../contract.js';
import type { Family } from './exposition.js';

/** Counters and gauges by their JS name (metrics() keys), in the
 * statistic's own unit; backgroundError as its code name ('OK'). */
export interface StatsView {
  values: Record<string, number>;
  backgroundError: string;
}

/** Reads every counter and gauge of the contract from parsed families;
 * a family missing from the text reads as 0. */
export function statsFromExposition(families: Map<string, Family>): StatsView {
  const values: Record<string, number> = {};
  for (const row of STATS) {
    if (row.type !== 'counter' && row.type !== 'gauge') continue;
    const f = families.get(row.metric);
    const s = f?.samples.find((x) => x.metricName === row.metric);
    const v = s ? s.value / row.scale : 0;
    values[row.jsName] = row.scale === 1 ? v : Math.round(v);
  }
  const code = values.backgroundError ?? 0;
  return { values, backgroundError: ERRORS[code]?.name ?? `code ${code}` };
}
