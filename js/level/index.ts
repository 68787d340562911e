/**
 * level/index.ts — `lightningdb/level`: LightningDB as an abstract-level
 * database (the Level ecosystem: level-read-stream, sublevels, hooks,
 * encodings, the abstract-level test suite), over the public Database API.
 *
 *   import { LightningLevel } from 'lightningdb/level';
 *   const db = new LightningLevel('./data', { valueEncoding: 'json' });
 *   await db.put('a', { x: 1 });
 *
 * The private API works on bytes (manifest encodings: view); abstract-level
 * transcodes every other encoding. What maps to what:
 *   - reads and iterators read a snapshot taken when they are called
 *     (implicit snapshots); db.snapshot() is a read-only transaction
 *     (explicit snapshots), passed as { snapshot } to reads and iterators;
 *   - an iterator is a scan with retain: at its end it keeps its snapshot,
 *     so seek() still works until it is closed (Level's contract);
 *   - clear() is the engine's range delete (Database.clear: one atomic
 *     commit), batch() one atomic batch;
 *   - the LightningDB options (cacheSize, compression, syncMode, ...) are
 *     taken from the constructor options, next to Level's.
 */
import { AbstractIterator, AbstractKeyIterator, AbstractLevel, AbstractSnapshot, AbstractValueIterator } from 'abstract-level';
import type { AbstractDatabaseOptions } from 'abstract-level';
import { open } from '../index.js';
import type { ClearOptions, Database, OpenOptions, ScanIterator, ScanOptions, Transaction } from '../database.js';
import { OPTIONS } from '../contract.js';
import { checkOptionKeys, DATABASE_OPTION_KEYS } from '../options.js';
import { typeError } from '../errors.js';

type Bytes = Uint8Array;

/** Level's range options as the private API receives them (encoded). */
interface LevelRange {
  gt?: Bytes;
  gte?: Bytes;
  lt?: Bytes;
  lte?: Bytes;
  reverse?: boolean;
  limit?: number;
  snapshot?: unknown;
}

/** Options of new LightningLevel(): abstract-level's and LightningDB's.
 * Their keys are open()'s (DATABASE_OPTION_KEYS): Level's keyEncoding,
 * valueEncoding, createIfMissing and errorIfExists have the same names.
 * Level hands its constructor's options on to hooks and plugins (and
 * ignores `passive` there), so other keys pass; a key close to one of
 * LightningDB's is refused as its misspelling (INVALID_ARGUMENT: "unknown
 * option 'cachesize' (did you mean 'cacheSize'?)"). */
export type LightningLevelOptions = AbstractDatabaseOptions<any, any> &
  Omit<OpenOptions, 'keyEncoding' | 'valueEncoding' | 'createIfMissing' | 'errorIfExists'>;

/** Level's range as scan bounds. Level allows gt with gte (and lt with
 * lte): gte and lte take precedence. */
function scanRange(o: LevelRange): ScanOptions<Bytes> {
  const r: ScanOptions<Bytes> = {};
  if (o.gte !== undefined) r.gte = o.gte;
  else if (o.gt !== undefined) r.gt = o.gt;
  if (o.lte !== undefined) r.lte = o.lte;
  else if (o.lt !== undefined) r.lt = o.lt;
  if (o.reverse) r.reverse = true;
  return r;
}

/** Level's error for a read through a closed snapshot. */
function snapshotClosed(): Error {
  return Object.assign(new Error('the snapshot is not open'), { code: 'LEVEL_SNAPSHOT_NOT_OPEN' });
}

/** An explicit snapshot: a read-only transaction. */
class LightningSnapshot extends AbstractSnapshot {
  readonly tx: Transaction;
  constructor(options: { owner: unknown }, tx: Transaction) {
    // @ts-expect-error abstract-level's declarations omit the options argument
    super(options);
    this.tx = tx;
  }
  async _close(): Promise<void> {
    this.tx.abort();
  }
}

