#!/usr/bin/env node
/**
 * run.mjs — the browser benchmark runner (`npm run bench:browser`).
 * Bundles bench/browser/worker.mjs with esbuild, serves the repository on
 * 127.0.0.1 with COOP/COEP headers, drives Debian's Chromium
 * (/usr/bin/chromium) through playwright-core, runs each store in its own
 * page + Worker, one after another, and writes JSON (bench/out/), an SVG
 * chart and an HTML page (bench/charts/browser.{svg,html}).
 *
 * Then the multi-tab rows (bench/browser/tabs.mjs): the same calls from
 * the owner tab and from a client tab of one shared database, IndexedDB
 * from a page and SQLite WASM in a Worker of a page beside them, and the
 * owner hand-off time (p50, p99).
 *
 * Options: --n N (default 50000), --quick (N = 2000; exit non-zero if any
 * store fails), --stores a,b, --only w1,w2, --no-build, --headed,
 * --chromium PATH (default /usr/bin/chromium or $CHROMIUM), --charts DIR,
 * --no-tabs (skip the multi-tab rows), --tabs-only (only them).
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import cliProgress from 'cli-progress';
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';
import { WORKLOADS } from '../node/workloads.mjs';
import { machine, gitRev } from '../node/machine.mjs';
import { buildLightning } from '../node/build.mjs';
import { benchTabs, bundleTabs, tabsMarkdown } from './tabs.mjs';
import { consoleTable, svgChart, htmlPage, markdown, targetsMarkdown, evaluateTargets, TARGETS } from '../node/report.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const ALL = ['lightningdb-opfs', 'lightningdb-idb', 'indexeddb', 'sqlite-wasm-sahpool'];
const outDir = path.join(root, 'bench/out');
const bundleDir = path.join(outDir, 'browser');

function parseArgs(argv) {
  const a = { n: 50000, quick: false, stores: ALL, only: null, build: true, headed: false, charts: path.join(root, 'bench/charts'), timeoutS: 1800, tabs: true,
    chromium: process.env.CHROMIUM || '/usr/bin/chromium' };
  let chartsGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => { if (i + 1 >= argv.length) throw new Error(`${k} needs a value`); return argv[++i]; };
    if (k === '--n') a.n = parseInt(v(), 10);
    else if (k === '--quick') { a.quick = true; a.n = 2000; a.timeoutS = 120; a.charts = outDir; }
    else if (k === '--stores') a.stores = v().split(',');
    else if (k === '--only') a.only = v().split(',');
    else if (k === '--no-build') a.build = false;
    else if (k === '--headed') a.headed = true;
    else if (k === '--no-tabs') a.tabs = false;
    else if (k === '--tabs-only') { a.stores = []; a.tabs = true; a.charts = outDir; }
    else if (k === '--chromium') a.chromium = v();
    else if (k === '--charts') { a.charts = path.resolve(v()); chartsGiven = true; }
    else throw new Error(`unknown option ${k}`);
  }
  if (!Number.isInteger(a.n) || a.n < 100) throw new Error('--n must be an integer >= 100');
  // Only a full run replaces the committed charts.
  if (!chartsGiven && (a.only || a.stores.length !== ALL.length || !a.tabs)) a.charts = outDir;
  for (const s of a.stores) if (!ALL.includes(s)) throw new Error(`unknown store ${s} (known: ${ALL.join(', ')})`);
  if (a.only) for (const w of a.only) if (!WORKLOADS.some((x) => x.name === w)) throw new Error(`unknown workload ${w}`);
  return a;
}

/** SQLite WASM needs the pinned version in bench/browser/node_modules. */
function ensurePeers() {
  const p = path.join(here, 'node_modules/@sqlite.org/sqlite-wasm/sqlite-wasm/jswasm/sqlite3.wasm');
  if (fs.existsSync(p)) return p;
  console.log('installing bench/browser dependencies (npm ci) ...');
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: here, stdio: 'inherit' });
  if (r.status !== 0 || !fs.existsSync(p)) throw new Error('could not install @sqlite.org/sqlite-wasm into bench/browser');
  return p;
}

