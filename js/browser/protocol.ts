/**
 * protocol.ts — the messages between the main-thread proxy (index.ts) and
 * the Worker hosting the database (worker.ts). Every request carries an id;
 * the Worker answers each with exactly one Reply of the same id.
 */

export type Request =
  | { id: number; op: 'open'; name: string; options: Record<string, unknown> }
  | { id: number; op: 'call'; method: string; args: unknown[] }
  | { id: number; op: 'backup'; target: string }
  | { id: number; op: 'iter'; txn: number; method: string; args: unknown[] }
  | { id: number; op: 'iterNext'; iter: number; max: number }
  | { id: number; op: 'iterSeek'; iter: number; key: unknown }
  | { id: number; op: 'iterClose'; iter: number }
  | { id: number; op: 'begin'; options: Record<string, unknown> }
  | { id: number; op: 'txn'; txn: number; method: string; args: unknown[] }
  | { id: number; op: 'close' }
  /** Gives up request `target` (no reply of its own): when it has not
   * started, it is answered with `code` and never runs; when it has, a
   * TIMEOUT is answered at once (its outcome is then unknown) and an
   * ABORTED is ignored (it is answered with its real outcome). */
  | { id: number; op: 'cancel'; target: number; code: 'ABORTED' | 'TIMEOUT' };

/** The Worker's first message, posted when its script and imports have
 * loaded (before it, a Worker error means the script could not load). */
export interface Hello {
  id: 0;
  hello: true;
}

export interface WireError {
  name: string;
  code?: string;
  message: string;
}

export type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: WireError };

/** Database methods the proxy forwards as-is (sync ones become promises). */
export const DB_METHODS = [
  'get', 'has', 'getBatch', 'put', 'delete', 'putBatch', 'deleteBatch', 'batch',
  'putAsync', 'deleteAsync', 'putBatchAsync', 'deleteBatchAsync', 'batchAsync',
  'flush', 'flushAsync', 'checkpoint', 'metrics', 'metricsText', 'healthCheck', 'check',
] as const;

/** The DB_METHODS that write: pipelined by the Worker (it goes on with the
 * next request while their durability is awaited). */
export const WRITE_METHODS = [
  'put', 'delete', 'putBatch', 'deleteBatch', 'batch',
  'putAsync', 'deleteAsync', 'putBatchAsync', 'deleteBatchAsync', 'batchAsync', 'flushAsync',
] as const;

/** Methods returning iterables of entries (or keys / values). */
export const SCAN_METHODS = ['scan', 'scanPrefix', 'scanReverse', 'keys', 'values'] as const;

/** Transaction methods forwarded as-is. */
export const TXN_METHODS = ['get', 'has', 'put', 'delete', 'commit', 'commitAsync', 'abort'] as const;

/** Most entries per postMessage when streaming a scan. */
export const SCAN_CHUNK = 256;
/** Most bytes (keys + values) per postMessage when streaming a scan; a
 * single larger entry travels alone. */
export const SCAN_BYTES = 1 << 20;
/** Entries of the first message of a scan: the first entry arrives after
 * a small message whatever comes after it. */
export const SCAN_FIRST = 16;
