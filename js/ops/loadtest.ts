/**
 * loadtest.ts — a bounded read/write mix against a scratch database: the
 * diagnostics page's load-test panel and `lightningdb bench` both run it.
 *
 * The scratch database lives in a fresh temporary directory (or one the
 * caller names, which must not hold a database) and is deleted afterwards
 * when it was a temporary one. Work runs in slices of a few milliseconds
 * with the event loop free between them, so a server keeps answering
 * while a test runs. Every size is bounded (see LOAD_TEST_LIMITS).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as yieldLoop } from 'node:timers/promises';
import { Database } from '../database.js';
import type { Engine } from '../engine.js';
import { loadTestOptions, runMix, type LoadTestOptions, type LoadTestProgress, type LoadTestResult } from './loadmix.js';

export { LOAD_TEST_LIMITS, loadTestOptions } from './loadmix.js';
export type { LoadTestOptions, LoadTestPoint, LoadTestProgress, LoadTestResult } from './loadmix.js';

/**
 * Runs the mix with `engine` (e.g. db.engine of a served database) on a
 * scratch database and resolves with the result. `signal` stops it early
 * (the result then covers the time run). Throws for bad options, and the
 * engine's error if the scratch database fails.
 */
export async function runLoadTest(
  engine: Engine, options: LoadTestOptions = {}, onProgress?: (p: LoadTestProgress) => void, signal?: AbortSignal,
): Promise<LoadTestResult> {
  const o = loadTestOptions(options);
  const temporary = o.dir === undefined;
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'lightningdb-loadtest-'));
  const db = new Database(engine, join(dir, temporary ? 'db' : ''), {
    cacheSize: o.cacheSize, syncMode: o.syncMode, errorIfExists: true,
  });
  try {
    const r = await runMix(db, o, yieldLoop, onProgress, signal);
    return { ...r, options: { ...o, dir } };
  } finally {
    db.close();
    if (temporary) rmSync(dir, { recursive: true, force: true });
  }
}
