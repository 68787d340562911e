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
 * Order and durability: requests run one at a time, in order (one that
 * finds none waiting and nothing to do first runs in the task of its
 * message: runNow). Writes are
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
 *
 * Shared databases (the default; { exclusive: true } or waitForLock give
 * the single-tab mode): this Worker asks for the database's tab lock and
 * asks the control channel who owns it. Whichever comes first: the lock
 * makes it the owner (it opens the database, stores the next owner epoch,
 * announces itself and serves every tab: its own over postMessage, the
 * others over BroadcastChannel, see protocol.ts); an owner's answer makes
 * its tab a client, while this Worker goes on waiting for the lock
 * (standing by) and takes over when the owner is gone. Writes of every tab
 * carry a request id recorded with their commit (owner.ts), so a write
 * resent after a hand-off is applied once. An owner that closes stops
 * taking other tabs' requests first; those it has not answered are
 * resent to the next owner by their tabs.
 */
/// <reference lib="webworker" />
import type { ChangeFeed, Database } from '../database.js';
import { typeError, LightningDbError } from '../errors.js';
import { IdbStore } from '../wasm/stores/idb.js';
import { storeErrorFrom } from '../wasm/stores/types.js';
import {
  backupInWorker, BrowserOpenOptions, engine, HostOptions, openForProxy, reopenAfterFailure, resolveSharedKind, storeOf,
  type StoreKind,
} from './host.js';
import {
  clientRecordsPrefix, decodeNumber, encodeNumber, EPOCH_KEY, keysWithPrefix, RECORD_VALUE, recordClient, recordKey, recordsPrefix,
  setTag, SharedEngine,
} from './owner.js';
import {
  BecameOwner, ClientEnvelope, Control, DB_METHODS, Hello, Opened, Pong, Reply, Request, SCAN_BYTES, SCAN_METHODS,
  SubWire, TXN_METHODS, WireError, WRITE_METHODS,
} from './protocol.js';
import { channelBase, clientLockName, holdLock, lockName, randomId } from './tabs.js';
import { engineOptionMismatch, engineOptionValues } from '../options.js';
import { setTrace, trace } from './trace.js';

declare const self: DedicatedWorkerGlobalScope;

/** Where a request came from, and how to answer it. */
interface Source {
  /** The tab's clientId ('' in exclusive mode). */
  client: string;
  /** Its encodings (JSON [keyEncoding, valueEncoding]). */
  enc: string;
  /** This Worker's own tab (postMessage), as opposed to another tab. */
  local: boolean;
  post(r: Reply): void;
}

const LOCAL: Source = { client: '', enc: '', local: true, post: (r) => self.postMessage(r) };

/** The database of this tab's encodings (with shared databases: of the
 * owner's own tab). */
let db: Database | null = null;
let storeChoice: BrowserOpenOptions['store'];
let durableAcks = false;
let nextHandle = 1;
let openName = '';
let openOptions: BrowserOpenOptions = {};
/** Open scans; `retain`: kept at their end (ScanOptions.retain) until
 * iterClose, so iterSeek can reposition them. */
const iters = new Map<number, { it: Iterator<unknown> & { seek?: (k: unknown) => void }; client: string; retain: boolean }>();
const txns = new Map<number, { t: object; client: string }>();
/** Databases of other encodings than this tab's, for other tabs (owner). */
const views = new Map<string, Database>();
/** Named sub-databases of the tabs (SubWire), by `<client>|<enc>|i<id>`
 * (a sub-database object of a page) or `<client>|<enc>|p<path>` (tx.sub()
 * views and the parents of nested ones); `of`: the database they were
 * opened from (after a reopen they are opened again). */
const subDbs = new Map<string, { db: Database; of: Database; client: string }>();

/** How long a new owner retries opening while the previous owner's OPFS
 * handles are still being released (BUSY), in ms. */
const TAKEOVER_BUSY_MS = 5000;
/** Default bound of open() in shared mode without an owner answering and
 * without the lock (ms): the `timeout` option. */
const SHARED_OPEN_TIMEOUT_MS = 30_000;

interface Shared {
  kind: StoreKind;
  base: string;
  clientId: string;
  enc: string;
  ctrl: BroadcastChannel;
  /** The database's tab lock: held while this Worker owns it. */
  lock: ReturnType<typeof holdLock>;
  abort: AbortController;
  /** Held for this Worker's life: its tab learns when it is gone. */
  alive: ReturnType<typeof holdLock>;
  role: 'standby' | 'opening' | 'owner' | 'closing' | 'closed' | 'failed';
  ownerId?: string;
  epoch?: number;
  /** Held while this Worker owns the database: clients learn when it is gone. */
  ownerLock?: ReturnType<typeof holdLock>;
  inbox?: BroadcastChannel;
  engine?: SharedEngine;
  replies: Map<string, BroadcastChannel>;
  watched: Map<string, ReturnType<typeof holdLock>>;
  forget: Uint8Array[];
  forgetTimer?: ReturnType<typeof setTimeout>;
  /** The pending open(): settled by the first owner heard of, or by
   * taking over. */
  waiter: { resolve: (o: Opened) => void; reject: (e: unknown) => void } | null;
}

let shared: Shared | null = null;