/** What iterators read through: an explicit snapshot's transaction, or
 * the database (each scan takes its own snapshot). */
type Reader = Pick<Database, 'scan' | 'get' | 'getBatch'>;

/** The shared part of the three iterator kinds: a retained scan. */
class Cursor {
  #scan: ScanIterator<[Bytes, Bytes]>;
  constructor(reader: Reader, options: LevelRange) {
    const limit = options.limit !== undefined && options.limit >= 0 ? options.limit : Infinity;
    this.#scan = reader.scan({ ...scanRange(options), limit, retain: true });
  }
  next(): [Bytes, Bytes] | undefined {
    const r = this.#scan.next();
    return r.done ? undefined : r.value;
  }
  nextv(size: number): Array<[Bytes, Bytes]> {
    const out: Array<[Bytes, Bytes]> = [];
    while (out.length < size) {
      const e = this.next();
      if (e === undefined) break;
      out.push(e);
    }
    return out;
  }
  seek(target: Bytes): void {
    this.#scan.seek(target);
  }
  close(): void {
    this.#scan.close();
  }
}

class LightningIterator extends AbstractIterator<LightningLevel, Bytes, Bytes> {
  readonly #c: Cursor;
  constructor(db: LightningLevel, options: any, reader: Reader) {
    super(db, options);
    this.#c = new Cursor(reader, options);
  }
  async _next(): Promise<[Bytes, Bytes] | undefined> {
    return this.#c.next();
  }
  async _nextv(size: number): Promise<Array<[Bytes, Bytes]>> {
    return this.#c.nextv(size);
  }
  async _all(): Promise<Array<[Bytes, Bytes]>> {
    return this.#c.nextv(Infinity);
  }
  _seek(target: Bytes): void {
    this.#c.seek(target);
  }
  async _close(): Promise<void> {
    this.#c.close();
  }
}

class LightningKeyIterator extends AbstractKeyIterator<LightningLevel, Bytes> {
  readonly #c: Cursor;
  constructor(db: LightningLevel, options: any, reader: Reader) {
    super(db, options);
    this.#c = new Cursor(reader, options);
  }
  async _next(): Promise<Bytes | undefined> {
    return this.#c.next()?.[0];
  }
  async _nextv(size: number): Promise<Bytes[]> {
    return this.#c.nextv(size).map((e) => e[0]);
  }
  async _all(): Promise<Bytes[]> {
    return this.#c.nextv(Infinity).map((e) => e[0]);
  }
  _seek(target: Bytes): void {
    this.#c.seek(target);
  }
  async _close(): Promise<void> {
    this.#c.close();
  }
}

class LightningValueIterator extends AbstractValueIterator<LightningLevel, Bytes, Bytes> {
  readonly #c: Cursor;
  constructor(db: LightningLevel, options: any, reader: Reader) {
    super(db, options);
    this.#c = new Cursor(reader, options);
  }
  async _next(): Promise<Bytes | undefined> {
    return this.#c.next()?.[1];
  }
  async _nextv(size: number): Promise<Bytes[]> {
    return this.#c.nextv(size).map((e) => e[1]);
  }
  async _all(): Promise<Bytes[]> {
    return this.#c.nextv(Infinity).map((e) => e[1]);
  }
  _seek(target: Bytes): void {
    this.#c.seek(target);
  }
  async _close(): Promise<void> {
    this.#c.close();
  }
}

/** LightningDB as an abstract-level database at directory `location`. */
export class LightningLevel extends AbstractLevel<Bytes, any, any> {
  readonly location: string;
  readonly #engineOptions: OpenOptions;
  #db: Database | null = null;

