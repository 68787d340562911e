/**
 * worker.ts — the dedicated module Worker that hosts one database for the
 * main-thread proxy (index.ts). It opens the database with openInWorker()
 * (so OPFS sync handles and the synchronous API are available here) and
 * answers the proxy's requests (protocol.ts): plain method calls, scans
 * streamed in chunks of SCAN_CHUNK entries, and transactions kept open by
 * id between messages. Errors travel as { name, code, message }.
 */
/// <reference lib="webworker" />
import type { Database } from '../database.js';
import { IdbStore } from '../wasm/stores/idb.js';
import { backupInWorker, BrowserOpenOptions, openInWorker } from './host.js';
import { DB_METHODS, Reply, Request, SCAN_METHODS, TXN_METHODS, WireError } from './protocol.js';

declare const self: DedicatedWorkerGlobalScope;

let db: Database | null = null;
let storeChoice: BrowserOpenOptions['store'];
let nextHandle = 1;
const iters = new Map<number, Iterator<unknown> & { seek?: (k: unknown) => void }>();
const txns = new Map<number, object>();

function wire(e: unknown): WireError {
  const err = e as { name?: string; code?: unknown; message?: string };
  return {
    name: typeof err?.name === 'string' ? err.name : 'Error',
    code: typeof err?.code === 'string' ? err.code : undefined,
    message: String(err?.message ?? e),
  };
}

function need(): Database {
  if (!db) throw Object.assign(new Error('the database is not open'), { name: 'LightningDbError', code: 'CLOSED' });
  return db;
}

/** Calls obj[name](...args); TypeError when it is not a method. */
function invoke<R>(obj: object, name: string, args: unknown[]): R {
  const fn = (obj as Record<string, unknown>)[name];
  if (typeof fn !== 'function') throw new TypeError(`${name} is not a method`);
  return fn.apply(obj, args) as R;
}

function pull(it: Iterator<unknown>, max: number): { items: unknown[]; done: boolean } {
  const items: unknown[] = [];
  while (items.length < max) {
    const r = it.next();
    if (r.done) return { items, done: true };
    items.push(r.value);
  }
  return { items, done: false };
}

async function handle(req: Request): Promise<unknown> {
  switch (req.op) {
    case 'open': {
      if (db) throw new Error('this worker already hosts a database');
      const options = req.options as BrowserOpenOptions;
      storeChoice = options.store;
      db = await openInWorker(req.name, options);
      return null;
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
      if (!owner) throw Object.assign(new Error('the transaction is closed'), { name: 'LightningDbError', code: 'CLOSED' });
      const it = invoke<Iterable<unknown>>(owner, req.method, req.args)[Symbol.iterator]();
      const h = nextHandle++;
      iters.set(h, it as Iterator<unknown>);
      return h;
    }
    case 'iterNext': {
      const it = iters.get(req.iter);
      if (!it) return { items: [], done: true };
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
      if (!t) throw Object.assign(new Error('the transaction is closed'), { name: 'LightningDbError', code: 'CLOSED' });
      if (req.method === 'commit' || req.method === 'commitAsync' || req.method === 'abort') txns.delete(req.txn);
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
  }
}

// Requests are handled one at a time, in order, like calls on one thread.
let queue: Promise<void> = Promise.resolve();
self.onmessage = (ev: MessageEvent<Request>) => {
  const req = ev.data;
  queue = queue.then(async () => {
    let reply: Reply;
    try {
      reply = { id: req.id, ok: true, value: await handle(req) };
    } catch (e) {
      reply = { id: req.id, ok: false, error: wire(e) };
    }
    try {
      self.postMessage(reply);
    } catch (e) {
      self.postMessage({ id: req.id, ok: false, error: wire(e) } satisfies Reply);
    }
  });
};
