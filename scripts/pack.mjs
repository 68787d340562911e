#!/usr/bin/env node
// scripts/pack.mjs — what makes every way of getting the package complete.
//
// --prepack (npm's `prepack`: `npm pack` and `npm publish`): builds every
//   part of the tarball that is missing or older than its sources — the
//   TypeScript (scripts/build.mjs --ts), the release prebuild for this
//   platform (scripts/prebuild.mjs: static zstd/lz4, stripped), the
//   WebAssembly module and the browser bundles (scripts/build-wasm.sh,
//   scripts/build-browser.mjs) — then checks the result and refuses (exit
//   1, naming what is missing) when a part cannot be built here or a file
//   the package refers to is absent. This platform's prebuild must have
//   been loaded and used in node when it was built (prebuild.mjs records
//   that in its manifest's `tested`; one without is rebuilt, and refused
//   by --check). Prebuilds of other targets
//   (prebuilds/linux-arm64 and prebuilds/win32-x64, from `npm run
//   test:cross`) are shipped when their manifest matches, they are newer
//   than the sources and their C suite ran for the target (the manifest's
//   `tested`); a stale or untested one is refused.
// --prepare (npm's `prepare`: `npm install` in a checkout, and a git
//   dependency, which npm clones, installs with dev dependencies and
//   prepares before packing): builds what is missing and can be built here;
//   a part whose tools are absent (no C compiler, no emcc) is skipped with a
//   message saying what it needs, so a git dependency still installs.
// --check [--root DIR]: only the checks of --prepack.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prebuild, prebuildFresh, prebuildTested } from './prebuild.mjs';

const rootArg = process.argv.indexOf('--root');
// --root DIR (with --check): check another tree (the tests use it).
const root = rootArg > 0 ? resolve(process.argv[rootArg + 1]) : join(dirname(fileURLToPath(import.meta.url)), '..');
const host = `${process.platform}-${process.arch}`;
const mode = process.argv.includes('--prepack') ? 'prepack' : process.argv.includes('--check') ? 'check' : 'prepare';
const say = (m) => console.error(`lightningdb ${mode}: ${m}`);

/** Newest mtime of the files under paths accepted by filter (0 if none). */
function newest(paths, filter = () => true) {
  let t = 0;
  for (const p of paths.map((x) => join(root, x))) {
    if (!existsSync(p)) continue;
    const st = statSync(p);
    if (st.isDirectory()) t = Math.max(t, newest(readdirSync(p).map((n) => relative(root, join(p, n))), filter));
    else if (filter(p)) t = Math.max(t, st.mtimeMs);
  }
  return t;
}
/** Oldest mtime of the given files; -1 when one is missing. */
function oldest(files) {
  let t = Infinity;
  for (const f of files.map((x) => join(root, x))) {
    if (!existsSync(f)) return -1;
    t = Math.min(t, statSync(f).mtimeMs);
  }
  return t;
}

const C_SOURCES = ['core/src', 'core/include', 'node', 'cmake', 'CMakeLists.txt'];
const TS_OUT = ['dist/esm/index.js', 'dist/esm/index.d.ts', 'dist/cjs/index.js', 'dist/cjs/index.d.ts',
  'dist/cjs/package.json', 'dist/esm/cli/main.js'];
const BROWSER_OUT = ['dist/esm/browser/index.js', 'dist/esm/browser/index.d.ts', 'dist/esm/browser/worker.js', 'dist/esm/browser/broker.js', 'dist/esm/browser/here.js',
  'dist/esm/browser/lightningdb.wasm'];
const isTs = (p) => p.endsWith('.ts');

function tsStale() {
  return oldest(TS_OUT) < newest(['js', 'tsconfig.json'], isTs);
}
function browserStale() {
  return oldest(BROWSER_OUT) < Math.max(newest(['js/browser', 'js/wasm', 'js/database.ts', 'js/errors.ts',
    'js/encodings.ts', 'js/contract.ts', 'js/engine.ts', 'js/chunk.ts', 'js/metrics.ts', 'js/options.ts', 'js/subscope.ts'], isTs),
  newest(['wasm', 'core/src', 'core/include']));
}

function run(cmd, args) {
  say(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', 2, 2] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (status ${r.status ?? r.error?.message})`);
}
const has = (cmd, args = ['--version']) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;

/** What building the addon from source needs and is missing. */
function addonPrerequisites() {
  const missing = [];
  if (!has('cmake')) missing.push('cmake');
  if (!has('cc') && !has('gcc') && !has('clang')) missing.push('a C compiler (gcc)');
  if (!has('pkg-config', ['--exists', 'libzstd'])) missing.push('libzstd-dev (and pkg-config)');
  if (!has('pkg-config', ['--exists', 'liblz4'])) missing.push('liblz4-dev');
  return missing;
}

/** Relative imports and new URL(..., import.meta.url) references of the
 * shipped JavaScript that do not resolve to a file: a tarball with one of
 * these is broken whatever else it holds. */
function danglingReferences() {
  const bad = [];
  const walk = (dir) => {
    if (!existsSync(dir)) return;
    for (const n of readdirSync(dir)) {
      const p = join(dir, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n.endsWith('.js')) {
        const text = readFileSync(p, 'utf8');
        const refs = [
          ...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s*|\brequire\s*\(\s*)["'](\.\.?\/[^"']+)["']/g),
          ...text.matchAll(/new URL\(\s*["'](\.\.?\/[^"']+)["']\s*,\s*import\.meta\.url\s*\)/g),
        ].map((m) => m[1]);
        for (const r of refs) if (!existsSync(resolve(dirname(p), r))) bad.push(`${relative(root, p)} -> ${r}`);
      }
    }
  };
  walk(join(root, 'dist'));
  return bad;
}