function wire(e: unknown): WireError {
  const err = e as { name?: string; code?: unknown; message?: string };
  // FULL from the IndexedDB store's memory limit: say which limit.
  const limit = err?.code === 'FULL' ? idbStore()?.limitError : null;
  if (limit) {
    idbStore()!.limitError = null;
    return { name: 'LightningDbError', code: 'FULL', message: `${limit.message} (${String(err?.message ?? e)})` };
  }
  if (e instanceof LightningDbError || e instanceof TypeError || typeof err?.code === 'string') {
    const cause = (e as { cause?: unknown }).cause;
    return {
      name: typeof err?.name === 'string' ? err.name : 'Error',
      code: typeof err?.code === 'string' ? err.code : undefined,
      message: String(err?.message ?? e),
      ...(cause instanceof Error ? { cause: { name: cause.name, message: cause.message } } : {}),
    };
  }
  // A browser error (DOMException) or anything else: give it a code.
  const se = storeErrorFrom(e, 'the database Worker');
  return { name: 'LightningDbError', code: se.code, message: se.message };
}

/** Handles (scans, transactions) of this owner are >= handleBase: one of
 * a previous owner is answered OWNER_LOST. */
let handleBase = 1;

function ownerLost(what: 'scan' | 'transaction'): LightningDbError {
  return new LightningDbError('OWNER_LOST', what === 'scan'
    ? 'the scan lived in the tab that owned the database, and that tab went away (closed, reloaded or crashed); start the scan again'
    : 'the transaction lived in the tab that owned the database, and that tab went away (closed, reloaded or crashed); nothing of it was committed: run it again');
}

function encOf(options: { keyEncoding?: unknown; valueEncoding?: unknown }): string {
  return JSON.stringify([options.keyEncoding ?? null, options.valueEncoding ?? null]);
}

/** This Worker in trace lines: its tab's client id and its role. */
function me(): string {
  return `w:${LOCAL.client.slice(0, 4) || 'excl'}/${shared?.role ?? '-'}`;
}

function need(src: Source = LOCAL): Database {
  if (!db) {
    trace(me(), () => `CLOSED: a call of ${src.local ? 'this tab' : `tab ${src.client.slice(0, 4)}`} found no open database`);
    throw new LightningDbError('CLOSED', 'the database is not open');
  }
  if (!shared || src.enc === shared.enc) return db;
  const v = views.get(src.enc);
  if (!v) throw new LightningDbError('INTERNAL', 'no database for these encodings');
  return v;
}

/** The database a request runs in: need(src), or its named sub-database
 * `sub` (opened on first use, from its path, also by a new owner). */
function target(src: Source, sub: SubWire | undefined): Database {
  const root = need(src);
  if (sub === undefined) return root;
  if (sub === null || typeof sub !== 'object' || !Array.isArray(sub.path)) throw typeError('bad sub-database reference');
  return subAt(src, root, sub.path, sub.id);
}

function subAt(src: Source, root: Database, path: SubWire['path'], id?: number): Database {
  if (path.length === 0) return root;
  const key = `${src.client}|${src.enc}|${id === undefined ? `p${JSON.stringify(path)}` : `i${id}`}`;
  const have = subDbs.get(key);
  if (have && have.of === root && !have.db.closed) return have.db;
  const parent = subAt(src, root, path.slice(0, -1));
  const step = path[path.length - 1]!;
  const db = parent.sub(step.name, { keyEncoding: step.keyEncoding as never, valueEncoding: step.valueEncoding as never });
  subDbs.set(key, { db, of: root, client: src.client });
  return db;
}

/** Closes the sub-databases of `client` (all: every client's). */
function closeSubs(client?: string): void {
  for (const [k, s] of subDbs) {
    if (client !== undefined && s.client !== client) continue;
    subDbs.delete(k);
    try {
      s.db.close();
    } catch {
      /* closed with its database */
    }
  }
}

/** Is a scan's `retain` option set (ScanOptions of args, see SCAN_METHODS)? */
function retained(method: string, args: unknown[]): boolean {
  const o = method === 'scanPrefix' ? args[1] : method === 'scanReverse' ? undefined : args[0];
  return o !== null && typeof o === 'object' && (o as { retain?: unknown }).retain === true;
}

/** Opens the database of another tab's encodings (same engine). */
async function ensureView(src: Source): Promise<void> {
  if (!shared || !db || src.enc === shared.enc || views.has(src.enc)) return;
  const [keyEncoding, valueEncoding] = JSON.parse(src.enc) as [string | null, string | null];
  const o: BrowserOpenOptions = { ...openOptions, keyEncoding: keyEncoding ?? undefined, valueEncoding: valueEncoding ?? undefined } as BrowserOpenOptions;
  const v = await openForProxy(openName, o, hostOptions());
  views.set(src.enc, v);
}

function hostOptions(): HostOptions {
  const sh = shared!;
  return { lockHeld: { kind: sh.kind }, wrapEngine: (e) => (sh.engine ??= new SharedEngine(e)) };
}

/** The owner's unguarded engine handle (its own bookkeeping). */
function rawDb() {
  const sh = shared;
  if (!sh?.engine || !db) return undefined;
  return sh.engine.rawOf(`${sh.kind}:${openName}`);
}

/** Calls obj[name](...args); TypeError when it is not a method. */
function invoke<R>(obj: object, name: string, args: unknown[]): R {
  const fn = (obj as Record<string, unknown>)[name];
  if (typeof fn !== 'function') throw typeError(`${name} is not a method`);
  return fn.apply(obj, args) as R;
}

