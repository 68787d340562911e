/**
 * database.ts — the public TypeScript API of LightningDB (Database,
 * Transaction, scans), written once over the Engine contract of engine.ts.
 *
 * Owns: argument checking (wrong types: invalidType() / typeError() of
 * errors.ts, a TypeError with code INVALID_ARGUMENT; bad values:
 * invalid(), a LightningDbError INVALID_ARGUMENT), encodings, scan bounds, chunked lazy iteration, retries,
 * closing semantics and metrics arithmetic (via metrics.ts). The engine only
 * moves bytes. This file runs in Node and inside a browser Worker over the
 * WebAssembly engine, so it imports no Node modules (no fs, path, Buffer or
 * process).
 *
 * Also owns named sub-databases (db.sub(name): a key prefix, see
 * subScope), range counts and deletes (done by the engine: count, clear)
 * and disposal (Symbol.dispose / Symbol.asyncDispose, defined at the end
 * of this file where the runtime has them).
 */
/// <reference lib="esnext.disposable" preserve="true" />
import type {
  Engine, EngineChange, EngineChangesOptions, EngineCheckResult, EngineDb, EngineIterator, EngineIterOptions, EngineOp,
  EngineOpenOptions, EngineTxn,
} from './engine.js';
import { closedError, invalid, invalidType, LightningDbError, mapErrors, toLightningDbError, typeError } from './errors.js';
import {
  customEncoding, checkUtf8Key, decodeKey, decodeValue, encodings, isCustomEncoding, isEncodingName, scopedEncoding, toBytes,
  type CustomEncoding, type Encoding, type EncodingName,
} from './encodings.js';
import {
  computeMetrics, healthReport, replicationText, type HealthReport, type IntervalMark, type Metrics, type ReplicationStats,
} from './metrics.js';
import { OPTIONS, type CoreOptions, type OptionInfo } from './contract.js';
import { subScope } from './subscope.js';
import { retryDelay } from './retry.js';
import { checkOptionKeys, DATABASE_OPTION_KEYS, keyList } from './options.js';
import { Feed, Subscription, type Change, type ChangeFeed, type ChangesOptions, type FeedOwner, type RangeOptions } from './feed.js';

export type { Compression, SyncMode } from './contract.js';
export type { Change, ChangeFeed, ChangeOp, ChangesOptions, RangeOptions } from './feed.js';

/** One event of db.events(). */
export interface DatabaseEvent {
  /** 1, 2, ... per engine; a gap means older events were overwritten */
  seq: number;
  /** 'checkpoint' | 'slow_commit' | 'slow_read' | 'sync_stall' | 'error' |
   * 'disk_full' | 'recovered' | 'conflict' | 'busy' */
  type: string;
  /** the error code involved ('OK' when none): error, disk_full,
   * recovered (the one cleared), conflict, busy */
  code: string;
  /** ms since the epoch: when it happened, and its latest occurrence */
  time: number;
  lastTime: number;
  /** occurrences folded into it (bursts); 1 otherwise */
  count: number;
  /** checkpoint: its checkpoint seq; slow_commit / slow_read / sync_stall:
   * the slowest in ns; busy: maxActiveTransactions; else 0 */
  value: number;
}

/** Options of open() / Database.create(): the core's options (each
 * documented, with its default and range, in contract.ts, generated from
 * core/src/options.def; also in the README) and the encodings. Any other
 * key is INVALID_ARGUMENT, naming the closest known one
 * (DATABASE_OPTION_KEYS, options.ts). */
export interface OpenOptions extends CoreOptions {
  /** 'binary' (default), 'utf8', 'json', 'msgpack', or a custom
   * { encode, decode } object */
  keyEncoding?: EncodingName | CustomEncoding;
  /** as keyEncoding */
  valueEncoding?: EncodingName | CustomEncoding;
}

/** What check() found: `ok` (a damaged page that some version of the data
 * reaches throws CORRUPT instead), and the free pages no version reaches
 * whose checksum failed — harmless (a crash may leave such a page torn;
 * it is never read before it is written again), counted apart so they
 * raise no false alarm. See EngineCheckResult. */
export interface CheckResult extends EngineCheckResult {
  ok: true;
}

/** Options of sub(name): its encodings (default: its parent's); any other
 * key is INVALID_ARGUMENT (SUB_OPTION_KEYS, subscope.ts). */
export interface SubOptions {
  keyEncoding?: EncodingName | CustomEncoding;
  valueEncoding?: EncodingName | CustomEncoding;
}

/** The range of count() and clear(): scan bounds; clear() also takes
 * reverse and limit (delete at most limit keys, from the end when
 * reverse). */
export type RangeScope<K = unknown> = Pick<ScanOptions<K>, 'gt' | 'gte' | 'lt' | 'lte' | 'prefix'>;
export type ClearOptions<K = unknown> = RangeScope<K> & Pick<ScanOptions<K>, 'reverse' | 'limit'>;

/** What a key or value of type T accepts on input: bytes (Buffer or
 * Uint8Array) also accept a string, taken as its UTF-8. */
export type Input<T> = T extends Uint8Array ? Uint8Array | string : T;

/** The type an encoding decodes to: 'utf8' a string, 'json' and
 * 'msgpack' any value they carry (unknown: name its type with
 * Database<K, V>), a custom encoding what its decode() returns, 'binary'
 * the platform's bytes — `Bytes`, which is Buffer in Node and Uint8Array
 * in browsers. */
export type Decoded<E, Bytes = Uint8Array> = E extends 'utf8'
  ? string
  : E extends 'json' | 'msgpack'
    ? unknown
    : E extends CustomEncoding<infer T>
      ? T
      : Bytes;

/** The key type of a database opened with options O (binary by default). */
export type KeyOf<O, Bytes = Uint8Array> = O extends { keyEncoding: infer E } ? Decoded<E, Bytes> : Bytes;
/** The value type of a database opened with options O (binary by default). */
export type ValueOf<O, Bytes = Uint8Array> = O extends { valueEncoding: infer E } ? Decoded<E, Bytes> : Bytes;

/** The bytes type of a database with key type K and value type V when
 * its platform's is not named: its keys' or values' when either is binary,
 * else Uint8Array. */
export type BytesOf<K, V> = K extends Uint8Array ? K : V extends Uint8Array ? V : Uint8Array;
/** The key type of sub(name, opts) on a database with key type K, value
 * type V and platform bytes B: what opts.keyEncoding decodes to, else K
 * (the parent's encoding). 'binary' is B: Buffer for a database from the
 * Node entry's open() (whatever its own encodings), else the parent's
 * bytes type (BytesOf). */
export type SubKeyOf<O, K, V, B = BytesOf<K, V>> = O extends { keyEncoding: infer E } ? Decoded<E, B> : K;
/** The value type of sub(name, opts), as SubKeyOf for valueEncoding. */
export type SubValueOf<O, K, V, B = BytesOf<K, V>> = O extends { valueEncoding: infer E } ? Decoded<E, B> : V;

/** Bounds of a scan. Bounds are encoded with the key encoding; `prefix` is
 * a byte prefix (a string is taken as its UTF-8 bytes). */
export interface ScanOptions<K = unknown> {
  gt?: Input<K>;
  gte?: Input<K>;
  lt?: Input<K>;
  lte?: Input<K>;
  prefix?: Uint8Array | string;
  reverse?: boolean;
  /** most entries to return; default Infinity */
  limit?: number;
  /** Keep the scan's snapshot when it reaches the end, so seek() can
   * reposition it, until close() (or its database or transaction closes);
   * default false: the end releases it. */
  retain?: boolean;
}

/** One operation of batch(): typed by the database's key and value types. */
export type BatchOp<K = unknown, V = unknown> =
  | { type: 'put'; key: Input<K>; value: Input<V> }
  | { type: 'del'; key: Input<K> };

export interface TransactionOptions {
  /** How many times to rerun fn after a CONFLICT; default 0.
   * transactionAsync() waits before each rerun: a random time up to 1 ms
   * before the first, doubling each time up to 64 ms (exponential backoff
   * with full jitter, js/retry.ts), so writers that collided do not collide
   * again at once. The synchronous transaction() cannot wait without
   * blocking the thread: it reruns at once (use transactionAsync() for
   * contended keys). */
  retries?: number;
}

