/**
 * index.ts — the browser entry.
 *
 * Main thread: `open(name, options)` starts a dedicated module Worker
 * (worker.ts) that hosts the database over the WebAssembly engine and
 * returns a RemoteDatabase: the same methods as Database, each returning a
 * promise; scans are AsyncIterables streamed from the Worker in chunks;
 * transactions are `transaction(async (tx) => ...)` or beginTransaction();
 * subscribe() and changes() deliver change events. Errors arrive as
 * LightningDbError with their code (TypeError stays TypeError).
 *
 * Tabs: by default every tab that opens a database shares it. The Worker
 * of one tab owns it; a client tab's Channel sends its calls to the owner's
 * Worker (a MessagePort from broker.ts, else BroadcastChannel) and follows
 * owner changes: calls in flight are resent (writes with their request id
 * and a retry flag, so the new owner applies each once), and calls on a
 * transaction or scan of a lost owner are OWNER_LOST. Every wait for an
 * owner is bounded by handoffTimeout, and every call to a live owner by
 * ownerTimeout: while calls wait, the owner's Worker must show life (a
 * reply, or the answer to a ping sent after a quiet spell), else they fail
 * with TIMEOUT.
 *
 * Inside a Worker: `openInWorker(name, options)` gives the synchronous
 * Database directly (no proxy), and `destroy(name, { store })` deletes a
 * database.
 */
import { decodeError, invalidType, typeError, closedError, LightningDbError, type ErrorCode } from '../errors.js';
import type { BecameOwner, ChangeEvent, ClientEnvelope, Control, Hello, Opened, Pong, Reply, Request, SubStep, SubWire, Tagged, WireError } from './protocol.js';
import { SCAN_CHUNK, SCAN_FIRST, WRITE_METHODS } from './protocol.js';
import { clientLockName, holdLock, randomId } from './tabs.js';
import { subScope } from '../subscope.js';
import { retryDelay } from '../retry.js';
import { checkOptionKeys, DATABASE_OPTION_KEYS, keyList } from '../options.js';
import { trace, traceState, tracing } from './trace.js';
import { here } from './here.js';

export { LightningDbError, LightningDbTypeError } from '../errors.js';
export { opfsAvailable } from '../wasm/stores/opfs.js';
export type { BrowserDatabase, BrowserOpenOptions, StoreChoice, StoreKind } from './host.js';
import type { BrowserDatabase, BrowserOpenOptions, StoreChoice, StoreKind } from './host.js';
import type {
  BatchOp, CheckResult, ClearOptions, Database, DatabaseEvent, Input, KeyOf, OpenOptions as DatabaseOpenOptions, RangeScope, ScanOptions,
  SubKeyOf, SubOptions, SubValueOf, ValueOf,
} from '../database.js';
export type { BatchOp, CheckResult, Decoded, Input, KeyOf, ScanOptions, SubKeyOf, SubOptions, SubValueOf, ValueOf } from '../database.js';

// The Worker-side functions load the engine lazily, so a main-thread page
// that only uses open() never downloads the WebAssembly glue.

/** The Worker-side module; a chunk that does not load is SETUP. */
async function host(): Promise<typeof import('./host.js')> {
  try {
    return await import('./host.js');
  } catch (e) {
    throw new LightningDbError('SETUP',
      `cannot load a part of LightningDB (${String((e as Error)?.message ?? e)}); serve every file of ` +
      'dist/esm/browser/ (index.js, worker.js, broker.js, the chunk-*.js files and lightningdb.wasm) from one directory');
  }
}

/** Inside a dedicated Worker: opens the database with the synchronous API.
 * Key and value types follow the encodings, as open()'s. */
export async function openInWorker<O extends BrowserOpenOptions = {}>(name: string, options?: O):
  Promise<Database<KeyOf<O>, ValueOf<O>> & { readonly store: StoreKind }>;
export async function openInWorker<K, V>(name: string, options?: BrowserOpenOptions):
  Promise<Database<K, V> & { readonly store: StoreKind }>;
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

export type { DiagnosticsOptions, DiagnosticsPanel } from '../ops/panel-remote.js';
import type { DiagnosticsOptions, DiagnosticsPanel } from '../ops/panel-remote.js';

/**
 * Main thread: mounts the diagnostics panel — the page of Node's
 * db.serve(): live charts, the engine's event timeline, recommendations and
 * a load-test panel — in `element` (its content is replaced) for `db`, a
 * database from open(). It polls db.metricsText() and db.events() through
 * the Worker every intervalMs; load tests run on a scratch database of
 * their own (options.loadTestStore, deleted afterwards), bounded in time
 * and size. TypeError / INVALID_ARGUMENT for bad arguments; SETUP when the
 * panel's chunk cannot be loaded. One panel per page. See docs/browser.md.
 */
export async function mountDiagnostics(element: HTMLElement, db: RemoteDatabase<unknown, unknown>, options: DiagnosticsOptions = {}): Promise<DiagnosticsPanel> {
  if (!(db instanceof RemoteDatabase)) throw typeError('db must be a database from open()');
  let m: typeof import('../ops/panel-remote.js');
  try {
    m = await import('../ops/panel-remote.js');
  } catch (e) {
    throw new LightningDbError('SETUP',
      `cannot load the diagnostics panel (${String((e as Error)?.message ?? e)}); serve every file of dist/esm/browser/ from one directory`);
  }
  return m.mountPanel(element, db, options, { open: (name, o) => open(name, o), destroy });
}

/** Options of open() on the main thread: those of Node's open() plus these. */
export interface OpenOptions extends DatabaseOpenOptions {
  /** Where pages live: 'auto' (default: OPFS when it works in the Worker,
   * else IndexedDB), 'opfs', 'indexeddb' (alias 'idb') or 'memory'. */
  store?: 'auto' | 'opfs' | 'indexeddb' | 'idb' | 'memory';
  /** Single-tab mode: true opens the database for this tab alone (another
   * tab's open() is then BUSY, or waits with waitForLock). Default false:
   * every tab that opens it shares it (one owner, the others clients). */
  exclusive?: boolean;
  /** Exclusive mode, waiting: when another tab has the database open,
   * false (default) fails at once with BUSY; true waits until it is
   * closed there (at most `timeout`). true implies exclusive. */
  waitForLock?: boolean;
  /** With waitForLock: longest wait for the other tab, in ms, then TIMEOUT.
   * Shared mode: longest wait for an owner to answer or for the lock.
   * Default 30000; Infinity waits without a bound. */
  timeout?: number;
  /** Shared mode: longest wait in ms for another tab to take over after
   * the owner tab went away, for each call made or in flight meanwhile;
   * then TIMEOUT. Default 10000; Infinity waits without a bound. */
  handoffTimeout?: number;
  /** Longest time in ms a call (close() included) waits on a database
   * Worker — shared mode: the owner's (of this tab or another); exclusive
   * mode: this tab's — that shows no sign of life — no reply and no
   * answer to a ping: a frozen tab, or a Worker busy in one long call or
   * hung. The call then fails with TIMEOUT, and the owner never starts it
   * later (one it had started may still be applied: the message says so).
   * Default 10000 (DEFAULT_OWNER_TIMEOUT_MS); Infinity waits without a
   * bound. A single call that keeps the owner busy longer (a batch of
   * millions of entries, backup() or check() of a large database) needs a
   * larger value. In exclusive mode a Worker that is gone (terminated,
   * crashed) makes every call CLOSED at once. */
  ownerTimeout?: number;
  /** Cancels the open: it rejects with ABORTED at once, its Worker ends and
   * it never takes the database later. */
  signal?: AbortSignal;
  /** URL of lightningdb.wasm (relative URLs resolve against the page);
   * default: next to worker.js. A wrong one gives SETUP. */
  wasmUrl?: string | URL;
  /** URL of the worker module; default worker.js next to this module. A
   * wrong one gives SETUP. */
  workerUrl?: string | URL;
  /** The IndexedDB store holds the whole database in memory: the most
   * bytes its files may reach (default 512 MiB); past it a write fails
   * with FULL naming this option, and a larger database is refused at
   * open (FULL). */
  idbMaxBytes?: number;
  [option: string]: unknown;
}

/** The keys open() takes: Node's open()'s and those above; any other is
 * INVALID_ARGUMENT, naming the closest known one. */
const OPEN_KEYS = [...DATABASE_OPTION_KEYS, ...keyList<OpenOptions, DatabaseOpenOptions>({
  store: true, exclusive: true, waitForLock: true, timeout: true, handoffTimeout: true, ownerTimeout: true, signal: true,
  wasmUrl: true, workerUrl: true, idbMaxBytes: true,
})];

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
  // An argument error (LightningDbTypeError) keeps its code; another
  // TypeError stays a plain one.
  if (e.name === 'TypeError') return e.code === 'INVALID_ARGUMENT' ? typeError(e.message) : new TypeError(e.message);
  if (e.cause === undefined) return new LightningDbError((e.code ?? 'INTERNAL') as ErrorCode, e.message);
  const cause = new Error(e.cause.message);
  cause.name = e.cause.name;
  return new LightningDbError((e.code ?? 'INTERNAL') as ErrorCode, e.message, { cause });
}

type Req = Request extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/** The keys of CallOptions; transaction() and beginTransaction() add
 * theirs (TRANSACTION_CALL_KEYS, BEGIN_CALL_KEYS). */
const CALL_KEYS = keyList<CallOptions>({ signal: true, timeout: true });
const TRANSACTION_CALL_KEYS = [...CALL_KEYS, ...keyList<TransactionCallOptions, CallOptions>({ retries: true })];
const BEGIN_CALL_KEYS = [...CALL_KEYS, ...keyList<{ readOnly?: boolean }>({ readOnly: true })];

/** Checks a method's CallOptions (`known`: the keys it takes): an unknown
 * key is INVALID_ARGUMENT naming the closest known one, as open()'s
 * options (checkOptionKeys); `what` names the method ("get()"). */
function checkCallOptions(opts: unknown, what: string, known: readonly string[] = CALL_KEYS): void {
  if (opts === undefined) return;
  if (opts === null || typeof opts !== 'object') throw invalidType('call options', 'an object', opts);
  checkOptionKeys(opts, known, what);
  const o = opts as CallOptions;
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw invalidType('signal', 'an AbortSignal', o.signal);
  if (o.timeout !== undefined && (typeof o.timeout !== 'number' || !(o.timeout >= 0)))
    throw typeError('timeout must be a number of milliseconds >= 0');
}

type Kind = 'local' | 'read' | 'write' | 'commit' | 'handle' | 'end' | 'once';

const WRITES: ReadonlySet<string> = new Set(WRITE_METHODS);

/** What a request may do when the owner it was sent to is gone. */
function kindOf(req: Req): Kind {
  switch (req.op) {
    case 'open':
    case 'close':
      return 'local';
    case 'call':
      return WRITES.has(req.method) ? 'write' : 'read';
    case 'iter':
    case 'begin':
      return 'read';
    case 'txn':
      if (req.method === 'commit' || req.method === 'commitAsync') return 'commit';
      return req.method === 'abort' ? 'end' : 'handle';
    case 'iterClose':
    case 'unsubscribe':
    case 'subClose':
      return 'end';
    case 'subscribe':
    case 'seq':
      return 'read';
    case 'iterNext':
    case 'iterSeek':
      return 'handle';
    default:
      return 'once';
  }
}

