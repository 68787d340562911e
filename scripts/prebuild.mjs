#!/usr/bin/env node
// scripts/prebuild.mjs — builds the prebuilt addon the npm package ships for
// one target, into prebuilds/<target>/lightningdb.node plus a manifest
// prebuilds/<target>/lightningdb.json ({ target, sha256, bytes, glibc,
// needed, tested, built }). Unlike the development build (scripts/build.mjs), a prebuild
//   - links zstd and lz4 statically (-DLDB_STATIC_CODECS=ON, compiled from
//     Debian's source packages in third_party/): it needs only libc at run
//     time, not libzstd1 / liblz4-1;
//   - is stripped (--strip-unneeded);
//   - is checked: its NEEDED libraries must be libc/libm/libpthread only,
//     and the newest GLIBC_ symbol version it needs is recorded and must
//     not exceed the floor documented for the target (GLIBC_FLOOR, README
//     "Installing"); it is printed (Windows: the DLLs it imports must be
//     KERNEL32.dll, msvcrt.dll and NODE.EXE);
//   - for this machine's target, is loaded in node through dist/ and used
//     (smokeTest: every codec) before its manifest is written; the
//     manifest's `tested` says what ran (null when nothing did: a cross
//     target without --test, or dist/ not built yet);
//   - for linux-x64, is compiled and linked against the oldest glibc Debian
//     still serves here: Debian 11's 2.31 (libc6, libc6-dev and
//     linux-libc-dev unpacked into build/sysroot-bullseye-amd64 with a
//     private apt configuration; the host's own apt sources are not
//     touched), through cmake/toolchain-glibc-sysroot.cmake. Built against
//     the host's glibc 2.36 it would need 2.34 (pthread_* moved into libc).
//     The same directory holds Debian 11's libstdc++6 and libgcc-s1, so
//     tests/package can run node and the prebuild under glibc 2.31's loader.
// Targets: linux-x64 (the host), linux-arm64 (cross, gcc-aarch64-linux-gnu,
// cmake/toolchain-aarch64-linux-gnu.cmake), win32-x64 (cross, mingw-w64,
// cmake/toolchain-x86_64-w64-mingw32.cmake; the addon links an import
// library of node.exe made from node-api-headers' node_api.def).
// --test also builds the C test suite for the target and runs it with ctest
// before the prebuild is written (a failing suite leaves prebuilds/<target>
// untouched). linux-arm64 runs under qemu-user (cmocka from Debian's arm64
// multiarch package), win32-x64 under wine (cmocka compiled from Debian's
// source package). The whole suite runs, unscaled (about 7 minutes under
// qemu-user, under 2 under wine here; LDB_TEST_QUICK=1 in the caller's
// environment scales the randomized tests down and is then printed and
// recorded), and each test program may take up to an hour. `npm run
// test:cross` runs both cross targets this way.
// The Debian packages a cross target needs: scripts/setup-system.sh --cross.
// Builds of one target are serialized by a lock file,
// build/prebuild-<target>.lock (scripts/build-lock.mjs): `npm pack` and
// `npm test` run at the same time in one checkout both build the host's
// prebuild; the second waits for the first (one line says so), then builds.
// Everything it prints goes to stderr (npm pack --json owns stdout).
// Usage: node scripts/prebuild.mjs [--target T] [--test]
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { withLock } from './build-lock.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const opt = (name) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const host = `${process.platform}-${process.arch}`;

/** Each target's toolchain file, binutils prefix (strip, readelf,
 * objdump), binary format and the emulator its tests run under. */
export const TARGETS = {
  'linux-x64': { toolchain: null, prefix: '', format: 'elf', emulator: null, sysroot: 'amd64' },
  'linux-arm64': { toolchain: 'cmake/toolchain-aarch64-linux-gnu.cmake', prefix: 'aarch64-linux-gnu-', format: 'elf', emulator: 'qemu-user' },
  'win32-x64': { toolchain: 'cmake/toolchain-x86_64-w64-mingw32.cmake', prefix: 'x86_64-w64-mingw32-', format: 'pe', emulator: 'wine' },
};
/** The newest glibc each Linux prebuild may need (the newest GLIBC_
 * symbol version it refers to), as the README states it. A build that
 * needs more fails. linux-x64 is built against glibc 2.31 (Debian 11);
 * linux-arm64 against Debian 12's cross libc. */
