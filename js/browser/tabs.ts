/**
 * tabs.ts — one writer per database across tabs and workers of an origin,
 * with the Web Locks API (navigator.locks), held for as long as the
 * database is open.
 *
 * Default: a second tab that opens a database already open elsewhere gets
 * a LightningDbError with code BUSY at once, with a message saying what to
 * do. With `{ waitForLock: true }` it waits until the other tab closes the
 * database (or is closed itself), then opens. Where Web Locks are missing,
 * the OPFS store's exclusive sync access handles still refuse a second
 * opener (BUSY); the IndexedDB store then has no cross-tab protection.
 *
 * The same lock elects the owner of a shared database (the default of
 * open() from a page, see worker.ts and index.ts): the Worker holding it
 * owns the database, the others wait for it (standing by) and are
 * clients meanwhile. An exclusive holder (acquireTabLock) answers the
 * shared openers' question "who owns it?" on the control channel with
 * 'exclusive', so they fail with BUSY at once instead of waiting.
 */
import { typeError, LightningDbError } from '../errors.js';

/** How long open({ waitForLock: true }) waits for another tab by default. */
export const DEFAULT_LOCK_TIMEOUT_MS = 30_000;

export interface TabLockOptions {
  /** Wait for the other tab instead of failing with BUSY. Default false. */
  waitForLock?: boolean;
  /** Cancels the wait: the open rejects with ABORTED and never takes the
   * lock later. */
  signal?: AbortSignal;
  /** Longest wait in ms when waitForLock is true (TIMEOUT after it);
   * default DEFAULT_LOCK_TIMEOUT_MS; Infinity waits without a bound. */
  timeout?: number;
}

type Locks = {
  request(name: string, opts: { mode?: 'exclusive'; ifAvailable?: boolean; signal?: AbortSignal },
    cb: (lock: unknown) => Promise<void>): Promise<void>;
};

function locksApi(): Locks | undefined {
  return (globalThis as unknown as { navigator?: { locks?: Locks } }).navigator?.locks;
}

/** The Web Lock name of a database. */
export function lockName(store: string, name: string): string {
  return `lightningdb:${store}:${name}`;
}

/** The base name of a database's BroadcastChannels (see protocol.ts):
 * `<base>:ctrl`, `<base>:o:<ownerId>`, `<base>:c:<clientId>`. */
export function channelBase(store: string, name: string): string {
  return lockName(store, name);
}

/** The lock a client holds while its database is open: the owner waits
 * for it to learn that the client is gone (closed, reloaded, crashed). */
export function clientLockName(base: string, clientId: string): string {
  return `${base}:c:${clientId}`;
}

/** A random id (clients, owners). */
export function randomId(): string {
  const b = new Uint8Array(12);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** Holds the Web Lock `name` once granted, until release(); `granted`
 * resolves when it is held (rejects when the request fails or `signal`
 * aborts first). Without Web Locks, `granted` resolves at once. */
export function holdLock(name: string, signal?: AbortSignal): { granted: Promise<void>; release: () => void; released: Promise<void> } {
  const locks = locksApi();
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  if (!locks) return { granted: Promise.resolve(), release, released: Promise.resolve() };
  let granted!: Promise<void>;
  const request = new Promise<void>((resolveReq, rejectReq) => {
    granted = new Promise<void>((resolve, reject) => {
      locks.request(name, signal ? { mode: 'exclusive', signal } : { mode: 'exclusive' }, async () => {
        resolve();
        await held;
      }).then(resolveReq, (e) => {
        reject(e);
        rejectReq(e);
      });
    });
  });
  return { granted, release, released: request.catch(() => {}) };
}

/** Answers 'who' on the control channel of `store`/`name` with
 * 'exclusive' until the returned function is called. */
function answerExclusive(store: string, name: string): () => void {
  if (typeof BroadcastChannel === 'undefined') return () => {};
  const bc = new BroadcastChannel(`${channelBase(store, name)}:ctrl`);
  bc.onmessage = (ev: MessageEvent<{ t?: string }>) => {
    if (ev.data?.t === 'who') bc.postMessage({ t: 'exclusive' });
  };
  return () => bc.close();
}

/** Locks of this context being released: their request promises. */
const releasing = new Map<string, Promise<void>>();

/** Checks a `timeout` option: a non-negative number of ms, or Infinity. */
export function checkTimeout(v: unknown, name = 'timeout'): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number') throw typeError(`${name} must be a number of milliseconds, got ${typeof v}`);
  if (!(v >= 0)) throw new LightningDbError('INVALID_ARGUMENT', `${name} must be >= 0 (or Infinity), got ${v}`);
  return v;
}

