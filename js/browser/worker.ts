/**
 * worker.ts — the dedicated module Worker that hosts one database for the
 * main-thread proxy (index.ts). It opens the database with openForProxy()
 * (so OPFS sync access handles and the synchronous API are available here)
 * and answers the proxy's requests (protocol.ts): plain method calls, scans
 * streamed in chunks (at most SCAN_CHUNK entries and about SCAN_BYTES
 * bytes per message), and transactions kept open by id between messages.
 * Errors travel as { name, code, message }; browser DOMExceptions are given
 * their LightningDB code here (storeErrorFrom).
 *
 * Order and durability: requests run one at a time, in order. Writes are
 * pipelined: a write runs in order, but its reply waits for durability
 * (IndexedDB with syncMode 'full', and the ...Async forms) while the next
 * requests run, so concurrent writes share IndexedDB transactions (group
 * commit). Any other request first waits until the pipelined writes are
 * settled, so nothing reads a write that is not yet acknowledged.
 *
 * Failure: when the IndexedDB store fails to persist (quota), every write
 * not yet persisted is rejected (FULL or IO), and the database is reopened
 * from what IndexedDB holds before the next request runs: a rejected call
 * leaves nothing, as on OPFS (open transactions and scans end: CLOSED).
 */
/// <reference lib="webworker" />
import type { Database } from '../database.js';
import { LightningDbError } from '../errors.js';
import { IdbStore } from '../wasm/stores/idb.js';
import { storeErrorFrom } from '../wasm/stores/types.js';
import { backupInWorker, BrowserOpenOptions, openForProxy, reopenAfterFailure, storeOf } from './host.js';
import {
  DB_METHODS, Hello, Reply, Request, SCAN_BYTES, SCAN_METHODS, TXN_METHODS, WireError, WRITE_METHODS,
} from './protocol.js';

declare const self: DedicatedWorkerGlobalScope;

let db: Database | null = null;
let storeChoice: BrowserOpenOptions['store'];
let durableAcks = false;
let nextHandle = 1;
const iters = new Map<number, Iterator<unknown> & { seek?: (k: unknown) => void }>();
const txns = new Map<number, object>();

function wire(e: unknown): WireError {
  const err = e as { name?: string; code?: unknown; message?: string };
  if (e instanceof LightningDbError || e instanceof TypeError || typeof err?.code === 'string')
    return {
      name: typeof err?.name === 'string' ? err.name : 'Error',
      code: typeof err?.code === 'string' ? err.code : undefined,
      message: String(err?.message ?? e),
    };
  // A browser error (DOMException) or anything else: give it a code.
  const se = storeErrorFrom(e, 'the database Worker');
  return { name: 'LightningDbError', code: se.code, message: se.message };
}

function need(): Database {
  if (!db) throw new LightningDbError('CLOSED', 'the database is not open');
  return db;
}

/** Calls obj[name](...args); TypeError when it is not a method. */
function invoke<R>(obj: object, name: string, args: unknown[]): R {
  const fn = (obj as Record<string, unknown>)[name];
  if (typeof fn !== 'function') throw new TypeError(`${name} is not a method`);
  return fn.apply(obj, args) as R;
}

/** Approximate bytes of a scan item ([key, value], a key or a value). */
function sizeOf(v: unknown): number {
  if (v instanceof Uint8Array) return v.byteLength;
  if (typeof v === 'string') return v.length;
  if (Array.isArray(v)) return v.reduce((n: number, x) => n + sizeOf(x), 0);
  if (v === undefined || v === null) return 0;
  if (typeof v === 'object') return JSON.stringify(v)?.length ?? 0;
  return 8;
}

function pull(it: Iterator<unknown>, max: number): { items: unknown[]; done: boolean } {
  const items: unknown[] = [];
  let bytes = 0;
  while (items.length < max && bytes < SCAN_BYTES) {
    const r = it.next();
    if (r.done) return { items, done: true };
    items.push(r.value);
    bytes += sizeOf(r.value) + 16;
  }
  return { items, done: false };
}

function idbStore(): IdbStore | null {
  const s = db ? storeOf(db)?.store : null;
  return s instanceof IdbStore ? s : null;
}

/** Is this request a write whose reply may wait for durability while the
 * next requests run? */
