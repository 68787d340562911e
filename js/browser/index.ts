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
import type { Reply, Request, WireError } from './protocol.js';
import { SCAN_CHUNK } from './protocol.js';

export { LightningDbError } from '../errors.js';
export { opfsAvailable } from '../wasm/stores/opfs.js';
export type { BrowserOpenOptions, StoreChoice } from './host.js';
import type { BrowserOpenOptions, StoreChoice } from './host.js';
import type { Database } from '../database.js';

// The Worker-side functions load the engine lazily, so a main-thread page
// that only uses open() never downloads the WebAssembly glue.

/** Inside a dedicated Worker: opens the database with the synchronous API. */
export async function openInWorker(name: string, options?: BrowserOpenOptions): Promise<Database> {
  return (await import('./host.js')).openInWorker(name, options);
}
/** Deletes a (closed) database; works on the main thread and in Workers. */
export async function destroy(name: string, options?: { store?: StoreChoice }): Promise<void> {
  return (await import('./host.js')).destroy(name, options);
}
/** Inside a Worker: backs up db into the new database `target`. */
export async function backupInWorker(db: Database, target: string, store?: StoreChoice): Promise<void> {
  return (await import('./host.js')).backupInWorker(db, target, store);
}

export interface OpenOptions {
  store?: 'auto' | 'opfs' | 'indexeddb' | 'idb' | 'memory';
  waitForLock?: boolean;
  wasmUrl?: string;
  /** URL of the worker module; default worker.js next to this module. */
  workerUrl?: string | URL;
  [option: string]: unknown;
}

function revive(e: WireError): Error {
  if (e.name === 'TypeError') return new TypeError(e.message);
  if (e.code) return new LightningDbError(e.code as ErrorCode, e.message);
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}

type Req = Request extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

class Channel {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  private dead: Error | null = null;
  constructor(readonly worker: Worker) {
    worker.onmessage = (ev: MessageEvent<Reply>) => {
      const r = ev.data;
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (r.ok) p.resolve(r.value);
      else p.reject(revive(r.error));
    };
    worker.onerror = (ev: ErrorEvent) => {
      ev.preventDefault?.();
      this.fail(new LightningDbError('INTERNAL', `database worker failed: ${ev.message || 'script error'}`));
    };
  }
  fail(e: Error): void {
    this.dead = e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
  send<T>(req: Req): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...req, id });
    });
  }
}

/** An AsyncIterable over entries streamed from the Worker. */
export class RemoteIterator<T> implements AsyncIterableIterator<T> {
  private buf: T[] = [];
  private pos = 0;
  private done = false;
  private handle: Promise<number>;
  constructor(private readonly ch: Channel, txn: number, method: string, args: unknown[]) {
    this.handle = ch.send<number>({ op: 'iter', txn, method, args });
  }
  [Symbol.asyncIterator](): this {
    return this;
  }
  async next(): Promise<IteratorResult<T>> {
    if (this.pos < this.buf.length) return { value: this.buf[this.pos++] as T, done: false };
    if (this.done) return { value: undefined, done: true };
    const iter = await this.handle;
    const r = await this.ch.send<{ items: T[]; done: boolean }>({ op: 'iterNext', iter, max: SCAN_CHUNK });
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
  constructor(private readonly ch: Channel, private readonly h: number) {}
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
    return new RemoteIterator(this.ch, this.h, 'scan', opts === undefined ? [] : [opts]);
  }
}