export const GLIBC_FLOOR = { 'linux-x64': '2.17', 'linux-arm64': '2.34' };
/** Debian 11 (glibc 2.31): the packages of the linux-x64 sysroot. */
const SYSROOT_SUITE = 'bullseye';
const SYSROOT_PACKAGES = ['libc6', 'libc6-dev', 'linux-libc-dev', 'libstdc++6', 'libgcc-s1'];

/** The DLLs a Windows prebuild may import: the system's and node.exe. */
const PE_ALLOWED = /^(kernel32|msvcrt|node)\.(dll|exe)$|^api-ms-win-/i;

function run(cmd, args, opts = {}) {
  console.error(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', 2, 2], ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} exited with status ${r.status}`);
  return r;
}
const output = (cmd, args) => {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.error?.message}`);
  return r.stdout;
};

/** Unpacks Debian's zstd, lz4 and snappy source packages into
 * third_party/ (what scripts/build-wasm.sh does for the WebAssembly build),
 * and with cmocka also cmocka's (the win32-x64 test build). */
export function fetchCodecSources({ cmocka = false } = {}) {
  const tp = join(root, 'third_party');
  if (existsSync(join(tp, 'zstd', 'lib', 'zstd.h')) && existsSync(join(tp, 'lz4', 'lib', 'lz4.h')) &&
    existsSync(join(tp, 'snappy', 'snappy-c.h')) && (!cmocka || existsSync(join(tp, 'cmocka', 'src', 'cmocka.c')))) return;
  mkdirSync(tp, { recursive: true });
  const have = () => readdirSync(tp);
  const pkgs = [['lz4', /^lz4_.*\.orig\.tar\./], ['libzstd', /^libzstd_.*\.orig\.tar\./], ['snappy', /^snappy_.*\.orig\.tar\./]];
  if (cmocka) pkgs.push(['cmocka', /^cmocka_.*\.orig\.tar\./]);
  const absent = pkgs.filter(([, re]) => !have().some((f) => re.test(f))).map(([p]) => p);
  if (absent.length) {
    const srcList = '/etc/apt/sources.list.d/lightningdb-debian-src.sources';
    const anySrc = spawnSync('bash', ['-c', "grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ || grep -qs '^deb-src' /etc/apt/sources.list"]).status === 0;
    if (!anySrc) {
      if (process.getuid?.() !== 0) throw new Error('need a deb-src apt entry to fetch the zstd/lz4 sources; run once as root');
      writeFileSync(srcList, 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\n' +
        'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n');
      run('apt-get', ['update', '-qq']);
    }
    run('apt-get', ['source', '--download-only', ...absent], { cwd: tp });
  }
  const unpack = [['lz4', /^lz4_.*\.orig\.tar\.gz$/], ['zstd', /^libzstd_.*\.orig\.tar\.xz$/],
    ['snappy', /^snappy_.*\.orig\.tar\.gz$/]];
  if (cmocka) unpack.push(['cmocka', /^cmocka_.*\.orig\.tar\.xz$/]);
  for (const [dir, re] of unpack) {
    if (existsSync(join(tp, dir))) continue;
    const tarball = have().find((f) => re.test(f));
    rmSync(join(tp, `${dir}.tmp`), { recursive: true, force: true });
    mkdirSync(join(tp, `${dir}.tmp`));
    run('tar', ['-xf', join(tp, tarball), '-C', join(tp, `${dir}.tmp`), '--strip-components=1']);
    renameSync(join(tp, `${dir}.tmp`), join(tp, dir));
  }
}

/** Unpacks Debian 11's C library packages for arch into
 * build/sysroot-bullseye-<arch>/ (once; a stamp file lists them) and
 * returns that directory. apt runs with a configuration of its own under
 * that directory, so the machine's sources and package state are left as
 * they are. */
export function glibcSysroot(arch = 'amd64') {
  const dir = join(root, 'build', `sysroot-${SYSROOT_SUITE}-${arch}`);
  const stamp = join(dir, '.unpacked');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === `${SYSROOT_PACKAGES.join(' ')}\n`) return dir;
  rmSync(dir, { recursive: true, force: true });
  const apt = join(dir, '.apt');
  for (const d of ['lists/partial', 'cache/archives/partial', 'debs']) mkdirSync(join(apt, d), { recursive: true });
  writeFileSync(join(apt, 'sources.list'), `deb [arch=${arch} signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ` +
    `http://deb.debian.org/debian ${SYSROOT_SUITE} main\n`);
  const conf = ['-o', `Dir::Etc::sourcelist=${join(apt, 'sources.list')}`, '-o', 'Dir::Etc::sourceparts=-',
    '-o', `Dir::State::Lists=${join(apt, 'lists')}`, '-o', `Dir::Cache=${join(apt, 'cache')}`,
    '-o', 'Dir::State::status=/dev/null', '-o', `APT::Architecture=${arch}`, '-o', `APT::Architectures::=${arch}`,
    '-o', 'Debug::NoDropPrivs=1', '-qq'];
  try {
    run('apt-get', [...conf, 'update']);
    run('apt-get', [...conf, 'download', ...SYSROOT_PACKAGES.map((p) => `${p}:${arch}`)], { cwd: join(apt, 'debs') });
  } catch (e) {
    throw new Error(`could not fetch Debian ${SYSROOT_SUITE}'s glibc packages (${e.message}); the linux-x64 prebuild ` +
      `is built against them so that it needs glibc <= ${GLIBC_FLOOR['linux-x64']}`);
  }
  for (const deb of readdirSync(join(apt, 'debs')).filter((f) => f.endsWith('.deb'))) run('dpkg-deb', ['-x', join(apt, 'debs', deb), dir]);
  // Absolute symlinks (libpthread.so -> /lib/...) would lead the linker to
  // the host's files: point them inside the sysroot.
  const relink = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) relink(p);
      else if (e.isSymbolicLink() && readlinkSync(p).startsWith('/')) {
        const target = relative(d, join(dir, readlinkSync(p)));
        unlinkSync(p);
        symlinkSync(target, p);
      }
    }
  };
  relink(dir);
  writeFileSync(stamp, `${SYSROOT_PACKAGES.join(' ')}\n`);
  return dir;
}

