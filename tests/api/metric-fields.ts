/* metric-fields.ts — the fields of metrics() that the README documents
 * (its Monitoring section), for the tests that check a backend returns
 * each of them: tests/api/metrics.test.ts (every engine) and
 * tests/browser/page-tests.ts (a tab's database, through its Worker). */

/** On every backend. */
export const METRIC_FIELDS = [
  'engine', 'uptimeSeconds', 'opsPerSec', 'latency',
  'gets', 'puts', 'deletes', 'batches', 'commits', 'conflicts', 'aborts', 'rangeDeletes', 'counts',
  'cacheHits', 'cacheMisses', 'cacheEvictions', 'cacheHitRate', 'cacheHitRateSource',
  'mmapBytes', 'mmapSampledResident', 'mmapSampledFaults', 'mmapResidentBytes', 'mmapReleasedBytes',
  'cacheBytes', 'cacheCapacity', 'activeTransactions', 'activeSnapshots', 'memtableBytes', 'memtableLimit',
  'dataFileSize', 'logFileSize', 'pageSize', 'pageCount', 'freePages',
  'bytesRead', 'bytesWritten', 'syncs', 'checkpoints', 'lastSeq', 'checkpointSeq',
  'logRetainedBytes', 'logRetainedSegments', 'logRetainedSince', 'compression', 'corruptReads', 'backgroundError',
] as const;

/** The fields metrics() returns on an engine of kind `engine` (heapBytes:
 * WebAssembly only), plus `extra` (e.g. the browser's `store`), sorted.
 * (`replication` is there only while a publisher or follower runs.) */
export function metricFields(engine: string, extra: string[] = []): string[] {
  return [...METRIC_FIELDS, ...(engine === 'wasm' ? ['heapBytes'] : []), ...extra].sort();
}
