/**
 * replication/index.ts — read replicas over NATS JetStream
 * (`lightningdb/replication`, Node, ESM). LightningDB runs no consensus of
 * its own: JetStream (a replicated stream, Raft inside NATS) holds the
 * commits in order; LightningDB's sequence numbers make delivery exactly
 * once. See docs/replication.md.
 *
 *   Publisher: reads the primary's change feed (db.changes) and appends its
 *   commits to the stream in order. The message that completes commit s
 *   has msgID s (the stream drops a repeated msgID inside its duplicate
 *   window), and every publish expects the previous message's id (the
 *   stream refuses a message whose predecessor is missing, so it never has
 *   a gap, even when publishes pipelined behind a failed one succeed).
 *   While maxPending publishes await their acks, new commits gather into
 *   one batch message, sent when an ack arrives: one round trip per batch,
 *   not per commit, once the rate outgrows the round trips. After a crash
 *   or any failure it asks the stream for its last message and resumes
 *   after the last commit the stream holds whole.
 *
 *   Follower: applies the stream to a replica, one primary commit = one
 *   replica commit, in order. The replica's own last seq IS the applied
 *   primary seq (a replica starts empty or from a backup of the primary,
 *   whose last seq is the primary seq it holds), so "applied up to seq" is
 *   recorded atomically with the data by construction, and a follower
 *   killed at any moment resumes at replica.lastSeq + 1 (found in the
 *   stream by a binary search over the messages' Ldb-Seq): nothing is
 *   applied twice or skipped. Apps read the replica through handles opened
 *   with readOnly: true; nothing else may write it.
 *
 * Messages (little-endian; a commit's ops as "ops": [u32 op_count] then
 * per op [u8 type (1 put, 2 del)][u32 key_len][u32 value_len][key][value]):
 *  - one commit: headers Ldb-Seq (its seq), Ldb-Time (commit time, ms since
 *    the epoch); data: its ops. (The only kind before batching existed.)
 *  - a batch: headers Ldb-Format 2, Ldb-First and Ldb-Seq (its first and
 *    last seq, consecutive commits), Ldb-Time (the last one's); data:
 *    [u32 count] then per commit [f64 time][u32 length][ops].
 *  - a part of one commit larger than maxMessageBytes: headers Ldb-Format
 *    2, Ldb-Seq, Ldb-Time, Ldb-Part "i/n", Ldb-Offset (its first byte in
 *    the ops); data: that slice of the ops. msgID "s.from-to", the last
 *    part's is s. A follower gathers parts whose offsets follow on; part 1
 *    starts over.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import { isSubDatabase, type Database } from '../database.js';
import type { ReplicationStats } from '../metrics.js';
import type { Change } from '../feed.js';
import { typeError, LightningDbError } from '../errors.js';
import { checkOptionKeys, keyList } from '../options.js';

/* ---- the NATS client ------------------------------------------------------
 * @nats-io/transport-node and @nats-io/jetstream are optional peer
 * dependencies: the app installs them when it replicates. They are loaded
 * when a Publisher or Follower starts (not when this module is imported, so
 * importing it without them works and encodeOps & co. can be used), and
 * their absence is a SETUP error that says what to install instead of a
 * bare "Cannot find module". */
type Transport = typeof import('@nats-io/transport-node');
type Jetstream = typeof import('@nats-io/jetstream');
interface Nats {
  connect: Transport['connect'];
  headers: Transport['headers'];
  jetstream: Jetstream['jetstream'];
  jetstreamManager: Jetstream['jetstreamManager'];
}
type MsgHeaders = ReturnType<Transport['headers']>;
let natsClient: Nats | null = null;

/** Whether e is the loader's "module not found" for one of the NATS
 * packages (ESM: ERR_MODULE_NOT_FOUND, CommonJS: MODULE_NOT_FOUND). */
function natsMissing(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && /@nats-io\//.test(String((e as Error).message));
}

/** Loads the NATS client packages once; SETUP (with the npm command) when
 * they are not installed. */
async function loadNats(): Promise<Nats> {
  if (natsClient !== null) return natsClient;
  try {
    const [t, j] = await Promise.all([import('@nats-io/transport-node'), import('@nats-io/jetstream')]);
    natsClient = { connect: t.connect, headers: t.headers, jetstream: j.jetstream, jetstreamManager: j.jetstreamManager };
    return natsClient;
  } catch (e) {
    if (!natsMissing(e)) throw e;
    throw new LightningDbError('SETUP', 'lightningdb/replication needs the NATS client, an optional peer dependency: ' +
      `npm install @nats-io/transport-node @nats-io/jetstream (${String((e as Error).message).split('\n')[0]})`, { cause: e });
  }
}

