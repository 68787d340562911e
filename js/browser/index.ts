/**
 * index.ts — the browser entry.
 *
 * Main thread: `open(name, options)` starts a dedicated module Worker
 * (worker.ts) that hosts the database over the WebAssembly engine and
 * returns a RemoteDatabase: the same methods as Database, each returning a
 * promise; scans are AsyncIterables streamed from the Worker in chunks;
 * transactions are `transaction(async (tx) => ...)` or beginTransaction().
 * Errors arrive as LightningDbError with their code (TypeError stays
 * TypeError).
 *
 * Inside a Worker: `openInWorker(name, options)` gives the synchronous
 * Database directly (no proxy), and `destroy(name, { store })` deletes a
 * database.
 */
import { LightningDbError, type ErrorCode } from '../errors.js';
import type { Hello, Reply, Request, WireError } from './protocol.js';
import { SCAN_CHUNK, SCAN_FIRST } from './protocol.js';

export { LightningDbError } from '../errors.js';
export { opfsAvailable } from '../wasm/stores/opfs.js';
export type { BrowserDatabase, BrowserOpenOptions, StoreChoice, StoreKind } from './host.js';
import type { BrowserDatabase, BrowserOpenOptions, StoreChoice, StoreKind } from './host.js';
import type { Database } from '../database.js';

// The Worker-side functions load the engine lazily, so a main-thread page
// that only uses open() never downloads the WebAssembly glue.

/** The Worker-side module; a chunk that does not load is SETUP. */
async function host(): Promise<typeof import('./host.js')> {
  try {
    return await import('./host.js');
  } catch (e) {
    throw new LightningDbError('SETUP',
      `cannot load a part of LightningDB (${String((e as Error)?.message ?? e)}); serve every file of ` +
      'dist/esm/browser/ (index.js, worker.js, the chunk-*.js files and lightningdb.wasm) from one directory');
  }
}

/** Inside a dedicated Worker: opens the database with the synchronous API. */
export async function openInWorker(name: string, options?: BrowserOpenOptions): Promise<BrowserDatabase> {
  return (await host()).openInWorker(name, options);
}
/** Deletes a database; BUSY at once when it is open in any tab or Worker.
 * Works on the main thread and in Workers. */
export async function destroy(name: string, options?: { store?: StoreChoice }): Promise<void> {
  return (await host()).destroy(name, options);
}
/** Inside a Worker: backs up db into the new database `target`. */
export async function backupInWorker(db: Database, target: string, store?: StoreChoice): Promise<void> {
  return (await host()).backupInWorker(db, target, store);
}

/** Options of open() on the main thread: those of Node's open() plus these. */
export interface OpenOptions {
  /** Where pages live: 'auto' (default: OPFS when it works in the Worker,
   * else IndexedDB), 'opfs', 'indexeddb' (alias 'idb') or 'memory'. */
  store?: 'auto' | 'opfs' | 'indexeddb' | 'idb' | 'memory';
  /** When another tab has the database open: false (default) fails at once
   * with BUSY; true waits until it is closed there (at most `timeout`). */
  waitForLock?: boolean;
  /** With waitForLock: longest wait for the other tab, in ms, then TIMEOUT.
   * Default 30000; Infinity waits without a bound. */
  timeout?: number;
  /** Cancels the open: it rejects with ABORTED at once, its Worker ends and
   * it never takes the database later. */
  signal?: AbortSignal;
  /** URL of lightningdb.wasm (relative URLs resolve against the page);
   * default: next to worker.js. A wrong one gives SETUP. */
  wasmUrl?: string | URL;
  /** URL of the worker module; default worker.js next to this module. A
   * wrong one gives SETUP. */
  workerUrl?: string | URL;
  [option: string]: unknown;
}

/** Per-call options of the RemoteDatabase methods. */
export interface CallOptions {
  /** Cancels the call while it waits its turn in the database Worker: it
   * rejects with ABORTED and nothing of it is applied. A call already
   * running settles with its real outcome. */
  signal?: AbortSignal;
  /** Longest wait in ms: TIMEOUT after it. Before the call started,
   * nothing of it is applied; once it runs, the message says it may still
   * complete. Default: no bound. */
  timeout?: number;
}

function revive(e: WireError): Error {
  if (e.name === 'TypeError') return new TypeError(e.message);
  return new LightningDbError((e.code ?? 'INTERNAL') as ErrorCode, e.message);
}

type Req = Request extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

function checkCallOptions(o: CallOptions | undefined): void {
  if (o === undefined) return;
  if (o === null || typeof o !== 'object') throw new TypeError('call options must be an object');
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw new TypeError('signal must be an AbortSignal');
  if (o.timeout !== undefined && (typeof o.timeout !== 'number' || !(o.timeout >= 0)))
    throw new TypeError('timeout must be a number of milliseconds >= 0');
}