function checks() {
  const problems = [];
  for (const f of [...TS_OUT, ...BROWSER_OUT]) if (!existsSync(join(root, f))) problems.push(`${f} is missing`);
  if (tsStale()) problems.push('dist/ (TypeScript) is older than js/');
  if (browserStale()) problems.push('dist/esm/browser/ is older than its sources');
  const cNewest = newest(C_SOURCES);
  if (!prebuildFresh(host, cNewest, root)) problems.push(`prebuilds/${host} is not a release prebuild of the current sources`);
  else if (!prebuildTested(host, root)) problems.push(`prebuilds/${host} was not loaded and used in node when it was built (its manifest's tested is empty): rebuild it (npm run addon:release, after npm run build)`);
  for (const t of existsSync(join(root, 'prebuilds')) ? readdirSync(join(root, 'prebuilds')) : []) {
    if (t === host || !existsSync(join(root, 'prebuilds', t, 'lightningdb.node'))) continue;
    if (!prebuildFresh(t, cNewest, root))
      problems.push(`prebuilds/${t} is stale or not from scripts/prebuild.mjs: rebuild it (npm run test:cross) or delete it`);
    else if (!prebuildTested(t, root))
      problems.push(`prebuilds/${t} was built without its C suite: rebuild it with the suite (npm run test:cross) or delete it`);
  }
  for (const d of danglingReferences()) problems.push(`dangling reference ${d}`);
  return problems;
}

function prepack() {
  if (tsStale()) run(process.execPath, ['scripts/build.mjs', '--ts']);
  if (!prebuildFresh(host, newest(C_SOURCES)) || !prebuildTested(host)) {
    const missing = addonPrerequisites();
    if (missing.length) throw new Error(`cannot build the ${host} prebuild: missing ${missing.join(', ')} (scripts/setup-system.sh)`);
    prebuild(host);
  }
  if (browserStale()) {
    if (!has('emcc', ['--version'])) throw new Error('the browser build (dist/esm/browser) is missing or stale and emcc is not installed (scripts/setup-system.sh --browser)');
    run('bash', ['scripts/build-wasm.sh']);
    run(process.execPath, ['scripts/build-browser.mjs']);
  }
}

/** run(), without blocking: resolves when the command succeeded. */
function runAsync(cmd, args) {
  say(`$ ${cmd} ${args.join(' ')}`);
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 2, 2] });
    child.on('error', (e) => reject(new Error(`${cmd}: ${e.message}`)));
    child.on('close', (code) => (code === 0 ? resolveRun() : reject(new Error(`${cmd} ${args.join(' ')} failed (status ${code})`))));
  });
}

/** Builds what is missing, the three parts side by side (they write
 * disjoint outputs: dist/ but dist/esm/browser's bundles, build/node,
 * build/wasm and dist/esm/browser), so a git dependency's install waits
 * for the longest part rather than for their sum. */
async function prepare() {
  if (!existsSync(join(root, 'node_modules', 'typescript'))) {
    say('dev dependencies not installed; nothing to build');
    return;
  }
  const jobs = [];
  if (tsStale()) jobs.push(runAsync(process.execPath, ['scripts/build.mjs', '--ts']));
  const addons = [join('prebuilds', host, 'lightningdb.node'), join('build', 'node', 'lightningdb.node')];
  if (!addons.some((a) => existsSync(join(root, a)))) {
    const missing = addonPrerequisites();
    if (missing.length) say(`the Node addon for ${host} is not built: missing ${missing.join(', ')}; install them and run \`npm run build:addon\``);
    else jobs.push(runAsync(process.execPath, ['scripts/build.mjs', '--addon']));
  }
  if (browserStale()) {
    if (!has('emcc', ['--version'])) say('the browser build (dist/esm/browser) is not built: emcc is missing (Debian package emscripten; scripts/setup-system.sh --browser), then `npm run build:wasm`');
    else jobs.push(runAsync('bash', ['scripts/build-wasm.sh']).then(() => runAsync(process.execPath, ['scripts/build-browser.mjs'])));
  }
  const failed = (await Promise.allSettled(jobs)).find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}

try {
  if (mode === 'prepare') await prepare();
  else {
    if (mode === 'prepack') prepack();
    const problems = checks();
    if (problems.length) {
      console.error(`lightningdb ${mode}: refusing to pack an incomplete package:\n  ${problems.join('\n  ')}`);
      process.exit(1);
    }
    say(`complete: dist/ (ESM, CommonJS, .d.ts, browser + wasm), prebuilds/${readdirSync(join(root, 'prebuilds')).join(', prebuilds/')}`);
  }
} catch (e) {
  console.error(`lightningdb ${mode}: ${e.message}`);
  process.exit(1);
}
