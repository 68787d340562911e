#!/usr/bin/env node
// scripts/build.mjs — builds the Node package: the N-API addon (CMake, into
// build/node/, then copied to prebuilds/<platform>-<arch>/ so the package is
// ready for `npm pack`) and the TypeScript (ESM + .d.ts with tsc into
// dist/esm, CommonJS with esbuild into dist/cjs, plus every js/*/tsconfig.json
// another part of the project adds, e.g. the browser entry).
// Usage: node scripts/build.mjs [--addon | --ts]   (default: both)
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const args = new Set(process.argv.slice(2));
const all = !args.has('--addon') && !args.has('--ts');

function run(cmd, argv, opts = {}) {
  console.log(`$ ${cmd} ${argv.join(' ')}`);
  const r = spawnSync(cmd, argv, { cwd: root, stdio: 'inherit', ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} exited with status ${r.status}`);
}

export function buildAddon() {
  const headers = require('node-api-headers').include_dir;
  const build = join(root, 'build', 'node');
  run('cmake', ['-S', '.', '-B', relative(root, build), '-DCMAKE_BUILD_TYPE=Release', '-DLDB_NODE=ON',
    '-DLDB_TESTS=OFF', '-DLDB_BENCH=OFF', `-DNODE_API_HEADERS_DIR=${headers}`], { stdio: ['ignore', 'ignore', 'inherit'] });
  run('cmake', ['--build', relative(root, build), '--target', 'lightningdb_node', '-j2']);
  const addon = join(build, 'lightningdb.node');
  const dest = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  mkdirSync(dest, { recursive: true });
  copyFileSync(addon, join(dest, 'lightningdb.node'));
  writeFileSync(join(build, '.built'), `${new Date().toISOString()}\n`); // freshness stamp for npm start
  console.log(`addon: ${relative(root, addon)} -> ${relative(root, dest)}/lightningdb.node`);
}

function copyDeclarations(from, to) {
  for (const name of readdirSync(from)) {
    const src = join(from, name);
    if (statSync(src).isDirectory()) copyDeclarations(src, join(to, name));
    else if (name.endsWith('.d.ts')) {
      mkdirSync(to, { recursive: true });
      copyFileSync(src, join(to, name));
    }
  }
}

export async function buildTs() {
  run(process.execPath, [join('scripts', 'gen-contract.mjs')]);
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  run(process.execPath, [tsc, '-p', 'tsconfig.json']);
  // Other entry points (browser Worker, wasm) bring their own tsconfig.
  for (const dir of readdirSync(join(root, 'js'))) {
    const cfg = join(root, 'js', dir, 'tsconfig.json');
    if (existsSync(cfg)) run(process.execPath, [tsc, '-p', relative(root, cfg)]);
  }
  // CommonJS bundles; import.meta.url becomes the bundle file's URL.
  const esbuild = await import('esbuild');
  // lightningdb, lightningdb/level (the abstract-level implementation) and
  // lightningdb/replication (its NATS client stays the app's own, a peer
  // dependency): one bundle each.
  const bundles = [['js/index.ts', 'dist/cjs/index.js'], ['js/level/index.ts', 'dist/cjs/level/index.js'],
    ['js/replication/index.ts', 'dist/cjs/replication/index.js']];
  for (const [entry, outfile] of bundles) {
    await esbuild.build({
      absWorkingDir: root,
      entryPoints: [entry],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node18',
      sourcemap: true,
      logLevel: 'warning',
      external: ['@nats-io/*'],
      define: { 'import.meta.url': '__lightningdb_import_meta_url' },
      banner: { js: 'const __lightningdb_import_meta_url = require("node:url").pathToFileURL(__filename).href;' },
    });
  }
  writeFileSync(join(root, 'dist', 'cjs', 'package.json'), '{ "type": "commonjs" }\n');
  copyDeclarations(join(root, 'dist', 'esm'), join(root, 'dist', 'cjs'));
  writeFileSync(join(root, 'dist', '.built'), `${new Date().toISOString()}\n`); // freshness stamp for npm start
  console.log('typescript: dist/esm (ESM + .d.ts), dist/cjs (CommonJS + .d.ts)');
}

try {
  if (all || args.has('--addon')) buildAddon();
  if (all || args.has('--ts')) await buildTs();
} catch (e) {
  console.error(`build failed: ${e.message}`);
  process.exit(1);
}