/** The error of a cancelled wait: ABORTED, naming what was waited for. */
export function abortedError(what: string): LightningDbError {
  return new LightningDbError('ABORTED', `${what} was cancelled (AbortSignal); nothing of it was applied`);
}

/** Takes the tab lock of `name`; resolves to a function releasing it.
 * Rejects with BUSY (default) when another tab holds it; with
 * waitForLock, waits at most `timeout` ms (TIMEOUT) and stops waiting when
 * `signal` aborts (ABORTED). A wait that was given up never takes the
 * lock afterwards: the Web Locks request itself is withdrawn. */
export async function acquireTabLock(store: string, name: string, opts: TabLockOptions = {}): Promise<() => void> {
  const what = `opening database "${name}"`;
  if (opts.signal?.aborted) throw abortedError(what);
  const timeout = checkTimeout(opts.timeout) ?? DEFAULT_LOCK_TIMEOUT_MS;
  const locks = locksApi();
  if (!locks) return () => {};
  // A lock this context released a moment ago may not be free yet (Web
  // Locks release asynchronously): close() then open() must not be BUSY.
  await releasing.get(lockName(store, name));
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  // One controller withdraws the request, for the caller's signal or the timeout.
  const stop = new AbortController();
  let why: 'ABORTED' | 'TIMEOUT' | null = null;
  const onAbort = () => {
    why ??= 'ABORTED';
    stop.abort();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const timer = opts.waitForLock && timeout !== Infinity
    ? setTimeout(() => {
      why ??= 'TIMEOUT';
      stop.abort();
    }, timeout)
    : undefined;
  let request: Promise<void> = Promise.resolve();
  try {
    const got = await new Promise<boolean>((resolve, reject) => {
      request = locks
        // (Web Locks refuse signal together with ifAvailable; an
        // ifAvailable request does not wait anyway.)
        .request(lockName(store, name), opts.waitForLock ? { mode: 'exclusive', signal: stop.signal } : { mode: 'exclusive', ifAvailable: true },
          async (lock) => {
            // Granted after the wait was given up: give it back at once.
            if (!lock || why) {
              resolve(false);
              return;
            }
            resolve(true);
            await held;
          });
      request.catch(reject);
    });
    if (why === 'ABORTED') throw abortedError(what);
    if (why === 'TIMEOUT')
      throw new LightningDbError('TIMEOUT',
        `${what}: waited ${timeout} ms for another tab or window of this site to close it; ` +
        'close it there, or pass a larger { timeout } (Infinity waits without a bound)');
    if (!got)
      throw new LightningDbError('BUSY',
        `database "${name}" is open in another tab or window of this site; close it there, ` +
        'or open with { waitForLock: true } to wait for it');
    const key = lockName(store, name);
    const stopAnswering = answerExclusive(store, name);
    return () => {
      stopAnswering();
      release();
      // Settles once the lock is free again.
      const done = request.catch(() => {}).finally(() => {
        if (releasing.get(key) === done) releasing.delete(key);
      });
      releasing.set(key, done);
    };
  } catch (e) {
    if (e instanceof LightningDbError) throw e;
    if (why === 'ABORTED') throw abortedError(what);
    if (why === 'TIMEOUT')
      throw new LightningDbError('TIMEOUT', `${what}: waited ${timeout} ms for another tab or window of this site to close it`);
    throw new LightningDbError('IO', `${what}: the Web Locks request failed: ${String((e as Error)?.message ?? e)}`);
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
}
