/**
 * stores/lightningdb.mjs — LightningDB native (N-API addon) child, through
 * the public TypeScript API: put/putBatch/get/getBatch/scan.
 */
import fs from 'node:fs';
import { runChild } from '../child.mjs';
import { loadNative, lightningAdapter } from '../lightningdb.mjs';

runChild('lightningdb', async (dir) => {
  const ldb = await loadNative();
  const open = ldb.open || ldb.Database?.create;
  if (typeof open !== 'function') throw new Error('js/index.ts exports no open()');
  const own = JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')).version;
  return lightningAdapter(dir, (p, o) => { fs.mkdirSync(p.replace(/\/db$/, ''), { recursive: true }); return open(p, o); },
    "LightningDB native (N-API): syncMode 'normal', 'full' for fillsync; cacheSize 64 MiB", own);
});
