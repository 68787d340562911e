#!/usr/bin/env node
// Bundles the browser entry (js/browser/index.ts: main thread) and the
// database Worker (js/browser/worker.ts) with esbuild into dist/esm/browser/,
// next to a copy of lightningdb.wasm (the Worker fetches it relative to its
// own URL). Needs build/wasm/ from scripts/build-wasm.sh.
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
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
mkdirSync(out, { recursive: true });
// No stale chunks; declarations (*.d.ts, from js/browser/tsconfig.json) stay.
for (const f of readdirSync(out)) if (!f.endsWith('.d.ts')) rmSync(join(out, f), { force: true });
await build({
  entryPoints: { index: join(root, 'js/browser/index.ts'), worker: join(root, 'js/browser/worker.ts'), broker: join(root, 'js/browser/broker.ts') },
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
const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'js/browser/tsconfig.json')], { stdio: 'inherit' });
if (tsc.status !== 0) {
  console.error('build-browser: declarations failed');
  process.exit(1);
}
console.log(`build-browser: ${out}/{index.js,worker.js,broker.js,lightningdb.wasm}`);
