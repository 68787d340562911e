/**
 * protocol.ts — the messages between the main-thread proxy (index.ts) and
 * the Worker hosting the database (worker.ts), and between tabs sharing
 * one database (see tabs.ts). Every request carries an id; the Worker
 * answers each with exactly one Reply of the same id — except that an
 * owner that is closing drops the requests of other tabs unanswered: their
 * senders retry them with the next owner.
 *
 * Shared databases: each tab's proxy is a client with a `clientId`; the
 * owner Worker receives the requests of its own tab over postMessage and
 * those of other tabs on the BroadcastChannel `<base>:o:<ownerId>` (as a
 * ClientEnvelope), and answers them on `<base>:c:<clientId>` — or, once
 * broker.ts introduced a MessagePort of that tab (with its clientId and
 * encodings), receives its requests bare on the port and answers there.
 * Writes carry `rid` (unique per client): the owner commits the record of
 * (clientId, rid) in the same atomic batch, so a write resent with `retry`
 * after a hand-off is applied at most once.
 */

/** Fields of a request that a shared database's client adds. */
export interface Tagged {
  /** A write's request id, unique per client: recorded with its commit. */
  rid?: number;
  /** Resent to a new owner after a hand-off: apply only when the record of
   * `rid` is absent (a transaction commit: answer OWNER_LOST then). */
  retry?: boolean;
  /** rids of this client's acknowledged writes: their records may go. */
  forget?: number[];
  /** Deadline (Date.now() ms, the sender's ownerTimeout after it sent the
   * request): a request the owner has not started by then is answered
   * TIMEOUT and never runs — its sender has given up on it (index.ts). */
  dl?: number;
}

/** One step of a named sub-database's path: db.sub(name, { keyEncoding,
 * valueEncoding }) with encodings by name (a custom encoding of the page
 * travels as 'binary': the page encodes and decodes). */
export interface SubStep {
  name: string;
  keyEncoding?: string;
  valueEncoding?: string;
}

/** The named sub-database a request runs in: its path from the database
 * (any owner can open it again, so it survives a change of owner tab) and,
 * for a sub-database object of the page (db.sub()), its id, unique per
 * client: the owner keeps one Database per id, which subClose closes (its
 * scans and transactions end, as Database.close() of a sub-database).
 * Without id (tx.sub() views), the owner keeps one per path. */
export interface SubWire {
  id?: number;
  path: SubStep[];
}

export type Request = (

  | { id: number; op: 'open'; name: string; options: Record<string, unknown> }
  | { id: number; op: 'call'; method: string; args: unknown[]; sub?: SubWire }
  | { id: number; op: 'backup'; target: string }
  /** A scan of the database (txn 0) or of transaction txn; `sub`: of that
   * sub-database (with txn: of tx.sub() of it). */
  | { id: number; op: 'iter'; txn: number; method: string; args: unknown[]; sub?: SubWire }
  | { id: number; op: 'iterNext'; iter: number; max: number }
  | { id: number; op: 'iterSeek'; iter: number; key: unknown }
  | { id: number; op: 'iterClose'; iter: number }
  | { id: number; op: 'begin'; options: Record<string, unknown>; sub?: SubWire }
  /** `sub`: the call goes through tx.sub() of that sub-database. */
  | { id: number; op: 'txn'; txn: number; method: string; args: unknown[]; sub?: SubWire }
  /** Closes the sub-database object `sub.id` of this client (no-op when
   * this owner never opened it). */
  | { id: number; op: 'subClose'; sub: SubWire }
  | { id: number; op: 'close' }
  /** Change events of commits with seq > since (default: from now) in
   * range, pushed as ChangeEvent messages for subscription `sub` (unique
   * per client) — of sub-database `db` when given (its keys, without its
   * prefix); answered with { since } (the seq it starts after). `resume`:
   * `since` is where the tab got to with an earlier owner; when it lies
   * after this owner's last commit (commits of that owner that were never
   * durable), the subscription starts after the last commit instead,
   * answered { since, lower: true }. */
  | { id: number; op: 'subscribe'; sub: number; range: Record<string, unknown>; since?: number; resume?: true; db?: SubWire }
  | { id: number; op: 'unsubscribe'; sub: number }
  /** The seq of the owner's last commit (of sub-database `db`: the same,
   * one log): where a subscription without `since` starts (index.ts
   * Channel.subscribe). */
  | { id: number; op: 'seq'; db?: SubWire }
  /** Gives up request `target` (no reply of its own): when it has not
   * started, it is answered with `code` and never runs; when it has, a
   * TIMEOUT is answered at once (its outcome is then unknown) and an
   * ABORTED is ignored (it is answered with its real outcome). */
  | { id: number; op: 'cancel'; target: number; code: 'ABORTED' | 'TIMEOUT' }
  /** Are you alive? Answered at once with a Pong, ahead of the queued
   * requests (no Reply of its own). Sent only while calls wait and the
   * Worker has been silent for a while, or calls have waited long (the
   * ownerTimeout watch): `ask` names those (request ids of the sender),
   * and the Pong says which of them the owner has no trace of. */
  | { id: 0; op: 'ping'; ask?: number[] }
) & Tagged;