interface Pending {
  id: number;
  /** The message (with its id), as sent and resent. */
  req: Request & Tagged;
  kind: Kind;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  /** The owner it was last sent to ('local' in exclusive mode); null
   * while it waits for an owner. */
  to: string | null;
  /** Sent to an owner at least once. */
  sent: boolean;
  /** How it was last sent to a remote owner. */
  via?: 'bc' | 'port';
  /** When it was last sent (performance.now()), for the ownerTimeout watch,
   * and its deadline (Date.now(), the clock the owner checks it with). */
  sentAt: number;
  dl: number;
  /** Pongs in a row whose owner had no trace of it (see lost()). */
  lost?: number;
  waitTimer?: ReturnType<typeof setTimeout>;
  done: Promise<unknown>;
}

interface OwnerRef { id: string; epoch: number; local: boolean }

/** The part of SharedWorker used (the Window global; typed here because
 * this file is also checked with the Worker libraries). */
interface SharedWorkerLike {
  port: MessagePort;
  onerror: ((e: Event) => void) | null;
}

/** A subscription to change events (subscribe(), changes()): lives in the
 * owner; after a hand-off it is opened again in the new owner after the
 * last commit it passed, so no change is lost or delivered twice. */
interface Sub {
  id: number;
  range: Record<string, unknown>;
  /** Of this named sub-database (RemoteDatabase.sub). */
  db?: SubWire;
  /** The last commit passed (null until the owner answered). */
  seq: number | null;
  /** A subscribe request of it is unanswered (a hand-off resends it). */
  asking: number;
  /** Events that arrived ahead of an earlier one (by seq; see event()). */
  early: Array<ChangeEvent['event']>;
  /** Armed while `early` waits for a missing event: subscribes again. */
  gapTimer?: ReturnType<typeof setTimeout>;
  change(c: unknown): void;
  error(e: Error): void;
}

/** How long a subscription waits for a change event missing between two
 * it has (sent on another channel, see event()) before it subscribes again
 * after the last one it passed. */
const SUB_GAP_MS = 1000;

/** Acknowledged writes whose records a client lets go of in one message. */
const FORGET_GROUP = 32;

/** Default longest wait for a new owner after the owner tab went away. */
export const DEFAULT_HANDOFF_TIMEOUT_MS = 10_000;
/** Default longest wait of a call on an owner that shows no life. */
export const DEFAULT_OWNER_TIMEOUT_MS = 10_000;

function ownerLostError(what: string): LightningDbError {
  return new LightningDbError('OWNER_LOST', `${what} lived in the tab that owned the database, and that tab went away ` +
    '(closed, reloaded or crashed); nothing of it was committed: run it again');
}

/** The link of a RemoteDatabase to the Worker that runs its calls: this
 * tab's Worker, or (shared databases) the owner tab's Worker. */
class Channel {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private dead: Error | null = null;
  private hello = false;
  worker!: Worker;
  /** Shared mode: this tab's client id, channels and current owner. */
  clientId: string | null = null;
  private enc = '';
  private base = '';
  private ctrl: BroadcastChannel | null = null;
  private inbox: BroadcastChannel | null = null;
  private toOwner: BroadcastChannel | null = null;
  owner: OwnerRef | null = null;
  private lastEpoch = 0;
  private ownerWatch: { release: () => void } | null = null;
  private workerWatch: { release: () => void } | null = null;
  private clientLock: { release: () => void; granted: Promise<void> } | null = null;
  private forget: number[] = [];
  /** broker.ts: MessagePorts to remote owners (BroadcastChannel without).
   * Its URL: broker.js next to an explicit workerUrl; 'default': the one
   * defaultBroker() names; null: none (the inline Worker, where broker.js
   * is not served: a blob: URL cannot make a SharedWorker common to tabs). */
  brokerUrl: string | 'default' | null = null;
  private broker: SharedWorkerLike | null | undefined;
  private port: MessagePort | null = null;
  private portFor: string | null = null;
  /** Requests sent over BroadcastChannel to the current owner, unsettled:
   * the port is used only once none is, so no request overtakes another. */
  private readonly bcSent = new Set<number>();
  private readonly subs = new Map<number, Sub>();
  private nextSub = 1;
  private handoffTimeout = DEFAULT_HANDOFF_TIMEOUT_MS;
  /** The ownerTimeout watch (both modes): set by every message of this
   * tab's Worker / of the remote owner; the watch's tick turns them into
   * the time life was last seen (so a reply costs one store, no clock). */
  ownerTimeout = Infinity;
  private heardWorker = false;
  private heardOwner = false;
  private workerLife = 0;
  private ownerLife = 0;
  private watch: ReturnType<typeof setInterval> | undefined;
  private closing = false;
  /** close() was called: a Worker that dies now is not replaced. */
  ending = false;
  /** Exclusive mode: this tab's Worker died (the database is closed). */
  workerDied = false;
  private respawn: (() => void) | null = null;

  constructor(worker: Worker, readonly url: string) {
    this.attach(worker);
    if (tracing()) {
      // Weakly: tracing must not keep an abandoned database's Worker alive.
      const ref = new WeakRef(this);
      traceState(() => ref.deref()?.state() ?? 'a collected Channel');
    }
  }

  /** For the trace: the owner and the calls waiting (trace.ts). */
  private state(): string {
    const calls = [...this.pending.values()].map((p) =>
      `#${p.id} ${p.req.op}${p.req.op === 'call' || p.req.op === 'txn' ? ` ${p.req.method}` : ''} to ${p.to?.slice(0, 4) ?? 'none'}${p.sent ? ' sent' : ''}`);
    return `${this.who()}: owner ${this.owner ? `${this.owner.id.slice(0, 4)}${this.owner.local ? ' (this tab)' : ''}` : 'none'}` +
      `${this.dead ? ', dead' : ''}${this.closing ? ', closing' : ''}; pending: ${calls.join(', ') || 'none'}`;
  }

  attach(worker: Worker): void {
    // A Worker replaced (respawn: its lock said it was gone) is ended for
    // good: were it alive after all, it must not go on standing by and
    // take the database over for a tab that no longer listens to it.
    const old = this.worker as Worker | undefined;
    if (old && old !== worker) old.terminate();
    this.worker = worker;
    this.hello = false;
    worker.onmessage = (ev: MessageEvent<Reply | Hello | BecameOwner | ChangeEvent | Pong | { id: 0; failed: WireError }>) => {
      if (this.worker !== worker) return;
      const r = ev.data;
      this.heardWorker = true;
      if ('pong' in r) {
        if (r.ask) this.pong(r);
        return;
      }
      if ('event' in r) {
        this.event(r);
        return;
      }
      if ('hello' in r) {
        this.hello = true;
        return;
      }
      if ('owner' in r) {
        this.adopt(r.owner);
        return;
      }
      if ('failed' in r) {
        this.takeoverFailed(r.failed);
        return;
      }
      this.settle(r);
    };
    worker.onerror = (ev: ErrorEvent) => {
      ev.preventDefault?.();
      if (this.worker !== worker) return;
      if (!this.hello) {
        // The script (or a module it imports) did not load.
        void setupError(this.url).then((e) => this.fail(e));
        return;
      }
      this.fail(new LightningDbError('INTERNAL', `database worker failed: ${ev.message || 'script error'}`));
    };
  }

  /** Shared mode, once open() answered (again after a respawn): listens
   * for owners and replies. Resolves once this tab holds its client lock:
   * an owner that finds that lock free takes the tab for gone (it ends
   * the tab's scans, transactions and subscriptions and drops the records
   * of its writes), so no call may reach an owner before. */
  share(clientId: string, enc: string, opened: Opened, bounds: { handoffTimeout: number; ownerTimeout: number }, respawn: () => void, workerId: string): Promise<void> {
    this.clientId = clientId;
    this.enc = enc;
    this.handoffTimeout = bounds.handoffTimeout;
    this.ownerTimeout = bounds.ownerTimeout;
    this.respawn = respawn;
    this.watchWorker(workerId);
    // After a respawn the channels stay: a BroadcastChannel closed and
    // made again would lose the replies and events already on their way.
    if (this.inbox && this.base === opened.base) {
      if (opened.owner) this.adopt(opened.owner);
      this.ctrl!.postMessage({ t: 'who' } satisfies Control);
      return this.clientLock!.granted;
    }
    this.base = opened.base!;
    this.inbox?.close();
    this.ctrl?.close();
    this.inbox = new BroadcastChannel(`${this.base}:c:${clientId}`);
    this.inbox.onmessage = (ev: MessageEvent<Reply | ChangeEvent | Pong>) => {
      this.heardOwner = true;
      if ('pong' in ev.data) {
        if (ev.data.ask) this.pong(ev.data);
        return;
      }
      if ('event' in ev.data) this.event(ev.data);
      else this.settle(ev.data);
    };
    this.clientLock?.release();
    const lock = holdLock(clientLockName(this.base, clientId));
    this.clientLock = lock;
    const ctrl = new BroadcastChannel(`${this.base}:ctrl`);
    this.ctrl = ctrl;
    return lock.granted.then(() => {
      if (this.ctrl !== ctrl || this.closing) return;
      ctrl.onmessage = (ev: MessageEvent<Control>) => {
        const m = ev.data;
        if (m?.t === 'owner') this.adopt({ id: m.id, epoch: m.epoch, local: false });
        else if (m?.t === 'failed') this.takeoverFailed(m.error);
      };
      if (opened.owner) this.adopt(opened.owner);
      // An owner may have changed before the channel listened: ask.
      ctrl.postMessage({ t: 'who' } satisfies Control);
    });
  }

  /** Learns when this tab's Worker is gone (terminated or crashed; it
   * holds the lock `lightningdb:worker:<workerId>` for its life, taken
   * before it answered open). Shared mode: its ownership ends, and a new
   * Worker stands by in its place. Exclusive mode: the database is closed
   * (every call, pending or later, is CLOSED; close() resolves). Either
   * way a close() or open sent to it is settled: the Worker holds nothing
   * any more. Not where Web Locks are missing. */
  watchWorker(workerId: string): void {
    if ((globalThis as { navigator?: { locks?: unknown } }).navigator?.locks === undefined) return;
    const w = holdLock(`lightningdb:worker:${workerId}`);
    this.workerWatch = w;
    w.granted.then(() => {
      w.release();
      if (this.workerWatch !== w || this.closing || this.dead) return;
      trace(this.who(), () => `this tab's Worker is gone${this.owner?.local ? ' (it owned the database)' : ''}` +
        `${this.clientId === null || this.ending ? '' : ': a new one stands by'}`);
      if (this.clientId === null) {
        this.workerDied = true;
        this.fail(new LightningDbError('CLOSED', "this tab's database Worker is gone (terminated or crashed), so the database " +
          'is closed here; a write it had started may have been applied: open the database again, and read before writing again if twice matters'));
        return;
      }
      for (const p of [...this.pending.values()]) {
        if (p.to !== 'local') continue;
        if (p.req.op === 'close') this.finish(p, true, null);
        else this.finish(p, false, new LightningDbError('CLOSED', "this tab's database Worker is gone (terminated or crashed)"));
      }
      if (this.owner?.local) this.ownerGone(this.owner.id);
      if (!this.ending) this.respawn?.();
    }, () => {});
  }

  /** The origin's broker SharedWorker; null where there is none (or it
   * failed: BroadcastChannel then carries everything). */
  private getBroker(): SharedWorkerLike | null {
    if (this.broker !== undefined) return this.broker;
    this.broker = null;
    const Ctor = (globalThis as unknown as { SharedWorker?: new (url: string, o: { type: 'module'; name: string }) => SharedWorkerLike }).SharedWorker;
    if (typeof Ctor !== 'function' || !this.brokerUrl) return null;
    try {
      const b = this.brokerUrl === 'default' ? defaultBroker() : new Ctor(this.brokerUrl, { type: 'module', name: 'lightningdb-broker' });
      b.onerror = () => {
        if (this.broker === b) this.broker = null;
      };
      b.port.onmessage = (m: MessageEvent<{ client?: string; enc?: string }>) => {
        // This tab's Worker owns the database: hand it the client's port.
        const port = m.ports[0];
        if (!port || typeof m.data?.client !== 'string') return;
        if (this.owner?.local) this.worker.postMessage({ id: 0, port: true, client: m.data.client, enc: m.data.enc }, [port]);
        else port.close();
      };
      this.broker = b;
    } catch {
      this.broker = null;
    }
    return this.broker;
  }