/** The loaded client (start() loaded it). */
function nats(): Nats {
  return natsClient!;
}

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
  /** Messages in flight before waiting for acks; default 64. While that
   * many are in flight, commits gather into batch messages. */
  maxPending?: number;
  /** Most commits in one batch message; default 1024. */
  maxBatch?: number;
  /** Largest message body in bytes; default and upper bound: the
   * server's max_payload (1 MiB by default) less 1 KiB for headers. A
   * commit larger than that goes in parts. */
  maxMessageBytes?: number;
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

/** The keys Publisher.start() / publish() and Follower.start() / follow()
 * take; any other is INVALID_ARGUMENT, naming the closest known one. */
const TARGET_KEYS = { servers: true, stream: true, subject: true, onError: true } as const;
const PUBLISHER_KEYS = keyList<PublisherOptions>({
  ...TARGET_KEYS, replicas: true, maxPending: true, maxBatch: true, maxMessageBytes: true, duplicateWindowMs: true,
  maxAgeMs: true, maxBytes: true, since: true,
});
const FOLLOWER_KEYS = keyList<FollowerOptions>({ ...TARGET_KEYS, batch: true });

/** Replication state, also in db.metrics().replication and the Prometheus
 * text (lightningdb_replication_*): defined once, in metrics.ts. */
export type { ReplicationStats };

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
  if (b.length < 4) throw new LightningDbError('CORRUPT', 'replication message: truncated');
  const n = dv.getUint32(0, true);
  const ops: Array<{ type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array }> = [];
  let off = 4;
  for (let i = 0; i < n; i++) {
    if (off + 9 > b.length) throw new LightningDbError('CORRUPT', 'replication message: truncated');
    const t = b[off];
    const kl = dv.getUint32(off + 1, true);
    const vl = dv.getUint32(off + 5, true);
    if (off + 9 + kl + vl > b.length) throw new LightningDbError('CORRUPT', 'replication message: truncated');
    const key = b.slice(off + 9, off + 9 + kl);
    if (t === 1) ops.push({ type: 'put', key, value: b.slice(off + 9 + kl, off + 9 + kl + vl) });
    else if (t === 2) ops.push({ type: 'del', key });
    else throw new LightningDbError('CORRUPT', `replication message: bad op type ${t}`);
    off += 9 + kl + vl;
  }
  if (off !== b.length) throw new LightningDbError('CORRUPT', 'replication message: trailing bytes');
  return ops;
}

/** One commit ready to publish: its seq, commit time and encodeOps body. */
interface Encoded {
  seq: number;
  time: number;
  body: Uint8Array;
}

/** Bytes a commit takes in a batch message besides its body. */
const BATCH_ENTRY = 12;

/** Encodes commits (consecutive seqs) as a batch message body:
 * [u32 count] then per commit [f64 time][u32 length][encodeOps body]. */
export function encodeBatch(commits: ReadonlyArray<{ time: number; body: Uint8Array }>): Uint8Array {
  let n = 4;
  for (const c of commits) n += BATCH_ENTRY + c.body.length;
  const out = new Uint8Array(n);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, commits.length, true);
  let off = 4;
  for (const c of commits) {
    dv.setFloat64(off, c.time, true);
    dv.setUint32(off + 8, c.body.length, true);
    out.set(c.body, off + BATCH_ENTRY);
    off += BATCH_ENTRY + c.body.length;
  }
  return out;
}

/** Decodes a batch message body (see encodeBatch) into its commits' times
 * and encodeOps bodies, in order. */
export function decodeBatch(b: Uint8Array): Array<{ time: number; body: Uint8Array }> {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 4) throw new LightningDbError('CORRUPT', 'replication batch message: truncated');
  const n = dv.getUint32(0, true);
  const out: Array<{ time: number; body: Uint8Array }> = [];
  let off = 4;
  for (let i = 0; i < n; i++) {
    if (off + BATCH_ENTRY > b.length) throw new LightningDbError('CORRUPT', 'replication batch message: truncated');
    const time = dv.getFloat64(off, true);
    const len = dv.getUint32(off + 8, true);
    if (off + BATCH_ENTRY + len > b.length) throw new LightningDbError('CORRUPT', 'replication batch message: truncated');
    out.push({ time, body: b.subarray(off + BATCH_ENTRY, off + BATCH_ENTRY + len) });
    off += BATCH_ENTRY + len;
  }
  if (off !== b.length) throw new LightningDbError('CORRUPT', 'replication batch message: trailing bytes');
  return out;
}