class Channel {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  private dead: Error | null = null;
  private hello = false;
  constructor(readonly worker: Worker, readonly url: string) {
    worker.onmessage = (ev: MessageEvent<Reply | Hello>) => {
      const r = ev.data;
      if ('hello' in r) {
        this.hello = true;
        return;
      }
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (r.ok) p.resolve(r.value);
      else p.reject(revive(r.error));
    };
    worker.onerror = (ev: ErrorEvent) => {
      ev.preventDefault?.();
      if (!this.hello) {
        // The script (or a module it imports) did not load.
        void setupError(this.url).then((e) => this.fail(e));
        return;
      }
      this.fail(new LightningDbError('INTERNAL', `database worker failed: ${ev.message || 'script error'}`));
    };
  }
  fail(e: Error): void {
    this.dead = e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
  send<T>(req: Req, opts?: CallOptions): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    const signal = opts?.signal;
    if (signal?.aborted) return Promise.reject(new LightningDbError('ABORTED', 'the call was cancelled (AbortSignal) before it started; nothing of it was applied'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => this.worker.postMessage({ op: 'cancel', id: 0, target: id, code: 'ABORTED' } satisfies Request);
      const cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      this.pending.set(id, {
        resolve: (v) => { cleanup(); resolve(v as T); },
        reject: (e) => { cleanup(); reject(e); },
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      if (opts?.timeout !== undefined && opts.timeout !== Infinity)
        timer = setTimeout(() => this.worker.postMessage({ op: 'cancel', id: 0, target: id, code: 'TIMEOUT' } satisfies Request), opts.timeout);
      this.worker.postMessage({ ...req, id });
    });
  }
}

/** SETUP for a Worker script that did not load: names the URL, what the
 * server answered, and the option that fixes it. */
async function setupError(url: string): Promise<LightningDbError> {
  let answer = '';
  try {
    const r = await fetch(url, { cache: 'no-store' });
    const type = r.headers.get('content-type') ?? 'no content type';
    answer = r.ok ? ` (the server answered ${r.status} with ${type}; it must be the LightningDB worker module, text/javascript)`
      : ` (the server answered HTTP ${r.status})`;
  } catch (e) {
    answer = ` (fetching it failed: ${String((e as Error)?.message ?? e)})`;
  }
  return new LightningDbError('SETUP',
    `cannot load the LightningDB database Worker script ${url}${answer}. Serve dist/esm/browser/worker.js ` +
    '(with its chunks and lightningdb.wasm) next to the LightningDB module, or pass its URL as the workerUrl option');
}

/** An AsyncIterable over entries streamed from the Worker. */
export class RemoteIterator<T> implements AsyncIterableIterator<T> {
  private buf: T[] = [];
  private pos = 0;
  private done = false;
  private handle: Promise<number>;
  private first = true;
  /** `owner` (its database or transaction) stays reachable while the
   * iterator is: an unreachable database ends its Worker. */
  constructor(private readonly ch: Channel, txn: number, method: string, args: unknown[], readonly owner?: object) {
    this.handle = ch.send<number>({ op: 'iter', txn, method, args });
  }
  [Symbol.asyncIterator](): this {
    return this;
  }
  async next(): Promise<IteratorResult<T>> {
    if (this.pos < this.buf.length) return { value: this.buf[this.pos++] as T, done: false };
    if (this.done) return { value: undefined, done: true };
    const iter = await this.handle;
    // A small first message: the first entry arrives early however large
    // the scan; the Worker also cuts each message by bytes (SCAN_BYTES).
    const max = this.first ? SCAN_FIRST : SCAN_CHUNK;
    this.first = false;
    const r = await this.ch.send<{ items: T[]; done: boolean }>({ op: 'iterNext', iter, max });
    this.buf = r.items;
    this.pos = 0;
    this.done = r.done;
    if (this.buf.length === 0) return { value: undefined, done: true };
    return { value: this.buf[this.pos++] as T, done: false };
  }
  /** Repositions (as the synchronous iterator's seek). */
  async seek(key: unknown): Promise<void> {
    const iter = await this.handle;
    await this.ch.send({ op: 'iterSeek', iter, key });
    this.buf = [];
    this.pos = 0;
    this.done = false;
  }
  async return(): Promise<IteratorResult<T>> {
    if (!this.done) {
      this.done = true;
      this.buf = [];
      const iter = await this.handle;
      await this.ch.send({ op: 'iterClose', iter });
    }
    return { value: undefined, done: true };
  }
}

/** A transaction held open in the Worker. */
export class RemoteTransaction {
  constructor(private readonly ch: Channel, private readonly h: number, readonly db?: RemoteDatabase) {}
  private call<T>(method: string, args: unknown[]): Promise<T> {
    return this.ch.send<T>({ op: 'txn', txn: this.h, method, args });
  }
  get(key: unknown): Promise<unknown> { return this.call('get', [key]); }
  has(key: unknown): Promise<boolean> { return this.call('has', [key]); }
  put(key: unknown, value: unknown): Promise<void> { return this.call('put', [key, value]); }
  delete(key: unknown): Promise<void> { return this.call('delete', [key]); }
  commit(): Promise<void> { return this.call('commit', []); }
  commitAsync(): Promise<void> { return this.call('commitAsync', []); }
  abort(): Promise<void> { return this.call('abort', []); }
  scan(opts?: unknown): RemoteIterator<[unknown, unknown]> {
    return new RemoteIterator(this.ch, this.h, 'scan', opts === undefined ? [] : [opts], this);
  }
}

/** Options of transaction() / transactionAsync(). */
export interface TransactionCallOptions extends CallOptions {
  /** how many times to rerun fn after a CONFLICT; default 0 */
  retries?: number;
}

/** The main-thread Database: every method returns a promise. */
export class RemoteDatabase {
  private closed: Promise<void> | null = null;
  /** The store the database lives in ('opfs', 'indexeddb' or 'memory'):
   * with store 'auto', the one that was chosen. Also metrics().store. */
  readonly store: StoreKind;
  constructor(private readonly ch: Channel, store: StoreKind) {
    this.store = store;
  }
  /** Every method takes CallOptions ({ signal, timeout }) last. */
  private call<T>(method: string, args: unknown[], opts?: CallOptions): Promise<T> {
    try {
      checkCallOptions(opts);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.ch.send<T>({ op: 'call', method, args }, opts);
  }
  get(key: unknown, opts?: CallOptions): Promise<unknown> { return this.call('get', [key], opts); }
  has(key: unknown, opts?: CallOptions): Promise<boolean> { return this.call('has', [key], opts); }
  getBatch(keys: unknown[], opts?: CallOptions): Promise<unknown[]> { return this.call('getBatch', [keys], opts); }
  put(key: unknown, value: unknown, opts?: CallOptions): Promise<void> { return this.call('put', [key, value], opts); }
  delete(key: unknown, opts?: CallOptions): Promise<void> { return this.call('delete', [key], opts); }
  putBatch(pairs: Array<[unknown, unknown]>, opts?: CallOptions): Promise<void> { return this.call('putBatch', [pairs], opts); }
  deleteBatch(keys: unknown[], opts?: CallOptions): Promise<void> { return this.call('deleteBatch', [keys], opts); }
  batch(ops: unknown[], opts?: CallOptions): Promise<void> { return this.call('batch', [ops], opts); }
  putAsync(key: unknown, value: unknown, opts?: CallOptions): Promise<void> { return this.call('putAsync', [key, value], opts); }
  deleteAsync(key: unknown, opts?: CallOptions): Promise<void> { return this.call('deleteAsync', [key], opts); }
  putBatchAsync(pairs: Array<[unknown, unknown]>, opts?: CallOptions): Promise<void> { return this.call('putBatchAsync', [pairs], opts); }
  deleteBatchAsync(keys: unknown[], opts?: CallOptions): Promise<void> { return this.call('deleteBatchAsync', [keys], opts); }
  batchAsync(ops: unknown[], opts?: CallOptions): Promise<void> { return this.call('batchAsync', [ops], opts); }
  flush(opts?: CallOptions): Promise<void> { return this.call('flush', [], opts); }
  flushAsync(opts?: CallOptions): Promise<void> { return this.call('flushAsync', [], opts); }
  checkpoint(opts?: CallOptions): Promise<void> { return this.call('checkpoint', [], opts); }
  metrics(opts?: CallOptions): Promise<Record<string, unknown>> { return this.call('metrics', [], opts); }
  metricsText(opts?: CallOptions): Promise<string> { return this.call('metricsText', [], opts); }
  healthCheck(opts?: CallOptions): Promise<{ healthy: boolean; issues: string[] }> { return this.call('healthCheck', [], opts); }
  check(opts?: CallOptions): Promise<void> { return this.call('check', [], opts); }
  /** Backs up into the new database `target` in the same store. */
  backup(target: string, opts?: CallOptions): Promise<void> {
    try {
      checkCallOptions(opts);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.ch.send({ op: 'backup', target }, opts);
  }

  scan(opts?: unknown): RemoteIterator<[unknown, unknown]> {
    return new RemoteIterator(this.ch, 0, 'scan', opts === undefined ? [] : [opts], this);
  }
  scanPrefix(prefix: unknown, opts?: unknown): RemoteIterator<[unknown, unknown]> {
    return new RemoteIterator(this.ch, 0, 'scanPrefix', opts === undefined ? [prefix] : [prefix, opts], this);
  }
  scanReverse(lte?: unknown, gte?: unknown): RemoteIterator<[unknown, unknown]> {
    return new RemoteIterator(this.ch, 0, 'scanReverse', [lte, gte], this);
  }
  keys(opts?: unknown): RemoteIterator<unknown> {
    return new RemoteIterator(this.ch, 0, 'keys', opts === undefined ? [] : [opts], this);
  }
  values(opts?: unknown): RemoteIterator<unknown> {
    return new RemoteIterator(this.ch, 0, 'values', opts === undefined ? [] : [opts], this);
  }

  async beginTransaction(options: { readOnly?: boolean } & CallOptions = {}): Promise<RemoteTransaction> {
    const { signal, timeout, ...rest } = options;
    checkCallOptions({ signal, timeout });
    const h = await this.ch.send<number>({ op: 'begin', options: rest }, { signal, timeout });
    return new RemoteTransaction(this.ch, h, this);
  }

  /** Runs fn(tx); commits when it resolves, aborts when it throws; retries
   * up to `retries` times on CONFLICT. */
  async transaction<T>(fn: (tx: RemoteTransaction) => Promise<T> | T, opts: TransactionCallOptions = {}): Promise<T> {
    return this.run(fn, opts, false);
  }

  private async run<T>(fn: (tx: RemoteTransaction) => Promise<T> | T, opts: TransactionCallOptions, durable: boolean): Promise<T> {
    if (typeof fn !== 'function') throw new TypeError('transaction(fn): fn must be a function');
    const { retries, ...call } = opts;
    checkCallOptions(call);
    let left = retries ?? 0;
    for (;;) {
      // signal / timeout bound the wait to begin; the commit then runs.
      const tx = await this.beginTransaction(call);
      let result: T;
      try {
        result = await fn(tx);
      } catch (e) {
        await tx.abort().catch(() => {});
        throw e;
      }
      try {
        await (durable ? tx.commitAsync() : tx.commit());
        return result;
      } catch (e) {
        if (e instanceof LightningDbError && e.code === 'CONFLICT' && left-- > 0) continue;
        throw e;
      }
    }
  }

  /** As transaction(), committing with commitAsync (durable before it
   * resolves, whatever the sync mode's wait). */
  async transactionAsync<T>(fn: (tx: RemoteTransaction) => Promise<T> | T, opts: TransactionCallOptions = {}): Promise<T> {
    return this.run(fn, opts, true);
  }

  /** Closes the database and ends the Worker. Idempotent. */
  close(): Promise<void> {
    abandoned.unregister(this);
    this.closed ??= this.ch
      .send<void>({ op: 'close' })
      .finally(() => {
        this.ch.worker.terminate();
        this.ch.fail(new LightningDbError('CLOSED', 'the database is closed'));
      });
    return this.closed;
  }
}

/** Ends the Worker of a RemoteDatabase that became unreachable without
 * close() (an abandoned open): its tab lock must not be held forever. */
const abandoned = new FinalizationRegistry<Channel>((ch) => {
  ch.send({ op: 'close' }).finally(() => ch.worker.terminate()).catch(() => {});
});

/** Opens the database `name` in a new dedicated Worker (main thread). */
export async function open(name: string, options: OpenOptions = {}): Promise<RemoteDatabase> {
  if (typeof name !== 'string' || !name) throw new TypeError('database name must be a non-empty string');
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  const { workerUrl, signal, wasmUrl, ...rest } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError('signal must be an AbortSignal');
  if (signal?.aborted) throw new LightningDbError('ABORTED', `opening database "${name}" was cancelled (AbortSignal)`);
  const base = typeof location !== 'undefined' ? location.href : undefined;
  const url = String(workerUrl !== undefined ? new URL(String(workerUrl), base) : new URL('./worker.js', import.meta.url));
  // Relative to the page, not to the Worker script.
  if (wasmUrl !== undefined) rest.wasmUrl = String(new URL(String(wasmUrl), base));
  const worker = new Worker(url, { type: 'module', name: `lightningdb:${name}` });
  const ch = new Channel(worker, url);
  let onAbort: (() => void) | undefined;
  try {
    const opened = ch.send<{ store: StoreKind }>({ op: 'open', name, options: rest });
    const aborted = new Promise<never>((_, reject) => {
      // Ending the Worker withdraws its lock request and frees what it holds.
      onAbort = () => reject(new LightningDbError('ABORTED', `opening database "${name}" was cancelled (AbortSignal); it holds nothing`));
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    const r = await Promise.race([opened, aborted]);
    const db = new RemoteDatabase(ch, r.store);
    abandoned.register(db, ch, db);
    return db;
  } catch (e) {
    worker.terminate();
    ch.fail(e as Error);
    throw e;
  } finally {
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}