/** a <= b for dotted versions. */
export function versionAtMost(a, b) {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) < (y[i] ?? 0);
  return true;
}

/** The newest GLIBC_x.y version among the addon's undefined symbols. */
function glibcNeeded(readelf, file) {
  const text = output(readelf, ['--dyn-syms', '-W', file]);
  let best = null;
  for (const m of text.matchAll(/@GLIBC_(\d+)\.(\d+)(?:\.(\d+))?/g)) {
    const v = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
    if (!best || v[0] > best[0] || (v[0] === best[0] && (v[1] > best[1] || (v[1] === best[1] && v[2] > best[2])))) best = v;
  }
  return best ? best.slice(0, best[2] ? 3 : 2).join('.') : null;
}

/** Undefined dynamic symbols with no symbol version, other than Node-API's. */
function unversionedImports(readelf, file) {
  const out = [];
  for (const line of output(readelf, ['--dyn-syms', '-W', file]).split('\n')) {
    const f = line.trim().split(/\s+/);
    // Num: Value Size Type Bind Vis Ndx Name
    if (f.length < 8 || f[6] !== 'UND' || !f[7] || f[4] === 'WEAK') continue;
    if (!f[7].includes('@') && !/^napi_|^node_api_/.test(f[7])) out.push(f[7]);
  }
  return out;
}