  /** Asks the broker for a MessagePort to the remote owner `o`. */
  private connectPort(o: OwnerRef): void {
    const b = this.getBroker();
    if (!b) return;
    const mc = new MessageChannel();
    mc.port1.onmessage = (ev: MessageEvent<Reply | ChangeEvent | Pong | { id: 0; ready: true }>) => {
      const d = ev.data;
      this.heardOwner = true;
      if ('pong' in d) {
        if (d.ask) this.pong(d);
        return;
      }
      if ('ready' in d) {
        if (this.owner?.id === o.id) {
          this.port?.close();
          this.port = mc.port1;
          this.portFor = o.id;
        } else mc.port1.close();
      } else if ('event' in d) this.event(d);
      else this.settle(d);
    };
    b.port.postMessage({ connect: o.id, client: this.clientId, enc: this.enc }, [mc.port2]);
  }

  private dropPort(): void {
    this.port?.close();
    this.port = null;
    this.portFor = null;
    this.bcSent.clear();
  }

  private adopt(o: OwnerRef): void {
    if (this.dead || this.closing) return;
    const cur = this.owner;
    if (cur && cur.id === o.id) {
      if (!o.local || cur.local) return;
    } else if (!o.local && o.epoch <= this.lastEpoch) {
      return; // an announcement older than the owner we know
    }
    this.lastEpoch = Math.max(this.lastEpoch, o.epoch);
    trace(this.who(), () => `owner ${o.id.slice(0, 4)} epoch ${o.epoch}${o.local ? ' (this tab)' : ''}; was ${cur ? cur.id.slice(0, 4) : 'none'}; ${this.pending.size} calls pending`);
    this.owner = o;
    // A new owner's silence counts from now.
    this.ownerLife = performance.now();
    this.toOwner?.close();
    this.toOwner = o.local ? null : new BroadcastChannel(`${this.base}:o:${o.id}`);
    this.dropPort();
    if (o.local) this.getBroker()?.port.postMessage({ register: o.id });
    else this.connectPort(o);
    this.ownerWatch?.release();
    this.ownerWatch = null;
    if (!o.local) {
      // Its lock is free once it is gone (closed, reloaded, crashed).
      const w = holdLock(`${this.base}:o:${o.id}`);
      this.ownerWatch = w;
      w.granted.then(() => {
        w.release();
        this.ownerGone(o.id);
      }, () => {});
    }
    if (cur && cur.id === o.id) return; // the same owner, now reached directly
    for (const p of [...this.pending.values()]) {
      if (p.kind === 'local' || p.to === o.id) continue;
      this.handoff(p);
    }
    // Subscriptions the old owner had confirmed: opened again after the
    // last commit they passed.
    // (One whose subscribe request is unanswered: that request is resent.)
    for (const sub of this.subs.values()) if (sub.seq !== null && sub.asking === 0) this.subscribeAt(sub, sub.seq);
  }

  private event(m: ChangeEvent): void {
    const sub = this.subs.get(m.event.sub);
    if (!sub) return;
    if (m.event.error) {
      this.endSub(sub);
      sub.error(revive(m.event.error));
      return;
    }
    const e = m.event;
    let i = sub.early.length;
    while (i > 0 && sub.early[i - 1]!.seq > e.seq) i--;
    sub.early.splice(i, 0, e);
    this.deliver(sub);
  }

  /** Passes the subscription's events on in commit order, each once.
   * Events may come twice (a previous owner's late ones, and the new
   * owner's after the subscription resumed there) and out of order (an
   * owner's messages to this tab move from BroadcastChannel to a
   * MessagePort, and the two are not ordered with each other): an event
   * (prev, seq) says that no commit in range lies between prev and seq,
   * so it is passed on only once the subscription is at a commit in
   * [prev, seq); one it has passed is dropped; the others wait in `early`
   * for the missing one — for SUB_GAP_MS, then the subscription resumes
   * after its last commit with the owner (which sends the missing ones
   * again). Nothing is passed on before the owner said where the
   * subscription starts (seq null). */
  private deliver(sub: Sub): void {
    if (sub.seq === null) return;
    for (;;) {
      const at: number = sub.seq;
      while (sub.early.length && sub.early[0]!.seq <= at) {
        const late = sub.early.shift()!;
        trace(this.who(), () => `sub ${sub.id}: dropped event seq ${late.seq} (at ${at})`);
      }
      const next = sub.early[0];
      // (No prev: an owner of an older version, whose events are in order.)
      if (!next || (next.prev !== undefined && next.prev > at)) break;
      sub.early.shift();
      sub.seq = next.seq;
      sub.change(next.change);
      if (this.subs.get(sub.id) !== sub) return;
    }
    if (sub.early.length === 0) {
      clearTimeout(sub.gapTimer);
      sub.gapTimer = undefined;
    } else if (sub.gapTimer === undefined) {
      trace(this.who(), () => `sub ${sub.id}: at ${sub.seq}, event seq ${sub.early[0]!.seq} after ${sub.early[0]!.prev} waits`);
      sub.gapTimer = setTimeout(() => {
        sub.gapTimer = undefined;
        if (this.subs.get(sub.id) !== sub || sub.early.length === 0 || sub.seq === null) return;
        trace(this.who(), () => `sub ${sub.id}: an event after ${sub.seq} is still missing: subscribing again`);
        this.subscribeAt(sub, sub.seq);
      }, SUB_GAP_MS);
    }
  }

  /** `resume`: `since` is where this tab got to (not the caller's
   * `since`): an owner whose log ends before it (commits of a lost owner
   * that were never durable) starts at its last commit instead. */
  private subscribeAt(sub: Sub, since: number | undefined, resume = since !== undefined): void {
    trace(this.who(), () => `sub ${sub.id}: subscribing after seq ${since ?? 'now'} (owner ${this.owner?.id.slice(0, 4) ?? 'none'})`);
    sub.asking++;
    this.send<{ since: number; lower?: true }>({ op: 'subscribe', sub: sub.id, range: sub.range, since, resume: resume || undefined, db: sub.db }).then((r) => {
      sub.asking--;
      // (lower: what came after r.since was lost with the previous owner.)
      if (sub.seq === null || r.lower) sub.seq = r.since;
      this.deliver(sub);
    }, (e) => {
      sub.asking--;
      if (this.subs.get(sub.id) !== sub) return;
      this.endSub(sub);
      sub.error(e as Error);
    });
  }

  /** Starts a subscription (see Sub). Returns its id. Without `since`,
   * in shared mode: it first asks the owner for its last commit, then
   * subscribes after it. So the start is known to this tab before any
   * owner registers the subscription, and an owner that registered it and
   * went away before its answer arrived loses nothing: the request is
   * resent to the next owner with that start, which replays the commits
   * since from its log. (Asking first keeps the order with this tab's
   * calls: a call made after subscribe() is run after the question, so
   * its commit comes after the start.) */
  subscribe(range: Record<string, unknown>, since: number | undefined, change: (c: unknown) => void, error: (e: Error) => void, db?: SubWire): number {
    const sub: Sub = { id: this.nextSub++, range, db, seq: since ?? null, asking: 0, early: [], change, error };
    this.subs.set(sub.id, sub);
    if (since !== undefined || this.clientId === null) {
      this.subscribeAt(sub, since, false);
      return sub.id;
    }
    sub.asking++;
    this.send<unknown>({ op: 'seq', db }).then((at) => {
      sub.asking--;
      if (this.subs.get(sub.id) !== sub) return;
      // (An owner of an older version does not know the question: from now.)
      const start = typeof at === 'number' ? at : undefined;
      if (sub.seq === null && start !== undefined) sub.seq = start;
      this.subscribeAt(sub, start);
    }, (e) => {
      sub.asking--;
      if (this.subs.get(sub.id) !== sub) return;
      this.endSub(sub);
      sub.error(e as Error);
    });
    return sub.id;
  }

  private endSub(sub: Sub): void {
    this.subs.delete(sub.id);
    clearTimeout(sub.gapTimer);
    sub.early.length = 0;
  }

  unsubscribe(id: number): void {
    const sub = this.subs.get(id);
    if (!sub) return;
    this.endSub(sub);
    this.send({ op: 'unsubscribe', sub: id }).catch(() => {});
  }

  /** This tab in trace lines. */
  private who(): string {
    return `p:${this.clientId?.slice(0, 4) ?? 'excl'}`;
  }

  private ownerGone(id: string): void {
    if (this.owner?.id !== id) return;
    trace(this.who(), () => `owner ${id.slice(0, 4)} gone; ${this.pending.size} calls pending`);
    this.owner = null;
    this.toOwner?.close();
    this.toOwner = null;
    this.dropPort();
    for (const p of this.pending.values()) {
      if (p.to !== id) continue;
      p.to = null;
      this.armWait(p);
    }
  }

  /** The Worker that took over could not open the database: calls that
   * wait for an owner get its error. */
  private takeoverFailed(e: WireError): void {
    trace(this.who(), () => `a takeover failed: ${e.code} ${e.message}`);
    for (const p of [...this.pending.values()]) if (p.to === null && p.kind !== 'local') this.finish(p, false, revive(e));
  }

  /** A request whose owner is gone: resent (see resend), or ended with
   * OWNER_LOST. */
  private handoff(p: Pending): void {
    trace(this.who(), () => `hand-off of ${p.req.op}${p.req.op === 'call' || p.req.op === 'txn' ? ` ${p.req.method}` : ''} #${p.id} (${p.kind}${p.sent ? ', sent' : ''})`);
    if (!p.sent) return this.dispatch(p);
    this.resend(p, () => p.kind === 'handle'
      ? ownerLostError(p.req.op === 'txn' ? 'the transaction' : 'the scan')
      : new LightningDbError('OWNER_LOST',
        'the tab that owned the database went away (closed, reloaded or crashed) during the backup; the target may be incomplete: destroy it and back up again'));
  }

  private armWait(p: Pending): void {
    if (p.waitTimer !== undefined || this.handoffTimeout === Infinity) return;
    p.waitTimer = setTimeout(() => {
      trace(this.who(), () => `#${p.id} ${p.req.op}: no owner within handoffTimeout`);
      const maybe = p.sent && (p.kind === 'write' || p.kind === 'commit');
      this.finish(p, false, new LightningDbError('TIMEOUT',
        `no tab took over the database within ${this.handoffTimeout} ms (the handoffTimeout option) after its owner went away` +
        (maybe ? '; the call reached the old owner, so it may have been applied' : '; nothing of the call was applied')));
    }, this.handoffTimeout);
  }