async function bundle(sqliteWasm) {
  fs.mkdirSync(bundleDir, { recursive: true });
  const entry = path.join(root, 'js/browser/index.ts');
  const wasmMjs = path.join(root, 'build/wasm/lightningdb.mjs');
  const wasmBin = path.join(root, 'build/wasm/lightningdb.wasm');
  const lightningReady = fs.existsSync(entry) && fs.existsSync(wasmMjs) && fs.existsSync(wasmBin);
  // Without the LightningDB browser entry the peers still run; the
  // LightningDB stores then fail with a clear message.
  const stub = {
    name: 'lightningdb-missing',
    setup(b) {
      b.onResolve({ filter: /js\/browser\/index\.ts$/ }, () =>
        lightningReady ? undefined : { path: 'lightningdb-missing', namespace: 'stub' });
      b.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({
        contents: `export const openInWorker = () => { throw new Error(${JSON.stringify(`LightningDB browser build missing (${entry} or ${wasmMjs}); see bench/out/build.log`)}); };`,
        loader: 'js',
      }));
    },
  };
  await esbuild.build({
    entryPoints: [path.join(here, 'worker.mjs')],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    outfile: path.join(bundleDir, 'worker.js'),
    plugins: [stub],
    logLevel: 'warning',
    sourcemap: true,
  });
  fs.copyFileSync(sqliteWasm, path.join(bundleDir, 'sqlite3.wasm'));
  // Both wasm modules resolve their .wasm next to import.meta.url, which
  // after bundling is worker.js.
  if (lightningReady) fs.copyFileSync(wasmBin, path.join(bundleDir, 'lightningdb.wasm'));
}

const MIME = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json', '.map': 'application/json', '.ts': 'text/javascript' };