/** The main-thread Database: every method returns a promise. */
export class RemoteDatabase {
  private closed: Promise<void> | null = null;
  constructor(private readonly ch: Channel) {}
  private call<T>(method: string, args: unknown[]): Promise<T> {
    return this.ch.send<T>({ op: 'call', method, args });
  }
  get(key: unknown): Promise<unknown> { return this.call('get', [key]); }
  has(key: unknown): Promise<boolean> { return this.call('has', [key]); }
  getBatch(keys: unknown[]): Promise<unknown[]> { return this.call('getBatch', [keys]); }
  put(key: unknown, value: unknown): Promise<void> { return this.call('put', [key, value]); }
  delete(key: unknown): Promise<void> { return this.call('delete', [key]); }
  putBatch(pairs: Array<[unknown, unknown]>): Promise<void> { return this.call('putBatch', [pairs]); }
  deleteBatch(keys: unknown[]): Promise<void> { return this.call('deleteBatch', [keys]); }
  batch(ops: unknown[]): Promise<void> { return this.call('batch', [ops]); }
  putAsync(key: unknown, value: unknown): Promise<void> { return this.call('putAsync', [key, value]); }
  deleteAsync(key: unknown): Promise<void> { return this.call('deleteAsync', [key]); }
  putBatchAsync(pairs: Array<[unknown, unknown]>): Promise<void> { return this.call('putBatchAsync', [pairs]); }
  deleteBatchAsync(keys: unknown[]): Promise<void> { return this.call('deleteBatchAsync', [keys]); }
  batchAsync(ops: unknown[]): Promise<void> { return this.call('batchAsync', [ops]); }
  flush(): Promise<void> { return this.call('flush', []); }
  flushAsync(): Promise<void> { return this.call('flushAsync', []); }
  checkpoint(): Promise<void> { return this.call('checkpoint', []); }
  metrics(): Promise<Record<string, unknown>> { return this.call('metrics', []); }
  metricsText(): Promise<string> { return this.call('metricsText', []); }
  healthCheck(): Promise<{ healthy: boolean; issues: string[] }> { return this.call('healthCheck', []); }
  check(): Promise<void> { return this.call('check', []); }
  /** Backs up into the new database `target` in the same store. */
  backup(target: string): Promise<void> { return this.ch.send({ op: 'backup', target }); }

  scan(opts?: unknown): RemoteIterator<[unknown, unknown]> {
    return new RemoteIterator(this.ch, 0, 'scan', opts === undefined ? [] : [opts]);
  }
  scanPrefix(prefix: unknown, opts?: unknown): RemoteIterator<[unknown, unknown]> {
    return new RemoteIterator(this.ch, 0, 'scanPrefix', opts === undefined ? [prefix] : [prefix, opts]);
  }
  scanReverse(lte?: unknown, gte?: unknown): RemoteIterator<[unknown, unknown]> {
    return new RemoteIterator(this.ch, 0, 'scanReverse', [lte, gte]);
  }
  keys(opts?: unknown): RemoteIterator<unknown> {
    return new RemoteIterator(this.ch, 0, 'keys', opts === undefined ? [] : [opts]);
  }
  values(opts?: unknown): RemoteIterator<unknown> {
    return new RemoteIterator(this.ch, 0, 'values', opts === undefined ? [] : [opts]);
  }

  async beginTransaction(options: { readOnly?: boolean } = {}): Promise<RemoteTransaction> {
    const h = await this.ch.send<number>({ op: 'begin', options });
    return new RemoteTransaction(this.ch, h);
  }

  /** Runs fn(tx); commits when it resolves, aborts when it throws; retries
   * up to `retries` times on CONFLICT. */
  async transaction<T>(fn: (tx: RemoteTransaction) => Promise<T> | T, opts: { retries?: number } = {}): Promise<T> {
    return this.run(fn, opts, false);
  }

  private async run<T>(fn: (tx: RemoteTransaction) => Promise<T> | T, opts: { retries?: number }, durable: boolean): Promise<T> {
    if (typeof fn !== 'function') throw new TypeError('transaction(fn): fn must be a function');
    let left = opts.retries ?? 0;
    for (;;) {
      const tx = await this.beginTransaction();
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
  async transactionAsync<T>(fn: (tx: RemoteTransaction) => Promise<T> | T, opts: { retries?: number } = {}): Promise<T> {
    return this.run(fn, opts, true);
  }

  /** Closes the database and ends the Worker. Idempotent. */
  close(): Promise<void> {
    this.closed ??= this.ch
      .send<void>({ op: 'close' })
      .finally(() => {
        this.ch.worker.terminate();
        this.ch.fail(new LightningDbError('CLOSED', 'the database is closed'));
      });
    return this.closed;
  }
}

/** Opens the database `name` in a new dedicated Worker (main thread). */
export async function open(name: string, options: OpenOptions = {}): Promise<RemoteDatabase> {
  if (typeof name !== 'string' || !name) throw new TypeError('database name must be a non-empty string');
  const { workerUrl, ...rest } = options;
  const worker = new Worker(workerUrl ?? new URL('./worker.js', import.meta.url), { type: 'module', name: `lightningdb:${name}` });
  const ch = new Channel(worker);
  try {
    await ch.send({ op: 'open', name, options: rest });
  } catch (e) {
    worker.terminate();
    throw e;
  }
  return new RemoteDatabase(ch);
}