  private dispatch(p: Pending): void {
    if (p.kind === 'local' || this.clientId === null) {
      p.to = 'local';
      p.sent = true;
      const msg = p.req;
      if (this.ownerTimeout !== Infinity) {
        p.sentAt = performance.now();
        // (No deadline for an open: the Worker may still be loading its
        // script; an open given up on ends its Worker.)
        if (msg.op !== 'open') msg.dl = p.dl = Date.now() + this.ownerTimeout;
        if (this.watch === undefined) this.startWatch();
      }
      this.worker.postMessage(msg);
      return;
    }
    const o = this.owner;
    if (!o) {
      p.to = null;
      this.armWait(p);
      return;
    }
    clearTimeout(p.waitTimer);
    p.waitTimer = undefined;
    p.to = o.id;
    p.sent = true;
    const msg = p.req;
    // Records of acknowledged writes go in groups: most calls carry none.
    if (this.forget.length >= FORGET_GROUP) msg.forget = this.forget.splice(0, 256);
    else if (msg.forget) msg.forget = undefined;
    if (this.ownerTimeout !== Infinity) {
      p.sentAt = performance.now();
      msg.dl = p.dl = Date.now() + this.ownerTimeout;
      if (this.watch === undefined) this.startWatch();
    }
    if (o.local) {
      this.worker.postMessage(msg);
      return;
    }
    if (this.port && this.portFor === o.id && this.bcSent.size === 0) {
      // The port is this tab's alone: requests travel bare (protocol.ts).
      p.via = 'port';
      this.port.postMessage(msg);
    } else {
      p.via = 'bc';
      this.bcSent.add(p.id);
      this.toOwner!.postMessage({ from: this.clientId, enc: this.enc, req: msg } satisfies ClientEnvelope);
    }
  }

  /** The ownerTimeout watch: runs while calls wait on an owner (a tick
   * every quarter of ownerTimeout). A Worker not heard from during a tick
   * gets a ping; a call whose owner has been silent for ownerTimeout since
   * it was sent fails with TIMEOUT — at most a tick after the bound. The
   * owner refuses to start it afterwards (its deadline `dl` has passed). */
  private startWatch(): void {
    const now = performance.now();
    this.workerLife = now;
    this.ownerLife = now;
    this.heardWorker = this.heardOwner = false;
    this.watch = setInterval(() => this.tick(), Math.max(10, this.ownerTimeout / 4));
  }

  private tick(): void {
    const now = performance.now();
    const wall = Date.now();
    if (this.heardWorker) this.workerLife = now;
    if (this.heardOwner) this.ownerLife = now;
    this.heardWorker = this.heardOwner = false;
    const o = this.owner;
    let waiting = false;
    let pingWorker = false;
    let pingOwner = false;
    const askWorker: number[] = [];
    const askOwner: number[] = [];
    for (const p of [...this.pending.values()]) {
      if (!p.sent || p.to === null) continue;
      waiting = true;
      // Calls to this tab's Worker (exclusive mode; open and close) and to
      // the owner when it is this tab's Worker.
      const mine = p.to === 'local';
      const local = mine || (o?.local === true && p.to === o.id);
      // A Worker that has not run its script yet cannot answer.
      if (mine && !this.hello) continue;
      const silent = now - Math.max(local ? this.workerLife : this.ownerLife, p.sentAt);
      // Past its deadline too: the owner can no longer start it.
      if (silent >= this.ownerTimeout && wall > p.dl) {
        this.ownerSilent(p, local);
        continue;
      }
      if (silent >= this.ownerTimeout / 4) {
        if (local) pingWorker = true;
        else pingOwner = true;
      }
      // Unanswered for long while its owner shows life: does the owner
      // still have it? (A message between tabs can be lost.)
      // (Not for calls of this tab's Worker alone: that channel loses nothing.)
      if (!mine && now - p.sentAt >= this.ownerTimeout / 2) (local ? askWorker : askOwner).push(p.id);
    }
    if (!waiting) {
      clearInterval(this.watch);
      this.watch = undefined;
      return;
    }
    if (pingWorker || askWorker.length)
      this.worker.postMessage({ id: 0, op: 'ping', ...(askWorker.length ? { ask: askWorker } : {}) } satisfies Request);
    if ((pingOwner || askOwner.length) && o && !o.local) {
      const ping: Request = { id: 0, op: 'ping', ...(askOwner.length ? { ask: askOwner } : {}) };
      if (this.port && this.portFor === o.id) this.port.postMessage(ping);
      else this.toOwner?.postMessage({ from: this.clientId!, enc: this.enc, req: ping } satisfies ClientEnvelope);
    }
  }

  /** The owner's answer to a ping that asked about calls: one it had no
   * trace of in two answers in a row — a tick apart, so a reply that was
   * on its way on another channel has arrived meanwhile — is lost. */
  private pong(r: Pong): void {
    const unknown = new Set(r.unknown ?? []);
    for (const id of r.ask ?? []) {
      const p = this.pending.get(id);
      if (!p) continue;
      if (!unknown.has(id)) p.lost = 0;
      else if ((p.lost = (p.lost ?? 0) + 1) >= 2) this.lost(p);
    }
  }

  /** A call its owner has no trace of while it shows life: the request or
   * its reply was lost between tabs (see resend; a call on a transaction
   * or scan, and backup(), fail with TIMEOUT: their outcome is unknown). */
  private lost(p: Pending): void {
    trace(this.who(), () => `#${p.id} ${p.req.op}: the owner has no trace of it (lost): ${p.kind}`);
    p.lost = 0;
    this.resend(p, () => new LightningDbError('TIMEOUT',
      'the owner of the database has no trace of this call (a message between tabs was lost); ' +
      'whether it was applied is unknown: read before you do it again'));
  }

  /** A request sent to an owner that will not answer it (gone, or it has
   * no trace of it): reads are sent again, writes and commits with the
   * retry flag (the owner applies one only when its request record is
   * absent: once); a call that ends a transaction, scan or subscription
   * is done; any other call fails with the error `other` makes. */
  private resend(p: Pending, other: () => Error): void {
    switch (p.kind) {
      case 'read':
        return this.dispatch(p);
      case 'write':
      case 'commit':
        p.req.retry = true;
        return this.dispatch(p);
      case 'end':
        return this.finish(p, true, null);
      default:
        return this.finish(p, false, other());
    }
  }

  /** A call whose owner showed no life for ownerTimeout: TIMEOUT. */
  private ownerSilent(p: Pending, local: boolean): void {
    trace(this.who(), () => `#${p.id} ${p.req.op}: owner silent for ownerTimeout`);
    const who = !local ? 'the tab that owns the database'
      : this.clientId === null || p.to === 'local' ? "this tab's database Worker" : "this tab's database Worker (it owns the database)";
    const write = p.kind === 'write' || p.kind === 'commit';
    const op = p.req.op;
    this.finish(p, false, new LightningDbError('TIMEOUT',
      `${who} showed no sign of life for ${this.ownerTimeout} ms (the ownerTimeout option): it is frozen (e.g. a ` +
      'background tab) or busy in a long call, or hung. ' +
      (op === 'close'
        ? 'The Worker is ended without a clean close: the next open recovers what it had committed from the log'
        : op === 'open'
          ? 'The database was not opened'
          : write
            ? 'The write may have been applied only if the owner had started it before; otherwise it never will be ' +
              '(the owner refuses calls it could not start in time): read before writing it again if twice matters'
            : 'Nothing was changed; retry when the owner answers again')));
  }

  private postCancel(p: Pending, code: 'ABORTED' | 'TIMEOUT'): void {
    const msg: Request = { op: 'cancel', id: 0, target: p.id, code };
    if (p.to === 'local' || this.owner?.local) this.worker.postMessage(msg);
    else if (p.via === 'port' && this.port) this.port.postMessage(msg);
    else this.toOwner?.postMessage({ from: this.clientId!, enc: this.enc, req: msg } satisfies ClientEnvelope);
  }

  private settle(r: Reply): void {
    const p = this.pending.get(r.id);
    if (!p) return;
    if (r.ok && p.req.rid !== undefined) this.forget.push(p.req.rid);
    if (r.ok) this.finish(p, true, r.value);
    else this.finish(p, false, revive(r.error));
  }

  private finish(p: Pending, ok: boolean, v: unknown): void {
    if (this.pending.get(p.id) !== p) return;
    this.pending.delete(p.id);
    this.bcSent.delete(p.id);
    clearTimeout(p.waitTimer);
    if (ok) p.resolve(v);
    else p.reject(v);
  }

  fail(e: Error): void {
    this.dead = e;
    for (const p of [...this.pending.values()]) this.finish(p, false, e);
    this.pending.clear();
  }

  /** Ends shared mode: channels closed, locks given back. */
  unshare(): void {
    this.closing = true;
    clearInterval(this.watch);
    this.watch = undefined;
    this.ctrl?.close();
    this.inbox?.close();
    this.toOwner?.close();
    if (this.owner?.local) this.broker?.port.postMessage({ unregister: this.owner.id });
    this.dropPort();
    this.broker?.port.close();
    this.ownerWatch?.release();
    this.workerWatch?.release();
    this.workerWatch = null;
    this.clientLock?.release();
  }

  /** Settles when every call sent so far has settled. */
  async drain(): Promise<void> {
    const calls = [...this.pending.values()].filter((p) => p.kind !== 'local').map((p) => p.done);
    await Promise.allSettled(calls);
  }

  /** `handleOwner`: the owner a scan or transaction lives in (shared
   * mode); a call on it after that owner is gone is OWNER_LOST. */
  send<T>(req: Req, opts?: CallOptions, handleOwner?: string | null): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    const kind = kindOf(req);
    if (handleOwner !== undefined && handleOwner !== null && this.clientId !== null && this.owner?.id !== handleOwner) {
      if (kind === 'end') return Promise.resolve(null as T);
      return Promise.reject(ownerLostError(req.op === 'txn' ? 'the transaction' : 'the scan'));
    }
    const signal = opts?.signal;
    if (signal?.aborted) return Promise.reject(new LightningDbError('ABORTED', 'the call was cancelled (AbortSignal) before it started; nothing of it was applied'));
    const id = this.nextId++;
    // Every caller passes a fresh object literal: it becomes the message
    // itself (no copy per call); a resend after a hand-off reuses it.
    const msg = req as Request & Tagged;
    msg.id = id;
    if (this.clientId !== null && (kind === 'write' || kind === 'commit')) msg.rid = id;
    let resolve!: (v: unknown) => void;
    let reject!: (e: unknown) => void;
    const done = new Promise<T>((res, rej) => {
      resolve = res as (v: unknown) => void;
      reject = rej;
    });
    const p: Pending = { id, req: msg, kind, to: null, sent: false, sentAt: 0, dl: 0, resolve, reject, done };
    this.pending.set(id, p);
    const timeout = opts?.timeout;
    if (signal || (timeout !== undefined && timeout !== Infinity)) this.bound(p, signal, timeout);
    this.dispatch(p);
    return done;
  }

  /** The call options of a call: its signal and timeout. */
  private bound(p: Pending, signal: AbortSignal | undefined, timeout: number | undefined): void {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => {
      if (p.to !== null) this.postCancel(p, 'ABORTED');
      // Waiting for a new owner: never sent, so nothing of it applied; one
      // that reached the old owner settles with its real outcome.
      else if (!p.sent) this.finish(p, false, new LightningDbError('ABORTED', 'the call was cancelled (AbortSignal) before it started; nothing of it was applied'));
    };
    const cleanup = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const { resolve, reject } = p;
    p.resolve = (v) => { cleanup(); resolve(v); };
    p.reject = (e) => { cleanup(); reject(e); };
    signal?.addEventListener('abort', onAbort, { once: true });
    if (timeout !== undefined && timeout !== Infinity)
      timer = setTimeout(() => {
        if (p.to !== null) return this.postCancel(p, 'TIMEOUT');
        const maybe = p.sent && (p.kind === 'write' || p.kind === 'commit');
        this.finish(p, false, new LightningDbError('TIMEOUT', maybe
          ? 'the call timed out while the database changed owner; it reached the old owner, so it may have been applied'
          : 'the call timed out before it started; nothing of it was applied'));
      }, timeout);
  }

  /** The owner the last reply for a new handle came from. */
  ownerOf(): string | null {
    return this.clientId === null ? null : (this.owner?.id ?? null);
  }
}

