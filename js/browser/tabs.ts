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
 */
import { LightningDbError } from '../errors.js';

export interface TabLockOptions {
  /** Wait for the other tab instead of failing with BUSY. Default false. */
  waitForLock?: boolean;
  /** Abort waiting. */
  signal?: AbortSignal;
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

/** Takes the tab lock of `name`; resolves to a function releasing it.
 * Rejects with BUSY (default) when another tab holds it. */
export async function acquireTabLock(store: string, name: string, opts: TabLockOptions = {}): Promise<() => void> {
  const locks = locksApi();
  if (!locks) return () => {};
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const got = await new Promise<boolean>((resolve, reject) => {
    locks
      .request(lockName(store, name), { mode: 'exclusive', ifAvailable: !opts.waitForLock, signal: opts.signal },
        async (lock) => {
          if (!lock) {
            resolve(false);
            return;
          }
          resolve(true);
          await held;
        })
      .catch(reject);
  });
  if (!got)
    throw new LightningDbError('BUSY',
      `database "${name}" is open in another tab or window of this site; close it there, ` +
      'or open with { waitForLock: true } to wait for it');
  return release;
}
