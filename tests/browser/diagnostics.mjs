/**
 * diagnostics.mjs — the `diagnostics` suite of tests/browser/run.mjs: the
 * diagnostics panel mounted in a page (mountDiagnostics) for a database
 * open in a Worker over OPFS, with a tiny cache, while the page runs a
 * workload through the proxy. The charts must draw points from that live
 * data, the timeline must show a checkpoint from the engine's event ring,
 * the panel must recommend a larger cacheSize, and the load-test panel
 * must run on a scratch database (never writing to the watched one) that
 * is deleted afterwards (OPFS; the default, memory, is run too). A
 * screenshot is kept in
 * build/test-artifacts/browser/diagnostics-panel.png.
 */
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The checks, run in order on one page. */
export function diagnosticsChecks({ newPage, assert, root }) {
  let page;
  const errors = [];
  const artifacts = join(root, 'build', 'test-artifacts', 'browser');
  const wait = (fn, arg, what, timeout = 30_000) => page.waitForFunction(fn, arg, { timeout }).catch((e) => {
    throw new Error(`${what}: ${e.message.split('\n')[0]}`);
  });
  return [
    ['mount the panel for a database open in a Worker, with a workload running', async () => {
      page = await newPage();
      await page.setViewportSize({ width: 1400, height: 1100 });
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      const r = await page.evaluate(async () => {
        const { open, destroy, mountDiagnostics } = window.lib;
        await destroy('diag-panel', { store: 'opfs' });
        // A 64 KiB cache under about 4 MB of data: random reads miss.
        const db = await open('diag-panel', { store: 'opfs', cacheSize: 64 * 1024, keyEncoding: 'utf8' });
        window.diagDb = db;
        const value = new Uint8Array(200).fill(1);
        const key = (i) => `k${String(i).padStart(6, '0')}`;
        for (let i = 0; i < 20000; i += 1000) {
          const batch = [];
          for (let j = i; j < i + 1000; j++) batch.push([key(j), value]);
          await db.putBatch(batch);
        }
        await db.checkpoint();
        const el = document.createElement('div');
        el.id = 'panel';
        document.body.appendChild(el);
        window.panel = await mountDiagnostics(el, db, { name: 'diag-panel', intervalMs: 250, loadTestStore: 'opfs' });
        // The workload: random reads (getBatch) and writes, a checkpoint a second.
        let n = 0;
        let tick = 0;
        window.workload = true;
        (async () => {
          while (window.workload) {
            const keys = [];
            for (let i = 0; i < 400; i++) keys.push(key(Math.floor(Math.random() * 20000)));
            await db.getBatch(keys);
            const puts = [];
            for (let i = 0; i < 40; i++) puts.push([key(n++ % 20000), value]);
            await db.putBatch(puts);
            if (++tick % 20 === 0) await db.checkpoint();
            await new Promise((res) => setTimeout(res, 50));
          }
          window.workloadStopped = true;
        })();
        return el.classList.contains('ldb-panel');
      });
      assert(r === true, 'the element is not the panel');
    }],
    ['the charts draw points from live data', async () => {
      for (const id of ['chart-ops', 'chart-latency', 'chart-cache', 'chart-sizes', 'chart-checkpoints']) {
        await wait((sel) => Number(document.getElementById(sel)?.dataset.points ?? 0) >= 8, id, `${id} points`);
      }
      const s = await page.evaluate(() => {
        const c = document.querySelector('#chart-ops canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let painted = 0; // pixels of the ops/s line colour (#0969da)
        for (let i = 0; i < d.length; i += 4) if (d[i] === 0x09 && d[i + 1] === 0x69 && d[i + 2] === 0xda) painted++;
        return {
          ops: Number(document.getElementById('chart-ops').dataset.last),
          hit: Number(document.getElementById('chart-cache').dataset.last),
          painted,
        };
      });
      assert(s.ops > 500, `ops/s plotted: ${s.ops}`);
      assert(s.hit >= 0 && s.hit < 90, `cache hit rate plotted: ${s.hit}%`);
      assert(s.painted > 50, `ops/s line pixels: ${s.painted}`);
    }],
    ['the timeline shows a checkpoint from the engine\'s event ring (db.events() through the Worker)', async () => {
      await wait(() => document.querySelector('#timeline tr[data-type="checkpoint"]') !== null, null, 'a checkpoint row');
      const text = await page.textContent('#timeline tr[data-type="checkpoint"]');
      assert(/checkpoint completed \(checkpoint seq \d+\)/.test(text ?? ''), `row: ${text}`);
    }],
    ['it recommends a larger cacheSize, with the number behind it', async () => {
      await wait(() => document.querySelector('#recommendations li[data-id="cache_size"]') !== null, null, 'the cache_size recommendation');
      const text = (await page.textContent('#recommendations li[data-id="cache_size"]')) ?? '';
      assert(/Raise cacheSize to \d+(\.\d)? (MiB|GiB) \(now 64 KiB\)/.test(text), `recommendation: ${text}`);
      assert(/\d+(\.\d)?%/.test(text), `no hit rate in: ${text}`);
    }],
    ['the load test runs a bounded mix on a scratch database, plots it, leaves the watched one alone and deletes the scratch one', async () => {
      await page.evaluate(async () => {
        window.workload = false;
        while (!window.workloadStopped) await new Promise((res) => setTimeout(res, 20));
        window.putsBefore = (await window.diagDb.metrics()).puts;
      });
      await page.fill('input[name="durationS"]', '1.5');
      await page.fill('input[name="keys"]', '2000');
      await page.click('#loadtest-run');
      await wait(() => ['done', 'failed'].includes(document.getElementById('loadtest-status')?.dataset.state), null, 'the load test', 30_000);
      const status = (await page.textContent('#loadtest-status')) ?? '';
      assert(/^done: \d+ ops\/s/.test(status), `status: ${status}`);
      const points = Number(await page.getAttribute('#chart-loadtest', 'data-points'));
      assert(points >= 3, `load-test points: ${points}`);
      const r = await page.evaluate(async () => {
        const after = (await window.diagDb.metrics()).puts;
        const root = await navigator.storage.getDirectory();
        const left = [];
        for await (const name of root.keys()) if (name.startsWith('lightningdb-loadtest-')) left.push(name);
        return { delta: after - window.putsBefore, left };
      });
      assert(r.delta === 0, `the watched database got ${r.delta} puts during the load test`);
      assert(r.left.length === 0, `scratch databases left in OPFS: ${r.left.join(', ')}`);
    }],
    ['keeps a screenshot of the panel after the load test', async () => {
      mkdirSync(artifacts, { recursive: true });
      const file = join(artifacts, 'diagnostics-panel.png');
      await page.screenshot({ path: file, fullPage: true });
      assert(statSync(file).size > 10_000, 'screenshot too small');
    }],
    ['a too large load test is refused with the bound in the message', async () => {
      await page.fill('input[name="keys"]', '2000'); // 2000 × 64 KiB: over the page's 64 MiB, under Node's 256 MiB
      await page.fill('input[name="valueSize"]', '65536');
      await page.click('#loadtest-run');
      await wait(() => /error: /.test(document.getElementById('loadtest-status')?.textContent ?? ''), null, 'the refusal', 5_000);
      const status = (await page.textContent('#loadtest-status')) ?? '';
      assert(/at most 67108864 bytes in a page/.test(status), `status: ${status}`);
    }],
    ['another tab (a client of the shared database) reads the owner\'s events() and metricsText(labels)', async () => {
      const tab = await newPage();
      try {
        const r = await tab.evaluate(async () => {
          // (the owner's engine options: a client tab asking for others is
          // INVALID_ARGUMENT, as a second native open is)
          const db = await window.lib.open('diag-panel', { store: 'opfs', cacheSize: 64 * 1024, keyEncoding: 'utf8' });
          try {
            const events = await db.events();
            const text = await db.metricsText('tab="client"');
            return { isOwner: db.isOwner, checkpoints: events.filter((e) => e.type === 'checkpoint').length, labelled: /lightningdb_gets_total\{tab="client"\} [1-9]/.test(text) };
          } finally {
            await db.close();
          }
        });
        assert(r.isOwner === false, 'the second tab owns the database');
        assert(r.checkpoints >= 1, `checkpoint events seen by the client: ${r.checkpoints}`);
        assert(r.labelled, 'the client\'s metricsText(labels) has no labelled gets');
      } finally {
        await tab.close();
      }
    }],
    ['close() stops polling, removes the panel and its styles', async () => {
      const r = await page.evaluate(async () => {
        const db = window.diagDb;
        const styles = document.head.querySelectorAll('style').length;
        // Count the panel's reads (it calls db.metricsText() every 250 ms).
        let reads = 0;
        const real = db.metricsText.bind(db);
        db.metricsText = (...a) => { reads++; return real(...a); };
        await new Promise((res) => setTimeout(res, 600));
        const readsOpen = reads;
        await window.panel.close();
        reads = 0;
        await new Promise((res) => setTimeout(res, 700));
        const el = document.getElementById('panel');
        const out = {
          empty: el.childElementCount === 0 && !el.classList.contains('ldb-panel'),
          stylesRemoved: styles - document.head.querySelectorAll('style').length,
          readsOpen,
          readsClosed: reads,
        };
        await window.diagDb.close();
        await window.lib.destroy('diag-panel', { store: 'opfs' });
        return out;
      });
      assert(r.empty, 'the element still holds the panel');
      assert(r.stylesRemoved === 2, `styles removed: ${r.stylesRemoved}`);
      assert(r.readsOpen >= 1, `the mounted panel did not poll (${r.readsOpen} reads in 600 ms)`);
      assert(r.readsClosed === 0, `${r.readsClosed} reads after close()`);
      assert(errors.length === 0, `page errors: ${errors.join(' | ')}`);
      await page.close();
    }],
    ['with the default options the load test runs on a memory scratch database', async () => {
      page = await newPage();
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      await page.evaluate(async () => {
        const db = await window.lib.open('diag-memory', { store: 'memory' });
        await db.put(new Uint8Array([1]), new Uint8Array([2]));
        const el = document.createElement('div');
        document.body.appendChild(el);
        window.diagDb = db;
        window.panel = await window.lib.mountDiagnostics(el, db);
      });
      await page.fill('input[name="durationS"]', '0.6');
      await page.fill('input[name="keys"]', '500');
      await page.click('#loadtest-run');
      await wait(() => ['done', 'failed'].includes(document.getElementById('loadtest-status')?.dataset.state), null, 'the load test', 20_000);
      const status = (await page.textContent('#loadtest-status')) ?? '';
      assert(/^done: \d+ ops\/s/.test(status), `status: ${status}`);
      const points = Number(await page.getAttribute('#chart-loadtest', 'data-points'));
      assert(points >= 2, `load-test points: ${points}`);
      const puts = await page.evaluate(async () => {
        const n = (await window.diagDb.metrics()).puts;
        await window.panel.close();
        await window.diagDb.close();
        return n;
      });
      assert(puts === 1, `the watched database has ${puts} puts (the load test wrote to it?)`);
      assert(errors.length === 0, `page errors: ${errors.join(' | ')}`);
      await page.close();
    }],
  ];
}