/** A custom { encode, decode } encoding of open(): functions cannot cross
 * postMessage, so the Worker stores bytes ('binary') and this thread
 * encodes keys / values before sending and decodes what comes back. */
interface Custom {
  name?: string;
  encode(v: unknown): Uint8Array;
  decode(b: Uint8Array): unknown;
}

function isCustom(v: unknown): v is Custom {
  return typeof v === 'object' && v !== null &&
    typeof (v as Custom).encode === 'function' && typeof (v as Custom).decode === 'function';
}

const pageUtf8 = new TextEncoder();

/** A key as DECODE messages name it: its bytes when it has them (a
 * custom key encoding's, or binary), a string's UTF-8, and otherwise
 * (a key the Worker's json or msgpack encoding decoded) its JSON text. */
function keyBytes(k: unknown): Uint8Array {
  if (k instanceof Uint8Array) return k;
  if (typeof k === 'string') return pageUtf8.encode(k);
  let t: string | undefined;
  try {
    t = JSON.stringify(k);
  } catch {
    /* not JSON: String() below */
  }
  return pageUtf8.encode(t ?? String(k));
}

/** The page side of custom encodings (keys `k`, values `v`; null: the
 * Worker's named encoding does the work). encode's result must be a
 * Uint8Array (TypeError otherwise), as in Database; what decode throws is
 * DECODE naming the encoding and the key (decodeError), as in Database. */
class PageCodec {
  constructor(readonly k: Custom | null, readonly v: Custom | null) {}
  private static bytes(c: Custom, x: unknown, what: string): Uint8Array {
    const b = c.encode(x);
    if (!(b instanceof Uint8Array)) throw typeError(`${what}: the custom encoding${c.name ? ` ${c.name}` : ''} must encode to a Uint8Array`);
    return b;
  }
  ek(x: unknown, what = 'key'): unknown { return this.k && x !== undefined ? PageCodec.bytes(this.k, x, what) : x; }
  ev(x: unknown): unknown { return this.v ? PageCodec.bytes(this.v, x, 'value') : x; }
  dk(b: unknown): unknown {
    if (!this.k || !(b instanceof Uint8Array)) return b;
    try {
      return this.k.decode(b);
    } catch (e) {
      throw decodeError('keyEncoding', this.k.name === undefined ? 'custom' : String(this.k.name), b, e);
    }
  }
  /** The value b stored under `key` (as it came back: bytes, or decoded
   * by the Worker's named key encoding). */
  dv(b: unknown, key: unknown): unknown {
    if (!this.v || !(b instanceof Uint8Array)) return b;
    try {
      return this.v.decode(b);
    } catch (e) {
      throw decodeError('valueEncoding', this.v.name === undefined ? 'custom' : String(this.v.name), keyBytes(key), e);
    }
  }
  /** The method a scan of `method` asks the Worker for: values() of a
   * custom value encoding reads entries, so a value that cannot be decoded
   * is named by its key. */
  wireMethod(method: string): string {
    return method === 'values' && this.v ? 'scan' : method;
  }
  /** Range / scan options with gt, gte, lt, lte encoded (prefix stays raw
   * bytes or a string, as in Database). */
  range(o: unknown): unknown {
    if (!this.k || o === null || typeof o !== 'object') return o;
    const r = { ...(o as Record<string, unknown>) };
    for (const f of ['gt', 'gte', 'lt', 'lte']) if (r[f] !== undefined) r[f] = this.ek(r[f], f);
    return r;
  }
  op(o: unknown): unknown {
    if (o === null || typeof o !== 'object') return o;
    const x = o as { type?: unknown; key?: unknown; value?: unknown };
    return x.type === 'put' ? { ...x, key: this.ek(x.key), value: this.ev(x.value) } : { ...x, key: this.ek(x.key) };
  }
  /** Decodes a scan item of `method`. */
  item(method: string, x: unknown): unknown {
    if (method === 'keys') return this.dk(x);
    if (method === 'values' && !this.v) return x;
    const [k, v] = x as [unknown, unknown];
    if (method === 'values') return this.dv(v, k); // wireMethod: entries
    return [this.dk(k), this.dv(v, k)];
  }
  change(c: unknown): unknown {
    const ch = c as RemoteChange;
    return { ...ch, ops: ch.ops.map((o) => (o.type === 'put' ? { ...o, key: this.dk(o.key), value: this.dv(o.value, o.key) } : { ...o, key: this.dk(o.key) })) };
  }
  /** Encodes the arguments of a database / transaction method. */
  args(method: string, a: unknown[]): unknown[] {
    switch (method) {
      case 'get': case 'has': case 'delete': case 'deleteAsync':
        return [this.ek(a[0]), ...a.slice(1)];
      case 'put': case 'putAsync':
        return [this.ek(a[0]), this.ev(a[1]), ...a.slice(2)];
      case 'getBatch': case 'deleteBatch': case 'deleteBatchAsync':
        return Array.isArray(a[0]) ? [a[0].map((k) => this.ek(k))] : a;
      case 'putBatch': case 'putBatchAsync':
        return Array.isArray(a[0]) ? [a[0].map((p) => (Array.isArray(p) ? [this.ek(p[0]), this.ev(p[1])] : p))] : a;
      case 'batch': case 'batchAsync':
        return Array.isArray(a[0]) ? [a[0].map((o) => this.op(o))] : a;
      case 'count': case 'clear': case 'scan': case 'keys': case 'values':
        return a.map((o) => this.range(o));
      case 'scanPrefix':
        return [a[0], ...a.slice(1).map((o) => this.range(o))];
      case 'scanReverse':
        return [this.ek(a[0], 'lte'), this.ek(a[1], 'gte')];
      default:
        return a;
    }
  }
  /** Decodes the result of a database / transaction method called with
   * `args` (as args() encoded them: they name the keys read). */
  result(method: string, r: unknown, args: unknown[]): unknown {
    if (method === 'get') return r === undefined ? r : this.dv(r, args[0]);
    if (method === 'getBatch' && Array.isArray(r)) {
      const keys = Array.isArray(args[0]) ? args[0] : [];
      return r.map((v, i) => (v === undefined ? v : this.dv(v, keys[i])));
    }
    return r;
  }
}

/** Where a named sub-database lives (RemoteDatabase.sub, tx.sub()): its
 * path from the database (what the Worker opens), its key scope (checked
 * on this page, as Database.sub checks it) and its page codec. */
interface SubRef {
  path: SubStep[];
  scope: Uint8Array | undefined;
  pc: PageCodec | null;
}

/** Sub-database `name` (opts: its encodings) under `parent`. Named
 * encodings travel to the Worker (which checks them); custom ones run on
 * this page, the Worker storing their bytes as 'binary'; an encoding not
 * given is the parent's. TypeError / INVALID_ARGUMENT as Database.sub. */
function subOf(parent: SubRef, name: string, opts: SubOptions | undefined): SubRef {
  const scope = subScope(parent.scope, name, opts);
  const step: SubStep = { name };
  let k = parent.pc?.k ?? null;
  let v = parent.pc?.v ?? null;
  for (const f of ['keyEncoding', 'valueEncoding'] as const) {
    const e: unknown = opts?.[f];
    if (e === undefined) continue;
    let custom: Custom | null = null;
    if (isCustom(e)) {
      custom = e;
      step[f] = 'binary';
    } else if (typeof e === 'string') {
      step[f] = e;
    } else {
      throw typeError(`${f} must be an encoding name or an object with encode and decode functions`);
    }
    if (f === 'keyEncoding') k = custom;
    else v = custom;
  }
  return { path: [...parent.path, step], scope, pc: k || v ? new PageCodec(k, v) : null };
}

/** Every RemoteDatabase's SubRef (the database itself: path []). */
const subRefs = new WeakMap<object, SubRef>();

/** Closes, in the Worker, the sub-database of a RemoteDatabase from sub()
 * that became unreachable without close(). */
const abandonedSubs = new FinalizationRegistry<{ ch: Channel; wire: SubWire }>(({ ch, wire }) => {
  ch.send({ op: 'subClose', sub: wire }).catch(() => {});
});

let nextSubId = 1;

/** Runs fn; a synchronous throw (an encode error) becomes a rejection. */
function encoded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return fn();
  } catch (e) {
    return Promise.reject(e);
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
  /** ScanOptions.retain: the Worker keeps the scan at its end, for seek(),
   * until return() (closed: return() was called). */
  private readonly retain: boolean;
  private closed = false;
  /** The owner tab the scan lives in (shared databases). */
  private home: string | null = null;
  /** `owner` (its database or transaction) stays reachable while the
   * iterator is: an unreachable database ends its Worker. */
  /** `pc`: the page's custom encodings (null: none). */
  /** `sub`: a scan of that sub-database (with txn: of tx.sub()); `refused`:
   * the error every call gives (a closed sub-database). */
  constructor(private readonly ch: Channel, txn: number, private readonly method: string, args: unknown[], readonly owner?: object,
    txnHome?: string | null, private readonly pc: PageCodec | null = null, sub?: SubWire, refused?: Error | null) {
    let sent: Promise<number>;
    const opts = args[method === 'scanPrefix' ? 1 : 0];
    this.retain = method !== 'scanReverse' && opts !== null && typeof opts === 'object' && (opts as ScanOptions).retain === true;
    try {
      if (refused) throw refused;
      sent = ch.send<number>({ op: 'iter', txn, method: pc ? pc.wireMethod(method) : method, args: pc ? pc.args(method, args) : args, sub },
        undefined, txn ? txnHome : undefined);
    } catch (e) {
      sent = Promise.reject(e);
    }
    this.handle = sent.then((h) => {
      this.home = ch.ownerOf();
      return h;
    });
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
    let r: { items: T[]; done: boolean };
    try {
      r = await this.ch.send<{ items: T[]; done: boolean }>({ op: 'iterNext', iter, max }, undefined, this.home);
    } catch (e) {
      this.done = true;
      throw e;
    }
    this.buf = this.pc ? r.items.map((x) => this.pc!.item(this.method, x) as T) : r.items;
    this.pos = 0;
    this.done = r.done;
    if (this.buf.length === 0) return { value: undefined, done: true };
    return { value: this.buf[this.pos++] as T, done: false };
  }
  /** Repositions (as the synchronous iterator's seek): CLOSED after
   * return(), and after the end unless the scan has { retain: true }. */
  async seek(key: unknown): Promise<void> {
    if (this.closed) throw closedError('scan');
    const iter = await this.handle;
    await this.ch.send({ op: 'iterSeek', iter, key: this.pc ? this.pc.ek(key) : key }, undefined, this.home);
    this.buf = [];
    this.pos = 0;
    this.done = false;
  }
  async return(): Promise<IteratorResult<T>> {
    // Entries already buffered are dropped too: a closed scan yields nothing.
    this.buf = [];
    this.pos = 0;
    // Ended without retain: the Worker released it already.
    const open = !this.done || (this.retain && !this.closed);
    this.done = true;
    this.closed = true;
    if (open) {
      const iter = await this.handle;
      await this.ch.send({ op: 'iterClose', iter }, undefined, this.home);
    }
    return { value: undefined, done: true };
  }
}

/** A transaction held open in the Worker, with its database's key type K
 * and value type V. */
