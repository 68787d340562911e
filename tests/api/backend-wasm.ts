/**
 * backend-wasm.ts — the WebAssembly backends of the shared API suite,
 * selected by backend.ts from LDB_BACKEND:
 *   - 'wasm-file'   (Node): the wasm engine over directories of ordinary
 *                   files (js/wasm/stores/node-fs.ts), same bytes as native;
 *   - 'wasm-memory' (Node): the wasm engine over in-memory stores;
 *   - 'browser-opfs' / 'browser-idb' (a dedicated Worker in Chromium, run
 *                   by tests/browser/run.mjs): OPFS sync access handles or
 *                   IndexedDB, see tests/browser/backend-browser.ts.
 * Node modules are imported only inside the Node branch, so the browser
 * bundle never executes them.
 */
import { Database } from '../../js/database.js';
import type { Backend } from './backend.js';

export async function load(name: string): Promise<Backend> {
  if (name === 'browser-opfs' || name === 'browser-idb') {
    const { browserBackend } = await import('../browser/backend-browser.js');
    return browserBackend(name === 'browser-opfs' ? 'opfs' : 'indexeddb');
  }
  if (name !== 'wasm-file' && name !== 'wasm-memory') throw new Error(`backend-wasm: unknown backend ${name}`);
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { wasmEngine, destroyMemory } = await import('../../js/wasm/node.js');
  const kind = name === 'wasm-file' ? 'file' : 'memory';
  const engine = await wasmEngine(kind);
  const base = fs.mkdtempSync(path.join(os.tmpdir(), `ldb-api-${name}-`));
  process.on('exit', () => fs.rmSync(base, { recursive: true, force: true }));
  let counter = 0;
  return {
    open: (n, options) => new Database(engine, n, options),
    tmpName: () => path.join(base, `db-${++counter}`),
    destroy: (n) => {
      if (kind === 'file') fs.rmSync(n, { recursive: true, force: true });
      else destroyMemory(n);
    },
    persistent: true,
  };
}