  constructor(location: string, options: LightningLevelOptions = {}) {
    // Before abstract-level sees them (it forwards them to open() and hooks).
    checkOptionKeys(options, DATABASE_OPTION_KEYS, 'new LightningLevel()', true);
    super({
      encodings: { view: true },
      implicitSnapshots: true,
      explicitSnapshots: true,
      permanence: true,
      seek: true,
      createIfMissing: true,
      errorIfExists: true,
      getSync: true,
      has: true,
      additionalMethods: {},
    } as never, options);
    if (typeof location !== 'string' || location === '') throw typeError('location must be a non-empty string');
    this.location = location;
    const engine: Record<string, unknown> = {};
    for (const row of OPTIONS) {
      const v = (options as Record<string, unknown>)[row.jsName];
      if (v !== undefined && row.jsName !== 'createIfMissing' && row.jsName !== 'errorIfExists') engine[row.jsName] = v;
    }
    this.#engineOptions = engine as OpenOptions;
  }

  /** The LightningDB Database under this one (open only): for what Level
   * has no call for (metrics(), backup(), transactions, changes()). */
  get database(): Database {
    if (this.#db === null) throw new Error('the database is not open');
    return this.#db;
  }

  #reader(options: { snapshot?: unknown } | undefined): Reader {
    const s = options?.snapshot;
    if (s instanceof LightningSnapshot) {
      if (s.tx.closed) throw snapshotClosed();
      return s.tx;
    }
    return this.database;
  }

  async _open(options: { createIfMissing: boolean; errorIfExists: boolean }): Promise<void> {
    this.#db = open(this.location, {
      ...this.#engineOptions,
      createIfMissing: options.createIfMissing,
      errorIfExists: options.errorIfExists,
    });
  }

  async _close(): Promise<void> {
    const db = this.#db;
    this.#db = null;
    db?.close();
  }

  async _get(key: Bytes, options: LevelRange): Promise<Bytes | undefined> {
    return this.#reader(options).get(key);
  }

  _getSync(key: Bytes, options: LevelRange): Bytes | undefined {
    return this.#reader(options).get(key);
  }

  async _getMany(keys: Bytes[], options: LevelRange): Promise<Array<Bytes | undefined>> {
    return this.#reader(options).getBatch(keys);
  }

  async _has(key: Bytes, options: LevelRange): Promise<boolean> {
    return this.#reader(options).get(key) !== undefined;
  }

  async _hasMany(keys: Bytes[], options: LevelRange): Promise<boolean[]> {
    return this.#reader(options).getBatch(keys).map((v) => v !== undefined);
  }

  async _put(key: Bytes, value: Bytes): Promise<void> {
    this.database.put(key, value);
  }

  async _del(key: Bytes): Promise<void> {
    this.database.delete(key);
  }

  async _batch(operations: Array<{ type: 'put' | 'del'; key: Bytes; value?: Bytes }>): Promise<void> {
    this.database.batch(operations.map((op) => (op.type === 'put'
      ? { type: 'put' as const, key: op.key, value: op.value ?? new Uint8Array(0) }
      : { type: 'del' as const, key: op.key })));
  }

  async _clear(options: LevelRange): Promise<void> {
    const range: ClearOptions<Bytes> = scanRange(options);
    if (options.limit !== undefined && options.limit >= 0) range.limit = options.limit;
    if (options.snapshot instanceof LightningSnapshot) {
      // Level: clear the keys the snapshot sees, as of the snapshot
      const keys = [...this.#reader(options).scan(range)].map(([k]) => k);
      this.database.deleteBatch(keys);
      return;
    }
    this.database.clear(range);
  }

  _iterator(options: any): LightningIterator {
    return new LightningIterator(this, options, this.#reader(options));
  }

  _keys(options: any): LightningKeyIterator {
    return new LightningKeyIterator(this, options, this.#reader(options));
  }

  _values(options: any): LightningValueIterator {
    return new LightningValueIterator(this, options, this.#reader(options));
  }

  _snapshot(options: { owner: unknown }): LightningSnapshot {
    return new LightningSnapshot(options, this.database.beginTransaction({ readOnly: true }));
  }
}