export class RemoteTransaction<K = Uint8Array, V = Uint8Array> {
  /** `home`: the owner tab it lives in (shared databases): once that tab
   * is gone, its calls are OWNER_LOST (nothing of it was committed).
   * `at`: the (sub-)database it was begun on, or, for a view (tx.sub()),
   * the sub-database it sees; `root`: for a view, the transaction. */
  constructor(private readonly ch: Channel, private readonly h: number, readonly db?: RemoteDatabase<K, V>, private readonly home: string | null = null,
    private readonly pc: PageCodec | null = null, private readonly at: SubRef = { path: [], scope: undefined, pc },
    private readonly root: RemoteTransaction<any, any> | null = null) {
    this.view = root === null ? undefined : { path: at.path };
  }
  /** commit(), commitAsync() or abort() was called: disposal leaves it. */
  private ended = false;
  /** A view's sub-database, sent with each of its calls. */
  private readonly view: SubWire | undefined;
  private call<T>(method: string, args: unknown[]): Promise<T> {
    if (method === 'commit' || method === 'commitAsync' || method === 'abort') (this.root ?? this).ended = true;
    const pc = this.pc;
    const sub = this.view;
    if (pc === null) return this.ch.send<T>({ op: 'txn', txn: this.h, method, args, sub }, undefined, this.home);
    let a: unknown[] = args;
    return encoded(() => this.ch.send<T>({ op: 'txn', txn: this.h, method, args: (a = pc.args(method, args)), sub }, undefined, this.home))
      .then((r) => pc.result(method, r, a) as T);
  }
  /** For `await using tx = await db.beginTransaction()`: aborts it unless
   * commit(), commitAsync() or abort() was called. */
  async dispose(): Promise<void> {
    if (!(this.root ?? this).ended) await this.abort();
  }
  /** As Transaction.sub: the same transaction seen through the named
   * sub-database `name` of the database (or view) it belongs to, with
   * opts' encodings (default: this one's), or through a sub-database from
   * db.sub() of the same database, with its encodings. Its writes commit
   * or abort with this transaction (commit() and abort() on the view act
   * on the whole transaction). CLOSED once the transaction ended;
   * TypeError / INVALID_ARGUMENT for a bad name, as db.sub(). Its key
   * and value types are the sub-database object's, or follow opts'
   * encodings as RemoteDatabase.sub's do. */
  sub<K2, V2>(name: RemoteDatabase<K2, V2>): RemoteTransaction<K2, V2>;
  sub<O extends SubOptions = {}>(name: string, opts?: O): RemoteTransaction<SubKeyOf<O, K, V>, SubValueOf<O, K, V>>;
  sub<K2, V2>(name: string | RemoteDatabase<K2, V2>, opts?: SubOptions): RemoteTransaction<K2, V2>;
  sub(name: string | RemoteDatabase<unknown, unknown>, opts?: SubOptions): RemoteTransaction<unknown, unknown> {
    const root: RemoteTransaction<any, any> = this.root ?? this;
    if (root.ended) throw closedError('transaction');
    let at: SubRef;
    if (name instanceof RemoteDatabase) {
      if (name.closed) throw closedError('database');
      at = subRefs.get(name)!;
    } else {
      at = subOf(this.at, name, opts);
    }
    return new RemoteTransaction<unknown, unknown>(this.ch, this.h, undefined, this.home, at.pc, at, root);
  }
  get(key: Input<K>): Promise<V | undefined> { return this.call('get', [key]); }
  has(key: Input<K>): Promise<boolean> { return this.call('has', [key]); }
  put(key: Input<K>, value: Input<V>): Promise<void> { return this.call('put', [key, value]); }
  delete(key: Input<K>): Promise<void> { return this.call('delete', [key]); }
  commit(): Promise<void> { return this.call('commit', []); }
  commitAsync(): Promise<void> { return this.call('commitAsync', []); }
  abort(): Promise<void> { return this.call('abort', []); }
  /** As Transaction.count(range): keys in range in this transaction's
   * snapshot and its own writes (a read-write transaction records the
   * keys counted as read). */
  count(range?: RangeScope<K>): Promise<number> { return this.call('count', range === undefined ? [] : [range]); }
  /** As Transaction.clear(range): a range delete buffered in this
   * transaction (applied at commit); resolves to the number of keys it
   * deletes. READ_ONLY in a read-only transaction. */
  clear(range?: ClearOptions<K>): Promise<number> { return this.call('clear', range === undefined ? [] : [range]); }
  scan(opts?: ScanOptions<K>): RemoteIterator<[K, V]> {
    return new RemoteIterator(this.ch, this.h, 'scan', opts === undefined ? [] : [opts], this, this.home, this.pc, this.view);
  }
}

/** One committed transaction, as subscribe() and changes() give it. */
export interface RemoteChange {
  seq: number;
  /** commit time, ms since the Unix epoch */
  time: number;
  ops: Array<{ type: 'put'; key: unknown; value: unknown } | { type: 'del'; key: unknown }>;
}

/** The async iterator of RemoteDatabase.changes(). */
export class RemoteChangeFeed implements AsyncIterableIterator<RemoteChange> {
  private readonly buf: RemoteChange[] = [];
  private waiter: { resolve: (r: IteratorResult<RemoteChange>) => void; reject: (e: unknown) => void } | null = null;
  private failure: Error | null = null;
  private ended = false;
  private readonly id: number;
  /** The seq of the last commit yielded: resume a later feed after it. */
  seq: number;
  constructor(private readonly ch: Channel, range: Record<string, unknown>, since: number | undefined, pc: PageCodec | null = null, db?: SubWire) {
    this.seq = since ?? 0;
    this.id = ch.subscribe(pc ? pc.range(range) as Record<string, unknown> : range, since, (c) => {
      const change = (pc ? pc.change(c) : c) as RemoteChange;
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = null;
        this.seq = change.seq;
        w.resolve({ value: change, done: false });
      } else this.buf.push(change);
    }, (e) => {
      this.failure = e;
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = null;
        w.reject(e);
      }
    }, db);
  }
  [Symbol.asyncIterator](): this {
    return this;
  }
  next(): Promise<IteratorResult<RemoteChange>> {
    const c = this.buf.shift();
    if (c) {
      this.seq = c.seq;
      return Promise.resolve({ value: c, done: false });
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }
  /** Ends the feed: a pending next() resolves done. Idempotent. */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.buf.length = 0;
    this.ch.unsubscribe(this.id);
    const w = this.waiter;
    this.waiter = null;
    w?.resolve({ value: undefined, done: true });
  }
  async return(): Promise<IteratorResult<RemoteChange>> {
    this.close();
    return { value: undefined, done: true };
  }
}

/** Options of transaction() / transactionAsync(). */
export interface TransactionCallOptions extends CallOptions {
  /** How many times to rerun fn after a CONFLICT (or OWNER_LOST); default
   * 0. Each rerun waits first: a random time up to 1 ms before the first,
   * doubling each time up to 64 ms (exponential backoff with full jitter,
   * js/retry.ts), so tabs that collided do not collide again at once. */
  retries?: number;
}

/** The main-thread Database: every method returns a promise. */
export class RemoteDatabase<K = Uint8Array, V = Uint8Array> {
  private closing: Promise<void> | null = null;
  /** The store the database lives in ('opfs', 'indexeddb' or 'memory'):
   * with store 'auto', the one that was chosen. Also metrics().store. */
  readonly store: StoreKind;
  /** A named sub-database (sub()): which one, and its database. */
  private readonly wire: SubWire | undefined;
  private readonly parent: RemoteDatabase<any, any> | null;
  /** `pc`: the custom encodings of open(), applied on this thread; `at`:
   * for a sub-database, where it lives, and `parent`, its database. */
  constructor(private readonly ch: Channel, store: StoreKind, private readonly pc: PageCodec | null = null,
    at?: SubRef, parent?: RemoteDatabase<any, any>) {
    this.store = store;
    this.parent = parent ?? null;
    this.wire = at ? { id: nextSubId++, path: at.path } : undefined;
    subRefs.set(this, at ?? { path: [], scope: undefined, pc });
  }
  /** True after close() (of a sub-database: also of its database). */
  get closed(): boolean {
    return this.closing !== null || (this.parent?.closed ?? false);
  }
  /** CLOSED for a closed sub-database (a closed database's channel
   * answers CLOSED itself). */
  private refused(): Error | null {
    return this.wire && this.closed ? closedError('database') : null;
  }
  /** Every method takes CallOptions ({ signal, timeout }) last. */
  private call<T>(method: string, args: unknown[], opts?: CallOptions): Promise<T> {
    try {
      checkCallOptions(opts, `${method}()`);
      const no = this.refused();
      if (no) throw no;
    } catch (e) {
      return Promise.reject(e);
    }
    const pc = this.pc;
    const sub = this.wire;
    if (pc === null) return this.ch.send<T>({ op: 'call', method, args, sub }, opts);
    let a: unknown[] = args;
    return encoded(() => this.ch.send<T>({ op: 'call', method, args: (a = pc.args(method, args)), sub }, opts))
      .then((r) => pc.result(method, r, a) as T);
  }

