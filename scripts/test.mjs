#!/usr/bin/env node
// scripts/test.mjs — `npm test`: everything, in order, on a fresh machine.
//   1. scripts/setup-system.sh (Debian packages; --browser when the wasm or
//      browser tests exist)
//   2. scripts/build.mjs (the addon and the TypeScript), npm run build:wasm
//      (the WebAssembly module and browser bundles) and
//      npm run addon:release (the addon npm pack ships)
//   3. scripts/test-c.sh (C core: Release ctest, ASan+UBSan ctest, fuzz)
//   4. mocha: tests/api with LDB_BACKEND=native (also under Bun and Deno),
//      then tests/node, the abstract-level suite (lightningdb/level); then both
//      again with the addon built with ASan + UBSan (when gcc has them)
//   5. npm run test:wasm, test:browser, test:package, test:package:git and
//      bench:quick, when package.json has them
// Every step runs even when an earlier test step failed (a failed build
// stops the run). Exits non-zero on any failure. The last line is
// "N passed, N failed", counting the mocha tests of every step.
//
// Every step has a time bound (scripts/step-runner.mjs): past it the step's
// whole process group is killed and the step fails with "timed out".
// Each limit is at least 3x the step's time on a loaded 2-core machine
// (load average 10-30; a quiet run takes about 11 minutes in all), with a
// floor of 5 minutes. LDB_STEP_TIMEOUT_SCALE multiplies every limit (e.g.
// 3 for an emulator or a much slower machine; 0 turns the bounds off).
//   step                                usual time                   limit
//   system packages                     0.2 s installed, ~5 min new  30 min
//   build (addon + TypeScript)          12 s, ~1 min from clean      10 min
//   npm run build:wasm                  4 s, ~3 min new (sources)    15 min
//   npm run addon:release               18 s - 2 min                 15 min
//   C core tests                        5-10 min, 30 min at load 20  45 min
//   API suite (native, Bun, Deno),
//     Node-only, abstract-level         8-11 s each                  5 min
//   Operations (tests/ops)              40 s - 3 min                 15 min
//   Replication (NATS)                  45-50 s                      10 min
//   ASan addon build, its suites        4 s, 25-30 s                 10 min
//   npm run test:wasm                   23 s                         10 min
//   npm run test:browser                50 s                         15 min
//   npm run test:package                40-70 s                      15 min
//   npm run test:package:git            7-14 min                     40 min
//   npm run bench:quick                 40-50 s                      10 min
// Mocha steps run with --exit (test:wasm, test:package and
// test:package:git too, in package.json), so a handle a test leaves open
// cannot keep a finished step alive; the bound catches a step that hangs
// before mocha is done.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runStep, seconds } from './step-runner.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const scripts = pkg.scripts ?? {};
const mocha = join(root, 'node_modules', 'mocha', 'bin', 'mocha.js');
const results = [];
let passed = 0;
let failed = 0;

const MIN = 60_000;
const scale = process.env.LDB_STEP_TIMEOUT_SCALE === undefined ? 1 : Number(process.env.LDB_STEP_TIMEOUT_SCALE);
if (!(scale >= 0)) {
  console.error(`LDB_STEP_TIMEOUT_SCALE must be a number >= 0, got '${process.env.LDB_STEP_TIMEOUT_SCALE}'`);
  process.exit(2);
}

/** Sums mocha's "N passing" / "N failing" summary lines in output. A
 * runner that drives mocha elsewhere (the browser suite runs it inside
 * Chromium) prints its own total: "total N passed N failed", or a last
 * line "N passed, N failed"; that is used when no mocha lines appear. */
