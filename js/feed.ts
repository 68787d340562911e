/**
 * feed.ts — the change feed and subscriptions of the TypeScript API, over
 * the engine's change cursors and commit listeners (js/engine.ts), and the
 * one decoder of the bulk change encoding both engines read.
 *
 * A feed (Database.changes) is an async iterator: it reads the cursor in
 * chunks; once caught up it waits for the engine's commit listener (no
 * polling), then reads again. It ends when the consumer breaks out
 * (return()), when close() is called, or when the database closes. A
 * subscription (Database.subscribe) is a feed from "now" read by the
 * database itself, calling the subscriber once per commit, in commit
 * order, after the commit is visible.
 *
 * Runs in Node and in a browser Worker (no Node modules).
 */
import type { EngineChange, EngineChanges, EngineCommitListener, EngineDb, EngineOp } from './engine.js';
import type { ByteView } from './chunk.js';

/** One operation of a committed transaction, decoded with the database's
 * encodings. */
export type ChangeOp<K = any, V = any> =
  | { type: 'put'; key: K; value: V }
  | { type: 'del'; key: K };

/** One committed transaction: its sequence number (1, 2, 3, ... without
 * gaps, per database), its commit time and its operations in range. */
export interface Change<K = any, V = any> {
  seq: number;
  /** commit time, ms since the Unix epoch (the writer's clock) */
  time: number;
  ops: Array<ChangeOp<K, V>>;
}

/** Which commits and operations a feed or subscription sees. Bounds are
 * encoded with the key encoding; `prefix` is a byte prefix. */
export interface RangeOptions {
  gt?: unknown;
  gte?: unknown;
  lt?: unknown;
  lte?: unknown;
  prefix?: Uint8Array | string;
}

export interface ChangesOptions extends RangeOptions {
  /** The last seq already processed: the feed yields commits with
   * seq > since. Default: the last commit now (only new commits). Must be
   * within [metrics().logRetainedSince, metrics().lastSeq]; older throws
   * COMPACTED. */
  since?: number;
}

/** The async iterator Database.changes() returns. */
export interface ChangeFeed<K = any, V = any> extends AsyncIterableIterator<Change<K, V>> {
  /** The seq of the last commit this feed passed (yielded, or skipped as
   * out of range): resume a later feed with since = this. */
  readonly seq: number;
  /** Ends the feed: a pending next() resolves done. Idempotent. */
  close(): void;
  return(): Promise<IteratorResult<Change<K, V>, undefined>>;
}

/** Decodes ldb_changes_read's encoding (lightningdb.h): per commit
 * [u64 seq][u64 time_ms][u32 op_count][u32 bytes], then per op
 * [u8 type][u32 key_len][u32 value_len][key][value], little-endian. Keys
 * and values are copies (each its own ArrayBuffer), made with view. */
export function decodeChanges(src: Uint8Array, start: number, end: number, view: ByteView): EngineChange[] {
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const out: EngineChange[] = [];
  let off = start;
  const take = (from: number, n: number): Uint8Array => {
    const ab = new ArrayBuffer(n);
    new Uint8Array(ab).set(src.subarray(from, from + n));
    return view(ab, 0, n);
  };
  while (off + 24 <= end) {
    const seq = dv.getUint32(off, true) + dv.getUint32(off + 4, true) * 2 ** 32;
    const timeMs = dv.getUint32(off + 8, true) + dv.getUint32(off + 12, true) * 2 ** 32;
    const n = dv.getUint32(off + 16, true);
    const bytes = dv.getUint32(off + 20, true);
    off += 24;
    const stop = off + bytes;
    if (stop > end) throw Object.assign(new Error('change chunk is truncated'), { code: 'INTERNAL' });
    const ops: EngineOp[] = [];
    for (let i = 0; i < n; i++) {
      const type = src[off]!;
      const kl = dv.getUint32(off + 1, true);
      const vl = dv.getUint32(off + 5, true);
      const k0 = off + 9;
      const key = take(k0, kl);
      if (type === 1) ops.push({ type: 'put', key, value: take(k0 + kl, vl) });
      else ops.push({ type: 'del', key });
      off = k0 + kl + vl;
    }
    if (off !== stop) throw Object.assign(new Error('change chunk is malformed'), { code: 'INTERNAL' });
    out.push({ seq, timeMs, ops });
  }
  return out;
}

/** What a feed needs of its database. */
export interface FeedOwner {
  /** false once the database closed */
  readonly open: boolean;
  decode(c: EngineChange): Change;
  /** Maps engine errors to LightningDbError. */
  error(e: unknown): Error;
  /** Forgets a feed that ended. */
  drop(f: Feed): void;
}

const CHUNK = 256;

/** The engine commit listener that every feed and subscription of one
 * database handle shares: the engine takes at most 64 listeners per
 * database, so one each would limit a handle to 64 live feeds. */
interface SharedListener {
  inner: EngineCommitListener;
  fns: Set<() => void>;
  /** fns that keep the event loop alive (a consumer awaiting a commit) */
  kept: Set<() => void>;
}

const shared = new WeakMap<EngineDb, SharedListener>();

