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
  | { id: number; op: 'close' };

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

/** Methods returning iterables of entries (or keys / values). */
export const SCAN_METHODS = ['scan', 'scanPrefix', 'scanReverse', 'keys', 'values'] as const;

/** Transaction methods forwarded as-is. */
export const TXN_METHODS = ['get', 'has', 'put', 'delete', 'commit', 'commitAsync', 'abort'] as const;

/** Entries per postMessage when streaming a scan. */
export const SCAN_CHUNK = 256;