/** Approximate bytes of a scan item ([key, value], a key or a value). */
function sizeOf(v: unknown): number {
  if (v instanceof Uint8Array) return v.byteLength;
  if (typeof v === 'string') return v.length;
  if (Array.isArray(v)) return v.reduce((n: number, x) => n + sizeOf(x), 0);
  if (v === undefined || v === null) return 0;
  if (typeof v === 'object') {
    // JSON's length as the estimate; a value JSON cannot write (a BigInt
    // inside a msgpack value) counts by its own estimate instead.
    try {
      return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? 8 : x))?.length ?? 0;
    } catch {
      return 64;
    }
  }
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

function closeViews(): void {
  closeSubs();
  for (const v of views.values()) {
    try {
      v.close();
    } catch {
      /* closing a view of a failed store: nothing to report */
    }
  }
  views.clear();
}

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
  const old = db;
  db = await reopenAfterFailure(old);
  closeViews();
  wroteSinceOpen = false;
}

/** Queues records of acknowledged writes for deletion. They go in a
 * write of their own, in the task after the one that received them: after
 * the request that carried them has been answered (issue 11's client
 * latency: a client's write commits nothing but itself and its record,
 * and the deletion overlaps the reply's trip to its tab). Deleting the
 * record of an acknowledged write is safe at any moment: its client never
 * resends it. */
function queueForget(src: Source, rids: number[] | undefined): void {
  const sh = shared;
  if (!sh || !rids?.length || sh.role !== 'owner') return;
  for (const rid of rids) if (Number.isSafeInteger(rid)) sh.forget.push(recordKey(src.client, rid));
  sh.forgetTimer ??= setTimeout(() => {
    sh.forgetTimer = undefined;
    const raw = rawDb();
    if (!raw || sh.role !== 'owner' || sh.forget.length === 0) return;
    try {
      raw.write(sh.forget.splice(0).map((key) => ({ type: 'del' as const, key })));
    } catch {
      /* the client's lock watch or the next owner prunes them */
    }
  }, 0);
}

/** Does a write from src wait for IndexedDB durability before its reply?
 * With syncMode 'full', every write. With 'normal', the writes of other
 * tabs too: IndexedDB persists asynchronously, so what the owner holds
 * but has not persisted dies with the owner's tab; a closing tab loses
 * its own last writes (the documented window), but another tab, which
 * stays open, must never have been told that a lost write succeeded. Its
 * reply waits for the IndexedDB transaction that covers it (durable():
 * one is started at once; concurrent writes share it). On OPFS a write is
 * in the file when it returns and survives its tab: no wait. */
function ackWhenDurable(src: Source): boolean {
  return idbStore() !== null && (durableAcks || !src.local);
}

/** Runs a write; resolves when it may be acknowledged. */
function runWrite(req: Request & { op: 'call' | 'txn' }, src: Source): Promise<unknown> {
  const result = applyWrite(req, src);
  const s = idbStore();
  if (s && ackWhenDurable(src)) return Promise.resolve(result).then(async (v) => (await s.durable(), v));
  return Promise.resolve(result);
}

/** Applies a write (with its request record, shared databases); returns
 * the method's result. */
function applyWrite(req: Request & { op: 'call' | 'txn' }, src: Source): unknown {
  let result: unknown;
  wroteSinceOpen = true;
  const raw = req.rid !== undefined ? rawDb() : undefined;
  if (raw) {
    const rk = recordKey(src.client, req.rid!);
    // Resent after a hand-off: its record says whether it committed.
    if (req.retry && raw.get(rk) !== undefined) return undefined;
    if (req.op === 'txn' && !txns.has(req.txn) && (req.retry || req.txn < handleBase)) throw ownerLost('transaction');
    setTag({ ops: [{ type: 'put', key: rk, value: RECORD_VALUE }] });
  }
  try {
    if (req.op === 'call') {
      result = invoke<unknown>(target(src, req.sub), req.method, req.args);
    } else {
      const t = txns.get(req.txn);
      if (!t) throw new LightningDbError('CLOSED', 'the transaction is closed');
      txns.delete(req.txn);
      result = invoke<unknown>(t.t, req.method, req.args);
    }
  } finally {
    setTag(null);
  }
  return result;
}