function countMocha(output) {
  const text = output.replace(/\x1b\[[0-9;]*m/g, '');
  let p = 0;
  let f = 0;
  let seen = false;
  for (const m of text.matchAll(/^\s*(\d+) passing\b/gm)) { p += Number(m[1]); seen = true; }
  for (const m of text.matchAll(/^\s*(\d+) failing\b/gm)) f += Number(m[1]);
  if (!seen) {
    const totals = [...text.matchAll(/^\s*total\s+(\d+) passed[,\s]+(\d+) failed\s*$/gm)];
    const lines = totals.length ? totals : [...text.matchAll(/^\s*(\d+) passed, (\d+) failed\s*$/gm)];
    const last = lines[lines.length - 1];
    if (last) { p = Number(last[1]); f = Number(last[2]); }
  }
  return { p, f };
}

/** Runs one step within `limit` ms (times LDB_STEP_TIMEOUT_SCALE) and
 * records its result line. */
async function step(name, limit, cmd, args, { env, mochaCounts = false } = {}) {
  const timeoutMs = Math.round(limit * scale);
  console.log(`\n==== ${name}${timeoutMs ? ` (time limit ${seconds(timeoutMs)} s)` : ''}`);
  const { code, output, timedOut, ms } = await runStep(cmd, args, { cwd: root, env, timeoutMs });
  const secs = (ms / 1000).toFixed(1);
  let detail = '';
  let counted = false;
  if (mochaCounts) {
    const { p, f } = countMocha(output);
    passed += p;
    failed += f;
    detail = ` (${p} passed, ${f} failed)`;
    counted = f > 0 && !timedOut;
  }
  if (timedOut) detail += ` (timed out after ${seconds(timeoutMs)} s: its process group was killed)`;
  results.push({ name, ok: code === 0 && !timedOut, counted, line: `${code === 0 && !timedOut ? 'ok  ' : 'FAIL'}  ${name}${detail}  [${secs}s]` });
  return code === 0 && !timedOut;
}

/** gcc's ASan and UBSan runtimes, to preload into node; '' when absent. */
function asanPreload() {
  const libs = ['libasan.so', 'libubsan.so'].map((l) => {
    const r = spawnSync('gcc', [`-print-file-name=${l}`], { encoding: 'utf8' });
    const p = (r.stdout ?? '').trim();
    return r.status === 0 && p.startsWith('/') && existsSync(p) ? p : '';
  });
  return libs.every(Boolean) ? libs.join(' ') : '';
}
const asanBuild = 'cmake -S . -B build/node-asan -DCMAKE_BUILD_TYPE=Debug -DLDB_SANITIZE=ON -DLDB_NODE=ON ' +
  '-DLDB_TESTS=OFF -DLDB_BENCH=OFF -DNODE_API_HEADERS_DIR="$(node -p "require(\'node-api-headers\').include_dir")" >/dev/null ' +
  '&& cmake --build build/node-asan --target lightningdb_node -j2';

const needsBrowser = Boolean(scripts['test:wasm'] || scripts['test:browser']);
const setupArgs = [join('scripts', 'setup-system.sh'), ...(needsBrowser ? ['--browser'] : [])];

async function main() {
  if (!(await step('system packages', 30 * MIN, 'bash', setupArgs))) return;
  if (!(await step('build (addon + TypeScript)', 10 * MIN, process.execPath, [join('scripts', 'build.mjs')]))) return;
  // The WebAssembly module and the browser bundles are build outputs: a
  // clean clone has none. Built before any suite that loads them or packs
  // the package (npm pack's prepack refuses an incomplete package).
  const wasmSuites = ['test:wasm', 'test:browser'].filter((s) => scripts[s]);
  const wasmBuilt = !wasmSuites.length || !scripts['build:wasm'] ||
    await step('npm run build:wasm', 15 * MIN, 'npm', ['run', 'build:wasm']);
  // The addon the package ships (static zstd/lz4, stripped), for the
  // suites that pack the package.
  if (scripts['addon:release']) await step('npm run addon:release', 15 * MIN, 'npm', ['run', 'addon:release']);
  await step('C core tests (Release, ASan+UBSan, fuzz)', 45 * MIN, 'bash', [join('scripts', 'test-c.sh')]);
  const mochaArgs = ['--import=tsx', '--timeout', '300000', '--exit'];
  await step('API suite, native backend', 5 * MIN, process.execPath, [mocha, ...mochaArgs, 'tests/api/*.test.ts'],
    { env: { LDB_BACKEND: 'native' }, mochaCounts: true });
  await step('Node-only tests', 5 * MIN, process.execPath, [mocha, ...mochaArgs, 'tests/node/*.test.ts'], { mochaCounts: true });
  // The same API suite under Bun and Deno (npm packages `bun` and `deno`:
  // their binaries), loading the addon through Node-API; mocha runs inside
  // each runtime, which compiles the TypeScript itself (Deno resolves the
  // suite's .js imports of .ts files with --unstable-sloppy-imports).
  const bin = (name) => join(root, 'node_modules', '.bin', name);
  await step('API suite, native backend, under Bun', 5 * MIN, bin('bun'), [mocha, '--timeout', '300000', '--exit', 'tests/api/*.test.ts'],
    { env: { LDB_BACKEND: 'native' }, mochaCounts: true });
  await step('API suite, native backend, under Deno', 5 * MIN, bin('deno'),
    ['run', '-A', '--unstable-sloppy-imports', mocha, '--timeout', '300000', '--exit', 'tests/api/*.test.ts'],
    { env: { LDB_BACKEND: 'native' }, mochaCounts: true });
  // The Level ecosystem's own abstract-level suite (tape) against
  // lightningdb/level; its assertions count as tests.
  await step('abstract-level suite (lightningdb/level)', 5 * MIN, process.execPath,
    ['--import=tsx', join('tests', 'level', 'suite.test.mjs')], { mochaCounts: true });
  await step('Operations: Prometheus, diagnostics page in Chromium, CLI from npm pack', 15 * MIN, process.execPath,
    [mocha, ...mochaArgs, 'tests/ops/*.test.ts'], { mochaCounts: true });
  await step('Replication over NATS JetStream (3-node nats-server cluster, SIGKILL chaos)', 10 * MIN, process.execPath,
    [mocha, ...mochaArgs, 'tests/replication/*.test.ts'], { mochaCounts: true });
  // The same suites with the addon and the core built with AddressSanitizer
  // + UBSan, preloaded into an ordinary node: memory errors in the binding
  // (lifetimes, finalizers, async work) abort the run.
  const asan = asanPreload();
  if (asan && await step('build the addon with ASan + UBSan', 10 * MIN, 'bash', ['-c', asanBuild])) {
    const env = {
      LD_PRELOAD: asan, LIGHTNINGDB_ADDON: join(root, 'build', 'node-asan', 'lightningdb.node'),
      ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1', UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
    };
    await step('API suite + Node-only tests, ASan + UBSan addon', 10 * MIN, process.execPath,
      [mocha, ...mochaArgs, 'tests/api/*.test.ts', 'tests/node/*.test.ts'], { env, mochaCounts: true });
  }
  for (const s of wasmSuites) {
    if (wasmBuilt) await step(`npm run ${s}`, s === 'test:browser' ? 15 * MIN : 10 * MIN, 'npm', ['run', s], { mochaCounts: true });
  }
  if (scripts['test:package'] && wasmBuilt)
    await step('The packed package installed fresh: ESM, CJS, TypeScript, esbuild, Vite, webpack (npm run test:package)',
      15 * MIN, 'npm', ['run', 'test:package'], { mochaCounts: true });
  if (scripts['test:package:git'] && wasmBuilt)
    await step('The package as a git dependency: npm install git+file://, prepare builds it (npm run test:package:git)',
      40 * MIN, 'npm', ['run', 'test:package:git'], { mochaCounts: true });
  if (scripts['bench:quick']) await step('npm run bench:quick', 10 * MIN, 'npm', ['run', 'bench:quick']);
}

await main();
console.log('\n==== summary');
for (const r of results) console.log(r.line);
const allOk = results.length > 0 && results.every((r) => r.ok) && failed === 0;
if (!allOk) process.exitCode = 1;
// A step that failed without a mocha count of its own (a build, the C
// suite, a runner that crashed) still counts as one failure in the total.
const failedSteps = results.filter((r) => !r.ok && !r.counted).length;
console.log(`${passed} passed, ${failed + failedSteps} failed`);
