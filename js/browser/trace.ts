/**
 * trace.ts — the hand-off trace of shared databases (issue 11), for
 * debugging: off unless asked for, and then one console.debug line per
 * step of an owner change (who owns what, which calls wait, are resent or
 * fail, which subscriptions resume where).
 *
 * Turn it on by setting `globalThis.LDB_TRACE = true` on the page before
 * open(): open() passes it on to the Worker it starts (worker.ts). Lines
 * read `[ldb <who> <wall clock ms mod 1e6>] <what>`; the clock is the
 * wall clock so that the lines of every tab and Worker sort together.
 * tests/browser/run.mjs turns it on with LDB_TRACE=1 and prints the lines
 * of a failed check.
 */

let forced = false;

/** Turns the trace on in this context (the Worker, from open()'s options). */
export function setTrace(on: boolean): void {
  forced = on;
}

export function tracing(): boolean {
  return forced || (globalThis as { LDB_TRACE?: unknown }).LDB_TRACE === true;
}

/** One trace line; `what` is only called when tracing (no cost otherwise). */
export function trace(who: string, what: () => string): void {
  if (!tracing()) return;
  console.debug(`[ldb ${who} ${Date.now() % 1e6}] ${what()}`);
}

/** With the trace on, the state of every Channel of this page (owner,
 * calls waiting) is one call away for a debugger or a test that sees a
 * call hang: `globalThis.LDB_TRACE_STATE()` returns one line per Channel. */
export function traceState(state: () => string): void {
  const g = globalThis as { LDB_TRACE_STATE?: () => string[] };
  const prev = g.LDB_TRACE_STATE;
  g.LDB_TRACE_STATE = () => [...(prev?.() ?? []), state()];
}