/** A lazy iterator over one snapshot; also its own iterable. */
export interface ScanIterator<T> extends IterableIterator<T> {
  /** Repositions at the first entry at or after key in iteration order
   * (<= key when reverse), within the scan's bounds. */
  seek(key: unknown): void;
  /** Ends the scan and releases its snapshot (also done at exhaustion). */
  return(): IteratorResult<T, undefined>;
  /** As return(). A scan ended this way, by return() (`break`) or by
   * reaching its end is done; one ended by its database's close() or its
   * transaction's commit()/abort() throws CLOSED from next() and seek()
   * instead ("the database was closed while the scan was open"), so a
   * loop over it is never silently cut short. */
  close(): void;
}

/** The keys of each call's options; any other is INVALID_ARGUMENT, naming
 * the closest known one (options.ts). count(), clear(), changes() and
 * subscribe() also refuse, as TypeError, the scan options they do not take. */
const SCAN_KEYS = keyList<ScanOptions>({ gt: true, gte: true, lt: true, lte: true, prefix: true, reverse: true, limit: true, retain: true });
const RANGE_KEYS = keyList<RangeScope>({ gt: true, gte: true, lt: true, lte: true, prefix: true });
const CLEAR_KEYS = keyList<ClearOptions>({ gt: true, gte: true, lt: true, lte: true, prefix: true, reverse: true, limit: true });
const CHANGES_KEYS = keyList<ChangesOptions>({ gt: true, gte: true, lt: true, lte: true, prefix: true, since: true });
const TRANSACTION_KEYS = keyList<TransactionOptions>({ retries: true });
const BEGIN_KEYS = keyList<{ readOnly?: boolean }>({ readOnly: true });

const FIRST_CHUNK = 16;
const MAX_CHUNK = 1024;

let defaultEngine: Engine | undefined;

/* ---- async writes: one engine batch per turn of the event loop ----------
 * putAsync, deleteAsync, putBatchAsync, deleteBatchAsync and batchAsync do
 * not each go to the engine: the calls made on one open file (a database
 * and its sub-databases) in the same turn of the event loop gather into one
 * batch, committed with one engine writeAsync (one thread-pool job and one
 * log record in Node; one sync in 'full' mode) when the turn's microtasks
 * run, or at once when it reaches ASYNC_GROUP_OPS operations or
 * ASYNC_GROUP_BYTES bytes of keys and values. This is what makes
 * `for (...) db.putAsync(k, v)` followed by one await cheap: measured in
 * bench/node (fillasync). Each call's promise settles with its batch.
 * Order: the operations of a batch apply in call order; separate batches
 * run concurrently, as separate calls always did. Atomicity is per batch,
 * so at least per call, as before. A batch the engine refuses as a whole
 * (FULL, IO, CLOSED, ...) rejects every call in it with that error and
 * applies nothing of any; INVALID_ARGUMENT (a key or value over the
 * engine's limits) is one call's fault: the batch's calls are then
 * committed one by one, so the others succeed and that one alone rejects,
 * as it would have on its own. close() commits a gathered batch before it
 * closes the file: calls made before close() complete. */

/** Most operations in one gathered async batch. */
const ASYNC_GROUP_OPS = 8192;
/** Most bytes of keys and values in one gathered async batch. */
const ASYNC_GROUP_BYTES = 4 << 20;

interface AsyncCall {
  start: number;
  end: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}
interface AsyncGroup {
  ops: EngineOp[];
  calls: AsyncCall[];
  bytes: number;
  sent: boolean;
}

/** The batch being gathered for each open engine handle (shared by a
 * database and its sub-databases). */
const gathering = new WeakMap<EngineDb, AsyncGroup>();

/** Bytes of an operation's key and value (the batch's size cap). */
function opBytes(op: EngineOp): number {
  return op.key.length + (op.type === 'put' ? op.value.length : 0);
}

/** Queues ops (one operation or a list, already encoded) for the handle's
 * gathered batch; resolves when it commits. */
function writeGathered(db: EngineDb, ops: EngineOp | EngineOp[]): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let g = gathering.get(db);
    if (g === undefined) {
      const fresh: AsyncGroup = { ops: [], calls: [], bytes: 0, sent: false };
      gathering.set(db, fresh);
      queueMicrotask(() => sendGathered(db, fresh));
      g = fresh;
    }
    const start = g.ops.length;
    if (Array.isArray(ops)) {
      for (const op of ops) {
        g.ops.push(op);
        g.bytes += opBytes(op);
      }
    } else {
      g.ops.push(ops);
      g.bytes += opBytes(ops);
    }
    g.calls.push({ start, end: g.ops.length, resolve, reject });
    if (g.ops.length >= ASYNC_GROUP_OPS || g.bytes >= ASYNC_GROUP_BYTES) sendGathered(db, g);
  });
}

/** The engine's writeAsync of ops, its synchronous throws as rejections. */
function engineWriteAsync(db: EngineDb, ops: EngineOp[]): Promise<void> {
  try {
    return db.writeAsync(ops);
  } catch (e) {
    return Promise.reject(e);
  }
}

/** Commits a gathered batch (once; later calls start a new one). */
function sendGathered(db: EngineDb, g: AsyncGroup): void {
  if (g.sent) return;
  g.sent = true;
  if (gathering.get(db) === g) gathering.delete(db);
  const { ops, calls } = g;
  engineWriteAsync(db, ops).then(
    () => {
      for (const c of calls) c.resolve();
    },
    (e: unknown) => {
      const err = toLightningDbError(e);
      if (calls.length === 1 || (err as { code?: unknown }).code !== 'INVALID_ARGUMENT') {
        for (const c of calls) c.reject(err);
        return;
      }
      for (const c of calls) {
        engineWriteAsync(db, ops.slice(c.start, c.end)).then(c.resolve, (e2: unknown) => c.reject(toLightningDbError(e2)));
      }
    },
  );
}

/** Commits the handle's gathered batch now (before it closes). */
function flushGathered(db: EngineDb): void {
  const g = gathering.get(db);
  if (g !== undefined) sendGathered(db, g);
}

/** Sets the engine Database.create() uses (the Node entry sets the native
 * one; the browser Worker entry the WebAssembly one). */
export function setDefaultEngine(engine: Engine): void {
  defaultEngine = engine;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkUint(v: unknown, name: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number') throw invalidType(name, 'a number', v);
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw invalid(`${name} must be a non-negative integer${max < Number.MAX_SAFE_INTEGER ? ` up to ${max}` : ''}, got ${v}`);
  }
  return v;
}

function checkBool(v: unknown, name: string): boolean {
  if (typeof v !== 'boolean') throw invalidType(name, 'a boolean', v);
  return v;
}

function checkEnum<T extends string>(v: unknown, name: string, allowed: readonly T[]): T {
  if (typeof v !== 'string') throw invalidType(name, 'a string', v);
  if (!(allowed as readonly string[]).includes(v)) {
    throw invalid(`${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got '${v}'`);
  }
  return v as T;
}

interface Resolved {
  engine: EngineOpenOptions;
  keyEncoding: Encoding<any>;
  valueEncoding: Encoding<any>;
  memtableSize: number;
  maxActiveTransactions: number;
}

/** Checks one core option's JS value against its row of the option table:
 * the type (TypeError) and, for numbers and enums, the range or name
 * (INVALID_ARGUMENT). The core checks again and alone knows the rest (a
 * page size must be a power of two). */
function checkOption(row: OptionInfo, v: unknown): number | boolean | string {
  const name = row.jsName;
  if (row.type === 'bool') return checkBool(v, name);
  if (row.type === 'enum') return checkEnum(v, name, row.values);
  // Sizes are numbers of bytes here; the CLI's -O writes the same numbers
  // with a unit (1GiB), which is text only there.
  if (typeof v !== 'number') throw invalidType(name, row.unit === 'bytes' ? 'a number of bytes (1 GiB: 2 ** 30)' : 'a number', v);
  if (!Number.isInteger(v) || v < row.min || v > row.max) {
    throw invalid(`${name} must be an integer in ${row.min}..${row.max}${row.unit ? ` (${row.unit})` : ''}, got ${v}`);
  }
  return v;
}