/** What a stored message says about its place in the primary's commits
 * (see the file comment for the three kinds). */
interface MessageMeta {
  /** first and last commit seq it holds (equal unless a batch) */
  first: number;
  last: number;
  /** a part of one commit: index (1-based) and count; 0/0 otherwise */
  part: number;
  parts: number;
  /** a part's first byte in its commit's ops */
  offset: number;
  batch: boolean;
}

function metaOf(h: { get(k: string): string } | undefined, where: string): MessageMeta {
  const last = Number(h?.get('Ldb-Seq'));
  if (!(last >= 1)) throw new LightningDbError('CORRUPT', `${where} has no Ldb-Seq header`);
  const batch = h?.get('Ldb-Format') === '2';
  const firstH = h?.get('Ldb-First');
  const first = batch && firstH ? Number(firstH) : last;
  let part = 0;
  let parts = 0;
  const p = h?.get('Ldb-Part');
  if (p) {
    const m = /^(\d+)\/(\d+)$/.exec(p);
    if (!m) throw new LightningDbError('CORRUPT', `${where}: bad Ldb-Part header ${p}`);
    part = Number(m[1]);
    parts = Number(m[2]);
    if (!(part >= 1 && part <= parts)) throw new LightningDbError('CORRUPT', `${where}: bad Ldb-Part header ${p}`);
  }
  const offset = part ? Number(h?.get('Ldb-Offset')) : 0;
  if (!(offset >= 0) || (part === 1) !== (part > 0 && offset === 0)) {
    throw new LightningDbError('CORRUPT', `${where}: bad Ldb-Offset header`);
  }
  if (!(first >= 1 && first <= last)) throw new LightningDbError('CORRUPT', `${where}: bad Ldb-First header`);
  return { first, last, part, parts, offset, batch };
}

function subjectOf(t: ReplicationTarget): string {
  return t.subject ?? `lightningdb.${t.stream}`;
}

/** The handle publish() / follow() (`who`) replicate: the database itself
 * (not a sub-database: replication copies every key), with binary keys and
 * values (commits travel as the stored bytes). Anything else is
 * INVALID_ARGUMENT (a LightningDbTypeError) before connecting, saying what
 * the handle has and what to pass instead. */