async function handle(req: Request, src: Source, key: string): Promise<unknown> {
  switch (req.op) {
    case 'open': {
      if (db || shared) throw new LightningDbError('INVALID_ARGUMENT', 'this worker already hosts a database');
      const options = { ...req.options, signal: controllers.get(key)?.signal } as BrowserOpenOptions &
        { shared?: { clientId: string; workerId: string; trace?: boolean }; life?: string };
      storeChoice = options.store;
      openName = req.name;
      const { shared: sharedOpt, life, ...rest } = options;
      // Exclusive mode: held for this Worker's life, so its tab learns when
      // it is gone (index.ts watchWorker, once this open answered).
      if (typeof life === 'string') await holdLock(`lightningdb:worker:${life}`).granted;
      if (sharedOpt) {
        setTrace(sharedOpt.trace === true);
        return openShared(req.name, rest, sharedOpt.clientId, sharedOpt.workerId);
      }
      db = await openForProxy(req.name, rest);
      openOptions = rest;
      durableAcks = rest.syncMode === 'full';
      return { store: storeOf(db)!.kind } satisfies Opened;
    }
    case 'call': {
      if (!(DB_METHODS as readonly string[]).includes(req.method)) throw typeError(`unknown method ${req.method}`);
      return await invoke<unknown>(target(src, req.sub), req.method, req.args);
    }
    case 'backup':
      await backupInWorker(need(src), req.target, storeChoice);
      return null;
    case 'iter': {
      if (!(SCAN_METHODS as readonly string[]).includes(req.method)) throw typeError(`unknown scan ${req.method}`);
      const owner: object | undefined = req.txn ? txnView(src, req.txn, req.sub) : target(src, req.sub);
      const it = invoke<Iterable<unknown>>(owner, req.method, req.args)[Symbol.iterator]();
      const h = nextHandle++;
      iters.set(h, { it: it as Iterator<unknown>, client: src.client, retain: retained(req.method, req.args) });
      return h;
    }
    case 'iterNext': {
      const it = iters.get(req.iter);
      if (!it) {
        if (!db) throw new LightningDbError('CLOSED', 'the database is closed');
        if (shared && req.iter < handleBase) throw ownerLost('scan');
        return { items: [], done: true };
      }
      const r = pull(it.it, req.max);
      if (r.done && !it.retain) iters.delete(req.iter);
      return r;
    }
    case 'iterSeek': {
      const it = iters.get(req.iter);
      if (!it) {
        if (shared && req.iter < handleBase) throw ownerLost('scan');
        // Ended (without retain) or closed, as Scan.seek: CLOSED.
        throw new LightningDbError('CLOSED', 'the scan is closed');
      }
      if (!it.it.seek) throw typeError('this iterator cannot seek');
      it.it.seek(req.key);
      return null;
    }
    case 'iterClose': {
      const it = iters.get(req.iter);
      iters.delete(req.iter);
      it?.it.return?.();
      return null;
    }
    case 'begin': {
      const t: object = target(src, req.sub).beginTransaction(req.options as never);
      const h = nextHandle++;
      txns.set(h, { t, client: src.client });
      return h;
    }
    case 'txn': {
      if (!(TXN_METHODS as readonly string[]).includes(req.method)) throw typeError(`unknown transaction method ${req.method}`);
      if (req.method === 'abort') {
        const t = txnView(src, req.txn, undefined);
        txns.delete(req.txn);
        return invoke<unknown>(t, 'abort', []);
      }
      return await invoke<unknown>(txnView(src, req.txn, req.sub), req.method, req.args);
    }
    case 'subClose': {
      if (req.sub?.id === undefined) return null;
      const key = `${src.client}|${src.enc}|i${req.sub.id}`;
      const s = subDbs.get(key);
      subDbs.delete(key);
      // Its scans and transactions end; the page sends nothing through it after.
      s?.db.close();
      return null;
    }
    case 'seq':
      return lastSeq(target(src, req.db));
    case 'subscribe': {
      const view = target(src, req.db);
      const last = lastSeq(view);
      const lower = req.resume === true && typeof req.since === 'number' && req.since > last;
      const since = lower ? last : req.since ?? last;
      const feed = view.changes({ ...(req.range ?? {}), since });
      const key = `${src.client}:${req.sub}`;
      feeds.get(key)?.feed.close();
      feeds.set(key, { feed, client: src.client });
      void pump(feed, req.sub, src, key);
      return lower ? { since: feed.seq, lower: true } : { since: feed.seq };
    }
    case 'unsubscribe': {
      const key = `${src.client}:${req.sub}`;
      feeds.get(key)?.feed.close();
      feeds.delete(key);
      return null;
    }
    case 'close':
      return closeAll();
    case 'cancel':
      return null;
  }
}

/** The seq of the last commit (of the engine: bookkeeping commits of
 * shared databases count too), read through `view`'s database. */
function lastSeq(view: Database): number {
  const raw = shared ? rawDb() : undefined;
  return raw ? raw.stats().lastSeq : (view.metrics() as { lastSeq: number }).lastSeq;
}

/** Change feeds of subscriptions, by `<client>:<sub>`. */
const feeds = new Map<string, { feed: ChangeFeed; client: string }>();

/** Sends a subscription's changes to its tab until the feed ends. */
async function pump(feed: ChangeFeed, sub: number, src: Source, key: string): Promise<void> {
  // The seq it starts after, then that of each event sent.
  let prev = feed.seq;
  try {
    for await (const change of feed) {
      if (src !== LOCAL && shared?.role !== 'owner') return;
      src.post({ id: 0, event: { sub, seq: feed.seq, prev, change } } as unknown as Reply);
      prev = feed.seq;
    }
  } catch (e) {
    if (feeds.get(key)?.feed === feed) src.post({ id: 0, event: { sub, seq: feed.seq, error: wire(e) } } as unknown as Reply);
  } finally {
    if (feeds.get(key)?.feed === feed) feeds.delete(key);
  }
}

/** Transaction `txn`, or its view in sub-database `sub` (tx.sub()). */
function txnView(src: Source, txn: number, sub: SubWire | undefined): object {
  const t = txns.get(txn);
  if (!t && shared && txn < handleBase) throw ownerLost('transaction');
  if (!t) throw new LightningDbError('CLOSED', 'the transaction is closed');
  if (sub === undefined) return t.t;
  return invoke<object>(t.t, 'sub', [target(src, sub)]);
}