  /** As Database.sub: the named sub-database `name` in the same database
   * (keys under their own prefix, 0x00 name 0x00), with the whole API of
   * this one, run by the Worker that owns the database (also across a
   * change of owner tab). opts: its encodings (names, or custom ones that
   * run on this page; default: this database's). Transactions across
   * sub-databases: tx.sub(name) inside transaction(). Closing it ends
   * only its own scans, transactions and feeds; closing the database that
   * open() gave closes every sub-database. TypeError / INVALID_ARGUMENT
   * for a bad name at once; an unknown encoding name rejects its calls
   * with INVALID_ARGUMENT. Its key and value types follow opts'
   * encodings as open()'s do (else this database's), or name them:
   * `db.sub<string, Note>(name, ...)`. */
  sub<O extends SubOptions = {}>(name: string, opts?: O): RemoteDatabase<SubKeyOf<O, K, V>, SubValueOf<O, K, V>>;
  sub<K2, V2>(name: string, opts?: SubOptions): RemoteDatabase<K2, V2>;
  sub(name: string, opts?: SubOptions): RemoteDatabase<unknown, unknown> {
    if (this.closed) throw closedError('database');
    const at = subOf(subRefs.get(this)!, name, opts);
    const s = new RemoteDatabase<unknown, unknown>(this.ch, this.store, at.pc, at, this);
    abandonedSubs.register(s, { ch: this.ch, wire: s.wire! }, s);
    return s;
  }
  get(key: Input<K>, opts?: CallOptions): Promise<V | undefined> { return this.call('get', [key], opts); }
  has(key: Input<K>, opts?: CallOptions): Promise<boolean> { return this.call('has', [key], opts); }
  getBatch(keys: Array<Input<K>>, opts?: CallOptions): Promise<Array<V | undefined>> { return this.call('getBatch', [keys], opts); }
  put(key: Input<K>, value: Input<V>, opts?: CallOptions): Promise<void> { return this.call('put', [key, value], opts); }
  delete(key: Input<K>, opts?: CallOptions): Promise<void> { return this.call('delete', [key], opts); }
  putBatch(pairs: Array<[Input<K>, Input<V>]>, opts?: CallOptions): Promise<void> { return this.call('putBatch', [pairs], opts); }
  deleteBatch(keys: Array<Input<K>>, opts?: CallOptions): Promise<void> { return this.call('deleteBatch', [keys], opts); }
  /** As Database.count(range): the number of keys in range ({ gt, gte,
   * lt, lte, prefix }; default every key), counted by the engine in the
   * Worker that owns the database, in one snapshot, without reading
   * values. TypeError / INVALID_ARGUMENT for a bad range. */
  count(range?: RangeScope<K>, opts?: CallOptions): Promise<number> {
    return this.call('count', range === undefined ? [] : [range], opts);
  }
  /** As Database.clear(range): deletes every key in range ({ gt, gte, lt,
   * lte, prefix, limit, reverse }; default all) in one atomic commit done
   * by the engine in the Worker that owns the database (no key crosses to
   * this thread); resolves to the number deleted. A write: in a shared
   * database it carries its request id, so a clear resent after a change
   * of owner tab is applied once. TypeError / INVALID_ARGUMENT for a bad
   * range. */
  clear(range?: ClearOptions<K>, opts?: CallOptions): Promise<number> {
    return this.call('clear', range === undefined ? [] : [range], opts);
  }
  batch(ops: Array<BatchOp<K, V>>, opts?: CallOptions): Promise<void> { return this.call('batch', [ops], opts); }
  putAsync(key: Input<K>, value: Input<V>, opts?: CallOptions): Promise<void> { return this.call('putAsync', [key, value], opts); }
  deleteAsync(key: Input<K>, opts?: CallOptions): Promise<void> { return this.call('deleteAsync', [key], opts); }
  putBatchAsync(pairs: Array<[Input<K>, Input<V>]>, opts?: CallOptions): Promise<void> { return this.call('putBatchAsync', [pairs], opts); }
  deleteBatchAsync(keys: Array<Input<K>>, opts?: CallOptions): Promise<void> { return this.call('deleteBatchAsync', [keys], opts); }
  batchAsync(ops: Array<BatchOp<K, V>>, opts?: CallOptions): Promise<void> { return this.call('batchAsync', [ops], opts); }
  flush(opts?: CallOptions): Promise<void> { return this.call('flush', [], opts); }
  flushAsync(opts?: CallOptions): Promise<void> { return this.call('flushAsync', [], opts); }
  checkpoint(opts?: CallOptions): Promise<void> { return this.call('checkpoint', [], opts); }
  metrics(opts?: CallOptions): Promise<Record<string, unknown>> { return this.call('metrics', [], opts); }
  /** The Prometheus text exposition; `labels` (e.g. 'db="notes"') are added
   * to every sample, as in Database.metricsText(labels). */
  metricsText(labels?: string, opts?: CallOptions): Promise<string> {
    return this.call('metricsText', labels === undefined ? [] : [labels], opts);
  }
  /** The engine's event ring (checkpoints, slow commits, sync stalls,
   * errors, CONFLICT/BUSY bursts) with seq > after, oldest first, as
   * Database.events(after); read in the Worker that owns the database. */
  events(after?: number, opts?: CallOptions): Promise<DatabaseEvent[]> {
    return this.call('events', after === undefined ? [] : [after], opts);
  }
  healthCheck(opts?: CallOptions): Promise<{ healthy: boolean; issues: string[] }> { return this.call('healthCheck', [], opts); }
  /** As Database.check(): CORRUPT naming the first damaged page that a
   * version of the data reaches; else { ok: true, ... } with the harmless
   * damaged free pages counted. */
  check(opts?: CallOptions): Promise<CheckResult> { return this.call('check', [], opts); }
  /** Backs up into the new database `target` in the same store. */
  backup(target: string, opts?: CallOptions): Promise<void> {
    try {
      checkCallOptions(opts, 'backup()');
    } catch (e) {
      return Promise.reject(e);
    }
    return this.ch.send({ op: 'backup', target }, opts);
  }

  /** ScanOptions as Database.scan, with retain: the scan keeps its
   * snapshot at the end (in the Worker), so seek() repositions it, until
   * return(). */
  scan(opts?: ScanOptions<K>): RemoteIterator<[K, V]> {
    return this.iter('scan', opts === undefined ? [] : [opts]);
  }
  scanPrefix(prefix: Uint8Array | string, opts?: Omit<ScanOptions<K>, 'prefix'>): RemoteIterator<[K, V]> {
    return this.iter('scanPrefix', opts === undefined ? [prefix] : [prefix, opts]);
  }
  scanReverse(lte?: Input<K>, gte?: Input<K>): RemoteIterator<[K, V]> {
    return this.iter('scanReverse', [lte, gte]);
  }
  keys(opts?: ScanOptions<K>): RemoteIterator<K> {
    return this.iter('keys', opts === undefined ? [] : [opts]);
  }
  values(opts?: ScanOptions<K>): RemoteIterator<V> {
    return this.iter('values', opts === undefined ? [] : [opts]);
  }
  private iter<T>(method: string, args: unknown[]): RemoteIterator<T> {
    return new RemoteIterator<T>(this.ch, 0, method, args, this, undefined, this.pc, this.wire, this.refused());
  }

  async beginTransaction(options: { readOnly?: boolean } & CallOptions = {}): Promise<RemoteTransaction<K, V>> {
    checkCallOptions(options, 'beginTransaction()', BEGIN_CALL_KEYS);
    const { signal, timeout, ...rest } = options;
    const no = this.refused();
    if (no) throw no;
    const h = await this.ch.send<number>({ op: 'begin', options: rest, sub: this.wire }, { signal, timeout });
    return new RemoteTransaction<K, V>(this.ch, h, this, this.ch.ownerOf(), this.pc, subRefs.get(this));
  }

  /** Runs fn(tx); commits when it resolves, aborts when it throws; reruns
   * fn up to `retries` times on CONFLICT or OWNER_LOST (both mean nothing
   * of the transaction was committed), waiting a random time below
   * min(64, 2^n) ms before rerun n (see TransactionCallOptions.retries). */
  async transaction<T>(fn: (tx: RemoteTransaction<K, V>) => Promise<T> | T, opts: TransactionCallOptions = {}): Promise<T> {
    return this.run(fn, opts, false);
  }

  private async run<T>(fn: (tx: RemoteTransaction<K, V>) => Promise<T> | T, opts: TransactionCallOptions, durable: boolean): Promise<T> {
    if (typeof fn !== 'function') throw invalidType('transaction(fn): fn', 'a function', fn);
    checkCallOptions(opts, durable ? 'transactionAsync()' : 'transaction()', TRANSACTION_CALL_KEYS);
    const { retries, ...call } = opts;
    let left = retries ?? 0;
    let retry = 0;
    for (;;) {
      // signal / timeout bound the wait to begin; the commit then runs.
      const tx = await this.beginTransaction(call);
      let result: T;
      try {
        result = await fn(tx);
      } catch (e) {
        await tx.abort().catch(() => {});
        if (!(e instanceof LightningDbError && e.code === 'OWNER_LOST' && left-- > 0)) throw e;
        await retryDelay(retry++);
        continue;
      }
      try {
        await (durable ? tx.commitAsync() : tx.commit());
        return result;
      } catch (e) {
        if (!(e instanceof LightningDbError && (e.code === 'CONFLICT' || e.code === 'OWNER_LOST') && left-- > 0)) throw e;
      }
      // other tabs collided with this one: wait (exponential backoff, full
      // jitter) so the rerun does not collide again at once
      await retryDelay(retry++);
    }
  }

  /** As transaction(), committing with commitAsync (durable before it
   * resolves, whatever the sync mode's wait). */
  async transactionAsync<T>(fn: (tx: RemoteTransaction<K, V>) => Promise<T> | T, opts: TransactionCallOptions = {}): Promise<T> {
    return this.run(fn, opts, true);
  }

  /** Calls fn(change) after each later commit with operations in `range`
   * ({ gt, gte, lt, lte, prefix }) becomes visible — commits of every tab —
   * in commit order, each once, also across a change of owner tab.
   * "Later": after the last commit when the owner answers the
   * subscription's first message, in order with this tab's calls (a commit
   * made once a later call of this tab resolved is delivered; other tabs'
   * commits racing with it may not be). In a shared database that message
   * asks for the owner's last commit, and the subscription is registered
   * after it: an owner that goes away before it answered loses nothing.
   * change = { seq, time, ops: [{ type, key, value }] } decoded with this
   * tab's encodings. Returns the function that unsubscribes. An exception
   * thrown by fn, or the error that ends the subscription (COMPACTED when
   * the owner's log no longer holds the commits to resume after a
   * hand-off), is reported as uncaught (reportError). */
  subscribe(range: Record<string, unknown> | undefined, fn: (change: RemoteChange) => void): () => void {
    if (typeof fn !== 'function') throw invalidType('subscriber', 'a function', fn);
    if (range !== undefined && (range === null || typeof range !== 'object')) throw invalidType('range', 'an object', range);
    const no = this.refused();
    if (no) throw no;
    const report = (e: unknown) => (globalThis as { reportError?: (e: unknown) => void }).reportError?.(e);
    const pc = this.pc;
    const id = this.ch.subscribe((pc ? pc.range({ ...(range ?? {}) }) : { ...(range ?? {}) }) as Record<string, unknown>, undefined, (c) => {
      try {
        fn((pc ? pc.change(c) : c) as RemoteChange);
      } catch (e) {
        report(e);
      }
    }, report, this.wire);
    return () => this.ch.unsubscribe(id);
  }

  /** The commits after `since` (default: from now) with operations in
   * range, in commit order, as an async iterator that waits for new
   * commits; it ends when you break out of it or call close(). Commits of
   * every tab, each once, also across a change of owner tab. Commits are
   * buffered in this tab until read. Rejects with COMPACTED when `since`
   * is older than the retained log. */
  changes(opts: Record<string, unknown> & { since?: number } = {}): RemoteChangeFeed {
    if (opts === null || typeof opts !== 'object') throw invalidType('changes options', 'an object', opts);
    const no = this.refused();
    if (no) throw no;
    const { since, ...range } = opts;
    if (since !== undefined && (typeof since !== 'number' || !Number.isSafeInteger(since) || since < 0))
      throw typeError('since must be a sequence number >= 0');
    return new RemoteChangeFeed(this.ch, range, since, this.pc, this.wire);
  }

  /** True while this tab's Worker owns the database (shared databases;
   * always true in exclusive mode). */
  get isOwner(): boolean {
    return this.ch.clientId === null || this.ch.owner?.local === true;
  }

  /** Closes the database and ends the Worker. Idempotent. Calls already
   * made settle first; an owner tab hands the database to another tab. */
  close(): Promise<void> {
    if (this.wire) {
      // A sub-database: the database stays open; the Worker closes the
      // sub-database after the calls already made through it.
      abandonedSubs.unregister(this);
      this.closing ??= this.ch.send<void>({ op: 'subClose', sub: this.wire }).then(() => {}, () => {});
      return this.closing;
    }
    abandoned.unregister(this);
    this.ch.ending = true;
    // (Exclusive mode: at once, since the Worker runs the calls made before
    // it first; so it is bounded by ownerTimeout like them.)
    this.closing ??= (this.ch.clientId === null ? Promise.resolve() : this.ch.drain())
      .then(() => this.ch.send<void>({ op: 'close' }))
      // Its Worker died (exclusive mode): it holds nothing, so it is closed.
      .catch((e) => { if (!this.ch.workerDied) throw e; })
      .finally(() => {
        this.ch.unshare();
        this.ch.worker.terminate();
        this.ch.fail(new LightningDbError('CLOSED', 'the database is closed'));
      });
    return this.closing;
  }
}

/* Disposal (`await using`): a RemoteDatabase closes, a RemoteTransaction
 * aborts unless it was committed or aborted, a RemoteIterator closes (as
 * return()). Defined where the runtime has Symbol.asyncDispose (current
 * Chromium, Firefox); the proxy has no synchronous disposal, since every
 * call crosses to the Worker. */
