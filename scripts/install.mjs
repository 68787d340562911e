#!/usr/bin/env node
// scripts/install.mjs — the package's `install` step (the node-gyp-build
// pattern), shipped in the npm tarball:
//   1. a source checkout (js/index.ts exists: a clone, a folder dependency under
//      development): nothing to do here; `npm run build` builds (and
//      `prepare`, scripts/pack.mjs, builds what is missing);
//   2. an addon that loads already (prebuilds/<platform>-<arch>/ or
//      build/node/, the runtime's lookup order): nothing to do. The package
//      always ships the linux-x64 prebuild, and linux-arm64 and win32-x64
//      only when they were cross-built before packing (README,
//      "Installing"); one that is present but does not load says why (an
//      older glibc than its manifest names, a host other than node.exe on
//      Windows);
//   3. otherwise the addon is compiled from the sources the package ships
//      (core/, node/, CMakeLists.txt, cmake/) into build/node/, with the
//      Node-API headers of the node-api-headers dependency. It needs cmake,
//      a C compiler, pkg-config, libzstd-dev and liblz4-dev; when one is
//      missing it says which, and the install goes on (a browser-only user
//      of the package does not need the addon; in Node, open() reports the
//      same). On Windows this source build is not attempted (it expects
//      pkg-config and Debian's -dev packages); it says so instead.
// npm 11 runs a dependency's install script only once it is approved
// (`npm install-scripts approve lightningdb`); `npm rebuild lightningdb`
// or `node node_modules/lightningdb/scripts/install.mjs` runs it by hand.
// Usage: node scripts/install.mjs [--force]   (--force: compile even when
// an addon loads)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const plat = `${process.platform}-${process.arch}`;
const force = process.argv.includes('--force');
const log = (m) => console.log(`lightningdb install: ${m}`);

/** Why the shipped prebuild may not load here, from its manifest. */
function prebuildHint(message) {
  let m = {};
  try {
    m = JSON.parse(readFileSync(join(root, 'prebuilds', plat, 'lightningdb.json'), 'utf8'));
  } catch {
    return '';
  }
  if (m.glibc && /GLIBC_/.test(message)) return ` — the ${plat} prebuild needs glibc ${m.glibc} or newer`;
  if (process.platform === 'win32') return ` — the ${plat} prebuild imports Node-API from node.exe; other hosts (Electron) are not supported by it`;
  return '';
}

/** The first addon of the runtime's lookup order that loads, or null. */
function loadable() {
  const require = createRequire(join(root, 'package.json'));
  for (const p of [join(root, 'prebuilds', plat, 'lightningdb.node'), join(root, 'build', 'node', 'lightningdb.node')]) {
    if (!existsSync(p)) continue;
    try {
      if (typeof require(p).version === 'function') return p;
    } catch (e) {
      const first = String(e.message).split('\n')[0];
      log(`${p} does not load here (${first})${p.includes('prebuilds') ? prebuildHint(first) : ''}`);
    }
  }
  return null;
}

const has = (cmd, args = ['--version']) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;

/** What the source build needs and is missing, as Debian package names. */
function missingPrerequisites() {
  const missing = [];
  if (!has('cmake')) missing.push('cmake');
  if (!has('cc') && !has('gcc') && !has('clang')) missing.push('gcc (a C compiler)');
  if (!has('pkg-config')) missing.push('pkg-config');
  else {
    if (!has('pkg-config', ['--exists', 'libzstd'])) missing.push('libzstd-dev');
    if (!has('pkg-config', ['--exists', 'liblz4'])) missing.push('liblz4-dev');
  }
  return missing;
}

function headersDir() {
  try {
    return createRequire(join(root, 'package.json'))('node-api-headers').include_dir;
  } catch {
    return null;
  }
}

function compile() {
  if (process.platform === 'win32') {
    const shipped = existsSync(join(root, 'prebuilds', plat, 'lightningdb.node'));
    log(`no prebuilt addon for ${plat} loads, and this script does not compile the addon on Windows ` +
      (shipped
        ? `(the ${plat} prebuild of this package, cross-compiled with mingw-w64, is present but did not load). `
        : `(this package holds no ${plat} prebuild: it ships one only when it was cross-built before packing). `) +
      'The browser build does not need the addon.');
    return false;
  }
  const missing = missingPrerequisites();
  const headers = headersDir();
  if (!headers) missing.push('the node-api-headers npm package (a dependency of lightningdb: reinstall it)');
  if (missing.length) {
    log(`no prebuilt addon for ${plat} in this package, and it cannot be compiled here: missing ${missing.join(', ')}. ` +
      'Install them (Debian/Ubuntu: apt-get install cmake gcc pkg-config libzstd-dev liblz4-dev), then run ' +
      '`npm rebuild lightningdb`. The browser build does not need the addon.');
    return false;
  }
  const build = join(root, 'build', 'node');
  mkdirSync(build, { recursive: true });
  log(`no prebuilt addon for ${plat} loads; compiling it from the shipped sources into build/node/`);
  const steps = [
    ['cmake', ['-S', root, '-B', build, '-DCMAKE_BUILD_TYPE=Release', '-DLDB_NODE=ON', '-DLDB_TESTS=OFF',
      '-DLDB_BENCH=OFF', '-DLDB_TOOLS=OFF', `-DNODE_API_HEADERS_DIR=${headers}`]],
    ['cmake', ['--build', build, '--target', 'lightningdb_node', '-j2']],
  ];
  for (const [cmd, args] of steps) {
    const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) {
      log(`\`${cmd} ${args.join(' ')}\` failed (see above); the addon was not built`);
      return false;
    }
  }
  const p = loadable();
  if (!p) {
    log('the compiled addon does not load (see above)');
    return false;
  }
  log(`built ${p}`);
  return true;
}

if (existsSync(join(root, 'js', 'index.ts')) && !force) {
  log('source checkout: `npm run build` builds the addon and the TypeScript');
} else {
  const p = force ? null : loadable();
  if (p) log(`using ${p}`);
  else if (!compile()) process.exitCode = process.argv.includes('--strict') ? 1 : 0;
}
