/**
 * harness.ts — a minimal mocha-compatible test runner for the browser
 * (page or Worker): describe/it/before/after/beforeEach/afterEach with
 * async functions, it.skip/describe.skip, this.timeout(). Installs the
 * globals so the shared API suite (tests/api/*.test.ts) runs unchanged;
 * run() returns real counts and every failure with its message.
 */
type Fn = (this: Ctx) => unknown;
interface Ctx {
  timeout(ms?: number): Ctx | number;
  slow(ms?: number): Ctx;
  skip(): never;
  retries(n: number): Ctx;
}
interface Test { title: string; fn?: Fn; skip: boolean }
interface Suite {
  title: string;
  parent?: Suite;
  skip: boolean;
  tests: Array<Test | Suite>;
  before: Fn[];
  after: Fn[];
  beforeEach: Fn[];
  afterEach: Fn[];
}
export interface Failure { title: string; error: string }
export interface Results { passed: number; failed: number; skipped: number; failures: Failure[]; durationMs: number }

const root: Suite = { title: '', skip: false, tests: [], before: [], after: [], beforeEach: [], afterEach: [] };
let current = root;

class SkipSignal extends Error {}

function makeCtx(state: { timeout: number }): Ctx {
  const ctx: Ctx = {
    timeout(ms?: number) {
      if (ms === undefined) return state.timeout;
      state.timeout = ms;
      return ctx;
    },
    slow() { return ctx; },
    retries() { return ctx; },
    skip(): never { throw new SkipSignal('skipped'); },
  };
  return ctx;
}

async function call(fn: Fn, title: string, defaultTimeout: number): Promise<void> {
  const state = { timeout: defaultTimeout };
  const ctx = makeCtx(state);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const runP = new Promise<void>((resolve, reject) => {
    try {
      if (fn.length > 0) {
        // Callback style: fn(done).
        (fn as unknown as (this: Ctx, done: (e?: unknown) => void) => void).call(ctx, (e?: unknown) => (e ? reject(e) : resolve()));
      } else {
        Promise.resolve(fn.call(ctx)).then(() => resolve(), reject);
      }
    } catch (e) {
      reject(e);
    }
  });
  const timeoutP = new Promise<void>((_, reject) => {
    const arm = () => {
      timer = setTimeout(() => reject(new Error(`timeout of ${state.timeout}ms exceeded: ${title}`)), state.timeout);
    };
    // The fn may change the timeout synchronously; arm after it started.
    queueMicrotask(arm);
  });
  try {
    await Promise.race([runP, timeoutP]);
  } finally {
    clearTimeout(timer);
  }
}

function fullTitle(s: Suite | undefined, t: string): string {
  const parts: string[] = [t];
  for (let p = s; p && p !== root; p = p.parent) parts.unshift(p.title);
  return parts.join(' > ');
}

function errText(e: unknown): string {
  const err = e as { code?: string; stack?: string; message?: string };
  return `${err?.code ? `[${err.code}] ` : ''}${err?.stack ?? err?.message ?? String(e)}`.slice(0, 2000);
}

export function install(g: Record<string, unknown> = globalThis as unknown as Record<string, unknown>): void {
  const describe = (title: string, fn: () => void, skip = false) => {
    const s: Suite = { title, parent: current, skip: skip || current.skip, tests: [], before: [], after: [], beforeEach: [], afterEach: [] };
    current.tests.push(s);
    const prev = current;
    current = s;
    try {
      fn.call({ timeout() {}, slow() {} } as never);
    } finally {
      current = prev;
    }
  };
  const it = (title: string, fn?: Fn) => current.tests.push({ title, fn, skip: !fn || current.skip });
  g.describe = Object.assign(describe, { skip: (t: string, f: () => void) => describe(t, f, true), only: describe });
  g.context = g.describe;
  g.it = Object.assign(it, {
    skip: (title: string) => current.tests.push({ title, skip: true }),
    only: it,
  });
  g.specify = g.it;
  g.before = (fn: Fn) => current.before.push(fn);
  g.after = (fn: Fn) => current.after.push(fn);
  g.beforeEach = (fn: Fn) => current.beforeEach.push(fn);
  g.afterEach = (fn: Fn) => current.afterEach.push(fn);
}

function chain(s: Suite | undefined, pick: (s: Suite) => Fn[], outerFirst: boolean): Fn[] {
  const list: Fn[][] = [];
  for (let p = s; p; p = p.parent) list.push(pick(p));
  if (outerFirst) list.reverse();
  return list.flat();
}

/** The grep pattern of this run: `?grep=` of a Worker bundle's URL or
 * window.LDB_GREP in the page (set by run.mjs --grep). */
export function grepParam(): string | undefined {
  const g = globalThis as unknown as { LDB_GREP?: string; location?: { search?: string } };
  return g.LDB_GREP || new URLSearchParams(g.location?.search ?? '').get('grep') || undefined;
}

export async function run(opts: { timeout?: number; grep?: string; onResult?: (title: string, ok: boolean, error?: string) => void } = {}): Promise<Results> {
  const timeout = opts.timeout ?? 10000;
  const grep = opts.grep ?? grepParam();
  const pattern = grep ? new RegExp(grep) : null;
  const res: Results = { passed: 0, failed: 0, skipped: 0, failures: [], durationMs: 0 };
  const t0 = Date.now();
  const fail = (title: string, e: unknown) => {
    res.failed++;
    res.failures.push({ title, error: errText(e) });
    opts.onResult?.(title, false, errText(e));
  };
  const count = (s: Suite): number => s.tests.reduce((n, t) => n + ('tests' in t ? count(t) : 1), 0);
  // Only the tests whose full title matches --grep (hooks of suites without one are skipped).
  const wanted = (s: Suite): boolean =>
    s.tests.some((t) => ('tests' in t ? wanted(t) : !pattern || pattern.test(fullTitle(s, t.title))));
  async function runSuite(s: Suite): Promise<void> {
    if (s.skip) {
      res.skipped += count(s);
      return;
    }
    if (!wanted(s)) return;
    try {
      for (const h of s.before) await call(h, fullTitle(s, '"before all" hook'), timeout);
    } catch (e) {
      if (e instanceof SkipSignal) res.skipped += count(s);
      else fail(fullTitle(s, '"before all" hook'), e);
      return;
    }
    for (const t of s.tests) {
      if ('tests' in t) {
        await runSuite(t);
        continue;
      }
      const title = fullTitle(s, t.title);
      if (pattern && !pattern.test(title)) continue;
      if (t.skip || !t.fn) {
        res.skipped++;
        continue;
      }
      let ok = true;
      let skipped = false;
      try {
        for (const h of chain(s, (x) => x.beforeEach, true)) await call(h, `${title} "before each" hook`, timeout);
        await call(t.fn, title, timeout);
      } catch (e) {
        if (e instanceof SkipSignal) skipped = true;
        else {
          ok = false;
          fail(title, e);
        }
      }
      try {
        for (const h of chain(s, (x) => x.afterEach, false)) await call(h, `${title} "after each" hook`, timeout);
      } catch (e) {
        if (ok && !skipped) {
          ok = false;
          fail(`${title} "after each" hook`, e);
        }
      }
      if (skipped) res.skipped++;
      else if (ok) {
        res.passed++;
        opts.onResult?.(title, true);
      }
    }
    for (const h of s.after) {
      try {
        await call(h, fullTitle(s, '"after all" hook'), timeout);
      } catch (e) {
        fail(fullTitle(s, '"after all" hook'), e);
      }
    }
  }
  await runSuite(root);
  res.durationMs = Date.now() - t0;
  return res;
}
