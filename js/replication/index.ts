/**
 * replication/index.ts — read replicas over NATS JetStream
 * (`lightningdb/replication`, Node, ESM). LightningDB runs no consensus of
 * its own: JetStream (a replicated stream, Raft inside NATS) holds the
 * commits in order; LightningDB's sequence numbers make delivery exactly
 * once. See docs/replication.md.
 *
 *   Publisher: reads the primary's change feed (db.changes) and appends each
 *   commit to the stream as one message, msgID = its seq (the stream drops a
 *   repeated msgID inside its duplicate window) and the expected last msgID
 *   = seq - 1 (the stream refuses a message whose predecessor is missing, so
 *   the stream never has a gap, even when publishes pipelined behind a
 *   failed one succeed). After a crash or any failure it asks the stream
 *   for its last message and resumes after it.
 *
 *   Follower: applies the stream to a replica, one primary commit = one
 *   replica commit, in order. The replica's own last seq IS the applied
 *   primary seq (a replica starts empty or from a backup of the primary,
 *   whose last seq is the primary seq it holds), so "applied up to seq" is
 *   recorded atomically with the data by construction, and a follower
 *   killed at any moment resumes at replica.lastSeq + 1: nothing is applied
 *   twice or skipped. Apps read the replica through handles opened with
 *   readOnly: true; nothing else may write it.
 *
 * Message: headers Ldb-Seq (the commit's seq) and Ldb-Time (commit time, ms
 * since the epoch); data: [u32 op_count] then per op [u8 type (1 put,
 * 2 del)][u32 key_len][u32 value_len][key][value], little-endian.
 */
import { connect, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import {
  jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager, type JsMsg,
} from '@nats-io/jetstream';
import type { Database } from '../database.js';
import type { Change } from '../feed.js';
import { LightningDbError } from '../errors.js';

/** Where a database replicates. */
export interface ReplicationTarget {
  /** NATS server URLs, e.g. 'nats://127.0.0.1:4222' (several: any of the
   * cluster; the client fails over between them). */
  servers: string | string[];
  /** The JetStream stream's name (one stream per primary database). */
  stream: string;
  /** The subject of its messages; default `lightningdb.<stream>`. */
  subject?: string;
  /** Called with every error the run loop recovers from (it reconnects and
   * resumes after 250 ms..5 s); default: none. */
  onError?: (e: Error) => void;
}

export interface PublisherOptions extends ReplicationTarget {
  /** Stream replicas when the publisher creates the stream (1..5); default
   * 1. Use 3 in a 3-node cluster. */
  replicas?: number;
  /** Publishes in flight before waiting for acks; default 256. */
  maxPending?: number;
  /** The stream's duplicate window in ms when the publisher creates it;
   * default 120000. */
  duplicateWindowMs?: number;
  /** Stream retention when the publisher creates it: the oldest messages
   * go beyond these (0: unlimited, the default). A follower that needs a
   * message retention dropped must start again from a backup. */
  maxAgeMs?: number;
  maxBytes?: number;
  /** The seq to publish after when the stream is empty; default: the
   * oldest retained (metrics().logRetainedSince). */
  since?: number;
}

export interface FollowerOptions extends ReplicationTarget {
  /** Messages fetched ahead; default 1024. */
  batch?: number;
}

/** Replication state, also in db.metrics().replication and the Prometheus
 * text (lightningdb_replication_*). */
export interface ReplicationStats {
  role: 'publisher' | 'follower';
  /** publisher: last seq the stream acknowledged; follower: last applied */
  seq: number;
  /** publisher: the primary's last commit; follower: the newest commit
   * known to be in the stream */
  primarySeq: number;
  /** primarySeq - seq */
  lagCommits: number;
  /** 0 when lagCommits is 0; else, publisher: age of the oldest commit not
   * yet acknowledged; follower: time since the commit time of the last
   * applied commit (an upper bound of the oldest unapplied one's age). Ms,
   * across two machines' clocks. */
  lagMs: number;
  /** whether the NATS connection is up and the stream reachable */
  connected: boolean;
}

/** Encodes a commit's ops (binary keys and values) as a message body. */
export function encodeOps(ops: Change['ops']): Uint8Array {
  let n = 4;
  for (const o of ops) n += 9 + o.key.length + (o.type === 'put' ? o.value.length : 0);
  const out = new Uint8Array(n);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, ops.length, true);
  let off = 4;
  for (const o of ops) {
    const k = o.key as Uint8Array;
    const v = o.type === 'put' ? (o.value as Uint8Array) : undefined;
    out[off] = v ? 1 : 2;
    dv.setUint32(off + 1, k.length, true);
    dv.setUint32(off + 5, v ? v.length : 0, true);
    out.set(k, off + 9);
    if (v) out.set(v, off + 9 + k.length);
    off += 9 + k.length + (v ? v.length : 0);
  }
  return out;
}