function isWrite(req: Request): boolean {
  if (req.op === 'call') return (WRITE_METHODS as readonly string[]).includes(req.method);
  if (req.op === 'txn') return req.method === 'commit' || req.method === 'commitAsync';
  return false;
}

/** Replies of pipelined writes not yet settled. */
const pipelined = new Set<Promise<unknown>>();

async function settlePipelined(): Promise<void> {
  while (pipelined.size) await Promise.allSettled([...pipelined]);
}

/** A write ran since the database was (re)opened. */
let wroteSinceOpen = false;

/** After an IndexedDB persistence failure: ends scans and transactions and
 * reopens the database from what is persisted — when the engine may hold
 * writes that will never be persisted (a write ran since the open), or
 * before a new write (it would fail on the stopped store). A failure of
 * the engine's own writes at open leaves the data as persisted, so reads
 * and open transactions go on (their commit then fails with the store's
 * error and the next request reopens). */
async function recoverIfFailed(req: Request): Promise<void> {
  const s = idbStore();
  if (!db || !s?.failed) return;
  if (!wroteSinceOpen && !(req.op === 'call' && isWrite(req))) return;
  await settlePipelined();
  iters.clear();
  txns.clear();
  db = await reopenAfterFailure(db);
  wroteSinceOpen = false;
}

/** Runs a write; resolves when it may be acknowledged. */
function runWrite(req: Request & { op: 'call' | 'txn' }): Promise<unknown> {
  let result: unknown;
  wroteSinceOpen = true;
  if (req.op === 'call') {
    result = invoke<unknown>(need(), req.method, req.args);
  } else {
    const t = txns.get(req.txn);
    if (!t) throw new LightningDbError('CLOSED', 'the transaction is closed');
    txns.delete(req.txn);
    result = invoke<unknown>(t, req.method, req.args);
  }
  const s = idbStore();
  // syncMode 'full' on IndexedDB: acknowledged only once durable.
  if (durableAcks && s) return Promise.resolve(result).then(async (v) => (await s.durable(), v));
  return Promise.resolve(result);
}

async function handle(req: Request): Promise<unknown> {
  switch (req.op) {
    case 'open': {
      if (db) throw new LightningDbError('INVALID_ARGUMENT', 'this worker already hosts a database');
      const options = { ...req.options, signal: controllers.get(req.id)?.signal } as BrowserOpenOptions;
      storeChoice = options.store;
      db = await openForProxy(req.name, options);
      durableAcks = options.syncMode === 'full';
      return { store: storeOf(db)?.kind };
    }
    case 'call': {
      if (!(DB_METHODS as readonly string[]).includes(req.method)) throw new TypeError(`unknown method ${req.method}`);
      return await invoke<unknown>(need(), req.method, req.args);
    }
    case 'backup':
      await backupInWorker(need(), req.target, storeChoice);
      return null;
    case 'iter': {
      if (!(SCAN_METHODS as readonly string[]).includes(req.method)) throw new TypeError(`unknown scan ${req.method}`);
      const owner: object | undefined = req.txn ? txns.get(req.txn) : need();
      if (!owner) throw new LightningDbError('CLOSED', 'the transaction is closed');
      const it = invoke<Iterable<unknown>>(owner, req.method, req.args)[Symbol.iterator]();
      const h = nextHandle++;
      iters.set(h, it as Iterator<unknown>);
      return h;
    }
    case 'iterNext': {
      const it = iters.get(req.iter);
      if (!it) {
        if (!db) throw new LightningDbError('CLOSED', 'the database is closed');
        return { items: [], done: true };
      }
      const r = pull(it, req.max);
      if (r.done) iters.delete(req.iter);
      return r;
    }
    case 'iterSeek': {
      const it = iters.get(req.iter);
      if (!it?.seek) throw new TypeError('this iterator cannot seek');
      it.seek(req.key);
      return null;
    }
    case 'iterClose': {
      const it = iters.get(req.iter);
      iters.delete(req.iter);
      it?.return?.();
      return null;
    }
    case 'begin': {
      const t: object = need().beginTransaction(req.options as never);
      const h = nextHandle++;
      txns.set(h, t);
      return h;
    }
    case 'txn': {
      if (!(TXN_METHODS as readonly string[]).includes(req.method)) throw new TypeError(`unknown transaction method ${req.method}`);
      const t = txns.get(req.txn);
      if (!t) throw new LightningDbError('CLOSED', 'the transaction is closed');
      if (req.method === 'abort') txns.delete(req.txn);
      return await invoke<unknown>(t, req.method, req.args);
    }
    case 'close': {
      for (const it of iters.values()) it.return?.();
      iters.clear();
      for (const t of txns.values()) {
        try {
          invoke(t, 'abort', []);
        } catch {
          /* already ended */
        }
      }
      txns.clear();
      const d = db;
      db = null;
      d?.close();
      // The proxy terminates this Worker next: let IndexedDB finish the
      // transactions queued by the final syncs first.
      await IdbStore.settled();
      return null;
    }
    case 'cancel':
      return null;
  }
}

