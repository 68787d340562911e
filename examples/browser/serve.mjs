#!/usr/bin/env node
// `npm run example:browser`: bundles the browser entry (if needed) and
// serves the repository on http://127.0.0.1:8080/examples/browser/ with the
// cross-origin isolation headers. Ctrl-C to stop.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '../../tests/browser/server.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
if (!existsSync(join(root, 'dist/esm/browser/worker.js'))) {
  if (!existsSync(join(root, 'build/wasm/lightningdb.wasm'))) {
    console.error('build the WebAssembly module first: npm run build:wasm');
    process.exit(1);
  }
  const r = spawnSync(process.execPath, [join(root, 'scripts/build-browser.mjs')], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const port = Number(process.env.PORT || 8080);
const server = await serve(root, { port });
console.log(`LightningDB browser example: http://127.0.0.1:${server.address().port}/examples/browser/`);