function endHandles(client?: string): void {
  closeSubs(client);
  for (const [k, f] of feeds) {
    if (client !== undefined && f.client !== client) continue;
    feeds.delete(k);
    f.feed.close();
  }
  for (const [h, it] of iters) {
    if (client !== undefined && it.client !== client) continue;
    iters.delete(h);
    try {
      it.it.return?.();
    } catch {
      /* already ended */
    }
  }
  for (const [h, t] of txns) {
    if (client !== undefined && t.client !== client) continue;
    txns.delete(h);
    try {
      invoke(t.t, 'abort', []);
    } catch {
      /* already ended */
    }
  }
}

/** This tab closes its database: a standby withdraws its lock request; an
 * owner stops taking other tabs' requests, drops the records of writes
 * when no other tab is open, closes, and frees the lock for the next
 * owner. */
async function closeAll(): Promise<null> {
  const sh = shared;
  const wasOwner = sh?.role === 'owner';
  trace(me(), () => 'closing');
  if (sh) {
    sh.role = 'closing';
    sh.inbox?.close();
    sh.ctrl.close();
    sh.abort.abort();
  }
  await settlePipelined();
  endHandles();
  if (sh && wasOwner && db) {
    try {
      const raw = rawDb();
      const live = await liveClients(sh);
      live.delete(sh.clientId);
      if (raw) {
        const drop = keysWithPrefix(raw, recordsPrefix()).filter((k) => !live.has(recordClient(k)));
        if (drop.length) raw.write(drop.map((key) => ({ type: 'del' as const, key })));
      }
    } catch {
      /* records left behind are pruned by the next owner */
    }
  }
  closeViews();
  const d = db;
  db = null;
  try {
    d?.close();
  } finally {
    // The proxy terminates this Worker next: let IndexedDB finish the
    // transactions queued by the final syncs first.
    await IdbStore.settled();
    if (sh) {
      sh.role = 'closed';
      if (sh.forgetTimer) clearTimeout(sh.forgetTimer);
      for (const w of sh.watched.values()) w.release();
      for (const bc of sh.replies.values()) bc.close();
      sh.ownerLock?.release();
      sh.lock.release();
    }
  }
  return null;
}

/** Client ids of the tabs that have this database open (their locks). */
async function liveClients(sh: Shared): Promise<Set<string>> {
  const locks = (navigator as { locks?: { query(): Promise<{ held?: Array<{ name?: string }>; pending?: Array<{ name?: string }> }> } }).locks;
  const out = new Set<string>();
  if (!locks) return out;
  const q = await locks.query();
  const prefix = clientLockName(sh.base, '');
  for (const l of q.held ?? []) if (l.name?.startsWith(prefix)) out.add(l.name.slice(prefix.length));
  return out;
}

// ---- shared databases ------------------------------------------------------

async function openShared(name: string, options: BrowserOpenOptions, clientId: string, workerId: string): Promise<Opened> {
  const kind = await resolveSharedKind(options.store);
  const base = channelBase(kind, name);
  const abort = new AbortController();
  const sh: Shared = {
    kind, base, clientId, enc: encOf(options),
    ctrl: new BroadcastChannel(`${base}:ctrl`),
    lock: holdLock(lockName(kind, name), abort.signal),
    abort,
    alive: holdLock(`lightningdb:worker:${workerId}`),
    role: 'standby',
    replies: new Map(), watched: new Map(), forget: [], waiter: null,
  };
  shared = sh;
  openOptions = options;
  durableAcks = options.syncMode === 'full';
  LOCAL.client = clientId;
  LOCAL.enc = sh.enc;
  sh.ctrl.onmessage = (ev: MessageEvent<Control>) => onControl(sh, ev.data);
  // Load the engine now: taking over later is then quicker.
  void engine(options.wasmUrl).catch(() => {});
  // The tab watches this lock to learn that this Worker is gone (index.ts
  // watchWorker, once open() answered): it must be held before then, or
  // the tab's request could get it first and take this Worker for dead.
  await sh.alive.granted;
  trace(me(), () => `standing by for ${base}`);
  sh.lock.granted.then(() => takeOver(sh), () => { /* withdrawn: closed, aborted, or timed out */ });
  const timeout = options.timeout ?? SHARED_OPEN_TIMEOUT_MS;
  const signal = options.signal;
  return new Promise<Opened>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => giveUp(new LightningDbError('ABORTED', `opening database "${name}" was cancelled (AbortSignal); it holds nothing`));
    const settle = () => {
      sh.waiter = null;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const giveUp = (e: unknown) => {
      settle();
      sh.role = 'closed';
      abort.abort();
      sh.lock.release();
      sh.ctrl.close();
      shared = null;
      reject(e);
    };
    sh.waiter = {
      resolve: (o) => {
        settle();
        resolve(o);
      },
      reject: giveUp,
    };
    if (timeout !== Infinity)
      timer = setTimeout(() => giveUp(new LightningDbError('TIMEOUT',
        `opening database "${name}": no tab answered as its owner and its lock was not free within ${timeout} ms ` +
        '(a tab of an older LightningDB may hold it); pass a larger { timeout }')), timeout);
    signal?.addEventListener('abort', onAbort, { once: true });
    sh.ctrl.postMessage({ t: 'who' } satisfies Control);
  });
}