/** The environment a target's tests run in, and what it changes. */
function testEnv(t, build) {
  const env = { ...process.env, CMOCKA_MESSAGE_OUTPUT: 'TAP' };
  const notes = [];
  if (t.emulator) {
    // The whole suite, unscaled: under qemu-user it takes about 7 minutes
    // here (test_model 390 s). (The old qemu "timeouts" were a hang, not
    // slowness: see cmake/toolchain-aarch64-linux-gnu.cmake.) A caller may
    // still set LDB_TEST_QUICK, the scaling every test reads (tu_scale).
    if (env.LDB_TEST_QUICK && env.LDB_TEST_QUICK !== '0')
      notes.push(`LDB_TEST_QUICK=${env.LDB_TEST_QUICK} (set by the caller): randomized, fuzz and soak iteration counts ` +
        'scaled down (tu_scale, as in the sanitizer run); every test still runs');
    notes.push('per-test timeout 3600 s (LDB_TEST_TIMEOUT) instead of 600 s');
  }
  if (t.emulator === 'wine') {
    // A private wine prefix under the build directory, created on first use.
    env.WINEPREFIX = join(build, 'wineprefix');
    env.WINEDEBUG = env.WINEDEBUG ?? '-all';
    notes.push('test_diskfull_posix (mounts a Linux tmpfs) and test_mmap (the posix store\'s mapping) are not built for Windows');
  }
  return { env, notes };
}

/** The shared libraries (ELF) or DLLs (PE) the addon needs at run time. */
function dependencies(t, file) {
  if (t.format === 'pe') {
    const text = output(`${t.prefix}objdump`, ['-p', file]);
    return [...text.matchAll(/DLL Name: (\S+)/g)].map((m) => m[1]);
  }
  return [...output(`${t.prefix}readelf`, ['-d', '-W', file]).matchAll(/\(NEEDED\)\s+Shared library: \[(.+?)\]/g)].map((m) => m[1]);
}

/** Builds, checks and writes prebuilds/<target> (see the file comment).
 * Holds the lock build/prebuild-<target>.lock meanwhile (build-lock.mjs):
 * `npm pack` and `npm test` in one checkout both run this for the host,
 * and the second waits for the first instead of building over it. */
export function prebuild(target, { test = false } = {}) {
  const t = TARGETS[target];
  if (!t) throw new Error(`unknown target ${target}; known: ${Object.keys(TARGETS).join(', ')}`);
  if (!t.toolchain && target !== host) throw new Error(`target ${target} is a cross target of no toolchain file here`);
  return withLock(join(root, 'build', `prebuild-${target}.lock`), { what: `prebuild ${target}` }, () => buildPrebuild(target, t, test));
}

