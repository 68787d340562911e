/**
 * owner.ts — what the owner of a shared database keeps in the database
 * itself, and the engine wrapper that writes it.
 *
 * Reserved keys: every key that begins with 8 bytes 0xFF (the tail of the
 * key space; utf8 and json keys never contain the byte 0xFF, so only binary
 * keys can reach it). The main-thread API (open()) hides them: gets answer
 * undefined, scans stop before them, writes of them are INVALID_ARGUMENT.
 *   FF*8 'e'                      the owner epoch (decimal): every new owner
 *                                 stores the previous + 1 before it serves
 *   FF*8 'r' <clientId> '/' <rid> one record per write of a client (value:
 *                                 the byte '1'; only its presence counts;
 *                                 databases of earlier versions hold the
 *                                 commit time in ms), committed in the same
 *                                 atomic batch or transaction as the write
 *                                 itself
 * A write resent after a hand-off (retry) is applied only when its record
 * is absent, so it is applied once; a record present means committed.
 * Records go when the client reports the write acknowledged (`forget`:
 * in a write of their own, never in a client's),
 * when the client is gone (its lock is free), and when the last tab closes.
 *
 * Tagging: the worker sets `tag` (the record to write, and records to
 * drop) right before it calls a Database write method; the wrapper adds
 * them to the engine call that method makes (db.put/del/write/writeAsync,
 * or the transaction's commit), and clears `tag`.
 *
 * Counting: the engine counts the records and epochs with the tabs' own
 * operations (a put with its record is a batch of two puts). The wrappers
 * count what they added (Bookkeeping, per database) and stats() and
 * prometheus() subtract it, so metrics() and metricsText() count the
 * operations the tabs asked for; bytes, syncs and the log sizes stay
 * physical.
 */
import type {
  Engine, EngineChanges, EngineChangesOptions, EngineCheckResult, EngineCommitListener, EngineDb, EngineEvent, EngineIterOptions,
  EngineIterator, EngineOp, EngineOpenOptions, EngineStats, EngineTxn,
} from '../engine.js';
import { STATS } from '../contract.js';
import { LightningDbError } from '../errors.js';

const FF8 = new Uint8Array(8).fill(0xff);
const enc = new TextEncoder();
const dec = new TextDecoder();

function cat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const r = new Uint8Array(a.length + b.length);
  r.set(a);
  r.set(b, a.length);
  return r;
}

/** True for keys of the reserved range (8 leading 0xFF bytes). */
export function isReserved(k: Uint8Array): boolean {
  if (k.length < 8) return false;
  for (let i = 0; i < 8; i++) if (k[i] !== 0xff) return false;
  return true;
}

export const EPOCH_KEY = cat(FF8, enc.encode('e'));
/** The value of every request record (a constant: nothing to encode per
 * write; the engine copies it). */
export const RECORD_VALUE: Uint8Array = enc.encode('1');
const RECORDS = cat(FF8, enc.encode('r'));

/** Record key prefixes of recent clients (one per write otherwise). */
const prefixes = new Map<string, Uint8Array>();

export function recordKey(clientId: string, rid: number): Uint8Array {
  let prefix = prefixes.get(clientId);
  if (!prefix) {
    if (prefixes.size >= 64) prefixes.clear();
    prefixes.set(clientId, (prefix = clientRecordsPrefix(clientId)));
  }
  // rid is a safe integer: its decimal digits are ASCII.
  const digits = String(rid);
  const k = new Uint8Array(prefix.length + digits.length);
  k.set(prefix);
  for (let i = 0; i < digits.length; i++) k[prefix.length + i] = digits.charCodeAt(i);
  return k;
}

export function clientRecordsPrefix(clientId: string): Uint8Array {
  return cat(RECORDS, enc.encode(`${clientId}/`));
}

export function recordsPrefix(): Uint8Array {
  return RECORDS;
}

/** The client id of a record key. */
export function recordClient(k: Uint8Array): string {
  const s = dec.decode(k.subarray(RECORDS.length));
  return s.slice(0, s.indexOf('/'));
}

export function reservedRange(): Uint8Array {
  return FF8;
}