function onControl(sh: Shared, m: Control): void {
  switch (m?.t) {
    case 'who':
      if (sh.role === 'owner') announce(sh);
      else if (sh.role === 'opening') sh.ctrl.postMessage({ t: 'opening' } satisfies Control);
      return;
    case 'owner': {
      trace(me(), () => `heard owner ${m.id.slice(0, 4)} epoch ${m.epoch}${sh.waiter && m.id !== sh.ownerId ? ': open() answers as a client' : ''}`);
      if (!sh.waiter || m.id === sh.ownerId) return;
      // A client shares the owner's engine: its open() must ask for the
      // same engine options, as a second open in one process must
      // (options_match in the core; the same exempt list and message).
      const differs = m.options ? engineOptionMismatch(m.options, openOptions as Record<string, unknown>) : null;
      if (differs !== null) {
        sh.waiter.reject(new LightningDbError('INVALID_ARGUMENT', `database "${openName}" is already open in another tab or ` +
          `Worker of this site (its owner) with ${differs}; open it with the same engine options or close it there first`));
        return;
      }
      sh.waiter.resolve({ store: sh.kind, base: sh.base, owner: { id: m.id, epoch: m.epoch, local: false } });
      return;
    }
    case 'exclusive':
      sh.waiter?.reject(new LightningDbError('BUSY',
        `database "${openName}" is open in exclusive mode in another tab or Worker of this site (open() with ` +
        '{ exclusive: true } or { waitForLock: true }, or openInWorker()); close it there, or open with { waitForLock: true } to wait for it'));
      return;
    default:
  }
}

function announce(sh: Shared): void {
  sh.ctrl.postMessage({
    t: 'owner', id: sh.ownerId!, epoch: sh.epoch!, store: sh.kind, options: engineOptionValues(openOptions as Record<string, unknown>),
  } satisfies Control);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** This Worker got the tab lock: it opens the database and serves it. */
async function takeOver(sh: Shared): Promise<void> {
  if (sh.role !== 'standby') {
    sh.lock.release();
    return;
  }
  sh.role = 'opening';
  trace(me(), () => 'got the tab lock: taking over');
  try {
    // The previous owner's OPFS handles may be released a moment after its lock.
    const deadline = Date.now() + TAKEOVER_BUSY_MS;
    for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
      try {
        db = await openForProxy(openName, openOptions, hostOptions());
        break;
      } catch (e) {
        if ((e as LightningDbError)?.code !== 'BUSY' || Date.now() + delay > deadline) throw e;
        trace(me(), () => `open BUSY (the previous owner's handles): again in ${delay} ms`);
        await sleep(delay);
      }
      if ((sh.role as string) !== 'opening') throw new LightningDbError('CLOSED', 'the database was closed while it was being opened');
    }
    wroteSinceOpen = false;
    const raw = rawDb();
    if (!raw) throw new LightningDbError('INTERNAL', 'the shared engine has no handle');
    const epoch = decodeNumber(raw.get(EPOCH_KEY)) + 1;
    const live = await liveClients(sh);
    live.add(sh.clientId);
    const stale = keysWithPrefix(raw, recordsPrefix()).filter((k) => !live.has(recordClient(k)));
    raw.write([{ type: 'put', key: EPOCH_KEY, value: encodeNumber(epoch) }, ...stale.map((key) => ({ type: 'del' as const, key }))]);
    // Durable before anyone hears of it: epochs only grow.
    await raw.flushAsync();
    if ((sh.role as string) !== 'opening') throw new LightningDbError('CLOSED', 'the database was closed while it was being opened');
    sh.ownerId = randomId();
    sh.epoch = epoch;
    handleBase = nextHandle = epoch * 2 ** 32 + 1;
    sh.ownerLock = holdLock(`${sh.base}:o:${sh.ownerId}`);
    await sh.ownerLock.granted;
    sh.inbox = new BroadcastChannel(`${sh.base}:o:${sh.ownerId}`);
    sh.inbox.onmessage = (ev: MessageEvent<ClientEnvelope>) => {
      const env = ev.data;
      if (!env || typeof env.from !== 'string' || sh.role !== 'owner') return;
      fromClient(sh, sourceOf(sh, env.from, typeof env.enc === 'string' ? env.enc : encOf({})), env.req);
    };
    sh.role = 'owner';
    trace(me(), () => `owner ${sh.ownerId!.slice(0, 4)} epoch ${epoch}`);
  } catch (e) {
    trace(me(), () => `taking over failed: ${(e as { code?: string })?.code} ${String((e as Error)?.message ?? e)}`);
    if (sh.role === 'opening') {
      sh.role = 'failed';
      try {
        sh.ctrl.postMessage({ t: 'failed', error: wire(e) } satisfies Control);
      } catch {
        /* the channel is closed */
      }
    }
    closeViews();
    const d = db;
    db = null;
    try {
      d?.close();
    } catch {
      /* reported below */
    }
    sh.lock.release();
    if (sh.waiter) sh.waiter.reject(e);
    else self.postMessage({ id: 0, failed: wire(e) });
    return;
  }
  announce(sh);
  const owner = { id: sh.ownerId, epoch: sh.epoch, local: true as const };
  if (sh.waiter) sh.waiter.resolve({ store: sh.kind, base: sh.base, owner });
  else self.postMessage({ id: 0, owner } satisfies BecameOwner);
}

function replyChannel(sh: Shared, client: string): Source['post'] {
  return (r) => {
    let bc = sh.replies.get(client);
    if (!bc) sh.replies.set(client, (bc = new BroadcastChannel(`${sh.base}:c:${client}`)));
    bc.postMessage(r);
  };
}

