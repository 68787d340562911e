/* install.test.ts — the package as a JavaScript developer gets it from the
 * registry: `npm pack` (its prepack builds what is stale, then checks the
 * tarball is complete), installed into a fresh directory with no C compiler
 * on PATH, then used the ways the README says: ESM, CommonJS (one
 * LightningDbError across both), TypeScript strict for Node and for the
 * browser (no @types/node, no Buffer), and a tiny browser app bundled,
 * unconfigured, by esbuild, Vite (build and dev server) and webpack 5, each
 * doing a round trip in Chromium. The bundlers and tsc run from this
 * repository's node_modules; the app resolves `lightningdb` from its own. */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const repoModules = join(root, 'node_modules');
const plat = `${process.platform}-${process.arch}`;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** PATH holding node, npm and a shell only: no cc, gcc, cmake, make. */
function bareBin(dir: string): string {
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  const npmCli = join(dirname(process.execPath), 'npm');
  for (const [name, target] of [['node', process.execPath], ['npm', npmCli], ['sh', '/bin/sh']] as const) {
    symlinkSync(target, join(bin, name));
  }
  return bin;
}

function sh(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): string {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

// The default store: a database shared by tabs, whose owner (this tab)
// also starts the broker SharedWorker. ?options=JSON adds open() options.
const ROUND_TRIP = `
import { open, LightningDbError } from 'lightningdb';
const out = document.getElementById('out');
try {
  const extra = JSON.parse(new URLSearchParams(location.search).get('options') ?? '{}');
  const db = await open('bundled-' + Math.random().toString(36).slice(2), { valueEncoding: 'json', ...extra });
  await db.put('k', { n: 42 });
  const v = await db.get('k');
  await db.close();
  let code = '';
  try { await db.get('k'); } catch (e) { code = e instanceof LightningDbError ? e.code + ' ' + e.constructor.name : 'not a LightningDbError: ' + e; }
  out.textContent = 'ok ' + JSON.stringify(v) + ' ' + code;
} catch (e) {
  out.textContent = 'error ' + (e && e.code) + ' ' + (e && e.message);
}
`;
const HTML = (script: string) =>
  `<!doctype html><meta charset="utf-8"><title>app</title><pre id="out">pending</pre><script type="module" src="${script}"></script>\n`;

const MIME: Record<string, string> = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.html': 'text/html',
  '.wasm': 'application/wasm', '.map': 'application/json', '.css': 'text/css' };

/** What the static servers (serve()) were asked for, and what they
 * answered 404 (but the browser's own /favicon.ico). */
const requests = { served: [] as string[], missing: [] as string[] };

/** A static server for dir on 127.0.0.1 (404 for what is not there). */
async function serve(dir: string): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://x').pathname;
    if (pathname !== '/favicon.ico') requests.served.push(pathname);
    const path = join(dir, decodeURIComponent(pathname));
    if (!path.startsWith(dir) || !existsSync(path) || !extname(path)) {
      const index = join(path, 'index.html');
      if (existsSync(index)) {
        res.writeHead(200, { 'content-type': 'text/html' }).end(readFileSync(index));
        return;
      }
      if (pathname !== '/favicon.ico') requests.missing.push(pathname);
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': MIME[extname(path)] ?? 'application/octet-stream' }).end(readFileSync(path));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/`, server };
}