function serve() {
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    const p = path.normalize(path.join(root, decodeURIComponent(u.pathname)));
    const headers = {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Cache-Control': 'no-store',
    };
    if (!p.startsWith(root + path.sep) || !fs.existsSync(p) || !fs.statSync(p).isFile()) {
      res.writeHead(404, headers); res.end('not found'); return;
    }
    res.writeHead(200, { ...headers, 'Content-Type': MIME[path.extname(p)] || 'application/octet-stream' });
    fs.createReadStream(p).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  let sqliteWasm = args.stores.length ? ensurePeers() : null;
  // The multi-tab rows have a SQLite row when its package can be installed.
  if (args.tabs && !sqliteWasm) {
    try {
      sqliteWasm = ensurePeers();
    } catch (e) {
      console.warn(`multi-tab rows without SQLite WASM: ${e.message}`);
    }
  }
  if (args.build && (args.tabs || args.stores.some((s) => s.startsWith('lightningdb')))) buildLightning(root, { native: false, wasm: true });
  if (args.stores.length) await bundle(sqliteWasm);
  if (args.tabs) await bundleTabs(root, bundleDir, sqliteWasm);
  const server = await serve();
  const base = `http://127.0.0.1:${server.address().port}`;
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ldb-bench-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: args.chromium,
    headless: !args.headed,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const browserVersion = ctx.browser()?.version() || (await (async () => {
    const r = spawnSync(args.chromium, ['--version'], { encoding: 'utf8' }); return (r.stdout || '').trim();
  })());
  const m = machine();
  m.browser = `Chromium ${browserVersion}`.replace('Chromium Chromium', 'Chromium');
  m.summary = `${m.summary}, ${m.browser} headless`;
  console.log(`Browser benchmark: N = ${args.n.toLocaleString('en-US')}; ${m.summary}`);

  const multibar = new cliProgress.MultiBar({ format: ' {bar} {percentage}% | {store} | {workload}', hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic);
  const nWork = WORKLOADS.filter((w) => !args.only || args.only.includes(w.name)).length;
  const run = { host: 'browser', date: new Date().toISOString(), commit: gitRev(root), n: args.n, machine: m, stores: [] };
  try {
    for (const store of args.stores) {
      const bar = multibar.create(nWork * 100, 0, { store, workload: 'starting' });
      const page = await ctx.newPage();
      let done = 0, current = '';
      const errors = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.exposeFunction('benchReport', (msg) => {
        if (msg.type !== 'progress') return;
        if (msg.workload !== current) { if (current) done++; current = msg.workload; }
        bar.update(Math.min(nWork, done + (msg.total ? msg.done / msg.total : 0)) * 100, { store, workload: msg.workload });
      });
      await page.goto(`${base}/bench/browser/index.html`);
      await page.waitForFunction(() => window.benchReady === true);
      const isolated = await page.evaluate(() => self.crossOriginIsolated);
      if (!isolated) throw new Error('page is not crossOriginIsolated: COOP/COEP headers missing');
      let result;
      try {
        result = await Promise.race([
          page.evaluate((cfg) => window.runStore(cfg), { store, n: args.n, only: args.only }),
          new Promise((_, rej) => setTimeout(() => rej(new Error(`timed out after ${args.timeoutS}s`)), args.timeoutS * 1000)),
        ]);
      } catch (e) {
        result = { type: 'error', store, error: String(e.stack || e) };
      }
      if (result.type === 'error' && errors.length) result.error += '\npage errors: ' + errors.join('; ');
      bar.update(nWork * 100, { store, workload: result.type === 'error' ? 'FAILED' : 'done' });
      run.stores.push(result.type === 'result' ? result : { store, error: result.error });
      await page.close();
    }
    multibar.stop();
    if (args.tabs) {
      console.log('multi-tab rows: owner tab, client tab, IndexedDB from a page, hand-offs ...');
      try {
        run.tabs = await benchTabs(ctx, base, args.quick ? { ops: 300, batches: 5, handoffs: 5 } : {});
      } catch (e) {
        run.tabs = { error: String(e.stack || e) };
      }
    }
  } finally {
    multibar.stop();
    await ctx.close();
    server.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }

  fs.mkdirSync(outDir, { recursive: true });
  fs.mkdirSync(args.charts, { recursive: true });
  const tag = args.quick ? 'browser-quick' : 'browser';
  const stamp = run.date.replace(/[:.]/g, '-');
  fs.writeFileSync(path.join(outDir, `${tag}-${stamp}.json`), JSON.stringify(run, null, 2));
  fs.writeFileSync(path.join(outDir, `${tag}-latest.json`), JSON.stringify(run, null, 2));
  const title = 'LightningDB vs peers in the browser (Chromium, Worker)';
  const svg = svgChart(run, title);
  const svgPath = path.join(args.charts, `${tag}.svg`);
  const htmlPath = path.join(args.charts, `${tag}.html`);
  fs.writeFileSync(svgPath, svg);
  fs.writeFileSync(htmlPath, htmlPage(run, title, svg, TARGETS.browser));
  const rel = (p) => path.relative(path.join(root, 'bench'), p);
  const tabsMd = !run.tabs ? '' : run.tabs.error ? `\n\nMulti-tab rows FAILED: ${run.tabs.error}\n`
    : `\n\nOne database shared by tabs (OPFS, syncMode 'normal', calls from the page's main thread):\n\n${tabsMarkdown(run.tabs)}\n`;
  fs.writeFileSync(path.join(outDir, `${tag}-latest.md`),
    `${markdown(run, { chart: rel(svgPath), html: rel(htmlPath) })}\n\nTargets:\n\n${targetsMarkdown(run, TARGETS.browser)}\n${tabsMd}`);
  console.log('');
  console.log(consoleTable(run));
  console.log('');
  for (const t of evaluateTargets(run, TARGETS.browser)) {
    console.log(`target ${t.met == null ? 'n/a   ' : t.met ? 'met   ' : 'MISSED'} ${t.text}: ${t.ratio == null ? '—' : t.ratio.toFixed(2) + 'x'}`);
  }
  if (run.tabs?.error) console.error(`\nmulti-tab rows FAILED:\n${run.tabs.error}`);
  else if (run.tabs) console.log(`\n${tabsMarkdown(run.tabs)}`);
  console.log(`\nJSON: ${path.relative(root, path.join(outDir, `${tag}-latest.json`))}  chart: ${path.relative(root, svgPath)}  page: ${path.relative(root, htmlPath)}`);
  const failed = run.stores.filter((s) => s.error);
  for (const f of failed) console.error(`\nstore ${f.store} FAILED:\n${f.error}`);
  if (failed.length && args.quick) process.exitCode = 1;
  if (failed.length && failed.length === run.stores.length) process.exitCode = 1;
  if (run.tabs?.error) process.exitCode = 1;
}

main().catch((e) => { console.error(e.stack || e); process.exit(2); });