/** Watches a client's lock: once it is free, the client is gone and its
 * scans, transactions and records go. */
function watchClient(sh: Shared, client: string): void {
  if (sh.watched.has(client) || client === sh.clientId) return;
  const l = holdLock(clientLockName(sh.base, client));
  sh.watched.set(client, l);
  l.granted.then(() => {
    endHandles(client);
    const raw = rawDb();
    if (raw && sh.role === 'owner') {
      try {
        const drop = keysWithPrefix(raw, clientRecordsPrefix(client));
        if (drop.length) raw.write(drop.map((key) => ({ type: 'del' as const, key })));
      } catch {
        /* pruned by the next owner */
      }
    }
    sh.replies.get(client)?.close();
    sh.replies.delete(client);
    sh.watched.delete(client);
    l.release();
  }, () => {});
}

const sources = new Map<string, Source>();

/** The Source of another tab's requests of encodings `enc`. */
function sourceOf(sh: Shared, from: string, enc: string): Source {
  let src = sources.get(`${from}|${enc}`);
  if (!src) {
    src = { client: from, enc, local: false, post: replyChannel(sh, from) };
    sources.set(`${from}|${enc}`, src);
    watchClient(sh, from);
  }
  return src;
}

/** A request of another tab, over BroadcastChannel (an envelope) or its
 * MessagePort (bare: the port is that tab's alone, see clientPort). */
function fromClient(sh: Shared, src: Source, req: Request): void {
  if (!req || sh.role !== 'owner') return;
  if (req.op === 'ping') {
    src.post(pong(src.client, req.ask) as unknown as Reply);
    return;
  }
  receive(req, src);
}

// ---- the request queue -----------------------------------------------------

/** Requests waiting to run or running (for cancel), with their state, by
 * `<client>:<id>`. */
const states = new Map<string, { started: boolean; cancelled: 'ABORTED' | 'TIMEOUT' | null; src: Source }>();
/** An AbortController per open request: cancel aborts its wait. */
const controllers = new Map<string, AbortController>();
const answered = new Set<string>();

function reply(src: Source, r: Reply): void {
  if (!r.ok) trace(me(), () => `#${r.id} of ${src.local ? 'this tab' : `tab ${src.client.slice(0, 4)}`}: ${r.error.code} ${r.error.message.slice(0, 80)}`);
  if (answered.size) {
    const key = `${src.client}:${r.id}`;
    if (answered.has(key)) {
      answered.delete(key);
      return;
    }
  }
  try {
    src.post(r);
  } catch (e) {
    src.post({ id: r.id, ok: false, error: wire(e) } satisfies Reply);
  }
}

function cancel(key: string, code: 'ABORTED' | 'TIMEOUT'): void {
  const st = states.get(key);
  if (!st) return;
  if (!st.started) {
    st.cancelled = code;
    return;
  }
  const c = controllers.get(key);
  if (c) {
    // An open waiting for the lock or its store: stop waiting.
    c.abort();
    return;
  }
  if (code === 'TIMEOUT') {
    answered.add(key);
    st.src.post({
      id: Number(key.slice(key.lastIndexOf(':') + 1)), ok: false,
      error: { name: 'LightningDbError', code: 'TIMEOUT', message: 'the call timed out while the database Worker was running it; it may still complete (it is not cancelled)' },
    } satisfies Reply);
  }
}

/** The answer to a ping of tab `client` (protocol.ts). */
function pong(client: string, ask: unknown): Pong {
  if (!Array.isArray(ask) || ask.length === 0) return PONG;
  const unknown = ask.filter((id) => !states.has(`${client}:${id}`));
  return { id: 0, pong: true, ask, unknown };
}

const PONG: Pong = { id: 0, pong: true };

/** A request started after its deadline (`dl`): its sender has given up. */
function lateError(req: Request & { dl: number }): WireError {
  return {
    name: 'LightningDbError', code: 'TIMEOUT',
    message: `the tab that owns the database could not start the call within the ownerTimeout option (late by ${Date.now() - req.dl} ms): ` +
      'it was busy or frozen; nothing of the call was applied',
  };
}

function cancelledError(code: 'ABORTED' | 'TIMEOUT'): WireError {
  return {
    name: 'LightningDbError', code,
    message: code === 'ABORTED'
      ? 'the call was cancelled (AbortSignal) before it started; nothing of it was applied'
      : 'the call timed out before it started; nothing of it was applied',
  };
}

/** Not answered: this Worker stopped owning the database, so the other
 * tab resends the request to the next owner. */
function dropped(src: Source, req: Request): boolean {
  if (src.local || shared?.role === 'owner') return false;
  trace(me(), () => `dropped ${req.op}${req.op === 'call' ? ` ${req.method}` : ''} #${req.id} of tab ${src.client.slice(0, 4)} (not the owner)`);
  return true;
}

// Requests are handled one at a time, in order, like calls on one thread.
let queue: Promise<void> = Promise.resolve();
/** Requests in `queue` not yet done (0: a request may run at once). */
let queued = 0;

/** Methods of the fast path (see runNow): synchronous ones. */
const FAST_READS: ReadonlySet<string> = new Set(['get', 'has', 'getBatch', 'count']);
const FAST_WRITES: ReadonlySet<string> = new Set(['put', 'delete', 'putBatch', 'deleteBatch', 'batch', 'clear']);