/** Decodes a message body into batch operations. */
export function decodeOps(b: Uint8Array): Array<{ type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array }> {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const n = dv.getUint32(0, true);
  const ops: Array<{ type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array }> = [];
  let off = 4;
  for (let i = 0; i < n; i++) {
    const t = b[off];
    const kl = dv.getUint32(off + 1, true);
    const vl = dv.getUint32(off + 5, true);
    const key = b.slice(off + 9, off + 9 + kl);
    if (t === 1) ops.push({ type: 'put', key, value: b.slice(off + 9 + kl, off + 9 + kl + vl) });
    else if (t === 2) ops.push({ type: 'del', key });
    else throw new LightningDbError('CORRUPT', `replication message: bad op type ${t}`);
    off += 9 + kl + vl;
  }
  if (off !== b.length) throw new LightningDbError('CORRUPT', 'replication message: trailing bytes');
  return ops;
}

function subjectOf(t: ReplicationTarget): string {
  return t.subject ?? `lightningdb.${t.stream}`;
}

function checkBinary(db: Database, who: string): void {
  if (db.keyEncoding !== 'binary' || db.valueEncoding !== 'binary')
    throw new TypeError(`${who}: the database handle must use binary keys and values (the default)`);
}

/** Errors no retry can fix: the run loop stops (failure, onError). */
function permanent(e: Error): boolean {
  const code = (e as { code?: unknown }).code;
  if ((e as { permanent?: boolean }).permanent) return true;
  return e instanceof LightningDbError && (code === 'COMPACTED' || code === 'CORRUPT' || code === 'INTERNAL' || code === 'READ_ONLY');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

/** The run loop shared by both roles: a session until it fails, then a
 * bounded back-off, until close(). */
abstract class Runner {
  protected closed = false;
  protected nc: NatsConnection | null = null;
  #loop: Promise<void> = Promise.resolve();
  #started: { resolve: () => void; reject: (e: Error) => void } | null = null;
  connected = false;
  /** The error that stopped the run loop for good (see permanent()). */
  failure: Error | null = null;

  constructor(protected readonly db: Database, protected readonly opts: ReplicationTarget) {}

  protected abstract session(nc: NatsConnection, ready: () => void): Promise<void>;
  abstract stats(): ReplicationStats;

  /** Resolves once the first session is running (connected, stream found,
   * resumed); rejects when that fails before close(). */
  protected begin(): Promise<void> {
    const started = new Promise<void>((resolve, reject) => (this.#started = { resolve, reject }));
    this.#loop = this.#run();
    return started;
  }

  async #run(): Promise<void> {
    let backoff = 250;
    while (!this.closed) {
      try {
        const nc = await connect({
          servers: this.opts.servers, name: `lightningdb-${this.stats().role}`,
          reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 250, timeout: 5000,
        });
        this.nc = nc;
        if (this.closed) break;
        await this.session(nc, () => {
          this.connected = true;
          backoff = 250;
          this.#started?.resolve();
          this.#started = null;
        });
      } catch (e) {
        if (this.closed) break;
        const err = asError(e);
        if (permanent(err)) {
          // Retrying cannot help (COMPACTED: the replica needs a backup;
          // CORRUPT/INTERNAL: a broken stream or replica): stop.
          this.closed = true;
          this.failure = err;
          this.#started?.reject(err);
          this.#started = null;
          this.opts.onError?.(err);
          break;
        }
        this.opts.onError?.(err);
      } finally {
        this.connected = false;
        const nc = this.nc;
        this.nc = null;
        await nc?.close().catch(() => {});
      }
      if (this.closed) break;
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 5000);
    }
    this.#started?.resolve();
  }

  /** Stops: in-flight work is abandoned (a publisher resumes from the
   * stream, a follower from the replica, next time). */
  async close(): Promise<void> {
    this.closed = true;
    this.stop();
    await this.nc?.close().catch(() => {});
    await this.#loop;
  }

  protected abstract stop(): void;
}

async function ensureStream(jsm: JetStreamManager, o: PublisherOptions): Promise<void> {
  try {
    await jsm.streams.info(o.stream);
    return;
  } catch (e) {
    if (!/not found/i.test(String((e as Error).message))) throw e;
  }
  await jsm.streams.add({
    name: o.stream,
    subjects: [subjectOf(o)],
    num_replicas: o.replicas ?? 1,
    duplicate_window: (o.duplicateWindowMs ?? 120_000) * 1e6,
    max_age: (o.maxAgeMs ?? 0) * 1e6,
    max_bytes: o.maxBytes ? o.maxBytes : -1,
  });
}

/** The last commit seq in the stream (0 and false when it is empty). */
async function lastInStream(jsm: JetStreamManager, stream: string, subject: string): Promise<{ seq: number; any: boolean }> {
  const info = await jsm.streams.info(stream);
  if (info.state.messages === 0) return { seq: 0, any: false };
  const m = await jsm.streams.getMessage(stream, { last_by_subj: subject });
  if (!m) return { seq: 0, any: false };
  return { seq: Number(m.header.get('Ldb-Seq')), any: true };
}

/** Appends the primary's commits to the stream; see the file comment. */
export class Publisher extends Runner {
  #acked = 0;
  /** commit times of the published, unacknowledged commits, by seq */
  #unacked = new Map<number, number>();
  #feed: { close(): void } | null = null;

  private constructor(db: Database, private readonly popts: PublisherOptions) {
    super(db, popts);
  }

  /** Starts publishing db (a binary handle on the primary); resolves once
   * connected and resumed. */
  static async start(db: Database, opts: PublisherOptions): Promise<Publisher> {
    checkBinary(db, 'Publisher');
    const p = new Publisher(db, opts);
    await p.begin();
    return p;
  }

  protected override stop(): void {
    this.#feed?.close();
  }

  protected async session(nc: NatsConnection, ready: () => void): Promise<void> {
    const o = this.popts;
    const subject = subjectOf(o);
    const jsm = await jetstreamManager(nc);
    const js: JetStreamClient = jetstream(nc, { timeout: 10_000 });
    await ensureStream(jsm, o);
    const last = await lastInStream(jsm, o.stream, subject);
    const mine = this.db.metrics().lastSeq;
    if (last.any && last.seq > mine) {
      // The primary lost commits it had published (a crash in syncMode
      // normal or off): its next commits would reuse their seqs.
      throw Object.assign(new LightningDbError('INVALID_ARGUMENT',
        `stream ${o.stream} holds commits up to ${last.seq} but this primary's last is ${mine}: it lost commits its ` +
        'replicas may have applied. Promote the most advanced replica instead (docs/replication.md)'), { permanent: true });
    }
    const since = last.any ? last.seq : (o.since ?? this.db.metrics().logRetainedSince);
    this.#acked = since;
    const feed = this.db.changes({ since });
    this.#feed = feed;
    ready();
    const max = o.maxPending ?? 256;
    const inflight: Array<Promise<void>> = [];
    let failed: Error | null = null;
    // The stream's first message has no predecessor to expect.
    let prevId = last.any ? String(since) : '';
    try {
      for await (const c of feed) {
        if (failed || this.closed) break;
        const h = natsHeaders();
        h.set('Ldb-Seq', String(c.seq));
        h.set('Ldb-Time', String(c.time));
        const seq = c.seq;
        const time = c.time;
        this.#unacked.set(seq, time);
        const p = js
          .publish(subject, encodeOps(c.ops), {
            msgID: String(seq), headers: h, ...(prevId ? { expect: { lastMsgID: prevId } } : {}),
          })
          .then(() => {
            if (seq > this.#acked) this.#acked = seq;
            this.#unacked.delete(seq);
          }, (e: unknown) => {
            failed ??= asError(e);
            feed.close();
          });
        inflight.push(p);
        prevId = String(seq);
        if (inflight.length >= max) await inflight.shift();
      }
    } finally {
      feed.close();
      this.#feed = null;
      await Promise.allSettled(inflight);
      this.#unacked.clear();
    }
    if (failed) throw failed;
  }

  stats(): ReplicationStats {
    let primary = this.#acked;
    try {
      primary = this.db.metrics().lastSeq;
    } catch {
      /* closed */
    }
    const lag = Math.max(0, primary - this.#acked);
    const oldest = this.#unacked.values().next();
    return {
      role: 'publisher', seq: this.#acked, primarySeq: primary, lagCommits: lag,
      lagMs: lag > 0 && !oldest.done ? Math.max(0, Date.now() - oldest.value) : 0,
      connected: this.connected,
    };
  }
}

/** Applies the stream to a replica; see the file comment. */
export class Follower extends Runner {
  #applied = 0;
  #primary = 0;
  #lastTime = 0;
  #stopIter: (() => void) | null = null;
  /** Per-commit apply delay samples (ms) for benchmarks; see delays(). */
  #delays: number[] | null = null;

  private constructor(db: Database, private readonly fopts: FollowerOptions) {
    super(db, fopts);
  }

  /** Starts applying the stream to db (a writable, binary handle on the
   * replica: empty, or a backup of the primary); resolves once connected
   * and positioned. */
  static async start(db: Database, opts: FollowerOptions): Promise<Follower> {
    checkBinary(db, 'Follower');
    const f = new Follower(db, opts);
    f.#applied = db.metrics().lastSeq;
    f.#primary = f.#applied;
    await f.begin();
    return f;
  }

  /** Starts recording how long each applied commit took from its commit on
   * the primary (ms); returns them and stops recording when called again. */
  recordDelays(on: boolean): number[] {
    const d = this.#delays ?? [];
    this.#delays = on ? [] : null;
    return d;
  }

  protected override stop(): void {
    this.#stopIter?.();
  }

  protected async session(nc: NatsConnection, ready: () => void): Promise<void> {
    const o = this.fopts;
    const subject = subjectOf(o);
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    const info = await jsm.streams.info(o.stream);
    let applied = this.db.metrics().lastSeq;
    this.#applied = applied;
    let start = info.state.last_seq + 1;
    if (info.state.messages > 0) {
      const first = await jsm.streams.getMessage(o.stream, { seq: info.state.first_seq });
      const f = Number(first?.header.get('Ldb-Seq'));
      if (!(f >= 1)) throw new LightningDbError('CORRUPT', `stream ${o.stream}: message ${info.state.first_seq} has no Ldb-Seq`);
      if (applied + 1 < f) {
        throw new LightningDbError('COMPACTED', `stream ${o.stream} starts at commit ${f}, but this replica holds commits up to ${applied}: ` +
          `start it again from a backup of the primary taken at seq ${f - 1} or later`);
      }
      // The stream has no gaps (see Publisher), so commit s is at stream
      // sequence first_seq + (s - f).
      start = Math.min(info.state.first_seq + (applied + 1 - f), info.state.last_seq + 1);
      const lastMsg = await jsm.streams.getMessage(o.stream, { seq: info.state.last_seq });
      this.#primary = Math.max(applied, Number(lastMsg?.header.get('Ldb-Seq')) || 0);
    }
    const consumer = await js.consumers.get(o.stream, {
      deliver_policy: 'by_start_sequence' as never, opt_start_seq: start,
    });
    const messages = await consumer.consume({ max_messages: o.batch ?? 1024 });
    this.#stopIter = () => {
      void messages.close();
    };
    ready();
    try {
      let check = 0;
      for await (const m of messages as AsyncIterable<JsMsg>) {
        if (this.closed) break;
        const seq = Number(m.headers?.get('Ldb-Seq'));
        const time = Number(m.headers?.get('Ldb-Time'));
        const behind = seq + m.info.pending;
        if (behind > this.#primary) this.#primary = behind;
        if (seq <= applied) continue; // already applied (a re-delivery)
        if (seq !== applied + 1) {
          throw new LightningDbError('INTERNAL', `stream ${o.stream}: commit ${seq} arrived after ${applied} (a gap)`);
        }
        this.db.batch(decodeOps(m.data));
        applied = seq;
        this.#applied = seq;
        this.#lastTime = time;
        const now = Date.now();
        this.#delays?.push(now - time);
        if (++check % 1024 === 0 || m.info.pending === 0) {
          const ls = this.db.metrics().lastSeq;
          if (ls !== applied) {
            throw new LightningDbError('INTERNAL', `the replica's last seq is ${ls} after applying commit ${applied}: ` +
              'something else writes to it; open readers with readOnly: true');
          }
        }
      }
    } finally {
      this.#stopIter = null;
      await messages.close().catch(() => {});
    }
  }

  stats(): ReplicationStats {
    const lag = Math.max(0, this.#primary - this.#applied);
    return {
      role: 'follower', seq: this.#applied, primarySeq: this.#primary, lagCommits: lag,
      lagMs: lag > 0 && this.#lastTime ? Math.max(0, Date.now() - this.#lastTime) : 0,
      connected: this.connected,
    };
  }
}

/** Starts a Publisher (see PublisherOptions) and reports its state in
 * db.metrics().replication and db.metricsText(). */
export async function publish(db: Database, opts: PublisherOptions): Promise<Publisher> {
  const p = await Publisher.start(db, opts);
  db.setReplicationSource(() => p.stats());
  return p;
}

/** Starts a Follower (see FollowerOptions) and reports its state in
 * db.metrics().replication and db.metricsText(). */
export async function follow(db: Database, opts: FollowerOptions): Promise<Follower> {
  const f = await Follower.start(db, opts);
  db.setReplicationSource(() => f.stats());
  return f;
}
