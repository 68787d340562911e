/**
 * panel.d.ts — the types of panel.js (the diagnostics panel, plain
 * JavaScript so db.serve() ships it as it is). Used by the browser build's
 * mountDiagnostics() (js/ops/panel-remote.ts).
 */
/// <reference lib="dom" />
import type { Recommendation } from '../recommend.js';
import type { Sample, TimelineEvent } from '../sampler.js';
import type { LoadTestOptions, LoadTestPoint } from '../loadmix.js';

/** What the panel shows of the load test: the state of the latest run. */
export interface LoadTestView {
  state: 'idle' | 'running' | 'done' | 'failed';
  /** whether the panel may start load tests */
  enabled: boolean;
  phase: 'preload' | 'run' | null;
  preload: { done: number; total: number } | null;
  points: LoadTestPoint[];
  /** set when state is 'done': ops/s and µs percentiles over the run */
  result: { opsPerSec: number; durationMs: number; getP50: number | null; getP99: number | null; putP50: number | null; putP99: number | null } | null;
  /** set when state is 'failed' */
  error: string | null;
}

/** Where the panel's data comes from. Every method may reject: the panel
 * shows the message and polls again. */
export interface PanelSource {
  /** the database's name and engine, its health, whether load tests may run */
  overview(): Promise<{ path: string; engine: string; health: { healthy: boolean; issues: string[] }; loadTest: boolean }>;
  /** samples taken after `after` (ms since the epoch), and the sampling period */
  samples(after: number): Promise<{ intervalMs: number; samples: Sample[] }>;
  /** the kept timeline (the engine's event ring), oldest first */
  events(): Promise<{ events: TimelineEvent[] }>;
  /** recommend() over the kept samples and the latest statistics */
  recommendations(): Promise<{ recommendations: Recommendation[] }>;
  loadTest(): Promise<LoadTestView>;
  /** starts a load test on a scratch database (rejects when one runs) */
  startLoadTest(options: Pick<LoadTestOptions, 'durationMs' | 'readRatio' | 'keys' | 'valueSize'>): Promise<LoadTestView>;
  /** stops a running load test (its result covers the time run) */
  stopLoadTest(): Promise<void>;
}

/** A mounted panel. */
export interface PanelHandle {
  /** Stops polling, destroys the charts and empties the element. Idempotent. */
  close(): void;
}

/** The source of the page of db.serve(): its /api/* JSON under `base`. */
export function httpSource(base?: string): PanelSource;

/** Renders the panel into `root` (replacing its content) and polls
 * `source`; `uPlot` is the uPlot constructor. One panel per page (the
 * panel's elements have fixed ids). */
export function createPanel(root: HTMLElement, source: PanelSource, options: { uPlot: unknown }): PanelHandle;