/** The default of an option, from the core's table. */
function optionDefault(jsName: string): number {
  const row = OPTIONS.find((o) => o.jsName === jsName);
  if (row === undefined) throw new LightningDbError('INTERNAL', `no option ${jsName} in the contract`);
  return row.default;
}

/** An encoding option: a name, or a custom { encode, decode } object;
 * undefined when v is undefined. */
function resolveEncoding(v: unknown, name: string): Encoding<any> | undefined {
  if (v === undefined) return undefined;
  if (isCustomEncoding(v)) return customEncoding(v, name);
  if (typeof v === 'object' && v !== null) {
    // a custom encoding with a part missing: say which
    const c = v as { encode?: unknown; decode?: unknown };
    const missing = ['encode', 'decode'].filter((f) => typeof c[f as 'encode'] !== 'function');
    throw typeError(`${name} must be 'binary', 'utf8', 'json', 'msgpack' or a custom encoding ` +
      `{ encode(value): Uint8Array, decode(bytes): value }; this object has no ${missing.map((f) => `${f}()`).join(' and no ')}`);
  }
  checkEnum(v, name, ['binary', 'utf8', 'json', 'msgpack'] as const);
  if (!isEncodingName(v)) throw invalid(`${name} is not an encoding`);
  return encodings[v];
}

function resolveOptions(options: unknown): Resolved {
  if (options === undefined || options === null) options = {};
  if (!isObject(options)) throw invalidType('options', 'an object', options);
  checkOptionKeys(options, DATABASE_OPTION_KEYS, 'open()');
  const o = options as Record<string, unknown>;
  const e: Record<string, number | boolean | string> = {};
  for (const row of OPTIONS) {
    const v = o[row.jsName];
    if (v !== undefined) e[row.jsName] = checkOption(row, v);
  }
  const enc = (v: unknown, name: string): Encoding<any> => resolveEncoding(v, name) ?? encodings.binary;
  const engine = e as EngineOpenOptions;
  return {
    engine,
    keyEncoding: enc(o.keyEncoding, 'keyEncoding'),
    valueEncoding: enc(o.valueEncoding, 'valueEncoding'),
    memtableSize: engine.memtableSize ?? optionDefault('memtableSize'),
    maxActiveTransactions: engine.maxActiveTransactions ?? optionDefault('maxActiveTransactions'),
  };
}

/** Whether a database or a transaction is still open, shared with its
 * scans (and a database's with its transactions). Closing flips `open`; the
 * engine invalidates the C handles itself (ldb_close never refuses), so
 * nothing keeps lists of children: a scan or transaction checks its
 * owners' Life on use and then frees its own engine handle. */
interface Life {
  open: boolean;
}

/** What scans and transactions need from their database. In a named
 * sub-database, key is scoped (it adds and strips scope), plainKey is the
 * encoding under it, and every scan is limited to the scope. */
interface Codec {
  key: Encoding<any>;
  value: Encoding<any>;
  scope?: Uint8Array;
  plainKey?: Encoding<any>;
}

/** The codec of sub-database `name` of the one with codec `parent`: its
 * keys under the parent's, in the scope subScope gives (subscope.ts). */
function subCodec(parent: Codec, name: unknown, opts: unknown): Codec {
  const scope = subScope(parent.scope, name, opts);
  const o = (opts ?? {}) as SubOptions;
  const plainKey = resolveEncoding(o.keyEncoding, 'keyEncoding') ?? parent.plainKey ?? parent.key;
  const value = resolveEncoding(o.valueEncoding, 'valueEncoding') ?? parent.value;
  return { key: scopedEncoding(plainKey, scope), value, scope, plainKey };
}

/** A key's bytes: strings with a lone surrogate are refused (toBytes), and
 * under keyEncoding 'utf8' bytes that are not UTF-8 (checkUtf8Key). */
function encodeKey(c: Codec, key: unknown): Uint8Array {
  if (key === undefined || key === null) throw invalidType('key', `${c.key.expects} (not null or undefined)`, key);
  if (key instanceof Uint8Array && (c.plainKey ?? c.key) === encodings.utf8) checkUtf8Key(key, 'key');
  return c.key.encode(key, 'key');
}

/** A stored key as its database shows it: without its sub-database's
 * scope (for messages). */
function shownKey(c: Codec, k: Uint8Array): Uint8Array {
  return c.scope === undefined ? k : k.subarray(c.scope.length);
}

/** The value v stored under key k (as stored: scope included), decoded
 * with c's value encoding; DECODE when it cannot be. */
function valueOf(c: Codec, v: Uint8Array, k: Uint8Array): any {
  return decodeValue(c.value, v, shownKey(c, k));
}

/** The stored key k decoded with c's key encoding; DECODE when it cannot
 * be. */
function keyOf(c: Codec, k: Uint8Array): any {
  return decodeKey(c.key, k, shownKey(c, k));
}

function encodeValue(c: Codec, value: unknown): Uint8Array {
  if (value === undefined) throw invalidType('value', c.value.expects, value);
  return c.value.encode(value, 'value');
}

function scanBounds(c: Codec, opts: unknown, what = 'scan()'): { iter: EngineIterOptions; limit: number; retain: boolean } {
  const scoped = (iter: EngineIterOptions): EngineIterOptions => {
    if (c.scope === undefined) return iter;
    const p = iter.prefix;
    if (p === undefined) return { ...iter, prefix: c.scope };
    const both = new Uint8Array(c.scope.length + p.length);
    both.set(c.scope, 0);
    both.set(p, c.scope.length);
    return { ...iter, prefix: both };
  };
  if (opts === undefined || opts === null) return { iter: scoped({}), limit: Infinity, retain: false };
  if (!isObject(opts)) throw invalidType('scan options', 'an object', opts);
  checkOptionKeys(opts, SCAN_KEYS, what);
  const o = opts as ScanOptions;
  if (o.gt !== undefined && o.gte !== undefined) throw typeError('scan: give gt or gte, not both');
  if (o.lt !== undefined && o.lte !== undefined) throw typeError('scan: give lt or lte, not both');
  const iter: EngineIterOptions = {};
  if (o.gt !== undefined) { iter.lower = c.key.encode(o.gt, 'gt'); iter.lowerExclusive = true; }
  if (o.gte !== undefined) { iter.lower = c.key.encode(o.gte, 'gte'); iter.lowerExclusive = false; }
  if (o.lt !== undefined) { iter.upper = c.key.encode(o.lt, 'lt'); iter.upperExclusive = true; }
  if (o.lte !== undefined) { iter.upper = c.key.encode(o.lte, 'lte'); iter.upperExclusive = false; }
  if (o.prefix !== undefined) iter.prefix = toBytes(o.prefix, 'prefix');
  if (o.reverse !== undefined) iter.reverse = checkBool(o.reverse, 'reverse');
  let limit = Infinity;
  if (o.limit !== undefined && o.limit !== Infinity) limit = checkUint(o.limit, 'limit');
  const retain = o.retain === undefined ? false : checkBool(o.retain, 'retain');
  return { iter: scoped(iter), limit, retain };
}

/** Engine bounds of count() / clear(): scan bounds; clear also takes
 * reverse and limit. */
function rangeOf(c: Codec, opts: unknown, what: string, withLimit: boolean): { iter: EngineIterOptions; limit: number } {
  if (opts !== undefined && opts !== null && isObject(opts)) {
    const bad = withLimit ? ['retain'] : ['reverse', 'limit', 'retain'];
    for (const k of bad) if ((opts as Record<string, unknown>)[k] !== undefined) throw typeError(`${what}: ${k} is not an option`);
    checkOptionKeys(opts, withLimit ? CLEAR_KEYS : RANGE_KEYS, `${what}()`);
  } else if (opts !== undefined && opts !== null) {
    throw invalidType(`${what} options`, 'an object', opts);
  }
  const { iter, limit } = scanBounds(c, opts, `${what}()`);
  return { iter, limit };
}