describe('the packed package, installed fresh (issue 13)', function () {
  this.timeout(600_000);
  const tmp = mkdtempSync(join(tmpdir(), 'ldb-package-'));
  const app = join(tmp, 'app');
  let bin = '';
  let files: string[] = [];
  let browser: import('playwright-core').BrowserContext | undefined;
  const savedPath = process.env.PATH;

  before(async () => {
    // prepack builds whatever is stale; `npm pack --json` lists the files.
    const packed = JSON.parse(sh('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: root }))[0];
    files = packed.files.map((f: { path: string }) => f.path);
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), '{ "name": "fresh-app", "private": true, "version": "1.0.0" }\n');
    bin = bareBin(tmp);
    const env = { ...process.env, PATH: bin };
    const found = spawnSync('sh', ['-c', 'for c in cc gcc clang cmake make; do command -v $c; done; true'], { env, encoding: 'utf8' });
    assert.equal(found.status, 0);
    assert.equal(found.stdout, '', 'a compiler is reachable on the bare PATH');
    sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(tmp, packed.filename)], { cwd: app, env });
    // Everything below (tsc, the bundlers, Chromium) runs with that PATH too.
    process.env.PATH = bin;
  });
  after(async () => {
    process.env.PATH = savedPath;
    await browser?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('the tarball holds exactly what the package needs', () => {
    for (const f of ['package.json', 'README.md', 'LICENSE', 'dist/esm/index.js', 'dist/esm/index.d.ts', 'dist/cjs/index.js',
      'dist/cjs/index.d.ts', 'dist/cjs/package.json', 'dist/esm/browser/index.js', 'dist/esm/browser/index.d.ts',
      'dist/esm/browser/worker.js', 'dist/esm/browser/broker.js', 'dist/esm/browser/here.js', 'dist/esm/browser/worker-inline.js', 'dist/esm/browser/lightningdb.wasm', 'dist/esm/cli/main.js',
      `prebuilds/${plat}/lightningdb.node`, `prebuilds/${plat}/lightningdb.json`, 'scripts/install.mjs',
      'CMakeLists.txt', 'cmake/codecs.cmake', 'node/node.cmake', 'core/include/lightningdb.h', 'core/src/db.c'.replace('db.c', 'open.c')]) {
      assert.ok(files.includes(f), `${f} is not in the tarball`);
    }
    const foreign = files.filter((f) => /^(tests|bench|build|third_party|examples|tools|wasm)\//.test(f) || /^js\/.*(?<!\.d)\.ts$/.test(f) ||
      f.endsWith('/.built') || f.startsWith('scripts/') && f !== 'scripts/install.mjs');
    assert.deepEqual(foreign, []);
    // every shipped source map carries its sources (js/ is not shipped)
    for (const m of files.filter((f) => f.endsWith('.js.map'))) {
      const map = JSON.parse(readFileSync(join(app, 'node_modules', 'lightningdb', m), 'utf8'));
      assert.equal(map.sourcesContent?.length, map.sources.length, `${m} has no sourcesContent`);
    }
  });

  it('the prebuild is stripped, links zstd/lz4 statically and needs only libc', () => {
    const mf = JSON.parse(readFileSync(join(app, 'node_modules', 'lightningdb', 'prebuilds', plat, 'lightningdb.json'), 'utf8'));
    const addon = join(app, 'node_modules', 'lightningdb', 'prebuilds', plat, 'lightningdb.node');
    const dyn = execFileSync('readelf', ['-d', '-W', addon], { encoding: 'utf8', env: { PATH: savedPath } });
    const needed = [...dyn.matchAll(/Shared library: \[(.+?)\]/g)].map((m) => m[1]);
    assert.deepEqual(needed.filter((l) => !/^(libc|libm|libpthread|libdl|ld-linux[-\w.]*)\.so/.test(l ?? '')), []);
    assert.doesNotMatch(execFileSync('readelf', ['-S', '-W', addon], { encoding: 'utf8', env: { PATH: savedPath } }), /\.symtab|\.debug_info/);
    assert.equal(readFileSync(addon).length, mf.bytes);
    assert.match(mf.glibc, /^2\.\d+$/);
  });

  it('ESM: open, put, get, scan, LightningDbError', () => {
    writeFileSync(join(app, 'esm.mjs'), `
      import { open, LightningDbError, loadedAddonPath } from 'lightningdb';
      const db = open('./db-esm', { valueEncoding: 'utf8' });
      db.put('a', '1'); db.put('b', '2');
      const got = [...db.scan()].map(([k, v]) => k.toString() + '=' + v).join(',');
      let err; try { db.put(1, 'x'); } catch (e) { err = e; }
      let nf; try { open('./nope', { createIfMissing: false }); } catch (e) { nf = e; }
      db.close();
      console.log(JSON.stringify({ got, get: db === null, missing: nf instanceof LightningDbError && nf.code, path: loadedAddonPath() }));
    `);
    const r = JSON.parse(sh(process.execPath, ['esm.mjs'], { cwd: app, env: { PATH: bin } }));
    assert.equal(r.got, 'a=1,b=2');
    assert.equal(r.missing, 'NOT_FOUND');
    assert.equal(r.path, join(app, 'node_modules', 'lightningdb', 'prebuilds', plat, 'lightningdb.node'));
  });

  it('CommonJS: require() works, and one LightningDbError spans CJS and ESM', () => {
    writeFileSync(join(app, 'cjs.cjs'), `
      const { open, LightningDbError } = require('lightningdb');
      const db = open('./db-cjs');
      db.put('k', 'v');
      const v = db.get('k').toString();
      db.close();
      let cjsErr; try { db.get('k'); } catch (e) { cjsErr = e; }
      import('lightningdb').then((esm) => {
        let esmErr; try { esm.open('./nope', { createIfMissing: false }); } catch (e) { esmErr = e; }
        console.log(JSON.stringify({
          v, code: cjsErr.code,
          cjsInEsm: cjsErr instanceof esm.LightningDbError, esmInCjs: esmErr instanceof LightningDbError,
          sameIn: cjsErr instanceof LightningDbError && esmErr instanceof esm.LightningDbError,
          distinctClasses: esm.LightningDbError !== LightningDbError,
          plain: new Error('x') instanceof LightningDbError || ({ code: 'CLOSED' }) instanceof esm.LightningDbError,
          names: [cjsErr.constructor.name, esmErr.constructor.name, LightningDbError.name, esm.LightningDbError.name, cjsErr.name],
        }));
      });
    `);
    const r = JSON.parse(sh(process.execPath, ['cjs.cjs'], { cwd: app, env: { PATH: bin } }));
    assert.deepEqual(r, { v: 'v', code: 'CLOSED', cjsInEsm: true, esmInCjs: true, sameIn: true, distinctClasses: true, plain: false,
      names: ['LightningDbError', 'LightningDbError', 'LightningDbError', 'LightningDbError', 'LightningDbError'] });
  });

  it('lightningdb/replication without the optional NATS packages: imports, and publish()/follow() say what to install', () => {
    assert.ok(!existsSync(join(app, 'node_modules', '@nats-io')), 'npm installed the optional peers');
    const check = `
        const db = open('./db-repl');
        const out = { encode: typeof r.encodeOps };
        for (const f of ['publish', 'follow']) {
          try { await r[f](db, { servers: 'nats://127.0.0.1:1', stream: 's' }); out[f] = 'started'; }
          catch (e) { out[f] = e.code + ': ' + e.message; }
        }
        db.close();
        console.log(JSON.stringify(out));`;
    writeFileSync(join(app, 'repl.mjs'), `import { open } from 'lightningdb'; import * as r from 'lightningdb/replication';\n${check}`);
    writeFileSync(join(app, 'repl.cjs'), `const { open } = require('lightningdb'); const r = require('lightningdb/replication');\n(async () => {${check}})();`);
    for (const file of ['repl.mjs', 'repl.cjs']) {
      const r = JSON.parse(sh(process.execPath, [file], { cwd: app, env: { PATH: bin } }));
      assert.equal(r.encode, 'function', file);
      for (const f of ['publish', 'follow']) {
        assert.match(r[f], /^SETUP: lightningdb\/replication needs the NATS client.*npm install @nats-io\/transport-node @nats-io\/jetstream/, `${file} ${f}`);
      }
    }
  });

  it("the README's CommonJS and TypeScript examples work as written", () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const cjs = [...readme.matchAll(/```cjs\n([\s\S]*?)```/g)].map((m) => m[1]!);
    const ts = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
    assert.ok(cjs.length >= 1 && ts.length >= 1);
    cjs.forEach((code, i) => {
      writeFileSync(join(app, `readme-${i}.cjs`), code);
      const out = sh(process.execPath, [`readme-${i}.cjs`], { cwd: app, env: { PATH: bin } });
      assert.match(out, /^world\ntrue CLOSED\n$/);
    });
    ts.forEach((code, i) => writeFileSync(join(app, `readme-${i}.ts`), code));
    writeFileSync(join(app, 'tsconfig.readme.json'), JSON.stringify({
      compilerOptions: { strict: true, noEmit: true, target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext',
        types: ['node'], typeRoots: [join(repoModules, '@types')] },
      files: ts.map((_, i) => `readme-${i}.ts`),
    }));
    sh(process.execPath, [join(repoModules, 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.readme.json'], { cwd: app });
  });

  it('TypeScript strict in Node: types check, expect-error cases fail', () => {
    writeFileSync(join(app, 'node.ts'), readFileSync(join(root, 'tests', 'package', 'types', 'node.ts'), 'utf8'));
    writeFileSync(join(app, 'tsconfig.node.json'), JSON.stringify({
      compilerOptions: { strict: true, noEmit: true, target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext',
        skipLibCheck: false, types: ['node'], typeRoots: [join(repoModules, '@types')] },
      files: ['node.ts'],
    }));
    sh(process.execPath, [join(repoModules, 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.node.json'], { cwd: app });
  });

  it('TypeScript strict for the browser: no @types/node, no Buffer, expect-error cases fail', () => {
    assert.ok(!existsSync(join(app, 'node_modules', '@types', 'node')), 'the app must not have @types/node');
    writeFileSync(join(app, 'browser.ts'), readFileSync(join(root, 'tests', 'package', 'types', 'browser.ts'), 'utf8'));
    writeFileSync(join(app, 'tsconfig.browser.json'), JSON.stringify({
      compilerOptions: { strict: true, noEmit: true, target: 'es2022', module: 'esnext', moduleResolution: 'bundler',
        lib: ['es2022', 'dom', 'dom.iterable'], skipLibCheck: false, types: [] },
      files: ['browser.ts'],
    }));
    sh(process.execPath, [join(repoModules, 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.browser.json'], { cwd: app });
  });

  /** Loads url and returns what the page printed. No request may fail:
   * none the page sees, none a static server answers 404 (the Workers'
   * and the SharedWorker's included). */
  async function roundTrip(url: string): Promise<string> {
    requests.served.length = 0;
    requests.missing.length = 0;
    if (!browser) {
      const { chromium } = await import('playwright-core');
      browser = await chromium.launchPersistentContext(join(tmp, 'profile'), { executablePath: CHROMIUM, headless: true, args: ARGS });
    }
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('response', (r) => { if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`); });
    try {
      await page.goto(url);
      await page.waitForFunction(() => document.getElementById('out')?.textContent !== 'pending', null, { timeout: 60_000 });
      const text = (await page.textContent('#out')) ?? '';
      // the broker SharedWorker's script loads in the background
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(problems, []);
      assert.deepEqual(requests.missing, [], 'requests answered 404');
      return text;
    } finally {
      await page.close();
    }
  }
  // the class keeps its name through the bundler's minifier
  const EXPECTED = 'ok {"n":42} CLOSED LightningDbError';

  function appSources(dir: string) {
    mkdirSync(join(app, dir), { recursive: true });
    writeFileSync(join(app, dir, 'main.js'), ROUND_TRIP);
  }

  it('esbuild, unconfigured: a bundled page does a round trip in Chromium', async () => {
    appSources('esb');
    const esbuild = await import('esbuild');
    const out = join(app, 'esb', 'dist');
    await esbuild.build({ absWorkingDir: app, entryPoints: ['esb/main.js'], bundle: true, format: 'esm', outdir: out, logLevel: 'error' });
    writeFileSync(join(out, 'index.html'), HTML('./main.js'));
    const { url, server } = await serve(out);
    try {
      // esbuild leaves new URL('./worker.js', import.meta.url) as it is and
      // copies nothing: open() sees that and starts the self-contained
      // inline Worker (worker-inline.js, bundled in) without asking for
      // worker.js or broker.js (no 404: roundTrip checks).
      assert.equal(await roundTrip(url), EXPECTED);
      assert.deepEqual(requests.served, ['/', '/main.js']);
      // with worker.js, broker.js and the .wasm copied next to the bundle
      // and named by workerUrl, they are used
      for (const f of ['worker.js', 'broker.js', 'lightningdb.wasm'])
        copyFileSync(join(app, 'node_modules', 'lightningdb', 'dist', 'esm', 'browser', f), join(out, f));
      assert.equal(await roundTrip(`${url}?options=${encodeURIComponent(JSON.stringify({ workerUrl: './worker.js' }))}`), EXPECTED);
      assert.deepEqual(requests.served.sort(), ['/', '/broker.js', '/lightningdb.wasm', '/main.js', '/worker.js']);
    } finally {
      server.close();
    }
  });

  it('Vite build, unconfigured: round trip in Chromium', async () => {
    appSources('vite');
    writeFileSync(join(app, 'vite', 'index.html'), HTML('./main.js'));
    const vite = await import('vite');
    await vite.build({ root: join(app, 'vite'), configFile: false, logLevel: 'error', build: { outDir: 'dist' } });
    const { url, server } = await serve(join(app, 'vite', 'dist'));
    try {
      assert.equal(await roundTrip(url), EXPECTED);
    } finally {
      server.close();
    }
  });

  it('Vite dev server, unconfigured: round trip in Chromium', async () => {
    appSources('vitedev');
    writeFileSync(join(app, 'vitedev', 'index.html'), HTML('./main.js'));
    const vite = await import('vite');
    const server = await vite.createServer({ root: join(app, 'vitedev'), configFile: false, logLevel: 'error',
      server: { host: '127.0.0.1', port: 0 }, cacheDir: join(app, 'vitedev', '.vite') });
    await server.listen();
    try {
      const url = server.resolvedUrls?.local[0];
      assert.ok(url);
      assert.equal(await roundTrip(url), EXPECTED);
    } finally {
      await server.close();
    }
  });

  it('webpack 5, unconfigured: round trip in Chromium', async () => {
    appSources('wp');
    const webpack = (await import('webpack')).default;
    const out = join(app, 'wp', 'dist');
    const stats = await new Promise<import('webpack').Stats>((res, rej) => webpack({
      mode: 'production', context: app, entry: './wp/main.js', output: { path: out },
    }, (err, s) => (err ? rej(err) : res(s!))));
    assert.ok(!stats.hasErrors(), stats.toString('errors-only'));
    writeFileSync(join(out, 'index.html'), HTML('./main.js'));
    const { url, server } = await serve(out);
    try {
      assert.equal(await roundTrip(url), EXPECTED);
    } finally {
      server.close();
    }
  });

  it('the exports map names lightningdb/worker and lightningdb/wasm', () => {
    const out = sh(process.execPath, ['--input-type=module', '-e',
      "console.log(import.meta.resolve('lightningdb/worker'), import.meta.resolve('lightningdb/wasm'))"], { cwd: app });
    const [w, m] = out.trim().split(' ').map((u) => fileURLToPath(u));
    assert.ok(w?.endsWith(join('dist', 'esm', 'browser', 'worker.js')) && existsSync(w), w);
    assert.ok(m?.endsWith(join('dist', 'esm', 'browser', 'lightningdb.wasm')) && existsSync(m), m);
  });

  it('no install step ran, and none was needed (a fresh install never compiles)', () => {
    const pkgDir = join(app, 'node_modules', 'lightningdb');
    assert.ok(!existsSync(join(pkgDir, 'build')), readdirSync(pkgDir).join(' '));
  });

  it('without a fitting prebuild: the error says how to build, and the shipped sources build the addon', () => {
    const pkgDir = join(app, 'node_modules', 'lightningdb');
    renameSync(join(pkgDir, 'prebuilds'), join(pkgDir, 'prebuilds.off'));
    try {
      writeFileSync(join(app, 'noaddon.mjs'), "import('lightningdb').then((m) => m.open('./db-src')).catch((e) => console.log(e.message));");
      const msg = sh(process.execPath, ['noaddon.mjs'], { cwd: app, env: { PATH: bin } });
      assert.match(msg, /no native addon for .* could be loaded/);
      assert.ok(msg.includes(`node ${join(pkgDir, 'scripts', 'install.mjs')}`), msg);
      // with no compiler on PATH, the install step says what is missing and does not fail the install
      const bare = sh(process.execPath, [join(pkgDir, 'scripts', 'install.mjs')], { cwd: pkgDir, env: { PATH: bin } });
      assert.match(bare, /cannot be compiled here: missing cmake, gcc/);
      // with the build tools (this machine's PATH), it compiles from what the package ships
      sh(process.execPath, [join(pkgDir, 'scripts', 'install.mjs')], { cwd: pkgDir, env: { ...process.env, PATH: savedPath } });
      assert.ok(existsSync(join(pkgDir, 'build', 'node', 'lightningdb.node')));
      writeFileSync(join(app, 'src.mjs'), `
        import { open, loadedAddonPath } from 'lightningdb';
        const db = open('./db-src', { valueEncoding: 'utf8' }); db.put('k', 'built'); console.log(db.get('k'), loadedAddonPath()); db.close();`);
      assert.equal(sh(process.execPath, ['src.mjs'], { cwd: app, env: { PATH: bin } }).trim(),
        `built ${join(pkgDir, 'build', 'node', 'lightningdb.node')}`);
    } finally {
      renameSync(join(pkgDir, 'prebuilds.off'), join(pkgDir, 'prebuilds'));
    }
  });
});

describe('prepack refuses an incomplete package', function () {
  this.timeout(60_000);
  it('names each missing part and exits 1; passes on the complete tree', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ldb-pack-'));
    try {
      mkdirSync(join(dir, 'js'), { recursive: true });
      writeFileSync(join(dir, 'js', 'index.ts'), 'export {};\n');
      mkdirSync(join(dir, 'dist', 'esm'), { recursive: true });
      // a shipped module importing a chunk that is not there
      writeFileSync(join(dir, 'dist', 'esm', 'index.js'), "import './chunk-gone.js';\n");
      const r = spawnSync(process.execPath, [join(root, 'scripts', 'pack.mjs'), '--check', '--root', dir], { encoding: 'utf8' });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /refusing to pack an incomplete package/);
      for (const m of ['dist/cjs/index.js is missing', 'dist/esm/browser/worker.js is missing',
        'dist/esm/browser/lightningdb.wasm is missing', `prebuilds/${plat} is not a release prebuild`,
        'dangling reference dist/esm/index.js -> ./chunk-gone.js']) {
        assert.ok(r.stderr.includes(m), `${m}:\n${r.stderr}`);
      }
      const ok = spawnSync(process.execPath, [join(root, 'scripts', 'pack.mjs'), '--check'], { encoding: 'utf8' });
      assert.equal(ok.status, 0, ok.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
