/**
 * index.ts — the Node entry point of LightningDB: open(), Database,
 * Transaction, LightningDbError and the types, with the native engine
 * (N-API addon) as the default engine.
 */
import { Database, setDefaultEngine, type OpenOptions } from './database.js';
import { nativeEngine } from './native/engine.js';
import './ops/index.js'; // adds Database.prototype.serve

const engine = nativeEngine();
setDefaultEngine(engine);

/** Opens the database in directory `path` (created when missing unless
 * createIfMissing is false) and returns it, synchronously. */
export function open(path: string, options?: OpenOptions): Database {
  return new Database(engine, path, options);
}

/** The C library version (ldb_version()). */
export function version(): string {
  return engine.version();
}

export { Database, Transaction, setDefaultEngine } from './database.js';
export type {
  OpenOptions, ScanOptions, ScanIterator, BatchOp, TransactionOptions, Compression, SyncMode, DatabaseEvent,
} from './database.js';
export type { SubOptions, RangeScope, ClearOptions } from './database.js';
export type { CustomEncoding } from './encodings.js';
export { LightningDbError, ERROR_CODES } from './errors.js';
export type { ErrorCode } from './errors.js';
export type { Metrics, HealthReport, LatencySummary } from './metrics.js';
export type { EncodingName } from './encodings.js';
export type { Engine, EngineDb, EngineTxn, EngineIterator, EngineOpenOptions, EngineIterOptions, EngineOp, EngineStats, EngineEvent } from './engine.js';
export { nativeEngine } from './native/engine.js';
export { loadAddon, addonCandidates, loadedAddonPath } from './native/addon.js';
export * from './ops/index.js';
