/**
 * backend.ts — the only import of the shared API suite (tests/api/*.test.ts).
 * It picks the engine the suite runs against from LDB_BACKEND (an
 * environment variable in Node, or globalThis.LDB_BACKEND in a browser
 * Worker) and exports the helpers the tests use, so one suite runs on
 * every backend:
 *   - 'native' (default): the N-API addon over POSIX files (Node).
 * Backends add themselves in `load()` below. Node-specific code stays in
 * the backend-*.ts files, loaded only when selected, so this file runs in
 * a browser too.
 */
import type { Database as TypedDatabase, OpenOptions, Transaction as TypedTransaction } from '../../js/database.js';

export type { OpenOptions, ScanIterator, ScanOptions } from '../../js/database.js';
/** The suite also checks what wrong keys and values do at run time, so it
 * uses the databases untyped (the typed API is tested in tests/package/types). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Database = TypedDatabase<any, any>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Transaction = TypedTransaction<any, any>;
export { LightningDbError } from '../../js/errors.js';
/** The retry backoff of transactionAsync (its timer is injectable). */
export { RETRY_BASE_MS, RETRY_CAP_MS, retryBound, retryTimer } from '../../js/retry.js';
export * from './assert.js';

/** What a backend provides. */
export interface Backend {
  /** Opens (creating when missing) the database called name. */
  open(name: string, options?: OpenOptions): Database;
  /** A fresh database name that does not exist yet. */
  tmpName(): string;
  /** Removes a (closed) database; may be a no-op. */
  destroy(name: string): void | Promise<void>;
  /** Whether this backend keeps data across close/open (all do so far). */
  readonly persistent: boolean;
}

const g = globalThis as { process?: { env?: Record<string, string | undefined> }; LDB_BACKEND?: string };
export const backendName: string = g.process?.env?.LDB_BACKEND || g.LDB_BACKEND || 'native';

async function load(name: string): Promise<Backend> {
  switch (name) {
    case 'native':
      return (await import('./backend-native.js')).backend;
    case 'wasm-file':
    case 'wasm-memory':
    case 'browser-opfs':
    case 'browser-idb':
      return (await import('./backend-wasm.js')).load(name);
    default:
      throw new Error(`unknown LDB_BACKEND '${name}'`);
  }
}

export const backend: Backend = await load(backendName);

const opened = new Map<Database, { name: string; options?: OpenOptions }>();
const names = new Set<string>();

export function tmpName(): string {
  const n = backend.tmpName();
  names.add(n);
  return n;
}

/** Opens name (default: a fresh one); closed and removed by cleanup(). */
export function openDb(name: string = tmpName(), options?: OpenOptions): Database {
  if (typeof name === 'string') names.add(name);
  const db = backend.open(name, options);
  opened.set(db, { name, options });
  return db;
}

/** The name a database was opened under. */
export function nameOf(db: Database): string {
  const e = opened.get(db);
  if (!e) throw new Error('nameOf: database not opened through openDb');
  return e.name;
}

/** Closes db and opens its name again (same options unless given). */
export function reopen(db: Database, options?: OpenOptions): Database {
  const e = opened.get(db);
  if (!e) throw new Error('reopen: database not opened through openDb');
  db.close();
  opened.delete(db);
  return openDb(e.name, options ?? e.options);
}

/** Closes every database opened here and removes every name created here;
 * call from afterEach. */
export async function cleanup(): Promise<void> {
  for (const db of opened.keys()) {
    try {
      db.close();
    } catch {
      /* already failing tests report their own errors */
    }
  }
  opened.clear();
  const list = [...names];
  names.clear();
  for (const n of list) await backend.destroy(n);
}

const te = new TextEncoder();
const td = new TextDecoder();
/** UTF-8 bytes of s. */
export const bytes = (s: string): Uint8Array => te.encode(s);
/** s decoded from UTF-8 bytes. */
export const text = (b: Uint8Array): string => td.decode(b);

/** Unsigned byte order (the database's key order). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** A deterministic pseudo-random generator (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Bytes of length n filled from a seed (cheap to regenerate and check). */
export function pattern(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed * 2654435761 >>> 0;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}