/** The engine bounds of a change feed or subscription (scan bounds
 * without reverse and limit). */
function rangeBounds(c: Codec, opts: unknown, what: string): EngineChangesOptions {
  if (opts === undefined || opts === null) return {};
  if (!isObject(opts)) throw invalidType(`${what} options`, 'an object', opts);
  for (const k of ['reverse', 'limit'] as const)
    if ((opts as Record<string, unknown>)[k] !== undefined) throw typeError(`${what}: ${k} is not an option of a change feed`);
  checkOptionKeys(opts, CHANGES_KEYS, `${what}()`);
  const { since: _since, ...range } = opts as ChangesOptions;
  const { iter } = scanBounds(c, range, `${what}()`);
  const { reverse: _r, ...bounds } = iter;
  return bounds;
}

class Scan<T> implements ScanIterator<T> {
  #it: EngineIterator | null;
  #codec: Codec;
  /** null: yield the engine's entries as they are */
  #map: ((k: Uint8Array, v: Uint8Array) => T) | null;
  #remaining: number;
  #chunk: Array<[Uint8Array, Uint8Array]> = [];
  #pos = 0;
  #chunkSize = FIRST_CHUNK;
  /** ScanOptions.retain: the end does not release the snapshot */
  readonly #retain: boolean;
  /** the database's Life, and the transaction's for a transaction's scan:
   * closing either ends the scan */
  readonly #db: Life;
  readonly #txn: Life | null;

  constructor(
    it: EngineIterator, codec: Codec, limit: number,
    map: ((k: Uint8Array, v: Uint8Array) => T) | null, db: Life, txn: Life | null, retain = false,
  ) {
    this.#it = it;
    this.#codec = codec;
    this.#remaining = limit;
    this.#retain = retain;
    this.#map = map;
    this.#db = db;
    this.#txn = txn;
  }

  /** CLOSED when the scan was ended by its database's close() or its
   * transaction's commit/abort rather than by its own end, return() or
   * close(): next() and seek() then throw it (a `for...of` export loop is
   * not silently cut short). */
  #killed: LightningDbError | null = null;

  /** False once the scan, its database or its transaction closed (the
   * scan's engine iterator is then freed, and #killed set when an owner
   * ended it). */
  #alive(): boolean {
    if (this.#it === null) return false;
    if (this.#db.open && (this.#txn === null || this.#txn.open)) return true;
    this.#killed = new LightningDbError('CLOSED', this.#db.open
      ? 'the transaction was committed or aborted while the scan was open'
      : 'the database was closed while the scan was open');
    this.#release();
    return false;
  }

  [Symbol.iterator](): this {
    return this;
  }

  /** The end of the scan: released, unless retained. */
  #end(): IteratorResult<T, undefined> {
    if (!this.#retain) return this.return();
    return { done: true, value: undefined };
  }

