/**
 * idb-writer.ts — a Worker using the synchronous in-Worker API over
 * IndexedDB (run.mjs, suite idb-reload): awaits putAsync in a loop and
 * posts each key once its promise resolved ("acknowledged"), until the page
 * terminates it. Query: ?name=DATABASE.
 */
/// <reference lib="webworker" />
import { openInWorker } from '../../js/browser/host.js';

declare const self: DedicatedWorkerGlobalScope;

const name = new URLSearchParams(self.location.search).get('name') ?? 'idb-writer';
try {
  // No timer sync in the test's time: putAsync alone must make each durable.
  const db = await openInWorker(name, { store: 'indexeddb', syncIntervalMs: 60000 });
  const value = new Uint8Array(600).fill(7);
  self.postMessage({ opened: true });
  for (let i = 0; ; i++) {
    const key = `w${String(i).padStart(6, '0')}`;
    await db.putAsync(new TextEncoder().encode(key), value);
    self.postMessage({ acked: key });
  }
} catch (e) {
  self.postMessage({ error: `${(e as { code?: string }).code ?? ''} ${String((e as Error)?.message ?? e)}` });
}
