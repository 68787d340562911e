/**
 * index.ts — the Node entry point of LightningDB: open(), Database,
 * Transaction, LightningDbError and the types, with the native engine
 * (N-API addon) as the default engine.
 */
import { Database, setDefaultEngine, type KeyOf, type OpenOptions, type ValueOf } from './database.js';
import { nativeEngine } from './native/engine.js';
import './ops/index.js'; // adds Database.prototype.serve

const engine = nativeEngine();
setDefaultEngine(engine);

/** Opens the database in directory `path` (created when missing unless
 * createIfMissing is false) and returns it, synchronously. Its key and
 * value types follow the encodings: Buffer for 'binary' (the default),
 * string for 'utf8', unknown for 'json' — or name them:
 * `open<string, Note>(path, { keyEncoding: 'utf8', valueEncoding: 'json' })`. */
export function open<O extends OpenOptions = {}>(path: string, options?: O): Database<KeyOf<O, Buffer>, ValueOf<O, Buffer>, Buffer>;
export function open<K, V>(path: string, options?: OpenOptions): Database<K, V, Buffer>;
export function open(path: string, options?: OpenOptions): Database<unknown, unknown> {
  return new Database(engine, path, options);
}

/** The C library version (ldb_version()). */
export function version(): string {
  return engine.version();
}

export { Database, Transaction, setDefaultEngine } from './database.js';
export type {
  OpenOptions, ScanOptions, ScanIterator, BatchOp, TransactionOptions, Compression, SyncMode, DatabaseEvent,
  Input, Decoded, KeyOf, ValueOf, SubKeyOf, SubValueOf,
} from './database.js';
export type { SubOptions, RangeScope, ClearOptions, CheckResult } from './database.js';
export type { CustomEncoding } from './encodings.js';
export { LightningDbError, LightningDbTypeError, ERROR_CODES } from './errors.js';
export type { ErrorCode } from './errors.js';
export type { Metrics, HealthReport, LatencySummary, HitRateSource } from './metrics.js';
export type { EncodingName } from './encodings.js';
export type { Engine, EngineDb, EngineTxn, EngineIterator, EngineOpenOptions, EngineIterOptions, EngineOp, EngineStats, EngineEvent } from './engine.js';
export { nativeEngine } from './native/engine.js';
export { loadAddon, addonCandidates, loadedAddonPath } from './native/addon.js';
export * from './ops/index.js';