export interface RemoteDatabase {
  [Symbol.asyncDispose](): Promise<void>;
}
export interface RemoteTransaction {
  [Symbol.asyncDispose](): Promise<void>;
}
export interface RemoteIterator<T> {
  [Symbol.asyncDispose](): Promise<void>;
}
function defineAsyncDisposal(proto: object, end: (self: any) => Promise<unknown>): void {
  const sym = (Symbol as { asyncDispose?: symbol }).asyncDispose;
  if (sym === undefined) return;
  Object.defineProperty(proto, sym, {
    value: async function (this: unknown) { await end(this); }, configurable: true, writable: true,
  });
}
defineAsyncDisposal(RemoteDatabase.prototype, (db: RemoteDatabase<unknown, unknown>) => db.close());
defineAsyncDisposal(RemoteTransaction.prototype, (tx: RemoteTransaction<unknown, unknown>) => tx.dispose());
defineAsyncDisposal(RemoteIterator.prototype, (it: RemoteIterator<unknown>) => it.return());

/** Ends the Worker of a RemoteDatabase that became unreachable without
 * close() (an abandoned open): its tab lock must not be held forever. */
const abandoned = new FinalizationRegistry<Channel>((ch) => {
  ch.ending = true;
  ch.send({ op: 'close' }).finally(() => {
    ch.unshare();
    ch.worker.terminate();
  }).catch(() => {});
});

/** Does open() share the database with other tabs? Not for exclusive
 * opens (exclusive, waitForLock), per-Worker stores (memory), read-only
 * opens, nor where Web Locks or BroadcastChannel are missing. */
function sharedMode(o: OpenOptions): boolean {
  if (o.exclusive === true || o.waitForLock === true || o.readOnly === true || o.store === 'memory') return false;
  const g = globalThis as unknown as { navigator?: { locks?: unknown }; BroadcastChannel?: unknown };
  return typeof g.BroadcastChannel === 'function' && g.navigator?.locks !== undefined;
}

/** './worker-inline.js' in the package's bundle (scripts/build-browser.mjs
 * defines it, so the import below is a literal bundlers follow); not
 * defined where js/browser is bundled from source (the repository's tests
 * and benchmarks, which serve worker.js themselves). */
declare const LDB_INLINE_WORKER: string | undefined;

/** new Worker(new URL('./worker.js', import.meta.url)) exactly in the form
 * bundlers (Vite, webpack 5, Parcel) recognise, with static options: they
 * bundle worker.js (a single self-contained file) and the .wasm it
 * references as assets, and write the URL of their copy here. */
function defaultWorker(): Worker {
  return new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
}

/** Whether worker.js is known not to be where defaultWorker() looks, so
 * open() starts the inline Worker at once instead of after a 404: in the
 * package's build (it has the inline Worker), bundled into one file with
 * here.js (so not run from the package's own files, where worker.js is
 * next to this module) by a bundler that left the Worker's URL as written
 * and so copied nothing (esbuild). Whether the URL was rewritten is read
 * from the Worker defaultWorker() would construct, with the global Worker
 * replaced for that synchronous call by one that only records its URL. */
function workerNotBundled(): boolean {
  if (typeof LDB_INLINE_WORKER !== 'string' || here !== import.meta.url) return false;
  const g = globalThis as unknown as { Worker: unknown };
  const real = g.Worker;
  let seen = '';
  const probe = class {
    constructor(url: URL | string) {
      seen = String(url);
    }
  };
  try {
    g.Worker = probe;
  } catch {
    return false; // a frozen global: worker.js is tried first, as before
  }
  try {
    if (g.Worker !== probe) return false;
    defaultWorker();
  } finally {
    g.Worker = real;
  }
  return seen === new URL(['.', 'worker.js'].join('/'), import.meta.url).href;
}

/** The global SharedWorker, where there is one (not in dedicated Workers
 * of every browser); the Worker-side lib this file is checked with does
 * not declare it. */
declare const SharedWorker: new (url: URL, o: { type: 'module'; name: string }) => SharedWorkerLike;

/** The origin's broker (broker.js next to this module), written like
 * defaultWorker() so that bundlers bundle it too. Only where
 * globalThis.SharedWorker is a function. */
function defaultBroker(): SharedWorkerLike {
  return new SharedWorker(new URL('./broker.js', import.meta.url), { type: 'module', name: 'lightningdb-broker' });
}

/** The database Worker for bundlers that do not follow
 * new Worker(new URL('./worker.js', import.meta.url)) (esbuild): worker.js
 * and lightningdb.wasm carried inside a lazily loaded module
 * (worker-inline.js, generated by scripts/build-browser.mjs), started from a
 * blob: URL with the module's bytes passed as the wasmBinary option. */
async function inlineWorker(): Promise<{ url: string; wasmBinary: Uint8Array }> {
  if (typeof LDB_INLINE_WORKER !== 'string') throw new Error('this build has no inline worker');
  const { workerSource, wasmBase64 } = (await import(LDB_INLINE_WORKER)) as typeof import('./worker-inline.js');
  const url = URL.createObjectURL(new Blob([workerSource], { type: 'text/javascript' }));
  const bin = atob(wasmBase64);
  const wasmBinary = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) wasmBinary[i] = bin.charCodeAt(i);
  return { url, wasmBinary };
}

/** Opens the database `name` in a new dedicated Worker (main thread). By
 * default every tab that opens it shares it: one tab's Worker owns it,
 * the others are clients of it (see the file comment of worker.ts). Key
 * and value types follow the encodings: Uint8Array for 'binary' (the
 * default), string for 'utf8', unknown for 'json' — or name them:
 * `open<string, Note>(name, { keyEncoding: 'utf8', valueEncoding: 'json' })`. */
export async function open<O extends OpenOptions = {}>(name: string, options?: O): Promise<RemoteDatabase<KeyOf<O>, ValueOf<O>>>;
export async function open<K, V>(name: string, options?: OpenOptions): Promise<RemoteDatabase<K, V>>;
export async function open(name: string, options: OpenOptions = {}): Promise<RemoteDatabase<unknown, unknown>> {
  if (typeof name !== 'string' || !name) throw typeError('database name must be a non-empty string');
  if (options === null || typeof options !== 'object') throw invalidType('options', 'an object', options);
  checkOptionKeys(options, OPEN_KEYS, 'open()');
  const { workerUrl, signal, wasmUrl, exclusive, handoffTimeout, ownerTimeout, ...rest } = options;
  // Custom { encode, decode } encodings run on this thread (functions
  // cannot cross postMessage): the Worker stores their bytes as 'binary'.
  let pc: PageCodec | null = null;
  for (const f of ['keyEncoding', 'valueEncoding'] as const) {
    const e = rest[f];
    if (e === null || typeof e !== 'object') continue;
    if (!isCustom(e)) throw typeError(`${f} must be an encoding name or an object with encode and decode functions`);
    pc ??= new PageCodec(null, null);
    pc = f === 'keyEncoding' ? new PageCodec(e, pc.v) : new PageCodec(pc.k, e);
    rest[f] = 'binary';
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidType('signal', 'an AbortSignal', signal);
  if (exclusive !== undefined && typeof exclusive !== 'boolean') throw invalidType('exclusive', 'a boolean', exclusive);
  if (handoffTimeout !== undefined && (typeof handoffTimeout !== 'number' || !(handoffTimeout >= 0)))
    throw typeError('handoffTimeout must be a number of milliseconds >= 0 (or Infinity)');
  if (ownerTimeout !== undefined && (typeof ownerTimeout !== 'number' || !(ownerTimeout >= 0)))
    throw typeError('ownerTimeout must be a number of milliseconds >= 0 (or Infinity)');
  const bounds = { handoffTimeout: handoffTimeout ?? DEFAULT_HANDOFF_TIMEOUT_MS, ownerTimeout: ownerTimeout ?? DEFAULT_OWNER_TIMEOUT_MS };
  if (signal?.aborted) throw new LightningDbError('ABORTED', `opening database "${name}" was cancelled (AbortSignal)`);
  const base = typeof location !== 'undefined' ? location.href : undefined;
  const url = String(workerUrl !== undefined ? new URL(String(workerUrl), base) : new URL('./worker.js', import.meta.url));
  // Relative to the page, not to the Worker script.
  if (wasmUrl !== undefined) rest.wasmUrl = String(new URL(String(wasmUrl), base));
  const share = sharedMode(options);
  const clientId = share ? randomId() : '';
  /** Set when worker.js or the .wasm is not served next to this module
   * (known at once, or after they did not load). */
  let inline: { url: string; wasmBinary: Uint8Array } | null = null;
  if (workerUrl === undefined && wasmUrl === undefined && workerNotBundled()) inline = await inlineWorker();
  const spawn = (): Worker => {
    if (workerUrl !== undefined) return new Worker(url, { type: 'module', name: `lightningdb:${name}` });
    if (inline) return new Worker(inline.url, { type: 'module', name: `lightningdb:${name}` });
    return defaultWorker();
  };
  const start = (workerId: string) => {
    const w = spawn();
    const opts = inline ? { ...rest, wasmBinary: inline.wasmBinary } : rest;
    // (Exclusive mode: `life` names the lock the Worker holds for its life.)
    const o = share ? { ...opts, shared: { clientId, workerId, trace: tracing() } } : { ...opts, life: workerId };
    return { w, o };
  };
  try {
    return await openWith(start);
  } catch (e) {
    // worker.js or lightningdb.wasm is not served next to this module (a
    // bundler that does not follow them, such as esbuild): the
    // self-contained copy instead. An explicit workerUrl/wasmUrl stays an error.
    if (!(e instanceof LightningDbError && e.code === 'SETUP') || inline || workerUrl !== undefined || wasmUrl !== undefined) throw e;
    try {
      inline = await inlineWorker();
    } catch {
      throw e;
    }
    return openWith(start);
  }

  async function openWith(start: (workerId: string) => { w: Worker; o: Record<string, unknown> }): Promise<RemoteDatabase<unknown, unknown>> {
    let workerId = randomId();
    const first = start(workerId);
    const worker = first.w;
    const ch = new Channel(worker, url);
    ch.brokerUrl = workerUrl !== undefined ? String(new URL('./broker.js', url)) : inline ? null : 'default';
    // Every call to this tab's Worker is bounded too (the open itself once
    // the Worker runs; in exclusive mode every call).
    ch.ownerTimeout = bounds.ownerTimeout;
    let onAbort: (() => void) | undefined;
    try {
      const opened = ch.send<Opened>({ op: 'open', name, options: first.o });
      const aborted = new Promise<never>((_, reject) => {
        // Ending the Worker withdraws its lock request and frees what it holds.
        onAbort = () => reject(new LightningDbError('ABORTED', `opening database "${name}" was cancelled (AbortSignal); it holds nothing`));
        signal?.addEventListener('abort', onAbort, { once: true });
      });
      const r = await Promise.race([opened, aborted]);
      if (share) {
        const enc = JSON.stringify([rest.keyEncoding ?? null, rest.valueEncoding ?? null]);
        // This tab's Worker went away (terminated, crashed): a new one
        // stands by in its place, so this tab can own the database again.
        const respawn = () => {
          workerId = randomId();
          const next = start(workerId);
          ch.attach(next.w);
          ch.send<Opened>({ op: 'open', name, options: next.o }).then(
            (o) => void ch.share(clientId, enc, o, bounds, respawn, workerId),
            () => { /* this tab stays a client of the other tabs' owner */ },
          );
        };
        await ch.share(clientId, enc, r, bounds, respawn, workerId);
      } else {
        ch.watchWorker(workerId);
      }
      const db = new RemoteDatabase<unknown, unknown>(ch, r.store as StoreKind, pc);
      abandoned.register(db, ch, db);
      return db;
    } catch (e) {
      worker.terminate();
      ch.unshare();
      ch.fail(e as Error);
      throw e;
    } finally {
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
  }
}