function checkHandle(db: Database, who: string): void {
  if (db === null || typeof db !== 'object' || typeof (db as { changes?: unknown }).changes !== 'function')
    throw typeError(`${who}: the first argument must be a Database from open(), got ${db === null ? 'null' : typeof db}`);
  if (isSubDatabase(db))
    throw typeError(`${who}: the handle is a sub-database (db.sub()); replication copies the whole database: ` +
      'pass the database open() returned');
  if (db.keyEncoding !== 'binary' || db.valueEncoding !== 'binary')
    throw typeError(`${who}: the database handle must use binary keys and values (the default), but it has ` +
      `keyEncoding '${db.keyEncoding}' and valueEncoding '${db.valueEncoding}': open the same path again without ` +
      'keyEncoding/valueEncoding for replication (handles in one process share the engine) and keep yours for the application');
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
        const nc = await nats().connect({
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

/** Where the stream ends: the last commit it holds whole (0 when empty),
 * whether it holds any message, and the last message's id (what the next
 * publish expects). A last message that is an unfinished part of a commit
 * (the publisher died between parts) does not count that commit. */
async function lastInStream(jsm: JetStreamManager, stream: string, subject: string): Promise<{ seq: number; any: boolean; id: string }> {
  const info = await jsm.streams.info(stream);
  if (info.state.messages === 0) return { seq: 0, any: false, id: '' };
  const m = await jsm.streams.getMessage(stream, { last_by_subj: subject });
  if (!m) return { seq: 0, any: false, id: '' };
  const meta = metaOf(m.header, `stream ${stream}: message ${m.seq}`);
  const id = m.header.get('Nats-Msg-Id') || String(meta.last);
  return { seq: meta.part && meta.part < meta.parts ? meta.last - 1 : meta.last, any: true, id };
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
    checkOptionKeys(opts, PUBLISHER_KEYS, 'the Publisher');
    checkHandle(db, 'publish()');
    await loadNats();
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
    const jsm = await nats().jetstreamManager(nc);
    const js: JetStreamClient = nats().jetstream(nc, { timeout: 10_000 });
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
    const maxPending = Math.max(1, o.maxPending ?? 64);
    const maxCommits = Math.max(1, o.maxBatch ?? 1024);
    // The server's payload limit, less room for headers.
    const limit = Math.max(1024, Math.min(o.maxMessageBytes ?? Infinity, nc.info?.max_payload ?? 1 << 20) - 1024);
    const inflight = new Set<Promise<void>>();
    let failed: Error | null = null;
    // The stream's first message has no predecessor to expect.
    let prevId = last.any ? last.id : '';
    let batch: Encoded[] = [];
    let batchBytes = 4;

    const send = (id: string, h: MsgHeaders, body: Uint8Array, seqs: number[]) => {
      const p: Promise<void> = js
        .publish(subject, body, { msgID: id, headers: h, ...(prevId ? { expect: { lastMsgID: prevId } } : {}) })
        .then(() => {
          const top = seqs.length ? seqs[seqs.length - 1]! : 0;
          if (top > this.#acked) this.#acked = top;
          for (const s of seqs) this.#unacked.delete(s);
        }, (e: unknown) => {
          failed ??= asError(e);
          feed.close();
        })
        .finally(() => {
          inflight.delete(p);
          if (inflight.size < maxPending) flush();
        });
      inflight.add(p);
      prevId = id;
    };
    // Publishes what is batched: one commit alone as a plain message
    // (the format of one commit per message), several as a batch message.
    const flush = () => {
      if (batch.length === 0 || failed || this.closed) return;
      const b = batch;
      batch = [];
      batchBytes = 4;
      const lastC = b[b.length - 1]!;
      const h = nats().headers();
      h.set('Ldb-Seq', String(lastC.seq));
      h.set('Ldb-Time', String(lastC.time));
      if (b.length === 1) {
        send(String(lastC.seq), h, lastC.body, [lastC.seq]);
      } else {
        h.set('Ldb-Format', '2');
        h.set('Ldb-First', String(b[0]!.seq));
        send(String(lastC.seq), h, encodeBatch(b), b.map((c) => c.seq));
      }
    };
    const room = async () => {
      while (inflight.size >= maxPending && !failed) await Promise.race(inflight);
    };
    try {
      for await (const c of feed) {
        if (failed || this.closed) break;
        const e: Encoded = { seq: c.seq, time: c.time, body: encodeOps(c.ops) };
        this.#unacked.set(e.seq, e.time);
        if (e.body.length + BATCH_ENTRY + 4 > limit) {
          // Larger than a message: its own messages, parts 1..n of it.
          await room();
          flush();
          const parts = Math.ceil(e.body.length / limit);
          for (let i = 1; i <= parts && !failed; i++) {
            await room();
            if (failed || this.closed) break;
            const h = nats().headers();
            h.set('Ldb-Seq', String(e.seq));
            h.set('Ldb-Time', String(e.time));
            h.set('Ldb-Format', '2');
            h.set('Ldb-Part', `${i}/${parts}`);
            const from = (i - 1) * limit;
            const to = Math.min(e.body.length, i * limit);
            h.set('Ldb-Offset', String(from));
            // A part's id names its bytes: a publisher that resumes a
            // commit cut between parts with another split re-sends it
            // under new ids (the follower starts over at its part 1).
            send(i === parts ? String(e.seq) : `${e.seq}.${from}-${to}`, h, e.body.subarray(from, to), i === parts ? [e.seq] : []);
          }
          continue;
        }
        if (batch.length > 0 && (batch.length >= maxCommits || batchBytes + BATCH_ENTRY + e.body.length > limit)) {
          // The batch is full: wait until the pipeline takes it.
          await room();
          flush();
        }
        batch.push(e);
        batchBytes += BATCH_ENTRY + e.body.length;
        // While publishes are in flight, commits gather into one batch
        // that goes as soon as one is acknowledged (see send()).
        if (inflight.size < maxPending) flush();
      }
    } finally {
      feed.close();
      this.#feed = null;
      while (inflight.size > 0) await Promise.allSettled([...inflight]);
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
    checkOptionKeys(opts, FOLLOWER_KEYS, 'the Follower');
    checkHandle(db, 'follow()');
    await loadNats();
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
    const jsm = await nats().jetstreamManager(nc);
    const js = nats().jetstream(nc);
    const info = await jsm.streams.info(o.stream);
    let applied = this.db.metrics().lastSeq;
    this.#applied = applied;
    let start = info.state.last_seq + 1;
    if (info.state.messages > 0) {
      const at = async (seq: number) => {
        const m = await jsm.streams.getMessage(o.stream, { seq });
        return metaOf(m?.header, `stream ${o.stream}: message ${seq}`);
      };
      const first = await at(info.state.first_seq);
      // The oldest commit the stream holds whole (retention may have cut
      // the front of a commit sent in parts).
      const f = first.part > 1 ? first.last + 1 : first.first;
      if (applied + 1 < f) {
        throw new LightningDbError('COMPACTED', `stream ${o.stream} starts at commit ${f}, but this replica holds commits up to ${applied}: ` +
          `start it again from a backup of the primary taken at seq ${f - 1} or later`);
      }
      // The first message holding commit applied + 1 (or a later one):
      // messages' last seqs never decrease, so a binary search finds it.
      let lo = info.state.first_seq;
      let hi = info.state.last_seq + 1;
      while (lo < hi) {
        const mid = lo + Math.floor((hi - lo) / 2);
        if ((await at(mid)).last >= applied + 1) hi = mid;
        else lo = mid + 1;
      }
      start = lo;
      this.#primary = Math.max(applied, (await at(info.state.last_seq)).last);
    }
    const consumer = await js.consumers.get(o.stream, {
      deliver_policy: 'by_start_sequence' as never, opt_start_seq: start,
    });
    const messages = await consumer.consume({ max_messages: o.batch ?? 1024 });
    this.#stopIter = () => {
      void messages.close();
    };
    ready();
    // A commit sent in parts, gathered until its last part.
    let parts: Uint8Array[] = [];
    let partSeq = 0;
    let partBytes = 0;
    const apply = (seq: number, time: number, body: Uint8Array) => {
      if (seq <= applied) return; // already applied (a re-delivery, or a backup's)
      if (seq !== applied + 1) {
        throw new LightningDbError('INTERNAL', `stream ${o.stream}: commit ${seq} arrived after ${applied} (a gap)`);
      }
      this.db.batch(decodeOps(body));
      applied = seq;
      this.#applied = seq;
      this.#lastTime = time;
      this.#delays?.push(Date.now() - time);
    };
    try {
      let check = 0;
      for await (const m of messages as AsyncIterable<JsMsg>) {
        if (this.closed) break;
        const meta = metaOf(m.headers, `stream ${o.stream}: message ${m.info.streamSequence}`);
        const behind = meta.last + m.info.pending;
        if (behind > this.#primary) this.#primary = behind;
        if (meta.part) {
          // Part 1 starts the commit again (a publisher that died between
          // parts re-sends it whole); a part out of turn is a leftover of
          // such an attempt and is dropped.
          if (meta.part === 1) {
            parts = [];
            partBytes = 0;
            partSeq = meta.last;
          }
          if (meta.last !== partSeq || meta.offset !== partBytes) continue;
          parts.push(m.data);
          partBytes += m.data.length;
          if (meta.part < meta.parts) continue;
          let n = 0;
          for (const p of parts) n += p.length;
          const body = new Uint8Array(n);
          n = 0;
          for (const p of parts) {
            body.set(p, n);
            n += p.length;
          }
          parts = [];
          partSeq = 0;
          partBytes = 0;
          apply(meta.last, Number(m.headers?.get('Ldb-Time')), body);
        } else if (meta.batch) {
          const commits = decodeBatch(m.data);
          if (commits.length !== meta.last - meta.first + 1) {
            throw new LightningDbError('CORRUPT', `stream ${o.stream}: message ${m.info.streamSequence} holds ${commits.length} commits, its headers say ${meta.first}..${meta.last}`);
          }
          for (let i = 0; i < commits.length; i++) apply(meta.first + i, commits[i]!.time, commits[i]!.body);
        } else {
          apply(meta.last, Number(m.headers?.get('Ldb-Time')), m.data);
        }
        if (++check % 256 === 0 || m.info.pending === 0) {
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