/** Adds fn to db's shared commit listener (the first adds the engine's). */
function listen(db: EngineDb, fn: () => void): EngineCommitListener {
  let s = shared.get(db);
  if (!s) {
    const fns = new Set<() => void>();
    const inner = db.onCommit(() => {
      let failure: { e: unknown } | undefined;
      for (const f of [...fns]) {
        try {
          f();
        } catch (e) {
          failure ??= { e };
        }
      }
      if (failure) throw failure.e; // surfaces as uncaught, after every listener ran
    });
    s = { inner, fns, kept: new Set() };
    shared.set(db, s);
  }
  const entry = s;
  const f = () => fn();
  entry.fns.add(f);
  return {
    off: () => {
      if (!entry.fns.delete(f)) return;
      if (entry.kept.delete(f) && entry.kept.size === 0) entry.inner.ref(false);
      if (entry.fns.size > 0) return;
      if (shared.get(db) === entry) shared.delete(db);
      entry.inner.off();
    },
    ref: (keepAlive: boolean) => {
      if (!entry.fns.has(f)) return;
      const before = entry.kept.size;
      if (keepAlive) entry.kept.add(f);
      else entry.kept.delete(f);
      if ((before === 0) !== (entry.kept.size === 0)) entry.inner.ref(entry.kept.size > 0);
    },
  };
}

/** Database.changes(): see ChangeFeed. */
export class Feed implements ChangeFeed {
  #cursor: EngineChanges | null;
  #listener: EngineCommitListener | null;
  #owner: FeedOwner;
  #buf: EngineChange[] = [];
  #pos = 0;
  #seq: number;
  /** a commit was signalled since the last read */
  #signal = false;
  #wake: (() => void) | null = null;

  constructor(db: EngineDb, owner: FeedOwner, since: number, cursor: EngineChanges) {
    this.#owner = owner;
    this.#seq = since;
    this.#cursor = cursor;
    try {
      this.#listener = listen(db, () => {
        this.#signal = true;
        const w = this.#wake;
        this.#wake = null;
        w?.();
      });
    } catch (e) {
      cursor.close();
      throw owner.error(e);
    }
  }

  get seq(): number {
    return this.#seq;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** The next change already read, or reads a chunk; undefined when caught
   * up (or ended). Synchronous: subscriptions drain with it. */
  take(): EngineChange | undefined {
    for (;;) {
      if (this.#pos < this.#buf.length) {
        const c = this.#buf[this.#pos++]!;
        this.#seq = c.seq;
        return c;
      }
      const cur = this.#cursor;
      if (cur === null || !this.#owner.open) return undefined;
      this.#signal = false;
      let got: EngineChange[];
      try {
        got = cur.next(CHUNK);
      } catch (e) {
        this.close();
        throw this.#owner.error(e);
      }
      if (got.length === 0) return undefined;
      this.#buf = got;
      this.#pos = 0;
    }
  }

  async next(): Promise<IteratorResult<Change, undefined>> {
    for (;;) {
      const c = this.take();
      if (c !== undefined) return { done: false, value: this.#owner.decode(c) };
      if (this.#cursor === null || !this.#owner.open) {
        this.close();
        return { done: true, value: undefined };
      }
      if (this.#signal) continue; // a commit arrived while reading
      await this.waitCommit(true);
    }
  }

  /** Resolves at the next commit signal (or when the feed ends). */
  waitCommit(keepAlive: boolean): Promise<void> {
    if (this.#signal) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#wake = () => {
        this.#listener?.ref(false);
        resolve();
      };
      if (keepAlive) this.#listener?.ref(true);
    });
  }

  /** Installs fn as the commit signal's handler (subscriptions). */
  onSignal(fn: () => void): void {
    this.#wake = () => {
      this.#wake = null;
      fn();
    };
  }

  /** A commit signal is pending (set by the listener, cleared by reads). */
  get signalled(): boolean {
    return this.#signal;
  }

  async return(): Promise<IteratorResult<Change, undefined>> {
    this.close();
    return { done: true, value: undefined };
  }

  close(): void {
    const cur = this.#cursor;
    if (cur === null) return;
    this.#cursor = null;
    this.#buf = [];
    this.#owner.drop(this);
    try {
      this.#listener?.off();
    } catch {
      /* the database closed first: nothing to remove */
    }
    this.#listener = null;
    try {
      cur.close();
    } catch {
      /* idem */
    }
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }
}

/** Database.subscribe(): reads its feed whenever a commit is signalled and
 * calls fn once per commit with ops in range. */
export class Subscription {
  #feed: Feed;
  #fn: (c: Change) => void;
  #owner: FeedOwner;
  #scheduled = false;

  constructor(feed: Feed, owner: FeedOwner, fn: (c: Change) => void) {
    this.#feed = feed;
    this.#owner = owner;
    this.#fn = fn;
    feed.onSignal(() => this.#drain());
  }

  #drain(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // Never inside the committing call (the wasm engine signals from it).
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#run();
    });
  }

  #run(): void {
    const feed = this.#feed;
    feed.onSignal(() => this.#drain());
    for (;;) {
      let c: EngineChange | undefined;
      try {
        c = feed.take();
      } catch (e) {
        // COMPACTED (fell behind retention) or CLOSED: the subscription
        // ends; the error is reported like a listener's.
        feed.close();
        if (this.#owner.open) queueMicrotask(() => { throw e; });
        return;
      }
      if (c === undefined) break;
      try {
        this.#fn(this.#owner.decode(c));
      } catch (e) {
        // As an EventEmitter listener's exception: uncaught, and the
        // subscription goes on with the next commit.
        queueMicrotask(() => { throw e; });
      }
    }
    if (feed.signalled) this.#drain();
  }

  unsubscribe(): void {
    this.#feed.close();
  }
}