/** Requests waiting to run or running (for cancel), with their state. */
const states = new Map<number, { started: boolean; cancelled: 'ABORTED' | 'TIMEOUT' | null }>();
/** An AbortController per open request: cancel aborts its wait. */
const controllers = new Map<number, AbortController>();
const answered = new Set<number>();

function reply(r: Reply): void {
  if (answered.has(r.id)) {
    answered.delete(r.id);
    return;
  }
  try {
    self.postMessage(r);
  } catch (e) {
    self.postMessage({ id: r.id, ok: false, error: wire(e) } satisfies Reply);
  }
}

function cancel(target: number, code: 'ABORTED' | 'TIMEOUT'): void {
  const st = states.get(target);
  if (!st) return;
  if (!st.started) {
    st.cancelled = code;
    return;
  }
  const c = controllers.get(target);
  if (c) {
    // An open waiting for the lock or its store: stop waiting.
    c.abort();
    return;
  }
  if (code === 'TIMEOUT') {
    answered.add(target);
    self.postMessage({
      id: target, ok: false,
      error: { name: 'LightningDbError', code: 'TIMEOUT', message: 'the call timed out while the database Worker was running it; it may still complete (it is not cancelled)' },
    } satisfies Reply);
  }
}

function cancelledError(code: 'ABORTED' | 'TIMEOUT'): WireError {
  return {
    name: 'LightningDbError', code,
    message: code === 'ABORTED'
      ? 'the call was cancelled (AbortSignal) before it started; nothing of it was applied'
      : 'the call timed out before it started; nothing of it was applied',
  };
}

// Requests are handled one at a time, in order, like calls on one thread.
let queue: Promise<void> = Promise.resolve();
self.onmessage = (ev: MessageEvent<Request>) => {
  const req = ev.data;
  if (req.op === 'cancel') {
    cancel(req.target, req.code);
    return;
  }
  const st = { started: false, cancelled: null as 'ABORTED' | 'TIMEOUT' | null };
  states.set(req.id, st);
  if (req.op === 'open') controllers.set(req.id, new AbortController());
  queue = queue.then(async () => {
    if (st.cancelled) {
      states.delete(req.id);
      reply({ id: req.id, ok: false, error: cancelledError(st.cancelled) });
      return;
    }
    try {
      if (!isWrite(req)) await settlePipelined();
      await recoverIfFailed(req);
    } catch (e) {
      states.delete(req.id);
      reply({ id: req.id, ok: false, error: wire(e) });
      return;
    }
    if (st.cancelled) {
      states.delete(req.id);
      reply({ id: req.id, ok: false, error: cancelledError(st.cancelled) });
      return;
    }
    st.started = true;
    if (isWrite(req)) {
      let p: Promise<unknown>;
      try {
        p = runWrite(req as Request & { op: 'call' | 'txn' });
      } catch (e) {
        p = Promise.reject(e);
      }
      const done = p.then(
        (value) => reply({ id: req.id, ok: true, value }),
        (e) => reply({ id: req.id, ok: false, error: wire(e) }),
      ).finally(() => {
        states.delete(req.id);
        pipelined.delete(done);
      });
      pipelined.add(done);
      return;
    }
    let r: Reply;
    try {
      r = { id: req.id, ok: true, value: await handle(req) };
    } catch (e) {
      r = { id: req.id, ok: false, error: wire(e) };
    }
    states.delete(req.id);
    controllers.delete(req.id);
    reply(r);
  });
};

self.postMessage({ id: 0, hello: true } satisfies Hello);
