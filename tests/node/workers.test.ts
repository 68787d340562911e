/* workers.test.ts — worker_threads opening the database the main thread
 * has open share one engine: no BUSY, they see the same data, reads run
 * concurrently, and their writes are visible to the main thread. */
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { open } from '../../js/index.js';
import { pathToFileURL } from 'node:url';
import { fixtures, root, tempDir } from './helpers.js';

interface Report { found: number; wrong: number; scanned: number; met: boolean }

function runWorker(data: object): Promise<Report> {
  return new Promise((resolve, reject) => {
    const w = new Worker(`${fixtures}worker.mjs`, { workerData: data });
    let report: Report | undefined;
    w.on('message', (m) => (report = m));
    w.on('error', reject);
    w.on('exit', (code) => (code === 0 && report ? resolve(report) : reject(new Error(`worker exit ${code}`))));
  });
}

describe('worker_threads', function () {
  this.timeout(120_000);
  const tmp = tempDir('workers');
  after(() => tmp.remove());

  it('workers share the engine, read in parallel and write', async () => {
    const path = `${tmp.dir}/db`;
    const db = open(path, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    const n = 20_000;
    const entries: Array<[string, string]> = [];
    for (let i = 0; i < n; i++) entries.push([`key:${i}`, `value:${i}`]);
    db.putBatch(entries);
    // Each worker stops after its first round of reads, holding an open
    // scan, until all three are there: they read the one engine at once.
    const barrier = new SharedArrayBuffer(4);
    const common = { path, n, rounds: 3, barrier, parties: 3 };
    const reports = await Promise.all([
      runWorker({ ...common, writePrefix: 'w1:' }),
      runWorker({ ...common, writePrefix: 'w2:' }),
      runWorker(common),
    ]);
    for (const r of reports) {
      assert.equal(r.found, 3 * n);
      assert.equal(r.wrong, 0);
      assert.equal(r.scanned, n);
      assert.ok(r.met, 'every worker was inside its reads, holding a scan, while the others were');
    }
    // the workers' transactions are visible here, through the shared engine
    assert.equal([...db.keys({ prefix: 'w1:' })].length, 100);
    assert.equal([...db.keys({ prefix: 'w2:' })].length, 100);
    assert.equal(db.get('w2:99'), 'from worker');
    db.check();
    db.close();
  });

  it('a worker terminated with an open database does not break the process', async () => {
    const path = `${tmp.dir}/db2`;
    const db = open(path);
    db.put('a', 'b');
    const w = new Worker(
      `(async () => {
         const { open } = await import(${JSON.stringify(pathToFileURL(`${root}dist/esm/index.js`).href)});
         const db = open(${JSON.stringify(path)});
         const it = db.scan(); it.next(); db.beginTransaction().put('x', 'y');
         require('node:worker_threads').parentPort.postMessage('open');
         setInterval(() => db.get('a'), 10);
       })();`,
      { eval: true },
    );
    await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
    await w.terminate();
    assert.equal(db.get('x'), undefined);
    assert.equal(db.get('a')?.toString(), 'b');
    db.close();
    const again = open(path);
    again.check();
    assert.equal(again.metrics().activeTransactions, 0);
    again.close();
  });

  it('workers terminated with async commits in flight: every queued commit lands, nothing leaks', async () => {
    const path = `${tmp.dir}/db3`;
    const db = open(path, { syncMode: 'full' });
    const dist = JSON.stringify(pathToFileURL(`${root}dist/esm/index.js`).href);
    for (let round = 0; round < 5; round++) {
      const w = new Worker(
        `const { parentPort } = require('node:worker_threads');
         import(${dist}).then(({ open }) => {
           const db = open(${JSON.stringify(path)}, { syncMode: 'full' });
           for (let i = 0; i < 100; i++) db.putAsync('w${round}:' + i, 'v').catch(() => {});
           const tx = db.beginTransaction(); tx.put('t${round}', 'x'); tx.commitAsync().catch(() => {});
           db.flushAsync().catch(() => {});
           // async writes are handed to the engine when this turn's
           // microtasks run (js/database.ts writeGathered): report after
           queueMicrotask(() => parentPort.postMessage('queued'));
         });`,
        { eval: true },
      );
      await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
      await w.terminate();
    }
    assert.equal([...db.keys()].length, 5 * 101, 'queued work completes before a worker env is torn down');
    assert.equal(db.metrics().activeTransactions, 0);
    db.check();
    db.close();
  });
});
