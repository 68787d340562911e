/* page.test.ts — the diagnostics page of db.serve() in real Chromium
 * (Debian's, through playwright-core): for a database with the default
 * options the charts draw points from live data while a workload runs
 * (the hit rate from the reads through the memory mapping, labelled so),
 * the event timeline shows a checkpoint, a recommendation appears (the
 * workload's conflicts), and the load-test panel runs and plots; a second
 * database with the mapping off and a page cache far smaller than its data
 * gets the cacheSize recommendation. Screenshots are kept in
 * build/test-artifacts/ops/diagnostics*.png. */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { open, type Database, type OpsServer } from '../../js/index.js';
import { artifacts, tempDir } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';

describe('diagnostics page in Chromium', function () {
  this.timeout(120_000);
  const tmp = tempDir('page');
  let db: Database;
  let small: Database;
  let srv: OpsServer;
  let smallSrv: OpsServer;
  let browser: Browser;
  let page: Page;
  let smallPage: Page;
  let load: ReturnType<typeof setInterval> | undefined;
  const pageErrors: string[] = [];

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing (scripts/setup-system.sh --browser installs chromium)`);
    // db: the default options (natively, tree pages are read through the
    // memory mapping). small: the mapping off and a page cache (64 KiB) far
    // smaller than the data (about 4 MB): random reads miss, and its page
    // must recommend a larger cacheSize.
    db = open(join(tmp.dir, 'db'));
    small = open(join(tmp.dir, 'small'), { cacheSize: 64 * 1024, mmapSize: 0 });
    const value = new Uint8Array(200).fill(1);
    for (const d of [db, small]) {
      for (let i = 0; i < 20000; i += 1000) {
        const batch: Array<[string, Uint8Array]> = [];
        for (let j = i; j < i + 1000; j++) batch.push([`k${String(j).padStart(6, '0')}`, value]);
        d.putBatch(batch);
      }
      d.checkpoint();
    }
    srv = await db.serve({ port: 0, intervalMs: 250 });
    smallSrv = await small.serve({ port: 0, intervalMs: 250 });
    let n = 0;
    let tick = 0;
    load = setInterval(() => {
      for (const d of [db, small]) {
        for (let i = 0; i < 400; i++) d.get(`k${String(Math.floor(Math.random() * 20000)).padStart(6, '0')}`);
      }
      for (let i = 0; i < 40; i++) db.put(`k${String(n++ % 20000).padStart(6, '0')}`, value);
      // Two transactions on one key: the second commit is refused with
      // CONFLICT (about 2% of commits), which the page must act on.
      const a = db.beginTransaction();
      const b = db.beginTransaction();
      a.get('hot');
      b.get('hot');
      a.put('hot', 'a');
      b.put('hot', 'b');
      a.commit();
      try { b.commit(); } catch { /* CONFLICT, counted */ }
      if (++tick % 20 === 0) db.checkpoint(); // one a second: the timeline shows them
    }, 50);
    browser = await chromium.launch({
      executablePath: CHROMIUM, headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    smallPage = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    for (const p of [page, smallPage]) {
      p.on('pageerror', (e) => pageErrors.push(e.message));
      p.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });
    }
    await page.goto(srv.url, { timeout: 30_000 });
    await smallPage.goto(smallSrv.url, { timeout: 30_000 });
  });

  after(async () => {
    if (load) clearInterval(load);
    await browser?.close();
    await srv?.close();
    await smallSrv?.close();
    db?.close();
    small?.close();
    tmp.remove();
  });

  it('binds 127.0.0.1 by default', () => {
    assert.equal(srv.host, '127.0.0.1');
    assert.match(srv.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it('charts draw points from live data', async () => {
    for (const id of ['chart-ops', 'chart-latency', 'chart-cache', 'chart-sizes', 'chart-checkpoints']) {
      await page.waitForFunction((sel) => Number(document.getElementById(sel)?.dataset.points ?? 0) >= 8, id, { timeout: 30_000 });
    }
    const ops = Number(await page.getAttribute('#chart-ops', 'data-last'));
    assert.ok(ops > 1000, `ops/s plotted: ${ops}`);
    // The hit rate of the default read path: the sampled residency of
    // reads through the memory mapping (the data was just written, so it
    // is resident), labelled with its source.
    const hit = await page.getAttribute('#chart-cache', 'data-last');
    assert.ok(hit !== null && hit !== '' && Number(hit) > 0 && Number(hit) <= 100, `hit rate plotted: ${hit}%`);
    assert.equal(await page.getAttribute('#chart-cache', 'data-source'), 'mapping');
    assert.match((await page.textContent('#cache-source')) ?? '', /memory mapping: sampled ones \(1 in 1024\) whose page was in memory/);
    // The canvas really holds drawn strokes (not only data): count pixels
    // of the ops/s line colour (#0969da).
    const painted = await page.evaluate(() => {
      const c = document.querySelector('#chart-ops canvas') as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] === 0x09 && d[i + 1] === 0x69 && d[i + 2] === 0xda) n++;
      return n;
    });
    assert.ok(painted > 50, `ops/s line pixels: ${painted}`);
  });

  it('the event timeline shows a checkpoint from the engine\'s event ring', async () => {
    await page.waitForSelector('#timeline tr[data-type="checkpoint"]', { timeout: 30_000 });
    const text = await page.textContent('#timeline tr[data-type="checkpoint"]');
    assert.match(text ?? '', /checkpoint completed \(checkpoint seq \d+\)/);
    assert.equal(await page.textContent('#events-source'), '(engine event ring)');
  });

  it('recommends what the workload needs, with the number behind it (default options: its conflicts)', async () => {
    const li = await page.waitForSelector('#recommendations li[data-id="conflicts"]', { timeout: 30_000 });
    const text = (await li.textContent()) ?? '';
    assert.match(text, /Retry on CONFLICT/);
    assert.match(text, /\d+ of \d+ commits \(\d+(\.\d)?%\) were refused with CONFLICT/);
    // The mapped pages are resident: nothing to say about memory.
    assert.equal(await page.$('#recommendations li[data-id="cache_size"], #recommendations li[data-id="page_residency"]'), null);
  });

  it('with the mapping off, a small page cache: its hit rate and a larger cacheSize, with the number behind it', async () => {
    const li = await smallPage.waitForSelector('#recommendations li[data-id="cache_size"]', { timeout: 30_000 });
    const text = (await li.textContent()) ?? '';
    assert.match(text, /Raise cacheSize to \d+(\.\d)? (MiB|GiB)/);
    assert.match(text, /\d+(\.\d)?%/);
    await smallPage.waitForFunction(() => Number(document.getElementById('chart-cache')?.dataset.points ?? 0) >= 4, null, { timeout: 30_000 });
    const hit = Number(await smallPage.getAttribute('#chart-cache', 'data-last'));
    assert.ok(hit >= 0 && hit < 90, `page cache hit rate plotted: ${hit}%`);
    assert.equal(await smallPage.getAttribute('#chart-cache', 'data-source'), 'cache');
    assert.match((await smallPage.textContent('#cache-source')) ?? '', /page cache/);
  });

  it('the load-test panel runs a bounded mix on a scratch database and plots it', async () => {
    const before = db.metrics().puts;
    await page.fill('input[name="durationS"]', '1.5');
    await page.fill('input[name="keys"]', '2000');
    await page.click('#loadtest-run');
    await page.waitForFunction(() => document.getElementById('loadtest-status')?.dataset.state === 'done', null, { timeout: 30_000 });
    const points = Number(await page.getAttribute('#chart-loadtest', 'data-points'));
    assert.ok(points >= 3, `load-test points: ${points}`);
    assert.match((await page.textContent('#loadtest-status')) ?? '', /done: \d+ ops\/s/);
    // The served database saw only the background workload's puts, not
    // the load test's.
    const r = await (await fetch(`${srv.url}api/loadtest`)).json();
    const delta = db.metrics().puts - before;
    const testPuts = r.result.puts + r.result.options.keys;
    assert.ok(testPuts > 1000 && delta < testPuts / 2, `served database puts ${delta}, load test puts ${testPuts}`);
  });

  it('keeps a screenshot and had no script errors', async () => {
    mkdirSync(artifacts, { recursive: true });
    const file = join(artifacts, 'diagnostics.png');
    await page.screenshot({ path: file, fullPage: true });
    assert.ok(statSync(file).size > 10_000);
    const smallFile = join(artifacts, 'diagnostics-small-cache.png');
    await smallPage.screenshot({ path: smallFile, fullPage: true });
    assert.ok(statSync(smallFile).size > 10_000);
    assert.deepEqual(pageErrors, []);
  });
});
