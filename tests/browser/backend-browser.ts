/**
 * backend-browser.ts — the shared API suite's backends inside a dedicated
 * Worker in Chromium: the wasm engine over OPFS ('opfs') or IndexedDB
 * ('indexeddb').
 *
 * The suite opens databases synchronously, but OPFS sync access handles and
 * IndexedDB connections are obtained asynchronously, so this backend opens
 * a pool of stores up front (tmpName() hands out pool names) and keeps them
 * open across close/reopen; destroy() empties a store and returns its name
 * to the pool. The stores themselves are the production ones.
 */
/// <reference path="../../js/wasm/lightningdb-module.d.ts" />
import { Database } from '../../js/database.js';
import createLightningDbModule from '../../build/wasm/lightningdb.mjs';
import { WasmEngine } from '../../js/wasm/engine.js';
import { loadModule } from '../../js/wasm/module.js';
import { IdbStore } from '../../js/wasm/stores/idb.js';
import { ENGINE_FILES, OpfsStore } from '../../js/wasm/stores/opfs.js';
import type { PageStore } from '../../js/wasm/stores/types.js';
import type { Backend } from '../api/backend.js';

const POOL = 12;

/** Delegates to a real store but stays open when the engine releases it. */
class Pinned implements PageStore {
  constructor(readonly inner: PageStore) {}
  get id() { return this.inner.id; }
  get kind() { return this.inner.kind; }
  open(n: string, c: boolean) { return this.inner.open(n, c); }
  read(f: number, o: number, d: Uint8Array) { return this.inner.read(f, o, d); }
  write(f: number, o: number, s: Uint8Array) { this.inner.write(f, o, s); }
  sync(f: number) { this.inner.sync(f); }
  size(f: number) { return this.inner.size(f); }
  truncate(f: number, s: number) { this.inner.truncate(f, s); }
  close(f: number) { this.inner.close(f); }
  lock(e: boolean) { this.inner.lock(e); }
  unlock() { this.inner.unlock(); }
  remove(n: string) { this.inner.remove(n); }
  durable() { return this.inner.durable(); }
  release() { this.inner.unlock(); }
}

export async function browserBackend(kind: 'opfs' | 'indexeddb'): Promise<Backend> {
  const pool = new Map<string, Pinned>();
  const free: string[] = [];
  for (let i = 0; i < POOL; i++) {
    const name = `api-suite-${kind}-${i}`;
    if (kind === 'opfs') {
      await OpfsStore.destroy(name);
      pool.set(name, new Pinned(await OpfsStore.open(name)));
    } else {
      await IdbStore.destroy(name);
      pool.set(name, new Pinned(await IdbStore.open(name)));
    }
    free.push(name);
  }
  const module = await loadModule({ factory: createLightningDbModule });
  const engine = new WasmEngine(module, (name) => {
    const s = pool.get(name);
    if (!s) throw Object.assign(new Error(`browser backend: ${name} is not a pool name (use tmpName())`), { code: 'IO' });
    return s;
  });
  const used = new Set<string>();
  return {
    open: (name, options) => new Database(engine, name, options),
    tmpName: () => {
      const n = free.shift();
      if (!n) throw new Error(`browser backend: more than ${POOL} databases at once`);
      used.add(n);
      return n;
    },
    destroy: async (name) => {
      const s = pool.get(name);
      if (!s || !used.has(name)) return;
      used.delete(name);
      const files = s.inner instanceof IdbStore ? s.inner.list() : ENGINE_FILES;
      for (const f of files) s.inner.remove(f);
      await s.inner.durable().catch(() => {});
      free.push(name);
    },
    persistent: true,
  };
}
