/**
 * panel-remote.ts — the diagnostics panel (assets/panel.js, the same code
 * as the page of db.serve()) mounted in a page of the browser build, for a
 * database open in a Worker (mountDiagnostics() in js/browser/index.ts).
 *
 * Owns: the panel's source over a main-thread RemoteDatabase — it polls
 * db.metricsText() and db.events() through the Worker every intervalMs into
 * a SampleHistory (the server's arithmetic), computes recommend() from it —
 * and the load test on a scratch database (its own name, in a Worker of its
 * own, store 'memory' or 'opfs', deleted afterwards), run by the same mix
 * as Node's (loadmix.ts). It never writes to the watched database.
 *
 * Types: the browser entry is type-checked with the webworker lib (the
 * stores need FileSystemSyncAccessHandle); this file runs on the main
 * thread and needs the DOM's, hence the lib reference below (the two libs
 * overlap only in declarations skipLibCheck leaves alone).
 */
/// <reference lib="dom" />
/// <reference path="./assets/css-text.d.ts" />
import uPlot from 'uplot';
import uPlotCss from 'uplot/dist/uPlot.min.css';
import panelCss from './assets/app.css';
import { createPanel, type LoadTestView, type PanelSource } from './assets/panel.js';
import type { DatabaseEvent } from '../database.js';
import { invalidType, typeError, LightningDbError } from '../errors.js';
import { checkOptionKeys, keyList } from '../options.js';
import { loadTestOptions, runMix, type LoadTestOptions } from './loadmix.js';
import { recommend } from './recommend.js';
import { SampleHistory } from './sampler.js';

/** What the panel reads of the watched database (a RemoteDatabase). */
export interface PanelDatabase {
  /** where it lives: 'opfs', 'indexeddb' or 'memory' */
  readonly store: string;
  metricsText(): Promise<string>;
  events(after?: number): Promise<DatabaseEvent[]>;
  healthCheck(): Promise<{ healthy: boolean; issues: string[] }>;
}

/** A scratch database of the load test (a RemoteDatabase, binary keys). */
export interface ScratchDatabase {
  get(key: Uint8Array): Promise<unknown>;
  put(key: Uint8Array, value: Uint8Array): Promise<void>;
  putBatch(entries: Array<[Uint8Array, Uint8Array]>): Promise<void>;
  close(): Promise<void>;
}

/** How the panel opens and deletes scratch databases (the browser entry's
 * open() and destroy()). */
export interface ScratchOpener {
  open(name: string, options: Record<string, unknown>): Promise<ScratchDatabase>;
  destroy(name: string, options: { store: 'memory' | 'opfs' }): Promise<void>;
}

/** Options of mountDiagnostics(). */
export interface DiagnosticsOptions {
  /** shown as the database's name in the panel's header; default 'database' */
  name?: string;
  /** how often the database is read, ms; default 1000, at least 100 */
  intervalMs?: number;
  /** whether the panel may start load tests (on a scratch database, never
   * this one); default true */
  loadTest?: boolean;
  /** where the scratch database of a load test lives: 'memory' (default)
   * or 'opfs'; either way it is deleted when the test ends */
  loadTestStore?: 'memory' | 'opfs';
}

/** The keys mountDiagnostics() takes; any other is INVALID_ARGUMENT. */
const DIAGNOSTICS_KEYS = keyList<DiagnosticsOptions>({ name: true, intervalMs: true, loadTest: true, loadTestStore: true });

/** A mounted panel (the result of mountDiagnostics()). */
export interface DiagnosticsPanel {
  /** Stops polling and a running load test, removes the panel from its
   * element and the stylesheets it added; resolves once the load test's
   * scratch database is closed and deleted. Idempotent. */
  close(): Promise<void>;
}

/** Bounds of a load test in a page: those of Node (LOAD_TEST_LIMITS in
 * loadmix.ts) but
 * keys × valueSize at most 64 MiB, since the scratch database (and with
 * 'memory' its whole content) lives in the page's Worker. */
export const BROWSER_LOAD_TEST_PRELOAD_BYTES = 64 * 1024 * 1024;

/** Frees the event loop without the 4 ms clamp of nested setTimeout. */
function yieldNow(): Promise<void> {
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => {
      ch.port1.close();
      resolve();
    };
    ch.port2.postMessage(null);
  });
}

