/**
 * retry.ts — the wait between the attempts of transaction(fn, { retries })
 * that lost a CONFLICT (or, in the browser, OWNER_LOST). Shared by the
 * async forms: Database.transactionAsync here and RemoteDatabase.transaction
 * / transactionAsync (js/browser/index.ts). Rerunning at once makes the
 * writers that collided collide again (a browser tab lost all 51 attempts
 * against two other tabs incrementing one counter); a randomized
 * exponential backoff with full jitter (AWS Architecture Blog, "Exponential
 * Backoff And Jitter") spreads them out.
 *
 * The synchronous transaction(fn) of Node cannot wait without blocking the
 * thread, and the writers it collides with need that thread (same process)
 * or are not slowed by it (another process): it retries at once.
 */

/** The first retry waits up to this many milliseconds. */
export const RETRY_BASE_MS = 1;
/** Each later retry may wait twice as long as the one before, up to this. */
export const RETRY_CAP_MS = 64;

/** The upper bound of the wait before retry number `retry` (0 = the first
 * retry): min(RETRY_CAP_MS, RETRY_BASE_MS * 2^retry). */
export function retryBound(retry: number): number {
  return Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** Math.min(retry, 30));
}

/** How a retry waits ms milliseconds: a timer, so at least one turn of the
 * event loop passes and the other writers run. Injected (STYLE: clocks are
 * injected): only tests replace `wait`, to see the waits. */
export const retryTimer = {
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => globalThis.setTimeout(resolve, ms));
  },
};

/** Waits a random time in [0, retryBound(retry)) milliseconds ("full
 * jitter") before retry number `retry` (0 = the first). */
export function retryDelay(retry: number): Promise<void> {
  return retryTimer.wait(Math.random() * retryBound(retry));
}