/** A request of another tab to the owner: its clientId and encodings. */
export interface ClientEnvelope {
  from: string;
  /** keyEncoding / valueEncoding of the client's open(). */
  enc: string;
  req: Request;
}

/** Control messages on the BroadcastChannel `<base>:ctrl` of a database. */
export type Control =
  /** Who owns the database? (answered by the owner, or by an exclusive
   * holder, or by a Worker that is opening it as the new owner) */
  | { t: 'who' }
  /** The owner: requests go to `<base>:o:<id>`. Epochs grow with every
   * owner (stored in the database), so a stale announcement is ignored.
   * `options`: the engine options it opened the database with
   * (engineOptionValues, js/options.ts); a tab whose open() asks for other
   * values is refused (absent from an owner of an older version). */
  | { t: 'owner'; id: string; epoch: number; store: string; options?: Record<string, number | boolean | string> }
  /** The database is held by an exclusive opener (openInWorker, or open()
   * with { exclusive: true } or { waitForLock: true }). */
  | { t: 'exclusive' }
  /** A Worker holds the owner lock and is opening the database. */
  | { t: 'opening' }
  /** The Worker that took the owner lock could not open the database. */
  | { t: 'failed'; error: WireError };

/** What open() answers in shared mode. */
export interface Opened {
  store: string;
  /** The channel base name (tabs.ts channelBase). */
  base?: string;
  /** The current owner (this tab's Worker when it is the owner). */
  owner?: { id: string; epoch: number; local: boolean };
}

/** A change of subscription `sub` (`seq`: the last commit it passed, to
 * resume after), or the error that ended it. Sent by the owner to the
 * subscribing tab, unsolicited. `prev`: the seq of the subscription's
 * previous event from this owner, or the seq it started after — no commit
 * in its range lies between prev and seq, so the tab can tell an event
 * that arrived ahead of an earlier one (index.ts Channel.deliver). */
export interface ChangeEvent {
  id: 0;
  event: { sub: number; seq: number; prev?: number; change?: unknown; error?: WireError };
}

/** The Worker's unsolicited message to its tab: it became the owner. */
export interface BecameOwner {
  id: 0;
  owner: { id: string; epoch: number; local: true };
}

/** The Worker's first message, posted when its script and imports have
 * loaded (before it, a Worker error means the script could not load). */
export interface Hello {
  id: 0;
  hello: true;
}

/** The answer to a ping: the Worker's event loop runs. `unknown`: the
 * ids of `ask` that are neither waiting nor running nor awaiting
 * durability here — answered already, or lost on the way (a sender that
 * hears this twice for a call takes it for lost: Channel.lost). */
export interface Pong {
  id: 0;
  pong: true;
  ask?: number[];
  unknown?: number[];
}

export interface WireError {
  name: string;
  code?: string;
  message: string;
  /** the error's cause, when it is an Error (a DECODE error's decoder
   * error): its name and message, revived as an Error */
  cause?: { name: string; message: string };
}

export type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: WireError };

/** Database methods the proxy forwards as-is (sync ones become promises). */
export const DB_METHODS = [
  'get', 'has', 'getBatch', 'put', 'delete', 'putBatch', 'deleteBatch', 'batch',
  'putAsync', 'deleteAsync', 'putBatchAsync', 'deleteBatchAsync', 'batchAsync',
  'flush', 'flushAsync', 'checkpoint', 'metrics', 'metricsText', 'healthCheck', 'check', 'events',
  'count', 'clear',
] as const;

/** The DB_METHODS that write: pipelined by the Worker (it goes on with the
 * next request while their durability is awaited). */
export const WRITE_METHODS = [
  'put', 'delete', 'putBatch', 'deleteBatch', 'batch',
  'putAsync', 'deleteAsync', 'putBatchAsync', 'deleteBatchAsync', 'batchAsync', 'flushAsync',
  'clear',
] as const;

/** Methods returning iterables of entries (or keys / values). */
export const SCAN_METHODS = ['scan', 'scanPrefix', 'scanReverse', 'keys', 'values'] as const;

/** Transaction methods forwarded as-is. */
export const TXN_METHODS = ['get', 'has', 'put', 'delete', 'count', 'clear', 'commit', 'commitAsync', 'abort'] as const;

/** Most entries per postMessage when streaming a scan. */
export const SCAN_CHUNK = 256;
/** Most bytes (keys + values) per postMessage when streaming a scan; a
 * single larger entry travels alone. */
export const SCAN_BYTES = 1 << 20;
/** Entries of the first message of a scan: the first entry arrives after
 * a small message whatever comes after it. */
export const SCAN_FIRST = 16;