/** The fast path of a single call (issue 11's client latency): when no
 * request waits or runs and nothing is to be done first — no failed store
 * to reopen, no view to open, no pipelined write a read must wait for, a
 * deadline not passed — a synchronous method runs right here, in the task
 * of its message, and is answered at once: the same order and outcome as
 * through the queue, without its promise hops. False: take the queue. */
function runNow(req: Request, src: Source): boolean {
  if (queued !== 0 || req.op !== 'call') return false;
  const write = FAST_WRITES.has(req.method);
  if (!write && (!FAST_READS.has(req.method) || pipelined.size !== 0)) return false;
  if (!src.local && shared?.role !== 'owner') return false;
  if (db && idbStore()?.failed) return false;
  if (shared && db && src.enc !== shared.enc && !views.has(src.enc)) return false;
  if (req.dl !== undefined && Date.now() > req.dl) return false;
  if (write && ackWhenDurable(src)) return false;
  let r: Reply;
  try {
    r = { id: req.id, ok: true, value: write ? applyWrite(req, src) : invoke<unknown>(target(src, req.sub), req.method, req.args) };
  } catch (e) {
    r = { id: req.id, ok: false, error: wire(e) };
  }
  reply(src, r);
  return true;
}

function receive(req: Request, src: Source): void {
  if (req.op === 'cancel') {
    cancel(`${src.client}:${req.target}`, req.code);
    return;
  }
  queueForget(src, req.forget);
  if (runNow(req, src)) return;
  const key = `${src.client}:${req.id}`;
  const st = { started: false, cancelled: null as 'ABORTED' | 'TIMEOUT' | null, src };
  states.set(key, st);
  if (req.op === 'open') controllers.set(key, new AbortController());
  queued++;
  queue = queue.then(async () => {
    try {
      await run(req, src, key, st);
    } finally {
      queued--;
    }
  });
}

/** Ends a request whose sender is gone (dropped: no reply) or that was
 * cancelled (the cancellation's error); false when it may go on. Checked
 * before and again after run()'s awaits. */
function ended(req: Request, src: Source, key: string, st: { cancelled: 'ABORTED' | 'TIMEOUT' | null }): boolean {
  if (dropped(src, req)) {
    states.delete(key);
    return true;
  }
  if (st.cancelled) {
    states.delete(key);
    reply(src, { id: req.id, ok: false, error: cancelledError(st.cancelled) });
    return true;
  }
  return false;
}

/** A request's turn in the queue. */
async function run(req: Request, src: Source, key: string, st: { started: boolean; cancelled: 'ABORTED' | 'TIMEOUT' | null; src: Source }): Promise<void> {
  if (ended(req, src, key, st)) return;
  try {
    if (!isWrite(req)) await settlePipelined();
    await recoverIfFailed(req);
    await ensureView(src);
  } catch (e) {
    states.delete(key);
    reply(src, { id: req.id, ok: false, error: wire(e) });
    return;
  }
  if (ended(req, src, key, st)) return;
  if (req.dl !== undefined && Date.now() > req.dl) {
    // Its sender has given up on it (no sign of life from this Worker
    // within its ownerTimeout): running it now would apply a write the
    // caller was told had timed out.
    states.delete(key);
    reply(src, { id: req.id, ok: false, error: lateError(req as Request & { dl: number }) });
    return;
  }
  st.started = true;
  if (isWrite(req)) {
    let p: Promise<unknown>;
    try {
      p = runWrite(req as Request & { op: 'call' | 'txn' }, src);
    } catch (e) {
      p = Promise.reject(e);
    }
    const done = p.then(
      (value) => reply(src, { id: req.id, ok: true, value }),
      (e) => reply(src, { id: req.id, ok: false, error: wire(e) }),
    ).finally(() => {
      states.delete(key);
      pipelined.delete(done);
    });
    pipelined.add(done);
    return;
  }
  let r: Reply;
  try {
    r = { id: req.id, ok: true, value: await handle(req, src, key) };
  } catch (e) {
    r = { id: req.id, ok: false, error: wire(e) };
  }
  states.delete(key);
  controllers.delete(key);
  reply(src, r);
}

self.onmessage = (ev: MessageEvent<Request | { id: 0; port: true; client: string; enc: string }>) => {
  const m = ev.data;
  if ('port' in m) {
    if (ev.ports[0]) clientPort(ev.ports[0], m.client, m.enc);
    return;
  }
  if (m.op === 'ping') {
    self.postMessage(pong(LOCAL.client, m.ask));
    return;
  }
  receive(m, LOCAL);
};

/** A MessagePort from another tab (introduced by broker.ts through this
 * tab's page): its requests arrive there, and every answer and change
 * event for that tab goes there from now on. */
function clientPort(port: MessagePort, client: string, enc: string): void {
  const sh = shared;
  if (!sh || sh.role !== 'owner' || typeof client !== 'string' || typeof enc !== 'string') {
    port.close();
    return;
  }
  const post = (r: Reply) => port.postMessage(r);
  const src = sourceOf(sh, client, enc);
  for (const s of sources.values()) if (s.client === client) s.post = post;
  port.onmessage = (ev: MessageEvent<Request>) => fromClient(sh, src, ev.data);
  port.postMessage({ id: 0, ready: true });
}

self.postMessage({ id: 0, hello: true } satisfies Hello);