function buildPrebuild(target, t, test) {
  fetchCodecSources({ cmocka: test && t.format === 'pe' });
  const headers = createRequire(join(root, 'package.json'))('node-api-headers').include_dir;
  const build = join(root, 'build', `prebuild-${target}`);
  const cfg = ['-S', '.', '-B', relative(root, build), '-DCMAKE_BUILD_TYPE=Release', '-DLDB_NODE=ON',
    '-DLDB_STATIC_CODECS=ON', `-DLDB_THIRD_PARTY=${join(root, 'third_party')}`, '-DLDB_BENCH=OFF',
    `-DLDB_TESTS=${test ? 'ON' : 'OFF'}`,
    // The tool tests run the ldb binary from sh, not through the emulator.
    `-DLDB_TOOLS=${test && !t.toolchain ? 'ON' : 'OFF'}`, `-DNODE_API_HEADERS_DIR=${headers}`];
  // Only a test build reads LDB_TEST_TIMEOUT: given to a release configure,
  // CMake warns that the variable is unused (npm pack printed it).
  if (test) cfg.push(`-DLDB_TEST_TIMEOUT=${t.emulator ? 3600 : 600}`);
  if (t.toolchain) cfg.push(`-DCMAKE_TOOLCHAIN_FILE=${join(root, t.toolchain)}`);
  if (t.sysroot) {
    const sysroot = glibcSysroot(t.sysroot);
    cfg.push(`-DCMAKE_TOOLCHAIN_FILE=${join(root, 'cmake', 'toolchain-glibc-sysroot.cmake')}`, `-DLDB_SYSROOT=${sysroot}`);
  }
  // CMake reads a toolchain file only when it creates a build directory.
  const cache = join(build, 'CMakeCache.txt');
  const toolchain = cfg.find((a) => a.startsWith('-DCMAKE_TOOLCHAIN_FILE='))?.slice(23) ?? '';
  const cached = existsSync(cache) ? /^CMAKE_TOOLCHAIN_FILE:\w+=(.*)$/m.exec(readFileSync(cache, 'utf8'))?.[1] ?? '' : null;
  if (cached !== null && cached !== toolchain) rmSync(build, { recursive: true, force: true });
  run('cmake', cfg, { stdio: ['ignore', 'ignore', 'inherit'] });
  run('nice', ['-n', '10', 'cmake', '--build', relative(root, build), '--target', test ? 'all' : 'lightningdb_node', '-j2']);
  if (test) {
    // Each test binary runs on the target (through the toolchain file's
    // CMAKE_CROSSCOMPILING_EMULATOR when cross compiling), before the
    // prebuild is written: a failing suite ships nothing.
    const { env, notes } = testEnv(t, build);
    for (const n of notes) console.error(`test ${target}: ${n}`);
    const started = Date.now();
    run('nice', ['-n', '10', 'ctest', '--test-dir', relative(root, build), '--output-on-failure', '-j2'], { env });
    console.error(`test ${target}: C suite passed in ${((Date.now() - started) / 1000).toFixed(0)} s` +
      (notes.length ? ` (${notes.join('; ')})` : ''));
  }
  const dest = join(root, 'prebuilds', target);
  mkdirSync(dest, { recursive: true });
  const file = join(dest, 'lightningdb.node');
  copyFileSync(join(build, 'lightningdb.node'), `${file}.tmp`);
  run(`${t.prefix}strip`, ['--strip-unneeded', `${file}.tmp`]);
  const needed = dependencies(t, `${file}.tmp`);
  const foreign = t.format === 'pe' ? needed.filter((l) => !PE_ALLOWED.test(l))
    : needed.filter((l) => !/^(libc|libm|libpthread|libdl|ld-linux[-\w]*)\.so/.test(l));
  if (foreign.length) {
    rmSync(`${file}.tmp`, { force: true });
    throw new Error(`${relative(root, file)} needs ${foreign.join(', ')} at run time; a prebuild may need ` +
      `${t.format === 'pe' ? 'Windows system DLLs and node.exe' : 'libc'} only`);
  }
  const glibc = t.format === 'pe' ? null : glibcNeeded(`${t.prefix}readelf`, `${file}.tmp`);
  const floor = GLIBC_FLOOR[target];
  // Undefined symbols that no versioned library provides would resolve
  // against whatever the process holds, or fail at load: only Node-API's
  // (napi_*, from the running node) may be unversioned.
  const stray = t.format === 'pe' ? [] : unversionedImports(`${t.prefix}readelf`, `${file}.tmp`);
  if ((glibc && floor && !versionAtMost(glibc, floor)) || stray.length) {
    rmSync(`${file}.tmp`, { force: true });
    throw new Error(stray.length ? `${relative(root, file)} imports ${stray.join(', ')} from no versioned library`
      : `${relative(root, file)} needs glibc ${glibc}, newer than the documented floor ${floor} (GLIBC_FLOOR)`);
  }
  renameSync(`${file}.tmp`, file);
  // The host's prebuild is loaded and used before it is recorded; a cross
  // target's cannot be (no node for it here): only its C suite (--test).
  let loaded = null;
  if (target === host) {
    try {
      loaded = smokeTest(file);
    } catch (e) {
      rmSync(file, { force: true });
      rmSync(join(dest, 'lightningdb.json'), { force: true });
      throw e;
    }
  }
  const bytes = readFileSync(file);
  const suite = test ? `C suite${t.emulator ? ` under ${t.emulator}` : ''}${process.env.LDB_TEST_QUICK && process.env.LDB_TEST_QUICK !== '0' ? ' (LDB_TEST_QUICK)' : ''}` : null;
  const manifest = {
    target, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'),
    glibc, needed, staticCodecs: true, stripped: true,
    tested: [suite, loaded].filter(Boolean).join('; ') || null,
    built: new Date().toISOString(),
  };
  writeFileSync(join(dest, 'lightningdb.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  console.error(`prebuild ${target}: ${relative(root, file)} ${(manifest.bytes / 1024).toFixed(0)} KB, ` +
    `stripped, zstd+lz4+snappy static, needs ${needed.join(' ')}` +
    (manifest.glibc ? ` (glibc >= ${manifest.glibc}; documented floor ${floor}${t.sysroot ? `; built against Debian ${SYSROOT_SUITE}'s glibc` : ''})` : ''));
  return manifest;
}

/** Loads the prebuild `file` (this machine's target) into this node through
 * the built package (dist/esm, LIGHTNINGDB_ADDON) and uses it: with each
 * codec, 2,000 puts, close, reopen read-only, get, scan, count and check.
 * Returns what ran, for the manifest's `tested`; null (said on stderr)
 * when dist/ is not built yet, so there is nothing to load it with (npm
 * pack builds dist/ first and then refuses an untested prebuild). Throws
 * when it fails. */
function smokeTest(file) {
  const entry = join(root, 'dist', 'esm', 'index.js');
  if (!existsSync(entry)) {
    console.error(`prebuild ${host}: not loaded in node: ${relative(root, entry)} is not built (npm run build)`);
    return null;
  }
  const codecs = ['none', 'zstd', 'lz4', 'snappy'];
  const dir = mkdtempSync(join(tmpdir(), 'ldb-prebuild-'));
  const script = `
    import { open, loadedAddonPath } from ${JSON.stringify(pathToFileURL(entry).href)};
    const dir = process.env.LDB_SMOKE_DIR;
    for (const compression of ${JSON.stringify(codecs)}) {
      const path = dir + '/' + compression;
      let db = open(path, { compression, valueEncoding: 'utf8' });
      for (let i = 0; i < 2000; i++) db.put('k' + String(i).padStart(5, '0'), 'value ' + i + ' '.repeat(200));
      db.close();
      db = open(path, { readOnly: true, valueEncoding: 'utf8' });
      if (db.get('k01234') !== 'value 1234' + ' '.repeat(200)) throw new Error(compression + ': get returned ' + db.get('k01234'));
      let n = 0;
      for (const [k] of db.scan({ prefix: 'k0' })) if (k.length === 6) n++;
      if (n !== 2000 || db.count() !== 2000) throw new Error(compression + ': scan saw ' + n + ', count ' + db.count());
      db.check();
      db.close();
    }
    if (loadedAddonPath() !== process.env.LIGHTNINGDB_ADDON) throw new Error('loaded ' + loadedAddonPath() + ', not the prebuild');
  `;
  try {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, LIGHTNINGDB_ADDON: file, LDB_SMOKE_DIR: dir }, encoding: 'utf8', timeout: 300_000,
    });
    if (r.status !== 0) {
      throw new Error(`${relative(root, file)} failed when loaded in node ${process.version}: ${(r.stderr || r.error?.message || `status ${r.status}`).trim()}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const what = `loaded in node ${process.version}: puts, reopen, get, scan, count, check with ${codecs.join(', ')}`;
  console.error(`prebuild ${host}: ${what}`);
  return what;
}

/** True when prebuilds/<target> holds a prebuild of this script (the
 * manifest's hash matches the file) newer than every source file. */
export function prebuildFresh(target, newestSource, dir = root) {
  const file = join(dir, 'prebuilds', target, 'lightningdb.node');
  const mf = join(dir, 'prebuilds', target, 'lightningdb.json');
  if (!existsSync(file) || !existsSync(mf)) return false;
  try {
    const m = JSON.parse(readFileSync(mf, 'utf8'));
    const sha = createHash('sha256').update(readFileSync(file)).digest('hex');
    return m.sha256 === sha && statSync(mf).mtimeMs >= newestSource;
  } catch {
    return false;
  }
}

/** True when the manifest of prebuilds/<target> says it was tested: its C
 * suite ran for that target (prebuild --test), or, for this machine's
 * target, it was loaded in node and used (smokeTest). */
export function prebuildTested(target, dir = root) {
  try {
    return Boolean(JSON.parse(readFileSync(join(dir, 'prebuilds', target, 'lightningdb.json'), 'utf8')).tested);
  } catch {
    return false;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const target = opt('--target') ?? host;
  try {
    prebuild(target, { test: argv.includes('--test') });
  } catch (e) {
    console.error(`prebuild failed: ${e.message}`);
    process.exit(1);
  }
}