function compare(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

function refuse(k: Uint8Array): void {
  if (isReserved(k))
    throw new LightningDbError('INVALID_ARGUMENT',
      'keys beginning with 8 bytes 0xFF are reserved for the bookkeeping of databases shared by tabs (docs/browser.md)');
}

/** Iterator bounds of a user scan, ending before the reserved range
 * (which is the tail of the key space: every key >= FF*8 is reserved);
 * null when nothing of the scan lies outside it. */
function clamp<T extends EngineIterOptions | EngineChangesOptions>(o: T): T | null {
  if (o.prefix && isReserved(o.prefix)) return null;
  if (o.lower && isReserved(o.lower)) return null;
  if (o.upper === undefined || compare(o.upper, FF8) >= 0) return { ...o, upper: FF8, upperExclusive: true };
  return o;
}

const EMPTY: EngineIterator = { seek() {}, next: () => [], close() {} };

/** The counters the owner's bookkeeping adds to (see Counting in the file
 * comment). */
const COUNTED = ['gets', 'puts', 'deletes', 'batches', 'commits'] as const;
/** What the owner's bookkeeping added to the engine's counters of one
 * database since its engine opened. */
type Bookkeeping = Record<(typeof COUNTED)[number], number>;
/** COUNTED's Prometheus families (lightningdb_puts_total, ...). */
const FAMILIES = COUNTED.map((f) => [f, STATS.find((s) => s.jsName === f)!.metric] as const);

function countOps(b: Bookkeeping, ops: EngineOp[]): void {
  for (const op of ops) {
    if (op.type === 'put') b.puts++;
    else b.deletes++;
  }
}

/** A tagged write of `ops` was applied with the record ops `t`. */
function countTagged(b: Bookkeeping, ops: EngineOp[], t: EngineOp[]): void {
  countOps(b, t);
  // Only records: a batch and a commit of their own.
  if (ops.length === 0) {
    b.batches++;
    b.commits++;
  }
}

/** The record ops the next write carries (see the file comment). */
export interface Tag {
  ops: EngineOp[];
}

let tag: Tag | null = null;

/** Sets the tag of the next write made through a SharedEngine database. */
export function setTag(t: Tag | null): void {
  tag = t;
}

function takeTag(): EngineOp[] | null {
  const t = tag;
  tag = null;
  return t && t.ops.length ? t.ops : null;
}

class GuardedTxn implements EngineTxn {
  /** Whether the tabs' own operations wrote something (else the records
   * alone make the commit). */
  private wrote = false;
  constructor(private readonly t: EngineTxn, private readonly book: Bookkeeping) {}
  get readOnly(): boolean {
    return this.t.readOnly;
  }
  get(key: Uint8Array): Uint8Array | undefined {
    return isReserved(key) ? undefined : this.t.get(key);
  }
  put(key: Uint8Array, value: Uint8Array): void {
    refuse(key);
    this.t.put(key, value);
    this.wrote = true;
  }
  del(key: Uint8Array): void {
    refuse(key);
    this.t.del(key);
    this.wrote = true;
  }
  iterate(opts: EngineIterOptions): EngineIterator {
    const o = clamp(opts);
    return o ? this.t.iterate(o) : EMPTY;
  }
  count(opts: EngineIterOptions): number {
    const o = clamp(opts);
    return o ? this.t.count(o) : 0;
  }
  deleteRange(opts: EngineIterOptions, limit: number): number {
    const o = clamp(opts);
    const n = o ? this.t.deleteRange(o, limit) : 0;
    if (n > 0) this.wrote = true;
    return n;
  }
  /** Adds the tag's record puts; returns how many. */
  private tagged(): number {
    const ops = takeTag();
    if (!ops || this.t.readOnly) return 0;
    // Only puts: deleting another record in a transaction could make its
    // commit CONFLICT with the write that made that record.
    let n = 0;
    for (const op of ops) {
      if (op.type !== 'put') continue;
      this.t.put(op.key, op.value);
      n++;
    }
    return n;
  }
  /** Counts the records of a commit that succeeded. */
  private committed(records: number): void {
    this.book.puts += records;
    if (records > 0 && !this.wrote) this.book.commits++;
  }
  commit(): void {
    const records = this.tagged();
    this.t.commit();
    this.committed(records);
  }
  commitAsync(): Promise<void> {
    const records = this.tagged();
    return this.t.commitAsync().then(() => this.committed(records));
  }
  abort(): void {
    this.t.abort();
  }
}

class GuardedDb implements EngineDb {
  constructor(readonly raw: EngineDb, private readonly book: Bookkeeping, private readonly onClose: () => void) {}
  get(key: Uint8Array): Uint8Array | undefined {
    return isReserved(key) ? undefined : this.raw.get(key);
  }
  getMany(keys: Uint8Array[]): Array<Uint8Array | undefined> {
    const vs = this.raw.getMany(keys);
    return vs.map((v, i) => (isReserved(keys[i]!) ? undefined : v));
  }
  put(key: Uint8Array, value: Uint8Array): void {
    refuse(key);
    const t = takeTag();
    if (!t) return this.raw.put(key, value);
    this.raw.write([{ type: 'put', key, value }, ...t]);
    // One put, made a batch by its record.
    this.book.batches++;
    countOps(this.book, t);
  }
  del(key: Uint8Array): void {
    refuse(key);
    const t = takeTag();
    if (!t) return this.raw.del(key);
    this.raw.write([{ type: 'del', key }, ...t]);
    this.book.batches++;
    countOps(this.book, t);
  }
  write(ops: EngineOp[]): void {
    for (const op of ops) refuse(op.key);
    const t = takeTag();
    if (!t) return this.raw.write(ops);
    this.raw.write(ops.concat(t));
    countTagged(this.book, ops, t);
  }
  writeAsync(ops: EngineOp[]): Promise<void> {
    for (const op of ops) refuse(op.key);
    const t = takeTag();
    if (!t) return this.raw.writeAsync(ops);
    return this.raw.writeAsync(ops.concat(t)).then(() => countTagged(this.book, ops, t));
  }
  begin(readOnly: boolean): EngineTxn {
    return new GuardedTxn(this.raw.begin(readOnly), this.book);
  }
  iterate(opts: EngineIterOptions): EngineIterator {
    const o = clamp(opts);
    return o ? this.raw.iterate(o) : EMPTY;
  }
  count(opts: EngineIterOptions): number {
    const o = clamp(opts);
    return o ? this.raw.count(o) : 0;
  }
  /** The range never reaches the reserved keys; a tagged call deletes and
   * records its request in one transaction, so a retry applies it once. */
  deleteRange(opts: EngineIterOptions, limit: number): number {
    const o = clamp(opts);
    const t = takeTag();
    if (!o) {
      if (t) {
        this.raw.write(t);
        countTagged(this.book, [], t);
      }
      return 0;
    }
    if (!t) return this.raw.deleteRange(o, limit);
    const txn = this.raw.begin(false);
    try {
      const n = txn.deleteRange(o, limit);
      // Begun and committed in one synchronous step of the owner's Worker:
      // no commit can come between, so the record deletes cannot conflict.
      for (const op of t) {
        if (op.type === 'put') txn.put(op.key, op.value);
        else txn.del(op.key);
      }
      txn.commit();
      countOps(this.book, t);
      if (n === 0) this.book.commits++;
      return n;
    } catch (e) {
      txn.abort();
      throw e;
    }
  }
  flush(): void {
    this.raw.flush();
  }
  flushAsync(): Promise<void> {
    return this.raw.flushAsync();
  }
  checkpoint(): void {
    this.raw.checkpoint();
  }
  check(): EngineCheckResult {
    return this.raw.check();
  }
  backup(path: string): void {
    this.raw.backup(path);
  }
  /** The engine's, less what the owner's bookkeeping added. */
  stats(): EngineStats {
    const s = { ...this.raw.stats() };
    for (const f of COUNTED) s[f] -= this.book[f];
    return s;
  }
  /** The engine's, less what the owner's bookkeeping added. */
  prometheus(labels?: string): string {
    let text = this.raw.prometheus(labels);
    for (const [f, family] of FAMILIES) {
      if (this.book[f] === 0) continue;
      text = text.replace(new RegExp(`^(${family}(?:\\{.*\\})?) (\\d+)$`, 'm'), (_, head: string, n: string) => `${head} ${Number(n) - this.book[f]}`);
    }
    return text;
  }
  events(after: number): EngineEvent[] {
    return this.raw.events?.(after) ?? [];
  }
  /** The change feed without the reserved range (records, epochs). */
  changes(since: number, opts: EngineChangesOptions): EngineChanges {
    const o = clamp(opts);
    if (!o) return this.raw.changes(since, { ...opts, lower: FF8, upper: FF8, upperExclusive: true });
    return this.raw.changes(since, o);
  }
  onCommit(fn: () => void): EngineCommitListener {
    return this.raw.onCommit(fn);
  }
  close(): void {
    this.onClose();
    this.raw.close();
  }
}

/** The owner's own handle on a shared database (SharedEngine.rawOf): the
 * reserved range is open to it, and what it reads and writes is counted
 * as bookkeeping, not as the tabs' operations. */
export class OwnerDb {
  constructor(private readonly raw: EngineDb, private readonly book: Bookkeeping) {}
  get(key: Uint8Array): Uint8Array | undefined {
    const v = this.raw.get(key);
    this.book.gets++;
    return v;
  }
  write(ops: EngineOp[]): void {
    this.raw.write(ops);
    if (ops.length === 0) return;
    countOps(this.book, ops);
    this.book.batches++;
    this.book.commits++;
  }
  iterate(opts: EngineIterOptions): EngineIterator {
    return this.raw.iterate(opts);
  }
  flushAsync(): Promise<void> {
    return this.raw.flushAsync();
  }
  /** The engine's own statistics (bookkeeping included). */
  stats(): EngineStats {
    return this.raw.stats();
  }
}

/** An Engine whose databases hide the reserved range and write tags. The
 * owner's own handle (for its bookkeeping) is `rawOf(path)`. */
export class SharedEngine implements Engine {
  /** Open handles per path (several databases of different encodings
   * share one engine), and what the bookkeeping added to its counters. */
  private readonly raws = new Map<string, { handles: Set<EngineDb>; book: Bookkeeping }>();
  /** The inner engine's (metrics().heapBytes), where it has one. */
  readonly heapBytes?: () => number;
  constructor(private readonly inner: Engine) {
    if (inner.heapBytes) this.heapBytes = () => inner.heapBytes!();
  }
  get kind(): 'native' | 'wasm' {
    return this.inner.kind;
  }
  open(path: string, options: EngineOpenOptions): EngineDb {
    const raw = this.inner.open(path, options);
    let at = this.raws.get(path);
    if (!at) {
      at = { handles: new Set(), book: { gets: 0, puts: 0, deletes: 0, batches: 0, commits: 0 } };
      this.raws.set(path, at);
    }
    const { handles, book } = at;
    handles.add(raw);
    return new GuardedDb(raw, book, () => {
      handles.delete(raw);
      // The engine closed with its last handle: its counters restart.
      if (handles.size === 0 && this.raws.get(path) === at) this.raws.delete(path);
    });
  }
  version(): string {
    return this.inner.version();
  }
  /** The owner's own handle on the database at `path`, while one is open. */
  rawOf(path: string): OwnerDb | undefined {
    const at = this.raws.get(path);
    for (const raw of at?.handles ?? []) return new OwnerDb(raw, at!.book);
    return undefined;
  }
}

/** Every key of the range beginning with `prefix`. */
export function keysWithPrefix(db: Pick<EngineDb, 'iterate'>, prefix: Uint8Array): Uint8Array[] {
  const it = db.iterate({ prefix });
  const out: Uint8Array[] = [];
  try {
    for (;;) {
      const batch = it.next(1024);
      if (batch.length === 0) break;
      for (const [k] of batch) out.push(k);
    }
  } finally {
    it.close();
  }
  return out;
}

export function encodeNumber(n: number): Uint8Array {
  return enc.encode(String(n));
}

export function decodeNumber(v: Uint8Array | undefined): number {
  if (!v) return 0;
  const n = Number(dec.decode(v));
  return Number.isFinite(n) ? n : 0;
}
