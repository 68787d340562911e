#!/usr/bin/env node
// Bundles the browser entry (js/browser/index.ts: main thread) and the
// database Worker (js/browser/worker.ts) with esbuild into dist/esm/browser/,
// next to a copy of lightningdb.wasm (the Worker fetches it relative to its
// own URL). Needs build/wasm/ from scripts/build-wasm.sh.
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const wasm = join(root, 'build/wasm/lightningdb.wasm');
if (!existsSync(wasm)) {
  console.error('build-browser: build/wasm/lightningdb.wasm missing; run scripts/build-wasm.sh first');
  process.exit(1);
}
// dist/esm/browser/ is the package's "browser" export (package.json).
const out = join(root, 'dist/esm/browser');
rmSync(out, { recursive: true, force: true }); // no stale chunks
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { index: join(root, 'js/browser/index.ts'), worker: join(root, 'js/browser/worker.ts') },
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: !process.argv.includes('--no-minify'),
  sourcemap: true,
  logLevel: 'warning',
});
copyFileSync(wasm, join(out, 'lightningdb.wasm'));
console.log(`build-browser: ${out}/{index.js,worker.js,lightningdb.wasm}`);
