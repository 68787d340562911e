/**
 * lightningdb.mjs — loads LightningDB for the benchmark children and builds
 * the adapter shared by the native and the WebAssembly child.
 *
 * The TypeScript sources in js/ are imported through tsx (transpiled once at
 * load, so nothing of it is in any timed loop); the native addon and the wasm
 * module they load must be built, which `npm run bench` does first
 * (run.mjs calls `npm run build`).
 */
import path from 'node:path';
import { tsImport } from 'tsx/esm/api';

const root = new URL('../../', import.meta.url);

export async function loadNative() {
  return tsImport(new URL('js/index.ts', root).href, import.meta.url);
}

export async function loadWasm() {
  return tsImport(new URL('js/wasm/node.ts', root).href, import.meta.url);
}

/**
 * Adapter over the public Database API (/js/database.ts). `openDb(path,
 * options)` returns a Database or a promise of one. Modes: 'sync' opens with
 * syncMode 'full' (commit returns after the log fsync); everything else with
 * the default 'normal' (crash-consistent, synced within syncIntervalMs).
 */
export function lightningAdapter(dir, openDb, describe, version) {
  const dbs = {};
  const pathOf = (kind) => path.join(dir, kind);
  return {
    version,
    describe,
    pathOf,
    threadPath: (kind) => path.join(pathOf(kind), 'db'),
    async open(kind) {
      dbs[kind] = await openDb(path.join(pathOf(kind), 'db'), {
        syncMode: kind === 'sync' ? 'full' : 'normal',
        cacheSize: 64 << 20,
      });
    },
    close(kind) { dbs[kind].close(); delete dbs[kind]; },
    putBatch(kind, pairs) { dbs[kind].putBatch(pairs); },
    put(kind, k, v) { dbs[kind].put(k, v); },
    putAsync(kind, k, v) { return dbs[kind].putAsync(k, v); },
    get(kind, k) { return dbs[kind].get(k); },
    getBatch(kind, keys) { return dbs[kind].getBatch(keys); },
    checkpoint(kind) { return dbs[kind].checkpoint(); },
    scan(kind, reverse) {
      let c = 0;
      for (const [, v] of dbs[kind].scan({ reverse })) { if (v) c++; }
      return c;
    },
    seek(kind, k, n) {
      let c = 0;
      for (const [, v] of dbs[kind].scan({ gte: k, limit: n })) { if (v) c++; }
      return c;
    },
  };
}