  next(): IteratorResult<T, undefined> {
    if (!this.#alive()) {
      if (this.#killed !== null) throw this.#killed;
      return this.return();
    }
    if (this.#remaining <= 0) return this.#end();
    if (this.#pos >= this.#chunk.length) {
      const it = this.#it!; // #alive(): not null
      const n = Math.min(this.#remaining, this.#chunkSize);
      this.#chunk = mapErrors(() => it.next(n));
      this.#pos = 0;
      this.#chunkSize = Math.min(this.#chunkSize * 2, MAX_CHUNK);
      if (this.#chunk.length === 0) return this.#end();
    }
    const e = this.#chunk[this.#pos]!;
    this.#chunk[this.#pos++] = undefined as never; // let yielded entries be collected
    this.#remaining--;
    return { done: false, value: this.#map === null ? (e as T) : this.#map(e[0], e[1]) };
  }

  seek(key: unknown): void {
    const it = this.#it;
    if (it === null || !this.#alive()) throw this.#killed ?? closedError('scan');
    const k = encodeKey(this.#codec, key);
    mapErrors(() => it.seek(k));
    this.#chunk = [];
    this.#pos = 0;
    this.#chunkSize = FIRST_CHUNK;
  }

  return(): IteratorResult<T, undefined> {
    this.close();
    return { done: true, value: undefined };
  }

  /** Ends the scan (never throws CLOSED: also after its database or
   * transaction closed); next() is then done. */
  close(): void {
    this.#killed = null;
    this.#release();
  }

  /** Frees the engine iterator. */
  #release(): void {
    const it = this.#it;
    if (it === null) return;
    this.#it = null;
    this.#chunk = [];
    mapErrors(() => it.close());
  }
}

function makeScan<T>(
  codec: Codec, db: Life, txn: Life | null, opts: unknown, map: ((k: Uint8Array, v: Uint8Array) => T) | null,
  create: (o: EngineIterOptions) => EngineIterator,
): ScanIterator<T> {
  const { iter, limit, retain } = scanBounds(codec, opts);
  const it = mapErrors(() => create(iter));
  return new Scan(it, codec, limit, map, db, txn, retain);
}

function entryMapper(c: Codec): ((k: Uint8Array, v: Uint8Array) => [any, any]) | null {
  if (isBinary(c)) return null;
  return (k: Uint8Array, v: Uint8Array): [any, any] => [keyOf(c, k), valueOf(c, v, k)];
}

/** Scans with binary keys and values yield the engine's own entry tuples
 * (fresh per entry, see EngineIterator.next), skipping a copy of each. */
function isBinary(c: Codec): boolean {
  return c.key === encodings.binary && c.value === encodings.binary;
}

function checkFn(fn: unknown, name: string): void {
  if (typeof fn !== 'function') throw invalidType(name, 'a function', fn);
}

function checkRetries(opts: unknown): number {
  if (opts === undefined || opts === null) return 0;
  if (!isObject(opts)) throw invalidType('transaction options', 'an object', opts);
  checkOptionKeys(opts, TRANSACTION_KEYS, 'transaction()');
  const r = (opts as TransactionOptions).retries;
  return r === undefined ? 0 : checkUint(r, 'retries');
}

function isThenable(v: unknown): boolean {
  return (typeof v === 'object' || typeof v === 'function') && v !== null &&
    typeof (v as { then?: unknown }).then === 'function';
}

function isConflict(e: unknown): boolean {
  return e instanceof LightningDbError && e.code === 'CONFLICT';
}

/** Transactions whose commit() or commitAsync() was called (whatever the
 * outcome): transaction() tells them from ones its database aborted. */
const commitCalled = new WeakSet<object>();

/** A read-write transaction or a read-only snapshot (beginTransaction()),
 * with its database's key type K, value type V and bytes type B (what
 * 'binary' decodes to in its sub-database views; see Database). */
export class Transaction<K = Uint8Array, V = Uint8Array, B extends Uint8Array = BytesOf<K, V>> {
  readonly readOnly: boolean;
  #txn: EngineTxn | null;
  #codec: Codec;
  /** its database's */
  readonly #db: Life;
  /** its own, shared with its scans */
  readonly #life: Life = { open: true };
  /** tx.sub(name) views: the transaction they are a view of (commit and
   * abort go to it); null for a transaction itself */
  readonly #root: Transaction<any, any> | null;

  /** @internal use Database.beginTransaction() */
  constructor(txn: EngineTxn, codec: Codec, db: Life, root: Transaction<any, any> | null = null) {
    this.#txn = txn;
    this.readOnly = txn.readOnly;
    this.#codec = codec;
    this.#db = db;
    this.#root = root;
    if (root !== null) this.#life = root.#life;
  }

  /** True after commit/abort, or when its database closed. */
  get closed(): boolean {
    if (this.#root !== null) return this.#root.closed;
    return this.#txn === null || !this.#db.open;
  }

  /** The same transaction seen through a named sub-database: `name` of
   * the database (or view) it belongs to, with opts' encodings (default:
   * this one's), or a sub-database object from db.sub() of the same
   * database, with its encodings. Its writes commit or abort with this
   * transaction (commit() and abort() on the view act on the whole
   * transaction). Its key and value types are the sub-database object's,
   * or follow opts' encodings as Database.sub's do. */
  sub<K2, V2>(name: Database<K2, V2, any>): Transaction<K2, V2, B>;
  sub<O extends SubOptions = {}>(name: string, opts?: O): Transaction<SubKeyOf<O, K, V, B>, SubValueOf<O, K, V, B>, B>;
  sub<K2, V2>(name: string | Database<K2, V2, any>, opts?: SubOptions): Transaction<K2, V2, B>;
  sub(name: string | Database<unknown, unknown, any>, opts?: SubOptions): Transaction<unknown, unknown, any> {
    const root: Transaction<any, any> = this.#root ?? this;
    const txn = root.#open();
    if (name instanceof Database) {
      const c = codecOf.get(name);
      if (c === undefined || name.closed) throw closedError('database');
      return new Transaction(txn, c, this.#db, root);
    }
    return new Transaction(txn, subCodec(this.#codec, name, opts), this.#db, root);
  }

  /** As Database.count, in this transaction's snapshot and writes (a
   * read-write transaction records the keys counted as read). */
  count(range?: RangeScope<K>): number {
    const txn = this.#open();
    const { iter } = rangeOf(this.#codec, range, 'count', false);
    return mapErrors(() => txn.count(iter));
  }

  /** As Database.clear, buffered in this transaction (applied at commit);
   * returns the number of keys it deletes. */
  clear(range?: ClearOptions<K>): number {
    const txn = this.#open();
    const { iter, limit } = rangeOf(this.#codec, range, 'clear', true);
    return mapErrors(() => txn.deleteRange(iter, limit));
  }

  #open(): EngineTxn {
    if (this.#root !== null) {
      this.#root.#open();
      return this.#txn!;
    }
    const txn = this.#txn;
    if (txn === null) throw closedError('transaction');
    if (!this.#db.open) {
      // closing the database invalidated it: free the engine handle now
      this.#end();
      mapErrors(() => txn.abort());
      throw closedError('transaction');
    }
    return txn;
  }

  /** The value in this transaction's snapshot plus its own writes. */
  get(key: Input<K>): V | undefined {
    // same shape as Database.get: no closure, binary bytes pass through
    const txn = this.#open();
    const c = this.#codec;
    const k = c.key === encodings.binary && key instanceof Uint8Array ? key : encodeKey(c, key);
    let v: Uint8Array | undefined;
    try {
      v = txn.get(k);
    } catch (e) {
      throw toLightningDbError(e);
    }
    return v === undefined ? undefined : (valueOf(c, v, k) as V);
  }

  has(key: Input<K>): boolean {
    const txn = this.#open();
    const k = encodeKey(this.#codec, key);
    return mapErrors(() => txn.get(k)) !== undefined;
  }

  getBatch(keys: Array<Input<K>>): Array<V | undefined> {
    if (!Array.isArray(keys)) throw invalidType('keys', 'an array', keys);
    return keys.map((k) => this.get(k));
  }

  put(key: Input<K>, value: Input<V>): void {
    const txn = this.#open();
    const k = encodeKey(this.#codec, key);
    const v = encodeValue(this.#codec, value);
    mapErrors(() => txn.put(k, v));
  }

  delete(key: Input<K>): void {
    const txn = this.#open();
    const k = encodeKey(this.#codec, key);
    mapErrors(() => txn.del(k));
  }

  /** As Database.scan, over this transaction's snapshot and writes. */
  scan(opts?: ScanOptions<K>): ScanIterator<[K, V]> {
    const txn = this.#open();
    return makeScan(this.#codec, this.#db, this.#life, opts, entryMapper(this.#codec), (o) => txn.iterate(o));
  }

  /** Marks the transaction (and its scans) ended; the caller ends the
   * engine transaction, whose iterators the engine invalidates. */
  #end(): EngineTxn {
    const txn = this.#txn;
    if (txn === null) throw closedError('transaction');
    this.#txn = null;
    this.#life.open = false;
    return txn;
  }

  /** Commits (CONFLICT when another commit touched a key this one read or
   * wrote since its snapshot; nothing is applied then). Ends the
   * transaction whatever the outcome. */
  commit(): void {
    if (this.#root !== null) return this.#root.commit();
    this.#open();
    const txn = this.#end();
    commitCalled.add(this);
    mapErrors(() => txn.commit());
  }

  /** As commit, waiting for durability off the JavaScript thread. */
  async commitAsync(): Promise<void> {
    if (this.#root !== null) return this.#root.commitAsync();
    this.#open();
    const txn = this.#end();
    commitCalled.add(this);
    try {
      await txn.commitAsync();
    } catch (e) {
      throw toLightningDbError(e);
    }
  }

  /** Discards the writes. Idempotent. */
  abort(): void {
    if (this.#root !== null) return this.#root.abort();
    if (this.#txn === null) return;
    const txn = this.#end();
    mapErrors(() => txn.abort());
  }

  /** Same as abort. */
  close(): void {
    this.abort();
  }
}

/** What the constructor takes over from the parent when it makes a named
 * sub-database (Database.sub). */
interface SubInit {
  db: EngineDb;
  codec: Codec;
  root: Database<any, any>;
  limits: { memtableSize: number; maxActiveTransactions: number };
}
let pendingSub: SubInit | null = null;
/** Every database's codec, for tx.sub(database). */
const codecOf = new WeakMap<Database<any, any>, Codec>();

/** Marks every sub-database, whichever copy of this module made it: the
 * CommonJS bundles of lightningdb and lightningdb/replication each carry
 * their own copy (and so their own codecOf). */
const SUB_BRAND = Symbol.for('lightningdb.subDatabase');

/** @internal Whether db is a named sub-database (db.sub()) rather than a
 * database open() returned (lightningdb/replication refuses one: it
 * copies the whole database). */
export function isSubDatabase(db: Database<any, any>): boolean {
  return (db as { [SUB_BRAND]?: unknown })[SUB_BRAND] === true;
}

/** An open LightningDB database. */
/** An open database whose keys are K and values V (as the encodings
 * decode them: open() infers both from keyEncoding / valueEncoding; name V
 * for 'json' values, e.g. `Database<string, Note>`). B is the platform's
 * bytes type, what 'binary' decodes to in its sub-databases (sub()): the
 * Node entry's open() gives Buffer, so `Database<string, string, Buffer>`
 * for a text database there; by default it is K's or V's bytes type,
 * else Uint8Array. */
export class Database<K = Uint8Array, V = Uint8Array, B extends Uint8Array = BytesOf<K, V>> {
  readonly path: string;
  readonly engine: Engine;
  /** the encodings' names ('custom', or its name, for a custom one) */
  readonly keyEncoding: string;
  readonly valueEncoding: string;
  #db: EngineDb | null;
  /** a named sub-database: the database that owns the engine handle (and
   * closes it); null for that database itself */
  #root: Database<any, any> | null = null;
  /** the root's open sub-databases (closed with it) */
  readonly #subs = new Set<Database<any, any>>();
  #codec: Codec;
  /** keyEncoding/valueEncoding 'binary': bytes pass through unchanged */
  #binaryKeys: boolean;
  #binaryValues: boolean;
  /** shared with its scans and transactions (see Life) */
  readonly #life: Life = { open: true };
  #mark: IntervalMark = { ops: 0, uptimeNs: 0 };
  #limits: { memtableSize: number; maxActiveTransactions: number };

  /** Opens `path` with `engine` (browser Workers pass the WebAssembly
   * engine; in Node use open() or Database.create()). */
  constructor(engine: Engine, path: string, options: OpenOptions = {}) {
    if (engine === null || typeof engine !== 'object' || typeof engine.open !== 'function') {
      throw typeError('engine must be a LightningDB Engine');
    }
    if (typeof path !== 'string') throw invalidType('path', 'a string', path);
    if (path.length === 0) throw invalid('path must not be empty');
    const sub = pendingSub;
    pendingSub = null;
    if (sub !== null) {
      this.engine = engine;
      this.path = path;
      this.keyEncoding = sub.codec.plainKey!.name;
      this.valueEncoding = sub.codec.value.name;
      this.#codec = sub.codec;
      this.#binaryKeys = false; // every key gets the scope
      this.#binaryValues = sub.codec.value === encodings.binary;
      this.#limits = sub.limits;
      this.#db = sub.db;
      this.#root = sub.root;
      codecOf.set(this, this.#codec);
      Object.defineProperty(this, SUB_BRAND, { value: true });
      return;
    }
    const r = resolveOptions(options);
    this.engine = engine;
    this.path = path;
    this.keyEncoding = r.keyEncoding.name;
    this.valueEncoding = r.valueEncoding.name;
    this.#codec = { key: r.keyEncoding, value: r.valueEncoding };
    codecOf.set(this, this.#codec);
    this.#binaryKeys = r.keyEncoding === encodings.binary;
    this.#binaryValues = r.valueEncoding === encodings.binary;
    this.#limits = { memtableSize: r.memtableSize, maxActiveTransactions: r.maxActiveTransactions };
    this.#db = mapErrors(() => engine.open(path, r.engine));
    try {
      this.#mark = { ops: 0, uptimeNs: this.#db.stats().uptimeNs };
    } catch {
      /* metrics start from zero */
    }
  }

  /** Opens (creating unless createIfMissing is false) with the default
   * engine of this platform. */
  static create<O extends OpenOptions = {}>(path: string, options?: O): Database<KeyOf<O>, ValueOf<O>> {
    if (defaultEngine === undefined) {
      throw new LightningDbError('INTERNAL', 'no default engine: import lightningdb through its Node or browser entry');
    }
    return new Database<KeyOf<O>, ValueOf<O>>(defaultEngine, path, options);
  }

  get closed(): boolean {
    return this.#db === null;
  }

  // ---- named sub-databases ------------------------------------------

  /** Named sub-database `name` in the same file (like lmdb-js openDB or
   * Level's sublevel): a Database with the whole API whose keys live under
   * their own prefix (0x00 name 0x00, nested names concatenated), so its
   * scans, count() and clear() see only its keys. Encodings default to
   * this database's. Transactions across sub-databases: tx.sub(name)
   * inside transaction(). Closing it ends only its own scans and feeds;
   * closing the database that opened the file closes every sub-database.
   * Its key and value types follow opts' encodings as open()'s do (else
   * this database's), or name them: `db.sub<string, Note>(name, ...)`. */
  sub<O extends SubOptions = {}>(name: string, opts?: O): Database<SubKeyOf<O, K, V, B>, SubValueOf<O, K, V, B>, B>;
  sub<K2, V2>(name: string, opts?: SubOptions): Database<K2, V2, B>;
  sub(name: string, opts?: SubOptions): Database<unknown, unknown, any> {
    const db = this.#open();
    const root: Database<any, any> = this.#root ?? this;
    pendingSub = { db, codec: subCodec(this.#codec, name, opts), root, limits: this.#limits };
    try {
      const s = new Database<unknown, unknown>(this.engine, this.path);
      root.#subs.add(s);
      return s;
    } finally {
      pendingSub = null;
    }
  }

  // ---- range operations ------------------------------------------------

  /** The number of keys in range (default: every key; in a sub-database,
   * every key of it), counted by the engine in one snapshot without
   * reading values. */
  count(range?: RangeScope<K>): number {
    const db = this.#open();
    const { iter } = rangeOf(this.#codec, range, 'count', false);
    return mapErrors(() => db.count(iter));
  }

  /** Deletes every key in range (default: all; in a sub-database, all of
   * its keys) in one atomic commit done by the engine; with limit, at most
   * that many, from the end when reverse. Keys written into the range by
   * another commit meanwhile may survive. Returns the number deleted. */
  clear(range?: ClearOptions<K>): number {
    const db = this.#open();
    const { iter, limit } = rangeOf(this.#codec, range, 'clear', true);
    return mapErrors(() => db.deleteRange(iter, limit));
  }

  #open(): EngineDb {
    if (this.#db === null) throw closedError('database');
    return this.#db;
  }

  // ---- reads ----------------------------------------------------------

  /** The value stored under key, or undefined. */
  get(key: Input<K>): V | undefined {
    // The hot read path: no closure (mapErrors), binary keys and values
    // passed straight through; same checks and errors as encodeKey/decode.
    const db = this.#db;
    if (db === null) throw closedError('database');
    const k = this.#binaryKeys && key instanceof Uint8Array ? key : encodeKey(this.#codec, key);
    let v: Uint8Array | undefined;
    try {
      v = db.get(k);
    } catch (e) {
      throw toLightningDbError(e);
    }
    if (v === undefined || this.#binaryValues) return v as V | undefined;
    return valueOf(this.#codec, v, k) as V;
  }

  has(key: Input<K>): boolean {
    const db = this.#db;
    if (db === null) throw closedError('database');
    const k = this.#binaryKeys && key instanceof Uint8Array ? key : encodeKey(this.#codec, key);
    try {
      return db.get(k) !== undefined;
    } catch (e) {
      throw toLightningDbError(e);
    }
  }

  /** Values of keys (undefined where absent), all from one snapshot. */
  getBatch(keys: Array<Input<K>>): Array<V | undefined> {
    const db = this.#open();
    if (!Array.isArray(keys)) throw invalidType('keys', 'an array', keys);
    const ks = keys.map((k) => encodeKey(this.#codec, k));
    const vs = mapErrors(() => db.getMany(ks));
    return vs.map((v, i) => (v === undefined ? undefined : (valueOf(this.#codec, v, ks[i]!) as V)));
  }

  // ---- writes ---------------------------------------------------------

  put(key: Input<K>, value: Input<V>): void {
    const db = this.#open();
    const k = encodeKey(this.#codec, key);
    const v = encodeValue(this.#codec, value);
    mapErrors(() => db.put(k, v));
  }

  delete(key: Input<K>): void {
    const db = this.#open();
    const k = encodeKey(this.#codec, key);
    mapErrors(() => db.del(k));
  }

  #putOps(entries: unknown): EngineOp[] {
    if (!Array.isArray(entries)) throw invalidType('entries', 'an array of [key, value] pairs', entries);
    return entries.map((e, i) => {
      if (!Array.isArray(e) || e.length !== 2) throw typeError(`entries[${i}] must be a [key, value] pair`);
      return { type: 'put' as const, key: encodeKey(this.#codec, e[0]), value: encodeValue(this.#codec, e[1]) };
    });
  }

  #delOps(keys: unknown): EngineOp[] {
    if (!Array.isArray(keys)) throw invalidType('keys', 'an array', keys);
    return keys.map((k) => ({ type: 'del' as const, key: encodeKey(this.#codec, k) }));
  }

  #batchOps(ops: unknown): EngineOp[] {
    if (!Array.isArray(ops)) throw invalidType('operations', 'an array', ops);
    return ops.map((op, i) => {
      if (!isObject(op)) throw typeError(`operations[${i}] must be an object`);
      if (op.type === 'put') {
        return { type: 'put' as const, key: encodeKey(this.#codec, op.key), value: encodeValue(this.#codec, op.value) };
      }
      if (op.type === 'del') return { type: 'del' as const, key: encodeKey(this.#codec, op.key) };
      throw typeError(`operations[${i}].type must be 'put' or 'del', got ${JSON.stringify(op.type)}`);
    });
  }

  #write(ops: EngineOp[]): void {
    const db = this.#open();
    if (ops.length > 0) mapErrors(() => db.write(ops));
  }

  /** The async write forms: ops are encoded now (their errors reject),
   * then committed with the other async writes of this turn of the event
   * loop (writeGathered, above). */
  #writeAsync(ops: () => EngineOp[]): Promise<void> {
    let db: EngineDb;
    let list: EngineOp[];
    try {
      db = this.#open();
      list = ops();
    } catch (e) {
      return Promise.reject(e);
    }
    if (list.length === 0) return Promise.resolve();
    return writeGathered(db, list);
  }

  /** #writeAsync of one operation, without a closure or a list (the
   * `for (...) db.putAsync(k, v)` path). */
  #writeAsync1(type: 'put' | 'del', key: unknown, value: unknown): Promise<void> {
    const db = this.#db;
    if (db === null) return Promise.reject(closedError('database'));
    let op: EngineOp;
    try {
      const k = encodeKey(this.#codec, key);
      op = type === 'put' ? { type, key: k, value: encodeValue(this.#codec, value) } : { type, key: k };
    } catch (e) {
      return Promise.reject(e);
    }
    return writeGathered(db, op);
  }

  /** Stores every [key, value] pair atomically. */
  putBatch(entries: Array<[Input<K>, Input<V>]>): void {
    this.#open();
    this.#write(this.#putOps(entries));
  }

  /** Deletes every key atomically. */
  deleteBatch(keys: Array<Input<K>>): void {
    this.#open();
    this.#write(this.#delOps(keys));
  }

  /** Applies puts and deletes atomically, in order. */
  batch(ops: Array<BatchOp<K, V>>): void {
    this.#open();
    this.#write(this.#batchOps(ops));
  }

  putAsync(key: Input<K>, value: Input<V>): Promise<void> {
    return this.#writeAsync1('put', key, value);
  }

  deleteAsync(key: Input<K>): Promise<void> {
    return this.#writeAsync1('del', key, undefined);
  }

  putBatchAsync(entries: Array<[Input<K>, Input<V>]>): Promise<void> {
    return this.#writeAsync(() => this.#putOps(entries));
  }

  deleteBatchAsync(keys: Array<Input<K>>): Promise<void> {
    return this.#writeAsync(() => this.#delOps(keys));
  }

  batchAsync(ops: Array<BatchOp<K, V>>): Promise<void> {
    return this.#writeAsync(() => this.#batchOps(ops));
  }

  // ---- scans ----------------------------------------------------------

  /** A lazy iterator of [key, value] over one snapshot taken now. */
  scan(opts?: ScanOptions<K>): ScanIterator<[K, V]> {
    const db = this.#open();
    return makeScan(this.#codec, this.#life, null, opts, entryMapper(this.#codec), (o) => db.iterate(o));
  }

  /** Entries whose key starts with prefix. */
  scanPrefix(prefix: Uint8Array | string, opts?: Omit<ScanOptions<K>, 'prefix'>): ScanIterator<[K, V]> {
    if (opts !== undefined && !isObject(opts)) throw typeError('scan options must be an object');
    return this.scan({ ...(opts ?? {}), prefix: toBytes(prefix, 'prefix') });
  }

  /** Descending from `start` (inclusive, default: the largest key) down to
   * `end` (inclusive, default: the smallest key). */
  scanReverse(start?: Input<K>, end?: Input<K>, opts?: { limit?: number }): ScanIterator<[K, V]> {
    if (opts !== undefined && !isObject(opts)) throw typeError('scan options must be an object');
    return this.scan({ lte: start, gte: end, reverse: true, limit: opts?.limit });
  }

  keys(opts?: ScanOptions<K>): ScanIterator<K> {
    const db = this.#open();
    return makeScan(this.#codec, this.#life, null, opts, (k) => keyOf(this.#codec, k) as K, (o) => db.iterate(o));
  }

  values(opts?: ScanOptions<K>): ScanIterator<V> {
    const db = this.#open();
    return makeScan(this.#codec, this.#life, null, opts, (k, v) => valueOf(this.#codec, v, k) as V, (o) => db.iterate(o));
  }

  // ---- transactions ---------------------------------------------------

  beginTransaction(opts?: { readOnly?: boolean }): Transaction<K, V, B> {
    const db = this.#open();
    if (opts !== undefined && !isObject(opts)) throw typeError('transaction options must be an object');
    checkOptionKeys(opts, BEGIN_KEYS, 'beginTransaction()');
    const ro = opts?.readOnly === undefined ? false : checkBool(opts.readOnly, 'readOnly');
    const txn = mapErrors(() => db.begin(ro));
    return new Transaction<K, V, B>(txn, this.#codec, this.#life);
  }

  /** fn ended its transaction itself (commit or abort: its result stands),
   * or the database was closed meanwhile (nothing committed: CLOSED). */
  #endedInside<T>(tx: Transaction<K, V, B>, result: T): T {
    tx.abort(); // frees the engine transaction if closing the database ended it
    if (this.#db === null && !commitCalled.has(tx)) throw closedError('database');
    return result;
  }

  #beginScoped(): Transaction<K, V, B> {
    const db = this.#open();
    const txn = mapErrors(() => db.begin(false));
    return new Transaction<K, V, B>(txn, this.#codec, this.#life);
  }

  /** Runs fn(tx) in a read-write transaction: commits when fn returns,
   * aborts when it throws; after a CONFLICT reruns fn up to `retries`
   * times, at once (a synchronous call cannot wait: transactionAsync()
   * backs off between reruns). fn must be synchronous (use
   * transactionAsync otherwise). */
  transaction<T>(fn: (tx: Transaction<K, V, B>) => T, opts?: TransactionOptions): T {
    this.#open();
    checkFn(fn, 'fn');
    const retries = checkRetries(opts);
    for (let attempt = 0; ; attempt++) {
      const tx = this.#beginScoped();
      let result: T;
      try {
        result = fn(tx);
      } catch (e) {
        tx.abort();
        throw e;
      }
      if (isThenable(result)) {
        tx.abort();
        throw typeError('transaction() callback returned a Promise: use transactionAsync() for async callbacks');
      }
      if (tx.closed) return this.#endedInside(tx, result);
      try {
        tx.commit();
        return result;
      } catch (e) {
        if (isConflict(e) && attempt < retries) continue;
        throw e;
      }
    }
  }

  /** As transaction(), for an async fn; the commit waits off the
   * JavaScript thread. After a CONFLICT it waits before rerunning fn: a
   * random time below min(64, 2^n) ms before rerun n (0, 1, ...; see
   * TransactionOptions.retries). */
  async transactionAsync<T>(fn: (tx: Transaction<K, V, B>) => Promise<T> | T, opts?: TransactionOptions): Promise<T> {
    this.#open();
    checkFn(fn, 'fn');
    const retries = checkRetries(opts);
    for (let attempt = 0; ; attempt++) {
      const tx = this.#beginScoped();
      let result: T;
      try {
        result = await fn(tx);
      } catch (e) {
        tx.abort();
        throw e;
      }
      if (tx.closed) return this.#endedInside(tx, result);
      try {
        await tx.commitAsync();
        return result;
      } catch (e) {
        if (!isConflict(e) || attempt >= retries) throw e;
      }
      await retryDelay(attempt); // closed meanwhile: #beginScoped() throws CLOSED
    }
  }

  // ---- maintenance ----------------------------------------------------

  /** Makes every commit so far durable. */
  flush(): void {
    const db = this.#open();
    mapErrors(() => db.flush());
  }

  async flushAsync(): Promise<void> {
    const db = this.#open();
    try {
      await db.flushAsync();
    } catch (e) {
      throw toLightningDbError(e);
    }
  }

  /** Merges committed data into the B+tree and trims the log. */
  checkpoint(): void {
    const db = this.#open();
    mapErrors(() => db.checkpoint());
  }

  /** Verifies every page of the database and both logs; throws CORRUPT
   * naming the first problem in what any version of the data reaches.
   * Damaged free pages that no version reaches are harmless: counted in
   * the result (freeDamaged, freeDamagedPages), not thrown. */
  check(): CheckResult {
    const db = this.#open();
    return { ok: true, ...mapErrors(() => db.check()) };
  }

  /** Writes a consistent, compact copy of the latest commit to `path`
   * (which must not hold a database). */
  backup(path: string): void {
    const db = this.#open();
    if (typeof path !== 'string') throw invalidType('path', 'a string', path);
    if (path.length === 0) throw invalid('path must not be empty');
    mapErrors(() => db.backup(path));
  }

  metrics(): Metrics {
    const db = this.#open();
    const s = mapErrors(() => db.stats());
    const { metrics, mark } = computeMetrics(s, this.engine.kind, this.#mark);
    this.#mark = mark;
    if (this.engine.heapBytes) metrics.heapBytes = this.engine.heapBytes();
    // The source may read metrics() itself (the publisher reads lastSeq).
    if (this.#replication && !this.#inReplication) {
      this.#inReplication = true;
      try {
        metrics.replication = this.#replication();
      } finally {
        this.#inReplication = false;
      }
    }
    return metrics;
  }

  /** Replication state (js/replication sets it while a publisher or a
   * follower runs on this handle). */
  #replication: (() => ReplicationStats) | null = null;
  #inReplication = false;

  /** @internal Used by lightningdb/replication: the source of
   * metrics().replication and the lightningdb_replication_* families. */
  setReplicationSource(fn: (() => ReplicationStats) | null): void {
    this.#replication = fn;
  }

  /** The core's Prometheus text exposition (format 0.0.4) of the
   * statistics: every lightningdb_* family of core/src/stats.def. `labels`
   * (e.g. 'db="main"': name="value" pairs, comma-separated) are added to
   * every sample; INVALID_ARGUMENT when malformed. */
  metricsText(labels?: string): string {
    const db = this.#open();
    if (labels !== undefined && typeof labels !== 'string') {
      throw invalidType('labels', 'a string', labels);
    }
    const text = mapErrors(() => db.prometheus(labels));
    return this.#replication ? text + replicationText(this.#replication(), labels) : text;
  }

  /** The engine's event ring, oldest first: the kept events (the newest
   * 256) with seq > after (default 0: all). Burst events (CONFLICT, BUSY,
   * slow commits, sync stalls) keep growing while they last: pass the
   * newest seq - 1 to see it again. An engine without a ring returns []
   * (both built-in engines have one). */
  events(after = 0): DatabaseEvent[] {
    const db = this.#open();
    if (typeof after !== 'number' || !Number.isInteger(after) || after < 0) {
      throw invalidType('after', 'a non-negative integer', after);
    }
    if (typeof db.events !== 'function') return [];
    const read = db.events.bind(db);
    const list = mapErrors(() => read(after));
    if (list.length === 0) return [];
    // Event times are on the engine's uptime clock: anchor them to now.
    const nowMs = Date.now();
    const upNs = mapErrors(() => db.stats()).uptimeNs;
    const wall = (ns: number) => Math.round(nowMs - (upNs - ns) / 1e6);
    return list.map((e) => ({
      seq: e.seq, type: e.type, code: e.code, time: wall(e.timeNs), lastTime: wall(e.lastNs),
      count: e.count, value: e.value,
    }));
  }

  /** Never throws: a closed or failing database is reported as unhealthy. */
  healthCheck(): HealthReport {
    if (this.#db === null) return healthReport(null, this.#limits);
    const db = this.#db;
    try {
      const s = db.stats();
      const { metrics } = computeMetrics(s, this.engine.kind, this.#mark);
      return healthReport(metrics, this.#limits);
    } catch (e) {
      const r = healthReport(null, this.#limits);
      const err = toLightningDbError(e) as Error;
      r.closed = false;
      r.issues = [`reading statistics failed: ${err.message}`];
      r.backgroundError = (err as LightningDbError).code ?? 'INTERNAL';
      return r;
    }
  }

  // ---- change feed ------------------------------------------------------

  readonly #feeds = new Set<Feed>();
  readonly #feedOwner: FeedOwner = ((life: Life) => ({
    get open(): boolean {
      return life.open;
    },
    decode: (c: EngineChange): Change => this.#decodeChange(c),
    error: (e: unknown) => toLightningDbError(e) as Error,
    drop: (f: Feed) => {
      this.#feeds.delete(f);
    },
  }))(this.#life);

  #decodeChange(c: EngineChange): Change {
    const codec = this.#codec;
    const bk = this.#binaryKeys;
    const bv = this.#binaryValues;
    return {
      seq: c.seq,
      time: c.timeMs,
      ops: c.ops.map((op) => op.type === 'put'
        ? { type: 'put' as const, key: bk ? op.key : keyOf(codec, op.key), value: bv ? op.value : valueOf(codec, op.value, op.key) }
        : { type: 'del' as const, key: bk ? op.key : keyOf(codec, op.key) }),
    };
  }

  #openFeed(opts: unknown, what: string, since?: unknown): Feed {
    const db = this.#open();
    const bounds = rangeBounds(this.#codec, opts, what);
    const from = since === undefined ? mapErrors(() => db.stats().lastSeq) : checkUint(since, 'since');
    const cursor = mapErrors(() => db.changes(from, bounds));
    const feed = new Feed(db, this.#feedOwner, from, cursor);
    this.#feeds.add(feed);
    return feed;
  }

  /** The committed transactions after `since` (default: from now on), in
   * commit order, as an async iterator that waits for new commits once
   * caught up and ends when you break out of it, call close(), or the
   * database closes. Each change is { seq, time, ops: [{ type, key,
   * value }] } with only the ops in range (commits without any are
   * skipped). Throws COMPACTED when since is older than the retained log
   * (logRetentionBytes / logRetentionMs), INVALID_ARGUMENT when it is after
   * the last commit or the feed is off (logRetentionBytes: 0). */
  changes(opts?: ChangesOptions): ChangeFeed {
    return this.#openFeed(opts, 'changes', opts?.since);
  }

  /** Calls fn(change) after each later commit with ops in range becomes
   * visible, in commit order (also commits of other handles and, in Node,
   * other threads on the same database); never inside the committing
   * call. Returns the function that unsubscribes (idempotent; closing the
   * database also ends it). An exception thrown by fn is reported as
   * uncaught, and later commits are still delivered. */
  subscribe(range: RangeOptions | undefined, fn: (change: Change) => void): () => void {
    if (typeof fn !== 'function') throw invalidType('subscriber', 'a function', fn);
    const sub = new Subscription(this.#openFeed(range, 'subscribe'), this.#feedOwner, fn);
    return () => sub.unsubscribe();
  }

  /** Closes the database; its open scans end (their next() and seek()
   * then throw CLOSED: "the database was closed while the scan was open";
   * return() and close() still work) and its open
   * transactions are aborted (later calls throw CLOSED; nothing of them is
   * committed). Idempotent; every other method then throws CLOSED. */
  close(): void {
    const db = this.#db;
    if (db === null) return;
    this.#db = null;
    this.#life.open = false;
    for (const f of [...this.#feeds]) f.close();
    if (this.#root !== null) {
      // a sub-database: the file stays open for its root
      this.#root.#subs.delete(this);
      return;
    }
    for (const s of [...this.#subs]) s.close();
    flushGathered(db);
    mapErrors(() => db.close());
  }
}

/* Disposal (`using db = open(...)`, `await using`): a database closes, a
 * transaction aborts unless it was committed, a scan closes. Defined where
 * the runtime has the symbols (Node 20+, Bun, Deno, current browsers). */
export interface Database {
  [Symbol.dispose](): void;
  [Symbol.asyncDispose](): Promise<void>;
}
export interface Transaction {
  [Symbol.dispose](): void;
  [Symbol.asyncDispose](): Promise<void>;
}
export interface ScanIterator<T> {
  [Symbol.dispose](): void;
}
interface Scan<T> {
  [Symbol.dispose](): void;
}
function defineDisposal(proto: object, end: (self: any) => void): void {
  const sym = Symbol as { dispose?: symbol; asyncDispose?: symbol };
  if (sym.dispose !== undefined) {
    Object.defineProperty(proto, sym.dispose, { value: function (this: unknown) { end(this); }, configurable: true, writable: true });
  }
  if (sym.asyncDispose !== undefined) {
    Object.defineProperty(proto, sym.asyncDispose, {
      value: async function (this: unknown) { end(this); }, configurable: true, writable: true,
    });
  }
}
defineDisposal(Database.prototype, (db: Database) => db.close());
defineDisposal(Transaction.prototype, (tx: Transaction) => tx.abort());
defineDisposal(Scan.prototype, (s: Scan<unknown>) => s.close());

export type { Metrics, HealthReport, EncodingName };
