/**
 * stores/lightningdb-wasm.mjs — LightningDB compiled to WebAssembly, run in
 * Node (js/wasm/node.ts openWasm), through the same public API as native.
 */
import fs from 'node:fs';
import { runChild } from '../child.mjs';
import { loadWasm, lightningAdapter } from '../lightningdb.mjs';

runChild('lightningdb-wasm', async (dir) => {
  const m = await loadWasm();
  if (typeof m.openWasm !== 'function') throw new Error('js/wasm/node.ts exports no openWasm()');
  const own = JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')).version;
  return lightningAdapter(dir, (p, o) => { fs.mkdirSync(p.replace(/\/db$/, ''), { recursive: true }); return m.openWasm(p, o); },
    "LightningDB WebAssembly in Node: syncMode 'normal', 'full' for fillsync; cacheSize 64 MiB", own);
});