function randomSuffix(): string {
  const b = new Uint8Array(6);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

class RemoteSource implements PanelSource {
  readonly history = new SampleHistory();
  readonly intervalMs: number;
  #timer: ReturnType<typeof setInterval> | null = null;
  #reading = false;
  #stopped = false;
  #load: LoadTestView;
  #abort: AbortController | null = null;
  #running: Promise<void> | null = null;

  constructor(
    private readonly db: PanelDatabase, private readonly options: DiagnosticsOptions, private readonly scratch: ScratchOpener,
  ) {
    this.intervalMs = Math.max(100, options.intervalMs ?? 1000);
    this.#load = {
      state: 'idle', enabled: options.loadTest ?? true, phase: null, preload: null, points: [], result: null, error: null,
    };
  }

  /** Reads the database now and every intervalMs (a read still in flight
   * skips the tick; a CLOSED database ends the polling). */
  start(): void {
    void this.#read();
    this.#timer = setInterval(() => void this.#read(), this.intervalMs);
  }

  async #read(): Promise<void> {
    if (this.#reading || this.#stopped) return;
    this.#reading = true;
    try {
      const text = await this.db.metricsText();
      const events = await this.db.events(this.history.eventsAfter);
      this.history.ingest(text, events);
    } catch (e) {
      if (e instanceof LightningDbError && e.code === 'CLOSED') this.stop();
    } finally {
      this.#reading = false;
    }
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  async close(): Promise<void> {
    this.stop();
    this.#abort?.abort();
    await this.#running;
  }

  async overview(): ReturnType<PanelSource['overview']> {
    return {
      path: this.options.name ?? 'database', engine: `wasm, ${this.db.store}`, health: await this.db.healthCheck(),
      loadTest: this.#load.enabled,
    };
  }

  async samples(after: number): ReturnType<PanelSource['samples']> {
    return { intervalMs: this.intervalMs, samples: this.history.samples.filter((s) => s.t > after) };
  }

  async events(): ReturnType<PanelSource['events']> {
    return { events: this.history.timeline.slice() };
  }

  async recommendations(): ReturnType<PanelSource['recommendations']> {
    return { recommendations: recommend(this.history.samples, this.history.latest) };
  }

  async loadTest(): Promise<LoadTestView> {
    return { ...this.#load, points: this.#load.points.slice() };
  }

  async startLoadTest(options: LoadTestOptions): Promise<LoadTestView> {
    if (!this.#load.enabled) throw new Error('load tests are disabled in this panel (mountDiagnostics({ loadTest: false }))');
    if (this.#load.state === 'running') throw new Error('a load test is already running');
    const o = loadTestOptions({ ...options, dir: undefined });
    if (o.keys * o.valueSize > BROWSER_LOAD_TEST_PRELOAD_BYTES) {
      throw new LightningDbError('INVALID_ARGUMENT',
        `keys * valueSize must be at most ${BROWSER_LOAD_TEST_PRELOAD_BYTES} bytes in a page, got ${o.keys * o.valueSize}`);
    }
    const store = this.options.loadTestStore ?? 'memory';
    const name = `lightningdb-loadtest-${randomSuffix()}`;
    const abort = new AbortController();
    this.#abort = abort;
    const view: LoadTestView = { ...this.#load, state: 'running', phase: 'preload', preload: null, points: [], result: null, error: null };
    this.#load = view;
    this.#running = (async () => {
      let db: ScratchDatabase | null = null;
      let result: LoadTestView['result'] = null;
      let error: string | null = null;
      try {
        db = await this.scratch.open(name, { store, exclusive: true, cacheSize: o.cacheSize, syncMode: o.syncMode, errorIfExists: true });
        result = await runMix(db, o, yieldNow, (p) => {
          if (p.phase === 'preload') view.preload = { done: p.done, total: p.total };
          else {
            view.phase = 'run';
            view.points.push(p.point);
          }
        }, abort.signal);
      } catch (e) {
        error = e instanceof Error ? e.message : String(e);
      }
      // The test is over only once its scratch database is gone.
      await db?.close().catch(() => {});
      if (store !== 'memory') {
        const gone = await this.#destroyScratch(name, store);
        if (gone !== null) error = `${error ? `${error}; ` : ''}${gone}`;
      }
      view.result = error === null ? result : null;
      view.error = error;
      view.state = error === null ? 'done' : 'failed';
      this.#running = null;
    })();
    return this.loadTest();
  }

  /** Deletes a scratch database; the lock of the Worker that held it may
   * take a moment to be released (BUSY meanwhile), so it tries for up to
   * 5 s. Null when deleted, else what went wrong. */
  async #destroyScratch(name: string, store: 'opfs'): Promise<string | null> {
    const deadline = Date.now() + 5000;
    for (;;) {
      try {
        await this.scratch.destroy(name, { store });
        return null;
      } catch (e) {
        const busy = e instanceof LightningDbError && e.code === 'BUSY';
        if (!busy || Date.now() >= deadline) {
          return `the scratch database ${name} could not be deleted (${e instanceof Error ? e.message : String(e)}): delete it with destroy('${name}', { store: '${store}' })`;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  async stopLoadTest(): Promise<void> {
    this.#abort?.abort();
  }
}

function addStyle(text: string): HTMLStyleElement {
  const style = document.createElement('style');
  style.textContent = text;
  document.head.appendChild(style);
  return style;
}

/**
 * Mounts the panel in `element` (its content is replaced) for `db`; see
 * mountDiagnostics() in js/browser/index.ts and docs/browser.md.
 */
export function mountPanel(element: HTMLElement, db: PanelDatabase, options: DiagnosticsOptions, scratch: ScratchOpener): DiagnosticsPanel {
  if (typeof HTMLElement === 'undefined') throw typeError('mountDiagnostics needs a page (the main thread), not a Worker');
  if (!(element instanceof HTMLElement)) throw invalidType('element', 'an HTMLElement', element);
  if (options === null || typeof options !== 'object') throw invalidType('options', 'an object', options);
  checkOptionKeys(options, DIAGNOSTICS_KEYS, 'mountDiagnostics()');
  const iv = options.intervalMs;
  if (iv !== undefined && (typeof iv !== 'number' || !Number.isFinite(iv) || iv < 100)) {
    throw new LightningDbError('INVALID_ARGUMENT', `intervalMs must be a number >= 100, got ${String(iv)}`);
  }
  const store = options.loadTestStore;
  if (store !== undefined && store !== 'memory' && store !== 'opfs') {
    throw new LightningDbError('INVALID_ARGUMENT', `loadTestStore must be 'memory' or 'opfs', got ${String(store)}`);
  }
  const styles = [addStyle(uPlotCss), addStyle(panelCss)];
  const source = new RemoteSource(db, options, scratch);
  source.start();
  const panel = createPanel(element, source, { uPlot });
  let closing: Promise<void> | null = null;
  return {
    close() {
      closing ??= (async () => {
        panel.close();
        for (const s of styles) s.remove();
        await source.close();
      })();
      return closing;
    },
  };
}
